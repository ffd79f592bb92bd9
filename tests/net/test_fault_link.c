/*
 * test_fault_link.c — the fault layer's transport glue (net/fault_link.c)
 * over two real transports on 127.0.0.1: a delayed message waits for its
 * due time (on the glue's clock, which the test sets) and keeps its
 * connection's order, duplicates and flipped bytes arrive as decided, a
 * held message goes out behind the next one or alone when none comes, the
 * receive side is judged too, a partition naming the peer (through the
 * owner's node-id callback) cuts it, and detaching puts the plain path
 * back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fault.h"
#include "ms_test.h"
#include "transport.h"

#define NETKEY    \
	"msnet1:" \
	"0303030303030303030303030303030303030303030303030303030303030303"
#define MAXMSG 16

/* One transport and what reached it. */
typedef struct lnode {
	ms_transport *t;
	ms_identity *id;
	char ep[256];
	int up;
	int nrecv;
	size_t len[MAXMSG];
	uint8_t buf[MAXMSG][32];
} lnode;

static uint64_t fake_now;         /* the glue's clock: the test moves it */
static const uint8_t *named_peer; /* what peer_id answers */

static uint64_t clock_cb(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static const uint8_t *peer_cb(void *ctx, const struct ms_conn *c)
{
	(void)ctx;
	(void)c;
	return named_peer;
}

static void on_recv(void *ctx, const ms_conn *c, const uint8_t *curve,
                    const void *buf, size_t len)
{
	lnode *n = ctx;

	(void)c;
	(void)curve;
	if (n->nrecv < MAXMSG) {
		n->len[n->nrecv] = len;
		memcpy(n->buf[n->nrecv], buf, len < 32 ? len : 32);
	}
	n->nrecv++;
}

static void on_link(void *ctx, const ms_conn *c, ms_link_event ev,
                    ms_link_reason why, const uint8_t *curve)
{
	lnode *n = ctx;

	(void)why;
	(void)curve;
	if (ev == MS_LINK_UP && c->dir == MS_CONN_OUT)
		n->up = 1;
}

static void lnode_init(lnode *n, uint8_t seed, int listen)
{
	ms_transport_cbs cbs = {on_recv, on_link, NULL, n};
	ms_transport_params p;
	ms_netkey *nk = NULL;
	ms_errbuf eb = {0};

	memset(n, 0, sizeof *n);
	n->id = ms_test_identity(seed);
	ms_transport_params_init(&p);
	p.linger_ms = 0;
	MS_PASS_EB(ms_netkey_from_text(&nk, NETKEY, &eb), &eb);
	MS_PASS_EB(ms_transport_new(&n->t, NULL, nk, n->id, &p, &cbs, &eb),
	           &eb);
	ms_netkey_free(&nk);
	if (listen)
		MS_PASS_EB(ms_transport_listen(n->t, "tcp://127.0.0.1:*", n->ep,
		                               sizeof n->ep, &eb),
		           &eb);
}

static void lnode_fini(lnode *n)
{
	ms_transport_free(&n->t);
	ms_identity_free(&n->id);
}

/* Poll both transports once (at most 20 ms) and process them. */
static void pump(lnode *a, lnode *b)
{
	zmq_pollitem_t items[16];
	int n = ms_transport_pollitems(a->t, items, 16);

	n += ms_transport_pollitems(b->t, items + n, 16 - n);
	ck_assert_int_le(n, 16);
	ck_assert_int_ne(zmq_poll(items, n, 20), -1);
	(void)ms_transport_process(a->t);
	(void)ms_transport_process(b->t);
}

/* Pump for ms of real time: nothing a test waits not to see may come in
 * that long (the messages are on loopback: they take well under that). */
static void pump_for(lnode *a, lnode *b, unsigned ms)
{
	ms_test_wait w;

	ms_test_wait_start(&w, ms);
	while (ms_test_wait_more(&w))
		pump(a, b);
}

#define PUMP_UNTIL(a, b, cond) \
	MS_WAIT_STEP(cond, 5000, pump(a, b), "timed out waiting: %s", #cond)

/* A fault for text attached to n. */
static ms_fault *attach(lnode *n, const char *text)
{
	ms_fault_config c;
	ms_fault_link_cbs cbs = {peer_cb, clock_cb, NULL};
	ms_errbuf eb = {0};
	ms_fault *f;

	ms_fault_config_default(&c);
	MS_PASS_EB(ms_fault_config_parse(&c, text, &eb), &eb);
	f = ms_fault_new(&c, 0);
	ck_assert_ptr_nonnull(f);
	MS_PASS_EB(ms_fault_attach(f, n->t, &cbs, &eb), &eb);
	MS_FAIL(ms_fault_attach(f, n->t, &cbs, &eb), MS_EINVAL);
	return f;
}

static void drop_fault(ms_fault **fp)
{
	ms_fault_detach(*fp);
	ms_fault_free(*fp);
	*fp = NULL;
}

static ms_err send_text(lnode *n, ms_conn *c, const char *s)
{
	return ms_transport_send(n->t, c, s, strlen(s), 0, NULL);
}

START_TEST(t_link)
{
	lnode srv, cli;
	ms_conn c = {.dir = MS_CONN_OUT};
	ms_fault *f;
	ms_fault_stats st;
	uint8_t pk[MS_PK_LEN];
	ms_errbuf eb = {0};
	int diff = 0;

	lnode_init(&srv, 0x51, 1);
	lnode_init(&cli, 0x52, 0);
	MS_PASS_EB(ms_transport_dial(cli.t, srv.ep, &c.peer, &eb), &eb);
	PUMP_UNTIL(&srv, &cli, cli.up);
	fake_now = 1000;

	/* delay: nothing before it is due, then all of it, in order */
	f = attach(&cli, "delay=100ms");
	ck_assert_uint_eq(ms_fault_next_due(f), UINT64_MAX);
	MS_PASS(send_text(&cli, &c, "m1"));
	fake_now = 1050; /* later messages wait behind earlier ones */
	MS_PASS(send_text(&cli, &c, "m2"));
	MS_PASS(send_text(&cli, &c, "m3"));
	ck_assert_uint_eq(ms_fault_next_due(f), 1100);
	pump_for(&srv, &cli, 200);
	ck_assert_int_eq(srv.nrecv, 0);
	ck_assert_int_eq(ms_fault_tick(f, 1099), 0);
	ck_assert_int_eq(ms_fault_tick(f, 1100), 1);
	ck_assert_int_eq(ms_fault_tick(f, 1150), 2);
	ck_assert_uint_eq(ms_fault_next_due(f), UINT64_MAX);
	PUMP_UNTIL(&srv, &cli, srv.nrecv == 3);
	ck_assert_mem_eq(srv.buf[0], "m1", 2);
	ck_assert_mem_eq(srv.buf[1], "m2", 2);
	ck_assert_mem_eq(srv.buf[2], "m3", 2);
	ms_fault_stats_get(f, &st);
	ck_assert_uint_eq(st.delayed, 3);
	drop_fault(&f);

	/* duplicate and corrupt, every time */
	srv.nrecv = 0;
	f = attach(&cli, "duplicate=1; corrupt=1; seed=5");
	MS_PASS(send_text(&cli, &c, "abcdefghijklmnop"));
	PUMP_UNTIL(&srv, &cli, srv.nrecv == 2);
	ck_assert_mem_eq(srv.buf[0], srv.buf[1], 16);
	for (int i = 0; i < 16; i++)
		diff += srv.buf[0][i] != (uint8_t)("abcdefghijklmnop"[i]);
	ck_assert_int_ge(diff, 1);
	ck_assert_int_le(diff, 4);
	drop_fault(&f);

	/* reorder: each message held; with none behind it, it goes alone
	 * MS_FAULT_HOLD_MS later */
	srv.nrecv = 0;
	f = attach(&cli, "reorder=1");
	MS_PASS(send_text(&cli, &c, "h1"));
	ck_assert_uint_eq(ms_fault_next_due(f), fake_now + MS_FAULT_HOLD_MS);
	ck_assert_int_eq(ms_fault_tick(f, fake_now + MS_FAULT_HOLD_MS - 1), 0);
	ck_assert_int_eq(ms_fault_tick(f, fake_now + MS_FAULT_HOLD_MS), 1);
	PUMP_UNTIL(&srv, &cli, srv.nrecv == 1);
	drop_fault(&f);

	/* the receive side: the server drops everything it gets */
	srv.nrecv = 0;
	f = attach(&srv, "drop=1");
	MS_PASS(send_text(&cli, &c, "lost"));
	MS_PASS(send_text(&cli, &c, "lost too"));
	MS_WAIT_STEP((ms_fault_stats_get(f, &st), st.dropped == 2), 5000,
	             pump(&srv, &cli), "the server never judged two messages");
	ck_assert_int_eq(srv.nrecv, 0);
	drop_fault(&f);

	/* a partition naming the peer applies once the owner names it */
	memcpy(pk, ms_identity_pk(srv.id), MS_PK_LEN);
	{
		char text[200], hex[2 * MS_PK_LEN + 1];
		ms_hex(hex, pk, MS_PK_LEN);
		snprintf(text, sizeof text, "partition=0 1h %s", hex);
		f = attach(&cli, text);
	}
	named_peer = NULL;
	MS_PASS(send_text(&cli, &c, "unknown peer"));
	PUMP_UNTIL(&srv, &cli, srv.nrecv == 1);
	named_peer = pk;
	MS_PASS(send_text(&cli, &c, "cut"));
	ms_fault_stats_get(f, &st);
	ck_assert_uint_eq(st.cut, 1);
	drop_fault(&f);

	/* detached: the plain path */
	MS_PASS(send_text(&cli, &c, "plain"));
	PUMP_UNTIL(&srv, &cli, srv.nrecv == 2);
	ck_assert_mem_eq(srv.buf[1], "plain", 5);
	named_peer = NULL;
	lnode_fini(&cli);
	lnode_fini(&srv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault_link");
	TCase *tc = tcase_create("link");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_link);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
