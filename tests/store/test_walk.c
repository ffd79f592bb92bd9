/*
 * test_walk.c — the walk contract of every ms_store_foreach_* (store.h)
 * against real store files: a visitor that stops early gives MS_OK; a
 * record of the wrong size, or an index naming an op that is not held,
 * planted with raw LMDB, ends the walk with MS_ECORRUPT and
 * "foreach_X: why" in the error buffer, after the visitor has seen the
 * records before it; an LMDB failure comes back as LMDB's error, named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrival.h"
#include "hlc.h"
#include "lacking.h"
#include "ms_test.h"
#include "peers.h"
#include "store_fix.h"
#include "store_int.h" /* white-box: reset the snapshot's LMDB txn */
#include "vector.h"

/* What a visitor counts and when it stops the walk (0 = never). */
typedef struct visits {
	int n;
	int stop_at;
} visits;

static int visit(visits *v)
{
	v->n++;
	return v->stop_at != 0 && v->n >= v->stop_at;
}

static int on_key(const ms_key_state *ks, void *c)
{
	(void)ks;
	return visit(c);
}

static int on_log(const ms_log_entry *e, void *c)
{
	(void)e;
	return visit(c);
}

static int on_vv(const uint8_t author[MS_PK_LEN], uint64_t seq, void *c)
{
	(void)author;
	(void)seq;
	return visit(c);
}

static int on_fork(const uint8_t author[MS_PK_LEN], uint64_t seq,
                   const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *c)
{
	(void)author;
	(void)seq;
	(void)ids;
	(void)nids;
	return visit(c);
}

static int on_quarantine(const ms_quarantine_entry *q, void *c)
{
	(void)q;
	return visit(c);
}

static int on_stat(const char *name, uint64_t value, void *c)
{
	(void)name;
	(void)value;
	return visit(c);
}

static int on_vv_entry(const ms_vv_entry *e, void *c)
{
	(void)e;
	return visit(c);
}

static int on_arrival(uint64_t arrival, const ms_log_entry *e, void *c)
{
	(void)arrival;
	(void)e;
	return visit(c);
}

static int on_peer(const ms_peer_rec *p, void *c)
{
	(void)p;
	return visit(c);
}

/* Every walk, by the name it gives in its errors. */
enum walk {
	W_KEY,
	W_LOG,
	W_VV,
	W_FORK,
	W_QUARANTINE,
	W_STAT,
	W_VV_ENTRY,
	W_ARRIVAL,
	W_PEER,
	W_COUNT_
};
static const char *const walk_name[W_COUNT_] = {
	"foreach_key",      "foreach_log",        "foreach_vv",
	"foreach_fork",     "foreach_quarantine", "foreach_stat",
	"foreach_vv_entry", "foreach_arrival",    "foreach_peer",
};

static ms_err walk(ms_store_rtxn *rt, enum walk w, visits *v, ms_errbuf *eb)
{
	switch (w) {
	case W_KEY:
		return ms_store_foreach_key(rt, NULL, 0, on_key, v, eb);
	case W_LOG:
		return ms_store_foreach_log(rt, NULL, 0, on_log, v, eb);
	case W_VV:
		return ms_store_foreach_vv(rt, on_vv, v, eb);
	case W_FORK:
		return ms_store_foreach_fork(rt, on_fork, v, eb);
	case W_QUARANTINE:
		return ms_store_foreach_quarantine(rt, on_quarantine, v, eb);
	case W_STAT:
		return ms_store_foreach_stat(rt, on_stat, v, eb);
	case W_VV_ENTRY:
		return ms_store_foreach_vv_entry(rt, on_vv_entry, v, eb);
	case W_ARRIVAL:
		return ms_store_foreach_arrival(rt, 0, on_arrival, v, eb);
	case W_PEER:
		return ms_store_foreach_peer(rt, on_peer, v, eb);
	case W_COUNT_:
		break;
	}
	ck_abort_msg("no walk %d", (int)w);
	return MS_EINVAL;
}

/* Each test's store (a checked fixture: made and removed around it). */
static char *dir;
static ms_identity *a, *b;
static ms_store *s;

/*
 * A store with two records or more in every db: two authors (a: three
 * keys; b: two forked slots), two quarantined inputs, two peer records,
 * stats.
 */
static void setup(void)
{
	fix_op f[4];
	ms_ingest_item items[6];
	uint8_t junk[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	ms_ingest_totals tot;
	ms_peer_rec p;
	ms_errbuf eb;

	dir = ms_test_tmpdir("walk");
	a = fix_identity(1);
	b = fix_identity(2);
	s = fix_store(dir, a, NULL);

	for (int i = 0; i < 3; i++) {
		char key[4] = {'k', (char)('1' + i), 0, 0};
		MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)key, 2,
		                           (const uint8_t *)"v", 1, NULL, &eb),
		           &eb);
	}
	/* b's seqs 1 and 2, each written twice: two forked slots. */
	for (int i = 0; i < 4; i++) {
		char val[2] = {(char)('a' + i), 0};
		fix_make_op(&f[i], b, MS_OP_PUT, (uint64_t)i / 2 + 1,
		            MS_HLC_MAKE(1767225600000ull, (uint64_t)i), NULL, 0,
		            "kb", val, 1);
		items[i] = (ms_ingest_item){f[i].buf, f[i].len};
	}
	items[4] = (ms_ingest_item){junk, sizeof junk};
	items[5] = (ms_ingest_item){junk, sizeof junk - 1};
	MS_PASS_EB(ms_store_ingest(s, items, 6, NULL, NULL, &tot, &eb), &eb);
	ck_assert_uint_eq(tot.applied, 4);
	ck_assert_uint_eq(tot.forks, 2);
	ck_assert_uint_eq(tot.rejected, 2);
	for (int i = 0; i < 4; i++)
		free(f[i].buf);
	for (uint8_t i = 0; i < 2; i++) {
		memset(&p, 0, sizeof p);
		p.has_id = 1;
		memset(p.id, 0x40 + i, MS_PK_LEN);
		MS_PASS_EB(ms_store_peer_put(s, &p, &eb), &eb);
	}
}

static void teardown(void)
{
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_identity_free(&b);
	ms_test_rmdir(dir);
	free(dir);
	dir = NULL;
}

START_TEST(test_stop_early_is_ok)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	for (int w = 0; w < W_COUNT_; w++) {
		visits all = {0, 0}, one = {0, 1};

		/* every db holds at least two records to walk */
		MS_PASS_EB(walk(rt, (enum walk)w, &all, &eb), &eb);
		ck_assert_msg(all.n >= 2, "%s visited %d", walk_name[w], all.n);
		ms_errbuf_clear(&eb);
		MS_PASS_EB(walk(rt, (enum walk)w, &one, &eb), &eb);
		ck_assert_msg(one.n == 1, "%s visited %d after a stop",
		              walk_name[w], one.n);
		ck_assert_str_eq(eb.msg, "");
	}
	/* A range that ends (one author's log) is not an error either. */
	{
		visits v = {0, 0};
		MS_PASS_EB(ms_store_foreach_log(rt, ms_identity_pk(a), 1,
		                                on_log, &v, &eb),
		           &eb);
		ck_assert_int_eq(v.n, 2);
	}
	ms_store_read_end(&rt);
}
END_TEST

/* One planted record and what the walk over its db must say. */
typedef struct plant {
	const char *db;
	uint8_t key[64];
	size_t klen;
	uint8_t val[64];
	size_t vlen;
	enum walk w;
	const char *why; /* after "foreach_X: "; NULL: the peer record's */
} plant;

/* Keys that sort after every real record of their db. */
#define HI32                                                                \
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,   \
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, \
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, \
		0xff
#define AB32                                                                \
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,   \
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, \
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, \
		0xab

static const plant plants[] = {
	{"vv",
         {HI32},
         32,
         {1, 2, 3},
         12,
         W_VV,
         "vv record of 12 bytes, want 48"},
	{"vv",
         {HI32},
         32,
         {1, 2, 3},
         12,
         W_VV_ENTRY,
         "vv record of 12 bytes, want 48"},
	{"vv", {HI32}, 31, {0}, 48, W_VV_ENTRY, "vv key of 31 bytes, want 32"},
	{"log",
         {HI32, 0, 0, 0, 0, 0, 0, 0, 1},
         40,
         {1, 2, 3, 4, 5},
         5,
         W_LOG,
         "log record of 5 bytes, want 32"},
	{"log",
         {HI32, 0, 0, 0, 0, 0, 0, 0, 1},
         40,
         {AB32},
         32,
         W_LOG,
         "op abababababababab is not held (run verify)"},
	{"log",
         {HI32, 0, 0},
         34,
         {AB32},
         32,
         W_LOG,
         "log key of 34 bytes, want 40"},
	{"arrival",
         {0x7f, 0, 0, 0, 0, 0, 0, 1},
         8,
         {AB32},
         32,
         W_ARRIVAL,
         "op abababababababab is not held (run verify)"},
	{"arrival",
         {0x7f, 0, 0, 0, 0, 0, 0, 1},
         8,
         {1, 2, 3},
         3,
         W_ARRIVAL,
         "arrival record of 3 bytes, want 32"},
	{"forks",
         {HI32, 0, 0, 0, 0, 0, 0, 0, 1},
         40,
         {1, 2, 3, 4, 5, 6, 7},
         7,
         W_FORK,
         "forks record of 7 bytes, want 32"},
	{"quarantine",
         {0x7f, 0, 0, 0, 0, 0, 0, 1},
         8,
         {1},
         10,
         W_QUARANTINE,
         "quarantine record of 10 bytes, want 50 or more"},
	{"stats",
         {'z', 'z'},
         2,
         {1, 2, 3},
         3,
         W_STAT,
         "stats record of 3 bytes, want 8"},
	{"keys",
         {0xff, 0xff},
         2,
         {1, 2, 3, 4},
         4,
         W_KEY,
         "keys record of 4 bytes is malformed"},
	{"peers", {0x01, HI32}, 33, {1, 2, 3}, 9, W_PEER, NULL},
};

START_TEST(test_bad_record_fails)
{
	int before[W_COUNT_];
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	/* How many records each walk visits on the clean store. */
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	for (int w = 0; w < W_COUNT_; w++) {
		visits v = {0, 0};
		MS_PASS_EB(walk(rt, (enum walk)w, &v, &eb), &eb);
		before[w] = v.n;
	}
	ms_store_read_end(&rt);
	ms_store_close(&s);

	for (size_t i = 0; i < sizeof plants / sizeof plants[0]; i++) {
		const plant *p = &plants[i];
		char why[160], want[200];
		visits v = {0, 0};

		if (p->why != NULL)
			snprintf(why, sizeof why, "%s", p->why);
		else
			snprintf(why, sizeof why,
			         "peer record of 9 bytes (version "
			         "1), want %zu (version 1)",
			         1 + sizeof(ms_peer_rec));
		snprintf(want, sizeof want, "%s: %s", walk_name[p->w], why);
		fix_raw_put(dir, p->db, p->key, p->klen, p->val, p->vlen);
		MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
		MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
		ms_errbuf_clear(&eb);
		MS_FAIL(walk(rt, p->w, &v, &eb), MS_ECORRUPT);
		ck_assert_int_eq(eb.code, MS_ECORRUPT);
		ck_assert_str_eq(eb.msg, want);
		/* Everything before the damage was visited: every planted
		 * key sorts after the db's real records. */
		ck_assert_int_eq(v.n, before[p->w]);
		ms_store_read_end(&rt);
		ms_store_close(&s);
		fix_raw_put(dir, p->db, p->key, p->klen, NULL, 0);
	}

	/* Callers that walk inside put their own name first. */
	fix_raw_put(dir, "vv", plants[0].key, 32, plants[0].val, 12);
	fix_raw_put(dir, "keys", plants[11].key, 2, plants[11].val, 4);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	{
		ms_sync_item *items = NULL;
		ms_store_summary sum;
		ms_vv_entry e;
		size_t n = 0;

		MS_FAIL(ms_store_lacking(rt, NULL, 0, &items, &n, &eb),
		        MS_ECORRUPT);
		ck_assert_str_eq(eb.msg,
		                 "lacking: vv record of 12 bytes, want 48");
		ck_assert_ptr_null(items);
		MS_FAIL(ms_store_vv_entry_get(rt, plants[0].key, &e, &eb),
		        MS_ECORRUPT);
		ck_assert_str_eq(eb.msg,
		                 "vv entry: vv record of 12 bytes, want 48");
		MS_FAIL(ms_store_summary_get(rt, &sum, &eb), MS_ECORRUPT);
		ck_assert_str_eq(eb.msg,
		                 "summary: foreach_key: keys record of 4 "
		                 "bytes is malformed");
	}
	ms_store_read_end(&rt);
}
END_TEST

START_TEST(test_lmdb_failure_is_named)
{
	for (int w = 0; w < W_COUNT_; w++) {
		ms_store_rtxn *rt = NULL;
		MDB_cursor *c = NULL;
		visits v = {0, 0};
		char want[200];
		ms_errbuf eb;
		int rc;

		/* A reset snapshot is one LMDB refuses to open a cursor in
		 * (0.9.24 says EINVAL); the walk must pass on what LMDB says. */
		MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
		mdb_txn_reset(rt->txn);
		rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_META], &c);
		ck_assert_int_ne(rc, 0);
		snprintf(want, sizeof want, "%s: mdb_cursor_open: %s",
		         walk_name[w], mdb_strerror(rc));
		MS_FAIL(walk(rt, (enum walk)w, &v, &eb), MS_ESTORE);
		ck_assert_str_eq(eb.msg, want);
		ck_assert_int_eq(v.n, 0);
		ms_store_read_end(&rt);
	}
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("walk");
	TCase *tc = tcase_create("walk");

	fix_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stop_early_is_ok);
	tcase_add_test(tc, test_bad_record_fails);
	tcase_add_test(tc, test_lmdb_failure_is_named);
	suite_add_tcase(suite, tc);
	return ms_test_run(suite);
}
