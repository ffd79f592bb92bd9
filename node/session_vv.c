/*
 * session_vv.c — a session's vector exchange (docs/protocol.md §5.2–§5.3):
 * our vector as VV chunks, the peer's as it arrives (entries for authors
 * we hold only; the others counted against session_vv_entries), what the
 * peer lacks from its complete vector (store/lacking, a window at a time),
 * the second round of rule 4 that exposes an equivocation inside the
 * common prefix, and the moment the initial sync is over.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

_Static_assert(MS_WIRE_ACC_LEN == MS_VV_ACC_LEN,
               "a VV entry carries the store's whole setsum");

static int vvec_add(vvec *a, const ms_vv_entry *e)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		ms_vv_entry *nv = realloc(a->v, ncap * sizeof *nv);
		if (nv == NULL)
			return -1;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = *e;
	return 0;
}

typedef struct collect_ctx {
	vvec v;
	int nomem;
} collect_ctx;

static int collect_vv(const ms_vv_entry *e, void *ctx)
{
	collect_ctx *c = ctx;

	if (vvec_add(&c->v, e) != 0) {
		c->nomem = 1;
		return 1;
	}
	return 0;
}

/* Our whole vector as VV chunks (sorted by author, as the store keeps it).
 * 0 or -1. */
int ss_send_vv(ms_session *s)
{
	ms_session_env *env = s->env;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	collect_ctx c = {0};
	vvec mine;
	size_t off = 0;
	int rc = 0;

	if (ms_store_read_begin(env->store, &rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		return -1;
	}
	if (ms_store_foreach_vv_entry(rt, collect_vv, &c, &eb) != MS_OK)
		ss_store_error(s, &eb);
	ms_store_read_end(&rt);
	mine = c.v;
	if (eb.code != MS_OK || c.nomem) {
		free(mine.v);
		return -1;
	}
	do {
		ms_wire_msg m = {.type = MS_WIRE_VV};
		size_t k = mine.n - off > MS_WIRE_MAX_VV ? MS_WIRE_MAX_VV
		                                         : mine.n - off;
		ms_wire_vv_entry *w = env->scratch->vv;

		/* cppcheck-suppress knownConditionTrueFalse ; collect_vv filled
		 * `mine` through the walk's callback, which cppcheck cannot see */
		for (size_t i = 0; i < k; i++) {
			memcpy(w[i].author, mine.v[off + i].author, MS_PK_LEN);
			w[i].seq = mine.v[off + i].seq;
			w[i].held = mine.v[off + i].held;
			memcpy(w[i].acc, mine.v[off + i].acc, MS_WIRE_ACC_LEN);
		}
		off += k;
		m.u.vv.flags = off == mine.n ? MS_WIRE_VV_LAST : 0;
		m.u.vv.n = (uint16_t)k;
		m.u.vv.entries = w;
		if (ss_send_msg(s, &m) != 0) {
			rc = -1;
			break;
		}
	} while (off < mine.n);
	free(mine.v);
	return rc;
}

/* The peer's vector is no longer needed: every window was queued, or a
 * new vector round supersedes it. */
static void drop_tvv(ms_session *s)
{
	free(s->tvv.v);
	memset(&s->tvv, 0, sizeof s->tvv);
	s->lk_more = 0;
}

/* Queue the next window of ops the peer lacks, from its complete vector
 * (at most lacking_window ids at a time: the next window is
 * read when the queue has drained).  0, -1, or -2 when the queue would
 * pass session_memory (the session was closed). */
static int queue_window(ms_session *s, ms_time now)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_sync_item *items = NULL;
	size_t n = 0, queued = 0;

	if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK ||
	    ms_store_lacking_next(rt, s->tvv.v, s->tvv.n, &s->lk_pos,
	                          s->env->p.lacking_window, &items, &n,
	                          &eb) != MS_OK) {
		ss_store_error(s, &eb);
		ms_store_read_end(&rt);
		return -1;
	}
	ms_store_read_end(&rt);
	s->lk_more = !s->lk_pos.done;
	if (ss_mem_now(s) + (uint64_t)n * sizeof *items > s->env->p.memory) {
		/* the ids alone would pass the budget: refuse before holding
		 * them (docs/config.md: raise session_memory for a store
		 * this large) */
		ss_limit_n(s, "session_memory", 1,
		           "lacking_ops=%zu budget=%" PRIu64, n,
		           s->env->p.memory);
		free(items);
		ss_budget_close(s, "session_memory", MS_BYE_BUDGET, now);
		return -2;
	}
	for (size_t i = 0; i < n; i++) {
		if (ms_idset_has(&s->known, items[i].id))
			continue;
		if (ms_sendq_push(&s->q, &items[i]) != 0) {
			free(items);
			return -1;
		}
		queued++;
	}
	free(items);
	ms_logf(s->env->log, MS_LOG_DEBUG, "MS-SYNC-LACKING",
	        "authors=%zu ops=%zu more=%d", s->tvv.n, queued, s->lk_more);
	if (!s->lk_more)
		drop_tvv(s);
	return 0;
}

int ss_queue_lacking(ms_session *s, ms_time now)
{
	if (!s->lk_more || s->state == MS_SESSION_CLOSED)
		return s->state == MS_SESSION_CLOSED ? -1 : 0;
	switch (queue_window(s, now)) {
	case 0:
		return 0;
	case -2:
		return -1;
	default:
		ss_local_error(s, "local error", "local-error", now);
		return -1;
	}
}

/* Keep the chunk's entries for authors we hold: the only ones what the
 * peer lacks (store/lacking walks our authors) and what it holds
 * (peer_vv) are made of.  The others only tell that the peer has ops we
 * lack, which it sends anyway from our vector: they are counted against
 * session_vv_entries and dropped.  0, or -1 when the session ended. */
static int keep_held(ms_session *s, const ms_wire_vv *v, ms_time now)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint64_t unknown = 0;
	int rc = 0;

	if (v->n == 0)
		return 0;
	if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		ss_local_error(s, "store error", "store", now);
		return -1;
	}
	for (uint16_t i = 0; i < v->n; i++) {
		ms_vv_entry e, ours;
		ms_err ge = ms_store_vv_entry_get(rt, v->entries[i].author,
		                                  &ours, NULL);

		if (ge == MS_ENOTFOUND) {
			unknown++;
			continue;
		}
		if (ge != MS_OK) {
			ss_local_error(s, "store error", "store", now);
			rc = -1;
			break;
		}
		memcpy(e.author, v->entries[i].author, MS_PK_LEN);
		e.seq = v->entries[i].seq;
		e.held = v->entries[i].held;
		memcpy(e.acc, v->entries[i].acc, MS_VV_ACC_LEN);
		if (vvec_add(&s->tvv, &e) != 0) {
			ss_local_error(s, "out of memory", "local-error", now);
			rc = -1;
			break;
		}
	}
	ms_store_read_end(&rt);
	s->vv_unknown += unknown;
	/* not kept, never written to peer_vv: counted per entry like the
	 * ACK entries the store skips (an honest peer may know authors we
	 * have not seen yet; millions from one peer are the attack) */
	if (unknown > 0)
		ss_count(s, "limit_", "peer_vv_unknown", unknown);
	return rc;
}

void ss_on_vv(ms_session *s, const ms_wire_vv *v, ms_time now)
{
	/* round 1 before we send anything; round 2 (§5.3 rule 4) once, only
	 * after a vector exchange */
	if (s->state != MS_SESSION_SYNC || !s->vv_mode || s->vv_rounds >= 2) {
		ss_bad_message(s, "unexpected_vv", now);
		return;
	}
	/* a new round supersedes the windows of the last one not yet queued:
	 * what they held is lacking by this vector too */
	if (s->vv_seen == 0 && s->lk_more)
		drop_tvv(s);
	/* the decoder checked the order inside a chunk; across chunks too */
	if (v->n > 0 && s->vv_seen > 0 &&
	    memcmp(s->vv_last, v->entries[0].author, MS_PK_LEN) >= 0) {
		ss_bad_message(s, "bad_order", now);
		return;
	}
	if (v->n > 0)
		memcpy(s->vv_last, v->entries[v->n - 1].author, MS_PK_LEN);
	s->vv_seen += v->n;
	if (keep_held(s, v, now) != 0)
		return;
	if (s->vv_unknown > s->env->p.vv_entries) {
		ss_limit_n(s, "session_vv_entries", 1,
		           "entries=%" PRIu64 " unknown=%" PRIu64
		           " budget=%" PRIu32,
		           s->vv_seen, s->vv_unknown, s->env->p.vv_entries);
		ss_budget_close(s, "session_vv_entries", MS_BYE_BUDGET, now);
		return;
	}
	if (!(v->flags & MS_WIRE_VV_LAST))
		return;
	if (s->vv_unknown > 0)
		ss_log(s, MS_LOG_DEBUG, "MS-SYNC-VV-UNKNOWN",
		       "entries=%" PRIu64 " unknown_authors=%" PRIu64,
		       s->vv_seen, s->vv_unknown);
	s->vv_seen = 0;
	s->vv_unknown = 0;
	/* the peer holds every author's contiguous prefix it announced */
	if (s->tvv.n > 0) {
		ms_peer_vv_entry *pe = malloc(s->tvv.n * sizeof *pe);
		size_t k = 0;
		if (pe != NULL) { /* else only peer_vv accuracy suffers */
			for (size_t i = 0; i < s->tvv.n; i++) {
				if (s->tvv.v[i].seq == 0)
					continue;
				memcpy(pe[k].author, s->tvv.v[i].author,
				       MS_PK_LEN);
				pe[k].seq = s->tvv.v[i].seq;
				k++;
			}
			ss_note_peer_holds(s, pe, k);
			free(pe);
		}
	}
	memset(&s->lk_pos, 0, sizeof s->lk_pos);
	s->lk_more = 1;
	if (ss_queue_lacking(s, now) != 0)
		return;
	s->vv_rounds++;
	s->can_send = 1;
	ss_send_batches(s, now);
	ss_check_synced(s, now);
}

/* The initial sync is over once we hold the peer's vector and everything
 * we found it lacks was sent and acknowledged. */
void ss_check_synced(ms_session *s, ms_time now)
{
	if (s->state != MS_SESSION_SYNC || !s->can_send ||
	    ms_sendq_len(&s->q) > 0 || s->again.n > 0 || s->lk_more ||
	    s->nfl > 0 || s->oq_head != NULL)
		return;
	if (s->vv_mode) {
		/* §5.3 rule 4: our stream has landed (all ACKed), so our
		 * vector now includes what the peer lacked; send it once more
		 * so an equivocation inside the common prefix shows up */
		if (!s->vv2_sent) {
			s->vv2_sent = 1;
			ss_log(s, MS_LOG_DEBUG, "MS-SYNC-VV2", "%s", "");
			if (ss_send_vv(s) != 0) {
				ss_local_error(s, "local error", "local-error",
				               now);
				return;
			}
			if (ss_flush(s, now) != 0 || s->oq_head != NULL)
				return;
		}
		if (s->vv_rounds < 2)
			return; /* the peer's second vector is still to come */
	}
	ss_log(s, MS_LOG_INFO, "MS-SYNC-LIVE",
	       "sent=%" PRIu64 " received=%" PRIu64, s->sum.sent,
	       s->sum.received);
	ss_set_state(s, MS_SESSION_LIVE);
}
