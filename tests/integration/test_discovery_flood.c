/*
 * test_discovery_flood.c — what a host on the LAN can make a node do
 * through mDNS, with real `meshsync-node run` processes, services
 * published by avahi-publish-service, and the machine's loopback-only
 * avahi-daemon (tools/services.sh starts it):
 *  - an instance name with a newline in it is logged quoted (name="…\x0a…"),
 *    never as a line of its own;
 *  - a flood of announcements with made-up node ids is bounded
 *    (mdns_records, counted as limit_mdns_records), none of them reaches
 *    the store, and a new member started during the flood still
 *    completes its handshake and syncs.
 * Without a running avahi-daemon the suite exits 77 (SKIPPED).
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

#define FOUND_MS 20000
#define NFLOOD 24

/* avahi-publish-service NAME _meshsync._tcp PORT v=VERSION id=ID net=NET, in
 * the background until stopped; dies with the test process. */
static pid_t publish(const char *name, int port, const char *id,
                     const char *net)
{
	char po[16], idt[80], nt[40], v[16];
	char *argv[] = {"avahi-publish-service",
	                (char *)name,
	                "_meshsync._tcp",
	                po,
	                v,
	                idt,
	                nt,
	                NULL};
	ms_test_spawn_opts o = {.die_with_parent = 1};

	snprintf(po, sizeof po, "%d", port);
	/* the version we speak, or the node skips it before its name */
	snprintf(v, sizeof v, "v=%d", MS_WIRE_VERSION);
	snprintf(idt, sizeof idt, "id=%s", id);
	snprintf(nt, sizeof nt, "net=%.16s", net);
	return ms_test_spawn(argv, &o);
}

static void unpublish(pid_t pid)
{
	ms_test_stop_pid(pid, SIGTERM, FOUND_MS, NULL);
}

/* A made-up node id (64 hex) from n. */
static void fake_id(char out[65], unsigned n)
{
	snprintf(out, 65,
	         "%08x%08xfeedfacefeedfacefeedfacefeedfacefeedface%08x", n,
	         (unsigned)getpid(), n ^ 0x5a5a5a5au);
}

START_TEST(mdns_name_quoted)
{
	it_node a;
	char net[80], id[65], name[64];
	char *text;
	pid_t pub;

	it_node_init(&a, "a", NULL, NULL);
	dit_node_start(&a, NULL, 0, NULL, NULL);
	it_summary_str(&a, "network_id", net, sizeof net);
	fake_id(id, 1);
	snprintf(name, sizeof name, "evil-%d\nerror MS-FAKE-INJECTED x=1",
	         (int)getpid());
	pub = publish(name, it_free_port(), id, net);
	ck_assert_int_eq(dit_wait_log2(&a, "MS-DISC-PEER-FOUND", id, FOUND_MS),
	                 0);
	ck_assert_int_eq(dit_wait_log2(&a, "MS-DISC-FOUND", "MS-FAKE-INJECTED",
	                               FOUND_MS),
	                 0);
	unpublish(pub);
	text = ms_test_read_file(a.log, NULL);
	ck_assert_ptr_nonnull(text);
	/* the name is there, quoted, on the line of the event it is in */
	ck_assert_msg(strstr(text, "\\x0aerror MS-FAKE-INJECTED x=1\"") != NULL,
	              "no quoted name in the log");
	/* and no line starts with what followed the newline */
	ck_assert_msg(strstr(text, "\nerror MS-FAKE") == NULL,
	              "a log line was injected");
	free(text);
	it_node_stop(&a);
}
END_TEST

START_TEST(mdns_flood_bounded)
{
	it_node a, b;
	it_node *pa[] = {&a};
	char net[80], ids[NFLOOD][65], name[64];
	pid_t pub[NFLOOD];
	json_t *j, *arr;

	it_node_init(&a, "a", NULL,
	             "[limits]\nmdns_records = 8\ndials_inflight = 2\n");
	it_node_init(&b, "b", &a, NULL);
	dit_node_start(&a, NULL, 0, NULL, NULL);
	it_summary_str(&a, "network_id", net, sizeof net);
	for (unsigned i = 0; i < NFLOOD; i++) {
		fake_id(ids[i], 100 + i);
		snprintf(name, sizeof name, "flood-%d-%u", (int)getpid(), i);
		pub[i] = publish(name, it_free_port(), ids[i], net);
	}
	ck_assert_int_eq(it_wait_stat_ge(&a, "limit_mdns_records", 1, FOUND_MS),
	                 0);
	ck_assert_int_eq(it_wait_log(&a, "MS-LIMIT limit=mdns_records",
	                             FOUND_MS),
	                 0);
	/* a new member during the flood: handshake, sync */
	it_node_start(&b, pa, 1);
	it_put(&b, "member/b", "1");
	ck_assert_int_eq(it_wait_value(&a, "member/b", "1", IT_DEADLINE_MS), 0);
	for (unsigned i = 0; i < NFLOOD; i++)
		unpublish(pub[i]);

	/* nothing announced reached the store: only b is listed */
	j = it_inspect(&a, "peers");
	arr = json_object_get(j, "peers");
	ck_assert_uint_eq(json_array_size(arr), 1);
	json_decref(j);
	for (unsigned i = 0; i < NFLOOD; i++)
		ck_assert_int_eq(dit_peer(&a, ids[i], NULL, 0, NULL, 0), 0);
	ck_assert(it_node_alive(&a));
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("discovery_flood");
	TCase *tc = it_tcase("discovery_flood", 300);

	if (!dit_avahi_running()) {
		printf("SKIP: no avahi-daemon is running (start one with "
		       "tools/services.sh start DIR)\n");
		return 77;
	}
	tcase_add_test(tc, mdns_name_quoted);
	tcase_add_test(tc, mdns_flood_bounded);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
