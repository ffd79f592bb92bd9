/* sendq.c — a session's send queue as a binary min-heap (see sendq.h). */
#include <stdlib.h>
#include <string.h>

#include "sendq.h"

#define SENDQ_FIRST_CAP 256

int ms_sendq_push(ms_sendq *q, const ms_sync_item *it)
{
	size_t i;

	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : SENDQ_FIRST_CAP;
		ms_sync_item *nv = realloc(q->v, ncap * sizeof *nv);

		if (nv == NULL)
			return -1;
		q->v = nv;
		q->cap = ncap;
	}
	/* sift up: parents move down until it fits */
	for (i = q->n++; i > 0;) {
		size_t parent = (i - 1) / 2;

		if (ms_sync_item_cmp(&q->v[parent], it) <= 0)
			break;
		q->v[i] = q->v[parent];
		i = parent;
	}
	q->v[i] = *it;
	return 0;
}

const ms_sync_item *ms_sendq_top(const ms_sendq *q)
{
	return q->n > 0 ? &q->v[0] : NULL;
}

void ms_sendq_pop(ms_sendq *q)
{
	ms_sync_item last;
	size_t i = 0;

	if (q->n == 0)
		return;
	last = q->v[--q->n];
	if (q->n == 0)
		return;
	/* sift the last item down from the root */
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n &&
		    ms_sync_item_cmp(&q->v[c + 1], &q->v[c]) < 0)
			c++;
		if (ms_sync_item_cmp(&last, &q->v[c]) <= 0)
			break;
		q->v[i] = q->v[c];
		i = c;
	}
	q->v[i] = last;
}

size_t ms_sendq_len(const ms_sendq *q)
{
	return q->n;
}

void ms_sendq_clear(ms_sendq *q)
{
	free(q->v);
	memset(q, 0, sizeof *q);
}
