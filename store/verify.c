/*
 * verify.c — recompute everything the store derives from its ops and
 * compare: each op's decoding, signature and id; log and fork entries; the
 * version vector (contiguous seq, ops held and setsum per author); the
 * arrival feed (one number per held op); the sup index; heads (both heads
 * indexes), counter sums and op counts per key; the op count in meta.
 * Used by node-inspect verify.
 *
 * It needs memory proportional to the number of ops and parents (about
 * 80 bytes per op); that is the price of checking without trusting any
 * derived index.
 */
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vop {
	uint8_t kh[ST_KH_LEN];
	uint8_t id[MS_HASH_LEN];
	uint64_t delta; /* counter contribution */
	uint8_t put;
	uint8_t head;
	uint8_t seen; /* matched by a keys record */
} vop;

/* Per author, recomputed from the ops (held, setsum) and the log (seq). */
typedef struct vau {
	uint8_t author[MS_PK_LEN];
	uint64_t seq, held;
	uint8_t sum[MS_SETSUM_LEN];
} vau;

typedef struct vfy {
	ms_store *s;
	MDB_txn *txn;
	ms_fault_fn fn;
	void *ctx;
	uint64_t faults;
	vop *ops;
	size_t nops, ops_cap;
	uint8_t *sup; /* ST_SUPKEY_LEN each */
	size_t nsup, sup_cap;
	vau *au; /* sorted by author */
	size_t nau, au_cap;
	int oom;
} vfy;

static void fault(vfy *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fault(vfy *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	f->faults++;
	if (f->fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	f->fn(msg, f->ctx);
}

/* Short printable id: enough to find the op with node-inspect log. */
static const char *hexid(char buf[65], const uint8_t *id, size_t n)
{
	ms_hex(buf, id, n);
	return buf;
}

/* The author's entry, inserted in order when new; NULL when out of
 * memory.  Authors are few next to ops, so the insertion cost is small. */
static vau *au_get(vfy *f, const uint8_t *author)
{
	size_t lo = 0, hi = f->nau;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(f->au[mid].author, author, MS_PK_LEN);
		if (c == 0)
			return &f->au[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (st_reserve((void **)&f->au, &f->au_cap, f->nau + 1,
	               sizeof *f->au)) {
		f->oom = 1;
		return NULL;
	}
	memmove(&f->au[lo + 1], &f->au[lo], (f->nau - lo) * sizeof *f->au);
	memset(&f->au[lo], 0, sizeof *f->au);
	memcpy(f->au[lo].author, author, MS_PK_LEN);
	ms_setsum_empty(f->au[lo].sum);
	f->nau++;
	return &f->au[lo];
}

static int vop_cmp(const void *a, const void *b)
{
	const vop *x = a, *y = b;
	int c = memcmp(x->kh, y->kh, ST_KH_LEN);
	return c ? c : memcmp(x->id, y->id, MS_HASH_LEN);
}

static int sup_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ST_SUPKEY_LEN);
}

/* Is (id, seq slot) recorded: the log entry, or one of the fork's ids? */
static int slot_has(vfy *f, const ms_op *op, const uint8_t *id)
{
	uint8_t kb[ST_LOGKEY_LEN];
	MDB_val k = {sizeof kb, kb}, v;
	MDB_cursor *c = NULL;
	int rc;

	st_logkey(kb, op->author, op->seq);
	if (mdb_get(f->txn, f->s->dbi[ST_DB_LOG], &k, &v) == 0 &&
	    v.mv_size == MS_HASH_LEN && memcmp(v.mv_data, id, MS_HASH_LEN) == 0)
		return 1;
	if (mdb_cursor_open(f->txn, f->s->dbi[ST_DB_FORKS], &c) != 0)
		return 0;
	v.mv_size = MS_HASH_LEN;
	v.mv_data = (void *)id;
	rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
	mdb_cursor_close(c);
	return rc == 0;
}

static ms_err scan_ops(vfy *f, uint64_t *count, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	char h[65];
	int rc;

	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_OPS], &c);
	if (rc != 0)
		return st_mdb(f->s, eb, rc, "verify: cursor(ops)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		uint8_t id[MS_HASH_LEN];
		ms_op op;
		ms_op_reason why;
		vop *e;

		(*count)++;
		if (k.mv_size != MS_HASH_LEN) {
			fault(f, "ops: entry with a %zu-byte key", k.mv_size);
			goto next;
		}
		hexid(h, k.mv_data, MS_HASH_LEN);
		why = st_decode_stored(&op, &v);
		if (why != MS_OPR_OK) {
			fault(f, "op %s: does not decode (%s)", h,
			      ms_op_reason_name(why));
			goto next;
		}
		if (ms_op_verify(&op, f->s->netid) != MS_OPR_OK)
			fault(f, "op %s: signature does not verify", h);
		ms_op_id(id, v.mv_data, v.mv_size);
		if (memcmp(id, k.mv_data, MS_HASH_LEN) != 0)
			fault(f, "op %s: its encoding hashes to another id", h);
		{
			vau *a = au_get(f, op.author);
			if (a == NULL) {
				mdb_cursor_close(c);
				return ms_errf(eb, MS_ENOMEM,
				               "verify: out of memory");
			}
			a->held++;
			/* Starts from the empty set: cannot fail. */
			(void)ms_setsum_add(a->sum, k.mv_data, NULL);
		}
		if (!slot_has(f, &op, k.mv_data))
			fault(f,
			      "op %s: no log or fork entry for its author and "
			      "seq %llu",
			      h, (unsigned long long)op.seq);
		if (st_reserve((void **)&f->ops, &f->ops_cap, f->nops + 1,
		               sizeof *f->ops) ||
		    st_reserve((void **)&f->sup, &f->sup_cap,
		               f->nsup + op.nparents, ST_SUPKEY_LEN)) {
			mdb_cursor_close(c);
			return ms_errf(eb, MS_ENOMEM, "verify: out of memory");
		}
		e = &f->ops[f->nops++];
		memset(e, 0, sizeof *e);
		st_key_hash(e->kh, op.key, op.key_len);
		memcpy(e->id, k.mv_data, MS_HASH_LEN);
		e->put = op.type == MS_OP_PUT;
		if (e->put && op.value_len == 8)
			e->delta = ms_get_le64(op.value);
		for (unsigned i = 0; i < op.nparents; i++) {
			uint8_t *p = f->sup + f->nsup++ * ST_SUPKEY_LEN;
			memcpy(p, op.parents + (size_t)i * MS_HASH_LEN,
			       MS_HASH_LEN);
			memcpy(p + MS_HASH_LEN, e->kh, ST_KH_LEN);
		}
	next:
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(f->s, eb, rc, "verify: read ops");
	return MS_OK;
}

/* The sup index must be exactly the (parent, key hash) pairs of the ops. */
static ms_err check_sup(vfy *f, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t i = 0, n = 0;
	char h[65];
	int rc;

	if (f->nsup > 0) /* qsort's base may not be NULL, even for 0 */
		qsort(f->sup, f->nsup, ST_SUPKEY_LEN, sup_cmp);
	for (size_t j = 0; j < f->nsup; j++) /* dedupe in place */
		if (n == 0 ||
		    memcmp(f->sup + (n - 1) * ST_SUPKEY_LEN,
		           f->sup + j * ST_SUPKEY_LEN, ST_SUPKEY_LEN) != 0)
			memmove(f->sup + n++ * ST_SUPKEY_LEN,
			        f->sup + j * ST_SUPKEY_LEN, ST_SUPKEY_LEN);
	f->nsup = n;
	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_SUP], &c);
	if (rc != 0)
		return st_mdb(f->s, eb, rc, "verify: cursor(sup)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0 || i < f->nsup) {
		int cmp;
		if (rc != 0)
			cmp = 1; /* db exhausted: the rest are missing */
		else if (k.mv_size != ST_SUPKEY_LEN)
			cmp = -2;
		else if (i >= f->nsup)
			cmp = -1;
		else
			cmp = memcmp(k.mv_data, f->sup + i * ST_SUPKEY_LEN,
			             ST_SUPKEY_LEN);
		if (cmp == -2) {
			fault(f, "sup: entry with a %zu-byte key", k.mv_size);
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		} else if (cmp < 0) {
			fault(f,
			      "sup: op %s is marked superseded but no held op "
			      "names it",
			      hexid(h, k.mv_data, MS_HASH_LEN));
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		} else if (cmp > 0) {
			fault(f,
			      "sup: op %s is named as a parent but not marked "
			      "superseded",
			      hexid(h, f->sup + i * ST_SUPKEY_LEN,
			            MS_HASH_LEN));
			i++;
		} else {
			i++;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(f->s, eb, rc, "verify: read sup");
	return MS_OK;
}

/* The key's heads_rank dups: as many as nheads, each the rank of a held
 * op whose id is a head of the key (in heads), in rank order by
 * construction of the db.  Returns the number of bad entries. */
static uint64_t rank_check(vfy *f, MDB_cursor *rc_cur, MDB_cursor *hc,
                           const MDB_val *k, uint64_t *n)
{
	MDB_val key = *k, v;
	uint64_t bad = 0;
	int rc;

	*n = 0;
	rc = mdb_cursor_get(rc_cur, &key, &v, MDB_SET);
	while (rc == 0) {
		uint8_t want[ST_RANK_LEN], id[MS_HASH_LEN];
		MDB_val hk = *k, hv = {MS_HASH_LEN, id};
		ms_head h;

		(*n)++;
		if (v.mv_size != ST_RANK_LEN) {
			bad++;
			goto next;
		}
		st_rank_id(id, v.mv_data);
		if (mdb_cursor_get(hc, &hk, &hv, MDB_GET_BOTH) != 0 ||
		    st_head_load(f->s, f->txn, id, &h) != 0) {
			bad++;
			goto next;
		}
		st_rank(want, h.hlc, h.author, id);
		if (memcmp(want, v.mv_data, ST_RANK_LEN) != 0)
			bad++;
	next:
		rc = mdb_cursor_get(rc_cur, &key, &v, MDB_NEXT_DUP);
	}
	return bad;
}

/* Dup entries of db (all keys): heads and heads_rank each hold exactly the
 * heads the keys records count, so no entry sits under a key without one. */
static void heads_total(vfy *f, enum st_db db, uint64_t counted)
{
	MDB_stat st;

	if (mdb_stat(f->txn, f->s->dbi[db], &st) != 0)
		fault(f, "%s: cannot stat the db", st_db_names[db]);
	else if (st.ms_entries != counted)
		fault(f, "%s: %llu entries, the keys records count %llu heads",
		      st_db_names[db], (unsigned long long)st.ms_entries,
		      (unsigned long long)counted);
}

static ms_err check_keys(vfy *f, ms_errbuf *eb)
{
	MDB_cursor *c = NULL, *hc = NULL, *rk = NULL;
	MDB_val k, v;
	uint64_t counted = 0; /* heads the keys records count */
	ms_err err = MS_OK;
	char h[65];
	int rc;

	for (size_t i = 0; i < f->nops; i++) {
		uint8_t sk[ST_SUPKEY_LEN];
		memcpy(sk, f->ops[i].id, MS_HASH_LEN);
		memcpy(sk + MS_HASH_LEN, f->ops[i].kh, ST_KH_LEN);
		f->ops[i].head = f->nsup == 0 ||
		                 bsearch(sk, f->sup, f->nsup, ST_SUPKEY_LEN,
		                         sup_cmp) == NULL;
	}
	if (f->nops > 0)
		qsort(f->ops, f->nops, sizeof *f->ops, vop_cmp);
	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_KEYS], &c);
	if (rc == 0)
		rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_HEADS], &hc);
	if (rc == 0)
		rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_HEADS_RANK], &rk);
	if (rc != 0) {
		err = st_mdb(f->s, eb, rc, "verify: cursor(keys)");
		goto out;
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		uint8_t kh[ST_KH_LEN];
		uint64_t nops = 0, nputs = 0, sum = 0, nrank = 0, badrank;
		uint32_t nheads = 0, nputheads = 0;
		size_t lo = 0, up = f->nops;
		int heads_ok = 1, hrc;
		MDB_val hk = k, hv;
		char kname[80];
		st_rec r;

		if (st_rec_parse(&r, &k, &v) != 0) {
			fault(f, "keys: malformed record of %zu bytes",
			      v.mv_size);
			goto next;
		}
		counted += r.nheads;
		snprintf(kname, sizeof kname, "%.*s%s",
		         r.key_len > 64 ? 64 : (int)r.key_len,
		         (const char *)r.key, r.key_len > 64 ? "..." : "");
		for (size_t i = 0; kname[i]; i++)
			if ((unsigned char)kname[i] < 0x20 ||
			    (unsigned char)kname[i] > 0x7e)
				kname[i] = '?';
		st_key_hash(kh, r.key, r.key_len);
		while (lo < up) { /* first op of this key hash */
			size_t mid = lo + (up - lo) / 2;
			if (memcmp(f->ops[mid].kh, kh, ST_KH_LEN) < 0)
				lo = mid + 1;
			else
				up = mid;
		}
		/* The heads db's dups of the key, walked beside the ops. */
		hrc = mdb_cursor_get(hc, &hk, &hv, MDB_SET);
		for (size_t i = lo;
		     i < f->nops && memcmp(f->ops[i].kh, kh, ST_KH_LEN) == 0;
		     i++) {
			vop *e = &f->ops[i];
			e->seen = 1;
			nops++;
			nputs += e->put;
			sum += e->delta;
			if (!e->head)
				continue;
			nheads++;
			nputheads += e->put;
			/* ops are in id order, as the heads db's dups are */
			if (hrc != 0 || hv.mv_size != MS_HASH_LEN ||
			    memcmp(hv.mv_data, e->id, MS_HASH_LEN) != 0)
				heads_ok = 0;
			if (hrc == 0)
				hrc = mdb_cursor_get(hc, &hk, &hv,
				                     MDB_NEXT_DUP);
		}
		if (hrc == 0) /* dups left over: heads no op gives */
			heads_ok = 0;
		if (!heads_ok || nheads != r.nheads)
			fault(f,
			      "key \"%s\": holds %u heads, the ops give %u%s",
			      kname, r.nheads, nheads,
			      heads_ok ? "" : " (different ids)");
		if (nputheads != r.nputheads)
			fault(f,
			      "key \"%s\": counts %u PUT heads, the ops give "
			      "%u",
			      kname, r.nputheads, nputheads);
		badrank = rank_check(f, rk, hc, &k, &nrank);
		if (badrank > 0 || nrank != r.nheads)
			fault(f,
			      "key \"%s\": heads_rank holds %llu entries "
			      "(%llu wrong) for %u heads",
			      kname, (unsigned long long)nrank,
			      (unsigned long long)badrank, r.nheads);
		if (nops != r.nops)
			fault(f, "key \"%s\": op count %llu, the ops give %llu",
			      kname, (unsigned long long)r.nops,
			      (unsigned long long)nops);
		if (nputs != r.nputs)
			fault(f,
			      "key \"%s\": put count %llu, the ops give %llu",
			      kname, (unsigned long long)r.nputs,
			      (unsigned long long)nputs);
		if (sum != r.counter)
			fault(f,
			      "key \"%s\": counter %lld, the ops sum to %lld",
			      kname, (long long)r.counter, (long long)sum);
	next:
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (rc != MDB_NOTFOUND) {
		err = st_mdb(f->s, eb, rc, "verify: read keys");
		goto out;
	}
	heads_total(f, ST_DB_HEADS, counted);
	heads_total(f, ST_DB_HEADS_RANK, counted);
	for (size_t i = 0; i < f->nops; i++)
		if (!f->ops[i].seen)
			fault(f, "op %s: its key has no keys record",
			      hexid(h, f->ops[i].id, MS_HASH_LEN));
out:
	if (rk != NULL)
		mdb_cursor_close(rk);
	if (hc != NULL)
		mdb_cursor_close(hc);
	if (c != NULL)
		mdb_cursor_close(c);
	return err;
}

static int vv_push(vfy *f, const uint8_t *author, uint64_t seq)
{
	vau *a = au_get(f, author);

	if (a == NULL)
		return -1;
	a->seq = seq;
	return 0;
}

/* Log entries point at held ops of their slot; recompute the vector. */
static ms_err check_log(vfy *f, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t cur[MS_PK_LEN];
	uint64_t contig = 0;
	int have = 0, broken = 0, rc;
	char h[65];

	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_LOG], &c);
	if (rc != 0)
		return st_mdb(f->s, eb, rc, "verify: cursor(log)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		const uint8_t *kp = k.mv_data;
		uint64_t seq;
		MDB_val ov;
		ms_op op;

		if (k.mv_size != ST_LOGKEY_LEN || v.mv_size != MS_HASH_LEN) {
			fault(f,
			      "log: malformed entry (%zu-byte key, %zu-byte "
			      "value)",
			      k.mv_size, v.mv_size);
			goto next;
		}
		seq = ms_get_be64(kp + MS_PK_LEN);
		if (!have || memcmp(cur, kp, MS_PK_LEN) != 0) {
			if (have && vv_push(f, cur, contig))
				goto oom;
			memcpy(cur, kp, MS_PK_LEN);
			have = 1;
			contig = 0;
			broken = 0;
		}
		if (!broken && seq == contig + 1)
			contig++;
		else
			broken = 1;
		if (mdb_get(f->txn, f->s->dbi[ST_DB_OPS], &v, &ov) != 0) {
			char h2[65];
			fault(f,
			      "log: author %s seq %llu points to op %s, "
			      "which is not held",
			      hexid(h, kp, 8), (unsigned long long)seq,
			      hexid(h2, v.mv_data, MS_HASH_LEN));
			goto next;
		}
		if (st_decode_stored(&op, &ov) != MS_OPR_OK)
			goto next; /* reported by the ops scan */
		if (memcmp(op.author, kp, MS_PK_LEN) != 0 || op.seq != seq)
			fault(f,
			      "log: author %s seq %llu points to an op of "
			      "another author or seq",
			      hexid(h, kp, 8), (unsigned long long)seq);
	next:
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(f->s, eb, rc, "verify: read log");
	if (have && vv_push(f, cur, contig))
		goto oom;
	return MS_OK;
oom:
	return ms_errf(eb, MS_ENOMEM, "verify: out of memory");
}

static void vv_compare(vfy *f, const ms_vv_entry *e, const vau *want)
{
	char h[65];

	hexid(h, want->author, 8);
	if (e->seq != want->seq)
		fault(f,
		      "vv: author %s at seq %llu, the log is contiguous to "
		      "seq %llu",
		      h, (unsigned long long)e->seq,
		      (unsigned long long)want->seq);
	if (e->held != want->held)
		fault(f, "vv: author %s holds %llu ops, %llu are held", h,
		      (unsigned long long)e->held,
		      (unsigned long long)want->held);
	if (!ms_setsum_valid(e->acc))
		fault(f, "vv: author %s: setsum is not a valid group element",
		      h);
	else if (memcmp(e->acc, want->sum, MS_SETSUM_LEN) != 0)
		fault(f, "vv: author %s: setsum does not match the held ops",
		      h);
}

/* The vv db against the entries recomputed from ops and log: one entry
 * per author with an op held. */
static ms_err check_vv(vfy *f, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t i = 0;
	char h[65];
	int rc;

	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_VV], &c);
	if (rc != 0)
		return st_mdb(f->s, eb, rc, "verify: cursor(vv)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		const vau *want = i < f->nau ? &f->au[i] : NULL;
		ms_vv_entry e;
		ms_errbuf why;
		int cmp;

		if (st_vv_parse(&e, &k, &v, &why) != MS_OK) {
			fault(f, "vv: %s", why.msg);
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		cmp = want ? memcmp(e.author, want->author, MS_PK_LEN) : -1;
		if (cmp < 0) {
			fault(f,
			      "vv: author %s at seq %llu, but no op of it is "
			      "held",
			      hexid(h, e.author, 8), (unsigned long long)e.seq);
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		} else if (cmp > 0) {
			fault(f,
			      "vv: author %s missing (%llu ops held, log "
			      "contiguous to seq %llu)",
			      hexid(h, want->author, 8),
			      (unsigned long long)want->held,
			      (unsigned long long)want->seq);
			i++;
		} else {
			vv_compare(f, &e, want);
			i++;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(f->s, eb, rc, "verify: read vv");
	for (; i < f->nau; i++)
		fault(f,
		      "vv: author %s missing (%llu ops held, log contiguous "
		      "to seq %llu)",
		      hexid(h, f->au[i].author, 8),
		      (unsigned long long)f->au[i].held,
		      (unsigned long long)f->au[i].seq);
	return MS_OK;
}

/* Every held op has exactly one arrival number, numbers are at most the
 * counter in meta. */
static ms_err check_arrival(vfy *f, uint64_t held, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v, ov;
	uint64_t n = 0, last = 0, head = 0;
	char h[65];
	int rc;

	if (st_meta_u64(f->s, f->txn, ST_META_ARRIVAL, &head) != 0)
		fault(f, "meta: arrival counter missing or malformed");
	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_ARRIVAL], &c);
	if (rc != 0)
		return st_mdb(f->s, eb, rc, "verify: cursor(arrival)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size != 8 || v.mv_size != MS_HASH_LEN) {
			fault(f, "arrival: malformed entry");
			goto next;
		}
		n++;
		last = ms_get_be64(k.mv_data);
		if (mdb_get(f->txn, f->s->dbi[ST_DB_OPS], &v, &ov) != 0)
			fault(f, "arrival %llu: op %s is not held",
			      (unsigned long long)last,
			      hexid(h, v.mv_data, MS_HASH_LEN));
	next:
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(f->s, eb, rc, "verify: read arrival");
	if (n != held)
		fault(f, "arrival: %llu entries for %llu held ops",
		      (unsigned long long)n, (unsigned long long)held);
	if (last > head)
		fault(f, "arrival: number %llu above the counter %llu",
		      (unsigned long long)last, (unsigned long long)head);
	return MS_OK;
}

static ms_err check_forks(vfy *f, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v, ov, lv;
	char h[65];
	int rc;

	rc = mdb_cursor_open(f->txn, f->s->dbi[ST_DB_FORKS], &c);
	if (rc != 0)
		return st_mdb(f->s, eb, rc, "verify: cursor(forks)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		ms_op op;
		size_t cnt = 0;

		if (k.mv_size != ST_LOGKEY_LEN || v.mv_size != MS_HASH_LEN) {
			fault(f, "forks: malformed entry");
			goto next;
		}
		if (mdb_cursor_count(c, &cnt) == 0 && cnt < 2)
			fault(f,
			      "forks: slot seq %llu of author %s has only one "
			      "op",
			      (unsigned long long)ms_get_be64(
				      (const uint8_t *)k.mv_data + MS_PK_LEN),
			      hexid(h, k.mv_data, 8));
		if (mdb_get(f->txn, f->s->dbi[ST_DB_LOG], &k, &lv) != 0)
			fault(f, "forks: slot of author %s has no log entry",
			      hexid(h, k.mv_data, 8));
		if (mdb_get(f->txn, f->s->dbi[ST_DB_OPS], &v, &ov) != 0) {
			fault(f, "forks: op %s is not held",
			      hexid(h, v.mv_data, MS_HASH_LEN));
			goto next;
		}
		if (st_decode_stored(&op, &ov) == MS_OPR_OK &&
		    (memcmp(op.author, k.mv_data, MS_PK_LEN) != 0 ||
		     op.seq != ms_get_be64((const uint8_t *)k.mv_data +
		                           MS_PK_LEN)))
			fault(f,
			      "forks: op %s is not of its slot's author and seq",
			      hexid(h, v.mv_data, MS_HASH_LEN));
	next:
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return st_mdb(f->s, eb, rc, "verify: read forks");
	return MS_OK;
}

ms_err ms_store_verify(ms_store *s, ms_fault_fn fn, void *ctx, uint64_t *faults,
                       ms_errbuf *eb)
{
	vfy f;
	uint64_t count = 0, meta_count = 0;
	ms_err e;

	memset(&f, 0, sizeof f);
	f.s = s;
	f.fn = fn;
	f.ctx = ctx;
	if (faults != NULL)
		*faults = 0;
	e = st_txn_begin(s, MDB_RDONLY, &f.txn, eb);
	if (e != MS_OK)
		return e;
	s->nreaders++;
	if ((e = scan_ops(&f, &count, eb)) || (e = check_sup(&f, eb)) ||
	    (e = check_keys(&f, eb)) || (e = check_log(&f, eb)) ||
	    (e = check_vv(&f, eb)) || (e = check_forks(&f, eb)) ||
	    (e = check_arrival(&f, count, eb)))
		goto done;
	if (st_meta_u64(s, f.txn, ST_META_OP_COUNT, &meta_count) != 0)
		fault(&f, "meta: op count missing or malformed");
	else if (meta_count != count)
		fault(&f, "meta: op count %llu, %llu ops held",
		      (unsigned long long)meta_count,
		      (unsigned long long)count);
done:
	mdb_txn_abort(f.txn);
	s->nreaders--;
	free(f.ops);
	free(f.sup);
	free(f.au);
	if (faults != NULL)
		*faults = f.faults;
	if (e != MS_OK)
		return e;
	if (f.faults > 0)
		return ms_errf(eb, MS_ECORRUPT, "verify %s: %llu fault%s",
		               s->dir, (unsigned long long)f.faults,
		               f.faults == 1 ? "" : "s");
	return MS_OK;
}
