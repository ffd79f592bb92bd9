/*
 * counters.h — the daemon's named counters (node-inspect stats): counted in
 * memory by whichever part sees the event (sessions, the peer table, the
 * daemon) and written to the store's stats database now and then, never per
 * event.
 *
 * Names are a prefix and an optional suffix from fixed sets
 * ("bye_sent_" + "proto"); '-' and ' ' become '_' so they are plain store
 * keys.  At most MS_COUNTERS_MAX distinct names: beyond that a name is
 * dropped and counted under "counters_dropped" (names come from fixed sets,
 * so that is a bug, not a peer's doing).
 *
 * Thread rules: one thread (the event loop's).
 */
#ifndef MS_COUNTERS_H
#define MS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "ms_err.h"
#include "store.h"

#define MS_COUNTERS_MAX 128
#define MS_COUNTER_NAME_MAX 48 /* bytes, NUL included */

typedef struct ms_counter {
	char name[MS_COUNTER_NAME_MAX];
	uint64_t delta; /* counted since the last flush */
	uint64_t total; /* counted since creation (tests, the stop line) */
} ms_counter;

typedef struct ms_counters {
	ms_counter c[MS_COUNTERS_MAX];
	size_t n;
	uint64_t dropped;
} ms_counters;

/* Add n to the counter prefix+suffix (suffix may be NULL). */
void ms_counters_add(ms_counters *k, const char *prefix, const char *suffix,
                     uint64_t n);

/* The total counted under name since creation (0 if never counted). */
uint64_t ms_counters_total(const ms_counters *k, const char *name);

/* Write every non-zero delta to the store (ms_store_stats_add, one
 * transaction) and zero them.  On error the deltas are kept for the next
 * flush and the error is returned (eb says why). */
ms_err ms_counters_flush(ms_counters *k, ms_store *s, ms_errbuf *eb);

#endif
