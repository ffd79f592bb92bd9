/*
 * basic.c — the embedding API on one page: open a node (creating it the
 * first time), write a key and read it back, list the keys under a prefix,
 * and wait for a change that another process commits, the way an app waits
 * for what its node's daemon brings in from peers.
 *
 *   basic DIR
 *
 * DIR is the node's data directory.  When it holds no node yet, one is
 * created that starts a new network, so the program can be run again on the
 * same DIR.  Every step checks its own result: the first mismatch is printed
 * on stderr and the program exits 1.
 *
 * Build it against an installed meshsync (docs/examples.md):
 *   cc basic.c $(pkg-config --cflags --libs meshsync) -o basic
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <meshsync.h>

#define WAIT_MS 10000 /* how long to wait for the other process's write */

/* Print a failed check and exit 1. */
static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("basic: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Every call fills an ms_errbuf with "what: why"; show it. */
static _Noreturn void fail_eb(const char *call, const ms_errbuf *eb)
{
	fail("%s: %s (%s)", call, eb->msg, ms_strerror(eb->code));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
 * The other writer.  In a real deployment another process writing to the
 * node is the daemon (`meshsync-node run`, storing what peers send) or a
 * second app; here a child process plays that part.  It is forked before
 * the parent opens the node, because an open node (an LMDB environment
 * inside) must not be carried across fork(): each process opens its own.
 * It waits for one byte on a pipe, then opens the node, writes one key and
 * exits.  If the parent gives up first, the pipe's end of file tells it to
 * exit without writing.
 */
#define CHILD_KEY "basic/from-child"

static void child_write(const char *dir, int go)
{
	ms_node *n = NULL;
	ms_errbuf eb;
	char value[64];
	char c;

	if (read(go, &c, 1) != 1)
		_exit(0); /* the parent gave up */
	snprintf(value, sizeof value, "hello from pid %ld", (long)getpid());
	if (ms_node_open(&n, dir, NULL, &eb) != MS_OK ||
	    ms_node_put(n, CHILD_KEY, strlen(CHILD_KEY), value, strlen(value),
	                0, NULL, &eb) != MS_OK) {
		fprintf(stderr, "basic (child): %s\n", eb.msg);
		_exit(1);
	}
	ms_node_close(&n);
	/* _exit, not exit: stdio buffers copied from the parent by fork()
	 * are the parent's to flush */
	_exit(0);
}

/* Fork the writer; *go is the pipe end that tells it to write. */
static pid_t start_child(const char *dir, int *go)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[1]);
		child_write(dir, p[0]);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

/* Wait for the child to exit, at most ms milliseconds (then kill it);
 * its exit status, or -1. */
static int wait_child(pid_t pid, int ms)
{
	long long end = now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 || now_ms() >= end)
			break;
		poll(NULL, 0, 10); /* look again in 10 ms */
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* ------------------------------------------------------------------------
 * Reading.  Values reach the caller through a callback and are valid only
 * during it: copy what you keep.  Values are bytes, not C strings.
 */
typedef struct text {
	char s[128];
	int count; /* values seen */
} text;

static int copy_value(const ms_node_value *v, void *ctx)
{
	text *t = ctx;

	snprintf(t->s, sizeof t->s, "%.*s", (int)v->len, (const char *)v->data);
	t->count++;
	return 0; /* 0: go on (a lww key has one value anyway) */
}

/* Read key's value as text; fail unless it is exactly want. */
static void expect_value(ms_node *n, const char *key, const char *want)
{
	text t = {0};
	ms_errbuf eb;

	if (ms_node_get(n, key, strlen(key), 0, copy_value, &t, &eb) != MS_OK)
		fail_eb("ms_node_get", &eb);
	if (t.count != 1 || strcmp(t.s, want) != 0)
		fail("%s: read '%s' (%d values), wrote '%s'", key, t.s, t.count,
		     want);
	printf("read   %s = %s\n", key, t.s);
}

static void put(ms_node *n, const char *key, const char *value)
{
	ms_node_write_result res;
	ms_errbuf eb;

	/* flags 0: user priority (MS_NODE_PUT_BACKGROUND for bulk data that
	 * may sync later); durable on disk when the call returns */
	if (ms_node_put(n, key, strlen(key), value, strlen(value), 0, &res,
	                &eb) != MS_OK)
		fail_eb("ms_node_put", &eb);
	printf("wrote  %s = %s (seq %llu)\n", key, value,
	       (unsigned long long)res.seq);
}

/* ------------------------------------------------------------------------
 * Scanning a prefix: the callback sees each key (in byte order) with its
 * values as ms_node_get would hand them.
 */
typedef struct listing {
	char keys[8][64];
	char values[8][64];
	int n;
} listing;

static int list_entry(const ms_node_entry *e, void *ctx)
{
	listing *l = ctx;

	if (l->n == 8)
		return 1; /* non-zero stops the scan */
	snprintf(l->keys[l->n], sizeof l->keys[0], "%.*s", (int)e->klen,
	         (const char *)e->key);
	if (e->nvalues > 0) /* a lww key has one value: the winner */
		snprintf(l->values[l->n], sizeof l->values[0], "%.*s",
		         (int)e->values[0].len,
		         (const char *)e->values[0].data);
	l->n++;
	return 0;
}

/* ------------------------------------------------------------------------
 * Watching: the changes feed hands each op the store gained after a
 * cursor.  This callback notes whether the child's write went by.
 */
typedef struct watch {
	int seen;  /* the child's op was reported */
	int local; /* ... as written by this node (any of its processes) */
} watch;

static int on_change(const ms_node_change *c, void *ctx)
{
	watch *w = ctx;

	printf("change %.*s (cursor %llu, seq %llu, %s)\n", (int)c->klen,
	       (const char *)c->key, (unsigned long long)c->cursor,
	       (unsigned long long)c->seq, c->local ? "local" : "from a peer");
	if (c->klen == strlen(CHILD_KEY) &&
	    memcmp(c->key, CHILD_KEY, c->klen) == 0) {
		w->seen = 1;
		w->local = c->local;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const fruit[][2] = {
		{"basic/fruit/apple", "green"},
		{"basic/fruit/pear", "yellow"},
		{"basic/fruit/plum", "purple"},
	};
	const char *dir;
	ms_node *n = NULL;
	ms_errbuf eb;
	ms_err e;
	listing l = {0};
	ms_node_status st;
	uint64_t cursor;
	watch w = {0};
	long long deadline;
	pid_t child;
	int go, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: basic DIR\n");
		return 2;
	}
	dir = argv[1];
	child = start_child(dir, &go);

	/* 1. Open the node; the first time, create it.  NULL as the network
	 * key starts a new network; to join an existing mesh pass the text
	 * of its key instead (what ms_node_network_key_text, or
	 * `meshsync-node network-key`, gives on one of its nodes). */
	e = ms_node_open(&n, dir, NULL, &eb);
	if (e == MS_ENOTFOUND) {
		if (ms_node_init(dir, NULL, &eb) != MS_OK)
			fail_eb("ms_node_init", &eb);
		printf("created a node in %s\n", dir);
		e = ms_node_open(&n, dir, NULL, &eb);
	}
	if (e != MS_OK)
		fail_eb("ms_node_open", &eb);

	/* 2. Write, and read back. */
	put(n, "basic/greeting", "hello, village");
	expect_value(n, "basic/greeting", "hello, village");

	/* 3. Scan a prefix.  "basic/fruitcake" does not start with
	 * "basic/fruit/", so it is not listed. */
	for (size_t i = 0; i < sizeof fruit / sizeof fruit[0]; i++)
		put(n, fruit[i][0], fruit[i][1]);
	put(n, "basic/fruitcake", "not a fruit");
	if (ms_node_scan(n, "basic/fruit/", strlen("basic/fruit/"), NULL, 0, 0,
	                 list_entry, &l, &eb) != MS_OK)
		fail_eb("ms_node_scan", &eb);
	if (l.n != 3)
		fail("scan basic/fruit/: %d keys, want 3", l.n);
	for (int i = 0; i < 3; i++) {
		if (strcmp(l.keys[i], fruit[i][0]) != 0 ||
		    strcmp(l.values[i], fruit[i][1]) != 0)
			fail("scan basic/fruit/: entry %d is %s = %s, want %s = %s",
			     i, l.keys[i], l.values[i], fruit[i][0],
			     fruit[i][1]);
		printf("scan   %s = %s\n", l.keys[i], l.values[i]);
	}

	/* 4. Watch.  Start the feed at its current end (the status's
	 * cursor), so only what comes next is reported, and get the watch
	 * descriptor before anything is written. */
	if (ms_node_status_get(n, &st, &eb) != MS_OK)
		fail_eb("ms_node_status_get", &eb);
	cursor = st.cursor;
	if (ms_node_watch_fd(n, &fd, &eb) != MS_OK)
		fail_eb("ms_node_watch_fd", &eb);
	if (write(go, "w", 1) != 1) /* the child may write now */
		fail("write to the child: %s", strerror(errno));
	close(go);

	/* Poll the descriptor (an app puts it in its own event loop); when it
	 * is readable, ms_node_changes reports what is new and empties it.
	 * Readable does not promise a change (the daemon also commits its
	 * peer records), so loop until the write shows up, with a deadline. */
	deadline = now_ms() + WAIT_MS;
	while (!w.seen) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			fail("the child's write was not reported within %d ms",
			     WAIT_MS);
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		if (ms_node_changes(n, cursor, 0, on_change, &w, &cursor,
		                    &eb) != MS_OK)
			fail_eb("ms_node_changes", &eb);
	}
	if (!w.local)
		fail("the child's write was reported as from a peer");
	if (wait_child(child, WAIT_MS) != 0)
		fail("the child process failed");

	/* What the other process wrote is there to read, like our own. */
	{
		char want[64];
		snprintf(want, sizeof want, "hello from pid %ld", (long)child);
		expect_value(n, CHILD_KEY, want);
	}

	ms_node_close(&n);
	printf("basic: all checks passed\n");
	return 0;
}
