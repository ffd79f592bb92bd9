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

/* Where a windowed computation (ms_store_lacking_next) goes on: all zero
 * to start from our first author. */
typedef struct ms_lacking_pos {
	uint8_t author[MS_PK_LEN]; /* the author to visit next */
	uint64_t seq;              /* > 0: resume that author's log at seq
	                              (its forks were already listed) */
	int started;               /* 0: from our first author */
	int done;                  /* 1: every author was visited */
} ms_lacking_pos;

/*
 * ms_store_lacking in windows, so a caller never holds the whole list:
 * from *pos on, collect items by the same rules until at least max were
 * found (max 0: no bound), stopping inside an author's log if need be,
 * and advance *pos past what was collected (pos->done once no author is
 * left).  The items of one window are sorted and deduplicated among
 * themselves only: the order across windows is our authors' order.  The
 * peer's entries must not change between the windows of one pass (a new
 * vector starts a new pass from a zero pos).  Errors as ms_store_lacking;
 * *pos is then unchanged.
 */
ms_err ms_store_lacking_next(ms_store_rtxn *rt, const ms_vv_entry *theirs,
                             size_t ntheirs, ms_lacking_pos *pos, size_t max,
                             ms_sync_item **items, size_t *n, ms_errbuf *eb);

#endif
