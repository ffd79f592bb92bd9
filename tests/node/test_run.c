/*
 * test_run.c — the daemon: real `meshsync-node run` processes on 127.0.0.1
 * with ports the kernel picks (read back from DIR/node.endpoints): two
 * nodes with writes on both converge to one state_hash; a `put` by another
 * process is pushed to the peer; the pid lock refuses a second daemon;
 * SIGTERM stops both with exit 0 and removes node.pid and node.endpoints;
 * the peer record keeps the last session summary.  Every wait is on a
 * condition with a deadline; every process started is stopped by its pid.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_test.h"
#include "node_int.h"
#include "store.h"

#define DEADLINE_MS 20000 /* generous for sanitizer builds */

static char *tmp;

typedef struct daemon_proc {
	pid_t pid;
	char *dir;
	char ep[256];
} daemon_proc;

/* Start `meshsync-node run` on dir; its output goes to dir.log (beside
 * dir). */
static void daemon_start(daemon_proc *p, const char *dir, const char *peer)
{
	char *argv[16];
	int n = 0;
	ms_test_spawn_opts o = {0};
	char *log = NULL;

	ck_assert_int_gt(asprintf(&log, "%s.log", dir), 0);
	p->dir = strdup(dir);
	p->ep[0] = '\0';
	argv[n++] = MS_NODE_BIN;
	argv[n++] = "run";
	argv[n++] = "--data";
	argv[n++] = (char *)dir;
	argv[n++] = "--listen";
	argv[n++] = "tcp://127.0.0.1:0";
	argv[n++] = "--no-mdns";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (peer != NULL) {
		argv[n++] = "--peer";
		argv[n++] = (char *)peer;
	}
	argv[n] = NULL;
	o.log = log;
	p->pid = ms_test_spawn(argv, &o);
	free(log);
}

/* 1 once path (node.endpoints) holds an endpoint: its first line goes to
 * p->ep.  The daemon must still be running. */
static int endpoint_written(daemon_proc *p, const char *path)
{
	char *text = ms_test_read_file(path, NULL);

	if (text != NULL) {
		snprintf(p->ep, sizeof p->ep, "%.*s", (int)strcspn(text, "\n"),
		         text);
		free(text);
	}
	ck_assert_msg(kill(p->pid, 0) == 0, "daemon %d died", (int)p->pid);
	return p->ep[0] != '\0';
}

/* Wait for dir/node.endpoints and read its first line. */
static void daemon_wait_ready(daemon_proc *p)
{
	char *path = ms_test_pjoin(p->dir, "node.endpoints");

	MS_WAIT(endpoint_written(p, path), DEADLINE_MS,
	        "no %s within the deadline", path);
	ck_assert_ptr_nonnull(strstr(p->ep, "tcp://127.0.0.1:"));
	ck_assert_str_ne(p->ep, "tcp://127.0.0.1:0");
	free(path);
}

/* SIGTERM and wait (bounded); returns the exit status. */
static int daemon_stop(daemon_proc *p)
{
	int st = 0;

	if (p->pid <= 0)
		return -1;
	ms_test_stop_pid(p->pid, SIGTERM, DEADLINE_MS, &st);
	p->pid = 0;
	free(p->dir);
	p->dir = NULL;
	return ms_test_exit_code(st);
}

static void make_node(const char *dir, const char *netkey_text)
{
	ms_errbuf eb = {0};
	MS_PASS_EB(ms_node_init(dir, netkey_text, &eb), &eb);
}

static void put(const char *dir, const char *k, const char *v)
{
	ms_node *n = NULL;
	ms_errbuf eb = {0};
	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	MS_PASS_EB(ms_node_put(n, k, strlen(k), v, strlen(v), 0, NULL, &eb),
	           &eb);
	ms_node_close(&n);
}

/* Run the real binary: `meshsync-node put --data dir k v`, exit 0. */
static void put_external(const char *dir, const char *k, const char *v)
{
	ms_test_out r;

	ms_test_cmd_runl(&r, NULL, MS_NODE_BIN, "put", "--data", dir, k, v,
	                 (char *)NULL);
	ck_assert_msg(r.code == 0, "put exit %d: %s", r.code, r.err);
	ms_test_out_free(&r);
}

static ms_store *open_ro(const char *dir)
{
	ms_store_opts o;
	ms_store *s = NULL;
	ms_errbuf eb = {0};
	ms_store_opts_default(&o);
	o.readonly = 1;
	MS_PASS_EB(ms_store_open(&s, dir, &o, &eb), &eb);
	return s;
}

static void state_hash(const char *dir, uint8_t out[MS_HASH_LEN])
{
	ms_store *s = open_ro(dir);
	ms_store_rtxn *rt = NULL;
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS(ms_store_state_hash(rt, out, NULL));
	ms_store_read_end(&rt);
	ms_store_close(&s);
}

static int has_key(const char *dir, const char *k, const char *v)
{
	ms_store *s = open_ro(dir);
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	int r = 0;
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	if (ms_store_get(rt, (const uint8_t *)k, strlen(k), &ks, NULL) == MS_OK)
		r = ks.nheads == 1 && ks.heads[0].value_len == strlen(v) &&
		    memcmp(ks.heads[0].value, v, strlen(v)) == 0;
	ms_store_read_end(&rt);
	ms_store_close(&s);
	return r;
}

static int same_state(const char *a, const char *b)
{
	uint8_t ha[MS_HASH_LEN], hb[MS_HASH_LEN];
	state_hash(a, ha);
	state_hash(b, hb);
	return memcmp(ha, hb, MS_HASH_LEN) == 0;
}

static void wait_same_state(const char *a, const char *b)
{
	MS_WAIT(same_state(a, b), DEADLINE_MS, "%s and %s did not converge", a,
	        b);
}

/* A second node joining the first's network. */
static void make_pair(char **a, char **b)
{
	ms_node *n = NULL;
	char text[MS_NODE_NETKEY_TEXT_LEN];
	ms_errbuf eb = {0};

	*a = ms_test_pjoin(tmp, "a");
	*b = ms_test_pjoin(tmp, "b");
	make_node(*a, NULL);
	MS_PASS_EB(ms_node_open(&n, *a, NULL, &eb), &eb);
	ms_node_network_key_text(n, text);
	ms_node_close(&n);
	make_node(*b, text);
}

static int file_exists(const char *dir, const char *name)
{
	char *p = ms_test_pjoin(dir, name);
	int r = ms_test_exists(p);

	free(p);
	return r;
}

START_TEST(two_nodes_converge)
{
	char *a, *b;
	daemon_proc pa = {0}, pb = {0};
	ms_test_wait live;

	make_pair(&a, &b);
	for (int i = 0; i < 50; i++) {
		char k[32], v[32];
		snprintf(k, sizeof k, "a/%d", i);
		snprintf(v, sizeof v, "va%d", i);
		put(a, k, v);
		snprintf(k, sizeof k, "b/%d", i);
		snprintf(v, sizeof v, "vb%d", i);
		put(b, k, v);
	}
	put(a, "both", "from-a");
	put(b, "both", "from-b");
	ck_assert(!same_state(a, b));

	daemon_start(&pa, a, NULL);
	daemon_wait_ready(&pa);
	ck_assert(file_exists(a, "node.pid"));
	daemon_start(&pb, b, pa.ep);
	daemon_wait_ready(&pb);
	wait_same_state(a, b);
	ck_assert(has_key(a, "b/49", "vb49"));
	ck_assert(has_key(b, "a/0", "va0"));

	/* live: a put by another process on either side reaches the other,
	 * both within one deadline */
	ms_test_wait_start(&live, DEADLINE_MS);
	put_external(a, "live/a", "1");
	MS_WAIT(has_key(b, "live/a", "1"), ms_test_wait_left(&live),
	        "live/a not pushed");
	put_external(b, "live/b", "2");
	MS_WAIT(has_key(a, "live/b", "2"), ms_test_wait_left(&live),
	        "live/b not pushed");
	wait_same_state(a, b);

	ck_assert_int_eq(daemon_stop(&pb), 0);
	ck_assert_int_eq(daemon_stop(&pa), 0);
	ck_assert(!file_exists(a, "node.pid"));
	ck_assert(!file_exists(a, "node.endpoints"));
	ck_assert(!file_exists(b, "node.pid"));
	ck_assert(!file_exists(b, "node.endpoints"));

	/* b's record of a: identified, static, the last summary kept */
	{
		ms_store *s = open_ro(b);
		ms_store_rtxn *rt = NULL;
		ms_node *n = NULL;
		ms_peer_rec rec;
		MS_PASS(ms_node_open(&n, a, NULL, NULL));
		MS_PASS(ms_store_read_begin(s, &rt, NULL));
		MS_PASS(ms_store_peer_get(rt, ms_node_id(n), &rec, NULL));
		ck_assert_uint_eq(rec.has_id, 1);
		ck_assert(rec.source & MS_PEER_SRC_STATIC);
		ck_assert_uint_eq(rec.has_summary, 1);
		ck_assert_uint_ge(rec.sessions, 1);
		ck_assert_uint_eq(rec.last.outbound, 1);
		/* b received a's 51 ops at start and live/a later */
		ck_assert_uint_eq(rec.last.applied, 52);
		ck_assert_uint_eq(rec.last.rejected, 0);
		ck_assert_str_eq(rec.last.end_reason, "shutdown");
		ms_store_read_end(&rt);
		ms_store_close(&s);
		ms_node_close(&n);
	}
	free(a);
	free(b);
}
END_TEST

START_TEST(second_daemon_refused)
{
	char *a = ms_test_pjoin(tmp, "a");
	daemon_proc pa = {0};
	ms_test_out r;
	char want[512], *nl;

	make_node(a, NULL);
	daemon_start(&pa, a, NULL);
	daemon_wait_ready(&pa);
	ms_test_cmd_runl(&r, NULL, MS_NODE_BIN, "run", "--data", a, "--listen",
	                 "tcp://127.0.0.1:0", "--no-mdns", (char *)NULL);
	ck_assert_int_eq(r.code, 3);
	/* its first line */
	nl = strchr(r.err, '\n');
	ck_assert_ptr_nonnull(nl);
	nl[1] = '\0';
	snprintf(want, sizeof want,
	         "meshsync-node: run %s: already running (pid %d)\n", a,
	         (int)pa.pid);
	ck_assert_str_eq(r.err, want);
	ms_test_out_free(&r);
	/* the first daemon is untouched */
	ck_assert(file_exists(a, "node.endpoints"));
	ck_assert_int_eq(daemon_stop(&pa), 0);
	free(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("daemon");

	ms_test_tcase_tmpdir(tc, &tmp, "run");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, two_nodes_converge);
	tcase_add_test(tc, second_daemon_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
