/*
 * verify_mt.c — decoding and signature checks of an ingested batch, split
 * over two cores.  Ed25519 verification dominates ingest, and the items of
 * a batch are independent, so the store owns one worker thread, and it and
 * the calling thread claim chunks of a large batch (ST_MT_CHUNK items)
 * until none is left: on a busy machine the thread that gets a core does
 * more.  Each item's result lands in its own slot of
 * s->bops/bstat/bid/bpt/bgrp, and a group sum (the setsum of one author's
 * accepted ops in a chunk, store_int.h) only in the slot of its first
 * member, so the outcome is the same whatever the split: group sums
 * differ, their total does not.
 *
 * The worker is created once (on the first large batch), not per batch,
 * and waits on a condition variable between batches.  It never touches
 * LMDB: the write transaction starts after every chunk is done.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* File accepted item i into a group of its author among the open ones
 * (slots of this range only), or open one at i.  open[] holds the slots
 * of the last ST_GROUP_OPEN groups opened, *nopen of them used, the
 * oldest replaced first (*next). */
static void group_add(ms_store *s, size_t i, uint32_t open[ST_GROUP_OPEN],
                      size_t *nopen, size_t *next)
{
	const uint8_t *author = s->bops[i].author;
	st_group *g;

	for (size_t k = 0; k < *nopen; k++) {
		uint32_t slot = open[k];
		if (memcmp(s->bops[slot].author, author, MS_PK_LEN) != 0)
			continue;
		g = &s->bgroups[slot];
		ms_setsum_pt_add(&g->sum, &s->bpt[i]);
		g->members++;
		s->bgrp[i] = slot;
		return;
	}
	g = &s->bgroups[i];
	g->sum = s->bpt[i];
	g->members = 1;
	g->held = 0;
	s->bgrp[i] = (uint32_t)i;
	open[*next] = (uint32_t)i;
	*next = (*next + 1) % ST_GROUP_OPEN;
	if (*nopen < ST_GROUP_OPEN)
		(*nopen)++;
}

void st_verify_range(ms_store *s, const ms_ingest_item *items, size_t lo,
                     size_t hi)
{
	uint32_t open[ST_GROUP_OPEN];
	size_t nopen = 0, next = 0;

	for (size_t i = lo; i < hi; i++) {
		ms_op_reason why;

		memset(s->bid[i], 0, MS_HASH_LEN);
		if (items[i].buf == NULL && items[i].len > 0)
			why = MS_OPR_TRUNCATED;
		else
			why = ms_op_decode(&s->bops[i], items[i].buf,
			                   items[i].len, s->max_value);
		if (why == MS_OPR_OK) {
			ms_op_id(s->bid[i], items[i].buf, items[i].len);
			why = ms_op_verify(&s->bops[i], s->netid);
		}
		s->bstat[i] = (uint8_t)why;
		/* The setsum work of an accepted op, here on this core rather
		 * than under the writer lock: its point, summed into its
		 * author's group (a rejected op is in no group). */
		s->bgrp[i] = UINT32_MAX;
		if (why == MS_OPR_OK) {
			ms_setsum_pt_of_id(&s->bpt[i], s->bid[i]);
			group_add(s, i, open, &nopen, &next);
		}
	}
}

/* Claim and verify chunks of the published batch until none is left. */
static void run_chunks(ms_store *s, st_worker *w, const ms_ingest_item *items,
                       size_t n)
{
	for (;;) {
		size_t lo = __atomic_fetch_add(&w->next, ST_MT_CHUNK,
		                               __ATOMIC_RELAXED);
		if (lo >= n)
			return;
		st_verify_range(s, items, lo,
		                n - lo < ST_MT_CHUNK ? n : lo + ST_MT_CHUNK);
	}
}

static void *worker_main(void *arg)
{
	ms_store *s = arg;
	st_worker *w = s->worker;
	const ms_ingest_item *items;
	st_range_fn fn;
	void *farg;
	uint64_t seen = 0;
	size_t n, lo, hi;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		/* Sleeps until a new job or quit; spurious wakeups loop. */
		while (!w->quit && w->job == seen)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		seen = w->job;
		if (w->done == seen)
			continue; /* the caller did it all alone */
		w->busy = 1;
		items = w->items;
		n = w->n;
		fn = w->fn;
		farg = w->arg;
		lo = w->lo;
		hi = w->hi;
		pthread_mutex_unlock(&w->mu);
		if (fn != NULL)
			fn(s, farg, lo, hi);
		else
			run_chunks(s, w, items, n);
		pthread_mutex_lock(&w->mu);
		w->busy = 0;
		w->done = seen;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Start the worker if this process has none; 0 when one is running. */
static int worker_start(ms_store *s)
{
	st_worker *w = s->worker;

	if (w != NULL && w->started && w->pid == getpid())
		return 0;
	if (w != NULL && w->started) {
		/* We are a fork child: the thread stayed with the parent, and
		 * its mutex may be in any state; start afresh. */
		free(w);
		s->worker = w = NULL;
	}
	if (w == NULL) {
		w = calloc(1, sizeof *w);
		if (w == NULL)
			return -1;
		if (pthread_mutex_init(&w->mu, NULL) != 0) {
			free(w);
			return -1;
		}
		if (pthread_cond_init(&w->cv, NULL) != 0) {
			pthread_mutex_destroy(&w->mu);
			free(w);
			return -1;
		}
		s->worker = w;
	}
	if (pthread_create(&w->th, NULL, worker_main, s) != 0)
		return -1; /* stays single-threaded; retried next batch */
	w->started = 1;
	w->pid = getpid();
	return 0;
}

void st_verify_batch(ms_store *s, const ms_ingest_item *items, size_t n)
{
	st_worker *w;

	if (n < ST_MT_MIN || s->verify_threads < 2 || worker_start(s) != 0) {
		st_verify_range(s, items, 0, n);
		return;
	}
	w = s->worker;
	pthread_mutex_lock(&w->mu);
	w->items = items;
	w->n = n;
	__atomic_store_n(&w->next, 0, __ATOMIC_RELAXED);
	w->job++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);

	run_chunks(s, w, items, n);

	pthread_mutex_lock(&w->mu);
	if (!w->busy && w->done != w->job)
		w->done = w->job; /* not started: every chunk was ours */
	/* A worker that started finishes the chunks it claimed. */
	while (w->done != w->job)
		pthread_cond_wait(&w->cv, &w->mu);
	w->items = NULL;
	pthread_mutex_unlock(&w->mu);
}

void st_mt_run(ms_store *s, st_range_fn fn, void *arg, size_t n, size_t split)
{
	st_worker *w;

	if (split >= n || s->verify_threads < 2 || worker_start(s) != 0) {
		fn(s, arg, 0, n);
		return;
	}
	w = s->worker;
	pthread_mutex_lock(&w->mu);
	w->fn = fn;
	w->arg = arg;
	w->lo = split;
	w->hi = n;
	w->job++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);

	fn(s, arg, 0, split);

	pthread_mutex_lock(&w->mu);
	/* A fixed range was handed over: the worker always does it. */
	while (w->done != w->job)
		pthread_cond_wait(&w->cv, &w->mu);
	w->fn = NULL;
	w->arg = NULL;
	pthread_mutex_unlock(&w->mu);
}

void st_worker_stop(ms_store *s)
{
	st_worker *w = s->worker;

	if (w == NULL)
		return;
	if (w->started && w->pid == getpid()) {
		pthread_mutex_lock(&w->mu);
		w->quit = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
	}
	/* A fork child's copy has no thread, and its mutex may be held by a
	 * thread that does not exist here: only free it. */
	free(w);
	s->worker = NULL;
}
