/* it.c — integration-test harness: real node processes on loopback. */
#define _GNU_SOURCE
#include "it.h"
#include "meshsync.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (16u << 20)
#define MAX_ARGS 64

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

uint64_t it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void it_poll_pause(void)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
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
	const char *base = getenv("TMPDIR");
	struct stat st;

	if (base == NULL || base[0] == '\0')
		base = (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/msit-XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	memset(running, 0, sizeof running);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void stop_all(void)
{
	for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
		if (running[i] > 0) {
			int status;
			kill(running[i], SIGCONT); /* in case a test stopped it */
			kill(running[i], SIGKILL);
			waitpid(running[i], &status, 0);
			running[i] = 0;
		}
	}
}

void it_teardown(void)
{
	stop_all();
	if (getenv("MS_IT_KEEP") == NULL && tmpdir[0] != '\0')
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
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

static void append(char **b, size_t *len, const char *d, size_t n)
{
	ck_assert_uint_le(*len + n, OUT_MAX);
	*b = realloc(*b, *len + n + 1);
	ck_assert_ptr_nonnull(*b);
	memcpy(*b + *len, d, n);
	*len += n;
	(*b)[*len] = '\0';
}

/* Run argv to completion within IT_DEADLINE_MS, capturing both streams. */
static int run_argv(char **out, char **err, char *const argv[])
{
	int po[2], pe[2], status = 0;
	char *ob = NULL, *eb = NULL;
	size_t ol = 0, el = 0;
	uint64_t deadline = it_now_ms() + IT_DEADLINE_MS;
	pid_t pid;

	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	append(&ob, &ol, "", 0);
	append(&eb, &el, "", 0);
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		char buf[65536];
		uint64_t now = it_now_ms();

		if (now >= deadline) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pf, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = read(pf[i].fd, buf, sizeof buf);
			if (r > 0) {
				if (i == 0)
					append(&ob, &ol, buf, (size_t)r);
				else
					append(&eb, &el, buf, (size_t)r);
			} else {
				close(i == 0 ? po[0] : pe[0]);
				if (i == 0)
					po[0] = -1;
				else
					pe[0] = -1;
				open_fds--;
			}
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (el > 0 && err == NULL)
		fprintf(stderr, "%s", eb); /* keep diagnostics in the test log */
	if (out != NULL)
		*out = ob;
	else
		free(ob);
	if (err != NULL)
		*err = eb;
	else
		free(eb);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int it_run(char **out, char **err, const char *bin, ...)
{
	char *argv[MAX_ARGS];
	size_t n = 0;
	va_list ap;

	argv[n++] = (char *)bin;
	va_start(ap, bin);
	for (char *a; (a = va_arg(ap, char *)) != NULL;) {
		ck_assert_uint_lt(n, MAX_ARGS - 1);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return run_argv(out, err, argv);
}

static void write_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);
	ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
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
	snprintf(n->endpoint, sizeof n->endpoint, "tcp://127.0.0.1:%d", n->port);
	if (netkey_from != NULL) {
		char *text = NULL;
		snprintf(key, sizeof key, "%s/net-%s.key", tmpdir, name);
		rc = it_cli(&text, "network-key", "--data", (char *)netkey_from->dir);
		ck_assert_int_eq(rc, 0);
		write_file(key, text, "w");
		free(text);
		rc = it_cli(NULL, "init", "--data", n->dir, "--network-key", key);
	} else {
		rc = it_cli(NULL, "init", "--data", n->dir);
	}
	ck_assert_msg(rc == 0, "init %s: exit %d", n->dir, rc);
	if (extra_conf != NULL) {
		snprintf(conf, sizeof conf, "%s/meshsync.conf", n->dir);
		write_file(conf, "\n", "a");
		write_file(conf, extra_conf, "a");
	}
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
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

void it_node_start_opts(it_node *n, it_node *const *peers, size_t n_peers,
                        const it_start_opts *o)
{
	char *argv[MAX_ARGS];
	char endpoints[600];
	size_t k = 0;
	uint64_t deadline;
	int logfd;

	ck_assert_int_eq(n->pid, 0);
	snprintf(endpoints, sizeof endpoints, "%s/node.endpoints", n->dir);
	unlink(endpoints); /* left behind by a SIGKILLed run */
	ck_assert_uint_le(n_peers, (MAX_ARGS - 16) / 2);
	if (o->netns != NULL) {
		argv[k++] = "/usr/sbin/ip";
		argv[k++] = "netns";
		argv[k++] = "exec";
		argv[k++] = (char *)o->netns;
	}
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

	logfd = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(logfd, 0);
	n->pid = fork();
	ck_assert_int_ge(n->pid, 0);
	if (n->pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		/* a test killed by Check's timeout cannot stop us itself */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(nul, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (o->bus != NULL)
			setenv("DBUS_SYSTEM_BUS_ADDRESS", o->bus, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(logfd);
	track(n->pid, 1);

	deadline = it_now_ms() + IT_DEADLINE_MS;
	while (!file_exists(endpoints)) {
		int status;
		ck_assert_msg(waitpid(n->pid, &status, WNOHANG) == 0,
		              "node %s exited during start (see %s)", n->name, n->log);
		ck_assert_msg(it_now_ms() < deadline, "node %s did not start", n->name);
		it_poll_pause();
	}
}

static int reap(it_node *n, uint64_t deadline_ms, int *status)
{
	uint64_t deadline = it_now_ms() + deadline_ms;

	for (;;) {
		pid_t r = waitpid(n->pid, status, WNOHANG);
		if (r == n->pid)
			return 0;
		if (r < 0)
			return -1;
		if (it_now_ms() >= deadline)
			return -1;
		it_poll_pause();
	}
}

void it_node_stop(it_node *n)
{
	int status = 0;

	ck_assert_int_gt(n->pid, 0);
	kill(n->pid, SIGTERM);
	if (reap(n, IT_DEADLINE_MS, &status) != 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, &status, 0);
		track(n->pid, 0);
		n->pid = 0;
		ck_abort_msg("node %s did not stop on SIGTERM", n->name);
	}
	track(n->pid, 0);
	n->pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "node %s stopped with status 0x%x (see %s)", n->name,
	              status, n->log);
}

void it_node_kill(it_node *n)
{
	int status;

	if (n->pid <= 0)
		return;
	kill(n->pid, SIGCONT); /* in case a test stopped it */
	kill(n->pid, SIGKILL);
	waitpid(n->pid, &status, 0);
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

	ck_assert_msg(rc == 0, "node-inspect %s on %s: exit %d", cmd, n->name, rc);
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

int it_wait_converged(it_node *const *nodes, size_t n, uint64_t want_ops,
                      uint64_t deadline_ms)
{
	uint64_t deadline = it_now_ms() + deadline_ms;

	do {
		char first[80] = "", hash[80];
		size_t ok = 0;

		for (size_t i = 0; i < n; i++) {
			if (it_summary_u64(nodes[i], "ops") != want_ops)
				break;
			it_summary_str(nodes[i], "state_hash", hash, sizeof hash);
			if (i == 0)
				memcpy(first, hash, sizeof first);
			else if (strcmp(first, hash) != 0)
				break;
			ok++;
		}
		if (ok == n)
			return 0;
		it_poll_pause();
	} while (it_now_ms() < deadline);
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		it_run(&out, NULL, MS_INSPECT_BIN, "--data", nodes[i]->dir,
		       "summary", (char *)NULL);
		fprintf(stderr, "--- node %s (log %s)\n%s", nodes[i]->name,
		        nodes[i]->log, out != NULL ? out : "");
		free(out);
	}
	return -1;
}

int it_wait_value(const it_node *n, const char *key, const char *value,
                  uint64_t deadline_ms)
{
	uint64_t deadline = it_now_ms() + deadline_ms;
	size_t vlen = strlen(value);

	do {
		char *out = NULL;
		int rc = it_run(&out, NULL, MS_NODE_BIN, "get", "--data", n->dir,
		                key, (char *)NULL);
		int hit = rc == 0 && out != NULL && strncmp(out, value, vlen) == 0 &&
		          (out[vlen] == '\n' || out[vlen] == '\0');
		free(out);
		if (hit)
			return 0;
		it_poll_pause();
	} while (it_now_ms() < deadline);
	return -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b = NULL;
	size_t len = 0;
	char buf[65536];
	size_t r;

	if (f == NULL)
		return NULL;
	append(&b, &len, "", 0);
	while ((r = fread(buf, 1, sizeof buf, f)) > 0)
		append(&b, &len, buf, r);
	fclose(f);
	return b;
}

size_t it_log_count(const it_node *n, const char *needle)
{
	char *b = slurp(n->log);
	size_t count = 0;

	for (const char *p = b; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		count++;
	free(b);
	return count;
}

int it_wait_log(const it_node *n, const char *needle, uint64_t deadline_ms)
{
	uint64_t deadline = it_now_ms() + deadline_ms;

	do {
		if (it_log_count(n, needle) > 0)
			return 0;
		it_poll_pause();
	} while (it_now_ms() < deadline);
	return -1;
}

void it_bulk_put(const it_node *n, const char *prefix, int count, int background)
{
	ms_node *node = NULL;
	ms_errbuf eb;
	char key[128], val[128];

	ck_assert_msg(ms_node_open(&node, n->dir, NULL, &eb) == MS_OK, "open %s: %s",
	              n->dir, eb.msg);
	for (int i = 0; i < count; i++) {
		int kl = snprintf(key, sizeof key, "%s/%d", prefix, i);
		int vl = snprintf(val, sizeof val, "value %d", i);
		ck_assert_msg(ms_node_put(node, key, (size_t)kl, val, (size_t)vl,
		                          background ? MS_NODE_PUT_BACKGROUND : 0,
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
	write_file(tmp, text, "w");
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
	uint64_t deadline = it_now_ms() + deadline_ms;

	do {
		if (it_stat(n, name) >= min)
			return 0;
		it_poll_pause();
	} while (it_now_ms() < deadline);
	return -1;
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
		json_array_foreach(arr, i, p) {
			json_t *lag = json_object_get(p, "lag");
			if (json_is_null(json_object_get(p, "id")))
				continue;
			ids++;
			if (!json_is_integer(lag) || json_integer_value(lag) != 0)
				ok = 0;
		}
	}
	json_decref(j);
	return ok && ids >= min_peers && it_summary_u64(n, "unacked_local_ops") == 0;
}

int it_wait_no_lag(it_node *const *nodes, size_t n, size_t min_peers,
                   uint64_t deadline_ms)
{
	uint64_t deadline = it_now_ms() + deadline_ms;

	do {
		size_t ok = 0;
		for (size_t i = 0; i < n && no_lag(nodes[i], min_peers); i++)
			ok++;
		if (ok == n)
			return 0;
		it_poll_pause();
	} while (it_now_ms() < deadline);
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		it_run(&out, NULL, MS_INSPECT_BIN, "--data", nodes[i]->dir, "peers",
		       (char *)NULL);
		fprintf(stderr, "--- node %s peers\n%s", nodes[i]->name,
		        out != NULL ? out : "");
		free(out);
		it_run(&out, NULL, MS_INSPECT_BIN, "--data", nodes[i]->dir, "summary",
		       (char *)NULL);
		fprintf(stderr, "%s", out != NULL ? out : "");
		free(out);
	}
	return -1;
}
