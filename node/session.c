/*
 * session.c — one sync session as a state machine without I/O (see
 * session.h; the protocol is docs/protocol.md §4–§5): its life, output
 * queue and events, HELLO and identity, and the dispatch of received
 * messages.  The vector exchange is in session_vv.c, the ops in
 * session_ops.c (session_int.h).
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
#include "session_int.h"

/* ------------------------------------------------------------ environment */

void ms_session_params_default(ms_session_params *p)
{
	memset(p, 0, sizeof *p);
	p->batch_ops = MS_SESSION_DEFAULT_BATCH_OPS;
	p->credit = MS_SESSION_DEFAULT_CREDIT;
	p->max_message = MS_WIRE_MAX_MSG;
	p->max_value = MS_OP_DEFAULT_MAX_VALUE;
	p->vv_entries = MS_SESSION_VV_ENTRIES_DEFAULT;
	p->hello_timeout_ms = MS_SESSION_HELLO_TIMEOUT_DEFAULT_MS;
	p->vv_timeout_ms = MS_SESSION_VV_TIMEOUT_DEFAULT_MS;
	p->idle_timeout_ms = MS_SESSION_IDLE_TIMEOUT_DEFAULT_MS;
	p->memory = MS_SESSION_MEMORY_DEFAULT;
	p->memory_total = MS_SESSION_MEMORY_TOTAL_DEFAULT;
	p->lacking_window = MS_SESSION_LACKING_WINDOW;
}

static void params_set(ms_session_env *env, const ms_session_params *p)
{
	env->p = *p;
	if (env->p.vv_entries == 0)
		env->p.vv_entries = MS_SESSION_VV_ENTRIES_DEFAULT;
	if (env->p.hello_timeout_ms == 0)
		env->p.hello_timeout_ms = MS_SESSION_HELLO_TIMEOUT_DEFAULT_MS;
	if (env->p.vv_timeout_ms == 0)
		env->p.vv_timeout_ms = MS_SESSION_VV_TIMEOUT_DEFAULT_MS;
	if (env->p.idle_timeout_ms == 0)
		env->p.idle_timeout_ms = MS_SESSION_IDLE_TIMEOUT_DEFAULT_MS;
	if (env->p.memory == 0)
		env->p.memory = MS_SESSION_MEMORY_DEFAULT;
	if (env->p.memory_total == 0)
		env->p.memory_total = MS_SESSION_MEMORY_TOTAL_DEFAULT;
	if (env->p.lacking_window == 0)
		env->p.lacking_window = MS_SESSION_LACKING_WINDOW;
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
	free(env->pv); /* empty: every session was freed first */
	ms_idset_clear(&env->asked);
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

uint64_t ms_session_env_memory(const ms_session_env *env)
{
	return env->mem_total;
}

/* ------------------------------------------------------------- accessors */

ms_session_state ms_session_state_get(const ms_session *s)
{
	return s->state;
}

size_t ms_session_inflight(const ms_session *s)
{
	return s->nfl;
}

void *ms_session_user(const ms_session *s)
{
	return s->user;
}

const uint8_t *ms_session_peer_id(const ms_session *s)
{
	return s->identified ? s->peer_id : NULL;
}

int ss_ready(const ms_session *s)
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

/* The ratelog source of this session's lines: the peer's node id once
 * proven, else the id we dialled, else the dialer's transport key (an
 * outbound dial with no known id shares the all-zero source). */
static const uint8_t *rate_key(const ms_session *s)
{
	if (s->identified)
		return s->peer_id;
	if (s->has_hint)
		return s->hint_id;
	return s->peer_curve;
}

/* May a line at this level be logged about s?  Warnings and errors go
 * through the per-peer line budget (node/ratelog); a line allowed after
 * refused ones is preceded by MS-LOG-SUPPRESSED with their number. */
static int rate_ok(const ms_session *s, int level)
{
	char hex[2 * MS_PK_LEN + 1];

	if (level > MS_LOG_WARNING)
		return 1;
	peer_hex(s, hex);
	hex[16] = '\0'; /* the short id the session's lines name */
	return ms_ratelog_gate(&s->env->ratelog, s->env->log, s->env->counters,
	                       rate_key(s), hex, s->env->now.mono_ms);
}

/* An event about this session: "peer=… dir=…" then the rest. */
void ss_log(const ms_session *s, int level, const char *event, const char *fmt,
            ...)
{
	char hex[2 * MS_PK_LEN + 1], rest[1024];
	va_list ap;

	if (!ms_log_on(s->env->log, level) || !rate_ok(s, level))
		return;
	va_start(ap, fmt);
	vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	ms_logf(s->env->log, level, event, "peer=%s dir=%s%s%s",
	        peer_hex(s, hex), dir_name(s), rest[0] != '\0' ? " " : "",
	        rest);
}

void ss_store_error(const ms_session *s, const ms_errbuf *eb)
{
	ms_log_error(s->env->log, "MS-STORE-ERROR", eb);
}

void ss_count(ms_session *s, const char *prefix, const char *suffix, uint64_t n)
{
	ms_counters_add(s->env->counters, prefix, suffix, n);
}

void ss_limit_n(ms_session *s, const char *name, uint64_t n, const char *fmt,
                ...)
{
	char hex[2 * MS_PK_LEN + 1], rest[512];
	va_list ap;

	ss_count(s, "limit_", name, n);
	s->sum.limits_hit = (uint8_t)(n >= (uint64_t)(UINT8_MAX -
	                                              s->sum.limits_hit)
	                                      ? UINT8_MAX
	                                      : s->sum.limits_hit + n);
	if (!ms_log_on(s->env->log, MS_LOG_WARNING) ||
	    !rate_ok(s, MS_LOG_WARNING))
		return;
	va_start(ap, fmt);
	vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	/* a short id: the line names the peer, the summary has it in full */
	peer_hex(s, hex);
	hex[16] = '\0';
	ms_logf(s->env->log, MS_LOG_WARNING, "MS-LIMIT",
	        "limit=%s peer=%s dir=%s%s%s", name, hex, dir_name(s),
	        rest[0] != '\0' ? " " : "", rest);
}

/* ---------------------------------------------------------------- events */

static void emit(ms_session *s, const ms_session_event *ev)
{
	s->env->cbs.event(s->env->cbs.ctx, s, ev);
}

void ss_set_state(ms_session *s, ms_session_state st)
{
	ms_session_event ev = {.kind = MS_SESSION_EV_STATE};

	if (s->state == st || s->state == MS_SESSION_CLOSED)
		return;
	s->state = st;
	ev.u.state = st;
	emit(s, &ev);
}

/* ----------------------------------------------------------------- output */

static void mem_set(ms_session *s, uint64_t bytes)
{
	s->env->mem_total = s->env->mem_total - s->mem + bytes;
	s->mem = bytes;
}

static void release(ms_session *s)
{
	while (s->oq_head != NULL) {
		outmsg *m = s->oq_head;
		s->oq_head = m->next;
		free(m);
	}
	s->oq_tail = NULL;
	s->oq_bytes = 0;
	free(s->tvv.v);
	memset(&s->tvv, 0, sizeof s->tvv);
	free(s->hello_vv);
	s->hello_vv = NULL;
	s->nhello_vv = 0;
	ms_sendq_clear(&s->q);
	free(s->fl);
	s->fl = NULL;
	s->nfl = s->capfl = 0;
	free(s->sent);
	s->sent = NULL;
	s->nsent = s->capsent = 0;
	ss_idvec_free(&s->again);
	ms_idset_clear(&s->resent);
	s->env->tx_total -= s->fl_bytes;
	s->fl_bytes = 0;
	ms_idset_clear(&s->known);
	ss_env_unlink(s);
	ss_relay_release(s);
	mem_set(s, 0);
}

static void end_session(ms_session *s, const char *end, const char *detail,
                        int bye_sent, int failed, ms_time now);

/* Hand queued messages to the link until it is busy.  0, or -1 when the
 * link failed (the session is then closed). */
int ss_flush(ms_session *s, ms_time now)
{
	while (s->oq_head != NULL && s->state != MS_SESSION_CLOSED) {
		outmsg *m = s->oq_head;
		ms_errbuf eb = {0};
		ms_err e = s->env->cbs.send(s->env->cbs.ctx, s, m->buf, m->len,
		                            &eb);

		if (e == MS_EBUSY)
			return 0;
		if (e != MS_OK) {
			char q[MS_ERRBUF_SIZE + 8];
			ss_log(s, MS_LOG_DEBUG, "MS-SYNC-SEND-FAIL", "error=%s",
			       ms_log_q(q, sizeof q, eb.msg));
			end_session(s, "send-failed", NULL, -1, 1, now);
			return -1;
		}
		s->sum.bytes_out += m->len;
		if (m->grant != 0) {
			/* the peer may act on this ACK from now on; the first
			 * replaces the one-batch allowance */
			if (s->rx_acks_out == 0 || m->grant > s->rx_horizon)
				s->rx_horizon = m->grant;
			s->rx_acks_out++;
		}
		s->oq_bytes -= sizeof *m + m->len;
		s->oq_head = m->next;
		if (s->oq_head == NULL)
			s->oq_tail = NULL;
		free(m);
	}
	return s->state == MS_SESSION_CLOSED ? -1 : 0;
}

/* Encode m and queue it.  0 or -1 (out of memory, or a message we built
 * breaks a rule: a bug, logged, never a crash). */
static int queue_msg(ms_session *s, const ms_wire_msg *m, uint64_t grant)
{
	ms_errbuf eb = {0};
	size_t len;
	outmsg *o;

	if (ms_wire_encode(m, s->env->msgbuf, MS_WIRE_MAX_MSG, &len, &eb) !=
	    MS_OK) {
		char q[MS_ERRBUF_SIZE + 8];
		ss_log(s, MS_LOG_ERROR, "MS-SYNC-ENCODE", "type=%s error=%s",
		       ms_wire_type_name(m->type),
		       ms_log_q(q, sizeof q, eb.msg));
		return -1;
	}
	if ((o = malloc(sizeof *o + len)) == NULL) {
		ss_log(s, MS_LOG_ERROR, "MS-SYNC-NOMEM", "bytes=%zu", len);
		return -1;
	}
	o->next = NULL;
	o->grant = grant;
	o->len = len;
	memcpy(o->buf, s->env->msgbuf, len);
	s->oq_bytes += sizeof *o + len;
	if (s->oq_tail != NULL)
		s->oq_tail->next = o;
	else
		s->oq_head = o;
	s->oq_tail = o;
	return 0;
}

int ss_send_msg(ms_session *s, const ms_wire_msg *m)
{
	return queue_msg(s, m, 0);
}

int ss_send_ack(ms_session *s, const ms_wire_msg *m, uint64_t grant)
{
	return queue_msg(s, m, grant);
}

/* ---------------------------------------------------------------- closing */

_Static_assert(MS_OPR_COUNT_ <=
                       sizeof((ms_session_summary *)0)->rejected_by_reason /
                               sizeof(uint64_t),
               "every op rejection reason has a summary counter");

static void log_summary(const ms_session *s, ms_time now)
{
	char reasons[512];
	size_t off = 0;
	const ms_session_summary *m = &s->sum;

	reasons[0] = '\0';
	for (int r = 0; r < MS_OPR_COUNT_; r++) {
		int n;
		if (m->rejected_by_reason[r] == 0)
			continue;
		n = snprintf(reasons + off, sizeof reasons - off,
		             "%s%s:%" PRIu64, off ? "," : "",
		             ms_op_reason_name((ms_op_reason)r),
		             m->rejected_by_reason[r]);
		if (n < 0 || (size_t)n >= sizeof reasons - off)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(reasons, sizeof reasons, "-");
	ss_log(s, MS_LOG_INFO, "MS-SYNC-SUMMARY",
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
		ss_count(s, "bye_sent_",
		         ms_wire_bye_reason_name((uint8_t)bye_reason), 1);
		if (ss_send_msg(s, &m) == 0 && ss_flush(s, now) != 0)
			return; /* the flush found the link gone and ended it */
	}
	end_session(s, end, detail, bye_reason, failed, now);
}

void ms_session_close(ms_session *s, int bye_reason, const char *text,
                      const char *end, int failed, ms_time now)
{
	s->env->now = now;
	close_with(s, bye_reason, text, end, NULL, failed, now);
}

void ms_session_lost(ms_session *s, const char *reason, ms_time now)
{
	s->env->now = now;
	end_session(s, reason, NULL, -1, 1, now);
}

void ss_budget_close(ms_session *s, const char *name, int bye, ms_time now)
{
	close_with(s, bye, name, bye == MS_BYE_TIMEOUT ? "timeout" : "budget",
	           name, 1, now);
}

void ss_limit_close(ms_session *s, const char *name, int bye, ms_time now)
{
	ss_limit_n(s, name, 1, "%s", "");
	ss_budget_close(s, name, bye, now);
}

void ms_session_refuse(ms_session *s, const char *budget, ms_time now)
{
	if (s->state == MS_SESSION_CLOSED)
		return;
	s->env->now = now;
	ss_limit_close(s, budget, MS_BYE_BUDGET, now);
}

uint64_t ss_mem_now(const ms_session *s)
{
	uint64_t n = sizeof *s;

	n += (uint64_t)s->tvv.cap * sizeof *s->tvv.v;
	n += (uint64_t)s->nhello_vv * sizeof *s->hello_vv;
	n += (uint64_t)s->q.cap * sizeof *s->q.v;
	n += (uint64_t)s->known.cap * MS_HASH_LEN;
	n += (uint64_t)s->capfl * sizeof *s->fl;
	n += (uint64_t)s->capsent * sizeof *s->sent;
	n += (uint64_t)s->again.cap * sizeof *s->again.v;
	n += (uint64_t)s->resent.cap * MS_HASH_LEN;
	n += ss_relay_mem(s);
	return n + s->oq_bytes;
}

int ss_mem_check(ms_session *s, ms_time now)
{
	const ms_session_params *p = &s->env->p;
	uint64_t m;

	if (s->state == MS_SESSION_CLOSED)
		return -1;
	m = ss_mem_now(s);
	mem_set(s, m);
	if (m > p->memory) {
		ss_limit_n(s, "session_memory", 1,
		           "bytes=%" PRIu64 " budget=%" PRIu64, m, p->memory);
		ss_budget_close(s, "session_memory", MS_BYE_BUDGET, now);
		return -1;
	}
	if (s->env->mem_total > p->memory_total) {
		ss_limit_n(s, "sessions_memory_total", 1,
		           "bytes=%" PRIu64 " total=%" PRIu64
		           " budget=%" PRIu64,
		           m, s->env->mem_total, p->memory_total);
		ss_budget_close(s, "sessions_memory_total", MS_BYE_BUDGET, now);
		return -1;
	}
	return 0;
}

/* Elapsed from `from` to now, 0 if the clock stood still or went back. */
static uint64_t since(uint64_t from, ms_time now)
{
	return now.mono_ms > from ? now.mono_ms - from : 0;
}

int ss_timeouts(ms_session *s, ms_time now)
{
	const ms_session_params *p = &s->env->p;
	const char *which = NULL;

	if (s->state == MS_SESSION_HELLO) {
		if (since(s->start_mono, now) >= p->hello_timeout_ms)
			which = "hello_timeout";
	} else if (s->state == MS_SESSION_SYNC && s->vv_mode &&
	           s->vv_rounds == 0 &&
	           since(s->vv_start, now) >= p->vv_timeout_ms) {
		which = "vv_timeout";
	} else if (((s->state == MS_SESSION_SYNC || s->nfl > 0 ||
	             s->have_unanswered > 0) &&
	            since(s->idle_from, now) >= p->idle_timeout_ms) ||
	           (s->wants.n > 0 &&
	            since(s->wants.v[0].at, now) >= p->idle_timeout_ms)) {
		/* The peer owes us a message: its part of the initial sync,
		 * the ACK of a batch in flight or the WANT answering a HAVE
		 * (a live session with nothing in flight owes nothing and is
		 * never idle here); or it announced an op and has not sent
		 * it since we asked, whatever else it sends. */
		which = "idle_timeout";
	}
	if (which == NULL)
		return 0;
#ifdef MS_SESSION_PLANTED_BUG
	/* A bug planted on purpose, compiled only into the simulator's test
	 * (tests/meshsim/virtual.cmake), to show `meshsim --virtual` finds
	 * one: a live session whose ACK never came takes its batches as
	 * delivered instead of ending, so ops of a dropped OPS message are
	 * never sent again on this link. */
	if (s->state == MS_SESSION_LIVE && s->nfl > 0) {
		for (size_t i = 0; i < s->nfl; i++)
			s->credit += s->fl[i].n;
		s->tx_batch = s->fl[0].batch - 1;
		s->env->tx_total -= s->fl_bytes;
		s->fl_bytes = 0;
		s->nfl = 0;
		s->nsent = 0;
		return 0;
	}
#endif
	ss_limit_close(s, which, MS_BYE_TIMEOUT, now);
	return -1;
}

/* We cannot go on (out of memory, a store failure): BYE(overload). */
void ss_local_error(ms_session *s, const char *text, const char *end,
                    ms_time now)
{
	close_with(s, MS_BYE_OVERLOAD, text, end, NULL, 1, now);
}

/* Refuse the peer: count, log, BYE, end (a failure for backoff). */
static void refuse(ms_session *s, int bye, const char *event, const char *why,
                   const char *end, ms_time now)
{
	ss_log(s, MS_LOG_WARNING, event, "reason=%s", why);
	ss_count(s, "session_refused_", why, 1);
	close_with(s, bye, why, end, why, 1, now);
}

void ss_bad_message(ms_session *s, const char *why, ms_time now)
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
	s->rx_horizon = MS_WIRE_MAX_OPS; /* one batch before our first ACK */
	s->start_mono = now.mono_ms;
	s->idle_from = now.mono_ms;
	env->now = now;
	s->sum.start_ms = now.wall_ms;
	s->sum.outbound = (uint8_t)s->outbound;
	ss_count(s, s->outbound ? "sessions_out" : "sessions_in", NULL, 1);
	ss_env_link(s);
	mem_set(s, ss_mem_now(s));
	*out = s;
	return MS_OK;
}

static void pv_flush_session(ms_session *s);

void ms_session_free(ms_session **sp)
{
	ms_session *s = sp != NULL ? *sp : NULL;

	if (s == NULL)
		return;
	release(s);
	pv_flush_session(s); /* its raises wait in the env: written now */
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

/* Raise what the peer is known to hold (peer_vv) now; a failure only
 * leaves the sync queue lagging, so it is logged and the session goes on. */
static void peer_holds_write(ms_session *s, const ms_peer_vv_entry *e, size_t n)
{
	ms_errbuf eb = {0};
	size_t unknown = 0;

	if (ms_store_peer_vv_update_held(s->env->store, s->peer_id, e, n,
	                                 &unknown, &eb) != MS_OK)
		ss_store_error(s, &eb);
	if (unknown > 0)
		ss_limit_n(s, "peer_vv_unknown", unknown,
		           "entries=%zu unknown=%zu", n, unknown);
}

/* Keep e in the env for the owner's flush, one entry per (session,
 * author).  0, or -1 when the buffer is full or out of memory: then the
 * caller writes at once. */
static int peer_holds_defer(ms_session *s, const ms_peer_vv_entry *e, size_t n)
{
	ms_session_env *env = s->env;

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < env->npv && (env->pv[k].s != s ||
		                        memcmp(env->pv[k].e.author, e[i].author,
		                               MS_PK_LEN) != 0))
			k++;
		if (k < env->npv) {
			if (e[i].seq > env->pv[k].e.seq)
				env->pv[k].e.seq = e[i].seq;
			continue;
		}
		if (env->npv == env->pvcap) {
			size_t cap = env->pvcap ? 2 * env->pvcap : 16;
			pv_pend *v;
			if (cap > SESSION_PV_PEND_MAX)
				return -1;
			if ((v = realloc(env->pv, cap * sizeof *v)) == NULL)
				return -1;
			env->pv = v;
			env->pvcap = cap;
		}
		env->pv[env->npv].s = s;
		env->pv[env->npv].e = e[i];
		env->npv++;
	}
	return 0;
}

void ss_note_peer_holds(ms_session *s, const ms_peer_vv_entry *e, size_t n)
{
	if (n == 0 || !s->identified || s->self)
		return;
	if (s->env->defer_peer_vv && peer_holds_defer(s, e, n) == 0)
		return;
	/* full: what waits goes first, then these */
	ms_session_env_flush_peer_vv(s->env);
	peer_holds_write(s, e, n);
}

uint64_t ss_peer_holds_get(const ms_session *s, ms_store_rtxn *rt,
                           const uint8_t author[MS_PK_LEN])
{
	const ms_session_env *env = s->env;
	uint64_t seq = ms_store_peer_vv_get(rt, s->peer_id, author);

	for (size_t k = 0; k < env->npv; k++)
		if (env->pv[k].e.seq > seq &&
		    memcmp(env->pv[k].e.author, author, MS_PK_LEN) == 0 &&
		    memcmp(env->pv[k].s->peer_id, s->peer_id, MS_PK_LEN) == 0)
			seq = env->pv[k].e.seq;
	return seq;
}

/* Write the raises of s that wait in the env (a commit per 64 authors:
 * one on a live link) and drop them from it. */
static void pv_flush_session(ms_session *s)
{
	ms_session_env *env = s->env;
	ms_peer_vv_entry batch[64];
	size_t k = 0, nb = 0;

	while (k < env->npv) {
		if (env->pv[k].s != s) {
			k++;
			continue;
		}
		batch[nb++] = env->pv[k].e;
		env->pv[k] = env->pv[--env->npv];
		if (nb == sizeof batch / sizeof batch[0]) {
			peer_holds_write(s, batch, nb);
			nb = 0;
		}
	}
	if (nb > 0)
		peer_holds_write(s, batch, nb);
}

void ms_session_env_flush_peer_vv(ms_session_env *env)
{
	while (env->npv > 0)
		pv_flush_session(env->pv[0].s);
}

void ms_session_env_defer_peer_vv(ms_session_env *env, int on)
{
	env->defer_peer_vv = on;
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
		ss_store_error(s, &eb);
		ms_store_read_end(&rt);
		return -1;
	}
	s->hello_arrival = ms_store_arrival_head(rt);
	if (ms_store_foreach_vv_entry(rt, snap_entry, &snap, &eb) != MS_OK) {
		ss_store_error(s, &eb);
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
	return ss_send_msg(s, &m);
}

void ms_session_start(ms_session *s, ms_time now)
{
	if (s->state != MS_SESSION_HELLO || !s->outbound)
		return;
	s->env->now = now;
	if (send_hello(s) != 0) {
		end_session(s, "local-error", NULL, -1, 1, now);
		return;
	}
	(void)ss_flush(s, now);
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
			ss_bad_message(s, "hello_flags", now);
			return -1;
		}
		if (!ms_wire_hello_proof_verify(h->node_id, env->curve_pk,
		                                h->proof)) {
			refuse(s, MS_BYE_AUTH, "MS-SYNC-AUTH", "bad_proof",
			       "auth", now);
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
			ss_bad_message(s, "hello_flags", now);
			return -1;
		}
		if (ms_ed25519_pk_to_curve(curve, h->node_id, NULL) != MS_OK ||
		    sodium_memcmp(curve, s->peer_curve, MS_CURVE_LEN) != 0) {
			refuse(s, MS_BYE_AUTH, "MS-SYNC-AUTH", "id_mismatch",
			       "auth", now);
			return -1;
		}
	}
	if (send_hello(s) != 0) {
		ss_local_error(s, "local error", "local-error", now);
		return -1;
	}
	if (ours) {
		/* our own dial: our HELLO tells the dialer; no session */
		s->self = 1;
		(void)ss_flush(s, now);
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
		ss_bad_message(s, "second_hello", now);
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
	ss_log(s, MS_LOG_DEBUG, "MS-SYNC-HELLO",
	       "op_count=%" PRIu64 " digest_equal=%d", h->op_count, equal);
	s->vv_start = now.mono_ms;
	if (equal) {
		/* the peer holds exactly what our HELLO's snapshot held */
		ss_note_peer_holds(s, s->hello_vv, s->nhello_vv);
		s->can_send = 1;
		ss_set_state(s, MS_SESSION_SYNC);
		if (s->state == MS_SESSION_CLOSED)
			return;
		ss_catch_up(s);
		ss_check_synced(s, now);
	} else {
		s->vv_mode = 1;
		if (ss_send_vv(s) != 0) {
			ss_local_error(s, "local error", "local-error", now);
			return;
		}
		ss_set_state(s, MS_SESSION_SYNC);
		if (s->state == MS_SESSION_CLOSED)
			return;
	}
	free(s->hello_vv);
	s->hello_vv = NULL;
	s->nhello_vv = 0;
	(void)ss_flush(s, now);
}

static void on_bye(ms_session *s, const ms_wire_bye *b, ms_time now)
{
	char text[MS_WIRE_MAX_TEXT + 1], q[2 * sizeof text], end[64];
	const char *name = ms_wire_bye_reason_name(b->reason);
	/* refusals are worth a warning; a normal or shutdown BYE is not */
	int refused = b->reason == MS_BYE_VERSION || b->reason == MS_BYE_AUTH ||
	              b->reason == MS_BYE_PROTO ||
	              b->reason == MS_BYE_OVERLOAD ||
	              b->reason == MS_BYE_BUDGET || b->reason == MS_BYE_TIMEOUT;

	memcpy(text, b->text.ptr, b->text.len);
	text[b->text.len] = '\0';
	ss_log(s, refused ? MS_LOG_WARNING : MS_LOG_INFO, "MS-SYNC-BYE",
	       "reason=%s text=%s", name, ms_log_q(q, sizeof q, text));
	snprintf(end, sizeof end, "bye-%s", name);
	ss_count(s, "bye_recv_", name, 1);
	/* whatever the reason, the peer is going away: an outbound dial waits
	 * out a backoff (reset by the good session, so it starts at base)
	 * instead of redialling a node that is stopping.  Not after
	 * BYE(duplicate): the pair stays linked by its other session, and
	 * the dial that follows when that one ends must not wait. */
	end_session(s, end, NULL, -1, b->reason != MS_BYE_DUPLICATE, now);
}

static void on_peers(ms_session *s, const ms_wire_peers *p)
{
	ms_session_event ev = {.kind = MS_SESSION_EV_PEERS};

	ss_log(s, MS_LOG_DEBUG, "MS-SYNC-PEERS", "n=%u", (unsigned)p->n);
	ev.u.peers = p;
	emit(s, &ev);
}

void ms_session_recv(ms_session *s, const uint8_t *buf, size_t len, ms_time now)
{
	ms_wire_msg m;
	ms_wire_reason r;

	if (s->state == MS_SESSION_CLOSED)
		return;
	s->env->now = now;
	s->idle_from = now.mono_ms;
	s->sum.bytes_in += len;
	r = ms_wire_decode(&m, s->env->scratch, buf, len);
	if (r != MS_WR_OK)
		ss_count(s, "wire_reject_", ms_wire_reason_name(r), 1);
	if (r == MS_WR_VERSION) {
		ss_log(s, MS_LOG_WARNING, "MS-SYNC-BAD-MESSAGE", "reason=%s",
		       ms_wire_reason_name(r));
		close_with(s, MS_BYE_VERSION, "protocol version 3 only",
		           "version", ms_wire_reason_name(r), 1, now);
		return;
	}
	if (r != MS_WR_OK) {
		ss_bad_message(s, ms_wire_reason_name(r), now);
		return;
	}
	if (m.type != MS_WIRE_HELLO && m.type != MS_WIRE_BYE && !s->got_hello) {
		ss_bad_message(s, "before_hello", now);
		return;
	}
	switch (m.type) {
	case MS_WIRE_HELLO:
		on_hello(s, &m.u.hello, now);
		break;
	case MS_WIRE_VV:
		ss_on_vv(s, &m.u.vv, now);
		break;
	case MS_WIRE_OPS:
		ss_on_ops(s, &m.u.ops, now);
		break;
	case MS_WIRE_ACK:
		ss_on_ack(s, &m.u.ack, now);
		break;
	case MS_WIRE_BYE:
		on_bye(s, &m.u.bye, now);
		break;
	case MS_WIRE_PEERS:
		on_peers(s, &m.u.peers);
		break;
	case MS_WIRE_HAVE:
		ss_on_have(s, &m.u.have, now);
		break;
	case MS_WIRE_WANT:
		ss_on_want(s, &m.u.want, now);
		break;
	}
	(void)ss_mem_check(s, now);
}

int ms_session_send_peers(ms_session *s, const ms_wire_peers *m)
{
	ms_wire_msg msg = {.type = MS_WIRE_PEERS};

	if (s->state == MS_SESSION_CLOSED || !s->identified)
		return -1;
	msg.u.peers = *m;
	return ss_send_msg(s, &msg);
}
