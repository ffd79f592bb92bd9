/*
 * test_transport.c — net/transport over real sockets on 127.0.0.1: CURVE
 * handshake with the keys derived from the network key and the identity,
 * the ZAP lists, oversize messages, dead peers noticed by keepalives (and
 * idle links kept up by them; a flooded connection hung up on), the
 * ops table a fault layer wraps, and the budgets: high-water marks and
 * inbound connections (bare TCP connections made with socket(2)).
 *
 * Several transports live in one process (each with its own ZeroMQ context)
 * and are pumped together by one zmq_poll loop; every wait is on a condition
 * with a deadline, every loop is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"
#include "ms_test.h"
#include "transport.h"

#define NETKEY_A  \
	"msnet1:" \
	"0101010101010101010101010101010101010101010101010101010101010101"
#define NETKEY_B  \
	"msnet1:" \
	"0202020202020202020202020202020202020202020202020202020202020202"

/* What one transport's callbacks saw. */
typedef struct tnode {
	ms_transport *t;
	ms_identity *id;
	char ep[256];
	uint8_t curve[MS_CURVE_LEN]; /* expected: its converted node id */

	int nrecv;
	ms_conn rconn; /* last message's connection */
	int r_has_curve;
	uint8_t rcurve[MS_CURVE_LEN];
	size_t rlen;
	uint8_t rbuf[64];

	int out_up, out_down, in_up, in_down;
	ms_link_reason down_why;
	ms_conn in_down_conn;
	uint8_t in_up_curve[MS_CURVE_LEN];
	int nreject[MS_REJECT_REASON_COUNT_];
	int reject_has_curve;
	uint8_t reject_curve[MS_CURVE_LEN];
} tnode;

static void on_recv(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                    const void *buf, size_t len)
{
	tnode *n = ctx;
	/* empty messages are the transport's keepalives, never delivered */
	ck_assert_uint_gt(len, 0);
	n->nrecv++;
	n->rconn = *c;
	n->r_has_curve = peer_curve != NULL;
	if (peer_curve != NULL)
		memcpy(n->rcurve, peer_curve, MS_CURVE_LEN);
	n->rlen = len;
	memcpy(n->rbuf, buf, len < sizeof n->rbuf ? len : sizeof n->rbuf);
}

static void on_link(void *ctx, const ms_conn *c, ms_link_event ev,
                    ms_link_reason why, const uint8_t *peer_curve)
{
	tnode *n = ctx;
	if (c->dir == MS_CONN_OUT) {
		ck_assert_ptr_null(peer_curve);
		if (ev == MS_LINK_UP) {
			n->out_up++;
		} else {
			n->out_down++;
			n->down_why = why;
		}
	} else {
		ck_assert_ptr_nonnull(peer_curve);
		if (ev == MS_LINK_UP) {
			n->in_up++;
			memcpy(n->in_up_curve, peer_curve, MS_CURVE_LEN);
		} else {
			n->in_down++;
			n->in_down_conn = *c;
		}
	}
}

static void on_reject(void *ctx, ms_reject_reason why,
                      const uint8_t *peer_curve, const char *addr)
{
	tnode *n = ctx;
	ck_assert_int_gt(why, 0);
	ck_assert_int_lt(why, MS_REJECT_REASON_COUNT_);
	ck_assert_ptr_nonnull(addr);
	n->nreject[why]++;
	n->reject_has_curve = peer_curve != NULL;
	if (peer_curve != NULL)
		memcpy(n->reject_curve, peer_curve, MS_CURVE_LEN);
}

/* Short keepalives so dead links show within a second. */
static void test_params(ms_transport_params *p)
{
	ms_transport_params_init(p);
	p->heartbeat_ivl_ms = 100;
	p->heartbeat_timeout_ms = 500;
	p->handshake_ms = 2000;
	p->linger_ms = 0;
}

static void tnode_init(tnode *n, uint8_t seed_byte, const char *netkey,
                       const ms_transport_params *p, int listen)
{
	ms_errbuf eb;
	ms_netkey *nk = NULL;
	ms_transport_cbs cbs = {on_recv, on_link, on_reject, n};
	ms_transport_params def;

	memset(n, 0, sizeof *n);
	n->id = ms_test_identity(seed_byte);
	MS_PASS_EB(ms_ed25519_pk_to_curve(n->curve, ms_identity_pk(n->id), &eb),
	           &eb);
	MS_PASS_EB(ms_netkey_from_text(&nk, netkey, &eb), &eb);
	if (p == NULL) {
		test_params(&def);
		p = &def;
	}
	MS_PASS_EB(ms_transport_new(&n->t, NULL, nk, n->id, p, &cbs, &eb), &eb);
	ms_netkey_free(&nk);
	if (listen)
		MS_PASS_EB(ms_transport_listen(n->t, "tcp://127.0.0.1:*", n->ep,
		                               sizeof n->ep, &eb),
		           &eb);
}

static void tnode_fini(tnode *n)
{
	ms_transport_free(&n->t);
	ck_assert_ptr_null(n->t);
	ms_identity_free(&n->id);
}

typedef int (*cond_fn)(void *arg);

/* Poll every node's sockets once (up to 50 ms, never past w's deadline)
 * and process what came. */
static void pump_once(tnode **nodes, int nn, const ms_test_wait *w)
{
	zmq_pollitem_t items[128];
	uint64_t left = ms_test_wait_left(w);
	int n = 0;

	for (int i = 0; i < nn; i++) {
		int k = ms_transport_pollitems(nodes[i]->t, items + n, 128 - n);
		ck_assert_int_le(n + k, 128);
		n += k;
	}
	ck_assert_int_ne(zmq_poll(items, n, left < 50 ? (long)left : 50), -1);
	for (int i = 0; i < nn; i++) {
		(void)ms_transport_process(nodes[i]->t);
		/* the 50 ms poll cap is within every interval used here */
		(void)ms_transport_keepalive(nodes[i]->t, ms_test_now_ms());
	}
}

/* Poll and process every node until cond(arg) holds or deadline_ms passes.
 * Returns 1 if the condition held. */
static int pump(tnode **nodes, int nn, cond_fn cond, void *arg, int deadline_ms)
{
	ms_test_wait w;
	int ok;

	ms_test_wait_start(&w, (uint64_t)deadline_ms);
	while (!(ok = cond(arg)) && ms_test_wait_more(&w))
		pump_once(nodes, nn, &w);
	return ok;
}

/* Conditions over one node's counters. */
static int c_out_up(void *a)
{
	return ((tnode *)a)->out_up > 0;
}
static int c_out_down(void *a)
{
	return ((tnode *)a)->out_down > 0;
}
static int c_recv1(void *a)
{
	return ((tnode *)a)->nrecv >= 1;
}
static int c_recv2(void *a)
{
	return ((tnode *)a)->nrecv >= 2;
}
static int c_in_down(void *a)
{
	return ((tnode *)a)->in_down > 0;
}
static int c_hs_fail(void *a)
{
	ms_transport_stats st;
	ms_transport_stats_get(((tnode *)a)->t, &st);
	return st.in_handshake_fail > 0 &&
	       ((tnode *)a)->nreject[MS_REJECT_HANDSHAKE] > 0;
}

static uint32_t dial(tnode *from, const tnode *to)
{
	ms_errbuf eb;
	uint32_t peer = 0;
	MS_PASS_EB(ms_transport_dial(from->t, to->ep, &peer, &eb), &eb);
	ck_assert_uint_gt(peer, 0);
	return peer;
}

static void send_out(tnode *from, uint32_t peer, const void *buf, size_t len)
{
	ms_errbuf eb;
	ms_conn c = {.dir = MS_CONN_OUT, .peer = peer};
	MS_PASS_EB(ms_transport_send(from->t, &c, buf, len, 0, &eb), &eb);
}

/* A send before the handshake is queued, or refused with MS_EBUSY when the
 * attempt has already failed and taken its queue with it. */
static void send_early(tnode *from, uint32_t peer, const void *buf, size_t len)
{
	ms_errbuf eb;
	ms_conn c = {.dir = MS_CONN_OUT, .peer = peer};
	ms_err e = ms_transport_send(from->t, &c, buf, len, 0, &eb);
	ck_assert_msg(e == MS_OK || e == MS_EBUSY, "send: %s", eb.msg);
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_handshake_roundtrip)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	ms_errbuf eb;
	uint32_t peer;
	ms_conn back, gone = {.dir = MS_CONN_OUT};
	ms_transport_stats st;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	ck_assert_mem_eq(ms_transport_curve_pk(b.t), b.curve, MS_CURVE_LEN);

	peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, peer, "ping", 4);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));
	ck_assert_int_eq(a.nrecv, 1);
	ck_assert_uint_eq(a.rlen, 4);
	ck_assert_mem_eq(a.rbuf, "ping", 4);
	ck_assert_int_eq(a.rconn.dir, MS_CONN_IN);
	ck_assert_uint_gt(a.rconn.rid_len, 0);
	/* the listener learnt the dialer's converted Ed25519 node id */
	ck_assert(a.r_has_curve);
	ck_assert_mem_eq(a.rcurve, b.curve, MS_CURVE_LEN);
	ck_assert_int_eq(a.in_up, 1);
	ck_assert_mem_eq(a.in_up_curve, b.curve, MS_CURVE_LEN);

	/* and back over the same connection */
	back = a.rconn;
	MS_PASS_EB(ms_transport_send(a.t, &back, "pong", 4, 0, &eb), &eb);
	ck_assert(pump(all, 2, c_recv1, &b, 5000));
	ck_assert_int_eq(b.rconn.dir, MS_CONN_OUT);
	ck_assert_uint_eq(b.rconn.peer, peer);
	ck_assert(!b.r_has_curve);
	ck_assert_uint_eq(b.rlen, 4);
	ck_assert_mem_eq(b.rbuf, "pong", 4);

	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.in_handshake_ok, 1);
	ck_assert_uint_eq(st.zap_requests, 1);
	ck_assert_uint_eq(st.rx_msgs, 1);
	ck_assert_uint_eq(st.tx_msgs, 1);
	ck_assert_uint_eq(st.in_handshake_fail, 0);

	/* hanging up: no DOWN for the dialer, inbound DOWN at the listener,
	 * and the dead handle is refused */
	ms_transport_hangup(b.t, peer);
	gone.peer = peer;
	MS_FAIL(ms_transport_send(b.t, &gone, "x", 1, 0, &eb), MS_ENOTFOUND);
	ck_assert(pump(all, 2, c_in_down, &a, 5000));
	ck_assert_int_eq(a.in_down, 1);
	ck_assert(ms_conn_equal(&a.in_down_conn, &back));
	ck_assert_int_eq(b.out_down, 0);
	MS_FAIL(ms_transport_send(a.t, &back, "x", 1, 0, &eb), MS_ENOTFOUND);

	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

START_TEST(test_wrong_network_key)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	uint32_t peer;
	ms_transport_stats st;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_B, NULL, 0);
	peer = dial(&b, &a);
	/* queued before the handshake: must never arrive */
	send_early(&b, peer, "secret", 6);
	ck_assert(pump(all, 2, c_out_down, &b, 5000));
	ck_assert_int_eq(b.out_up, 0);
	ck_assert_int_eq(b.out_down, 1);
	ck_assert_int_eq(b.down_why, MS_LINK_KEY);
	ck_assert(pump(all, 2, c_hs_fail, &a, 5000));
	ck_assert(!a.reject_has_curve);

	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.in_handshake_fail, 1);
	ck_assert_uint_eq(st.in_handshake_ok, 0);
	ck_assert_uint_eq(st.zap_requests, 0); /* never got as far as ZAP */
	ck_assert_uint_eq(st.rx_msgs, 0);
	ck_assert_int_eq(a.nrecv, 0);
	ck_assert_int_eq(a.in_up, 0);
	ms_transport_stats_get(b.t, &st);
	ck_assert_uint_eq(st.out_down[MS_LINK_KEY], 1);
	ck_assert_uint_eq(st.out_up, 0);

	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

START_TEST(test_denylist)
{
	tnode a, b, c;
	tnode *all[] = {&a, &b, &c};
	ms_errbuf eb;
	uint32_t pb, pc;
	ms_transport_stats st;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	tnode_init(&c, 0xc3, NETKEY_A, NULL, 0);
	MS_PASS_EB(ms_transport_acl_set(a.t, MS_ACL_DENY, ms_identity_pk(b.id),
	                                1, &eb),
	           &eb);

	pb = dial(&b, &a);
	send_early(&b, pb, "nope", 4);
	ck_assert(pump(all, 3, c_out_down, &b, 5000));
	ck_assert_int_eq(b.down_why, MS_LINK_DENIED);
	ck_assert_int_eq(b.out_up, 0);
	ck_assert_int_eq(a.nreject[MS_REJECT_DENYLIST], 1);
	ck_assert(a.reject_has_curve);
	ck_assert_mem_eq(a.reject_curve, b.curve, MS_CURVE_LEN);

	/* another member is still served */
	pc = dial(&c, &a);
	send_out(&c, pc, "hi", 2);
	ck_assert(pump(all, 3, c_recv1, &a, 5000));
	ck_assert_int_eq(a.nrecv, 1);
	ck_assert_mem_eq(a.rcurve, c.curve, MS_CURVE_LEN);
	ck_assert_mem_eq(a.rbuf, "hi", 2);

	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.zap_requests, 2);
	ck_assert_uint_eq(st.zap_denied[MS_REJECT_DENYLIST], 1);
	ck_assert_uint_eq(st.zap_denied[MS_REJECT_NOT_ALLOWED], 0);

	/* clearing the list lets b in again (a fresh dial: the old handle died) */
	ms_transport_acl_clear(a.t, MS_ACL_DENY);
	b.out_down = 0;
	pb = dial(&b, &a);
	ck_assert(pump(all, 3, c_out_up, &b, 5000));
	send_out(&b, pb, "back", 4);
	ck_assert(pump(all, 3, c_recv2, &a, 5000));
	ck_assert_mem_eq(a.rcurve, b.curve, MS_CURVE_LEN);

	tnode_fini(&c);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

START_TEST(test_allowlist)
{
	tnode a, b, c;
	tnode *all[] = {&a, &b, &c};
	ms_errbuf eb;
	uint32_t pc;
	uint8_t bad[2 * MS_PK_LEN];

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	tnode_init(&c, 0xc3, NETKEY_A, NULL, 0);

	/* an id that is no Ed25519 point is refused and the list unchanged */
	memcpy(bad, ms_identity_pk(c.id), MS_PK_LEN);
	memset(bad + MS_PK_LEN, 0xff, MS_PK_LEN);
	MS_FAIL(ms_transport_acl_set(a.t, MS_ACL_ALLOW, bad, 2, &eb),
	        MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "#1"));

	MS_PASS_EB(ms_transport_acl_set(a.t, MS_ACL_ALLOW, ms_identity_pk(c.id),
	                                1, &eb),
	           &eb);
	(void)dial(&b, &a);
	ck_assert(pump(all, 3, c_out_down, &b, 5000));
	ck_assert_int_eq(b.down_why, MS_LINK_DENIED);
	ck_assert_int_eq(a.nreject[MS_REJECT_NOT_ALLOWED], 1);
	ck_assert_mem_eq(a.reject_curve, b.curve, MS_CURVE_LEN);

	pc = dial(&c, &a);
	send_out(&c, pc, "in", 2);
	ck_assert(pump(all, 3, c_recv1, &a, 5000));
	ck_assert_int_eq(a.nrecv, 1);
	ck_assert_mem_eq(a.rcurve, c.curve, MS_CURVE_LEN);

	/* an empty allow list admits nobody */
	MS_PASS_EB(ms_transport_acl_set(a.t, MS_ACL_ALLOW, NULL, 0, &eb), &eb);
	ms_transport_hangup(c.t, pc);
	(void)dial(&c, &a);
	ck_assert(pump(all, 3, c_out_down, &c, 5000));
	ck_assert_int_eq(c.down_why, MS_LINK_DENIED);
	ck_assert_int_eq(a.nreject[MS_REJECT_NOT_ALLOWED], 2);

	tnode_fini(&c);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

static int c_oversize_done(void *arg)
{
	tnode **n = arg;
	return n[0]->in_down > 0 && n[1]->out_down > 0;
}

START_TEST(test_oversize_drops_connection)
{
	tnode a, b, c;
	tnode *all[] = {&a, &b, &c};
	tnode *ab[] = {&a, &b};
	ms_transport_params p;
	ms_errbuf eb;
	uint32_t pb, pc;
	size_t big_len = 100 * 1024;
	uint8_t *big = calloc(1, big_len);
	ms_conn cb;

	ck_assert_ptr_nonnull(big);
	test_params(&p);
	p.maxmsgsize = 64 * 1024;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	tnode_init(&c, 0xc3, NETKEY_A, NULL, 0);

	/* the sender refuses what its own limit forbids */
	cb = (ms_conn){.dir = MS_CONN_OUT, .peer = 12345};
	{
		ms_conn x = {.dir = MS_CONN_IN, .rid_len = 1, .rid = {1}};
		MS_FAIL(ms_transport_send(a.t, &x, big, big_len, 0, &eb),
		        MS_EINVAL);
	}

	pb = dial(&b, &a);
	pc = dial(&c, &a);
	send_out(&b, pb, "small", 5);
	ck_assert(pump(all, 3, c_recv1, &a, 5000));
	ck_assert_mem_eq(a.rcurve, b.curve, MS_CURVE_LEN);
	send_out(&b, pb, big, big_len);
	ck_assert(pump(all, 3, c_oversize_done, ab, 5000));
	ck_assert_int_eq(b.down_why, MS_LINK_LOST);
	ck_assert_int_eq(a.nrecv, 1); /* the big one never arrived */

	/* the listener keeps serving another peer */
	send_out(&c, pc, "still", 5);
	ck_assert(pump(all, 3, c_recv2, &a, 5000));
	ck_assert_int_eq(a.nrecv, 2);
	ck_assert_uint_eq(a.rlen, 5);
	ck_assert_mem_eq(a.rbuf, "still", 5);
	ck_assert_mem_eq(a.rcurve, c.curve, MS_CURVE_LEN);
	ck_assert_int_eq(c.out_down, 0);
	MS_FAIL(ms_transport_send(b.t, &cb, "x", 1, 0, &eb), MS_ENOTFOUND);

	free(big);
	tnode_fini(&c);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

START_TEST(test_listener_goes_away)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	tnode *bonly[] = {&b};

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	(void)dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	/* no goodbye: the process just closes its sockets */
	tnode_fini(&a);
	ck_assert(pump(bonly, 1, c_out_down, &b, 5000));
	ck_assert_int_eq(b.down_why, MS_LINK_LOST);
	ck_assert_int_eq(b.out_down, 1);
	tnode_fini(&b);
}
END_TEST

/* Poll the router's monitor (items[1]) and the router (items[2]) once,
 * without processing: note which has input waiting. */
static void peek_router(const zmq_pollitem_t *items, int *mon_ready,
                        int *data_ready)
{
	zmq_pollitem_t one[2] = {items[1], items[2]};

	ck_assert_int_ne(zmq_poll(one, 2, 50), -1);
	*mon_ready |= (one[0].revents & ZMQ_POLLIN) != 0;
	*data_ready |= (one[1].revents & ZMQ_POLLIN) != 0;
}

/* A dialer's last messages and its disconnect reach the listener together:
 * the messages are delivered (to the connection they came from) before its
 * DOWN, and nothing after the DOWN looks like a new connection. */
START_TEST(test_last_messages_before_down)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	ms_transport_params pb;
	zmq_pollitem_t items[8];
	uint32_t peer;
	int n, mon_ready = 0, data_ready = 0;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	test_params(&pb);
	pb.linger_ms = 2000; /* the hang-up still sends what is queued */
	tnode_init(&b, 0xb2, NETKEY_A, &pb, 0);
	peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, peer, "first", 5);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));
	ck_assert_int_eq(a.in_up, 1);

	/* two more, then the dialer goes away; a does not look until both
	 * the messages and the disconnect are waiting for it */
	send_out(&b, peer, "second", 6);
	send_out(&b, peer, "bye", 3);
	ms_transport_hangup(b.t, peer);
	n = ms_transport_pollitems(a.t, items, 8);
	ck_assert_int_eq(n, 3); /* zap, router monitor, router */
	MS_WAIT_STEP(mon_ready && data_ready, 5000,
	             peek_router(items, &mon_ready, &data_ready),
	             "disconnect or data never arrived");
	/* give the disconnect time to be queued behind the data (bounded) */
	for (int i = 0; i < 100 && a.in_down == 0; i++) {
		zmq_pollitem_t one[1] = {items[1]};
		(void)zmq_poll(one, 1, 20);
		(void)ms_transport_process(a.t);
	}
	ck_assert_int_eq(a.in_down, 1);
	/* every message was delivered, the last one the "bye", all on the
	 * first connection, which came up exactly once */
	ck_assert_int_eq(a.nrecv, 3);
	ck_assert_uint_eq(a.rlen, 3);
	ck_assert_mem_eq(a.rbuf, "bye", 3);
	ck_assert(ms_conn_equal(&a.rconn, &a.in_down_conn));
	ck_assert_int_eq(a.in_up, 1);
	/* and stays so */
	for (int i = 0; i < 5; i++)
		(void)ms_transport_process(a.t);
	ck_assert_int_eq(a.in_up, 1);
	ck_assert_int_eq(a.in_down, 1);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

START_TEST(test_connect_refused)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	char ep[256];

	/* a port that was just free: bind, remember it, close */
	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	memcpy(ep, a.ep, sizeof ep);
	tnode_fini(&a);
	tnode_init(&a, 0xa1, NETKEY_A, NULL, 0);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	memcpy(a.ep, ep, sizeof ep);
	(void)dial(&b, &a);
	ck_assert(pump(all, 2, c_out_down, &b, 5000));
	ck_assert_int_eq(b.down_why, MS_LINK_CONNECT);
	ck_assert_int_eq(b.out_down, 1);
	ck_assert_int_eq(b.out_up, 0);
	ck_assert_int_eq(ms_transport_pollitems(b.t, NULL, 0), 3);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

/* A pass-through layer of the kind net/fault installs. */
typedef struct wrap {
	ms_link_ops inner;
	int sends, recvs;
} wrap;

static ms_err wrap_send(void *ctx, const ms_conn *c, const void *buf,
                        size_t len, int flags, ms_errbuf *eb)
{
	wrap *w = ctx;
	w->sends++;
	return w->inner.send(w->inner.send_ctx, c, buf, len, flags, eb);
}

static void wrap_recv(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                      const void *buf, size_t len)
{
	wrap *w = ctx;
	w->recvs++;
	w->inner.recv(w->inner.recv_ctx, c, peer_curve, buf, len);
}

START_TEST(test_ops_wrap)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	wrap wa = {0}, wb = {0};
	ms_link_ops o;
	uint32_t peer;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	ms_transport_ops_get(a.t, &wa.inner);
	o = (ms_link_ops){wrap_send, &wa, wrap_recv, &wa};
	ms_transport_ops_set(a.t, &o);
	ms_transport_ops_get(b.t, &wb.inner);
	o = (ms_link_ops){wrap_send, &wb, wrap_recv, &wb};
	ms_transport_ops_set(b.t, &o);

	peer = dial(&b, &a);
	send_out(&b, peer, "one", 3);
	send_out(&b, peer, "two", 3);
	ck_assert(pump(all, 2, c_recv2, &a, 5000));
	ck_assert_int_eq(wb.sends, 2);
	ck_assert_int_eq(wa.recvs, 2);
	ck_assert_int_eq(a.nrecv, 2);
	ck_assert_mem_eq(a.rbuf, "two", 3);
	ck_assert_int_eq(wa.sends, 0);
	ck_assert_int_eq(wb.recvs, 0);

	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

/* ----------------------------------------------- a peer that stops answering */

/* Read a line from fd within deadline_ms; 1 on success. */
static int read_line(int fd, char *buf, size_t cap, int deadline_ms)
{
	size_t n = 0;
	ms_test_wait w;

	ms_test_wait_start(&w, (uint64_t)deadline_ms);
	while (n + 1 < cap) {
		struct pollfd pfd = {fd, POLLIN, 0};
		uint64_t left = ms_test_wait_left(&w);
		ssize_t r;
		if (left == 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return 0;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 1;
		}
		n++;
	}
	return 0;
}

/* The child: listen, report the endpoint, dial the parent, say hello, and
 * serve until killed (bounded at 60 s in case the parent died). */
static void child_main(int to_parent, int from_parent)
{
	tnode k;
	char pep[256];
	uint32_t peer;
	ms_test_wait w;

	tnode_init(&k, 0xd4, NETKEY_A, NULL, 1);
	if (dprintf(to_parent, "%s\n", k.ep) < 0)
		_exit(3);
	if (!read_line(from_parent, pep, sizeof pep, 10000))
		_exit(4);
	memcpy(k.ep, pep, sizeof pep);
	peer = dial(&k, &k);
	send_out(&k, peer, "hello", 5);
	ms_test_wait_start(&w, 60000);
	while (ms_test_wait_more(&w)) {
		zmq_pollitem_t items[16];
		int n = ms_transport_pollitems(k.t, items, 16);
		(void)zmq_poll(items, n, 50);
		(void)ms_transport_process(k.t);
		(void)ms_transport_keepalive(k.t, ms_test_now_ms());
	}
	_exit(0);
}

static int c_both_up(void *a)
{
	tnode *n = a;
	return n->out_up > 0 && n->nrecv > 0;
}

static int c_both_down(void *a)
{
	tnode *n = a;
	return n->out_down > 0 && n->in_down > 0;
}

START_TEST(test_heartbeat_dead_peer)
{
	int p2c[2], c2p[2], status = 0;
	pid_t pid;
	char kep[256];
	tnode a, k;
	tnode *all[] = {&a};
	int64_t t0, waited;

	ck_assert_int_eq(pipe(p2c), 0);
	ck_assert_int_eq(pipe(c2p), 0);
	/* fork before any ZeroMQ context exists in this process */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		child_main(c2p[1], p2c[0]);
	}
	close(p2c[0]);
	close(c2p[1]);

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	ck_assert(read_line(c2p[0], kep, sizeof kep, 10000));
	ck_assert_int_eq(dprintf(p2c[1], "%s\n", a.ep) > 0, 1);
	memset(&k, 0, sizeof k);
	memcpy(k.ep, kep, sizeof kep);
	(void)dial(&a, &k);
	/* our dial is up and the child's dial reached us */
	ck_assert(pump(all, 1, c_both_up, &a, 10000));
	ck_assert_mem_eq(a.rbuf, "hello", 5);
	ck_assert_int_eq(a.in_up, 1);

	/* the child freezes: its sockets stay open and its kernel still
	 * answers TCP, only the missing keepalives tell */
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	t0 = (int64_t)ms_test_now_ms();
	ck_assert(pump(all, 1, c_both_down, &a, 5000));
	waited = (int64_t)ms_test_now_ms() - t0;
	ck_assert_int_eq(a.down_why, MS_LINK_LOST);
	/* heartbeat_timeout is 500 ms: well within 5 timeouts */
	ck_assert_int_lt(waited, 2500);

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	close(p2c[1]);
	close(c2p[0]);
	tnode_fini(&a);
}
END_TEST

START_TEST(test_bad_arguments)
{
	ms_errbuf eb;
	ms_transport *t = NULL;
	ms_transport_params p;
	ms_identity *id = NULL;
	ms_netkey *nk = NULL;
	ms_transport_cbs cbs = {on_recv, on_link, NULL, NULL};
	ms_transport_cbs nocb = {NULL, on_link, NULL, NULL};
	uint8_t seed[MS_SEED_LEN] = {7};
	void *ctx = zmq_ctx_new();

	ck_assert_ptr_nonnull(ctx);
	MS_PASS_EB(ms_identity_from_seed(&id, seed, &eb), &eb);
	MS_PASS_EB(ms_netkey_from_text(&nk, NETKEY_A, &eb), &eb);
	MS_FAIL(ms_transport_new(&t, ctx, nk, id, NULL, &nocb, &eb), MS_EINVAL);
	ck_assert_ptr_null(t);
	ms_transport_params_init(&p);
	ck_assert_int_eq(p.maxmsgsize, MS_TRANSPORT_MAXMSG_DEFAULT);
	ck_assert_int_eq(p.heartbeat_ivl_ms, 1000);
	ck_assert_int_eq(p.heartbeat_timeout_ms, 5000);
	p.heartbeat_timeout_ms = 0;
	MS_FAIL(ms_transport_new(&t, ctx, nk, id, &p, &cbs, &eb), MS_EINVAL);
	/* a timeout within one interval would drop idle links */
	ms_transport_params_init(&p);
	p.heartbeat_timeout_ms = p.heartbeat_ivl_ms;
	MS_FAIL(ms_transport_new(&t, ctx, nk, id, &p, &cbs, &eb), MS_EINVAL);
	/* budgets: 0 is "unlimited" to ZeroMQ, so it is refused */
	ms_transport_params_init(&p);
	ck_assert_int_eq(p.send_hwm, MS_TRANSPORT_SEND_HWM_DEFAULT);
	ck_assert_int_eq(p.recv_hwm, MS_TRANSPORT_RECV_HWM_DEFAULT);
	ck_assert_int_eq(p.inbound_connections, MS_TRANSPORT_INBOUND_DEFAULT);
	ck_assert_int_eq(p.inbound_per_address,
	                 MS_TRANSPORT_INBOUND_PER_ADDR_DEFAULT);
	p.send_hwm = 0;
	MS_FAIL(ms_transport_new(&t, ctx, nk, id, &p, &cbs, &eb), MS_EINVAL);
	ms_transport_params_init(&p);
	p.inbound_per_address = p.inbound_connections + 1;
	MS_FAIL(ms_transport_new(&t, ctx, nk, id, &p, &cbs, &eb), MS_EINVAL);
	ms_transport_params_init(&p);
	p.inbound_connections = MS_TRANSPORT_INBOUND_MAX + 1;
	MS_FAIL(ms_transport_new(&t, ctx, nk, id, &p, &cbs, &eb), MS_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(ms_reject_reason_str(MS_REJECT_INBOUND_TOTAL),
	                 "inbound_connections");
	ck_assert_str_eq(ms_reject_reason_str(MS_REJECT_INBOUND_ADDR),
	                 "inbound_per_address");

	/* a caller's context: one transport per context (the ZAP endpoint) */
	MS_PASS_EB(ms_transport_new(&t, ctx, nk, id, NULL, &cbs, &eb), &eb);
	{
		ms_transport *t2 = NULL;
		MS_FAIL(ms_transport_new(&t2, ctx, nk, id, NULL, &cbs, &eb),
		        MS_EBUSY);
		ck_assert_ptr_null(t2);
	}
	MS_FAIL(ms_transport_listen(t, "nonsense://x", NULL, 0, &eb),
	        MS_EINVAL);
	{
		uint32_t peer = 99;
		MS_FAIL(ms_transport_dial(t, "tcp://", &peer, &eb), MS_EINVAL);
		ck_assert_uint_eq(peer, 0);
	}
	ck_assert_str_eq(ms_link_reason_str(MS_LINK_KEY), "key");
	ck_assert_str_eq(ms_reject_reason_str(MS_REJECT_DENYLIST), "denylist");
	ms_transport_free(&t);
	ms_transport_free(&t); /* NULL is fine */
	ck_assert_int_eq(zmq_ctx_term(ctx), 0);
	ms_netkey_free(&nk);
	ms_identity_free(&id);
}
END_TEST

/* ------------------------------------------------- budgets (issue 8) */

/* Send len-byte messages on c until the transport says MS_EBUSY for
 * 500 ms in a row (only `pumped` is serviced meanwhile: the receiver is
 * not reading).  Returns how many were accepted; bounded by `cap`. */
static int fill_until_busy(tnode *from, tnode *pumped, const ms_conn *c,
                           const void *buf, size_t len, int cap)
{
	ms_test_wait w;
	uint64_t busy_since = 0;
	int sent = 0;

	ms_test_wait_start(&w, 10000);
	while (sent < cap && ms_test_wait_more(&w)) {
		ms_errbuf eb;
		ms_err e = ms_transport_send(from->t, c, buf, len, 0, &eb);
		if (e == MS_OK) {
			sent++;
			busy_since = 0;
			continue;
		}
		ck_assert_msg(e == MS_EBUSY, "send: %s", eb.msg);
		if (busy_since == 0)
			busy_since = ms_test_now_ms();
		else if (ms_test_now_ms() - busy_since >= 500)
			break;
		pump_once(&pumped, 1, &w);
	}
	return sent;
}

static int recv_target; /* for c_recv_n */
static int c_recv_n(void *a)
{
	return ((tnode *)a)->nrecv >= recv_target;
}

/* send_hwm / recv_hwm: a peer that stops reading fills a few messages'
 * worth of queues (ours, its, the kernel's), then sends say MS_EBUSY;
 * nothing sent is lost once it reads again.  ZeroMQ's default (1,000
 * messages) would have taken all `cap` 1 MiB messages into memory. */
START_TEST(test_hwm_bounds_send)
{
	enum { MSG = 1 << 20, CAP = 64 };
	tnode a, b;
	tnode *all[] = {&a, &b};
	uint8_t *buf = calloc(1, MSG);
	ms_conn out = {.dir = MS_CONN_OUT}, in;
	ms_transport_params p;
	int sent, sent_back;

	ck_assert_ptr_nonnull(buf);
	/* keepalives as in production: a side that is not pumped sends
	 * none, and test_params' 500 ms would end the link */
	ms_transport_params_init(&p);
	p.linger_ms = 0;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	tnode_init(&b, 0xb2, NETKEY_A, &p, 0);
	out.peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, out.peer, "hi", 2);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));
	in = a.rconn;

	/* dialer -> listener, the listener not reading */
	sent = fill_until_busy(&b, &b, &out, buf, MSG, CAP);
	ck_assert_int_ge(sent, MS_TRANSPORT_SEND_HWM_DEFAULT);
	ck_assert_int_lt(sent, CAP);
	{
		ms_transport_stats st;
		ms_transport_stats_get(b.t, &st);
		ck_assert_uint_ge(st.tx_busy, 1);
	}
	a.nrecv = 0;
	recv_target = sent;
	ck_assert(pump(all, 2, c_recv_n, &a, 20000));
	ck_assert_int_eq(a.nrecv, sent);

	/* listener -> dialer (the ROUTER side), the dialer not reading */
	sent_back = fill_until_busy(&a, &a, &in, buf, MSG, CAP);
	ck_assert_int_ge(sent_back, MS_TRANSPORT_SEND_HWM_DEFAULT);
	ck_assert_int_lt(sent_back, CAP);
	b.nrecv = 0;
	recv_target = sent_back;
	ck_assert(pump(all, 2, c_recv_n, &b, 20000));
	ck_assert_int_eq(b.nrecv, sent_back);

	tnode_fini(&b);
	tnode_fini(&a);
	free(buf);
}
END_TEST

/* ------------------------------------------------------------ keepalives */

static int c_ka_both(void *arg)
{
	tnode **n = arg;
	ms_transport_stats sa, sb;

	ms_transport_stats_get(n[0]->t, &sa);
	ms_transport_stats_get(n[1]->t, &sb);
	return sa.ka_recv >= 25 && sb.ka_recv >= 25;
}

/* An idle link stays up on keepalives alone, for many timeouts, and the
 * keepalives never reach the application. */
START_TEST(test_keepalive_idle_link)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	ms_conn out = {.dir = MS_CONN_OUT}, in;
	ms_errbuf eb;
	ms_transport_stats sa, sb;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	out.peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, out.peer, "hi", 2);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));
	in = a.rconn;
	MS_PASS_EB(ms_transport_send(a.t, &in, "yo", 2, 0, &eb), &eb);
	ck_assert(pump(all, 2, c_recv1, &b, 5000));
	/* an empty message would be taken for a keepalive: refused */
	MS_FAIL(ms_transport_send(b.t, &out, "", 0, 0, &eb), MS_EINVAL);

	/* idle both ways: 25 keepalives each way, one per 100 ms at most,
	 * span at least five timeouts of 500 ms */
	ck_assert(pump(all, 2, c_ka_both, all, 20000));
	ck_assert_int_eq(a.in_down, 0);
	ck_assert_int_eq(b.out_down, 0);
	ck_assert_int_eq(a.nrecv, 1);
	ck_assert_int_eq(b.nrecv, 1);
	ms_transport_stats_get(a.t, &sa);
	ms_transport_stats_get(b.t, &sb);
	ck_assert_uint_eq(sa.rx_msgs, 1);
	ck_assert_uint_eq(sb.rx_msgs, 1);
	ck_assert_uint_eq(sa.tx_msgs, 1);
	ck_assert_uint_eq(sb.tx_msgs, 1);
	ck_assert_uint_ge(sa.ka_sent, 25);
	ck_assert_uint_ge(sb.ka_sent, 25);
	ck_assert_uint_eq(sa.ka_timeout, 0);
	ck_assert_uint_eq(sb.ka_timeout, 0);

	/* and it still carries messages, on the same connection */
	send_out(&b, out.peer, "again", 5);
	ck_assert(pump(all, 2, c_recv2, &a, 5000));
	ck_assert_mem_eq(a.rbuf, "again", 5);
	ck_assert(ms_conn_equal(&a.rconn, &in));

	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

/* A dialer whose process stops running (here: is not pumped) falls silent:
 * the listener reports its routing id down and closes its TCP connection,
 * so the dialer, running again, finds its link lost. */
START_TEST(test_keepalive_silent_dialer)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	tnode *aonly[] = {&a};
	uint32_t peer;
	ms_transport_stats st;

	tnode_init(&a, 0xa1, NETKEY_A, NULL, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, peer, "hi", 2);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));

	ck_assert(pump(aonly, 1, c_in_down, &a, 5000));
	ck_assert_int_eq(a.in_down, 1);
	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.ka_timeout, 1);
	ck_assert_uint_eq(st.in_lost, 1);
	ck_assert(pump(all, 2, c_out_down, &b, 5000));
	ck_assert_int_eq(b.down_why, MS_LINK_LOST);
	ck_assert_int_eq(a.in_down, 1); /* told once */

	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

static int in_down_target; /* for c_in_down_n */
static int c_in_down_n(void *a)
{
	return ((tnode *)a)->in_down >= in_down_target;
}

/* The application does not run for ms (a stalled event loop: a long
 * fsync, a busy core).  The duration is the scenario, not a wait for
 * something. */
static void stall_ms(int ms)
{
	ms_test_wait w;

	ms_test_wait_start(&w, (uint64_t)ms);
	for (int i = 0; i < 1000 && ms_test_wait_more(&w); i++)
		(void)poll(NULL, 0, (int)ms_test_wait_left(&w));
}

/* Issue 10: with ZeroMQ heartbeats on, libzmq 4.3.4 aborted the process
 * ("!_io_error", stream_engine_base.cpp:331) when a connection whose input
 * was stopped (the application had not read its queue) was hung up on and
 * the heartbeat timer fired before the application read.  A dialer fills
 * the listener's queues while the listener does not read, hangs up, and
 * the listener stays away for several intervals; several times over.  The
 * listener's process (this one) must live, and see every dialer go. */
START_TEST(test_flooded_hangup_survives)
{
	enum { MSG = 64 * 1024, CAP = 64, ROUNDS = 3 };
	tnode a, b;
	uint8_t *buf = calloc(1, MSG);
	ms_transport_params p;

	ck_assert_ptr_nonnull(buf);
	/* short intervals (ZeroMQ's heartbeat timer ticked at this rate);
	 * a timeout long enough that b, filling a's queues while a is not
	 * pumped, does not time a out first */
	test_params(&p);
	p.heartbeat_timeout_ms = 5000;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	for (int r = 0; r < ROUNDS; r++) {
		tnode *all[] = {&a, &b};
		tnode *aonly[] = {&a};
		ms_conn out = {.dir = MS_CONN_OUT};
		int want = r + 1;

		tnode_init(&b, (uint8_t)(0xb2 + r), NETKEY_A, &p, 0);
		out.peer = dial(&b, &a);
		ck_assert(pump(all, 2, c_out_up, &b, 5000));
		a.nrecv = 0;
		send_out(&b, out.peer, "hi", 2);
		ck_assert(pump(all, 2, c_recv1, &a, 5000));
		/* a stops reading: b fills a's queues until they refuse */
		ck_assert_int_ge(fill_until_busy(&b, &b, &out, buf, MSG, CAP),
		                 1);
		tnode_fini(&b);    /* hangs up, linger 0 */
		stall_ms(6 * 100); /* six of test_params' 100 ms intervals */
		/* a reads again: everything b left, then its DOWN */
		in_down_target = want;
		ck_assert(pump(aonly, 1, c_in_down_n, &a, 10000));
		ck_assert_int_eq(a.in_down, want);
	}
	tnode_fini(&a);
	free(buf);
}
END_TEST

/* A bare TCP connection to n's listening port (no ZMTP spoken). */
static int raw_connect(const tnode *n)
{
	const char *colon = strrchr(n->ep, ':');
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_ptr_nonnull(colon);
	ck_assert_int_ge(fd, 0);
	sa.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* 1 when the far end closed fd (EOF or reset), 0 while it is open.  The
 * ZMTP greeting the listener sends is read and ignored. */
static int raw_closed(int fd)
{
	char b[256];
	for (int i = 0; i < 64; i++) {
		ssize_t r = read(fd, b, sizeof b);
		if (r == 0)
			return 1;
		if (r < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
	}
	return 0;
}

typedef struct rawwait {
	tnode *n;
	int fd;
	ms_reject_reason why;
	int nreject;
} rawwait;

static int c_raw_closed_and_rejected(void *a)
{
	rawwait *w = a;
	return w->n->nreject[w->why] >= w->nreject && raw_closed(w->fd);
}

static int c_accepted(void *a)
{
	rawwait *w = a;
	ms_transport_stats st;
	ms_transport_stats_get(w->n->t, &st);
	return st.in_accepted >= (uint64_t)w->nreject;
}

/* inbound_per_address: the 4th connection from one address (budget 3)
 * closes the oldest one that has not completed a handshake; the others
 * stay.  Before issue 8 nothing bounded connections but a table of 4,096
 * routing ids that pushed out the oldest session silently. */
START_TEST(test_inbound_per_address)
{
	tnode a;
	tnode *all[] = {&a};
	ms_transport_params p;
	int fd[4];
	rawwait w = {.n = &a};
	ms_transport_stats st;

	test_params(&p);
	p.handshake_ms = 20000; /* bare connections would time out */
	p.inbound_connections = 8;
	p.inbound_per_address = 3;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	for (int i = 0; i < 3; i++) {
		fd[i] = raw_connect(&a);
		w.nreject = i + 1;
		ck_assert(pump(all, 1, c_accepted, &w, 5000));
	}
	fd[3] = raw_connect(&a);
	w.fd = fd[0];
	w.why = MS_REJECT_INBOUND_ADDR;
	w.nreject = 1;
	ck_assert(pump(all, 1, c_raw_closed_and_rejected, &w, 5000));
	ck_assert_int_eq(a.nreject[MS_REJECT_INBOUND_ADDR], 1);
	ck_assert_int_eq(a.nreject[MS_REJECT_INBOUND_TOTAL], 0);
	for (int i = 1; i < 4; i++)
		ck_assert_msg(!raw_closed(fd[i]), "connection %d closed", i);
	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.in_refused_addr, 1);
	ck_assert_uint_eq(st.in_refused_total, 0);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	tnode_fini(&a);
}
END_TEST

static int c_b_recv2_a(void *a)
{
	return ((tnode *)a)->nrecv >= 2;
}

/* inbound_connections: with the budget taken by an established member, a
 * newcomer is the one closed; the member's connection carries on. */
START_TEST(test_inbound_established_kept)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	ms_transport_params p;
	rawwait w = {.n = &a};
	uint32_t peer;

	test_params(&p);
	p.handshake_ms = 20000;
	p.inbound_connections = 1;
	p.inbound_per_address = 1;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, peer, "one", 3);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));

	w.fd = raw_connect(&a);
	w.why = MS_REJECT_INBOUND_ADDR; /* one address: that budget first */
	w.nreject = 1;
	ck_assert(pump(all, 2, c_raw_closed_and_rejected, &w, 5000));
	send_out(&b, peer, "two", 3);
	ck_assert(pump(all, 2, c_b_recv2_a, &a, 5000));
	ck_assert_mem_eq(a.rbuf, "two", 3);
	ck_assert_int_eq(a.in_down, 0);
	ck_assert_int_eq(b.out_down, 0);
	close(w.fd);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

/* A connection that delivers no message (a dialer that never sends HELLO)
 * is closed once close_silent has seen it for after_ms, and reported as
 * MS_REJECT_SILENT; one that delivered a message is left alone. */
START_TEST(test_close_silent)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	ms_transport_params p;
	rawwait w = {.n = &a};
	ms_transport_stats st;
	uint32_t peer;
	int fd;

	test_params(&p);
	p.handshake_ms = 20000; /* bare connections would time out */
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	peer = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, peer, "one", 3);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));
	fd = raw_connect(&a);
	w.nreject = 2; /* b's connection and the bare one */
	ck_assert(pump(all, 2, c_accepted, &w, 5000));

	/* the clock starts at the first call that sees a connection */
	ck_assert_int_eq(ms_transport_close_silent(a.t, 1000, 500), 0);
	ck_assert_int_eq(ms_transport_close_silent(a.t, 1499, 500), 0);
	ck_assert_int_eq(ms_transport_close_silent(a.t, 1500, 500), 1);
	w.fd = fd;
	w.why = MS_REJECT_SILENT;
	w.nreject = 1;
	ck_assert(pump(all, 2, c_raw_closed_and_rejected, &w, 5000));
	ck_assert_int_eq(ms_transport_close_silent(a.t, 99000, 500), 0);
	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.in_silent, 1);
	/* b's connection carries on */
	send_out(&b, peer, "two", 3);
	ck_assert(pump(all, 2, c_b_recv2_a, &a, 5000));
	ck_assert_int_eq(a.in_down, 0);
	/* until its session ends: then it is closed after the grace, and
	 * b sees its link go down (our BYE may have been lost) */
	ms_transport_release(a.t, &a.rconn);
	ck_assert_int_eq(ms_transport_close_silent(a.t, 100000, 500), 0);
	ck_assert_int_eq(ms_transport_close_silent(
				 a.t,
				 100000 + MS_TRANSPORT_RELEASE_GRACE_MS - 1,
				 500),
	                 0);
	ck_assert_int_eq(ms_transport_close_silent(
				 a.t, 100000 + MS_TRANSPORT_RELEASE_GRACE_MS,
				 500),
	                 1);
	ck_assert(pump(all, 2, c_out_down, &b, 5000));
	ms_transport_stats_get(a.t, &st);
	ck_assert_uint_eq(st.in_released_closed, 1);
	ck_assert_uint_eq(st.in_silent, 1);
	close(fd);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

/* Over budget, a member that completed the handshake but never sent a
 * message (no session) makes room; one that did is kept. */
START_TEST(test_inbound_silent_member_evicted)
{
	tnode a, b, c;
	tnode *all[] = {&a, &b, &c};
	ms_transport_params p;
	rawwait w = {.n = &a, .nreject = 2};
	uint32_t pb;
	int fd;

	test_params(&p);
	p.handshake_ms = 20000;
	p.inbound_connections = 2;
	p.inbound_per_address = 2;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	tnode_init(&c, 0xc3, NETKEY_A, NULL, 0);
	pb = dial(&b, &a);
	ck_assert(pump(all, 3, c_out_up, &b, 5000));
	send_out(&b, pb, "one", 3);
	ck_assert(pump(all, 3, c_recv1, &a, 5000));
	(void)dial(&c, &a);
	ck_assert(pump(all, 3, c_out_up, &c, 5000));
	ck_assert(pump(all, 3, c_accepted, &w, 5000));

	fd = raw_connect(&a);
	ck_assert(pump(all, 3, c_out_down, &c, 5000));
	ck_assert_int_eq(c.down_why, MS_LINK_LOST);
	ck_assert_int_eq(a.nreject[MS_REJECT_INBOUND_ADDR], 1);
	ck_assert(!raw_closed(fd));
	send_out(&b, pb, "two", 3);
	ck_assert(pump(all, 3, c_b_recv2_a, &a, 5000));
	ck_assert_int_eq(b.out_down, 0);
	close(fd);
	tnode_fini(&c);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

/* A connection whose session the caller released is no longer kept
 * against a newcomer. */
START_TEST(test_inbound_released_makes_room)
{
	tnode a, b;
	tnode *all[] = {&a, &b};
	ms_transport_params p;
	uint32_t pb;
	int fd;

	test_params(&p);
	p.handshake_ms = 20000;
	p.inbound_connections = 1;
	p.inbound_per_address = 1;
	tnode_init(&a, 0xa1, NETKEY_A, &p, 1);
	tnode_init(&b, 0xb2, NETKEY_A, NULL, 0);
	pb = dial(&b, &a);
	ck_assert(pump(all, 2, c_out_up, &b, 5000));
	send_out(&b, pb, "one", 3);
	ck_assert(pump(all, 2, c_recv1, &a, 5000));
	ms_transport_release(a.t, &a.rconn);
	/* a later message does not make it established again */
	send_out(&b, pb, "two", 3);
	ck_assert(pump(all, 2, c_b_recv2_a, &a, 5000));

	fd = raw_connect(&a);
	ck_assert(pump(all, 2, c_out_down, &b, 5000));
	ck_assert_int_eq(a.nreject[MS_REJECT_INBOUND_ADDR], 1);
	ck_assert(!raw_closed(fd));
	close(fd);
	tnode_fini(&b);
	tnode_fini(&a);
}
END_TEST

static Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("loopback");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_handshake_roundtrip);
	tcase_add_test(tc, test_wrong_network_key);
	tcase_add_test(tc, test_denylist);
	tcase_add_test(tc, test_allowlist);
	tcase_add_test(tc, test_oversize_drops_connection);
	tcase_add_test(tc, test_listener_goes_away);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_last_messages_before_down);
	tcase_add_test(tc, test_ops_wrap);
	tcase_add_test(tc, test_heartbeat_dead_peer);
	tcase_add_test(tc, test_keepalive_idle_link);
	tcase_add_test(tc, test_keepalive_silent_dialer);
	tcase_add_test(tc, test_flooded_hangup_survives);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_hwm_bounds_send);
	tcase_add_test(tc, test_inbound_per_address);
	tcase_add_test(tc, test_close_silent);
	tcase_add_test(tc, test_inbound_established_kept);
	tcase_add_test(tc, test_inbound_silent_member_evicted);
	tcase_add_test(tc, test_inbound_released_makes_room);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ms_crypto_init(NULL) != MS_OK)
		return EXIT_FAILURE;
	return ms_test_run(transport_suite());
}
