/*
 * sync.c — sync sessions (docs/protocol.md §5; API in sync.h).
 *
 * Per session: the HELLO exchange and identity checks, the peer's vector as
 * it arrives in VV chunks, a send queue (a binary heap ordered by
 * ms_sync_item_cmp: user priority first, then hlc) fed by ms_store_lacking
 * and by the arrival feed, a set of op ids the peer is known to hold from
 * this link (sent to it or received from it: no op crosses one link twice,
 * none goes back where it came from), the batches in flight with the
 * credit the peer granted, and the counters of the processing summary.
 *
 * Output goes through a small queue: the transport may say "busy", and then
 * the rest waits for the next loop turn rather than being dropped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "discover.h"
#include "sync.h"

/* Authors of a VV we are willing to hold (4 Mi entries, 256 MiB). */
#define SYNC_MAX_AUTHORS (1u << 22)
/* Batches built per session per pump, so one peer cannot starve others. */
#define SYNC_PUMP_ROUNDS 8

/* A set of op ids, open addressing on the first 8 bytes of the id (ids are
 * hashes, so they are uniform already).  All-zero marks an empty slot; the
 * all-zero id itself is kept in a flag. */
typedef struct idset {
	uint8_t (*slot)[MS_HASH_LEN];
	size_t cap; /* power of two, or 0 */
	size_t n;
	int has_zero;
} idset;

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	uint8_t buf[];
} outmsg;

typedef struct inflight {
	uint32_t batch, n;
} inflight;

struct ms_session {
	ms_session *next;
	ms_daemon *d;
	ms_conn conn;
	int outbound;
	uint8_t peer_curve[MS_CURVE_LEN]; /* inbound: the dialer's ZAP key */
	ms_pm_peer *peer;
	int identified;
	uint8_t peer_id[MS_PK_LEN];
	int self;
	ms_sess_state state;

	int got_hello;
	uint8_t my_digest[MS_HASH_LEN]; /* what our HELLO said */
	uint64_t hello_arrival;         /* arrival head when we said it */
	/* our contiguous seqs in the HELLO's snapshot: on equal digests the
	 * peer holds exactly these (what arrived later it may not) */
	ms_peer_vv_entry *hello_vv;
	size_t nhello_vv;

	ms_vv_entry *tvv; /* peer's vector so far */
	size_t ntvv, captvv;
	int can_send; /* peer's vector known (or digests equal) */
	/* vector exchange (digests differed): rounds of the peer's VV fully
	 * received (1, then 2 after the extra round of protocol §5.3 rule 4),
	 * and whether we sent our second VV */
	int vv_mode;
	int vv_rounds;
	int vv2_sent;

	ms_sync_item *heap;
	size_t nheap, capheap;
	idset known;

	uint32_t tx_batch; /* last batch number sent */
	inflight *fl;      /* unacknowledged batches, oldest first */
	size_t nfl, capfl;
	uint64_t credit; /* ops we may still send (after the first ACK) */
	int got_ack;

	uint32_t rx_batch;  /* last batch number received */
	uint64_t rx_allow;  /* ops the peer may still send us */

	outmsg *oq_head, *oq_tail;

	uint64_t start_mono;
	ms_session_summary sum;
};

/* ------------------------------------------------------------------ idset */

static const uint8_t zero_id[MS_HASH_LEN];

static size_t id_hash(const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof h);
	return (size_t)h;
}

static int idset_has(const idset *s, const uint8_t *id)
{
	if (memcmp(id, zero_id, MS_HASH_LEN) == 0)
		return s->has_zero;
	if (s->cap == 0)
		return 0;
	for (size_t i = id_hash(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (memcmp(s->slot[i], zero_id, MS_HASH_LEN) == 0)
			return 0;
		if (memcmp(s->slot[i], id, MS_HASH_LEN) == 0)
			return 1;
	}
}

static void idset_put(idset *s, const uint8_t *id)
{
	size_t i = id_hash(id) & (s->cap - 1);

	while (memcmp(s->slot[i], zero_id, MS_HASH_LEN) != 0) {
		if (memcmp(s->slot[i], id, MS_HASH_LEN) == 0)
			return;
		i = (i + 1) & (s->cap - 1);
	}
	memcpy(s->slot[i], id, MS_HASH_LEN);
	s->n++;
}

/* 0, or -1 when out of memory (the id is then not remembered). */
static int idset_add(idset *s, const uint8_t *id)
{
	if (memcmp(id, zero_id, MS_HASH_LEN) == 0) {
		s->has_zero = 1;
		return 0;
	}
	if ((s->n + 1) * 2 > s->cap) {
		/* grow geometrically, keeping the load at most one half */
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		idset g = {.cap = ncap, .has_zero = s->has_zero};
		g.slot = calloc(ncap, MS_HASH_LEN);
		if (g.slot == NULL)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (memcmp(s->slot[i], zero_id, MS_HASH_LEN) != 0)
				idset_put(&g, s->slot[i]);
		free(s->slot);
		*s = g;
	}
	idset_put(s, id);
	return 0;
}

static void idset_free(idset *s)
{
	free(s->slot);
	memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------- heap */

static int heap_push(ms_session *s, const ms_sync_item *it)
{
	size_t i;

	if (s->nheap == s->capheap) {
		size_t ncap = s->capheap ? s->capheap * 2 : 256;
		ms_sync_item *nh = realloc(s->heap, ncap * sizeof *nh);
		if (nh == NULL)
			return -1;
		s->heap = nh;
		s->capheap = ncap;
	}
	i = s->nheap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (ms_sync_item_cmp(&s->heap[parent], it) <= 0)
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = *it;
	return 0;
}

static void heap_pop(ms_session *s)
{
	ms_sync_item last;
	size_t i = 0;

	if (s->nheap == 0)
		return;
	last = s->heap[--s->nheap];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap &&
		    ms_sync_item_cmp(&s->heap[c + 1], &s->heap[c]) < 0)
			c++;
		if (ms_sync_item_cmp(&last, &s->heap[c]) <= 0)
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
}

/* ------------------------------------------------------------- accessors */

ms_pm_peer *ms_sync_peer(const ms_session *s) { return s->peer; }
int ms_sync_outbound(const ms_session *s) { return s->outbound; }
ms_sess_state ms_sync_state(const ms_session *s) { return s->state; }
const ms_conn *ms_sync_conn(const ms_session *s) { return &s->conn; }
const ms_session_summary *ms_sync_summary(const ms_session *s) { return &s->sum; }
ms_session *ms_sync_next(const ms_session *s) { return s->next; }
int ms_sync_identified(const ms_session *s) { return s->identified; }

static const char *peer_hex(const ms_session *s, char out[2 * MS_PK_LEN + 1])
{
	if (s->identified)
		ms_hex(out, s->peer_id, MS_PK_LEN);
	else if (s->peer != NULL && s->peer->rec.has_id)
		ms_hex(out, s->peer->rec.id, MS_PK_LEN);
	else
		snprintf(out, 2 * MS_PK_LEN + 1, "unknown");
	return out;
}

/* ----------------------------------------------------------------- output */

/* Send queued messages until the transport is busy.  0, or -1 when the
 * connection failed (the session is then closed). */
static int flush(ms_session *s)
{
	ms_errbuf eb = {0};

	while (s->oq_head != NULL) {
		outmsg *m = s->oq_head;
		ms_err e = ms_transport_send(s->d->t, &s->conn, m->buf, m->len, 0,
		                             &eb);
		if (e == MS_EBUSY)
			return 0;
		if (e != MS_OK) {
			char q[MS_ERRBUF_SIZE + 8];
			ms_logf(&s->d->log, MS_LOG_DEBUG, "MS-SYNC-SEND-FAIL",
			        "error=%s", ms_log_q(q, sizeof q, eb.msg));
			ms_sync_close(s, -1, NULL, "send-failed", 1);
			return -1;
		}
		s->sum.bytes_out += m->len;
		s->oq_head = m->next;
		if (s->oq_head == NULL)
			s->oq_tail = NULL;
		free(m);
	}
	return 0;
}

static int queue(ms_session *s, const uint8_t *buf, size_t len)
{
	outmsg *m = malloc(sizeof *m + len);

	if (m == NULL) {
		ms_logf(&s->d->log, MS_LOG_ERROR, "MS-SYNC-NOMEM", "bytes=%zu", len);
		return -1;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf, buf, len);
	if (s->oq_tail != NULL)
		s->oq_tail->next = m;
	else
		s->oq_head = m;
	s->oq_tail = m;
	return 0;
}

/* Encode m into the daemon's buffer and queue it.  0 or -1. */
static int send_msg(ms_session *s, const ms_wire_msg *m)
{
	ms_errbuf eb = {0};
	size_t len;

	if (ms_wire_encode(m, s->d->msgbuf, MS_WIRE_MAX_MSG, &len, &eb) != MS_OK) {
		char q[MS_ERRBUF_SIZE + 8];
		/* we only encode what we built: a bug, but not a crash */
		ms_logf(&s->d->log, MS_LOG_ERROR, "MS-SYNC-ENCODE", "type=%s error=%s",
		        ms_wire_type_name(m->type), ms_log_q(q, sizeof q, eb.msg));
		return -1;
	}
	return queue(s, s->d->msgbuf, len);
}

/* For node/pex.c: queue a message built elsewhere (PEERS). */
int ms_sync_send(ms_session *s, const ms_wire_msg *m)
{
	if (s->state == MS_SESS_CLOSED)
		return -1;
	return send_msg(s, m);
}

/* ---------------------------------------------------------------- session */

ms_session *ms_sync_find(ms_daemon *d, const ms_conn *c)
{
	for (ms_session *s = d->sessions; s != NULL; s = s->next)
		if (s->state != MS_SESS_CLOSED && ms_conn_equal(&s->conn, c))
			return s;
	return NULL;
}

static void release(ms_session *s)
{
	while (s->oq_head != NULL) {
		outmsg *m = s->oq_head;
		s->oq_head = m->next;
		free(m);
	}
	s->oq_tail = NULL;
	free(s->tvv);
	s->tvv = NULL;
	s->ntvv = s->captvv = 0;
	free(s->hello_vv);
	s->hello_vv = NULL;
	s->nhello_vv = 0;
	free(s->heap);
	s->heap = NULL;
	s->nheap = s->capheap = 0;
	free(s->fl);
	s->fl = NULL;
	s->nfl = s->capfl = 0;
	idset_free(&s->known);
}

void ms_sync_reap(ms_daemon *d)
{
	ms_session **pp = &d->sessions;

	while (*pp != NULL) {
		ms_session *s = *pp;
		if (s->state == MS_SESS_CLOSED) {
			*pp = s->next;
			release(s);
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

static void log_summary(ms_session *s)
{
	char hex[2 * MS_PK_LEN + 1], reasons[512];
	size_t off = 0;
	const ms_session_summary *m = &s->sum;

	reasons[0] = '\0';
	for (int r = 0; r < 16 && r < MS_OPR_COUNT_; r++) {
		int n;
		if (m->rejected_by_reason[r] == 0)
			continue;
		n = snprintf(reasons + off, sizeof reasons - off, "%s%s:%" PRIu64,
		             off ? "," : "", ms_op_reason_name((ms_op_reason)r),
		             m->rejected_by_reason[r]);
		if (n < 0 || (size_t)n >= sizeof reasons - off)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(reasons, sizeof reasons, "-");
	ms_logf(&s->d->log, MS_LOG_INFO, "MS-SYNC-SUMMARY",
	        "peer=%s dir=%s received=%" PRIu64 " applied=%" PRIu64
	        " duplicate=%" PRIu64 " rejected=%" PRIu64 " rejected_reasons=%s"
	        " conflicts=%" PRIu64 " sent=%" PRIu64 " bytes_in=%" PRIu64
	        " bytes_out=%" PRIu64 " duration_ms=%" PRIu64 " end=%s",
	        peer_hex(s, hex), s->outbound ? "out" : "in", m->received,
	        m->applied, m->duplicate, m->rejected, reasons, m->conflicts,
	        m->sent, m->bytes_in, m->bytes_out,
	        ms_daemon_mono_ms() - s->start_mono, m->end_reason);
}

void ms_sync_close(ms_session *s, int bye_reason, const char *text,
                   const char *end, int failed)
{
	ms_daemon *d = s->d;

	if (s->state == MS_SESS_CLOSED)
		return;
	if (bye_reason >= 0) {
		const char *t = text != NULL ? text : "";
		ms_wire_msg m = {.type = MS_WIRE_BYE};
		m.u.bye.reason = (uint8_t)bye_reason;
		m.u.bye.text.ptr = (const uint8_t *)t;
		m.u.bye.text.len = (uint32_t)strnlen(t, MS_WIRE_MAX_TEXT);
		ms_daemon_count(d, "bye_sent_",
		                ms_wire_bye_reason_name((uint8_t)bye_reason), 1);
		/* best effort: whatever is queued goes first, BYE last */
		if (send_msg(s, &m) == 0)
			(void)flush(s);
		if (s->state == MS_SESS_CLOSED)
			return; /* the flush found the connection gone and closed */
	}
	s->state = MS_SESS_CLOSED;
	if (s->outbound)
		ms_transport_hangup(d->t, s->conn.peer);
	s->sum.end_ms = ms_daemon_wall_ms();
	snprintf(s->sum.end_reason, sizeof s->sum.end_reason, "%s", end);
	if (!s->self) {
		log_summary(s);
		ms_pm_session_end(d, s, s->peer, failed && !d->stopping, end);
	}
	release(s);
}

void ms_sync_lost(ms_session *s, const char *reason)
{
	ms_sync_close(s, -1, NULL, reason, 1);
}

/* Refuse the session: count, log, BYE, close (a failure for backoff). */
static void refuse(ms_session *s, int bye, const char *event, const char *why,
                   const char *end)
{
	char hex[2 * MS_PK_LEN + 1];

	if (bye == MS_BYE_AUTH)
		s->d->st.auth_failures++;
	else
		s->d->st.bad_messages++;
	ms_logf(&s->d->log, MS_LOG_WARNING, event, "peer=%s dir=%s reason=%s",
	        peer_hex(s, hex), s->outbound ? "out" : "in", why);
	ms_pm_count_failure(s->d, s->peer, why);
	ms_daemon_count(s->d, "session_refused_", why, 1);
	ms_sync_close(s, bye, why, end, 1);
}

static void store_error(ms_daemon *d, const ms_errbuf *eb)
{
	char q[MS_ERRBUF_SIZE + 8];
	ms_logf(&d->log, MS_LOG_ERROR, "MS-STORE-ERROR", "error=%s",
	        ms_log_q(q, sizeof q, eb->msg));
}

typedef struct hello_snap {
	uint64_t count;
	ms_peer_vv_entry *v;
	size_t n, cap;
	int nomem;
} hello_snap;

static int snap_entry(const ms_vv_entry *e, void *ctx)
{
	hello_snap *h = ctx;

	h->count += e->held;
	if (h->nomem)
		return 0;
	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 64;
		ms_peer_vv_entry *nv = realloc(h->v, ncap * sizeof *nv);
		if (nv == NULL) {
			/* only peer_vv accuracy suffers: it is raised later */
			h->nomem = 1;
			return 0;
		}
		h->v = nv;
		h->cap = ncap;
	}
	memcpy(h->v[h->n].author, e->author, MS_PK_LEN);
	h->v[h->n].seq = e->seq;
	h->n++;
	return 0;
}

/* Raise what the peer is known to hold (peer_vv); a failure only leaves
 * the sync queue lagging, so it is logged and the session goes on. */
static void note_peer_holds(ms_session *s, const ms_peer_vv_entry *e, size_t n)
{
	ms_errbuf eb = {0};

	if (n == 0 || !s->identified || s->self)
		return;
	if (ms_store_peer_vv_update(s->d->node->store, s->peer_id, e, n, &eb) !=
	    MS_OK)
		store_error(s->d, &eb);
}


/* Our own listen endpoints a peer could dial back: wildcard binds are
 * useless to it. */
static int announceable(const char *ep)
{
	return strstr(ep, "://0.0.0.0:") == NULL && strstr(ep, "://*:") == NULL &&
	       strstr(ep, "://[::]:") == NULL;
}

/* Our HELLO: digest and op count from one snapshot, whose arrival head is
 * remembered so a session that goes live on equal digests can push what
 * arrived after it. */
static int send_hello(ms_session *s)
{
	ms_daemon *d = s->d;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_wire_msg m = {.type = MS_WIRE_HELLO};
	ms_wire_hello *h = &m.u.hello;
	hello_snap snap = {0};

	memcpy(h->node_id, ms_node_id(d->node), MS_PK_LEN);
	if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK ||
	    ms_store_vv_digest(rt, h->vv_digest, &eb) != MS_OK) {
		store_error(d, &eb);
		ms_store_read_end(&rt);
		return -1;
	}
	s->hello_arrival = ms_store_arrival_head(rt);
	if (ms_store_foreach_vv_entry(rt, snap_entry, &snap, &eb) != MS_OK) {
		store_error(d, &eb);
		ms_store_read_end(&rt);
		free(snap.v);
		return -1;
	}
	ms_store_read_end(&rt);
	free(s->hello_vv);
	s->hello_vv = snap.nomem ? NULL : snap.v;
	s->nhello_vv = snap.nomem ? 0 : snap.n;
	if (snap.nomem)
		free(snap.v);
	memcpy(s->my_digest, h->vv_digest, MS_HASH_LEN);
	h->op_count = snap.count;
	if (!s->outbound) {
		h->flags = MS_WIRE_HELLO_LISTENER;
		h->has_proof = 1;
		ms_wire_hello_proof_sign(d->node->id, s->peer_curve, h->proof);
	}
	for (size_t i = 0; i < d->nbound && h->n_endpoints < MS_WIRE_MAX_ENDPOINTS;
	     i++) {
		if (!announceable(d->bound[i]))
			continue;
		h->endpoints[h->n_endpoints].ptr = (const uint8_t *)d->bound[i];
		h->endpoints[h->n_endpoints].len = (uint32_t)strlen(d->bound[i]);
		h->n_endpoints++;
	}
	return send_msg(s, &m);
}

ms_session *ms_sync_open(ms_daemon *d, const ms_conn *c, ms_pm_peer *p,
                         const uint8_t *peer_curve)
{
	ms_session *s = calloc(1, sizeof *s);

	if (s == NULL) {
		ms_logf(&d->log, MS_LOG_ERROR, "MS-SYNC-NOMEM", "what=session");
		if (c->dir == MS_CONN_OUT)
			ms_transport_hangup(d->t, c->peer);
		return NULL;
	}
	s->d = d;
	s->conn = *c;
	s->outbound = c->dir == MS_CONN_OUT;
	s->peer = p;
	if (peer_curve != NULL)
		memcpy(s->peer_curve, peer_curve, MS_CURVE_LEN);
	s->state = MS_SESS_HELLO;
	s->rx_allow = MS_WIRE_MAX_OPS; /* one batch before our first ACK */
	s->start_mono = ms_daemon_mono_ms();
	s->sum.start_ms = ms_daemon_wall_ms();
	s->sum.outbound = (uint8_t)s->outbound;
	s->next = d->sessions;
	d->sessions = s;
	d->st.sessions++;
	ms_daemon_count(d, s->outbound ? "sessions_out" : "sessions_in", NULL, 1);
	if (s->outbound) {
		if (send_hello(s) != 0) {
			ms_sync_close(s, -1, NULL, "local-error", 1);
			return NULL;
		}
		(void)flush(s);
	}
	return s->state == MS_SESS_CLOSED ? NULL : s;
}

/* Queue op e for s unless the peer is known to hold it. */
static void offer(ms_session *s, ms_store_rtxn *rt, const ms_log_entry *e)
{
	ms_sync_item it;

	if (idset_has(&s->known, e->id))
		return;
	if (s->identified &&
	    ms_store_peer_vv_get(rt, s->peer_id, e->op.author) >= e->op.seq)
		return;
	it.priority = e->op.priority;
	it.hlc = e->op.hlc;
	memcpy(it.id, e->id, MS_HASH_LEN);
	if (heap_push(s, &it) != 0)
		ms_logf(&s->d->log, MS_LOG_ERROR, "MS-SYNC-NOMEM", "what=queue");
}

typedef struct feed_ctx {
	ms_daemon *d;
	ms_session *only; /* one session, or NULL for every ready one */
	ms_store_rtxn *rt;
	uint64_t last;
} feed_ctx;

static int ready(const ms_session *s)
{
	return s->state != MS_SESS_CLOSED && s->can_send && !s->self;
}

static int feed_one(uint64_t arrival, const ms_log_entry *e, void *ctx)
{
	feed_ctx *f = ctx;

	f->last = arrival;
	if (f->only != NULL) {
		offer(f->only, f->rt, e);
		return 0;
	}
	for (ms_session *s = f->d->sessions; s != NULL; s = s->next)
		if (ready(s))
			offer(s, f->rt, e);
	return 0;
}

void ms_sync_feed(ms_daemon *d)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	feed_ctx f = {.d = d, .last = d->arrival_seen};

	if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK) {
		store_error(d, &eb);
		return;
	}
	f.rt = rt;
	if (ms_store_foreach_arrival(rt, d->arrival_seen, feed_one, &f, &eb) !=
	    MS_OK)
		store_error(d, &eb);
	d->arrival_seen = f.last;
	ms_store_read_end(&rt);
}

static int send_vv(ms_session *s);

/* The initial sync is over once we hold the peer's vector and everything
 * we found it lacks was sent and acknowledged. */
static void check_synced(ms_session *s)
{
	char hex[2 * MS_PK_LEN + 1];

	if (s->state != MS_SESS_SYNC || !s->can_send || s->nheap > 0 ||
	    s->nfl > 0 || s->oq_head != NULL)
		return;
	if (s->vv_mode) {
		/* protocol §5.3 rule 4: our stream has landed (all ACKed), so
		 * our vector now includes what the peer lacked; send it once
		 * more so an equivocation inside the common prefix shows up */
		if (!s->vv2_sent) {
			s->vv2_sent = 1;
			ms_logf(&s->d->log, MS_LOG_DEBUG, "MS-SYNC-VV2", "peer=%s dir=%s",
			        peer_hex(s, hex), s->outbound ? "out" : "in");
			if (send_vv(s) != 0) {
				ms_sync_close(s, MS_BYE_OVERLOAD, "local error",
				              "local-error", 1);
				return;
			}
			if (flush(s) != 0 || s->oq_head != NULL)
				return;
		}
		if (s->vv_rounds < 2)
			return; /* the peer's second vector is still to come */
	}
	s->state = MS_SESS_LIVE;
	ms_logf(&s->d->log, MS_LOG_INFO, "MS-SYNC-LIVE",
	        "peer=%s dir=%s sent=%" PRIu64 " received=%" PRIu64, peer_hex(s, hex),
	        s->outbound ? "out" : "in", s->sum.sent, s->sum.received);
	ms_pm_session_state(s->d, s->peer, s);
}

/* Build and queue OPS batches while credit and the queue allow. */
static void send_batches(ms_session *s)
{
	ms_daemon *d = s->d;
	const ms_config *cfg = &d->node->cfg;
	uint64_t limit = cfg->net.max_message < MS_WIRE_MAX_MSG
	                     ? cfg->net.max_message
	                     : MS_WIRE_MAX_MSG;

	for (int round = 0; round < SYNC_PUMP_ROUNDS; round++) {
		ms_store_rtxn *rt = NULL;
		ms_errbuf eb = {0};
		ms_wire_msg m = {.type = MS_WIRE_OPS};
		uint64_t allow, bytes = MS_WIRE_OPS_FIXED_LEN;
		uint32_t max, n = 0;
		inflight *nf;

		if (s->state == MS_SESS_CLOSED || s->oq_head != NULL ||
		    !s->can_send || s->nheap == 0)
			return;
		if (!s->got_ack && s->nfl > 0)
			return; /* one batch before the first ACK */
		allow = s->got_ack ? s->credit : MS_WIRE_MAX_OPS;
		max = cfg->sync.batch_ops < allow ? cfg->sync.batch_ops
		                                  : (uint32_t)allow;
		if (max == 0)
			return;
		if (s->nfl == s->capfl) {
			size_t ncap = s->capfl ? s->capfl * 2 : 16;
			if ((nf = realloc(s->fl, ncap * sizeof *nf)) == NULL)
				return;
			s->fl = nf;
			s->capfl = ncap;
		}
		if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK) {
			store_error(d, &eb);
			return;
		}
		while (n < max && s->nheap > 0) {
			ms_sync_item top = s->heap[0];
			ms_log_entry e;

			if (idset_has(&s->known, top.id)) {
				heap_pop(s);
				continue;
			}
			if (ms_store_get_op(rt, top.id, &e, NULL) != MS_OK ||
			    e.len > MS_WIRE_MAX_OP) {
				heap_pop(s); /* gone or unsendable: nothing to do */
				continue;
			}
			if (bytes + MS_WIRE_OPS_PER_OP_LEN + e.len > limit)
				break;
			heap_pop(s);
			d->txops[n].ptr = e.buf;
			d->txops[n].len = (uint32_t)e.len;
			n++;
			bytes += MS_WIRE_OPS_PER_OP_LEN + e.len;
			(void)idset_add(&s->known, top.id);
		}
		if (n == 0) {
			ms_store_read_end(&rt);
			break;
		}
		m.u.ops.batch = s->tx_batch + 1;
		m.u.ops.n = (uint16_t)n;
		m.u.ops.ops = d->txops;
		if (send_msg(s, &m) != 0) {
			ms_store_read_end(&rt);
			ms_sync_close(s, MS_BYE_OVERLOAD, "local error", "local-error", 1);
			return;
		}
		ms_store_read_end(&rt);
		s->tx_batch++;
		s->fl[s->nfl++] = (inflight){s->tx_batch, n};
		if (s->got_ack)
			s->credit -= n;
		s->sum.sent += n;
		ms_daemon_count(d, "ops_sent", NULL, n);
		if (flush(s) != 0)
			return;
	}
	check_synced(s);
}

void ms_sync_pump_all(ms_daemon *d)
{
	for (ms_session *s = d->sessions; s != NULL; s = s->next) {
		if (s->state == MS_SESS_CLOSED)
			continue;
		if (flush(s) != 0)
			continue;
		send_batches(s);
		check_synced(s); /* output that waited for room may finish it */
	}
}

/* A growable array of vector entries. */
typedef struct vvec {
	ms_vv_entry *v;
	size_t n, cap;
} vvec;

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

typedef struct vv_collect {
	vvec *v;
	int nomem;
} vv_collect;

static int collect_vv(const ms_vv_entry *e, void *ctx)
{
	vv_collect *c = ctx;

	c->nomem = vvec_add(c->v, e) != 0;
	return c->nomem;
}

/* Our whole vector as VV chunks (sorted by author, as the store keeps it). */
static int send_vv(ms_session *s)
{
	ms_daemon *d = s->d;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	vvec mine = {0};
	vv_collect col = {&mine, 0};
	size_t off = 0;
	int rc = 0;

	if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK) {
		store_error(d, &eb);
		return -1;
	}
	if (ms_store_foreach_vv_entry(rt, collect_vv, &col, &eb) != MS_OK ||
	    col.nomem) {
		if (!col.nomem)
			store_error(d, &eb);
		ms_store_read_end(&rt);
		free(mine.v);
		return -1;
	}
	ms_store_read_end(&rt);
	do {
		ms_wire_msg m = {.type = MS_WIRE_VV};
		size_t k = mine.n - off > MS_WIRE_MAX_VV ? MS_WIRE_MAX_VV : mine.n - off;
		ms_wire_vv_entry *w = d->scratch->vv;

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
		if (send_msg(s, &m) != 0) {
			rc = -1;
			break;
		}
	} while (off < mine.n);
	free(mine.v);
	return rc;
}

/* Queue every op the peer lacks, from its now complete vector. */
static int queue_lacking(ms_session *s)
{
	ms_daemon *d = s->d;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_sync_item *items = NULL;
	size_t n = 0, queued = 0;

	if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK ||
	    ms_store_lacking(rt, s->tvv, s->ntvv, &items, &n, &eb) != MS_OK) {
		store_error(d, &eb);
		ms_store_read_end(&rt);
		return -1;
	}
	ms_store_read_end(&rt);
	for (size_t i = 0; i < n; i++) {
		if (idset_has(&s->known, items[i].id))
			continue;
		if (heap_push(s, &items[i]) != 0) {
			free(items);
			return -1;
		}
		queued++;
	}
	free(items);
	ms_logf(&d->log, MS_LOG_DEBUG, "MS-SYNC-LACKING", "authors=%zu ops=%zu",
	        s->ntvv, queued);
	return 0;
}

/* Live on equal digests: push what arrived since our HELLO. */
static void catch_up(ms_session *s)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	feed_ctx f = {.d = s->d, .only = s};

	if (ms_store_read_begin(s->d->node->store, &rt, &eb) != MS_OK) {
		store_error(s->d, &eb);
		return;
	}
	f.rt = rt;
	if (ms_store_foreach_arrival(rt, s->hello_arrival, feed_one, &f, &eb) !=
	    MS_OK)
		store_error(s->d, &eb);
	ms_store_read_end(&rt);
}

static void on_hello(ms_session *s, const ms_wire_hello *h)
{
	ms_daemon *d = s->d;
	const uint8_t *me = ms_node_id(d->node);
	char hex[2 * MS_PK_LEN + 1];
	int equal;

	if (s->got_hello) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "second_hello", "proto");
		return;
	}
	s->got_hello = 1;
	if (s->outbound) {
		if (h->flags != MS_WIRE_HELLO_LISTENER || h->has_proof != 1) {
			refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "hello_flags",
			       "proto");
			return;
		}
		if (!ms_wire_hello_proof_verify(h->node_id, ms_transport_curve_pk(d->t),
		                                h->proof)) {
			refuse(s, MS_BYE_AUTH, "MS-SYNC-AUTH", "bad_proof", "auth");
			return;
		}
		if (memcmp(h->node_id, me, MS_PK_LEN) == 0) {
			s->self = 1;
			ms_pm_self(d, s->peer);
			ms_sync_close(s, -1, NULL, "self", 0);
			return;
		}
	} else {
		uint8_t curve[MS_CURVE_LEN];
		if (h->flags != 0 || h->has_proof != 0) {
			refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "hello_flags",
			       "proto");
			return;
		}
		if (ms_ed25519_pk_to_curve(curve, h->node_id, NULL) != MS_OK ||
		    sodium_memcmp(curve, s->peer_curve, MS_CURVE_LEN) != 0) {
			refuse(s, MS_BYE_AUTH, "MS-SYNC-AUTH", "id_mismatch", "auth");
			return;
		}
		if (send_hello(s) != 0) {
			ms_sync_close(s, MS_BYE_OVERLOAD, "local error", "local-error", 1);
			return;
		}
		if (memcmp(h->node_id, me, MS_PK_LEN) == 0) {
			/* our own dial: the HELLO tells the dialer; no session */
			s->self = 1;
			(void)flush(s);
			ms_sync_close(s, -1, NULL, "self", 0);
			return;
		}
	}
	memcpy(s->peer_id, h->node_id, MS_PK_LEN);
	s->identified = 1;
	s->peer = ms_pm_identified(d, s, h->node_id, h->endpoints, h->n_endpoints);
	/* Both sides compare the two digests the HELLOs carried, so they take
	 * the same branch whatever arrived in between. */
	equal = memcmp(h->vv_digest, s->my_digest, MS_HASH_LEN) == 0;
	ms_logf(&d->log, MS_LOG_DEBUG, "MS-SYNC-HELLO",
	        "peer=%s dir=%s op_count=%" PRIu64 " digest_equal=%d",
	        peer_hex(s, hex), s->outbound ? "out" : "in", h->op_count, equal);
	if (equal) {
		/* the peer holds exactly what our HELLO's snapshot held */
		note_peer_holds(s, s->hello_vv, s->nhello_vv);
		s->can_send = 1;
		s->state = MS_SESS_SYNC;
		catch_up(s);
		check_synced(s);
		if (s->state == MS_SESS_SYNC) /* catch-up queued ops: pump them */
			ms_pm_session_state(d, s->peer, s);
	} else {
		s->state = MS_SESS_SYNC;
		s->vv_mode = 1;
		if (send_vv(s) != 0) {
			ms_sync_close(s, MS_BYE_OVERLOAD, "local error", "local-error", 1);
			return;
		}
		ms_pm_session_state(d, s->peer, s);
	}
	free(s->hello_vv);
	s->hello_vv = NULL;
	s->nhello_vv = 0;
	(void)flush(s);
}

static void on_vv(ms_session *s, const ms_wire_vv *v)
{
	/* round 1 before we send anything; round 2 (§5.3 rule 4) once, only
	 * after a vector exchange */
	if (s->state != MS_SESS_SYNC || !s->vv_mode || s->vv_rounds >= 2) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "unexpected_vv", "proto");
		return;
	}
	if (s->ntvv + v->n > SYNC_MAX_AUTHORS) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "vv_too_long", "proto");
		return;
	}
	/* the decoder checked the order inside a chunk; across chunks too */
	if (v->n > 0 && s->ntvv > 0 &&
	    memcmp(s->tvv[s->ntvv - 1].author, v->entries[0].author, MS_PK_LEN) >= 0) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "bad_order", "proto");
		return;
	}
	for (uint16_t i = 0; i < v->n; i++) {
		ms_vv_entry e;
		vvec a = {s->tvv, s->ntvv, s->captvv};

		memcpy(e.author, v->entries[i].author, MS_PK_LEN);
		e.seq = v->entries[i].seq;
		e.held = v->entries[i].held;
		memcpy(e.acc, v->entries[i].acc, MS_VV_ACC_LEN);
		if (vvec_add(&a, &e) != 0) {
			ms_sync_close(s, MS_BYE_OVERLOAD, "out of memory", "local-error", 1);
			return;
		}
		s->tvv = a.v;
		s->ntvv = a.n;
		s->captvv = a.cap;
	}
	if (!(v->flags & MS_WIRE_VV_LAST))
		return;
	/* the peer holds every author's contiguous prefix it announced */
	if (s->ntvv > 0) {
		ms_peer_vv_entry *pe = malloc(s->ntvv * sizeof *pe);
		size_t k = 0;
		if (pe != NULL) {
			for (size_t i = 0; i < s->ntvv; i++) {
				if (s->tvv[i].seq == 0)
					continue;
				memcpy(pe[k].author, s->tvv[i].author, MS_PK_LEN);
				pe[k].seq = s->tvv[i].seq;
				k++;
			}
			note_peer_holds(s, pe, k);
			free(pe);
		}
	}
	if (queue_lacking(s) != 0) {
		ms_sync_close(s, MS_BYE_OVERLOAD, "local error", "local-error", 1);
		return;
	}
	free(s->tvv);
	s->tvv = NULL;
	s->ntvv = s->captvv = 0;
	s->vv_rounds++;
	s->can_send = 1;
	send_batches(s);
	check_synced(s);
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
	if (ms_store_read_begin(s->d->node->store, &rt, &eb) != MS_OK) {
		store_error(s->d, &eb);
		free(pe);
		return;
	}
	qsort(sl, n, sizeof *sl, slot_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t known = ms_store_peer_vv_get(rt, s->peer_id, sl[i].author);
		uint64_t start = known;

		for (; j < n && memcmp(sl[j].author, sl[i].author, MS_PK_LEN) == 0; j++)
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
	note_peer_holds(s, pe, k);
	free(pe);
}

typedef struct fork_ctx {
	ms_session *s;
	ms_store_rtxn *rt;
	const slot *sl; /* the slots this batch forked, sorted */
	size_t n;
	size_t queued;
} fork_ctx;

static int fork_reply(const uint8_t author[MS_PK_LEN], uint64_t seq,
                      const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *ctx)
{
	fork_ctx *f = ctx;
	slot key;

	memcpy(key.author, author, MS_PK_LEN);
	key.seq = seq;
	if (bsearch(&key, f->sl, f->n, sizeof key, slot_cmp) == NULL)
		return 0;
	for (size_t i = 0; i < nids; i++) {
		ms_log_entry e;
		ms_sync_item it;
		if (idset_has(&f->s->known, ids[i]) ||
		    ms_store_get_op(f->rt, ids[i], &e, NULL) != MS_OK)
			continue;
		it.priority = e.op.priority;
		it.hlc = e.op.hlc;
		memcpy(it.id, ids[i], MS_HASH_LEN);
		if (heap_push(f->s, &it) == 0)
			f->queued++;
	}
	return 0;
}

/* The peer's ops forked slots we held: the peer did not know our version
 * (it would not have been a fork on its side otherwise, or it would have
 * sent both), so send it every version of those slots it has not seen on
 * this link.  With the extra vector round this settles an equivocation
 * inside the common prefix in one session (protocol §5.3 rule 4). */
static void answer_forks(ms_session *s, slot *forked, size_t n)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	fork_ctx f = {.s = s, .sl = forked, .n = n};

	if (n == 0)
		return;
	qsort(forked, n, sizeof *forked, slot_cmp);
	if (ms_store_read_begin(s->d->node->store, &rt, &eb) != MS_OK) {
		store_error(s->d, &eb);
		return;
	}
	f.rt = rt;
	if (ms_store_foreach_fork(rt, fork_reply, &f, &eb) != MS_OK)
		store_error(s->d, &eb);
	ms_store_read_end(&rt);
	ms_logf(&s->d->log, MS_LOG_DEBUG, "MS-SYNC-FORK-REPLY", "slots=%zu ops=%zu",
	        n, f.queued);
}

static void on_ops(ms_session *s, const ms_wire_ops *o)
{
	ms_daemon *d = s->d;
	const ms_config *cfg = &d->node->cfg;
	ms_ingest_item *items = NULL;
	ms_ingest_result *res = NULL;
	uint8_t (*authors)[MS_PK_LEN] = NULL;
	slot *slots = NULL, *held = NULL, *forked = NULL;
	size_t nheld = 0, nforked = 0;
	ms_wire_ack_entry *acks = NULL;
	ms_ingest_totals tot = {0};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	size_t nauth = 0, nack = 0;
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	char hex[2 * MS_PK_LEN + 1];

	if (s->state == MS_SESS_HELLO) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "ops_before_hello",
		       "proto");
		return;
	}
	if (o->batch != s->rx_batch + 1) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "batch_order", "proto");
		return;
	}
	if (o->n > s->rx_allow) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "credit_exceeded",
		       "proto");
		return;
	}
	s->rx_batch = o->batch;
	s->rx_allow -= o->n;

	items = calloc(o->n ? o->n : 1, sizeof *items);
	res = calloc(o->n ? o->n : 1, sizeof *res);
	authors = calloc(o->n ? o->n : 1, sizeof *authors);
	acks = calloc(o->n ? o->n : 1, sizeof *acks);
	slots = calloc(o->n ? o->n : 1, sizeof *slots);
	held = calloc(o->n ? o->n : 1, sizeof *held);
	forked = calloc(o->n ? o->n : 1, sizeof *forked);
	if (!items || !res || !authors || !acks || !slots || !held ||
	    !forked) {
		ms_sync_close(s, MS_BYE_OVERLOAD, "out of memory", "local-error", 1);
		goto out;
	}
	/* the authors this batch may move, and where they stand now */
	for (uint16_t i = 0; i < o->n; i++) {
		ms_op op;
		items[i].buf = o->ops[i].ptr;
		items[i].len = o->ops[i].len;
		if (ms_op_decode(&op, o->ops[i].ptr, o->ops[i].len,
		                 cfg->store.max_value) == MS_OPR_OK) {
			memcpy(authors[nauth++], op.author, MS_PK_LEN);
			memcpy(slots[i].author, op.author, MS_PK_LEN);
			slots[i].seq = op.seq;
		}
	}
	qsort(authors, nauth, MS_PK_LEN, author_cmp);
	{
		size_t u = 0;
		for (size_t i = 0; i < nauth; i++)
			if (u == 0 || memcmp(authors[u - 1], authors[i], MS_PK_LEN) != 0)
				memmove(authors[u++], authors[i], MS_PK_LEN);
		nauth = u;
	}

	if (o->n > 0 && ms_store_ingest(d->node->store, items, o->n, s->peer_id,
	                                res, &tot, &eb) != MS_OK) {
		/* our store failed (full, I/O): nothing of the batch was kept;
		 * the peer will offer it again after backing off */
		store_error(d, &eb);
		ms_sync_close(s, MS_BYE_OVERLOAD, "store error", "store", 1);
		goto out;
	}
	s->sum.received += o->n;
	s->sum.applied += tot.applied;
	s->sum.duplicate += tot.duplicate;
	s->sum.rejected += tot.rejected;
	s->sum.conflicts += tot.conflicts;
	for (uint16_t i = 0; i < o->n; i++) {
		if (res[i].status == MS_INGEST_REJECTED) {
			if (res[i].reason < 16)
				s->sum.rejected_by_reason[res[i].reason]++;
			ms_logf(&d->log, MS_LOG_WARNING, "MS-SYNC-REJECT",
			        "peer=%s reason=%s batch=%" PRIu32 " index=%u",
			        peer_hex(s, hex),
			        ms_op_reason_name((ms_op_reason)res[i].reason), o->batch,
			        (unsigned)i);
			continue;
		}
		/* the peer holds it: never send it back on this link */
		(void)idset_add(&s->known, res[i].id);
		if (slots[i].seq != 0)
			held[nheld++] = slots[i];
		if (res[i].status == MS_INGEST_APPLIED && res[i].fork &&
		    slots[i].seq != 0)
			forked[nforked++] = slots[i];
	}
	note_sent_slots(s, held, nheld);
	answer_forks(s, forked, nforked);

	if (nauth > 0) {
		if (ms_store_read_begin(d->node->store, &rt, &eb) != MS_OK) {
			store_error(d, &eb);
			ms_sync_close(s, MS_BYE_OVERLOAD, "store error", "store", 1);
			goto out;
		}
		for (size_t i = 0; i < nauth; i++) {
			ms_vv_entry e;
			/* every author of the batch, moved or not: a sender whose
			 * ops were all duplicates learns what we hold too */
			if (ms_store_vv_entry_get(rt, authors[i], &e, NULL) == MS_OK &&
			    e.seq > 0) {
				memcpy(acks[nack].author, authors[i], MS_PK_LEN);
				acks[nack].seq = e.seq;
				nack++;
			}
		}
		ms_store_read_end(&rt);
	}
	m.u.ack.batch = o->batch;
	m.u.ack.credit = cfg->sync.credit;
	m.u.ack.n = (uint16_t)nack;
	m.u.ack.entries = acks;
	if (send_msg(s, &m) != 0) {
		ms_sync_close(s, MS_BYE_OVERLOAD, "local error", "local-error", 1);
		goto out;
	}
	/* ops the peer sent after this batch, before seeing the ACK, count
	 * against the new grant (protocol §5.4) */
	s->rx_allow = cfg->sync.credit;
	(void)flush(s);
	send_batches(s); /* fork replies, if any */
out:
	free(forked);
	free(held);
	free(slots);
	free(acks);
	free(authors);
	free(res);
	free(items);
}

static void on_ack(ms_session *s, const ms_wire_ack *a)
{
	ms_daemon *d = s->d;
	uint64_t after = 0;

	if (s->nfl == 0 || a->batch != s->fl[0].batch) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "unexpected_ack", "proto");
		return;
	}
	memmove(&s->fl[0], &s->fl[1], (s->nfl - 1) * sizeof s->fl[0]);
	s->nfl--;
	s->got_ack = 1;
	for (size_t i = 0; i < s->nfl; i++)
		after += s->fl[i].n;
	s->credit = a->credit > after ? a->credit - after : 0;
	if (a->n > 0 && s->identified) {
		ms_peer_vv_entry *pe = malloc(a->n * sizeof *pe);
		ms_errbuf eb = {0};
		if (pe == NULL) {
			ms_sync_close(s, MS_BYE_OVERLOAD, "out of memory", "local-error", 1);
			return;
		}
		for (uint16_t i = 0; i < a->n; i++) {
			memcpy(pe[i].author, a->entries[i].author, MS_PK_LEN);
			pe[i].seq = a->entries[i].seq;
		}
		if (ms_store_peer_vv_update(d->node->store, s->peer_id, pe, a->n, &eb) !=
		    MS_OK)
			store_error(d, &eb); /* only the sync queue lags: go on */
		free(pe);
	}
	send_batches(s);
	check_synced(s);
}

static void on_bye(ms_session *s, const ms_wire_bye *b)
{
	char hex[2 * MS_PK_LEN + 1], text[MS_WIRE_MAX_TEXT + 1], q[2 * sizeof text];
	char end[64];
	/* refusals are worth a warning; a normal or shutdown BYE is not */
	int failed = b->reason == MS_BYE_VERSION || b->reason == MS_BYE_AUTH ||
	             b->reason == MS_BYE_PROTO || b->reason == MS_BYE_OVERLOAD;

	memcpy(text, b->text.ptr, b->text.len);
	text[b->text.len] = '\0';
	ms_logf(&s->d->log, failed ? MS_LOG_WARNING : MS_LOG_INFO, "MS-SYNC-BYE",
	        "peer=%s dir=%s reason=%s text=%s", peer_hex(s, hex),
	        s->outbound ? "out" : "in", ms_wire_bye_reason_name(b->reason),
	        ms_log_q(q, sizeof q, text));
	snprintf(end, sizeof end, "bye-%s", ms_wire_bye_reason_name(b->reason));
	ms_daemon_count(s->d, "bye_recv_", ms_wire_bye_reason_name(b->reason), 1);
	/* whatever the reason, the peer is going away: an outbound dial waits
	 * out a backoff (reset by the good session, so it starts at base)
	 * instead of redialling a node that is stopping */
	ms_sync_close(s, -1, NULL, end, 1);
}

void ms_sync_recv(ms_session *s, const uint8_t *buf, size_t len)
{
	ms_wire_msg m;
	ms_wire_reason r;
	char hex[2 * MS_PK_LEN + 1];

	if (s->state == MS_SESS_CLOSED)
		return;
	s->sum.bytes_in += len;
	r = ms_wire_decode(&m, s->d->scratch, buf, len);
	if (r != MS_WR_OK)
		ms_daemon_count(s->d, "wire_reject_", ms_wire_reason_name(r), 1);
	if (r == MS_WR_VERSION) {
		s->d->st.bad_messages++;
		ms_logf(&s->d->log, MS_LOG_WARNING, "MS-SYNC-BAD-MESSAGE",
		        "peer=%s dir=%s reason=%s", peer_hex(s, hex),
		        s->outbound ? "out" : "in", ms_wire_reason_name(r));
		ms_pm_count_failure(s->d, s->peer, ms_wire_reason_name(r));
		ms_sync_close(s, MS_BYE_VERSION, "protocol version 1 only", "version", 1);
		return;
	}
	if (r != MS_WR_OK) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", ms_wire_reason_name(r),
		       "proto");
		return;
	}
	if (m.type != MS_WIRE_HELLO && m.type != MS_WIRE_BYE && !s->got_hello) {
		refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", "before_hello", "proto");
		return;
	}
	switch (m.type) {
	case MS_WIRE_HELLO:
		on_hello(s, &m.u.hello);
		break;
	case MS_WIRE_VV:
		on_vv(s, &m.u.vv);
		break;
	case MS_WIRE_OPS:
		on_ops(s, &m.u.ops);
		break;
	case MS_WIRE_ACK:
		on_ack(s, &m.u.ack);
		break;
	case MS_WIRE_BYE:
		on_bye(s, &m.u.bye);
		break;
	case MS_WIRE_PEERS:
		/* claims only: node/pex.c records and dials them (§5.5) */
		ms_logf(&s->d->log, MS_LOG_DEBUG, "MS-SYNC-PEERS", "peer=%s n=%u",
		        peer_hex(s, hex), (unsigned)m.u.peers.n);
		ms_pex_recv(s->d, s, &m.u.peers);
		break;
	}
}
