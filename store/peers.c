/*
 * peers.c — the peer table: one record per peer the node knows, keyed
 * 0x01 || node id once the peer is identified, or 0x02 || address for a
 * configured address nobody has answered on yet.  node/ fills the records
 * (link state, backoff, last session summary); operators read them with
 * node-inspect peers.
 *
 * A record is a version byte followed by the ms_peer_rec struct as laid
 * out in memory: LMDB files are tied to the machine's architecture anyway,
 * and a new version byte marks any change of the struct.
 */
#include "store_int.h"

#include <stddef.h>
#include <string.h>

#define ST_PEER_REC_VERSION 1

/* proven and flags live in what was padding before link_since_ms, so
 * records written before they existed keep their size and read as 0. */
_Static_assert(offsetof(ms_peer_rec, flags) <
                               offsetof(ms_peer_rec, link_since_ms) &&
                       offsetof(ms_peer_rec, link_since_ms) == 40,
               "ms_peer_rec layout: proven and flags fill old padding");
_Static_assert(MS_PEER_MAX_ADDRS <= 8, "one bit of proven per address");
#define ST_PEER_KEY_ID 0x01
#define ST_PEER_KEY_ADDR 0x02
#define ST_PEER_KEY_MAX (1 + MS_PEER_ADDR_MAX)

static const char *const link_names[MS_LINK_STATE_COUNT_] = {
	[MS_LINK_STATE_DISCOVERED] = "discovered",
	[MS_LINK_STATE_CONNECTING] = "connecting",
	[MS_LINK_STATE_SYNCING] = "syncing",
	[MS_LINK_STATE_LIVE] = "live",
	[MS_LINK_STATE_BACKOFF] = "backoff",
	[MS_LINK_STATE_DOWN] = "down",
	[MS_LINK_STATE_LOST] = "lost",
};

const char *ms_link_state_name(ms_link_state s)
{
	if ((unsigned)s >= MS_LINK_STATE_COUNT_)
		return "unknown";
	return link_names[s];
}

/* Key of an address record; 0 if the address is empty or too long. */
static size_t addr_key(uint8_t out[ST_PEER_KEY_MAX], const char *addr)
{
	size_t n = addr != NULL ? strnlen(addr, MS_PEER_ADDR_MAX) : 0;

	if (n == 0 || n >= MS_PEER_ADDR_MAX)
		return 0;
	out[0] = ST_PEER_KEY_ADDR;
	memcpy(out + 1, addr, n);
	return 1 + n;
}

/* Copy a stored record out, with strings terminated and counts bounded
 * whatever the bytes say.  MS_ECORRUPT with the reason alone in why when
 * the record is not one this build reads. */
static ms_err rec_load(ms_peer_rec *out, const MDB_val *v, ms_errbuf *why)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size != 1 + sizeof *out || p[0] != ST_PEER_REC_VERSION)
		return ms_errf(
			why, MS_ECORRUPT,
			"peer record of %zu bytes (version %u), want %zu "
			"(version %d)",
			v->mv_size, v->mv_size ? p[0] : 0u, 1 + sizeof *out,
			ST_PEER_REC_VERSION);
	memcpy(out, p + 1, sizeof *out);
	if (out->naddrs > MS_PEER_MAX_ADDRS)
		out->naddrs = MS_PEER_MAX_ADDRS;
	out->proven &= (uint8_t)((1u << out->naddrs) - 1);
	for (size_t i = 0; i < MS_PEER_MAX_ADDRS; i++)
		out->addrs[i][MS_PEER_ADDR_MAX - 1] = '\0';
	out->last_error[sizeof out->last_error - 1] = '\0';
	out->last.end_reason[sizeof out->last.end_reason - 1] = '\0';
	return MS_OK;
}

typedef struct put_ctx {
	const ms_peer_change *c;
	size_t n;
} put_ctx;

static ms_err del_key(ms_store *s, st_wctx *w, const uint8_t *kb, size_t kl,
                      ms_errbuf *eb)
{
	MDB_val k = {kl, (void *)kb};
	int rc = mdb_del(w->txn, s->dbi[ST_DB_PEERS], &k, NULL);

	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "delete peer");
	return MS_OK;
}

static ms_err put_one(ms_store *s, st_wctx *w, const ms_peer_rec *p,
                      ms_errbuf *eb)
{
	uint8_t kb[ST_PEER_KEY_MAX];
	MDB_val k, v;
	size_t kl;
	ms_err e;
	int rc;

	if (p->has_id) {
		kb[0] = ST_PEER_KEY_ID;
		memcpy(kb + 1, p->id, MS_PK_LEN);
		kl = 1 + MS_PK_LEN;
		/* Once identified, the peer's address records are stale
		 * copies: drop them in the same transaction, so the table
		 * never lists one peer twice. */
		for (uint32_t i = 0; i < p->naddrs && i < MS_PEER_MAX_ADDRS;
		     i++) {
			uint8_t ak[ST_PEER_KEY_MAX];
			size_t al = addr_key(ak, p->addrs[i]);
			if (al && (e = del_key(s, w, ak, al, eb)) != MS_OK)
				return e;
		}
	} else {
		kl = addr_key(kb, p->addrs[0]);
	}
	k.mv_size = kl;
	k.mv_data = kb;
	v.mv_size = 1 + sizeof *p;
	rc = mdb_put(w->txn, s->dbi[ST_DB_PEERS], &k, &v, MDB_RESERVE);
	if (rc != 0)
		return st_mdb(s, eb, rc, "write peer");
	((uint8_t *)v.mv_data)[0] = ST_PEER_REC_VERSION;
	memcpy((uint8_t *)v.mv_data + 1, p, sizeof *p);
	return MS_OK;
}

static ms_err put_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	const put_ctx *pc = vctx;
	uint8_t kb[ST_PEER_KEY_MAX];
	ms_err e = MS_OK;

	for (size_t i = 0; i < pc->n && e == MS_OK; i++) {
		const ms_peer_change *c = &pc->c[i];
		size_t kl;
		if (c->put != NULL) {
			e = put_one(s, w, c->put, eb);
		} else if (c->del_id != NULL) {
			kb[0] = ST_PEER_KEY_ID;
			memcpy(kb + 1, c->del_id, MS_PK_LEN);
			e = del_key(s, w, kb, 1 + MS_PK_LEN, eb);
		} else if ((kl = addr_key(kb, c->del_addr)) != 0) {
			e = del_key(s, w, kb, kl, eb);
		}
	}
	return e;
}

/* MS_OK when p may be stored. */
static ms_err rec_check(const ms_peer_rec *p, ms_errbuf *eb)
{
	uint8_t kb[ST_PEER_KEY_MAX];

	if (p->naddrs > MS_PEER_MAX_ADDRS)
		return ms_errf(eb, MS_EINVAL,
		               "peer record: %u addresses, at most %d",
		               (unsigned)p->naddrs, MS_PEER_MAX_ADDRS);
	if (!p->has_id && (p->naddrs == 0 || addr_key(kb, p->addrs[0]) == 0))
		return ms_errf(eb, MS_EINVAL,
		               "peer record: neither a node id nor an address "
		               "(of 1..%d bytes) to key it by",
		               MS_PEER_ADDR_MAX - 1);
	return MS_OK;
}

ms_err ms_store_peer_write(ms_store *s, const ms_peer_change *c, size_t n,
                           ms_errbuf *eb)
{
	put_ctx pc = {c, n};
	ms_err e;

	for (size_t i = 0; i < n; i++)
		if (c[i].put != NULL && (e = rec_check(c[i].put, eb)) != MS_OK)
			return e;
	if (n == 0)
		return MS_OK;
	return st_write(s, put_txn, &pc, eb);
}

ms_err ms_store_peer_put(ms_store *s, const ms_peer_rec *p, ms_errbuf *eb)
{
	ms_peer_change c = {p, NULL, NULL};

	return ms_store_peer_write(s, &c, 1, eb);
}

ms_err ms_store_peer_del_addr(ms_store *s, const char *addr, ms_errbuf *eb)
{
	ms_peer_change c = {NULL, NULL, addr};

	return ms_store_peer_write(s, &c, 1, eb);
}

static ms_err get_key(ms_store_rtxn *rt, const uint8_t *kb, size_t kl,
                      ms_peer_rec *out, ms_errbuf *eb)
{
	MDB_val k = {kl, (void *)kb}, v;
	ms_err e;
	int rc;

	rc = mdb_get(rt->txn, rt->s->dbi[ST_DB_PEERS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ms_errf(eb, MS_ENOTFOUND, "peer: not known");
	if (rc != 0)
		return st_mdb(rt->s, eb, rc, "read peer");
	if ((e = rec_load(out, &v, eb)) != MS_OK)
		return st_err_in(eb, e, "peer", eb);
	return MS_OK;
}

ms_err ms_store_peer_get(ms_store_rtxn *rt, const uint8_t id[MS_PK_LEN],
                         ms_peer_rec *out, ms_errbuf *eb)
{
	uint8_t kb[1 + MS_PK_LEN];

	kb[0] = ST_PEER_KEY_ID;
	memcpy(kb + 1, id, MS_PK_LEN);
	return get_key(rt, kb, sizeof kb, out, eb);
}

ms_err ms_store_peer_get_addr(ms_store_rtxn *rt, const char *addr,
                              ms_peer_rec *out, ms_errbuf *eb)
{
	uint8_t kb[ST_PEER_KEY_MAX];
	size_t kl = addr_key(kb, addr);

	if (kl == 0)
		return ms_errf(eb, MS_ENOTFOUND, "peer: no such address");
	return get_key(rt, kb, kl, out, eb);
}

typedef struct peer_walk {
	ms_peer_fn fn;
	void *ctx;
} peer_walk;

static ms_err peer_row(const MDB_val *k, const MDB_val *v, void *vctx,
                       int *stop, ms_errbuf *why)
{
	peer_walk *w = vctx;
	ms_peer_rec p;
	ms_err e;

	(void)k; /* the record holds everything the key says */
	if ((e = rec_load(&p, v, why)) != MS_OK)
		return e;
	*stop = w->fn(&p, w->ctx);
	return MS_OK;
}

ms_err ms_store_foreach_peer(ms_store_rtxn *rt, ms_peer_fn fn, void *ctx,
                             ms_errbuf *eb)
{
	peer_walk w = {fn, ctx};

	/* Identified peers (0x01) come before address records (0x02). */
	return st_walk(rt, ST_DB_PEERS, NULL, peer_row, &w, "foreach_peer", eb);
}
