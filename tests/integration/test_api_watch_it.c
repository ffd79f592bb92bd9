/*
 * test_api_watch_it.c — the embedding API's watch descriptor and changes
 * feed with real processes: two `meshsync-node run` daemons a and b on
 * loopback; this process opens a's directory with ms_node_open (beside a's
 * daemon), and a `meshsync-node put` on b must make a's watch descriptor
 * readable once a's daemon has stored the op it received, and
 * ms_node_changes must then report that op as not local.  The status and
 * peer calls see the running daemon: its pid, and b as a peer.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"
#include "meshsync.h"
#include "ms_test.h"

#define WATCH_DEADLINE_MS 30000

typedef struct found {
	const char *key;
	int seen, local, calls;
	uint8_t author[MS_NODE_ID_LEN];
} found;

static int on_change(const ms_node_change *c, void *ctx)
{
	found *f = ctx;

	f->calls++;
	if (c->klen == strlen(f->key) && memcmp(c->key, f->key, c->klen) == 0) {
		f->seen = 1;
		f->local = c->local;
		memcpy(f->author, c->author, MS_NODE_ID_LEN);
	}
	return 0;
}

typedef struct peer_find {
	uint8_t want[MS_NODE_ID_LEN];
	int seen;
	ms_node_link link;
} peer_find;

static int on_peer(const ms_node_peer *p, void *ctx)
{
	peer_find *f = ctx;

	if (p->id != NULL && memcmp(p->id, f->want, MS_NODE_ID_LEN) == 0) {
		f->seen = 1;
		f->link = p->link;
	}
	return 0;
}

static void hex_id(const it_node *n, uint8_t out[MS_NODE_ID_LEN])
{
	char *text = NULL;
	unsigned v;

	ck_assert_int_eq(it_cli(&text, "id", "--data", (char *)n->dir), 0);
	for (size_t i = 0; i < MS_NODE_ID_LEN; i++) {
		ck_assert_int_eq(sscanf(text + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	free(text);
}

START_TEST(watch_fires_for_a_remote_op)
{
	it_node a, b;
	it_node *all[] = {&a, &b}, *pa[] = {&a};
	ms_node *n = NULL;
	ms_errbuf eb = {0};
	ms_node_status st;
	found f = {.key = "from-b"};
	peer_find pf = {0};
	uint8_t idb[MS_NODE_ID_LEN];
	uint64_t cursor, next;
	ms_test_wait w;
	int fd = -1, wakes = 0;

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	hex_id(&b, idb);
	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	ck_assert_msg(it_wait_no_lag(all, 2, 1, IT_DEADLINE_MS) == 0,
	              "a and b never synced");

	MS_PASS_EB(ms_node_open(&n, a.dir, NULL, &eb), &eb);
	MS_PASS_EB(ms_node_status_get(n, &st, &eb), &eb);
	ck_assert_int_eq(st.daemon_pid, (int)a.pid);
	ck_assert_uint_ge(st.peers, 1);
	memcpy(pf.want, idb, MS_NODE_ID_LEN);
	MS_PASS_EB(ms_node_peers(n, on_peer, &pf, &eb), &eb);
	ck_assert_msg(pf.seen, "a's peer records do not list b");

	/* watch from the current end: only what comes next */
	MS_PASS_EB(ms_node_watch_fd(n, &fd, &eb), &eb);
	cursor = st.cursor;
	MS_PASS_EB(ms_node_changes(n, cursor, 0, on_change, &f, &next, &eb),
	           &eb);
	cursor = next;
	ck_assert_int_eq(f.seen, 0);

	it_put(&b, "from-b", "hello");
	/* a's daemon commits other things too (peer records): each wake-up
	 * is read until the op shows up */
	ms_test_wait_start(&w, WATCH_DEADLINE_MS);
	while (!f.seen && ms_test_wait_more(&w)) {
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, (int)ms_test_wait_left(&w));
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break; /* deadline */
		ck_assert(p.revents & POLLIN);
		wakes++;
		MS_PASS_EB(ms_node_changes(n, cursor, 0, on_change, &f, &next,
		                           &eb),
		           &eb);
		cursor = next;
	}
	ck_assert_msg(f.seen,
	              "a's watch fd woke %d times in %d ms and the changes "
	              "feed never reported b's op",
	              wakes, WATCH_DEADLINE_MS);
	ck_assert_int_eq(f.local, 0);
	ck_assert_mem_eq(f.author, idb, MS_NODE_ID_LEN);
	ck_assert_int_ge(wakes, 1);

	ms_node_close(&n);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_watch_it");
	TCase *tc = it_tcase("api_watch_it", 120);

	tcase_add_test(tc, watch_fires_for_a_remote_op);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
