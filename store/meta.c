/*
 * meta.c — the meta record a write transaction carries (local seq, clock,
 * op count, arrival counter) and the stats counters.  The set of ops is
 * fingerprinted per author in the vv db (vv.c), not here.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

static const char *const stat_names[ST_STAT_REJECTED_] = {
	[ST_STAT_OPS_LOCAL] = "ops_local",
	[ST_STAT_OPS_APPLIED] = "ops_applied",
	[ST_STAT_OPS_DUPLICATE] = "ops_duplicate",
	[ST_STAT_FORKS] = "forks",
	[ST_STAT_CLOCK_SKEW] = "clock_skew",
	[ST_STAT_CONFLICTS] = "conflicts",
	[ST_STAT_MAP_GROW] = "map_grow",
	[ST_STAT_STORE_FULL] = "store_full",
	[ST_STAT_LIM_HEADS] = "limit_heads_per_key",
	[ST_STAT_STALE_READERS] = "stale_readers",
};

const char *st_stat_name(unsigned i, char *buf, size_t cap)
{
	if (i < ST_STAT_REJECTED_)
		return stat_names[i];
	snprintf(buf, cap, "rejected_%s",
	         ms_op_reason_name((ms_op_reason)(i - ST_STAT_REJECTED_)));
	return buf;
}

static int meta_get(ms_store *s, MDB_txn *txn, const char *name, MDB_val *v)
{
	MDB_val k = {strlen(name), (void *)name};
	return mdb_get(txn, s->dbi[ST_DB_META], &k, v);
}

int st_meta_u64(ms_store *s, MDB_txn *txn, const char *name, uint64_t *out)
{
	MDB_val v;
	int rc = meta_get(s, txn, name, &v);

	*out = 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	*out = ms_get_le64(v.mv_data);
	return 0;
}

ms_err st_meta_load(ms_store *s, st_wctx *w, ms_errbuf *eb)
{
	int rc;

	if ((rc = st_meta_u64(s, w->txn, ST_META_LOCAL_SEQ, &w->local_seq)) ||
	    (rc = st_meta_u64(s, w->txn, ST_META_HLC, &w->hlc)) ||
	    (rc = st_meta_u64(s, w->txn, ST_META_OP_COUNT, &w->op_count)) ||
	    (rc = st_meta_u64(s, w->txn, ST_META_ARRIVAL, &w->arrival)))
		return st_mdb(s, eb, rc, "read meta");
	return MS_OK;
}

static int meta_put(ms_store *s, MDB_txn *txn, const char *name, const void *p,
                    size_t n)
{
	MDB_val k = {strlen(name), (void *)name}, v = {n, (void *)p};
	return mdb_put(txn, s->dbi[ST_DB_META], &k, &v, 0);
}

ms_err st_meta_save(ms_store *s, st_wctx *w, ms_errbuf *eb)
{
	uint8_t a[8], b[8], c[8], d[8];
	int rc;

	ms_put_le64(a, w->local_seq);
	ms_put_le64(b, w->hlc);
	ms_put_le64(c, w->op_count);
	ms_put_le64(d, w->arrival);
	if ((rc = meta_put(s, w->txn, ST_META_LOCAL_SEQ, a, 8)) ||
	    (rc = meta_put(s, w->txn, ST_META_ARRIVAL, d, 8)) ||
	    (rc = meta_put(s, w->txn, ST_META_HLC, b, 8)) ||
	    (rc = meta_put(s, w->txn, ST_META_OP_COUNT, c, 8)))
		return st_mdb(s, eb, rc, "write meta");
	return MS_OK;
}

ms_err st_stat_add(ms_store *s, MDB_txn *txn, const char *name, uint64_t d,
                   ms_errbuf *eb)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	uint8_t buf[8];
	uint64_t cur = 0;
	int rc;

	rc = mdb_get(txn, s->dbi[ST_DB_STATS], &k, &v);
	if (rc == 0 && v.mv_size == 8)
		cur = ms_get_le64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "read stats");
	ms_put_le64(buf, cur + d);
	v.mv_size = 8;
	v.mv_data = buf;
	rc = mdb_put(txn, s->dbi[ST_DB_STATS], &k, &v, 0);
	return rc ? st_mdb(s, eb, rc, "write stats") : MS_OK;
}

ms_err st_stats_flush(ms_store *s, st_wctx *w, ms_errbuf *eb)
{
	char buf[64];

	for (unsigned i = 0; i < ST_STAT_COUNT_; i++) {
		if (w->stat[i] == 0)
			continue;
		ms_err e = st_stat_add(s, w->txn,
		                       st_stat_name(i, buf, sizeof buf),
		                       w->stat[i], eb);
		if (e != MS_OK)
			return e;
	}
	return MS_OK;
}

typedef struct stats_add_ctx {
	const char *const *names;
	const uint64_t *deltas;
	size_t n;
} stats_add_ctx;

static ms_err stats_add_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	stats_add_ctx *c = vctx;

	for (size_t i = 0; i < c->n; i++) {
		ms_err e;
		if (c->deltas[i] == 0)
			continue;
		if ((e = st_stat_add(s, w->txn, c->names[i], c->deltas[i],
		                     eb)) != MS_OK)
			return e;
	}
	return MS_OK;
}

ms_err ms_store_stats_add(ms_store *s, const char *const *names,
                          const uint64_t *deltas, size_t n, ms_errbuf *eb)
{
	stats_add_ctx c = {names, deltas, n};

	for (size_t i = 0; i < n; i++) {
		size_t len = names[i] != NULL ? strlen(names[i]) : 0;
		if (len == 0 || len > ST_STAT_NAME_MAX)
			return ms_errf(eb, MS_EINVAL,
			               "stats add: counter name %zu is %s", i,
			               len == 0 ? "empty"
			                        : "longer than 64 bytes");
	}
	if (n == 0)
		return MS_OK;
	return st_write(s, stats_add_txn, &c, eb);
}

ms_err st_log_max_seq(ms_store *s, MDB_txn *txn, const uint8_t *author,
                      uint64_t *out, ms_errbuf *eb)
{
	uint8_t kb[ST_LOGKEY_LEN];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	*out = 0;
	rc = mdb_cursor_open(txn, s->dbi[ST_DB_LOG], &c);
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_cursor_open(log)");
	/* Position after the author's last possible slot, then step back. */
	st_logkey(kb, author, UINT64_MAX);
	k.mv_size = sizeof kb;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == ST_LOGKEY_LEN &&
	    memcmp(k.mv_data, kb, ST_LOGKEY_LEN) == 0) {
		*out = UINT64_MAX;
		mdb_cursor_close(c);
		return MS_OK;
	}
	if (rc == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == ST_LOGKEY_LEN &&
	    memcmp(k.mv_data, author, MS_PK_LEN) == 0)
		*out = ms_get_be64((const uint8_t *)k.mv_data + MS_PK_LEN);
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "read log");
	return MS_OK;
}
