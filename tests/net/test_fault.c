/*
 * test_fault.c — the fault layer's core (net/fault): a seed replays the
 * same verdicts, the probabilities hold over 100k draws, partition and flap
 * windows are exact at their edges, and the config parser takes what
 * docs/config.md documents and refuses the rest with a reason.
 */
#include <stdint.h>
#include <string.h>

#include "fault.h"
#include "ms_test.h"

#define N_DRAWS 100000

static const char ID_A[] =
	"1111111111111111111111111111111111111111111111111111111111111111";
static const char ID_B[] =
	"2222222222222222222222222222222222222222222222222222222222222222";

/* 1 when two verdicts say the same, member by member. */
static int verdict_eq(const ms_fault_verdict *a, const ms_fault_verdict *b)
{
	if (a->drop != b->drop || a->copies != b->copies ||
	    a->delay_ms != b->delay_ms || a->hold != b->hold ||
	    a->ncorrupt != b->ncorrupt)
		return 0;
	for (int i = 0; i < a->ncorrupt && i < 4; i++)
		if (a->corrupt_at[i] != b->corrupt_at[i] ||
		    a->corrupt_xor[i] != b->corrupt_xor[i])
			return 0;
	return 1;
}

/* A config from "k=v;k=v" text (asserts it parses). */
static void cfg(ms_fault_config *c, const char *text)
{
	ms_errbuf eb = {0};

	ms_fault_config_default(c);
	MS_PASS_EB(ms_fault_config_parse(c, text, &eb), &eb);
}

START_TEST(t_replay)
{
	ms_fault_config c;
	ms_fault *a, *b, *o;
	uint8_t peer[MS_PK_LEN] = {7};
	int differ = 0;

	cfg(&c, "seed=42; drop=0.2; duplicate=0.1; corrupt=0.1; "
	        "reorder=0.1; delay=20ms; jitter=10ms");
	a = ms_fault_new(&c, 1000);
	b = ms_fault_new(&c, 1000);
	c.seed = 43;
	o = ms_fault_new(&c, 1000);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(ms_fault_seed(a), 42);
	for (int i = 0; i < 10000; i++) {
		ms_fault_verdict va, vb, vo;
		size_t len = (size_t)(i % 300);
		const uint8_t *p = i % 3 ? peer : NULL;
		ms_fault_decide(a, p, 1000 + (uint64_t)i, len, &va);
		ms_fault_decide(b, p, 1000 + (uint64_t)i, len, &vb);
		ms_fault_decide(o, p, 1000 + (uint64_t)i, len, &vo);
		ck_assert_int_eq(verdict_eq(&va, &vb), 1);
		differ |= !verdict_eq(&va, &vo);
	}
	ck_assert_int_eq(differ, 1); /* another seed, another run */
	ms_fault_free(a);
	ms_fault_free(b);
	ms_fault_free(o);

	/* seed 0 picks one, and that one replays */
	c.seed = 0;
	a = ms_fault_new(&c, 0);
	c.seed = ms_fault_seed(a);
	ck_assert_uint_ne(c.seed, 0);
	b = ms_fault_new(&c, 0);
	for (int i = 0; i < 1000; i++) {
		ms_fault_verdict va, vb;
		ms_fault_decide(a, NULL, 5, 100, &va);
		ms_fault_decide(b, NULL, 5, 100, &vb);
		ck_assert_int_eq(verdict_eq(&va, &vb), 1);
	}
	ms_fault_free(a);
	ms_fault_free(b);
}
END_TEST

/* Changing one probability leaves the draws behind the others alone:
 * every call consumes the PRNG the same way. */
START_TEST(t_fixed_draws)
{
	ms_fault_config c1, c2;
	ms_fault *a, *b;
	int same_dups = 1;

	cfg(&c1, "seed=9; duplicate=0.3");
	cfg(&c2, "seed=9; duplicate=0.3; reorder=0.5; delay=5ms");
	a = ms_fault_new(&c1, 0);
	b = ms_fault_new(&c2, 0);
	for (int i = 0; i < 5000; i++) {
		ms_fault_verdict va, vb;
		ms_fault_decide(a, NULL, 0, 64, &va);
		ms_fault_decide(b, NULL, 0, 64, &vb);
		same_dups &= va.copies == vb.copies;
	}
	ck_assert_int_eq(same_dups, 1);
	ms_fault_free(a);
	ms_fault_free(b);
}
END_TEST

/* |got - want| within tol, all in counts. */
#define NEAR(got, want, tol)                                                 \
	ck_assert_msg((got) + (tol) >= (want) && (got) <= (want) + (tol),    \
	              "%s = %llu, want %llu +- %llu", #got,                  \
	              (unsigned long long)(got), (unsigned long long)(want), \
	              (unsigned long long)(tol))

START_TEST(t_probabilities)
{
	ms_fault_config c;
	ms_fault_stats st;
	ms_fault *f;
	uint64_t drop = 0, dup = 0, cor = 0, hold = 0, kept = 0, dsum = 0;
	uint64_t flips[5] = {0};

	cfg(&c, "seed=1; drop=0.3; duplicate=0.05; corrupt=0.01; "
	        "reorder=0.2; delay=100ms; jitter=50ms");
	f = ms_fault_new(&c, 0);
	for (int i = 0; i < N_DRAWS; i++) {
		ms_fault_verdict v;
		ms_fault_decide(f, NULL, 0, 200, &v);
		if (v.drop) {
			drop++;
			ck_assert_int_eq(v.ncorrupt, 0);
			continue;
		}
		kept++;
		dup += v.copies == 2;
		hold += v.hold;
		ck_assert_uint_ge(v.delay_ms, 50);
		ck_assert_uint_le(v.delay_ms, 150);
		dsum += v.delay_ms;
		if (v.ncorrupt > 0) {
			cor++;
			ck_assert_int_le(v.ncorrupt, 4);
			flips[v.ncorrupt]++;
			for (int k = 0; k < v.ncorrupt; k++) {
				ck_assert_uint_lt(v.corrupt_at[k], 200);
				ck_assert_uint_ne(v.corrupt_xor[k], 0);
				for (int j = 0; j < k; j++)
					ck_assert_uint_ne(v.corrupt_at[j],
					                  v.corrupt_at[k]);
			}
		}
	}
	/* binomial: 5 standard deviations or more of slack */
	NEAR(drop, N_DRAWS * 3 / 10, 800);
	NEAR(dup, kept * 5 / 100, 350);
	NEAR(cor, kept / 100, 150);
	NEAR(hold, kept * 2 / 10, 600);
	NEAR(dsum / kept, 100, 1);
	ck_assert_uint_gt(flips[1], 0);
	ck_assert_uint_gt(flips[4], 0);
	ms_fault_stats_get(f, &st);
	ck_assert_uint_eq(st.seen, N_DRAWS);
	ck_assert_uint_eq(st.dropped, drop);
	ck_assert_uint_eq(st.duplicated, dup);
	ck_assert_uint_eq(st.corrupted, cor);
	ck_assert_uint_eq(st.reordered, hold);
	ck_assert_uint_eq(st.delayed, kept);
	ck_assert_uint_eq(st.cut, 0);
	ms_fault_free(f);

	/* 0 and 1 are exact */
	cfg(&c, "drop=1");
	f = ms_fault_new(&c, 0);
	for (int i = 0; i < 1000; i++) {
		ms_fault_verdict v;
		ms_fault_decide(f, NULL, 0, 10, &v);
		ck_assert_int_eq(v.drop, 1);
	}
	ms_fault_free(f);
	cfg(&c, "duplicate=0.000001");
	ck_assert_uint_eq(c.duplicate_ppm, 1);
	c.duplicate_ppm = 0;
	c.delay_ms = 1;
	f = ms_fault_new(&c, 0);
	for (int i = 0; i < 1000; i++) {
		ms_fault_verdict v;
		ms_fault_decide(f, NULL, 0, 0, &v);
		ck_assert_int_eq(v.drop, 0);
		ck_assert_int_eq(v.copies, 1);
		ck_assert_int_eq(v.ncorrupt, 0);
		ck_assert_uint_eq(v.delay_ms, 1);
	}
	ms_fault_free(f);
}
END_TEST

START_TEST(t_partition_edges)
{
	ms_fault_config c;
	uint8_t a[MS_PK_LEN], b[MS_PK_LEN];
	ms_fault *f;
	ms_fault_verdict v;
	ms_fault_stats st;
	char text[256];
	const uint64_t e = 1000000; /* the epoch */

	ck_assert_int_eq(ms_unhex(a, MS_PK_LEN, ID_A), 0);
	ck_assert_int_eq(ms_unhex(b, MS_PK_LEN, ID_B), 0);
	/* one window for everyone, one for A only */
	snprintf(text, sizeof text,
	         "partition = 10s 30s; partition = 40s 41s %s; epoch=%llu",
	         ID_A, (unsigned long long)e);
	cfg(&c, text);
	f = ms_fault_new(&c, 5); /* the epoch key wins over the start */
	ck_assert_int_eq(ms_fault_cut(f, a, e - 1 + 10000), 0);
	ck_assert_int_eq(ms_fault_cut(f, a, e + 10000), 1);
	ck_assert_int_eq(ms_fault_cut(f, NULL, e + 10000), 1);
	ck_assert_int_eq(ms_fault_cut(f, b, e + 29999), 1);
	ck_assert_int_eq(ms_fault_cut(f, b, e + 30000), 0);
	ck_assert_int_eq(ms_fault_cut(f, a, 0), 0); /* before the epoch */
	/* the listed peer only, and only once known */
	ck_assert_int_eq(ms_fault_cut(f, a, e + 39999), 0);
	ck_assert_int_eq(ms_fault_cut(f, a, e + 40000), 1);
	ck_assert_int_eq(ms_fault_cut(f, a, e + 40999), 1);
	ck_assert_int_eq(ms_fault_cut(f, a, e + 41000), 0);
	ck_assert_int_eq(ms_fault_cut(f, b, e + 40000), 0);
	ck_assert_int_eq(ms_fault_cut(f, NULL, e + 40000), 0);
	/* a cut message is dropped and counted as cut, not dropped */
	ms_fault_decide(f, a, e + 40500, 10, &v);
	ck_assert_int_eq(v.drop, 1);
	ms_fault_decide(f, b, e + 40500, 10, &v);
	ck_assert_int_eq(v.drop, 0);
	ms_fault_stats_get(f, &st);
	ck_assert_uint_eq(st.cut, 1);
	ck_assert_uint_eq(st.dropped, 0);
	ms_fault_free(f);

	/* without an epoch key, schedules count from the start */
	cfg(&c, "partition=0 1s");
	f = ms_fault_new(&c, 777);
	ck_assert_int_eq(ms_fault_cut(f, NULL, 776), 0);
	ck_assert_int_eq(ms_fault_cut(f, NULL, 777), 1);
	ck_assert_int_eq(ms_fault_cut(f, NULL, 1776), 1);
	ck_assert_int_eq(ms_fault_cut(f, NULL, 1777), 0);
	ms_fault_free(f);
}
END_TEST

START_TEST(t_flap_edges)
{
	ms_fault_config c;
	uint8_t b[MS_PK_LEN];
	ms_fault *f;
	char text[200];

	ck_assert_int_eq(ms_unhex(b, MS_PK_LEN, ID_B), 0);
	cfg(&c, "flap = up 5s down 10s");
	f = ms_fault_new(&c, 100);
	for (uint64_t p = 0; p < 3; p++) {
		uint64_t t = 100 + p * 15000;
		ck_assert_int_eq(ms_fault_cut(f, b, t), 0);
		ck_assert_int_eq(ms_fault_cut(f, b, t + 4999), 0);
		ck_assert_int_eq(ms_fault_cut(f, b, t + 5000), 1);
		ck_assert_int_eq(ms_fault_cut(f, b, t + 14999), 1);
	}
	ms_fault_free(f);

	snprintf(text, sizeof text, "flap=200ms 300 %s", ID_B);
	cfg(&c, text);
	ck_assert_uint_eq(c.sched[0].a_ms, 200);
	ck_assert_uint_eq(c.sched[0].b_ms, 300);
	f = ms_fault_new(&c, 0);
	ck_assert_int_eq(ms_fault_cut(f, b, 199), 0);
	ck_assert_int_eq(ms_fault_cut(f, b, 200), 1);
	ck_assert_int_eq(ms_fault_cut(f, b, 499), 1);
	ck_assert_int_eq(ms_fault_cut(f, b, 500), 0);
	ck_assert_int_eq(ms_fault_cut(f, NULL, 300), 0);
	ms_fault_free(f);
}
END_TEST

/* set() refuses value with a reason naming the key; the config is left
 * as it was for a scalar. */
static void bad(const char *key, const char *value, int want,
                const char *needle)
{
	ms_fault_config c;
	ms_errbuf eb = {0};

	ms_fault_config_default(&c);
	ck_assert_int_eq(ms_fault_config_set(&c, key, value, &eb), want);
	ck_assert_msg(strstr(eb.msg, needle) != NULL, "'%s' lacks '%s'", eb.msg,
	              needle);
	ck_assert_int_eq(ms_fault_config_on(&c), 0);
}

START_TEST(t_parse)
{
	ms_fault_config c, d;
	ms_errbuf eb = {0};
	char line[512], text[300];

	ms_fault_config_default(&c);
	ck_assert_int_eq(ms_fault_config_on(&c), 0);
	cfg(&c, " seed = 7 ;drop=0.3;; delay=100ms;jitter=50;corrupt=.01;"
	        "duplicate=1.000;reorder=0;partition=1s 2m;flap=1h 30m;");
	ck_assert_uint_eq(c.seed, 7);
	ck_assert_uint_eq(c.drop_ppm, 300000);
	ck_assert_uint_eq(c.corrupt_ppm, 10000);
	ck_assert_uint_eq(c.duplicate_ppm, 1000000);
	ck_assert_uint_eq(c.delay_ms, 100);
	ck_assert_uint_eq(c.jitter_ms, 50);
	ck_assert_uint_eq(c.nsched, 2);
	ck_assert_int_eq(c.sched[0].kind, MS_FAULT_PARTITION);
	ck_assert_uint_eq(c.sched[0].a_ms, 1000);
	ck_assert_uint_eq(c.sched[0].b_ms, 120000);
	ck_assert_uint_eq(c.sched[0].nids, 0);
	ck_assert_int_eq(c.sched[1].kind, MS_FAULT_FLAP);
	ck_assert_uint_eq(c.sched[1].a_ms, 3600000);
	ck_assert_int_eq(ms_fault_config_on(&c), 1);
	ms_fault_config_describe(&c, line, sizeof line);
	ck_assert_str_eq(line, "seed=7 drop=0.3 duplicate=1 corrupt=0.01 "
	                       "delay=100ms jitter=50ms "
	                       "partition=1s/2m/all flap=1h/30m/all");
	d = c;
	ck_assert_int_eq(ms_fault_config_equal(&c, &d), 1);
	d.sched[1].b_ms++;
	ck_assert_int_eq(ms_fault_config_equal(&c, &d), 0);

	snprintf(text, sizeof text, "partition=1s 2s %s %s", ID_A, ID_B);
	cfg(&c, text);
	ck_assert_uint_eq(c.sched[0].nids, 2);
	ck_assert_uint_eq(c.sched[0].ids[1][0], 0x22);

	bad("drop", "1.5", -2, "bad value '1.5' for drop (a probability");
	bad("drop", "abc", -2, "for drop");
	bad("corrupt", "0.0000001", -2, "for corrupt");
	bad("reorder", "-0.1", -2, "for reorder");
	bad("reorder", "", -2, "for reorder");
	bad("delay", "5x", -2, "bad value '5x' for delay (a duration");
	bad("jitter", "400d", -2, "for jitter");
	bad("seed", "12a", -2, "for seed");
	bad("partition", "30s 10s", -2, "for partition (FROM TO");
	bad("partition", "10s", -2, "for partition");
	bad("flap", "0 5s", -2, "for flap (UP DOWN");
	bad("flap", "up 5s down", -2, "for flap");
	bad("flap", "5s 5s 12zz", -2, "bad node id in flap");
	bad("partition", "1s 2s 1111", -2, "bad node id in partition");
	bad("loss", "0.1", -1, "unknown key 'loss' in [faults]");

	/* the text form: the first bad item's reason, nothing else */
	ms_fault_config_default(&c);
	ck_assert_int_eq(ms_fault_config_parse(&c, "drop=0.1;delay", &eb),
	                 MS_EINVAL);
	ck_assert_str_eq(eb.msg, "'delay': expected key=value");
	ck_assert_int_eq(ms_fault_config_parse(&c, "drop=2", &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "for drop"));

	/* at most MS_FAULT_MAX_SCHEDULES lines */
	ms_fault_config_default(&c);
	for (int i = 0; i < MS_FAULT_MAX_SCHEDULES; i++)
		ck_assert_int_eq(ms_fault_config_set(&c, "flap", "1 1", &eb),
		                 0);
	ck_assert_int_eq(ms_fault_config_set(&c, "partition", "1 2", &eb), -2);
	ck_assert_ptr_nonnull(strstr(eb.msg, "more than 32"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, t_replay);
	tcase_add_test(tc, t_fixed_draws);
	tcase_add_test(tc, t_probabilities);
	tcase_add_test(tc, t_partition_edges);
	tcase_add_test(tc, t_flap_edges);
	tcase_add_test(tc, t_parse);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
