/*
 * test_mesh.c — real `meshsync-node run` processes on loopback converge:
 * two nodes, a line A–B–C (also with A gone after B has a write), a ring of
 * five with concurrent writes to shared keys, and a node of another network
 * that must never exchange an op with the others.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"
#include "ms_test.h"

static char *dump_sorted(json_t *j)
{
	return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
}

START_TEST(two_nodes_converge)
{
	it_node a, b;
	it_node *all[] = {&a, &b};
	it_node *pa[] = {&a};
	char key[32], val[32];

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "a/%d", i);
		snprintf(val, sizeof val, "from a %d", i);
		it_put(&a, key, val);
		snprintf(key, sizeof key, "b/%d", i);
		snprintf(val, sizeof val, "from b %d", i);
		it_put(&b, key, val);
	}
	it_put(&a, "shared", "a wrote this");
	it_put(&b, "shared", "b wrote this");
	ck_assert_msg(it_wait_converged(all, 2, 22, IT_DEADLINE_MS) == 0,
	              "two nodes did not converge");
	ck_assert_int_eq(it_wait_value(&b, "a/9", "from a 9", 1000), 0);
	ck_assert_int_eq(it_wait_value(&a, "b/9", "from b 9", 1000), 0);
	/* each knows the other holds everything: no sync-queue depth, no
	 * unconfirmed own op */
	ck_assert_msg(it_wait_no_lag(all, 2, 1, IT_DEADLINE_MS) == 0,
	              "peer_vv still lags after convergence");
	it_node_stop(&b);
	it_node_stop(&a);
	/* each side logged a processing summary for the session */
	ck_assert_uint_ge(it_log_count(&a, "MS-SYNC-SUMMARY"), 1);
	ck_assert_uint_ge(it_log_count(&b, "MS-SYNC-SUMMARY"), 1);
	ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data", a.dir,
	                        "verify", (char *)NULL),
	                 0);
}
END_TEST

/* Both nodes name the other as a static peer, so both dial: the pair
 * keeps one session (the one the lower id dialled; when both dials came
 * up, the other ends with BYE(duplicate); a is up first, so whether b's
 * dial or a's retry comes first depends on the ids), the higher id does
 * not dial again while it lasts, and every op crosses once (two sessions
 * would carry each op twice). */
START_TEST(pair_keeps_one_session)
{
	it_node a, b;
	it_node *all[] = {&a, &b};
	it_node *pa[] = {&a}, *pb[] = {&b};
	char key[32];

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_start(&a, pb, 1);
	it_node_start(&b, pa, 1);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 20; i++) {
			snprintf(key, sizeof key, "a/%d/%d", round, i);
			it_put(&a, key, "x");
			snprintf(key, sizeof key, "b/%d/%d", round, i);
			it_put(&b, key, "y");
		}
		ck_assert_msg(it_wait_converged(all, 2, 40u * (round + 1),
		                                IT_DEADLINE_MS) == 0,
		              "round %d did not converge", round);
	}
	it_node_stop(&b);
	it_node_stop(&a);
	/* no flapping: one duplicate per side at most (the pair linked
	 * once), and each op crossed about once: 80 ops, 40 each way */
	ck_assert_uint_le(it_stat(&a, "sessions_duplicate"), 1);
	ck_assert_uint_le(it_stat(&b, "sessions_duplicate"), 1);
	ck_assert_uint_le(it_stat(&a, "sessions_out") +
	                          it_stat(&b, "sessions_out"),
	                  2);
	ck_assert_uint_ge(it_stat(&a, "ops_sent") + it_stat(&b, "ops_sent"),
	                  80);
	/* a few may cross twice (an op written while the session's vector
	 * exchange ran); two sessions would carry all 80 twice */
	ck_assert_uint_le(it_stat(&a, "ops_sent") + it_stat(&b, "ops_sent"),
	                  100);
}
END_TEST

START_TEST(line_relays_hop_by_hop)
{
	it_node a, b, c;
	it_node *all[] = {&b, &c};
	it_node *pa[] = {&a}, *pb[] = {&b};

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_init(&c, "c", &a, NULL);
	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	it_node_start(&c, pb, 1);

	it_put(&a, "k1", "one");
	ck_assert_msg(it_wait_value(&c, "k1", "one", IT_DEADLINE_MS) == 0,
	              "k1 never reached C through B");

	/* A leaves as soon as B has the write: B must carry it on alone. */
	it_put(&a, "k2", "two");
	ck_assert_int_eq(it_wait_value(&b, "k2", "two", IT_DEADLINE_MS), 0);
	it_node_stop(&a);
	ck_assert_msg(it_wait_value(&c, "k2", "two", IT_DEADLINE_MS) == 0,
	              "k2 never reached C after A stopped");
	ck_assert_int_eq(it_wait_converged(all, 2, 2, IT_DEADLINE_MS), 0);
	/* b knows a held what a wrote and c holds what b relayed */
	ck_assert_msg(it_wait_no_lag(all, 2, 1, IT_DEADLINE_MS) == 0,
	              "peer_vv still lags after relaying");
	it_node_stop(&c);
	it_node_stop(&b);
}
END_TEST

START_TEST(ring_of_five_concurrent_writes)
{
	enum { N = 5, SHARED = 4 };
	it_node nodes[N];
	it_node *all[N];
	char name[4], key[32], val[32];
	char *conflicts0 = NULL;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "%c", 'a' + i);
		it_node_init(&nodes[i], name, i == 0 ? NULL : &nodes[0], NULL);
		all[i] = &nodes[i];
	}
	for (int i = 0; i < N; i++) {
		it_node *next[] = {&nodes[(i + 1) % N]};
		it_node_start(&nodes[i], next, 1);
	}
	for (int k = 0; k < SHARED; k++) {
		for (int i = 0; i < N; i++) {
			snprintf(key, sizeof key, "shared/%d", k);
			snprintf(val, sizeof val, "node %d", i);
			it_put(&nodes[i], key, val);
		}
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "own/%d", i);
		it_put(&nodes[i], key, "mine");
	}
	ck_assert_msg(it_wait_converged(all, N, N * SHARED + N,
	                                IT_DEADLINE_MS) == 0,
	              "ring did not converge");
	for (int i = 0; i < N; i++) {
		json_t *j = it_inspect(&nodes[i], "conflicts");
		char *s = dump_sorted(j);
		json_decref(j);
		if (i == 0)
			conflicts0 = s;
		else {
			ck_assert_msg(strcmp(conflicts0, s) == 0,
			              "conflicts differ:\n%s\n%s", conflicts0,
			              s);
			free(s);
		}
	}
	free(conflicts0);
	for (int i = 0; i < N; i++)
		it_node_stop(&nodes[i]);
}
END_TEST

START_TEST(wrong_network_key_never_exchanges)
{
	it_node a, b, x;
	it_node *ab[] = {&a, &b};
	it_node *pa[] = {&a}, *pax[] = {&a, &x};

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_init(&x, "x", NULL, NULL); /* a network of its own */
	it_node_start(&a, NULL, 0);
	it_node_start(&x, pa, 1);  /* x dials a */
	it_node_start(&b, pax, 2); /* b dials both */
	for (int i = 0; i < 3; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		it_put(&a, key, "a");
		it_put(&x, key, "x");
	}
	ck_assert_int_eq(it_wait_converged(ab, 2, 3, IT_DEADLINE_MS), 0);
	/* x's dial to a failed at the handshake and was retried; b's dial to
	 * x likewise — counted, logged with the reason, backed off. */
	ck_assert_msg(it_wait_log(&x, "reason=key", IT_DEADLINE_MS) == 0,
	              "x never logged a key failure");
	ck_assert_msg(it_wait_log(&b, "reason=key", IT_DEADLINE_MS) == 0,
	              "b never logged a key failure");
	it_put(&a, "late", "after the failures");
	ck_assert_int_eq(it_wait_converged(ab, 2, 4, IT_DEADLINE_MS), 0);
	ck_assert_uint_eq(it_summary_u64(&x, "ops"), 3);
	ck_assert_uint_eq(it_summary_u64(&x, "authors"), 1);
	ck_assert_uint_eq(it_summary_u64(&a, "authors"), 1);
	ck_assert_uint_eq(it_summary_u64(&b, "ops"), 4);
	/* counted on both sides, in the store (flushed at most once a
	 * second): the dialers' key failures, the listeners' failed
	 * handshakes from the transport's monitor */
	ck_assert_msg(it_wait_stat_ge(&x, "handshake_fail_key", 1,
	                              IT_DEADLINE_MS) == 0,
	              "x: handshake_fail_key not counted");
	ck_assert_msg(it_wait_stat_ge(&b, "handshake_fail_key", 1,
	                              IT_DEADLINE_MS) == 0,
	              "b: handshake_fail_key not counted");
	ck_assert_msg(it_wait_stat_ge(&a, "handshake_fail_in", 1,
	                              IT_DEADLINE_MS) == 0,
	              "a: handshake_fail_in not counted");
	ck_assert_msg(it_wait_stat_ge(&x, "handshake_fail_in", 1,
	                              IT_DEADLINE_MS) == 0,
	              "x: handshake_fail_in not counted");
	/* the members' good sessions are counted too; no key failure among them */
	ck_assert_uint_ge(it_stat(&b, "sessions_out"), 1);
	ck_assert_uint_ge(it_stat(&a, "sessions_in"), 1);
	ck_assert_uint_eq(it_stat(&a, "handshake_fail_key"), 0);
	ck_assert_uint_ge(it_stat(&a, "bytes_in"), 1);
	it_node_stop(&x);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mesh");
	TCase *tc = it_tcase("mesh", 240);

	tcase_add_test(tc, two_nodes_converge);
	tcase_add_test(tc, pair_keeps_one_session);
	tcase_add_test(tc, line_relays_hop_by_hop);
	tcase_add_test(tc, ring_of_five_concurrent_writes);
	tcase_add_test(tc, wrong_network_key_never_exchanges);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
