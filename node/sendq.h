/*
 * sendq.h — the ops one sync session still has to send, in the order they
 * go out: user priority before background, then older hlc first, then id
 * (ms_sync_item_cmp: a total order, so a replay sends the same sequence).
 * A binary min-heap of ms_sync_item; entries are small (no op bytes), the
 * op is read from the store when its batch is built.
 *
 * Thread rules: none; one owner.
 */
#ifndef MS_SENDQ_H
#define MS_SENDQ_H

#include <stddef.h>

#include "lacking.h"

typedef struct ms_sendq {
	ms_sync_item *v;
	size_t n, cap;
} ms_sendq;

/* An empty queue is all zeros: `ms_sendq q = {0};`. */

/* Queue it.  0, or -1 when out of memory (the queue is unchanged). */
int ms_sendq_push(ms_sendq *q, const ms_sync_item *it);

/* The next item to send, or NULL when empty. */
const ms_sync_item *ms_sendq_top(const ms_sendq *q);

/* Remove the top item (no-op when empty). */
void ms_sendq_pop(ms_sendq *q);

/* Items queued. */
size_t ms_sendq_len(const ms_sendq *q);

/* Free the array; the queue is empty (and usable) again. */
void ms_sendq_clear(ms_sendq *q);

#endif
