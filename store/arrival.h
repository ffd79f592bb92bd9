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

/* Visit ops that arrived after `after`, in arrival order; stop when fn
 * returns non-zero. */
typedef int (*ms_arrival_fn)(uint64_t arrival, const ms_log_entry *e, void *ctx);
int ms_store_foreach_arrival(ms_store_rtxn *rt, uint64_t after,
                             ms_arrival_fn fn, void *ctx);

#endif
