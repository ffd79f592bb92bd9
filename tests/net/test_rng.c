/*
 * test_rng.c — the seeded PRNG (net/rng): known outputs pinned against an
 * independent Python transcription of splitmix64 + xoshiro256**, replay
 * from a seed, bounds of below/range/chance, and no modulo bias.
 */
#include <stdint.h>
#include <string.h>

#include "ms_test.h"
#include "rng.h"

START_TEST(t_known_answers)
{
	static const uint64_t want1[] = {0xb3f2af6d0fc710c5u,
	                                 0x853b559647364ceau,
	                                 0x92f89756082a4514u,
	                                 0x642e1c7bc266a3a7u};
	static const uint64_t want2[] = {0xe01d6fafc557f1b9u,
	                                 0xbd627ebe4406b404u,
	                                 0x2c23132b578b57dbu,
	                                 0x2e8b319d4d1f276au};
	ms_rng r;
	ck_assert_uint_eq(ms_rng_seed(&r, 1), 1);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(ms_rng_next(&r), want1[i]);
	ck_assert_uint_eq(ms_rng_seed(&r, 0x123456789abcdef0u),
	                  0x123456789abcdef0u);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(ms_rng_next(&r), want2[i]);
}
END_TEST

START_TEST(t_replay)
{
	/* seed 0 picks a seed; replaying with the one returned gives the same
	 * stream, and two picked seeds differ. */
	ms_rng a, b, c;
	uint64_t s1 = ms_rng_seed(&a, 0);
	uint64_t s2 = ms_rng_seed(&c, 0);
	ck_assert_uint_ne(s1, 0);
	ck_assert_uint_ne(s1, s2);
	ck_assert_uint_eq(ms_rng_seed(&b, s1), s1);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_eq(ms_rng_next(&a), ms_rng_next(&b));
	/* Neighbouring seeds give unrelated streams. */
	ms_rng_seed(&a, 41);
	ms_rng_seed(&b, 42);
	int same = 0;
	for (int i = 0; i < 1000; i++)
		same += ms_rng_next(&a) == ms_rng_next(&b);
	ck_assert_int_eq(same, 0);
}
END_TEST

START_TEST(t_bounds)
{
	ms_rng r;
	ms_rng_seed(&r, 7);
	ck_assert_uint_eq(ms_rng_below(&r, 0), 0);
	ck_assert_uint_eq(ms_rng_below(&r, 1), 0);
	ck_assert_uint_eq(ms_rng_range(&r, 5, 5), 5);
	ck_assert_uint_eq(ms_rng_range(&r, 9, 3), 9);

	/* Both ends of a small range are reached and nothing outside. */
	int seen[11] = {0};
	for (int i = 0; i < 10000; i++) {
		uint64_t v = ms_rng_range(&r, 10, 20);
		ck_assert_uint_ge(v, 10);
		ck_assert_uint_le(v, 20);
		seen[v - 10]++;
	}
	for (int i = 0; i < 11; i++)
		ck_assert_int_gt(seen[i], 0);

	/* The full 64-bit range and a range ending at UINT64_MAX. */
	for (int i = 0; i < 1000; i++) {
		(void)ms_rng_range(&r, 0, UINT64_MAX);
		ck_assert_uint_ge(ms_rng_range(&r, UINT64_MAX - 1, UINT64_MAX),
		                  UINT64_MAX - 1);
		ck_assert_uint_lt(ms_rng_below(&r, UINT64_MAX), UINT64_MAX);
	}

	/* chance */
	ck_assert_int_eq(ms_rng_chance(&r, 0, 10), 0);
	ck_assert_int_eq(ms_rng_chance(&r, 5, 0), 0);
	ck_assert_int_eq(ms_rng_chance(&r, 10, 10), 1);
	ck_assert_int_eq(ms_rng_chance(&r, 11, 10), 1);
	int hits = 0;
	for (int i = 0; i < 100000; i++)
		hits += ms_rng_chance(&r, 1, 4);
	/* 25000 expected; sd ~137, so 1000 is over 7 sd */
	ck_assert_int_gt(hits, 24000);
	ck_assert_int_lt(hits, 26000);
}
END_TEST

START_TEST(t_no_modulo_bias)
{
	/*
	 * n = 2^63 + 2^62 (= 3 * 2^62): plain x % n would give values below
	 * 2^62 twice as often as the others (half the draws instead of a
	 * third).  With rejection the bottom third gets a third.
	 */
	ms_rng r;
	ms_rng_seed(&r, 99);
	const uint64_t n = (1ull << 63) + (1ull << 62);
	int low = 0;
	const int draws = 60000;
	for (int i = 0; i < draws; i++) {
		uint64_t v = ms_rng_below(&r, n);
		ck_assert_uint_lt(v, n);
		low += v < (1ull << 62);
	}
	/* expected 20000, sd ~115; the biased answer would be ~30000 */
	ck_assert_int_gt(low, 19000);
	ck_assert_int_lt(low, 21000);

	/* small n: every residue close to draws / n */
	int count[7] = {0};
	for (int i = 0; i < 70000; i++)
		count[ms_rng_below(&r, 7)]++;
	for (int i = 0; i < 7; i++) {
		ck_assert_int_gt(count[i], 9400);
		ck_assert_int_lt(count[i], 10600);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, t_known_answers);
	tcase_add_test(tc, t_replay);
	tcase_add_test(tc, t_bounds);
	tcase_add_test(tc, t_no_modulo_bias);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
