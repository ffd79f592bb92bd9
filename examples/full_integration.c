/*
 * full_integration.c — two nodes in two processes syncing over loopback,
 * run the way a village app runs on meshsync: the app reads and writes
 * through the API (meshsync.h) while each node's daemon, `meshsync-node
 * run`, a separate process on the same data directory, does the syncing.
 *
 *   1. Create node A (a new network) and node B (joining it with A's
 *      network key), both keeping every concurrent value of keys under mv/.
 *   2. Write mv/notice on both while they cannot reach each other: a
 *      conflict.
 *   3. Start both daemons on 127.0.0.1 (ports the kernel picks), B dialling
 *      A.
 *   4. Wait until both nodes hold both siblings; resolve them on A with one
 *      write naming both as its parents; wait until both hold that value.
 *   5. Write a background backlog on A (BACKLOG ops in one batch); when the
 *      first of it has reached B, write one user op on A, and show from
 *      B's changes feed that the user op arrived before the end of the
 *      backlog: user data goes first.
 *   6. Wait until B has confirmed all of A's writes, stop the daemons and
 *      print what each node knows of its peer, with the processing summary
 *      of their last session.
 *
 *   full_integration [WORKDIR]
 *
 * WORKDIR (made if missing; it must not hold a/ or b/ yet) receives the
 * node directories a/ and b/ and the daemons' logs a.log and b.log; by
 * default a new directory under /tmp, kept for a look afterwards.  The
 * daemon is $MESHSYNC_NODE when set, else the meshsync-node installed
 * beside the library this was built against (MESHSYNC_NODE_BIN, defined
 * by examples/CMakeLists.txt), else meshsync-node from PATH.
 *
 * Every wait has a deadline.  Any failed check is printed on stderr; the
 * daemons are then stopped and the program exits 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <meshsync.h>

#ifndef MESHSYNC_NODE_BIN
#define MESHSYNC_NODE_BIN "meshsync-node"
#endif

#define BACKLOG 40000    /* background ops: a few seconds of syncing */
#define START_MS 20000   /* a daemon writes node.endpoints */
#define SYNC_MS 30000    /* a write reaches the other node */
#define BACKLOG_MS 90000 /* the whole backlog reaches B */
#define STOP_MS 10000    /* a daemon exits after SIGTERM */
#define CONFLICT_KEY "mv/notice"
#define URGENT_KEY "clinic/urgent"

extern char **environ;

/* One node as the app sees it: its directory, the handle the app uses,
 * and the daemon process that syncs it. */
typedef struct node {
	const char *name; /* "A" or "B" */
	const char *sub;  /* its directory in WORKDIR: "a" or "b" */
	char dir[512];
	char log[520];      /* dir + ".log" */
	char endpoint[256]; /* where its daemon listens */
	ms_node *n;
	int watch_fd;
	uint64_t cursor; /* how far the app has read the changes feed */
	pid_t pid;       /* its daemon, 0 when none runs */
} node;

/* File scope only so that fail() can stop the daemons. */
static node nodes[2] = {{.name = "A", .sub = "a"}, {.name = "B", .sub = "b"}};

static void stop_daemons(void);

static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("full_integration: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	stop_daemons();
	exit(1);
}

static _Noreturn void fail_eb(const node *nd, const char *call,
                              const ms_errbuf *eb)
{
	fail("%s: %s: %s (%s)", nd->name, call, eb->msg, ms_strerror(eb->code));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The network key is secret: wipe copies of it when done (through a
 * volatile pointer, so the compiler cannot drop the stores). */
static void wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

/* ------------------------------------------------------------------------
 * Creating the nodes.
 */
static void make_node(node *nd, const char *workdir, const char *netkey)
{
	/* A meshsync.conf already in the directory when ms_node_init runs is
	 * kept and configures the new node (docs/config.md): keys under mv/
	 * keep every concurrent value until a write resolves them.  Give
	 * every node of a mesh the same policies. */
	static const char conf[] = "[policy]\nmv/ = mv\n";
	char path[600];
	ms_errbuf eb;
	FILE *f;

	snprintf(nd->dir, sizeof nd->dir, "%s/%s", workdir, nd->sub);
	snprintf(nd->log, sizeof nd->log, "%s.log", nd->dir);
	if (mkdir(nd->dir, 0700) != 0)
		fail("mkdir %s: %s (give a WORKDIR without a/ and b/)", nd->dir,
		     strerror(errno));
	snprintf(path, sizeof path, "%s/%s", nd->dir, MS_NODE_CONF_FILE);
	f = fopen(path, "w");
	if (f == NULL || fputs(conf, f) == EOF || fclose(f) != 0)
		fail("write %s: %s", path, strerror(errno));

	/* netkey NULL: a new network; else the text of the network to join */
	if (ms_node_init(nd->dir, netkey, &eb) != MS_OK)
		fail_eb(nd, "ms_node_init", &eb);
	if (ms_node_open(&nd->n, nd->dir, NULL, &eb) != MS_OK)
		fail_eb(nd, "ms_node_open", &eb);
}

/* ------------------------------------------------------------------------
 * The daemons.  The app starts them here to be self-contained; on a real
 * device the daemon runs as a service (systemd, procd) and the app only
 * opens the directory.
 */
static const char *daemon_program(void)
{
	const char *p = getenv("MESHSYNC_NODE");

	if (p != NULL && p[0] != '\0')
		return p;
	if (access(MESHSYNC_NODE_BIN, X_OK) == 0)
		return MESHSYNC_NODE_BIN;
	return "meshsync-node"; /* looked up in PATH */
}

/* Fail if nd's daemon has exited. */
static void check_daemon(node *nd)
{
	int st;

	if (nd->pid > 0 && waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
		nd->pid = 0;
		fail("%s's daemon exited (%s %d); its log is %s", nd->name,
		     WIFEXITED(st) ? "status" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), nd->log);
	}
}

/* `meshsync-node run --data DIR --listen tcp://127.0.0.1:0 --no-mdns
 * [--peer EP]`, its output to nd->log; returns once it listens, with the
 * port it got (from DIR/node.endpoints) in nd->endpoint. */
static void start_daemon(node *nd, const char *peer)
{
	const char *prog = daemon_program();
	char *argv[] = {(char *)prog,
	                "run",
	                "--data",
	                nd->dir,
	                "--listen",
	                "tcp://127.0.0.1:0", /* loopback; the kernel picks */
	                "--no-mdns",         /* peers by address only */
	                peer != NULL ? "--peer" : NULL,
	                (char *)peer,
	                NULL};
	posix_spawn_file_actions_t fa;
	char path[600];
	long long deadline = now_ms() + START_MS;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, nd->log,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&nd->pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		nd->pid = 0;
		fail("start %s: %s (set MESHSYNC_NODE to the program)", prog,
		     strerror(rc));
	}

	/* The daemon writes the endpoints it bound, ports resolved, to
	 * DIR/node.endpoints (one per line, replaced atomically). */
	snprintf(path, sizeof path, "%s/node.endpoints", nd->dir);
	while (nd->endpoint[0] == '\0') {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			if (fgets(nd->endpoint, sizeof nd->endpoint, f) != NULL)
				nd->endpoint[strcspn(nd->endpoint, "\n")] =
					'\0';
			fclose(f);
		}
		check_daemon(nd);
		if (nd->endpoint[0] == '\0' && now_ms() > deadline)
			fail("%s's daemon wrote no %s within %d ms; its log is %s",
			     nd->name, path, START_MS, nd->log);
		if (nd->endpoint[0] == '\0')
			poll(NULL, 0, 20); /* look again in 20 ms */
	}
	printf("%s: daemon pid %ld listens on %s%s%s\n", nd->name,
	       (long)nd->pid, nd->endpoint, peer != NULL ? ", dialling " : "",
	       peer != NULL ? peer : "");
}

/* SIGTERM by pid and wait, bounded; 0 when it exited with status 0. */
static int stop_daemon(node *nd)
{
	long long deadline = now_ms() + STOP_MS;
	int st;

	if (nd->pid <= 0)
		return 0;
	kill(nd->pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(nd->pid, &st, WNOHANG);
		if (r == nd->pid)
			break;
		if (r < 0 || now_ms() > deadline) {
			fprintf(stderr,
			        "%s's daemon did not stop; killing it\n",
			        nd->name);
			kill(nd->pid, SIGKILL);
			waitpid(nd->pid, &st, 0);
			nd->pid = 0;
			return -1;
		}
		poll(NULL, 0, 20);
	}
	nd->pid = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void stop_daemons(void)
{
	stop_daemon(&nodes[1]);
	stop_daemon(&nodes[0]);
}

/* ------------------------------------------------------------------------
 * Waiting for a condition, the way an app's event loop does: read the
 * changes feed (which empties the watch descriptor), test the condition,
 * and poll the descriptor until the next commit; round again until the
 * deadline.  on_change (NULL: none) sees each change.  The poll is capped
 * at 250 ms only so that a daemon that died is noticed.
 */
typedef int (*cond_fn)(node *nd, const void *arg);

static int ignore_change(const ms_node_change *c, void *ctx)
{
	(void)c;
	(void)ctx;
	return 0;
}

static void wait_until(node *nd, cond_fn cond, const void *arg,
                       ms_node_change_fn on_change, void *ctx, int ms,
                       const char *what)
{
	long long deadline = now_ms() + ms;
	ms_errbuf eb;

	for (;;) {
		struct pollfd p = {.fd = nd->watch_fd, .events = POLLIN};
		long long left;

		/* empties the descriptor: a later commit makes it readable */
		if (ms_node_changes(nd->n, nd->cursor, 0,
		                    on_change != NULL ? on_change
		                                      : ignore_change,
		                    ctx, &nd->cursor, &eb) != MS_OK)
			fail_eb(nd, "ms_node_changes", &eb);
		if (cond(nd, arg))
			return;
		check_daemon(&nodes[0]);
		check_daemon(&nodes[1]);
		left = deadline - now_ms();
		if (left <= 0)
			fail("%s: %s: not within %d ms", nd->name, what, ms);
		if (poll(&p, 1, left < 250 ? (int)left : 250) < 0 &&
		    errno != EINTR)
			fail("poll: %s", strerror(errno));
	}
}

/* ------------------------------------------------------------------------
 * Siblings: ms_node_get with MS_NODE_GET_ALL hands every head of a key
 * with its op id, which is what a resolving write names as a parent.
 */
typedef struct heads {
	int n;
	char values[4][128];
	uint8_t ids[4][MS_NODE_OP_ID_LEN];
} heads;

static int add_head(const ms_node_value *v, void *ctx)
{
	heads *h = ctx;

	if (v->deleted || h->n == 4)
		return 0;
	snprintf(h->values[h->n], sizeof h->values[0], "%.*s", (int)v->len,
	         (const char *)v->data);
	memcpy(h->ids[h->n], v->id, MS_NODE_OP_ID_LEN);
	h->n++;
	return 0;
}

static void read_heads(node *nd, const char *key, heads *h)
{
	ms_errbuf eb;
	ms_err e;

	memset(h, 0, sizeof *h);
	e = ms_node_get(nd->n, key, strlen(key), MS_NODE_GET_ALL, add_head, h,
	                &eb);
	if (e != MS_OK && e != MS_ENOTFOUND)
		fail_eb(nd, "ms_node_get", &eb);
}

static int has_value(const heads *h, const char *v)
{
	for (int i = 0; i < h->n; i++)
		if (strcmp(h->values[i], v) == 0)
			return 1;
	return 0;
}

/* arg: the two values written; both present and nothing else */
static int holds_both(node *nd, const void *arg)
{
	const char *const *v = arg;
	heads h;

	read_heads(nd, CONFLICT_KEY, &h);
	return h.n == 2 && has_value(&h, v[0]) && has_value(&h, v[1]);
}

/* arg: the resolved value; the key's only head */
static int holds_one(node *nd, const void *arg)
{
	heads h;

	read_heads(nd, CONFLICT_KEY, &h);
	return h.n == 1 && strcmp(h.values[0], arg) == 0;
}

static void put(node *nd, const char *key, const char *value, unsigned flags)
{
	ms_errbuf eb;

	if (ms_node_put(nd->n, key, strlen(key), value, strlen(value), flags,
	                NULL, &eb) != MS_OK)
		fail_eb(nd, "ms_node_put", &eb);
}

/* Steps 4: see the conflict on both, resolve it on A, see it resolved. */
static void conflict(node *a, node *b, const char *va, const char *vb)
{
	const char *const both[2] = {va, vb};
	char merged[4 * 128 + 8]; /* room for 4 siblings */
	heads h;
	ms_errbuf eb;
	ms_err e = MS_ECONFLICT;

	wait_until(a, holds_both, both, NULL, NULL, SYNC_MS,
	           "both siblings of " CONFLICT_KEY);
	wait_until(b, holds_both, both, NULL, NULL, SYNC_MS,
	           "both siblings of " CONFLICT_KEY);
	printf("A and B: %s has two siblings: '%s' and '%s'\n", CONFLICT_KEY,
	       va, vb);

	/* Resolve: merge the siblings read and write the result naming them
	 * as parents.  If another sibling arrived after we read them,
	 * ms_node_resolve writes nothing and returns MS_ECONFLICT: read
	 * again and merge that one too (bounded here). */
	for (int attempt = 0; attempt < 5 && e == MS_ECONFLICT; attempt++) {
		size_t len = 0;
		read_heads(a, CONFLICT_KEY, &h);
		merged[0] = '\0';
		for (int i = h.n - 1; i >= 0; i--) /* heads: newest first */
			len += snprintf(merged + len, sizeof merged - len,
			                "%s%s", h.values[i], i > 0 ? "; " : "");
		e = ms_node_resolve(a->n, CONFLICT_KEY, strlen(CONFLICT_KEY),
		                    merged, strlen(merged), h.ids, (size_t)h.n,
		                    0, NULL, &eb);
	}
	if (e != MS_OK)
		fail_eb(a, "ms_node_resolve", &eb);
	printf("A: resolved %s as '%s'\n", CONFLICT_KEY, merged);

	wait_until(a, holds_one, merged, NULL, NULL, SYNC_MS,
	           "the resolved value only");
	wait_until(b, holds_one, merged, NULL, NULL, SYNC_MS,
	           "the resolved value only");
	printf("B: %s is '%s', its only value\n", CONFLICT_KEY, merged);
}

/* ------------------------------------------------------------------------
 * Priority: what B's changes feed shows of the backlog and the user write.
 */
typedef struct arrivals {
	int background;    /* background ops from A seen */
	int before_urgent; /* ... when the user write came */
	uint64_t urgent;   /* the user write's cursor, 0 until seen */
	uint64_t last_bg;  /* the cursor of the last background op */
	int urgent_local;  /* 1: reported as written here (wrong) */
} arrivals;

static int note_arrival(const ms_node_change *c, void *ctx)
{
	arrivals *r = ctx;

	if (c->klen == strlen(URGENT_KEY) &&
	    memcmp(c->key, URGENT_KEY, c->klen) == 0) {
		r->urgent = c->cursor;
		r->before_urgent = r->background;
		r->urgent_local = c->local;
	} else if (c->background && c->klen > 3 &&
	           memcmp(c->key, "bg/", 3) == 0) {
		r->background++;
		r->last_bg = c->cursor;
	}
	return 0;
}

static int some_arrived(node *nd, const void *arg)
{
	const arrivals *r = arg;

	(void)nd;
	return r->background >= BACKLOG / 20;
}

static int all_arrived(node *nd, const void *arg)
{
	const arrivals *r = arg;

	(void)nd;
	return r->urgent != 0 && r->background == BACKLOG;
}

static void priority(node *a, node *b)
{
	ms_node_write *w = calloc(BACKLOG, sizeof *w);
	char(*keys)[16] = calloc(BACKLOG, sizeof *keys);
	arrivals r = {0};
	ms_node_status st;
	ms_errbuf eb;
	long long t0;

	if (w == NULL || keys == NULL)
		fail("out of memory");
	/* B reports what arrives from here on */
	if (ms_node_status_get(b->n, &st, &eb) != MS_OK)
		fail_eb(b, "ms_node_status_get", &eb);
	b->cursor = st.cursor;

	for (int i = 0; i < BACKLOG; i++) {
		snprintf(keys[i], sizeof keys[i], "bg/%05d", i);
		w[i].key = keys[i];
		w[i].klen = strlen(keys[i]);
		w[i].value = "sensor reading";
		w[i].vlen = strlen("sensor reading");
	}
	/* One durable transaction; background priority: it syncs after any
	 * user data, however long the backlog. */
	t0 = now_ms();
	if (ms_node_write_batch(a->n, w, BACKLOG, MS_NODE_PUT_BACKGROUND, NULL,
	                        &eb) != MS_OK)
		fail_eb(a, "ms_node_write_batch", &eb);
	printf("A: wrote %d background ops in one batch (%lld ms)\n", BACKLOG,
	       now_ms() - t0);
	free(keys);
	free(w);

	/* Once part of the backlog has reached B, a user write on A: it
	 * goes ahead of the background ops still queued for B. */
	t0 = now_ms();
	wait_until(b, some_arrived, &r, note_arrival, &r, BACKLOG_MS,
	           "the first background ops");
	put(a, URGENT_KEY, "doctor needed at the school", 0);
	printf("A: wrote %s (user priority) when %d background ops were at "
	       "B\n",
	       URGENT_KEY, r.background);

	wait_until(b, all_arrived, &r, note_arrival, &r, BACKLOG_MS,
	           "the backlog and the user write");
	printf("B: the backlog arrived in %lld ms; the user write came after "
	       "%d of its %d ops (cursor %llu; the backlog's last: %llu)\n",
	       now_ms() - t0, r.before_urgent, BACKLOG,
	       (unsigned long long)r.urgent, (unsigned long long)r.last_bg);
	if (r.urgent_local)
		fail("B: %s reported as written locally", URGENT_KEY);
	if (r.urgent > r.last_bg)
		fail("B: the user write arrived after the whole background "
		     "backlog (cursor %llu > %llu)",
		     (unsigned long long)r.urgent,
		     (unsigned long long)r.last_bg);
}

/* ------------------------------------------------------------------------
 * Status and peers.
 */
static int all_acked(node *nd, const void *arg)
{
	ms_node_status st;
	ms_errbuf eb;

	(void)arg;
	if (ms_node_status_get(nd->n, &st, &eb) != MS_OK)
		fail_eb(nd, "ms_node_status_get", &eb);
	return st.unacked_local == 0;
}

static void print_status(node *nd)
{
	ms_node_status st;
	ms_errbuf eb;

	if (ms_node_status_get(nd->n, &st, &eb) != MS_OK)
		fail_eb(nd, "ms_node_status_get", &eb);
	printf("%s: %llu ops from %llu authors, %llu keys, %llu own ops not yet "
	       "confirmed by a peer, %llu peer records, daemon pid %d\n",
	       nd->name, (unsigned long long)st.ops,
	       (unsigned long long)st.authors, (unsigned long long)st.keys,
	       (unsigned long long)st.unacked_local,
	       (unsigned long long)st.peers, st.daemon_pid);
}

typedef struct peer_check {
	const uint8_t *want; /* the other node's id */
	int found;           /* its record, with a last session, was seen */
} peer_check;

static int print_peer(const ms_node_peer *p, void *ctx)
{
	peer_check *pc = ctx;
	const ms_node_summary *s = p->last;

	printf("  peer ");
	if (p->id != NULL)
		for (int i = 0; i < 8; i++)
			printf("%02x", p->id[i]);
	else
		printf("(not answered yet)");
	/* where the daemon learnt of it: --peer or the config (static), mDNS,
	 * peer exchange, or it dialled us (inbound) */
	printf(" at %s:%s%s%s%s, link %s, %llu sessions, %llu failures, "
	       "lag %llu\n",
	       p->naddrs > 0 ? p->addrs[0] : "-",
	       p->static_peer ? " static" : "", p->mdns ? " mdns" : "",
	       p->pex ? " pex" : "", p->inbound ? " inbound" : "",
	       ms_node_link_name(p->link), (unsigned long long)p->sessions,
	       (unsigned long long)p->failures, (unsigned long long)p->lag);
	if (s != NULL)
		printf("    last session (%s, %llu ms): received %llu, "
		       "applied %llu, duplicate %llu, rejected %llu, "
		       "conflicts %llu; sent %llu; %llu bytes in, %llu out; "
		       "ended: %s\n",
		       s->outbound ? "dialled" : "accepted",
		       (unsigned long long)(s->end_ms - s->start_ms),
		       (unsigned long long)s->received,
		       (unsigned long long)s->applied,
		       (unsigned long long)s->duplicate,
		       (unsigned long long)s->rejected,
		       (unsigned long long)s->conflicts,
		       (unsigned long long)s->sent,
		       (unsigned long long)s->bytes_in,
		       (unsigned long long)s->bytes_out, s->end_reason);
	if (p->id != NULL && memcmp(p->id, pc->want, MS_NODE_ID_LEN) == 0 &&
	    s != NULL)
		pc->found = 1;
	return 0;
}

static void print_peers(node *nd, const node *other)
{
	peer_check pc = {.want = ms_node_id(other->n)};
	ms_errbuf eb;

	printf("%s's peers:\n", nd->name);
	if (ms_node_peers(nd->n, print_peer, &pc, &eb) != MS_OK)
		fail_eb(nd, "ms_node_peers", &eb);
	if (!pc.found)
		fail("%s has no record of %s with a finished session", nd->name,
		     other->name);
}

int main(int argc, char **argv)
{
	node *a = &nodes[0], *b = &nodes[1];
	char workdir[400];
	char netkey[MS_NODE_NETKEY_TEXT_LEN];
	char id[MS_NODE_ID_HEX_LEN];
	ms_errbuf eb;

	if (argc > 2) {
		fprintf(stderr, "usage: full_integration [WORKDIR]\n");
		return 2;
	}
	if (argc == 2) {
		snprintf(workdir, sizeof workdir, "%s", argv[1]);
		if (mkdir(workdir, 0700) != 0 && errno != EEXIST)
			fail("mkdir %s: %s", workdir, strerror(errno));
	} else {
		snprintf(workdir, sizeof workdir,
		         "/tmp/meshsync-example-XXXXXX");
		if (mkdtemp(workdir) == NULL)
			fail("mkdtemp: %s", strerror(errno));
	}
	printf("working in %s\n", workdir);

	/* 1. A starts a network; B joins it with A's network key. */
	make_node(a, workdir, NULL);
	ms_node_network_key_text(a->n, netkey);
	make_node(b, workdir, netkey);
	wipe(netkey, sizeof netkey);
	ms_node_id_hex(a->n, id);
	printf("A: node %.16s..., B: node ", id);
	ms_node_id_hex(b->n, id);
	printf("%.16s..., network ", id);
	ms_node_network_id_hex(a->n, id);
	printf("%.16s...\n", id);

	/* The app watches both nodes for changes from here on. */
	for (int i = 0; i < 2; i++) {
		ms_node_status st;
		if (ms_node_watch_fd(nodes[i].n, &nodes[i].watch_fd, &eb) !=
		    MS_OK)
			fail_eb(&nodes[i], "ms_node_watch_fd", &eb);
		if (ms_node_status_get(nodes[i].n, &st, &eb) != MS_OK)
			fail_eb(&nodes[i], "ms_node_status_get", &eb);
		nodes[i].cursor = st.cursor;
	}

	/* 2. A conflict: both write the key before they are linked. */
	put(a, CONFLICT_KEY, "market moves to Thursday", 0);
	put(b, CONFLICT_KEY, "clinic open on Saturday", 0);

	/* 3. The daemons: A listens, B listens and dials A. */
	start_daemon(a, NULL);
	start_daemon(b, a->endpoint);

	/* 4. */
	conflict(a, b, "market moves to Thursday", "clinic open on Saturday");

	/* 5. */
	priority(a, b);

	/* 6. When B has confirmed holding all of A's own ops, nothing A
	 * wrote depends on A any more. */
	wait_until(a, all_acked, NULL, NULL, NULL, SYNC_MS,
	           "B confirms all of A's ops");
	print_status(a);
	print_status(b);
	/* Each session's processing summary is recorded when it ends: stop
	 * the daemons, then read the peer records. */
	if (stop_daemon(b) != 0 || stop_daemon(a) != 0)
		fail("a daemon did not exit cleanly after SIGTERM (logs: %s, "
		     "%s)",
		     a->log, b->log);
	print_peers(a, b);
	print_peers(b, a);

	ms_node_close(&a->n);
	ms_node_close(&b->n);
	printf("full_integration: all checks passed\n");
	return 0;
}
