/*
 * write.c — the two ways ops enter a store: local append (seq and hlc
 * allocated inside the write transaction, signed, durable on return) and
 * ingest of encoded ops (verified before any transaction opens, then one
 * transaction per batch, with rejected input quarantined in it).
 */
#include "store_int.h"

#include <string.h>

#include "hlc.h"

#define ST_QUARANTINE_KEEP 4096 /* bytes of a rejected input kept */

static uint64_t st_wall(ms_store *s)
{
	return s->wall_ms != NULL ? s->wall_ms(s->wall_ctx) : ms_hlc_wall_ms();
}

/* 0 means "not configured": the documented default, not "no skew at all",
 * which would refuse every clock but our own. */
static uint64_t st_max_skew(const ms_store *s)
{
	return s->max_skew_ms ? s->max_skew_ms : MS_HLC_DEFAULT_MAX_SKEW_MS;
}

ms_op_reason st_decode_stored(ms_op *op, const MDB_val *v)
{
	/* Accept any value size: the op passed the limit in force when it
	 * was accepted, and a later smaller limit must not hide it. */
	return ms_op_decode(op, v->mv_data, v->mv_size, UINT32_MAX);
}

/* --- local append ------------------------------------------------------ */

typedef struct append_ctx {
	const ms_identity *id;
	ms_op_type type;
	ms_prio prio;
	const uint8_t *key;
	size_t klen;
	const uint8_t *value;
	size_t vlen;
	ms_append_result *res;
} append_ctx;

static ms_err append_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	append_ctx *a = vctx;
	uint8_t kdb[ST_KEYDB_MAX], parents[MS_OP_MAX_PARENTS * MS_HASH_LEN];
	uint8_t oid[MS_HASH_LEN];
	MDB_cursor *hc = NULL;
	MDB_val k, v;
	ms_op op;
	size_t np = 0, len = 0, need;
	uint64_t maxph = 0, logmax, seq, tick, hlc;
	uint32_t nheads;
	int rc, fork;
	ms_err e;

	/* Parents: the key's current heads (ids ascending, as the op needs).
	 * More heads than an op may name: the first ones in id order; the
	 * rest stay heads until a later write names them. */
	k.mv_size = st_keydb_key(kdb, a->key, a->klen);
	k.mv_data = kdb;
	if (w->heads_cur == NULL &&
	    (rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_HEADS],
	                          &w->heads_cur)) != 0)
		return st_mdb(s, eb, rc, "append: cursor(heads)");
	hc = w->heads_cur;
	rc = mdb_cursor_get(hc, &k, &v, MDB_SET);
	while (rc == 0 && np < MS_OP_MAX_PARENTS) {
		s->trace_heads++;
		if (v.mv_size != MS_HASH_LEN)
			return ms_errf(eb, MS_ECORRUPT,
			               "append: heads record of %zu bytes",
			               v.mv_size);
		memcpy(parents + np * MS_HASH_LEN, v.mv_data, MS_HASH_LEN);
		np++;
		rc = mdb_cursor_get(hc, &k, &v, MDB_NEXT_DUP);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "append: read heads");
	for (size_t i = 0; i < np; i++) {
		ms_op po;
		k.mv_size = MS_HASH_LEN;
		k.mv_data = parents + i * MS_HASH_LEN;
		rc = mdb_get(w->txn, s->dbi[ST_DB_OPS], &k, &v);
		if (rc != 0)
			return rc == MDB_NOTFOUND
			               ? ms_errf(eb, MS_ECORRUPT,
			                         "append: a head of the key is "
			                         "not in ops")
			               : st_mdb(s, eb, rc, "append: read ops");
		if (st_decode_stored(&po, &v) != MS_OPR_OK)
			return ms_errf(eb, MS_ECORRUPT,
			               "append: a stored head does not decode");
		if (po.hlc > maxph)
			maxph = po.hlc;
	}

	/* seq continues after anything of ours the log holds, so a node
	 * restored from a backup does not reuse seqs it has since learned. */
	e = st_log_max_seq(s, w->txn, s->node_id, &logmax, eb);
	if (e != MS_OK)
		return e;
	seq = w->local_seq > logmax ? w->local_seq : logmax;
	if (seq == UINT64_MAX)
		return ms_errf(eb, MS_ESTORE, "append: seq space exhausted");
	seq++;

	/* The op orders after what it replaces even when our wall clock is
	 * behind; the persisted clock stays the plain tick so a parent with a
	 * wild timestamp cannot drag it along. */
	tick = ms_hlc_tick(w->hlc, st_wall(s));
	hlc = tick;
	if (np > 0 && maxph >= hlc && maxph < UINT64_MAX)
		hlc = maxph + 1;

	memset(&op, 0, sizeof op);
	op.type = (uint8_t)a->type;
	op.priority = (uint8_t)a->prio;
	memcpy(op.author, s->node_id, MS_PK_LEN);
	op.seq = seq;
	op.hlc = hlc;
	op.nparents = (uint8_t)np;
	op.parents = parents;
	op.key_len = (uint16_t)a->klen;
	op.key = a->key;
	op.value_len = (uint32_t)a->vlen;
	op.value = a->value;
	need = MS_OP_FIXED_LEN + np * MS_HASH_LEN + a->klen + a->vlen;
	if (st_reserve((void **)&s->enc, &s->enc_cap, need, 1))
		return ms_errf(eb, MS_ENOMEM, "append: out of memory");
	e = ms_op_sign_encode(&op, a->id, s->netid, s->enc, s->enc_cap, &len,
	                      eb);
	if (e != MS_OK)
		return e;
	ms_op_id(oid, s->enc, len);
	e = st_apply(s, w, &op, oid, s->enc, len, &fork, &nheads, eb);
	if (e != MS_OK)
		return e;
	w->local_seq = seq;
	w->hlc = tick;
	w->stat[ST_STAT_OPS_LOCAL]++;
	if (a->res != NULL) {
		memcpy(a->res->id, oid, MS_HASH_LEN);
		a->res->seq = seq;
		a->res->hlc = hlc;
	}
	return MS_OK;
}

ms_err ms_store_append(ms_store *s, const ms_identity *id, ms_op_type type,
                       ms_prio prio, const uint8_t *key, size_t klen,
                       const uint8_t *value, size_t vlen, ms_append_result *res,
                       ms_errbuf *eb)
{
	append_ctx a = {id, type, prio, key, klen, value, vlen, res};

	if (id == NULL ||
	    memcmp(ms_identity_pk(id), s->node_id, MS_PK_LEN) != 0)
		return ms_errf(eb, MS_EINVAL,
		               "append: identity is not this store's node id");
	if (type != MS_OP_PUT && type != MS_OP_DEL)
		return ms_errf(eb, MS_EINVAL, "append: unknown op type %d",
		               (int)type);
	if (prio != MS_PRIO_USER && prio != MS_PRIO_BACKGROUND)
		return ms_errf(eb, MS_EINVAL, "append: unknown priority %d",
		               (int)prio);
	if (key == NULL || klen == 0 || klen > MS_OP_MAX_KEY)
		return ms_errf(eb, MS_EINVAL,
		               "append: key of %zu bytes: keys are 1..%d bytes",
		               klen, MS_OP_MAX_KEY);
	if (vlen > s->max_value)
		return ms_errf(
			eb, MS_EINVAL,
			"append: value of %zu bytes is over the limit of "
			"%u bytes (store.max_value)",
			vlen, (unsigned)s->max_value);
	if (vlen > 0 && value == NULL)
		return ms_errf(eb, MS_EINVAL, "append: value is NULL");
	if (type == MS_OP_DEL && vlen != 0)
		return ms_errf(eb, MS_EINVAL,
		               "append: a delete carries no value");
	return st_write(s, append_txn, &a, eb);
}

/* --- ingest ------------------------------------------------------------ */

typedef struct ingest_ctx {
	const ms_ingest_item *items;
	size_t n;
	const uint8_t *peer;
	ms_ingest_result *res;
	ms_ingest_totals tot;
} ingest_ctx;

/* Append rejected input to the bounded quarantine ring, dropping the
 * oldest entries beyond MS_STORE_QUARANTINE_MAX. */
static ms_err quarantine_put(ms_store *s, st_wctx *w, const ms_ingest_item *it,
                             ms_op_reason why, const uint8_t *peer,
                             ms_errbuf *eb)
{
	MDB_val mk = {strlen(ST_META_QNEXT), (void *)ST_META_QNEXT}, k, v;
	uint8_t kb[8], nb[8];
	size_t keep = it->len < ST_QUARANTINE_KEEP ? it->len
	                                           : ST_QUARANTINE_KEEP;
	uint64_t next = 0;
	uint8_t *p;
	MDB_stat st;
	MDB_cursor *c = NULL;
	int rc;

	rc = st_meta_u64(s, w->txn, ST_META_QNEXT, &next);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "read meta quarantine_next");
	ms_put_be64(kb, next); /* big-endian: oldest first */
	k.mv_size = 8;
	k.mv_data = kb;
	v.mv_size = ST_QREC_HDR + keep;
	rc = mdb_put(w->txn, s->dbi[ST_DB_QUARANTINE], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return st_mdb(s, eb, rc, "write quarantine");
	p = v.mv_data;
	ms_put_le64(p, w->wall);
	p[8] = (uint8_t)why;
	p[9] = peer != NULL;
	if (peer != NULL)
		memcpy(p + 10, peer, MS_PK_LEN);
	else
		memset(p + 10, 0, MS_PK_LEN);
	ms_put_le64(p + 10 + MS_PK_LEN, it->len);
	if (keep > 0)
		memcpy(p + ST_QREC_HDR, it->buf, keep);
	ms_put_le64(nb, next + 1);
	v.mv_size = 8;
	v.mv_data = nb;
	rc = mdb_put(w->txn, s->dbi[ST_DB_META], &mk, &v, 0);
	if (rc != 0)
		return st_mdb(s, eb, rc, "write meta quarantine_next");

	rc = mdb_stat(w->txn, s->dbi[ST_DB_QUARANTINE], &st);
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_stat(quarantine)");
	if (st.ms_entries <= MS_STORE_QUARANTINE_MAX)
		return MS_OK;
	rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_QUARANTINE], &c);
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_cursor_open(quarantine)");
	for (size_t extra = st.ms_entries - MS_STORE_QUARANTINE_MAX; extra > 0;
	     extra--) {
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		if (rc == 0)
			rc = mdb_cursor_del(c, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc ? st_mdb(s, eb, rc, "trim quarantine") : MS_OK;
}

/* Add each group's applied ops to its author's setsum: its sum less the
 * points of members found held, one merge per group instead of one
 * addition per op (the points were computed and summed on both cores). */
static ms_err ingest_setsums(ms_store *s, st_wctx *w, size_t n, ms_errbuf *eb)
{
	ms_setsum_pt sum;
	ms_err e;

	for (size_t i = 0; i < n; i++) {
		const st_group *g = &s->bgroups[i];
		if (s->bstat[i] != MS_OPR_OK || s->bgrp[i] != i ||
		    g->held == g->members)
			continue;
		sum = g->sum;
		/* members come at or after their group's slot, within the
		 * range of the batch that filed them (verify_mt.c) */
		for (size_t j = i, left = g->held; left > 0 && j < n; j++)
			if (s->bgrp[j] == i && s->bheld[j]) {
				ms_setsum_pt_sub(&sum, &s->bpt[j]);
				left--;
			}
		e = st_vv_merge(s, w, s->bops[i].author, &sum, eb);
		if (e != MS_OK)
			return e;
	}
	return MS_OK;
}

static ms_err ingest_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	ingest_ctx *ic = vctx;
	ms_ingest_result r;
	ms_err e;
	int rc;

	memset(&ic->tot, 0, sizeof ic->tot);
	w->wall = st_wall(s);
	w->acc_later = 1;
	/* A retried attempt (map grown) counts the held members afresh. */
	for (size_t i = 0; i < ic->n; i++) {
		s->bheld[i] = 0;
		if (s->bstat[i] == MS_OPR_OK && s->bgrp[i] == i)
			s->bgroups[i].held = 0;
	}
	for (size_t i = 0; i < ic->n; i++) {
		const ms_op *op = &s->bops[i];
		ms_op_reason why = (ms_op_reason)s->bstat[i];
		MDB_val k = {MS_HASH_LEN, s->bid[i]}, v;
		uint32_t nheads = 0;
		int fork = 0, skewed = 0;

		memset(&r, 0, sizeof r);
		memcpy(r.id, s->bid[i], MS_HASH_LEN);
		if (why != MS_OPR_OK) {
			r.status = MS_INGEST_REJECTED;
			r.reason = (uint8_t)why;
			w->stat[ST_STAT_REJECTED_ + why]++;
			ic->tot.rejected++;
			e = quarantine_put(s, w, &ic->items[i], why, ic->peer,
			                   eb);
			if (e != MS_OK)
				return e;
			goto next;
		}
		rc = mdb_get(w->txn, s->dbi[ST_DB_OPS], &k, &v);
		if (rc == 0) {
			s->bheld[i] = 1;
			s->bgroups[s->bgrp[i]].held++;
			r.status = MS_INGEST_DUPLICATE;
			w->stat[ST_STAT_OPS_DUPLICATE]++;
			ic->tot.duplicate++;
			goto next;
		}
		if (rc != MDB_NOTFOUND)
			return st_mdb(s, eb, rc, "ingest: read ops");
		e = st_apply(s, w, op, s->bid[i], ic->items[i].buf,
		             ic->items[i].len, &fork, &nheads, eb);
		if (e != MS_OK)
			return e;
		w->hlc = ms_hlc_observe(w->hlc, op->hlc, w->wall,
		                        st_max_skew(s), &skewed);
		r.status = MS_INGEST_APPLIED;
		r.fork = (uint8_t)fork;
		r.skewed = (uint8_t)(skewed != 0);
		w->stat[ST_STAT_OPS_APPLIED]++;
		ic->tot.applied++;
		if (fork)
			ic->tot.forks++;
		if (skewed) {
			w->stat[ST_STAT_CLOCK_SKEW]++;
			ic->tot.skewed++;
		}
		if (nheads > 1 &&
		    ms_store_policy_for(s, op->key, op->key_len) !=
		            MS_POLICY_COUNTER) {
			w->stat[ST_STAT_CONFLICTS]++;
			ic->tot.conflicts++;
		}
		if (nheads > s->heads_per_key)
			ic->tot.heads_over++;
	next:
		if (ic->res != NULL)
			ic->res[i] = r;
	}
	return ingest_setsums(s, w, ic->n, eb);
}

ms_err ms_store_ingest(ms_store *s, const ms_ingest_item *items, size_t n,
                       const uint8_t *from_peer, ms_ingest_result *res,
                       ms_ingest_totals *totals, ms_errbuf *eb)
{
	ingest_ctx ic = {items, n, from_peer, res, {0}};
	size_t cap;
	ms_err e;

	if (totals != NULL)
		memset(totals, 0, sizeof *totals);
	if (n == 0)
		return MS_OK;
	/* The per-item arrays share one capacity; grow them together. */
	if (n > s->bcap) {
		cap = s->bcap;
		if (st_reserve((void **)&s->bops, &cap, n, sizeof *s->bops))
			goto oom;
		cap = s->bcap;
		if (st_reserve((void **)&s->bstat, &cap, n, 1))
			goto oom;
		cap = s->bcap;
		if (st_reserve((void **)&s->bid, &cap, n, MS_HASH_LEN))
			goto oom;
		cap = s->bcap;
		if (st_reserve((void **)&s->bpt, &cap, n, sizeof *s->bpt))
			goto oom;
		cap = s->bcap;
		if (st_reserve((void **)&s->bgrp, &cap, n, sizeof *s->bgrp))
			goto oom;
		cap = s->bcap;
		if (st_reserve((void **)&s->bgroups, &cap, n,
		               sizeof *s->bgroups))
			goto oom;
		cap = s->bcap;
		if (st_reserve((void **)&s->bheld, &cap, n, 1))
			goto oom;
		s->bcap = cap;
	}
	/* Decode and verify everything before a transaction opens (on two
	 * cores for a large batch): the writer lock is held only for the
	 * writes. */
	st_verify_batch(s, items, n);
	e = st_write(s, ingest_txn, &ic, eb);
	if (e != MS_OK)
		return e;
	if (totals != NULL)
		*totals = ic.tot;
	return MS_OK;
oom:
	return ms_errf(eb, MS_ENOMEM, "ingest: out of memory for %zu ops", n);
}
