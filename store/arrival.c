/*
 * arrival.c — the arrival feed: every op a store gains gets the next local
 * arrival number (counter in meta, db arrival: u64 BE -> op id) in the
 * transaction that stores it.  A daemon remembers the last number it has
 * handled and reads past it, which finds ops written by other processes
 * (meshsync-node put) as well as its own, without scanning the log.
 */
#include "store_int.h"

#include <string.h>

ms_err st_arrival_add(ms_store *s, st_wctx *w, const uint8_t id[MS_HASH_LEN],
                      ms_errbuf *eb)
{
	uint8_t kb[8];
	MDB_val k = {sizeof kb, kb}, v = {MS_HASH_LEN, (void *)id};
	int rc;

	if (w->arrival == UINT64_MAX)
		return ms_errf(eb, MS_ESTORE, "arrival numbers exhausted");
	ms_put_be64(kb, w->arrival + 1); /* big-endian: LMDB order = arrival */
	/* Numbers only grow, so every put lands at the end of the db. */
	rc = mdb_put(w->txn, s->dbi[ST_DB_ARRIVAL], &k, &v, MDB_APPEND);
	if (rc != 0)
		return st_mdb(s, eb, rc, "write arrival");
	w->arrival++;
	return MS_OK;
}

uint64_t ms_store_arrival_head(ms_store_rtxn *rt)
{
	uint64_t n = 0;

	if (st_meta_u64(rt->s, rt->txn, ST_META_ARRIVAL, &n) != 0)
		return 0;
	return n;
}

int ms_store_arrival_behind(ms_store_rtxn *rt)
{
	MDB_envinfo info;

	/* mdb_env_info reads the newer of the two meta pages in the map,
	 * which the writer's last pwrite has already changed; the snapshot
	 * took the txn id published in the lock file after it */
	if (mdb_env_info(rt->s->env, &info) != 0)
		return 0;
	return info.me_last_txnid > mdb_txn_id(rt->txn);
}

typedef struct arrival_walk {
	ms_store_rtxn *rt;
	ms_arrival_fn fn;
	void *ctx;
} arrival_walk;

static ms_err arrival_row(const MDB_val *k, const MDB_val *v, void *vctx,
                          int *stop, ms_errbuf *why)
{
	arrival_walk *w = vctx;
	ms_log_entry e;
	ms_err err;

	if (k->mv_size != 8)
		return ms_errf(why, MS_ECORRUPT,
		               "arrival key of %zu bytes, "
		               "want 8",
		               k->mv_size);
	if (v->mv_size != MS_HASH_LEN)
		return ms_errf(why, MS_ECORRUPT,
		               "arrival record of %zu bytes, "
		               "want %d",
		               v->mv_size, MS_HASH_LEN);
	if ((err = st_op_load(w->rt, v->mv_data, MS_ECORRUPT, &e, why)) !=
	    MS_OK)
		return err;
	*stop = w->fn(ms_get_be64(k->mv_data), &e, w->ctx);
	return MS_OK;
}

ms_err ms_store_foreach_arrival(ms_store_rtxn *rt, uint64_t after,
                                ms_arrival_fn fn, void *ctx, ms_errbuf *eb)
{
	arrival_walk w = {rt, fn, ctx};
	uint8_t kb[8];
	MDB_val start = {sizeof kb, kb};

	if (after == UINT64_MAX)
		return MS_OK;
	ms_put_be64(kb, after + 1);
	return st_walk(rt, ST_DB_ARRIVAL, &start, arrival_row, &w,
	               "foreach_arrival", eb);
}
