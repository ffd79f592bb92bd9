/*
 * proc.c — the real parts a workload drives: node directories and their
 * configs, `meshsync-node run` processes (started, waited for, stopped by
 * PID), what /proc and ss say about them, and their stores read
 * read-only as node-inspect does.  Also the big store of N ops that put,
 * catchup, insync and footprint share, made once per run.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "crypto.h"
#include "op.h"
#include "store.h"

int msb_node_create(const char *dir, const char *netkey, char *netkey_out)
{
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	if (ms_node_init(dir, netkey, &eb) != MS_OK ||
	    ms_node_open(&n, dir, NULL, &eb) != MS_OK) {
		msb_say("create node %s: %s", dir, eb.msg);
		return -1;
	}
	if (netkey_out != NULL)
		ms_node_network_key_text(n, netkey_out);
	ms_node_close(&n);
	return 0;
}

int msb_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int msb_node_id_hex(const char *dir, char *out)
{
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	if (ms_node_open(&n, dir, NULL, &eb) != MS_OK) {
		msb_say("open node %s: %s", dir, eb.msg);
		return -1;
	}
	ms_node_id_hex(n, out);
	ms_node_close(&n);
	return 0;
}

int msb_node_config(const char *dir, int port, const int *peers, int npeers,
                    const char *allow)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, MS_NODE_CONF_FILE);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
	        "# written by meshbench\n[net]\nlisten = "
	        "tcp://127.0.0.1:%d\nmdns = no\n",
	        port);
	for (int i = 0; i < npeers; i++)
		fprintf(f, "peer = tcp://127.0.0.1:%d\n", peers[i]);
	/* an allow list keeps a line a line: peer exchange would otherwise
	 * let every node dial every other */
	for (const char *a = allow; a != NULL && *a != '\0';) {
		size_t n = strcspn(a, " ");
		if (n > 0)
			fprintf(f, "allow = %.*s\n", (int)n, a);
		a += n;
		a += strspn(a, " ");
	}
	/* a peer started a moment later is dialled again within 100 ms */
	fprintf(f, "\n[backoff]\nbase = 100ms\ncap = 1s\n");
	return fclose(f) == 0 ? 0 : -1;
}

pid_t msb_node_start(const msb_ctx *c, const char *dir, const char *level)
{
	char log[4096];
	pid_t pid;
	int fd;

	/* a file left by a killed daemon would read as "ready" at once */
	snprintf(log, sizeof log, "%s/node.endpoints", dir);
	(void)unlink(log);
	snprintf(log, sizeof log, "%s/node.log", dir);
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) <
	    0)
		return 0;
	(void)fflush(NULL);
	if ((pid = fork()) == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(c->node_bin, c->node_bin, "run", "--data", dir,
		      "--no-mdns", "--log-level", level ? level : "info",
		      (char *)NULL);
		dprintf(2, "meshbench: exec %s: %s\n", c->node_bin,
		        strerror(errno));
		_exit(127);
	}
	close(fd);
	return pid < 0 ? 0 : pid;
}

int msb_node_wait_ready(const char *dir, pid_t pid, double timeout_s)
{
	char path[4096];
	uint64_t t0 = msb_now_ns();
	struct stat st;
	int status;

	snprintf(path, sizeof path, "%s/node.endpoints", dir);
	while (msb_secs_since(t0) < timeout_s) {
		/* written after every listener is bound: the node accepts */
		if (stat(path, &st) == 0 && st.st_size > 0)
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			msb_say("node in %s exited at start: see its node.log",
			        dir);
			return -1;
		}
		msb_sleep_ms(0.5);
	}
	msb_say("node in %s not ready after %.0f s", dir, timeout_s);
	return -1;
}

void msb_node_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int t = 0; t < 1000; t++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		msb_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

long msb_rss_anon_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "RssAnon:", 8) == 0) {
			kib = strtol(line + 8, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static int open_ro(const char *dir, ms_store **s, ms_store_rtxn **rt)
{
	ms_store_opts o;
	ms_errbuf eb = {0};

	ms_store_opts_default(&o);
	o.readonly = 1;
	*s = NULL;
	*rt = NULL;
	if (ms_store_open(s, dir, &o, &eb) != MS_OK ||
	    ms_store_read_begin(*s, rt, &eb) != MS_OK) {
		ms_store_close(s);
		return -1;
	}
	return 0;
}

int msb_store_view_read(const char *dir, msb_store_view *v, int with_state)
{
	ms_store *s;
	ms_store_rtxn *rt;
	ms_store_summary sm;
	int rc = 0;

	memset(v, 0, sizeof *v);
	if (open_ro(dir, &s, &rt) != 0)
		return -1;
	if (with_state) {
		if (ms_store_summary_get(rt, &sm, NULL) != MS_OK) {
			rc = -1;
		} else {
			v->ops = sm.ops;
			v->store_bytes = sm.store_bytes;
			memcpy(v->vv, sm.vv_digest, 32);
			memcpy(v->sh, sm.state_hash, 32);
		}
	} else if (ms_store_vv_digest(rt, v->vv, NULL) != MS_OK) {
		/* the vector digest alone is cheap: a poll uses it, and the
		 * state hash is compared once the vectors agree */
		rc = -1;
	}
	ms_store_read_end(&rt);
	ms_store_close(&s);
	return rc;
}

uint64_t msb_store_counter(const char *dir, const char *name)
{
	ms_store *s;
	ms_store_rtxn *rt;
	uint64_t v;

	if (open_ro(dir, &s, &rt) != 0)
		return 0;
	v = ms_store_stat(rt, name);
	ms_store_read_end(&rt);
	ms_store_close(&s);
	return v;
}

typedef struct enc_sum {
	uint64_t n, bytes;
} enc_sum;

static int enc_add(const ms_log_entry *e, void *ctx)
{
	enc_sum *a = ctx;
	a->n++;
	a->bytes += e->len;
	return 0;
}

double msb_store_enc_per_op(const char *dir)
{
	ms_store *s;
	ms_store_rtxn *rt;
	enc_sum a = {0};

	if (open_ro(dir, &s, &rt) != 0)
		return 0;
	(void)ms_store_foreach_log(rt, NULL, 0, enc_add, &a, NULL);
	ms_store_read_end(&rt);
	ms_store_close(&s);
	return a.n ? (double)a.bytes / (double)a.n : 0;
}

/* The number after "name:" in s, or -1. */
static long long field(const char *s, const char *name)
{
	const char *p = s;
	size_t len = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == s || p[-1] == ' ' || p[-1] == '\t') && p[len] == ':')
			return strtoll(p + len + 1, NULL, 10);
		p += len;
	}
	return -1;
}

FILE *msb_spawn_read(char *const argv[], const char *errpath, pid_t *pid)
{
	int fd[2];
	FILE *f;

	if (pipe2(fd, O_CLOEXEC) != 0)
		return NULL;
	(void)fflush(NULL);
	if ((*pid = fork()) == 0) {
		int err = open(errpath ? errpath : "/dev/null",
		               O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd[1], 1);
		if (err >= 0)
			dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	if (*pid < 0 || (f = fdopen(fd[0], "r")) == NULL) {
		close(fd[0]);
		if (*pid > 0)
			waitpid(*pid, NULL, 0);
		return NULL;
	}
	return f;
}

int msb_spawn_wait(FILE *f, pid_t pid)
{
	int st;

	fclose(f);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long long msb_wire_bytes(int port)
{
	char filter[64], line[4096];
	char *argv[] = {"/usr/bin/ss", "-tinH", "state",
	                "established", filter,  NULL};
	long long total = -1;
	pid_t pid;
	FILE *p;

	/* ss -i prints each socket on two lines: addresses, then TCP_INFO */
	snprintf(filter, sizeof filter, "( sport = :%d )", port);
	if (access(argv[0], X_OK) != 0)
		argv[0] = "/sbin/ss";
	if ((p = msb_spawn_read(argv, NULL, &pid)) == NULL)
		return -1;
	while (fgets(line, sizeof line, p) != NULL) {
		long long sent = field(line, "bytes_sent"),
			  recv = field(line, "bytes_received");
		if (sent < 0 && recv < 0)
			continue;
		if (total < 0)
			total = 0;
		total += (sent > 0 ? sent : 0) + (recv > 0 ? recv : 0);
	}
	if (msb_spawn_wait(p, pid) != 0)
		return -1;
	return total;
}

int msb_log_count(const char *dir, const char *needle)
{
	char path[4096], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/node.log", dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

int msb_run(char *const argv[], int quiet)
{
	pid_t pid;
	int st;

	(void)fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			int nul = open("/dev/null", O_WRONLY);
			if (nul >= 0)
				dup2(nul, 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --- the big store ---------------------------------------------------------- */

#define FILL_BATCH 1000
#define FILL_AUTHORS 4
/* below this, ms_node_write_batch is the one-commit-per-write stand-in of
 * issue 10: fill by ingesting pre-signed ops instead */
#define FILL_BATCH_MIN_RATE 5000.0

/* The rest of the store filled with ops of FILL_AUTHORS other identities
 * through ms_store_ingest, 256 at a time, signed as they go. */
static int fill_ingest(const char *dir, uint64_t have, uint64_t n)
{
	ms_store_opts o;
	ms_store *s = NULL;
	ms_identity *id[FILL_AUTHORS] = {0};
	ms_errbuf eb = {0};
	uint8_t(*buf)[512] = malloc(256 * sizeof *buf);
	ms_ingest_item items[256];
	uint8_t value[MSB_VALUE_LEN];
	char key[64];
	uint64_t seq[FILL_AUTHORS] = {0}, k = have;
	int rc = -1;

	ms_store_opts_default(&o);
	if (buf == NULL || ms_store_open(&s, dir, &o, &eb) != MS_OK)
		goto out;
	for (int a = 0; a < FILL_AUTHORS; a++)
		if (ms_identity_generate(&id[a], &eb) != MS_OK)
			goto out;
	randombytes_buf(value, sizeof value);
	while (k < n) {
		size_t m = 0;
		for (; m < 256 && k < n; m++, k++) {
			int a = (int)(k % FILL_AUTHORS);
			ms_op op = {.type = MS_OP_PUT,
			            .priority = MS_PRIO_USER,
			            .seq = ++seq[a],
			            .hlc = (uint64_t)(1700000000000ull + k)
			                   << 16,
			            .key = (const uint8_t *)key,
			            .value = value,
			            .value_len = sizeof value};
			size_t len;
			memcpy(op.author, ms_identity_pk(id[a]), MS_PK_LEN);
			op.key_len = (uint16_t)snprintf(key, sizeof key,
			                                "bench/%010" PRIu64, k);
			if (ms_op_sign_encode(&op, id[a],
			                      ms_store_network_id(s), buf[m],
			                      sizeof buf[m], &len,
			                      &eb) != MS_OK)
				goto out;
			items[m] = (ms_ingest_item){buf[m], len};
		}
		if (ms_store_ingest(s, items, m, NULL, NULL, NULL, &eb) !=
		    MS_OK)
			goto out;
		if (k % 20000 < 256)
			msb_say("fill: %" PRIu64 " of %" PRIu64 " ops", k, n);
	}
	rc = 0;
out:
	if (rc != 0)
		msb_say("fill %s by ingest: %s", dir, eb.msg);
	for (int a = 0; a < FILL_AUTHORS; a++)
		ms_identity_free(&id[a]);
	ms_store_close(&s);
	free(buf);
	return rc;
}

int msb_big_store(msb_ctx *c)
{
	char dir[4096];
	ms_node *n = NULL;
	ms_node_write *w = NULL;
	char(*keys)[32] = NULL;
	uint8_t value[MSB_VALUE_LEN];
	ms_errbuf eb = {0};
	uint64_t t0, done = 0;
	int rc = -1;

	if (c->big_dir != NULL)
		return 0;
	snprintf(dir, sizeof dir, "%s/big", c->dir);
	msb_say("making a store of %" PRIu64 " ops in %s", c->n, dir);
	if (msb_node_create(dir, NULL, NULL) != 0 ||
	    ms_node_open(&n, dir, NULL, &eb) != MS_OK)
		goto out;
	w = calloc(FILL_BATCH, sizeof *w);
	keys = calloc(FILL_BATCH, sizeof *keys);
	if (w == NULL || keys == NULL)
		goto out;
	randombytes_buf(value, sizeof value);
	t0 = msb_now_ns();
	c->big_fill_method = "ms_node_write_batch";
	while (done < c->n) {
		size_t m = 0;
		uint64_t tb = msb_now_ns();
		for (; m < FILL_BATCH && done + m < c->n; m++) {
			w[m] = (ms_node_write){.key = keys[m],
			                       .klen = (size_t)snprintf(
						       keys[m], sizeof keys[m],
						       "bench/%010" PRIu64,
						       done + m),
			                       .value = value,
			                       .vlen = sizeof value};
		}
		if (ms_node_write_batch(n, w, m, 0, NULL, &eb) != MS_OK) {
			msb_say("fill: %s", eb.msg);
			goto out;
		}
		done += m;
		if (done == m && m == FILL_BATCH &&
		    (double)m / msb_secs_since(tb) < FILL_BATCH_MIN_RATE &&
		    done < c->n) {
			msb_say("fill: ms_node_write_batch does %.0f ops/s (the "
			        "stand-in): ingesting the rest",
			        (double)m / msb_secs_since(tb));
			ms_node_close(&n);
			if (fill_ingest(dir, done, c->n) != 0)
				goto out;
			c->big_fill_method =
				"ms_node_write_batch for 1000 ops, then "
				"ms_store_ingest of ops of 4 other authors "
				"(write_batch was below 5000 ops/s)";
			done = c->n;
			break;
		}
		if (done % 20000 == 0)
			msb_say("fill: %" PRIu64 " of %" PRIu64 " ops", done,
			        c->n);
	}
	c->big_fill_seconds = msb_secs_since(t0);
	c->big_ops = done;
	c->big_dir = strdup(dir);
	rc = c->big_dir != NULL ? 0 : -1;
	msb_say("store of %" PRIu64 " ops made in %.1f s", done,
	        c->big_fill_seconds);
out:
	ms_node_close(&n);
	free(w);
	free(keys);
	return rc;
}
