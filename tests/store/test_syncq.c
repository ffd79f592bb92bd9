/*
 * test_syncq.c — the store's side of sync (vector.h, arrival.h, lacking.h,
 * peer_vv.h, peers.h) against real stores:
 * vector entries (held, setsum) through gaps and forks, the arrival feed,
 * what a peer lacks under each rule of docs/protocol.md §5.3, convergence
 * of two stores that exchange only what lacking names, peer_vv, lag and
 * unacked counts, the peer table, and two-thread ingest giving exactly the
 * single-thread results.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrival.h"
#include "hlc.h"
#include "lacking.h"
#include "ms_test.h"
#include "peer_vv.h"
#include "peers.h"
#include "store_fix.h"
#include "store_int.h" /* white-box: is the worker thread running? */
#include "vector.h"

#define T0 UINT64_C(1767225600000)
#define HLC(ms, c) MS_HLC_MAKE(T0 + (ms), (uint64_t)(c))

static uint64_t clock_ms = T0 + 1000000;

static ms_store *open_store(const char *dir, const ms_identity *id,
                            unsigned threads)
{
	ms_store_opts o;

	ms_store_opts_default(&o);
	o.wall_ms = fix_wall;
	o.wall_ctx = &clock_ms;
	o.verify_threads = threads;
	return fix_store(dir, id, &o);
}

/* The setsum (crypto/setsum.h), recomputed here with libsodium alone,
 * independently of crypto/setsum.c. */
static void acc_add(uint8_t acc[MS_HASH_LEN], const uint8_t id[MS_HASH_LEN])
{
	static const char dom[] = "meshsync/setsum/v1";
	crypto_generichash_state st;
	unsigned char h[64], p[32];

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const unsigned char *)dom,
	                          sizeof dom - 1);
	crypto_generichash_update(&st, id, MS_HASH_LEN);
	crypto_generichash_final(&st, h, sizeof h);
	crypto_core_ristretto255_from_hash(p, h);
	ck_assert_int_eq(crypto_core_ristretto255_add(acc, acc, p), 0);
}

static void ingest_all(ms_store *s, const fix_op *ops, size_t n,
                       uint64_t want_applied)
{
	ms_ingest_item *items = calloc(n, sizeof *items);
	ms_ingest_totals tot;
	ms_errbuf eb;

	ck_assert_ptr_nonnull(items);
	for (size_t i = 0; i < n; i++)
		items[i] = (ms_ingest_item){ops[i].buf, ops[i].len};
	MS_PASS_EB(ms_store_ingest(s, items, n, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.applied, want_applied);
	ck_assert_uint_eq(tot.rejected, 0);
	free(items);
}

typedef struct vvs {
	ms_vv_entry e[64];
	size_t n;
} vvs;

static int on_entry(const ms_vv_entry *e, void *ctx)
{
	vvs *v = ctx;

	ck_assert_uint_lt(v->n, 64);
	v->e[v->n++] = *e;
	return 0;
}

static void get_vv(ms_store *s, vvs *out)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	out->n = 0;
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_vv_entry(rt, on_entry, out, &eb), &eb);
	ms_store_read_end(&rt);
}

static ms_vv_entry *find_vv(vvs *v, const ms_identity *who)
{
	for (size_t i = 0; i < v->n; i++)
		if (memcmp(v->e[i].author, ms_identity_pk(who), MS_PK_LEN) == 0)
			return &v->e[i];
	return NULL;
}

static void lacking(ms_store *s, const ms_vv_entry *theirs, size_t n,
                    ms_sync_item **items, size_t *ni)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_lacking(rt, theirs, n, items, ni, &eb), &eb);
	ms_store_read_end(&rt);
	for (size_t i = 1; i < *ni; i++)
		ck_assert_int_lt(ms_sync_item_cmp(&(*items)[i - 1],
		                                  &(*items)[i]),
		                 0);
}

/* items must be exactly the given ops (any order given; sorted checked). */
static void expect_items(const ms_sync_item *items, size_t n,
                         const fix_op *const *want, size_t nwant)
{
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		int found = 0;
		for (size_t j = 0; j < n && !found; j++)
			found = memcmp(items[j].id, want[i]->id, MS_HASH_LEN) ==
			        0;
		ck_assert_msg(found, "expected op %zu missing from lacking", i);
	}
}

static void free_ops(fix_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ops[i].buf);
}

/* B: seqs 1, 2, 2' (fork), 4 (above a gap); C: only seq 3. */
START_TEST(test_vv_entries_gaps_forks)
{
	char *dir = ms_test_tmpdir("syncq-vv");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *c = fix_identity(3);
	ms_store *s = open_store(dir, a, 0);
	fix_op ops[5];
	uint8_t acc_b[MS_HASH_LEN] = {0}, acc_c[MS_HASH_LEN] = {0};
	ms_store_rtxn *rt = NULL;
	ms_vv_entry e;
	ms_errbuf eb;
	vvs v;

	fix_make_op(&ops[0], b, MS_OP_PUT, 1, HLC(1, 0), NULL, 0, "k1", "x", 1);
	fix_make_op(&ops[1], b, MS_OP_PUT, 2, HLC(2, 0), NULL, 0, "k2", "x", 1);
	fix_make_op(&ops[2], b, MS_OP_PUT, 2, HLC(2, 1), NULL, 0, "k2", "y", 1);
	fix_make_op(&ops[3], b, MS_OP_PUT, 4, HLC(4, 0), NULL, 0, "k4", "x", 1);
	fix_make_op(&ops[4], c, MS_OP_PUT, 3, HLC(3, 0), NULL, 0, "k3", "x", 1);
	for (int i = 0; i < 4; i++)
		acc_add(acc_b, ops[i].id);
	acc_add(acc_c, ops[4].id);
	/* In pieces, so the fork and the gap arrive in separate txns. */
	ingest_all(s, &ops[3], 2, 2);
	ingest_all(s, &ops[1], 2, 2);
	ingest_all(s, &ops[0], 1, 1);

	get_vv(s, &v);
	ck_assert_uint_eq(v.n, 2);
	ck_assert_ptr_nonnull(find_vv(&v, b));
	ck_assert_uint_eq(find_vv(&v, b)->seq, 2);
	ck_assert_uint_eq(find_vv(&v, b)->held, 4);
	ck_assert_mem_eq(find_vv(&v, b)->acc, acc_b, MS_VV_ACC_LEN);
	ck_assert_uint_eq(find_vv(&v, c)->seq, 0);
	ck_assert_uint_eq(find_vv(&v, c)->held, 1);
	ck_assert_mem_eq(find_vv(&v, c)->acc, acc_c, MS_VV_ACC_LEN);

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_vv_entry_get(rt, ms_identity_pk(b), &e, &eb), &eb);
	ck_assert_uint_eq(e.held, 4);
	MS_FAIL(ms_store_vv_entry_get(rt, ms_identity_pk(a), &e, &eb),
	        MS_ENOTFOUND);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);

	/* Filling the gap moves the prefix over seq 3 and 4. */
	{
		fix_op g;
		fix_make_op(&g, b, MS_OP_PUT, 3, HLC(3, 1), NULL, 0, "k3", "y",
		            1);
		ingest_all(s, &g, 1, 1);
		acc_add(acc_b, g.id);
		free(g.buf);
	}
	get_vv(s, &v);
	ck_assert_uint_eq(find_vv(&v, b)->seq, 4);
	ck_assert_uint_eq(find_vv(&v, b)->held, 5);
	ck_assert_mem_eq(find_vv(&v, b)->acc, acc_b, MS_VV_ACC_LEN);
	ck_assert_uint_eq(fix_verify(s), 0);

	free_ops(ops, 5);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&c);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

typedef struct arr_ctx {
	uint64_t nums[32];
	uint8_t ids[32][MS_HASH_LEN];
	size_t n;
} arr_ctx;

static int on_arrival(uint64_t num, const ms_log_entry *e, void *ctx)
{
	arr_ctx *ac = ctx;

	ck_assert_uint_lt(ac->n, 32);
	ac->nums[ac->n] = num;
	memcpy(ac->ids[ac->n], e->id, MS_HASH_LEN);
	ac->n++;
	return 0;
}

START_TEST(test_arrival_feed)
{
	char *dir = ms_test_tmpdir("syncq-arrival");
	ms_identity *a = fix_identity(1), *b = fix_identity(2);
	ms_store *s = open_store(dir, a, 0);
	uint8_t want[6][MS_HASH_LEN];
	ms_append_result r;
	ms_store_rtxn *rt = NULL;
	ms_ingest_item items[5];
	ms_ingest_result res[5];
	ms_ingest_totals tot;
	fix_op ops[3];
	arr_ctx ac;
	ms_errbuf eb;
	uint8_t bad[40] = {1, 2, 3};

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_eq(ms_store_arrival_head(rt), 0);
	ms_store_read_end(&rt);
	for (int i = 0; i < 3; i++) {
		char key[8];
		snprintf(key, sizeof key, "a%d", i);
		MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)key, strlen(key),
		                           (const uint8_t *)"v", 1, &r, &eb),
		           &eb);
		memcpy(want[i], r.id, MS_HASH_LEN);
	}
	fix_make_op(&ops[0], b, MS_OP_PUT, 1, HLC(1, 0), NULL, 0, "b1", "v", 1);
	fix_make_op(&ops[1], b, MS_OP_PUT, 2, HLC(2, 0), NULL, 0, "b2", "v", 1);
	/* Batch: new, duplicate within the batch, malformed, new. */
	items[0] = (ms_ingest_item){ops[0].buf, ops[0].len};
	items[1] = (ms_ingest_item){ops[0].buf, ops[0].len};
	items[2] = (ms_ingest_item){bad, sizeof bad};
	items[3] = (ms_ingest_item){ops[1].buf, ops[1].len};
	MS_PASS_EB(ms_store_ingest(s, items, 4, NULL, res, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.applied, 2);
	ck_assert_uint_eq(tot.duplicate, 1);
	ck_assert_uint_eq(tot.rejected, 1);
	memcpy(want[3], ops[0].id, MS_HASH_LEN);
	memcpy(want[4], ops[1].id, MS_HASH_LEN);
	/* A batch of only duplicates gains no numbers. */
	MS_PASS_EB(ms_store_ingest(s, items, 2, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.duplicate, 2);
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_BACKGROUND,
	                           (const uint8_t *)"a9", 2,
	                           (const uint8_t *)"v", 1, &r, &eb),
	           &eb);
	memcpy(want[5], r.id, MS_HASH_LEN);

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_eq(ms_store_arrival_head(rt), 6);
	memset(&ac, 0, sizeof ac);
	MS_PASS_EB(ms_store_foreach_arrival(rt, 0, on_arrival, &ac, &eb), &eb);
	ck_assert_uint_eq(ac.n, 6);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_eq(ac.nums[i], i + 1);
		ck_assert_mem_eq(ac.ids[i], want[i], MS_HASH_LEN);
	}
	memset(&ac, 0, sizeof ac);
	MS_PASS_EB(ms_store_foreach_arrival(rt, 4, on_arrival, &ac, &eb), &eb);
	ck_assert_uint_eq(ac.n, 2);
	ck_assert_uint_eq(ac.nums[0], 5);
	ck_assert_mem_eq(ac.ids[1], want[5], MS_HASH_LEN);
	memset(&ac, 0, sizeof ac);
	MS_PASS_EB(ms_store_foreach_arrival(rt, 6, on_arrival, &ac, &eb), &eb);
	ck_assert_uint_eq(ac.n, 0);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);

	/* Another handle (as another process would) sees the same feed. */
	ms_store_close(&s);
	{
		ms_store_opts o;
		ms_store_opts_default(&o);
		o.readonly = 1;
		MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	}
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_eq(ms_store_arrival_head(rt), 6);
	ms_store_read_end(&rt);

	free_ops(ops, 2);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* Vectors as a peer would send them, edited per case. */
static void set_entry(vvs *v, const ms_identity *who, uint64_t seq,
                      uint64_t held, const uint8_t *acc)
{
	ms_vv_entry *e = find_vv(v, who);

	ck_assert_ptr_nonnull(e);
	e->seq = seq;
	e->held = held;
	if (acc != NULL)
		memcpy(e->acc, acc, MS_VV_ACC_LEN);
	else
		memset(e->acc, 0x5a, MS_VV_ACC_LEN); /* some other set */
}

static void drop_entry(vvs *v, const ms_identity *who)
{
	ms_vv_entry *e = find_vv(v, who);
	size_t i;

	ck_assert_ptr_nonnull(e);
	i = (size_t)(e - v->e);
	memmove(&v->e[i], &v->e[i + 1], (v->n - i - 1) * sizeof v->e[0]);
	v->n--;
}

START_TEST(test_lacking_rules)
{
	char *dir = ms_test_tmpdir("syncq-lack"),
	     *dir2 = ms_test_tmpdir("syncq-lack2");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *c = fix_identity(3);
	ms_store *s = open_store(dir, a, 0), *y = open_store(dir2, a, 0);
	fix_op b1, b2, b2f, b3, b4, c1;
	ms_sync_item *it = NULL;
	size_t n = 0;
	vvs v;

	fix_make_op_prio(&b1, b, MS_OP_PUT, MS_PRIO_BACKGROUND, 1, HLC(10, 0),
	                 NULL, 0, "k", "1", 1);
	fix_make_op_prio(&b2, b, MS_OP_PUT, MS_PRIO_USER, 2, HLC(30, 0), NULL,
	                 0, "k", "2", 1);
	fix_make_op_prio(&b2f, b, MS_OP_PUT, MS_PRIO_USER, 2, HLC(31, 0), NULL,
	                 0, "k", "2f", 2);
	fix_make_op_prio(&b3, b, MS_OP_PUT, MS_PRIO_USER, 3, HLC(20, 0), NULL,
	                 0, "k", "3", 1);
	fix_make_op_prio(&b4, b, MS_OP_PUT, MS_PRIO_BACKGROUND, 4, HLC(5, 0),
	                 NULL, 0, "k", "4", 1);
	fix_make_op_prio(&c1, c, MS_OP_PUT, MS_PRIO_USER, 1, HLC(25, 0), NULL,
	                 0, "c", "1", 1);
	ingest_all(s, &b1, 1, 1);
	ingest_all(s, &b2, 1, 1);
	ingest_all(s, &b3, 1, 1);
	ingest_all(s, &b4, 1, 1);
	ingest_all(s, &c1, 1, 1);

	/* Knows nothing: everything, user first, then by hlc. */
	lacking(s, NULL, 0, &it, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(it[0].id, b3.id, MS_HASH_LEN);
	ck_assert_mem_eq(it[1].id, c1.id, MS_HASH_LEN);
	ck_assert_mem_eq(it[2].id, b2.id, MS_HASH_LEN);
	ck_assert_mem_eq(it[3].id, b4.id, MS_HASH_LEN);
	ck_assert_mem_eq(it[4].id, b1.id, MS_HASH_LEN);
	ck_assert_uint_eq(it[0].priority, MS_PRIO_USER);
	ck_assert_uint_eq(it[0].hlc, HLC(20, 0));
	ck_assert_uint_eq(it[4].priority, MS_PRIO_BACKGROUND);
	free(it);

	/* Equal vectors: nothing. */
	get_vv(s, &v);
	lacking(s, v.e, v.n, &it, &n);
	ck_assert_uint_eq(n, 0);
	free(it);

	/* Rule 1: equal setsums mean the same ops, whatever the
	 * counts say. */
	set_entry(&v, b, 0, 0, find_vv(&v, b)->acc);
	lacking(s, v.e, v.n, &it, &n);
	ck_assert_uint_eq(n, 0);
	free(it);

	/* Rule 2: the peer's prefix ends at 2; c it does not know. */
	get_vv(s, &v);
	set_entry(&v, b, 2, 3, NULL);
	drop_entry(&v, c);
	lacking(s, v.e, v.n, &it, &n);
	{
		const fix_op *want[] = {&b3, &b4, &c1};
		expect_items(it, n, want, 3);
	}
	free(it);

	/* Rule 3: a fork at seq 2 below the peer's prefix of 4. */
	ingest_all(s, &b2f, 1, 1);
	get_vv(s, &v);
	ck_assert_uint_eq(find_vv(&v, b)->seq, 4);
	ck_assert_uint_eq(find_vv(&v, b)->held, 5);
	set_entry(&v, b, 4, 4, NULL);
	lacking(s, v.e, v.n, &it, &n);
	{
		const fix_op *want[] = {&b2, &b2f};
		expect_items(it, n, want, 2);
	}
	free(it);

	/* Rule 4: same seq and count, other ids: all of b. */
	get_vv(s, &v);
	set_entry(&v, b, 4, 5, NULL);
	lacking(s, v.e, v.n, &it, &n);
	{
		const fix_op *want[] = {&b1, &b2, &b2f, &b3, &b4};
		expect_items(it, n, want, 5);
	}
	free(it);

	/* Rule 3 with a gap of ours hiding the fork from the count: we hold
	 * 1, 2, 2', 4 (four ops at or below the peer's prefix of 4). */
	ingest_all(y, &b1, 1, 1);
	ingest_all(y, &b2, 1, 1);
	ingest_all(y, &b2f, 1, 1);
	ingest_all(y, &b4, 1, 1);
	get_vv(y, &v);
	ck_assert_uint_eq(find_vv(&v, b)->seq, 2);
	ck_assert_uint_eq(find_vv(&v, b)->held, 4);
	set_entry(&v, b, 4, 4, NULL);
	lacking(y, v.e, v.n, &it, &n);
	{
		const fix_op *want[] = {&b2, &b2f};
		expect_items(it, n, want, 2);
	}
	free(it);

	free(b1.buf);
	free(b2.buf);
	free(b2f.buf);
	free(b3.buf);
	free(b4.buf);
	free(c1.buf);
	ms_store_close(&s);
	ms_store_close(&y);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&c);
	ms_test_rmdir(dir);
	ms_test_rmdir(dir2);
	free(dir);
	free(dir2);
}
END_TEST

/* Send what `to` lacks from `from`; returns the number of ops sent. */
static size_t send_lacking(ms_store *from, ms_store *to)
{
	ms_store_rtxn *rt = NULL;
	ms_sync_item *it = NULL;
	ms_ingest_item *items;
	ms_ingest_totals tot;
	ms_errbuf eb;
	size_t n = 0;
	vvs v;

	get_vv(to, &v);
	lacking(from, v.e, v.n, &it, &n);
	if (n == 0) {
		free(it);
		return 0;
	}
	items = calloc(n, sizeof *items);
	ck_assert_ptr_nonnull(items);
	MS_PASS_EB(ms_store_read_begin(from, &rt, &eb), &eb);
	for (size_t i = 0; i < n; i++) {
		ms_log_entry le;
		MS_PASS_EB(ms_store_get_op(rt, it[i].id, &le, &eb), &eb);
		items[i] = (ms_ingest_item){le.buf, le.len};
	}
	MS_PASS_EB(ms_store_ingest(to, items, n, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.rejected, 0);
	ms_store_read_end(&rt);
	free(items);
	free(it);
	return n;
}

static void digests(ms_store *s, uint8_t vd[MS_HASH_LEN],
                    uint8_t sh[MS_HASH_LEN])
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_vv_digest(rt, vd, &eb), &eb);
	MS_PASS_EB(ms_store_state_hash(rt, sh, &eb), &eb);
	ms_store_read_end(&rt);
}

START_TEST(test_exchange_converges)
{
	char *dx = ms_test_tmpdir("syncq-x"), *dy = ms_test_tmpdir("syncq-y");
	ms_identity *a = fix_identity(1), *d = fix_identity(4),
		    *b = fix_identity(2), *e = fix_identity(5),
		    *f = fix_identity(6), *g = fix_identity(7),
		    *h = fix_identity(8);
	ms_store *x = open_store(dx, a, 0), *y = open_store(dy, d, 0);
	fix_op bo[5], e1a, e1b, e2, f1, f2a, f2b, f3, g1, g2a, g2b, g3, g4, h1a,
		h1b, h2;
	uint8_t vx[MS_HASH_LEN], vy[MS_HASH_LEN], sx[MS_HASH_LEN],
		sy[MS_HASH_LEN];
	ms_errbuf eb;
	int rounds = 0;

	for (int i = 0; i < 3; i++)
		MS_PASS_EB(ms_store_append(x, a, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)"shared", 6,
		                           (const uint8_t *)"x", 1, NULL, &eb),
		           &eb);
	for (int i = 0; i < 2; i++)
		MS_PASS_EB(ms_store_append(y, d, MS_OP_PUT, MS_PRIO_BACKGROUND,
		                           (const uint8_t *)"shared", 6,
		                           (const uint8_t *)"y", 1, NULL, &eb),
		           &eb);
	for (int i = 0; i < 5; i++) {
		char key[8];
		snprintf(key, sizeof key, "b%d", i);
		fix_make_op(&bo[i], b, MS_OP_PUT, (uint64_t)i + 1, HLC(i, 0),
		            NULL, 0, key, "v", 1);
	}
	/* b: X all five, Y 1, 2, 4 (a gap). */
	ingest_all(x, bo, 5, 5);
	ingest_all(y, &bo[0], 2, 2);
	ingest_all(y, &bo[3], 1, 1);
	/* e equivocated at seq 1: each side holds another version. */
	fix_make_op(&e1a, e, MS_OP_PUT, 1, HLC(1, 0), NULL, 0, "e", "a", 1);
	fix_make_op(&e1b, e, MS_OP_PUT, 1, HLC(1, 1), NULL, 0, "e", "b", 1);
	fix_make_op(&e2, e, MS_OP_PUT, 2, HLC(2, 0), NULL, 0, "e2", "v", 1);
	ingest_all(x, &e1a, 1, 1);
	ingest_all(x, &e2, 1, 1);
	ingest_all(y, &e1b, 1, 1);
	ingest_all(y, &e2, 1, 1);
	/* f: X holds a fork at 2, Y one side of it and seq 3. */
	fix_make_op(&f1, f, MS_OP_PUT, 1, HLC(1, 0), NULL, 0, "f", "1", 1);
	fix_make_op(&f2a, f, MS_OP_PUT, 2, HLC(2, 0), NULL, 0, "f", "2a", 2);
	fix_make_op(&f2b, f, MS_OP_PUT, 2, HLC(2, 1), NULL, 0, "f", "2b", 2);
	fix_make_op(&f3, f, MS_OP_PUT, 3, HLC(3, 0), NULL, 0, "f3", "3", 1);
	ingest_all(x, &f1, 1, 1);
	ingest_all(x, &f2a, 1, 1);
	ingest_all(x, &f2b, 1, 1);
	ingest_all(y, &f1, 1, 1);
	ingest_all(y, &f2a, 1, 1);
	ingest_all(y, &f3, 1, 1);
	/* g: X's fork hidden by its own gap at 3. */
	fix_make_op(&g1, g, MS_OP_PUT, 1, HLC(1, 0), NULL, 0, "g", "1", 1);
	fix_make_op(&g2a, g, MS_OP_PUT, 2, HLC(2, 0), NULL, 0, "g", "2a", 2);
	fix_make_op(&g2b, g, MS_OP_PUT, 2, HLC(2, 1), NULL, 0, "g", "2b", 2);
	fix_make_op(&g3, g, MS_OP_PUT, 3, HLC(3, 0), NULL, 0, "g", "3", 1);
	fix_make_op(&g4, g, MS_OP_PUT, 4, HLC(4, 0), NULL, 0, "g", "4", 1);
	ingest_all(x, &g1, 1, 1);
	ingest_all(x, &g2a, 1, 1);
	ingest_all(x, &g2b, 1, 1);
	ingest_all(x, &g4, 1, 1);
	ingest_all(y, &g1, 1, 1);
	ingest_all(y, &g2a, 1, 1);
	ingest_all(y, &g3, 1, 1);
	ingest_all(y, &g4, 1, 1);
	/* h: equivocation at 1 that only shows once seq 2 is exchanged. */
	fix_make_op(&h1a, h, MS_OP_PUT, 1, HLC(1, 0), NULL, 0, "h", "a", 1);
	fix_make_op(&h1b, h, MS_OP_PUT, 1, HLC(1, 1), NULL, 0, "h", "b", 1);
	fix_make_op(&h2, h, MS_OP_PUT, 2, HLC(2, 0), NULL, 0, "h2", "v", 1);
	ingest_all(x, &h1a, 1, 1);
	ingest_all(x, &h2, 1, 1);
	ingest_all(y, &h1b, 1, 1);

	/* Rounds as sessions run them: both compute from the vectors of the
	 * start of the round, then both streams drain. */
	for (rounds = 1; rounds <= 4; rounds++) {
		vvs vxs, vys;
		ms_sync_item *ix = NULL, *iy = NULL;
		size_t nx = 0, ny = 0;

		get_vv(x, &vxs);
		get_vv(y, &vys);
		lacking(x, vys.e, vys.n, &ix, &nx); /* y lacks */
		lacking(y, vxs.e, vxs.n, &iy, &ny); /* x lacks */
		free(ix);
		free(iy);
		if (nx == 0 && ny == 0)
			break;
		send_lacking(x, y);
		send_lacking(y, x);
	}
	/* Two rounds exchange ops (h's equivocation needs the second); the
	 * third finds nothing to send. */
	ck_assert_int_eq(rounds, 3);
	digests(x, vx, sx);
	digests(y, vy, sy);
	ck_assert_mem_eq(vx, vy, MS_HASH_LEN);
	ck_assert_mem_eq(sx, sy, MS_HASH_LEN);
	ck_assert_uint_eq(fix_verify(x), 0);
	ck_assert_uint_eq(fix_verify(y), 0);
	{
		ms_store_rtxn *rt = NULL;
		ms_store_summary sm;
		MS_PASS_EB(ms_store_read_begin(x, &rt, &eb), &eb);
		MS_PASS_EB(ms_store_summary_get(rt, &sm, &eb), &eb);
		ms_store_read_end(&rt);
		/* 3 + 2 local, 5 b, 3 e, 4 f, 5 g, 3 h */
		ck_assert_uint_eq(sm.ops, 25);
		ck_assert_uint_eq(sm.forks, 4); /* e1, f2, g2, h1 */
	}

	free_ops(bo, 5);
	{
		fix_op *all[] = {&e1a, &e1b, &e2, &f1, &f2a, &f2b, &f3, &g1,
		                 &g2a, &g2b, &g3, &g4, &h1a, &h1b, &h2};
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			free(all[i]->buf);
	}
	ms_store_close(&x);
	ms_store_close(&y);
	{
		ms_identity *ids[] = {a, d, b, e, f, g, h};
		for (size_t i = 0; i < 7; i++)
			ms_identity_free(&ids[i]);
	}
	ms_test_rmdir(dx);
	ms_test_rmdir(dy);
	free(dx);
	free(dy);
}
END_TEST

START_TEST(test_peer_vv_lag_unacked)
{
	char *dir = ms_test_tmpdir("syncq-pvv");
	ms_identity *a = fix_identity(1), *b = fix_identity(2),
		    *p1 = fix_identity(11), *p2 = fix_identity(12);
	ms_store *s = open_store(dir, a, 0);
	const uint8_t *A = ms_identity_pk(a), *B = ms_identity_pk(b);
	const uint8_t *P1 = ms_identity_pk(p1), *P2 = ms_identity_pk(p2);
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;
	fix_op bo[6];

	for (int i = 0; i < 4; i++)
		MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)"k", 1,
		                           (const uint8_t *)"v", 1, NULL, &eb),
		           &eb);
	for (int i = 0; i < 6; i++) {
		char key[8];
		snprintf(key, sizeof key, "b%d", i);
		fix_make_op(&bo[i], b, MS_OP_PUT, (uint64_t)i + 1, HLC(i, 0),
		            NULL, 0, key, "v", 1);
	}
	/* b held contiguous to 5, seq 6 withheld: lag counts the prefix. */
	ingest_all(s, bo, 5, 5);

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_eq(ms_store_peer_vv_get(rt, P1, A), 0);
	ck_assert_uint_eq(ms_store_peer_lag(rt, P1), 4 + 5);
	ck_assert_uint_eq(ms_store_unacked_local(rt), 4);
	ms_store_read_end(&rt);

	{
		ms_peer_vv_entry e[2];
		memcpy(e[0].author, A, MS_PK_LEN);
		e[0].seq = 2;
		memcpy(e[1].author, B, MS_PK_LEN);
		e[1].seq = 3;
		MS_PASS_EB(ms_store_peer_vv_update(s, P1, e, 2, &eb), &eb);
		/* A late, lower ACK never lowers what is known. */
		e[0].seq = 1;
		e[1].seq = 4;
		MS_PASS_EB(ms_store_peer_vv_update(s, P1, e, 2, &eb), &eb);
		memcpy(e[0].author, A, MS_PK_LEN);
		e[0].seq = 3;
		MS_PASS_EB(ms_store_peer_vv_update(s, P2, e, 1, &eb), &eb);
	}
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_eq(ms_store_peer_vv_get(rt, P1, A), 2);
	ck_assert_uint_eq(ms_store_peer_vv_get(rt, P1, B), 4);
	ck_assert_uint_eq(ms_store_peer_vv_get(rt, P2, A), 3);
	ck_assert_uint_eq(ms_store_peer_vv_get(rt, P2, B), 0);
	ck_assert_uint_eq(ms_store_peer_lag(rt, P1), (4 - 2) + (5 - 4));
	ck_assert_uint_eq(ms_store_peer_lag(rt, P2), (4 - 3) + 5);
	ck_assert_uint_eq(ms_store_unacked_local(rt),
	                  4 - 3); /* max over peers */
	ms_store_read_end(&rt);

	/* A peer that knows more than we hold lags by nothing. */
	{
		ms_peer_vv_entry e[2];
		memcpy(e[0].author, A, MS_PK_LEN);
		e[0].seq = 4;
		memcpy(e[1].author, B, MS_PK_LEN);
		e[1].seq = 6;
		MS_PASS_EB(ms_store_peer_vv_update(s, P1, e, 2, &eb), &eb);
	}
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	ck_assert_uint_eq(ms_store_peer_lag(rt, P1), 0);
	ck_assert_uint_eq(ms_store_unacked_local(rt), 0);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);

	free_ops(bo, 6);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_identity_free(&p1);
	ms_identity_free(&p2);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

typedef struct peer_list {
	ms_peer_rec recs[8];
	size_t n;
} peer_list;

static int on_peer(const ms_peer_rec *p, void *ctx)
{
	peer_list *pl = ctx;

	ck_assert_uint_lt(pl->n, 8);
	pl->recs[pl->n++] = *p;
	return 0;
}

static void list_peers(ms_store *s, peer_list *pl)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	memset(pl, 0, sizeof *pl);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_peer(rt, on_peer, pl, &eb), &eb);
	ms_store_read_end(&rt);
}

START_TEST(test_peer_table)
{
	char *dir = ms_test_tmpdir("syncq-peers");
	ms_identity *a = fix_identity(1), *p1 = fix_identity(11);
	ms_store *s = open_store(dir, a, 0);
	static ms_peer_rec r, got, other;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;
	peer_list pl;

	list_peers(s, &pl);
	ck_assert_uint_eq(pl.n, 0);

	/* A static address nobody has answered on yet. */
	memset(&r, 0, sizeof r);
	r.source = MS_PEER_SRC_STATIC;
	r.link = MS_LINK_STATE_BACKOFF;
	r.naddrs = 1;
	snprintf(r.addrs[0], sizeof r.addrs[0], "tcp://127.0.0.1:7701");
	r.failures = 3;
	r.bo_attempts = 3;
	r.bo_last_delay_ms = 4000;
	r.bo_next_attempt_ms = T0 + 9000;
	snprintf(r.last_error, sizeof r.last_error, "connection refused");
	MS_PASS_EB(ms_store_peer_put(s, &r, &eb), &eb);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_peer_get_addr(rt, "tcp://127.0.0.1:7701", &got,
	                                  &eb),
	           &eb);
	ck_assert_mem_eq(&got, &r, sizeof r);
	MS_FAIL(ms_store_peer_get(rt, ms_identity_pk(p1), &got, &eb),
	        MS_ENOTFOUND);
	ms_store_read_end(&rt);

	/* Identified: keyed by node id, the address record goes. */
	r.has_id = 1;
	memcpy(r.id, ms_identity_pk(p1), MS_PK_LEN);
	r.link = MS_LINK_STATE_LIVE;
	r.link_since_ms = T0 + 10000;
	r.sessions = 1;
	r.naddrs = 2;
	snprintf(r.addrs[1], sizeof r.addrs[1], "tcp://[::1]:7701");
	r.has_summary = 1;
	r.last.start_ms = T0 + 10000;
	r.last.end_ms = T0 + 10250;
	r.last.outbound = 1;
	r.last.received = 10;
	r.last.applied = 7;
	r.last.duplicate = 2;
	r.last.rejected = 1;
	r.last.rejected_by_reason[MS_OPR_SIGNATURE] = 1;
	snprintf(r.last.end_reason, sizeof r.last.end_reason, "bye");
	MS_PASS_EB(ms_store_peer_put(s, &r, &eb), &eb);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_FAIL(ms_store_peer_get_addr(rt, "tcp://127.0.0.1:7701", &got, &eb),
	        MS_ENOTFOUND);
	MS_PASS_EB(ms_store_peer_get(rt, ms_identity_pk(p1), &got, &eb), &eb);
	ck_assert_mem_eq(&got, &r, sizeof r);
	ms_store_read_end(&rt);

	/* Another address-only record, listed after the identified one. */
	memset(&other, 0, sizeof other);
	other.source = MS_PEER_SRC_MDNS;
	other.naddrs = 1;
	snprintf(other.addrs[0], sizeof other.addrs[0], "tcp://10.0.0.9:7700");
	MS_PASS_EB(ms_store_peer_put(s, &other, &eb), &eb);
	list_peers(s, &pl);
	ck_assert_uint_eq(pl.n, 2);
	ck_assert_mem_eq(&pl.recs[0], &r, sizeof r);
	ck_assert_mem_eq(&pl.recs[1], &other, sizeof other);

	/* Persisted: a fresh read-only handle sees the same. */
	ms_store_close(&s);
	{
		ms_store_opts o;
		ms_store_opts_default(&o);
		o.readonly = 1;
		MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	}
	list_peers(s, &pl);
	ck_assert_uint_eq(pl.n, 2);
	ck_assert_mem_eq(&pl.recs[0], &r, sizeof r);
	ms_store_close(&s);
	s = NULL;
	{
		ms_store_opts o;
		ms_store_opts_default(&o);
		MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	}
	MS_PASS_EB(ms_store_peer_del_addr(s, "tcp://10.0.0.9:7700", &eb), &eb);
	MS_PASS_EB(ms_store_peer_del_addr(s, "tcp://10.0.0.9:7700", &eb), &eb);
	list_peers(s, &pl);
	ck_assert_uint_eq(pl.n, 1);

	/* Neither id nor address: refused. */
	memset(&other, 0, sizeof other);
	MS_FAIL(ms_store_peer_put(s, &other, &eb), MS_EINVAL);

	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_DISCOVERED),
	                 "discovered");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_CONNECTING),
	                 "connecting");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_SYNCING), "syncing");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_LIVE), "live");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_BACKOFF), "backoff");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_DOWN), "down");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_LOST), "lost");
	ck_assert_str_eq(ms_link_state_name(MS_LINK_STATE_COUNT_), "unknown");

	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&p1);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

#define MT_AUTHORS 6
#define MT_PER 220 /* ops per author: 1320 in all */

/* A mixed batch: valid ops of several authors (with forks), duplicates,
 * forged signatures, altered bytes, truncated and empty items. */
static size_t mt_batch(fix_op *ops, ms_ingest_item *items,
                       uint8_t (*mangled)[512], ms_identity **who)
{
	size_t n = 0, nops = 0;

	for (int au = 0; au < MT_AUTHORS; au++)
		for (int i = 0; i < MT_PER; i++) {
			char key[16], val[16];
			snprintf(key, sizeof key, "k%d", (au * 7 + i) % 50);
			snprintf(val, sizeof val, "%d.%d", au, i);
			/* every 37th op forks the slot before it */
			uint64_t seq = (uint64_t)i + 1 - (i % 37 == 36);
			fix_make_op_prio(&ops[nops], who[au], MS_OP_PUT,
			                 i % 3 ? MS_PRIO_BACKGROUND
			                       : MS_PRIO_USER,
			                 seq, HLC(i, au), NULL, 0, key, val,
			                 strlen(val));
			nops++;
		}
	for (size_t i = 0; i < nops; i++) {
		items[n++] = (ms_ingest_item){ops[i].buf, ops[i].len};
		if (i % 11 == 5) /* the same op again in the batch */
			items[n++] = (ms_ingest_item){ops[i].buf, ops[i].len};
		if (i % 13 == 7) { /* forged: signature bit flipped */
			uint8_t *m = mangled[i];
			ck_assert_uint_le(ops[i].len, 512);
			memcpy(m, ops[i].buf, ops[i].len);
			m[ops[i].len - 1] ^= 0x01;
			items[n++] = (ms_ingest_item){m, ops[i].len};
		}
		if (i % 17 == 3) { /* altered value: signature fails */
			uint8_t *m = mangled[i];
			memcpy(m, ops[i].buf, ops[i].len);
			m[ops[i].len - 65] ^= 0x20;
			items[n++] = (ms_ingest_item){m, ops[i].len};
		}
		if (i % 19 == 2) /* truncated */
			items[n++] = (ms_ingest_item){ops[i].buf,
			                              ops[i].len / 2};
		if (i % 97 == 0) /* empty */
			items[n++] = (ms_ingest_item){NULL, 0};
	}
	return n;
}

START_TEST(test_two_thread_ingest)
{
	char *d1 = ms_test_tmpdir("syncq-mt1"),
	     *d2 = ms_test_tmpdir("syncq-mt2");
	ms_identity *a = fix_identity(1), *who[MT_AUTHORS];
	static fix_op ops[MT_AUTHORS * MT_PER];
	static ms_ingest_item items[MT_AUTHORS * MT_PER * 3];
	static uint8_t mangled[MT_AUTHORS * MT_PER][512];
	static ms_ingest_result r1[MT_AUTHORS * MT_PER * 3],
		r2[MT_AUTHORS * MT_PER * 3];
	ms_store *s1 = open_store(d1, a, 1), *s2 = open_store(d2, a, 0);
	ms_ingest_totals t1, t2;
	uint8_t v1[MS_HASH_LEN], v2[MS_HASH_LEN], h1[MS_HASH_LEN],
		h2[MS_HASH_LEN];
	ms_errbuf eb;
	size_t n, half;
	uint64_t rejected = 0;

	for (int i = 0; i < MT_AUTHORS; i++)
		who[i] = fix_identity((uint8_t)(40 + i));
	n = mt_batch(ops, items, mangled, who);
	ck_assert_uint_ge(n, 1000);
	/* Two batches each, so the worker is reused for the second. */
	half = n / 2;
	memset(r1, 0xee, sizeof r1);
	memset(r2, 0xee, sizeof r2);
	MS_PASS_EB(ms_store_ingest(s1, items, half, NULL, r1, &t1, &eb), &eb);
	MS_PASS_EB(ms_store_ingest(s2, items, half, NULL, r2, &t2, &eb), &eb);
	ck_assert_mem_eq(&t1, &t2, sizeof t1);
	MS_PASS_EB(ms_store_ingest(s1, items + half, n - half, NULL, r1 + half,
	                           &t1, &eb),
	           &eb);
	MS_PASS_EB(ms_store_ingest(s2, items + half, n - half, NULL, r2 + half,
	                           &t2, &eb),
	           &eb);
	ck_assert_mem_eq(&t1, &t2, sizeof t1);
	/* s2 really split its batches; s1 never started a worker. */
	ck_assert_ptr_nonnull(s2->worker);
	ck_assert_int_eq(s2->worker->started, 1);
	ck_assert_uint_eq(s2->worker->job, 2);
	ck_assert_uint_eq(s2->worker->done, 2);
	ck_assert_ptr_null(s1->worker);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(memcmp(&r1[i], &r2[i], sizeof r1[i]) == 0,
		              "item %zu: status %u/%u reason %u/%u", i,
		              r1[i].status, r2[i].status, r1[i].reason,
		              r2[i].reason);
		rejected += r1[i].status == MS_INGEST_REJECTED;
	}
	/* The mix really is mixed: forged, malformed and forks all there. */
	ck_assert_uint_gt(rejected, 200);
	{
		size_t sig = 0, trunc = 0, dup = 0, forks = 0;
		for (size_t i = 0; i < n; i++) {
			sig += r1[i].reason == MS_OPR_SIGNATURE &&
			       r1[i].status == MS_INGEST_REJECTED;
			trunc += r1[i].reason == MS_OPR_TRUNCATED &&
			         r1[i].status == MS_INGEST_REJECTED;
			dup += r1[i].status == MS_INGEST_DUPLICATE;
			forks += r1[i].fork;
		}
		ck_assert_uint_gt(sig, 100);
		ck_assert_uint_gt(trunc, 50);
		ck_assert_uint_gt(dup, 100);
		ck_assert_uint_eq(forks, MT_AUTHORS * (MT_PER / 37));
	}
	digests(s1, v1, h1);
	digests(s2, v2, h2);
	ck_assert_mem_eq(v1, v2, MS_HASH_LEN);
	ck_assert_mem_eq(h1, h2, MS_HASH_LEN);
	{
		ms_store_rtxn *rt = NULL;
		ms_store_summary sm1, sm2;
		MS_PASS_EB(ms_store_read_begin(s1, &rt, &eb), &eb);
		MS_PASS_EB(ms_store_summary_get(rt, &sm1, &eb), &eb);
		ms_store_read_end(&rt);
		MS_PASS_EB(ms_store_read_begin(s2, &rt, &eb), &eb);
		MS_PASS_EB(ms_store_summary_get(rt, &sm2, &eb), &eb);
		ms_store_read_end(&rt);
		ck_assert_uint_eq(sm1.ops, MT_AUTHORS * MT_PER);
		ck_assert_uint_eq(sm2.ops, sm1.ops);
		ck_assert_uint_eq(sm2.quarantined, sm1.quarantined);
		ck_assert_uint_eq(sm1.quarantined, rejected);
	}
	ck_assert_uint_eq(fix_verify(s2), 0);

	for (size_t i = 0; i < MT_AUTHORS * MT_PER; i++)
		free(ops[i].buf);
	ms_store_close(&s1);
	ms_store_close(&s2);
	ms_identity_free(&a);
	for (int i = 0; i < MT_AUTHORS; i++)
		ms_identity_free(&who[i]);
	ms_test_rmdir(d1);
	ms_test_rmdir(d2);
	free(d1);
	free(d2);
}
END_TEST

/* Raw LMDB edit of the first vv entry: add delta to the 8-byte LE field
 * at off. */
static void tamper_vv(const char *dir, size_t off, int64_t delta)
{
	fix_raw raw;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t rec[ST_VV_LEN];

	fix_raw_begin(&raw, dir, "vv");
	ck_assert_int_eq(mdb_cursor_open(raw.txn, raw.dbi, &c), 0);
	ck_assert_int_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	ck_assert_uint_eq(v.mv_size, ST_VV_LEN);
	memcpy(rec, v.mv_data, ST_VV_LEN);
	ms_put_le64(rec + off, ms_get_le64(rec + off) + (uint64_t)delta);
	v.mv_data = rec;
	ck_assert_int_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
	mdb_cursor_close(c);
	fix_raw_commit(&raw);
}

/* Raw LMDB edit of the first vv entry: swap its setsum with *acc. */
static void swap_vv_acc(const char *dir, uint8_t acc[MS_SETSUM_LEN])
{
	fix_raw raw;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t rec[ST_VV_LEN], old[MS_SETSUM_LEN];

	fix_raw_begin(&raw, dir, "vv");
	ck_assert_int_eq(mdb_cursor_open(raw.txn, raw.dbi, &c), 0);
	ck_assert_int_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	memcpy(rec, v.mv_data, ST_VV_LEN);
	memcpy(old, rec + 16, MS_SETSUM_LEN);
	memcpy(rec + 16, acc, MS_SETSUM_LEN);
	memcpy(acc, old, MS_SETSUM_LEN);
	v.mv_data = rec;
	ck_assert_int_eq(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
	mdb_cursor_close(c);
	fix_raw_commit(&raw);
}

typedef struct fault_log {
	char text[2048];
} fault_log;

static void on_fault(const char *what, void *ctx)
{
	fault_log *fl = ctx;
	size_t l = strlen(fl->text);

	snprintf(fl->text + l, sizeof fl->text - l, "%s\n", what);
}

START_TEST(test_verify_checks_vv_entries)
{
	char *dir = ms_test_tmpdir("syncq-tamper");
	ms_identity *a = fix_identity(1);
	ms_store *s = open_store(dir, a, 0);
	size_t offs[3] = {8, 16, 0}; /* held, acc, seq */
	const char *want[3] = {"holds 4 ops, 3 are held",
	                       "setsum is not a valid group element",
	                       "at seq 4, the log is contiguous to seq 3"};
	uint8_t other[MS_SETSUM_LEN] = {0};
	fault_log fl2 = {{0}};
	uint64_t faults2 = 0;
	ms_errbuf eb;

	for (int i = 0; i < 3; i++)
		MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)"k", 1,
		                           (const uint8_t *)"v", 1, NULL, &eb),
		           &eb);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	for (int i = 0; i < 3; i++) {
		fault_log fl = {{0}};
		uint64_t faults = 0;

		tamper_vv(dir, offs[i], 1);
		MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
		MS_FAIL(ms_store_verify(s, on_fault, &fl, &faults, &eb),
		        MS_ECORRUPT);
		ck_assert_uint_eq(faults, 1);
		ck_assert_msg(strstr(fl.text, want[i]) != NULL, "faults: %s",
		              fl.text);
		ms_store_close(&s);
		tamper_vv(dir, offs[i], -1); /* undone: clean again */
		MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
		ck_assert_uint_eq(fix_verify(s), 0);
		ms_store_close(&s);
	}
	/* A valid setsum of another set (the one of a single made-up id). */
	{
		uint8_t id[MS_HASH_LEN];
		memset(id, 0x5a, sizeof id);
		acc_add(other, id);
	}
	swap_vv_acc(dir, other);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	MS_FAIL(ms_store_verify(s, on_fault, &fl2, &faults2, &eb), MS_ECORRUPT);
	ck_assert_uint_eq(faults2, 1);
	ck_assert_msg(strstr(fl2.text, "setsum does not match the held ops") !=
	                      NULL,
	              "faults: %s", fl2.text);
	ms_store_close(&s);
	swap_vv_acc(dir, other);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("syncq");
	TCase *tc = tcase_create("syncq");

	fix_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_vv_entries_gaps_forks);
	tcase_add_test(tc, test_arrival_feed);
	tcase_add_test(tc, test_lacking_rules);
	tcase_add_test(tc, test_exchange_converges);
	tcase_add_test(tc, test_peer_vv_lag_unacked);
	tcase_add_test(tc, test_peer_table);
	tcase_add_test(tc, test_two_thread_ingest);
	tcase_add_test(tc, test_verify_checks_vv_entries);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
