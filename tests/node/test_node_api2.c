/*
 * test_node_api2.c — the second half of the embedding API (node/meshsync.h)
 * on real data directories: prefix scans (after, GET_ALL, stopping,
 * paging, deleted keys, siblings, counters), resolving siblings with named
 * parents (and MS_ECONFLICT when a head arrived after the read), the
 * changes feed (cursor, max, stopping, local and remote ops, across a
 * reopen), the watch descriptor firing for a write by another process
 * (`meshsync-node put`), the node's status figures and the peer records.
 * Foreign ops are signed here by identities of the test's own and
 * ingested, as a daemon would store them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlc.h"
#include "meshsync.h"
#include "ms_test.h"
#include "node_int.h"
#include "op.h"
#include "peer_vv.h"
#include "peers.h"
#include "runfiles.h"

static char *tmp;

#define MAXV 8
#define MAXE 16

/* --- helpers ------------------------------------------------------------ */

/* A node in tmp/name with docs/ under mv and counter/ under counter. */
static ms_node *policy_node(const char *name)
{
	char *dir = ms_test_pjoin(tmp, name),
	     *conf = ms_test_pjoin(dir, "meshsync.conf");
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ms_test_write_file(conf, "[policy]\ncounter/ = counter\ndocs/ = mv\n",
	                   0600);
	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	free(conf);
	free(dir);
	return n;
}

static void put(ms_node *n, const char *key, const char *val,
                ms_node_write_result *res)
{
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_node_put(n, key, strlen(key), val, strlen(val), 0, res,
	                       &eb),
	           &eb);
}

static void del(ms_node *n, const char *key)
{
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_node_del(n, key, strlen(key), 0, NULL, &eb), &eb);
}

/* Ingest a PUT of key by the identity of seed fill (seq as given, no
 * parents, an hour old: concurrent with what the node holds, and never
 * the lww winner over a local write); its id into id (may be NULL). */
static void ingest_foreign(ms_node *n, uint8_t fill, uint64_t seq,
                           const char *key, const char *val,
                           uint8_t id[MS_NODE_OP_ID_LEN])
{
	ms_identity *other = ms_test_identity(fill);
	ms_errbuf eb = {0};
	uint8_t buf[1024];
	size_t len = 0;
	ms_op op = {0};
	ms_ingest_item item;
	ms_ingest_result res;

	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(other), MS_PK_LEN);
	op.seq = seq;
	op.hlc = MS_HLC_MAKE(ms_hlc_wall_ms() - 3600 * 1000, seq);
	op.key = (const uint8_t *)key;
	op.key_len = (uint16_t)strlen(key);
	op.value = (const uint8_t *)val;
	op.value_len = (uint32_t)strlen(val);
	MS_PASS_EB(ms_op_sign_encode(&op, other, n->netid, buf, sizeof buf,
	                             &len, &eb),
	           &eb);
	item.buf = buf;
	item.len = len;
	MS_PASS_EB(ms_store_ingest(n->store, &item, 1, NULL, &res, NULL, &eb),
	           &eb);
	ck_assert_int_eq(res.status, MS_INGEST_APPLIED);
	if (id != NULL)
		memcpy(id, res.id, MS_NODE_OP_ID_LEN);
	ms_identity_free(&other);
}

/* What a scan hands out, copied. */
typedef struct entry {
	char key[64];
	size_t nvalues;
	char val[MAXV][32];
	int vdeleted[MAXV], winner[MAXV];
	int has_id[MAXV], has_author[MAXV];
	uint64_t seq[MAXV];
	int conflict, deleted;
} entry;

typedef struct scanned {
	size_t n;
	entry e[MAXE];
	size_t stop_after; /* 0: never stop */
} scanned;

static int on_entry(const ms_node_entry *e, void *ctx)
{
	scanned *s = ctx;
	entry *x;

	ck_assert_uint_lt(s->n, MAXE);
	x = &s->e[s->n++];
	ck_assert_uint_lt(e->klen, sizeof x->key);
	memcpy(x->key, e->key, e->klen);
	x->key[e->klen] = '\0';
	ck_assert_uint_le(e->nvalues, MAXV);
	x->nvalues = e->nvalues;
	for (size_t i = 0; i < e->nvalues; i++) {
		const ms_node_value *v = &e->values[i];
		ck_assert_uint_lt(v->len, sizeof x->val[i]);
		memcpy(x->val[i], v->data, v->len);
		x->val[i][v->len] = '\0';
		x->vdeleted[i] = v->deleted;
		x->winner[i] = v->winner;
		x->has_id[i] = v->id != NULL;
		x->has_author[i] = v->author != NULL;
		x->seq[i] = v->seq;
	}
	x->conflict = e->conflict;
	x->deleted = e->deleted;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static ms_err scan(ms_node *n, const char *prefix, const char *after,
                   unsigned flags, scanned *s, ms_errbuf *eb)
{
	size_t stop = s->stop_after;

	memset(s, 0, sizeof *s);
	s->stop_after = stop;
	return ms_node_scan(n, prefix, prefix ? strlen(prefix) : 0, after,
	                    after ? strlen(after) : 0, flags, on_entry, s, eb);
}

/* "k1,k2,..." of a scan, for one assertion per scan. */
static const char *keys_of(const scanned *s, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t i = 0; i < s->n; i++)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s",
		         i ? "," : "", s->e[i].key);
	return buf;
}

/* The heads of a key (GET_ALL): their ids and values. */
typedef struct heads {
	size_t n;
	uint8_t id[MAXV][MS_NODE_OP_ID_LEN];
	char val[MAXV][32];
	int deleted[MAXV];
} heads;

static int on_head(const ms_node_value *v, void *ctx)
{
	heads *h = ctx;

	ck_assert_uint_lt(h->n, MAXV);
	ck_assert_ptr_nonnull(v->id);
	memcpy(h->id[h->n], v->id, MS_NODE_OP_ID_LEN);
	ck_assert_uint_lt(v->len, sizeof h->val[0]);
	memcpy(h->val[h->n], v->data, v->len);
	h->val[h->n][v->len] = '\0';
	h->deleted[h->n] = v->deleted;
	h->n++;
	return 0;
}

static void read_heads(ms_node *n, const char *key, heads *h)
{
	ms_errbuf eb = {0};

	memset(h, 0, sizeof *h);
	MS_PASS_EB(ms_node_get(n, key, strlen(key), MS_NODE_GET_ALL, on_head, h,
	                       &eb),
	           &eb);
}

static ms_node_status status(ms_node *n)
{
	ms_node_status st;
	ms_errbuf eb = {0};

	memset(&st, 0xa5, sizeof st);
	MS_PASS_EB(ms_node_status_get(n, &st, &eb), &eb);
	return st;
}

/* --- scan ---------------------------------------------------------------- */

START_TEST(scan_prefix_after_and_flags)
{
	ms_node *n = policy_node("scan");
	ms_errbuf eb = {0};
	ms_node_write_result r1;
	scanned s = {0};
	char buf[256];

	put(n, "a/1", "one", &r1);
	put(n, "a/2", "two", NULL);
	put(n, "a/3", "three", NULL);
	put(n, "a", "root", NULL);
	put(n, "b/1", "bee", NULL);
	del(n, "a/2");

	/* deleted keys are skipped without flags */
	MS_PASS_EB(scan(n, "a/", NULL, 0, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/1,a/3");
	ck_assert_uint_eq(s.e[0].nvalues, 1);
	ck_assert_str_eq(s.e[0].val[0], "one");
	ck_assert_uint_eq(s.e[0].seq[0], r1.seq);
	ck_assert_int_eq(s.e[0].has_id[0], 1);
	ck_assert_int_eq(s.e[0].winner[0], 1);
	ck_assert_int_eq(s.e[0].conflict, 0);
	ck_assert_int_eq(s.e[0].deleted, 0);

	/* GET_ALL: every key ever written, the delete flagged */
	MS_PASS_EB(scan(n, "a/", NULL, MS_NODE_GET_ALL, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/1,a/2,a/3");
	ck_assert_int_eq(s.e[1].deleted, 1);
	ck_assert_uint_eq(s.e[1].nvalues, 1);
	ck_assert_int_eq(s.e[1].vdeleted[0], 1);
	ck_assert_int_eq(s.e[0].deleted, 0);

	/* plen 0: every key, in byte order */
	MS_PASS_EB(scan(n, NULL, NULL, 0, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a,a/1,a/3,b/1");

	/* after: strictly after that key, whether it exists or not */
	MS_PASS_EB(scan(n, "a/", "a/1", 0, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/3");
	MS_PASS_EB(scan(n, "a/", "a/2", MS_NODE_GET_ALL, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/3");
	MS_PASS_EB(scan(n, "a/", "a/15", 0, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/3");
	MS_PASS_EB(scan(n, "a/", "0", 0, &s, &eb), &eb); /* before the prefix */
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/1,a/3");
	MS_PASS_EB(scan(n, "a/", "a/3", 0, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 0);
	MS_PASS_EB(scan(n, NULL, "a/3", 0, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "b/1");
	MS_PASS_EB(scan(n, "z", NULL, 0, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 0);
	MS_PASS_EB(scan(n, "a/1", NULL, 0, &s, &eb), &eb); /* prefix = key */
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a/1");

	/* the callback stops the scan: MS_OK, nothing more handed */
	s.stop_after = 1;
	MS_PASS_EB(scan(n, NULL, NULL, 0, &s, &eb), &eb);
	ck_assert_str_eq(keys_of(&s, buf, sizeof buf), "a");

	/* errors */
	MS_FAIL(scan(n, NULL, NULL, 4, &s, &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "scan: unknown flags"));
	MS_FAIL(ms_node_scan(n, "a", 1, NULL, 0, 0, NULL, NULL, &eb),
	        MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "scan"));
	ms_node_close(&n);
}
END_TEST

/* Paging: stop after each page and start again after the last key seen;
 * the pages together are the whole scan, once each. */
START_TEST(scan_pages)
{
	ms_node *n = policy_node("pages");
	ms_errbuf eb = {0};
	char key[16], last[64] = "", all[512] = "", buf[256];
	scanned s = {0};
	int pages = 0;

	for (int i = 0; i < 11; i++) {
		snprintf(key, sizeof key, "p/%02d", i);
		put(n, key, "v", NULL);
	}
	put(n, "q", "outside", NULL);
	for (;;) {
		ck_assert_int_lt(pages, 20);
		s.stop_after = 3;
		MS_PASS_EB(scan(n, "p/", pages ? last : NULL, 0, &s, &eb), &eb);
		if (s.n == 0)
			break;
		pages++;
		snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s",
		         all[0] ? "," : "", keys_of(&s, buf, sizeof buf));
		snprintf(last, sizeof last, "%s", s.e[s.n - 1].key);
	}
	ck_assert_int_eq(pages, 4);
	ck_assert_str_eq(all, "p/00,p/01,p/02,p/03,p/04,p/05,p/06,p/07,p/08,"
	                      "p/09,p/10");
	ms_node_close(&n);
}
END_TEST

/* Keys longer than the store's inline key part (440 bytes) that share it
 * sort among themselves by hash: paging by the last key seen must still
 * visit each exactly once. */
typedef struct long_keys {
	size_t n;
	char last[600];
	size_t lastlen;
	int seen[6];
} long_keys;

static int on_long(const ms_node_entry *e, void *ctx)
{
	long_keys *lk = ctx;
	const char *k = e->key;

	ck_assert_uint_eq(e->klen, 500);
	ck_assert(k[499] >= '0' && k[499] <= '5');
	lk->seen[k[499] - '0']++;
	memcpy(lk->last, e->key, e->klen);
	lk->lastlen = e->klen;
	return ++lk->n == 2; /* pages of two */
}

START_TEST(scan_pages_long_keys)
{
	ms_node *n = policy_node("long");
	ms_errbuf eb = {0};
	long_keys lk;
	char key[500];
	int pages = 0;

	memset(&lk, 0, sizeof lk);
	memset(key, 'L', sizeof key);
	for (int i = 0; i < 6; i++) {
		key[499] = (char)('0' + i);
		MS_PASS_EB(ms_node_put(n, key, sizeof key, "v", 1, 0, NULL,
		                       &eb),
		           &eb);
	}
	for (;;) {
		ck_assert_int_lt(pages, 10);
		lk.n = 0;
		MS_PASS_EB(ms_node_scan(n, "LLL", 3, pages ? lk.last : NULL,
		                        lk.lastlen, 0, on_long, &lk, &eb),
		           &eb);
		if (lk.n == 0)
			break;
		pages++;
	}
	ck_assert_int_eq(pages, 3);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(lk.seen[i], 1);
	ms_node_close(&n);
}
END_TEST

START_TEST(scan_siblings_and_counters)
{
	ms_node *n = policy_node("sib");
	ms_errbuf eb = {0};
	scanned s = {0};

	put(n, "docs/x", "mine", NULL);
	ingest_foreign(n, 0x41, 1, "docs/x", "theirs", NULL);
	put(n, "lww", "mine", NULL);
	ingest_foreign(n, 0x41, 2, "lww", "theirs", NULL);
	put(n, "counter/c", "5", NULL);
	put(n, "counter/c", "3", NULL);

	MS_PASS_EB(scan(n, "docs/", NULL, 0, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.e[0].nvalues, 2); /* mv: both siblings */
	ck_assert_str_eq(s.e[0].val[0], "mine");
	ck_assert_str_eq(s.e[0].val[1], "theirs");
	ck_assert_int_eq(s.e[0].conflict, 1);

	MS_PASS_EB(scan(n, "lww", NULL, 0, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.e[0].nvalues, 1); /* lww: the winner */
	ck_assert_str_eq(s.e[0].val[0], "mine");
	ck_assert_int_eq(s.e[0].conflict, 1);
	MS_PASS_EB(scan(n, "lww", NULL, MS_NODE_GET_ALL, &s, &eb), &eb);
	ck_assert_uint_eq(s.e[0].nvalues, 2);
	ck_assert_int_eq(s.e[0].winner[0], 1);
	ck_assert_int_eq(s.e[0].winner[1], 0);
	ck_assert_str_eq(s.e[0].val[1], "theirs");

	/* counter: the sum as text, no op behind it; GET_ALL the deltas */
	MS_PASS_EB(scan(n, "counter/", NULL, 0, &s, &eb), &eb);
	ck_assert_uint_eq(s.e[0].nvalues, 1);
	ck_assert_str_eq(s.e[0].val[0], "8");
	ck_assert_int_eq(s.e[0].has_id[0], 0);
	ck_assert_int_eq(s.e[0].has_author[0], 0);
	ck_assert_int_eq(s.e[0].conflict, 0);
	MS_PASS_EB(scan(n, "counter/", NULL, MS_NODE_GET_ALL, &s, &eb), &eb);
	ck_assert_uint_eq(s.e[0].nvalues, 1); /* the second names the first */
	ck_assert_str_eq(s.e[0].val[0], "3");
	ck_assert_int_eq(s.e[0].has_id[0], 1);
	ms_node_close(&n);
}
END_TEST

/* ms_node_value.id: the op id a write handed back; NULL for a sum. */
static int first_id(const ms_node_value *v, void *ctx)
{
	uint8_t *out = ctx;

	if (v->id == NULL)
		memset(out, 0, MS_NODE_OP_ID_LEN);
	else
		memcpy(out, v->id, MS_NODE_OP_ID_LEN);
	out[MS_NODE_OP_ID_LEN] = v->id != NULL;
	return 1;
}

START_TEST(get_hands_op_ids)
{
	ms_node *n = policy_node("ids");
	ms_errbuf eb = {0};
	ms_node_write_result r;
	uint8_t id[MS_NODE_OP_ID_LEN + 1];

	put(n, "k", "v", &r);
	MS_PASS_EB(ms_node_get(n, "k", 1, 0, first_id, id, &eb), &eb);
	ck_assert_int_eq(id[MS_NODE_OP_ID_LEN], 1);
	ck_assert_mem_eq(id, r.id, MS_NODE_OP_ID_LEN);
	put(n, "counter/c", "2", &r);
	MS_PASS_EB(ms_node_get(n, "counter/c", 9, 0, first_id, id, &eb), &eb);
	ck_assert_int_eq(id[MS_NODE_OP_ID_LEN], 0);
	MS_PASS_EB(ms_node_get(n, "counter/c", 9, MS_NODE_GET_ALL, first_id, id,
	                       &eb),
	           &eb);
	ck_assert_int_eq(id[MS_NODE_OP_ID_LEN], 1);
	ck_assert_mem_eq(id, r.id, MS_NODE_OP_ID_LEN);
	ms_node_close(&n);
}
END_TEST

/* --- resolve ------------------------------------------------------------- */

/* 1 when the op id's parents are exactly the n ids at want. */
static int parents_are(ms_node *n, const uint8_t id[MS_NODE_OP_ID_LEN],
                       const uint8_t (*want)[MS_NODE_OP_ID_LEN], size_t nw)
{
	ms_store_rtxn *rt = NULL;
	ms_log_entry le;
	ms_errbuf eb = {0};
	int ok;

	MS_PASS_EB(ms_store_read_begin(n->store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_get_op(rt, id, &le, &eb), &eb);
	ok = le.op.nparents == nw;
	for (size_t i = 0; ok && i < nw; i++) {
		int found = 0;
		for (size_t j = 0; j < le.op.nparents; j++)
			found |= memcmp(le.op.parents + j * MS_HASH_LEN,
			                want[i], MS_HASH_LEN) == 0;
		ok = found;
	}
	ms_store_read_end(&rt);
	return ok;
}

START_TEST(resolve_siblings)
{
	ms_node *n = policy_node("resolve");
	ms_errbuf eb = {0};
	ms_node_write_result r = {0}, before;
	heads h, after;
	ms_node_status st;
	uint8_t sib[2][MS_NODE_OP_ID_LEN];

	put(n, "docs/r", "mine", NULL);
	ingest_foreign(n, 0x51, 1, "docs/r", "theirs", NULL);
	read_heads(n, "docs/r", &h);
	ck_assert_uint_eq(h.n, 2);
	/* named in the other order: any order is the same set */
	memcpy(sib[0], h.id[1], MS_NODE_OP_ID_LEN);
	memcpy(sib[1], h.id[0], MS_NODE_OP_ID_LEN);
	MS_PASS_EB(ms_node_resolve(n, "docs/r", 6, "merged", 6,
	                           (const uint8_t(*)[MS_NODE_OP_ID_LEN])sib, 2,
	                           0, &r, &eb),
	           &eb);
	read_heads(n, "docs/r", &after);
	ck_assert_uint_eq(after.n, 1);
	ck_assert_str_eq(after.val[0], "merged");
	ck_assert_mem_eq(after.id[0], r.id, MS_NODE_OP_ID_LEN);
	ck_assert_int_eq(parents_are(n, r.id,
	                             (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id,
	                             2),
	                 1);
	ck_assert_uint_eq(r.seq, 2);

	/* a delete that resolves: one head, a delete */
	ingest_foreign(n, 0x51, 2, "docs/r", "again", NULL);
	read_heads(n, "docs/r", &h);
	ck_assert_uint_eq(h.n, 2);
	MS_PASS_EB(ms_node_resolve(n, "docs/r", 6, NULL, 0,
	                           (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 2,
	                           MS_NODE_RESOLVE_DEL | MS_NODE_PUT_BACKGROUND,
	                           &r, &eb),
	           &eb);
	read_heads(n, "docs/r", &after);
	ck_assert_uint_eq(after.n, 1);
	ck_assert_int_eq(after.deleted[0], 1);
	ck_assert_int_eq(parents_are(n, r.id,
	                             (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id,
	                             2),
	                 1);

	/* a single head may be resolved too: an ordinary write that looked */
	put(n, "one", "v1", NULL);
	read_heads(n, "one", &h);
	MS_PASS_EB(ms_node_resolve(n, "one", 3, "v2", 2,
	                           (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 1,
	                           0, NULL, &eb),
	           &eb);
	read_heads(n, "one", &after);
	ck_assert_str_eq(after.val[0], "v2");

	/* a head arrives after the read: refused, nothing written */
	put(n, "k2", "mine", NULL);
	ingest_foreign(n, 0x52, 1, "k2", "theirs", NULL);
	read_heads(n, "k2", &h);
	ck_assert_uint_eq(h.n, 2);
	ingest_foreign(n, 0x53, 1, "k2", "late", NULL);
	st = status(n);
	memset(&before, 0x5a, sizeof before);
	r = before;
	MS_FAIL(ms_node_resolve(n, "k2", 2, "merged", 6,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 2, 0,
	                        &r, &eb),
	        MS_ECONFLICT);
	ck_assert_msg(strstr(eb.msg, "resolve: k2 has 3 heads now") != NULL &&
	                      strstr(eb.msg, "read them again") != NULL,
	              "message: %s", eb.msg);
	ck_assert_mem_eq(&r, &before, sizeof r); /* res untouched */
	ck_assert_uint_eq(status(n).local_seq, st.local_seq);
	ck_assert_uint_eq(status(n).ops, st.ops);
	read_heads(n, "k2", &after);
	ck_assert_uint_eq(after.n, 3);

	/* naming fewer than the heads, or an id that is not one */
	MS_FAIL(ms_node_resolve(n, "k2", 2, "x", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 1, 0,
	                        NULL, &eb),
	        MS_ECONFLICT);
	read_heads(n, "k2", &after);
	memset(after.id[2], 0x77, MS_NODE_OP_ID_LEN);
	MS_FAIL(ms_node_resolve(n, "k2", 2, "x", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])after.id,
	                        3, 0, NULL, &eb),
	        MS_ECONFLICT);
	/* read again and merge them all: accepted */
	read_heads(n, "k2", &after);
	MS_PASS_EB(ms_node_resolve(n, "k2", 2, "all", 3,
	                           (const uint8_t(*)[MS_NODE_OP_ID_LEN])
	                                   after.id,
	                           3, 0, NULL, &eb),
	           &eb);
	read_heads(n, "k2", &h);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_str_eq(h.val[0], "all");
	ms_node_close(&n);
}
END_TEST

START_TEST(resolve_errors)
{
	ms_node *n = policy_node("resolve_err");
	ms_errbuf eb = {0};
	uint8_t ids[MS_NODE_RESOLVE_MAX + 1][MS_NODE_OP_ID_LEN];
	heads h;

	memset(ids, 0, sizeof ids);
	for (size_t i = 0; i <= MS_NODE_RESOLVE_MAX; i++)
		ids[i][0] = (uint8_t)i, ids[i][1] = (uint8_t)(i >> 8);
	MS_FAIL(ms_node_resolve(n, "never", 5, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])ids, 1, 0,
	                        NULL, &eb),
	        MS_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(eb.msg, "resolve: no such key"));

	put(n, "k", "v", NULL);
	read_heads(n, "k", &h);
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 0, 0,
	                        NULL, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1, NULL, 1, 0, NULL, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])ids,
	                        MS_NODE_RESOLVE_MAX + 1, 0, NULL, &eb),
	        MS_EINVAL);
	/* more than one op can name */
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])ids,
	                        MS_OP_MAX_PARENTS + 1, 0, NULL, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 1,
	                        0x10, NULL, &eb),
	        MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "unknown flags"));
	MS_FAIL(ms_node_resolve(n, "", 0, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 1, 0,
	                        NULL, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 1,
	                        MS_NODE_RESOLVE_DEL, NULL, &eb),
	        MS_EINVAL);
	/* the same id twice is not two heads */
	memcpy(ids[0], h.id[0], MS_NODE_OP_ID_LEN);
	memcpy(ids[1], h.id[0], MS_NODE_OP_ID_LEN);
	MS_FAIL(ms_node_resolve(n, "k", 1, "v", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])ids, 2, 0,
	                        NULL, &eb),
	        MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "named twice"));

	put(n, "counter/c", "1", NULL);
	read_heads(n, "counter/c", &h);
	MS_FAIL(ms_node_resolve(n, "counter/c", 9, "2", 1,
	                        (const uint8_t(*)[MS_NODE_OP_ID_LEN])h.id, 1, 0,
	                        NULL, &eb),
	        MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "counter"));
	/* nothing above was written */
	ck_assert_uint_eq(status(n).local_seq, 2);
	ms_node_close(&n);
}
END_TEST

/* --- changes ------------------------------------------------------------- */

typedef struct change {
	uint64_t cursor;
	char key[32];
	uint8_t id[MS_NODE_OP_ID_LEN];
	uint64_t seq;
	int deleted, local, background;
} change;

typedef struct changes {
	size_t n;
	change c[MAXE];
	size_t stop_after;
} changes;

static int on_change(const ms_node_change *c, void *ctx)
{
	changes *s = ctx;
	change *x;

	ck_assert_uint_lt(s->n, MAXE);
	x = &s->c[s->n++];
	x->cursor = c->cursor;
	ck_assert_uint_lt(c->klen, sizeof x->key);
	memcpy(x->key, c->key, c->klen);
	x->key[c->klen] = '\0';
	memcpy(x->id, c->id, MS_NODE_OP_ID_LEN);
	ck_assert_ptr_nonnull(c->author);
	x->seq = c->seq;
	x->deleted = c->deleted;
	x->local = c->local;
	x->background = c->background;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static uint64_t read_changes(ms_node *n, uint64_t cursor, size_t max,
                             changes *s)
{
	ms_errbuf eb = {0};
	size_t stop = s->stop_after;
	uint64_t next = UINT64_MAX;

	memset(s, 0, sizeof *s);
	s->stop_after = stop;
	MS_PASS_EB(ms_node_changes(n, cursor, max, on_change, s, &next, &eb),
	           &eb);
	return next;
}

START_TEST(changes_feed)
{
	ms_node *n = policy_node("changes");
	char *dir = strdup(n->dir);
	ms_errbuf eb = {0};
	ms_node_write_result ra, rb;
	uint8_t fid[MS_NODE_OP_ID_LEN];
	changes s = {0};
	uint64_t next;

	ck_assert_uint_eq(read_changes(n, 0, 0, &s), 0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(status(n).cursor, 0);

	put(n, "a", "1", &ra);
	MS_PASS_EB(ms_node_put(n, "b", 1, "2", 1, MS_NODE_PUT_BACKGROUND, &rb,
	                       &eb),
	           &eb);
	del(n, "a");
	ingest_foreign(n, 0x61, 1, "c", "remote", fid);

	ck_assert_uint_eq(read_changes(n, 0, 0, &s), 4);
	ck_assert_uint_eq(s.n, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(s.c[i].cursor, i + 1);
	ck_assert_str_eq(s.c[0].key, "a");
	ck_assert_mem_eq(s.c[0].id, ra.id, MS_NODE_OP_ID_LEN);
	ck_assert_int_eq(s.c[0].local, 1);
	ck_assert_int_eq(s.c[0].background, 0);
	ck_assert_int_eq(s.c[0].deleted, 0);
	ck_assert_str_eq(s.c[1].key, "b");
	ck_assert_mem_eq(s.c[1].id, rb.id, MS_NODE_OP_ID_LEN);
	ck_assert_int_eq(s.c[1].background, 1);
	ck_assert_str_eq(s.c[2].key, "a");
	ck_assert_int_eq(s.c[2].deleted, 1);
	ck_assert_uint_eq(s.c[2].seq, 3);
	ck_assert_str_eq(s.c[3].key, "c");
	ck_assert_int_eq(s.c[3].local, 0);
	ck_assert_mem_eq(s.c[3].id, fid, MS_NODE_OP_ID_LEN);
	ck_assert_uint_eq(status(n).cursor, 4);

	/* max, then resume from next */
	next = read_changes(n, 0, 2, &s);
	ck_assert_uint_eq(next, 2);
	ck_assert_uint_eq(s.n, 2);
	next = read_changes(n, next, 0, &s);
	ck_assert_uint_eq(next, 4);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.c[0].key, "a");
	ck_assert_int_eq(s.c[0].deleted, 1);
	/* at the end: nothing, next stays */
	ck_assert_uint_eq(read_changes(n, 4, 0, &s), 4);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(read_changes(n, 99, 0, &s), 99);
	/* fn stops: next is the last handed */
	s.stop_after = 1;
	ck_assert_uint_eq(read_changes(n, 1, 0, &s), 2);
	ck_assert_uint_eq(s.n, 1);
	s.stop_after = 0;

	MS_FAIL(ms_node_changes(n, 0, 0, NULL, NULL, &next, &eb), MS_EINVAL);
	MS_FAIL(ms_node_changes(n, 0, 0, on_change, &s, NULL, &eb), MS_EINVAL);

	/* cursors are positions in the store: they survive a reopen */
	ms_node_close(&n);
	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	ck_assert_uint_eq(status(n).cursor, 4);
	ck_assert_uint_eq(read_changes(n, 2, 0, &s), 4);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(s.c[0].cursor, 3);
	ck_assert_mem_eq(s.c[1].id, fid, MS_NODE_OP_ID_LEN);
	put(n, "d", "after reopen", NULL);
	ck_assert_uint_eq(read_changes(n, 4, 0, &s), 5);
	ck_assert_str_eq(s.c[0].key, "d");
	ms_node_close(&n);
	free(dir);
}
END_TEST

/* --- the watch descriptor ------------------------------------------------ */

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	ck_assert_int_ge(r, 0);
	return r > 0 && (p.revents & POLLIN);
}

START_TEST(watch_fires_for_another_process)
{
	ms_node *n = policy_node("watch");
	ms_errbuf eb = {0};
	int fd = -1, fd2 = -1, status_ = 0, seen = 0;
	changes s = {0};
	uint64_t cur, next;
	pid_t pid;
	char *argv[] = {MS_NODE_BIN, "put", "--data", n->dir,
	                "from-cli",  "hi",  NULL};

	MS_PASS_EB(ms_node_watch_fd(n, &fd, &eb), &eb);
	ck_assert_int_ge(fd, 0);
	MS_PASS_EB(ms_node_watch_fd(n, &fd2, &eb), &eb);
	ck_assert_int_eq(fd, fd2); /* one per node */
	MS_FAIL(ms_node_watch_fd(n, NULL, &eb), MS_EINVAL);
	cur = status(n).cursor;
	ck_assert_int_eq(readable(fd, 0), 0);

	/* our own commit makes it readable; changes empties it */
	put(n, "own", "1", NULL);
	ck_assert_int_eq(readable(fd, 5000), 1);
	cur = read_changes(n, cur, 0, &s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_int_eq(readable(fd, 0), 0);

	/* another process's put */
	pid = ms_test_spawn(argv, NULL);
	ck_assert_int_eq(ms_test_wait_pid(pid, 30000, &status_), 0);
	ck_assert_int_eq(ms_test_exit_code(status_), 0);
	ck_assert_msg(readable(fd, 10000), "watch fd did not fire for a put "
	                                   "by another process");
	next = read_changes(n, cur, 0, &s);
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.c[i].key, "from-cli") == 0) {
			ck_assert_int_eq(s.c[i].local, 1);
			seen = 1;
		}
	ck_assert_msg(seen, "changes did not report the other process's put");
	ck_assert_uint_eq(next, cur + 1);
	/* the process is gone and its commits read: nothing pending */
	ck_assert_int_eq(readable(fd, 0), 0);
	ms_node_close(&n); /* closes the descriptor */
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
}
END_TEST

/* With no descriptors left the watch cannot be made: MS_EIO naming
 * inotify, and the node goes on working (changes on a timer). */
START_TEST(watch_fd_refused)
{
	ms_node *n = policy_node("watch_refused");
	ms_errbuf eb = {0};
	struct rlimit old, low;
	int fds[256], nfds = 0, fd = -1;
	changes s = {0};

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfds < 256 && (fds[nfds] = open("/dev/null", O_RDONLY)) >= 0)
		nfds++;
	ck_assert_int_eq(errno, EMFILE);
	MS_FAIL(ms_node_watch_fd(n, &fd, &eb), MS_EIO);
	ck_assert_ptr_nonnull(strstr(eb.msg, "inotify"));
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	put(n, "k", "v", NULL);
	ck_assert_uint_eq(read_changes(n, 0, 0, &s), 1);
	MS_PASS_EB(ms_node_watch_fd(n, &fd, &eb), &eb); /* now it can */
	ms_node_close(&n);
}
END_TEST

/* --- status -------------------------------------------------------------- */

START_TEST(status_figures)
{
	ms_node *n = policy_node("status");
	ms_errbuf eb = {0};
	ms_ingest_item junk = {(const uint8_t *)"not an op", 9};
	ms_peer_vv_entry pv;
	ms_peer_rec p;
	ms_identity *peer = ms_test_identity(0x71);
	ms_node_status st;
	int fd = -1;

	st = status(n);
	ck_assert_uint_eq(st.ops, 0);
	ck_assert_uint_eq(st.authors, 0);
	ck_assert_uint_eq(st.keys, 0);
	ck_assert_uint_eq(st.local_seq, 0);
	ck_assert_uint_eq(st.unacked_local, 0);
	ck_assert_uint_eq(st.quarantined, 0);
	ck_assert_uint_eq(st.cursor, 0);
	ck_assert_uint_eq(st.peers, 0);
	ck_assert_int_eq(st.daemon_pid, 0);

	put(n, "a", "1", NULL);
	put(n, "a", "2", NULL);
	put(n, "b", "1", NULL);
	ingest_foreign(n, 0x71, 1, "c", "x", NULL);
	MS_PASS_EB(ms_store_ingest(n->store, &junk, 1, NULL, NULL, NULL, &eb),
	           &eb);
	st = status(n);
	ck_assert_uint_eq(st.ops, 4);
	ck_assert_uint_eq(st.authors, 2);
	ck_assert_uint_eq(st.keys, 3);
	ck_assert_uint_eq(st.local_seq, 3);
	ck_assert_uint_eq(st.unacked_local, 3);
	ck_assert_uint_eq(st.quarantined, 1);
	ck_assert_uint_eq(st.cursor, 4);
	ck_assert_uint_eq(st.peers, 0);

	/* a peer holds our first two ops */
	memset(&p, 0, sizeof p);
	p.has_id = 1;
	memcpy(p.id, ms_identity_pk(peer), MS_PK_LEN);
	p.naddrs = 1;
	snprintf(p.addrs[0], sizeof p.addrs[0], "tcp://127.0.0.1:7701");
	MS_PASS_EB(ms_store_peer_put(n->store, &p, &eb), &eb);
	memcpy(pv.author, ms_node_id(n), MS_PK_LEN);
	pv.seq = 2;
	MS_PASS_EB(ms_store_peer_vv_update(n->store, ms_identity_pk(peer), &pv,
	                                   1, &eb),
	           &eb);
	st = status(n);
	ck_assert_uint_eq(st.unacked_local, 1);
	ck_assert_uint_eq(st.peers, 1);

	/* a daemon's lock on node.pid: held, its pid; released, none */
	MS_PASS_EB(ms_runfile_lock(n->dir, &fd, &eb), &eb);
	ck_assert_int_eq(status(n).daemon_pid, (int)getpid());
	ms_runfile_unlock(n->dir, fd);
	ck_assert_int_eq(status(n).daemon_pid, 0);
	/* a file left by a killed daemon: nobody holds it */
	{
		char *pidf = ms_test_pjoin(n->dir, MS_RUN_PID_FILE);
		ms_test_write_file(pidf, "12345\n", 0600);
		ck_assert_int_eq(status(n).daemon_pid, 0);
		free(pidf);
	}

	MS_FAIL(ms_node_status_get(n, NULL, &eb), MS_EINVAL);
	ms_identity_free(&peer);
	ms_node_close(&n);
}
END_TEST

/* --- peers --------------------------------------------------------------- */

typedef struct peer_seen {
	int has_id;
	uint8_t id[MS_NODE_ID_LEN];
	char addrs[MS_PEER_MAX_ADDRS][MS_PEER_ADDR_MAX];
	size_t naddrs;
	int static_peer, mdns, pex, inbound;
	ms_node_link link;
	uint64_t link_since_ms, last_good_ms, sessions, failures;
	uint64_t next_attempt_ms, lag;
	char last_error[128];
	int has_last;
	ms_node_summary last;
	char end_reason[64];
} peer_seen;

typedef struct peers_seen {
	size_t n;
	peer_seen p[4];
	size_t stop_after;
} peers_seen;

static int on_peer(const ms_node_peer *p, void *ctx)
{
	peers_seen *s = ctx;
	peer_seen *x;

	ck_assert_uint_lt(s->n, 4);
	x = &s->p[s->n++];
	x->has_id = p->id != NULL;
	if (p->id != NULL)
		memcpy(x->id, p->id, MS_NODE_ID_LEN);
	x->naddrs = p->naddrs;
	for (size_t i = 0; i < p->naddrs; i++)
		snprintf(x->addrs[i], sizeof x->addrs[i], "%s", p->addrs[i]);
	x->static_peer = p->static_peer;
	x->mdns = p->mdns;
	x->pex = p->pex;
	x->inbound = p->inbound;
	x->link = p->link;
	x->link_since_ms = p->link_since_ms;
	x->last_good_ms = p->last_good_ms;
	x->sessions = p->sessions;
	x->failures = p->failures;
	x->next_attempt_ms = p->next_attempt_ms;
	x->lag = p->lag;
	snprintf(x->last_error, sizeof x->last_error, "%s", p->last_error);
	x->has_last = p->last != NULL;
	if (p->last != NULL) {
		x->last = *p->last;
		snprintf(x->end_reason, sizeof x->end_reason, "%s",
		         p->last->end_reason);
	}
	return s->stop_after != 0 && s->n >= s->stop_after;
}

START_TEST(peers_from_records)
{
	ms_node *n = policy_node("peers");
	ms_errbuf eb = {0};
	ms_identity *peer = ms_test_identity(0x81);
	ms_peer_rec a, b;
	ms_peer_vv_entry pv;
	peers_seen s;

	memset(&s, 0, sizeof s);
	MS_PASS_EB(ms_node_peers(n, on_peer, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 0);

	put(n, "k", "1", NULL);
	put(n, "k", "2", NULL);
	put(n, "k", "3", NULL);

	memset(&a, 0, sizeof a);
	a.has_id = 1;
	memcpy(a.id, ms_identity_pk(peer), MS_PK_LEN);
	a.source = MS_PEER_SRC_STATIC | MS_PEER_SRC_PEX;
	a.link = MS_LINK_STATE_LIVE;
	a.link_since_ms = 1000;
	a.naddrs = 2;
	snprintf(a.addrs[0], sizeof a.addrs[0], "tcp://127.0.0.1:7701");
	snprintf(a.addrs[1], sizeof a.addrs[1], "tcp://10.0.0.2:7700");
	a.last_good_ms = 2000;
	a.sessions = 3;
	a.failures = 1;
	snprintf(a.last_error, sizeof a.last_error, "handshake timed out");
	a.has_summary = 1;
	a.last.start_ms = 1500;
	a.last.end_ms = 1900;
	a.last.outbound = 1;
	a.last.received = 7;
	a.last.applied = 5;
	a.last.duplicate = 2;
	a.last.sent = 4;
	a.last.bytes_in = 700;
	a.last.bytes_out = 400;
	snprintf(a.last.end_reason, sizeof a.last.end_reason, "bye");

	memset(&b, 0, sizeof b);
	b.source = MS_PEER_SRC_STATIC;
	b.link = MS_LINK_STATE_BACKOFF;
	b.naddrs = 1;
	snprintf(b.addrs[0], sizeof b.addrs[0], "tcp://10.0.0.9:7700");
	b.bo_next_attempt_ms = 4242;
	MS_PASS_EB(ms_store_peer_put(n->store, &b, &eb), &eb);
	MS_PASS_EB(ms_store_peer_put(n->store, &a, &eb), &eb);
	memcpy(pv.author, ms_node_id(n), MS_PK_LEN);
	pv.seq = 1;
	MS_PASS_EB(ms_store_peer_vv_update(n->store, a.id, &pv, 1, &eb), &eb);

	memset(&s, 0, sizeof s);
	MS_PASS_EB(ms_node_peers(n, on_peer, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 2);
	/* identified first */
	ck_assert_int_eq(s.p[0].has_id, 1);
	ck_assert_mem_eq(s.p[0].id, a.id, MS_NODE_ID_LEN);
	ck_assert_uint_eq(s.p[0].naddrs, 2);
	ck_assert_str_eq(s.p[0].addrs[1], "tcp://10.0.0.2:7700");
	ck_assert_int_eq(s.p[0].static_peer, 1);
	ck_assert_int_eq(s.p[0].pex, 1);
	ck_assert_int_eq(s.p[0].mdns, 0);
	ck_assert_int_eq(s.p[0].inbound, 0);
	ck_assert_int_eq(s.p[0].link, MS_NODE_LINK_LIVE);
	ck_assert_uint_eq(s.p[0].link_since_ms, 1000);
	ck_assert_uint_eq(s.p[0].last_good_ms, 2000);
	ck_assert_uint_eq(s.p[0].sessions, 3);
	ck_assert_uint_eq(s.p[0].failures, 1);
	ck_assert_uint_eq(s.p[0].lag, 2); /* holds 1 of our 3 */
	ck_assert_str_eq(s.p[0].last_error, "handshake timed out");
	ck_assert_int_eq(s.p[0].has_last, 1);
	ck_assert_uint_eq(s.p[0].last.start_ms, 1500);
	ck_assert_uint_eq(s.p[0].last.end_ms, 1900);
	ck_assert_int_eq(s.p[0].last.outbound, 1);
	ck_assert_uint_eq(s.p[0].last.received, 7);
	ck_assert_uint_eq(s.p[0].last.applied, 5);
	ck_assert_uint_eq(s.p[0].last.duplicate, 2);
	ck_assert_uint_eq(s.p[0].last.sent, 4);
	ck_assert_uint_eq(s.p[0].last.bytes_in, 700);
	ck_assert_uint_eq(s.p[0].last.bytes_out, 400);
	ck_assert_str_eq(s.p[0].end_reason, "bye");
	/* then the address nobody has answered on */
	ck_assert_int_eq(s.p[1].has_id, 0);
	ck_assert_str_eq(s.p[1].addrs[0], "tcp://10.0.0.9:7700");
	ck_assert_int_eq(s.p[1].link, MS_NODE_LINK_BACKOFF);
	ck_assert_uint_eq(s.p[1].next_attempt_ms, 4242);
	ck_assert_uint_eq(s.p[1].lag, 0);
	ck_assert_str_eq(s.p[1].last_error, "");
	ck_assert_int_eq(s.p[1].has_last, 0);

	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	MS_PASS_EB(ms_node_peers(n, on_peer, &s, &eb), &eb);
	ck_assert_uint_eq(s.n, 1);
	MS_FAIL(ms_node_peers(n, NULL, NULL, &eb), MS_EINVAL);
	ms_identity_free(&peer);
	ms_node_close(&n);
}
END_TEST

START_TEST(link_names)
{
	static const char *const names[] = {"discovered", "connecting",
	                                    "syncing",    "live",
	                                    "backoff",    "down",
	                                    "lost"};

	for (int l = MS_NODE_LINK_DISCOVERED; l <= MS_NODE_LINK_LOST; l++)
		ck_assert_str_eq(ms_node_link_name((ms_node_link)l), names[l]);
	ck_assert_str_eq(ms_node_link_name(
				 (ms_node_link)(MS_NODE_LINK_LOST + 1)),
	                 "unknown");
	ck_assert_str_eq(ms_node_link_name((ms_node_link)-1), "unknown");
}
END_TEST

static Suite *node_suite(void)
{
	Suite *s = suite_create("node_api2");
	TCase *tc = tcase_create("node");

	ms_test_tcase_tmpdir(tc, &tmp, "node2");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, scan_prefix_after_and_flags);
	tcase_add_test(tc, scan_pages);
	tcase_add_test(tc, scan_pages_long_keys);
	tcase_add_test(tc, scan_siblings_and_counters);
	tcase_add_test(tc, get_hands_op_ids);
	tcase_add_test(tc, resolve_siblings);
	tcase_add_test(tc, resolve_errors);
	tcase_add_test(tc, changes_feed);
	tcase_add_test(tc, watch_fires_for_another_process);
	tcase_add_test(tc, watch_fd_refused);
	tcase_add_test(tc, status_figures);
	tcase_add_test(tc, peers_from_records);
	tcase_add_test(tc, link_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(node_suite());
}
