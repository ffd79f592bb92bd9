/*
 * daemon.c — the life of `meshsync-node run`: the pid lock, opening the
 * node, the transport and its listen endpoints (published in
 * DIR/node.endpoints), signals through a signalfd, the one zmq_poll loop
 * with its timers, SIGHUP reloads, and the clean stop.
 *
 * Signals are blocked before any thread exists (the store's verify worker,
 * ZeroMQ's I/O threads), so they reach nobody but the signalfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "discover.h"
#include "sync.h"

#define PID_FILE "node.pid"
#define ENDPOINTS_FILE "node.endpoints"
#define LOOP_MAX_WAIT_MS 1000 /* wake at least this often */

uint64_t ms_daemon_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t ms_daemon_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Exclusive flock on DIR/node.pid, holding our pid.  The lock, not the
 * file's existence, says a daemon runs: a file left by a killed daemon is
 * simply taken over. */
static ms_err pid_lock(const char *dir, const char *path, int *fdp,
                       ms_errbuf *eb)
{
	char buf[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ssize_t n;

	*fdp = -1;
	if (fd < 0)
		return ms_errf(eb, MS_EIO, "run %s: open %s: %s", dir, path,
		               strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		n = pread(fd, buf, sizeof buf - 1, 0);
		close(fd);
		if (err == EWOULDBLOCK) {
			long pid = 0;
			buf[n > 0 ? n : 0] = '\0';
			pid = strtol(buf, NULL, 10);
			return ms_errf(eb, MS_EBUSY, "run %s: already running (pid %ld)",
			               dir, pid);
		}
		return ms_errf(eb, MS_EIO, "run %s: flock %s: %s", dir, path,
		               strerror(err));
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		int err = errno;
		close(fd);
		return ms_errf(eb, MS_EIO, "run %s: write %s: %s", dir, path,
		               strerror(err));
	}
	*fdp = fd;
	return MS_OK;
}

/* DIR/node.endpoints: the bound endpoints one per line, replaced
 * atomically so a reader never sees half a file. */
static ms_err write_endpoints(const ms_daemon *d, const char *path,
                              ms_errbuf *eb)
{
	size_t n = strlen(path) + 5;
	char *tmp = malloc(n);
	FILE *f;
	ms_err e = MS_OK;

	if (tmp == NULL)
		return ms_errf(eb, MS_ENOMEM, "write %s: out of memory", path);
	snprintf(tmp, n, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		e = ms_errf(eb, MS_EIO, "open %s: %s", tmp, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < d->nbound; i++)
		fprintf(f, "%s\n", d->bound[i]);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		e = ms_errf(eb, MS_EIO, "write %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		e = ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	return e;
}

/* Flags over the file: --listen replaces the configured list, --peer adds
 * to it, the rest override single values. */
static ms_err apply_opts(ms_config *c, const ms_daemon_opts *o, ms_errbuf *eb)
{
	if (o->nlisten > 0) {
		if (o->nlisten > MS_CFG_MAX_LISTEN)
			return ms_errf(eb, MS_EINVAL, "run: more than %d --listen",
			               MS_CFG_MAX_LISTEN);
		c->net.nlisten = 0;
		for (size_t i = 0; i < o->nlisten; i++) {
			if (ms_config_check_endpoint(o->listen[i]) != 0)
				return ms_errf(eb, MS_EINVAL,
				               "run: bad --listen '%s' (tcp://HOST:PORT)",
				               o->listen[i]);
			snprintf(c->net.listen[c->net.nlisten++], MS_CFG_EP_MAX, "%s",
			         o->listen[i]);
		}
	}
	for (size_t i = 0; i < o->npeers; i++) {
		int dup = 0;
		if (ms_config_check_endpoint(o->peers[i]) != 0)
			return ms_errf(eb, MS_EINVAL, "run: bad --peer '%s' (tcp://HOST:PORT)",
			               o->peers[i]);
		for (size_t k = 0; k < c->net.npeers; k++)
			dup |= strcmp(c->net.peers[k], o->peers[i]) == 0;
		if (dup)
			continue;
		if (c->net.npeers == MS_CFG_MAX_PEERS)
			return ms_errf(eb, MS_EINVAL, "run: more than %d peers",
			               MS_CFG_MAX_PEERS);
		snprintf(c->net.peers[c->net.npeers++], MS_CFG_EP_MAX, "%s",
		         o->peers[i]);
	}
	if (o->no_mdns)
		c->net.mdns = 0;
	if (o->log_level >= 0)
		c->log.level = o->log_level;
	if (o->syslog)
		c->log.syslog = 1;
	return MS_OK;
}

/* Allow and deny lists into the transport; the old lists stay on error. */
static ms_err apply_acl(ms_daemon *d, const ms_config *c, ms_errbuf *eb)
{
	ms_err e;

	/* check every id first, so a bad one changes nothing */
	for (size_t i = 0; i < c->net.nallow + c->net.ndeny; i++) {
		const uint8_t *id = i < c->net.nallow ? c->net.allow[i]
		                                      : c->net.deny[i - c->net.nallow];
		uint8_t curve[MS_CURVE_LEN];
		if (ms_ed25519_pk_to_curve(curve, id, NULL) != MS_OK) {
			char hex[2 * MS_PK_LEN + 1];
			ms_hex(hex, id, MS_PK_LEN);
			return ms_errf(eb, MS_EINVAL, "%s list: %s is not a node id",
			               i < c->net.nallow ? "allow" : "deny", hex);
		}
	}
	if (c->net.ndeny > 0) {
		if ((e = ms_transport_acl_set(d->t, MS_ACL_DENY, &c->net.deny[0][0],
		                              c->net.ndeny, eb)) != MS_OK)
			return e;
	} else {
		ms_transport_acl_clear(d->t, MS_ACL_DENY);
	}
	if (c->net.has_allow) {
		if ((e = ms_transport_acl_set(d->t, MS_ACL_ALLOW, &c->net.allow[0][0],
		                              c->net.nallow, eb)) != MS_OK)
			return e;
	} else {
		ms_transport_acl_clear(d->t, MS_ACL_ALLOW);
	}
	return MS_OK;
}

static int policies_differ(const ms_config *a, const ms_config *b)
{
	if (a->nrules != b->nrules)
		return 1;
	for (size_t i = 0; i < a->nrules; i++)
		if (strcmp(a->rules[i].prefix, b->rules[i].prefix) != 0 ||
		    a->rules[i].policy != b->rules[i].policy)
			return 1;
	return 0;
}

static void log_error(ms_daemon *d, const char *event, const ms_errbuf *eb)
{
	char q[MS_ERRBUF_SIZE + 8];
	ms_logf(&d->log, MS_LOG_ERROR, event, "error=%s",
	        ms_log_q(q, sizeof q, eb->msg));
}

/* SIGHUP: read the config again; on any error keep the old one. */
static void reload(ms_daemon *d)
{
	ms_node *n = d->node;
	ms_config *nc = malloc(sizeof *nc);
	ms_errbuf eb = {0};
	char *path = NULL;
	ms_err e;

	if (nc == NULL) {
		ms_logf(&d->log, MS_LOG_ERROR, "MS-CONF-RELOAD-FAIL", "error=nomem");
		return;
	}
	ms_config_default(nc);
	if (d->opts->config_path != NULL) {
		e = ms_config_load(nc, d->opts->config_path, &eb);
	} else if ((path = path_join(n->dir, MS_NODE_CONF_FILE)) == NULL) {
		e = ms_errf(&eb, MS_ENOMEM, "reload: out of memory");
	} else {
		e = ms_config_load(nc, path, &eb);
		if (e == MS_ENOTFOUND) {
			ms_config_default(nc);
			e = MS_OK;
		}
	}
	if (e == MS_OK)
		e = apply_opts(nc, d->opts, &eb);
	if (e == MS_OK)
		e = apply_acl(d, nc, &eb);
	if (e != MS_OK) {
		log_error(d, "MS-CONF-RELOAD-FAIL", &eb);
		goto out;
	}
	if (policies_differ(nc, &n->cfg)) {
		/* the store takes its policy table at open: reopen it (nothing
		 * holds a read transaction between loop turns) */
		ms_config old = n->cfg;
		ms_config_fix(&old);
		ms_store_close(&n->store);
		n->cfg = *nc;
		ms_config_fix(&n->cfg);
		if (ms_store_open(&n->store, n->dir, &n->cfg.store, &eb) != MS_OK) {
			log_error(d, "MS-CONF-RELOAD-FAIL", &eb);
			n->cfg = old;
			ms_config_fix(&n->cfg);
			if (ms_store_open(&n->store, n->dir, &n->cfg.store, &eb) !=
			    MS_OK) {
				log_error(d, "MS-STORE-ERROR", &eb);
				d->stopping = 1; /* cannot go on without a store */
			}
			goto out;
		}
	}
	if (nc->net.nlisten != n->cfg.net.nlisten ||
	    memcmp(nc->net.listen, n->cfg.net.listen, sizeof nc->net.listen) != 0 ||
	    nc->net.heartbeat_interval_ms != n->cfg.net.heartbeat_interval_ms ||
	    nc->net.heartbeat_timeout_ms != n->cfg.net.heartbeat_timeout_ms ||
	    nc->net.handshake_timeout_ms != n->cfg.net.handshake_timeout_ms ||
	    nc->net.max_message != n->cfg.net.max_message)
		ms_logf(&d->log, MS_LOG_NOTICE, "MS-CONF-RESTART-NEEDED",
		        "what=listen,heartbeat,handshake_timeout,max_message");
	/* transport settings stay as bound; everything else takes effect */
	nc->net.max_message = n->cfg.net.max_message;
	n->cfg = *nc;
	ms_config_fix(&n->cfg);
	ms_log_set(&d->log, n->cfg.log.level, n->cfg.log.syslog);
	ms_pm_reconfigure(d);
	ms_logf(&d->log, MS_LOG_NOTICE, "MS-CONF-RELOAD",
	        "peers=%zu level=%s strategy=%s", n->cfg.net.npeers,
	        ms_log_level_name(n->cfg.log.level),
	        ms_backoff_strategy_name(n->cfg.backoff.strategy));
out:
	free(path);
	free(nc);
}

/* --- counters ----------------------------------------------------------- */

void ms_daemon_count(ms_daemon *d, const char *prefix, const char *suffix,
                     uint64_t n)
{
	char name[MS_DCOUNT_NAME];
	size_t i;

	snprintf(name, sizeof name, "%s%s", prefix, suffix != NULL ? suffix : "");
	/* names become store keys: keep them plain */
	for (char *c = name; *c != '\0'; c++)
		if (*c == '-' || *c == ' ')
			*c = '_';
	for (i = 0; i < d->ncounts; i++)
		if (strcmp(d->counts[i].name, name) == 0)
			break;
	if (i == d->ncounts) {
		if (d->ncounts == MS_DCOUNT_MAX)
			return; /* names come from fixed sets; cannot happen */
		snprintf(d->counts[i].name, sizeof d->counts[i].name, "%s", name);
		d->counts[i].delta = 0;
		d->ncounts++;
	}
	d->counts[i].delta += n;
}

/* The transport's counters since the last flush, as named deltas. */
static void count_transport(ms_daemon *d)
{
	ms_transport_stats now, *was = &d->tst_flushed;

	if (d->t == NULL)
		return;
	ms_transport_stats_get(d->t, &now);
	if (now.in_handshake_fail > was->in_handshake_fail)
		ms_daemon_count(d, "handshake_fail_in", NULL,
		                now.in_handshake_fail - was->in_handshake_fail);
	for (int r = 1; r < MS_REJECT_REASON_COUNT_; r++)
		if (r != MS_REJECT_HANDSHAKE && now.zap_denied[r] > was->zap_denied[r])
			ms_daemon_count(d, "zap_denied_",
			                ms_reject_reason_str((ms_reject_reason)r),
			                now.zap_denied[r] - was->zap_denied[r]);
	if (now.in_accepted > was->in_accepted)
		ms_daemon_count(d, "tcp_accepted", NULL,
		                now.in_accepted - was->in_accepted);
	if (now.rx_bytes > was->rx_bytes)
		ms_daemon_count(d, "bytes_in", NULL, now.rx_bytes - was->rx_bytes);
	if (now.tx_bytes > was->tx_bytes)
		ms_daemon_count(d, "bytes_out", NULL, now.tx_bytes - was->tx_bytes);
	if (now.rx_dropped > was->rx_dropped)
		ms_daemon_count(d, "frames_dropped", NULL,
		                now.rx_dropped - was->rx_dropped);
	*was = now;
}

void ms_daemon_counts_flush(ms_daemon *d, int force)
{
	const char *names[MS_DCOUNT_MAX];
	uint64_t deltas[MS_DCOUNT_MAX];
	uint64_t now = ms_daemon_mono_ms();
	ms_errbuf eb = {0};
	size_t n = 0;

	if (!force && now - d->counts_flushed_mono < 1000)
		return;
	d->counts_flushed_mono = now;
	count_transport(d);
	for (size_t i = 0; i < d->ncounts; i++) {
		if (d->counts[i].delta == 0)
			continue;
		names[n] = d->counts[i].name;
		deltas[n] = d->counts[i].delta;
		n++;
	}
	if (n == 0 || d->node == NULL || d->node->store == NULL)
		return;
	if (ms_store_stats_add(d->node->store, names, deltas, n, &eb) != MS_OK) {
		log_error(d, "MS-STORE-ERROR", &eb);
		return; /* kept: the next flush tries again */
	}
	for (size_t i = 0; i < d->ncounts; i++)
		d->counts[i].delta = 0;
}

/* --- transport callbacks ------------------------------------------------- */

static void cb_recv(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                    const void *buf, size_t len)
{
	ms_daemon *d = ctx;
	ms_session *s = ms_sync_find(d, c);

	(void)peer_curve;
	if (s == NULL)
		return; /* a session we closed; its DOWN is on the way */
	ms_sync_recv(s, buf, len);
}

static void cb_link(void *ctx, const ms_conn *c, ms_link_event ev,
                    ms_link_reason why, const uint8_t *peer_curve)
{
	ms_daemon *d = ctx;

	if (c->dir == MS_CONN_OUT) {
		if (ev == MS_LINK_UP)
			ms_pm_dial_up(d, c->peer);
		else
			ms_pm_dial_down(d, c->peer, why);
		return;
	}
	if (ev == MS_LINK_UP) {
		if (!d->stopping)
			(void)ms_sync_open(d, c, NULL, peer_curve);
	} else {
		ms_session *s = ms_sync_find(d, c);
		ms_daemon_count(d, "links_lost_in", NULL, 1);
		if (s != NULL)
			ms_sync_lost(s, ms_link_reason_str(why));
	}
}

static void cb_reject(void *ctx, ms_reject_reason why, const uint8_t *peer_curve,
                      const char *addr)
{
	ms_daemon *d = ctx;
	char hex[2 * MS_CURVE_LEN + 1] = "-";

	d->st.rejects++; /* the store's counters come from the transport's */
	if (peer_curve != NULL)
		ms_hex(hex, peer_curve, MS_CURVE_LEN);
	ms_logf(&d->log, MS_LOG_WARNING, "MS-NET-REJECT", "reason=%s addr=%s key=%s",
	        ms_reject_reason_str(why), addr[0] != '\0' ? addr : "-", hex);
}

/* --- the loop ------------------------------------------------------------ */

static ms_err loop(ms_daemon *d, int sfd, ms_errbuf *eb)
{
	zmq_pollitem_t *items = NULL;
	int cap = 0;
	uint64_t next_feed = 0;
	ms_err e = MS_OK;

	while (!d->stopping) {
		uint64_t now = ms_daemon_mono_ms(), wall, due;
		long timeout;
		int n, nd, reload_asked = 0;

		n = ms_transport_pollitems(d->t, NULL, 0);
		if (n + 3 > cap) { /* + signalfd, mDNS and netlink fds */
			zmq_pollitem_t *ni = realloc(items, (size_t)(n + 8) * sizeof *ni);
			if (ni == NULL) {
				e = ms_errf(eb, MS_ENOMEM, "run: poll items: out of memory");
				break;
			}
			items = ni;
			cap = n + 8;
		}
		items[0] = (zmq_pollitem_t){NULL, sfd, ZMQ_POLLIN, 0};
		n = ms_transport_pollitems(d->t, items + 1, cap - 1);
		nd = ms_discover_pollitems(d, items + 1 + n, cap - 1 - n);

		/* timers: the arrival feed and the next backoff expiry */
		wall = ms_daemon_wall_ms();
		due = ms_pm_tick(d);
		timeout = next_feed > now ? (long)(next_feed - now) : 0;
		if (due != UINT64_MAX && due > wall && (long)(due - wall) < timeout)
			timeout = (long)(due - wall);
		else if (due != UINT64_MAX && due <= wall)
			timeout = 0;
		if (timeout > LOOP_MAX_WAIT_MS)
			timeout = LOOP_MAX_WAIT_MS;

		if (zmq_poll(items, n + 1 + nd, timeout) < 0 &&
		    zmq_errno() != EINTR) {
			e = ms_errf(eb, MS_ENET, "run: zmq_poll: %s",
			            zmq_strerror(zmq_errno()));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN) {
			struct signalfd_siginfo si;
			for (int i = 0; i < 16 && read(sfd, &si, sizeof si) == sizeof si;
			     i++) {
				if (si.ssi_signo == SIGHUP) {
					reload_asked = 1;
				} else {
					ms_logf(&d->log, MS_LOG_NOTICE, "MS-NODE-SIGNAL",
					        "signal=%s", si.ssi_signo == SIGINT ? "INT" : "TERM");
					d->stopping = 1;
				}
			}
		}
		(void)ms_transport_process(d->t);
		ms_discover_process(d);
		now = ms_daemon_mono_ms();
		if (now >= next_feed) {
			ms_sync_feed(d);
			next_feed = now + d->node->cfg.sync.poll_ms;
		}
		ms_sync_pump_all(d);
		ms_sync_reap(d);
		ms_pm_flush(d);
		ms_daemon_counts_flush(d, 0);
		if (reload_asked && !d->stopping)
			reload(d);
	}
	free(items);
	return e;
}

/* End every session with BYE(shutdown), giving the transport a moment to
 * hand the BYEs over before the sockets close (linger). */
static void close_sessions(ms_daemon *d)
{
	for (ms_session *s = d->sessions; s != NULL; s = ms_sync_next(s))
		ms_sync_close(s, MS_BYE_SHUTDOWN, "node stopping", "shutdown", 0);
	ms_sync_reap(d);
}

ms_err ms_daemon_run(const ms_daemon_opts *o, ms_errbuf *eb)
{
	ms_daemon d;
	ms_transport_params tp;
	ms_transport_cbs cbs;
	sigset_t set, oldset;
	char *pid_path = NULL, *ep_path = NULL;
	int sfd = -1, pid_fd = -1, wrote_eps = 0;
	char hex[MS_NODE_ID_HEX_LEN];
	uint64_t seed;
	ms_err e;

	memset(&d, 0, sizeof d);
	d.opts = o;
	d.log.level = MS_LOG_DEFAULT;
	if (o->dir == NULL || o->dir[0] == '\0')
		return ms_errf(eb, MS_EINVAL, "run: no data directory given");

	/* before any thread exists, so every thread inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &oldset) != 0)
		return ms_errf(eb, MS_EIO, "run: sigprocmask: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		e = ms_errf(eb, MS_EIO, "run: signalfd: %s", strerror(errno));
		goto out;
	}

	if ((e = ms_node_open(&d.node, o->dir, o->config_path, eb)) != MS_OK)
		goto out;
	pid_path = path_join(o->dir, PID_FILE);
	ep_path = path_join(o->dir, ENDPOINTS_FILE);
	if (pid_path == NULL || ep_path == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "run: out of memory");
		goto out;
	}
	if ((e = pid_lock(o->dir, pid_path, &pid_fd, eb)) != MS_OK)
		goto out;
	if ((e = apply_opts(&d.node->cfg, o, eb)) != MS_OK)
		goto out;
	ms_log_set(&d.log, d.node->cfg.log.level, d.node->cfg.log.syslog);
	seed = ms_rng_seed(&d.rng, 0);

	d.scratch = malloc(sizeof *d.scratch);
	d.msgbuf = malloc(MS_WIRE_MAX_MSG);
	d.txops = calloc(MS_WIRE_MAX_OPS, sizeof *d.txops);
	if (d.scratch == NULL || d.msgbuf == NULL || d.txops == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "run: out of memory");
		goto out;
	}

	ms_transport_params_init(&tp);
	tp.maxmsgsize = (int64_t)d.node->cfg.net.max_message;
	tp.heartbeat_ivl_ms = (int)d.node->cfg.net.heartbeat_interval_ms;
	tp.heartbeat_timeout_ms = (int)d.node->cfg.net.heartbeat_timeout_ms;
	tp.heartbeat_ttl_ms = 2 * (int)d.node->cfg.net.heartbeat_timeout_ms;
	tp.handshake_ms = (int)d.node->cfg.net.handshake_timeout_ms;
	cbs = (ms_transport_cbs){cb_recv, cb_link, cb_reject, &d};
	if ((e = ms_transport_new(&d.t, NULL, d.node->netkey, d.node->id, &tp, &cbs,
	                          eb)) != MS_OK)
		goto out;
	if ((e = apply_acl(&d, &d.node->cfg, eb)) != MS_OK)
		goto out;
	{
		size_t nl = d.node->cfg.net.nlisten;
		for (size_t i = 0; i < (nl ? nl : 1); i++) {
			const char *ep = nl ? d.node->cfg.net.listen[i]
			                    : MS_CFG_DEFAULT_LISTEN;
			if ((e = ms_transport_listen(d.t, ep, d.bound[d.nbound],
			                             MS_CFG_EP_MAX, eb)) != MS_OK)
				goto out;
			ms_logf(&d.log, MS_LOG_INFO, "MS-NET-LISTEN", "endpoint=%s",
			        d.bound[d.nbound]);
			d.nbound++;
		}
	}
	if ((e = write_endpoints(&d, ep_path, eb)) != MS_OK)
		goto out;
	wrote_eps = 1;
	{
		ms_store_rtxn *rt = NULL;
		if ((e = ms_store_read_begin(d.node->store, &rt, eb)) != MS_OK)
			goto out;
		d.arrival_seen = ms_store_arrival_head(rt);
		ms_store_read_end(&rt);
	}
	if ((e = ms_pm_init(&d, eb)) != MS_OK)
		goto out;
	if ((e = ms_discover_start(&d, eb)) != MS_OK)
		goto out;
	ms_node_id_hex(d.node, hex);
	ms_logf(&d.log, MS_LOG_NOTICE, "MS-NODE-START",
	        "id=%s pid=%ld listen=%zu peers=%zu rng_seed=%" PRIu64, hex,
	        (long)getpid(), d.nbound, d.node->cfg.net.npeers, seed);

	e = loop(&d, sfd, eb);

	d.stopping = 1;
	close_sessions(&d);
	ms_daemon_counts_flush(&d, 1);
	ms_logf(&d.log, MS_LOG_NOTICE, "MS-NODE-STOP",
	        "sessions=%" PRIu64 " dials=%" PRIu64 " bad_messages=%" PRIu64
	        " auth_failures=%" PRIu64 " rejects=%" PRIu64,
	        d.st.sessions, d.st.dials, d.st.bad_messages, d.st.auth_failures,
	        d.st.rejects);
out:
	d.stopping = 1;
	if (d.sessions != NULL)
		close_sessions(&d);
	if (d.node != NULL)
		ms_daemon_counts_flush(&d, 1);
	ms_discover_stop(&d); /* withdraw our service first */
	if (d.t != NULL)
		ms_pm_free(&d);
	ms_transport_free(&d.t);
	if (wrote_eps)
		unlink(ep_path);
	ms_node_close(&d.node);
	if (pid_fd >= 0) {
		unlink(pid_path);
		close(pid_fd);
	}
	free(d.txops);
	free(d.msgbuf);
	free(d.scratch);
	free(ep_path);
	free(pid_path);
	ms_log_close(&d.log);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	return e;
}
