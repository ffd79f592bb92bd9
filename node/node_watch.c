/*
 * node_watch.c — watching a node for changes: ms_node_watch_fd hands out
 * the store's commit wake-up (wake.h, the inotify watch the daemon uses),
 * and ms_node_changes reads the store's arrival feed (arrival.h) past a
 * cursor, which is the arrival number of the last op handed.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "arrival.h"
#include "node_int.h"

/* A snapshot begun just after the wake-up may miss the commit that caused
 * it (LMDB publishes a commit a moment after its last write: wake.h); it
 * is taken again after CHANGES_RECHECK_NS, at most CHANGES_RECHECKS
 * times, so a call never waits more than a few ms for a commit that is
 * still on its way. */
#define CHANGES_RECHECK_NS 1000000L
#define CHANGES_RECHECKS 10

ms_err ms_node_watch_fd(ms_node *n, int *fd, ms_errbuf *eb)
{
	ms_err e;

	if (fd == NULL)
		return ms_errf(eb, MS_EINVAL, "watch_fd: fd is NULL");
	if (n->wake == NULL) {
		e = ms_wake_new(&n->wake, n->dir, eb);
		/* data.mdb gone under an open node: the watch cannot be made */
		if (e == MS_ENOTFOUND)
			e = MS_EIO;
		if (e != MS_OK) {
			if (eb != NULL)
				eb->code = e;
			return e;
		}
	}
	*fd = ms_wake_fd(n->wake);
	return MS_OK;
}

typedef struct changes_ctx {
	const uint8_t *self;
	size_t max, handed;
	ms_node_change_fn fn;
	void *ctx;
	uint64_t last;
} changes_ctx;

static int on_arrival(uint64_t arrival, const ms_log_entry *le, void *arg)
{
	changes_ctx *c = arg;
	ms_node_change ch = {
		.cursor = arrival,
		.key = le->op.key,
		.klen = le->op.key_len,
		.id = le->id,
		.author = le->op.author,
		.seq = le->op.seq,
		.hlc = le->op.hlc,
		.deleted = le->op.type == MS_OP_DEL,
		.local = memcmp(le->op.author, c->self, MS_PK_LEN) == 0,
		.background = le->op.priority == MS_PRIO_BACKGROUND,
	};
	int stop = c->fn(&ch, c->ctx);

	c->last = arrival;
	c->handed++;
	return stop || (c->max > 0 && c->handed >= c->max);
}

ms_err ms_node_changes(ms_node *n, uint64_t cursor, size_t max,
                       ms_node_change_fn fn, void *ctx, uint64_t *next,
                       ms_errbuf *eb)
{
	changes_ctx c = {ms_identity_pk(n->id), max, 0, fn, ctx, cursor};
	struct timespec pause = {0, CHANGES_RECHECK_NS};
	ms_store_rtxn *rt = NULL;
	ms_errbuf why = {0};
	ms_err e;

	if (fn == NULL || next == NULL)
		return ms_errf(eb, MS_EINVAL, "changes: %s is NULL",
		               fn == NULL ? "fn" : "next");
	*next = cursor;
	/* Emptied first: a commit made from here on makes it readable
	 * again, so a caller that polls it never misses one. */
	if (n->wake != NULL)
		(void)ms_wake_drain(n->wake);
	if ((e = ms_store_read_begin(n->store, &rt, eb)) != MS_OK)
		return e;
	for (int i = 0; i < CHANGES_RECHECKS && ms_store_arrival_behind(rt);
	     i++) {
		ms_store_read_end(&rt);
		while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
			;
		pause.tv_nsec = CHANGES_RECHECK_NS;
		if ((e = ms_store_read_begin(n->store, &rt, eb)) != MS_OK)
			return e;
	}
	if (cursor < ms_store_arrival_head(rt))
		e = ms_store_foreach_arrival(rt, cursor, on_arrival, &c, &why);
	ms_store_read_end(&rt);
	*next = c.last;
	if (e != MS_OK)
		return ms_errf(eb, e, "changes: %s", why.msg);
	return MS_OK;
}
