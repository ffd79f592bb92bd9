/*
 * lacking.h — what the other side of a session lacks: from its version
 * vector entries and ours, the ops to send, in send order.  Nothing is
 * stored: the answer is derived from the vv, log, forks and ops databases
 * (docs/protocol.md §5.3 gives the rules; store/lacking.c applies them).
 */
#ifndef MS_LACKING_H
#define MS_LACKING_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "vector.h"

/* An op to send, sortable without reading it again. */
typedef struct ms_sync_item {
	uint8_t priority; /* ms_prio: user (0) first */
	uint64_t hlc;
	uint8_t id[MS_HASH_LEN];
} ms_sync_item;

/* qsort comparator over ms_sync_item: priority, then hlc, then id (a total
 * order, so replays match). */
int ms_sync_item_cmp(const void *a, const void *b);

/*
 * Compute the ops the other side lacks, given its vector entries (sorted by
 * author; n may be 0 for "knows nothing"), by the rules of docs/protocol.md:
 * for each author where the entries differ, every op with seq above the
 * other's contiguous seq; if we hold more ops at or below that seq than the
 * seq itself, also our forked slots there; if seq and held match but the
 * setsums differ (an author that equivocated), all of the author's
 * ops.  *items is a malloc'd array sorted by ms_sync_item_cmp, owned by the
 * caller (free()); *n its length.  Errors: MS_ENOMEM, MS_ECORRUPT (a
 * malformed record, an indexed op not held), LMDB's; then *items is NULL.
 */
ms_err ms_store_lacking(ms_store_rtxn *rt, const ms_vv_entry *theirs,
                        size_t ntheirs, ms_sync_item **items, size_t *n,
                        ms_errbuf *eb);

#endif
