/*
 * transport.c — a node's ZeroMQ sockets: the CURVE ROUTER it listens with,
 * one CURVE DEALER per outgoing peer, their socket monitors, and the one
 * send path and one receive path (the ms_link_ops table) that a fault layer
 * can wrap.  The ZAP handler and access lists are in zap.c.
 *
 * Link events come from socket monitors (inproc PAIR sockets):
 *  - DEALER: HANDSHAKE_SUCCEEDED => UP; HANDSHAKE_FAILED_* remembers why;
 *    the final DISCONNECTED or CLOSED => exactly one DOWN, after which the
 *    DEALER is closed (ZMQ_RECONNECT_IVL = -1: ZeroMQ would not retry anyway).
 *  - ROUTER: ACCEPTED / HANDSHAKE_* are counted; DISCONNECTED carries the
 *    socket fd, which is mapped back to the routing ids whose messages came
 *    from that fd (ZMQ_SRCFD), giving inbound DOWN events.  The monitor and
 *    the data are separate queues: a connection's last messages (a BYE, say)
 *    may still wait in the ROUTER when its DISCONNECTED is read.  So the
 *    DOWN is told only after the ROUTER was drained in the same
 *    ms_transport_process call, and a routing id once down is remembered:
 *    a message of it read later is dropped, never taken for a new
 *    connection (which would open a session for an unknown peer).
 *  - ROUTER ACCEPTED / DISCONNECTED also keep the table of accepted TCP
 *    connections (ms_tcpconn) that the inbound budgets count; over budget,
 *    one that has delivered no message (no session) is shut down.
 *
 * Every socket has bounded queues (send_hwm, recv_hwm) and sends never
 * block unless asked to: a full queue is MS_EBUSY for the caller to keep.
 *
 * Liveness is ours, not ZeroMQ's (ms_transport_keepalive): an empty message
 * is a keepalive, sent on a connection that has sent nothing for a while,
 * consumed on receipt; a connection that hears nothing for the timeout is
 * closed.  ZMQ_HEARTBEAT_* stay off (libzmq 4.3.4's heartbeat timer writes
 * to a connection that may already have failed, and asserts).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>
#include <zmq.h>

#include "transport_int.h"

/* ---------------------------------------------------------------- helpers */

/* The libzmq boundary: errno from zmq_errno() to ms_err, "what: why". */
static ms_err zerr(ms_errbuf *eb, const char *what, const char *arg)
{
	int e = zmq_errno();
	ms_err code = MS_ENET;

	if (e == ENOMEM)
		code = MS_ENOMEM;
	else if (e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO)
		code = MS_EINVAL;
	else if (e == EAGAIN)
		code = MS_EBUSY;
	else if (e == EHOSTUNREACH)
		code = MS_ENOTFOUND;
	if (arg != NULL)
		return ms_errf(eb, code, "%s(%s): %s", what, arg,
		               zmq_strerror(e));
	return ms_errf(eb, code, "%s: %s", what, zmq_strerror(e));
}

static ms_err setopt(void *s, int opt, const void *val, size_t len,
                     const char *name, ms_errbuf *eb)
{
	if (zmq_setsockopt(s, opt, val, len) != 0)
		return zerr(eb, "zmq_setsockopt", name);
	return MS_OK;
}

#define SETINT(s, opt, v, eb)                                                 \
	do {                                                                  \
		int v_ = (v);                                                 \
		if ((err = setopt((s), (opt), &v_, sizeof v_, #opt, (eb))) != \
		    MS_OK)                                                    \
			goto fail;                                            \
	} while (0)

/* Milliseconds as whole seconds for the TCP keepalive options, at least 1. */
static int ka_secs(int ms)
{
	return ms < 1000 ? 1 : (ms + 999) / 1000;
}

/* Options shared by the ROUTER and every DEALER. */
static ms_err common_opts(const ms_transport *t, void *s, ms_errbuf *eb)
{
	ms_err err = MS_OK;
	int64_t maxmsg = t->p.maxmsgsize;

	SETINT(s, ZMQ_LINGER, t->p.linger_ms, eb);
	/* No ZMQ_HEARTBEAT_IVL: its timer is the one caller of the engine's
	 * out_event that does not check for a failed connection, which
	 * aborts the process (libzmq 4.3.4, stream_engine_base.cpp:331);
	 * keepalives are ours.  TCP keepalive is a second line for when we
	 * send nothing at all (the kernel then probes an idle connection). */
	SETINT(s, ZMQ_TCP_KEEPALIVE, 1, eb);
	SETINT(s, ZMQ_TCP_KEEPALIVE_IDLE, ka_secs(t->p.heartbeat_timeout_ms),
	       eb);
	SETINT(s, ZMQ_TCP_KEEPALIVE_INTVL, ka_secs(t->p.heartbeat_ivl_ms), eb);
	SETINT(s, ZMQ_TCP_KEEPALIVE_CNT, 3, eb);
	SETINT(s, ZMQ_HANDSHAKE_IVL, t->p.handshake_ms, eb);
	/* bounded queues (send_hwm, recv_hwm): a peer that stops reading
	 * fills ours to send_hwm, then sends return MS_EBUSY */
	SETINT(s, ZMQ_SNDHWM, t->p.send_hwm, eb);
	SETINT(s, ZMQ_RCVHWM, t->p.recv_hwm, eb);
	err = setopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg,
	             "ZMQ_MAXMSGSIZE", eb);
fail:
	return err;
}

/* Start a monitor on s, connected to a fresh PAIR returned in *mon. */
static ms_err monitor_open(ms_transport *t, void *s, int events, void **mon,
                           ms_errbuf *eb)
{
	char ep[96];
	int linger = 0;
	void *pair = NULL;

	/* unique within the context: a transport freed and another allocated
	 * at the same address in a caller's context gets a new tag */
	snprintf(ep, sizeof ep, "inproc://meshsync-mon-%p-%08x-%u", (void *)t,
	         (unsigned)t->mon_tag, t->mon_seq++);
	if (zmq_socket_monitor(s, ep, events) != 0)
		return zerr(eb, "zmq_socket_monitor", ep);
	pair = zmq_socket(t->zctx, ZMQ_PAIR);
	if (pair == NULL) {
		ms_err e = zerr(eb, "zmq_socket(PAIR)", NULL);
		(void)zmq_socket_monitor(s, NULL, 0);
		return e;
	}
	(void)zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(pair, ep) != 0) {
		ms_err e = zerr(eb, "zmq_connect", ep);
		(void)zmq_socket_monitor(s, NULL, 0);
		zmq_close(pair);
		return e;
	}
	*mon = pair;
	return MS_OK;
}

/* Stop monitoring s and close both; either may be NULL. */
static void sock_close(void *s, void *mon)
{
	if (s != NULL && mon != NULL)
		(void)zmq_socket_monitor(s, NULL, 0);
	if (mon != NULL)
		zmq_close(mon);
	if (s != NULL)
		zmq_close(s);
}

/* Read one monitor event: 1 with ev and val set, 0 when none is pending. */
static int monitor_read(void *mon, uint16_t *ev, uint32_t *val)
{
	zmq_msg_t a, b;
	int got = 0;

	zmq_msg_init(&a);
	if (zmq_msg_recv(&a, mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&a);
		return 0;
	}
	/* frame 1: u16 event, u32 value (host order); frame 2: endpoint */
	if (zmq_msg_size(&a) == 6) {
		memcpy(ev, zmq_msg_data(&a), 2);
		memcpy(val, (uint8_t *)zmq_msg_data(&a) + 2, 4);
		got = 1;
	}
	if (zmq_msg_more(&a)) {
		zmq_msg_init(&b);
		(void)zmq_msg_recv(&b, mon, ZMQ_DONTWAIT);
		zmq_msg_close(&b);
	}
	zmq_msg_close(&a);
	if (!got) {
		/* not an event frame; report a no-op event so callers go on */
		*ev = 0;
		*val = 0;
	}
	return 1;
}

/* ------------------------------------------------------------- life cycle */

void ms_transport_params_init(ms_transport_params *p)
{
	p->maxmsgsize = MS_TRANSPORT_MAXMSG_DEFAULT;
	p->heartbeat_ivl_ms = 1000;
	p->heartbeat_timeout_ms = 5000;
	p->handshake_ms = 5000;
	p->linger_ms = 100;
	p->send_hwm = MS_TRANSPORT_SEND_HWM_DEFAULT;
	p->recv_hwm = MS_TRANSPORT_RECV_HWM_DEFAULT;
	p->inbound_connections = MS_TRANSPORT_INBOUND_DEFAULT;
	p->inbound_per_address = MS_TRANSPORT_INBOUND_PER_ADDR_DEFAULT;
}

const char *ms_link_reason_str(ms_link_reason r)
{
	switch (r) {
	case MS_LINK_NONE:
		return "none";
	case MS_LINK_CONNECT:
		return "connect";
	case MS_LINK_KEY:
		return "key";
	case MS_LINK_DENIED:
		return "denied";
	case MS_LINK_HANDSHAKE:
		return "handshake-timeout";
	case MS_LINK_LOST:
		return "lost";
	case MS_LINK_REASON_COUNT_:
		break;
	}
	return "unknown";
}

const char *ms_reject_reason_str(ms_reject_reason r)
{
	switch (r) {
	case MS_REJECT_HANDSHAKE:
		return "handshake";
	case MS_REJECT_MECHANISM:
		return "mechanism";
	case MS_REJECT_DENYLIST:
		return "denylist";
	case MS_REJECT_NOT_ALLOWED:
		return "not-allowed";
	case MS_REJECT_MALFORMED:
		return "malformed";
	case MS_REJECT_INBOUND_TOTAL:
		return "inbound_connections";
	case MS_REJECT_INBOUND_ADDR:
		return "inbound_per_address";
	case MS_REJECT_SILENT:
		return "hello_timeout";
	case MS_REJECT_REASON_COUNT_:
		break;
	}
	return "unknown";
}

int ms_conn_equal(const ms_conn *a, const ms_conn *b)
{
	if (a->dir != b->dir)
		return 0;
	if (a->dir == MS_CONN_OUT)
		return a->peer == b->peer;
	return a->rid_len == b->rid_len && a->rid_len <= MS_RID_MAX &&
	       memcmp(a->rid, b->rid, a->rid_len) == 0;
}

static void deliver(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                    const void *buf, size_t len)
{
	ms_transport *t = ctx;
	t->cbs.recv(t->cbs.ctx, c, peer_curve, buf, len);
}

static ms_err params_check(const ms_transport_params *p, ms_errbuf *eb)
{
	if (p->maxmsgsize <= 0)
		return ms_errf(eb, MS_EINVAL,
		               "transport: maxmsgsize %lld must be > 0",
		               (long long)p->maxmsgsize);
	if (p->heartbeat_ivl_ms <= 0 || p->heartbeat_timeout_ms <= 0 ||
	    p->handshake_ms <= 0 || p->linger_ms < 0)
		return ms_errf(
			eb, MS_EINVAL,
			"transport: heartbeat %d/%d ms, handshake %d ms, "
			"linger %d ms: times must be positive",
			p->heartbeat_ivl_ms, p->heartbeat_timeout_ms,
			p->handshake_ms, p->linger_ms);
	/* a link silent between two keepalives must not count as dead */
	if (p->heartbeat_timeout_ms <= p->heartbeat_ivl_ms)
		return ms_errf(eb, MS_EINVAL,
		               "transport: heartbeat timeout %d ms must be "
		               "longer than the interval %d ms",
		               p->heartbeat_timeout_ms, p->heartbeat_ivl_ms);
	/* 0 would mean "no limit" to ZeroMQ: exactly what must not happen */
	if (p->send_hwm < 1 || p->recv_hwm < 1)
		return ms_errf(eb, MS_EINVAL,
		               "transport: send_hwm %d, recv_hwm %d: must be "
		               "at least 1 message",
		               p->send_hwm, p->recv_hwm);
	if (p->inbound_connections < 1 ||
	    p->inbound_connections > MS_TRANSPORT_INBOUND_MAX ||
	    p->inbound_per_address < 1 ||
	    p->inbound_per_address > p->inbound_connections)
		return ms_errf(
			eb, MS_EINVAL,
			"transport: inbound_connections %d must be 1..%d "
			"and inbound_per_address %d 1..that",
			p->inbound_connections, MS_TRANSPORT_INBOUND_MAX,
			p->inbound_per_address);
	return MS_OK;
}

ms_err ms_transport_new(ms_transport **out, void *zctx, const ms_netkey *nk,
                        const ms_identity *id, const ms_transport_params *p,
                        const ms_transport_cbs *cbs, ms_errbuf *eb)
{
	ms_transport *t = NULL;
	ms_err err = MS_OK;

	*out = NULL;
	if (nk == NULL || id == NULL || cbs == NULL || cbs->recv == NULL ||
	    cbs->link == NULL)
		return ms_errf(
			eb, MS_EINVAL,
			"transport: network key, identity and the recv and "
			"link callbacks are required");
	if ((err = ms_crypto_init(eb)) != MS_OK)
		return err;

	t = calloc(1, sizeof *t);
	if (t == NULL)
		return ms_errf(eb, MS_ENOMEM, "transport: calloc failed");
	if (p != NULL)
		t->p = *p;
	else
		ms_transport_params_init(&t->p);
	if ((err = params_check(&t->p, eb)) != MS_OK)
		goto fail;
	t->cbs = *cbs;
	t->ops.send = ms_transport_send_raw;
	t->ops.send_ctx = t;
	t->ops.recv = deliver;
	t->ops.recv_ctx = t;
	t->next_peer = 1;
	t->mon_tag = randombytes_random();
	t->tcp = calloc((size_t)t->p.inbound_connections, sizeof *t->tcp);
	if (t->tcp == NULL) {
		err = ms_errf(eb, MS_ENOMEM, "transport: calloc failed");
		goto fail;
	}

	/* both secret keys in guarded memory, readable only while in use */
	t->secrets = sodium_malloc(MS_SECRETS_LEN);
	if (t->secrets == NULL) {
		err = ms_errf(eb, MS_ENOMEM, "transport: sodium_malloc failed");
		goto fail;
	}
	ms_netkey_listen_keypair(nk, t->listen_pk,
	                         t->secrets + MS_SECRET_LISTEN_SK);
	if ((err = ms_identity_curve_keypair(id, t->my_pk,
	                                     t->secrets + MS_SECRET_MY_SK,
	                                     eb)) != MS_OK)
		goto fail;
	(void)sodium_mprotect_noaccess(t->secrets);

	if (zctx != NULL) {
		t->zctx = zctx;
	} else {
		t->zctx = zmq_ctx_new();
		if (t->zctx == NULL) {
			err = zerr(eb, "zmq_ctx_new", NULL);
			goto fail;
		}
		t->own_zctx = 1;
	}
	if (!zmq_has("curve")) {
		err = ms_errf(eb, MS_ENET,
		              "transport: libzmq was built without CURVE");
		goto fail;
	}

	/* ZAP first, closed last: libzmq admits every CURVE client unchecked
	 * when no handler is bound (ZMQ_ZAP_ENFORCE_DOMAIN, which would refuse
	 * instead, is draft API in 4.3.4), so the ROUTER must never exist
	 * without it. */
	if ((err = ms_zap_bind(t, eb)) != MS_OK)
		goto fail;

	t->router = zmq_socket(t->zctx, ZMQ_ROUTER);
	if (t->router == NULL) {
		err = zerr(eb, "zmq_socket(ROUTER)", NULL);
		goto fail;
	}
	if ((err = common_opts(t, t->router, eb)) != MS_OK)
		goto fail;
	/* the secret key itself is set around each bind (listen_secret) */
	SETINT(t->router, ZMQ_CURVE_SERVER, 1, eb);
	if ((err = setopt(t->router, ZMQ_ZAP_DOMAIN, MS_TRANSPORT_ZAP_DOMAIN,
	                  strlen(MS_TRANSPORT_ZAP_DOMAIN), "ZMQ_ZAP_DOMAIN",
	                  eb)) != MS_OK)
		goto fail;
	/* a dialer that reconnects with the same routing id replaces the stale
	 * connection at once instead of being refused until it times out */
	SETINT(t->router, ZMQ_ROUTER_HANDOVER, 1, eb);
	/* sending to a routing id that is gone fails (EHOSTUNREACH) instead of
	 * being dropped silently */
	SETINT(t->router, ZMQ_ROUTER_MANDATORY, 1, eb);
	if ((err = monitor_open(t, t->router,
	                        ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
	                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	                                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
	                        &t->router_mon, eb)) != MS_OK)
		goto fail;

	*out = t;
	return MS_OK;
fail:
	ms_transport_free(&t);
	return err;
}

static void dial_close(ms_dial *d)
{
	sock_close(d->sock, d->mon);
	d->sock = NULL;
	d->mon = NULL;
}

void ms_transport_free(ms_transport **tp)
{
	ms_transport *t;

	if (tp == NULL || *tp == NULL)
		return;
	t = *tp;
	for (size_t i = 0; i < t->ndials; i++)
		dial_close(&t->dials[i]);
	free(t->dials);
	sock_close(t->router, t->router_mon);
	if (t->zap != NULL)
		zmq_close(t->zap);
	if (t->own_zctx)
		(void)zmq_ctx_term(t->zctx);
	free(t->in);
	free(t->tcp);
	ms_zap_acl_free(t);
	sodium_free(t->secrets); /* wipes */
	free(t);
	*tp = NULL;
}

/* The ROUTER's CURVE secret: the real one (on) for a bind, which copies
 * the socket's options into its listener, and junk again after it (off),
 * so that the socket's own copy does not outlive its use. */
static ms_err listen_secret(ms_transport *t, int on, ms_errbuf *eb)
{
	uint8_t junk[MS_CURVE_LEN];
	ms_err err;

	if (!on) {
		randombytes_buf(junk, sizeof junk);
		return setopt(t->router, ZMQ_CURVE_SECRETKEY, junk, sizeof junk,
		              "ZMQ_CURVE_SECRETKEY", eb);
	}
	(void)sodium_mprotect_readonly(t->secrets);
	err = setopt(t->router, ZMQ_CURVE_SECRETKEY,
	             t->secrets + MS_SECRET_LISTEN_SK, MS_CURVE_LEN,
	             "ZMQ_CURVE_SECRETKEY", eb);
	(void)sodium_mprotect_noaccess(t->secrets);
	return err;
}

ms_err ms_transport_listen(ms_transport *t, const char *endpoint, char *bound,
                           size_t bound_len, ms_errbuf *eb)
{
	ms_err err;
	int rc;

	if (endpoint == NULL)
		return ms_errf(eb, MS_EINVAL,
		               "transport: listen endpoint missing");
	if ((err = listen_secret(t, 1, eb)) != MS_OK)
		return err;
	rc = zmq_bind(t->router, endpoint);
	err = rc != 0 ? zerr(eb, "zmq_bind", endpoint) : MS_OK;
	(void)listen_secret(t, 0, NULL);
	if (err != MS_OK)
		return err;
	if (bound != NULL && bound_len > 0) {
		size_t len = bound_len;
		if (zmq_getsockopt(t->router, ZMQ_LAST_ENDPOINT, bound, &len) !=
		    0)
			return zerr(eb, "zmq_getsockopt", "ZMQ_LAST_ENDPOINT");
	}
	return MS_OK;
}

const uint8_t *ms_transport_curve_pk(const ms_transport *t)
{
	return t->my_pk;
}

void ms_transport_stats_get(const ms_transport *t, ms_transport_stats *out)
{
	*out = t->st;
}

void ms_transport_ops_get(const ms_transport *t, ms_link_ops *out)
{
	*out = t->ops;
}

void ms_transport_ops_set(ms_transport *t, const ms_link_ops *ops)
{
	t->ops = *ops;
}

/* ------------------------------------------------------------------ dials */

static ms_dial *dial_find(ms_transport *t, uint32_t peer)
{
	for (size_t i = 0; i < t->ndials; i++)
		if (t->dials[i].peer == peer)
			return &t->dials[i];
	return NULL;
}

/* Close a dial and drop it from the table (order is not kept). */
static void dial_remove(ms_transport *t, ms_dial *d)
{
	size_t i = (size_t)(d - t->dials);
	dial_close(d);
	t->dials[i] = t->dials[t->ndials - 1];
	t->ndials--;
}

ms_err ms_transport_dial(ms_transport *t, const char *endpoint, uint32_t *peer,
                         ms_errbuf *eb)
{
	ms_dial d = {0};
	ms_err err = MS_OK;

	*peer = 0;
	if (endpoint == NULL)
		return ms_errf(eb, MS_EINVAL,
		               "transport: dial endpoint missing");
	if (t->next_peer == 0)
		return ms_errf(eb, MS_EFULL,
		               "transport: dial handles exhausted");
	if (t->ndials == t->capdials) {
		size_t cap = t->capdials ? 2 * t->capdials : 8;
		ms_dial *nd = realloc(t->dials, cap * sizeof *nd);
		if (nd == NULL)
			return ms_errf(eb, MS_ENOMEM,
			               "transport: dial table realloc");
		t->dials = nd;
		t->capdials = cap;
	}

	d.sock = zmq_socket(t->zctx, ZMQ_DEALER);
	if (d.sock == NULL)
		return zerr(eb, "zmq_socket(DEALER)", NULL);
	if ((err = common_opts(t, d.sock, eb)) != MS_OK)
		goto fail;
	/* ours is the only retry mechanism (DESIGN, Links) */
	SETINT(d.sock, ZMQ_RECONNECT_IVL, -1, eb);
	SETINT(d.sock, ZMQ_CONNECT_TIMEOUT, t->p.handshake_ms, eb);
	if ((err = setopt(d.sock, ZMQ_CURVE_SERVERKEY, t->listen_pk,
	                  MS_CURVE_LEN, "ZMQ_CURVE_SERVERKEY", eb)) != MS_OK)
		goto fail;
	if ((err = setopt(d.sock, ZMQ_CURVE_PUBLICKEY, t->my_pk, MS_CURVE_LEN,
	                  "ZMQ_CURVE_PUBLICKEY", eb)) != MS_OK)
		goto fail;
	(void)sodium_mprotect_readonly(t->secrets);
	err = setopt(d.sock, ZMQ_CURVE_SECRETKEY, t->secrets + MS_SECRET_MY_SK,
	             MS_CURVE_LEN, "ZMQ_CURVE_SECRETKEY", eb);
	(void)sodium_mprotect_noaccess(t->secrets);
	if (err != MS_OK)
		goto fail;
	if ((err = monitor_open(t, d.sock,
	                        ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CLOSED |
	                                ZMQ_EVENT_DISCONNECTED |
	                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	                                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH,
	                        &d.mon, eb)) != MS_OK)
		goto fail;
	if (zmq_connect(d.sock, endpoint) != 0) {
		err = zerr(eb, "zmq_connect", endpoint);
		goto fail;
	}
	/* zmq_connect gave the connection its own copy of the options and
	 * the DEALER never reconnects, so the socket's copy of our secret is
	 * no longer needed: overwrite it.  The connection's copies (session,
	 * CURVE mechanism) live on in ZeroMQ's heap until it closes, and are
	 * not wiped then (docs/security.md). */
	{
		uint8_t junk[MS_CURVE_LEN];
		randombytes_buf(junk, sizeof junk);
		(void)zmq_setsockopt(d.sock, ZMQ_CURVE_SECRETKEY, junk,
		                     sizeof junk);
	}
	d.peer = t->next_peer++;
	t->dials[t->ndials++] = d;
	t->st.dials++;
	*peer = d.peer;
	return MS_OK;
fail:
	sock_close(d.sock, d.mon);
	return err;
}

void ms_transport_hangup(ms_transport *t, uint32_t peer)
{
	ms_dial *d = dial_find(t, peer);
	if (d != NULL)
		dial_remove(t, d);
}

/* ------------------------------------------------------------------- send */

ms_err ms_transport_send(ms_transport *t, const ms_conn *c, const void *buf,
                         size_t len, int flags, ms_errbuf *eb)
{
	return t->ops.send(t->ops.send_ctx, c, buf, len, flags, eb);
}

static void in_remove_at(ms_transport *t, size_t i)
{
	memmove(&t->in[i], &t->in[i + 1], (t->nin - i - 1) * sizeof t->in[0]);
	t->nin--;
}

static void tomb_add(ms_transport *t, const uint8_t *rid, size_t rid_len)
{
	ms_rid *g = &t->gone[t->gone_next];

	g->len = rid_len;
	memcpy(g->b, rid, rid_len);
	t->gone_next = (t->gone_next + 1) % MS_TRANSPORT_TOMBSTONES;
	if (t->ngone < MS_TRANSPORT_TOMBSTONES)
		t->ngone++;
}

static int tomb_has(const ms_transport *t, const uint8_t *rid, size_t rid_len)
{
	for (size_t i = 0; i < t->ngone; i++)
		if (t->gone[i].len == rid_len &&
		    memcmp(t->gone[i].b, rid, rid_len) == 0)
			return 1;
	return 0;
}

static ms_inconn *in_find(ms_transport *t, const uint8_t *rid, size_t rid_len)
{
	for (size_t i = 0; i < t->nin; i++)
		if (t->in[i].rid_len == rid_len &&
		    memcmp(t->in[i].rid, rid, rid_len) == 0)
			return &t->in[i];
	return NULL;
}

/* Hand one frame to ZeroMQ on c (no checks of size); marks c as having
 * sent.  MS_ENOTFOUND for an inbound connection also marks it dead, for
 * the next ms_transport_process to report. */
static ms_err frame_send(ms_transport *t, const ms_conn *c, const void *buf,
                         size_t len, int zflags, ms_errbuf *eb)
{
	if (c->dir == MS_CONN_OUT) {
		ms_dial *d = dial_find(t, c->peer);
		if (d == NULL)
			return ms_errf(eb, MS_ENOTFOUND,
			               "transport send: no dial %u",
			               (unsigned)c->peer);
		if (zmq_send(d->sock, buf, len, zflags) < 0)
			return zerr(eb, "zmq_send", "DEALER");
		d->alive.sent = 1;
	} else if (c->dir == MS_CONN_IN) {
		ms_inconn *ic;
		if (c->rid_len == 0 || c->rid_len > MS_RID_MAX)
			return ms_errf(eb, MS_EINVAL,
			               "transport send: bad routing id");
		/* only to connections we told the caller about and not since
		 * reported down: ZeroMQ may not have noticed the loss yet */
		ic = in_find(t, c->rid, c->rid_len);
		if (ic == NULL || ic->dead)
			return ms_errf(
				eb, MS_ENOTFOUND,
				"transport send: inbound connection is gone");
		if (zmq_send(t->router, c->rid, c->rid_len,
		             zflags | ZMQ_SNDMORE) < 0) {
			ms_err e = zerr(eb, "zmq_send", "ROUTER");
			/* gone: the next ms_transport_process reports its DOWN
			 * (not from here: callbacks must not run inside send) */
			if (e == MS_ENOTFOUND)
				ic->dead = 1;
			return e;
		}
		/* the routing frame was accepted, so the pipe had room: the body
		 * goes too (ZeroMQ queues multipart messages whole) */
		if (zmq_send(t->router, buf, len, zflags) < 0)
			return zerr(eb, "zmq_send", "ROUTER body");
		ic->alive.sent = 1;
	} else {
		return ms_errf(eb, MS_EINVAL,
		               "transport send: bad direction %d", (int)c->dir);
	}
	return MS_OK;
}

ms_err ms_transport_send_raw(void *transport, const ms_conn *c, const void *buf,
                             size_t len, int flags, ms_errbuf *eb)
{
	ms_transport *t = transport;
	int zflags = (flags & MS_SEND_WAIT) ? 0 : ZMQ_DONTWAIT;
	ms_err e;

	if (c == NULL || buf == NULL)
		return ms_errf(eb, MS_EINVAL,
		               "transport send: no connection or buffer");
	/* an empty message is a keepalive to the far end, never delivered */
	if (len == 0)
		return ms_errf(eb, MS_EINVAL,
		               "transport send: empty messages are keepalives");
	if ((int64_t)len > t->p.maxmsgsize || len > (size_t)INT64_MAX)
		return ms_errf(
			eb, MS_EINVAL,
			"transport send: %zu bytes exceeds maxmsgsize %lld",
			len, (long long)t->p.maxmsgsize);
	e = frame_send(t, c, buf, len, zflags, eb);
	if (e == MS_EBUSY)
		t->st.tx_busy++;
	if (e != MS_OK)
		return e;
	t->st.tx_msgs++;
	t->st.tx_bytes += len;
	return MS_OK;
}

/* ---------------------------------------------------------------- receive */

int ms_transport_pollitems(const ms_transport *t, zmq_pollitem_t *items,
                           int cap)
{
	int need = 3 + 2 * (int)t->ndials, n = 0;

	if (items == NULL || cap < need)
		return need;
	items[n++] = (zmq_pollitem_t){t->zap, 0, ZMQ_POLLIN, 0};
	items[n++] = (zmq_pollitem_t){t->router_mon, 0, ZMQ_POLLIN, 0};
	items[n++] = (zmq_pollitem_t){t->router, 0, ZMQ_POLLIN, 0};
	for (size_t i = 0; i < t->ndials; i++) {
		items[n++] = (zmq_pollitem_t){t->dials[i].mon, 0, ZMQ_POLLIN,
		                              0};
		items[n++] = (zmq_pollitem_t){t->dials[i].sock, 0, ZMQ_POLLIN,
		                              0};
	}
	return n;
}

static void link_in(ms_transport *t, const ms_inconn *ic, ms_link_event ev,
                    ms_link_reason why)
{
	ms_conn c = {.dir = MS_CONN_IN, .rid_len = ic->rid_len};
	uint8_t curve[MS_CURVE_LEN];

	memcpy(c.rid, ic->rid, ic->rid_len);
	memcpy(curve, ic->curve, sizeof curve);
	t->cbs.link(t->cbs.ctx, &c, ev, why, curve);
}

/* ------------------------------------------------- inbound connections */

static ms_tcpconn *tcp_find(ms_transport *t, int fd)
{
	for (size_t i = 0; i < t->ntcp; i++)
		if (t->tcp[i].fd == fd)
			return &t->tcp[i];
	return NULL;
}

static int tcp_seq_live(const ms_transport *t, uint64_t seq)
{
	for (size_t i = 0; i < t->ntcp; i++)
		if (t->tcp[i].seq == seq)
			return 1;
	return 0;
}

/* Remove entry i, keeping accept order (oldest first). */
static void tcp_remove_at(ms_transport *t, size_t i)
{
	memmove(&t->tcp[i], &t->tcp[i + 1],
	        (t->ntcp - i - 1) * sizeof t->tcp[0]);
	t->ntcp--;
}

static void tcp_gone(ms_transport *t, int fd)
{
	ms_tcpconn *c = tcp_find(t, fd);
	if (c != NULL)
		tcp_remove_at(t, (size_t)(c - t->tcp));
}

/* The remote IP of sa as text; IPv4-mapped IPv6 as plain IPv4, so one
 * host counts as one address whichever socket family accepted it. */
static void addr_text(const struct sockaddr_storage *sa, char *out, size_t cap)
{
	const void *a = NULL;
	int fam = sa->ss_family;
	struct in_addr v4;

	if (fam == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (fam == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(&v4, &a6->s6_addr[12], sizeof v4);
			a = &v4;
			fam = AF_INET;
		} else {
			a = a6;
		}
	}
	if (a == NULL || inet_ntop(fam, a, out, (socklen_t)cap) == NULL)
		snprintf(out, cap, "?");
}

/* Close the connection c through its fd, but only if the fd still is
 * that connection (same remote address and port): ZeroMQ may have closed
 * it and the number been reused since the event was queued. */
static void tcp_shut(const ms_tcpconn *c)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;

	memset(&sa, 0, sizeof sa);
	if (getpeername(c->fd, (struct sockaddr *)&sa, &len) == 0 &&
	    len == c->salen && memcmp(&sa, &c->sa, len) == 0)
		(void)shutdown(c->fd, SHUT_RDWR);
}

/* The oldest connection (of addr, or any when NULL) that has delivered
 * no message, so has no session: index, or -1. */
static long tcp_victim(const ms_transport *t, const char *addr)
{
	for (size_t i = 0; i < t->ntcp; i++) {
		const ms_tcpconn *c = &t->tcp[i];
		if (c->established ||
		    (addr != NULL && strcmp(c->addr, addr) != 0))
			continue;
		return (long)i;
	}
	return -1;
}

/* ZeroMQ accepted a connection on fd: track it, within the inbound
 * budgets (see ms_transport_params). */
static void tcp_accepted(ms_transport *t, int fd)
{
	ms_tcpconn c;
	size_t same = 0;
	ms_reject_reason why = 0;
	long victim = -1;

	memset(&c, 0, sizeof c);
	c.fd = fd;
	c.salen = sizeof c.sa;
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&c.sa, &c.salen) != 0)
		return;  /* already closed: its DISCONNECTED follows */
	tcp_gone(t, fd); /* an entry left under a reused number */
	addr_text(&c.sa, c.addr, sizeof c.addr);
	for (size_t i = 0; i < t->ntcp; i++)
		if (strcmp(t->tcp[i].addr, c.addr) == 0)
			same++;
	if (same >= (size_t)t->p.inbound_per_address) {
		why = MS_REJECT_INBOUND_ADDR;
		victim = tcp_victim(t, c.addr);
		t->st.in_refused_addr++;
	} else if (t->ntcp >= (size_t)t->p.inbound_connections) {
		why = MS_REJECT_INBOUND_TOTAL;
		victim = tcp_victim(t, NULL);
		t->st.in_refused_total++;
	}
	if (why != 0) {
		char addr[MS_ADDR_TEXT_MAX];
		if (victim < 0) {
			/* every one counted is established: the newcomer goes */
			snprintf(addr, sizeof addr, "%s", c.addr);
			tcp_shut(&c);
		} else {
			snprintf(addr, sizeof addr, "%s", t->tcp[victim].addr);
			tcp_shut(&t->tcp[victim]);
			tcp_remove_at(t, (size_t)victim);
		}
		if (t->cbs.reject != NULL)
			t->cbs.reject(t->cbs.ctx, why, NULL, addr);
		if (victim < 0)
			return;
	}
	c.seq = ++t->tcp_seq;
	t->tcp[t->ntcp++] = c;
}

int ms_transport_close_silent(ms_transport *t, uint64_t now_ms,
                              uint64_t after_ms)
{
	int n = 0;
	size_t i = 0;

	while (i < t->ntcp) {
		ms_tcpconn *c = &t->tcp[i];
		char addr[MS_ADDR_TEXT_MAX];

		uint64_t limit = c->released ? MS_TRANSPORT_RELEASE_GRACE_MS
		                             : after_ms;

		if (c->established) {
			i++;
			continue;
		}
		if (c->seen_ms == 0)
			c->seen_ms = now_ms > 0 ? now_ms : 1;
		if (now_ms - c->seen_ms < limit) {
			i++;
			continue;
		}
		snprintf(addr, sizeof addr, "%s", c->addr);
		tcp_shut(c);
		tcp_remove_at(t, i);
		n++;
		if (c->released) {
			/* its session is over: not a refusal, no line */
			t->st.in_released_closed++;
		} else {
			t->st.in_silent++;
			if (t->cbs.reject != NULL)
				t->cbs.reject(t->cbs.ctx, MS_REJECT_SILENT,
				              NULL, addr);
		}
	}
	return n;
}

void ms_transport_release(ms_transport *t, const ms_conn *c)
{
	ms_inconn *ic;

	if (c == NULL || c->dir != MS_CONN_IN || c->rid_len == 0 ||
	    c->rid_len > MS_RID_MAX)
		return;
	ic = in_find(t, c->rid, c->rid_len);
	for (size_t i = 0; ic != NULL && i < t->ntcp; i++)
		if (t->tcp[i].seq == ic->tcp_seq) {
			t->tcp[i].established = 0;
			t->tcp[i].released = 1;
			t->tcp[i].seen_ms = 0; /* the grace counts from here */
		}
}

/* ROUTER monitor: counters, handshake rejections, inbound DOWN. */
static int router_events(ms_transport *t)
{
	int done = 0;
	uint16_t ev;
	uint32_t val;

	while (done < MS_TRANSPORT_BUDGET &&
	       monitor_read(t->router_mon, &ev, &val)) {
		done++;
		switch (ev) {
		case ZMQ_EVENT_ACCEPTED:
			t->st.in_accepted++;
			tcp_accepted(t, (int)val);
			break;
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			/* val is 0 here, not the fd (libzmq 4.3): a connection
			 * counts as established by its first message (in_note) */
			t->st.in_handshake_ok++;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			/* the dialer's HELLO did not decrypt under our listening
			 * key: another network key, or not meshsync at all */
			t->st.in_handshake_fail++;
			if (t->cbs.reject != NULL)
				t->cbs.reject(t->cbs.ctx, MS_REJECT_HANDSHAKE,
				              NULL, "");
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
			break; /* counted and reported by the ZAP handler */
		case ZMQ_EVENT_DISCONNECTED:
			/* every routing id last heard on this fd is gone; its
			 * DOWN waits for what it left in the ROUTER (in_sweep) */
			for (size_t i = 0; i < t->nin; i++)
				if (t->in[i].fd == (int)val)
					t->in[i].closing = 1;
			tcp_gone(t, (int)val);
			break;
		default:
			break;
		}
	}
	return done;
}

/* Report the inbound connections a send found gone or ZeroMQ reported
 * closed (after their queued messages were delivered). */
static int in_sweep(ms_transport *t)
{
	int done = 0;
	size_t i = 0;

	while (i < t->nin) {
		if (t->in[i].dead || t->in[i].closing) {
			ms_inconn gone = t->in[i];
			in_remove_at(t, i);
			tomb_add(t, gone.rid, gone.rid_len);
			t->st.in_lost++;
			link_in(t, &gone, MS_LINK_DOWN, MS_LINK_LOST);
			done++;
		} else {
			i++;
		}
	}
	return done;
}

/* Record (or refresh) the inbound connection a message came from; 0 when
 * the message must be dropped: it cannot be tracked (no memory), or its
 * connection was already found or reported gone. */
static int in_note(ms_transport *t, const uint8_t *rid, size_t rid_len, int fd,
                   const uint8_t curve[MS_CURVE_LEN])
{
	ms_inconn *ic = in_find(t, rid, rid_len);

	if (ic != NULL && !ic->dead &&
	    memcmp(ic->curve, curve, MS_CURVE_LEN) == 0) {
		if (!ic->closing && ic->fd != fd) {
			ms_tcpconn *tc = tcp_find(t, fd);
			ic->fd = fd;
			ic->tcp_seq = tc != NULL ? tc->seq : 0;
			if (tc != NULL && !tc->released)
				tc->established = 1;
		}
		return 1;
	}
	if (ic == NULL && tomb_has(t, rid, rid_len))
		return 0; /* left behind by a connection already reported down */
	if (ic != NULL && ic->dead &&
	    memcmp(ic->curve, curve, MS_CURVE_LEN) == 0)
		return 0; /* the same dialer's connection, found gone: its DOWN
		           * follows (in_sweep), not a new UP */
	if (ic != NULL) {
		/* another dialer took this routing id over (ROUTER_HANDOVER):
		 * the previous holder's connection is gone */
		ms_inconn gone = *ic;
		in_remove_at(t, (size_t)(ic - t->in));
		t->st.in_lost++;
		link_in(t, &gone, MS_LINK_DOWN, MS_LINK_LOST);
	}
	if (t->nin == MS_TRANSPORT_MAX_IN) {
		/* full: live connections are fewer (inbound_connections), so
		 * some entry's connection is gone and only its DOWN was missed
		 * (see the fd note above); that one makes room.  An entry of a
		 * live connection is never pushed out. */
		size_t i = 0;
		ms_inconn gone;
		while (i < t->nin && t->in[i].tcp_seq != 0 &&
		       tcp_seq_live(t, t->in[i].tcp_seq))
			i++;
		if (i == t->nin)
			return 0; /* cannot happen; drop rather than evict */
		gone = t->in[i];
		in_remove_at(t, i);
		tomb_add(t, gone.rid, gone.rid_len);
		t->st.in_lost++;
		link_in(t, &gone, MS_LINK_DOWN, MS_LINK_LOST);
	}
	if (t->nin == t->capin) {
		size_t cap = t->capin ? 2 * t->capin : 16;
		ms_inconn *n = realloc(t->in, cap * sizeof *n);
		if (n == NULL)
			return 0; /* untracked: the message is dropped */
		t->in = n;
		t->capin = cap;
	}
	ic = &t->in[t->nin++];
	memset(ic, 0, sizeof *ic);
	ic->rid_len = rid_len;
	memcpy(ic->rid, rid, rid_len);
	ic->fd = fd;
	{
		/* a message came through: the handshake and ZAP are done and
		 * a session may start on it, so it is established */
		ms_tcpconn *tc = tcp_find(t, fd);
		ic->tcp_seq = tc != NULL ? tc->seq : 0;
		if (tc != NULL)
			tc->established = 1;
	}
	memcpy(ic->curve, curve, MS_CURVE_LEN);
	{
		ms_inconn copy = *ic; /* the callback may reshape the table */
		link_in(t, &copy, MS_LINK_UP, MS_LINK_NONE);
	}
	return 1;
}

/* Discard the remaining frames of a message. */
static void drain_frames(void *s)
{
	int more = 1;
	for (int i = 0; more && i < 1024; i++) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
}

/* One inbound message: 1 if one was read (delivered or dropped), 0 if none. */
static int router_one(ms_transport *t)
{
	zmq_msg_t rid, body;
	const char *uid;
	uint8_t curve[MS_CURVE_LEN];
	ms_conn c = {.dir = MS_CONN_IN};
	int fd;

	zmq_msg_init(&rid);
	if (zmq_msg_recv(&rid, t->router, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&rid);
		return 0;
	}
	if (!zmq_msg_more(&rid) || zmq_msg_size(&rid) == 0 ||
	    zmq_msg_size(&rid) > MS_RID_MAX) {
		t->st.rx_dropped++;
		if (zmq_msg_more(&rid))
			drain_frames(t->router);
		zmq_msg_close(&rid);
		return 1;
	}
	zmq_msg_init(&body);
	if (zmq_msg_recv(&body, t->router, ZMQ_DONTWAIT) < 0) {
		t->st.rx_dropped++;
		goto done;
	}
	if (zmq_msg_more(&body)) {
		/* our protocol is one frame per message */
		drain_frames(t->router);
		t->st.rx_dropped++;
		goto done;
	}
	/* the ZAP handler set User-Id to the dialer's key; metadata is on
	 * the body frame, not on the routing frame */
	uid = zmq_msg_gets(&body, "User-Id");
	if (uid == NULL || ms_unhex(curve, sizeof curve, uid) != 0) {
		t->st.rx_dropped++;
		goto done;
	}
	fd = zmq_msg_get(&body, ZMQ_SRCFD);
	/* Events the ROUTER monitor queued before this message (the close of
	 * an earlier connection on the same fd) must be applied before we tie
	 * this routing id to fd. */
	router_events(t);
	c.rid_len = zmq_msg_size(&rid);
	memcpy(c.rid, zmq_msg_data(&rid), c.rid_len);
	if (zmq_msg_size(&body) == 0) {
		/* a keepalive: life for a connection we know, nothing else.
		 * It neither opens a connection (UP) nor establishes it, so a
		 * dialer that only sends these is still closed as silent. */
		ms_inconn *ic = in_find(t, c.rid, c.rid_len);
		t->st.ka_recv++;
		if (ic != NULL && !ic->dead &&
		    memcmp(ic->curve, curve, MS_CURVE_LEN) == 0)
			ic->alive.heard = 1;
		goto done;
	}
	if (!in_note(t, c.rid, c.rid_len, fd, curve)) {
		t->st.rx_dropped++;
		goto done;
	}
	{
		ms_inconn *ic = in_find(t, c.rid, c.rid_len);
		if (ic != NULL)
			ic->alive.heard = 1;
	}
	t->st.rx_msgs++;
	t->st.rx_bytes += zmq_msg_size(&body);
	t->ops.recv(t->ops.recv_ctx, &c, curve, zmq_msg_data(&body),
	            zmq_msg_size(&body));
done:
	zmq_msg_close(&body);
	zmq_msg_close(&rid);
	return 1;
}

/* Read messages from one dial; the dial may vanish in a callback, so it is
 * looked up by handle each time.  Returns messages handled. */
static int dial_messages(ms_transport *t, uint32_t peer, int budget)
{
	int done = 0;
	ms_conn c = {.dir = MS_CONN_OUT, .peer = peer};

	while (done < budget) {
		ms_dial *d = dial_find(t, peer);
		zmq_msg_t m;

		if (d == NULL)
			break;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, d->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		done++;
		d->alive.heard = 1;
		if (zmq_msg_more(&m)) {
			drain_frames(d->sock);
			t->st.rx_dropped++;
		} else if (zmq_msg_size(&m) == 0) {
			t->st.ka_recv++; /* a keepalive: life, nothing to deliver */
		} else {
			t->st.rx_msgs++;
			t->st.rx_bytes += zmq_msg_size(&m);
			t->ops.recv(t->ops.recv_ctx, &c, NULL, zmq_msg_data(&m),
			            zmq_msg_size(&m));
		}
		zmq_msg_close(&m);
	}
	return done;
}

/* The dial's connection is over: deliver what it had received, close it,
 * then report DOWN (so the callback may dial again at once). */
static void dial_down(ms_transport *t, uint32_t peer, ms_link_reason why)
{
	ms_conn c = {.dir = MS_CONN_OUT, .peer = peer};
	ms_dial *d;

	(void)dial_messages(t, peer, MS_TRANSPORT_BUDGET);
	d = dial_find(t, peer);
	if (d == NULL)
		return; /* hung up from a recv callback: no DOWN owed */
	dial_remove(t, d);
	t->st.out_down[why]++;
	t->cbs.link(t->cbs.ctx, &c, MS_LINK_DOWN, why, NULL);
}

static int dial_events(ms_transport *t, uint32_t peer)
{
	int done = 0;
	uint16_t ev;
	uint32_t val;

	while (done < MS_TRANSPORT_BUDGET) {
		ms_dial *d = dial_find(t, peer);
		ms_conn c = {.dir = MS_CONN_OUT, .peer = peer};

		if (d == NULL || !monitor_read(d->mon, &ev, &val))
			break;
		done++;
		switch (ev) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			d->up = 1;
			t->st.out_up++;
			t->cbs.link(t->cbs.ctx, &c, MS_LINK_UP, MS_LINK_NONE,
			            NULL);
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
			/* the listener's ZAP handler said no (val = status) */
			d->fail = MS_LINK_DENIED;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
			d->fail = MS_LINK_KEY;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			/* A listener whose key differs cannot decrypt our HELLO and
			 * hangs up: we see the connection closed mid-handshake.
			 * Anything else here is our handshake timer running out. */
			if (d->fail == MS_LINK_NONE)
				d->fail = (val == EPIPE || val == ECONNRESET)
				                  ? MS_LINK_KEY
				                  : MS_LINK_HANDSHAKE;
			break;
		case ZMQ_EVENT_DISCONNECTED:
			dial_down(t, peer,
			          d->up ? MS_LINK_LOST
			                : (d->fail != MS_LINK_NONE
			                           ? d->fail
			                           : MS_LINK_HANDSHAKE));
			break;
		case ZMQ_EVENT_CLOSED:
			/* with reconnection off, CLOSED without a connection means
			 * the TCP connect failed and nothing more will happen */
			dial_down(t, peer,
			          d->up ? MS_LINK_LOST : MS_LINK_CONNECT);
			break;
		default:
			break;
		}
	}
	return done;
}

/* Turn the flags the send and receive paths raised into clocks at now;
 * excess_ms of silence (the caller was late) is not counted against the
 * peer. */
static void alive_stamp(ms_alive *a, uint64_t now_ms, uint64_t excess_ms)
{
	if (a->heard_ms == 0 || a->heard)
		a->heard_ms = now_ms;
	else
		a->heard_ms = a->heard_ms + excess_ms < now_ms
		                      ? a->heard_ms + excess_ms
		                      : now_ms;
	if (a->sent_ms == 0 || a->sent)
		a->sent_ms = now_ms;
	a->heard = a->sent = 0;
}

/* Send a keepalive on c if it sent nothing for heartbeat_ivl_ms; then fold
 * its deadlines into *next.  Returns 1 when c was silent too long. */
static int alive_check(ms_transport *t, const ms_conn *c, ms_alive *a,
                       uint64_t now_ms, uint64_t excess_ms, uint64_t *next)
{
	uint64_t ivl = (uint64_t)t->p.heartbeat_ivl_ms;
	uint64_t tmo = (uint64_t)t->p.heartbeat_timeout_ms;

	alive_stamp(a, now_ms, excess_ms);
	if (now_ms - a->heard_ms >= tmo)
		return 1;
	if (now_ms - a->sent_ms >= ivl) {
		/* never blocks: a full queue already holds our data for the
		 * peer, which is as good a sign of life once it reads it */
		ms_err e = frame_send(t, c, NULL, 0, ZMQ_DONTWAIT, NULL);
		if (e == MS_OK) {
			t->st.ka_sent++;
		} else {
			t->st.ka_skipped++;
		}
		/* sent or not, the next try is an interval away */
		a->sent_ms = now_ms;
		a->sent = 0;
	}
	if (a->sent_ms + ivl < *next)
		*next = a->sent_ms + ivl;
	if (a->heard_ms + tmo < *next)
		*next = a->heard_ms + tmo;
	return 0;
}

/* An inbound connection silent for the timeout: report it down, remember
 * its routing id, and shut its TCP connection (ZeroMQ cannot close one
 * routing id of a ROUTER; the dialer then sees its link lost). */
static void in_expire(ms_transport *t, const ms_rid *r)
{
	ms_inconn *ic = in_find(t, r->b, r->len);
	ms_inconn gone;

	if (ic == NULL || ic->dead || ic->closing)
		return; /* already on its way down: in_sweep reports it */
	gone = *ic;
	in_remove_at(t, (size_t)(ic - t->in));
	tomb_add(t, gone.rid, gone.rid_len);
	for (size_t i = 0; gone.tcp_seq != 0 && i < t->ntcp; i++)
		if (t->tcp[i].seq == gone.tcp_seq) {
			tcp_shut(&t->tcp[i]);
			tcp_remove_at(t, i);
			break;
		}
	t->st.in_lost++;
	t->st.ka_timeout++;
	link_in(t, &gone, MS_LINK_DOWN, MS_LINK_LOST);
}

/* Connections found silent in one keepalive call are closed after the
 * scan (their callbacks may reshape the tables); more wait for the next
 * call, which is then due at once. */
#define KA_EXPIRE_MAX 64

uint64_t ms_transport_keepalive(ms_transport *t, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX, excess = 0;
	uint64_t ivl = (uint64_t)t->p.heartbeat_ivl_ms;
	uint32_t dead_out[KA_EXPIRE_MAX];
	ms_rid dead_in[KA_EXPIRE_MAX];
	size_t nout = 0, nin = 0;

	if (now_ms == 0)
		now_ms = 1; /* 0 means "not stamped" in the clocks */
	if (t->ka_last_ms != 0 && now_ms > t->ka_last_ms + ivl)
		excess = now_ms - t->ka_last_ms - ivl;
	t->ka_last_ms = now_ms;

	for (size_t i = 0; i < t->ndials; i++) {
		ms_dial *d = &t->dials[i];
		ms_conn c = {.dir = MS_CONN_OUT, .peer = d->peer};

		if (!d->up || d->fail != MS_LINK_NONE)
			continue; /* the handshake timer watches it */
		if (alive_check(t, &c, &d->alive, now_ms, excess, &next)) {
			if (nout < KA_EXPIRE_MAX)
				dead_out[nout++] = d->peer;
			else
				next = now_ms;
		}
	}
	for (size_t i = 0; i < t->nin; i++) {
		ms_inconn *ic = &t->in[i];
		ms_conn c = {.dir = MS_CONN_IN, .rid_len = ic->rid_len};

		if (ic->dead || ic->closing)
			continue; /* its DOWN is already due */
		memcpy(c.rid, ic->rid, ic->rid_len);
		if (alive_check(t, &c, &ic->alive, now_ms, excess, &next)) {
			if (nin < KA_EXPIRE_MAX) {
				dead_in[nin].len = ic->rid_len;
				memcpy(dead_in[nin].b, ic->rid, ic->rid_len);
				nin++;
			} else {
				next = now_ms;
			}
		}
	}
	for (size_t i = 0; i < nout; i++) {
		if (dial_find(t, dead_out[i]) == NULL)
			continue; /* hung up by an earlier callback */
		t->st.ka_timeout++;
		dial_down(t, dead_out[i], MS_LINK_LOST);
	}
	for (size_t i = 0; i < nin; i++)
		in_expire(t, &dead_in[i]);
	return next;
}

int ms_transport_process(ms_transport *t)
{
	int done = 0;
	uint32_t snap[64];
	size_t nsnap, start = 0;

	done += ms_transport_zap_handle(t);
	done += router_events(t);
	for (int i = 0; i < MS_TRANSPORT_BUDGET && router_one(t); i++)
		done++;
	/* after the drain: closed connections' last messages went first */
	done += in_sweep(t);

	/* Callbacks may dial or hang up, which reshuffles t->dials: walk a
	 * snapshot of handles, in slices of 64 to stay off the heap. */
	do {
		nsnap = 0;
		for (size_t i = start; i < t->ndials && nsnap < 64; i++)
			snap[nsnap++] = t->dials[i].peer;
		start += nsnap;
		for (size_t i = 0; i < nsnap; i++) {
			/* data first: messages that arrived before a disconnect
			 * are delivered before its DOWN */
			done += dial_messages(t, snap[i], MS_TRANSPORT_BUDGET);
			done += dial_events(t, snap[i]);
		}
	} while (nsnap == 64 && start < t->ndials);
	return done;
}
