/*
 * test_setsum.c — the set digest (crypto/setsum.h): known answers, order
 * independence, add and subtract as inverses, the empty set, and refusal
 * of a damaged digest.
 *
 * The known answers pin the construction: the BLAKE2b-512 input was
 * computed with Python's hashlib (blake2b(b"meshsync/setsum/v1" + id,
 * digest_size=64)) and mapped with libsodium's
 * crypto_core_ristretto255_from_hash, which libsodium tests against the
 * RFC 9496 vectors.
 */
#include <string.h>

#include "ms_test.h"
#include "setsum.h"

/* P(32 zero bytes). */
#define KAT_POINT_ZERO \
	"cc2cff3d6b0d1146fa2ac806e79b7d731812f7b71f3f6dc519cd09eb7501c661"
/* P(00..) + P(01 01 ..) + P(02 02 ..), each id one byte repeated. */
#define KAT_SUM_THREE \
	"ce293b4db09c27b1de04d2038c97ef83e569f587a7cbebb4be782a48d19c666f"

static void assert_hex(const uint8_t *bin, const char *want)
{
	char got[2 * MS_SETSUM_LEN + 1];

	ms_hex(got, bin, MS_SETSUM_LEN);
	ck_assert_str_eq(got, want);
}

START_TEST(t_kat)
{
	uint8_t id[MS_HASH_LEN], s[MS_SETSUM_LEN];
	ms_errbuf eb;

	memset(id, 0, sizeof id);
	ms_setsum_point(s, id);
	assert_hex(s, KAT_POINT_ZERO);
	ms_setsum_empty(s);
	for (int b = 0; b < 3; b++) {
		memset(id, b, sizeof id);
		MS_PASS_EB(ms_setsum_add(s, id, &eb), &eb);
	}
	assert_hex(s, KAT_SUM_THREE);
}
END_TEST

START_TEST(t_empty_is_identity)
{
	uint8_t z[MS_SETSUM_LEN], s[MS_SETSUM_LEN], p[MS_SETSUM_LEN];
	uint8_t id[MS_HASH_LEN];

	memset(id, 0x77, sizeof id);
	memset(z, 0, sizeof z);
	ms_setsum_empty(s);
	ck_assert_mem_eq(s, z, MS_SETSUM_LEN);
	ck_assert_int_eq(ms_setsum_valid(s), 1);
	/* {id} from the empty set is the point itself */
	MS_PASS(ms_setsum_add(s, id, NULL));
	ms_setsum_point(p, id);
	ck_assert_mem_eq(s, p, MS_SETSUM_LEN);
	ck_assert_int_eq(ms_setsum_valid(s), 1);
	/* and taking it away leaves the empty set again */
	MS_PASS(ms_setsum_sub(s, id, NULL));
	ck_assert_mem_eq(s, z, MS_SETSUM_LEN);
}
END_TEST

START_TEST(t_order_and_inverse)
{
	enum { N = 40 };
	uint8_t ids[N][MS_HASH_LEN], fwd[MS_SETSUM_LEN], rev[MS_SETSUM_LEN];
	uint8_t half[MS_SETSUM_LEN], rest[MS_SETSUM_LEN];

	for (int i = 0; i < N; i++)
		ms_hash(ids[i], &i, sizeof i);
	ms_setsum_empty(fwd);
	ms_setsum_empty(rev);
	ms_setsum_empty(half);
	ms_setsum_empty(rest);
	for (int i = 0; i < N; i++) {
		MS_PASS(ms_setsum_add(fwd, ids[i], NULL));
		MS_PASS(ms_setsum_add(rev, ids[N - 1 - i], NULL));
		MS_PASS(ms_setsum_add(i < N / 2 ? half : rest, ids[i], NULL));
	}
	ck_assert_mem_eq(fwd, rev, MS_SETSUM_LEN);
	/* union of two disjoint halves */
	MS_PASS(ms_setsum_merge(half, rest, NULL));
	ck_assert_mem_eq(half, fwd, MS_SETSUM_LEN);
	/* removing one id gives the digest of the set without it */
	MS_PASS(ms_setsum_sub(fwd, ids[7], NULL));
	ms_setsum_empty(rev);
	for (int i = 0; i < N; i++)
		if (i != 7)
			MS_PASS(ms_setsum_add(rev, ids[i], NULL));
	ck_assert_mem_eq(fwd, rev, MS_SETSUM_LEN);
	/* and every proper subset tried differs from the whole */
	ck_assert_mem_ne(fwd, half, MS_SETSUM_LEN);
}
END_TEST

START_TEST(t_damaged_digest_refused)
{
	uint8_t s[MS_SETSUM_LEN], before[MS_SETSUM_LEN], id[MS_HASH_LEN];
	ms_errbuf eb;

	memset(id, 0x11, sizeof id);
	ms_setsum_empty(s);
	MS_PASS(ms_setsum_add(s, id, NULL));
	/* a canonical encoding is even (its low bit is 0): flip it */
	s[0] ^= 1;
	ck_assert_int_eq(ms_setsum_valid(s), 0);
	memcpy(before, s, sizeof s);
	MS_FAIL(ms_setsum_add(s, id, &eb), MS_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(eb.msg, "not a valid group element"));
	ck_assert_mem_eq(s, before, MS_SETSUM_LEN); /* left as it was */
	MS_FAIL(ms_setsum_sub(s, id, NULL), MS_ECORRUPT);
	MS_FAIL(ms_setsum_merge(before, s, NULL), MS_ECORRUPT);
	/* 0xff.. is not a field element below p */
	memset(s, 0xff, sizeof s);
	ck_assert_int_eq(ms_setsum_valid(s), 0);
}
END_TEST

/* The unencoded points (ms_setsum_pt, our own arithmetic) against
 * libsodium's encoded ones, over many ids: P(id), running sums, sums
 * with points taken away, decoding of every digest met, and the edge
 * encodings (identity, non-canonical, odd, not on the curve). */
START_TEST(t_pt_matches_libsodium)
{
	enum { N = 3000 };
	uint8_t id[MS_HASH_LEN], want[MS_SETSUM_LEN], got[MS_SETSUM_LEN];
	uint8_t run[MS_SETSUM_LEN], bad[MS_SETSUM_LEN];
	ms_setsum_pt p, sum, back;
	int refused = 0;

	ms_setsum_empty(run);
	ms_setsum_pt_identity(&sum);
	ms_setsum_pt_encode(got, &sum);
	ck_assert_mem_eq(got, run, MS_SETSUM_LEN);
	MS_PASS(ms_setsum_pt_decode(&back, run, NULL));
	ms_setsum_pt_encode(got, &back);
	ck_assert_mem_eq(got, run, MS_SETSUM_LEN);
	for (int i = 0; i < N; i++) {
		ms_hash(id, &i, sizeof i);
		ms_setsum_point(want, id);
		ms_setsum_pt_of_id(&p, id);
		ms_setsum_pt_encode(got, &p);
		ck_assert_mem_eq(got, want, MS_SETSUM_LEN);
		MS_PASS(ms_setsum_pt_decode(&back, want, NULL));
		ms_setsum_pt_encode(got, &back);
		ck_assert_mem_eq(got, want, MS_SETSUM_LEN);
		/* every third one is added and taken away again */
		ms_setsum_pt_add(&sum, &p);
		if (i % 3 == 2) {
			ms_setsum_pt_sub(&sum, &p);
		} else {
			MS_PASS(ms_setsum_add(run, id, NULL));
		}
		if (i % 97 == 0 || i == N - 1) {
			ms_setsum_pt_encode(got, &sum);
			ck_assert_mem_eq(got, run, MS_SETSUM_LEN);
			MS_PASS(ms_setsum_pt_decode(&back, run, NULL));
			ms_setsum_pt_encode(got, &back);
			ck_assert_mem_eq(got, run, MS_SETSUM_LEN);
		}
		/* random bytes: decoded exactly when libsodium calls them
		 * valid (the identity aside, which it refuses) */
		memcpy(bad, id, sizeof bad);
		ck_assert_int_eq(ms_setsum_pt_decode(&back, bad, NULL) == MS_OK,
		                 ms_setsum_valid(bad));
		refused += ms_setsum_valid(bad) == 0;
	}
	ck_assert_int_gt(refused, N / 2); /* most random strings are not */
	/* not canonical: p itself, and an odd encoding */
	memset(bad, 0xff, sizeof bad);
	bad[0] = 0xed;
	bad[31] = 0x7f;
	MS_FAIL(ms_setsum_pt_decode(&back, bad, NULL), MS_ECORRUPT);
	memcpy(bad, run, sizeof bad);
	bad[0] ^= 1;
	MS_FAIL(ms_setsum_pt_decode(&back, bad, NULL), MS_ECORRUPT);
	/* the top bit set */
	memcpy(bad, run, sizeof bad);
	bad[31] |= 0x80;
	MS_FAIL(ms_setsum_pt_decode(&back, bad, NULL), MS_ECORRUPT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("setsum");
	TCase *tc = tcase_create("setsum");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_kat);
	tcase_add_test(tc, t_empty_is_identity);
	tcase_add_test(tc, t_order_and_inverse);
	tcase_add_test(tc, t_damaged_digest_refused);
	tcase_add_test(tc, t_pt_matches_libsodium);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ms_crypto_init(NULL) != MS_OK)
		return EXIT_FAILURE;
	return ms_test_run(suite());
}
