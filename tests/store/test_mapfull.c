/*
 * test_mapfull.c — a store whose map may grow only from 1 MiB to 2 MiB:
 * appends grow the map once, then fail with a clear MS_EFULL; afterwards
 * reads work, every committed op is there, verify passes, and a batch
 * ingested at full commits nothing of itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hlc.h"
#include "ms_test.h"
#include "store_fix.h"

#define VAL_LEN (24 * 1024)
#define MAX_APPENDS 400 /* 2 MiB / 24 KiB is far below this */
#define BATCH 40

START_TEST(test_grow_then_full)
{
	char *dir = ms_test_tmpdir("mapfull");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	static uint8_t val[VAL_LEN];
	static uint8_t ids[MAX_APPENDS][MS_HASH_LEN];
	fix_op batch[BATCH];
	ms_ingest_item items[BATCH];
	ms_ingest_totals tot;
	ms_store_opts o;
	ms_store *s;
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	ms_errbuf eb;
	ms_err e = MS_OK;
	int n = 0;

	ms_store_opts_default(&o);
	o.map_initial = 1u << 20;
	o.map_max = 2u << 20;
	s = fix_store(dir, a, &o);
	for (int i = 0; i < MAX_APPENDS; i++) {
		ms_append_result r;
		char key[32];
		int kl = snprintf(key, sizeof key, "big/%03d", i);

		memset(val, 'a' + i % 26, sizeof val);
		e = ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                    (const uint8_t *)key, (size_t)kl, val,
		                    sizeof val, &r, &eb);
		if (e != MS_OK)
			break;
		memcpy(ids[n++], r.id, MS_HASH_LEN);
	}
	ck_assert_int_eq(e, MS_EFULL);
	ck_assert_msg(strstr(eb.msg, "store full") != NULL &&
	                      strstr(eb.msg, "2 MiB") != NULL &&
	                      strstr(eb.msg, "store.map_max") != NULL,
	              "unclear message: %s", eb.msg);
	ck_assert_int_gt(n, 40); /* more than the initial 1 MiB held */

	/* Reads go on and nothing committed is lost. */
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_ge(ms_store_stat(rt, "map_grow"), 1);
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	ck_assert_uint_eq(sum.ops, (uint64_t)n);
	ck_assert_uint_eq(sum.map_size, 2u << 20);
	ck_assert_uint_le(sum.store_bytes, 2u << 20);
	for (int i = 0; i < n; i++) {
		ms_log_entry le;
		MS_PASS_EB(ms_store_get_op(rt, ids[i], &le, &eb), &eb);
		ck_assert_uint_eq(le.op.value_len, VAL_LEN);
		ck_assert_uint_eq(le.op.value[0], (uint8_t)('a' + i % 26));
	}
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);

	/* A batch at full: MS_EFULL and none of it committed. */
	for (int i = 0; i < BATCH; i++) {
		char key[32];
		snprintf(key, sizeof key, "in/%02d", i);
		fix_make_op(&batch[i], b, MS_OP_PUT, (uint64_t)i + 1,
		            MS_HLC_MAKE(UINT64_C(1767225600000), (uint64_t)i),
		            NULL, 0, key, val, sizeof val);
		items[i] = (ms_ingest_item){batch[i].buf, batch[i].len};
	}
	MS_FAIL(ms_store_ingest(s, items, BATCH, NULL, NULL, &tot, &eb),
	        MS_EFULL);
	ck_assert_msg(strstr(eb.msg, "store full") != NULL, "%s", eb.msg);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	ck_assert_uint_eq(sum.ops, (uint64_t)n);
	for (int i = 0; i < BATCH; i++) {
		ms_log_entry le;
		MS_FAIL(ms_store_get_op(rt, batch[i].id, &le, &eb),
		        MS_ENOTFOUND);
	}
	ms_store_read_end(&rt);
	ms_store_close(&s);

	/* Reopened: still all there, still full, verify clean. */
	MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	ck_assert_uint_eq(sum.ops, (uint64_t)n);
	ms_store_read_end(&rt);
	/* Still full: pages freed by the small commits since (stats of the
	 * refused writes) may take one or two more ops, never more. */
	e = MS_OK;
	for (int i = 0; i < 4 && e == MS_OK; i++) {
		char key[32];
		int kl = snprintf(key, sizeof key, "more/%d", i);
		e = ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                    (const uint8_t *)key, (size_t)kl, val,
		                    sizeof val, NULL, &eb);
		if (e == MS_OK)
			n++;
	}
	ck_assert_int_eq(e, MS_EFULL);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);

	/* Raising the ceiling lets writes continue. */
	o.map_max = 4u << 20;
	MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	MS_PASS_EB(ms_store_ingest(s, items, BATCH, NULL, NULL, &tot, &eb),
	           &eb);
	ck_assert_uint_eq(tot.applied, BATCH);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);

	for (int i = 0; i < BATCH; i++)
		free(batch[i].buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* Another process grows the map while we hold the store open with the old
 * size: our next read and write follow the file's new size. */
START_TEST(test_grown_by_other_process)
{
	char *dir = ms_test_tmpdir("mapother");
	ms_identity *a = fix_identity(1);
	static uint8_t val[VAL_LEN];
	ms_store_opts o;
	ms_store *s;
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	ms_append_result r;
	ms_errbuf eb;
	pid_t pid;
	int st = 0;

	ms_store_opts_default(&o);
	o.map_initial = 1u << 20;
	o.map_max = 8u << 20;
	s = fix_store(dir, a, &o);
	memset(val, 'v', sizeof val);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Its own environment; the parent's is not touched here. */
		ms_store *cs = NULL;
		if (ms_store_open(&cs, dir, &o, &eb) != MS_OK)
			_exit(2);
		for (int i = 0; i < 60; i++) {
			char key[32];
			int kl = snprintf(key, sizeof key, "c/%d", i);
			if (ms_store_append(cs, a, MS_OP_PUT, MS_PRIO_USER,
			                    (const uint8_t *)key, (size_t)kl,
			                    val, sizeof val, NULL,
			                    &eb) != MS_OK)
				_exit(3);
		}
		ms_store_close(&cs);
		_exit(0);
	}
	/* The child ends by itself; bounded wait, then it is killed. */
	ck_assert_msg(ms_test_stop_pid(pid, 0, 60000, &st) == 0,
	              "child did not finish");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d",
	              st);

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	ck_assert_uint_eq(sum.ops, 60);
	ck_assert_uint_ge(sum.map_size, 2u << 20);
	ms_store_read_end(&rt);
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
	                           (const uint8_t *)"p", 1, val, sizeof val, &r,
	                           &eb),
	           &eb);
	ck_assert_uint_eq(r.seq, 61);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mapfull");
	TCase *tc = tcase_create("map");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_grow_then_full);
	tcase_add_test(tc, test_grown_by_other_process);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
