/*
 * test_ratelog.c — the per-source log line budget: a source gets per_sec
 * lines a second, the rest are counted and reported with its next line,
 * and a flood of new sources replaces the oldest instead of growing.
 */
#include <check.h>
#include <string.h>

#include "ms_test.h"
#include "ratelog.h"

static void key_of(uint8_t key[MS_RATELOG_KEY_LEN], unsigned n)
{
	memset(key, 0, MS_RATELOG_KEY_LEN);
	memcpy(key, &n, sizeof n);
}

START_TEST(per_second_per_source)
{
	static ms_ratelog r;
	uint8_t a[MS_RATELOG_KEY_LEN], b[MS_RATELOG_KEY_LEN];
	uint32_t was = 99;

	memset(&r, 0, sizeof r);
	r.per_sec = 3;
	key_of(a, 1);
	key_of(b, 2);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ms_ratelog_allow(&r, a, 1000 + i, &was), 1);
	ck_assert_uint_eq(was, 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(ms_ratelog_allow(&r, a, 1500, &was), 0);
	/* another source has its own budget */
	ck_assert_int_eq(ms_ratelog_allow(&r, b, 1500, &was), 1);
	ck_assert_uint_eq(r.dropped, 10);
	/* next window: allowed, with the 10 refused lines handed back once */
	ck_assert_int_eq(ms_ratelog_allow(&r, a, 2000, &was), 1);
	ck_assert_uint_eq(was, 10);
	ck_assert_int_eq(ms_ratelog_allow(&r, a, 2001, &was), 1);
	ck_assert_uint_eq(was, 0);
}
END_TEST

START_TEST(many_sources_fixed_table)
{
	static ms_ratelog r;
	uint8_t k[MS_RATELOG_KEY_LEN];
	uint32_t was;

	memset(&r, 0, sizeof r);
	r.per_sec = 1;
	for (unsigned i = 0; i < 10 * MS_RATELOG_SOURCES; i++) {
		key_of(k, i);
		ck_assert_int_eq(ms_ratelog_allow(&r, k, 5000 + i, &was), 1);
	}
	/* the newest source is still tracked: its second line is refused */
	ck_assert_int_eq(ms_ratelog_allow(&r, k, 5000 + 10 * MS_RATELOG_SOURCES,
	                                  &was),
	                 0);
	ck_assert_uint_eq(r.dropped, 1);
}
END_TEST

START_TEST(gate_counts_suppressed)
{
	static ms_ratelog r;
	static ms_counters k;
	ms_log lg = {.level = MS_LOG_ERROR}; /* the lines themselves: quiet */
	uint8_t a[MS_RATELOG_KEY_LEN];
	int n = 0;

	memset(&r, 0, sizeof r);
	memset(&k, 0, sizeof k);
	r.per_sec = 2;
	key_of(a, 7);
	for (int i = 0; i < 5; i++)
		n += ms_ratelog_gate(&r, &lg, &k, a, "a", 100);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(ms_counters_total(&k, "log_suppressed"), 3);
	/* no ratelog: every line passes */
	ck_assert_int_eq(ms_ratelog_gate(NULL, &lg, &k, a, "a", 100), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ratelog");
	TCase *tc = tcase_create("ratelog");

	tcase_add_test(tc, per_second_per_source);
	tcase_add_test(tc, many_sources_fixed_table);
	tcase_add_test(tc, gate_counts_suppressed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
