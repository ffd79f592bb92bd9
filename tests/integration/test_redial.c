/*
 * test_redial.c — a dial whose session cannot even start (here: the store
 * refuses a read snapshot while HELLO is built) is a failed attempt like
 * any other: the peer backs off and is dialled again.  It used to keep its
 * dial handle, and that static peer was never dialled again until the
 * node restarted.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"
#include "ms_test.h"
#include "store.h"

/* LMDB shares one reader table between every process that opens a store
 * (126 slots by default, one per read snapshot); holding all of them makes
 * the running daemon's next ms_store_read_begin fail. */
#define HOLD_MAX 1024

typedef struct holder {
	ms_store *s;
	ms_store_rtxn *rt[HOLD_MAX];
	size_t n;
} holder;

static void hold_readers(holder *h, const char *dir)
{
	ms_store_opts o;
	ms_errbuf eb = {0};

	memset(h, 0, sizeof *h);
	ms_store_opts_default(&o);
	o.readonly = 1;
	MS_PASS_EB(ms_store_open(&h->s, dir, &o, &eb), &eb);
	while (h->n < HOLD_MAX &&
	       ms_store_read_begin(h->s, &h->rt[h->n], NULL) == MS_OK)
		h->n++;
	ck_assert_msg(h->n > 0 && h->n < HOLD_MAX, "held %zu readers", h->n);
}

static void release_readers(holder *h)
{
	while (h->n > 0)
		ms_store_read_end(&h->rt[--h->n]);
	ms_store_close(&h->s);
}

START_TEST(session_that_cannot_start_is_retried)
{
	it_node a, b;
	it_node *pb[] = {&b};
	holder h;

	/* quick retries, so the test does not wait out long backoffs */
	it_node_init(&a, "a", NULL, "[backoff]\nbase = 100ms\ncap = 400ms\n");
	it_node_init(&b, "b", &a, NULL);
	it_put(&a, "k", "from a");
	it_node_start(&a, pb, 1); /* b is not running yet: a backs off */

	hold_readers(&h, a.dir);
	it_node_start(&b, NULL, 0);
	/* a's next dial reaches b, but its HELLO cannot be built */
	ck_assert_msg(it_wait_log(&a, "end=local-error", IT_DEADLINE_MS) == 0,
	              "a never failed to start a session");
	release_readers(&h);

	/* only a dials (no mDNS, b has no peers): the value reaching b proves
	 * a dialled again */
	ck_assert_msg(it_wait_value(&b, "k", "from a", IT_DEADLINE_MS) == 0,
	              "a never dialled b again");
	ck_assert_uint_ge(it_log_count(&a,
	                               "MS-PEER-FAIL addr=tcp://127.0.0.1:"),
	                  1);
	it_node_stop(&a);
	it_node_stop(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("redial");
	TCase *tc = it_tcase("redial", 300);

	tcase_add_test(tc, session_that_cannot_start_is_retried);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
