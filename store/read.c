/*
 * read.c — read snapshots and everything read through them: key states
 * with their heads, ops, the log, the version vector, forks, quarantine and
 * stats.  The foreach functions follow the walk contract of store.h: a
 * visitor's stop is MS_OK, a record they cannot read is MS_ECORRUPT with
 * its reason, never skipped in silence.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

ms_err ms_store_read_begin(ms_store *s, ms_store_rtxn **out, ms_errbuf *eb)
{
	ms_store_rtxn *rt;
	ms_err e;

	*out = NULL;
	rt = calloc(1, sizeof *rt);
	if (rt == NULL)
		return ms_errf(eb, MS_ENOMEM, "read snapshot: out of memory");
	rt->s = s;
	e = st_txn_begin(s, MDB_RDONLY, &rt->txn, eb);
	if (e != MS_OK) {
		free(rt);
		return e;
	}
	s->nreaders++;
	*out = rt;
	return MS_OK;
}

void ms_store_read_end(ms_store_rtxn **rtp)
{
	ms_store_rtxn *rt;

	if (rtp == NULL || *rtp == NULL)
		return;
	rt = *rtp;
	if (rt->rank_cur != NULL)
		mdb_cursor_close(rt->rank_cur); /* a read txn's cursor */
	mdb_txn_abort(rt->txn);
	rt->s->nreaders--;
	free(rt->heads);
	free(rt->ids);
	free(rt);
	*rtp = NULL;
}

int ms_key_state_live(const ms_key_state *ks)
{
	switch (ks->policy) {
	case MS_POLICY_LWW:
		return ks->nheads > 0 && ks->heads[0].type == MS_OP_PUT;
	case MS_POLICY_MV:
		/* Over all heads, not only the ones a read holds. */
		return ks->put_heads > 0;
	case MS_POLICY_COUNTER:
		return ks->nputs > 0;
	}
	return 0;
}

int ms_key_state_conflict(const ms_key_state *ks)
{
	return ks->heads_total > 1 && ks->policy != MS_POLICY_COUNTER;
}

int st_head_load(ms_store *s, MDB_txn *txn, const uint8_t id[MS_HASH_LEN],
                 ms_head *h)
{
	MDB_val k = {MS_HASH_LEN, (void *)id}, v;
	ms_op op;

	if (mdb_get(txn, s->dbi[ST_DB_OPS], &k, &v) != 0 ||
	    st_decode_stored(&op, &v) != MS_OPR_OK)
		return -1;
	memcpy(h->id, id, MS_HASH_LEN);
	memcpy(h->author, op.author, MS_PK_LEN);
	h->seq = op.seq;
	h->hlc = op.hlc;
	h->type = op.type;
	h->priority = op.priority;
	h->value = op.value;
	h->value_len = op.value_len;
	return 0;
}

/* The heads of a record in read order (descending (hlc, author, id): the
 * heads_rank db's order), at most heads_per_key of them: a key a member
 * filled with thousands of concurrent heads costs a read no more memory
 * than the budget, and the winner is the first of them all the same. */
static ms_err heads_fill(ms_store_rtxn *rt, const MDB_val *k, uint32_t want,
                         size_t *got, ms_errbuf *eb)
{
	MDB_val key = *k, v;
	size_t n = 0;
	int rc;

	*got = 0;
	if (want == 0)
		return MS_OK;
	if (rt->rank_cur == NULL &&
	    (rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_HEADS_RANK],
	                          &rt->rank_cur)) != 0)
		return st_mdb(rt->s, eb, rc, "read key: cursor(heads_rank)");
	if (st_reserve((void **)&rt->heads, &rt->heads_cap, want,
	               sizeof *rt->heads))
		return ms_errf(eb, MS_ENOMEM, "read key: out of memory");
	rc = mdb_cursor_get(rt->rank_cur, &key, &v, MDB_SET);
	while (rc == 0 && n < want) {
		uint8_t id[MS_HASH_LEN];
		if (v.mv_size != ST_RANK_LEN)
			return ms_errf(
				eb, MS_ECORRUPT,
				"heads_rank record of %zu bytes, want %d",
				v.mv_size, ST_RANK_LEN);
		st_rank_id(id, v.mv_data);
		if (st_head_load(rt->s, rt->txn, id, &rt->heads[n]) != 0)
			return ms_errf(
				eb, MS_ECORRUPT,
				"read key: a head op is missing or does not "
				"decode (run verify)");
		n++;
		rc = mdb_cursor_get(rt->rank_cur, &key, &v, MDB_NEXT_DUP);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(rt->s, eb, rc, "read key: read heads_rank");
	if (n < want)
		return ms_errf(eb, MS_ECORRUPT,
		               "read key: the keys record counts %u heads, "
		               "heads_rank holds %zu (run verify)",
		               (unsigned)want, n);
	*got = n;
	return MS_OK;
}

ms_err st_state_fill(ms_store_rtxn *rt, const MDB_val *k, const MDB_val *v,
                     ms_key_state *out, ms_errbuf *eb)
{
	uint32_t cap = rt->s->heads_per_key, want;
	size_t got = 0;
	int cut;
	st_rec r;
	ms_err e;

	if (st_rec_parse(&r, k, v) != 0)
		return ms_errf(eb, MS_ECORRUPT,
		               "keys record of %zu bytes is "
		               "malformed",
		               v->mv_size);
	cut = r.nheads > cap;
	want = cut ? cap : r.nheads;
	if ((e = heads_fill(rt, k, want, &got, eb)) != MS_OK)
		return e;
	if (cut)
		__atomic_add_fetch(&rt->s->pending_heads_limit, 1,
		                   __ATOMIC_RELAXED);
	memset(out, 0, sizeof *out);
	out->key = r.key;
	out->key_len = r.key_len;
	out->policy = ms_store_policy_for(rt->s, r.key, r.key_len);
	out->nheads = got;
	out->heads = rt->heads;
	out->heads_total = r.nheads;
	out->put_heads = r.nputheads;
	out->counter = (int64_t)r.counter; /* two's complement, as stored */
	out->nops = r.nops;
	out->nputs = r.nputs;
	return MS_OK;
}

ms_err ms_store_get(ms_store_rtxn *rt, const uint8_t *key, size_t klen,
                    ms_key_state *out, ms_errbuf *eb)
{
	uint8_t kdb[ST_KEYDB_MAX];
	MDB_val k, v;
	ms_err e;
	int rc;

	if (key == NULL || klen == 0 || klen > MS_OP_MAX_KEY)
		return ms_errf(eb, MS_ENOTFOUND,
		               "get: no such key (keys are "
		               "1..%d bytes)",
		               MS_OP_MAX_KEY);
	k.mv_size = st_keydb_key(kdb, key, klen);
	k.mv_data = kdb;
	rc = mdb_get(rt->txn, rt->s->dbi[ST_DB_KEYS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ms_errf(eb, MS_ENOTFOUND, "get: no such key");
	if (rc != 0)
		return st_mdb(rt->s, eb, rc, "get: read keys");
	if ((e = st_state_fill(rt, &k, &v, out, eb)) != MS_OK)
		return e;
	/* st_state_fill points a short key into the db key, which here is
	 * kdb on this stack: name the caller's bytes instead. */
	out->key = key;
	out->key_len = klen;
	return MS_OK;
}

/* foreach_key's walk: the db key holds at most ST_KEY_INLINE bytes of the
 * key, so the range is bounded by those (dlen) and the full prefix (plen)
 * is checked on the full key of each record.  A walk that starts after a
 * key begins at that key's db key and skips it. */
typedef struct key_walk {
	ms_store_rtxn *rt;
	const uint8_t *prefix;
	size_t plen, dlen;
	const uint8_t *after; /* db key of the key to start after, or NULL */
	size_t alen;
	ms_key_fn fn;
	void *ctx;
} key_walk;

static ms_err key_row(const MDB_val *k, const MDB_val *v, void *vctx, int *stop,
                      ms_errbuf *why)
{
	key_walk *w = vctx;
	ms_key_state ks = {0};
	ms_err e;

	if (w->dlen > 0 && (k->mv_size < w->dlen ||
	                    memcmp(k->mv_data, w->prefix, w->dlen) != 0)) {
		*stop = 1; /* past the prefix's range */
		return MS_OK;
	}
	if (w->after != NULL && k->mv_size == w->alen &&
	    memcmp(k->mv_data, w->after, w->alen) == 0)
		return MS_OK;
	if ((e = st_state_fill(w->rt, k, v, &ks, why)) != MS_OK)
		return e;
	if (w->plen == 0 ||
	    (ks.key_len >= w->plen && memcmp(ks.key, w->prefix, w->plen) == 0))
		*stop = w->fn(&ks, w->ctx);
	return MS_OK;
}

/* LMDB's default key order: bytes, then the shorter first. */
static int dbkey_cmp(const MDB_val *a, const MDB_val *b)
{
	size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
	int c = n > 0 ? memcmp(a->mv_data, b->mv_data, n) : 0;

	if (c != 0)
		return c;
	return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

ms_err ms_store_foreach_key_after(ms_store_rtxn *rt, const uint8_t *prefix,
                                  size_t plen, const uint8_t *after,
                                  size_t alen, ms_key_fn fn, void *ctx,
                                  ms_errbuf *eb)
{
	key_walk w = {rt, prefix, plen, 0, NULL, 0, fn, ctx};
	uint8_t adb[ST_KEYDB_MAX];
	MDB_val start, from;

	w.dlen = plen < ST_KEY_INLINE ? plen : ST_KEY_INLINE;
	start.mv_size = w.dlen;
	start.mv_data = (void *)prefix;
	if (after != NULL) {
		/* an empty after is before every key: nothing to skip */
		if (alen > 0) {
			w.alen = st_keydb_key(adb, after, alen);
			w.after = adb;
		}
		from.mv_size = w.alen;
		from.mv_data = adb;
		if (w.alen > 0 && dbkey_cmp(&from, &start) > 0)
			start = from;
	}
	return st_walk(rt, ST_DB_KEYS, start.mv_size ? &start : NULL, key_row,
	               &w, "foreach_key", eb);
}

ms_err ms_store_foreach_key(ms_store_rtxn *rt, const uint8_t *prefix,
                            size_t plen, ms_key_fn fn, void *ctx, ms_errbuf *eb)
{
	return ms_store_foreach_key_after(rt, prefix, plen, NULL, 0, fn, ctx,
	                                  eb);
}

ms_err st_op_load(ms_store_rtxn *rt, const uint8_t id[MS_HASH_LEN],
                  ms_err missing, ms_log_entry *out, ms_errbuf *why)
{
	MDB_val k = {MS_HASH_LEN, (void *)id}, v;
	char hex[2 * 8 + 1];
	int rc;

	rc = mdb_get(rt->txn, rt->s->dbi[ST_DB_OPS], &k, &v);
	if (rc == 0 && st_decode_stored(&out->op, &v) != MS_OPR_OK) {
		ms_hex(hex, id, 8);
		return ms_errf(why, MS_ECORRUPT,
		               "op %s does not decode (run verify)", hex);
	}
	if (rc == MDB_NOTFOUND) {
		ms_hex(hex, id, 8);
		return ms_errf(why, missing, "op %s is not held%s", hex,
		               missing == MS_ECORRUPT ? " (run verify)" : "");
	}
	if (rc != 0)
		return st_mdb(rt->s, why, rc, "mdb_get(ops)");
	out->id = id;
	out->buf = v.mv_data;
	out->len = v.mv_size;
	return MS_OK;
}

ms_err ms_store_get_op(ms_store_rtxn *rt, const uint8_t id[MS_HASH_LEN],
                       ms_log_entry *out, ms_errbuf *eb)
{
	ms_err e = st_op_load(rt, id, MS_ENOTFOUND, out, eb);

	return e == MS_OK ? MS_OK : st_err_in(eb, e, "get op", eb);
}

/* foreach_log's walk: all authors, or one author's ops above since_seq. */
typedef struct log_walk {
	ms_store_rtxn *rt;
	const uint8_t *author; /* NULL: every author */
	uint64_t since_seq;
	ms_log_fn fn;
	void *ctx;
} log_walk;

static ms_err log_row(const MDB_val *k, const MDB_val *v, void *vctx, int *stop,
                      ms_errbuf *why)
{
	log_walk *w = vctx;
	const uint8_t *kp = k->mv_data;
	ms_log_entry e;
	ms_err err;

	if (k->mv_size != ST_LOGKEY_LEN)
		return ms_errf(why, MS_ECORRUPT,
		               "log key of %zu bytes, want %d", k->mv_size,
		               ST_LOGKEY_LEN);
	if (w->author != NULL && memcmp(kp, w->author, MS_PK_LEN) != 0) {
		*stop = 1; /* past the author's last op */
		return MS_OK;
	}
	if (ms_get_be64(kp + MS_PK_LEN) <= w->since_seq)
		return MS_OK;
	if (v->mv_size != MS_HASH_LEN)
		return ms_errf(why, MS_ECORRUPT,
		               "log record of %zu bytes, want %d", v->mv_size,
		               MS_HASH_LEN);
	if ((err = st_op_load(w->rt, v->mv_data, MS_ECORRUPT, &e, why)) !=
	    MS_OK)
		return err;
	*stop = w->fn(&e, w->ctx);
	return MS_OK;
}

ms_err ms_store_foreach_log(ms_store_rtxn *rt, const uint8_t *author,
                            uint64_t since_seq, ms_log_fn fn, void *ctx,
                            ms_errbuf *eb)
{
	log_walk w = {rt, author, since_seq, fn, ctx};
	uint8_t kb[ST_LOGKEY_LEN];
	MDB_val start = {sizeof kb, kb};

	if (author != NULL && since_seq == UINT64_MAX)
		return MS_OK;
	if (author != NULL)
		st_logkey(kb, author, since_seq + 1);
	return st_walk(rt, ST_DB_LOG, author != NULL ? &start : NULL, log_row,
	               &w, "foreach_log", eb);
}

typedef struct vv_walk {
	ms_vv_fn fn;
	void *ctx;
} vv_walk;

static ms_err vv_row(const MDB_val *k, const MDB_val *v, void *vctx, int *stop,
                     ms_errbuf *why)
{
	vv_walk *w = vctx;
	ms_vv_entry e;
	ms_err err = st_vv_parse(&e, k, v, why);

	/* An author held only above a gap has an entry at seq 0;
	 * this view lists contiguous prefixes, as it always did. */
	if (err == MS_OK && e.seq > 0)
		*stop = w->fn(e.author, e.seq, w->ctx);
	return err;
}

ms_err ms_store_foreach_vv(ms_store_rtxn *rt, ms_vv_fn fn, void *ctx,
                           ms_errbuf *eb)
{
	vv_walk w = {fn, ctx};

	return st_walk(rt, ST_DB_VV, NULL, vv_row, &w, "foreach_vv", eb);
}

/* One forked slot: its key and all its ids (the slot's duplicates) into
 * rt->ids; *n ids.  The cursor is left on the slot's last duplicate. */
static ms_err fork_slot(ms_store_rtxn *rt, MDB_cursor *c, MDB_val *k,
                        MDB_val *v, size_t *n, ms_errbuf *why)
{
	size_t cnt = 0;
	int rc;

	if (k->mv_size != ST_LOGKEY_LEN)
		return ms_errf(why, MS_ECORRUPT,
		               "forks key of %zu bytes, want %d", k->mv_size,
		               ST_LOGKEY_LEN);
	if ((rc = mdb_cursor_count(c, &cnt)) != 0)
		return st_mdb(rt->s, why, rc, "mdb_cursor_count");
	if (st_reserve((void **)&rt->ids, &rt->ids_cap, cnt + 1, MS_HASH_LEN))
		return ms_errf(why, MS_ENOMEM, "out of memory");
	/* The slot's duplicates, bounded by the count just taken. */
	for (size_t i = 0; i < cnt; i++) {
		if (i > 0 && (rc = mdb_cursor_get(c, k, v, MDB_NEXT_DUP)) != 0)
			return st_mdb(rt->s, why, rc, "mdb_cursor_get");
		if (v->mv_size != MS_HASH_LEN)
			return ms_errf(why, MS_ECORRUPT,
			               "forks record of %zu bytes, want %d",
			               v->mv_size, MS_HASH_LEN);
		memcpy(rt->ids + i * MS_HASH_LEN, v->mv_data, MS_HASH_LEN);
	}
	*n = cnt;
	return MS_OK;
}

/* Keeps its own loop rather than st_walk: it visits a slot with all its
 * duplicates at once (MDB_NEXT_DUP, then MDB_NEXT_NODUP), not a record at a
 * time. */
ms_err ms_store_foreach_fork(ms_store_rtxn *rt, ms_fork_fn fn, void *ctx,
                             ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	ms_errbuf why = {0};
	ms_err e = MS_OK;
	int rc;

	rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_FORKS], &c);
	if (rc != 0)
		return st_err_in(eb, st_mdb(rt->s, &why, rc, "mdb_cursor_open"),
		                 "foreach_fork", &why);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	/* Each step moves to the next slot; ends at the db's end. */
	while (rc == 0) {
		uint8_t slot[ST_LOGKEY_LEN];
		size_t n = 0;

		__atomic_add_fetch(&rt->s->trace_forks, 1, __ATOMIC_RELAXED);
		if ((e = fork_slot(rt, c, &k, &v, &n, &why)) != MS_OK)
			break;
		/* k may move with the cursor; the slot is copied first */
		memcpy(slot, k.mv_data, ST_LOGKEY_LEN);
		if (fn(slot, ms_get_be64(slot + MS_PK_LEN),
		       (const uint8_t(*)[MS_HASH_LEN])rt->ids, n, ctx) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
	}
	if (e == MS_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = st_mdb(rt->s, &why, rc, "mdb_cursor_get");
	mdb_cursor_close(c);
	return e == MS_OK ? MS_OK : st_err_in(eb, e, "foreach_fork", &why);
}

ms_err ms_store_get_fork(ms_store_rtxn *rt, const uint8_t author[MS_PK_LEN],
                         uint64_t seq, ms_fork_fn fn, void *ctx, ms_errbuf *eb)
{
	uint8_t slot[ST_LOGKEY_LEN];
	MDB_cursor *c = NULL;
	MDB_val k = {sizeof slot, slot}, v;
	ms_errbuf why = {0};
	ms_err e = MS_OK;
	size_t n = 0;
	int rc;

	st_logkey(slot, author, seq);
	rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_FORKS], &c);
	if (rc != 0)
		return st_err_in(eb, st_mdb(rt->s, &why, rc, "mdb_cursor_open"),
		                 "get fork", &why);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	if (rc == 0) {
		__atomic_add_fetch(&rt->s->trace_forks, 1, __ATOMIC_RELAXED);
		e = fork_slot(rt, c, &k, &v, &n, &why);
		if (e == MS_OK)
			fn(slot, seq, (const uint8_t(*)[MS_HASH_LEN])rt->ids, n,
			   ctx);
	} else if (rc != MDB_NOTFOUND) {
		e = st_mdb(rt->s, &why, rc, "mdb_cursor_get");
	}
	mdb_cursor_close(c);
	return e == MS_OK ? MS_OK : st_err_in(eb, e, "get fork", &why);
}

typedef struct quarantine_walk {
	ms_quarantine_fn fn;
	void *ctx;
} quarantine_walk;

static ms_err quarantine_row(const MDB_val *k, const MDB_val *v, void *vctx,
                             int *stop, ms_errbuf *why)
{
	quarantine_walk *w = vctx;
	const uint8_t *p = v->mv_data;
	ms_quarantine_entry q;

	(void)k; /* the key is only the quarantine sequence number */
	if (v->mv_size < ST_QREC_HDR)
		return ms_errf(
			why, MS_ECORRUPT,
			"quarantine record of %zu bytes, want %d or more",
			v->mv_size, ST_QREC_HDR);
	memset(&q, 0, sizeof q);
	q.when_ms = ms_get_le64(p);
	q.reason = p[8];
	q.has_peer = p[9];
	memcpy(q.peer, p + 10, MS_PK_LEN);
	q.orig_len = ms_get_le64(p + 10 + MS_PK_LEN);
	q.buf = p + ST_QREC_HDR;
	q.len = v->mv_size - ST_QREC_HDR;
	*stop = w->fn(&q, w->ctx);
	return MS_OK;
}

ms_err ms_store_foreach_quarantine(ms_store_rtxn *rt, ms_quarantine_fn fn,
                                   void *ctx, ms_errbuf *eb)
{
	quarantine_walk w = {fn, ctx};

	return st_walk(rt, ST_DB_QUARANTINE, NULL, quarantine_row, &w,
	               "foreach_quarantine", eb);
}

typedef struct stat_walk {
	ms_stat_fn fn;
	void *ctx;
} stat_walk;

static ms_err stat_row(const MDB_val *k, const MDB_val *v, void *vctx,
                       int *stop, ms_errbuf *why)
{
	stat_walk *w = vctx;
	char name[ST_STAT_NAME_MAX + 1];

	if (k->mv_size == 0 || k->mv_size > ST_STAT_NAME_MAX)
		return ms_errf(why, MS_ECORRUPT,
		               "stats key of %zu bytes, want "
		               "1..%d",
		               k->mv_size, ST_STAT_NAME_MAX);
	if (v->mv_size != 8)
		return ms_errf(why, MS_ECORRUPT,
		               "stats record of %zu bytes, "
		               "want 8",
		               v->mv_size);
	memcpy(name, k->mv_data, k->mv_size);
	name[k->mv_size] = '\0';
	*stop = w->fn(name, ms_get_le64(v->mv_data), w->ctx);
	return MS_OK;
}

ms_err ms_store_foreach_stat(ms_store_rtxn *rt, ms_stat_fn fn, void *ctx,
                             ms_errbuf *eb)
{
	stat_walk w = {fn, ctx};

	return st_walk(rt, ST_DB_STATS, NULL, stat_row, &w, "foreach_stat", eb);
}

uint64_t ms_store_stat(ms_store_rtxn *rt, const char *name)
{
	MDB_val k = {strlen(name), (void *)name}, v;

	if (mdb_get(rt->txn, rt->s->dbi[ST_DB_STATS], &k, &v) != 0 ||
	    v.mv_size != 8)
		return 0;
	return ms_get_le64(v.mv_data);
}
