/*
 * daemon.c — the one mediator of `meshsync-node run`: it owns the event
 * loop (one zmq_poll over the transport's sockets, a signalfd, the mDNS
 * eventfd and the netlink socket, with timers) and is the only file that
 * wires the parts together:
 *
 *   transport (net/transport)  link events and messages  -> sessions
 *   sessions (node/session)    messages to send           -> transport
 *                              identified/state/ended     -> peer table
 *                              PEERS received             -> peer exchange
 *   peer table (node/peertab)  dial / hang up             -> transport
 *   peer exchange (node/pex)   candidates                 -> peer table
 *   discovery (net/discovery, net/linkmon)  found/lost/up -> peer table
 *   the store's arrival feed   new ops                    -> sessions
 *   the store's wake-up (node/wake): any process committed -> read the
 *                              arrival feed now (the timed poll stays, as
 *                              the fallback without one)
 *   the fault layer (net/fault), only when [faults] or MESHSYNC_FAULTS
 *                              configure one: wraps the transport's
 *                              send/receive path, asks here for the
 *                              node id on a connection
 *
 * No part includes another's header for its functions: each reports to the
 * daemon through callbacks and is driven by the daemon's calls.  Time comes
 * from one injectable ms_clock.  The daemon's life is start (lock, open,
 * listen, parts), loop, stop (BYE to every session, parts in reverse).
 *
 * Signals are blocked before any thread exists (the store's verify worker,
 * ZeroMQ's I/O threads, Avahi's), so they reach nobody but the signalfd.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "counters.h"
#include "daemon.h"
#include "discovery.h"
#include "fault.h"
#include "linkmon.h"
#include "log.h"
#include "node_int.h"
#include "peertab.h"
#include "pex.h"
#include "ratelog.h"
#include "rng.h"
#include "runfiles.h"
#include "session.h"
#include "transport.h"
#include "wake.h"

#define LOOP_MAX_WAIT_MS 1000  /* wake at least this often */
#define STATS_INTERVAL_MS 1000 /* counters to the store at most this often */
#define PEX_RETRY_MS 1000      /* a live session with no PEERS to send yet */
#define FEED_RECHECK_MS 1      /* a commit written but not yet published */

/* One connection with its session. */
typedef struct dlink {
	struct dlink *next;
	ms_conn conn;
	ms_session *s;
	ms_peer *peer;          /* the peer table's record, once known */
	ms_link_state st;       /* as the peer table counts it */
	uint64_t pex_next_mono; /* when PEERS may be sent again */
	int ended;              /* ENDED delivered: freed at the turn's end */
} dlink;

/* Daemon-wide tallies for the stop line. */
typedef struct daemon_stats {
	uint64_t sessions, bad_messages, auth_failures, rejects, dials;
} daemon_stats;

typedef struct ms_daemon {
	const ms_daemon_opts *opts;
	const ms_clock *clock;
	ms_node *node;
	ms_log log;
	ms_rng rng;
	ms_counters counters;
	daemon_stats st;
	int sfd, pid_fd, wrote_eps, stopping, masked;
	sigset_t oldset;

	ms_transport *t;
	ms_transport_stats tst_flushed; /* transport counters already added */
	ms_ratelog net_rl; /* transport rejections' log lines, per address */
	/* the latest dial handle to each configured static peer (index as in
	 * cfg.net.peers): who answers there is who the operator meant */
	uint32_t static_dial[MS_CFG_MAX_PEERS];
	char bound[MS_CFG_MAX_LISTEN][MS_CFG_EP_MAX]; /* endpoints bound */
	size_t nbound;

	ms_session_env *senv;
	dlink *links;
	uint64_t arrival_seen;      /* arrival feed read up to here */
	uint64_t next_feed_mono;    /* the timed read of the feed */
	uint64_t keepalive_mono;    /* the transport's next keepalive check */
	uint64_t feed_recheck_mono; /* read it again then (0: no need) */
	ms_wake *wake; /* commits by any process; NULL: timed reads only */

	ms_peertab *pt;
	ms_pex *pex;
	uint64_t mesh_mono; /* node.mesh last written (0: not yet) */
	ms_ratelog ratelog; /* MS-LIMIT lines per source */

	ms_disc *disc;
	ms_disc_stats disc_prev; /* counters already added */
	ms_linkmon *lm;
	ms_fault *fault;            /* NULL unless faults are configured */
	ms_fault_stats fst_prev;    /* fault counters already added */
	int wrote_faults;           /* node.faults is ours to remove */
	uint64_t link_refresh_mono; /* last link-triggered refresh */
	uint64_t stats_mono;        /* counters last flushed */
} ms_daemon;

static ms_time now(const ms_daemon *d)
{
	return ms_clock_now(d->clock);
}

static void store_error(const ms_daemon *d, const ms_errbuf *eb)
{
	ms_log_error(&d->log, "MS-STORE-ERROR", eb);
}

/* --- config -------------------------------------------------------------- */

/* Allow and deny lists into the transport; the old lists stay on error. */
static ms_err apply_acl(ms_daemon *d, const ms_config *c, ms_errbuf *eb)
{
	ms_err e;

	/* check every id first, so a bad one changes nothing */
	for (size_t i = 0; i < c->net.nallow + c->net.ndeny; i++) {
		const uint8_t *id = i < c->net.nallow
		                            ? c->net.allow[i]
		                            : c->net.deny[i - c->net.nallow];
		uint8_t curve[MS_CURVE_LEN];
		if (ms_ed25519_pk_to_curve(curve, id, NULL) != MS_OK) {
			char hex[2 * MS_PK_LEN + 1];
			ms_hex(hex, id, MS_PK_LEN);
			return ms_errf(eb, MS_EINVAL,
			               "%s list: %s is not a node id",
			               i < c->net.nallow ? "allow" : "deny",
			               hex);
		}
	}
	if (c->net.ndeny > 0) {
		if ((e = ms_transport_acl_set(d->t, MS_ACL_DENY,
		                              &c->net.deny[0][0], c->net.ndeny,
		                              eb)) != MS_OK)
			return e;
	} else {
		ms_transport_acl_clear(d->t, MS_ACL_DENY);
	}
	if (c->net.has_allow)
		return ms_transport_acl_set(d->t, MS_ACL_ALLOW,
		                            &c->net.allow[0][0], c->net.nallow,
		                            eb);
	ms_transport_acl_clear(d->t, MS_ACL_ALLOW);
	return MS_OK;
}

/* The parameters every session reads, from the config and what we bound. */
static void session_params(const ms_daemon *d, ms_session_params *p)
{
	const ms_config *c = &d->node->cfg;

	ms_session_params_default(p);
	p->batch_ops = c->sync.batch_ops;
	p->credit = c->sync.credit;
	p->max_message = c->net.max_message;
	p->max_value = c->store.max_value;
	p->vv_entries = c->limits.session_vv_entries;
	p->hello_timeout_ms = c->limits.hello_timeout_ms;
	p->vv_timeout_ms = c->limits.vv_timeout_ms;
	p->idle_timeout_ms = c->limits.idle_timeout_ms;
	p->memory = c->limits.session_memory;
	p->memory_total = c->limits.sessions_memory_total;
	for (size_t i = 0; i < d->nbound && i < MS_SESSION_MAX_ENDPOINTS; i++)
		snprintf(p->endpoints[p->nendpoints++], sizeof p->endpoints[0],
		         "%s", d->bound[i]);
}

static void count(ms_daemon *d, const char *prefix, const char *suffix,
                  uint64_t n);

/* 1 when the config's lists refuse node id: denied, or an allow list
 * without it (as ZAP judges a new connection). */
static int acl_refuses(const ms_config *c, const uint8_t *id)
{
	int allowed = !c->net.has_allow;

	for (size_t i = 0; i < c->net.ndeny; i++)
		if (memcmp(c->net.deny[i], id, MS_PK_LEN) == 0)
			return 1;
	for (size_t i = 0; i < c->net.nallow && !allowed; i++)
		allowed = memcmp(c->net.allow[i], id, MS_PK_LEN) == 0;
	return !allowed;
}

/* After a reload: the lists apply to new connections through ZAP; a
 * session already running with a node id they now refuse ends too, with
 * BYE(auth) "denied" (as failed: our dial to it backs off). */
static void close_refused(ms_daemon *d)
{
	ms_time t = now(d);

	for (dlink *l = d->links; l != NULL; l = l->next) {
		const uint8_t *id = ms_session_peer_id(l->s);
		char hex[2 * MS_PK_LEN + 1];
		if (l->ended || id == NULL || !acl_refuses(&d->node->cfg, id))
			continue;
		ms_hex(hex, id, MS_PK_LEN);
		ms_logf(&d->log, MS_LOG_NOTICE, "MS-CONF-DENIED",
		        "peer=%s dir=%s", hex,
		        l->conn.dir == MS_CONN_OUT ? "out" : "in");
		count(d, "sessions_denied", NULL, 1);
		ms_session_close(l->s, MS_BYE_AUTH, "denied", "denied", 1, t);
	}
}

/* SIGHUP: read the config again; on any error keep the old one.  Nothing
 * is reopened: the policy table is replaced inside the open store, and
 * settings that need a restart keep their running values. */
static void reload(ms_daemon *d)
{
	ms_node *n = d->node;
	ms_config *nc = malloc(sizeof *nc);
	ms_session_params sp;
	ms_errbuf eb = {0};
	char what[160];
	int stored = 0; /* the new policy table is in the store */
	ms_err e;

	if (nc == NULL) {
		ms_logf(&d->log, MS_LOG_ERROR, "MS-CONF-RELOAD-FAIL",
		        "error=nomem");
		return;
	}
	e = ms_config_load_node(nc, n->dir, d->opts->config_path, &eb);
	if (e == MS_OK)
		e = ms_config_apply_flags(nc, d->opts, &eb);
	if (e == MS_OK) /* as at start, so unchanged faults are no change */
		e = ms_config_faults_env(nc, &eb);
	if (e == MS_OK &&
	    ms_config_keep_restart_only(nc, &n->cfg, what, sizeof what) > 0)
		ms_logf(&d->log, MS_LOG_NOTICE, "MS-CONF-RESTART-NEEDED",
		        "what=%s", what);
	if (e == MS_OK && ms_config_policies_differ(nc, &n->cfg)) {
		e = ms_store_set_policies(n->store, nc->rules, nc->nrules, &eb);
		stored = e == MS_OK;
	}
	if (e == MS_OK)
		e = apply_acl(d, nc, &eb);
	if (e != MS_OK) {
		ms_log_error(&d->log, "MS-CONF-RELOAD-FAIL", &eb);
		if (stored) {
			/* the rest failed: the old table goes back in force */
			ms_errbuf eb2 = {0};
			if (ms_store_set_policies(n->store, n->cfg.rules,
			                          n->cfg.nrules, &eb2) != MS_OK)
				store_error(d, &eb2);
		}
		free(nc);
		return;
	}
	n->cfg = *nc;
	ms_config_fix(&n->cfg);
	free(nc);
	ms_log_set(&d->log, n->cfg.log.level, n->cfg.log.syslog);
	session_params(d, &sp);
	ms_session_env_set_params(d->senv, &sp);
	close_refused(d);
	ms_peertab_reconfigure(d->pt);
	ms_logf(&d->log, MS_LOG_NOTICE, "MS-CONF-RELOAD",
	        "peers=%zu level=%s strategy=%s max_message=%" PRIu64,
	        n->cfg.net.npeers, ms_log_level_name(n->cfg.log.level),
	        ms_backoff_strategy_name(n->cfg.backoff.strategy),
	        n->cfg.net.max_message);
}

/* --- counters ------------------------------------------------------------ */

static void count(ms_daemon *d, const char *prefix, const char *suffix,
                  uint64_t n)
{
	ms_counters_add(&d->counters, prefix, suffix, n);
}

/* A cumulative uint64_t field of a stats struct, by name. */
typedef struct stat_field {
	const char *name;
	size_t off;
} stat_field;

/* What each of the n fields grew by since `was`, counted as prefix+name
 * (prefix NULL: name alone). */
static void count_growth(ms_daemon *d, const char *prefix, const stat_field *f,
                         size_t n, const void *cur, const void *was)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v, w;
		memcpy(&v, (const char *)cur + f[i].off, sizeof v);
		memcpy(&w, (const char *)was + f[i].off, sizeof w);
		if (v > w)
			count(d, prefix != NULL ? prefix : f[i].name,
			      prefix != NULL ? f[i].name : NULL, v - w);
	}
}

/* The transport's counters since the last flush, as named deltas. */
static void count_transport(ms_daemon *d)
{
	static const stat_field f[] = {
		{"handshake_fail_in",
	         offsetof(ms_transport_stats, in_handshake_fail)},
		{"tcp_accepted", offsetof(ms_transport_stats, in_accepted)},
		{"bytes_in", offsetof(ms_transport_stats, rx_bytes)},
		{"bytes_out", offsetof(ms_transport_stats, tx_bytes)},
		/* back-pressure from a peer that reads slowly: the session
		 * keeps the message, so this is counted but not logged */
		{"limit_send_hwm", offsetof(ms_transport_stats, tx_busy)},
		{"frames_dropped", offsetof(ms_transport_stats, rx_dropped)},
		{"links_released_closed",
	         offsetof(ms_transport_stats, in_released_closed)},
		{"keepalive_sent", offsetof(ms_transport_stats, ka_sent)},
		{"keepalive_recv", offsetof(ms_transport_stats, ka_recv)},
		{"keepalive_skipped", offsetof(ms_transport_stats, ka_skipped)},
		{"keepalive_timeout", offsetof(ms_transport_stats, ka_timeout)},
	};
	ms_transport_stats cur, *was = &d->tst_flushed;

	ms_transport_stats_get(d->t, &cur);
	count_growth(d, NULL, f, sizeof f / sizeof f[0], &cur, was);
	for (int r = 1; r < MS_REJECT_REASON_COUNT_; r++)
		if (r != MS_REJECT_HANDSHAKE &&
		    cur.zap_denied[r] > was->zap_denied[r])
			count(d, "zap_denied_",
			      ms_reject_reason_str((ms_reject_reason)r),
			      cur.zap_denied[r] - was->zap_denied[r]);
	*was = cur;
}

/* The discovery module's counters as mdns_* deltas. */
static void count_disc(ms_daemon *d)
{
	static const stat_field f[] = {
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
	ms_disc_stats cur;

	ms_disc_stats_get(d->disc, &cur);
	count_growth(d, "mdns_", f, sizeof f / sizeof f[0], &cur,
	             &d->disc_prev);
	/* the mdns_records budget (discovery.h): counted under its own
	 * name; one line per stats interval at most */
	if (cur.records_full > d->disc_prev.records_full) {
		uint64_t n = cur.records_full - d->disc_prev.records_full;
		uint8_t key[MS_RATELOG_KEY_LEN];
		count(d, "limit_", "mdns_records", n);
		ms_ratelog_key(key, "mdns");
		if (ms_ratelog_gate(&d->ratelog, &d->log, &d->counters, key,
		                    "mdns", ms_clock_mono(d->clock)))
			ms_logf(&d->log, MS_LOG_WARNING, "MS-LIMIT",
			        "limit=mdns_records peer=mdns refused=%" PRIu64
			        " records=%" PRIu64,
			        n, cur.records);
	}
	d->disc_prev = cur;
}

/* The fault layer's counters as fault_* deltas. */
static void count_faults(ms_daemon *d)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{"dropped", offsetof(ms_fault_stats, dropped)},
		{"cut", offsetof(ms_fault_stats, cut)},
		{"duplicated", offsetof(ms_fault_stats, duplicated)},
		{"corrupted", offsetof(ms_fault_stats, corrupted)},
		{"reordered", offsetof(ms_fault_stats, reordered)},
		{"delayed", offsetof(ms_fault_stats, delayed)},
		{"queue_full", offsetof(ms_fault_stats, queue_full)},
	};
	ms_fault_stats cur;

	ms_fault_stats_get(d->fault, &cur);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		uint64_t v, w;
		memcpy(&v, (const char *)&cur + f[i].off, sizeof v);
		memcpy(&w, (const char *)&d->fst_prev + f[i].off, sizeof w);
		if (v > w)
			count(d, "fault_", f[i].name, v - w);
	}
	d->fst_prev = cur;
}

/* Counters to the store's stats (node-inspect stats): when force, or when
 * STATS_INTERVAL_MS has passed since the last write. */
static void counters_flush(ms_daemon *d, int force)
{
	uint64_t mono = ms_clock_mono(d->clock);
	ms_errbuf eb = {0};

	if (!force && mono - d->stats_mono < STATS_INTERVAL_MS)
		return;
	d->stats_mono = mono;
	if (d->t != NULL)
		count_transport(d);
	if (d->disc != NULL)
		count_disc(d);
	if (d->fault != NULL)
		count_faults(d);
	if (d->node != NULL &&
	    ms_counters_flush(&d->counters, d->node->store, &eb) != MS_OK)
		store_error(d, &eb); /* kept: the next flush tries again */
}

/* --- links and sessions -------------------------------------------------- */

static dlink *link_find(ms_daemon *d, const ms_conn *c)
{
	for (dlink *l = d->links; l != NULL; l = l->next)
		if (!l->ended && ms_conn_equal(&l->conn, c))
			return l;
	return NULL;
}

/* A session on connection c (outbound: p is the dial's record).  NULL
 * when it could not be created (logged). */
static dlink *link_open(ms_daemon *d, const ms_conn *c, ms_peer *p,
                        const uint8_t *peer_curve)
{
	dlink *l = calloc(1, sizeof *l);
	ms_session_conf sc = {0};
	ms_errbuf eb = {0};

	if (l == NULL) {
		ms_logf(&d->log, MS_LOG_ERROR, "MS-SYNC-NOMEM", "what=session");
		return NULL;
	}
	l->conn = *c;
	l->peer = p;
	l->st = MS_LINK_STATE_CONNECTING;
	sc.outbound = c->dir == MS_CONN_OUT;
	if (peer_curve != NULL)
		memcpy(sc.peer_curve, peer_curve, MS_CURVE_LEN);
	sc.hint_id = ms_peer_id(p);
	sc.user = l;
	if (ms_session_new(&l->s, d->senv, &sc, now(d), &eb) != MS_OK) {
		ms_logf(&d->log, MS_LOG_ERROR, "MS-SYNC-NOMEM", "what=session");
		free(l);
		return NULL;
	}
	l->next = d->links;
	d->links = l;
	d->st.sessions++;
	return l;
}

/* Admission of a new session l (inbound, or our dial up): refused with
 * BYE(budget) when sessions_total are open already, or when the sessions
 * hold sessions_memory_total between them.  0 admitted, -1 refused (the
 * session has ended). */
static int admit(ms_daemon *d, dlink *l)
{
	const ms_config_limits *lim = &d->node->cfg.limits;
	uint64_t total = lim->sessions_total ? lim->sessions_total
	                                     : MS_DAEMON_SESSIONS_TOTAL_DEFAULT;
	uint64_t mem = lim->sessions_memory_total
	                       ? lim->sessions_memory_total
	                       : MS_SESSION_MEMORY_TOTAL_DEFAULT;
	const char *why = NULL;
	size_t open = 0;

	for (dlink *o = d->links; o != NULL; o = o->next)
		if (!o->ended)
			open++; /* l included */
	if (open > total)
		why = "sessions_total";
	else if (ms_session_env_memory(d->senv) >= mem)
		why = "sessions_memory_total";
	if (why == NULL)
		return 0;
	ms_session_refuse(l->s, why, now(d));
	return -1;
}

/* Once HELLO proved the peer's id: refused with BYE(budget) when
 * sessions_per_peer other sessions with that id and l's direction are
 * open.  The other direction is dedup_pair's: one of the two ends, so
 * with sessions_per_peer = 1 a pair that dialled both ways keeps the
 * session the rule keeps, not whichever came first.  0 or -1. */
static int admit_peer(ms_daemon *d, dlink *l, const uint8_t *id)
{
	size_t same = 0;

	for (dlink *o = d->links; o != NULL; o = o->next) {
		const uint8_t *oid;
		if (o == l || o->ended || o->conn.dir != l->conn.dir ||
		    (oid = ms_session_peer_id(o->s)) == NULL)
			continue;
		if (memcmp(oid, id, MS_PK_LEN) == 0)
			same++;
	}
	if (same < (d->node->cfg.limits.sessions_per_peer
	                    ? d->node->cfg.limits.sessions_per_peer
	                    : MS_DAEMON_SESSIONS_PER_PEER_DEFAULT))
		return 0;
	ms_session_refuse(l->s, "sessions_per_peer", now(d));
	return -1;
}

/*
 * One session per pair of nodes.  When both ends dial each other (static
 * peers on both sides, mDNS), a pair holds two sessions and every op
 * offered to that peer crosses twice.  Once HELLO proved the peer's id on
 * l: if a session of the other direction with that id is open, the one
 * dialled by the lower node id stays and the other ends with
 * BYE(duplicate); both ends compute the same.  The higher id then does
 * not dial the lower while the lower's session is up (node/peertab), so
 * nothing flaps.  0 when l stays, -1 when l was the one ended.  Called
 * once the peer table has recorded l's id.
 */
static int dedup_pair(ms_daemon *d, dlink *l, const uint8_t *id)
{
	/* we are the lower id: our dial is the one to keep */
	int keep_out = memcmp(ms_node_id(d->node), id, MS_PK_LEN) < 0;
	int l_out = l->conn.dir == MS_CONN_OUT;

	for (dlink *o = d->links; o != NULL; o = o->next) {
		const uint8_t *oid;
		dlink *loser;
		char hex[2 * MS_PK_LEN + 1];

		if (o == l || o->ended ||
		    (o->conn.dir == MS_CONN_OUT) == l_out ||
		    (oid = ms_session_peer_id(o->s)) == NULL ||
		    memcmp(oid, id, MS_PK_LEN) != 0)
			continue;
		loser = l_out == keep_out ? o : l;
		ms_hex(hex, id, MS_PK_LEN);
		ms_logf(&d->log, MS_LOG_INFO, "MS-SYNC-DUPLICATE",
		        "peer=%s kept=%s", hex, keep_out ? "out" : "in");
		count(d, "sessions_duplicate", NULL, 1);
		/* not a failure: the pair stays linked by the other one */
		ms_session_close(loser->s, MS_BYE_DUPLICATE,
		                 "duplicate_session", "duplicate", 0, now(d));
		return loser == l ? -1 : 0;
	}
	return 0;
}

/* Free the links whose session ended (never from inside a callback). */
static void links_reap(ms_daemon *d)
{
	dlink **pp = &d->links;

	while (*pp != NULL) {
		dlink *l = *pp;
		if (l->ended) {
			*pp = l->next;
			ms_session_free(&l->s);
			free(l);
		} else {
			pp = &l->next;
		}
	}
}

static ms_link_state link_state_of(ms_session_state st)
{
	switch (st) {
	case MS_SESSION_SYNC:
		return MS_LINK_STATE_SYNCING;
	case MS_SESSION_LIVE:
		return MS_LINK_STATE_LIVE;
	default:
		return MS_LINK_STATE_CONNECTING;
	}
}

static void session_ended(ms_daemon *d, dlink *l, const ms_session_end *end)
{
	ms_peertab_end pe = {0};

	if (end->bye_sent == MS_BYE_AUTH)
		d->st.auth_failures++;
	else if (end->bye_sent == MS_BYE_PROTO ||
	         end->bye_sent == MS_BYE_VERSION)
		d->st.bad_messages++;
	if (l->conn.dir == MS_CONN_OUT)
		ms_transport_hangup(d->t, l->conn.peer);
	else /* no session on it now: the inbound budgets may close it */
		ms_transport_release(d->t, &l->conn);
	pe.outbound = l->conn.dir == MS_CONN_OUT;
	pe.self = end->self;
	pe.last = l->st;
	pe.sum = end->summary;
	/* a node that is stopping ends its sessions: nobody failed */
	pe.failed = end->failed && !d->stopping;
	pe.reason = end->reason;
	pe.detail = end->detail;
	ms_peertab_session_ended(d->pt, l->peer, &pe);
	l->ended = 1;
}

static ms_err on_session_send(void *ctx, ms_session *s, const uint8_t *buf,
                              size_t len, ms_errbuf *eb)
{
	ms_daemon *d = ctx;
	dlink *l = ms_session_user(s);

	return ms_transport_send(d->t, &l->conn, buf, len, 0, eb);
}

/* A log line about a transport-level refusal, through the per-source line
 * budget (keyed by src: a remote address or a node id in hex); the lines a
 * source had suppressed follow its next allowed one. */
static void net_logf(ms_daemon *d, const char *src, const char *event,
                     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void net_logf(ms_daemon *d, const char *src, const char *event,
                     const char *fmt, ...)
{
	uint8_t key[MS_RATELOG_KEY_LEN];
	char line[512];
	va_list ap;

	ms_ratelog_key(key, src);
	if (!ms_ratelog_gate(&d->net_rl, &d->log, &d->counters, key, src,
	                     ms_clock_mono(d->clock)))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ms_logf(&d->log, MS_LOG_WARNING, event, "%s", line);
}

/* 1 when dial handle h went to a configured static peer's address. */
static int dial_is_static(const ms_daemon *d, uint32_t h)
{
	for (size_t i = 0; i < d->node->cfg.net.npeers; i++)
		if (d->static_dial[i] == h)
			return 1;
	return 0;
}

/*
 * The node id a HELLO proved, against what this connection may be; closes
 * the session (BYE auth), counts and logs, and returns 1 when it may not:
 *  - we dialled a known node id and another node answered (the address
 *    changed hands, or someone answers for it): refused, so the dial is
 *    not re-filed under whoever answered.  A configured static address is
 *    exempt: the operator named an address, not an id.
 *  - the id is the alias (negation, ms_node_id_alias) of the id of a live
 *    session: one CURVE key holds one node id at a time here, so a member
 *    cannot double its per-node-id budgets.
 *  - inbound with an allow list: the id itself must be on it (ZAP admitted
 *    the CURVE key, which an allowed id shares with its alias).
 */
static int identity_refused(ms_daemon *d, dlink *l, const uint8_t *id)
{
	const ms_config_net *n = &d->node->cfg.net;
	const uint8_t *want = l->conn.dir == MS_CONN_OUT ? ms_peer_id(l->peer)
	                                                 : NULL;
	char got[2 * MS_PK_LEN + 1], other[2 * MS_PK_LEN + 1] = "-";
	const char *why = NULL, *field = "expected";

	if (want != NULL && memcmp(want, id, MS_PK_LEN) != 0 &&
	    !dial_is_static(d, l->conn.peer)) {
		why = "id_mismatch";
		ms_hex(other, want, MS_PK_LEN);
	}
	for (dlink *o = d->links; why == NULL && o != NULL; o = o->next) {
		const uint8_t *oid = o == l || o->ended
		                             ? NULL
		                             : ms_session_peer_id(o->s);
		if (oid != NULL && ms_node_id_alias(id, oid)) {
			why = "alias";
			field = "alias_of";
			ms_hex(other, oid, MS_PK_LEN);
		}
	}
	if (why == NULL && l->conn.dir == MS_CONN_IN && n->has_allow) {
		size_t i = 0;
		while (i < n->nallow && memcmp(n->allow[i], id, MS_PK_LEN) != 0)
			i++;
		if (i == n->nallow)
			why = "alias_not_allowed";
	}
	if (why == NULL)
		return 0;
	ms_hex(got, id, MS_PK_LEN);
	count(d, "session_refused_", why, 1);
	net_logf(d, got, "MS-NET-ID-REFUSED", "reason=%s peer=%s dir=%s %s=%s",
	         why, got, l->conn.dir == MS_CONN_OUT ? "out" : "in", field,
	         other);
	ms_session_close(l->s, MS_BYE_AUTH, why, "auth", 1, now(d));
	return 1;
}

static void on_session_event(void *ctx, ms_session *s,
                             const ms_session_event *ev)
{
	ms_daemon *d = ctx;
	dlink *l = ms_session_user(s);
	int out = l->conn.dir == MS_CONN_OUT;
	ms_link_state to;

	switch (ev->kind) {
	case MS_SESSION_EV_IDENTIFIED:
		/* ZAP applies the lists to who dials us; a node we dial (or
		 * one admitted before a reload denied it) is judged here,
		 * before the table records it */
		if (acl_refuses(&d->node->cfg, ev->u.id.node_id)) {
			count(d, "sessions_denied", NULL, 1);
			ms_session_close(s, MS_BYE_AUTH, "denied", "denied", 1,
			                 now(d));
			break;
		}
		/* then who answered, then the session budgets: refused
		 * before the peer table hears of it */
		if (identity_refused(d, l, ev->u.id.node_id) ||
		    admit_peer(d, l, ev->u.id.node_id) != 0)
			break;
		l->peer = ms_peertab_identified(d->pt, l->peer, out,
		                                ev->u.id.node_id,
		                                ev->u.id.endpoints,
		                                ev->u.id.nendpoints);
		/* after the table heard of it: a static address's record
		 * takes the proven id first, so the table knows whom not to
		 * redial */
		(void)dedup_pair(d, l, ev->u.id.node_id);
		break;
	case MS_SESSION_EV_STATE:
		to = link_state_of(ev->u.state);
		ms_peertab_session_state(d->pt, l->peer, out, l->st, to);
		l->st = to;
		break;
	case MS_SESSION_EV_PEERS:
		if (ms_session_peer_id(s) != NULL && !d->stopping)
			ms_pex_recv(d->pex, ms_session_peer_id(s), ev->u.peers,
			            ms_clock_mono(d->clock));
		break;
	case MS_SESSION_EV_ENDED:
		session_ended(d, l, &ev->u.end);
		break;
	}
}

/* New ops in the store (ours, received, or written by another process):
 * offer them to every session that takes offers.  On a read error the
 * next poll offers them again (a session never queues an op twice over
 * its link: what it sent it knows the peer holds).  Returns 1 when a
 * commit was on disk but not yet visible to our snapshot (its writer is
 * between its last write, which woke us, and publishing it): look again
 * in a moment. */
static int feed(ms_daemon *d)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint64_t head;
	int failed = 0, behind;

	if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK) {
		store_error(d, &eb);
		return 0;
	}
	head = ms_store_arrival_head(rt);
	behind = ms_store_arrival_behind(rt);
	for (dlink *l = d->links; l != NULL && head > d->arrival_seen;
	     l = l->next)
		if (!l->ended &&
		    ms_session_offer_since(l->s, rt, d->arrival_seen, &eb) !=
		            MS_OK)
			failed = 1;
	ms_store_read_end(&rt);
	if (failed)
		store_error(d, &eb);
	else
		d->arrival_seen = head;
	return behind;
}

/* The wake-up on the store's commits.  Without one (inotify refused: out
 * of instances or watches, or not this kernel) the node still runs: one
 * warning, and other processes' writes are found by the timed read of the
 * feed every [sync] poll. */
static void wake_start(ms_daemon *d)
{
	ms_errbuf eb = {0};
	char q[MS_ERRBUF_SIZE + 8];

	if (ms_wake_new(&d->wake, d->node->dir, &eb) == MS_OK)
		return;
	ms_logf(&d->log, MS_LOG_WARNING, "MS-SYNC-WAKE-OFF",
	        "error=%s poll_ms=%" PRIu64, ms_log_q(q, sizeof q, eb.msg),
	        d->node->cfg.sync.poll_ms);
}

/* What the wake-up says, drained: 1 when the store may have changed.  A
 * watch that is gone (data.mdb replaced under us) is said once, and the
 * timed read carries on alone. */
static int wake_drain(ms_daemon *d)
{
	int r;

	if (d->wake == NULL)
		return 0;
	if ((r = ms_wake_drain(d->wake)) >= 0)
		return r;
	ms_logf(&d->log, MS_LOG_WARNING, "MS-SYNC-WAKE-OFF",
	        "error=watch-lost poll_ms=%" PRIu64, d->node->cfg.sync.poll_ms);
	ms_wake_free(&d->wake);
	return 1;
}

/* What the sessions learnt their peers hold this turn, to the store: after
 * the ticks, so these synced commits never stand between a received batch
 * (committed durably when it was received) and its relay or ACK. */
static void peer_vv_flush(ms_daemon *d)
{
	if (d->senv != NULL) /* a start that failed early has none */
		ms_session_env_flush_peer_vv(d->senv);
}

/* PEERS on every live session due for one (its first as soon as it is
 * live and there is something to say, then one per interval). */
static void pex_send(ms_daemon *d, ms_time t)
{
	ms_peer_view *views = NULL;
	size_t nviews = 0;
	int have = 0;

	for (dlink *l = d->links; l != NULL; l = l->next) {
		const uint8_t *to = ms_session_peer_id(l->s);
		ms_wire_peers m;

		if (l->ended || to == NULL || t.mono_ms < l->pex_next_mono ||
		    ms_session_state_get(l->s) != MS_SESSION_LIVE)
			continue;
		if (!have) {
			ms_errbuf eb = {0};
			if (ms_peertab_views(d->pt, &views, &nviews, &eb) !=
			    MS_OK)
				return; /* out of memory: tried again next turn */
			have = 1;
		}
		if (ms_pex_build(d->pex, to, views, nviews, t.wall_ms, &m) ==
		    0) {
			/* nothing to tell yet: look again in a second, not
			 * every loop turn */
			l->pex_next_mono = t.mono_ms + PEX_RETRY_MS;
			continue;
		}
		if (ms_session_send_peers(l->s, &m) != 0)
			continue;
		ms_pex_sent(d->pex, to, &m);
		l->pex_next_mono = t.mono_ms + MS_PEX_SEND_INTERVAL_MS;
	}
	free(views);
}

/* What peers told us of their peers to DIR/node.mesh, when it changed, at
 * most once per MS_RUN_MESH_INTERVAL_MS: a chatty peer costs no more file
 * writes than a quiet one.  A failed write is tried again at the next
 * interval (the file is a view for node-inspect graph, no more). */
static void mesh_write(ms_daemon *d, ms_time t)
{
	ms_errbuf eb = {0};
	char *text;

	if (!ms_pex_mesh_changed(d->pex) ||
	    (d->mesh_mono != 0 &&
	     t.mono_ms < d->mesh_mono + MS_RUN_MESH_INTERVAL_MS))
		return;
	d->mesh_mono = t.mono_ms;
	if ((text = ms_pex_mesh_text(d->pex, t.mono_ms, t.wall_ms)) == NULL)
		return;
	if (ms_runfile_mesh(d->node->dir, text, &eb) == MS_OK)
		ms_pex_mesh_saved(d->pex);
	free(text);
}

/* --- the peer table's and peer exchange's requests ------------------------ */

static ms_err on_pt_dial(void *ctx, const char *addr, uint32_t *handle,
                         ms_errbuf *eb)
{
	ms_daemon *d = ctx;
	ms_err e = ms_transport_dial(d->t, addr, handle, eb);

	if (e == MS_OK) {
		d->st.dials++;
		for (size_t i = 0; i < d->node->cfg.net.npeers; i++)
			if (strcmp(d->node->cfg.net.peers[i], addr) == 0)
				d->static_dial[i] = *handle;
	}
	return e;
}

static void on_pt_hangup(void *ctx, uint32_t handle, const char *why)
{
	ms_daemon *d = ctx;
	ms_conn c = {.dir = MS_CONN_OUT, .peer = handle};
	dlink *l = link_find(d, &c);

	if (l != NULL)
		ms_session_close(l->s, MS_BYE_NORMAL, "peer removed", why, 0,
		                 now(d));
	ms_transport_hangup(d->t, handle);
}

static int on_pex_learn(void *ctx, const uint8_t from[MS_PK_LEN],
                        const uint8_t id[MS_PK_LEN], const char *const *eps,
                        size_t neps)
{
	return ms_peertab_pex_learn(((ms_daemon *)ctx)->pt, from, id, eps,
	                            neps);
}

static int on_pex_proven(void *ctx, const uint8_t id[MS_PK_LEN])
{
	return ms_peertab_authed(((ms_daemon *)ctx)->pt, id);
}

static void on_pex_forget(void *ctx, const uint8_t id[MS_PK_LEN])
{
	ms_peertab_pex_forget(((ms_daemon *)ctx)->pt, id);
}

static int on_pex_linked(void *ctx, const uint8_t id[MS_PK_LEN])
{
	return ms_peertab_linked(((ms_daemon *)ctx)->pt, id);
}

/* --- transport ----------------------------------------------------------- */

/* BYE(normal, "no session") on an inbound connection whose session has
 * ended, unless what came was a BYE itself (no BYE ping-pong).  Counted
 * as bye_orphan: one per message received, so it costs a flooding peer
 * as much as us. */
static void bye_orphan(ms_daemon *d, const ms_conn *c, const void *buf,
                       size_t len)
{
	static const char text[] = "no session";
	ms_wire_type type;
	ms_wire_bye bye = {.reason = MS_BYE_NORMAL,
	                   .text = {(const uint8_t *)text, sizeof text - 1}};
	uint8_t out[64];
	size_t n = 0;

	if (ms_wire_peek_type(buf, len, &type) != MS_WR_OK ||
	    type == MS_WIRE_BYE)
		return;
	if (ms_wire_bye_encode(&bye, out, sizeof out, &n, NULL) != MS_OK)
		return;
	count(d, "bye_orphan", NULL, 1);
	(void)ms_transport_send(d->t, c, out, n, 0, NULL);
}

static void on_recv(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                    const void *buf, size_t len)
{
	ms_daemon *d = ctx;
	dlink *l = link_find(d, c);

	(void)peer_curve;
	if (l != NULL) {
		ms_session_recv(l->s, buf, len, now(d));
		return;
	}
	/* A session we closed.  Outbound, its DOWN is on the way.  Inbound,
	 * the connection outlives it (a ROUTER cannot close one peer), and if
	 * our BYE was lost the dialer still believes in its session and would
	 * push into the void for ever: answer anything but a BYE with one. */
	if (c->dir == MS_CONN_IN)
		bye_orphan(d, c, buf, len);
}

/* The counter of a dial that ended: how it failed, for operators. */
static void count_dial_end(ms_daemon *d, ms_link_reason why)
{
	static const char *const names[MS_LINK_REASON_COUNT_] = {
		[MS_LINK_KEY] = "handshake_fail_key",
		[MS_LINK_DENIED] = "handshake_fail_denied",
		[MS_LINK_HANDSHAKE] = "handshake_fail_timeout",
		[MS_LINK_CONNECT] = "dial_fail_connect",
		[MS_LINK_LOST] = "links_lost_out",
	};

	if ((unsigned)why < MS_LINK_REASON_COUNT_ && names[why] != NULL)
		count(d, names[why], NULL, 1);
}

/* Our dial came up: open its session and say HELLO.  If the session cannot
 * even be created, the dial is over and the peer backs off (otherwise the
 * table would wait for that dial forever). */
static void dial_up(ms_daemon *d, const ms_conn *c)
{
	ms_peer *p = ms_peertab_dial_up(d->pt, c->peer);
	dlink *l;

	if (p == NULL) { /* nobody wants it any more */
		ms_transport_hangup(d->t, c->peer);
		return;
	}
	if ((l = link_open(d, c, p, NULL)) == NULL) {
		ms_transport_hangup(d->t, c->peer);
		ms_peertab_dial_failed(d->pt, c->peer, "local-error");
		return;
	}
	ms_peertab_session_opened(d->pt, p, 1);
	if (admit(d, l) != 0)
		return;
	ms_session_start(l->s, now(d));
}

static void on_link(void *ctx, const ms_conn *c, ms_link_event ev,
                    ms_link_reason why, const uint8_t *peer_curve)
{
	ms_daemon *d = ctx;
	dlink *l;

	if (ev == MS_LINK_UP) {
		if (c->dir == MS_CONN_OUT)
			dial_up(d, c);
		else if (!d->stopping &&
		         (l = link_open(d, c, NULL, peer_curve)) != NULL)
			(void)admit(d, l);
		return;
	}
	if (c->dir == MS_CONN_OUT)
		count_dial_end(d, why);
	else
		count(d, "links_lost_in", NULL, 1);
	if ((l = link_find(d, c)) != NULL)
		ms_session_lost(l->s, ms_link_reason_str(why), now(d));
	else if (c->dir == MS_CONN_OUT)
		ms_peertab_dial_failed(d->pt, c->peer, ms_link_reason_str(why));
}

static void on_reject(void *ctx, ms_reject_reason why,
                      const uint8_t *peer_curve, const char *addr)
{
	ms_daemon *d = ctx;
	char hex[2 * MS_CURVE_LEN + 1] = "-";
	const char *a = addr[0] != '\0' ? addr : "-";
	const char *name = ms_reject_reason_str(why);

	d->st.rejects++;
	if (why == MS_REJECT_INBOUND_TOTAL || why == MS_REJECT_INBOUND_ADDR ||
	    why == MS_REJECT_SILENT) {
		/* a connection closed for a budget (net/transport) */
		count(d, "limit_", name, 1);
		net_logf(d, a, "MS-LIMIT", "limit=%s peer=%s", name, a);
		return;
	}
	/* the store's counters for these come from the transport's */
	if (peer_curve != NULL)
		ms_hex(hex, peer_curve, MS_CURVE_LEN);
	net_logf(d, a, "MS-NET-REJECT", "reason=%s addr=%s key=%s", name, a,
	         hex);
}

/* --- discovery and the link monitor -------------------------------------- */

/* net/discovery's log lines start with their stable id: keep it as ours.
 * The instance name is whatever a host on the LAN announced (a newline in
 * it would start a log line of its own): it comes apart and is quoted. */
static void on_disc_log(void *ctx, int level, const char *msg, const char *name)
{
	ms_daemon *d = ctx;
	char event[48], q[MS_DISC_NAME_MAX * 4 + 8];
	size_t n = strcspn(msg, " ");

	if (n >= sizeof event)
		n = sizeof event - 1;
	memcpy(event, msg, n);
	event[n] = '\0';
	if (level < MS_LOG_ERROR)
		level = MS_LOG_ERROR;
	if (level > MS_LOG_DEBUG)
		level = MS_LOG_DEBUG;
	msg += msg[n] == ' ' ? n + 1 : n;
	if (name == NULL)
		ms_logf(&d->log, level, event, "%s", msg);
	else
		ms_logf(&d->log, level, event, "name=%s%s%s",
		        ms_log_q(q, sizeof q, name), msg[0] ? " " : "", msg);
}

static void on_disc_event(void *ctx, const ms_disc_event *ev)
{
	ms_daemon *d = ctx;
	char hex[2 * MS_PK_LEN + 1];
	char qn[MS_DISC_NAME_MAX * 4 + 8], qe[MS_DISC_EP_MAX * 4 + 8];

	if (d->stopping)
		return;
	ms_hex(hex, ev->node_id, MS_PK_LEN);
	switch (ev->kind) {
	case MS_DISC_FOUND:
		ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-PEER-FOUND",
		        "peer=%s endpoint=%s name=%s", hex,
		        ms_log_q(qe, sizeof qe, ev->endpoint),
		        ms_log_q(qn, sizeof qn, ev->name));
		ms_peertab_mdns_found(d->pt, ev->node_id, ev->endpoint);
		break;
	case MS_DISC_LOST:
		ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-PEER-LOST",
		        "peer=%s endpoint=%s last=%d", hex,
		        ms_log_q(qe, sizeof qe, ev->endpoint), ev->last);
		if (ev->last)
			ms_peertab_mdns_lost(d->pt, ev->node_id);
		break;
	case MS_DISC_STATE:
		ms_logf(&d->log, ev->up ? MS_LOG_INFO : MS_LOG_NOTICE,
		        ev->up ? "MS-DISC-STATE-UP" : "MS-DISC-STATE-DOWN",
		        "static_peers=%zu", d->node->cfg.net.npeers);
		count(d, ev->up ? "mdns_up" : "mdns_down", NULL, 1);
		break;
	}
}

static const char *lm_kind(ms_linkmon_kind k)
{
	switch (k) {
	case MS_LINKMON_LINK_UP:
		return "link-up";
	case MS_LINKMON_LINK_DOWN:
		return "link-down";
	case MS_LINKMON_ADDR_ADD:
		return "addr-add";
	case MS_LINKMON_ADDR_DEL:
		return "addr-del";
	case MS_LINKMON_OVERRUN:
		return "overrun";
	}
	return "?";
}

/* A link or address came up (or events were lost): browse again and retry
 * every peer in backoff, at most once per kick interval. */
static void on_linkmon(void *ctx, const ms_linkmon_event *ev)
{
	ms_daemon *d = ctx;
	uint64_t mono = ms_clock_mono(d->clock);
	const char *ifn = ev->ifname[0] ? ev->ifname : "-";
	const char *addr = ev->addr[0] ? ev->addr : "-";
	int up = ev->kind == MS_LINKMON_LINK_UP ||
	         ev->kind == MS_LINKMON_ADDR_ADD ||
	         ev->kind == MS_LINKMON_OVERRUN;
	size_t kicked;
	int browsed = 0;

	if (d->stopping)
		return;
	if (!up) {
		ms_logf(&d->log, MS_LOG_INFO, "MS-NET-LINK",
		        "event=%s if=%s addr=%s", lm_kind(ev->kind), ifn, addr);
		return;
	}
	/* address renewals repeat NEWADDR: one refresh per kick interval */
	if (d->link_refresh_mono != 0 &&
	    mono - d->link_refresh_mono < d->node->cfg.kick_interval_ms) {
		ms_logf(&d->log, MS_LOG_DEBUG, "MS-NET-LINK",
		        "event=%s if=%s addr=%s limited=1", lm_kind(ev->kind),
		        ifn, addr);
		return;
	}
	d->link_refresh_mono = mono;
	if (d->disc != NULL)
		browsed = ms_disc_refresh(d->disc);
	kicked = ms_peertab_kick_all(d->pt, lm_kind(ev->kind));
	ms_logf(&d->log, MS_LOG_INFO, "MS-NET-LINK",
	        "event=%s if=%s addr=%s browse=%d kicked=%zu",
	        lm_kind(ev->kind), ifn, addr, browsed, kicked);
}

/* mDNS (unless [net] mdns = no) and the link monitor.  Neither an absent
 * avahi-daemon nor a failing netlink socket stops the node: both are
 * logged and the node runs on static peers. */
static void discovery_start(ms_daemon *d)
{
	const ms_config *cfg = &d->node->cfg;
	ms_errbuf eb = {0};
	char q[MS_ERRBUF_SIZE + 8];

	if (!cfg->net.mdns) {
		ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-DISABLED",
		        "static_peers=%zu", cfg->net.npeers);
	} else {
		ms_disc_cfg c;
		memset(&c, 0, sizeof c);
		memcpy(c.node_id, ms_node_id(d->node), MS_PK_LEN);
		memcpy(c.net_id, d->node->netid, MS_NETID_LEN);
		c.proto_version = MS_WIRE_VERSION;
		c.port = d->nbound > 0 ? ms_endpoint_port(d->bound[0]) : 0;
		c.max_records = cfg->limits.mdns_records;
		if (c.port == 0) {
			ms_logf(&d->log, MS_LOG_WARNING, "MS-DISC-OFF",
			        "reason=no-tcp-port endpoint=%s",
			        d->nbound ? d->bound[0] : "-");
		} else if (ms_disc_new(&d->disc, &c, on_disc_event, on_disc_log,
		                       d, &eb) != MS_OK) {
			ms_logf(&d->log, MS_LOG_WARNING, "MS-DISC-OFF",
			        "error=%s", ms_log_q(q, sizeof q, eb.msg));
		} else {
			ms_logf(&d->log, MS_LOG_INFO, "MS-DISC-START",
			        "type=%s port=%u", MS_DISC_SERVICE_TYPE,
			        c.port);
		}
	}
	if (ms_linkmon_new(&d->lm, on_linkmon, d, &eb) != MS_OK)
		ms_logf(&d->log, MS_LOG_WARNING, "MS-NET-LINKMON-OFF",
		        "error=%s", ms_log_q(q, sizeof q, eb.msg));
}

/* --- start, loop, stop --------------------------------------------------- */

static ms_err transport_start(ms_daemon *d, ms_errbuf *eb)
{
	const ms_config *cfg = &d->node->cfg;
	ms_transport_params tp;
	ms_transport_cbs cbs = {on_recv, on_link, on_reject, d};
	size_t nl = cfg->net.nlisten;
	const char *eps[MS_CFG_MAX_LISTEN];
	ms_err e;

	ms_transport_params_init(&tp);
	/* messages are packed up to max_message, so that is also the most a
	 * peer may send us */
	tp.maxmsgsize = (int64_t)cfg->net.max_message;
	tp.heartbeat_ivl_ms = (int)cfg->net.heartbeat_interval_ms;
	tp.heartbeat_timeout_ms = (int)cfg->net.heartbeat_timeout_ms;
	tp.handshake_ms = (int)cfg->net.handshake_timeout_ms;
	/* [limits] not set (0): the transport's defaults stand */
	if (cfg->limits.send_hwm != 0)
		tp.send_hwm = (int)cfg->limits.send_hwm;
	if (cfg->limits.recv_hwm != 0)
		tp.recv_hwm = (int)cfg->limits.recv_hwm;
	if (cfg->limits.inbound_connections != 0)
		tp.inbound_connections = (int)cfg->limits.inbound_connections;
	if (cfg->limits.inbound_per_address != 0)
		tp.inbound_per_address = (int)cfg->limits.inbound_per_address;
	/* at most the total: setting only the total lower must not fail */
	if (tp.inbound_per_address > tp.inbound_connections)
		tp.inbound_per_address = tp.inbound_connections;
	if ((e = ms_transport_new(&d->t, NULL, d->node->netkey, d->node->id,
	                          &tp, &cbs, eb)) != MS_OK)
		return e;
	if ((e = apply_acl(d, cfg, eb)) != MS_OK)
		return e;
	for (size_t i = 0; i < (nl ? nl : 1); i++) {
		const char *ep = nl ? cfg->net.listen[i]
		                    : MS_CFG_DEFAULT_LISTEN;
		if ((e = ms_transport_listen(d->t, ep, d->bound[d->nbound],
		                             MS_CFG_EP_MAX, eb)) != MS_OK)
			return e;
		ms_logf(&d->log, MS_LOG_INFO, "MS-NET-LISTEN", "endpoint=%s",
		        d->bound[d->nbound]);
		eps[d->nbound] = d->bound[d->nbound];
		d->nbound++;
	}
	e = ms_runfile_endpoints(d->node->dir, eps, d->nbound, eb);
	if (e == MS_EFULL) {
		/* a full disk: the node still serves reads and its peers;
		 * only tools that look for the file miss it */
		ms_log_error(&d->log, "MS-NODE-RUNFILE", eb);
		return MS_OK;
	}
	if (e != MS_OK)
		return e;
	d->wrote_eps = 1;
	return MS_OK;
}

/* --- the fault layer ---------------------------------------------------- */

/* The node id on connection c for the fault layer's per-peer schedules:
 * the id its session proved in HELLO, else the id the peer table dialled
 * (an outgoing link to a known node), else unknown (NULL). */
static const uint8_t *fault_peer_id(void *ctx, const struct ms_conn *c)
{
	ms_daemon *d = ctx;
	dlink *l = link_find(d, c);
	const uint8_t *id;

	if (l == NULL)
		return NULL;
	if ((id = ms_session_peer_id(l->s)) != NULL)
		return id;
	return l->peer != NULL ? ms_peer_id(l->peer) : NULL;
}

static uint64_t fault_now_ms(void *ctx)
{
	return now(ctx).wall_ms;
}

/* Faults configured: wrap the transport, say so in the log and in
 * DIR/node.faults (node-inspect summary).  Not configured: nothing is
 * wrapped, and a node.faults left by a killed daemon goes. */
static ms_err faults_start(ms_daemon *d, ms_errbuf *eb)
{
	ms_fault_config shown = d->node->cfg.faults;
	ms_fault_link_cbs cbs = {fault_peer_id, fault_now_ms, d};
	char line[512];
	ms_err e;

	if (!ms_fault_config_on(&shown)) {
		ms_runfile_faults_remove(d->node->dir);
		return MS_OK;
	}
	if ((d->fault = ms_fault_new(&shown, now(d).wall_ms)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "run: faults: out of memory");
	if ((e = ms_fault_attach(d->fault, d->t, &cbs, eb)) != MS_OK)
		return e;
	shown.seed = ms_fault_seed(d->fault); /* the one to replay with */
	ms_fault_config_describe(&shown, line, sizeof line);
	ms_logf(&d->log, MS_LOG_WARNING, "MS-FAULTS-ON", "%s", line);
	if ((e = ms_runfile_faults(d->node->dir, line, eb)) != MS_OK)
		return e;
	d->wrote_faults = 1;
	return MS_OK;
}

/* The parts around the transport: sessions, peer table, peer exchange,
 * discovery. */
static ms_err parts_start(ms_daemon *d, ms_errbuf *eb)
{
	ms_session_cbs scb = {on_session_send, on_session_event, d};
	ms_peertab_cbs pcb = {on_pt_dial, on_pt_hangup, d};
	ms_pex_cbs xcb = {on_pex_learn, on_pex_forget, on_pex_linked,
	                  on_pex_proven, d};
	ms_pex_env xe = {0};
	ms_peertab_env pe = {0};
	ms_session_params sp;
	ms_store_rtxn *rt = NULL;
	ms_err e;

	session_params(d, &sp);
	if ((e = ms_session_env_new(&d->senv, d->node->store, d->node->id, &sp,
	                            &scb, &d->log, &d->counters, eb)) != MS_OK)
		return e;
	/* what peers hold is written after each turn's sends (turn()) */
	ms_session_env_defer_peer_vv(d->senv, 1);
	/* the watch first: a commit after the head is read wakes us */
	wake_start(d);
	if ((e = ms_store_read_begin(d->node->store, &rt, eb)) != MS_OK)
		return e;
	d->arrival_seen = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	pe.store = d->node->store;
	pe.node_id = ms_node_id(d->node);
	pe.cfg = &d->node->cfg;
	pe.log = &d->log;
	pe.counters = &d->counters;
	pe.rng = &d->rng;
	pe.clock = d->clock;
	pe.ratelog = &d->ratelog;
	if ((e = ms_peertab_new(&d->pt, &pe, &pcb, eb)) != MS_OK)
		return e;
	memcpy(xe.node_id, ms_node_id(d->node), MS_PK_LEN);
	xe.max_candidates = d->node->cfg.limits.pex_candidates;
	xe.log = &d->log;
	xe.counters = &d->counters;
	xe.ratelog = &d->ratelog;
	if ((e = ms_pex_new(&d->pex, &xe, &xcb, eb)) != MS_OK)
		return e;
	ms_runfile_mesh_remove(d->node->dir); /* a killed daemon's */
	discovery_start(d);
	return MS_OK;
}

static ms_err daemon_start(ms_daemon *d, ms_errbuf *eb)
{
	const ms_daemon_opts *o = d->opts;
	char hex[MS_NODE_ID_HEX_LEN];
	sigset_t set;
	uint64_t seed;
	ms_err e;

	if (o->dir == NULL || o->dir[0] == '\0')
		return ms_errf(eb, MS_EINVAL, "run: no data directory given");
	/* before any thread exists, so every thread inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &d->oldset) != 0)
		return ms_errf(eb, MS_EIO, "run: sigprocmask: %s",
		               strerror(errno));
	d->masked = 1;
	signal(SIGPIPE, SIG_IGN);
	if ((d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return ms_errf(eb, MS_EIO, "run: signalfd: %s",
		               strerror(errno));

	if ((e = ms_node_open(&d->node, o->dir, o->config_path, eb)) != MS_OK)
		return e;
	if ((e = ms_runfile_lock(o->dir, &d->pid_fd, eb)) != MS_OK)
		return e;
	if ((e = ms_config_apply_flags(&d->node->cfg, o, eb)) != MS_OK)
		return e;
	if ((e = ms_config_faults_env(&d->node->cfg, eb)) != MS_OK)
		return e;
	ms_log_set(&d->log, d->node->cfg.log.level, d->node->cfg.log.syslog);
	seed = ms_rng_seed(&d->rng, 0);
	if ((e = transport_start(d, eb)) != MS_OK)
		return e;
	if ((e = faults_start(d, eb)) != MS_OK)
		return e;
	if ((e = parts_start(d, eb)) != MS_OK)
		return e;
	ms_node_id_hex(d->node, hex);
	ms_logf(&d->log, MS_LOG_NOTICE, "MS-NODE-START",
	        "id=%s pid=%ld listen=%zu peers=%zu rng_seed=%" PRIu64, hex,
	        (long)getpid(), d->nbound, d->node->cfg.net.npeers, seed);
	return MS_OK;
}

/* SIGINT/SIGTERM stop, SIGHUP asks for a reload (returns 1). */
static int read_signals(ms_daemon *d)
{
	struct signalfd_siginfo si;
	int reload_asked = 0;

	for (int i = 0; i < 16 && read(d->sfd, &si, sizeof si) == sizeof si;
	     i++) {
		if (si.ssi_signo == SIGHUP) {
			reload_asked = 1;
		} else {
			ms_logf(&d->log, MS_LOG_NOTICE, "MS-NODE-SIGNAL",
			        "signal=%s",
			        si.ssi_signo == SIGINT ? "INT" : "TERM");
			d->stopping = 1;
		}
	}
	return reload_asked;
}

/* How long the loop may sleep: until the arrival feed is due (its timed
 * read, or a look again at a commit not yet published), the transport's
 * next keepalive or link timeout, the next dial,
 * the next message the fault layer holds, or LOOP_MAX_WAIT_MS.  A commit
 * by any process ends the sleep through the wake-up's descriptor. */
static long poll_timeout(ms_daemon *d, ms_time t)
{
	uint64_t due = ms_peertab_tick(d->pt); /* dials what is due now */
	uint64_t feed_due = d->next_feed_mono;
	long timeout;

	if (d->feed_recheck_mono != 0 && d->feed_recheck_mono < feed_due)
		feed_due = d->feed_recheck_mono;
	/* keepalives are due (or a link's silence runs out) */
	if (d->keepalive_mono < feed_due)
		feed_due = d->keepalive_mono;
	timeout = feed_due > t.mono_ms ? (long)(feed_due - t.mono_ms) : 0;

	/* messages the fault layer delays leave when due, not a turn late */
	if (d->fault != NULL) {
		uint64_t held = ms_fault_next_due(d->fault);
		if (held < due)
			due = held;
	}
	if (due != UINT64_MAX) {
		if (due <= t.wall_ms)
			timeout = 0;
		else if (due - t.wall_ms < (uint64_t)timeout)
			timeout = (long)(due - t.wall_ms);
	}
	return timeout > LOOP_MAX_WAIT_MS ? LOOP_MAX_WAIT_MS : timeout;
}

/* Everything that happens in one turn after the poll, in this order:
 * input (transport, discovery, link monitor), timers (peer exchange, the
 * arrival feed), output (every session's tick), then bookkeeping.
 *
 * The feed is read after the input, so ops a session committed in this
 * turn (received, to relay) and ops another process committed (its write
 * woke the poll) go out in this turn's ticks.  Our own commits wake us
 * too: then the read finds nothing new, a snapshot and one meta read. */
static void turn(ms_daemon *d)
{
	ms_time t;
	int woke;

	(void)ms_transport_process(d->t);
	if (d->fault != NULL) /* delayed messages that are due */
		(void)ms_fault_tick(d->fault, now(d).wall_ms);
	/* a dialer that never sends HELLO has no session to time out: the
	 * transport closes its connection after the same hello_timeout */
	(void)ms_transport_close_silent(
		d->t, ms_clock_mono(d->clock),
		d->node->cfg.limits.hello_timeout_ms != 0
			? d->node->cfg.limits.hello_timeout_ms
			: MS_SESSION_HELLO_TIMEOUT_DEFAULT_MS);
	/* after the input, so what just arrived counts as a sign of life */
	d->keepalive_mono = ms_transport_keepalive(d->t,
	                                           ms_clock_mono(d->clock));
	if (d->disc != NULL)
		(void)ms_disc_process(d->disc);
	if (d->lm != NULL)
		(void)ms_linkmon_process(d->lm, 0);
	t = now(d);
	ms_pex_tick(d->pex, t.mono_ms);
	pex_send(d, t);
	mesh_write(d, t);
	woke = wake_drain(d); /* after the input: our commits in it too */
	if (woke || t.mono_ms >= d->next_feed_mono ||
	    (d->feed_recheck_mono != 0 && t.mono_ms >= d->feed_recheck_mono)) {
		d->feed_recheck_mono = 0;
		if (feed(d)) {
			d->feed_recheck_mono = t.mono_ms + FEED_RECHECK_MS;
			count(d, "feed_rechecks", NULL, 1);
		}
		if (t.mono_ms >= d->next_feed_mono)
			d->next_feed_mono = t.mono_ms +
			                    d->node->cfg.sync.poll_ms;
	}
	for (dlink *l = d->links; l != NULL; l = l->next)
		if (!l->ended)
			ms_session_tick(l->s, t);
	peer_vv_flush(d);
	links_reap(d);
	ms_peertab_flush(d->pt);
	counters_flush(d, 0);
}

static ms_err daemon_loop(ms_daemon *d, ms_errbuf *eb)
{
	zmq_pollitem_t *items = NULL;
	int cap = 0;
	ms_err e = MS_OK;

	while (!d->stopping) {
		long timeout;
		int n, extra = 0, reload_asked = 0;

		n = ms_transport_pollitems(d->t, NULL, 0);
		if (items == NULL ||
		    n + 4 > cap) { /* + signalfd, mDNS, netlink, wake-up */
			zmq_pollitem_t *ni = realloc(items, (size_t)(n + 8) *
			                                            sizeof *ni);
			if (ni == NULL) {
				e = ms_errf(eb, MS_ENOMEM,
				            "run: poll items: out of memory");
				break;
			}
			items = ni;
			cap = n + 8;
		}
		items[0] = (zmq_pollitem_t){NULL, d->sfd, ZMQ_POLLIN, 0};
		n = ms_transport_pollitems(d->t, items + 1, cap - 1);
		if (d->disc != NULL)
			items[1 + n + extra++] =
				(zmq_pollitem_t){NULL, ms_disc_fd(d->disc),
			                         ZMQ_POLLIN, 0};
		if (d->lm != NULL)
			items[1 + n + extra++] =
				(zmq_pollitem_t){NULL, ms_linkmon_fd(d->lm),
			                         ZMQ_POLLIN, 0};
		if (d->wake != NULL) /* drained in turn() */
			items[1 + n + extra++] =
				(zmq_pollitem_t){NULL, ms_wake_fd(d->wake),
			                         ZMQ_POLLIN, 0};
		timeout = poll_timeout(d, now(d));
		if (zmq_poll(items, 1 + n + extra, timeout) < 0 &&
		    zmq_errno() != EINTR) {
			e = ms_errf(eb, MS_ENET, "run: zmq_poll: %s",
			            zmq_strerror(zmq_errno()));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN)
			reload_asked = read_signals(d);
		turn(d);
		if (reload_asked && !d->stopping)
			reload(d);
	}
	free(items);
	return e;
}

/* Undo whatever daemon_start did, in reverse: BYE(shutdown) to every
 * session (the transport's linger hands them over), the parts, the
 * transport, the node, the files, the signal mask. */
static void daemon_stop(ms_daemon *d)
{
	ms_time t = now(d);

	d->stopping = 1;
	for (dlink *l = d->links; l != NULL; l = l->next)
		ms_session_close(l->s, MS_BYE_SHUTDOWN, "node stopping",
		                 "shutdown", 0, t);
	peer_vv_flush(d);
	links_reap(d);
	/* what the fault layer still delays goes out now, BYEs included */
	if (d->fault != NULL)
		(void)ms_fault_tick(d->fault, UINT64_MAX);
	ms_disc_free(&d->disc); /* withdraw our service first */
	ms_linkmon_free(&d->lm);
	ms_pex_free(&d->pex);
	ms_peertab_free(&d->pt); /* hangs up dials: needs the transport */
	if (d->node != NULL)
		counters_flush(d, 1);
	if (d->t != NULL)
		ms_logf(&d->log, MS_LOG_NOTICE, "MS-NODE-STOP",
		        "sessions=%" PRIu64 " dials=%" PRIu64
		        " bad_messages=%" PRIu64 " auth_failures=%" PRIu64
		        " rejects=%" PRIu64,
		        d->st.sessions, d->st.dials, d->st.bad_messages,
		        d->st.auth_failures, d->st.rejects);
	ms_session_env_free(&d->senv);
	ms_wake_free(&d->wake);
	ms_transport_free(&d->t);
	ms_fault_free(d->fault); /* after its transport (net/fault.h) */
	d->fault = NULL;
	if (d->wrote_faults)
		ms_runfile_faults_remove(d->opts->dir);
	if (d->wrote_eps)
		ms_runfile_endpoints_remove(d->opts->dir);
	if (d->pid_fd >= 0) /* ours, or a killed daemon's: stale either way */
		ms_runfile_mesh_remove(d->opts->dir);
	ms_runfile_unlock(d->opts->dir, d->pid_fd);
	ms_node_close(&d->node);
	ms_log_close(&d->log);
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->masked)
		sigprocmask(SIG_SETMASK, &d->oldset, NULL);
}

ms_err ms_daemon_run(const ms_daemon_opts *o, ms_errbuf *eb)
{
	ms_daemon *d = calloc(1, sizeof *d);
	ms_err e;

	if (d == NULL)
		return ms_errf(eb, MS_ENOMEM, "run: out of memory");
	d->opts = o;
	d->clock = ms_clock_system();
	d->log.level = MS_LOG_DEFAULT;
	d->sfd = -1;
	d->pid_fd = -1;
	e = daemon_start(d, eb);
	if (e == MS_OK)
		e = daemon_loop(d, eb);
	daemon_stop(d);
	free(d);
	return e;
}
