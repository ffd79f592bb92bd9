/*
 * test_backoff.c — the retry strategies (net/backoff): each sequence within
 * its documented bounds and growing as documented (jitter ones over many
 * seeded draws), reset by success, the link-up kick rate-limited, the same
 * seed giving the same sequence, saturation at extreme values, and the
 * strategy names.
 */
#include <stdint.h>
#include <string.h>

#include "backoff.h"
#include "ms_test.h"

static ms_backoff_cfg cfg_of(ms_backoff_strategy s, uint64_t base, uint64_t cap)
{
	ms_backoff_cfg c = {s, base, cap};
	return c;
}

START_TEST(t_names)
{
	const char *names[] = {"constant", "linear", "exponential",
	                       "full-jitter", "decorrelated-jitter"};
	for (int i = 0; i < MS_BACKOFF_COUNT_; i++) {
		ms_backoff_strategy s = MS_BACKOFF_COUNT_;
		ck_assert_str_eq(ms_backoff_strategy_name(
					 (ms_backoff_strategy)i),
		                 names[i]);
		MS_PASS(ms_backoff_strategy_parse(names[i], &s, NULL));
		ck_assert_int_eq(s, i);
	}
	ck_assert_str_eq(ms_backoff_strategy_name(MS_BACKOFF_COUNT_),
	                 "unknown");

	ms_errbuf eb;
	ms_backoff_strategy s = MS_BACKOFF_LINEAR;
	MS_FAIL(ms_backoff_strategy_parse("Exponential", &s, &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "Exponential"));
	ck_assert_ptr_nonnull(strstr(eb.msg, "decorrelated-jitter"));
	MS_FAIL(ms_backoff_strategy_parse("", &s, NULL), MS_EINVAL);
	MS_FAIL(ms_backoff_strategy_parse("full-jitter ", &s, NULL), MS_EINVAL);
	MS_FAIL(ms_backoff_strategy_parse(NULL, &s, NULL), MS_EINVAL);
	ck_assert_int_eq(s, MS_BACKOFF_LINEAR); /* untouched on failure */
}
END_TEST

START_TEST(t_cfg)
{
	ms_backoff_cfg c;
	ms_errbuf eb;
	ms_backoff_cfg_default(&c);
	ck_assert_int_eq(c.strategy, MS_BACKOFF_DECORRELATED);
	ck_assert_uint_eq(c.base_ms, MS_BACKOFF_DEFAULT_BASE_MS);
	ck_assert_uint_eq(c.cap_ms, MS_BACKOFF_DEFAULT_CAP_MS);
	MS_PASS(ms_backoff_cfg_check(&c, NULL));

	c.base_ms = 0;
	MS_FAIL(ms_backoff_cfg_check(&c, &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "base"));
	c.base_ms = 2000;
	c.cap_ms = 1999;
	MS_FAIL(ms_backoff_cfg_check(&c, &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "cap"));
	c.cap_ms = 2000; /* cap == base: a constant delay, allowed */
	MS_PASS(ms_backoff_cfg_check(&c, NULL));
	c.strategy = MS_BACKOFF_COUNT_;
	MS_FAIL(ms_backoff_cfg_check(&c, &eb), MS_EINVAL);
}
END_TEST

START_TEST(t_constant)
{
	ms_backoff st = {0};
	ms_backoff_cfg c = cfg_of(MS_BACKOFF_CONSTANT, 250, 10000);
	for (uint32_t n = 1; n <= 50; n++) {
		uint64_t now = 1000 * (uint64_t)n;
		ck_assert_uint_eq(ms_backoff_failure(&st, &c, NULL, now), 250);
		ck_assert_uint_eq(st.attempts, n);
		ck_assert_uint_eq(st.last_delay_ms, 250);
		ck_assert_uint_eq(st.next_attempt_ms, now + 250);
		ck_assert_int_eq(ms_backoff_due(&st, now + 249), 0);
		ck_assert_int_eq(ms_backoff_due(&st, now + 250), 1);
	}
}
END_TEST

START_TEST(t_linear)
{
	ms_backoff st = {0};
	ms_backoff_cfg c = cfg_of(MS_BACKOFF_LINEAR, 100, 1000);
	for (uint64_t n = 1; n <= 30; n++) {
		uint64_t want = n * 100 < 1000 ? n * 100 : 1000;
		ck_assert_uint_eq(ms_backoff_failure(&st, &c, NULL, 0), want);
		ck_assert_uint_eq(st.next_attempt_ms, want);
	}
}
END_TEST

START_TEST(t_exponential)
{
	ms_backoff st = {0};
	ms_backoff_cfg c = cfg_of(MS_BACKOFF_EXPONENTIAL, 100, 5000);
	const uint64_t want[] = {100,  200,  400,  800, 1600,
	                         3200, 5000, 5000, 5000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_uint_eq(ms_backoff_failure(&st, &c, NULL, 77),
		                  want[i]);
	ck_assert_uint_eq(st.next_attempt_ms, 77 + 5000);
}
END_TEST

START_TEST(t_saturation)
{
	/* No overflow anywhere: huge caps, huge attempt counts, a clock near
	 * the end of time. */
	ms_rng r;
	ms_rng_seed(&r, 5);
	for (int s = 0; s < MS_BACKOFF_COUNT_; s++) {
		ms_backoff st = {0};
		ms_backoff_cfg c = cfg_of((ms_backoff_strategy)s, 1,
		                          UINT64_MAX);
		uint64_t prev = 0;
		for (int i = 0; i < 200; i++) {
			uint64_t d = ms_backoff_failure(&st, &c, &r, 0);
			if (s == MS_BACKOFF_EXPONENTIAL) {
				ck_assert_uint_ge(
					d, prev); /* never wraps back down */
				prev = d;
			}
		}
		if (s == MS_BACKOFF_EXPONENTIAL)
			ck_assert_uint_eq(prev, UINT64_MAX);

		st.attempts = UINT32_MAX - 1;
		c = cfg_of((ms_backoff_strategy)s, 1000, 60000);
		uint64_t d = ms_backoff_failure(&st, &c, &r, UINT64_MAX - 10);
		ck_assert_uint_eq(st.attempts, UINT32_MAX);
		(void)ms_backoff_failure(&st, &c, &r, UINT64_MAX - 10);
		ck_assert_uint_eq(st.attempts, UINT32_MAX); /* stays, no wrap */
		ck_assert_uint_le(d, 60000);
		ck_assert_uint_eq(st.next_attempt_ms, UINT64_MAX);
	}
	/* a cfg that breaks the rules is clamped, not trusted */
	ms_backoff st = {0};
	ms_backoff_cfg bad = cfg_of(MS_BACKOFF_EXPONENTIAL, 0, 0);
	ck_assert_uint_eq(ms_backoff_failure(&st, &bad, NULL, 0), 1);
}
END_TEST

START_TEST(t_full_jitter)
{
	/* d in [0, min(cap, base * 2^(n-1))] for every draw; over many seeded
	 * sequences the window's both ends are approached and the mean sits
	 * near half the window. */
	const uint64_t base = 100, cap = 3200;
	ms_backoff_cfg c = cfg_of(MS_BACKOFF_FULL_JITTER, base, cap);
	ms_rng r;
	ms_rng_seed(&r, 2024);
	enum { RUNS = 4000, STEPS = 10 };
	uint64_t max_seen[STEPS] = {0}, min_seen[STEPS], sum[STEPS] = {0};
	for (int i = 0; i < STEPS; i++)
		min_seen[i] = UINT64_MAX;
	for (int run = 0; run < RUNS; run++) {
		ms_backoff st = {0};
		for (int n = 1; n <= STEPS; n++) {
			uint64_t win = base << (n - 1);
			if (win > cap)
				win = cap;
			uint64_t d = ms_backoff_failure(&st, &c, &r, 1000);
			ck_assert_uint_le(d, win);
			ck_assert_uint_eq(st.next_attempt_ms, 1000 + d);
			if (d > max_seen[n - 1])
				max_seen[n - 1] = d;
			if (d < min_seen[n - 1])
				min_seen[n - 1] = d;
			sum[n - 1] += d;
		}
	}
	for (int n = 1; n <= STEPS; n++) {
		uint64_t win = base << (n - 1);
		if (win > cap)
			win = cap;
		ck_assert_uint_ge(max_seen[n - 1], win - win / 50);
		ck_assert_uint_le(min_seen[n - 1], win / 50);
		uint64_t mean = sum[n - 1] / RUNS;
		ck_assert_uint_gt(mean, win * 45 / 100);
		ck_assert_uint_lt(mean, win * 55 / 100);
	}
}
END_TEST

START_TEST(t_decorrelated)
{
	/* d in [base, cap] always, and d <= 3 * max(base, previous d); over many
	 * seeded sequences the cap is reached and the walk grows. */
	const uint64_t base = 100, cap = 20000;
	ms_backoff_cfg c = cfg_of(MS_BACKOFF_DECORRELATED, base, cap);
	ms_rng r;
	ms_rng_seed(&r, 77);
	int reached_cap = 0;
	uint64_t sum_first = 0, sum_tenth = 0;
	enum { RUNS = 2000 };
	for (int run = 0; run < RUNS; run++) {
		ms_backoff st = {0};
		uint64_t prev = base;
		for (int n = 1; n <= 30; n++) {
			uint64_t d = ms_backoff_failure(&st, &c, &r, 0);
			ck_assert_uint_ge(d, base);
			ck_assert_uint_le(d, cap);
			ck_assert_uint_le(d, 3 * prev);
			ck_assert_uint_eq(st.last_delay_ms, d);
			prev = d;
			reached_cap += d == cap;
			if (n == 1)
				sum_first += d;
			if (n == 10)
				sum_tenth += d;
		}
	}
	ck_assert_int_gt(reached_cap, 0);
	/* first step is uniform[100, 300]: mean ~200 */
	ck_assert_uint_gt(sum_first / RUNS, 180);
	ck_assert_uint_lt(sum_first / RUNS, 220);
	/* ten failures in, the walk is far above the first step */
	ck_assert_uint_gt(sum_tenth / RUNS, 5 * (sum_first / RUNS));
}
END_TEST

/* The jitter strategies replay exactly from a seed; another seed differs. */
static void run_seq(ms_backoff_strategy s, uint64_t seed, uint64_t out[40])
{
	ms_rng r;
	ms_backoff st = {0};
	ms_backoff_cfg c = cfg_of(s, 50, 100000);
	ms_rng_seed(&r, seed);
	for (int i = 0; i < 40; i++)
		out[i] = ms_backoff_failure(&st, &c, &r, (uint64_t)i * 10);
}

START_TEST(t_same_seed_same_sequence)
{
	const ms_backoff_strategy js[] = {MS_BACKOFF_FULL_JITTER,
	                                  MS_BACKOFF_DECORRELATED};
	for (size_t k = 0; k < 2; k++) {
		uint64_t a[40], b[40], c[40];
		run_seq(js[k], 12345, a);
		run_seq(js[k], 12345, b);
		run_seq(js[k], 12346, c);
		ck_assert_mem_eq(a, b, sizeof a);
		ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
	}
}
END_TEST

START_TEST(t_success_resets)
{
	ms_rng r;
	ms_rng_seed(&r, 3);
	for (int s = 0; s < MS_BACKOFF_COUNT_; s++) {
		ms_backoff st = {0};
		ms_backoff_cfg c = cfg_of((ms_backoff_strategy)s, 100, 10000);
		for (int i = 0; i < 12; i++)
			(void)ms_backoff_failure(&st, &c, &r, 500);
		ck_assert_int_eq(ms_backoff_kick(&st, 600, 1000), 1);
		ms_backoff_success(&st);
		ms_backoff zero = {0};
		ck_assert_mem_eq(&st, &zero, sizeof st);
		ck_assert_int_eq(ms_backoff_due(&st, 0), 1);
		/* the next failure starts the sequence over */
		uint64_t d = ms_backoff_failure(&st, &c, &r, 0);
		ck_assert_uint_eq(st.attempts, 1);
		switch (s) {
		case MS_BACKOFF_FULL_JITTER:
			ck_assert_uint_le(d, 100);
			break;
		case MS_BACKOFF_DECORRELATED:
			ck_assert_uint_ge(d, 100);
			ck_assert_uint_le(d, 300);
			break;
		default:
			ck_assert_uint_eq(d, 100);
		}
	}
}
END_TEST

START_TEST(t_kick)
{
	ms_backoff st = {0};
	ms_backoff_cfg c = cfg_of(MS_BACKOFF_EXPONENTIAL, 1000, 60000);

	/* Nothing to cut short: due already, allowed, no kick used up. */
	ck_assert_int_eq(ms_backoff_kick(&st, 5, 500), 1);
	ck_assert_uint_eq(st.kicks, 0);

	(void)ms_backoff_failure(&st, &c, NULL, 0); /* next at 1000 */
	(void)ms_backoff_failure(&st, &c, NULL, 0); /* next at 2000 */
	ck_assert_uint_eq(st.next_attempt_ms, 2000);
	ck_assert_int_eq(ms_backoff_due(&st, 10), 0);

	/* A link-up event at 10: retry at once. */
	ck_assert_int_eq(ms_backoff_kick(&st, 10, 500), 1);
	ck_assert_uint_eq(st.next_attempt_ms, 10);
	ck_assert_uint_eq(st.last_kick_ms, 10);
	ck_assert_uint_eq(st.kicks, 1);
	ck_assert_int_eq(ms_backoff_due(&st, 10), 1);
	ck_assert_uint_eq(st.attempts, 2); /* failures remembered */

	/* That retry fails: the sequence continues where it was. */
	ck_assert_uint_eq(ms_backoff_failure(&st, &c, NULL, 10), 4000);

	/* Another event 200 ms after the last kick: refused, nothing moves. */
	ms_backoff before = st;
	ck_assert_int_eq(ms_backoff_kick(&st, 210, 500), 0);
	ck_assert_mem_eq(&st, &before, sizeof st);
	ck_assert_int_eq(ms_backoff_kick(&st, 509, 500), 0);
	ck_assert_mem_eq(&st, &before, sizeof st);

	/* 500 ms after the last kick: allowed again. */
	ck_assert_int_eq(ms_backoff_kick(&st, 510, 500), 1);
	ck_assert_uint_eq(st.next_attempt_ms, 510);
	ck_assert_uint_eq(st.kicks, 2);

	/* A clock that went backwards does not lock kicks out. */
	(void)ms_backoff_failure(&st, &c, NULL, 510);
	ck_assert_int_eq(ms_backoff_kick(&st, 100, 500), 1);
	ck_assert_uint_eq(st.next_attempt_ms, 100);

	/* Over a flapping link, kicks are at most one per interval. */
	ms_backoff f = {0};
	int accepted = 0;
	for (uint64_t t = 0; t < 10000; t += 10) {
		(void)ms_backoff_failure(&f, &c, NULL, t);
		accepted += ms_backoff_kick(&f, t, 1000);
	}
	ck_assert_int_eq(accepted, 10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, t_names);
	tcase_add_test(tc, t_cfg);
	tcase_add_test(tc, t_constant);
	tcase_add_test(tc, t_linear);
	tcase_add_test(tc, t_exponential);
	tcase_add_test(tc, t_saturation);
	tcase_add_test(tc, t_full_jitter);
	tcase_add_test(tc, t_decorrelated);
	tcase_add_test(tc, t_same_seed_same_sequence);
	tcase_add_test(tc, t_success_resets);
	tcase_add_test(tc, t_kick);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
