/*
 * pex.c — peer exchange (docs/protocol.md §5.5): what a node tells its
 * peers about the members it synced with, and what it does with what it is
 * told.  mDNS stops at the edge of a layer-2 cloud; this is how a node
 * behind a routed hop learns whom it could dial.
 *
 * Sending: once a session is live (its first sync is done) it gets one
 * PEERS, then at most one a minute: up to 32 members we had a live session
 * with in the last hour (newest first), each with up to 4 endpoints from its
 * peer record (the ones it announced in HELLO, or found by mDNS or
 * configured), never the receiver or ourselves.  An empty list is not sent
 * (and not counted), so a session that went live before any other member
 * did still gets the list once there is one.
 *
 * Receiving: entries are claims.  They become candidates in a bounded list
 * (MS_PEX_MAX_CANDIDATES, the least recently refreshed evicted first,
 * forgotten after MS_PEX_EXPIRE_MS without a refresh); each candidate's
 * peer record gets source pex and the endpoints, and the peer manager dials
 * it (with backoff) while it is a candidate and nothing links us to it.
 * Only a real connection proves who answers (§4).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "sync.h"

typedef struct pex_cand {
	uint8_t id[MS_PK_LEN];
	uint64_t refreshed_mono; /* when a PEERS last named it */
	uint64_t claimed_ms;     /* the sender's last_seen_ms (newest seen) */
} pex_cand;

/* When a session last got PEERS from us (sessions are keyed by connection:
 * a session pointer may be reused after it is freed, a connection not). */
typedef struct pex_sent {
	ms_conn conn;
	uint64_t sent_mono;
	int seen; /* still a session this turn */
} pex_sent;

typedef struct ms_pex {
	pex_cand cand[MS_PEX_MAX_CANDIDATES];
	size_t ncand;
	pex_sent *sent;
	size_t nsent, capsent;
	uint64_t next_expire_mono;
} ms_pex;

ms_err ms_pex_new(ms_daemon *d, ms_errbuf *eb)
{
	if ((d->pex = calloc(1, sizeof *d->pex)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "peer exchange: out of memory");
	return MS_OK;
}

void ms_pex_free(ms_daemon *d)
{
	if (d->pex == NULL)
		return;
	free(d->pex->sent);
	free(d->pex);
	d->pex = NULL;
}

/* An endpoint worth passing on: dialable text, not a wildcard, and no IPv6
 * zone (an interface name means nothing on another host). */
static int passable(const char *ep)
{
	return ms_config_check_endpoint(ep) == 0 && strchr(ep, '%') == NULL &&
	       strstr(ep, "://0.0.0.0:") == NULL && strstr(ep, "://*:") == NULL &&
	       strstr(ep, "://[::]:") == NULL;
}

/* --- receiving ----------------------------------------------------------- */

static pex_cand *cand_find(ms_pex *x, const uint8_t *id)
{
	for (size_t i = 0; i < x->ncand; i++)
		if (memcmp(x->cand[i].id, id, MS_PK_LEN) == 0)
			return &x->cand[i];
	return NULL;
}

/* The candidate stops being one: the peer manager stops dialling it for
 * pex's sake (static or mDNS may still want it). */
static void cand_drop(ms_daemon *d, size_t i, const char *why)
{
	ms_pex *x = d->pex;
	ms_pm_peer *p = ms_pm_find(d, x->cand[i].id);
	char hex[2 * MS_PK_LEN + 1];

	ms_hex(hex, x->cand[i].id, MS_PK_LEN);
	ms_logf(&d->log, MS_LOG_DEBUG, "MS-PEX-FORGET", "peer=%s why=%s", hex, why);
	if (p != NULL && p->pex) {
		p->pex = 0;
		ms_pm_refresh(d, p);
	}
	x->cand[i] = x->cand[--x->ncand];
}

static pex_cand *cand_add(ms_daemon *d, const uint8_t *id)
{
	ms_pex *x = d->pex;
	pex_cand *c;

	if (x->ncand == MS_PEX_MAX_CANDIDATES) {
		size_t old = 0;
		for (size_t i = 1; i < x->ncand; i++)
			if (x->cand[i].refreshed_mono < x->cand[old].refreshed_mono)
				old = i;
		cand_drop(d, old, "evicted");
	}
	c = &x->cand[x->ncand++];
	memset(c, 0, sizeof *c);
	memcpy(c->id, id, MS_PK_LEN);
	return c;
}

void ms_pex_recv(ms_daemon *d, ms_session *s, const ms_wire_peers *m)
{
	ms_pm_peer *from = ms_sync_peer(s);
	const uint8_t *me = ms_node_id(d->node);
	uint64_t now = ms_daemon_mono_ms();
	char hex[2 * MS_PK_LEN + 1];
	size_t fresh = 0, dialling = 0;

	if (d->pex == NULL || !ms_sync_identified(s) || from == NULL ||
	    !from->rec.has_id)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const ms_wire_peer *e = &m->peers[i];
		pex_cand *c;
		ms_pm_peer *p = NULL;

		if (memcmp(e->node_id, me, MS_PK_LEN) == 0 ||
		    memcmp(e->node_id, from->rec.id, MS_PK_LEN) == 0)
			continue; /* §5.5 forbids both; ignore rather than trust */
		for (size_t k = 0; k < e->n_endpoints; k++) {
			char ep[MS_PEER_ADDR_MAX];
			if (e->endpoints[k].len >= sizeof ep)
				continue;
			memcpy(ep, e->endpoints[k].ptr, e->endpoints[k].len);
			ep[e->endpoints[k].len] = '\0';
			if (!passable(ep))
				continue;
			p = ms_pm_learn(d, e->node_id, ep, MS_PEER_SRC_PEX);
			if (p == NULL)
				break;
		}
		if (p == NULL)
			continue; /* nothing dialable (or ourselves) */
		if ((c = cand_find(d->pex, e->node_id)) == NULL) {
			c = cand_add(d, e->node_id);
			fresh++;
		}
		c->refreshed_mono = now;
		if (e->last_seen_ms > c->claimed_ms)
			c->claimed_ms = e->last_seen_ms;
		if (!p->pex) {
			p->pex = 1;
			p->dirty = 1;
		}
		if (!ms_pm_connected(d, p))
			dialling++;
		ms_pm_refresh(d, p);
	}
	ms_hex(hex, from->rec.id, MS_PK_LEN);
	ms_logf(&d->log, MS_LOG_INFO, "MS-PEX-RECV",
	        "from=%s entries=%u new=%zu unlinked=%zu candidates=%zu", hex,
	        (unsigned)m->n, fresh, dialling, d->pex->ncand);
	ms_daemon_count(d, "pex_received", NULL, 1);
}

/* --- sending ------------------------------------------------------------- */

typedef struct pick {
	ms_pm_peer *p;
	uint64_t seen_ms;
} pick;

static int pick_cmp(const void *a, const void *b)
{
	const pick *x = a, *y = b;

	if (x->seen_ms != y->seen_ms)
		return x->seen_ms > y->seen_ms ? -1 : 1; /* newest first */
	return memcmp(x->p->rec.id, y->p->rec.id, MS_PK_LEN);
}

static int is_live(ms_daemon *d, const ms_pm_peer *p)
{
	for (ms_session *s = d->sessions; s != NULL; s = ms_sync_next(s))
		if (ms_sync_peer(s) == p && ms_sync_state(s) == MS_SESS_LIVE)
			return 1;
	return 0;
}

/* Build and queue PEERS for s; 1 sent, 0 nothing to say, -1 error. */
static int send_peers(ms_daemon *d, ms_session *s)
{
	const ms_pm_peer *to = ms_sync_peer(s);
	const uint8_t *me = ms_node_id(d->node);
	uint64_t wall = ms_daemon_wall_ms();
	ms_wire_msg m = {.type = MS_WIRE_PEERS};
	pick *pk;
	size_t n = 0;
	char hex[2 * MS_PK_LEN + 1];

	if ((pk = calloc(d->npeers ? d->npeers : 1, sizeof *pk)) == NULL)
		return -1;
	for (size_t i = 0; i < d->npeers; i++) {
		ms_pm_peer *p = d->peers[i];
		int usable = 0;
		uint64_t seen;
		if (!p->rec.has_id || p->self || p == to ||
		    memcmp(p->rec.id, to->rec.id, MS_PK_LEN) == 0 ||
		    memcmp(p->rec.id, me, MS_PK_LEN) == 0)
			continue;
		for (uint32_t k = 0; k < p->rec.naddrs; k++)
			usable |= passable(p->rec.addrs[k]);
		if (!usable)
			continue;
		if (is_live(d, p))
			seen = wall;
		else if (p->rec.last_good_ms != 0 &&
		         p->rec.last_good_ms + MS_PEX_RECENT_MS >= wall)
			seen = p->rec.last_good_ms;
		else
			continue;
		pk[n++] = (pick){p, seen};
	}
	if (n == 0) {
		free(pk);
		return 0;
	}
	qsort(pk, n, sizeof *pk, pick_cmp);
	for (size_t i = 0; i < n && m.u.peers.n < MS_WIRE_MAX_PEERS; i++) {
		ms_wire_peer *w = &m.u.peers.peers[m.u.peers.n++];
		const ms_peer_rec *r = &pk[i].p->rec;
		memcpy(w->node_id, r->id, MS_PK_LEN);
		w->last_seen_ms = pk[i].seen_ms;
		/* newest addresses last in the record: take them first */
		for (uint32_t k = r->naddrs; k-- > 0 &&
		                             w->n_endpoints < MS_WIRE_MAX_PEER_ENDPOINTS;) {
			if (!passable(r->addrs[k]))
				continue;
			w->endpoints[w->n_endpoints].ptr = (const uint8_t *)r->addrs[k];
			w->endpoints[w->n_endpoints].len = (uint32_t)strlen(r->addrs[k]);
			w->n_endpoints++;
		}
	}
	free(pk);
	if (ms_sync_send(s, &m) != 0)
		return -1;
	ms_hex(hex, to->rec.id, MS_PK_LEN);
	ms_logf(&d->log, MS_LOG_INFO, "MS-PEX-SEND", "to=%s entries=%u", hex,
	        (unsigned)m.u.peers.n);
	ms_daemon_count(d, "pex_sent", NULL, 1);
	return 1;
}

static pex_sent *sent_get(ms_pex *x, const ms_conn *c)
{
	for (size_t i = 0; i < x->nsent; i++)
		if (ms_conn_equal(&x->sent[i].conn, c))
			return &x->sent[i];
	return NULL;
}

static pex_sent *sent_add(ms_pex *x, const ms_conn *c)
{
	if (x->nsent == x->capsent) {
		size_t ncap = x->capsent ? x->capsent * 2 : 16;
		pex_sent *ns = realloc(x->sent, ncap * sizeof *ns);
		if (ns == NULL)
			return NULL;
		x->sent = ns;
		x->capsent = ncap;
	}
	x->sent[x->nsent] = (pex_sent){.conn = *c};
	return &x->sent[x->nsent++];
}

void ms_pex_tick(ms_daemon *d)
{
	ms_pex *x = d->pex;
	uint64_t now = ms_daemon_mono_ms();

	if (x == NULL || d->stopping)
		return;
	for (size_t i = 0; i < x->nsent; i++)
		x->sent[i].seen = 0;
	for (ms_session *s = d->sessions; s != NULL; s = ms_sync_next(s)) {
		const ms_pm_peer *p = ms_sync_peer(s);
		pex_sent *e = sent_get(x, ms_sync_conn(s));
		if (e != NULL)
			e->seen = 1;
		if (ms_sync_state(s) != MS_SESS_LIVE || !ms_sync_identified(s) ||
		    p == NULL || !p->rec.has_id)
			continue;
		if (e != NULL && now - e->sent_mono < MS_PEX_SEND_INTERVAL_MS)
			continue;
		if (send_peers(d, s) != 1)
			continue;
		if (e == NULL && (e = sent_add(x, ms_sync_conn(s))) == NULL)
			continue; /* out of memory: it is tried again next turn */
		e->sent_mono = now;
		e->seen = 1;
	}
	for (size_t i = 0; i < x->nsent;) {
		if (!x->sent[i].seen)
			x->sent[i] = x->sent[--x->nsent];
		else
			i++;
	}
	if (now >= x->next_expire_mono) {
		x->next_expire_mono = now + 1000;
		for (size_t i = 0; i < x->ncand;) {
			if (now - x->cand[i].refreshed_mono >= MS_PEX_EXPIRE_MS)
				cand_drop(d, i, "expired");
			else
				i++;
		}
	}
}
