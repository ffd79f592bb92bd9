/*
 * wake.c — the store's commit wake-up (wake.h): one inotify instance with
 * one IN_MODIFY watch on DIR/data.mdb, drained by the event loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ms_path.h"
#include "store.h"
#include "wake.h"

/* Reads of the queue per drain: events of one file coalesce, so a queue
 * holds a few at most; this only bounds a descriptor that never empties. */
#define WAKE_DRAIN_READS 64

struct ms_wake {
	int fd;
};

ms_err ms_wake_new(ms_wake **out, const char *dir, ms_errbuf *eb)
{
	ms_wake *w;
	char *path;
	ms_err e;

	*out = NULL;
	if ((path = ms_path_join(dir, MS_STORE_DATA_FILE)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "wake-up: out of memory");
	if ((w = malloc(sizeof *w)) == NULL) {
		free(path);
		return ms_errf(eb, MS_ENOMEM, "wake-up: out of memory");
	}
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		e = ms_errf(eb, MS_EIO, "wake-up: inotify_init1: %s",
		            strerror(errno));
		goto fail;
	}
	if (inotify_add_watch(w->fd, path, IN_MODIFY) < 0) {
		e = ms_errf(eb, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
		            "wake-up: inotify_add_watch(%s): %s", path,
		            strerror(errno));
		goto fail;
	}
	free(path);
	*out = w;
	return MS_OK;
fail:
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	free(path);
	return e;
}

void ms_wake_free(ms_wake **wp)
{
	if (wp == NULL || *wp == NULL)
		return;
	close((*wp)->fd);
	free(*wp);
	*wp = NULL;
}

int ms_wake_fd(const ms_wake *w)
{
	return w->fd;
}

int ms_wake_drain(ms_wake *w)
{
	/* aligned as the kernel's records are */
	union {
		struct inotify_event ev;
		char buf[4096];
	} u;
	int woke = 0;

	for (int i = 0; i < WAKE_DRAIN_READS; i++) {
		ssize_t n = read(w->fd, u.buf, sizeof u.buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return woke;
		if (n <= 0)
			return -1;
		/* a watch on a file has no names: records are fixed-size,
		 * but walk them by their lengths all the same */
		for (ssize_t off = 0; off + (ssize_t)sizeof u.ev <= n;) {
			struct inotify_event ev;
			memcpy(&ev, u.buf + off, sizeof ev);
			/* the file was removed or replaced: the watch is gone
			 * and no event will come again */
			if (ev.mask & (IN_IGNORED | IN_DELETE_SELF))
				return -1;
			off += (ssize_t)(sizeof ev + ev.len);
		}
		woke = 1;
	}
	return woke;
}
