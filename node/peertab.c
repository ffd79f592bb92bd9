/*
 * peertab.c — the peer table (see peertab.h): records, dial scheduling with
 * backoff, static/mDNS/pex sources, merging address-keyed records into the
 * node they turn out to be, each record's link state, and the budgets on
 * records, stored records, dials and dial targets.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "peertab.h"

_Static_assert(MS_ENDPOINT_MAX == MS_PEER_ADDR_MAX,
               "an endpoint fits a peer record address");

/* Sessions of one peer by link state: connecting, syncing, live. */
enum { NS_CONNECTING, NS_SYNCING, NS_LIVE, NS_COUNT };

struct ms_peer {
	ms_peer_rec rec; /* what is persisted */
	ms_backoff bo;   /* mirrors rec.bo_* */
	int is_static;   /* one of its addresses is a configured peer */
	int self;        /* dialling it reached ourselves: never again */
	uint32_t dial;   /* our dial's handle, 0 when not dialling */
	char dial_addr[MS_PEER_ADDR_MAX];
	uint32_t rr; /* which address to dial next */
	int out;     /* a session runs on our dial */
	unsigned nsess[NS_COUNT];
	int dirty;        /* rec changed since it was last stored */
	int on_disk;      /* a stored copy exists (under its current key) */
	int dial_waiting; /* due, held back by dials_inflight (counted) */
	/* why a non-static peer is dialled, and whether mDNS withdrew it */
	int mdns;               /* its service is announced now */
	int pex;                /* a live peer-exchange candidate */
	int lost;               /* mDNS withdrew it (cleared when seen again) */
	uint64_t hold_until_ms; /* wall ms: do not dial before (tie-break) */
};

/* A stored record to remove at the next flush. */
typedef struct pt_del {
	int by_id;
	uint8_t id[MS_PK_LEN];
	char addr[MS_PEER_ADDR_MAX];
} pt_del;

struct ms_peertab {
	ms_peertab_env env;
	ms_peertab_cbs cbs;
	ms_peer **v;
	size_t n, cap;
	size_t ndisk; /* records with on_disk */
	pt_del *dels; /* removals waiting for the next flush */
	size_t ndels, dcap;
};

static uint64_t wall(const ms_peertab *pt)
{
	return ms_clock_wall(pt->env.clock);
}

static void store_error(const ms_peertab *pt, const ms_errbuf *eb)
{
	ms_log_error(pt->env.log, "MS-STORE-ERROR", eb);
}

/* The [limits] in force (0, as in a config never parsed: the default). */
static size_t lim_records(const ms_peertab *pt)
{
	uint32_t v = pt->env.cfg->limits.peer_records;
	return v ? v : MS_PEERTAB_RECORDS_DEFAULT;
}

static size_t lim_disk(const ms_peertab *pt)
{
	uint32_t v = pt->env.cfg->limits.peer_records_disk;
	size_t d = v ? v : MS_PEERTAB_RECORDS_DISK_DEFAULT;
	/* every stored record is loaded at start: never more than fit */
	return d < lim_records(pt) ? d : lim_records(pt);
}

static size_t lim_dials(const ms_peertab *pt)
{
	uint32_t v = pt->env.cfg->limits.dials_inflight;
	return v ? v : MS_PEERTAB_DIALS_INFLIGHT_DEFAULT;
}

/*
 * A budget was hit: count it, and log one MS-LIMIT line naming the peer
 * (node id `id`, else the text src_text) unless its source has had its
 * share of lines this second.  The source is the peer, or `group` when
 * given (hits that a flood of made-up peers could multiply share one).
 */
static void limit_hit(ms_peertab *pt, const char *name, const char *group,
                      const uint8_t *id, const char *src_text, const char *fmt,
                      ...) __attribute__((format(printf, 6, 7)));
static void limit_hit(ms_peertab *pt, const char *name, const char *group,
                      const uint8_t *id, const char *src_text, const char *fmt,
                      ...)
{
	uint8_t key[MS_RATELOG_KEY_LEN];
	char src[2 * MS_PK_LEN + 1], q[MS_PEER_ADDR_MAX * 4 + 8], tail[600];
	va_list ap;

	ms_counters_add(pt->env.counters, "limit_", name, 1);
	if (id != NULL) {
		memcpy(key, id, MS_RATELOG_KEY_LEN);
		ms_hex(src, id, 8); /* a short id: 16 hex digits */
	} else {
		if (src_text == NULL)
			src_text = "-";
		ms_ratelog_key(key, src_text);
		ms_log_q(q, sizeof q, src_text);
	}
	if (group != NULL)
		ms_ratelog_key(key, group);
	if (!ms_ratelog_gate(pt->env.ratelog, pt->env.log, pt->env.counters,
	                     key,
	                     group != NULL ? group
	                     : id != NULL  ? src
	                                   : q,
	                     ms_clock_mono(pt->env.clock)))
		return;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof tail, fmt, ap);
	va_end(ap);
	ms_logf(pt->env.log, MS_LOG_WARNING, "MS-LIMIT", "limit=%s peer=%s%s%s",
	        name, id != NULL ? src : q, tail[0] ? " " : "", tail);
}

/* An address a peer or the LAN names: 1 when it may be dialled, else the
 * dial_target budget refuses it. */
static int target_ok(ms_peertab *pt, const uint8_t *from, const char *addr,
                     const char *how)
{
	char q[MS_PEER_ADDR_MAX * 4 + 8];

	if (ms_endpoint_dialable(addr))
		return 1;
	limit_hit(pt, "dial_target", from != NULL ? NULL : how, from,
	          from != NULL ? NULL : how, "addr=%s via=%s",
	          ms_log_q(q, sizeof q, addr), how);
	return 0;
}

static int ns_index(ms_link_state st)
{
	switch (st) {
	case MS_LINK_STATE_CONNECTING:
		return NS_CONNECTING;
	case MS_LINK_STATE_SYNCING:
		return NS_SYNCING;
	case MS_LINK_STATE_LIVE:
		return NS_LIVE;
	default:
		return -1;
	}
}

static void ns_add(ms_peer *p, ms_link_state st, int delta)
{
	int i = ns_index(st);

	if (i < 0)
		return;
	if (delta > 0)
		p->nsess[i]++;
	else if (p->nsess[i] > 0)
		p->nsess[i]--;
}

static int has_sessions(const ms_peer *p)
{
	return p->nsess[NS_CONNECTING] + p->nsess[NS_SYNCING] +
	               p->nsess[NS_LIVE] >
	       0;
}

/* --- records --------------------------------------------------------------- */

static void bo_load(ms_peer *p)
{
	p->bo.attempts = p->rec.bo_attempts;
	p->bo.kicks = p->rec.bo_kicks;
	p->bo.last_delay_ms = p->rec.bo_last_delay_ms;
	p->bo.next_attempt_ms = p->rec.bo_next_attempt_ms;
	p->bo.last_kick_ms = p->rec.bo_last_kick_ms;
}

static void bo_save(ms_peer *p)
{
	p->rec.bo_attempts = p->bo.attempts;
	p->rec.bo_kicks = p->bo.kicks;
	p->rec.bo_last_delay_ms = p->bo.last_delay_ms;
	p->rec.bo_next_attempt_ms = p->bo.next_attempt_ms;
	p->rec.bo_last_kick_ms = p->bo.last_kick_ms;
}

const uint8_t *ms_peer_id(const ms_peer *p)
{
	return p != NULL && p->rec.has_id ? p->rec.id : NULL;
}

/* p's address for logs: the one being dialled, else its first, else "-". */
static const char *peer_addr(const ms_peer *p)
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

/* Remove addrs[i], keeping the order (and proven bits) of the rest. */
static void rec_del_at(ms_peer_rec *r, uint32_t i)
{
	uint8_t low = (uint8_t)(r->proven & ((1u << i) - 1));
	uint8_t high = (uint8_t)((r->proven >> (i + 1)) << i);

	memmove(r->addrs[i], r->addrs[i + 1],
	        (r->naddrs - i - 1) * sizeof r->addrs[0]);
	r->naddrs--;
	r->proven = low | high;
}

/*
 * Add addr (deduped), proven or not; an address seen again as proven
 * becomes proven.  When full, the oldest unproven address makes room; when
 * every one is proven, only a proven address may push out the oldest, and
 * an unproven one is not added.  1 when the record changed.
 */
static int rec_add_addr(ms_peer_rec *r, const char *addr, int proven)
{
	for (uint32_t i = 0; i < r->naddrs && i < MS_PEER_MAX_ADDRS; i++) {
		if (strcmp(r->addrs[i], addr) != 0)
			continue;
		if (!proven || (r->proven & (1u << i)))
			return 0;
		r->proven |= (uint8_t)(1u << i);
		return 1;
	}
	if (r->naddrs == MS_PEER_MAX_ADDRS) {
		uint32_t out = 0; /* the oldest unproven address */
		while (out < r->naddrs && (r->proven & (1u << out)))
			out++;
		if (out == r->naddrs) {
			if (!proven)
				return 0;
			out = 0;
		}
		rec_del_at(r, out);
	}
	if (proven)
		r->proven |= (uint8_t)(1u << r->naddrs);
	snprintf(r->addrs[r->naddrs++], MS_PEER_ADDR_MAX, "%s", addr);
	return 1;
}

static void rec_del_addr(ms_peer_rec *r, const char *addr)
{
	for (uint32_t i = 0; i < r->naddrs; i++) {
		if (strcmp(r->addrs[i], addr) == 0) {
			rec_del_at(r, i);
			return;
		}
	}
}

static int cfg_is_peer(const ms_peertab *pt, const char *addr)
{
	const ms_config_net *n = &pt->env.cfg->net;

	for (size_t i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i], addr) == 0)
			return 1;
	return 0;
}

static int any_static_addr(const ms_peertab *pt, const ms_peer *p)
{
	for (uint32_t i = 0; i < p->rec.naddrs; i++)
		if (cfg_is_peer(pt, p->rec.addrs[i]))
			return 1;
	return 0;
}

static ms_peer *add_raw(ms_peertab *pt)
{
	ms_peer *p;

	if (pt->n == pt->cap) {
		size_t ncap = pt->cap ? pt->cap * 2 : 16;
		/* an array of pointers: sizeof a pointer is meant */
		ms_peer **nv = realloc(
			pt->v,
			ncap * sizeof *nv); // NOLINT(bugprone-sizeof-expression)
		if (nv == NULL)
			return NULL;
		pt->v = nv;
		pt->cap = ncap;
	}
	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	pt->v[pt->n++] = p;
	return p;
}

static int authed(const ms_peer *p)
{
	return (p->rec.flags & MS_PEER_F_AUTHED) != 0;
}

/* Worth keeping, least first: candidates no session ever proved, then
 * records nothing dials, then those never synced with, then by the last
 * good session and the last sighting.  <0 when a is less useful than b. */
static int usefulness_cmp(const ms_peer *a, const ms_peer *b);

/* An unreferenced, non-static record to evict, or NULL; `keep` (NULL
 * allowed) is never chosen, nor, with stored_only, a record not stored. */
static ms_peer *victim(const ms_peertab *pt, const ms_peer *keep,
                       int stored_only);

static void remove_rec(ms_peertab *pt, ms_peer *p);

/* Room for one more record in memory (peer_records): evict the least
 * useful unreferenced record if the table is full.  1 when there is room
 * now; 0 when every record is static or linked. */
static int make_room(ms_peertab *pt)
{
	ms_peer *v;

	if (pt->n < lim_records(pt))
		return 1;
	if ((v = victim(pt, NULL, 0)) == NULL)
		return 0;
	remove_rec(pt, v);
	return 1;
}

/* A record for the table: bounded by peer_records, except that a static
 * address or an authenticated peer (`must`) always gets one. */
static ms_peer *add(ms_peertab *pt, int must)
{
	if (!make_room(pt) && !must)
		return NULL;
	return add_raw(pt);
}

/* A new record keyed by id (created as first seen now). */
static ms_peer *add_id(ms_peertab *pt, const uint8_t *id, int must)
{
	ms_peer *p = add(pt, must);

	if (p == NULL)
		return NULL;
	p->rec.has_id = 1;
	memcpy(p->rec.id, id, MS_PK_LEN);
	p->rec.first_seen_ms = wall(pt);
	p->rec.link = MS_LINK_STATE_COUNT_; /* refresh sets it */
	return p;
}

/* Remove the stored record keyed by id (by_id) or addr at the next
 * flush. */
static void queue_del(ms_peertab *pt, int by_id, const uint8_t *id,
                      const char *addr)
{
	pt_del *d;

	if (pt->ndels == pt->dcap) {
		size_t ncap = pt->dcap ? pt->dcap * 2 : 16;
		pt_del *nd = realloc(pt->dels, ncap * sizeof *nd);
		if (nd == NULL) {
			/* the stale record stays on disk until it is loaded
			 * (and bounded) again: nothing breaks */
			ms_logf(pt->env.log, MS_LOG_ERROR, "MS-PEER-NOMEM",
			        "what=removal");
			return;
		}
		pt->dels = nd;
		pt->dcap = ncap;
	}
	d = &pt->dels[pt->ndels++];
	memset(d, 0, sizeof *d);
	d->by_id = by_id;
	if (by_id)
		memcpy(d->id, id, MS_PK_LEN);
	else
		snprintf(d->addr, sizeof d->addr, "%s", addr);
}

/* p's stored copy (under its current key) goes at the next flush: p is
 * re-keyed, merged, evicted or gone. */
static void unstore(ms_peertab *pt, ms_peer *p)
{
	if (!p->on_disk)
		return;
	if (p->rec.has_id)
		queue_del(pt, 1, p->rec.id, NULL);
	else if (p->rec.naddrs > 0)
		queue_del(pt, 0, NULL, p->rec.addrs[0]);
	p->on_disk = 0;
	pt->ndisk--;
}

static void remove_rec(ms_peertab *pt, ms_peer *p)
{
	unstore(pt, p);
	for (size_t i = 0; i < pt->n; i++) {
		if (pt->v[i] == p) {
			pt->v[i] = pt->v[--pt->n];
			free(p);
			return;
		}
	}
}

/* Drop the stored record keyed by p's first address (p was address-keyed
 * and is identified, merged or gone now). */
static void forget_addr_key(ms_peertab *pt, ms_peer *p)
{
	if (!p->rec.has_id)
		unstore(pt, p);
}

static ms_peer *by_id(const ms_peertab *pt, const uint8_t *id)
{
	for (size_t i = 0; i < pt->n; i++)
		if (pt->v[i]->rec.has_id &&
		    memcmp(pt->v[i]->rec.id, id, MS_PK_LEN) == 0)
			return pt->v[i];
	return NULL;
}

static ms_peer *by_addr(const ms_peertab *pt, const char *addr)
{
	/* an identified record wins over a stale address-keyed one */
	ms_peer *found = NULL;

	for (size_t i = 0; i < pt->n; i++) {
		if (!rec_has_addr(&pt->v[i]->rec, addr))
			continue;
		if (pt->v[i]->rec.has_id)
			return pt->v[i];
		found = pt->v[i];
	}
	return found;
}

static ms_peer *by_dial(const ms_peertab *pt, uint32_t h)
{
	for (size_t i = 0; i < pt->n; i++)
		if (pt->v[i]->dial == h)
			return pt->v[i];
	return NULL;
}

/* 1 when the table dials p by itself (static, mDNS, pex). */
static int dialable(const ms_peer *p)
{
	return p->is_static || ((p->mdns || p->pex) && !p->lost);
}

static int connected(const ms_peer *p)
{
	return p->dial != 0 || p->out || has_sessions(p);
}

/* An address-keyed record nothing refers to may be dropped or merged. */
static int unreferenced(const ms_peer *p)
{
	return !p->rec.has_id && p->dial == 0 && !p->out && !has_sessions(p);
}

static int usefulness_cmp(const ms_peer *a, const ms_peer *b)
{
	uint64_t la, lb;

	if (authed(a) != authed(b))
		return authed(a) ? 1 : -1;
	if (dialable(a) != dialable(b))
		return dialable(a) ? 1 : -1;
	if ((a->rec.last_good_ms != 0) != (b->rec.last_good_ms != 0))
		return a->rec.last_good_ms != 0 ? 1 : -1;
	if (a->rec.last_good_ms != b->rec.last_good_ms)
		return a->rec.last_good_ms > b->rec.last_good_ms ? 1 : -1;
	la = a->rec.last_seen_ms ? a->rec.last_seen_ms : a->rec.first_seen_ms;
	lb = b->rec.last_seen_ms ? b->rec.last_seen_ms : b->rec.first_seen_ms;
	if (la != lb)
		return la > lb ? 1 : -1;
	return 0;
}

static ms_peer *victim(const ms_peertab *pt, const ms_peer *keep,
                       int stored_only)
{
	ms_peer *best = NULL;

	for (size_t i = 0; i < pt->n; i++) {
		ms_peer *p = pt->v[i];
		if (p == keep || p->is_static || connected(p) ||
		    (stored_only && !p->on_disk))
			continue;
		if (best == NULL || usefulness_cmp(p, best) < 0)
			best = p;
	}
	return best;
}

/* The link state a record shows, from its sessions, dial and backoff, the
 * first that applies in this order. */
static ms_link_state link_state(const ms_peer *p)
{
	if (p->self)
		return MS_LINK_STATE_LOST; /* never dialled again */
	if (p->nsess[NS_LIVE] > 0)
		return MS_LINK_STATE_LIVE;
	if (p->nsess[NS_SYNCING] > 0)
		return MS_LINK_STATE_SYNCING;
	if (p->nsess[NS_CONNECTING] > 0 || p->dial != 0)
		return MS_LINK_STATE_CONNECTING;
	if (p->lost && !p->is_static)
		return MS_LINK_STATE_LOST; /* withdrawn from mDNS: not dialled */
	if (dialable(p) && p->bo.attempts > 0)
		return MS_LINK_STATE_BACKOFF;
	if (dialable(p) && p->rec.sessions == 0 && p->rec.failures == 0)
		return MS_LINK_STATE_DISCOVERED;
	return MS_LINK_STATE_DOWN;
}

static void refresh(ms_peertab *pt, ms_peer *p)
{
	ms_link_state st = link_state(p);

	if (st != p->rec.link) {
		p->rec.link = (uint8_t)st;
		p->rec.link_since_ms = wall(pt);
		p->dirty = 1;
	}
}

/* Merge the configured static addresses into the table. */
static void merge_static(ms_peertab *pt)
{
	const ms_config_net *n = &pt->env.cfg->net;
	uint64_t now = wall(pt);

	for (size_t i = 0; i < n->npeers; i++) {
		ms_peer *p = by_addr(pt, n->peers[i]);
		if (p != NULL)
			continue;
		if ((p = add(pt, 1)) == NULL) {
			ms_logf(pt->env.log, MS_LOG_ERROR, "MS-PEER-NOMEM",
			        "addr=%s", n->peers[i]);
			continue;
		}
		rec_add_addr(&p->rec, n->peers[i], 1); /* the operator's */
		p->rec.source = MS_PEER_SRC_STATIC;
		p->rec.link = MS_LINK_STATE_DISCOVERED;
		p->rec.first_seen_ms = now;
		p->rec.link_since_ms = now;
		p->dirty = 1;
	}
	for (size_t i = 0; i < pt->n;) {
		ms_peer *p = pt->v[i];
		int st = any_static_addr(pt, p);
		if (!st && unreferenced(p)) {
			/* an address nobody configures any more and nobody
			 * answered at: nothing worth keeping */
			forget_addr_key(pt, p);
			remove_rec(pt, p);
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
		refresh(pt, p);
		i++;
	}
}

typedef struct load_ctx {
	ms_peertab *pt;
	int nomem;
	size_t pruned; /* stored records no session ever proved */
} load_ctx;

static int load_one(const ms_peer_rec *r, void *ctx)
{
	load_ctx *x = ctx;
	ms_peer *p;

	if (r->has_id && !(r->flags & MS_PEER_F_AUTHED)) {
		/* Stored before only proven peers were: a peer that dialled
		 * us (ZAP proved its id) or that we synced with is kept;
		 * a mere claim from mDNS or PEERS goes. */
		if (!(r->source & MS_PEER_SRC_INBOUND) &&
		    r->last_good_ms == 0) {
			queue_del(x->pt, 1, r->id, NULL);
			x->pruned++;
			return 0;
		}
	}
	if ((p = add_raw(x->pt)) == NULL) {
		x->nomem = 1;
		return 1;
	}
	p->rec = *r;
	if (p->rec.has_id)
		p->rec.flags |= MS_PEER_F_AUTHED;
	p->on_disk = 1;
	x->pt->ndisk++;
	bo_load(p);
	return 0;
}

/* A store that holds more than peer_records_disk (the limit was lowered,
 * or it was written before there was one) is cut down to it, least useful
 * first. */
static size_t trim_disk(ms_peertab *pt)
{
	size_t cut = 0;
	ms_peer *v;

	while (pt->ndisk > lim_disk(pt) && (v = victim(pt, NULL, 1)) != NULL) {
		remove_rec(pt, v);
		cut++;
	}
	return cut;
}

ms_err ms_peertab_new(ms_peertab **out, const ms_peertab_env *env,
                      const ms_peertab_cbs *cbs, ms_errbuf *eb)
{
	ms_peertab *pt;
	ms_store_rtxn *rt = NULL;
	load_ctx x = {0};
	size_t cut;
	ms_err e;

	*out = NULL;
	if ((pt = calloc(1, sizeof *pt)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "peer table: out of memory");
	pt->env = *env;
	pt->cbs = *cbs;
	x.pt = pt;
	if ((e = ms_store_read_begin(env->store, &rt, eb)) != MS_OK)
		goto fail;
	e = ms_store_foreach_peer(rt, load_one, &x, eb);
	ms_store_read_end(&rt);
	if (e != MS_OK)
		goto fail;
	if (x.nomem) {
		e = ms_errf(eb, MS_ENOMEM, "peer table: out of memory");
		goto fail;
	}
	/* a state stored by a previous run (maybe killed mid-session) says
	 * nothing about now: recompute it; backoff state is kept */
	for (size_t i = 0; i < pt->n; i++)
		pt->v[i]->rec.link = MS_LINK_STATE_COUNT_;
	merge_static(pt);
	cut = trim_disk(pt);
	if (x.pruned > 0 || cut > 0)
		ms_logf(env->log, MS_LOG_NOTICE, "MS-PEER-PRUNE",
		        "unproven=%zu cut=%zu kept=%zu limit=%zu", x.pruned,
		        cut, pt->ndisk, lim_disk(pt));
	ms_peertab_flush(pt);
	*out = pt;
	return MS_OK;
fail:
	for (size_t i = 0; i < pt->n; i++)
		free(pt->v[i]);
	free(pt->v);
	free(pt->dels);
	free(pt);
	return e;
}

/* 1 when p may be stored: a configured address, or a node id a session
 * proved. */
static int storable(const ms_peer *p)
{
	if (p->self)
		return 0;
	return p->rec.has_id ? authed(p) : p->is_static;
}

/* Room on disk for p (not stored yet), with `pending` others about to be
 * stored: evict the least useful stored record when peer_records_disk is
 * reached.  1 when p may be stored. */
static int disk_room(ms_peertab *pt, const ms_peer *p, size_t pending)
{
	char hex[2 * MS_PK_LEN + 1];
	ms_peer *v;

	if (pt->ndisk + pending < lim_disk(pt))
		return 1;
	if ((v = victim(pt, p, 1)) != NULL) {
		/* kept in memory, it would be stored again: it goes */
		remove_rec(pt, v);
		return 1;
	}
	ms_hex(hex, p->rec.id, MS_PK_LEN);
	limit_hit(pt, "peer_records_disk", "peer_records_disk",
	          p->rec.has_id ? p->rec.id : NULL,
	          p->rec.has_id ? hex : peer_addr(p), "stored=%zu", pt->ndisk);
	return 0;
}

void ms_peertab_flush(ms_peertab *pt)
{
	ms_peer_change *c = NULL;
	ms_peer **put = NULL;
	size_t nc = 0, np = 0, nnew = 0, ndirty = 0;
	ms_errbuf eb = {0};

	for (size_t i = 0; i < pt->n; i++)
		if (pt->v[i]->dirty)
			ndirty++;
	if (ndirty == 0 && pt->ndels == 0)
		return;
	if (ndirty > 0) {
		/* an array of pointers: sizeof a pointer is meant */
		size_t sz = sizeof *put; // NOLINT(bugprone-sizeof-expression)
		if ((put = malloc(ndirty * sz)) == NULL)
			goto nomem;
	}
	/* records to store for the first time: each needs room on disk,
	 * which may evict a stored record (never one of these: they are
	 * not stored yet) */
	for (size_t i = 0; i < pt->n; i++) {
		ms_peer *p = pt->v[i];
		if (p->dirty && storable(p) && !p->on_disk)
			put[nnew++] = p;
	}
	for (size_t k = 0; k < nnew; k++)
		if (disk_room(pt, put[k], np))
			put[np++] = put[k];
	/* then the stored records that changed (after the evictions, so no
	 * pointer here is to a freed record) */
	for (size_t i = 0; i < pt->n; i++) {
		ms_peer *p = pt->v[i];
		if (p->dirty && storable(p) && p->on_disk)
			put[np++] = p;
		p->dirty = 0;
	}
	if (pt->ndels + np == 0)
		goto done;
	if ((c = calloc(pt->ndels + np, sizeof *c)) == NULL) {
		for (size_t i = 0; i < np; i++)
			put[i]->dirty = 1;
		goto nomem;
	}
	for (size_t i = 0; i < pt->ndels; i++, nc++) {
		if (pt->dels[i].by_id)
			c[nc].del_id = pt->dels[i].id;
		else
			c[nc].del_addr = pt->dels[i].addr;
	}
	for (size_t i = 0; i < np; i++) {
		bo_save(put[i]);
		c[nc++].put = &put[i]->rec;
	}
	if (ms_store_peer_write(pt->env.store, c, nc, &eb) != MS_OK) {
		/* nothing was written; a later change stores it again */
		store_error(pt, &eb);
	} else {
		for (size_t i = 0; i < np; i++) {
			if (!put[i]->on_disk)
				pt->ndisk++;
			put[i]->on_disk = 1;
		}
	}
	pt->ndels = 0;
done:
	free(c);
	free(put);
	return;
nomem:
	/* the dirty records stay dirty: the next turn tries again */
	ms_logf(pt->env.log, MS_LOG_ERROR, "MS-PEER-NOMEM", "what=flush");
	free(put);
}

/* Forget p's dial and ask the daemon to hang it up. */
static void drop_dial(ms_peertab *pt, ms_peer *p, const char *why)
{
	uint32_t h = p->dial;

	if (h == 0)
		return;
	p->dial = 0;
	p->out = 0;
	p->dial_addr[0] = '\0';
	pt->cbs.hangup(pt->cbs.ctx, h, why);
	refresh(pt, p);
}

void ms_peertab_free(ms_peertab **ptp)
{
	ms_peertab *pt = ptp != NULL ? *ptp : NULL;

	if (pt == NULL)
		return;
	for (size_t i = 0; i < pt->n; i++) {
		refresh(pt, pt->v[i]);
		drop_dial(pt, pt->v[i], "shutdown");
	}
	ms_peertab_flush(pt);
	for (size_t i = 0; i < pt->n; i++)
		free(pt->v[i]);
	free(pt->v);
	free(pt->dels);
	free(pt);
	*ptp = NULL;
}

void ms_peertab_reconfigure(ms_peertab *pt)
{
	ms_peer *v;

	merge_static(pt);
	/* lowered budgets apply now, least useful records first (records
	 * that are static or linked stay until they are not) */
	while (pt->n > lim_records(pt) && (v = victim(pt, NULL, 0)) != NULL)
		remove_rec(pt, v);
	(void)trim_disk(pt);
	for (size_t i = 0; i < pt->n; i++) {
		ms_peer *p = pt->v[i];
		/* no longer configured (nor discovered): stop dialling it */
		if (!dialable(p) && p->dial != 0)
			drop_dial(pt, p, "unconfigured");
	}
}

/* Count a failed attempt and schedule the next one. */
static void fail(ms_peertab *pt, ms_peer *p, const char *reason)
{
	uint64_t now = wall(pt), hold = pt->env.cfg->denied_hold_ms;
	uint64_t delay = ms_backoff_failure(&p->bo, &pt->env.cfg->backoff,
	                                    pt->env.rng, now);

	/* A member that refuses us by its allow or deny list will refuse the
	 * next dial too, and peer exchange keeps naming it: without a longer
	 * wait every such pair costs a handshake per backoff cap.  Static
	 * peers are the operator's choice and keep their backoff.  It may
	 * still dial us; a kick (link change, mDNS) ends the wait. */
	if (!p->is_static && strcmp(reason, "denied") == 0 && hold > delay) {
		delay = hold;
		p->bo.last_delay_ms = hold;
		p->bo.next_attempt_ms = now + hold;
	}

	p->rec.failures++;
	snprintf(p->rec.last_error, sizeof p->rec.last_error, "%s", reason);
	ms_logf(pt->env.log, MS_LOG_WARNING, "MS-PEER-FAIL",
	        "addr=%s reason=%s backoff_ms=%" PRIu64 " attempt=%" PRIu32,
	        peer_addr(p), reason, delay, p->bo.attempts);
	p->dirty = 1;
	refresh(pt, p);
}

/* The next address of p to dial (round robin): a static peer only at its
 * configured addresses (names allowed: the operator chose them); a
 * discovered one at any dialable address it was seen with (records stored
 * before dial targets were checked may hold others). */
static const char *next_addr(ms_peertab *pt, ms_peer *p)
{
	for (uint32_t k = 0; k < p->rec.naddrs; k++) {
		const char *a = p->rec.addrs[(p->rr + k) % p->rec.naddrs];
		if (p->is_static ? cfg_is_peer(pt, a)
		                 : ms_endpoint_dialable(a)) {
			p->rr = (p->rr + k + 1) % p->rec.naddrs;
			return a;
		}
	}
	return NULL;
}

static void dial(ms_peertab *pt, ms_peer *p)
{
	const char *addr = next_addr(pt, p);
	ms_errbuf eb = {0};
	uint32_t h = 0;

	if (addr == NULL)
		return;
	snprintf(p->dial_addr, sizeof p->dial_addr, "%s", addr);
	ms_logf(pt->env.log, MS_LOG_INFO, "MS-PEER-DIAL",
	        "addr=%s attempt=%" PRIu32, addr, p->bo.attempts + 1);
	if (pt->cbs.dial(pt->cbs.ctx, addr, &h, &eb) != MS_OK) {
		char q[MS_ERRBUF_SIZE + 8];
		ms_logf(pt->env.log, MS_LOG_WARNING, "MS-PEER-DIAL-ERROR",
		        "addr=%s error=%s", addr,
		        ms_log_q(q, sizeof q, eb.msg));
		fail(pt, p, "dial");
		return;
	}
	p->dial = h;
	refresh(pt, p);
}

/* A dial of a discovered peer that no HELLO answered yet (dials_inflight
 * counts these). */
static int dial_inflight(const ms_peer *p)
{
	return p->dial != 0 && !p->is_static &&
	       p->nsess[NS_SYNCING] + p->nsess[NS_LIVE] == 0;
}

uint64_t ms_peertab_tick(ms_peertab *pt)
{
	uint64_t now = wall(pt), next = UINT64_MAX;
	size_t inflight = 0;

	for (size_t i = 0; i < pt->n; i++)
		inflight += (size_t)dial_inflight(pt->v[i]);
	for (size_t i = 0; i < pt->n; i++) {
		ms_peer *p = pt->v[i];
		if (!dialable(p) || p->self || p->dial != 0 || p->out)
			continue;
		/* a pair keeps the session the lower id dialled (daemon's
		 * dedup_pair): while the lower one's session to us runs, we
		 * (the higher) do not dial it, or each dial would be ended
		 * as a duplicate */
		if (p->is_static && p->rec.has_id && has_sessions(p) &&
		    memcmp(pt->env.node_id, p->rec.id, MS_PK_LEN) > 0)
			continue;
		if (!p->is_static) {
			/* a discovered peer already linked (it dialled us) needs
			 * no dial; the tie-break hold lets the other side dial */
			if (connected(p))
				continue;
			if (p->hold_until_ms > now) {
				if (p->hold_until_ms < next)
					next = p->hold_until_ms;
				continue;
			}
		}
		if (ms_backoff_due(&p->bo, now) && !p->is_static &&
		    inflight >= lim_dials(pt)) {
			/* a finished dial wakes the loop, which looks again */
			if (!p->dial_waiting) {
				p->dial_waiting = 1;
				limit_hit(pt, "dials_inflight",
				          "dials_inflight",
				          p->rec.has_id ? p->rec.id : NULL,
				          peer_addr(p), "inflight=%zu",
				          inflight);
			}
			continue;
		}
		if (ms_backoff_due(&p->bo, now)) {
			p->dial_waiting = 0;
			dial(pt, p);
			inflight += (size_t)dial_inflight(p);
		} else if (p->bo.next_attempt_ms < next)
			next = p->bo.next_attempt_ms;
		/* a dial that failed at once is due again later */
		if (p->dial == 0 && p->bo.next_attempt_ms > now &&
		    p->bo.next_attempt_ms < next)
			next = p->bo.next_attempt_ms;
	}
	return next;
}

/* --- dials ------------------------------------------------------------------ */

ms_peer *ms_peertab_dial_up(ms_peertab *pt, uint32_t handle)
{
	return handle != 0 ? by_dial(pt, handle) : NULL;
}

void ms_peertab_dial_failed(ms_peertab *pt, uint32_t handle, const char *reason)
{
	ms_peer *p = handle != 0 ? by_dial(pt, handle) : NULL;

	if (p == NULL)
		return;
	p->dial = 0;
	p->out = 0;
	fail(pt, p, reason);
	p->dial_addr[0] = '\0';
}

/* --- sessions ----------------------------------------------------------- */

void ms_peertab_session_opened(ms_peertab *pt, ms_peer *p, int outbound)
{
	if (p == NULL)
		return;
	ns_add(p, MS_LINK_STATE_CONNECTING, 1);
	if (outbound)
		p->out = 1;
	refresh(pt, p);
}

/* Fold e, an address-keyed record nothing refers to, into t (the same
 * node). */
static void merge_into(ms_peertab *pt, ms_peer *t, ms_peer *e)
{
	for (uint32_t i = 0; i < e->rec.naddrs; i++)
		rec_add_addr(&t->rec, e->rec.addrs[i],
		             (e->rec.proven >> i) & 1);
	t->rec.source |= e->rec.source;
	t->is_static |= e->is_static;
	if (t->rec.first_seen_ms == 0 ||
	    e->rec.first_seen_ms < t->rec.first_seen_ms)
		t->rec.first_seen_ms = e->rec.first_seen_ms;
	t->rec.failures += e->rec.failures;
	/* the backoff running is the one of the address we dial (e is not
	 * dialling: see unreferenced) */
	if (t->dial == 0 && !t->out)
		t->bo = e->bo;
	forget_addr_key(pt, e);
	t->dirty = 1;
	remove_rec(pt, e);
}

/* A static record still keyed by address ep (announced by, or found for,
 * t's node) is the same node: fold it into t.  The announcement is a claim,
 * but it only re-keys our record; a dial still proves who answers. */
static void merge_addr_key(ms_peertab *pt, ms_peer *t, const char *ep)
{
	ms_peer *k = by_addr(pt, ep);

	if (k != NULL && k != t && unreferenced(k))
		merge_into(pt, t, k);
}

/* Outbound: the dial's record e learns that id answered. */
static ms_peer *identified_out(ms_peertab *pt, ms_peer *e, const uint8_t *id)
{
	uint64_t now = wall(pt);
	ms_peer *t;

	if (e->rec.has_id && memcmp(e->rec.id, id, MS_PK_LEN) == 0) {
		e->rec.last_seen_ms = now;
		e->dirty = 1;
		return e;
	}
	t = by_id(pt, id);
	if (t == NULL && !e->rec.has_id) {
		/* first contact through a static address: re-key it */
		forget_addr_key(pt, e);
		e->rec.has_id = 1;
		memcpy(e->rec.id, id, MS_PK_LEN);
		e->rec.last_seen_ms = now;
		e->dirty = 1;
		return e;
	}
	if (t == NULL) {
		/* the address now answers with another node id */
		if ((t = add_id(pt, id, 1)) == NULL)
			return e;
		t->bo = e->bo;
	}
	/* the dial, its session and its address (proven: it answered
	 * there) move to t */
	rec_add_addr(&t->rec, e->dial_addr, 1);
	if (cfg_is_peer(pt, e->dial_addr)) {
		t->rec.source |= MS_PEER_SRC_STATIC;
		t->is_static = 1;
	}
	t->dial = e->dial;
	t->out = e->out;
	snprintf(t->dial_addr, sizeof t->dial_addr, "%s", e->dial_addr);
	ns_add(e, MS_LINK_STATE_CONNECTING, -1);
	ns_add(t, MS_LINK_STATE_CONNECTING, 1);
	t->rec.last_seen_ms = now;
	t->dirty = 1;
	e->dial = 0;
	e->out = 0;
	e->dial_addr[0] = '\0';
	if (unreferenced(e)) {
		forget_addr_key(pt, e);
		remove_rec(pt, e);
	} else {
		rec_del_addr(&e->rec, t->dial_addr);
		e->is_static = any_static_addr(pt, e);
		e->dirty = 1;
		refresh(pt, e);
	}
	return t;
}

/* Inbound: id dialled us, announcing eps. */
static ms_peer *identified_in(ms_peertab *pt, const uint8_t *id,
                              const ms_wire_bytes *eps, size_t neps)
{
	uint64_t now = wall(pt);
	ms_peer *t = by_id(pt, id);

	if (t == NULL) {
		if ((t = add_id(pt, id, 1)) == NULL)
			return NULL;
		t->rec.link = MS_LINK_STATE_DOWN;
	}
	t->rec.source |= MS_PEER_SRC_INBOUND;
	t->rec.last_seen_ms = now;
	t->dirty = 1;
	ns_add(t, MS_LINK_STATE_CONNECTING, 1);
	for (size_t i = 0; i < neps; i++) {
		char ep[MS_ENDPOINT_MAX];
		if (ms_endpoint_copy(ep, eps[i].ptr, eps[i].len) == 0)
			merge_addr_key(pt, t, ep);
	}
	/* it is alive and reachable from it to us: if our dial to it is
	 * waiting out a backoff, try now (rate-limited) */
	if (t->is_static && !t->self && t->dial == 0 && !t->out &&
	    !ms_backoff_due(&t->bo, now) &&
	    ms_backoff_kick(&t->bo, now, pt->env.cfg->kick_interval_ms)) {
		char hex[2 * MS_PK_LEN + 1];
		ms_hex(hex, id, MS_PK_LEN);
		ms_logf(pt->env.log, MS_LOG_INFO, "MS-PEER-KICK",
		        "peer=%s addr=%s", hex, peer_addr(t));
	}
	return t;
}

ms_peer *ms_peertab_identified(ms_peertab *pt, ms_peer *p, int outbound,
                               const uint8_t id[MS_PK_LEN],
                               const ms_wire_bytes *eps, size_t neps)
{
	ms_peer *t = outbound && p != NULL ? identified_out(pt, p, id)
	                                   : identified_in(pt, id, eps, neps);

	if (t == NULL || t->self)
		return t;
	/* the session proved this id: the record may be stored now */
	if (!authed(t)) {
		t->rec.flags |= MS_PEER_F_AUTHED;
		t->dirty = 1;
	}
	/* where we reached it is proven; so is what its authenticated
	 * HELLO announces (and passes on in peer exchange), if dialable */
	if (outbound && t->dial_addr[0] != '\0' &&
	    rec_add_addr(&t->rec, t->dial_addr, 1))
		t->dirty = 1;
	for (size_t i = 0; i < neps; i++) {
		char ep[MS_ENDPOINT_MAX];
		if (ms_endpoint_copy(ep, eps[i].ptr, eps[i].len) == 0 &&
		    target_ok(pt, id, ep, "hello") &&
		    rec_add_addr(&t->rec, ep, 1))
			t->dirty = 1;
	}
	if (t->lost) {
		t->lost = 0; /* it is back, whatever mDNS last said */
		t->dirty = 1;
	}
	refresh(pt, t);
	return t;
}

void ms_peertab_session_state(ms_peertab *pt, ms_peer *p, int outbound,
                              ms_link_state from, ms_link_state to)
{
	if (p == NULL)
		return;
	ns_add(p, from, -1);
	ns_add(p, to, 1);
	if (to == MS_LINK_STATE_LIVE) {
		p->rec.last_good_ms = wall(pt);
		if (outbound)
			ms_backoff_success(&p->bo); /* a good session */
		p->dirty = 1;
	}
	refresh(pt, p);
}

static void became_self(ms_peertab *pt, ms_peer *p)
{
	ms_logf(pt->env.log, MS_LOG_NOTICE, "MS-PEER-SELF", "addr=%s",
	        peer_addr(p));
	p->dial = 0;
	p->out = 0;
	p->self = 1;
	forget_addr_key(pt, p);
	p->dirty = 0;
}

void ms_peertab_session_ended(ms_peertab *pt, ms_peer *p,
                              const ms_peertab_end *end)
{
	if (p == NULL)
		return;
	ns_add(p, end->last, -1);
	if (end->self) {
		became_self(pt, p);
		refresh(pt, p);
		return;
	}
	p->rec.last = *end->sum;
	p->rec.has_summary = 1;
	p->rec.sessions++;
	p->rec.last_seen_ms = wall(pt);
	p->dirty = 1;
	if (end->outbound && p->out) {
		p->out = 0;
		p->dial = 0; /* the session hung up */
		if (end->failed)
			fail(pt, p, end->reason);
		p->dial_addr[0] = '\0';
	} else if (!end->outbound && end->detail != NULL) {
		/* we refused what it sent us */
		snprintf(p->rec.last_error, sizeof p->rec.last_error, "%s",
		         end->detail);
		p->rec.failures++;
	}
	refresh(pt, p);
}

/* --- discovery and peer exchange ---------------------------------------- */

/*
 * Someone names id at addrs (a claim): find or create id's record (a
 * candidate, bounded by peer_records), add the dialable addresses as
 * unproven and source to its sources.  `from` is the peer that named it
 * (pex) or NULL (mDNS), the source of any MS-LIMIT line.  NULL when id is
 * ours (or the record is ourselves), nothing is dialable, there is no
 * room, or out of memory.
 */
static ms_peer *learn(ms_peertab *pt, const uint8_t *from, const uint8_t *id,
                      const char *const *addrs, size_t naddrs, uint8_t source)
{
	const char *how = source == MS_PEER_SRC_MDNS ? "mdns" : "pex";
	const char *ok[MS_PEER_MAX_ADDRS];
	char hex[17];
	size_t nok = 0;
	ms_peer *p;

	if (memcmp(id, pt->env.node_id, MS_PK_LEN) == 0)
		return NULL;
	for (size_t i = 0; i < naddrs; i++)
		if (nok < MS_PEER_MAX_ADDRS &&
		    target_ok(pt, from, addrs[i], how))
			ok[nok++] = addrs[i];
	if (nok == 0)
		return NULL;
	ms_hex(hex, id, 8);
	if ((p = by_id(pt, id)) == NULL) {
		int full = pt->n >= lim_records(pt), room = make_room(pt);
		if (full)
			limit_hit(pt, "peer_records", from != NULL ? NULL : how,
			          from, from != NULL ? NULL : how,
			          "id=%s records=%zu action=%s", hex, pt->n,
			          room ? "evicted" : "refused");
		if (!room)
			return NULL;
		if ((p = add_id(pt, id, 1)) == NULL) {
			ms_logf(pt->env.log, MS_LOG_ERROR, "MS-PEER-NOMEM",
			        "id=%s", hex);
			return NULL;
		}
	}
	if (p->self)
		return NULL;
	for (size_t i = 0; i < nok; i++) {
		merge_addr_key(pt, p, ok[i]);
		if (rec_add_addr(&p->rec, ok[i], 0))
			p->dirty = 1;
	}
	if ((p->rec.source & source) != source) {
		p->rec.source |= source;
		p->dirty = 1;
	}
	p->rec.last_seen_ms = wall(pt);
	refresh(pt, p);
	return p;
}

/* Retry p now if it waits in backoff, at most once per kick interval;
 * logs MS-PEER-KICK with why.  1 when a dial is now due. */
static int kick(ms_peertab *pt, ms_peer *p, const char *why)
{
	uint64_t now = wall(pt);
	char hex[2 * MS_PK_LEN + 1] = "-";

	if (p->self || !dialable(p))
		return 0;
	if (ms_backoff_due(&p->bo, now))
		return 1;
	if (!ms_backoff_kick(&p->bo, now, pt->env.cfg->kick_interval_ms))
		return 0;
	if (p->rec.has_id)
		ms_hex(hex, p->rec.id, MS_PK_LEN);
	ms_logf(pt->env.log, MS_LOG_INFO, "MS-PEER-KICK",
	        "peer=%s addr=%s why=%s", hex, peer_addr(p), why);
	p->dirty = 1;
	return 1;
}

void ms_peertab_mdns_found(ms_peertab *pt, const uint8_t id[MS_PK_LEN],
                           const char *endpoint)
{
	ms_peer *p = learn(pt, NULL, id, &endpoint, 1, MS_PEER_SRC_MDNS);
	int fresh;

	if (p == NULL)
		return;
	fresh = !p->mdns || p->lost;
	p->mdns = 1;
	if (p->lost) {
		p->lost = 0;
		p->dirty = 1;
	}
	if (connected(p)) {
		refresh(pt, p);
		return;
	}
	if (fresh && !p->is_static &&
	    memcmp(pt->env.node_id, id, MS_PK_LEN) > 0)
		p->hold_until_ms = wall(pt) + MS_PEERTAB_MDNS_HOLD_MS;
	else
		p->hold_until_ms = 0;
	/* a (new) sighting is a link-up event: retry now, rate-limited */
	(void)kick(pt, p, "mdns");
	refresh(pt, p);
}

void ms_peertab_mdns_lost(ms_peertab *pt, const uint8_t id[MS_PK_LEN])
{
	ms_peer *p = by_id(pt, id);

	if (p == NULL)
		return;
	p->mdns = 0;
	p->hold_until_ms = 0;
	if (!p->is_static) {
		/* a session still running keeps the link until it drops;
		 * refresh shows lost once nothing is connected */
		p->lost = 1;
		if (!p->out)
			drop_dial(pt, p, "withdrawn");
	}
	p->dirty = 1;
	refresh(pt, p);
}

size_t ms_peertab_kick_all(ms_peertab *pt, const char *why)
{
	size_t kicked = 0;

	for (size_t i = 0; i < pt->n; i++) {
		ms_peer *p = pt->v[i];
		if (p->bo.attempts == 0 || connected(p))
			continue;
		if (kick(pt, p, why))
			kicked++;
	}
	return kicked;
}

int ms_peertab_pex_learn(ms_peertab *pt, const uint8_t from[MS_PK_LEN],
                         const uint8_t id[MS_PK_LEN], const char *const *eps,
                         size_t neps)
{
	ms_peer *p = learn(pt, from, id, eps, neps, MS_PEER_SRC_PEX);

	if (p == NULL)
		return 0;
	if (!p->pex) {
		p->pex = 1;
		p->dirty = 1;
	}
	refresh(pt, p);
	return 1;
}

void ms_peertab_pex_forget(ms_peertab *pt, const uint8_t id[MS_PK_LEN])
{
	ms_peer *p = by_id(pt, id);

	if (p != NULL && p->pex) {
		p->pex = 0;
		refresh(pt, p);
	}
}

int ms_peertab_linked(const ms_peertab *pt, const uint8_t id[MS_PK_LEN])
{
	const ms_peer *p = by_id(pt, id);

	return p != NULL && connected(p);
}

int ms_peertab_authed(const ms_peertab *pt, const uint8_t id[MS_PK_LEN])
{
	const ms_peer *p = by_id(pt, id);

	return p != NULL && authed(p);
}

ms_err ms_peertab_views(const ms_peertab *pt, ms_peer_view **out, size_t *n,
                        ms_errbuf *eb)
{
	ms_peer_view *v = calloc(pt->n ? pt->n : 1, sizeof *v);

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return ms_errf(eb, MS_ENOMEM, "peer views: out of memory");
	for (size_t i = 0; i < pt->n; i++) {
		const ms_peer *p = pt->v[i];
		v[i].has_id = p->rec.has_id;
		memcpy(v[i].id, p->rec.id, MS_PK_LEN);
		v[i].naddrs = p->rec.naddrs;
		v[i].proven = p->rec.proven;
		memcpy(v[i].addrs, p->rec.addrs, sizeof v[i].addrs);
		v[i].last_good_ms = p->rec.last_good_ms;
		v[i].live = p->nsess[NS_LIVE] > 0;
		v[i].self = p->self;
	}
	*out = v;
	*n = pt->n;
	return MS_OK;
}
