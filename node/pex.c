/*
 * pex.c — peer exchange: the candidate list and the choice of what to tell
 * a peer (see pex.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "pex.h"

typedef struct pex_cand {
	uint8_t id[MS_PK_LEN];
	uint8_t from[MS_PK_LEN]; /* the sender whose share it is */
	uint64_t refreshed_mono; /* when a PEERS last named it */
	uint64_t claimed_ms;     /* the sender's last_seen_ms (newest seen) */
	int proven;              /* a session proved it (as last looked up) */
} pex_cand;

/* What one sender's last PEERS listed, for node.mesh. */
typedef struct pex_told {
	uint8_t from[MS_PK_LEN];
	uint64_t mono; /* when it came */
	char *lines;   /* its "to" lines, each ending in '\n' (malloc'd) */
} pex_told;

struct ms_pex {
	ms_pex_env env;
	ms_pex_cbs cbs;
	pex_cand *cand; /* env.max_candidates of them */
	size_t ncand;
	uint64_t next_expire_mono;
	pex_told told[MS_PEX_TOLD_SENDERS];
	size_t ntold;
	int told_changed;
};

ms_err ms_pex_new(ms_pex **out, const ms_pex_env *env, const ms_pex_cbs *cbs,
                  ms_errbuf *eb)
{
	ms_pex *x;

	*out = NULL;
	if (env->max_candidates > MS_PEX_CANDIDATES_MAX)
		return ms_errf(eb, MS_EINVAL,
		               "peer exchange: %zu candidates, at most %d",
		               env->max_candidates, MS_PEX_CANDIDATES_MAX);
	if ((x = calloc(1, sizeof *x)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "peer exchange: out of memory");
	x->env = *env;
	if (x->env.max_candidates == 0)
		x->env.max_candidates = MS_PEX_CANDIDATES_DEFAULT;
	x->cbs = *cbs;
	x->cand = calloc(x->env.max_candidates, sizeof *x->cand);
	if (x->cand == NULL) {
		free(x);
		return ms_errf(eb, MS_ENOMEM, "peer exchange: out of memory");
	}
	*out = x;
	return MS_OK;
}

void ms_pex_free(ms_pex **xp)
{
	if (xp == NULL || *xp == NULL)
		return;
	for (size_t i = 0; i < (*xp)->ntold; i++)
		free((*xp)->told[i].lines);
	free((*xp)->cand);
	free(*xp);
	*xp = NULL;
}

/* --- receiving ----------------------------------------------------------- */

static pex_cand *cand_find(ms_pex *x, const uint8_t *id)
{
	for (size_t i = 0; i < x->ncand; i++)
		if (memcmp(x->cand[i].id, id, MS_PK_LEN) == 0)
			return &x->cand[i];
	return NULL;
}

/* The candidate stops being one: the peer table stops dialling it for
 * pex's sake (static or mDNS may still want it). */
static void cand_drop(ms_pex *x, size_t i, const char *why)
{
	char hex[2 * MS_PK_LEN + 1];
	uint8_t id[MS_PK_LEN];

	memcpy(id, x->cand[i].id, MS_PK_LEN);
	x->cand[i] = x->cand[--x->ncand];
	ms_hex(hex, id, MS_PK_LEN);
	ms_logf(x->env.log, MS_LOG_DEBUG, "MS-PEX-FORGET", "peer=%s why=%s",
	        hex, why);
	x->cbs.forget(x->cbs.ctx, id);
}

/* Budget `name` was hit for sender `from`: count it, and log one
 * MS-LIMIT line (rate-limited per sender) with fmt's facts after it. */
static void limit_hit(ms_pex *x, const char *name, const uint8_t *from,
                      uint64_t now_mono, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void limit_hit(ms_pex *x, const char *name, const uint8_t *from,
                      uint64_t now_mono, const char *fmt, ...)
{
	char src[17], facts[160];
	va_list ap;

	ms_counters_add(x->env.counters, "limit_", name, 1);
	ms_hex(src, from, 8);
	if (!ms_ratelog_gate(x->env.ratelog, x->env.log, x->env.counters, from,
	                     src, now_mono))
		return;
	va_start(ap, fmt);
	vsnprintf(facts, sizeof facts, fmt, ap);
	va_end(ap);
	ms_logf(x->env.log, MS_LOG_WARNING, "MS-LIMIT", "limit=%s peer=%s %s",
	        name, src, facts);
}

/* The pex_candidates budget refused or evicted a candidate. */
static void cand_limit(ms_pex *x, const uint8_t *from, const uint8_t *id,
                       const char *what, uint64_t now_mono)
{
	char hid[17];

	ms_hex(hid, id, 8);
	limit_hit(x, "pex_candidates", from, now_mono,
	          "id=%s action=%s candidates=%zu", hid, what, x->ncand);
}

/*
 * The least recently refreshed candidate that is not proven, among those
 * of `from` when from is not NULL; -1 when none.  A candidate cached as
 * not proven is looked up again before it is chosen (it may have been
 * proven since it was last named).
 */
static long pick_victim(ms_pex *x, const uint8_t *from)
{
	for (;;) {
		long old = -1;
		for (size_t i = 0; i < x->ncand; i++) {
			const pex_cand *c = &x->cand[i];
			if (c->proven ||
			    (from != NULL &&
			     memcmp(c->from, from, MS_PK_LEN) != 0))
				continue;
			if (old < 0 ||
			    c->refreshed_mono < x->cand[old].refreshed_mono)
				old = (long)i;
		}
		if (old < 0 || !x->cbs.proven(x->cbs.ctx, x->cand[old].id))
			return old;
		x->cand[old].proven = 1; /* bounded: one per candidate */
	}
}

/* A slot for a new candidate named by `from`: within from's share and
 * the list's size, evicting as pex.h says.  NULL when refused. */
static pex_cand *cand_add(ms_pex *x, const uint8_t *from, const uint8_t *id,
                          uint64_t now_mono)
{
	size_t mine = 0;
	long v = -1;
	pex_cand *c;

	for (size_t i = 0; i < x->ncand; i++)
		mine += memcmp(x->cand[i].from, from, MS_PK_LEN) == 0;
	if (mine >= MS_PEX_PER_SENDER) {
		if ((v = pick_victim(x, from)) < 0) {
			cand_limit(x, from, id, "refused", now_mono);
			return NULL;
		}
	} else if (x->ncand == x->env.max_candidates) {
		if ((v = pick_victim(x, NULL)) < 0) {
			cand_limit(x, from, id, "refused", now_mono);
			return NULL;
		}
	}
	if (v >= 0) {
		cand_limit(x, from, id, "evicted", now_mono);
		cand_drop(x, (size_t)v, "evicted");
	}
	c = &x->cand[x->ncand++];
	memset(c, 0, sizeof *c);
	memcpy(c->id, id, MS_PK_LEN);
	memcpy(c->from, from, MS_PK_LEN);
	return c;
}

/* m's entries as node.mesh "to" lines (NULL when out of memory).  Only
 * endpoints that read as endpoints (printable, no spaces) are written:
 * the file is line- and space-separated, and its reader trusts nothing. */
static char *told_lines(const uint8_t *from, const ms_wire_peers *m)
{
	/* "to " hex ' ' u64, then per endpoint ' ' and at most 127 bytes */
	size_t cap = (size_t)m->n *
	                     (4 + 2 * MS_PK_LEN + 22 +
	                      MS_WIRE_MAX_PEER_ENDPOINTS * MS_ENDPOINT_MAX) +
	             1;
	char *s = malloc(cap), *p = s;

	if (s == NULL)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < m->n; i++) {
		const ms_wire_peer *e = &m->peers[i];
		char hex[2 * MS_PK_LEN + 1];

		if (memcmp(e->node_id, from, MS_PK_LEN) == 0)
			continue; /* a sender naming itself says nothing */
		ms_hex(hex, e->node_id, MS_PK_LEN);
		p += snprintf(p, cap - (size_t)(p - s), "to %s %" PRIu64, hex,
		              e->last_seen_ms);
		for (size_t k = 0; k < e->n_endpoints; k++) {
			char ep[MS_ENDPOINT_MAX];
			if (ms_endpoint_copy(ep, e->endpoints[k].ptr,
			                     e->endpoints[k].len) != 0 ||
			    ms_endpoint_check(ep) != 0)
				continue;
			p += snprintf(p, cap - (size_t)(p - s), " %s", ep);
		}
		p += snprintf(p, cap - (size_t)(p - s), "\n");
	}
	return s;
}

/* Keep m as from's last PEERS: in its slot, a free one, or (the
 * mesh_senders budget) the slot of the sender heard from least recently. */
static void told_keep(ms_pex *x, const uint8_t *from, const ms_wire_peers *m,
                      uint64_t now_mono)
{
	char *lines = told_lines(from, m);
	size_t i = 0;

	if (lines == NULL)
		return; /* the old list stays: node.mesh is a view, no more */
	while (i < x->ntold && memcmp(x->told[i].from, from, MS_PK_LEN) != 0)
		i++;
	if (i == x->ntold && x->ntold == MS_PEX_TOLD_SENDERS) {
		i = 0;
		for (size_t k = 1; k < x->ntold; k++)
			if (x->told[k].mono < x->told[i].mono)
				i = k;
		limit_hit(x, "mesh_senders", from, now_mono,
		          "action=evicted senders=%zu", x->ntold);
	} else if (i == x->ntold) {
		x->ntold++;
		x->told[i].lines = NULL;
	}
	free(x->told[i].lines);
	memcpy(x->told[i].from, from, MS_PK_LEN);
	x->told[i].mono = now_mono;
	x->told[i].lines = lines;
	x->told_changed = 1;
}

void ms_pex_recv(ms_pex *x, const uint8_t from[MS_PK_LEN],
                 const ms_wire_peers *m, uint64_t now_mono)
{
	char hex[2 * MS_PK_LEN + 1];
	size_t fresh = 0, unlinked = 0;

	for (size_t i = 0; i < m->n; i++) {
		const ms_wire_peer *e = &m->peers[i];
		char eps[MS_WIRE_MAX_PEER_ENDPOINTS][MS_ENDPOINT_MAX];
		const char *ep[MS_WIRE_MAX_PEER_ENDPOINTS];
		size_t n = 0;
		pex_cand *c;
		int isnew;

		if (memcmp(e->node_id, x->env.node_id, MS_PK_LEN) == 0 ||
		    memcmp(e->node_id, from, MS_PK_LEN) == 0)
			continue; /* §5.5 forbids both; ignore rather than trust */
		for (size_t k = 0; k < e->n_endpoints; k++) {
			/* a zone names an interface of the sender's host:
			 * meaningless here.  Other endpoints go to the table,
			 * which counts what it will not dial (dial_target). */
			if (ms_endpoint_copy(eps[n], e->endpoints[k].ptr,
			                     e->endpoints[k].len) != 0 ||
			    strchr(eps[n], '%') != NULL)
				continue;
			ep[n] = eps[n];
			n++;
		}
		if (n == 0)
			continue;
		/* room first: a refused candidate never reaches the table */
		isnew = (c = cand_find(x, e->node_id)) == NULL;
		if (isnew &&
		    (c = cand_add(x, from, e->node_id, now_mono)) == NULL)
			continue;
		if (!x->cbs.learn(x->cbs.ctx, from, e->node_id, ep, n)) {
			/* nothing dialable, ourselves, or no room in the
			 * table: not a candidate (an old one stays until it
			 * expires) */
			if (isnew)
				x->ncand--; /* c is the last slot */
			continue;
		}
		fresh += (size_t)isnew;
		c->refreshed_mono = now_mono;
		c->proven = x->cbs.proven(x->cbs.ctx, e->node_id);
		if (e->last_seen_ms > c->claimed_ms)
			c->claimed_ms = e->last_seen_ms;
		if (!x->cbs.linked(x->cbs.ctx, e->node_id))
			unlinked++;
	}
	told_keep(x, from, m, now_mono);
	ms_hex(hex, from, MS_PK_LEN);
	ms_logf(x->env.log, MS_LOG_INFO, "MS-PEX-RECV",
	        "from=%s entries=%u new=%zu unlinked=%zu candidates=%zu", hex,
	        (unsigned)m->n, fresh, unlinked, x->ncand);
	ms_counters_add(x->env.counters, "pex_received", NULL, 1);
}

void ms_pex_tick(ms_pex *x, uint64_t now_mono)
{
	if (now_mono < x->next_expire_mono)
		return;
	x->next_expire_mono = now_mono + 1000;
	for (size_t i = 0; i < x->ncand;) {
		if (now_mono - x->cand[i].refreshed_mono >= MS_PEX_EXPIRE_MS)
			cand_drop(x, i, "expired");
		else
			i++;
	}
	for (size_t i = 0; i < x->ntold;) {
		if (now_mono - x->told[i].mono >= MS_PEX_EXPIRE_MS) {
			free(x->told[i].lines);
			x->told[i] = x->told[--x->ntold];
			x->told_changed = 1;
		} else {
			i++;
		}
	}
}

/* --- node.mesh ----------------------------------------------------------- */

int ms_pex_mesh_changed(const ms_pex *x)
{
	return x->told_changed;
}

void ms_pex_mesh_saved(ms_pex *x)
{
	x->told_changed = 0;
}

char *ms_pex_mesh_text(const ms_pex *x, uint64_t now_mono, uint64_t now_wall)
{
	size_t cap = 32, order[MS_PEX_TOLD_SENDERS];
	char *s, *p;

	for (size_t i = 0; i < x->ntold; i++) {
		cap += 6 + 2 * MS_PK_LEN + 22 + strlen(x->told[i].lines);
		/* most recently heard first (insertion sort: 64 at most) */
		size_t j = i;
		while (j > 0 && x->told[order[j - 1]].mono < x->told[i].mono) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	if ((p = s = malloc(cap)) == NULL)
		return NULL;
	p += snprintf(p, cap, "meshsync-mesh %d\n", MS_PEX_MESH_VERSION);
	for (size_t k = 0; k < x->ntold; k++) {
		const pex_told *t = &x->told[order[k]];
		uint64_t ago = now_mono - t->mono;
		char hex[2 * MS_PK_LEN + 1];

		ms_hex(hex, t->from, MS_PK_LEN);
		p += snprintf(p, cap - (size_t)(p - s),
		              "from %s %" PRIu64 "\n%s", hex,
		              now_wall > ago ? now_wall - ago : 0, t->lines);
	}
	return s;
}

/* --- sending ------------------------------------------------------------- */

typedef struct pick {
	const ms_peer_view *v;
	uint64_t seen_ms;
} pick;

static int pick_cmp(const void *a, const void *b)
{
	const pick *x = a, *y = b;

	if (x->seen_ms != y->seen_ms)
		return x->seen_ms > y->seen_ms ? -1 : 1; /* newest first */
	return memcmp(x->v->id, y->v->id, MS_PK_LEN);
}

size_t ms_pex_build(const ms_pex *x, const uint8_t to[MS_PK_LEN],
                    const ms_peer_view *views, size_t nviews, uint64_t now_wall,
                    ms_wire_peers *out)
{
	pick pk[MS_WIRE_MAX_PEERS + 1];
	size_t n = 0;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < nviews; i++) {
		const ms_peer_view *v = &views[i];
		int usable = 0;
		pick p;
		if (!v->has_id || v->self ||
		    memcmp(v->id, to, MS_PK_LEN) == 0 ||
		    memcmp(v->id, x->env.node_id, MS_PK_LEN) == 0)
			continue;
		for (uint32_t k = 0; k < v->naddrs; k++)
			usable |= ms_endpoint_passable(v->addrs[k]);
		if (!usable)
			continue;
		if (v->live)
			p.seen_ms = now_wall;
		else if (v->last_good_ms != 0 &&
		         v->last_good_ms + MS_PEX_RECENT_MS >= now_wall)
			p.seen_ms = v->last_good_ms;
		else
			continue;
		p.v = v;
		/* keep the newest MS_WIRE_MAX_PEERS: insert in order, drop the
		 * oldest beyond the cap */
		{
			size_t j = n < MS_WIRE_MAX_PEERS ? n++ : n;
			while (j > 0 && pick_cmp(&p, &pk[j - 1]) < 0) {
				pk[j] = pk[j - 1];
				j--;
			}
			pk[j] = p;
		}
	}
	for (size_t i = 0; i < n; i++) {
		ms_wire_peer *w = &out->peers[out->n++];
		const ms_peer_view *v = pk[i].v;
		memcpy(w->node_id, v->id, MS_PK_LEN);
		w->last_seen_ms = pk[i].seen_ms;
		/* proven addresses first, then the rest; newest (last in
		 * the record) first in each */
		for (int want = 1; want >= 0; want--) {
			for (uint32_t k = v->naddrs;
			     k-- > 0 &&
			     w->n_endpoints < MS_WIRE_MAX_PEER_ENDPOINTS;) {
				if ((int)((v->proven >> k) & 1) != want ||
				    !ms_endpoint_passable(v->addrs[k]))
					continue;
				w->endpoints[w->n_endpoints].ptr =
					(const uint8_t *)v->addrs[k];
				w->endpoints[w->n_endpoints].len = (uint32_t)
					strlen(v->addrs[k]);
				w->n_endpoints++;
			}
		}
	}
	return out->n;
}

void ms_pex_sent(ms_pex *x, const uint8_t to[MS_PK_LEN], const ms_wire_peers *m)
{
	char hex[2 * MS_PK_LEN + 1];

	ms_hex(hex, to, MS_PK_LEN);
	ms_logf(x->env.log, MS_LOG_INFO, "MS-PEX-SEND", "to=%s entries=%u", hex,
	        (unsigned)m->n);
	ms_counters_add(x->env.counters, "pex_sent", NULL, 1);
}
