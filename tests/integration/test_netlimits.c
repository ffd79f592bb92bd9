/*
 * test_netlimits.c — the transport's budgets and identity checks against
 * real `meshsync-node run` processes (issue 8, items 8 and 10):
 *  - bare TCP connections from one address beyond inbound_per_address are
 *    closed, counted (limit_inbound_per_address), and their log lines go
 *    through the per-source line budget (log_suppressed,
 *    MS-LOG-SUPPRESSED); an honest member still syncs afterwards;
 *  - a dial to a node id learnt from PEERS that another node answers is
 *    refused (session_refused_id_mismatch), not re-filed under the answer;
 *  - a member that claims the negation of its own node id (the same CURVE
 *    key) beside its live session is refused (session_refused_alias).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.h>

#include "crypto.h"
#include "it.h"
#include "ms_test.h"
#include "transport.h"
#include "wire.h"

#define FLOOD 120 /* bare connections opened by the flood test */

/* A bare TCP connection to 127.0.0.1:port, non-blocking; -1 if refused. */
static int raw_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* Before issue 8 every failed handshake was one warning line (877 lines in
 * 25 s from bare connections) and nothing bounded the connections. */
START_TEST(bare_tcp_flood_is_budgeted_and_quiet)
{
	it_node a, b;
	it_node *pa[] = {&a};
	int fd[FLOOD];
	size_t lines;

	it_node_init(&a, "a", NULL,
	             "[net]\nhandshake_timeout = 1s\n"
	             "[limits]\ninbound_per_address = 4\n");
	it_node_init(&b, "b", &a, NULL);
	it_node_start(&a, NULL, 0);
	for (int i = 0; i < FLOOD; i++)
		fd[i] = raw_connect(a.port);
	/* every connection beyond 4 pushed out an older one */
	ck_assert_int_eq(it_wait_stat_ge(&a, "limit_inbound_per_address",
	                                 FLOOD - 4 - 8, IT_DEADLINE_MS),
	                 0);
	ck_assert_int_eq(it_wait_stat_ge(&a, "log_suppressed", 1,
	                                 IT_DEADLINE_MS),
	                 0);
	for (int i = 0; i < FLOOD; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	/* what a source had suppressed is told with its next allowed line:
	 * a few more over-budget connections, round after round, until a
	 * window opens for one (bounded in rounds and time) */
	{
		int found = -1;
		for (int r = 0; r < 40 && found != 0; r++) {
			int more[6];
			for (int i = 0; i < 6; i++)
				more[i] = raw_connect(a.port);
			found = it_wait_log(&a, "MS-LOG-SUPPRESSED", 300);
			for (int i = 0; i < 6; i++)
				if (more[i] >= 0)
					close(more[i]);
		}
		ck_assert_msg(found == 0, "no MS-LOG-SUPPRESSED line");
	}

	/* an honest member syncs after the flood */
	it_put(&a, "k", "after flood");
	it_node_start(&b, pa, 1);
	ck_assert_int_eq(it_wait_value(&b, "k", "after flood", IT_DEADLINE_MS),
	                 0);
	lines = it_log_count(&a, "MS-LIMIT") +
	        it_log_count(&a, "MS-NET-REJECT");
	/* two sources (127.0.0.1, and "-" for failed handshakes) at 5 lines a
	 * second each, over the few seconds the flood lasts */
	ck_assert_msg(lines >= 5 && lines < FLOOD / 2 + 20,
	              "%zu warning lines for %d connections", lines, FLOOD);
	ck_assert_uint_ge(it_log_count(&a, "MS-LIMIT limit=inbound_per_address "
	                                   "peer=127.0.0.1"),
	                  1);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

/* c dials b and goes away; d takes c's port.  a learns c's endpoint from
 * b's PEERS and dials it expecting c: d answers, and a refuses the
 * session instead of filing the dial under d. */
START_TEST(dial_refuses_another_node_id)
{
	it_node a, b, c, d;
	it_node *pb[] = {&b};

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_init(&c, "c", &a, NULL);
	it_node_init(&d, "d", &a, NULL);
	it_node_start(&b, NULL, 0);
	it_put(&c, "from/c", "1");
	it_node_start(&c, pb, 1);
	ck_assert_int_eq(it_wait_value(&b, "from/c", "1", IT_DEADLINE_MS), 0);
	it_node_stop(&c);
	d.port = c.port;
	snprintf(d.endpoint, sizeof d.endpoint, "%s", c.endpoint);
	it_node_start(&d, NULL, 0);

	it_node_start(&a, pb, 1);
	ck_assert_int_eq(it_wait_log(&a, "MS-NET-ID-REFUSED reason=id_mismatch",
	                             IT_DEADLINE_MS),
	                 0);
	ck_assert_int_eq(it_wait_stat_ge(&a, "session_refused_id_mismatch", 1,
	                                 IT_DEADLINE_MS),
	                 0);
	/* what c wrote came through b all the same */
	ck_assert_int_eq(it_wait_value(&a, "from/c", "1", IT_DEADLINE_MS), 0);
	it_node_stop(&a);
	it_node_stop(&d);
	it_node_stop(&b);
}
END_TEST

/* The far end of one dial: messages it received, for the alias test. */
typedef struct probe {
	int up, down, bye, bye_reason;
} probe;

static void pr_recv(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                    const void *buf, size_t len)
{
	probe *p = ctx;
	ms_wire_msg m;
	ms_wire_scratch *sc = malloc(sizeof *sc);

	(void)c;
	(void)peer_curve;
	ck_assert_ptr_nonnull(sc);
	if (ms_wire_decode(&m, sc, buf, len) == MS_WR_OK &&
	    m.type == MS_WIRE_BYE) {
		p->bye++;
		p->bye_reason = m.u.bye.reason;
	}
	free(sc);
}

static void pr_link(void *ctx, const ms_conn *c, ms_link_event ev,
                    ms_link_reason why, const uint8_t *peer_curve)
{
	probe *p = ctx;
	(void)c;
	(void)why;
	(void)peer_curve;
	if (ev == MS_LINK_UP)
		p->up++;
	else
		p->down++;
}

/* Poll t until *flag is non-zero or deadline_ms passes. */
static int pr_wait(ms_transport *t, const int *flag, uint64_t deadline_ms)
{
	ms_test_wait w;

	ms_test_wait_start(&w, deadline_ms);
	while (*flag == 0 && ms_test_wait_more(&w)) {
		zmq_pollitem_t items[8];
		int n = ms_transport_pollitems(t, items, 8);
		ck_assert_int_le(n, 8);
		ck_assert_int_ne(zmq_poll(items, n, 50), -1);
		(void)ms_transport_process(t);
	}
	return *flag != 0;
}

/* m is a member with a live session at n.  With m's own identity (read
 * from its key file) a client dials n and claims -m in HELLO: the CURVE
 * key is m's, so the transport's check passes; n refuses the alias. */
START_TEST(alias_of_live_session_refused)
{
	it_node n, m;
	it_node *pn[] = {&n};
	char path[600];
	ms_identity *id = NULL;
	ms_netkey *nk = NULL;
	ms_transport *t = NULL;
	probe pr = {0};
	ms_transport_cbs cbs = {pr_recv, pr_link, NULL, &pr};
	ms_wire_msg hello;
	uint8_t buf[512];
	size_t len = 0;
	ms_conn c = {.dir = MS_CONN_OUT};
	ms_errbuf eb = {0};

	it_node_init(&n, "n", NULL, NULL);
	it_node_init(&m, "m", &n, NULL);
	it_node_start(&n, NULL, 0);
	it_put(&m, "from/m", "1");
	it_node_start(&m, pn, 1);
	ck_assert_int_eq(it_wait_value(&n, "from/m", "1", IT_DEADLINE_MS), 0);

	snprintf(path, sizeof path, "%s/%s", m.dir, MS_IDENTITY_FILE);
	MS_PASS_EB(ms_identity_load(&id, path, &eb), &eb);
	snprintf(path, sizeof path, "%s/%s", n.dir, MS_NETKEY_FILE);
	MS_PASS_EB(ms_netkey_load(&nk, path, &eb), &eb);
	MS_PASS_EB(ms_transport_new(&t, NULL, nk, id, NULL, &cbs, &eb), &eb);
	MS_PASS_EB(ms_transport_dial(t, n.endpoint, &c.peer, &eb), &eb);
	ck_assert(pr_wait(t, &pr.up, 10000));

	memset(&hello, 0, sizeof hello);
	hello.type = MS_WIRE_HELLO;
	MS_PASS_EB(ms_ed25519_pk_negate(hello.u.hello.node_id,
	                                ms_identity_pk(id), &eb),
	           &eb);
	MS_PASS_EB(ms_wire_encode(&hello, buf, sizeof buf, &len, &eb), &eb);
	MS_PASS_EB(ms_transport_send(t, &c, buf, len, MS_SEND_WAIT, &eb), &eb);
	ck_assert_msg(pr_wait(t, &pr.bye, 10000), "no BYE for the alias");
	ck_assert_int_eq(pr.bye_reason, MS_BYE_AUTH);
	ck_assert_int_eq(it_wait_log(&n, "MS-NET-ID-REFUSED reason=alias",
	                             IT_DEADLINE_MS),
	                 0);
	ck_assert_int_eq(it_wait_stat_ge(&n, "session_refused_alias", 1,
	                                 IT_DEADLINE_MS),
	                 0);
	ms_transport_free(&t);

	/* the member's own session carries on */
	it_put(&m, "from/m2", "2");
	ck_assert_int_eq(it_wait_value(&n, "from/m2", "2", IT_DEADLINE_MS), 0);
	ms_netkey_free(&nk);
	ms_identity_free(&id);
	it_node_stop(&m);
	it_node_stop(&n);
}
END_TEST

static Suite *netlimits_suite(void)
{
	Suite *s = suite_create("netlimits");
	TCase *tc = it_tcase("processes", 240);

	tcase_add_test(tc, bare_tcp_flood_is_budgeted_and_quiet);
	tcase_add_test(tc, dial_refuses_another_node_id);
	tcase_add_test(tc, alias_of_live_session_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(netlimits_suite());
}
