/*
 * test_discovery_netns.c — two hosts that exist only as network namespaces
 * joined by a veth pair (10.99.0.1 <-> 10.99.0.2, addresses nowhere else),
 * each with its own dbus-daemon and avahi-daemon serving only its veth end
 * (../shared/ENV.md recipe, helpers in disc_it.c).  A node on each, with no
 * --peer, listening on its veth address: they find each other over the
 * veth by mDNS and converge.  Then host a's avahi-daemon is killed: the
 * link keeps syncing; it is started again: the node registers again by
 * itself and a node started afterwards on host a is found by host b.
 *
 * The namespaces, daemons and nodes are recorded as they are made; the
 * runner-side teardown (unchecked fixture) stops every process by PID and
 * deletes the namespaces however the test ended.  A machine that cannot
 * make namespaces gets exit 77 (SKIPPED) with the reason printed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disc_it.h"
#include "ms_test.h"
#include "ms_test_host.h"

static char g_state[400];

/* Runner process, before the test: the state dir for pid/netns lists. */
static void setup_state(void)
{
	char *dir = ms_test_state_dir("discnet");

	snprintf(g_state, sizeof g_state, "%s", dir);
	free(dir);
	dit_set_state_dir(g_state);
}

/* Runner process, after the test however it ended. */
static void teardown_state(void)
{
	ms_test_track_cleanup(g_state);
	ms_test_rmdir(g_state);
}

START_TEST(two_hosts_over_veth)
{
	ms_test_host ha, hb;
	it_node a, b;
	it_node *all[] = {&a, &b};
	char prefix[32], ida[65], idb[65], addrs[256];
	json_t *j;

	snprintf(prefix, sizeof prefix, "ms-dm-%d", (int)getpid());
	ck_assert_int_eq(ms_test_host_init(&ha, g_state, prefix, 'a', "vA", 0),
	                 0);
	ck_assert_int_eq(ms_test_host_init(&hb, g_state, prefix, 'b', "vB", 0),
	                 0);
	ck_assert_int_eq(ms_test_host_veth(&ha, "vA", "10.99.0.1/24", &hb, "vB",
	                                   "10.99.0.2/24"),
	                 0);
	ck_assert_msg(ms_test_host_start(&ha) == 0,
	              "host a: dbus/avahi did not start");
	ck_assert_msg(ms_test_host_start(&hb) == 0,
	              "host b: dbus/avahi did not start");

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	/* the same port on both: each namespace has its own */
	snprintf(a.endpoint, sizeof a.endpoint, "tcp://10.99.0.1:%d", a.port);
	snprintf(b.endpoint, sizeof b.endpoint, "tcp://10.99.0.2:%d", a.port);
	dit_node_id(&a, ida);
	dit_node_id(&b, idb);
	dit_node_start(&a, NULL, 0, ha.ns, ha.bus);
	dit_node_start(&b, NULL, 0, hb.ns, hb.bus);
	it_put(&a, "host/a", "1");
	it_put(&b, "host/b", "2");
	ck_assert_msg(it_wait_converged(all, 2, 2, IT_DEADLINE_MS) == 0,
	              "the two hosts did not converge over the veth");
	ck_assert_int_eq(dit_wait_peer(&a, idb, "live", "mdns", 20000), 0);
	ck_assert_int_eq(dit_wait_peer(&b, ida, "live", "mdns", 20000), 0);
	/* found at its veth address, which exists only inside b's namespace */
	j = it_inspect(&a, "peers");
	{
		json_t *p, *arr = json_object_get(j, "peers");
		size_t i;
		addrs[0] = '\0';
		json_array_foreach(arr, i, p)
		{
			char *s = json_dumps(json_object_get(p, "addrs"),
			                     JSON_COMPACT);
			snprintf(addrs + strlen(addrs),
			         sizeof addrs - strlen(addrs), "%s",
			         s != NULL ? s : "");
			free(s);
		}
	}
	json_decref(j);
	ck_assert_msg(strstr(addrs, "tcp://10.99.0.2:") != NULL,
	              "a does not know b at its veth address: %s", addrs);
	ck_assert_uint_eq(dit_log_count2(&a, " error ", NULL), 0);
	ck_assert_uint_eq(dit_log_count2(&b, " error ", NULL), 0);

	/* host a's avahi-daemon dies: the link a-b keeps syncing */
	ms_test_host_kill_avahi(&ha);
	ck_assert_int_eq(it_wait_log(&a, "MS-DISC-DAEMON-LOST", 20000), 0);
	it_put(&b, "while/avahi/down", "3");
	ck_assert_int_eq(it_wait_value(&a, "while/avahi/down", "3",
	                               IT_DEADLINE_MS),
	                 0);
	/* it comes back: a registers again by itself, and a node started
	 * now on host a is found by b over the veth */
	ms_test_host_start_avahi(&ha);
	ck_assert_msg(ms_test_host_wait_avahi(&ha, 15000) == 0,
	              "host a: avahi restart");
	ck_assert_int_eq(dit_wait_log2(&a, "MS-DISC-DAEMON-UP", NULL, 20000),
	                 0);
	{
		it_node c;
		it_node *abc[] = {&a, &b, &c};
		char idc[65];
		MS_WAIT(dit_log_count2(&a, "MS-DISC-PUBLISHED", NULL) >= 2,
		        20000, "a did not publish again");
		it_node_init(&c, "c", &a, NULL);
		snprintf(c.endpoint, sizeof c.endpoint, "tcp://10.99.0.1:%d",
		         c.port);
		dit_node_id(&c, idc);
		dit_node_start(&c, NULL, 0, ha.ns, ha.bus);
		it_put(&c, "host/a/c", "4");
		ck_assert_msg(
			it_wait_converged(abc, 3, 4, IT_DEADLINE_MS) == 0,
			"the new node did not converge after the restart");
		ck_assert_int_eq(dit_wait_peer(&b, idc, "live", "mdns", 20000),
		                 0);
		it_node_stop(&c);
	}
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("discovery_netns");
	TCase *tc = it_tcase("veth", 180);

	if (ms_test_netns_skip("test_discovery_netns",
	                       "dbus-daemon avahi-daemon dbus-send unshare ip"))
		return 77;
	tcase_add_unchecked_fixture(tc, setup_state, teardown_state);
	tcase_add_test(tc, two_hosts_over_veth);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
