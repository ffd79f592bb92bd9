/*
 * test_batch.c — ms_store_append_batch: a batch stores exactly what the
 * same writes made one ms_store_append at a time store (ids, seqs, hlcs,
 * parents, heads, state hash, vv digest), on one thread and on two; a key
 * written twice names its earlier op; a bad item or a full map leaves
 * nothing of the batch behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_test.h"
#include "store_fix.h"

#define T_NOW UINT64_C(1767225600000)
#define NITEMS 300

static const ms_policy_rule rules[] = {{"c/", MS_POLICY_COUNTER}};

typedef struct items {
	ms_append_item it[NITEMS];
	char key[NITEMS][24];
	uint8_t val[NITEMS][40];
	size_t n;
} items;

/* A mixed batch: fresh keys, keys written again inside the batch (a chain
 * of three on "dup/0"), a key with two heads before the batch ("pre"),
 * deletes, counter deltas. */
static void make_items(items *x, size_t n)
{
	memset(x, 0, sizeof *x);
	for (size_t i = 0; i < n; i++) {
		ms_append_item *it = &x->it[i];
		int kl;

		if (i % 10 == 3)
			kl = snprintf(x->key[i], sizeof x->key[i], "dup/%zu",
			              i % 4);
		else if (i % 17 == 5)
			kl = snprintf(x->key[i], sizeof x->key[i], "pre");
		else if (i % 13 == 7)
			kl = snprintf(x->key[i], sizeof x->key[i], "c/n");
		else
			kl = snprintf(x->key[i], sizeof x->key[i], "k/%04zu",
			              i);
		it->key = (const uint8_t *)x->key[i];
		it->klen = (size_t)kl;
		it->prio = i % 7 == 0 ? MS_PRIO_BACKGROUND : MS_PRIO_USER;
		if (i % 11 == 9 && strncmp(x->key[i], "c/", 2) != 0) {
			it->type = MS_OP_DEL;
			continue;
		}
		it->type = MS_OP_PUT;
		if (strncmp(x->key[i], "c/", 2) == 0) {
			fix_le64(x->val[i], (int64_t)i - 100);
			it->vlen = 8;
		} else {
			memset(x->val[i], 'a' + (int)(i % 26),
			       sizeof x->val[i]);
			it->vlen = 1 + i % sizeof x->val[i];
		}
		it->value = x->val[i];
	}
	x->n = n;
}

/* A store for identity a with the injected clock, the counter rule, and
 * "pre" holding two heads (one local, one of author b, concurrent). */
static ms_store *prepared(const char *dir, const ms_identity *a,
                          const ms_identity *b, uint64_t *clock,
                          unsigned threads)
{
	ms_store_opts o;
	ms_store *s;
	fix_op f;
	ms_ingest_item ii;
	ms_errbuf eb;

	ms_store_opts_default(&o);
	o.wall_ms = fix_wall;
	o.wall_ctx = clock;
	o.policies = rules;
	o.npolicies = 1;
	o.verify_threads = threads;
	s = fix_store(dir, a, &o);
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
	                           (const uint8_t *)"pre", 3,
	                           (const uint8_t *)"x", 1, NULL, &eb),
	           &eb);
	fix_make_op(&f, b, MS_OP_PUT, 1, T_NOW + 5, NULL, 0, "pre", "y", 1);
	ii.buf = f.buf;
	ii.len = f.len;
	MS_PASS_EB(ms_store_ingest(s, &ii, 1, NULL, NULL, NULL, &eb), &eb);
	free(f.buf);
	return s;
}

static void check_same(unsigned threads)
{
	char *d1 = ms_test_tmpdir("batch-one"), *d2 = ms_test_tmpdir("batch-n");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	static items x;
	static ms_append_result r1[NITEMS], r2[NITEMS];
	uint64_t c1 = T_NOW, c2 = T_NOW;
	ms_store *s1, *s2;
	ms_store_summary m1, m2;
	ms_errbuf eb;

	make_items(&x, NITEMS);
	s1 = prepared(d1, a, b, &c1, threads);
	s2 = prepared(d2, a, b, &c2, threads);
	for (size_t i = 0; i < x.n; i++)
		MS_PASS_EB(ms_store_append(s1, a, (ms_op_type)x.it[i].type,
		                           (ms_prio)x.it[i].prio, x.it[i].key,
		                           x.it[i].klen, x.it[i].value,
		                           x.it[i].vlen, &r1[i], &eb),
		           &eb);
	MS_PASS_EB(ms_store_append_batch(s2, a, x.it, x.n, r2, &eb), &eb);
	for (size_t i = 0; i < x.n; i++) {
		ck_assert_msg(memcmp(r1[i].id, r2[i].id, MS_HASH_LEN) == 0,
		              "item %zu: another op than one append makes", i);
		ck_assert_uint_eq(r1[i].seq, r2[i].seq);
		ck_assert_uint_eq(r1[i].hlc, r2[i].hlc);
		ck_assert_uint_eq(r2[i].seq, i + 2); /* "pre" took seq 1 */
	}
	m1 = fix_summary(s1);
	m2 = fix_summary(s2);
	ck_assert_uint_eq(m2.ops, x.n + 2);
	ck_assert_uint_eq(m1.ops, m2.ops);
	ck_assert_uint_eq(m1.local_seq, m2.local_seq);
	ck_assert_uint_eq(m1.hlc, m2.hlc);
	ck_assert_mem_eq(m1.state_hash, m2.state_hash, MS_HASH_LEN);
	ck_assert_mem_eq(m1.vv_digest, m2.vv_digest, MS_HASH_LEN);
	ck_assert_uint_eq(fix_verify(s2), 0);
	ms_store_close(&s1);
	ms_store_close(&s2);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(d1);
	ms_test_rmdir(d2);
	free(d1);
	free(d2);
}

START_TEST(test_same_as_appends)
{
	check_same(0);
}
END_TEST

START_TEST(test_same_as_appends_one_thread)
{
	check_same(1);
}
END_TEST

/* A key written three times in one batch: each op names the one before
 * it, the first names the heads the key had, and one head is left. */
START_TEST(test_repeated_key_chains)
{
	char *dir = ms_test_tmpdir("batch-chain");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	uint64_t clock = T_NOW;
	ms_append_item it[3];
	ms_append_result r[3];
	ms_store *s = prepared(dir, a, b, &clock, 0);
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	ms_log_entry e;
	ms_errbuf eb;

	for (int i = 0; i < 3; i++) {
		it[i].type = MS_OP_PUT;
		it[i].prio = MS_PRIO_USER;
		it[i].key = (const uint8_t *)"pre";
		it[i].klen = 3;
		it[i].value = (const uint8_t *)"v";
		it[i].vlen = 1;
	}
	MS_PASS_EB(ms_store_append_batch(s, a, it, 3, r, &eb), &eb);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_get_op(rt, r[0].id, &e, &eb), &eb);
	ck_assert_uint_eq(e.op.nparents, 2); /* both heads "pre" had */
	for (int i = 1; i < 3; i++) {
		MS_PASS_EB(ms_store_get_op(rt, r[i].id, &e, &eb), &eb);
		ck_assert_uint_eq(e.op.nparents, 1);
		ck_assert_mem_eq(e.op.parents, r[i - 1].id, MS_HASH_LEN);
		ck_assert_uint_gt(r[i].hlc, r[i - 1].hlc);
		ck_assert_uint_eq(r[i].seq, r[i - 1].seq + 1);
	}
	MS_PASS_EB(ms_store_get(rt, (const uint8_t *)"pre", 3, &ks, &eb), &eb);
	ck_assert_uint_eq(ks.heads_total, 1);
	ck_assert_mem_eq(ks.heads[0].id, r[2].id, MS_HASH_LEN);
	ck_assert_uint_eq(ks.nops, 5);
	ms_store_read_end(&rt);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* A bad item anywhere refuses the whole batch, naming it; nothing of the
 * batch is stored and the next batch starts where the store was. */
START_TEST(test_bad_item_stores_nothing)
{
	char *dir = ms_test_tmpdir("batch-bad");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	uint64_t clock = T_NOW;
	static items x;
	ms_store *s = prepared(dir, a, b, &clock, 0);
	ms_store_summary before, after;
	ms_append_result r[NITEMS];
	ms_errbuf eb;

	make_items(&x, 200);
	before = fix_summary(s);
	x.it[137].klen = 0;
	MS_FAIL(ms_store_append_batch(s, a, x.it, x.n, r, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "item 137") != NULL, "%s", eb.msg);
	x.it[137].klen = 3;
	x.it[150].type = MS_OP_DEL; /* a delete with a value */
	x.it[150].vlen = 4;
	x.it[150].value = (const uint8_t *)"oops";
	MS_FAIL(ms_store_append_batch(s, a, x.it, x.n, r, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "item 150") != NULL, "%s", eb.msg);
	MS_FAIL(ms_store_append_batch(s, a, x.it, 0, r, &eb), MS_EINVAL);
	MS_FAIL(ms_store_append_batch(s, b, x.it, 1, r, &eb), MS_EINVAL);
	after = fix_summary(s);
	ck_assert_uint_eq(after.ops, before.ops);
	ck_assert_uint_eq(after.local_seq, before.local_seq);
	ck_assert_mem_eq(after.state_hash, before.state_hash, MS_HASH_LEN);
	ck_assert_mem_eq(after.vv_digest, before.vv_digest, MS_HASH_LEN);

	MS_PASS_EB(ms_store_append_batch(s, a, x.it, 10, r, &eb), &eb);
	ck_assert_uint_eq(r[0].seq, before.local_seq + 1);
	ck_assert_uint_eq(fix_summary(s).ops, before.ops + 10);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* A batch larger than the map may grow to: MS_EFULL, nothing of it
 * stored, and a batch that fits still commits afterwards. */
START_TEST(test_full_stores_nothing)
{
	enum { BIG = 120, VLEN = 24 * 1024 };
	char *dir = ms_test_tmpdir("batch-full");
	ms_identity *a = fix_identity(1);
	static uint8_t val[VLEN];
	static char keys[BIG][16];
	ms_append_item it[BIG];
	ms_store_opts o;
	ms_store *s;
	ms_store_summary before, after;
	ms_errbuf eb;

	ms_store_opts_default(&o);
	o.map_initial = 1u << 20;
	o.map_max = 2u << 20;
	s = fix_store(dir, a, &o);
	memset(val, 'z', sizeof val);
	for (int i = 0; i < BIG; i++) {
		snprintf(keys[i], sizeof keys[i], "big/%03d", i);
		it[i].type = MS_OP_PUT;
		it[i].prio = MS_PRIO_USER;
		it[i].key = (const uint8_t *)keys[i];
		it[i].klen = strlen(keys[i]);
		it[i].value = val;
		it[i].vlen = sizeof val; /* 120 x 24 KiB: over 2 MiB */
	}
	before = fix_summary(s);
	MS_FAIL(ms_store_append_batch(s, a, it, BIG, NULL, &eb), MS_EFULL);
	ck_assert_msg(strstr(eb.msg, "store full") != NULL, "%s", eb.msg);
	after = fix_summary(s);
	ck_assert_uint_eq(after.ops, before.ops);
	ck_assert_uint_eq(after.local_seq, 0);
	MS_PASS_EB(ms_store_append_batch(s, a, it, 10, NULL, &eb), &eb);
	after = fix_summary(s);
	ck_assert_uint_eq(after.ops, 10);
	ck_assert_uint_eq(after.local_seq, 10);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* Large values: the batch is signed in segments of bounded size (32 MiB
 * of encodings each), with the same outcome as one append at a time. */
START_TEST(test_large_values_in_segments)
{
	enum { NBIG = 40 };
	char *d1 = ms_test_tmpdir("batch-big1"),
	     *d2 = ms_test_tmpdir("batch-big");
	ms_identity *a = fix_identity(1);
	static uint8_t val[MS_OP_DEFAULT_MAX_VALUE];
	static char keys[NBIG][16];
	static ms_append_item it[NBIG];
	static ms_append_result r1[NBIG], r2[NBIG];
	uint64_t c1 = T_NOW, c2 = T_NOW;
	ms_store_opts o;
	ms_store *s1, *s2;
	ms_errbuf eb;

	ms_store_opts_default(&o);
	o.wall_ms = fix_wall;
	for (int i = 0; i < NBIG; i++) {
		snprintf(keys[i], sizeof keys[i], "big/%02d", i % 35);
		it[i].type = MS_OP_PUT;
		it[i].prio = MS_PRIO_USER;
		it[i].key = (const uint8_t *)keys[i];
		it[i].klen = strlen(keys[i]);
		it[i].value = val;
		it[i].vlen = sizeof val - (size_t)i;
	}
	memset(val, 'b', sizeof val);
	o.wall_ctx = &c1;
	s1 = fix_store(d1, a, &o);
	o.wall_ctx = &c2;
	s2 = fix_store(d2, a, &o);
	for (int i = 0; i < NBIG; i++)
		MS_PASS_EB(ms_store_append(s1, a, MS_OP_PUT, MS_PRIO_USER,
		                           it[i].key, it[i].klen, it[i].value,
		                           it[i].vlen, &r1[i], &eb),
		           &eb);
	MS_PASS_EB(ms_store_append_batch(s2, a, it, NBIG, r2, &eb), &eb);
	for (int i = 0; i < NBIG; i++)
		ck_assert_mem_eq(r1[i].id, r2[i].id, MS_HASH_LEN);
	ck_assert_mem_eq(fix_summary(s1).state_hash, fix_summary(s2).state_hash,
	                 MS_HASH_LEN);
	ck_assert_uint_eq(fix_verify(s2), 0);
	ms_store_close(&s1);
	ms_store_close(&s2);
	ms_identity_free(&a);
	ms_test_rmdir(d1);
	ms_test_rmdir(d2);
	free(d1);
	free(d2);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("batch");
	TCase *tc = tcase_create("batch");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_same_as_appends);
	tcase_add_test(tc, test_same_as_appends_one_thread);
	tcase_add_test(tc, test_repeated_key_chains);
	tcase_add_test(tc, test_bad_item_stores_nothing);
	tcase_add_test(tc, test_full_stores_nothing);
	tcase_add_test(tc, test_large_values_in_segments);
	suite_add_tcase(suite, tc);
	return ms_test_run(suite);
}
