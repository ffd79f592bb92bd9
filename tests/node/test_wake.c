/*
 * test_wake.c — the store's commit wake-up (node/wake.h) on a real store:
 * a commit makes the descriptor readable and a drain empties it; a store
 * that is not there is refused; a snapshot older than the last commit is
 * said to be behind (store/arrival.h), a fresh one is not.
 */
#define _GNU_SOURCE
#include <check.h>
#include <poll.h>
#include <stdlib.h>

#include "arrival.h"
#include "meshsync.h"
#include "ms_test.h"
#include "node_int.h"
#include "wake.h"

static char *dir;

static ms_node *node_new(void)
{
	ms_node *n = NULL;
	char *d = ms_test_pjoin(dir, "n");

	MS_PASS(ms_node_init(d, NULL, NULL));
	MS_PASS(ms_node_open(&n, d, NULL, NULL));
	free(d);
	return n;
}

static void put(ms_node *n, const char *k)
{
	MS_PASS(ms_node_put(n, k, strlen(k), "v", 1, 0, NULL, NULL));
}

static int readable(const ms_wake *w)
{
	struct pollfd p = {ms_wake_fd(w), POLLIN, 0};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(commit_wakes_and_drain_empties)
{
	ms_node *n = node_new();
	ms_wake *w = NULL;

	MS_PASS(ms_wake_new(&w, n->dir, NULL));
	ck_assert_int_eq(ms_wake_drain(w), 0);
	ck_assert(!readable(w));
	put(n, "k1");
	ck_assert(readable(w));
	ck_assert_int_eq(ms_wake_drain(w), 1);
	ck_assert(!readable(w));
	ck_assert_int_eq(ms_wake_drain(w), 0);
	/* several commits before a drain: one wake-up */
	put(n, "k2");
	put(n, "k3");
	ck_assert_int_eq(ms_wake_drain(w), 1);
	ck_assert_int_eq(ms_wake_drain(w), 0);
	ms_wake_free(&w);
	ck_assert_ptr_null(w);
	ms_wake_free(&w); /* NULL is fine */
	ms_node_close(&n);
}
END_TEST

START_TEST(missing_store_is_refused)
{
	ms_wake *w = (ms_wake *)&w;
	ms_errbuf eb = {0};
	char *d = ms_test_pjoin(dir, "none");

	ck_assert_int_eq(ms_wake_new(&w, d, &eb), MS_ENOTFOUND);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(strstr(eb.msg, "data.mdb"));
	free(d);
}
END_TEST

START_TEST(old_snapshot_is_behind)
{
	ms_node *n = node_new();
	ms_store_rtxn *rt = NULL;

	put(n, "k1");
	MS_PASS(ms_store_read_begin(n->store, &rt, NULL));
	ck_assert_int_eq(ms_store_arrival_behind(rt), 0);
	put(n, "k2"); /* after the snapshot began */
	ck_assert_int_eq(ms_store_arrival_behind(rt), 1);
	ms_store_read_end(&rt);
	MS_PASS(ms_store_read_begin(n->store, &rt, NULL));
	ck_assert_int_eq(ms_store_arrival_behind(rt), 0);
	ms_store_read_end(&rt);
	ms_node_close(&n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wake");
	TCase *tc = tcase_create("wake");

	ms_test_tcase_tmpdir(tc, &dir, "wake");
	tcase_add_test(tc, commit_wakes_and_drain_empties);
	tcase_add_test(tc, missing_store_is_refused);
	tcase_add_test(tc, old_snapshot_is_behind);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
