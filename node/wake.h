/*
 * wake.h — the store's commit wake-up: a file descriptor that becomes
 * readable when any process commits to the node's store, so the daemon
 * reads the arrival feed at once instead of at its next timed poll.
 *
 * It is an inotify watch (IN_MODIFY) on DIR/data.mdb.  Every LMDB commit
 * ends with a write of a meta page to that file, so every commit, by any
 * process (meshsync-node put, an application on node/meshsync.h, the
 * daemon itself), makes the descriptor readable; writers need not know of
 * it, and it works across network namespaces.  It says "the file
 * changed", never what: the reader checks the arrival feed, and because
 * LMDB publishes a commit to readers a moment after that last write, a
 * snapshot that is still behind (ms_store_arrival_behind) is taken again
 * shortly.  Writes through a shared mapping (MDB_WRITEMAP, which the store
 * does not use) would not be seen.
 *
 * Thread rules: one thread (the event loop's).
 */
#ifndef MS_WAKE_H
#define MS_WAKE_H

#include "ms_err_int.h"

typedef struct ms_wake ms_wake;

/*
 * Watch DIR/data.mdb; *out receives the wake-up (NULL on failure), freed
 * by ms_wake_free.  Errors: MS_EIO when inotify refuses, the message
 * saying why ("inotify_init1: Too many open files": the user is out of
 * inotify instances, fs.inotify.max_user_instances, default 128, which
 * many daemons on one host reach; or out of watches or descriptors: the
 * caller falls back to polling); MS_ENOTFOUND when DIR/data.mdb does not
 * exist; MS_ENOMEM.
 */
ms_err ms_wake_new(ms_wake **out, const char *dir, ms_errbuf *eb);

/* Free w and set *wp to NULL; NULL and *wp == NULL are fine. */
void ms_wake_free(ms_wake **wp);

/* The descriptor to poll for input (non-blocking, close-on-exec). */
int ms_wake_fd(const ms_wake *w);

/*
 * Read every pending event: 1 when there was at least one (the store may
 * have changed), 0 when none, -1 when the watch is gone (data.mdb removed
 * or replaced, or the descriptor failed: the caller falls back to
 * polling).  Coalesced or overflowed event queues count as one wake-up.
 */
int ms_wake_drain(ms_wake *w);

#endif
