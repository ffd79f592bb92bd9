/*
 * test_store_alloc.c — the store's operations under allocation failure
 * (tests/ms_alloc.h): create and open, local appends (put, del, mv and
 * counter keys), ingest of a small batch (with a fork and a forged op) and
 * of one above the verify worker's threshold, reads, digests, summary,
 * what a peer lacks, peer_vv, the peer table, stats, verify and close;
 * then on a fresh handle (empty scratch buffers, so their first growth
 * happens in other places) a large batch whose key record outgrows the
 * scratch half-way through its transaction, and the reads again; then a
 * read-only open.  After every run the store left on disk must verify
 * clean and hold exactly what the steps that returned MS_OK committed, in
 * the same state every run that got that far reached.  And the migration
 * of a schema-2 store on open: a failed allocation leaves it at schema 2,
 * and the next open migrates it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_alloc.h"
#include "ms_bytes.h"
#include "ms_test.h"
#include "lacking.h"
#include "peer_vv.h"
#include "peers.h"
#include "store_fix.h"

/* 2026-01-01T00:00:00Z: one fixed wall clock, so local ops (and with them
 * every state the scenario reaches) are the same in every run. */
#define T_NOW UINT64_C(1767225600000)
#define N_SMALL 10  /* below the verify worker's threshold (64) */
#define N_LARGE 100 /* above it */
#define N_D 70      /* a second large batch, on a fresh handle */
#define D_LONG 50   /* its op with a key longer than ST_KEY_INLINE */
#define LONG_KEY 600
#define STAT_NAME "alloc_test"
#define STAT_DELTA 7

/* The durable steps, in order: ms_alloc_mark after each. */
enum step {
	ST_CREATED = 1,
	ST_PUT,      /* a/x = "1" */
	ST_DEL,      /* a/x deleted */
	ST_MV,       /* mv/y = "y" */
	ST_COUNTER,  /* cnt/n += 5 */
	ST_SMALL,    /* N_SMALL ops of B, a fork of B's seq 3, a forged op */
	ST_LARGE,    /* N_LARGE ops of C */
	ST_PEER_VV,  /* B is known to hold B's ops up to N_SMALL */
	ST_PEER,     /* a peer record for B */
	ST_STATS,    /* STAT_NAME += STAT_DELTA */
	ST_D,        /* after a reopen: N_D ops of D */
	ST_POLICIES, /* a third policy rule (a reload's new table) */
	ST_COUNT_
};

/* Ops held after each step (the forged op is quarantined, not held). */
static const uint64_t ops_after[ST_COUNT_] = {
	[ST_CREATED] = 0,
	[ST_PUT] = 1,
	[ST_DEL] = 2,
	[ST_MV] = 3,
	[ST_COUNTER] = 4,
	[ST_SMALL] = 4 + N_SMALL + 1,
	[ST_LARGE] = 4 + N_SMALL + 1 + N_LARGE,
	[ST_PEER_VV] = 4 + N_SMALL + 1 + N_LARGE,
	[ST_PEER] = 4 + N_SMALL + 1 + N_LARGE,
	[ST_STATS] = 4 + N_SMALL + 1 + N_LARGE,
	[ST_D] = 4 + N_SMALL + 1 + N_LARGE + N_D,
	[ST_POLICIES] = 4 + N_SMALL + 1 + N_LARGE + N_D,
};

/* Built once, unarmed, before the loop; children inherit it. */
static struct {
	uint64_t wall;
	ms_policy_rule rules[3]; /* the store gets 2, then all 3 */
	ms_store_opts opts;
	ms_identity *a, *b, *c, *d; /* a: the store's own node */
	fix_op small[N_SMALL + 2];
	fix_op large[N_LARGE];
	fix_op dops[N_D];
	ms_ingest_item small_items[N_SMALL + 2], large_items[N_LARGE];
	ms_ingest_item d_items[N_D];
	/* State hash first seen after each number of steps (parent side). */
	uint8_t ref_state[ST_COUNT_ + 1][MS_HASH_LEN];
	uint8_t ref_vv[ST_COUNT_ + 1][MS_HASH_LEN];
	int ref_set[ST_COUNT_ + 1];
} fx;

static void fx_setup(void)
{
	char key[LONG_KEY + 1], val[32];

	fix_prefer_ram_tmpdir();
	memset(&fx, 0, sizeof fx);
	fx.wall = T_NOW;
	snprintf(fx.rules[0].prefix, sizeof fx.rules[0].prefix, "cnt/");
	fx.rules[0].policy = MS_POLICY_COUNTER;
	snprintf(fx.rules[1].prefix, sizeof fx.rules[1].prefix, "mv/");
	fx.rules[1].policy = MS_POLICY_MV;
	snprintf(fx.rules[2].prefix, sizeof fx.rules[2].prefix, "z/");
	fx.rules[2].policy = MS_POLICY_MV;
	ms_store_opts_default(&fx.opts);
	fx.opts.wall_ms = fix_wall;
	fx.opts.wall_ctx = &fx.wall;
	fx.opts.policies = fx.rules;
	fx.opts.npolicies = 2;
	fx.a = fix_identity(1);
	fx.b = fix_identity(2);
	fx.c = fix_identity(3);
	fx.d = fix_identity(4);
	for (int i = 0; i < N_SMALL; i++) {
		snprintf(key, sizeof key, "b/%d", i + 1);
		snprintf(val, sizeof val, "b%d", i + 1);
		fix_make_op(&fx.small[i], fx.b, MS_OP_PUT, (uint64_t)i + 1,
		            T_NOW - 5000 + (uint64_t)i, NULL, 0, key, val,
		            strlen(val));
	}
	/* B equivocates on seq 3 (same key, another value): a fork. */
	fix_make_op(&fx.small[N_SMALL], fx.b, MS_OP_PUT, 3, T_NOW - 4000, NULL,
	            0, "b/3", "other", 5);
	/* A forged op: B's seq 11 with one signature bit flipped. */
	fix_make_op(&fx.small[N_SMALL + 1], fx.b, MS_OP_PUT, N_SMALL + 1,
	            T_NOW - 3000, NULL, 0, "b/11", "x", 1);
	fx.small[N_SMALL + 1].buf[fx.small[N_SMALL + 1].len - 1] ^= 0x01;
	for (int i = 0; i < N_SMALL + 2; i++) {
		fx.small_items[i].buf = fx.small[i].buf;
		fx.small_items[i].len = fx.small[i].len;
	}
	for (int i = 0; i < N_LARGE; i++) {
		snprintf(key, sizeof key, "c/%03d", i + 1);
		fix_make_op(&fx.large[i], fx.c, MS_OP_PUT, (uint64_t)i + 1,
		            T_NOW - 2000 + (uint64_t)i, NULL, 0, key, "c", 1);
		fx.large_items[i].buf = fx.large[i].buf;
		fx.large_items[i].len = fx.large[i].len;
	}
	for (int i = 0; i < N_D; i++) {
		snprintf(key, sizeof key, "d/%03d", i + 1);
		if (i == D_LONG) {
			memset(key, 'L', LONG_KEY);
			key[LONG_KEY] = '\0';
		}
		fix_make_op(&fx.dops[i], fx.d, MS_OP_PUT, (uint64_t)i + 1,
		            T_NOW - 1000 + (uint64_t)i, NULL, 0, key, "d", 1);
		fx.d_items[i].buf = fx.dops[i].buf;
		fx.d_items[i].len = fx.dops[i].len;
	}
}

static void fx_teardown(void)
{
	for (int i = 0; i < N_SMALL + 2; i++)
		free(fx.small[i].buf);
	for (int i = 0; i < N_LARGE; i++)
		free(fx.large[i].buf);
	for (int i = 0; i < N_D; i++)
		free(fx.dops[i].buf);
	ms_identity_free(&fx.a);
	ms_identity_free(&fx.b);
	ms_identity_free(&fx.c);
	ms_identity_free(&fx.d);
}

/* --- the body's steps (child, armed) ------------------------------------ */

#define TRY(call)                          \
	do {                               \
		if ((e = (call)) != MS_OK) \
			goto out;          \
	} while (0)

static ms_err append(ms_store *s, ms_op_type t, const char *key, const void *v,
                     size_t vl, ms_errbuf *eb)
{
	ms_append_result r;
	ms_err e = ms_store_append(s, fx.a, t, MS_PRIO_USER,
	                           (const uint8_t *)key, strlen(key), v, vl, &r,
	                           eb);

	ALLOC_EXPECT(e != MS_OK || r.seq >= 1);
	return e;
}

static ms_err ingest(ms_store *s, const ms_ingest_item *items, size_t n,
                     uint64_t applied, uint64_t rejected, uint64_t forks,
                     ms_errbuf *eb)
{
	ms_ingest_totals t;
	ms_err e = ms_store_ingest(s, items, n, ms_identity_pk(fx.b), NULL, &t,
	                           eb);

	if (e == MS_OK) {
		ALLOC_EXPECT(t.applied == applied);
		ALLOC_EXPECT(t.rejected == rejected);
		ALLOC_EXPECT(t.forks == forks);
	}
	return e;
}

static int count_key(const ms_key_state *ks, void *ctx)
{
	(void)ks;
	++*(uint64_t *)ctx;
	return 0;
}

static int count_log(const ms_log_entry *le, void *ctx)
{
	(void)le;
	++*(uint64_t *)ctx;
	return 0;
}

static int count_fork(const uint8_t author[MS_PK_LEN], uint64_t seq,
                      const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *ctx)
{
	(void)author;
	(void)ids;
	ALLOC_EXPECT(seq == 3 && nids == 2);
	++*(uint64_t *)ctx;
	return 0;
}

static ms_err read_gets(ms_store_rtxn *rt, ms_errbuf *eb)
{
	ms_key_state ks;
	ms_log_entry le;
	ms_err e;

	TRY(ms_store_get(rt, (const uint8_t *)"a/x", 3, &ks, eb));
	ALLOC_EXPECT(ks.nheads == 1 && !ms_key_state_live(&ks));
	TRY(ms_store_get(rt, (const uint8_t *)"cnt/n", 5, &ks, eb));
	ALLOC_EXPECT(ks.counter == 5 && ks.policy == MS_POLICY_COUNTER);
	TRY(ms_store_get(rt, (const uint8_t *)"b/3", 3, &ks, eb));
	ALLOC_EXPECT(ks.nheads == 2 && ms_key_state_conflict(&ks));
	TRY(ms_store_get_op(rt, fx.large[0].id, &le, eb));
	ALLOC_EXPECT(le.op.seq == 1);
out:
	return e;
}

static ms_err read_walks(ms_store_rtxn *rt, uint64_t nauthored, ms_errbuf *eb)
{
	uint64_t nkeys = 0, nlog = 0, nforks = 0;
	ms_err e;

	/* Every author's ops are on distinct keys, but for A's 3 keys. */
	TRY(ms_store_foreach_key(rt, NULL, 0, count_key, &nkeys, eb));
	ALLOC_EXPECT(nkeys == 3 + nauthored);
	TRY(ms_store_foreach_log(rt, NULL, 0, count_log, &nlog, eb));
	ALLOC_EXPECT(nlog == 4 + nauthored); /* the fork is not logged */
	TRY(ms_store_foreach_fork(rt, count_fork, &nforks, eb));
	ALLOC_EXPECT(nforks == 1);
out:
	return e;
}

/* Every read of the scenario on one snapshot, once all ops up to step m
 * are in; the key walks first or the gets first (the first to need the
 * snapshot's scratch allocates it). */
static ms_err reads(ms_store *s, enum step m, int walks_first, ms_errbuf *eb)
{
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	ms_sync_item *items = NULL;
	uint8_t h[MS_HASH_LEN];
	uint64_t nauthored = ops_after[m] - 4 - 1; /* B, C, D: less the fork */
	size_t nitems = 0;
	ms_err e;

	TRY(ms_store_read_begin(s, &rt, eb));
	if (walks_first)
		TRY(read_walks(rt, nauthored, eb));
	TRY(read_gets(rt, eb));
	if (!walks_first)
		TRY(read_walks(rt, nauthored, eb));
	TRY(ms_store_vv_digest(rt, h, eb));
	TRY(ms_store_state_hash(rt, h, eb));
	TRY(ms_store_summary_get(rt, &sum, eb));
	ALLOC_EXPECT(sum.ops == ops_after[m] && sum.forks == 1 &&
	             sum.quarantined == 1 && sum.local_seq == 4);
	TRY(ms_store_lacking(rt, NULL, 0, &items, &nitems, eb));
	ALLOC_EXPECT(nitems == ops_after[m]);
out:
	free(items);
	ms_store_read_end(&rt);
	return e;
}

/* The peer_vv and peer table calls, in one place. */
static ms_err peer_side(ms_store *s, ms_alloc_ctx *ac)
{
	ms_peer_vv_entry pv;
	static ms_peer_rec rec, got;
	ms_store_rtxn *rt = NULL;
	ms_errbuf *eb = &ac->eb;
	ms_err e;

	memcpy(pv.author, ms_identity_pk(fx.b), MS_PK_LEN);
	pv.seq = N_SMALL;
	TRY(ms_store_peer_vv_update(s, ms_identity_pk(fx.b), &pv, 1, eb));
	ms_alloc_mark(ac); /* ST_PEER_VV */
	memset(&rec, 0, sizeof rec);
	rec.has_id = 1;
	memcpy(rec.id, ms_identity_pk(fx.b), MS_PK_LEN);
	rec.source = MS_PEER_SRC_STATIC;
	rec.link = MS_LINK_STATE_LIVE;
	rec.naddrs = 1;
	snprintf(rec.addrs[0], sizeof rec.addrs[0], "tcp://127.0.0.1:7701");
	TRY(ms_store_peer_put(s, &rec, eb));
	ms_alloc_mark(ac); /* ST_PEER */
	TRY(ms_store_read_begin(s, &rt, eb));
	TRY(ms_store_peer_get(rt, ms_identity_pk(fx.b), &got, eb));
	ALLOC_EXPECT(memcmp(got.id, rec.id, MS_PK_LEN) == 0 &&
	             got.source == rec.source && got.link == rec.link &&
	             got.naddrs == 1 &&
	             strcmp(got.addrs[0], rec.addrs[0]) == 0);
	ALLOC_EXPECT(ms_store_peer_vv_get(rt, ms_identity_pk(fx.b),
	                                  ms_identity_pk(fx.b)) == N_SMALL);
out:
	ms_store_read_end(&rt);
	return e;
}

/* --- the check (parent, unarmed, after every run) ----------------------- */

static int has_store(const char *dir)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", dir, MS_STORE_DATA_FILE);
	return stat(path, &st) == 0;
}

static void store_ops_check(const ms_alloc_ctx *ac)
{
	ms_store *s = NULL;
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	ms_peer_rec got;
	uint64_t m = ac->marks;
	ms_store_opts ro = fx.opts;
	size_t nrules = 0;
	ms_errbuf eb;
	ms_err e;

	ck_assert_uint_lt(m, ST_COUNT_);
	/* Every step ran when the body succeeded. */
	ck_assert(ac->result != MS_OK || m == ST_COUNT_ - 1);
	if (!has_store(ac->dir)) {
		ck_assert_uint_eq(m, 0);
		return;
	}
	/* The table in force is the stored one (a read-only open does not
	 * store its own): a failed set_policies left the old one. */
	ro.readonly = 1;
	MS_PASS_EB(ms_store_open(&s, ac->dir, &ro, &eb), &eb);
	(void)ms_store_policies(s, &nrules);
	ck_assert_msg(nrules == (m >= ST_POLICIES ? 3u : 2u),
	              "%s: %zu policy rules stored after %llu steps", ac->who,
	              nrules, (unsigned long long)m);
	ms_store_close(&s);
	MS_PASS_EB(ms_store_open(&s, ac->dir, &fx.opts, &eb), &eb);
	ck_assert_msg(fix_verify(s) == 0, "%s: the store does not verify",
	              ac->who);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	/* Exactly what the completed steps committed: no less (lost data),
	 * no more (a step that reported failure but committed). */
	ck_assert_msg(sum.ops == ops_after[m > 0 ? m : ST_CREATED],
	              "%s: %llu ops held after %llu steps, want %llu", ac->who,
	              (unsigned long long)sum.ops, (unsigned long long)m,
	              (unsigned long long)ops_after[m > 0 ? m : ST_CREATED]);
	ck_assert_uint_eq(sum.quarantined, m >= ST_SMALL ? 1 : 0);
	ck_assert_uint_eq(sum.forks, m >= ST_SMALL ? 1 : 0);
	ck_assert_uint_eq(ms_store_peer_vv_get(rt, ms_identity_pk(fx.b),
	                                       ms_identity_pk(fx.b)),
	                  m >= ST_PEER_VV ? N_SMALL : 0);
	e = ms_store_peer_get(rt, ms_identity_pk(fx.b), &got, &eb);
	ck_assert_int_eq(e, m >= ST_PEER ? MS_OK : MS_ENOTFOUND);
	ck_assert_uint_eq(ms_store_stat(rt, STAT_NAME),
	                  m >= ST_STATS ? STAT_DELTA : 0);
	/* Whatever failed later, m steps always lead to the same state. */
	if (!fx.ref_set[m]) {
		memcpy(fx.ref_state[m], sum.state_hash, MS_HASH_LEN);
		memcpy(fx.ref_vv[m], sum.vv_digest, MS_HASH_LEN);
		fx.ref_set[m] = 1;
	}
	ck_assert_msg(memcmp(fx.ref_state[m], sum.state_hash, MS_HASH_LEN) ==
	                              0 &&
	                      memcmp(fx.ref_vv[m], sum.vv_digest,
	                             MS_HASH_LEN) == 0,
	              "%s: the state after %llu steps differs from an "
	              "earlier run's",
	              ac->who, (unsigned long long)m);
	ms_store_read_end(&rt);
	ms_store_close(&s);
}

/* --- the scenario ------------------------------------------------------- */

ALLOC_SCENARIO_CHECKED(store_ops, store_ops_check)
{
	ms_errbuf *eb = &ac->eb;
	ms_store *s = NULL;
	uint8_t delta[8];
	const char *name = STAT_NAME;
	uint64_t faults = 0, d = STAT_DELTA;
	ms_store_opts ro = fx.opts;
	ms_err e;

	ro.readonly = 1;
	fix_le64(delta, 5);
	TRY(ms_store_create(ac->dir, ms_identity_pk(fx.a), fix_netid, &fx.opts,
	                    eb));
	ms_alloc_mark(ac);
	TRY(ms_store_open(&s, ac->dir, &fx.opts, eb));
	TRY(append(s, MS_OP_PUT, "a/x", "1", 1, eb));
	ms_alloc_mark(ac);
	TRY(append(s, MS_OP_DEL, "a/x", NULL, 0, eb));
	ms_alloc_mark(ac);
	TRY(append(s, MS_OP_PUT, "mv/y", "y", 1, eb));
	ms_alloc_mark(ac);
	TRY(append(s, MS_OP_PUT, "cnt/n", delta, sizeof delta, eb));
	ms_alloc_mark(ac);
	TRY(ingest(s, fx.small_items, N_SMALL + 2, N_SMALL + 1, 1, 1, eb));
	ms_alloc_mark(ac);
	TRY(ingest(s, fx.large_items, N_LARGE, N_LARGE, 0, 0, eb));
	ms_alloc_mark(ac);
	TRY(reads(s, ST_LARGE, 0, eb));
	TRY(peer_side(s, ac));
	TRY(ms_store_stats_add(s, &name, &d, 1, eb));
	ms_alloc_mark(ac);
	TRY(ms_store_verify(s, NULL, NULL, &faults, eb));
	ALLOC_EXPECT(faults == 0);

	/* A fresh handle: its scratch grows inside the batch's transaction,
	 * at the long key half-way through, so the whole batch must go. */
	ms_store_close(&s);
	TRY(ms_store_open(&s, ac->dir, &fx.opts, eb));
	TRY(ingest(s, fx.d_items, N_D, N_D, 0, 0, eb));
	ms_alloc_mark(ac);
	ms_store_close(&s);
	TRY(ms_store_open(&s, ac->dir, &fx.opts, eb));
	TRY(reads(s, ST_D, 1, eb));
	TRY(ms_store_set_policies(s, fx.rules, 3, eb));
	ms_alloc_mark(ac);
	ms_store_close(&s);

	/* Read-only, as node-inspect opens it. */
	TRY(ms_store_open(&s, ac->dir, &ro, eb));
	TRY(reads(s, ST_D, 0, eb));
out:
	ms_store_close(&s);
	return e;
}

/* --- migration of a schema-2 store --------------------------------------- */

/* Turn the store in dir into the schema-2 layout: old-style sums in the vv
 * records (any bytes: the migration recomputes them), meta op_acc, schema
 * 2.  Raw LMDB, no allocation of ours. */
static void downgrade_to_v2(const char *dir)
{
	uint8_t u32[4], junk[MS_HASH_LEN];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	fix_raw raw;
	int rc;

	memset(junk, 0x5a, sizeof junk);
	fix_raw_begin(&raw, dir, "vv");
	ck_assert_int_eq(mdb_cursor_open(raw.txn, raw.dbi, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		uint8_t rec[8 + 8 + MS_HASH_LEN];
		ck_assert_uint_eq(v.mv_size, sizeof rec);
		memcpy(rec, v.mv_data, sizeof rec);
		memcpy(rec + 16, junk, sizeof junk);
		v.mv_data = rec;
		ck_assert_int_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
	}
	mdb_cursor_close(c);
	fix_raw_commit(&raw);
	fix_raw_put(dir, "meta", "op_acc", 6, junk, sizeof junk);
	ms_put_le32(u32, 2);
	fix_raw_put(dir, "meta", "schema", 6, u32, sizeof u32);
}

static void migrate_check(const ms_alloc_ctx *ac)
{
	ms_store *s = NULL;
	ms_errbuf eb = {0};
	ms_store_summary sum;

	if (ac->marks < 1)
		return; /* cannot happen: the setup is not armed */
	/* Whatever the child got to, an unarmed open finishes the job. */
	MS_PASS_EB(ms_store_open(&s, ac->dir, &fx.opts, &eb), &eb);
	ck_assert_uint_eq(fix_verify(s), 0);
	sum = fix_summary(s);
	ck_assert_uint_eq(sum.ops, N_SMALL + 1 + N_LARGE);
	ms_store_close(&s);
}

ALLOC_SCENARIO_CHECKED(migrate, migrate_check)
{
	ms_errbuf *eb = &ac->eb;
	ms_store *s = NULL;
	ms_err e = MS_OK;

	ms_alloc_pause(); /* a schema-2 store to start from */
	ALLOC_EXPECT(ms_store_create(ac->dir, ms_identity_pk(fx.a), fix_netid,
	                             &fx.opts, NULL) == MS_OK);
	ALLOC_EXPECT(ms_store_open(&s, ac->dir, &fx.opts, NULL) == MS_OK);
	ALLOC_EXPECT(ingest(s, fx.small_items, N_SMALL + 2, N_SMALL + 1, 1, 1,
	                    NULL) == MS_OK);
	ALLOC_EXPECT(ingest(s, fx.large_items, N_LARGE, N_LARGE, 0, 0, NULL) ==
	             MS_OK);
	ms_store_close(&s);
	downgrade_to_v2(ac->dir);
	ms_alloc_resume();
	ms_alloc_mark(ac);
	TRY(ms_store_open(&s, ac->dir, &fx.opts, eb));
	ms_alloc_mark(ac);
	TRY(ms_store_verify(s, NULL, NULL, NULL, eb));
out:
	ms_store_close(&s);
	return e;
}

int main(void)
{
	Suite *su = suite_create("store_alloc");
	TCase *tc = tcase_create("alloc");

	tcase_add_unchecked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, ms_alloc_tcase_timeout);
	tcase_add_test(tc, alloc_store_ops);
	tcase_add_test(tc, alloc_migrate);
	suite_add_tcase(su, tc);
	return ms_test_run(su);
}
