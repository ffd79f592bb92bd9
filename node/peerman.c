/*
 * peerman.c — the peer manager: the table of known peers (static ones from
 * config and flags, inbound ones that dialled us), which to dial and when
 * (net/backoff with the state persisted in each peer record), and the link
 * state machine of each peer as node-inspect shows it.
 *
 * A static address whose node id is unknown is a record keyed by that
 * address; the first HELLO through it tells who is there, and the record is
 * re-keyed by node id (or merged into the record of that id).  Records are
 * written to the store when they change (ms_pm_flush, once per loop turn),
 * never per op.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "sync.h"

static void bo_load(ms_pm_peer *p)
{
	p->bo.attempts = p->rec.bo_attempts;
	p->bo.kicks = p->rec.bo_kicks;
	p->bo.last_delay_ms = p->rec.bo_last_delay_ms;
	p->bo.next_attempt_ms = p->rec.bo_next_attempt_ms;
	p->bo.last_kick_ms = p->rec.bo_last_kick_ms;
}

static void bo_save(ms_pm_peer *p)
{
	p->rec.bo_attempts = p->bo.attempts;
	p->rec.bo_kicks = p->bo.kicks;
	p->rec.bo_last_delay_ms = p->bo.last_delay_ms;
	p->rec.bo_next_attempt_ms = p->bo.next_attempt_ms;
	p->rec.bo_last_kick_ms = p->bo.last_kick_ms;
}

const char *ms_pm_addr(const ms_pm_peer *p)
{
	if (p == NULL)
		return "-";
	if (p->dial_addr[0] != '\0')
		return p->dial_addr;
	if (p->rec.naddrs > 0)
		return p->rec.addrs[0];
	return "-";
}

static int rec_has_addr(const ms_peer_rec *r, const char *addr)
{
	for (uint32_t i = 0; i < r->naddrs && i < MS_PEER_MAX_ADDRS; i++)
		if (strcmp(r->addrs[i], addr) == 0)
			return 1;
	return 0;
}

static void rec_add_addr(ms_peer_rec *r, const char *addr)
{
	if (rec_has_addr(r, addr))
		return;
	if (r->naddrs == MS_PEER_MAX_ADDRS) {
		/* full: the oldest address makes room */
		memmove(r->addrs[0], r->addrs[1],
		        (MS_PEER_MAX_ADDRS - 1) * sizeof r->addrs[0]);
		r->naddrs--;
	}
	snprintf(r->addrs[r->naddrs++], MS_PEER_ADDR_MAX, "%s", addr);
}

static void rec_del_addr(ms_peer_rec *r, const char *addr)
{
	for (uint32_t i = 0; i < r->naddrs; i++) {
		if (strcmp(r->addrs[i], addr) == 0) {
			memmove(r->addrs[i], r->addrs[i + 1],
			        (r->naddrs - i - 1) * sizeof r->addrs[0]);
			r->naddrs--;
			return;
		}
	}
}

static int cfg_is_peer(const ms_daemon *d, const char *addr)
{
	const ms_config_net *n = &d->node->cfg.net;

	for (size_t i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i], addr) == 0)
			return 1;
	return 0;
}

static int any_static_addr(const ms_daemon *d, const ms_pm_peer *p)
{
	for (uint32_t i = 0; i < p->rec.naddrs; i++)
		if (cfg_is_peer(d, p->rec.addrs[i]))
			return 1;
	return 0;
}

static ms_pm_peer *pm_add(ms_daemon *d)
{
	ms_pm_peer *p;

	if (d->npeers == d->cappeers) {
		size_t ncap = d->cappeers ? d->cappeers * 2 : 16;
		ms_pm_peer **np = realloc(d->peers, ncap * sizeof *np);
		if (np == NULL)
			return NULL;
		d->peers = np;
		d->cappeers = ncap;
	}
	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	d->peers[d->npeers++] = p;
	return p;
}

static void pm_remove(ms_daemon *d, ms_pm_peer *p)
{
	for (size_t i = 0; i < d->npeers; i++) {
		if (d->peers[i] == p) {
			d->peers[i] = d->peers[--d->npeers];
			free(p);
			return;
		}
	}
}

static ms_pm_peer *pm_by_id(ms_daemon *d, const uint8_t *id)
{
	for (size_t i = 0; i < d->npeers; i++)
		if (d->peers[i]->rec.has_id &&
		    memcmp(d->peers[i]->rec.id, id, MS_PK_LEN) == 0)
			return d->peers[i];
	return NULL;
}

static ms_pm_peer *pm_by_addr(ms_daemon *d, const char *addr)
{
	/* an identified record wins over a stale address-keyed one */
	ms_pm_peer *found = NULL;

	for (size_t i = 0; i < d->npeers; i++) {
		if (!rec_has_addr(&d->peers[i]->rec, addr))
			continue;
		if (d->peers[i]->rec.has_id)
			return d->peers[i];
		found = d->peers[i];
	}
	return found;
}

static ms_pm_peer *pm_by_dial(ms_daemon *d, uint32_t h)
{
	for (size_t i = 0; i < d->npeers; i++)
		if (d->peers[i]->dial == h)
			return d->peers[i];
	return NULL;
}

static void log_store_error(ms_daemon *d, const ms_errbuf *eb)
{
	char q[MS_ERRBUF_SIZE + 8];
	ms_logf(&d->log, MS_LOG_ERROR, "MS-STORE-ERROR", "error=%s",
	        ms_log_q(q, sizeof q, eb->msg));
}

/* The link state the record shows, from the sessions, dial and backoff. */
static void refresh(ms_daemon *d, ms_pm_peer *p)
{
	ms_link_state st;
	int live = 0, syncing = 0, hello = 0;

	for (ms_session *s = d->sessions; s != NULL; s = ms_sync_next(s)) {
		if (ms_sync_peer(s) != p)
			continue;
		switch (ms_sync_state(s)) {
		case MS_SESS_LIVE: live = 1; break;
		case MS_SESS_SYNC: syncing = 1; break;
		case MS_SESS_HELLO: hello = 1; break;
		default: break;
		}
	}
	if (p->self)
		st = MS_LINK_STATE_LOST;
	else if (live)
		st = MS_LINK_STATE_LIVE;
	else if (syncing)
		st = MS_LINK_STATE_SYNCING;
	else if (hello || p->dial != 0)
		st = MS_LINK_STATE_CONNECTING;
	else if (p->lost && !p->is_static)
		st = MS_LINK_STATE_LOST; /* withdrawn from mDNS: not dialled */
	else if (ms_pm_dialable(p) && p->bo.attempts > 0)
		st = MS_LINK_STATE_BACKOFF;
	else if (ms_pm_dialable(p) && p->rec.sessions == 0 && p->rec.failures == 0)
		st = MS_LINK_STATE_DISCOVERED;
	else
		st = MS_LINK_STATE_DOWN;
	if (st != p->rec.link) {
		p->rec.link = (uint8_t)st;
		p->rec.link_since_ms = ms_daemon_wall_ms();
		p->dirty = 1;
	}
}

/* Merge the configured static addresses into the table. */
static void merge_static(ms_daemon *d)
{
	const ms_config_net *n = &d->node->cfg.net;
	uint64_t now = ms_daemon_wall_ms();
	ms_errbuf eb = {0};

	for (size_t i = 0; i < n->npeers; i++) {
		ms_pm_peer *p = pm_by_addr(d, n->peers[i]);
		if (p != NULL)
			continue;
		if ((p = pm_add(d)) == NULL) {
			ms_logf(&d->log, MS_LOG_ERROR, "MS-PEER-NOMEM", "addr=%s",
			        n->peers[i]);
			continue;
		}
		rec_add_addr(&p->rec, n->peers[i]);
		p->rec.source = MS_PEER_SRC_STATIC;
		p->rec.link = MS_LINK_STATE_DISCOVERED;
		p->rec.first_seen_ms = now;
		p->rec.link_since_ms = now;
		p->dirty = 1;
	}
	for (size_t i = 0; i < d->npeers;) {
		ms_pm_peer *p = d->peers[i];
		int st = any_static_addr(d, p);
		if (!st && !p->rec.has_id && p->dial == 0 && p->out == NULL) {
			/* an address nobody configures any more and nobody
			 * answered at: nothing worth keeping */
			if (p->rec.naddrs > 0 &&
			    ms_store_peer_del_addr(d->node->store, p->rec.addrs[0], &eb) !=
			        MS_OK &&
			    eb.code != MS_ENOTFOUND)
				log_store_error(d, &eb);
			pm_remove(d, p);
			continue;
		}
		if (st != p->is_static) {
			p->is_static = st;
			p->dirty = 1;
		}
		if (st && !(p->rec.source & MS_PEER_SRC_STATIC)) {
			p->rec.source |= MS_PEER_SRC_STATIC;
			p->dirty = 1;
		} else if (!st && (p->rec.source & MS_PEER_SRC_STATIC)) {
			p->rec.source &= (uint8_t)~MS_PEER_SRC_STATIC;
			p->dirty = 1;
		}
		refresh(d, p);
		i++;
	}
}

typedef struct load_ctx {
	ms_daemon *d;
	int nomem;
} load_ctx;

static int load_one(const ms_peer_rec *r, void *ctx)
{
	load_ctx *x = ctx;
	ms_pm_peer *p = pm_add(x->d);

	if (p == NULL) {
		x->nomem = 1;
		return 1;
	}
	p->rec = *r;
	bo_load(p);
	return 0;
}

ms_err ms_pm_init(ms_daemon *d, ms_errbuf *eb)
{
	ms_store_rtxn *rt = NULL;
	load_ctx x = {.d = d};
	ms_err e;

	if ((e = ms_store_read_begin(d->node->store, &rt, eb)) != MS_OK)
		return e;
	e = ms_store_foreach_peer(rt, load_one, &x, eb);
	ms_store_read_end(&rt);
	if (e != MS_OK)
		return e;
	if (x.nomem)
		return ms_errf(eb, MS_ENOMEM, "peer table: out of memory");
	/* a state stored by a previous run (maybe killed mid-session) says
	 * nothing about now: recompute it; backoff state is kept */
	for (size_t i = 0; i < d->npeers; i++)
		d->peers[i]->rec.link = MS_LINK_STATE_COUNT_;
	merge_static(d);
	ms_pm_flush(d);
	return MS_OK;
}

void ms_pm_reconfigure(ms_daemon *d)
{
	merge_static(d);
	for (size_t i = 0; i < d->npeers; i++) {
		ms_pm_peer *p = d->peers[i];
		if (ms_pm_dialable(p) || p->dial == 0)
			continue;
		/* no longer configured (nor discovered): stop dialling it */
		if (p->out != NULL)
			ms_sync_close(p->out, MS_BYE_NORMAL, "peer removed",
			              "unconfigured", 0);
		if (p->dial != 0) {
			ms_transport_hangup(d->t, p->dial);
			p->dial = 0;
		}
		refresh(d, p);
	}
}

void ms_pm_flush(ms_daemon *d)
{
	ms_errbuf eb = {0};

	for (size_t i = 0; i < d->npeers; i++) {
		ms_pm_peer *p = d->peers[i];
		if (!p->dirty || p->self)
			continue;
		bo_save(p);
		if (ms_store_peer_put(d->node->store, &p->rec, &eb) != MS_OK)
			log_store_error(d, &eb);
		p->dirty = 0;
	}
}

void ms_pm_free(ms_daemon *d)
{
	for (size_t i = 0; i < d->npeers; i++) {
		refresh(d, d->peers[i]);
		if (d->peers[i]->dial != 0) {
			ms_transport_hangup(d->t, d->peers[i]->dial);
			d->peers[i]->dial = 0;
			refresh(d, d->peers[i]);
		}
	}
	ms_pm_flush(d);
	for (size_t i = 0; i < d->npeers; i++)
		free(d->peers[i]);
	free(d->peers);
	d->peers = NULL;
	d->npeers = d->cappeers = 0;
}

/* Count a failed attempt and schedule the next one. */
static void fail(ms_daemon *d, ms_pm_peer *p, const char *reason)
{
	uint64_t delay = ms_backoff_failure(&p->bo, &d->node->cfg.backoff, &d->rng,
	                                    ms_daemon_wall_ms());

	p->rec.failures++;
	snprintf(p->rec.last_error, sizeof p->rec.last_error, "%s", reason);
	ms_logf(&d->log, MS_LOG_WARNING, "MS-PEER-FAIL",
	        "addr=%s reason=%s backoff_ms=%" PRIu64 " attempt=%" PRIu32,
	        ms_pm_addr(p), reason, delay, p->bo.attempts);
	p->dirty = 1;
	refresh(d, p);
}

/* The next address of p to dial (round robin): a static peer only at its
 * configured addresses; a discovered one at any it was seen with. */
static const char *next_addr(ms_daemon *d, ms_pm_peer *p)
{
	for (uint32_t k = 0; k < p->rec.naddrs; k++) {
		const char *a = p->rec.addrs[(p->rr + k) % p->rec.naddrs];
		if (p->is_static ? cfg_is_peer(d, a)
		                 : ms_config_check_endpoint(a) == 0) {
			p->rr = (p->rr + k + 1) % p->rec.naddrs;
			return a;
		}
	}
	return NULL;
}

static void dial(ms_daemon *d, ms_pm_peer *p)
{
	const char *addr = next_addr(d, p);
	ms_errbuf eb = {0};
	uint32_t h;

	if (addr == NULL)
		return;
	snprintf(p->dial_addr, sizeof p->dial_addr, "%s", addr);
	ms_logf(&d->log, MS_LOG_INFO, "MS-PEER-DIAL", "addr=%s attempt=%" PRIu32,
	        addr, p->bo.attempts + 1);
	if (ms_transport_dial(d->t, addr, &h, &eb) != MS_OK) {
		char q[MS_ERRBUF_SIZE + 8];
		ms_logf(&d->log, MS_LOG_WARNING, "MS-PEER-DIAL-ERROR",
		        "addr=%s error=%s", addr, ms_log_q(q, sizeof q, eb.msg));
		fail(d, p, "dial");
		return;
	}
	d->st.dials++;
	p->dial = h;
	refresh(d, p);
}

uint64_t ms_pm_tick(ms_daemon *d)
{
	uint64_t now = ms_daemon_wall_ms(), next = UINT64_MAX;

	if (d->stopping)
		return next;
	for (size_t i = 0; i < d->npeers; i++) {
		ms_pm_peer *p = d->peers[i];
		if (!ms_pm_dialable(p) || p->self || p->dial != 0 || p->out != NULL)
			continue;
		if (!p->is_static) {
			/* a discovered peer already linked (it dialled us) needs
			 * no dial; the tie-break hold lets the other side dial */
			if (ms_pm_connected(d, p))
				continue;
			if (p->hold_until_ms > now) {
				if (p->hold_until_ms < next)
					next = p->hold_until_ms;
				continue;
			}
		}
		if (ms_backoff_due(&p->bo, now))
			dial(d, p);
		else if (p->bo.next_attempt_ms < next)
			next = p->bo.next_attempt_ms;
		/* a dial that failed at once is due again later */
		if (p->dial == 0 && p->bo.next_attempt_ms > now &&
		    p->bo.next_attempt_ms < next)
			next = p->bo.next_attempt_ms;
	}
	return next;
}

void ms_pm_dial_up(ms_daemon *d, uint32_t handle)
{
	ms_pm_peer *p = pm_by_dial(d, handle);
	ms_conn c = {.dir = MS_CONN_OUT, .peer = handle};

	if (p == NULL) {
		ms_transport_hangup(d->t, handle); /* nobody wants it any more */
		return;
	}
	p->out = ms_sync_open(d, &c, p, NULL);
	refresh(d, p);
}

/* The counter of a dial that ended: how it failed, for operators. */
static void count_dial_end(ms_daemon *d, ms_link_reason why)
{
	switch (why) {
	case MS_LINK_KEY: ms_daemon_count(d, "handshake_fail_key", NULL, 1); break;
	case MS_LINK_DENIED:
		ms_daemon_count(d, "handshake_fail_denied", NULL, 1);
		break;
	case MS_LINK_HANDSHAKE:
		ms_daemon_count(d, "handshake_fail_timeout", NULL, 1);
		break;
	case MS_LINK_CONNECT: ms_daemon_count(d, "dial_fail_connect", NULL, 1); break;
	case MS_LINK_LOST: ms_daemon_count(d, "links_lost_out", NULL, 1); break;
	default: break;
	}
}

void ms_pm_dial_down(ms_daemon *d, uint32_t handle, ms_link_reason why)
{
	ms_pm_peer *p = pm_by_dial(d, handle);

	count_dial_end(d, why);

	if (p == NULL)
		return;
	if (p->out != NULL) {
		/* the session's end does the failure (ms_pm_session_end) */
		ms_sync_lost(p->out, ms_link_reason_str(why));
		return;
	}
	p->dial = 0;
	fail(d, p, ms_link_reason_str(why));
	p->dial_addr[0] = '\0';
}

/* Fold e, a static record keyed by address, into t (same node). */
static void merge_into(ms_daemon *d, ms_pm_peer *t, ms_pm_peer *e)
{
	ms_errbuf eb = {0};

	for (uint32_t i = 0; i < e->rec.naddrs; i++)
		rec_add_addr(&t->rec, e->rec.addrs[i]);
	t->rec.source |= e->rec.source;
	t->is_static |= e->is_static;
	if (t->rec.first_seen_ms == 0 || e->rec.first_seen_ms < t->rec.first_seen_ms)
		t->rec.first_seen_ms = e->rec.first_seen_ms;
	t->rec.failures += e->rec.failures;
	/* the backoff running is the one of the address we dial (e is not
	 * dialling: see the caller) */
	if (t->dial == 0 && t->out == NULL)
		t->bo = e->bo;
	if (e->rec.naddrs > 0 &&
	    ms_store_peer_del_addr(d->node->store, e->rec.addrs[0], &eb) != MS_OK &&
	    eb.code != MS_ENOTFOUND)
		log_store_error(d, &eb);
	t->dirty = 1;
	pm_remove(d, e);
}

static ms_pm_peer *pm_identified(ms_daemon *d, ms_session *s,
                                 const uint8_t id[MS_PK_LEN],
                                 const ms_wire_bytes *eps, size_t neps)
{
	uint64_t now = ms_daemon_wall_ms();
	ms_pm_peer *e = ms_sync_peer(s), *t;
	ms_errbuf eb = {0};

	if (ms_sync_outbound(s)) {
		if (e->rec.has_id && memcmp(e->rec.id, id, MS_PK_LEN) == 0) {
			e->rec.last_seen_ms = now;
			e->dirty = 1;
			return e;
		}
		t = pm_by_id(d, id);
		if (t == NULL && !e->rec.has_id) {
			/* first contact through a static address: re-key it */
			if (ms_store_peer_del_addr(d->node->store, e->rec.addrs[0], &eb) !=
			        MS_OK &&
			    eb.code != MS_ENOTFOUND)
				log_store_error(d, &eb);
			e->rec.has_id = 1;
			memcpy(e->rec.id, id, MS_PK_LEN);
			e->rec.last_seen_ms = now;
			e->dirty = 1;
			return e;
		}
		if (t == NULL) {
			/* the address now answers with another node id */
			if ((t = pm_add(d)) == NULL)
				return e;
			t->rec.has_id = 1;
			memcpy(t->rec.id, id, MS_PK_LEN);
			t->rec.first_seen_ms = now;
			t->bo = e->bo;
		}
		/* the dial, its session and its address move to t */
		rec_add_addr(&t->rec, e->dial_addr);
		if (cfg_is_peer(d, e->dial_addr)) {
			t->rec.source |= MS_PEER_SRC_STATIC;
			t->is_static = 1;
		}
		t->dial = e->dial;
		t->out = e->out;
		snprintf(t->dial_addr, sizeof t->dial_addr, "%s", e->dial_addr);
		t->rec.last_seen_ms = now;
		t->dirty = 1;
		e->dial = 0;
		e->out = NULL;
		if (!e->rec.has_id) {
			if (ms_store_peer_del_addr(d->node->store, e->rec.addrs[0], &eb) !=
			        MS_OK &&
			    eb.code != MS_ENOTFOUND)
				log_store_error(d, &eb);
			pm_remove(d, e);
		} else {
			rec_del_addr(&e->rec, t->dial_addr);
			e->is_static = any_static_addr(d, e);
			e->dirty = 1;
			refresh(d, e);
		}
		return t;
	}

	t = pm_by_id(d, id);
	if (t == NULL) {
		if ((t = pm_add(d)) == NULL)
			return NULL;
		t->rec.has_id = 1;
		memcpy(t->rec.id, id, MS_PK_LEN);
		t->rec.first_seen_ms = now;
		t->rec.link = MS_LINK_STATE_DOWN;
	}
	t->rec.source |= MS_PEER_SRC_INBOUND;
	t->rec.last_seen_ms = now;
	t->dirty = 1;
	/* a static address we never reached may be this node: it says so by
	 * announcing the endpoint (a claim, but only re-keys our record; the
	 * dial itself still proves who answers) */
	for (size_t i = 0; i < neps; i++) {
		char ep[MS_PEER_ADDR_MAX];
		ms_pm_peer *k;
		if (eps[i].len >= sizeof ep)
			continue;
		memcpy(ep, eps[i].ptr, eps[i].len);
		ep[eps[i].len] = '\0';
		k = pm_by_addr(d, ep);
		/* a record with a dial in flight is left to that dial's HELLO */
		if (k != NULL && k != t && !k->rec.has_id && k->dial == 0 &&
		    k->out == NULL)
			merge_into(d, t, k);
	}
	/* it is alive and reachable from it to us: if our dial to it is
	 * waiting out a backoff, try now (rate-limited) */
	if (t->is_static && !t->self && t->dial == 0 && t->out == NULL &&
	    !ms_backoff_due(&t->bo, now) &&
	    ms_backoff_kick(&t->bo, now, d->node->cfg.kick_interval_ms)) {
		char hex[2 * MS_PK_LEN + 1];
		ms_hex(hex, id, MS_PK_LEN);
		ms_logf(&d->log, MS_LOG_INFO, "MS-PEER-KICK", "peer=%s addr=%s", hex,
		        ms_pm_addr(t));
	}
	return t;
}

ms_pm_peer *ms_pm_identified(ms_daemon *d, ms_session *s,
                             const uint8_t id[MS_PK_LEN],
                             const ms_wire_bytes *eps, size_t neps)
{
	ms_pm_peer *t = pm_identified(d, s, id, eps, neps);

	if (t == NULL || t->self)
		return t;
	/* the endpoints it announces are what peer exchange passes on */
	for (size_t i = 0; i < neps; i++) {
		char ep[MS_PEER_ADDR_MAX];
		if (eps[i].len >= sizeof ep)
			continue;
		memcpy(ep, eps[i].ptr, eps[i].len);
		ep[eps[i].len] = '\0';
		if (ms_config_check_endpoint(ep) == 0 && !rec_has_addr(&t->rec, ep)) {
			rec_add_addr(&t->rec, ep);
			t->dirty = 1;
		}
	}
	if (t->lost) {
		t->lost = 0; /* it is back, whatever mDNS last said */
		t->dirty = 1;
	}
	return t;
}

void ms_pm_session_state(ms_daemon *d, ms_pm_peer *p, ms_session *s)
{
	if (p == NULL)
		return;
	if (ms_sync_state(s) == MS_SESS_LIVE) {
		p->rec.last_good_ms = ms_daemon_wall_ms();
		if (ms_sync_outbound(s))
			ms_backoff_success(&p->bo); /* a good session */
		p->dirty = 1;
	}
	refresh(d, p);
}

void ms_pm_session_end(ms_daemon *d, ms_session *s, ms_pm_peer *p, int failed,
                       const char *reason)
{
	if (p == NULL)
		return;
	p->rec.last = *ms_sync_summary(s);
	p->rec.has_summary = 1;
	p->rec.sessions++;
	p->rec.last_seen_ms = ms_daemon_wall_ms();
	p->dirty = 1;
	if (ms_sync_outbound(s) && p->out == s) {
		p->out = NULL;
		p->dial = 0; /* the session hung up */
		if (failed)
			fail(d, p, reason);
		p->dial_addr[0] = '\0';
	}
	refresh(d, p);
}

void ms_pm_self(ms_daemon *d, ms_pm_peer *p)
{
	ms_errbuf eb = {0};

	if (p == NULL)
		return;
	ms_logf(&d->log, MS_LOG_NOTICE, "MS-PEER-SELF", "addr=%s", ms_pm_addr(p));
	if (p->dial != 0)
		ms_transport_hangup(d->t, p->dial);
	p->dial = 0;
	p->out = NULL;
	p->self = 1;
	if (!p->rec.has_id && p->rec.naddrs > 0 &&
	    ms_store_peer_del_addr(d->node->store, p->rec.addrs[0], &eb) != MS_OK &&
	    eb.code != MS_ENOTFOUND)
		log_store_error(d, &eb);
	p->dirty = 0;
}

void ms_pm_count_failure(ms_daemon *d, ms_pm_peer *p, const char *why)
{
	(void)d;
	if (p == NULL)
		return;
	snprintf(p->rec.last_error, sizeof p->rec.last_error, "%s", why);
	p->dirty = 1;
	if (!(p->out != NULL))
		p->rec.failures++; /* an outbound session counts in its fail() */
}

/* --- discovered peers (discover.c, pex.c) -------------------------------- */

ms_pm_peer *ms_pm_find(ms_daemon *d, const uint8_t id[MS_PK_LEN])
{
	return pm_by_id(d, id);
}

int ms_pm_dialable(const ms_pm_peer *p)
{
	return p->is_static || ((p->mdns || p->pex) && !p->lost);
}

int ms_pm_connected(ms_daemon *d, const ms_pm_peer *p)
{
	if (p->dial != 0 || p->out != NULL)
		return 1;
	for (ms_session *s = d->sessions; s != NULL; s = ms_sync_next(s))
		if (ms_sync_peer(s) == p && ms_sync_state(s) != MS_SESS_CLOSED)
			return 1;
	return 0;
}

void ms_pm_refresh(ms_daemon *d, ms_pm_peer *p)
{
	refresh(d, p);
}

ms_pm_peer *ms_pm_learn(ms_daemon *d, const uint8_t id[MS_PK_LEN],
                        const char *addr, uint8_t source)
{
	uint64_t now = ms_daemon_wall_ms();
	ms_pm_peer *p, *k;

	if (memcmp(id, ms_node_id(d->node), MS_PK_LEN) == 0)
		return NULL;
	if ((p = pm_by_id(d, id)) == NULL) {
		if ((p = pm_add(d)) == NULL) {
			ms_logf(&d->log, MS_LOG_ERROR, "MS-PEER-NOMEM", "addr=%s",
			        addr != NULL ? addr : "-");
			return NULL;
		}
		p->rec.has_id = 1;
		memcpy(p->rec.id, id, MS_PK_LEN);
		p->rec.first_seen_ms = now;
		p->rec.link = MS_LINK_STATE_COUNT_; /* refresh sets it */
	}
	if (p->self)
		return NULL;
	if (addr != NULL && addr[0] != '\0') {
		/* a static record still keyed by this address is the same node
		 * (the announcement says so; the dial proves it) */
		k = pm_by_addr(d, addr);
		if (k != NULL && k != p && !k->rec.has_id && k->dial == 0 &&
		    k->out == NULL)
			merge_into(d, p, k);
		if (!rec_has_addr(&p->rec, addr)) {
			rec_add_addr(&p->rec, addr);
			p->dirty = 1;
		}
	}
	if ((p->rec.source & source) != source) {
		p->rec.source |= source;
		p->dirty = 1;
	}
	p->rec.last_seen_ms = now;
	refresh(d, p);
	return p;
}

int ms_pm_kick(ms_daemon *d, ms_pm_peer *p, const char *why)
{
	uint64_t now = ms_daemon_wall_ms();
	char hex[2 * MS_PK_LEN + 1] = "-";

	if (p->self || !ms_pm_dialable(p))
		return 0;
	if (ms_backoff_due(&p->bo, now))
		return 1;
	if (!ms_backoff_kick(&p->bo, now, d->node->cfg.kick_interval_ms))
		return 0;
	if (p->rec.has_id)
		ms_hex(hex, p->rec.id, MS_PK_LEN);
	ms_logf(&d->log, MS_LOG_INFO, "MS-PEER-KICK", "peer=%s addr=%s why=%s", hex,
	        ms_pm_addr(p), why);
	p->dirty = 1;
	return 1;
}

void ms_pm_hangup_dial(ms_daemon *d, ms_pm_peer *p)
{
	if (p->dial == 0 || p->out != NULL)
		return;
	ms_transport_hangup(d->t, p->dial);
	p->dial = 0;
	p->dial_addr[0] = '\0';
	refresh(d, p);
}
