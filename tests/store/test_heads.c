/*
 * test_heads.c — the heads of a key and the forks view, against real store
 * files: a write costs the same number of heads-index steps whether the
 * key has one head or thousands (counted by the store's trace hook, and
 * the keys record stays one fixed size); a read holds heads_per_key heads,
 * winner first, and counts limit_heads_per_key; the state hash follows its
 * definition (key order, head ids ascending) whatever order the ops came
 * in; a schema-2 store (heads inline in the keys record) is migrated on
 * open, idempotently; one forked slot is read without visiting the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "ms_test.h"
#include "store_fix.h"
#include "store_int.h" /* white-box: trace hooks, raw record sizes */

#define T0 UINT64_C(1600000000000) /* hlc ms, well before the wall clock */
#define NHEADS 5000
#define BATCH 500

static void ingest(ms_store *s, const fix_op *ops, size_t n)
{
	ms_ingest_item *it = calloc(n ? n : 1, sizeof *it);
	ms_ingest_totals tot;
	ms_errbuf eb;

	ck_assert_ptr_nonnull(it);
	for (size_t i = 0; i < n; i++) {
		it[i].buf = ops[i].buf;
		it[i].len = ops[i].len;
	}
	MS_PASS_EB(ms_store_ingest(s, it, n, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.rejected, 0);
	free(it);
}

static void state_hash(ms_store *s, uint8_t out[MS_HASH_LEN])
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_state_hash(rt, out, &eb), &eb);
	ms_store_read_end(&rt);
}

/* Size of the keys record of key (white-box). */
static size_t rec_size(ms_store *s, const char *key)
{
	ms_store_rtxn *rt = NULL;
	uint8_t kdb[ST_KEYDB_MAX];
	MDB_val k, v;
	size_t n;

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	k.mv_size = st_keydb_key(kdb, (const uint8_t *)key, strlen(key));
	k.mv_data = kdb;
	ck_assert_int_eq(mdb_get(rt->txn, s->dbi[ST_DB_KEYS], &k, &v), 0);
	n = v.mv_size;
	ms_store_read_end(&rt);
	return n;
}

static void free_ops(fix_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ops[i].buf);
	free(ops);
}

/* hlc order of op i among NHEADS: a permutation, so the winner is not
 * simply the last one to arrive. */
static uint64_t perm(size_t i)
{
	return (uint64_t)((i * 7919u) % NHEADS);
}

START_TEST(test_write_cost_flat)
{
	char *dir = ms_test_tmpdir("hd-flat");
	ms_identity *a = fix_identity(1), *m = fix_identity(2);
	ms_store *s = fix_store(dir, a, NULL);
	fix_op *ops = calloc(NHEADS, sizeof *ops);
	ms_store_rtxn *rt = NULL;
	ms_append_result ar;
	ms_key_state ks;
	ms_errbuf eb;
	size_t win = 0, rec0;
	uint64_t t, first;

	ck_assert_ptr_nonnull(ops);
	/* A member's thousands of concurrent parentless writes to one key. */
	for (size_t i = 0; i < NHEADS; i++) {
		uint8_t v[8];
		fix_le64(v, (int64_t)i);
		fix_make_op(&ops[i], m, MS_OP_PUT, i + 1,
		            MS_HLC_MAKE(T0 + perm(i), 0), NULL, 0, "k", v, 8);
		if (perm(i) == NHEADS - 1)
			win = i;
	}
	t = s->trace_heads;
	ingest(s, &ops[0], 1);
	first = s->trace_heads - t;
	ck_assert_uint_eq(first, 2); /* one put in each index */
	rec0 = rec_size(s, "k");
	ck_assert_uint_eq(rec0, ST_REC_HDR);
	for (size_t i = 1; i + 1 < NHEADS; i += BATCH) {
		size_t n = NHEADS - 1 - i < BATCH ? NHEADS - 1 - i : BATCH;
		t = s->trace_heads;
		ingest(s, &ops[i], n);
		ck_assert_uint_eq(s->trace_heads - t, 2 * n);
	}
	/* The last write, with NHEADS - 1 heads already there, costs what
	 * the first did; the record did not grow. */
	t = s->trace_heads;
	ingest(s, &ops[NHEADS - 1], 1);
	ck_assert_uint_eq(s->trace_heads - t, first);
	ck_assert_uint_eq(rec_size(s, "k"), rec0);

	/* A read holds heads_per_key heads, the winner over all first. */
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_get(rt, (const uint8_t *)"k", 1, &ks, &eb), &eb);
	ck_assert_uint_eq(ks.nheads, MS_STORE_HEADS_PER_KEY_DEFAULT);
	ck_assert_uint_eq(ks.heads_total, NHEADS);
	ck_assert_uint_eq(ks.put_heads, NHEADS);
	ck_assert_mem_eq(ks.heads[0].id, ops[win].id, MS_HASH_LEN);
	for (size_t i = 0; i < ks.nheads; i++)
		ck_assert_uint_eq(ks.heads[i].hlc,
		                  MS_HLC_MAKE(T0 + NHEADS - 1 - i, 0));
	ck_assert(ms_key_state_live(&ks));
	ck_assert(ms_key_state_conflict(&ks));
	ms_store_read_end(&rt);
	/* Counted at the next write: a read txn cannot write. */
	ck_assert_int_eq(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
	                                 (const uint8_t *)"other", 5,
	                                 (const uint8_t *)"x", 1, NULL, &eb),
	                 MS_OK);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	ck_assert_uint_eq(ms_store_stat(rt, "limit_heads_per_key"), 1);
	ms_store_read_end(&rt);

	/* A local write names the first MS_OP_MAX_PARENTS heads by id: a
	 * bounded number of steps, whatever the key holds. */
	t = s->trace_heads;
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
	                           (const uint8_t *)"k", 1,
	                           (const uint8_t *)"mine", 4, &ar, &eb),
	           &eb);
	ck_assert_uint_le(s->trace_heads - t, 3 * MS_OP_MAX_PARENTS + 2);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS(ms_store_get(rt, (const uint8_t *)"k", 1, &ks, NULL));
	ck_assert_uint_eq(ks.heads_total, NHEADS - MS_OP_MAX_PARENTS + 1);
	ck_assert_mem_eq(ks.heads[0].id, ar.id, MS_HASH_LEN);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(rec_size(s, "k"), rec0);
	ck_assert_uint_eq(fix_verify(s), 0);

	ms_store_close(&s);
	free_ops(ops, NHEADS);
	ms_identity_free(&a);
	ms_identity_free(&m);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* heads_per_key from the options; mv liveness counts every head, not only
 * the ones a read holds. */
START_TEST(test_budget_option_mv_live)
{
	char *dir = ms_test_tmpdir("hd-budget");
	ms_identity *a = fix_identity(1), *m = fix_identity(2);
	ms_policy_rule rule = {.prefix = "", .policy = MS_POLICY_MV};
	ms_store_opts o;
	ms_store *s;
	fix_op ops[10];
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;

	ms_store_opts_default(&o);
	o.heads_per_key = 3;
	o.policies = &rule;
	o.npolicies = 1;
	s = fix_store(dir, a, &o);
	/* The three newest heads are deletes, the older ones values. */
	for (size_t i = 0; i < 10; i++)
		fix_make_op(&ops[i], m, i >= 7 ? MS_OP_DEL : MS_OP_PUT, i + 1,
		            MS_HLC_MAKE(T0 + i, 0), NULL, 0, "k",
		            i >= 7 ? NULL : "v", i >= 7 ? 0 : 1);
	ingest(s, ops, 10);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS(ms_store_get(rt, (const uint8_t *)"k", 1, &ks, NULL));
	ck_assert_uint_eq(ks.nheads, 3);
	ck_assert_uint_eq(ks.heads_total, 10);
	ck_assert_uint_eq(ks.put_heads, 7);
	ck_assert_mem_eq(ks.heads[0].id, ops[9].id, MS_HASH_LEN);
	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(ks.heads[i].type, MS_OP_DEL);
	ck_assert(ms_key_state_live(&ks));
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	for (size_t i = 0; i < 10; i++)
		free(ops[i].buf);
	ms_identity_free(&a);
	ms_identity_free(&m);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* --- state hash over random op sets --------------------------------------- */

#define NOPS 300
#define NKEYS 4

static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static char long_key[601];
static const char *key_of(size_t k)
{
	static const char *const names[NKEYS - 1] = {"x", "y", "z"};
	return k == 0 ? long_key : names[k - 1];
}

typedef struct gen {
	fix_op ops[NOPS];
	size_t key[NOPS];
	uint8_t parents[NOPS][3][MS_HASH_LEN];
	size_t np[NOPS];
} gen;

/* Ops on NKEYS keys by three authors; each names up to three earlier ops
 * of its key, sometimes an op of another key or one nobody holds; a few
 * reuse a slot (forks). */
static void gen_ops(gen *g, ms_identity *au[3])
{
	uint64_t seq[3] = {0, 0, 0};

	memset(long_key, 'L', sizeof long_key - 1);
	for (size_t i = 0; i < NOPS; i++) {
		size_t w = rnd() % 3, k = rnd() % NKEYS, np = 0;
		size_t want = i == 0 ? 0 : rnd() % 4;
		ms_op_type type = rnd() % 5 ? MS_OP_PUT : MS_OP_DEL;
		uint64_t sq;
		char val[32];

		for (size_t p = 0; p < want; p++) {
			size_t j = rnd() % i;
			if (rnd() % 8 == 0) { /* an op nobody holds */
				memset(g->parents[i][np], (int)(rnd() & 0xff),
				       MS_HASH_LEN);
			} else {
				if (g->key[j] != k && rnd() % 4 != 0)
					continue;
				memcpy(g->parents[i][np], g->ops[j].id,
				       MS_HASH_LEN);
			}
			for (size_t q = 0; q < np; q++)
				if (memcmp(g->parents[i][q], g->parents[i][np],
				           MS_HASH_LEN) == 0)
					goto dup;
			np++;
		dup:;
		}
		sq = seq[w] > 0 && rnd() % 20 == 0 ? seq[w] : ++seq[w];
		snprintf(val, sizeof val, "v%zu", i);
		g->key[i] = k;
		g->np[i] = np;
		fix_make_op(&g->ops[i], au[w], type, sq,
		            MS_HLC_MAKE(T0 + rnd() % 50, 0),
		            (const uint8_t(*)[MS_HASH_LEN])g->parents[i], np,
		            key_of(k), type == MS_OP_PUT ? val : NULL,
		            type == MS_OP_PUT ? strlen(val) : 0);
	}
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MS_HASH_LEN);
}

/* The state hash by its definition (docs/format.md), from the op set. */
static void expected_hash(const gen *g, uint8_t out[MS_HASH_LEN])
{
	/* keys db order: memcmp of the db keys; the long key's db key
	 * starts with 'L', before "x" < "y" < "z". */
	static uint8_t heads[NOPS][MS_HASH_LEN];
	ms_hash_state hs;

	ms_hash_init(&hs);
	for (size_t k = 0; k < NKEYS; k++) {
		const char *key = key_of(k);
		size_t nh = 0, nops = 0;
		uint8_t hdr[4];

		for (size_t i = 0; i < NOPS; i++) {
			int named = 0;
			if (g->key[i] != k)
				continue;
			nops++;
			for (size_t j = 0; j < NOPS && !named; j++)
				for (size_t p = 0;
				     g->key[j] == k && p < g->np[j]; p++)
					if (memcmp(g->parents[j][p],
					           g->ops[i].id,
					           MS_HASH_LEN) == 0)
						named = 1;
			if (!named)
				memcpy(heads[nh++], g->ops[i].id, MS_HASH_LEN);
		}
		if (nops == 0)
			continue;
		qsort(heads, nh, MS_HASH_LEN, id_cmp);
		ms_put_le16(hdr, (uint16_t)strlen(key));
		ms_hash_update(&hs, hdr, 2);
		ms_hash_update(&hs, key, strlen(key));
		ms_put_le32(hdr, (uint32_t)nh);
		ms_hash_update(&hs, hdr, 4);
		ms_hash_update(&hs, heads, nh * MS_HASH_LEN);
	}
	ms_hash_final(&hs, out);
}

START_TEST(test_state_hash_any_order)
{
	char *da = ms_test_tmpdir("hd-ha"), *db = ms_test_tmpdir("hd-hb");
	ms_identity *au[3] = {fix_identity(2), fix_identity(3),
	                      fix_identity(4)};
	ms_identity *a = fix_identity(1), *b = fix_identity(5);
	ms_store *sa = fix_store(da, a, NULL), *sb = fix_store(db, b, NULL);
	gen *g = calloc(1, sizeof *g);
	fix_op *shuf = calloc(NOPS, sizeof *shuf);
	uint8_t ha[MS_HASH_LEN], hb[MS_HASH_LEN], want[MS_HASH_LEN];

	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(shuf);
	rnd_state = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	gen_ops(g, au);
	/* a: in creation order, batches of 7; b: shuffled, batches of 13. */
	for (size_t i = 0; i < NOPS; i += 7)
		ingest(sa, &g->ops[i], NOPS - i < 7 ? NOPS - i : 7);
	memcpy(shuf, g->ops, NOPS * sizeof *shuf);
	for (size_t i = NOPS - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		fix_op t = shuf[i];
		shuf[i] = shuf[j];
		shuf[j] = t;
	}
	for (size_t i = 0; i < NOPS; i += 13)
		ingest(sb, &shuf[i], NOPS - i < 13 ? NOPS - i : 13);
	state_hash(sa, ha);
	state_hash(sb, hb);
	expected_hash(g, want);
	ck_assert_mem_eq(ha, hb, MS_HASH_LEN);
	ck_assert_mem_eq(ha, want, MS_HASH_LEN);
	ck_assert_uint_eq(fix_verify(sa), 0);
	ck_assert_uint_eq(fix_verify(sb), 0);

	ms_store_close(&sa);
	ms_store_close(&sb);
	for (size_t i = 0; i < NOPS; i++)
		free(g->ops[i].buf);
	free(g);
	free(shuf);
	for (size_t i = 0; i < 3; i++)
		ms_identity_free(&au[i]);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(da);
	ms_test_rmdir(db);
	free(da);
	free(db);
}
END_TEST

/* --- migration from the schema-2 layout ----------------------------------- */

/* Rewrite every keys record in the schema-2 layout (heads inline) and
 * drop the two heads dbs, behind the store's back: a store as the build
 * before this layout left it. */
static void plant_v2(const char *dir)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi keys, heads, rank;
	MDB_cursor *c = NULL, *hc = NULL;
	MDB_val k, v;
	static uint8_t rec[ST_REC_HDR_V2 + NOPS * MS_HASH_LEN + 1024];
	uint8_t kdb[NKEYS][ST_KEYDB_MAX];
	size_t klen[NKEYS], nk = 0;
	int rc;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "keys", 0, &keys), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "heads", MDB_DUPSORT | MDB_DUPFIXED,
	                              &heads),
	                 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "heads_rank",
	                              MDB_DUPSORT | MDB_DUPFIXED, &rank),
	                 0);
	/* The db keys first: rewriting records under a cursor that then
	 * steps on is not what this test is about. */
	ck_assert_int_eq(mdb_cursor_open(txn, keys, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		ck_assert_uint_lt(nk, NKEYS);
		ck_assert_uint_le(k.mv_size, ST_KEYDB_MAX);
		memcpy(kdb[nk], k.mv_data, k.mv_size);
		klen[nk++] = k.mv_size;
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	ck_assert_int_eq(mdb_cursor_open(txn, heads, &hc), 0);
	for (size_t i = 0; i < nk; i++) {
		MDB_val hk = {klen[i], kdb[i]}, hv;
		const uint8_t *p;
		uint32_t n;
		size_t tail, len;

		k = hk;
		ck_assert_int_eq(mdb_get(txn, keys, &k, &v), 0);
		p = v.mv_data;
		n = ms_get_le32(p + 24);
		tail = v.mv_size - ST_REC_HDR;
		ck_assert_uint_le(ST_REC_HDR_V2 + n * MS_HASH_LEN + tail,
		                  sizeof rec);
		memcpy(rec, p, ST_REC_HDR_V2);
		memcpy(rec + sizeof rec - tail, p + ST_REC_HDR, tail);
		len = ST_REC_HDR_V2;
		for (int h = mdb_cursor_get(hc, &hk, &hv, MDB_SET); h == 0;
		     h = mdb_cursor_get(hc, &hk, &hv, MDB_NEXT_DUP)) {
			memcpy(rec + len, hv.mv_data, MS_HASH_LEN);
			len += MS_HASH_LEN;
		}
		ck_assert_uint_eq(len, ST_REC_HDR_V2 + n * MS_HASH_LEN);
		memmove(rec + len, rec + sizeof rec - tail, tail);
		v.mv_size = len + tail;
		v.mv_data = rec;
		ck_assert_int_eq(mdb_put(txn, keys, &k, &v, 0), 0);
	}
	mdb_cursor_close(hc);
	ck_assert_int_eq(mdb_drop(txn, heads, 1), 0);
	ck_assert_int_eq(mdb_drop(txn, rank, 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static ms_err migrate_txn(ms_store *s, st_wctx *w, void *ctx, ms_errbuf *eb)
{
	(void)ctx;
	return st_migrate_heads(s, w->txn, eb);
}

START_TEST(test_migrate_v2)
{
	char *dir = ms_test_tmpdir("hd-migrate");
	ms_identity *au[3] = {fix_identity(2), fix_identity(3),
	                      fix_identity(4)};
	ms_identity *a = fix_identity(1);
	ms_store *s = fix_store(dir, a, NULL);
	gen *g = calloc(1, sizeof *g);
	ms_store_opts ro;
	uint8_t before[MS_HASH_LEN], after[MS_HASH_LEN];
	uint64_t t;
	ms_errbuf eb;

	ck_assert_ptr_nonnull(g);
	rnd_state = 0x243f6a8885a308d3ull;
	gen_ops(g, au);
	ingest(s, g->ops, NOPS);
	state_hash(s, before);
	ms_store_close(&s);
	plant_v2(dir);

	/* A reader cannot migrate: it says what to do. */
	ms_store_opts_default(&ro);
	ro.readonly = 1;
	MS_FAIL(ms_store_open(&s, dir, &ro, &eb), MS_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(eb.msg, "predates"));

	/* A writer migrates on open; the state is what it was. */
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	state_hash(s, after);
	ck_assert_mem_eq(before, after, MS_HASH_LEN);
	ck_assert_uint_eq(fix_verify(s), 0);
	/* Again: nothing left to do, no heads step taken. */
	t = s->trace_heads;
	MS_PASS_EB(st_write(s, migrate_txn, NULL, &eb), &eb);
	ck_assert_uint_eq(s->trace_heads, t);
	ms_store_close(&s);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	state_hash(s, after);
	ck_assert_mem_eq(before, after, MS_HASH_LEN);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);

	for (size_t i = 0; i < NOPS; i++)
		free(g->ops[i].buf);
	free(g);
	for (size_t i = 0; i < 3; i++)
		ms_identity_free(&au[i]);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* verify sees a heads_rank index that disagrees with the ops. */
START_TEST(test_verify_heads)
{
	char *dir = ms_test_tmpdir("hd-verify");
	ms_identity *a = fix_identity(1), *m = fix_identity(2);
	ms_store *s = fix_store(dir, a, NULL);
	fix_op ops[3];
	fix_raw raw;
	MDB_val k = {1, (void *)"k"}, v;
	MDB_cursor *c = NULL;
	ms_errbuf eb;

	for (size_t i = 0; i < 3; i++)
		fix_make_op(&ops[i], m, MS_OP_PUT, i + 1,
		            MS_HLC_MAKE(T0 + i, 0), NULL, 0, "k", "v", 1);
	ingest(s, ops, 3);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);

	/* Drop one head from heads_rank: verify and the read both see it. */
	memset(&raw, 0, sizeof raw);
	ck_assert_int_eq(mdb_env_create(&raw.env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(raw.env, 32), 0);
	ck_assert_int_eq(mdb_env_open(raw.env, dir, MDB_NOTLS, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(raw.env, NULL, 0, &raw.txn), 0);
	ck_assert_int_eq(mdb_dbi_open(raw.txn, "heads_rank",
	                              MDB_DUPSORT | MDB_DUPFIXED, &raw.dbi),
	                 0);
	ck_assert_int_eq(mdb_cursor_open(raw.txn, raw.dbi, &c), 0);
	ck_assert_int_eq(mdb_cursor_get(c, &k, &v, MDB_SET), 0);
	ck_assert_int_eq(mdb_cursor_del(c, 0), 0); /* one dup of "k" */
	mdb_cursor_close(c);
	fix_raw_commit(&raw);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	ck_assert_uint_gt(fix_verify(s), 0);
	ms_store_close(&s);
	for (size_t i = 0; i < 3; i++)
		free(ops[i].buf);
	ms_identity_free(&a);
	ms_identity_free(&m);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* --- forks ---------------------------------------------------------------- */

#define NSLOTS 100

START_TEST(test_fork_lookup_one_slot)
{
	char *dir = ms_test_tmpdir("hd-forks");
	ms_identity *a = fix_identity(1), *m = fix_identity(2);
	ms_store *s = fix_store(dir, a, NULL);
	fix_op *ops = calloc(2 * NSLOTS, sizeof *ops);
	ms_store_rtxn *rt = NULL;
	fix_fork_seen f;
	uint64_t t;
	ms_errbuf eb;
	char key[16];

	ck_assert_ptr_nonnull(ops);
	/* NSLOTS forked slots: two ops for each (author, seq). */
	for (size_t i = 0; i < NSLOTS; i++) {
		snprintf(key, sizeof key, "f%zu", i);
		fix_make_op(&ops[2 * i], m, MS_OP_PUT, i + 1,
		            MS_HLC_MAKE(T0, 0), NULL, 0, key, "a", 1);
		fix_make_op(&ops[2 * i + 1], m, MS_OP_PUT, i + 1,
		            MS_HLC_MAKE(T0, 0), NULL, 0, key, "b", 1);
	}
	ingest(s, ops, 2 * NSLOTS);
	ck_assert_uint_eq(fix_summary(s).forks, NSLOTS);

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	/* One forked slot: its ids, and no other slot visited. */
	memset(&f, 0, sizeof f);
	t = s->trace_forks;
	MS_PASS_EB(ms_store_get_fork(rt, ms_identity_pk(m), 50, fix_on_fork, &f,
	                             &eb),
	           &eb);
	ck_assert_uint_eq(s->trace_forks - t, 1);
	ck_assert_int_eq(f.n, 1);
	ck_assert_uint_eq(f.seq, 50);
	ck_assert_uint_eq(f.nids, 2);
	ck_assert(memcmp(f.ids[0], ops[98].id, MS_HASH_LEN) == 0 ||
	          memcmp(f.ids[1], ops[98].id, MS_HASH_LEN) == 0);
	ck_assert(memcmp(f.ids[0], ops[99].id, MS_HASH_LEN) == 0 ||
	          memcmp(f.ids[1], ops[99].id, MS_HASH_LEN) == 0);
	/* A slot that is not forked, and another author: nothing. */
	memset(&f, 0, sizeof f);
	t = s->trace_forks;
	MS_PASS(ms_store_get_fork(rt, ms_identity_pk(m), NSLOTS + 1,
	                          fix_on_fork, &f, NULL));
	MS_PASS(ms_store_get_fork(rt, ms_identity_pk(a), 50, fix_on_fork, &f,
	                          NULL));
	ck_assert_int_eq(f.n, 0);
	ck_assert_uint_eq(s->trace_forks - t, 0);
	/* The walk, by contrast, visits every forked slot. */
	t = s->trace_forks;
	MS_PASS(ms_store_foreach_fork(rt, fix_on_fork, &f, NULL));
	ck_assert_uint_eq(s->trace_forks - t, NSLOTS);
	ms_store_read_end(&rt);

	ms_store_close(&s);
	free_ops(ops, 2 * NSLOTS);
	ms_identity_free(&a);
	ms_identity_free(&m);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("heads");
	TCase *tc = tcase_create("heads");

	fix_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_write_cost_flat);
	tcase_add_test(tc, test_budget_option_mv_live);
	tcase_add_loop_test(tc, test_state_hash_any_order, 0, 4);
	tcase_add_test(tc, test_migrate_v2);
	tcase_add_test(tc, test_verify_heads);
	tcase_add_test(tc, test_fork_lookup_one_slot);
	suite_add_tcase(suite, tc);
	return ms_test_run(suite);
}
