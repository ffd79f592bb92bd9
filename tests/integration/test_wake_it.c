/*
 * test_wake_it.c — a running daemon learns of other processes' commits at
 * once (node/wake.h), with real processes: in a line a - b - c whose
 * timed read of the arrival feed is a minute apart ([sync] poll = 60s), a
 * `meshsync-node put` on a reaches b (another process's commit wakes a)
 * and c (b's own commit of what it received wakes b) well before any
 * timed read could have sent it.  The wait's deadline is shorter than the
 * poll, so without the wake-up the test fails.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"
#include "meshsync.h"
#include "ms_test.h"

#define POLL_CONF "[sync]\npoll = 60s\n"
/* well under the poll: the first timed read after the nodes' start is a
 * minute away, and the put comes seconds after the start */
#define WAKE_DEADLINE_MS 20000

static void node_id(const it_node *n, char out[MS_NODE_ID_HEX_LEN])
{
	char *text = NULL;

	ck_assert_int_eq(it_cli(&text, "id", "--data", (char *)n->dir), 0);
	ck_assert_int_eq(sscanf(text, "%64s", out), 1);
	free(text);
}

/* Only the neighbours may connect, so peer exchange cannot make the line
 * a triangle (c must get a's write through b). */
static void allow(const it_node *n, const char *ids)
{
	char conf[600], line[300];

	snprintf(conf, sizeof conf, "%s/meshsync.conf", n->dir);
	snprintf(line, sizeof line, "\n[net]\nallow = %s\n", ids);
	ms_test_append_file(conf, line);
}

START_TEST(put_reaches_the_line_before_the_poll)
{
	it_node a, b, c;
	it_node *all[] = {&a, &b, &c};
	it_node *pa[] = {&a}, *pb[] = {&b};
	char ia[MS_NODE_ID_HEX_LEN], ib[MS_NODE_ID_HEX_LEN],
		ic[MS_NODE_ID_HEX_LEN], both[2 * MS_NODE_ID_HEX_LEN + 1];
	uint64_t t0;

	it_node_init(&a, "a", NULL, POLL_CONF);
	it_node_init(&b, "b", &a, POLL_CONF);
	it_node_init(&c, "c", &a, POLL_CONF);
	node_id(&a, ia);
	node_id(&b, ib);
	node_id(&c, ic);
	allow(&a, ib);
	snprintf(both, sizeof both, "%s %s", ia, ic);
	allow(&b, both);
	allow(&c, ib);
	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	it_node_start(&c, pb, 1);
	/* the sessions are live and have nothing left to send: from here
	 * on only the arrival feed can move an op */
	ck_assert_msg(it_wait_no_lag(all, 3, 1, IT_DEADLINE_MS) == 0,
	              "the line never came up");
	ck_assert_int_eq(it_log_count(&a, "MS-SYNC-WAKE-OFF"), 0);
	ck_assert_int_eq(it_log_count(&b, "MS-SYNC-WAKE-OFF"), 0);

	t0 = ms_test_now_ms();
	it_put(&a, "k", "woken");
	ck_assert_msg(it_wait_value(&b, "k", "woken", WAKE_DEADLINE_MS) == 0,
	              "b did not get a's put within %d ms (poll is 60 s)",
	              WAKE_DEADLINE_MS);
	ck_assert_msg(it_wait_value(&c, "k", "woken", WAKE_DEADLINE_MS) == 0,
	              "c did not get b's relay within %d ms (poll is 60 s)",
	              WAKE_DEADLINE_MS);
	fprintf(stderr, "test_wake_it: put to c in %llu ms\n",
	        (unsigned long long)(ms_test_now_ms() - t0));
	it_node_stop(&c);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wake_it");
	TCase *tc = it_tcase("wake_it", 120);

	tcase_add_test(tc, put_reaches_the_line_before_the_poll);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
