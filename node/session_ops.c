/*
 * session_ops.c — ops both ways in a session (docs/protocol.md §5.3–§5.4):
 * the send queue (user priority first) fed by what the peer lacks, by
 * offers of new ops and by the catch-up after equal digests; OPS batches
 * under the credit the peer grants; received batches verified and stored,
 * what they prove the peer holds, fork replies, and the ACK with our grant.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

/* Remember that the peer holds id.  The set is bounded: past
 * MS_SESSION_KNOWN_MAX it starts over, which can only cost a duplicate
 * send (peer_vv still filters what the peer holds contiguously). */
static void know(ms_session *s, const uint8_t id[MS_HASH_LEN])
{
	if (s->known.n >= MS_SESSION_KNOWN_MAX)
		ms_idset_clear(&s->known);
	/* not remembering only costs a possible resend */
	(void)ms_idset_add(&s->known, id);
}

void ss_know(ms_session *s, const uint8_t id[MS_HASH_LEN])
{
	know(s, id);
}

/* An op of ours this peer cannot take (encoded beyond the wire's op
 * limit: written under an older, larger max_value): counted each time,
 * logged once per session. */
static void unsendable(ms_session *s, size_t len)
{
	ss_count(s, "ops_unsendable", NULL, 1);
	if (s->unsendable++ == 0)
		ss_log(s, MS_LOG_WARNING, "MS-SYNC-UNSENDABLE",
		       "bytes=%zu max=%u", len, (unsigned)MS_WIRE_MAX_OP);
}

/* The total of unacknowledged bytes over all sessions held this session
 * back: counted and logged once per session. */
static void tx_total_hit(ms_session *s)
{
	if (s->tx_total_hit)
		return;
	s->tx_total_hit = 1;
	ss_limit_n(s, "sessions_tx_total", 1, "bytes=%" PRIu64 " budget=%u",
	           s->env->tx_total, (unsigned)MS_SESSION_TX_TOTAL_BYTES);
}

/* Queue op e unless the peer is known to hold it; with `fanout` (the
 * node's ready sessions; 0 never announces), an op of another author may
 * be announced instead (session_relay.c). */
static void queue_op(ms_session *s, ms_store_rtxn *rt, const ms_log_entry *e,
                     int fanout)
{
	ms_sync_item it;

	if (ms_idset_has(&s->known, e->id))
		return;
	if (s->identified &&
	    ss_peer_holds_get(s, rt, e->op.author) >= e->op.seq)
		return;
	if (ss_relay_lazy(s, e, fanout) && ss_relay_announce(s, e->id) == 0)
		return;
	it.priority = e->op.priority;
	it.hlc = e->op.hlc;
	memcpy(it.id, e->id, MS_HASH_LEN);
	if (ms_sendq_push(&s->q, &it) != 0)
		ss_log(s, MS_LOG_ERROR, "MS-SYNC-NOMEM", "what=queue");
}

typedef struct offer_ctx {
	ms_session *s;
	ms_store_rtxn *rt;
	int fanout;
} offer_ctx;

static int offer_one(uint64_t arrival, const ms_log_entry *e, void *ctx)
{
	offer_ctx *o = ctx;

	(void)arrival;
	queue_op(o->s, o->rt, e, o->fanout);
	return 0;
}

void ss_queue_id(ms_session *s, ms_store_rtxn *rt,
                 const uint8_t id[MS_HASH_LEN])
{
	ms_log_entry e;

	if (ms_store_get_op(rt, id, &e, NULL) == MS_OK)
		queue_op(s, rt, &e, 0);
}

ms_err ms_session_offer_since(ms_session *s, ms_store_rtxn *rt, uint64_t after,
                              ms_errbuf *eb)
{
	offer_ctx o = {s, rt, ss_relay_fanout(s->env)};
	ms_err e;

	if (!ss_ready(s))
		return MS_OK;
	e = ms_store_foreach_arrival(rt, after, offer_one, &o, eb);
	ss_relay_flush_have(s);
	return e;
}

/* Live on equal digests: queue what arrived since our HELLO. */
void ss_catch_up(ms_session *s)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};

	if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK ||
	    ms_session_offer_since(s, rt, s->hello_arrival, &eb) != MS_OK)
		ss_store_error(
			s, &eb); /* what it missed goes out with later offers */
	ms_store_read_end(&rt);
}

/* The OPS batch being built. */
typedef struct build {
	uint32_t n, max;
	uint64_t bytes, cap;
	int total_bound;
} build;

/* Add op id to the batch if it fits: 1 added, 0 skipped (no longer held,
 * or too large for this peer), -1 the batch is full. */
static int take(ms_session *s, ms_store_rtxn *rt, const uint8_t id[MS_HASH_LEN],
                build *b)
{
	ms_session_env *env = s->env;
	ms_log_entry e;
	ss_sent *t;

	if (ms_store_get_op(rt, id, &e, NULL) != MS_OK)
		return 0; /* gone */
	if (e.len > MS_WIRE_MAX_OP) {
		unsendable(s, e.len);
		return 0;
	}
	if (b->bytes + MS_WIRE_OPS_PER_OP_LEN + e.len > env->p.max_message ||
	    ((b->n > 0 || s->nfl > 0) &&
	     b->bytes + MS_WIRE_OPS_PER_OP_LEN + e.len > b->cap)) {
		if (b->total_bound && b->n == 0)
			tx_total_hit(s);
		return -1;
	}
	env->txops[b->n].ptr = e.buf;
	env->txops[b->n].len = (uint32_t)e.len;
	t = &s->sent[s->nsent + b->n]; /* room made before the batch */
	memcpy(t->author, e.op.author, MS_PK_LEN);
	t->seq = e.op.seq;
	memcpy(t->id, id, MS_HASH_LEN);
	b->n++;
	b->bytes += MS_WIRE_OPS_PER_OP_LEN + e.len;
	know(s, id);
	return 1;
}

/* Room in s->sent for a batch of up to max ops; -1 when out of memory. */
static int sent_room(ms_session *s, uint32_t max)
{
	ss_sent *nv;
	size_t ncap;

	if (s->nsent + max <= s->capsent)
		return 0;
	ncap = s->capsent ? s->capsent : 256;
	while (ncap < s->nsent + max)
		ncap *= 2;
	if ((nv = realloc(s->sent, ncap * sizeof *nv)) == NULL)
		return -1;
	s->sent = nv;
	s->capsent = ncap;
	return 0;
}

/* Build and queue OPS batches while credit and the link allow. */
void ss_send_batches(ms_session *s, ms_time now)
{
	ms_session_env *env = s->env;

	for (int round = 0; round < SESSION_TICK_ROUNDS; round++) {
		ms_store_rtxn *rt = NULL;
		ms_errbuf eb = {0};
		ms_wire_msg m = {.type = MS_WIRE_OPS};
		build b = {.bytes = MS_WIRE_OPS_FIXED_LEN};
		uint64_t allow;
		const ms_sync_item *top;
		int r = 0;

		if (s->state == MS_SESSION_CLOSED || s->oq_head != NULL ||
		    !s->can_send)
			return;
		if (ms_sendq_len(&s->q) == 0 && s->again.n == 0 && s->lk_more &&
		    ss_queue_lacking(s, now) != 0)
			return; /* the next window of what the peer lacks */
		if (ms_sendq_len(&s->q) == 0 && s->again.n == 0)
			return;
		if (!s->got_ack && s->nfl > 0)
			return; /* one batch before the first ACK */
		/* bytes this batch may take: what the session's window and
		 * all sessions' total leave (at least one op: a session with
		 * nothing in flight always gets one, so peers that stop
		 * reading cannot starve the others, only slow them) */
		b.cap = env->p.max_message;
		if (s->fl_bytes >= MS_SESSION_TX_WINDOW_BYTES)
			b.cap = 0;
		else if (MS_SESSION_TX_WINDOW_BYTES - s->fl_bytes < b.cap)
			b.cap = MS_SESSION_TX_WINDOW_BYTES - s->fl_bytes;
		if (env->tx_total >= MS_SESSION_TX_TOTAL_BYTES) {
			b.cap = 0;
			b.total_bound = 1;
		} else if (MS_SESSION_TX_TOTAL_BYTES - env->tx_total < b.cap) {
			b.cap = MS_SESSION_TX_TOTAL_BYTES - env->tx_total;
			b.total_bound = 1;
		}
		if (b.cap == 0 && s->nfl > 0) {
			/* the next ACK (or the end of a session that stopped
			 * reading) makes room */
			if (b.total_bound)
				tx_total_hit(s);
			return;
		}
		allow = s->got_ack ? s->credit : MS_WIRE_MAX_OPS;
		b.max = env->p.batch_ops < allow ? env->p.batch_ops
		                                 : (uint32_t)allow;
		if (b.max == 0)
			return;
		if (s->nfl == s->capfl) {
			size_t ncap = s->capfl ? s->capfl * 2 : 16;
			inflight *nf = realloc(s->fl, ncap * sizeof *nf);
			if (nf == NULL)
				return; /* the next tick tries again */
			s->fl = nf;
			s->capfl = ncap;
		}
		if (sent_room(s, b.max) != 0)
			return; /* the next tick tries again */
		if (ms_store_read_begin(env->store, &rt, &eb) != MS_OK) {
			ss_store_error(s, &eb);
			return;
		}
		/* ops the peer did not take go first: they were due already */
		while (b.n < b.max && s->again.n > 0 &&
		       (r = take(s, rt, s->again.v[0].id, &b)) >= 0)
			memmove(&s->again.v[0], &s->again.v[1],
			        --s->again.n * sizeof s->again.v[0]);
		while (r >= 0 && b.n < b.max &&
		       (top = ms_sendq_top(&s->q)) != NULL) {
			uint8_t id[MS_HASH_LEN];

			memcpy(id, top->id, MS_HASH_LEN);
			if (!ms_idset_has(&s->known, id) &&
			    (r = take(s, rt, id, &b)) < 0)
				break;
			ms_sendq_pop(&s->q);
		}
		if (b.n == 0) {
			ms_store_read_end(&rt);
			if (s->lk_more && ms_sendq_len(&s->q) == 0)
				continue; /* a window the peer held already */
			break;
		}
		m.u.ops.batch = s->tx_batch + 1;
		m.u.ops.n = (uint16_t)b.n;
		m.u.ops.ops = env->txops;
		if (ss_send_msg(s, &m) != 0) {
			ms_store_read_end(&rt);
			ss_local_error(s, "local error", "local-error", now);
			return;
		}
		ms_store_read_end(&rt);
		if (s->nfl == 0)
			s->idle_from = now.mono_ms; /* the peer owes an ACK */
		s->tx_batch++;
		s->fl[s->nfl++] = (inflight){s->tx_batch, b.n, b.bytes};
		s->nsent += b.n;
		s->fl_bytes += b.bytes;
		env->tx_total += b.bytes;
		if (s->got_ack)
			s->credit -= b.n;
		s->sum.sent += b.n;
		ss_count(s, "ops_sent", NULL, b.n);
		if (ss_flush(s, now) != 0)
			return;
	}
	ss_check_synced(s, now);
}

void ms_session_tick(ms_session *s, ms_time now)
{
	if (s->state == MS_SESSION_CLOSED)
		return;
	s->env->now = now;
	ss_relay_tick(s, now);
	if (ss_timeouts(s, now) != 0 || ss_flush(s, now) != 0)
		return;
	ss_send_batches(s, now);
	ss_check_synced(s, now); /* output that waited for room may finish it */
	(void)ss_mem_check(s, now);
}

static int author_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MS_PK_LEN);
}

/* (author, seq) of an op the peer sent and therefore holds. */
typedef struct slot {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;
} slot;

static int slot_cmp(const void *a, const void *b)
{
	const slot *x = a, *y = b;
	int c = memcmp(x->author, y->author, MS_PK_LEN);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The peer sent us these slots, so it holds them: raise its peer_vv for
 * an author while the slots continue its known contiguous prefix exactly
 * (known + 1, known + 2, ...).  One store update for the batch. */
static void note_sent_slots(ms_session *s, slot *sl, size_t n)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_peer_vv_entry *pe;
	size_t k = 0;

	if (n == 0 || !s->identified)
		return;
	if ((pe = malloc(n * sizeof *pe)) == NULL)
		return; /* only accuracy suffers: ACKs raise it later */
	if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		free(pe);
		return;
	}
	qsort(sl, n, sizeof *sl, slot_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t known = ss_peer_holds_get(s, rt, sl[i].author);
		uint64_t start = known;

		for (; j < n &&
		       memcmp(sl[j].author, sl[i].author, MS_PK_LEN) == 0;
		     j++)
			if (sl[j].seq == known + 1)
				known++; /* equal seqs (a fork) sort together: skipped */
		if (known > start) {
			memcpy(pe[k].author, sl[i].author, MS_PK_LEN);
			pe[k].seq = known;
			k++;
		}
		i = j;
	}
	ms_store_read_end(&rt);
	ss_note_peer_holds(s, pe, k);
	free(pe);
}

typedef struct fork_ctx {
	ms_session *s;
	ms_store_rtxn *rt;
	size_t queued;
} fork_ctx;

static int fork_reply(const uint8_t author[MS_PK_LEN], uint64_t seq,
                      const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *ctx)
{
	fork_ctx *f = ctx;

	(void)author;
	(void)seq;
	for (size_t i = 0; i < nids; i++) {
		ms_log_entry e;
		ms_sync_item it;
		if (ms_idset_has(&f->s->known, ids[i]) ||
		    ms_store_get_op(f->rt, ids[i], &e, NULL) != MS_OK)
			continue;
		it.priority = e.op.priority;
		it.hlc = e.op.hlc;
		memcpy(it.id, ids[i], MS_HASH_LEN);
		if (ms_sendq_push(&f->s->q, &it) == 0)
			f->queued++;
	}
	return 0;
}

/* The peer's ops forked slots we held: the peer did not know our version
 * (it would not have been a fork on its side otherwise, or it would have
 * sent both), so send it every version of those slots it has not seen on
 * this link.  With the extra vector round this settles an equivocation
 * inside the common prefix in one session (§5.3 rule 4). */
static void answer_forks(ms_session *s, slot *forked, size_t n)
{
	ms_errbuf eb = {0};
	fork_ctx f = {.s = s};

	if (n == 0)
		return;
	qsort(forked, n, sizeof *forked, slot_cmp);
	if (ms_store_read_begin(s->env->store, &f.rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		return;
	}
	/* One lookup per slot the batch forked, not a walk of every fork
	 * the store holds; equal slots sort together and are read once. */
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && slot_cmp(&forked[i - 1], &forked[i]) == 0)
			continue;
		if (ms_store_get_fork(f.rt, forked[i].author, forked[i].seq,
		                      fork_reply, &f, &eb) != MS_OK) {
			ss_store_error(s, &eb); /* the next vector round
			                         * finds them */
			break;
		}
	}
	ms_store_read_end(&f.rt);
	ms_logf(s->env->log, MS_LOG_DEBUG, "MS-SYNC-FORK-REPLY",
	        "slots=%zu ops=%zu", n, f.queued);
}

/* The per-batch arrays of on_ops, one allocation each. */
typedef struct batch_bufs {
	ms_ingest_item *items;
	ms_ingest_result *res;
	uint8_t (*authors)[MS_PK_LEN];
	slot *slots, *held, *forked;
	ms_wire_ack_entry *acks;
} batch_bufs;

static int bufs_alloc(batch_bufs *b, size_t n)
{
	if (n == 0)
		n = 1;
	b->items = calloc(n, sizeof *b->items);
	b->res = calloc(n, sizeof *b->res);
	b->authors = calloc(n, sizeof *b->authors);
	b->slots = calloc(n, sizeof *b->slots);
	b->held = calloc(n, sizeof *b->held);
	b->forked = calloc(n, sizeof *b->forked);
	b->acks = calloc(n, sizeof *b->acks);
	return b->items && b->res && b->authors && b->slots && b->held &&
	                       b->forked && b->acks
	               ? 0
	               : -1;
}

static void bufs_free(batch_bufs *b)
{
	free(b->acks);
	free(b->forked);
	free(b->held);
	free(b->slots);
	free(b->authors);
	free(b->res);
	free(b->items);
}

/* Sort and dedup n authors; returns how many are left. */
static size_t unique_authors(uint8_t (*a)[MS_PK_LEN], size_t n)
{
	size_t u = 0;

	qsort(a, n, MS_PK_LEN, author_cmp);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || memcmp(a[u - 1], a[i], MS_PK_LEN) != 0)
			memmove(a[u++], a[i], MS_PK_LEN);
	return u;
}

/* ACK entries: our contiguous seq for every author of the batch, moved or
 * not (a sender whose ops were all duplicates learns what we hold too).
 * Returns how many, or -1 on a store error. */
static int ack_entries(ms_session *s, uint8_t (*authors)[MS_PK_LEN],
                       size_t nauth, ms_wire_ack_entry *acks)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	int nack = 0;

	if (nauth == 0)
		return 0;
	if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		return -1;
	}
	for (size_t i = 0; i < nauth; i++) {
		ms_vv_entry e;
		if (ms_store_vv_entry_get(rt, authors[i], &e, NULL) == MS_OK &&
		    e.seq > 0) {
			memcpy(acks[nack].author, authors[i], MS_PK_LEN);
			acks[nack].seq = e.seq;
			nack++;
		}
	}
	ms_store_read_end(&rt);
	return nack;
}

/* One line for a batch's rejected ops (not one per op): how many, by
 * reason.  Through the per-peer line budget like every warning. */
static void log_rejects(ms_session *s, uint32_t batch,
                        const ms_ingest_result *res, size_t n,
                        uint64_t rejected)
{
	uint64_t by[MS_OPR_COUNT_] = {0};
	char reasons[512];
	size_t off = 0;

	for (size_t i = 0; i < n; i++)
		if (res[i].status == MS_INGEST_REJECTED &&
		    res[i].reason < MS_OPR_COUNT_)
			by[res[i].reason]++;
	reasons[0] = '\0';
	for (int r = 0; r < MS_OPR_COUNT_; r++) {
		int k;
		if (by[r] == 0)
			continue;
		k = snprintf(reasons + off, sizeof reasons - off,
		             "%s%s:%" PRIu64, off ? "," : "",
		             ms_op_reason_name((ms_op_reason)r), by[r]);
		if (k < 0 || (size_t)k >= sizeof reasons - off)
			break;
		off += (size_t)k;
	}
	ss_log(s, MS_LOG_WARNING, "MS-SYNC-REJECT",
	       "batch=%" PRIu32 " ops=%zu rejected=%" PRIu64 " reasons=%s",
	       batch, n, rejected, off ? reasons : "-");
}

void ss_on_ops(ms_session *s, const ms_wire_ops *o, ms_time now)
{
	ms_session_env *env = s->env;
	batch_bufs b = {0};
	size_t nauth = 0, nheld = 0, nforked = 0;
	ms_ingest_totals tot = {0};
	ms_errbuf eb = {0};
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	int nack;

	if (s->state == MS_SESSION_HELLO) {
		ss_bad_message(s, "ops_before_hello", now);
		return;
	}
	if (o->batch != s->rx_batch + 1) {
		ss_bad_message(s, "batch_order", now);
		return;
	}
	/* §5.4: what the peer may have sent in all is set by the ACKs that
	 * have left for the link (one batch before the first), never by
	 * those still waiting in our queue; a sender that does not wait for
	 * them is stopped here, before anything of the batch is verified,
	 * logged or quarantined */
	if ((s->rx_acks_out == 0 && o->batch > 1) ||
	    s->rx_total + o->n > s->rx_horizon) {
		ss_limit_n(s, "rx_inflight", 1,
		           "batch=%" PRIu32 " received=%" PRIu64
		           " allowed=%" PRIu64,
		           o->batch, s->rx_total + o->n, s->rx_horizon);
		ss_budget_close(s, "rx_inflight", MS_BYE_BUDGET, now);
		return;
	}
	s->rx_batch = o->batch;
	s->rx_total += o->n;

	if (bufs_alloc(&b, o->n) != 0) {
		ss_local_error(s, "out of memory", "local-error", now);
		goto out;
	}
	/* the authors this batch may move */
	for (uint16_t i = 0; i < o->n; i++) {
		ms_op op;
		b.items[i].buf = o->ops[i].ptr;
		b.items[i].len = o->ops[i].len;
		if (ms_op_decode(&op, o->ops[i].ptr, o->ops[i].len,
		                 env->p.max_value) == MS_OPR_OK) {
			memcpy(b.authors[nauth++], op.author, MS_PK_LEN);
			memcpy(b.slots[i].author, op.author, MS_PK_LEN);
			b.slots[i].seq = op.seq;
		}
	}
	nauth = unique_authors(b.authors, nauth);

	if (o->n > 0 && ms_store_ingest(env->store, b.items, o->n, s->peer_id,
	                                b.res, &tot, &eb) != MS_OK) {
		/* our store failed (full, I/O): nothing of the batch was kept;
		 * the peer will offer it again after backing off, and its log
		 * says why (a full store is the operator's to fix) */
		ss_store_error(s, &eb);
		ss_local_error(s,
		               eb.code == MS_EFULL ? "store full"
		                                   : "store error",
		               "store", now);
		goto out;
	}
	s->sum.received += o->n;
	s->sum.applied += tot.applied;
	s->sum.duplicate += tot.duplicate;
	s->sum.rejected += tot.rejected;
	s->sum.conflicts += tot.conflicts;
	for (uint16_t i = 0; i < o->n; i++) {
		const ms_ingest_result *r = &b.res[i];

		if (r->status == MS_INGEST_REJECTED) {
			if (r->reason < MS_OPR_COUNT_)
				s->sum.rejected_by_reason[r->reason]++;
			continue;
		}
		/* the peer holds it: never send it back on this link */
		know(s, r->id);
		if (b.slots[i].seq != 0)
			b.held[nheld++] = b.slots[i];
		if (r->status == MS_INGEST_APPLIED && r->fork &&
		    b.slots[i].seq != 0)
			b.forked[nforked++] = b.slots[i];
	}
	if (tot.rejected > 0)
		log_rejects(s, o->batch, b.res, o->n, tot.rejected);
	/* accepted (refusing would split the mesh: which op a node refused
	 * would depend on arrival order), but worth an operator's look */
	if (tot.heads_over > 0)
		ss_limit_n(s, "heads_per_key", tot.heads_over, "ops=%" PRIu64,
		           tot.heads_over);
	note_sent_slots(s, b.held, nheld);
	answer_forks(s, b.forked, nforked);

	if ((nack = ack_entries(s, b.authors, nauth, b.acks)) < 0) {
		ss_local_error(s, "store error", "store", now);
		goto out;
	}
	m.u.ack.batch = o->batch;
	m.u.ack.credit = env->p.credit;
	m.u.ack.n = (uint16_t)nack;
	m.u.ack.entries = b.acks;
	/* the grant counts from this batch on (§5.4); it takes effect when
	 * the ACK leaves, at the next flush (the owner's tick), so batches
	 * already waiting behind this one are held to the older grant */
	if (ss_send_ack(s, &m, s->rx_total + env->p.credit) != 0) {
		ss_local_error(s, "local error", "local-error", now);
		goto out;
	}
	ss_send_batches(s, now); /* fork replies, after the ACK */
out:
	bufs_free(&b);
}

static int sent_cmp(const void *a, const void *b)
{
	const ss_sent *x = a, *y = b;
	int c = memcmp(x->author, y->author, MS_PK_LEN);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The ACK of the batch whose n ops lead s->sent: an entry whose contiguous
 * seq stops just below an op of that batch means the peer did not take it
 * (it arrived damaged and was rejected, or the peer refuses it), while
 * everything else it needed was there.  Offer such an op again, ahead of
 * the queue, once a session: so a damaged op is not left to the next
 * session, and a peer that refuses one for good costs one resend.  A gap
 * below ops the batch did not hold is left alone (the ops that fill it are
 * queued, or the peer gets them elsewhere).
 */
static void reoffer(ms_session *s, const ms_wire_ack *a, size_t n)
{
	ss_sent *b = s->sent;
	size_t i = 0, k = 0;

	if (a->n == 0 || n == 0)
		return;
	qsort(b, n, sizeof *b, sent_cmp); /* ACK authors ascend (wire rule) */
	while (i < a->n && k < n) {
		int c = memcmp(a->entries[i].author, b[k].author, MS_PK_LEN);
		if (c < 0) {
			i++;
			continue;
		}
		if (c == 0 && b[k].seq == a->entries[i].seq + 1 &&
		    !ms_idset_has(&s->resent, b[k].id)) {
			if (s->resent.n >= MS_SESSION_REOFFER_MAX ||
			    ms_idset_add(&s->resent, b[k].id) < 0 ||
			    ss_idvec_push(&s->again, b[k].id, 0,
			                  MS_SESSION_REOFFER_MAX) != 0) {
				if (!s->reoffer_hit) {
					s->reoffer_hit = 1;
					ss_limit_n(s, "reoffers", 1,
					           "reoffered=%zu",
					           s->resent.n);
				}
			} else {
				ss_count(s, "ops_reoffered", NULL, 1);
			}
		}
		k++;
	}
}

void ss_on_ack(ms_session *s, const ms_wire_ack *a, ms_time now)
{
	uint64_t after = 0;
	uint32_t credit = a->credit;

	if (s->nfl == 0 || a->batch != s->fl[0].batch) {
		ss_bad_message(s, "unexpected_ack", now);
		return;
	}
	reoffer(s, a, s->fl[0].n);
	s->nsent -= s->fl[0].n;
	memmove(&s->sent[0], &s->sent[s->fl[0].n],
	        s->nsent * sizeof s->sent[0]);
	s->fl_bytes -= s->fl[0].bytes;
	s->env->tx_total -= s->fl[0].bytes;
	memmove(&s->fl[0], &s->fl[1], (s->nfl - 1) * sizeof s->fl[0]);
	s->nfl--;
	s->got_ack = 1;
	for (size_t i = 0; i < s->nfl; i++)
		after += s->fl[i].n;
	if (credit > s->env->p.credit) {
		/* never more in flight than we would grant ourselves: a peer
		 * granting 2^32-1 and not reading cannot make us build our
		 * whole store into its queue */
		if (!s->credit_clamped) {
			s->credit_clamped = 1;
			ss_limit_n(s, "credit", 1,
			           "granted=%" PRIu32 " kept=%" PRIu32, credit,
			           s->env->p.credit);
		}
		credit = s->env->p.credit;
	}
	s->credit = credit > after ? credit - after : 0;
	if (a->n > 0 && s->identified) {
		ms_peer_vv_entry *pe = malloc(a->n * sizeof *pe);
		if (pe == NULL) {
			ss_local_error(s, "out of memory", "local-error", now);
			return;
		}
		for (uint16_t i = 0; i < a->n; i++) {
			memcpy(pe[i].author, a->entries[i].author, MS_PK_LEN);
			pe[i].seq = a->entries[i].seq;
		}
		ss_note_peer_holds(s, pe, a->n);
		free(pe);
	}
	ss_send_batches(s, now);
	ss_check_synced(s, now);
}
