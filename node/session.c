/*
 * session.c — one sync session as a state machine without I/O (see
 * session.h; the protocol is docs/protocol.md §4–§5).
 *
 * Per session: the HELLO exchange and identity checks, the peer's vector as
 * it arrives in VV chunks, the send queue (node/sendq) fed by what the peer
 * lacks and by offers of new ops, the ids the peer is known to hold from
 * this link (node/idset: no op crosses one link twice, none goes back where
 * it came from), the batches in flight with the credit the peer granted,
 * and the counters of the processing summary.
 *
 * Output goes through a small queue of encoded messages: the link may say
 * "busy", and then the rest waits for the next tick rather than being
 * dropped.  OPS batches are built only when that queue is empty, so a slow
 * link holds back the building, not a pile of built batches.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "endpoint.h"
#include "idset.h"
#include "sendq.h"
#include "session.h"

/* Authors of a VV we are willing to hold (4 Mi entries, 256 MiB). */
#define SESSION_MAX_AUTHORS (1u << 22)
/* Batches built per session per tick, so one peer cannot starve others. */
#define SESSION_TICK_ROUNDS 8

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	uint8_t buf[];
} outmsg;

typedef struct inflight {
	uint32_t batch, n;
} inflight;

struct ms_session_env {
	ms_store *store;
	const ms_identity *id;
	uint8_t node_id[MS_PK_LEN];
	uint8_t curve_pk[MS_CURVE_LEN]; /* our dialing key: the id converted */
	ms_session_params p;
	ms_session_cbs cbs;
	const ms_log *log;
	ms_counters *counters;
	ms_wire_scratch *scratch; /* decode arrays (64 KiB) */
	uint8_t *msgbuf;          /* encode buffer, MS_WIRE_MAX_MSG bytes */
	ms_wire_bytes *txops;     /* the ops of the batch being built */
};

/* A growable array of vector entries. */
typedef struct vvec {
	ms_vv_entry *v;
	size_t n, cap;
} vvec;

struct ms_session {
	ms_session_env *env;
	void *user;
	int outbound;
	uint8_t peer_curve[MS_CURVE_LEN]; /* inbound: the dialer's key */
	int has_hint;
	uint8_t hint_id[MS_PK_LEN];
	int identified;
	uint8_t peer_id[MS_PK_LEN];
	int self;
	ms_session_state state;

	int got_hello;
	uint8_t my_digest[MS_HASH_LEN]; /* what our HELLO said */
	uint64_t hello_arrival;         /* arrival head when we said it */
	/* our contiguous seqs in the HELLO's snapshot: on equal digests the
	 * peer holds exactly these (what arrived later it may not) */
	ms_peer_vv_entry *hello_vv;
	size_t nhello_vv;

	vvec tvv;     /* the peer's vector so far */
	int can_send; /* the peer's vector known (or digests equal) */
	/* vector exchange (digests differed): rounds of the peer's VV fully
	 * received (1, then 2 after the extra round of §5.3 rule 4), and
	 * whether we sent our second VV */
	int vv_mode;
	int vv_rounds;
	int vv2_sent;

	ms_sendq q;
	ms_idset known;

	uint32_t tx_batch; /* last batch number sent */
	inflight *fl;      /* unacknowledged batches, oldest first */
	size_t nfl, capfl;
	uint64_t credit; /* ops we may still send (after the first ACK) */
	int got_ack;

	uint32_t rx_batch; /* last batch number received */
	uint64_t rx_allow; /* ops the peer may still send us */

	outmsg *oq_head, *oq_tail;
	size_t noq;

	uint64_t start_mono;
	ms_session_summary sum;
};

/* ------------------------------------------------------------ environment */

void ms_session_params_default(ms_session_params *p)
{
	memset(p, 0, sizeof *p);
	p->batch_ops = 256;
	p->credit = 1024;
	p->max_message = MS_WIRE_MAX_MSG;
	p->max_value = 1u << 20;
}

static void params_set(ms_session_env *env, const ms_session_params *p)
{
	env->p = *p;
	if (env->p.batch_ops == 0)
		env->p.batch_ops = 1;
	if (env->p.batch_ops > MS_WIRE_MAX_OPS)
		env->p.batch_ops = MS_WIRE_MAX_OPS;
	if (env->p.credit == 0)
		env->p.credit = 1;
	if (env->p.max_message > MS_WIRE_MAX_MSG)
		env->p.max_message = MS_WIRE_MAX_MSG;
	if (env->p.nendpoints > MS_SESSION_MAX_ENDPOINTS)
		env->p.nendpoints = MS_SESSION_MAX_ENDPOINTS;
}

ms_err ms_session_env_new(ms_session_env **out, ms_store *store,
                          const ms_identity *id, const ms_session_params *p,
                          const ms_session_cbs *cbs, const ms_log *log,
                          ms_counters *counters, ms_errbuf *eb)
{
	ms_session_env *env;
	ms_err e;

	*out = NULL;
	if (store == NULL || id == NULL || p == NULL || cbs == NULL ||
	    cbs->send == NULL || cbs->event == NULL || log == NULL ||
	    counters == NULL)
		return ms_errf(eb, MS_EINVAL, "session env: missing argument");
	if ((env = calloc(1, sizeof *env)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "session env: out of memory");
	env->store = store;
	env->id = id;
	memcpy(env->node_id, ms_identity_pk(id), MS_PK_LEN);
	if ((e = ms_ed25519_pk_to_curve(env->curve_pk, env->node_id, eb)) !=
	    MS_OK) {
		free(env);
		return e;
	}
	params_set(env, p);
	env->cbs = *cbs;
	env->log = log;
	env->counters = counters;
	env->scratch = malloc(sizeof *env->scratch);
	env->msgbuf = malloc(MS_WIRE_MAX_MSG);
	env->txops = calloc(MS_WIRE_MAX_OPS, sizeof *env->txops);
	if (env->scratch == NULL || env->msgbuf == NULL || env->txops == NULL) {
		ms_session_env_free(&env);
		return ms_errf(eb, MS_ENOMEM, "session env: out of memory");
	}
	*out = env;
	return MS_OK;
}

void ms_session_env_free(ms_session_env **envp)
{
	ms_session_env *env = envp != NULL ? *envp : NULL;

	if (env == NULL)
		return;
	free(env->txops);
	free(env->msgbuf);
	free(env->scratch);
	free(env);
	*envp = NULL;
}

void ms_session_env_set_params(ms_session_env *env, const ms_session_params *p)
{
	params_set(env, p);
}

const ms_session_params *ms_session_env_params(const ms_session_env *env)
{
	return &env->p;
}

/* ------------------------------------------------------------- accessors */

const char *ms_session_state_name(ms_session_state st)
{
	switch (st) {
	case MS_SESSION_HELLO: return "hello";
	case MS_SESSION_SYNC: return "sync";
	case MS_SESSION_LIVE: return "live";
	case MS_SESSION_CLOSED: return "closed";
	}
	return "?";
}

ms_session_state ms_session_state_get(const ms_session *s) { return s->state; }
int ms_session_outbound(const ms_session *s) { return s->outbound; }
const ms_session_summary *ms_session_summary_get(const ms_session *s) { return &s->sum; }
size_t ms_session_queued(const ms_session *s) { return ms_sendq_len(&s->q); }
size_t ms_session_inflight(const ms_session *s) { return s->nfl; }
size_t ms_session_waiting(const ms_session *s) { return s->noq; }
void *ms_session_user(const ms_session *s) { return s->user; }

const uint8_t *ms_session_peer_id(const ms_session *s)
{
	return s->identified ? s->peer_id : NULL;
}

int ms_session_ready(const ms_session *s)
{
	return s->state != MS_SESSION_CLOSED && s->can_send && !s->self;
}

/* ------------------------------------------------------------------- log */

static const char *peer_hex(const ms_session *s, char out[2 * MS_PK_LEN + 1])
{
	if (s->identified)
		ms_hex(out, s->peer_id, MS_PK_LEN);
	else if (s->has_hint)
		ms_hex(out, s->hint_id, MS_PK_LEN);
	else
		snprintf(out, 2 * MS_PK_LEN + 1, "unknown");
	return out;
}

static const char *dir_name(const ms_session *s)
{
	return s->outbound ? "out" : "in";
}

/* An event about this session: "peer=… dir=…" then the rest. */
static void slog(const ms_session *s, int level, const char *event,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void slog(const ms_session *s, int level, const char *event,
                 const char *fmt, ...)
{
	char hex[2 * MS_PK_LEN + 1], rest[1024];
	va_list ap;

	if (!ms_log_on(s->env->log, level))
		return;
	va_start(ap, fmt);
	vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	ms_logf(s->env->log, level, event, "peer=%s dir=%s%s%s", peer_hex(s, hex),
	        dir_name(s), rest[0] != '\0' ? " " : "", rest);
}

static void store_error(const ms_session *s, const ms_errbuf *eb)
{
	ms_log_error(s->env->log, "MS-STORE-ERROR", eb);
}

static void count(ms_session *s, const char *prefix, const char *suffix,
                  uint64_t n)
{
	ms_counters_add(s->env->counters, prefix, suffix, n);
}

/* ---------------------------------------------------------------- events */

static void emit(ms_session *s, const ms_session_event *ev)
{
	s->env->cbs.event(s->env->cbs.ctx, s, ev);
}

static void set_state(ms_session *s, ms_session_state st)
{
	ms_session_event ev = {.kind = MS_SESSION_EV_STATE};

	if (s->state == st || s->state == MS_SESSION_CLOSED)
		return;
	s->state = st;
	ev.u.state = st;
	emit(s, &ev);
}

/* ----------------------------------------------------------------- output */

static void release(ms_session *s)
{
	while (s->oq_head != NULL) {
		outmsg *m = s->oq_head;
		s->oq_head = m->next;
		free(m);
	}
	s->oq_tail = NULL;
	s->noq = 0;
	free(s->tvv.v);
	memset(&s->tvv, 0, sizeof s->tvv);
	free(s->hello_vv);
	s->hello_vv = NULL;
	s->nhello_vv = 0;
	ms_sendq_clear(&s->q);
	free(s->fl);
	s->fl = NULL;
	s->nfl = s->capfl = 0;
	ms_idset_clear(&s->known);
}

static void end_session(ms_session *s, const char *end, const char *detail,
                        int bye_sent, int failed, ms_time now);

/* Hand queued messages to the link until it is busy.  0, or -1 when the
 * link failed (the session is then closed). */
static int flush(ms_session *s, ms_time now)
{
	while (s->oq_head != NULL && s->state != MS_SESSION_CLOSED) {
		outmsg *m = s->oq_head;
		ms_errbuf eb = {0};
		ms_err e = s->env->cbs.send(s->env->cbs.ctx, s, m->buf, m->len, &eb);

		if (e == MS_EBUSY)
			return 0;
		if (e != MS_OK) {
			char q[MS_ERRBUF_SIZE + 8];
			slog(s, MS_LOG_DEBUG, "MS-SYNC-SEND-FAIL", "error=%s",
			     ms_log_q(q, sizeof q, eb.msg));
			end_session(s, "send-failed", NULL, -1, 1, now);
			return -1;
		}
		s->sum.bytes_out += m->len;
		s->oq_head = m->next;
		if (s->oq_head == NULL)
			s->oq_tail = NULL;
		s->noq--;
		free(m);
	}
	return s->state == MS_SESSION_CLOSED ? -1 : 0;
}

/* Encode m and queue it.  0 or -1 (out of memory, or a message we built
 * breaks a rule: a bug, logged, never a crash). */
static int send_msg(ms_session *s, const ms_wire_msg *m)
{
	ms_errbuf eb = {0};
	size_t len;
	outmsg *o;

	if (ms_wire_encode(m, s->env->msgbuf, MS_WIRE_MAX_MSG, &len, &eb) !=
	    MS_OK) {
		char q[MS_ERRBUF_SIZE + 8];
		slog(s, MS_LOG_ERROR, "MS-SYNC-ENCODE", "type=%s error=%s",
		     ms_wire_type_name(m->type), ms_log_q(q, sizeof q, eb.msg));
		return -1;
	}
	if ((o = malloc(sizeof *o + len)) == NULL) {
		slog(s, MS_LOG_ERROR, "MS-SYNC-NOMEM", "bytes=%zu", len);
		return -1;
	}
	o->next = NULL;
	o->len = len;
	memcpy(o->buf, s->env->msgbuf, len);
	if (s->oq_tail != NULL)
		s->oq_tail->next = o;
	else
		s->oq_head = o;
	s->oq_tail = o;
	s->noq++;
	return 0;
}

/* ---------------------------------------------------------------- closing */

static void log_summary(const ms_session *s, ms_time now)
{
	char reasons[512];
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
	slog(s, MS_LOG_INFO, "MS-SYNC-SUMMARY",
	     "received=%" PRIu64 " applied=%" PRIu64 " duplicate=%" PRIu64
	     " rejected=%" PRIu64 " rejected_reasons=%s conflicts=%" PRIu64
	     " sent=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
	     " duration_ms=%" PRIu64 " end=%s",
	     m->received, m->applied, m->duplicate, m->rejected, reasons,
	     m->conflicts, m->sent, m->bytes_in, m->bytes_out,
	     now.mono_ms - s->start_mono, m->end_reason);
}

/* The one way a session ends: summary, ENDED, resources released. */
static void end_session(ms_session *s, const char *end, const char *detail,
                        int bye_sent, int failed, ms_time now)
{
	ms_session_event ev = {.kind = MS_SESSION_EV_ENDED};

	if (s->state == MS_SESSION_CLOSED)
		return;
	s->state = MS_SESSION_CLOSED;
	s->sum.end_ms = now.wall_ms;
	snprintf(s->sum.end_reason, sizeof s->sum.end_reason, "%s", end);
	if (!s->self)
		log_summary(s, now);
	release(s);
	ev.u.end.reason = s->sum.end_reason;
	ev.u.end.detail = detail;
	ev.u.end.bye_sent = bye_sent;
	ev.u.end.failed = failed;
	ev.u.end.self = s->self;
	ev.u.end.summary = &s->sum;
	emit(s, &ev);
}

/* Send BYE (best effort: what is queued goes first, BYE last), then end. */
static void close_with(ms_session *s, int bye_reason, const char *text,
                       const char *end, const char *detail, int failed,
                       ms_time now)
{
	if (s->state == MS_SESSION_CLOSED)
		return;
	if (bye_reason >= 0) {
		const char *t = text != NULL ? text : "";
		ms_wire_msg m = {.type = MS_WIRE_BYE};

		m.u.bye.reason = (uint8_t)bye_reason;
		m.u.bye.text.ptr = (const uint8_t *)t;
		m.u.bye.text.len = (uint32_t)strnlen(t, MS_WIRE_MAX_TEXT);
		count(s, "bye_sent_", ms_wire_bye_reason_name((uint8_t)bye_reason), 1);
		if (send_msg(s, &m) == 0 && flush(s, now) != 0)
			return; /* the flush found the link gone and ended it */
	}
	end_session(s, end, detail, bye_reason, failed, now);
}

void ms_session_close(ms_session *s, int bye_reason, const char *text,
                      const char *end, int failed, ms_time now)
{
	close_with(s, bye_reason, text, end, NULL, failed, now);
}

void ms_session_lost(ms_session *s, const char *reason, ms_time now)
{
	end_session(s, reason, NULL, -1, 1, now);
}

/* We cannot go on (out of memory, a store failure): BYE(overload). */
static void local_error(ms_session *s, const char *text, const char *end,
                        ms_time now)
{
	close_with(s, MS_BYE_OVERLOAD, text, end, NULL, 1, now);
}

/* Refuse the peer: count, log, BYE, end (a failure for backoff). */
static void refuse(ms_session *s, int bye, const char *event, const char *why,
                   const char *end, ms_time now)
{
	slog(s, MS_LOG_WARNING, event, "reason=%s", why);
	count(s, "session_refused_", why, 1);
	close_with(s, bye, why, end, why, 1, now);
}

static void bad_message(ms_session *s, const char *why, ms_time now)
{
	refuse(s, MS_BYE_PROTO, "MS-SYNC-BAD-MESSAGE", why, "proto", now);
}

/* ------------------------------------------------------------ session */

ms_err ms_session_new(ms_session **out, ms_session_env *env,
                      const ms_session_conf *c, ms_time now, ms_errbuf *eb)
{
	ms_session *s = calloc(1, sizeof *s);

	*out = NULL;
	if (s == NULL)
		return ms_errf(eb, MS_ENOMEM, "session: out of memory");
	s->env = env;
	s->user = c->user;
	s->outbound = c->outbound != 0;
	memcpy(s->peer_curve, c->peer_curve, MS_CURVE_LEN);
	if (c->hint_id != NULL) {
		s->has_hint = 1;
		memcpy(s->hint_id, c->hint_id, MS_PK_LEN);
	}
	s->state = MS_SESSION_HELLO;
	s->rx_allow = MS_WIRE_MAX_OPS; /* one batch before our first ACK */
	s->start_mono = now.mono_ms;
	s->sum.start_ms = now.wall_ms;
	s->sum.outbound = (uint8_t)s->outbound;
	count(s, s->outbound ? "sessions_out" : "sessions_in", NULL, 1);
	*out = s;
	return MS_OK;
}

void ms_session_free(ms_session **sp)
{
	ms_session *s = sp != NULL ? *sp : NULL;

	if (s == NULL)
		return;
	release(s);
	free(s);
	*sp = NULL;
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
	if (ms_store_peer_vv_update(s->env->store, s->peer_id, e, n, &eb) != MS_OK)
		store_error(s, &eb);
}

/* Our HELLO: digest and op count from one snapshot, whose arrival head is
 * remembered so a session that goes live on equal digests can push what
 * arrived after it.  0 or -1. */
static int send_hello(ms_session *s)
{
	ms_session_env *env = s->env;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_wire_msg m = {.type = MS_WIRE_HELLO};
	ms_wire_hello *h = &m.u.hello;
	hello_snap snap = {0};

	memcpy(h->node_id, env->node_id, MS_PK_LEN);
	if (ms_store_read_begin(env->store, &rt, &eb) != MS_OK ||
	    ms_store_vv_digest(rt, h->vv_digest, &eb) != MS_OK) {
		store_error(s, &eb);
		ms_store_read_end(&rt);
		return -1;
	}
	s->hello_arrival = ms_store_arrival_head(rt);
	if (ms_store_foreach_vv_entry(rt, snap_entry, &snap, &eb) != MS_OK) {
		store_error(s, &eb);
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
		ms_wire_hello_proof_sign(env->id, s->peer_curve, h->proof);
	}
	for (size_t i = 0; i < env->p.nendpoints; i++) {
		const char *ep = env->p.endpoints[i];
		if (ms_endpoint_is_wildcard(ep))
			continue; /* a peer cannot dial "every address" */
		h->endpoints[h->n_endpoints].ptr = (const uint8_t *)ep;
		h->endpoints[h->n_endpoints].len = (uint32_t)strlen(ep);
		h->n_endpoints++;
	}
	return send_msg(s, &m);
}

void ms_session_start(ms_session *s, ms_time now)
{
	if (s->state != MS_SESSION_HELLO || !s->outbound)
		return;
	if (send_hello(s) != 0) {
		end_session(s, "local-error", NULL, -1, 1, now);
		return;
	}
	(void)flush(s, now);
}

/* Queue op e unless the peer is known to hold it. */
static void queue_op(ms_session *s, ms_store_rtxn *rt, const ms_log_entry *e)
{
	ms_sync_item it;

	if (ms_idset_has(&s->known, e->id))
		return;
	if (s->identified &&
	    ms_store_peer_vv_get(rt, s->peer_id, e->op.author) >= e->op.seq)
		return;
	it.priority = e->op.priority;
	it.hlc = e->op.hlc;
	memcpy(it.id, e->id, MS_HASH_LEN);
	if (ms_sendq_push(&s->q, &it) != 0)
		slog(s, MS_LOG_ERROR, "MS-SYNC-NOMEM", "what=queue");
}

void ms_session_offer(ms_session *s, ms_store_rtxn *rt, const ms_log_entry *e)
{
	if (ms_session_ready(s))
		queue_op(s, rt, e);
}

static int catch_up_one(uint64_t arrival, const ms_log_entry *e, void *ctx)
{
	struct {
		ms_session *s;
		ms_store_rtxn *rt;
	} *c = ctx;

	(void)arrival;
	queue_op(c->s, c->rt, e);
	return 0;
}

/* Live on equal digests: queue what arrived since our HELLO. */
static void catch_up(ms_session *s)
{
	struct {
		ms_session *s;
		ms_store_rtxn *rt;
	} c = {s, NULL};
	ms_errbuf eb = {0};

	if (ms_store_read_begin(s->env->store, &c.rt, &eb) != MS_OK) {
		store_error(s, &eb);
		return;
	}
	if (ms_store_foreach_arrival(c.rt, s->hello_arrival, catch_up_one, &c,
	                             &eb) != MS_OK)
		store_error(s, &eb); /* what it missed goes out with later offers */
	ms_store_read_end(&c.rt);
}

static int send_vv(ms_session *s);

/* The initial sync is over once we hold the peer's vector and everything
 * we found it lacks was sent and acknowledged. */
static void check_synced(ms_session *s, ms_time now)
{
	if (s->state != MS_SESSION_SYNC || !s->can_send ||
	    ms_sendq_len(&s->q) > 0 || s->nfl > 0 || s->oq_head != NULL)
		return;
	if (s->vv_mode) {
		/* §5.3 rule 4: our stream has landed (all ACKed), so our
		 * vector now includes what the peer lacked; send it once more
		 * so an equivocation inside the common prefix shows up */
		if (!s->vv2_sent) {
			s->vv2_sent = 1;
			slog(s, MS_LOG_DEBUG, "MS-SYNC-VV2", "%s", "");
			if (send_vv(s) != 0) {
				local_error(s, "local error", "local-error", now);
				return;
			}
			if (flush(s, now) != 0 || s->oq_head != NULL)
				return;
		}
		if (s->vv_rounds < 2)
			return; /* the peer's second vector is still to come */
	}
	slog(s, MS_LOG_INFO, "MS-SYNC-LIVE",
	     "sent=%" PRIu64 " received=%" PRIu64, s->sum.sent, s->sum.received);
	set_state(s, MS_SESSION_LIVE);
}

/* Build and queue OPS batches while credit and the link allow. */
static void send_batches(ms_session *s, ms_time now)
{
	ms_session_env *env = s->env;

	for (int round = 0; round < SESSION_TICK_ROUNDS; round++) {
		ms_store_rtxn *rt = NULL;
		ms_errbuf eb = {0};
		ms_wire_msg m = {.type = MS_WIRE_OPS};
		uint64_t allow, bytes = MS_WIRE_OPS_FIXED_LEN;
		uint32_t max, n = 0;
		const ms_sync_item *top;

		if (s->state == MS_SESSION_CLOSED || s->oq_head != NULL ||
		    !s->can_send || ms_sendq_len(&s->q) == 0)
			return;
		if (!s->got_ack && s->nfl > 0)
			return; /* one batch before the first ACK */
		allow = s->got_ack ? s->credit : MS_WIRE_MAX_OPS;
		max = env->p.batch_ops < allow ? env->p.batch_ops : (uint32_t)allow;
		if (max == 0)
			return;
		if (s->nfl == s->capfl) {
			size_t ncap = s->capfl ? s->capfl * 2 : 16;
			inflight *nf = realloc(s->fl, ncap * sizeof *nf);
			if (nf == NULL)
				return; /* the next tick tries again */
			s->fl = nf;
			s->capfl = ncap;
		}
		if (ms_store_read_begin(env->store, &rt, &eb) != MS_OK) {
			store_error(s, &eb);
			return;
		}
		while (n < max && (top = ms_sendq_top(&s->q)) != NULL) {
			ms_log_entry e;
			uint8_t id[MS_HASH_LEN];

			memcpy(id, top->id, MS_HASH_LEN);
			if (ms_idset_has(&s->known, id)) {
				ms_sendq_pop(&s->q);
				continue;
			}
			if (ms_store_get_op(rt, id, &e, NULL) != MS_OK ||
			    e.len > MS_WIRE_MAX_OP) {
				ms_sendq_pop(&s->q); /* gone or unsendable */
				continue;
			}
			if (bytes + MS_WIRE_OPS_PER_OP_LEN + e.len > env->p.max_message)
				break;
			ms_sendq_pop(&s->q);
			env->txops[n].ptr = e.buf;
			env->txops[n].len = (uint32_t)e.len;
			n++;
			bytes += MS_WIRE_OPS_PER_OP_LEN + e.len;
			/* not remembering only costs a possible resend */
			(void)ms_idset_add(&s->known, id);
		}
		if (n == 0) {
			ms_store_read_end(&rt);
			break;
		}
		m.u.ops.batch = s->tx_batch + 1;
		m.u.ops.n = (uint16_t)n;
		m.u.ops.ops = env->txops;
		if (send_msg(s, &m) != 0) {
			ms_store_read_end(&rt);
			local_error(s, "local error", "local-error", now);
			return;
		}
		ms_store_read_end(&rt);
		s->tx_batch++;
		s->fl[s->nfl++] = (inflight){s->tx_batch, n};
		if (s->got_ack)
			s->credit -= n;
		s->sum.sent += n;
		count(s, "ops_sent", NULL, n);
		if (flush(s, now) != 0)
			return;
	}
	check_synced(s, now);
}

void ms_session_tick(ms_session *s, ms_time now)
{
	if (s->state == MS_SESSION_CLOSED || flush(s, now) != 0)
		return;
	send_batches(s, now);
	check_synced(s, now); /* output that waited for room may finish it */
}

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
static int send_vv(ms_session *s)
{
	ms_session_env *env = s->env;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	collect_ctx c = {0};
	vvec mine;
	size_t off = 0;
	int rc = 0;

	if (ms_store_read_begin(env->store, &rt, &eb) != MS_OK) {
		store_error(s, &eb);
		return -1;
	}
	if (ms_store_foreach_vv_entry(rt, collect_vv, &c, &eb) != MS_OK)
		store_error(s, &eb);
	ms_store_read_end(&rt);
	mine = c.v;
	if (eb.code != MS_OK || c.nomem) {
		free(mine.v);
		return -1;
	}
	do {
		ms_wire_msg m = {.type = MS_WIRE_VV};
		size_t k = mine.n - off > MS_WIRE_MAX_VV ? MS_WIRE_MAX_VV : mine.n - off;
		ms_wire_vv_entry *w = env->scratch->vv;

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

/* Queue every op the peer lacks, from its now complete vector.  0 or -1. */
static int queue_lacking(ms_session *s)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_sync_item *items = NULL;
	size_t n = 0, queued = 0;

	if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK ||
	    ms_store_lacking(rt, s->tvv.v, s->tvv.n, &items, &n, &eb) != MS_OK) {
		store_error(s, &eb);
		ms_store_read_end(&rt);
		return -1;
	}
	ms_store_read_end(&rt);
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
	ms_logf(s->env->log, MS_LOG_DEBUG, "MS-SYNC-LACKING", "authors=%zu ops=%zu",
	        s->tvv.n, queued);
	return 0;
}

/* ------------------------------------------------------------- receiving */

/* The HELLO's identity rules (§4).  0 to go on; -1 when the session ended
 * (refused, or ourselves). */
static int check_hello_id(ms_session *s, const ms_wire_hello *h, ms_time now)
{
	ms_session_env *env = s->env;
	int ours = memcmp(h->node_id, env->node_id, MS_PK_LEN) == 0;

	if (s->outbound) {
		if (h->flags != MS_WIRE_HELLO_LISTENER || h->has_proof != 1) {
			bad_message(s, "hello_flags", now);
			return -1;
		}
		if (!ms_wire_hello_proof_verify(h->node_id, env->curve_pk, h->proof)) {
			refuse(s, MS_BYE_AUTH, "MS-SYNC-AUTH", "bad_proof", "auth", now);
			return -1;
		}
		if (ours) {
			s->self = 1;
			end_session(s, "self", NULL, -1, 0, now);
			return -1;
		}
		return 0;
	}
	{
		uint8_t curve[MS_CURVE_LEN];
		if (h->flags != 0 || h->has_proof != 0) {
			bad_message(s, "hello_flags", now);
			return -1;
		}
		if (ms_ed25519_pk_to_curve(curve, h->node_id, NULL) != MS_OK ||
		    sodium_memcmp(curve, s->peer_curve, MS_CURVE_LEN) != 0) {
			refuse(s, MS_BYE_AUTH, "MS-SYNC-AUTH", "id_mismatch", "auth", now);
			return -1;
		}
	}
	if (send_hello(s) != 0) {
		local_error(s, "local error", "local-error", now);
		return -1;
	}
	if (ours) {
		/* our own dial: our HELLO tells the dialer; no session */
		s->self = 1;
		(void)flush(s, now);
		end_session(s, "self", NULL, -1, 0, now);
		return -1;
	}
	return 0;
}

static void on_hello(ms_session *s, const ms_wire_hello *h, ms_time now)
{
	ms_session_event ev = {.kind = MS_SESSION_EV_IDENTIFIED};
	int equal;

	if (s->got_hello) {
		bad_message(s, "second_hello", now);
		return;
	}
	s->got_hello = 1;
	if (check_hello_id(s, h, now) != 0)
		return;
	memcpy(s->peer_id, h->node_id, MS_PK_LEN);
	s->identified = 1;
	ev.u.id.node_id = s->peer_id;
	ev.u.id.endpoints = h->endpoints;
	ev.u.id.nendpoints = h->n_endpoints;
	emit(s, &ev);
	if (s->state == MS_SESSION_CLOSED)
		return; /* the owner refused it */
	/* Both sides compare the two digests the HELLOs carried, so they take
	 * the same branch whatever arrived in between. */
	equal = memcmp(h->vv_digest, s->my_digest, MS_HASH_LEN) == 0;
	slog(s, MS_LOG_DEBUG, "MS-SYNC-HELLO", "op_count=%" PRIu64 " digest_equal=%d",
	     h->op_count, equal);
	if (equal) {
		/* the peer holds exactly what our HELLO's snapshot held */
		note_peer_holds(s, s->hello_vv, s->nhello_vv);
		s->can_send = 1;
		set_state(s, MS_SESSION_SYNC);
		if (s->state == MS_SESSION_CLOSED)
			return;
		catch_up(s);
		check_synced(s, now);
	} else {
		s->vv_mode = 1;
		if (send_vv(s) != 0) {
			local_error(s, "local error", "local-error", now);
			return;
		}
		set_state(s, MS_SESSION_SYNC);
		if (s->state == MS_SESSION_CLOSED)
			return;
	}
	free(s->hello_vv);
	s->hello_vv = NULL;
	s->nhello_vv = 0;
	(void)flush(s, now);
}

static void on_vv(ms_session *s, const ms_wire_vv *v, ms_time now)
{
	/* round 1 before we send anything; round 2 (§5.3 rule 4) once, only
	 * after a vector exchange */
	if (s->state != MS_SESSION_SYNC || !s->vv_mode || s->vv_rounds >= 2) {
		bad_message(s, "unexpected_vv", now);
		return;
	}
	if (s->tvv.n + v->n > SESSION_MAX_AUTHORS) {
		bad_message(s, "vv_too_long", now);
		return;
	}
	/* the decoder checked the order inside a chunk; across chunks too */
	if (v->n > 0 && s->tvv.n > 0 &&
	    memcmp(s->tvv.v[s->tvv.n - 1].author, v->entries[0].author,
	           MS_PK_LEN) >= 0) {
		bad_message(s, "bad_order", now);
		return;
	}
	for (uint16_t i = 0; i < v->n; i++) {
		ms_vv_entry e;

		memcpy(e.author, v->entries[i].author, MS_PK_LEN);
		e.seq = v->entries[i].seq;
		e.held = v->entries[i].held;
		memcpy(e.acc, v->entries[i].acc, MS_VV_ACC_LEN);
		if (vvec_add(&s->tvv, &e) != 0) {
			local_error(s, "out of memory", "local-error", now);
			return;
		}
	}
	if (!(v->flags & MS_WIRE_VV_LAST))
		return;
	/* the peer holds every author's contiguous prefix it announced */
	if (s->tvv.n > 0) {
		ms_peer_vv_entry *pe = malloc(s->tvv.n * sizeof *pe);
		size_t k = 0;
		if (pe != NULL) { /* else only peer_vv accuracy suffers */
			for (size_t i = 0; i < s->tvv.n; i++) {
				if (s->tvv.v[i].seq == 0)
					continue;
				memcpy(pe[k].author, s->tvv.v[i].author, MS_PK_LEN);
				pe[k].seq = s->tvv.v[i].seq;
				k++;
			}
			note_peer_holds(s, pe, k);
			free(pe);
		}
	}
	if (queue_lacking(s) != 0) {
		local_error(s, "local error", "local-error", now);
		return;
	}
	free(s->tvv.v);
	memset(&s->tvv, 0, sizeof s->tvv);
	s->vv_rounds++;
	s->can_send = 1;
	send_batches(s, now);
	check_synced(s, now);
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
		store_error(s, &eb);
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
	fork_ctx f = {.s = s, .sl = forked, .n = n};

	if (n == 0)
		return;
	qsort(forked, n, sizeof *forked, slot_cmp);
	if (ms_store_read_begin(s->env->store, &f.rt, &eb) != MS_OK) {
		store_error(s, &eb);
		return;
	}
	if (ms_store_foreach_fork(f.rt, fork_reply, &f, &eb) != MS_OK)
		store_error(s, &eb); /* the next vector round finds them */
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
		store_error(s, &eb);
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

static void on_ops(ms_session *s, const ms_wire_ops *o, ms_time now)
{
	ms_session_env *env = s->env;
	batch_bufs b = {0};
	size_t nauth = 0, nheld = 0, nforked = 0;
	ms_ingest_totals tot = {0};
	ms_errbuf eb = {0};
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	int nack;

	if (s->state == MS_SESSION_HELLO) {
		bad_message(s, "ops_before_hello", now);
		return;
	}
	if (o->batch != s->rx_batch + 1) {
		bad_message(s, "batch_order", now);
		return;
	}
	if (o->n > s->rx_allow) {
		bad_message(s, "credit_exceeded", now);
		return;
	}
	s->rx_batch = o->batch;
	s->rx_allow -= o->n;

	if (bufs_alloc(&b, o->n) != 0) {
		local_error(s, "out of memory", "local-error", now);
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
		 * the peer will offer it again after backing off */
		store_error(s, &eb);
		local_error(s, "store error", "store", now);
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
			if (r->reason < 16)
				s->sum.rejected_by_reason[r->reason]++;
			slog(s, MS_LOG_WARNING, "MS-SYNC-REJECT",
			     "reason=%s batch=%" PRIu32 " index=%u",
			     ms_op_reason_name((ms_op_reason)r->reason), o->batch,
			     (unsigned)i);
			continue;
		}
		/* the peer holds it: never send it back on this link */
		(void)ms_idset_add(&s->known, r->id);
		if (b.slots[i].seq != 0)
			b.held[nheld++] = b.slots[i];
		if (r->status == MS_INGEST_APPLIED && r->fork && b.slots[i].seq != 0)
			b.forked[nforked++] = b.slots[i];
	}
	note_sent_slots(s, b.held, nheld);
	answer_forks(s, b.forked, nforked);

	if ((nack = ack_entries(s, b.authors, nauth, b.acks)) < 0) {
		local_error(s, "store error", "store", now);
		goto out;
	}
	m.u.ack.batch = o->batch;
	m.u.ack.credit = env->p.credit;
	m.u.ack.n = (uint16_t)nack;
	m.u.ack.entries = b.acks;
	if (send_msg(s, &m) != 0) {
		local_error(s, "local error", "local-error", now);
		goto out;
	}
	/* ops the peer sent after this batch, before seeing the ACK, count
	 * against the new grant (§5.4) */
	s->rx_allow = env->p.credit;
	if (flush(s, now) == 0)
		send_batches(s, now); /* fork replies, if any */
out:
	bufs_free(&b);
}

static void on_ack(ms_session *s, const ms_wire_ack *a, ms_time now)
{
	uint64_t after = 0;

	if (s->nfl == 0 || a->batch != s->fl[0].batch) {
		bad_message(s, "unexpected_ack", now);
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
		if (pe == NULL) {
			local_error(s, "out of memory", "local-error", now);
			return;
		}
		for (uint16_t i = 0; i < a->n; i++) {
			memcpy(pe[i].author, a->entries[i].author, MS_PK_LEN);
			pe[i].seq = a->entries[i].seq;
		}
		note_peer_holds(s, pe, a->n);
		free(pe);
	}
	send_batches(s, now);
	check_synced(s, now);
}

static void on_bye(ms_session *s, const ms_wire_bye *b, ms_time now)
{
	char text[MS_WIRE_MAX_TEXT + 1], q[2 * sizeof text], end[64];
	const char *name = ms_wire_bye_reason_name(b->reason);
	/* refusals are worth a warning; a normal or shutdown BYE is not */
	int refused = b->reason == MS_BYE_VERSION || b->reason == MS_BYE_AUTH ||
	              b->reason == MS_BYE_PROTO || b->reason == MS_BYE_OVERLOAD;

	memcpy(text, b->text.ptr, b->text.len);
	text[b->text.len] = '\0';
	slog(s, refused ? MS_LOG_WARNING : MS_LOG_INFO, "MS-SYNC-BYE",
	     "reason=%s text=%s", name, ms_log_q(q, sizeof q, text));
	snprintf(end, sizeof end, "bye-%s", name);
	count(s, "bye_recv_", name, 1);
	/* whatever the reason, the peer is going away: an outbound dial waits
	 * out a backoff (reset by the good session, so it starts at base)
	 * instead of redialling a node that is stopping */
	end_session(s, end, NULL, -1, 1, now);
}

static void on_peers(ms_session *s, const ms_wire_peers *p)
{
	ms_session_event ev = {.kind = MS_SESSION_EV_PEERS};

	slog(s, MS_LOG_DEBUG, "MS-SYNC-PEERS", "n=%u", (unsigned)p->n);
	ev.u.peers = p;
	emit(s, &ev);
}

void ms_session_recv(ms_session *s, const uint8_t *buf, size_t len,
                     ms_time now)
{
	ms_wire_msg m;
	ms_wire_reason r;

	if (s->state == MS_SESSION_CLOSED)
		return;
	s->sum.bytes_in += len;
	r = ms_wire_decode(&m, s->env->scratch, buf, len);
	if (r != MS_WR_OK)
		count(s, "wire_reject_", ms_wire_reason_name(r), 1);
	if (r == MS_WR_VERSION) {
		slog(s, MS_LOG_WARNING, "MS-SYNC-BAD-MESSAGE", "reason=%s",
		     ms_wire_reason_name(r));
		close_with(s, MS_BYE_VERSION, "protocol version 1 only", "version",
		           ms_wire_reason_name(r), 1, now);
		return;
	}
	if (r != MS_WR_OK) {
		bad_message(s, ms_wire_reason_name(r), now);
		return;
	}
	if (m.type != MS_WIRE_HELLO && m.type != MS_WIRE_BYE && !s->got_hello) {
		bad_message(s, "before_hello", now);
		return;
	}
	switch (m.type) {
	case MS_WIRE_HELLO: on_hello(s, &m.u.hello, now); break;
	case MS_WIRE_VV: on_vv(s, &m.u.vv, now); break;
	case MS_WIRE_OPS: on_ops(s, &m.u.ops, now); break;
	case MS_WIRE_ACK: on_ack(s, &m.u.ack, now); break;
	case MS_WIRE_BYE: on_bye(s, &m.u.bye, now); break;
	case MS_WIRE_PEERS: on_peers(s, &m.u.peers); break;
	}
}

int ms_session_send_peers(ms_session *s, const ms_wire_peers *m)
{
	ms_wire_msg msg = {.type = MS_WIRE_PEERS};

	if (s->state == MS_SESSION_CLOSED || !s->identified)
		return -1;
	msg.u.peers = *m;
	return send_msg(s, &msg);
}
