/*
 * digest.c — what two nodes compare: the version-vector digest and the
 * state hash; and the summary of a store built from them.
 *
 * vv digest = BLAKE2b-256 over
 *     for each vv entry in author order:
 *         author (32) || seq (u64 LE) || held (u64 LE) || setsum (32)
 *     then  op count (u64 LE)
 * where setsum is the author's set digest (crypto/setsum.h).  Equal
 * digests mean equal entries (BLAKE2b is collision-resistant), and equal
 * setsums mean equal sets of op ids per author (discrete log in
 * ristretto255), so equal digests mean equal op sets: ops above a gap and
 * every op of a fork included.
 *
 * state hash = BLAKE2b-256 over, for each key in the keys db's order:
 *     key_len (u16 LE) || key || nheads (u32 LE) || head ids ascending
 * The keys db's order is a function of the set of keys, and the heads a
 * function of the set of ops, so equal op sets hash equal.
 */
#include "store_int.h"

#include <inttypes.h>
#include <string.h>

static ms_err meta_read(ms_store_rtxn *rt, const char *name, MDB_val *v,
                        size_t want, ms_errbuf *eb)
{
	MDB_val k = {strlen(name), (void *)name};
	int rc = mdb_get(rt->txn, rt->s->dbi[ST_DB_META], &k, v);

	if (rc != 0)
		return st_mdb(rt->s, eb, rc, name);
	if (v->mv_size != want)
		return ms_errf(eb, MS_ECORRUPT,
		               "meta %s has %zu bytes, not %zu", name,
		               v->mv_size, want);
	return MS_OK;
}

ms_err ms_store_vv_digest(ms_store_rtxn *rt, uint8_t out[MS_HASH_LEN],
                          ms_errbuf *eb)
{
	ms_hash_state hs;
	MDB_cursor *c = NULL;
	MDB_val k, v, cnt;
	ms_err e;
	int rc;

	if ((e = meta_read(rt, ST_META_OP_COUNT, &cnt, 8, eb)) != MS_OK)
		return e;
	rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_VV], &c);
	if (rc != 0)
		return st_mdb(rt->s, eb, rc, "vv digest: cursor");
	ms_hash_init(&hs);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size != MS_PK_LEN || v.mv_size != ST_VV_LEN) {
			mdb_cursor_close(c);
			return ms_errf(eb, MS_ECORRUPT,
			               "vv digest: malformed vv entry");
		}
		/* The record is seq, held, setsum (all little-endian, as
		 * hashed): hashed as stored. */
		ms_hash_update(&hs, k.mv_data, MS_PK_LEN);
		ms_hash_update(&hs, v.mv_data, ST_VV_LEN);
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(rt->s, eb, rc, "vv digest: read vv");
	ms_hash_update(&hs, cnt.mv_data, 8);
	ms_hash_final(&hs, out);
	return MS_OK;
}

/* Hash the head ids of the key under db key k, ascending (the heads db's
 * dup order), a page of them per step; they must number want. */
static ms_err hash_heads(ms_store_rtxn *rt, MDB_cursor *hc, const MDB_val *k,
                         uint32_t want, ms_hash_state *hs, ms_errbuf *eb)
{
	MDB_val key = *k, v;
	uint64_t n = 0;
	int rc;

	rc = mdb_cursor_get(hc, &key, &v, MDB_SET);
	if (rc == 0)
		rc = mdb_cursor_get(hc, &key, &v, MDB_GET_MULTIPLE);
	while (rc == 0) {
		if (v.mv_size % MS_HASH_LEN != 0)
			return ms_errf(eb, MS_ECORRUPT,
			               "state hash: malformed heads record");
		ms_hash_update(hs, v.mv_data, v.mv_size);
		n += v.mv_size / MS_HASH_LEN;
		rc = mdb_cursor_get(hc, &key, &v, MDB_NEXT_MULTIPLE);
	}
	if (rc != MDB_NOTFOUND)
		return st_mdb(rt->s, eb, rc, "state hash: read heads");
	if (n != want)
		return ms_errf(eb, MS_ECORRUPT,
		               "state hash: a keys record counts %u heads, the "
		               "heads db holds %llu (run verify)",
		               (unsigned)want, (unsigned long long)n);
	return MS_OK;
}

ms_err ms_store_state_hash(ms_store_rtxn *rt, uint8_t out[MS_HASH_LEN],
                           ms_errbuf *eb)
{
	ms_hash_state hs;
	MDB_cursor *c = NULL, *hc = NULL;
	MDB_val k, v;
	st_rec r;
	uint8_t hdr[4];
	ms_err e = MS_OK;
	int rc;

	rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_KEYS], &c);
	if (rc == 0)
		rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_HEADS], &hc);
	if (rc != 0) {
		if (c != NULL)
			mdb_cursor_close(c);
		return st_mdb(rt->s, eb, rc, "state hash: cursor");
	}
	ms_hash_init(&hs);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (st_rec_parse(&r, &k, &v) != 0) {
			e = ms_errf(eb, MS_ECORRUPT,
			            "state hash: malformed keys record");
			break;
		}
		ms_put_le16(hdr, r.key_len);
		ms_hash_update(&hs, hdr, 2);
		ms_hash_update(&hs, r.key, r.key_len);
		ms_put_le32(hdr, r.nheads);
		ms_hash_update(&hs, hdr, 4);
		if ((e = hash_heads(rt, hc, &k, r.nheads, &hs, eb)) != MS_OK)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(hc);
	mdb_cursor_close(c);
	if (e != MS_OK)
		return e;
	if (rc != MDB_NOTFOUND)
		return st_mdb(rt->s, eb, rc, "state hash: read keys");
	ms_hash_final(&hs, out);
	return MS_OK;
}

static void count_one(const uint8_t *key, void *ctx)
{
	(void)key;
	(*(uint64_t *)ctx)++;
}

/* Distinct authors in the log: one cursor jump per author. */
static ms_err count_authors(ms_store_rtxn *rt, uint64_t *out, ms_errbuf *eb)
{
	*out = 0;
	return st_walk_groups(rt, ST_DB_LOG, ST_LOGKEY_LEN, count_one, out,
	                      "summary: read log", eb);
}

typedef struct sum_ctx {
	ms_store_summary *out;
} sum_ctx;

static int sum_key(const ms_key_state *ks, void *vctx)
{
	sum_ctx *sc = vctx;

	sc->out->keys++;
	if (ms_key_state_live(ks))
		sc->out->live_keys++;
	if (ms_key_state_conflict(ks))
		sc->out->conflicts++;
	return 0;
}

ms_err ms_store_summary_quick(ms_store_rtxn *rt, ms_store_summary *out,
                              ms_errbuf *eb)
{
	ms_store *s = rt->s;
	MDB_envinfo info;
	MDB_stat st;
	uint64_t seq, logmax;
	ms_err e;
	int rc;

	memset(out, 0, sizeof *out);
	memcpy(out->node_id, s->node_id, MS_PK_LEN);
	memcpy(out->network_id, s->netid, MS_NETID_LEN);
	if ((rc = mdb_stat(rt->txn, s->dbi[ST_DB_OPS], &st)) != 0)
		return st_mdb(s, eb, rc, "summary: stat ops");
	out->ops = st.ms_entries;
	if ((rc = mdb_stat(rt->txn, s->dbi[ST_DB_QUARANTINE], &st)) != 0)
		return st_mdb(s, eb, rc, "summary: stat quarantine");
	out->quarantined = st.ms_entries;
	if ((rc = mdb_stat(rt->txn, s->dbi[ST_DB_KEYS], &st)) != 0)
		return st_mdb(s, eb, rc, "summary: stat keys");
	out->keys = st.ms_entries;
	if ((e = count_authors(rt, &out->authors, eb)) != MS_OK)
		return e;
	rc = st_meta_u64(s, rt->txn, ST_META_LOCAL_SEQ, &seq);
	if (rc != 0)
		return st_mdb(s, eb, rc, "summary: meta local_seq");
	if ((e = st_log_max_seq(s, rt->txn, s->node_id, &logmax, eb)) != MS_OK)
		return e;
	out->local_seq = seq > logmax ? seq : logmax;
	rc = st_meta_u64(s, rt->txn, ST_META_HLC, &out->hlc);
	if (rc != 0)
		return st_mdb(s, eb, rc, "summary: meta hlc");
	mdb_env_info(s->env, &info);
	if ((rc = mdb_env_stat(s->env, &st)) != 0)
		return st_mdb(s, eb, rc, "summary: mdb_env_stat");
	out->store_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	out->map_size = info.me_mapsize;
	return MS_OK;
}

ms_err ms_store_summary_get(ms_store_rtxn *rt, ms_store_summary *out,
                            ms_errbuf *eb)
{
	ms_store *s = rt->s;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	sum_ctx sc = {out};
	uint64_t keys;
	ms_err e;
	int rc;

	if ((e = ms_store_summary_quick(rt, out, eb)) != MS_OK)
		return e;
	keys = out->keys;
	out->keys = 0;
	if ((e = ms_store_foreach_key(rt, NULL, 0, sum_key, &sc, eb)) != MS_OK)
		return st_err_in(eb, e, "summary", eb);
	if (out->keys != keys)
		return ms_errf(eb, MS_ECORRUPT,
		               "summary: the keys db has %" PRIu64
		               " records for %" PRIu64 " keys",
		               keys, out->keys);
	rc = mdb_cursor_open(rt->txn, s->dbi[ST_DB_FORKS], &c);
	if (rc != 0)
		return st_mdb(s, eb, rc, "summary: cursor");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		out->forks++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "summary: read forks");
	if ((e = ms_store_vv_digest(rt, out->vv_digest, eb)) != MS_OK ||
	    (e = ms_store_state_hash(rt, out->state_hash, eb)) != MS_OK)
		return e;
	return MS_OK;
}
