/*
 * discover.c — the daemon's side of mDNS and link monitoring: owns the
 * ms_disc (net/discovery) and ms_linkmon (net/linkmon) of one daemon, puts
 * their fds into the loop's zmq_poll, and turns their events into peer
 * table changes (peerman.c): FOUND adds an endpoint and source mdns and
 * dials at once, LOST with last=1 marks the peer lost unless it is static,
 * a link or address coming up browses again and retries peers in backoff.
 *
 * Peer exchange lives in pex.c; this file only starts and stops it with
 * the rest.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "discover.h"
#include "discovery.h"
#include "linkmon.h"
#include "sync.h"

/* Tie-break for peers found by mDNS on both sides: the node with the lower
 * id dials at once, the other waits this long and dials only if no session
 * appeared, so one pair does not keep two sessions for nothing. */
#define MDNS_HOLD_MS 2000

typedef struct ms_discover {
	ms_disc *disc;
	ms_linkmon *lm;
	uint64_t last_refresh_ms; /* mono: last link-triggered refresh */
	ms_disc_stats prev;       /* counters already added to the stats db */
	uint64_t stats_mono;      /* when they were last compared */
} ms_discover;

static void hexid(char out[2 * MS_PK_LEN + 1], const uint8_t *id)
{
	ms_hex(out, id, MS_PK_LEN);
}

/* net/discovery's log lines start with their stable id: keep it as ours. */
static void on_disc_log(void *ctx, int level, const char *msg)
{
	ms_daemon *d = ctx;
	char event[48];
	size_t n = strcspn(msg, " ");

	if (n >= sizeof event)
		n = sizeof event - 1;
	memcpy(event, msg, n);
	event[n] = '\0';
	if (level < MS_LOG_ERROR)
		level = MS_LOG_ERROR;
	if (level > MS_LOG_DEBUG)
		level = MS_LOG_DEBUG;
	ms_logf(&d->log, level, event, "%s", msg[n] == ' ' ? msg + n + 1 : "");
}

static void on_found(ms_daemon *d, const ms_disc_event *ev)
{
	uint64_t now = ms_daemon_wall_ms();
	char hex[2 * MS_PK_LEN + 1];
	ms_pm_peer *p = ms_pm_learn(d, ev->node_id, ev->endpoint, MS_PEER_SRC_MDNS);
	int fresh;

	hexid(hex, ev->node_id);
	ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-PEER-FOUND",
	        "peer=%s endpoint=%s name=%s", hex, ev->endpoint, ev->name);
	if (p == NULL)
		return;
	fresh = !p->mdns || p->lost;
	p->mdns = 1;
	if (p->lost) {
		p->lost = 0;
		p->dirty = 1;
	}
	if (ms_pm_connected(d, p)) {
		ms_pm_refresh(d, p);
		return;
	}
	if (fresh && !p->is_static &&
	    memcmp(ms_node_id(d->node), ev->node_id, MS_PK_LEN) > 0)
		p->hold_until_ms = now + MDNS_HOLD_MS;
	else
		p->hold_until_ms = 0;
	/* a (new) sighting is a link-up event: retry now, rate-limited */
	(void)ms_pm_kick(d, p, "mdns");
	ms_pm_refresh(d, p);
}

static void on_lost(ms_daemon *d, const ms_disc_event *ev)
{
	char hex[2 * MS_PK_LEN + 1];
	ms_pm_peer *p = ms_pm_find(d, ev->node_id);

	hexid(hex, ev->node_id);
	ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-PEER-LOST",
	        "peer=%s endpoint=%s last=%d", hex, ev->endpoint, ev->last);
	if (p == NULL || !ev->last)
		return;
	p->mdns = 0;
	p->hold_until_ms = 0;
	if (!p->is_static) {
		/* a session still running keeps the link until it drops;
		 * refresh() shows lost once nothing is connected */
		p->lost = 1;
		ms_pm_hangup_dial(d, p);
	}
	p->dirty = 1;
	ms_pm_refresh(d, p);
}

static void on_disc_event(void *ctx, const ms_disc_event *ev)
{
	ms_daemon *d = ctx;

	if (d->stopping)
		return;
	switch (ev->kind) {
	case MS_DISC_FOUND: on_found(d, ev); break;
	case MS_DISC_LOST: on_lost(d, ev); break;
	case MS_DISC_STATE:
		ms_logf(&d->log, ev->up ? MS_LOG_INFO : MS_LOG_NOTICE,
		        ev->up ? "MS-DISC-STATE-UP" : "MS-DISC-STATE-DOWN",
		        "static_peers=%zu", d->node->cfg.net.npeers);
		ms_daemon_count(d, ev->up ? "mdns_up" : "mdns_down", NULL, 1);
		break;
	}
}

static const char *lm_kind(ms_linkmon_kind k)
{
	switch (k) {
	case MS_LINKMON_LINK_UP: return "link-up";
	case MS_LINKMON_LINK_DOWN: return "link-down";
	case MS_LINKMON_ADDR_ADD: return "addr-add";
	case MS_LINKMON_ADDR_DEL: return "addr-del";
	case MS_LINKMON_OVERRUN: return "overrun";
	}
	return "?";
}

static void on_link(void *ctx, const ms_linkmon_event *ev)
{
	ms_daemon *d = ctx;
	ms_discover *x = d->disc;
	uint64_t now = ms_daemon_mono_ms();
	int up = ev->kind == MS_LINKMON_LINK_UP || ev->kind == MS_LINKMON_ADDR_ADD ||
	         ev->kind == MS_LINKMON_OVERRUN;
	size_t kicked = 0;
	int browsed = 0;

	if (d->stopping)
		return;
	if (!up) {
		ms_logf(&d->log, MS_LOG_INFO, "MS-NET-LINK", "event=%s if=%s addr=%s",
		        lm_kind(ev->kind), ev->ifname[0] ? ev->ifname : "-",
		        ev->addr[0] ? ev->addr : "-");
		return;
	}
	/* address renewals repeat NEWADDR: one refresh per kick interval */
	if (x->last_refresh_ms != 0 &&
	    now - x->last_refresh_ms < d->node->cfg.kick_interval_ms) {
		ms_logf(&d->log, MS_LOG_DEBUG, "MS-NET-LINK",
		        "event=%s if=%s addr=%s limited=1", lm_kind(ev->kind),
		        ev->ifname[0] ? ev->ifname : "-", ev->addr[0] ? ev->addr : "-");
		return;
	}
	x->last_refresh_ms = now;
	if (x->disc != NULL)
		browsed = ms_disc_refresh(x->disc);
	for (size_t i = 0; i < d->npeers; i++) {
		ms_pm_peer *p = d->peers[i];
		if (p->bo.attempts == 0 || ms_pm_connected(d, p))
			continue;
		if (ms_pm_kick(d, p, lm_kind(ev->kind)))
			kicked++;
	}
	ms_logf(&d->log, MS_LOG_INFO, "MS-NET-LINK",
	        "event=%s if=%s addr=%s browse=%d kicked=%zu", lm_kind(ev->kind),
	        ev->ifname[0] ? ev->ifname : "-", ev->addr[0] ? ev->addr : "-",
	        browsed, kicked);
}

/* The port of the first bound endpoint ("tcp://host:port"), 0 if none. */
static uint16_t first_port(const ms_daemon *d)
{
	const char *c;
	unsigned long v;
	char *end;

	if (d->nbound == 0 || (c = strrchr(d->bound[0], ':')) == NULL)
		return 0;
	v = strtoul(c + 1, &end, 10);
	return *end == '\0' && v > 0 && v <= 65535 ? (uint16_t)v : 0;
}

ms_err ms_discover_start(ms_daemon *d, ms_errbuf *eb)
{
	ms_discover *x = calloc(1, sizeof *x);
	ms_errbuf e2 = {0};
	char q[MS_ERRBUF_SIZE + 8];
	ms_err e;

	if (x == NULL)
		return ms_errf(eb, MS_ENOMEM, "discovery: out of memory");
	d->disc = x;
	if ((e = ms_pex_new(d, eb)) != MS_OK)
		return e;
	if (d->node->cfg.net.mdns) {
		ms_disc_cfg c;
		memset(&c, 0, sizeof c);
		memcpy(c.node_id, ms_node_id(d->node), MS_PK_LEN);
		memcpy(c.net_id, d->node->netid, MS_NETID_LEN);
		c.proto_version = MS_WIRE_VERSION;
		c.port = first_port(d);
		if (c.port == 0) {
			ms_logf(&d->log, MS_LOG_WARNING, "MS-DISC-OFF",
			        "reason=no-tcp-port endpoint=%s",
			        d->nbound ? d->bound[0] : "-");
		} else if (ms_disc_new(&x->disc, &c, on_disc_event, on_disc_log, d,
		                       &e2) != MS_OK) {
			/* the node still works with static peers */
			ms_logf(&d->log, MS_LOG_WARNING, "MS-DISC-OFF", "error=%s",
			        ms_log_q(q, sizeof q, e2.msg));
		} else {
			ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-START",
			        "type=%s port=%u", MS_DISC_SERVICE_TYPE, c.port);
		}
	} else {
		ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-DISABLED", "static_peers=%zu",
		        d->node->cfg.net.npeers);
	}
	if (ms_linkmon_new(&x->lm, on_link, d, &e2) != MS_OK)
		ms_logf(&d->log, MS_LOG_WARNING, "MS-NET-LINKMON-OFF", "error=%s",
		        ms_log_q(q, sizeof q, e2.msg));
	return MS_OK;
}

void ms_discover_stop(ms_daemon *d)
{
	ms_discover *x = d->disc;

	if (x != NULL) {
		ms_disc_free(&x->disc);
		ms_linkmon_free(&x->lm);
		free(x);
		d->disc = NULL;
	}
	ms_pex_free(d);
}

int ms_discover_pollitems(ms_daemon *d, zmq_pollitem_t *items, int cap)
{
	ms_discover *x = d->disc;
	int n = 0;

	if (x == NULL)
		return 0;
	if (x->disc != NULL && n < cap)
		items[n++] = (zmq_pollitem_t){NULL, ms_disc_fd(x->disc), ZMQ_POLLIN, 0};
	if (x->lm != NULL && n < cap)
		items[n++] = (zmq_pollitem_t){NULL, ms_linkmon_fd(x->lm), ZMQ_POLLIN, 0};
	return n;
}

/* The module's counters into the stats db (node-inspect stats) as
 * mdns_* deltas, at most once a second. */
static void count_disc(ms_daemon *d, ms_discover *x)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{"client_fails", offsetof(ms_disc_stats, client_fails)},
		{"disconnects", offsetof(ms_disc_stats, disconnects)},
		{"registrations", offsetof(ms_disc_stats, registrations)},
		{"collisions", offsetof(ms_disc_stats, collisions)},
		{"found", offsetof(ms_disc_stats, found)},
		{"lost", offsetof(ms_disc_stats, lost)},
		{"skip_net", offsetof(ms_disc_stats, skip_net)},
		{"skip_version", offsetof(ms_disc_stats, skip_version)},
		{"skip_malformed", offsetof(ms_disc_stats, skip_malformed)},
		{"resolve_fail", offsetof(ms_disc_stats, resolve_fail)},
		{"queue_dropped", offsetof(ms_disc_stats, queue_dropped)},
	};
	uint64_t now = ms_daemon_mono_ms();
	ms_disc_stats st;

	if (now - x->stats_mono < 1000)
		return;
	x->stats_mono = now;
	ms_disc_stats_get(x->disc, &st);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		uint64_t v, w;
		memcpy(&v, (const char *)&st + f[i].off, sizeof v);
		memcpy(&w, (const char *)&x->prev + f[i].off, sizeof w);
		if (v > w)
			ms_daemon_count(d, "mdns_", f[i].name, v - w);
	}
	x->prev = st;
}

void ms_discover_process(ms_daemon *d)
{
	ms_discover *x = d->disc;

	if (x == NULL)
		return;
	if (x->disc != NULL) {
		(void)ms_disc_process(x->disc);
		count_disc(d, x);
	}
	if (x->lm != NULL)
		(void)ms_linkmon_process(x->lm, 0);
	ms_pex_tick(d);
}
