/*
 * apply.c — the one function that stores and applies an op, used by local
 * append and by ingest alike, and the record layouts it writes.
 *
 * Every new op also counts in its author's vv entry and gets the next
 * arrival number here, so no path can store an op the sync side misses.
 *
 * Heads are kept order-independent through the sup index: when an op
 * arrives, every parent it names is marked superseded for the op's key (and
 * dropped from the heads if it is one); the op itself becomes a head unless
 * an op that arrived earlier already named it.  So whatever order a set of
 * ops arrives in, the heads are "ops of the key no op of the key names".
 */
#include "store_int.h"

#include <sodium.h>
#include <string.h>

size_t st_keydb_key(uint8_t out[ST_KEYDB_MAX], const uint8_t *key, size_t klen)
{
	if (klen <= ST_KEY_INLINE) {
		memcpy(out, key, klen);
		return klen;
	}
	/* Too long for an LMDB key: a prefix keeps key order for all but
	 * keys sharing it; the hash keeps them apart. */
	memcpy(out, key, ST_KEY_INLINE);
	ms_hash(out + ST_KEY_INLINE, key, klen);
	return ST_KEYDB_MAX;
}

void st_key_hash(uint8_t out[ST_KH_LEN], const uint8_t *key, size_t klen)
{
	crypto_generichash(out, ST_KH_LEN, key, klen, NULL, 0);
}

void st_logkey(uint8_t out[ST_LOGKEY_LEN], const uint8_t *author, uint64_t seq)
{
	memcpy(out, author, MS_PK_LEN);
	ms_put_be64(out + MS_PK_LEN,
	            seq); /* big-endian: LMDB order = seq order */
}

int st_rec_parse(st_rec *r, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	size_t need = ST_REC_HDR;

	if (v->mv_size < ST_REC_HDR)
		return -1;
	r->counter = ms_get_le64(p);
	r->nops = ms_get_le64(p + 8);
	r->nputs = ms_get_le64(p + 16);
	r->nheads = ms_get_le32(p + 24);
	r->key_len = ms_get_le16(p + 28);
	r->nputheads = ms_get_le32(p + 30);
	if (r->nputheads > r->nheads)
		return -1;
	if (r->key_len > ST_KEY_INLINE) {
		need += r->key_len;
		r->key = p + ST_REC_HDR;
		if (k->mv_size != ST_KEYDB_MAX)
			return -1;
	} else {
		if (k->mv_size != r->key_len || r->key_len == 0)
			return -1;
		r->key = k->mv_data;
	}
	return need == v->mv_size ? 0 : -1;
}

/* Log slot for (author, seq); a slot already taken by another op makes a
 * fork: both ids go to the forks db and both ops stay applied. */
static ms_err log_insert(ms_store *s, st_wctx *w, const ms_op *op,
                         const uint8_t id[MS_HASH_LEN], int *fork,
                         ms_errbuf *eb)
{
	uint8_t kb[ST_LOGKEY_LEN], prev[MS_HASH_LEN];
	MDB_val k = {sizeof kb, kb}, v;
	int rc;

	*fork = 0;
	st_logkey(kb, op->author, op->seq);
	rc = mdb_get(w->txn, s->dbi[ST_DB_LOG], &k, &v);
	if (rc == MDB_NOTFOUND) {
		v.mv_size = MS_HASH_LEN;
		v.mv_data = (void *)id;
		rc = mdb_put(w->txn, s->dbi[ST_DB_LOG], &k, &v, 0);
		if (rc != 0)
			return st_mdb(s, eb, rc, "write log");
		return MS_OK;
	}
	if (rc != 0)
		return st_mdb(s, eb, rc, "read log");
	if (v.mv_size != MS_HASH_LEN)
		return ms_errf(eb, MS_ECORRUPT, "log entry of %zu bytes",
		               v.mv_size);
	if (memcmp(v.mv_data, id, MS_HASH_LEN) == 0)
		return MS_OK;
	memcpy(prev, v.mv_data, MS_HASH_LEN); /* the put below may move it */
	*fork = 1;
	w->stat[ST_STAT_FORKS]++;
	for (int i = 0; i < 2; i++) {
		v.mv_size = MS_HASH_LEN;
		v.mv_data = i == 0 ? prev : (void *)id;
		rc = mdb_put(w->txn, s->dbi[ST_DB_FORKS], &k, &v,
		             MDB_NODUPDATA);
		if (rc != 0 && rc != MDB_KEYEXIST)
			return st_mdb(s, eb, rc, "write forks");
	}
	return MS_OK;
}

/*
 * The key's record and heads.  Each step on the heads is one lookup, put
 * or delete in the heads indexes (O(log heads)); the record is fixed-size,
 * so a key with many concurrent heads costs a write no more than one with
 * a single head.
 */
static ms_err state_apply(ms_store *s, st_wctx *w, const ms_op *op,
                          const uint8_t id[MS_HASH_LEN], uint32_t *nheads_after,
                          ms_errbuf *eb)
{
	uint8_t kdb[ST_KEYDB_MAX], kh[ST_KH_LEN], sk[ST_SUPKEY_LEN];
	MDB_val k, v;
	st_rec r;
	size_t kdb_len, tail, need;
	uint64_t counter = 0, nops = 0, nputs = 0;
	uint32_t nheads = 0, nputheads = 0;
	uint8_t *p;
	ms_err e;
	int rc;

	kdb_len = st_keydb_key(kdb, op->key, op->key_len);
	k.mv_size = kdb_len;
	k.mv_data = kdb;
	st_key_hash(kh, op->key, op->key_len);
	rc = mdb_get(w->txn, s->dbi[ST_DB_KEYS], &k, &v);
	if (rc == 0) {
		if (st_rec_parse(&r, &k, &v) != 0 || r.key_len != op->key_len)
			return ms_errf(eb, MS_ECORRUPT,
			               "keys record of %zu bytes is malformed",
			               v.mv_size);
		counter = r.counter;
		nops = r.nops;
		nputs = r.nputs;
		nheads = r.nheads;
		nputheads = r.nputheads;
	} else if (rc != MDB_NOTFOUND) {
		return st_mdb(s, eb, rc, "read keys");
	}

	memcpy(sk + MS_HASH_LEN, kh, ST_KH_LEN);
	for (unsigned i = 0; i < op->nparents; i++) {
		const uint8_t *par = op->parents + (size_t)i * MS_HASH_LEN;
		MDB_val sv = {0, (void *)""};
		int removed = 0, was_put = 0;
		memcpy(sk, par, MS_HASH_LEN);
		k.mv_size = sizeof sk;
		k.mv_data = sk;
		rc = mdb_put(w->txn, s->dbi[ST_DB_SUP], &k, &sv, 0);
		if (rc != 0)
			return st_mdb(s, eb, rc, "write sup");
		e = st_heads_remove(s, w->txn, kdb, kdb_len, par, &removed,
		                    &was_put, eb);
		if (e != MS_OK)
			return e;
		if (removed && (nheads == 0 || nputheads < (uint32_t)was_put))
			return ms_errf(eb, MS_ECORRUPT,
			               "keys record counts fewer heads than "
			               "the heads db holds (run verify)");
		nheads -= (uint32_t)removed;
		nputheads -= (uint32_t)was_put;
	}
	memcpy(sk, id, MS_HASH_LEN);
	k.mv_size = sizeof sk;
	k.mv_data = sk;
	rc = mdb_get(w->txn, s->dbi[ST_DB_SUP], &k, &v);
	if (rc == MDB_NOTFOUND) {
		/* Nobody named this op yet: it is a head. */
		e = st_heads_add(s, w->txn, kdb, kdb_len, op, id, eb);
		if (e != MS_OK)
			return e;
		nheads++;
		if (op->type == MS_OP_PUT)
			nputheads++;
	} else if (rc != 0) {
		return st_mdb(s, eb, rc, "read sup");
	}
	if (op->type == MS_OP_PUT && op->value_len == 8)
		counter += ms_get_le64(op->value); /* unsigned: wraps, no UB */
	nops++;
	if (op->type == MS_OP_PUT)
		nputs++;

	tail = op->key_len > ST_KEY_INLINE ? op->key_len : 0;
	need = ST_REC_HDR + tail;
	k.mv_size = kdb_len;
	k.mv_data = kdb;
	v.mv_size = need;
	rc = mdb_put(w->txn, s->dbi[ST_DB_KEYS], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return st_mdb(s, eb, rc, "write keys");
	p = v.mv_data;
	ms_put_le64(p, counter);
	ms_put_le64(p + 8, nops);
	ms_put_le64(p + 16, nputs);
	ms_put_le32(p + 24, nheads);
	ms_put_le16(p + 28, op->key_len);
	ms_put_le32(p + 30, nputheads);
	if (tail)
		memcpy(p + ST_REC_HDR, op->key, tail);
	*nheads_after = nheads;
	return MS_OK;
}

static ms_err apply_op(ms_store *s, st_wctx *w, const ms_op *op,
                       const uint8_t id[MS_HASH_LEN], const uint8_t *buf,
                       size_t len, int *fork, uint32_t *nheads_after,
                       int count_vv, ms_errbuf *eb)
{
	MDB_val k = {MS_HASH_LEN, (void *)id}, v = {len, (void *)buf};
	ms_err e;
	int rc;

	rc = mdb_put(w->txn, s->dbi[ST_DB_OPS], &k, &v, MDB_NOOVERWRITE);
	if (rc != 0)
		return st_mdb(s, eb, rc, "write ops");
	e = log_insert(s, w, op, id, fork, eb);
	if (e == MS_OK && count_vv)
		e = st_vv_add(s, w, op->author, op->seq,
		              w->acc_later ? NULL : id, eb);
	if (e == MS_OK)
		e = st_arrival_add(s, w, id, eb);
	if (e == MS_OK)
		e = state_apply(s, w, op, id, nheads_after, eb);
	if (e != MS_OK)
		return e;
	w->op_count++;
	return MS_OK;
}

ms_err st_apply(ms_store *s, st_wctx *w, const ms_op *op,
                const uint8_t id[MS_HASH_LEN], const uint8_t *buf, size_t len,
                int *fork, uint32_t *nheads_after, ms_errbuf *eb)
{
	return apply_op(s, w, op, id, buf, len, fork, nheads_after, 1, eb);
}

ms_err st_apply_novv(ms_store *s, st_wctx *w, const ms_op *op,
                     const uint8_t id[MS_HASH_LEN], const uint8_t *buf,
                     size_t len, int *fork, uint32_t *nheads_after,
                     ms_errbuf *eb)
{
	return apply_op(s, w, op, id, buf, len, fork, nheads_after, 0, eb);
}
