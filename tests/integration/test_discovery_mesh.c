/*
 * test_discovery_mesh.c — nodes that find each other by themselves, with
 * real `meshsync-node run` processes and the machine's loopback-only
 * avahi-daemon (tools/services.sh starts it for tools/test.sh):
 *  - three nodes with no --peer discover each other by mDNS and converge;
 *    a node of another network on the same daemon is skipped (never
 *    dialled, no handshake failure, stores stay apart); avahi-browse lists
 *    a node with its TXT record; a stopped node becomes `lost` at the
 *    others, and when it starts again it is found and synced at once;
 *  - peer exchange with mDNS off: A–B–C where C knows only B, A nobody and
 *    B knows A: C learns A's endpoint from B (PEERS), dials it, and a write
 *    on A still reaches C after B is stopped;
 *  - a node that cannot reach any avahi-daemon (its bus address points
 *    nowhere) logs one warning and syncs with its static peer.
 * Without a running avahi-daemon the suite exits 77 (SKIPPED) with the
 * reason.  The two-host case over a veth pair is test_discovery_netns.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disc_it.h"
#include "ms_test.h"
#include "wire.h"

#define FOUND_MS 20000 /* discovery on loopback takes about a second */

/* `avahi-publish-service NAME _meshsync._tcp PORT TXT...` in the
 * background (it publishes until killed); dies with the test process. */
static pid_t publish_foreign(const char *name, int port, const char *txt1,
                             const char *txt2, const char *txt3)
{
	char po[16];
	char *argv[] = {"avahi-publish-service",
	                (char *)name,
	                "_meshsync._tcp",
	                po,
	                (char *)txt1,
	                (char *)txt2,
	                (char *)txt3,
	                NULL};
	ms_test_spawn_opts o = {.die_with_parent = 1};

	snprintf(po, sizeof po, "%d", port);
	return ms_test_spawn(argv, &o);
}

static void unpublish(pid_t pid)
{
	ms_test_stop_pid(pid, SIGTERM, FOUND_MS, NULL);
}

START_TEST(mdns_three_nodes_converge)
{
	it_node a, b, c, x;
	it_node *abc[] = {&a, &b, &c};
	char ida[65], idb[65], idc[65], idx[65], net[80], want[128];
	char *out = NULL;
	int rc;

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_init(&c, "c", &a, NULL);
	it_node_init(&x, "x", NULL, NULL); /* another network */
	dit_node_id(&a, ida);
	dit_node_id(&b, idb);
	dit_node_id(&c, idc);
	dit_node_id(&x, idx);
	dit_node_start(&a, NULL, 0, NULL, NULL);
	dit_node_start(&b, NULL, 0, NULL, NULL);
	dit_node_start(&c, NULL, 0, NULL, NULL);
	dit_node_start(&x, NULL, 0, NULL, NULL);
	it_put(&a, "from/a", "1");
	it_put(&b, "from/b", "2");
	it_put(&c, "from/c", "3");
	it_put(&x, "from/x", "4");
	ck_assert_msg(it_wait_converged(abc, 3, 3, IT_DEADLINE_MS) == 0,
	              "three mDNS nodes did not converge");
	ck_assert_int_eq(dit_wait_peer(&a, idb, "live", "mdns", FOUND_MS), 0);
	ck_assert_int_eq(dit_wait_peer(&a, idc, "live", "mdns", FOUND_MS), 0);
	ck_assert_int_eq(dit_wait_peer(&b, ida, "live", "mdns", FOUND_MS), 0);
	ck_assert_int_eq(dit_wait_peer(&c, ida, "live", "mdns", FOUND_MS), 0);

	/* avahi-browse beside the nodes lists a with its TXT record */
	it_summary_str(&a, "network_id", net, sizeof net);
	rc = it_run(&out, NULL, "/usr/bin/timeout", "10", "avahi-browse",
	            "-rpt", "_meshsync._tcp", (char *)NULL);
	ck_assert_int_eq(rc, 0);
	snprintf(want, sizeof want, "\"id=%s\"", ida);
	ck_assert_msg(strstr(out, want) != NULL, "avahi-browse lacks %s:\n%s",
	              want, out);
	snprintf(want, sizeof want, "\"net=%.16s\"", net);
	ck_assert_msg(strstr(out, want) != NULL, "avahi-browse lacks %s", want);
	snprintf(want, sizeof want, "\"v=%u\"", (unsigned)MS_WIRE_VERSION);
	ck_assert_msg(strstr(out, want) != NULL, "avahi-browse lacks %s", want);
	snprintf(want, sizeof want, ";%d;", a.port);
	ck_assert_msg(strstr(out, want) != NULL, "avahi-browse lacks a's port");
	free(out);

	/* the other network's node: skipped on both sides, never dialled */
	ck_assert_msg(it_wait_log(&x, "reason=other_network", FOUND_MS) == 0,
	              "x never skipped the others' services");
	ck_assert_msg(it_wait_log(&a, "reason=other_network", FOUND_MS) == 0,
	              "a never skipped x's service");
	ck_assert_int_eq(it_wait_stat_ge(&a, "mdns_skip_net", 1, FOUND_MS), 0);
	ck_assert_uint_eq(it_summary_u64(&x, "ops"), 1);
	ck_assert_uint_eq(it_summary_u64(&a, "ops"), 3);
	ck_assert_int_eq(it_wait_value(&a, "from/c", "3", 1000), 0);
	ck_assert_int_eq(dit_peer(&a, idx, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(dit_peer(&x, ida, NULL, 0, NULL, 0), 0);
	ck_assert_uint_eq(it_log_count(&x, "MS-PEER-DIAL "), 0);
	ck_assert_uint_eq(it_log_count(&x, "MS-SYNC-HELLO"), 0);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(dit_log_count2(abc[i], "MS-PEER-DIAL ",
		                                 x.endpoint),
		                  0);
		ck_assert_uint_eq(it_log_count(abc[i], "MS-NET-REJECT"), 0);
		ck_assert_uint_eq(it_log_count(abc[i], "MS-SYNC-AUTH"), 0);
		ck_assert_uint_eq(it_log_count(abc[i], "MS-PEER-FAIL"), 0);
		ck_assert_uint_eq(it_stat(abc[i], "handshake_fail_key"), 0);
		ck_assert_uint_eq(it_stat(abc[i], "handshake_fail_in"), 0);
	}
	ck_assert_uint_eq(it_log_count(&x, "MS-NET-REJECT"), 0);

	/* services published by hand: one of another network, one with a
	 * malformed TXT record; skipped (logged), never dialled */
	{
		char n1[64], n2[64], idtxt[80], ep1[64], ep2[64], vtxt[16];
		int p1 = it_free_port(), p2 = it_free_port();
		pid_t f1, f2;
		snprintf(n1, sizeof n1, "foreign-net-%d", (int)getpid());
		snprintf(n2, sizeof n2, "foreign-bad-%d", (int)getpid());
		snprintf(idtxt, sizeof idtxt, "id=%s", idx);
		/* our version: skipped for the network, not the version */
		snprintf(vtxt, sizeof vtxt, "v=%d", MS_WIRE_VERSION);
		f1 = publish_foreign(n1, p1, vtxt, idtxt,
		                     "net=0123456789abcdef");
		f2 = publish_foreign(n2, p2, vtxt, "id=not-hex", "net=zz");
		ck_assert_int_eq(dit_wait_log2(&a, "MS-DISC-SKIP", n1,
		                               FOUND_MS),
		                 0);
		ck_assert_int_eq(dit_wait_log2(&a, "MS-DISC-SKIP", n2,
		                               FOUND_MS),
		                 0);
		ck_assert_uint_eq(dit_log_count2(&a, "reason=other_network",
		                                 n1),
		                  1);
		unpublish(f1);
		unpublish(f2);
		snprintf(ep1, sizeof ep1, ":%d", p1);
		snprintf(ep2, sizeof ep2, ":%d", p2);
		ck_assert_uint_eq(dit_log_count2(&a, "MS-PEER-DIAL ", ep1), 0);
		ck_assert_uint_eq(dit_log_count2(&a, "MS-PEER-DIAL ", ep2), 0);
		ck_assert_int_eq(it_node_alive(&a), 1);
	}

	/* c stops: its service is withdrawn, a and b show it lost */
	it_node_stop(&c);
	ck_assert_int_eq(dit_wait_peer(&a, idc, "lost", "mdns", FOUND_MS), 0);
	ck_assert_int_eq(dit_wait_peer(&b, idc, "lost", "mdns", FOUND_MS), 0);

	/* c comes back: found and synced at once, not after a backoff */
	it_put(&a, "while/c/down", "5");
	{
		uint64_t t0 = ms_test_now_ms();
		dit_node_start(&c, NULL, 0, NULL, NULL);
		ck_assert_int_eq(it_wait_value(&c, "while/c/down", "5", 15000),
		                 0);
		ck_assert_msg(ms_test_now_ms() - t0 < 15000, "c synced late");
	}
	ck_assert_int_eq(dit_wait_peer(&a, idc, "live", "mdns", FOUND_MS), 0);

	it_node_stop(&x);
	it_node_stop(&c);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

/* mDNS off everywhere (it_node_start passes --no-mdns): only PEERS can
 * tell C about A. */
START_TEST(pex_learns_beyond_one_hop)
{
	it_node a, b, c;
	it_node *pa[] = {&a}, *pb[] = {&b};
	char ida[65], idc[65];

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_init(&c, "c", &a, NULL);
	dit_node_id(&a, ida);
	dit_node_id(&c, idc);
	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	/* b has synced with a before c arrives, so b's first PEERS to c
	 * names a */
	ck_assert_int_eq(dit_wait_peer(&b, ida, "live", "static",
	                               IT_DEADLINE_MS),
	                 0);
	it_node_start(&c, pb, 1);
	ck_assert_int_eq(dit_wait_peer(&c, ida, "live", "pex", IT_DEADLINE_MS),
	                 0);
	ck_assert_uint_ge(it_log_count(&c, "MS-PEX-RECV"), 1);
	ck_assert_uint_ge(it_log_count(&b, "MS-PEX-SEND"), 1);
	/* a configured nobody: whatever it has with c came from PEERS or c */
	ck_assert_uint_eq(it_log_count(&a, "MS-DISC-PEER-FOUND"), 0);

	it_node_stop(&b);
	it_put(&a, "after/b", "gone");
	ck_assert_int_eq(it_wait_value(&c, "after/b", "gone", IT_DEADLINE_MS),
	                 0);
	ck_assert_int_eq(dit_wait_peer(&a, idc, "live", NULL, IT_DEADLINE_MS),
	                 0);
	it_node_stop(&c);
	it_node_stop(&a);
}
END_TEST

/* No avahi-daemon reachable: one warning, and the static peer works. */
START_TEST(no_daemon_static_peer_works)
{
	it_node a, b;
	it_node *all[] = {&a, &b}, *pa[] = {&a};
	char bus[700];

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	snprintf(bus, sizeof bus, "unix:path=%s/no-such-bus", it_tmpdir());
	it_node_start(&a, NULL, 0);
	dit_node_start(&b, pa, 1, NULL, bus);
	it_put(&a, "k", "from a");
	it_put(&b, "k2", "from b");
	ck_assert_msg(it_wait_converged(all, 2, 2, IT_DEADLINE_MS) == 0,
	              "no-daemon node did not sync with its static peer");
	ck_assert_int_eq(it_wait_log(&b, "MS-DISC-NODAEMON", 5000), 0);
	/* let the module retry a few times: still one warning */
	ck_assert_int_eq(it_wait_value(&b, "k", "from a", 1000), 0);
	ck_assert_int_eq(it_wait_stat_ge(&b, "mdns_client_fails", 3,
	                                 IT_DEADLINE_MS),
	                 0);
	ck_assert_uint_eq(dit_log_count2(&b, " warning ", "MS-DISC"), 1);
	ck_assert_uint_eq(dit_log_count2(&b, " error ", NULL), 0);
	ck_assert_int_eq(it_node_alive(&b), 1);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("discovery_mesh");
	TCase *tc = it_tcase("discovery", 300);

	if (!dit_avahi_running()) {
		printf("SKIP: no avahi-daemon is running (start one with "
		       "`bash tools/services.sh start DIR`, as tools/test.sh "
		       "does)\n");
		return 77;
	}
	tcase_add_test(tc, mdns_three_nodes_converge);
	tcase_add_test(tc, pex_learns_beyond_one_hop);
	tcase_add_test(tc, no_daemon_static_peer_works);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
