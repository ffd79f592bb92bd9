/*
 * test_store.c — the LMDB store in one process: create/open, append and
 * read, the three policies, forks, duplicates, rejected input and
 * quarantine, limits, restore from backup, clock skew, and verify finding
 * real corruption.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlc.h"
#include "ms_test.h"
#include "store_fix.h"

/* 2026-01-01T00:00:00Z in ms: the injected "now" of the clock tests. */
#define T_NOW UINT64_C(1767225600000)
#define YEAR_MS (UINT64_C(365) * 24 * 3600 * 1000)

static ms_key_state get_key(ms_store_rtxn *rt, const char *key)
{
	ms_key_state ks;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_get(rt, (const uint8_t *)key, strlen(key), &ks,
	                        &eb),
	           &eb);
	return ks;
}

static void append(ms_store *s, const ms_identity *id, ms_op_type t,
                   const char *key, const void *v, size_t vl,
                   ms_append_result *res)
{
	ms_errbuf eb;
	MS_PASS_EB(ms_store_append(s, id, t, MS_PRIO_USER, (const uint8_t *)key,
	                           strlen(key), v, vl, res, &eb),
	           &eb);
}

static void ingest1(ms_store *s, const fix_op *op, ms_ingest_result *r)
{
	ms_ingest_item it = {op->buf, op->len};
	ms_errbuf eb;
	MS_PASS_EB(ms_store_ingest(s, &it, 1, NULL, r, NULL, &eb), &eb);
}

static uint64_t stat_of(ms_store *s, const char *name)
{
	ms_store_rtxn *rt = NULL;
	uint64_t v;

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	v = ms_store_stat(rt, name);
	ms_store_read_end(&rt);
	return v;
}

START_TEST(test_create_open)
{
	char *dir = ms_test_tmpdir("st-create");
	char *empty = ms_test_tmpdir("st-empty");
	ms_identity *a = fix_identity(1);
	ms_store *s = NULL;
	ms_store_opts o;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_create(dir, ms_identity_pk(a), fix_netid, NULL,
	                           &eb),
	           &eb);
	MS_FAIL(ms_store_create(dir, ms_identity_pk(a), fix_netid, NULL, &eb),
	        MS_EEXIST);
	MS_FAIL(ms_store_open(&s, empty, NULL, &eb), MS_ENOTFOUND);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(eb.msg, "meshsync-node init") != NULL, "%s",
	              eb.msg);

	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	ck_assert_mem_eq(ms_store_node_id(s), ms_identity_pk(a), MS_PK_LEN);
	ck_assert_mem_eq(ms_store_network_id(s), fix_netid, MS_NETID_LEN);
	append(s, a, MS_OP_PUT, "k", "v", 1, NULL);
	ms_store_close(&s);
	ck_assert_ptr_null(s);

	/* Read-only: reads work, writes are refused, and the data file is
	 * not touched even with a policy table that differs from the stored
	 * one (a writer would store it). */
	{
		char path[4096];
		struct stat before, after;
		ms_policy_rule rule = {"x/", MS_POLICY_MV};
		size_t n = 9;

		snprintf(path, sizeof path, "%s/data.mdb", dir);
		ck_assert_int_eq(stat(path, &before), 0);
		ms_store_opts_default(&o);
		o.readonly = 1;
		o.policies = &rule;
		o.npolicies = 1;
		MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
		ck_assert_uint_eq(fix_summary(s).ops, 1);
		(void)ms_store_policies(s, &n);
		ck_assert_uint_eq(n, 0);
		ck_assert_uint_eq(fix_verify(s), 0);
		MS_FAIL(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                        (const uint8_t *)"k", 1, NULL, 0, NULL,
		                        &eb),
		        MS_EINVAL);
		ms_store_close(&s);
		ck_assert_int_eq(stat(path, &after), 0);
		ck_assert_int_eq(before.st_size, after.st_size);
		ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
		ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	}

	ms_identity_free(&a);
	ms_test_rmdir(dir);
	ms_test_rmdir(empty);
	free(dir);
	free(empty);
}
END_TEST

START_TEST(test_append_get_del)
{
	char *dir = ms_test_tmpdir("st-append");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	ms_store *s = fix_store(dir, a, NULL);
	ms_append_result r1, r2, r3;
	ms_store_rtxn *rt = NULL;
	ms_log_entry le;
	ms_key_state ks;
	ms_errbuf eb;

	append(s, a, MS_OP_PUT, "greeting", "hello", 5, &r1);
	ck_assert_uint_eq(r1.seq, 1);
	append(s, a, MS_OP_PUT, "greeting", "hallo", 5, &r2);
	ck_assert_uint_eq(r2.seq, 2);
	ck_assert_uint_gt(r2.hlc, r1.hlc);
	/* The identity must be the store's. */
	MS_FAIL(ms_store_append(s, b, MS_OP_PUT, MS_PRIO_USER,
	                        (const uint8_t *)"x", 1, NULL, 0, NULL, &eb),
	        MS_EINVAL);

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "greeting");
	ck_assert_uint_eq(ks.nheads, 1);
	ck_assert_uint_eq(ks.nops, 2);
	ck_assert_mem_eq(ks.heads[0].id, r2.id, MS_HASH_LEN);
	ck_assert_uint_eq(ks.heads[0].value_len, 5);
	ck_assert_mem_eq(ks.heads[0].value, "hallo", 5);
	ck_assert_int_eq(ms_key_state_live(&ks), 1);
	ck_assert_int_eq(ms_key_state_conflict(&ks), 0);
	/* The second write names the first as its parent. */
	MS_PASS_EB(ms_store_get_op(rt, r2.id, &le, &eb), &eb);
	ck_assert_uint_eq(le.op.nparents, 1);
	ck_assert_mem_eq(le.op.parents, r1.id, MS_HASH_LEN);
	MS_FAIL(ms_store_get(rt, (const uint8_t *)"nope", 4, &ks, &eb),
	        MS_ENOTFOUND);
	ms_store_read_end(&rt);

	append(s, a, MS_OP_DEL, "greeting", NULL, 0, &r3);
	ck_assert_uint_eq(r3.seq, 3);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "greeting");
	ck_assert_uint_eq(ks.nheads, 1);
	ck_assert_uint_eq(ks.heads[0].type, MS_OP_DEL);
	ck_assert_int_eq(ms_key_state_live(&ks), 0);
	ms_store_read_end(&rt);

	{
		ms_store_summary sum = fix_summary(s);
		ck_assert_uint_eq(sum.ops, 3);
		ck_assert_uint_eq(sum.authors, 1);
		ck_assert_uint_eq(sum.keys, 1);
		ck_assert_uint_eq(sum.live_keys, 0);
		ck_assert_uint_eq(sum.local_seq, 3);
		ck_assert_uint_gt(sum.store_bytes, 0);
		ck_assert_uint_eq(sum.map_size, MS_STORE_DEFAULT_MAP_INITIAL);
	}
	ck_assert_uint_eq(stat_of(s, "ops_local"), 3);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_mv_siblings)
{
	char *dir = ms_test_tmpdir("st-mv");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *c = fix_identity(3);
	ms_policy_rule rule = {"mv/", MS_POLICY_MV};
	ms_store_opts o;
	ms_store *s;
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	ms_append_result ra;
	ms_log_entry le;
	fix_op ob, oc;
	ms_errbuf eb;

	ms_store_opts_default(&o);
	o.policies = &rule;
	o.npolicies = 1;
	s = fix_store(dir, a, &o);
	fix_make_op(&ob, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0,
	            "mv/x", "from-b", 6);
	fix_make_op(&oc, c, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 1), NULL, 0,
	            "mv/x", "from-c", 6);
	ingest1(s, &ob, NULL);
	ingest1(s, &oc, NULL);

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "mv/x");
	ck_assert_int_eq(ks.policy, MS_POLICY_MV);
	ck_assert_uint_eq(ks.nheads, 2);
	ck_assert_int_eq(ms_key_state_conflict(&ks), 1);
	ck_assert_int_eq(ms_key_state_live(&ks), 1);
	ms_store_read_end(&rt);

	/* A local write names both siblings and replaces them. */
	append(s, a, MS_OP_PUT, "mv/x", "merged", 6, &ra);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "mv/x");
	ck_assert_uint_eq(ks.nheads, 1);
	ck_assert_mem_eq(ks.heads[0].id, ra.id, MS_HASH_LEN);
	ck_assert_int_eq(ms_key_state_conflict(&ks), 0);
	MS_PASS_EB(ms_store_get_op(rt, ra.id, &le, &eb), &eb);
	ck_assert_uint_eq(le.op.nparents, 2);
	ck_assert(memcmp(le.op.parents, ob.id, MS_HASH_LEN) == 0 ||
	          memcmp(le.op.parents, oc.id, MS_HASH_LEN) == 0);
	ck_assert(memcmp(le.op.parents + MS_HASH_LEN, ob.id, MS_HASH_LEN) ==
	                  0 ||
	          memcmp(le.op.parents + MS_HASH_LEN, oc.id, MS_HASH_LEN) == 0);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);

	ms_store_close(&s);
	/* The stored table reaches a read-only opener that passes none. */
	ms_store_opts_default(&o);
	o.readonly = 1;
	MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	{
		size_t n = 0;
		const ms_policy_rule *r = ms_store_policies(s, &n);
		ck_assert_uint_eq(n, 1);
		ck_assert_str_eq(r[0].prefix, "mv/");
		ck_assert_int_eq(ms_store_policy_for(s, (const uint8_t *)"mv/q",
		                                     4),
		                 MS_POLICY_MV);
		ck_assert_int_eq(ms_store_policy_for(s, (const uint8_t *)"m",
		                                     1),
		                 MS_POLICY_LWW);
	}
	ms_store_close(&s);
	free(ob.buf);
	free(oc.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&c);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_counter)
{
	char *dir = ms_test_tmpdir("st-counter");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *c = fix_identity(3);
	ms_policy_rule rules[2] = {{"c", MS_POLICY_MV},
	                           {"c/", MS_POLICY_COUNTER}};
	ms_store_opts o;
	ms_store *s;
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	uint8_t d[8];
	fix_op ob, oc;
	ms_ingest_totals tot;
	ms_ingest_item items[2];
	ms_errbuf eb;

	ms_store_opts_default(&o);
	o.policies = rules;
	o.npolicies = 2;
	s = fix_store(dir, a, &o);
	fix_le64(d, 5);
	append(s, a, MS_OP_PUT, "c/hits", d, 8, NULL);
	fix_le64(d, -3);
	append(s, a, MS_OP_PUT, "c/hits", d, 8, NULL);
	fix_le64(d, INT64_C(10000000000));
	append(s, a, MS_OP_PUT, "c/hits", d, 8, NULL);
	append(s, a, MS_OP_PUT, "c/hits", "not-8", 5, NULL); /* ignored */
	/* Two concurrent foreign deltas, neither naming the other. */
	fix_le64(d, 100);
	fix_make_op(&ob, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0,
	            "c/hits", d, 8);
	fix_le64(d, -200);
	fix_make_op(&oc, c, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0,
	            "c/hits", d, 8);
	items[0] = (ms_ingest_item){ob.buf, ob.len};
	items[1] = (ms_ingest_item){oc.buf, oc.len};
	MS_PASS_EB(ms_store_ingest(s, items, 2, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.applied, 2);
	ck_assert_uint_eq(tot.conflicts, 0); /* counter keys never conflict */

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "c/hits");
	ck_assert_int_eq(ks.policy, MS_POLICY_COUNTER);
	ck_assert_int_eq(ks.counter, 5 - 3 + INT64_C(10000000000) + 100 - 200);
	ck_assert_uint_eq(ks.nops, 6);
	ck_assert_uint_eq(ks.nheads, 3);
	ck_assert_int_eq(ms_key_state_conflict(&ks), 0);
	ck_assert_int_eq(ms_key_state_live(&ks), 1);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	free(ob.buf);
	free(oc.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&c);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_lww)
{
	char *dir = ms_test_tmpdir("st-lww");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *c = fix_identity(3);
	ms_store *s = fix_store(dir, a, NULL);
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	fix_op ob, oc, ob2, oc2;
	const fix_op *hi, *lo;

	/* Greatest hlc wins whatever the author. */
	fix_make_op(&ob, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 7), NULL, 0, "k",
	            "b", 1);
	fix_make_op(&oc, c, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 3), NULL, 0, "k",
	            "c", 1);
	ingest1(s, &oc, NULL);
	ingest1(s, &ob, NULL);
	/* Equal hlc: the greater author wins. */
	fix_make_op(&ob2, b, MS_OP_PUT, 2, MS_HLC_MAKE(T_NOW, 9), NULL, 0, "t",
	            "b", 1);
	fix_make_op(&oc2, c, MS_OP_PUT, 2, MS_HLC_MAKE(T_NOW, 9), NULL, 0, "t",
	            "c", 1);
	ingest1(s, &ob2, NULL);
	ingest1(s, &oc2, NULL);
	if (memcmp(ms_identity_pk(b), ms_identity_pk(c), MS_PK_LEN) > 0) {
		hi = &ob2;
		lo = &oc2;
	} else {
		hi = &oc2;
		lo = &ob2;
	}

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "k");
	ck_assert_uint_eq(ks.nheads, 2);
	ck_assert_mem_eq(ks.heads[0].id, ob.id, MS_HASH_LEN);
	ck_assert_mem_eq(ks.heads[0].value, "b", 1);
	ck_assert_mem_eq(ks.heads[1].id, oc.id, MS_HASH_LEN); /* the loser */
	ck_assert_int_eq(ms_key_state_conflict(&ks), 1);
	ks = get_key(rt, "t");
	ck_assert_uint_eq(ks.nheads, 2);
	ck_assert_mem_eq(ks.heads[0].id, hi->id, MS_HASH_LEN);
	ck_assert_mem_eq(ks.heads[1].id, lo->id, MS_HASH_LEN);
	ms_store_read_end(&rt);
	{
		ms_store_summary sum = fix_summary(s);
		ck_assert_uint_eq(sum.conflicts, 2);
		ck_assert_uint_eq(sum.live_keys, 2);
		ck_assert_uint_eq(sum.authors, 2);
	}
	ck_assert_uint_eq(stat_of(s, "conflicts"), 2);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	free(ob.buf);
	free(oc.buf);
	free(ob2.buf);
	free(oc2.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&c);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_fork)
{
	char *dir = ms_test_tmpdir("st-fork");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	ms_store *s = fix_store(dir, a, NULL);
	ms_store_rtxn *rt = NULL;
	ms_ingest_result r1, r2;
	ms_log_entry le;
	fix_fork_seen fs = {0};
	fix_op f1, f2, f3;
	ms_errbuf eb;

	fix_make_op(&f1, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0, "x",
	            "one", 3);
	fix_make_op(&f2, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0, "y",
	            "two", 3);
	fix_make_op(&f3, b, MS_OP_PUT, 2, MS_HLC_MAKE(T_NOW, 1), NULL, 0, "x",
	            "three", 5);
	ingest1(s, &f1, &r1);
	ingest1(s, &f2, &r2);
	ck_assert_uint_eq(r1.status, MS_INGEST_APPLIED);
	ck_assert_uint_eq(r1.fork, 0);
	ck_assert_uint_eq(r2.status, MS_INGEST_APPLIED);
	ck_assert_uint_eq(r2.fork, 1);
	ingest1(s, &f3, NULL);

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS_EB(ms_store_get_op(rt, f1.id, &le, &eb), &eb);
	MS_PASS_EB(ms_store_get_op(rt, f2.id, &le, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_fork(rt, fix_on_fork, &fs, &eb), &eb);
	ck_assert_int_eq(fs.n, 1);
	ck_assert_uint_eq(fs.seq, 1);
	ck_assert_uint_eq(fs.nids, 2);
	ck_assert(memcmp(fs.ids[0], f1.id, MS_HASH_LEN) == 0 ||
	          memcmp(fs.ids[1], f1.id, MS_HASH_LEN) == 0);
	ck_assert(memcmp(fs.ids[0], f2.id, MS_HASH_LEN) == 0 ||
	          memcmp(fs.ids[1], f2.id, MS_HASH_LEN) == 0);
	/* Both ops are applied: each key has its value. */
	ck_assert_mem_eq(get_key(rt, "y").heads[0].value, "two", 3);
	ms_store_read_end(&rt);
	{
		ms_store_summary sum = fix_summary(s);
		ck_assert_uint_eq(sum.forks, 1);
		ck_assert_uint_eq(sum.ops, 3);
	}
	ck_assert_uint_eq(stat_of(s, "forks"), 1);
	/* A fork is evidence, not corruption. */
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	free(f1.buf);
	free(f2.buf);
	free(f3.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_duplicates)
{
	char *dir = ms_test_tmpdir("st-dup");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	ms_store *s = fix_store(dir, a, NULL);
	ms_ingest_result res[3];
	ms_ingest_totals tot;
	ms_ingest_item items[3];
	uint8_t d1[MS_HASH_LEN], d2[MS_HASH_LEN];
	ms_store_rtxn *rt = NULL;
	fix_op op;
	ms_errbuf eb;

	fix_make_op(&op, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0, "k",
	            "v", 1);
	for (int i = 0; i < 3; i++)
		items[i] = (ms_ingest_item){op.buf, op.len};
	MS_PASS_EB(ms_store_ingest(s, items, 2, NULL, res, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.applied, 1);
	ck_assert_uint_eq(tot.duplicate, 1);
	ck_assert_uint_eq(res[0].status, MS_INGEST_APPLIED);
	ck_assert_uint_eq(res[1].status, MS_INGEST_DUPLICATE);
	ck_assert_mem_eq(res[1].id, op.id, MS_HASH_LEN);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS(ms_store_vv_digest(rt, d1, NULL));
	ms_store_read_end(&rt);
	MS_PASS_EB(ms_store_ingest(s, items, 3, NULL, res, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.applied, 0);
	ck_assert_uint_eq(tot.duplicate, 3);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS(ms_store_vv_digest(rt, d2, NULL));
	ms_store_read_end(&rt);
	ck_assert_mem_eq(d1, d2, MS_HASH_LEN);
	ck_assert_uint_eq(stat_of(s, "ops_duplicate"), 4);
	ck_assert_uint_eq(stat_of(s, "ops_applied"), 1);
	ck_assert_uint_eq(fix_summary(s).ops, 1);
	ms_store_close(&s);
	free(op.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

typedef struct q_seen {
	int n;
	ms_quarantine_entry e[4];
} q_seen;

static int on_q(const ms_quarantine_entry *q, void *ctx)
{
	q_seen *qs = ctx;
	if (qs->n < 4)
		qs->e[qs->n] = *q;
	qs->n++;
	return 0;
}

START_TEST(test_rejects_in_batch)
{
	char *dir = ms_test_tmpdir("st-reject");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *p = fix_identity(9);
	ms_store *s = fix_store(dir, a, NULL);
	ms_ingest_result res[4];
	ms_ingest_totals tot;
	ms_ingest_item items[4];
	ms_store_rtxn *rt = NULL;
	fix_op g1, g2, forged, shortop;
	q_seen qs = {0};
	char name[64];
	ms_errbuf eb;

	fix_make_op(&g1, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 0), NULL, 0, "g1",
	            "v", 1);
	fix_make_op(&g2, b, MS_OP_PUT, 2, MS_HLC_MAKE(T_NOW, 1), NULL, 0, "g2",
	            "v", 1);
	fix_make_op(&forged, b, MS_OP_PUT, 3, MS_HLC_MAKE(T_NOW, 2), NULL, 0,
	            "evil", "v", 1);
	forged.buf[forged.len - 10] ^= 0x40; /* inside the signature */
	fix_make_op(&shortop, b, MS_OP_PUT, 4, MS_HLC_MAKE(T_NOW, 3), NULL, 0,
	            "cut", "v", 1);
	items[0] = (ms_ingest_item){g1.buf, g1.len};
	items[1] = (ms_ingest_item){forged.buf, forged.len};
	items[2] = (ms_ingest_item){shortop.buf, 20}; /* ends inside a field */
	items[3] = (ms_ingest_item){g2.buf, g2.len};
	MS_PASS_EB(ms_store_ingest(s, items, 4, ms_identity_pk(p), res, &tot,
	                           &eb),
	           &eb);
	ck_assert_uint_eq(tot.applied, 2);
	ck_assert_uint_eq(tot.rejected, 2);
	ck_assert_uint_eq(res[0].status, MS_INGEST_APPLIED);
	ck_assert_uint_eq(res[1].status, MS_INGEST_REJECTED);
	ck_assert_uint_eq(res[1].reason, MS_OPR_SIGNATURE);
	ck_assert_uint_eq(res[2].status, MS_INGEST_REJECTED);
	ck_assert_uint_eq(res[2].reason, MS_OPR_TRUNCATED);
	ck_assert_uint_eq(res[3].status, MS_INGEST_APPLIED);

	snprintf(name, sizeof name, "rejected_%s",
	         ms_op_reason_name(MS_OPR_SIGNATURE));
	ck_assert_uint_eq(stat_of(s, name), 1);
	snprintf(name, sizeof name, "rejected_%s",
	         ms_op_reason_name(MS_OPR_TRUNCATED));
	ck_assert_uint_eq(stat_of(s, name), 1);

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS_EB(ms_store_foreach_quarantine(rt, on_q, &qs, &eb), &eb);
	ck_assert_int_eq(qs.n, 2);
	ck_assert_uint_eq(qs.e[0].reason, MS_OPR_SIGNATURE);
	ck_assert_uint_eq(qs.e[0].has_peer, 1);
	ck_assert_mem_eq(qs.e[0].peer, ms_identity_pk(p), MS_PK_LEN);
	ck_assert_uint_eq(qs.e[0].len, forged.len);
	ck_assert_uint_eq(qs.e[0].orig_len, forged.len);
	ck_assert_mem_eq(qs.e[0].buf, forged.buf, forged.len);
	ck_assert_uint_eq(qs.e[1].reason, MS_OPR_TRUNCATED);
	ck_assert_uint_eq(qs.e[1].orig_len, 20);
	ck_assert_mem_eq(qs.e[1].peer, ms_identity_pk(p), MS_PK_LEN);
	{
		ms_key_state ks;
		MS_FAIL(ms_store_get(rt, (const uint8_t *)"evil", 4, &ks, &eb),
		        MS_ENOTFOUND);
	}
	ms_store_read_end(&rt);
	{
		ms_store_summary sum = fix_summary(s);
		ck_assert_uint_eq(sum.ops, 2);
		ck_assert_uint_eq(sum.quarantined, 2);
	}
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	free(g1.buf);
	free(g2.buf);
	free(forged.buf);
	free(shortop.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&p);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_quarantine_bounded)
{
	char *dir = ms_test_tmpdir("st-qring");
	ms_identity *a = fix_identity(1);
	ms_store *s = fix_store(dir, a, NULL);
	enum { N = MS_STORE_QUARANTINE_MAX + 25 };
	static ms_ingest_item items[N];
	static uint8_t junk[N][6000];
	ms_store_rtxn *rt = NULL;
	q_seen qs = {0};
	ms_ingest_totals tot;
	ms_errbuf eb;

	for (size_t i = 0; i < N; i++) {
		memset(junk[i], 0xee, sizeof junk[i]);
		junk[i][0] = 9; /* unknown version */
		junk[i][1] = (uint8_t)(i >> 8);
		junk[i][2] = (uint8_t)i;
		items[i] = (ms_ingest_item){junk[i], sizeof junk[i]};
	}
	MS_PASS_EB(ms_store_ingest(s, items, N, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.rejected, N);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS_EB(ms_store_foreach_quarantine(rt, on_q, &qs, &eb), &eb);
	ck_assert_int_eq(qs.n, MS_STORE_QUARANTINE_MAX);
	/* Oldest dropped: the first kept is item 25; 4 KiB kept of 6000. */
	ck_assert_uint_eq(qs.e[0].buf[1], (uint8_t)(25 >> 8));
	ck_assert_uint_eq(qs.e[0].buf[2], (uint8_t)25);
	ck_assert_uint_eq(qs.e[0].len, 4096);
	ck_assert_uint_eq(qs.e[0].orig_len, 6000);
	ck_assert_uint_eq(qs.e[0].has_peer, 0);
	ms_store_read_end(&rt);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_limits)
{
	char *dir = ms_test_tmpdir("st-limits");
	ms_identity *a = fix_identity(1);
	ms_store_opts o;
	ms_store *s;
	static uint8_t big[MS_OP_MAX_KEY + 2];
	ms_errbuf eb;
	ms_key_state ks;
	ms_store_rtxn *rt = NULL;

	ms_store_opts_default(&o);
	o.max_value = 100;
	s = fix_store(dir, a, &o);
	memset(big, 'k', sizeof big);
	MS_FAIL(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER, big,
	                        MS_OP_MAX_KEY + 1, (const uint8_t *)"v", 1,
	                        NULL, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER, big, 0,
	                        (const uint8_t *)"v", 1, NULL, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER, big, 3, big, 101,
	                        NULL, &eb),
	        MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "100") != NULL, "%s", eb.msg);
	MS_FAIL(ms_store_append(s, a, MS_OP_DEL, MS_PRIO_USER, big, 3, big, 1,
	                        NULL, &eb),
	        MS_EINVAL);
	ck_assert_uint_eq(fix_summary(s).ops, 0);
	ck_assert_uint_eq(fix_summary(s).keys, 0);

	/* Limits themselves are fine, including keys too long to be LMDB
	 * keys as they are. */
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER, big, 3, big,
	                           100, NULL, &eb),
	           &eb);
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER, big,
	                           MS_OP_MAX_KEY, big, 1, NULL, &eb),
	           &eb);
	big[MS_OP_MAX_KEY - 1] = 'z';
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER, big,
	                           MS_OP_MAX_KEY, big, 2, NULL, &eb),
	           &eb);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS_EB(ms_store_get(rt, big, MS_OP_MAX_KEY, &ks, &eb), &eb);
	ck_assert_uint_eq(ks.key_len, MS_OP_MAX_KEY);
	ck_assert_mem_eq(ks.key, big, MS_OP_MAX_KEY);
	ck_assert_uint_eq(ks.heads[0].value_len, 2);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_summary(s).keys, 3);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[65536];
	size_t n;

	ck_assert_ptr_nonnull(in);
	out = fopen(to, "wb");
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

START_TEST(test_restore_backup)
{
	char *dir = ms_test_tmpdir("st-restore");
	char *bak = ms_test_tmpdir("st-backup");
	char from[4096], to[4096];
	ms_identity *a = fix_identity(1);
	ms_store *s = fix_store(dir, a, NULL);
	ms_append_result r;
	fix_op later[3];
	ms_ingest_item items[3];
	ms_ingest_result res[3];
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	for (int i = 0; i < 3; i++)
		append(s, a, MS_OP_PUT, "k", "old", 3, &r);
	ms_store_close(&s);
	snprintf(from, sizeof from, "%s/data.mdb", dir);
	snprintf(to, sizeof to, "%s/data.mdb", bak);
	copy_file(from, to);

	/* The node goes on writing: seqs 4..6, remembered as encodings. */
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	MS_PASS(ms_store_read_begin(s, &rt, NULL)); /* not used for writes */
	ms_store_read_end(&rt);
	for (int i = 0; i < 3; i++) {
		ms_log_entry le;
		append(s, a, MS_OP_PUT, "k", "new", 3, &r);
		ck_assert_uint_eq(r.seq, 4 + (uint64_t)i);
		MS_PASS(ms_store_read_begin(s, &rt, NULL));
		MS_PASS_EB(ms_store_get_op(rt, r.id, &le, &eb), &eb);
		later[i].buf = malloc(le.len);
		memcpy(later[i].buf, le.buf, le.len);
		later[i].len = le.len;
		memcpy(later[i].id, r.id, MS_HASH_LEN);
		ms_store_read_end(&rt);
	}
	ms_store_close(&s);

	/* Restore the backup over it. */
	copy_file(to, from);
	snprintf(from, sizeof from, "%s/lock.mdb", dir);
	unlink(from);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	append(s, a, MS_OP_PUT, "other", "between", 7, &r);
	ck_assert_uint_eq(r.seq, 4); /* it cannot know yet */
	for (int i = 0; i < 3; i++)
		items[i] = (ms_ingest_item){later[i].buf, later[i].len};
	MS_PASS_EB(ms_store_ingest(s, items, 3, NULL, res, NULL, &eb), &eb);
	ck_assert_uint_eq(res[0].status, MS_INGEST_APPLIED);
	ck_assert_uint_eq(res[0].fork, 1); /* its in-between write is a fork */
	ck_assert_uint_eq(res[1].fork, 0);
	append(s, a, MS_OP_PUT, "k", "after", 5, &r);
	ck_assert_uint_eq(r.seq, 7);
	{
		ms_store_summary sum = fix_summary(s);
		ck_assert_uint_eq(sum.forks, 1);
		ck_assert_uint_eq(sum.ops, 8);
		ck_assert_uint_eq(sum.local_seq, 7);
	}
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	for (int i = 0; i < 3; i++)
		free(later[i].buf);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	ms_test_rmdir(bak);
	free(dir);
	free(bak);
}
END_TEST

START_TEST(test_hlc_future_op)
{
	char *dir = ms_test_tmpdir("st-future");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	uint64_t now = T_NOW;
	ms_store_opts o;
	ms_store *s;
	ms_ingest_result r;
	ms_append_result ar;
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	fix_op fut;
	uint64_t before;

	ms_store_opts_default(&o);
	o.wall_ms = fix_wall;
	o.wall_ctx = &now;
	s = fix_store(dir, a, &o);
	append(s, a, MS_OP_PUT, "mine", "1", 1, &ar);
	ck_assert_uint_eq(ar.hlc, MS_HLC_MAKE(T_NOW, 0));
	before = fix_summary(s).hlc;
	fix_make_op(&fut, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW + 10 * YEAR_MS, 0),
	            NULL, 0, "theirs", "x", 1);
	ingest1(s, &fut, &r);
	ck_assert_uint_eq(r.status, MS_INGEST_APPLIED);
	ck_assert_uint_eq(r.skewed, 1);
	ck_assert_uint_eq(stat_of(s, "clock_skew"), 1);
	ck_assert_uint_eq(fix_summary(s).hlc, before); /* clock stays */
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "theirs");
	ck_assert_mem_eq(ks.heads[0].id, fut.id, MS_HASH_LEN);
	ms_store_read_end(&rt);
	now += 5;
	append(s, a, MS_OP_PUT, "mine", "2", 1, &ar);
	ck_assert_uint_eq(ar.hlc, MS_HLC_MAKE(T_NOW + 5, 0));
	ms_store_close(&s);
	free(fut.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_hlc_slow_clock_wins)
{
	char *dir = ms_test_tmpdir("st-slow");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	uint64_t now = T_NOW - 5 * YEAR_MS;
	ms_store_opts o;
	ms_store *s;
	ms_append_result ar;
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	ms_log_entry le;
	fix_op seen;
	ms_errbuf eb;

	ms_store_opts_default(&o);
	o.wall_ms = fix_wall;
	o.wall_ctx = &now;
	s = fix_store(dir, a, &o);
	fix_make_op(&seen, b, MS_OP_PUT, 1, MS_HLC_MAKE(T_NOW, 4), NULL, 0, "k",
	            "theirs", 6);
	ingest1(s, &seen, NULL);
	append(s, a, MS_OP_PUT, "k", "mine", 4, &ar);
	ck_assert_uint_gt(ar.hlc, MS_HLC_MAKE(T_NOW, 4));
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ks = get_key(rt, "k");
	ck_assert_uint_eq(ks.nheads, 1);
	ck_assert_mem_eq(ks.heads[0].id, ar.id, MS_HASH_LEN);
	ck_assert_mem_eq(ks.heads[0].value, "mine", 4);
	MS_PASS_EB(ms_store_get_op(rt, ar.id, &le, &eb), &eb);
	ck_assert_uint_eq(le.op.nparents, 1);
	ck_assert_mem_eq(le.op.parents, seen.id, MS_HASH_LEN);
	ms_store_read_end(&rt);
	/* Only the op got the raise: the clock is the node's own tick. */
	ck_assert_uint_eq(MS_HLC_MS(fix_summary(s).hlc), T_NOW - 5 * YEAR_MS);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	free(seen.buf);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

static void count_fault(const char *what, void *ctx)
{
	(void)what;
	(*(int *)ctx)++;
}

START_TEST(test_verify_detects_corruption)
{
	char *dir = ms_test_tmpdir("st-corrupt");
	ms_identity *a = fix_identity(1);
	ms_store *s = fix_store(dir, a, NULL);
	fix_raw raw;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t copy[4096];
	uint64_t faults = 0;
	int calls = 0;
	ms_errbuf eb;

	append(s, a, MS_OP_PUT, "a", "alpha", 5, NULL);
	append(s, a, MS_OP_PUT, "b", "bravo", 5, NULL);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);

	/* Flip one byte of the first stored op behind the store's back. */
	fix_raw_begin(&raw, dir, "ops");
	ck_assert_int_eq(mdb_cursor_open(raw.txn, raw.dbi, &c), 0);
	ck_assert_int_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	ck_assert_uint_le(v.mv_size, sizeof copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size - 66] ^= 0x01; /* a byte of the value */
	v.mv_data = copy;
	ck_assert_int_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
	mdb_cursor_close(c);
	fix_raw_commit(&raw);

	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	MS_FAIL(ms_store_verify(s, count_fault, &calls, &faults, &eb),
	        MS_ECORRUPT);
	ck_assert_uint_gt(faults, 0);
	ck_assert_int_eq(calls, (int)faults);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_create_open);
	tcase_add_test(tc, test_append_get_del);
	tcase_add_test(tc, test_mv_siblings);
	tcase_add_test(tc, test_counter);
	tcase_add_test(tc, test_lww);
	tcase_add_test(tc, test_fork);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_rejects_in_batch);
	tcase_add_test(tc, test_quarantine_bounded);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_restore_backup);
	tcase_add_test(tc, test_hlc_future_op);
	tcase_add_test(tc, test_hlc_slow_clock_wins);
	tcase_add_test(tc, test_verify_detects_corruption);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(store_suite());
}
