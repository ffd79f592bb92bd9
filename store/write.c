/*
 * write.c — the two ways ops enter a store: local append (seq and hlc
 * allocated inside the write transaction, signed, durable on return) and
 * ingest of encoded ops (verified before any transaction opens, then one
 * transaction per batch, with rejected input quarantined in it).
 */
#include "store_int.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* ms_store_append_resolve: the heads the caller read (nexpect
	 * distinct ids), checked against the key's heads in the txn; NULL for
	 * a plain append, which takes whatever heads there are */
	const uint8_t (*expect)[MS_HASH_LEN];
	size_t nexpect;
	uint64_t *heads_now;
	ms_append_result *res;
} append_ctx;

/* 1 when id is one of the n ids at set. */
static int id_in(const uint8_t (*set)[MS_HASH_LEN], size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(set[i], id, MS_HASH_LEN) == 0)
			return 1;
	return 0;
}

static ms_err append_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	append_ctx *a = vctx;
	uint8_t kdb[ST_KEYDB_MAX], parents[MS_OP_MAX_PARENTS * MS_HASH_LEN];
	uint8_t oid[MS_HASH_LEN];
	MDB_cursor *hc = NULL;
	MDB_val k, v;
	ms_op op;
	size_t np = 0, len = 0, need;
	uint64_t maxph = 0, logmax, seq, tick, hlc, nall = 0;
	uint32_t nheads;
	int rc, fork, unexpected = 0;
	ms_err e;

	/* Parents: the key's current heads (ids ascending, as the op needs).
	 * More heads than an op may name: the first ones in id order; the
	 * rest stay heads until a later write names them.  A resolve reads
	 * them all: every one must be among those the caller named. */
	k.mv_size = st_keydb_key(kdb, a->key, a->klen);
	k.mv_data = kdb;
	if (w->heads_cur == NULL &&
	    (rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_HEADS],
	                          &w->heads_cur)) != 0)
		return st_mdb(s, eb, rc, "append: cursor(heads)");
	hc = w->heads_cur;
	rc = mdb_cursor_get(hc, &k, &v, MDB_SET);
	while (rc == 0 && (a->expect != NULL || np < MS_OP_MAX_PARENTS)) {
		s->trace_heads++;
		if (v.mv_size != MS_HASH_LEN)
			return ms_errf(eb, MS_ECORRUPT,
			               "append: heads record of %zu bytes",
			               v.mv_size);
		nall++;
		if (a->expect != NULL &&
		    !id_in(a->expect, a->nexpect, v.mv_data))
			unexpected = 1;
		if (np < MS_OP_MAX_PARENTS) {
			memcpy(parents + np * MS_HASH_LEN, v.mv_data,
			       MS_HASH_LEN);
			np++;
		}
		rc = mdb_cursor_get(hc, &k, &v, MDB_NEXT_DUP);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "append: read heads");
	if (a->expect != NULL) {
		if (a->heads_now != NULL)
			*a->heads_now = nall;
		if (nall == 0)
			return ms_errf(eb, MS_ENOTFOUND,
			               "append_resolve: no such key");
		/* the named ids are distinct (checked before the txn), so
		 * equal counts and no head outside them is set equality */
		if (unexpected || nall != a->nexpect)
			return ms_errf(eb, MS_ECONFLICT,
			               "append_resolve: the key has %" PRIu64
			               " heads now, not the %zu named",
			               nall, a->nexpect);
	}
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

/* The checks every local op passes before a transaction opens; what names
 * the call ("append", "append_batch: item 17") in the message. */
static ms_err append_check(ms_store *s, const char *what, ms_op_type type,
                           ms_prio prio, const uint8_t *key, size_t klen,
                           const uint8_t *value, size_t vlen, ms_errbuf *eb)
{
	if (type != MS_OP_PUT && type != MS_OP_DEL)
		return ms_errf(eb, MS_EINVAL, "%s: unknown op type %d", what,
		               (int)type);
	if (prio != MS_PRIO_USER && prio != MS_PRIO_BACKGROUND)
		return ms_errf(eb, MS_EINVAL, "%s: unknown priority %d", what,
		               (int)prio);
	if (key == NULL || klen == 0 || klen > MS_OP_MAX_KEY)
		return ms_errf(eb, MS_EINVAL,
		               "%s: key of %zu bytes: keys are 1..%d bytes",
		               what, klen, MS_OP_MAX_KEY);
	if (vlen > s->max_value)
		return ms_errf(eb, MS_EINVAL,
		               "%s: value of %zu bytes is over the limit of "
		               "%u bytes (store.max_value)",
		               what, vlen, (unsigned)s->max_value);
	if (vlen > 0 && value == NULL)
		return ms_errf(eb, MS_EINVAL, "%s: value is NULL", what);
	if (type == MS_OP_DEL && vlen != 0)
		return ms_errf(eb, MS_EINVAL, "%s: a delete carries no value",
		               what);
	return MS_OK;
}

static ms_err check_identity(ms_store *s, const ms_identity *id,
                             const char *what, ms_errbuf *eb)
{
	if (id == NULL ||
	    memcmp(ms_identity_pk(id), s->node_id, MS_PK_LEN) != 0)
		return ms_errf(eb, MS_EINVAL,
		               "%s: identity is not this store's node id",
		               what);
	return MS_OK;
}

ms_err ms_store_append(ms_store *s, const ms_identity *id, ms_op_type type,
                       ms_prio prio, const uint8_t *key, size_t klen,
                       const uint8_t *value, size_t vlen, ms_append_result *res,
                       ms_errbuf *eb)
{
	return ms_store_append_resolve(s, id, type, prio, key, klen, value,
	                               vlen, NULL, 0, NULL, res, eb);
}

ms_err ms_store_append_resolve(ms_store *s, const ms_identity *id,
                               ms_op_type type, ms_prio prio,
                               const uint8_t *key, size_t klen,
                               const uint8_t *value, size_t vlen,
                               const uint8_t (*expect)[MS_HASH_LEN],
                               size_t nexpect, uint64_t *heads_now,
                               ms_append_result *res, ms_errbuf *eb)
{
	append_ctx a = {id,   type,   prio,    key,       klen, value,
	                vlen, expect, nexpect, heads_now, res};
	const char *what = expect != NULL ? "append_resolve" : "append";
	ms_err e;

	if ((e = check_identity(s, id, what, eb)) != MS_OK ||
	    (e = append_check(s, what, type, prio, key, klen, value, vlen,
	                      eb)) != MS_OK)
		return e;
	if (expect != NULL) {
		if (nexpect == 0 || nexpect > MS_OP_MAX_PARENTS)
			return ms_errf(
				eb, MS_EINVAL,
				"append_resolve: %zu parents named: an op "
				"names 1..%d",
				nexpect, MS_OP_MAX_PARENTS);
		for (size_t i = 1; i < nexpect; i++)
			if (id_in(expect, i, expect[i]))
				return ms_errf(eb, MS_EINVAL,
				               "append_resolve: parent %zu is "
				               "named twice",
				               i);
	}
	return st_write(s, append_txn, &a, eb);
}

/* --- batch append ------------------------------------------------------- */

/*
 * A batch is cut into segments of consecutive items with distinct keys.
 * Within a segment every op's parents are heads already in the txn, so the
 * whole segment is planned (seq, hlc, parents: exactly what one append
 * after another would pick), then signed on two threads while the
 * caller's thread applies the signed ops in array order.  An item whose
 * key is already in the segment starts the next one: it must name the
 * earlier op, whose id exists only once it is signed and applied.
 */
struct st_batch {
	size_t cap;                 /* items the per-item arrays hold */
	ms_op *ops;                 /* planned, then signed */
	size_t *off;                /* encoding's offset in enc */
	size_t *len;                /* encoding's length */
	size_t *poff;               /* parents' offset in par */
	uint8_t (*id)[MS_HASH_LEN]; /* op ids */
	uint8_t *done;              /* BATCH_SIGNED... (atomic) */
	uint8_t *enc;               /* encodings of the current segment */
	size_t enc_cap;
	uint8_t *par; /* parent ids of the current segment */
	size_t par_cap;
	/* Keys of the current segment: open addressing, nslots a power of
	 * two >= 2 * cap; a slot is live when its gen is the segment's. */
	uint32_t *slot_gen;
	uint32_t *slot_idx;
	size_t nslots;
	uint32_t gen;
};

void st_batch_free(ms_store *s)
{
	st_batch *b = s->batch;

	if (b == NULL)
		return;
	free(b->ops);
	free(b->off);
	free(b->len);
	free(b->poff);
	free(b->id);
	free(b->done);
	free(b->enc);
	free(b->par);
	free(b->slot_gen);
	free(b->slot_idx);
	free(b);
	s->batch = NULL;
}

static int batch_reserve(ms_store *s, size_t n)
{
	st_batch *b = s->batch;
	size_t cap, slots;

	if (b == NULL) {
		b = calloc(1, sizeof *b);
		if (b == NULL)
			return -1;
		s->batch = b;
	}
	if (n <= b->cap)
		return 0;
	/* Each array grows to the same capacity; cap is raised only once
	 * all of them hold n. */
	cap = b->cap;
	if (st_reserve((void **)&b->ops, &cap, n, sizeof *b->ops))
		return -1;
	cap = b->cap;
	if (st_reserve((void **)&b->off, &cap, n, sizeof *b->off))
		return -1;
	cap = b->cap;
	if (st_reserve((void **)&b->len, &cap, n, sizeof *b->len))
		return -1;
	cap = b->cap;
	if (st_reserve((void **)&b->poff, &cap, n, sizeof *b->poff))
		return -1;
	cap = b->cap;
	if (st_reserve((void **)&b->id, &cap, n, MS_HASH_LEN))
		return -1;
	cap = b->cap;
	if (st_reserve((void **)&b->done, &cap, n, 1))
		return -1;
	for (slots = 16; slots < 2 * cap; slots *= 2)
		;
	if (slots > b->nslots) {
		uint32_t *g = calloc(slots, sizeof *g);
		uint32_t *x = calloc(slots, sizeof *x);
		if (g == NULL || x == NULL) {
			free(g);
			free(x);
			return -1;
		}
		free(b->slot_gen);
		free(b->slot_idx);
		b->slot_gen = g;
		b->slot_idx = x;
		b->nslots = slots;
		b->gen = 0;
	}
	b->cap = cap;
	return 0;
}

static uint64_t key_hash64(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* 1 when key is already in the segment's set; else adds it (item i). */
static int seg_key_seen(st_batch *b, const ms_append_item *items, size_t i)
{
	const ms_append_item *it = &items[i];
	size_t mask = b->nslots - 1;
	size_t j = (size_t)key_hash64(it->key, it->klen) & mask;

	for (;; j = (j + 1) & mask) {
		const ms_append_item *o;
		if (b->slot_gen[j] != b->gen) {
			b->slot_gen[j] = b->gen;
			b->slot_idx[j] = (uint32_t)i;
			return 0;
		}
		o = &items[b->slot_idx[j]];
		if (o->klen == it->klen &&
		    memcmp(o->key, it->key, it->klen) == 0)
			return 1;
	}
}

static void seg_reset(st_batch *b)
{
	if (++b->gen == 0) { /* wrapped: stale stamps could look live */
		memset(b->slot_gen, 0, b->nslots * sizeof *b->slot_gen);
		b->gen = 1;
	}
}

typedef struct batch_ctx {
	const ms_identity *id;
	const ms_append_item *items;
	size_t n;
	st_wctx *w;
	ms_errbuf *eb;
	/* the segment being signed and applied: items [base, base + nseg) */
	size_t base;
	size_t nseg;
	size_t next;         /* next unclaimed item of the segment (atomic) */
	size_t applied;      /* items of the segment applied (main thread) */
	ms_err err;          /* the first failure (main thread) */
	int ran[2];          /* the thread took part: 0 caller, 1 worker */
	ms_setsum_pt sum[2]; /* setsum of the ids each signed, unencoded */
} batch_ctx;

/* A segment also ends once its encodings reach this size, so the scratch
 * a batch of large values holds stays bounded (the txn holds the pages). */
#define BATCH_SEG_BYTES (32u << 20)

/* Items a thread claims at a time: small, so neither thread waits long
 * for the other at the end of a segment, or when the machine's scheduler
 * leaves one of them without a core for a while. */
#define BATCH_CHUNK 8
/* b->done[i]: 0 not yet signed, 1 signed, 2 could not be signed. */
#define BATCH_SIGNED 1
#define BATCH_BAD 2

/* Sign, id and sum one item of the segment (either thread). */
static void batch_sign_one(ms_store *s, batch_ctx *c, int r, size_t k)
{
	st_batch *b = s->batch;
	size_t i = c->base + k, len = 0;
	ms_setsum_pt pt;
	uint8_t state = BATCH_SIGNED;

	if (ms_op_sign_encode(&b->ops[i], c->id, s->netid, b->enc + b->off[i],
	                      b->len[i], &len, NULL) != MS_OK ||
	    len != b->len[i]) {
		state = BATCH_BAD;
	} else {
		ms_op_id(b->id[i], b->enc + b->off[i], len);
		ms_setsum_pt_of_id(&pt, b->id[i]);
		ms_setsum_pt_add(&c->sum[r], &pt);
		c->ran[r] = 1;
	}
	__atomic_store_n(&b->done[i], state, __ATOMIC_RELEASE);
}

/* Claim the next chunk and sign it; 0 when none is left. */
static int batch_sign_chunk(ms_store *s, batch_ctx *c, int r)
{
	size_t k = __atomic_fetch_add(&c->next, BATCH_CHUNK, __ATOMIC_RELAXED);
	size_t end = k + BATCH_CHUNK < c->nseg ? k + BATCH_CHUNK : c->nseg;

	if (k >= c->nseg)
		return 0;
	for (; k < end; k++)
		batch_sign_one(s, c, r, k);
	return 1;
}

/* Apply the signed items at the front of the segment, in order; 0 when
 * the next one is not signed yet. */
static int batch_apply_ready(ms_store *s, batch_ctx *c)
{
	st_batch *b = s->batch;
	int progress = 0;

	while (c->applied < c->nseg && c->err == MS_OK) {
		size_t i = c->base + c->applied;
		uint8_t st = __atomic_load_n(&b->done[i], __ATOMIC_ACQUIRE);
		uint32_t nheads;
		int fork;

		if (st == 0)
			break;
		if (st == BATCH_BAD) {
			c->err = ms_errf(c->eb, MS_EINVAL,
			                 "append_batch: item %zu: cannot be "
			                 "signed",
			                 i);
			break;
		}
		c->err = st_apply_novv(s, c->w, &b->ops[i], b->id[i],
		                       b->enc + b->off[i], b->len[i], &fork,
		                       &nheads, c->eb);
		c->applied++;
		progress = 1;
	}
	return progress;
}

/*
 * st_mt_run's job for a segment.  Both threads claim chunks to sign; the
 * caller's thread (the txn's) also applies signed items in array order as
 * they become ready, so the LMDB work overlaps the signing instead of
 * following it.  On a failure the caller stops claiming and makes the
 * worker stop too.
 */
static void batch_job(ms_store *s, void *arg, size_t lo, size_t hi)
{
	batch_ctx *c = arg;

	(void)hi;
	if (lo != 0) { /* the worker */
		while (batch_sign_chunk(s, c, 1))
			;
		return;
	}
	for (;;) {
		if (batch_apply_ready(s, c))
			continue;
		if (c->err != MS_OK) {
			__atomic_store_n(&c->next, c->nseg, __ATOMIC_RELAXED);
			break;
		}
		if (c->applied == c->nseg)
			break;
		if (!batch_sign_chunk(s, c, 0))
			sched_yield(); /* the worker holds the next item */
	}
}

/* Plan item i: parents = the key's heads (first MS_OP_MAX_PARENTS in id
 * order), seq, hlc, as append_txn does; the parents go to b->par. */
static ms_err batch_plan(ms_store *s, st_wctx *w, batch_ctx *c, size_t i,
                         uint64_t seq, size_t *par_used, size_t *enc_used,
                         ms_errbuf *eb)
{
	st_batch *b = s->batch;
	const ms_append_item *it = &c->items[i];
	uint8_t kdb[ST_KEYDB_MAX];
	MDB_val k, v;
	ms_op *op = &b->ops[i];
	size_t np = 0;
	uint64_t maxph = 0, tick, hlc;
	int rc;

	k.mv_size = st_keydb_key(kdb, it->key, it->klen);
	k.mv_data = kdb;
	if (w->heads_cur == NULL &&
	    (rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_HEADS],
	                          &w->heads_cur)) != 0)
		return st_mdb(s, eb, rc, "append_batch: cursor(heads)");
	b->poff[i] = *par_used;
	rc = mdb_cursor_get(w->heads_cur, &k, &v, MDB_SET);
	while (rc == 0 && np < MS_OP_MAX_PARENTS) {
		ms_op po;
		MDB_val pk = {MS_HASH_LEN, NULL}, pv;
		uint8_t *dst;

		s->trace_heads++;
		if (v.mv_size != MS_HASH_LEN)
			return ms_errf(
				eb, MS_ECORRUPT,
				"append_batch: heads record of %zu bytes",
				v.mv_size);
		if (st_reserve((void **)&b->par, &b->par_cap,
		               *par_used + MS_HASH_LEN, 1))
			return ms_errf(eb, MS_ENOMEM,
			               "append_batch: out of memory");
		dst = b->par + *par_used;
		memcpy(dst, v.mv_data, MS_HASH_LEN);
		*par_used += MS_HASH_LEN;
		np++;
		pk.mv_data = dst;
		rc = mdb_get(w->txn, s->dbi[ST_DB_OPS], &pk, &pv);
		if (rc != 0)
			return rc == MDB_NOTFOUND
			               ? ms_errf(eb, MS_ECORRUPT,
			                         "append_batch: a head of the "
			                         "key is not in ops")
			               : st_mdb(s, eb, rc,
			                        "append_batch: read ops");
		if (st_decode_stored(&po, &pv) != MS_OPR_OK)
			return ms_errf(eb, MS_ECORRUPT,
			               "append_batch: a stored head does not "
			               "decode");
		if (po.hlc > maxph)
			maxph = po.hlc;
		rc = mdb_cursor_get(w->heads_cur, &k, &v, MDB_NEXT_DUP);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "append_batch: read heads");

	tick = ms_hlc_tick(w->hlc, st_wall(s));
	hlc = tick;
	if (np > 0 && maxph >= hlc && maxph < UINT64_MAX)
		hlc = maxph + 1;
	w->hlc = tick;

	memset(op, 0, sizeof *op);
	op->type = it->type;
	op->priority = it->prio;
	memcpy(op->author, s->node_id, MS_PK_LEN);
	op->seq = seq;
	op->hlc = hlc;
	op->nparents = (uint8_t)np;
	op->parents = NULL; /* b->par may still move: set before signing */
	op->key_len = (uint16_t)it->klen;
	op->key = it->key;
	op->value_len = (uint32_t)it->vlen;
	op->value = it->value;
	b->off[i] = *enc_used;
	b->len[i] = MS_OP_FIXED_LEN + np * MS_HASH_LEN + it->klen + it->vlen;
	*enc_used += b->len[i];
	return MS_OK;
}

static ms_err batch_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	batch_ctx *c = vctx;
	st_batch *b = s->batch;
	ms_setsum_pt total;
	uint64_t logmax, seq;
	size_t i = 0;
	ms_err e;

	ms_setsum_pt_identity(&total);
	e = st_log_max_seq(s, w->txn, s->node_id, &logmax, eb);
	if (e != MS_OK)
		return e;
	seq = w->local_seq > logmax ? w->local_seq : logmax;
	if (UINT64_MAX - seq < c->n)
		return ms_errf(eb, MS_ESTORE,
		               "append_batch: seq space exhausted");

	while (i < c->n) {
		size_t base = i, par_used = 0, enc_used = 0, nseg;

		seg_reset(b);
		for (; i < c->n && (i == base || enc_used < BATCH_SEG_BYTES) &&
		       !seg_key_seen(b, c->items, i);
		     i++) {
			e = batch_plan(s, w, c, i, seq + i + 1, &par_used,
			               &enc_used, eb);
			if (e != MS_OK)
				return e;
		}
		nseg = i - base;
		if (st_reserve((void **)&b->enc, &b->enc_cap, enc_used, 1))
			return ms_errf(eb, MS_ENOMEM,
			               "append_batch: out of memory for %zu "
			               "bytes of ops",
			               enc_used);
		for (size_t j = base; j < i; j++)
			b->ops[j].parents = b->par + b->poff[j];

		/* Each op costs a signature and a hash-to-group point, and
		 * neither touches LMDB: both threads, even for a few ops. */
		memset(b->done + base, 0, nseg);
		c->base = base;
		c->nseg = nseg;
		c->next = 0;
		c->applied = 0;
		c->err = MS_OK;
		c->w = w;
		c->eb = eb;
		for (int r = 0; r < 2; r++) {
			c->ran[r] = 0;
			ms_setsum_pt_identity(&c->sum[r]);
		}
		st_mt_run(s, batch_job, c, nseg,
		          nseg > BATCH_CHUNK ? BATCH_CHUNK : nseg);
		if (c->err != MS_OK)
			return c->err;
		for (int r = 0; r < 2; r++)
			if (c->ran[r])
				ms_setsum_pt_add(&total, &c->sum[r]);
	}
	e = st_vv_add_sum(s, w, s->node_id, c->n, &total, eb);
	if (e != MS_OK)
		return e;
	w->local_seq = seq + c->n;
	w->stat[ST_STAT_OPS_LOCAL] += c->n;
	return MS_OK;
}

ms_err ms_store_append_batch(ms_store *s, const ms_identity *id,
                             const ms_append_item *items, size_t n,
                             ms_append_result *res, ms_errbuf *eb)
{
	batch_ctx c;
	char what[48];
	ms_err e;

	if ((e = check_identity(s, id, "append_batch", eb)) != MS_OK)
		return e;
	if (n == 0 || items == NULL)
		return ms_errf(eb, MS_EINVAL, "append_batch: no items");
	if (n > UINT32_MAX / 4)
		return ms_errf(eb, MS_EINVAL,
		               "append_batch: %zu items in one batch", n);
	for (size_t i = 0; i < n; i++) {
		const ms_append_item *it = &items[i];
		snprintf(what, sizeof what, "append_batch: item %zu", i);
		e = append_check(s, what, (ms_op_type)it->type,
		                 (ms_prio)it->prio, it->key, it->klen,
		                 it->value, it->vlen, eb);
		if (e != MS_OK)
			return e;
	}
	if (batch_reserve(s, n) != 0)
		return ms_errf(eb, MS_ENOMEM,
		               "append_batch: out of memory for %zu items", n);
	memset(&c, 0, sizeof c);
	c.id = id;
	c.items = items;
	c.n = n;
	e = st_write(s, batch_txn, &c, eb);
	if (e != MS_OK)
		return e;
	if (res != NULL)
		for (size_t i = 0; i < n; i++) {
			memcpy(res[i].id, s->batch->id[i], MS_HASH_LEN);
			res[i].seq = s->batch->ops[i].seq;
			res[i].hlc = s->batch->ops[i].hlc;
		}
	return MS_OK;
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
