/*
 * vv.c — the version vector's entries: per author the highest contiguous
 * seq, the count of ops held and the setsum of their ids (layout in
 * store_int.h; crypto/setsum.h).  st_vv_add is called by st_apply for
 * every new op, and an ingest merges its batch's setsum (st_vv_merge) in
 * the same transaction, so the committed entries always describe exactly
 * the held ops; the readers here
 * (vector.h) and in read.c (store.h's foreach_vv) expose them.
 */
#include "store_int.h"

#include <string.h>

ms_err st_vv_parse(ms_vv_entry *e, const MDB_val *k, const MDB_val *v,
                   ms_errbuf *why)
{
	const uint8_t *p = v->mv_data;

	if (k->mv_size != MS_PK_LEN)
		return ms_errf(why, MS_ECORRUPT, "vv key of %zu bytes, want %d",
		               k->mv_size, MS_PK_LEN);
	if (v->mv_size != ST_VV_LEN)
		return ms_errf(why, MS_ECORRUPT,
		               "vv record of %zu bytes, want %d", v->mv_size,
		               ST_VV_LEN);
	memcpy(e->author, k->mv_data, MS_PK_LEN);
	e->seq = ms_get_le64(p);
	e->held = ms_get_le64(p + 8);
	memcpy(e->acc, p + 16, MS_VV_ACC_LEN);
	return MS_OK;
}

/*
 * Read author's vv record (zeros when there is none), count n more ops
 * held, add to its setsum the point of id (when id is not NULL) and the
 * sum of points sum (when not NULL), advance the contiguous seq along the
 * log when seq is 0 (always) or fills slot cur+1, and write it back.
 * One body for the op-at-a-time path (st_vv_add) and the batch's
 * (st_vv_add_sum).
 */
static ms_err vv_update(ms_store *s, st_wctx *w, const uint8_t *author,
                        uint64_t n, uint64_t seq, const uint8_t id[MS_HASH_LEN],
                        const ms_setsum_pt *sum, ms_errbuf *eb)
{
	MDB_val k = {MS_PK_LEN, (void *)author}, v;
	uint8_t kb[ST_LOGKEY_LEN], rec[ST_VV_LEN];
	uint64_t cur = 0, held = 0;
	int rc;

	memset(rec, 0, sizeof rec);
	rc = mdb_get(w->txn, s->dbi[ST_DB_VV], &k, &v);
	if (rc == 0) {
		if (v.mv_size != ST_VV_LEN)
			return ms_errf(eb, MS_ECORRUPT,
			               "vv entry of %zu bytes is malformed",
			               v.mv_size);
		memcpy(rec, v.mv_data,
		       ST_VV_LEN); /* the put below may move it */
		cur = ms_get_le64(rec);
		held = ms_get_le64(rec + 8);
	} else if (rc != MDB_NOTFOUND) {
		return st_mdb(s, eb, rc, "read vv");
	}
	held += n;
	/* A new record starts from the empty set (zeros).  A damaged one is
	 * refused rather than summed into something verify cannot explain.
	 * Unencoded points: four field exponentiations an op (decode, the
	 * hash-to-group's two, encode) where ms_setsum_add takes six. */
	if (id != NULL || sum != NULL) {
		ms_setsum_pt acc, p;
		if (ms_setsum_pt_decode(&acc, rec + 16, eb) != MS_OK)
			return ms_errf(eb, MS_ECORRUPT,
			               "vv entry: setsum is not a valid group "
			               "element (run verify)");
		if (id != NULL) {
			ms_setsum_pt_of_id(&p, id);
			ms_setsum_pt_add(&acc, &p);
		}
		if (sum != NULL)
			ms_setsum_pt_add(&acc, sum);
		ms_setsum_pt_encode(rec + 16, &acc);
	}
	/* Only an op that fills slot cur+1 can move the prefix; a fork of a
	 * counted slot or an op above a gap only adds to held and acc. */
	if (seq == 0 || seq == cur + 1) {
		if (w->log_cur == NULL) {
			rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_LOG],
			                     &w->log_cur);
			if (rc != 0)
				return st_mdb(s, eb, rc,
				              "mdb_cursor_open(log)");
		}
		st_logkey(kb, author, cur + 1);
		k.mv_size = sizeof kb;
		k.mv_data = kb;
		rc = mdb_cursor_get(w->log_cur, &k, &v, MDB_SET_KEY);
		/* Each step moves to the next log entry, so this ends within
		 * the author's entries. */
		while (rc == 0) {
			const uint8_t *kp = k.mv_data;
			if (k.mv_size != ST_LOGKEY_LEN ||
			    memcmp(kp, author, MS_PK_LEN) != 0 ||
			    ms_get_be64(kp + MS_PK_LEN) != cur + 1)
				break;
			cur++;
			rc = mdb_cursor_get(w->log_cur, &k, &v, MDB_NEXT);
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			return st_mdb(s, eb, rc, "read log");
	}
	ms_put_le64(rec, cur);
	ms_put_le64(rec + 8, held);
	k.mv_size = MS_PK_LEN;
	k.mv_data = (void *)author;
	v.mv_size = sizeof rec;
	v.mv_data = rec;
	rc = mdb_put(w->txn, s->dbi[ST_DB_VV], &k, &v, 0);
	return rc ? st_mdb(s, eb, rc, "write vv") : MS_OK;
}

ms_err st_vv_add(ms_store *s, st_wctx *w, const uint8_t *author, uint64_t seq,
                 const uint8_t id[MS_HASH_LEN], ms_errbuf *eb)
{
	return vv_update(s, w, author, 1, seq, id, NULL, eb);
}

/*
 * The batch form of st_vv_add (write.c's ms_store_append_batch): the
 * batch's ops are all of one author, so their points are summed on the
 * signing threads and the entry is read, advanced and written once.
 */
ms_err st_vv_add_sum(ms_store *s, st_wctx *w, const uint8_t *author, uint64_t n,
                     const ms_setsum_pt *sum, ms_errbuf *eb)
{
	return vv_update(s, w, author, n, 0, NULL, sum, eb);
}

ms_err st_vv_merge(ms_store *s, st_wctx *w, const uint8_t *author,
                   const ms_setsum_pt *sum, ms_errbuf *eb)
{
	MDB_val k = {MS_PK_LEN, (void *)author}, v;
	uint8_t rec[ST_VV_LEN];
	ms_setsum_pt acc;
	int rc;

	rc = mdb_get(w->txn, s->dbi[ST_DB_VV], &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND
		               ? ms_errf(eb, MS_ECORRUPT,
		                         "vv entry of an op just applied is "
		                         "missing")
		               : st_mdb(s, eb, rc, "read vv");
	if (v.mv_size != ST_VV_LEN)
		return ms_errf(eb, MS_ECORRUPT,
		               "vv entry of %zu bytes is malformed", v.mv_size);
	memcpy(rec, v.mv_data, ST_VV_LEN); /* the put below may move it */
	if (ms_setsum_pt_decode(&acc, rec + 16, eb) != MS_OK)
		return ms_errf(eb, MS_ECORRUPT,
		               "vv entry: setsum is not a valid group element "
		               "(run verify)");
	ms_setsum_pt_add(&acc, sum);
	ms_setsum_pt_encode(rec + 16, &acc);
	v.mv_size = sizeof rec;
	v.mv_data = rec;
	rc = mdb_put(w->txn, s->dbi[ST_DB_VV], &k, &v, 0);
	return rc ? st_mdb(s, eb, rc, "write vv") : MS_OK;
}

typedef struct vv_entry_walk {
	ms_vv_entry_fn fn;
	void *ctx;
} vv_entry_walk;

static ms_err vv_entry_row(const MDB_val *k, const MDB_val *v, void *vctx,
                           int *stop, ms_errbuf *why)
{
	vv_entry_walk *w = vctx;
	ms_vv_entry e;
	ms_err err = st_vv_parse(&e, k, v, why);

	if (err == MS_OK)
		*stop = w->fn(&e, w->ctx);
	return err;
}

ms_err ms_store_foreach_vv_entry(ms_store_rtxn *rt, ms_vv_entry_fn fn,
                                 void *ctx, ms_errbuf *eb)
{
	vv_entry_walk w = {fn, ctx};

	return st_walk(rt, ST_DB_VV, NULL, vv_entry_row, &w, "foreach_vv_entry",
	               eb);
}

ms_err ms_store_vv_entry_get(ms_store_rtxn *rt, const uint8_t author[MS_PK_LEN],
                             ms_vv_entry *out, ms_errbuf *eb)
{
	MDB_val k = {MS_PK_LEN, (void *)author}, v;
	ms_err e;
	int rc;

	rc = mdb_get(rt->txn, rt->s->dbi[ST_DB_VV], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ms_errf(eb, MS_ENOTFOUND,
		               "vv entry: no op of that author");
	if (rc != 0)
		return st_mdb(rt->s, eb, rc, "vv entry");
	if ((e = st_vv_parse(out, &k, &v, eb)) != MS_OK)
		return st_err_in(eb, e, "vv entry", eb);
	return MS_OK;
}
