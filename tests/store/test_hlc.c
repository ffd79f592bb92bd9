/*
 * test_hlc.c — the hybrid logical clock: monotonic under a wall clock that
 * jumps about, counter overflow, and the skew rule for received stamps.
 *
 * The clock functions take the wall time as an argument, so each test drives
 * its own simulated wall clock; nothing here waits on real time.
 */
#include <stdint.h>

#include "hlc.h"
#include "ms_test.h"

#define T0 1700000000000ull /* 2023-11-14, in ms */
#define HOUR (3600ull * 1000ull)
#define YEAR (365ull * 24ull * HOUR)

/* Deterministic PRNG (xorshift64*) so a failure replays exactly. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

START_TEST(t_tick_basics)
{
	ck_assert_uint_eq(ms_hlc_tick(0, T0), MS_HLC_MAKE(T0, 0));
	/* Wall ahead: take the wall, counter back to 0. */
	ck_assert_uint_eq(ms_hlc_tick(MS_HLC_MAKE(T0, 5), T0 + 1),
	                  MS_HLC_MAKE(T0 + 1, 0));
	/* Same ms: count. */
	ck_assert_uint_eq(ms_hlc_tick(MS_HLC_MAKE(T0, 5), T0),
	                  MS_HLC_MAKE(T0, 6));
	/* Wall behind: count from the last stamp, ignore the wall. */
	ck_assert_uint_eq(ms_hlc_tick(MS_HLC_MAKE(T0, 5), T0 - HOUR),
	                  MS_HLC_MAKE(T0, 6));
	ck_assert_uint_eq(ms_hlc_tick(MS_HLC_MAKE(T0, 5), 0),
	                  MS_HLC_MAKE(T0, 6));
	ck_assert_uint_eq(MS_HLC_MS(MS_HLC_MAKE(T0, 0xabcd)), T0);
	ck_assert_uint_eq(MS_HLC_CTR(MS_HLC_MAKE(T0, 0xabcd)), 0xabcd);
}
END_TEST

START_TEST(t_tick_monotonic_backwards_wall)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint64_t wall = T0;
	uint64_t last = 0;
	uint64_t max_wall = 0;
	unsigned backwards = 0;

	for (int i = 0; i < 200000; i++) {
		uint64_t r = rnd(&seed);
		uint64_t h;

		switch (r % 8) {
		case 0: /* NTP step back by up to an hour */
			wall -= rnd(&seed) % HOUR;
			backwards++;
			break;
		case 1: /* a dead RTC battery: back by years */
			if (r % 64 == 1) {
				wall = T0 - (rnd(&seed) % 10 + 1) * YEAR;
				backwards++;
			}
			break;
		case 2: /* stuck clock */
			break;
		default: /* normal progress, a few ms */
			wall += rnd(&seed) % 5;
			break;
		}
		h = ms_hlc_tick(last, wall);
		if (wall > max_wall)
			max_wall = wall;
		/* After last, never behind the wall clock nor any wall time
		 * seen.  (Plain if: a Check assertion per step costs a
		 * syscall.) */
		if (!(h > last && MS_HLC_MS(h) >= wall &&
		      MS_HLC_MS(h) >= max_wall))
			ck_abort_msg(
				"step %d: tick(%llx, %llu) = %llx (max wall %llu)",
				i, (unsigned long long)last,
				(unsigned long long)wall, (unsigned long long)h,
				(unsigned long long)max_wall);
		last = h;
	}
	ck_assert_uint_gt(backwards, 1000);
}
END_TEST

START_TEST(t_tick_counter_overflow)
{
	uint64_t last = MS_HLC_MAKE(T0, 0xffff);
	uint64_t h;

	/* A full counter carries into the ms part. */
	ck_assert_uint_eq(ms_hlc_tick(last, T0), MS_HLC_MAKE(T0 + 1, 0));
	ck_assert_uint_eq(ms_hlc_tick(last, T0 - 10), MS_HLC_MAKE(T0 + 1, 0));
	/* And the ms it carried into is not taken again by a wall at that ms. */
	h = ms_hlc_tick(last, T0);
	ck_assert_uint_eq(ms_hlc_tick(h, T0 + 1), MS_HLC_MAKE(T0 + 1, 1));

	/* A frozen wall clock: 3 x 65536 + 5 ticks cross the counter three
	 * times, strictly increasing all the way. */
	last = 0;
	for (uint64_t i = 0; i < 3 * 65536 + 5; i++) {
		h = ms_hlc_tick(last, T0);
		if (h <= last)
			ck_abort_msg("tick %llu: %llx not after %llx",
			             (unsigned long long)i,
			             (unsigned long long)h,
			             (unsigned long long)last);
		last = h;
	}
	ck_assert_uint_eq(last, MS_HLC_MAKE(T0 + 3, 4));
}
END_TEST

START_TEST(t_tick_limits)
{
	uint64_t max_ms = (1ull << 48) - 1;

	/* A wall clock past 48 bits is clamped instead of wrapping to the past. */
	ck_assert_uint_eq(ms_hlc_tick(0, 1ull << 48), MS_HLC_MAKE(max_ms, 0));
	ck_assert_uint_eq(ms_hlc_tick(0, UINT64_MAX), MS_HLC_MAKE(max_ms, 0));
	ck_assert_uint_eq(ms_hlc_tick(MS_HLC_MAKE(max_ms, 0), UINT64_MAX),
	                  MS_HLC_MAKE(max_ms, 1));
	/* The very last stamp saturates rather than wrapping to 0. */
	ck_assert_uint_eq(ms_hlc_tick(UINT64_MAX, T0), UINT64_MAX);
}
END_TEST

START_TEST(t_observe_within_skew)
{
	uint64_t last = MS_HLC_MAKE(T0, 3);
	uint64_t remote;
	int skewed = -1;

	/* Ahead by half an hour: the clock advances to it. */
	remote = MS_HLC_MAKE(T0 + HOUR / 2, 7);
	ck_assert_uint_eq(ms_hlc_observe(last, remote, T0, HOUR, &skewed),
	                  remote);
	ck_assert_int_eq(skewed, 0);
	/* Exactly at the limit is still accepted. */
	remote = MS_HLC_MAKE(T0 + HOUR, 0xffff);
	skewed = -1;
	ck_assert_uint_eq(ms_hlc_observe(last, remote, T0, HOUR, &skewed),
	                  remote);
	ck_assert_int_eq(skewed, 0);
	/* Behind us: nothing changes. */
	remote = MS_HLC_MAKE(T0 - 5, 9);
	skewed = -1;
	ck_assert_uint_eq(ms_hlc_observe(last, remote, T0, HOUR, &skewed),
	                  last);
	ck_assert_int_eq(skewed, 0);
	/* Same ms, higher counter: advances. */
	remote = MS_HLC_MAKE(T0, 4);
	ck_assert_uint_eq(ms_hlc_observe(last, remote, T0, HOUR, &skewed),
	                  remote);
	/* Our wall clock behind our own last stamp does not matter. */
	remote = MS_HLC_MAKE(T0 + 10, 0);
	ck_assert_uint_eq(ms_hlc_observe(last, remote, T0 - HOUR / 2, HOUR,
	                                 &skewed),
	                  remote);
	ck_assert_int_eq(skewed, 0);
	/* skewed may be NULL. */
	ck_assert_uint_eq(ms_hlc_observe(last, remote, T0, HOUR, NULL), remote);

	/* After observing, the next local write orders after what was seen,
	 * even though the local wall clock is behind it. */
	last = ms_hlc_observe(last, MS_HLC_MAKE(T0 + HOUR / 2, 7), T0, HOUR,
	                      &skewed);
	ck_assert_uint_eq(ms_hlc_tick(last, T0), MS_HLC_MAKE(T0 + HOUR / 2, 8));
}
END_TEST

START_TEST(t_observe_beyond_skew)
{
	uint64_t last = MS_HLC_MAKE(T0, 3);
	static const uint64_t ahead[] = {HOUR + 1, 2 * HOUR, 10 * YEAR};
	int skewed = 0;

	for (size_t i = 0; i < sizeof ahead / sizeof ahead[0]; i++) {
		uint64_t remote = MS_HLC_MAKE(T0 + ahead[i], 0);

		skewed = 0;
		ck_assert_uint_eq(ms_hlc_observe(last, remote, T0, HOUR,
		                                 &skewed),
		                  last);
		ck_assert_int_eq(skewed, 1);
		/* The local clock is not dragged: the next write is at our wall. */
		ck_assert_uint_eq(ms_hlc_tick(last, T0 + 1),
		                  MS_HLC_MAKE(T0 + 1, 0));
	}
	/* The largest possible stamp from outside does not move us either. */
	skewed = 0;
	ck_assert_uint_eq(ms_hlc_observe(last, UINT64_MAX, T0, HOUR, &skewed),
	                  last);
	ck_assert_int_eq(skewed, 1);
	/* A different limit: 1 s. */
	skewed = 0;
	ck_assert_uint_eq(ms_hlc_observe(last, MS_HLC_MAKE(T0 + 1001, 0), T0,
	                                 1000, &skewed),
	                  last);
	ck_assert_int_eq(skewed, 1);
	ck_assert_uint_eq(ms_hlc_observe(last, MS_HLC_MAKE(T0 + 1000, 0), T0,
	                                 1000, &skewed),
	                  MS_HLC_MAKE(T0 + 1000, 0));
	ck_assert_int_eq(skewed, 0);
	/* A node whose wall clock is years behind sees a current stamp as far
	 * in the future: kept out of its clock, flagged. */
	skewed = 0;
	ck_assert_uint_eq(ms_hlc_observe(MS_HLC_MAKE(T0 - 5 * YEAR, 0),
	                                 MS_HLC_MAKE(T0, 0), T0 - 5 * YEAR,
	                                 MS_HLC_DEFAULT_MAX_SKEW_MS, &skewed),
	                  MS_HLC_MAKE(T0 - 5 * YEAR, 0));
	ck_assert_int_eq(skewed, 1);
}
END_TEST

START_TEST(t_wall_ms)
{
	uint64_t before, now, after;

	before = ms_test_wall_ms();
	now = ms_hlc_wall_ms();
	after = ms_test_wall_ms();
	ck_assert_uint_ge(now, before);
	ck_assert_uint_le(now, after);
}
END_TEST

static Suite *hlc_suite(void)
{
	Suite *s = suite_create("hlc");
	TCase *tc = tcase_create("clock");

	/* Generous: the loops are short, but sanitizer builds on a busy
	 * two-core machine are slow. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_tick_basics);
	tcase_add_test(tc, t_tick_monotonic_backwards_wall);
	tcase_add_test(tc, t_tick_counter_overflow);
	tcase_add_test(tc, t_tick_limits);
	tcase_add_test(tc, t_observe_within_skew);
	tcase_add_test(tc, t_observe_beyond_skew);
	tcase_add_test(tc, t_wall_ms);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(hlc_suite());
}
