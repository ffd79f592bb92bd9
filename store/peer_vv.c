/*
 * peer_vv.c — what each peer is known to hold (peer || author -> seq),
 * written by node/session from what a peer tells (ACKs, its vector) or shows
 * (the ops it sends).  This is the persistent sync queue:
 * a peer's lag is derived from it and our own vector, never stored.
 */
#include "store_int.h"

#include <string.h>

typedef struct pv_ctx {
	const uint8_t *peer;
	const ms_peer_vv_entry *e;
	size_t n;
	size_t unknown; /* entries skipped: author not held */
} pv_ctx;

static ms_err pv_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	pv_ctx *pc = vctx;
	uint8_t kb[ST_PVKEY_LEN], vb[8];
	MDB_val k = {sizeof kb, kb}, v;
	int rc;

	memcpy(kb, pc->peer, MS_PK_LEN);
	pc->unknown = 0; /* st_write may run the transaction again */
	for (size_t i = 0; i < pc->n; i++) {
		MDB_val ak = {MS_PK_LEN, (void *)pc->e[i].author}, av;

		if (pc->e[i].seq == 0)
			continue;
		/* only authors we hold: a made-up author never reaches disk */
		rc = mdb_get(w->txn, s->dbi[ST_DB_VV], &ak, &av);
		if (rc == MDB_NOTFOUND) {
			pc->unknown++;
			continue;
		}
		if (rc != 0)
			return st_mdb(s, eb, rc, "read vv");
		memcpy(kb + MS_PK_LEN, pc->e[i].author, MS_PK_LEN);
		rc = mdb_get(w->txn, s->dbi[ST_DB_PEER_VV], &k, &v);
		if (rc == 0 && v.mv_size == 8 &&
		    ms_get_le64(v.mv_data) >= pc->e[i].seq)
			continue; /* ACKs may arrive late: never lower */
		if (rc != 0 && rc != MDB_NOTFOUND)
			return st_mdb(s, eb, rc, "read peer_vv");
		ms_put_le64(vb, pc->e[i].seq);
		v.mv_size = 8;
		v.mv_data = vb;
		rc = mdb_put(w->txn, s->dbi[ST_DB_PEER_VV], &k, &v, 0);
		if (rc != 0)
			return st_mdb(s, eb, rc, "write peer_vv");
	}
	return MS_OK;
}

ms_err ms_store_peer_vv_update_held(ms_store *s, const uint8_t peer[MS_PK_LEN],
                                    const ms_peer_vv_entry *e, size_t n,
                                    size_t *unknown, ms_errbuf *eb)
{
	pv_ctx pc = {peer, e, n, 0};
	ms_err err;

	*unknown = 0;
	if (n == 0)
		return MS_OK;
	if ((err = st_write(s, pv_txn, &pc, eb)) == MS_OK)
		*unknown = pc.unknown;
	return err;
}

ms_err ms_store_peer_vv_update(ms_store *s, const uint8_t peer[MS_PK_LEN],
                               const ms_peer_vv_entry *e, size_t n,
                               ms_errbuf *eb)
{
	size_t unknown;

	return ms_store_peer_vv_update_held(s, peer, e, n, &unknown, eb);
}

static uint64_t pv_get(ms_store_rtxn *rt, const uint8_t *peer,
                       const uint8_t *author)
{
	uint8_t kb[ST_PVKEY_LEN];
	MDB_val k = {sizeof kb, kb}, v;

	memcpy(kb, peer, MS_PK_LEN);
	memcpy(kb + MS_PK_LEN, author, MS_PK_LEN);
	if (mdb_get(rt->txn, rt->s->dbi[ST_DB_PEER_VV], &k, &v) != 0 ||
	    v.mv_size != 8)
		return 0;
	return ms_get_le64(v.mv_data);
}

uint64_t ms_store_peer_vv_get(ms_store_rtxn *rt, const uint8_t peer[MS_PK_LEN],
                              const uint8_t author[MS_PK_LEN])
{
	return pv_get(rt, peer, author);
}

uint64_t ms_store_peer_lag(ms_store_rtxn *rt, const uint8_t peer[MS_PK_LEN])
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t lag = 0;
	int rc;

	if (mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_VV], &c) != 0)
		return 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	/* One step per author we hold. */
	while (rc == 0) {
		if (k.mv_size == MS_PK_LEN && v.mv_size == ST_VV_LEN) {
			uint64_t ours = ms_get_le64(v.mv_data);
			uint64_t theirs = pv_get(rt, peer, k.mv_data);
			if (ours > theirs)
				lag += ours - theirs;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return lag;
}

typedef struct unacked_ctx {
	ms_store_rtxn *rt;
	uint64_t best; /* the most any peer is known to hold of ours */
} unacked_ctx;

static void best_of_peer(const uint8_t *key, void *ctx)
{
	unacked_ctx *u = ctx;
	ms_store *s = u->rt->s;
	uint8_t kb[ST_PVKEY_LEN];
	MDB_val pk = {sizeof kb, kb}, pv;

	memcpy(kb, key, MS_PK_LEN);
	memcpy(kb + MS_PK_LEN, s->node_id, MS_PK_LEN);
	if (mdb_get(u->rt->txn, s->dbi[ST_DB_PEER_VV], &pk, &pv) == 0 &&
	    pv.mv_size == 8 && ms_get_le64(pv.mv_data) > u->best)
		u->best = ms_get_le64(pv.mv_data);
}

uint64_t ms_store_unacked_local(ms_store_rtxn *rt)
{
	unacked_ctx u = {rt, 0};
	uint64_t ours = 0;

	if (st_log_max_seq(rt->s, rt->txn, rt->s->node_id, &ours, NULL) !=
	            MS_OK ||
	    ours == 0)
		return 0;
	/* each peer once: what it holds of our own ops */
	if (st_walk_groups(rt, ST_DB_PEER_VV, ST_PVKEY_LEN, best_of_peer, &u,
	                   "unacked", NULL) != MS_OK)
		return ours;
	return ours > u.best ? ours - u.best : 0;
}
