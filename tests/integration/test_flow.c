/*
 * test_flow.c — who goes first and when to retry, with real processes:
 * a user-priority write overtakes a 10,000-op background backlog on a link
 * with little credit; a peer that is down is retried with growing delays
 * within the configured bounds, and at once when it comes back and dials us.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"
#include "ms_test.h"

START_TEST(user_write_overtakes_background_backlog)
{
	enum { BACKLOG = 10000 };
	it_node a, b;
	it_node *ab[] = {&a, &b};
	it_node *pb[] = {&b};

	/* b grants two ops of credit per ACK: a slow link, never flooded */
	it_node_init(&a, "a", NULL, "[sync]\nbatch_ops = 2\n");
	it_node_init(&b, "b", &a, "[sync]\ncredit = 2\nbatch_ops = 2\n");
	it_bulk_put(&a, "bulk", BACKLOG, 1);
	it_node_start(&b, NULL, 0);
	it_node_start(&a, pb, 1);

	MS_WAIT(it_summary_u64(&b, "ops") >= 20, IT_DEADLINE_MS,
	        "the backlog never started");
	it_put(&a, "urgent", "now");
	ck_assert_msg(it_wait_value(&b, "urgent", "now", IT_DEADLINE_MS) == 0,
	              "the user write never arrived");
	/* read after the arrival: an upper bound of what b had then */
	uint64_t had = it_summary_u64(&b, "ops");
	ck_assert_msg(had < BACKLOG + 1,
	              "user write arrived only after the backlog (%llu ops)",
	              (unsigned long long)had);
	ck_assert_int_eq(it_wait_converged(ab, 2, BACKLOG + 1,
	                                   5 * IT_DEADLINE_MS),
	                 0);
	it_node_stop(&a);
	it_node_stop(&b);
}
END_TEST

/* The backoff_ms=N values of a's MS-PEER-FAIL lines, in order. */
static size_t fail_delays(const it_node *n, uint64_t *out, size_t cap)
{
	FILE *f = fopen(n->log, "r");
	char line[4096];
	size_t k = 0;

	ck_assert_ptr_nonnull(f);
	while (k < cap && fgets(line, sizeof line, f) != NULL) {
		const char *p;
		if (strstr(line, "MS-PEER-FAIL") == NULL)
			continue;
		p = strstr(line, "backoff_ms=");
		ck_assert_msg(p != NULL, "MS-PEER-FAIL without backoff_ms: %s",
		              line);
		out[k++] = strtoull(p + strlen("backoff_ms="), NULL, 10);
	}
	fclose(f);
	return k;
}

/* n's node id in hex (`meshsync-node id`): hex order is byte order. */
static void id_of(const it_node *n, char *out, size_t cap)
{
	char *o = NULL;

	ck_assert_int_eq(it_run(&o, NULL, MS_NODE_BIN, "id", "--data", n->dir,
	                        (char *)NULL),
	                 0);
	ck_assert_ptr_nonnull(o);
	o[strcspn(o, "\n")] = '\0';
	snprintf(out, cap, "%s", o);
	free(o);
}

START_TEST(backoff_grows_then_kick_on_return)
{
	enum { FAILS = 5 };
	it_node a, b;
	it_node *ab[] = {&a, &b};
	it_node *pa[] = {&a}, *pb[] = {&b};
	uint64_t d[16];
	char dial[128], ida[80], idb[80];

	it_node_init(
		&a, "a", NULL,
		"[backoff]\nstrategy = exponential\nbase = 400ms\ncap = 30s\n"
		"kick_interval = 200ms\n");
	it_node_init(&b, "b", &a, NULL);
	it_put(&b, "from-b", "hello");
	id_of(&a, ida, sizeof ida);
	id_of(&b, idb, sizeof idb);
	it_node_start(&a, pb, 1); /* b is down */

	MS_WAIT(fail_delays(&a, d, 16) >= FAILS, IT_DEADLINE_MS,
	        "a did not retry b %d times", FAILS);
	size_t n = fail_delays(&a, d, 16);
	/* exponential within bounds: 400, 800, 1600, 3200, 6400 ... <= 30 s */
	for (size_t i = 0; i < n; i++) {
		uint64_t want = 400ull << i;
		if (want > 30000)
			want = 30000;
		ck_assert_msg(d[i] == want, "delay %zu is %llu ms, want %llu",
		              i, (unsigned long long)d[i],
		              (unsigned long long)want);
	}

	/* b comes back and dials a.  With the lower id, a retries b at
	 * once, not after its next delay (>= 6.4 s away); with the higher,
	 * b's session is the one the pair keeps and a does not dial
	 * (docs/protocol.md §5.7: its dial would end as a duplicate) */
	snprintf(dial, sizeof dial, "MS-PEER-DIAL addr=%s", b.endpoint);
	size_t dials = it_log_count(&a, dial);
	ms_test_wait retry; /* 4 s from before b starts */
	ms_test_wait_start(&retry, 4000);
	it_node_start(&b, pa, 1);
	if (strcmp(ida, idb) < 0) {
		MS_WAIT(it_log_count(&a, dial) != dials,
		        ms_test_wait_left(&retry),
		        "a did not retry b when it announced itself");
		ck_assert_int_eq(it_wait_converged(ab, 2, 1, IT_DEADLINE_MS),
		                 0);
	} else {
		ck_assert_int_eq(it_wait_converged(ab, 2, 1,
		                                   ms_test_wait_left(&retry)),
		                 0);
		ck_assert_uint_eq(it_log_count(&a, dial), dials);
	}
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flow");
	TCase *tc = it_tcase("flow", 600);

	tcase_add_test(tc, user_write_overtakes_background_backlog);
	tcase_add_test(tc, backoff_grows_then_kick_on_return);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
