/*
 * test_sync.c — the daemon (`meshsync-node run`) and its config sections.
 *
 * Config: the [net], [backoff], [sync] and [log] sections parsed over the
 * defaults, and each kind of bad value reported with its line.
 *
 * Daemon: real `meshsync-node run` processes on 127.0.0.1 with ports the
 * kernel picks (read back from DIR/node.endpoints): two nodes with writes
 * on both converge to one state_hash; a `put` by another process is pushed
 * to the peer; the pid lock refuses a second daemon; SIGTERM stops both
 * with exit 0 and removes node.pid and node.endpoints; the peer record
 * keeps the last session summary.  Every wait is on a condition with a
 * deadline; every process started is stopped by its pid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_test.h"
#include "node_int.h"
#include "store.h"

#define DEADLINE_MS 20000 /* generous for sanitizer builds */

static char *tmp;

static void setup(void)
{
	tmp = ms_test_tmpdir("sync");
}

static void teardown(void)
{
	ms_test_rmdir(tmp);
	free(tmp);
	tmp = NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static char *pjoin(const char *a, const char *b)
{
	char *p = NULL;
	ck_assert_int_gt(asprintf(&p, "%s/%s", a, b), 0);
	return p;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* --- config ---------------------------------------------------------------- */

START_TEST(config_net_sections)
{
	char *path = pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};
	static const char id_hex[] =
		"0101010101010101010101010101010101010101010101010101010101010101";
	char text[2048];

	snprintf(text, sizeof text,
	         "[net]\n"
	         "listen = tcp://127.0.0.1:7701\n"
	         "listen = tcp://10.0.0.1:7701\n"
	         "peer = tcp://10.0.0.7:7700\n"
	         "mdns = no\n"
	         "allow = %s %s\n"
	         "deny = %s\n"
	         "heartbeat_interval = 200ms\n"
	         "heartbeat_timeout = 2s\n"
	         "handshake_timeout = 3s\n"
	         "max_message = 4M\n"
	         "[backoff]\n"
	         "strategy = exponential\n"
	         "base = 100ms\n"
	         "cap = 10s\n"
	         "kick_interval = 250ms\n"
	         "[sync]\n"
	         "batch_ops = 1024\n"
	         "credit = 1\n"
	         "poll = 20ms\n"
	         "[log]\n"
	         "level = debug\n"
	         "syslog = yes\n",
	         id_hex, id_hex, id_hex);
	write_file(path, text);
	ms_config_default(&c);
	ck_assert_uint_eq(c.net.mdns, 1);
	ck_assert_uint_eq(c.net.heartbeat_interval_ms, 1000);
	ck_assert_uint_eq(c.net.max_message, 8u << 20);
	ck_assert_uint_eq(c.backoff.base_ms, 500);
	ck_assert_uint_eq(c.backoff.cap_ms, 60000);
	ck_assert_int_eq(c.backoff.strategy, MS_BACKOFF_DECORRELATED);
	ck_assert_uint_eq(c.kick_interval_ms, 1000);
	ck_assert_uint_eq(c.sync.batch_ops, 256);
	ck_assert_uint_eq(c.sync.credit, 1024);
	ck_assert_uint_eq(c.sync.poll_ms, 50);
	ck_assert_int_eq(c.log.level, 6);

	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	ck_assert_uint_eq(c.net.nlisten, 2);
	ck_assert_str_eq(c.net.listen[1], "tcp://10.0.0.1:7701");
	ck_assert_uint_eq(c.net.npeers, 1);
	ck_assert_str_eq(c.net.peers[0], "tcp://10.0.0.7:7700");
	ck_assert_int_eq(c.net.mdns, 0);
	ck_assert_int_eq(c.net.has_allow, 1);
	ck_assert_uint_eq(c.net.nallow, 2);
	ck_assert_uint_eq(c.net.ndeny, 1);
	ck_assert_uint_eq(c.net.allow[1][31], 1);
	ck_assert_uint_eq(c.net.heartbeat_interval_ms, 200);
	ck_assert_uint_eq(c.net.heartbeat_timeout_ms, 2000);
	ck_assert_uint_eq(c.net.handshake_timeout_ms, 3000);
	ck_assert_uint_eq(c.net.max_message, 4u << 20);
	ck_assert_int_eq(c.backoff.strategy, MS_BACKOFF_EXPONENTIAL);
	ck_assert_uint_eq(c.backoff.base_ms, 100);
	ck_assert_uint_eq(c.backoff.cap_ms, 10000);
	ck_assert_uint_eq(c.kick_interval_ms, 250);
	ck_assert_uint_eq(c.sync.batch_ops, 1024);
	ck_assert_uint_eq(c.sync.credit, 1);
	ck_assert_uint_eq(c.sync.poll_ms, 20);
	ck_assert_int_eq(c.log.level, 7);
	ck_assert_int_eq(c.log.syslog, 1);
	free(path);
}
END_TEST

/* Each bad file and the text after "meshsync.conf:". */
static const struct {
	const char *text, *want;
} bad_conf[] = {
	{"[net]\nlisten = 7700\n", "2: bad endpoint '7700' for listen"},
	{"[net]\npeer = tcp://a:1\npeer = tcp://a:1\n", "3: duplicate peer 'tcp://a:1'"},
	{"[net]\nmdns = maybe\n", "2: bad value 'maybe' for mdns (yes or no)"},
	{"[net]\n\nallow = abc\n", "3: bad node id 'abc' in allow (64 hex digits)"},
	{"[net]\ndeny =\n", "2: deny needs at least one node id"},
	{"[net]\nheartbeat_interval = 1d\n", "2: bad value '1d' for heartbeat_interval"},
	{"[net]\nmax_message = 1K\n", "2: bad value '1K' for max_message (a size from 2M to 16M)"},
	{"[net]\nfoo = 1\n", "2: unknown key 'foo' in [net]"},
	{"[backoff]\nstrategy = random\n", "2: bad value 'random' for strategy"},
	{"[backoff]\nbase = 0\n", "2: bad value '0' for base"},
	{"[sync]\nbatch_ops = 1025\n", "2: bad value '1025' for batch_ops (a number from 1 to 1024)"},
	{"[sync]\ncredit = 0\n", "2: bad value '0' for credit"},
	{"[sync]\npoll = 5s\n", "2: bad value '5s' for poll"},
	{"[log]\nlevel = loud\n", "2: bad value 'loud' for level"},
	{"[log]\nsyslog = 2\n", "2: bad value '2' for syslog (yes or no)"},
	{"[backoff]\nbase = 10s\ncap = 1s\n", " [backoff] cap (1000ms) is smaller than base (10000ms)"},
	{"[net]\nheartbeat_interval = 5s\n",
	 " [net] heartbeat_timeout (5000ms) must be longer than heartbeat_interval (5000ms)"},
};

START_TEST(config_net_errors)
{
	char *path = pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};
	const char *msg;

	write_file(path, bad_conf[_i].text);
	ms_config_default(&c);
	MS_FAIL(ms_config_load(&c, path, &eb), MS_EINVAL);
	msg = strstr(eb.msg, "meshsync.conf:");
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strncmp(msg + strlen("meshsync.conf:"), bad_conf[_i].want,
	                      strlen(bad_conf[_i].want)) == 0,
	              "got '%s', want '%s'", eb.msg, bad_conf[_i].want);
	free(path);
}
END_TEST

START_TEST(config_default_file_parses)
{
	char *path = pjoin(tmp, "meshsync.conf");
	ms_config c, def;
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_config_write_default(path, &eb), &eb);
	ms_config_default(&c);
	ms_config_default(&def);
	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	/* every option in it is commented out: the defaults stand */
	ck_assert_uint_eq(c.net.npeers, 0);
	ck_assert_uint_eq(c.sync.credit, def.sync.credit);
	ck_assert_uint_eq(c.backoff.cap_ms, def.backoff.cap_ms);
	free(path);
}
END_TEST

/* --- daemons --------------------------------------------------------------- */

typedef struct daemon_proc {
	pid_t pid;
	char *dir;
	char ep[256];
} daemon_proc;

/* Start `meshsync-node run` on dir; stderr goes to dir/../NAME.log. */
static void daemon_start(daemon_proc *p, const char *dir, const char *peer)
{
	char *log = NULL;
	ck_assert_int_gt(asprintf(&log, "%s.log", dir), 0);
	p->dir = strdup(dir);
	p->ep[0] = '\0';
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		char *argv[16];
		int n = 0;
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		argv[n++] = (char *)"meshsync-node";
		argv[n++] = (char *)"run";
		argv[n++] = (char *)"--data";
		argv[n++] = (char *)dir;
		argv[n++] = (char *)"--listen";
		argv[n++] = (char *)"tcp://127.0.0.1:0";
		argv[n++] = (char *)"--no-mdns";
		argv[n++] = (char *)"--log-level";
		argv[n++] = (char *)"debug";
		if (peer != NULL) {
			argv[n++] = (char *)"--peer";
			argv[n++] = (char *)peer;
		}
		argv[n] = NULL;
		execv(MS_NODE_BIN, argv);
		_exit(127);
	}
	free(log);
}

/* Wait for dir/node.endpoints and read its first line. */
static void daemon_wait_ready(daemon_proc *p)
{
	char *path = pjoin(p->dir, "node.endpoints");
	uint64_t end = now_ms() + DEADLINE_MS;

	for (;;) {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			if (fgets(p->ep, sizeof p->ep, f) != NULL)
				p->ep[strcspn(p->ep, "\n")] = '\0';
			fclose(f);
			if (p->ep[0] != '\0')
				break;
		}
		ck_assert_msg(kill(p->pid, 0) == 0, "daemon %d died", (int)p->pid);
		ck_assert_msg(now_ms() < end, "no %s within the deadline", path);
		nap();
	}
	ck_assert_ptr_nonnull(strstr(p->ep, "tcp://127.0.0.1:"));
	ck_assert_str_ne(p->ep, "tcp://127.0.0.1:0");
	free(path);
}

/* SIGTERM and wait (bounded); returns the exit status. */
static int daemon_stop(daemon_proc *p)
{
	uint64_t end = now_ms() + DEADLINE_MS;
	int st = 0;
	pid_t r;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	while ((r = waitpid(p->pid, &st, WNOHANG)) == 0 && now_ms() < end)
		nap();
	if (r == 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
	}
	p->pid = 0;
	free(p->dir);
	p->dir = NULL;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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
	MS_PASS_EB(ms_node_put(n, k, strlen(k), v, strlen(v), 0, NULL, &eb), &eb);
	ms_node_close(&n);
}

/* Run the real binary: `meshsync-node put --data dir k v`, exit 0. */
static void put_external(const char *dir, const char *k, const char *v)
{
	pid_t pid = fork();
	int st;
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(MS_NODE_BIN, "meshsync-node", "put", "--data", dir, k, v,
		      (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
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
	uint64_t end = now_ms() + DEADLINE_MS;
	while (!same_state(a, b)) {
		ck_assert_msg(now_ms() < end, "%s and %s did not converge", a, b);
		nap();
	}
}

/* A second node joining the first's network. */
static void make_pair(char **a, char **b)
{
	ms_node *n = NULL;
	char text[MS_NODE_NETKEY_TEXT_LEN];
	ms_errbuf eb = {0};

	*a = pjoin(tmp, "a");
	*b = pjoin(tmp, "b");
	make_node(*a, NULL);
	MS_PASS_EB(ms_node_open(&n, *a, NULL, &eb), &eb);
	ms_node_network_key_text(n, text);
	ms_node_close(&n);
	make_node(*b, text);
}

static int file_exists(const char *dir, const char *name)
{
	char *p = pjoin(dir, name);
	struct stat st;
	int r = stat(p, &st) == 0;
	free(p);
	return r;
}

START_TEST(two_nodes_converge)
{
	char *a, *b;
	daemon_proc pa = {0}, pb = {0};
	uint64_t t0;

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

	/* live: a put by another process on either side reaches the other */
	t0 = now_ms();
	put_external(a, "live/a", "1");
	while (!has_key(b, "live/a", "1")) {
		ck_assert_msg(now_ms() - t0 < DEADLINE_MS, "live/a not pushed");
		nap();
	}
	put_external(b, "live/b", "2");
	while (!has_key(a, "live/b", "2")) {
		ck_assert_msg(now_ms() - t0 < DEADLINE_MS, "live/b not pushed");
		nap();
	}
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
	char *a = pjoin(tmp, "a"), *log = NULL;
	daemon_proc pa = {0};
	pid_t pid;
	int st;
	FILE *f;
	char line[512] = "", want[512];

	make_node(a, NULL);
	daemon_start(&pa, a, NULL);
	daemon_wait_ready(&pa);
	ck_assert_int_gt(asprintf(&log, "%s/second.err", tmp), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		execl(MS_NODE_BIN, "meshsync-node", "run", "--data", a, "--listen",
		      "tcp://127.0.0.1:0", "--no-mdns", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	snprintf(want, sizeof want,
	         "meshsync-node: run %s: already running (pid %d)\n", a,
	         (int)pa.pid);
	ck_assert_str_eq(line, want);
	/* the first daemon is untouched */
	ck_assert(file_exists(a, "node.endpoints"));
	ck_assert_int_eq(daemon_stop(&pa), 0);
	free(log);
	free(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_net_sections);
	tcase_add_loop_test(tc, config_net_errors, 0,
	                    (int)(sizeof bad_conf / sizeof bad_conf[0]));
	tcase_add_test(tc, config_default_file_parses);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
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
