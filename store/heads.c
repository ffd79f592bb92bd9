/*
 * heads.c — the heads of each key, kept as dup entries of two dbs under
 * the key's db key rather than as a list inside its keys record: `heads`
 * (head ids ascending: the state hash's order, and the parents a local
 * write names) and `heads_rank` (descending (hlc, author, id): the read
 * order, so a read takes the first heads_per_key and has the winner among
 * them).  Adding or dropping a head is a few B-tree steps, O(log heads),
 * however many concurrent heads a key has.  Also the migration of stores
 * that kept the list in the record.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

void st_rank(uint8_t out[ST_RANK_LEN], uint64_t hlc, const uint8_t *author,
             const uint8_t id[MS_HASH_LEN])
{
	ms_put_be64(out, hlc);
	memcpy(out + 8, author, MS_PK_LEN);
	memcpy(out + ST_RANK_ID, id, MS_HASH_LEN);
	/* Complemented, the greatest (hlc, author, id) sorts first; the id
	 * breaks the tie between the two ops of a fork. */
	for (size_t i = 0; i < ST_RANK_LEN; i++)
		out[i] = (uint8_t)~out[i];
}

void st_rank_id(uint8_t id[MS_HASH_LEN], const uint8_t *rank)
{
	for (size_t i = 0; i < MS_HASH_LEN; i++)
		id[i] = (uint8_t)~rank[ST_RANK_ID + i];
}

/* Put one dup; an existing equal dup is fine (the txn is being rerun). */
static ms_err dup_put(ms_store *s, MDB_txn *txn, enum st_db db,
                      const uint8_t *kdb, size_t kdb_len, const uint8_t *val,
                      size_t len, ms_errbuf *eb)
{
	MDB_val k = {kdb_len, (void *)kdb}, v = {len, (void *)val};
	int rc = mdb_put(txn, s->dbi[db], &k, &v, MDB_NODUPDATA);

	s->trace_heads++;
	if (rc != 0 && rc != MDB_KEYEXIST)
		return st_mdb(s, eb, rc,
		              db == ST_DB_HEADS ? "write heads"
		                                : "write heads_rank");
	return MS_OK;
}

static ms_err heads_put(ms_store *s, MDB_txn *txn, const uint8_t *kdb,
                        size_t kdb_len, uint64_t hlc, const uint8_t *author,
                        const uint8_t id[MS_HASH_LEN], ms_errbuf *eb)
{
	uint8_t rank[ST_RANK_LEN];
	ms_err e;

	st_rank(rank, hlc, author, id);
	e = dup_put(s, txn, ST_DB_HEADS, kdb, kdb_len, id, MS_HASH_LEN, eb);
	if (e == MS_OK)
		e = dup_put(s, txn, ST_DB_HEADS_RANK, kdb, kdb_len, rank,
		            ST_RANK_LEN, eb);
	return e;
}

ms_err st_heads_add(ms_store *s, MDB_txn *txn, const uint8_t *kdb,
                    size_t kdb_len, const ms_op *op,
                    const uint8_t id[MS_HASH_LEN], ms_errbuf *eb)
{
	return heads_put(s, txn, kdb, kdb_len, op->hlc, op->author, id, eb);
}

/* Delete the dup (k, v) of db if present; *found. */
static ms_err dup_del(ms_store *s, MDB_txn *txn, enum st_db db, MDB_val *k,
                      MDB_val *v, int *found, ms_errbuf *eb)
{
	int rc = mdb_del(txn, s->dbi[db], k, v);

	s->trace_heads++;
	*found = rc == 0;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc,
		              db == ST_DB_HEADS ? "delete heads"
		                                : "delete heads_rank");
	return MS_OK;
}

ms_err st_heads_remove(ms_store *s, MDB_txn *txn, const uint8_t *kdb,
                       size_t kdb_len, const uint8_t id[MS_HASH_LEN],
                       int *removed, int *was_put, ms_errbuf *eb)
{
	uint8_t rank[ST_RANK_LEN];
	MDB_val k = {kdb_len, (void *)kdb}, v = {MS_HASH_LEN, (void *)id};
	ms_head h;
	ms_err e;
	int found;

	*removed = 0;
	*was_put = 0;
	/* Most parents a new op names are heads; one that is not (an op
	 * of another key, one not held, one already superseded) is not
	 * in heads and costs one lookup. */
	e = dup_del(s, txn, ST_DB_HEADS, &k, &v, &found, eb);
	if (e != MS_OK || !found)
		return e;
	if (st_head_load(s, txn, id, &h) != 0)
		return ms_errf(eb, MS_ECORRUPT,
		               "a head of a key is not a held op (run verify)");
	st_rank(rank, h.hlc, h.author, id);
	v.mv_size = ST_RANK_LEN;
	v.mv_data = rank;
	e = dup_del(s, txn, ST_DB_HEADS_RANK, &k, &v, &found, eb);
	if (e != MS_OK)
		return e;
	if (!found)
		return ms_errf(eb, MS_ECORRUPT,
		               "a head is missing from heads_rank (run "
		               "verify)");
	*removed = 1;
	*was_put = h.type == MS_OP_PUT;
	return MS_OK;
}

/* One schema-2 record (heads inline): its heads into the dbs, the record
 * rewritten.  rec is a private copy of the old value (rec_len bytes). */
static ms_err migrate_one(ms_store *s, MDB_txn *txn, const uint8_t *kdb,
                          size_t kdb_len, const uint8_t *rec, size_t rec_len,
                          ms_errbuf *eb)
{
	uint32_t n = ms_get_le32(rec + 24), nput = 0;
	uint16_t key_len = ms_get_le16(rec + 28);
	size_t tail = rec_len - ST_REC_HDR_V2 - (size_t)n * MS_HASH_LEN;
	MDB_val k = {kdb_len, (void *)kdb}, v;
	uint8_t *p;
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *id = rec + ST_REC_HDR_V2 +
		                    (size_t)i * MS_HASH_LEN;
		ms_head h;
		ms_err e;
		if (st_head_load(s, txn, id, &h) != 0)
			return ms_errf(eb, MS_ECORRUPT,
			               "migrate heads: a head of a key is not "
			               "a held op (run verify on the old "
			               "build)");
		e = heads_put(s, txn, kdb, kdb_len, h.hlc, h.author, id, eb);
		if (e != MS_OK)
			return e;
		nput += h.type == MS_OP_PUT;
	}
	v.mv_size = ST_REC_HDR + tail;
	rc = mdb_put(txn, s->dbi[ST_DB_KEYS], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return st_mdb(s, eb, rc, "migrate heads: write keys");
	p = v.mv_data;
	memcpy(p, rec, 24); /* counter, nops, nputs */
	ms_put_le32(p + 24, n);
	ms_put_le16(p + 28, key_len);
	ms_put_le32(p + 30, nput);
	memcpy(p + ST_REC_HDR, rec + rec_len - tail, tail);
	return MS_OK;
}

/* A schema-2 record: at least one head (every key has one) and exactly
 * header + ids + key tail bytes.  A converted record is ST_REC_HDR + tail,
 * shorter than any schema-2 one, so the two never look alike. */
static int v2_record(const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	uint32_t n;
	uint16_t key_len;
	size_t tail;

	if (v->mv_size < ST_REC_HDR_V2)
		return 0;
	n = ms_get_le32(p + 24);
	key_len = ms_get_le16(p + 28);
	tail = key_len > ST_KEY_INLINE ? key_len : 0;
	if (tail == 0 && k->mv_size != key_len)
		return 0;
	return n > 0 &&
	       v->mv_size == ST_REC_HDR_V2 + (size_t)n * MS_HASH_LEN + tail;
}

ms_err st_migrate_heads(ms_store *s, MDB_txn *txn, ms_errbuf *eb)
{
	MDB_stat st;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t kdb[ST_KEYDB_MAX];
	ms_err e = MS_OK;
	int rc;

	if ((rc = mdb_stat(txn, s->dbi[ST_DB_HEADS], &st)) != 0)
		return st_mdb(s, eb, rc, "migrate heads: stat heads");
	if (st.ms_entries > 0)
		return MS_OK; /* converted: every key has a head there */
	if ((rc = mdb_cursor_open(txn, s->dbi[ST_DB_KEYS], &c)) != 0)
		return st_mdb(s, eb, rc, "migrate heads: cursor(keys)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		size_t kdb_len = k.mv_size;
		if (v2_record(&k, &v) && kdb_len <= sizeof kdb) {
			/* Copied: the puts below may move the pages k and
			 * v point into. */
			memcpy(kdb, k.mv_data, kdb_len);
			if (st_reserve((void **)&s->rec, &s->rec_cap, v.mv_size,
			               1)) {
				e = ms_errf(eb, MS_ENOMEM,
				            "migrate heads: out of memory");
				break;
			}
			memcpy(s->rec, v.mv_data, v.mv_size);
			e = migrate_one(s, txn, kdb, kdb_len, s->rec, v.mv_size,
			                eb);
			if (e != MS_OK)
				break;
			/* Back to the record just rewritten, then on. */
			k.mv_size = kdb_len;
			k.mv_data = kdb;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET);
			if (rc != 0)
				break;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (e != MS_OK)
		return e;
	if (rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "migrate heads: read keys");
	return MS_OK;
}
