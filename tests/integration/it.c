/* it.c — integration-test harness: real node processes on loopback. */
#define _GNU_SOURCE
#include "it.h"
#include "meshsync.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_test.h"
#include "ms_test_host.h"

static char tmpdir[256];
/* PIDs of daemons this test started and has not stopped yet: the test's
 * it_node structs are gone by teardown, so the PIDs are kept here. */
static pid_t running[64];

static void track(pid_t pid, int add)
{
	for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
		if (add && running[i] == 0) {
			running[i] = pid;
			return;
		}
		if (!add && running[i] == pid) {
			running[i] = 0;
			return;
		}
	}
	ck_assert_msg(!add, "too many daemons in one test");
}

const char *it_tmpdir(void)
{
	return tmpdir;
}

/* A failed assertion ends the test process through exit() before the
 * teardown runs: then atexit does the teardown's work. */
static void at_exit(void)
{
	it_teardown();
}

void it_setup(void)
{
	static int registered;

	if (!registered) {
		atexit(at_exit);
		registered = 1;
	}
	/* tmpfs keeps thousands of durable commits fast; the tests are about
	 * sync, not fsync. */
	char *dir;

	ms_test_prefer_ram_tmpdir();
	dir = ms_test_tmpdir("it");
	snprintf(tmpdir, sizeof tmpdir, "%s", dir);
	free(dir);
	memset(running, 0, sizeof running);
}

static void stop_all(void)
{
	for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
		ms_test_kill_pid(running[i]);
		running[i] = 0;
	}
}

void it_teardown(void)
{
	stop_all();
	if (getenv("MS_IT_KEEP") == NULL && tmpdir[0] != '\0')
		ms_test_rmdir(tmpdir);
	else if (tmpdir[0] != '\0')
		fprintf(stderr, "it: kept %s\n", tmpdir);
	tmpdir[0] = '\0';
}

TCase *it_tcase(const char *name, int timeout_s)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, it_setup, it_teardown);
	tcase_set_timeout(tc, timeout_s);
	return tc;
}

int it_free_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	ck_assert_int_ge(fd, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int it_run(char **out, char **err, const char *bin, ...)
{
	ms_test_out r;
	va_list ap;
	int code;

	va_start(ap, bin);
	ms_test_cmd_run_va(&r, NULL, bin, ap);
	va_end(ap);
	if (r.errlen > 0 && err == NULL)
		fprintf(stderr, "%s",
		        r.err); /* keep diagnostics in the test log */
	if (out != NULL) {
		*out = r.out;
		r.out = NULL;
	}
	if (err != NULL) {
		*err = r.err;
		r.err = NULL;
	}
	code = r.code;
	ms_test_out_free(&r);
	return code;
}

void it_node_init(it_node *n, const char *name, const it_node *netkey_from,
                  const char *extra_conf)
{
	char conf[600], key[600];
	int rc;

	memset(n, 0, sizeof *n);
	snprintf(n->name, sizeof n->name, "%s", name);
	snprintf(n->dir, sizeof n->dir, "%s/node-%s", tmpdir, name);
	snprintf(n->log, sizeof n->log, "%s/node-%s.log", tmpdir, name);
	n->port = it_free_port();
	snprintf(n->endpoint, sizeof n->endpoint, "tcp://127.0.0.1:%d",
	         n->port);
	if (netkey_from != NULL) {
		char *text = NULL;
		snprintf(key, sizeof key, "%s/net-%s.key", tmpdir, name);
		rc = it_cli(&text, "network-key", "--data",
		            (char *)netkey_from->dir);
		ck_assert_int_eq(rc, 0);
		ms_test_write_file(key, text, 0600);
		free(text);
		rc = it_cli(NULL, "init", "--data", n->dir, "--network-key",
		            key);
	} else {
		rc = it_cli(NULL, "init", "--data", n->dir);
	}
	ck_assert_msg(rc == 0, "init %s: exit %d", n->dir, rc);
	if (extra_conf != NULL) {
		snprintf(conf, sizeof conf, "%s/meshsync.conf", n->dir);
		ms_test_append_file(conf, "\n");
		ms_test_append_file(conf, extra_conf);
	}
}

void it_node_start(it_node *n, it_node *const *peers, size_t n_peers)
{
	it_node_start_level(n, peers, n_peers, "debug");
}

void it_node_start_level(it_node *n, it_node *const *peers, size_t n_peers,
                         const char *level)
{
	it_start_opts o = {.level = level};

	it_node_start_opts(n, peers, n_peers, &o);
}

/* 1 once n has written its endpoints file; fails the test if n exited. */
static int started(const it_node *n, const char *endpoints)
{
	int status;

	if (ms_test_exists(endpoints))
		return 1;
	ck_assert_msg(waitpid(n->pid, &status, WNOHANG) == 0,
	              "node %s exited during start (see %s)", n->name, n->log);
	return 0;
}

void it_node_start_opts(it_node *n, it_node *const *peers, size_t n_peers,
                        const it_start_opts *o)
{
	char *argv[MS_TEST_MAX_ARGS];
	char endpoints[600], bus[600];
	const char *env[] = {bus, NULL};
	ms_test_spawn_opts so = {.log = n->log, .die_with_parent = 1};
	size_t k = 0;

	ck_assert_int_eq(n->pid, 0);
	snprintf(endpoints, sizeof endpoints, "%s/node.endpoints", n->dir);
	unlink(endpoints); /* left behind by a SIGKILLed run */
	ck_assert_uint_le(n_peers, (MS_TEST_MAX_ARGS - 16) / 2);
	if (o->netns != NULL)
		k = ms_test_netns_argv(argv, o->netns);
	argv[k++] = MS_NODE_BIN;
	argv[k++] = "run";
	argv[k++] = "--data";
	argv[k++] = n->dir;
	argv[k++] = "--listen";
	argv[k++] = n->endpoint;
	for (size_t i = 0; i < n_peers; i++) {
		argv[k++] = "--peer";
		argv[k++] = peers[i]->endpoint;
	}
	if (!o->mdns)
		argv[k++] = "--no-mdns";
	if (o->level != NULL) {
		argv[k++] = "--log-level";
		argv[k++] = (char *)o->level;
	}
	argv[k] = NULL;
	if (o->bus != NULL) {
		snprintf(bus, sizeof bus, "DBUS_SYSTEM_BUS_ADDRESS=%s", o->bus);
		so.env = env;
	}
	n->pid = ms_test_spawn(argv, &so);
	track(n->pid, 1);
	MS_WAIT(started(n, endpoints), IT_DEADLINE_MS, "node %s did not start",
	        n->name);
}

void it_node_stop(it_node *n)
{
	int status = 0, r;

	ck_assert_int_gt(n->pid, 0);
	r = ms_test_stop_pid(n->pid, SIGTERM, IT_DEADLINE_MS, &status);
	track(n->pid, 0);
	n->pid = 0;
	ck_assert_msg(r == 0, "node %s did not stop on SIGTERM", n->name);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "node %s stopped with status 0x%x (see %s)", n->name,
	              status, n->log);
}

void it_node_kill(it_node *n)
{
	if (n->pid <= 0)
		return;
	ms_test_kill_pid(n->pid);
	track(n->pid, 0);
	n->pid = 0;
}

void it_put(const it_node *n, const char *key, const char *value)
{
	int rc = it_cli(NULL, "put", "--data", (char *)n->dir, (char *)key,
	                (char *)value);
	ck_assert_msg(rc == 0, "put %s on %s: exit %d", key, n->name, rc);
}

json_t *it_inspect(const it_node *n, const char *cmd)
{
	char *out = NULL;
	json_error_t je;
	json_t *j;
	int rc = it_run(&out, NULL, MS_INSPECT_BIN, "--data", n->dir, "--json",
	                cmd, (char *)NULL);

	ck_assert_msg(rc == 0, "node-inspect %s on %s: exit %d", cmd, n->name,
	              rc);
	j = json_loads(out, 0, &je);
	ck_assert_msg(j != NULL, "node-inspect %s: bad JSON: %s", cmd, je.text);
	free(out);
	return j;
}

uint64_t it_summary_u64(const it_node *n, const char *field)
{
	json_t *j = it_inspect(n, "summary");
	json_t *v = json_object_get(j, field);
	uint64_t r;

	ck_assert_msg(json_is_integer(v), "summary has no integer %s", field);
	r = (uint64_t)json_integer_value(v);
	json_decref(j);
	return r;
}

void it_summary_str(const it_node *n, const char *field, char *out, size_t cap)
{
	json_t *j = it_inspect(n, "summary");
	json_t *v = json_object_get(j, field);

	ck_assert_msg(json_is_string(v), "summary has no string %s", field);
	snprintf(out, cap, "%s", json_string_value(v));
	json_decref(j);
}

/* `node-inspect CMD` of n on stderr, for the log of a failed wait. */
static void show(const it_node *n, const char *cmd)
{
	char *out = NULL;

	it_run(&out, NULL, MS_INSPECT_BIN, "--data", n->dir, cmd, (char *)NULL);
	fprintf(stderr, "--- node %s %s (log %s)\n%s", n->name, cmd, n->log,
	        out != NULL ? out : "");
	free(out);
}

/* A condition over a set of nodes; arg is the wait's parameter. */
typedef int (*nodes_cond)(it_node *const *nodes, size_t n, const void *arg);

/* Wait until cond holds; at the deadline, show each node's node-inspect
 * cmds (NULL-terminated) for the log and return -1. */
static int wait_nodes(it_node *const *nodes, size_t n, nodes_cond cond,
                      const void *arg, uint64_t deadline_ms,
                      const char *const *cmds)
{
	int ok;

	MS_WAIT_RESULT(ok, cond(nodes, n, arg), deadline_ms, ms_test_pause());
	if (ok)
		return 0;
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; cmds[c] != NULL; c++)
			show(nodes[i], cmds[c]);
	return -1;
}

/* 1 when every node has *want_ops ops and the first node's state_hash. */
static int converged(it_node *const *nodes, size_t n, const void *arg)
{
	uint64_t want_ops = *(const uint64_t *)arg;
	char first[80] = "", hash[80];

	for (size_t i = 0; i < n; i++) {
		if (it_summary_u64(nodes[i], "ops") != want_ops)
			return 0;
		it_summary_str(nodes[i], "state_hash", hash, sizeof hash);
		if (i == 0)
			memcpy(first, hash, sizeof first);
		else if (strcmp(first, hash) != 0)
			return 0;
	}
	return 1;
}

int it_wait_converged(it_node *const *nodes, size_t n, uint64_t want_ops,
                      uint64_t deadline_ms)
{
	static const char *const cmds[] = {"summary", NULL};

	return wait_nodes(nodes, n, converged, &want_ops, deadline_ms, cmds);
}

/* 1 when `meshsync-node get KEY` on n prints value (exit 0). */
static int has_value(const it_node *n, const char *key, const char *value)
{
	size_t vlen = strlen(value);
	char *out = NULL;
	int rc = it_run(&out, NULL, MS_NODE_BIN, "get", "--data", n->dir, key,
	                (char *)NULL);
	int hit = rc == 0 && out != NULL && strncmp(out, value, vlen) == 0 &&
	          (out[vlen] == '\n' || out[vlen] == '\0');

	free(out);
	return hit;
}

int it_wait_value(const it_node *n, const char *key, const char *value,
                  uint64_t deadline_ms)
{
	int ok;

	MS_WAIT_RESULT(ok, has_value(n, key, value), deadline_ms,
	               ms_test_pause());
	return ok ? 0 : -1;
}

size_t it_log_count(const it_node *n, const char *needle)
{
	char *b = ms_test_read_file(n->log, NULL);
	size_t count = 0;

	for (const char *p = b; p != NULL && (p = strstr(p, needle)) != NULL;
	     p++)
		count++;
	free(b);
	return count;
}

int it_wait_log(const it_node *n, const char *needle, uint64_t deadline_ms)
{
	int ok;

	MS_WAIT_RESULT(ok, it_log_count(n, needle) > 0, deadline_ms,
	               ms_test_pause());
	return ok ? 0 : -1;
}

void it_bulk_put(const it_node *n, const char *prefix, int count,
                 int background)
{
	ms_node *node = NULL;
	ms_errbuf eb;
	char key[128], val[128];

	ck_assert_msg(ms_node_open(&node, n->dir, NULL, &eb) == MS_OK,
	              "open %s: %s", n->dir, eb.msg);
	for (int i = 0; i < count; i++) {
		int kl = snprintf(key, sizeof key, "%s/%d", prefix, i);
		int vl = snprintf(val, sizeof val, "value %d", i);
		ck_assert_msg(ms_node_put(node, key, (size_t)kl, val,
		                          (size_t)vl,
		                          background ? MS_NODE_PUT_BACKGROUND
		                                     : 0,
		                          NULL, &eb) == MS_OK,
		              "put %s: %s", key, eb.msg);
	}
	ms_node_close(&node);
}

int it_node_alive(const it_node *n)
{
	int status;

	if (n->pid <= 0)
		return 0;
	return waitpid(n->pid, &status, WNOHANG) == 0;
}

void it_node_signal(const it_node *n, int sig)
{
	ck_assert_int_gt(n->pid, 0);
	ck_assert_int_eq(kill(n->pid, sig), 0);
}

void it_node_write_conf(const it_node *n, const char *text)
{
	char path[600], tmp[620];

	snprintf(path, sizeof path, "%s/meshsync.conf", n->dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	ms_test_write_file(tmp, text, 0644);
	/* atomically: a reload never reads half a file */
	ck_assert_int_eq(rename(tmp, path), 0);
}

uint64_t it_stat(const it_node *n, const char *name)
{
	json_t *j = it_inspect(n, "stats");
	json_t *v = json_object_get(json_object_get(j, "stats"), name);
	uint64_t r = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;

	json_decref(j);
	return r;
}

int it_wait_stat_ge(const it_node *n, const char *name, uint64_t min,
                    uint64_t deadline_ms)
{
	int ok;

	MS_WAIT_RESULT(ok, it_stat(n, name) >= min, deadline_ms,
	               ms_test_pause());
	return ok ? 0 : -1;
}

/* 1 when every identified peer of n has lag 0 and there are at least
 * min_peers of them, and n has no unacknowledged own op. */
static int no_lag(const it_node *n, size_t min_peers)
{
	json_t *j = it_inspect(n, "peers");
	json_t *arr = json_is_array(j) ? j : json_object_get(j, "peers");
	size_t i, ids = 0;
	json_t *p;
	int ok = json_is_array(arr);

	if (ok) {
		json_array_foreach(arr, i, p)
		{
			json_t *lag = json_object_get(p, "lag");
			if (json_is_null(json_object_get(p, "id")))
				continue;
			ids++;
			if (!json_is_integer(lag) ||
			    json_integer_value(lag) != 0)
				ok = 0;
		}
	}
	json_decref(j);
	return ok && ids >= min_peers &&
	       it_summary_u64(n, "unacked_local_ops") == 0;
}

/* 1 when no_lag holds on every node with *min_peers. */
static int all_no_lag(it_node *const *nodes, size_t n, const void *arg)
{
	for (size_t i = 0; i < n; i++)
		if (!no_lag(nodes[i], *(const size_t *)arg))
			return 0;
	return 1;
}

int it_wait_no_lag(it_node *const *nodes, size_t n, size_t min_peers,
                   uint64_t deadline_ms)
{
	static const char *const cmds[] = {"peers", "summary", NULL};

	return wait_nodes(nodes, n, all_no_lag, &min_peers, deadline_ms, cmds);
}
