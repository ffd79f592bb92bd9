/*
 * arrival.h — the arrival feed: every op this store gains (appended or
 * ingested, by any process) gets the next local arrival number in the
 * transaction that stores it, so a daemon finds new ops, including those
 * written by other processes (meshsync-node put), by reading past the last
 * number it has handled, without scanning the log.
 *
 * Databases: arrival   arrival number (u64 big-endian) -> op id (32);
 *            meta       "arrival": the last number handed out.
 * Numbers are local to one store: they mean nothing to another node.
 */
#ifndef MS_ARRIVAL_H
#define MS_ARRIVAL_H

#include <stdint.h>

#include "store.h"

/* Highest arrival number so far (0 = empty store, or meta unreadable). */
uint64_t ms_store_arrival_head(ms_store_rtxn *rt);

/*
 * 1 when the data file holds a commit newer than rt's snapshot: one made
 * after the snapshot began, or, for a snapshot just begun, one written but
 * not yet handed to readers.  LMDB writes a commit's meta page (the last
 * write a watcher of data.mdb sees) and only then publishes the commit to
 * new readers, so a reader woken by that write can begin its snapshot a
 * moment too early: it should look again shortly.  0 when the snapshot is
 * the newest commit.  Costs no I/O (the meta pages are in the map).
 */
int ms_store_arrival_behind(ms_store_rtxn *rt);

/*
 * Visit the ops that arrived after `after`, in arrival order, each with its
 * number; e points into the map and is valid until the rtxn ends.  The
 * foreach contract of store.h: fn returns non-zero to stop early (MS_OK);
 * MS_ECORRUPT when a record is malformed or names an op that is not held
 * or does not decode, or LMDB's error, with "foreach_arrival: why" in eb.
 */
typedef int (*ms_arrival_fn)(uint64_t arrival, const ms_log_entry *e,
                             void *ctx);
ms_err ms_store_foreach_arrival(ms_store_rtxn *rt, uint64_t after,
                                ms_arrival_fn fn, void *ctx, ms_errbuf *eb);

#endif
