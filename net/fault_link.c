/*
 * fault_link.c — the fault layer's transport glue: it wraps a transport's
 * send/receive table (ms_link_ops) and applies each message's verdict from
 * the core (net/fault.c): drop, duplicate, flip bytes, hold behind the next
 * message, or queue until a delay is over (released by ms_fault_tick).
 */
#include <stdlib.h>
#include <string.h>

#include "fault_int.h"
#include "ms_err_int.h"

#define BUSY_RETRY_MS 10 /* a send the transport refused, tried again */

/* The node id on c: the owner's answer, else (inbound) a listed id whose
 * CURVE key is the dialer's. */
static const uint8_t *peer_of(const ms_fault *f, const ms_conn *c,
                              const uint8_t *curve)
{
	const uint8_t *id = f->cbs.peer_id != NULL
	                            ? f->cbs.peer_id(f->cbs.ctx, c)
	                            : NULL;

	for (size_t i = 0; id == NULL && curve != NULL && i < f->nkeys; i++)
		if (memcmp(f->keys[i].curve, curve, MS_CURVE_LEN) == 0)
			id = f->keys[i].id;
	return id;
}

/* Hand one message to the transport (send) or the owner (recv). */
static ms_err pass(ms_fault *f, int recv, const ms_conn *c,
                   const uint8_t *curve, const void *buf, size_t len, int flags,
                   ms_errbuf *eb)
{
	if (recv) {
		f->kept.recv(f->kept.recv_ctx, c, curve, buf, len);
		return MS_OK;
	}
	return f->kept.send(f->kept.send_ctx, c, buf, len, flags, eb);
}

/* Latest due of what is queued (not held) on c in this direction, 0 when
 * nothing: a later message never overtakes it. */
static uint64_t queued_until(const ms_fault *f, int recv, const ms_conn *c)
{
	uint64_t due = 0;

	for (size_t i = 0; i < f->nq; i++)
		if (!f->q[i].held && f->q[i].recv == recv &&
		    ms_conn_equal(&f->q[i].conn, c) && f->q[i].due > due)
			due = f->q[i].due;
	return due;
}

/* Queue a copy of the message; 0, or -1 when over the queue's budget or
 * out of memory (the message is then lost, and counted). */
static int enqueue(ms_fault *f, int recv, const ms_conn *c,
                   const uint8_t *curve, const uint8_t *buf, size_t len,
                   int flags, uint64_t due, int held)
{
	ms_fault_msg *m;

	if (f->nq >= MS_FAULT_QUEUE_MAX ||
	    len > MS_FAULT_QUEUE_BYTES - f->qbytes)
		goto full;
	if (f->nq == f->capq) {
		size_t cap = f->capq ? 2 * f->capq : 16;
		ms_fault_msg *nq = realloc(f->q, cap * sizeof *nq);
		if (nq == NULL)
			goto full;
		f->q = nq;
		f->capq = cap;
	}
	m = &f->q[f->nq];
	memset(m, 0, sizeof *m);
	if (len > 0 && (m->buf = malloc(len)) == NULL)
		goto full;
	if (len > 0)
		memcpy(m->buf, buf, len);
	m->len = len;
	m->due = due;
	m->order = ++f->order;
	m->recv = recv;
	m->held = held;
	m->flags = flags;
	m->conn = *c;
	if (curve != NULL) {
		m->has_curve = 1;
		memcpy(m->curve, curve, MS_CURVE_LEN);
	}
	f->nq++;
	f->qbytes += len;
	return 0;
full:
	f->st.queue_full++;
	return -1;
}

/*
 * The next message on c in this direction has just left (due 0: passed
 * on now) or been queued until due: messages held for reorder on c go
 * right behind it.  With due 0 they are passed on here, after it.
 */
static void release_held(ms_fault *f, int recv, const ms_conn *c, uint64_t due)
{
	for (size_t i = 0; i < f->nq;) {
		ms_fault_msg *m = &f->q[i];
		ms_fault_msg out;
		if (!m->held || m->recv != recv ||
		    !ms_conn_equal(&m->conn, c)) {
			i++;
			continue;
		}
		if (due != 0) {
			m->held = 0;
			m->due = due;
			m->order = ++f->order;
			i++;
			continue;
		}
		/* out of the queue before it is passed on: the owner may
		 * send (and so queue) from inside its recv callback */
		out = *m;
		f->qbytes -= m->len;
		f->q[i] = f->q[--f->nq];
		(void)pass(f, recv, &out.conn, out.has_curve ? out.curve : NULL,
		           out.buf, out.len, out.flags, NULL);
		free(out.buf);
	}
}

/* One message through the verdict.  A send reports what the transport
 * said for a message passed on now, MS_OK for one dropped or queued. */
static ms_err judge(ms_fault *f, int recv, const ms_conn *c,
                    const uint8_t *curve, const void *buf, size_t len,
                    int flags, ms_errbuf *eb)
{
	uint64_t now = f->cbs.now_ms(f->cbs.ctx), due, after;
	ms_fault_verdict v;
	const uint8_t *out = buf;
	uint8_t *copy = NULL;
	ms_err e = MS_OK;

	ms_fault_decide(f, peer_of(f, c, curve), now, len, &v);
	if (v.drop)
		return MS_OK; /* lost on the way */
	if (v.ncorrupt > 0) {
		if ((copy = malloc(len)) == NULL) {
			f->st.queue_full++;
			return MS_OK;
		}
		memcpy(copy, buf, len);
		for (int i = 0; i < v.ncorrupt; i++)
			copy[v.corrupt_at[i]] ^= v.corrupt_xor[i];
		out = copy;
	}
	due = now + v.delay_ms;
	if (v.hold) {
		/* behind the next message, or alone after MS_FAULT_HOLD_MS */
		for (int k = 0; k < v.copies; k++)
			(void)enqueue(f, recv, c, curve, out, len, flags,
			              due + MS_FAULT_HOLD_MS, 1);
		free(copy);
		return MS_OK;
	}
	/* in order behind what this connection has queued already */
	if ((after = queued_until(f, recv, c)) > due)
		due = after;
	if (due > now || after != 0) {
		for (int k = 0; k < v.copies; k++)
			(void)enqueue(f, recv, c, curve, out, len, flags, due,
			              0);
		release_held(f, recv, c, due);
	} else {
		for (int k = 0; k < v.copies; k++) {
			ms_err r = pass(f, recv, c, curve, out, len, flags, eb);
			if (k == 0)
				e = r;
		}
		release_held(f, recv, c, 0);
	}
	free(copy);
	return e;
}

static ms_err fault_send(void *ctx, const ms_conn *c, const void *buf,
                         size_t len, int flags, ms_errbuf *eb)
{
	return judge(ctx, 0, c, NULL, buf, len, flags, eb);
}

static void fault_recv(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
                       const void *buf, size_t len)
{
	(void)judge(ctx, 1, c, peer_curve, buf, len, 0, NULL);
}

/* The CURVE keys of the ids the schedules name (once each). */
static ms_err keys_build(ms_fault *f, ms_errbuf *eb)
{
	size_t n = 0;

	for (uint32_t i = 0; i < f->c.nsched; i++)
		n += f->c.sched[i].nids;
	if (n == 0)
		return MS_OK;
	if ((f->keys = calloc(n, sizeof *f->keys)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "faults: out of memory");
	for (uint32_t i = 0; i < f->c.nsched; i++) {
		const ms_fault_sched *s = &f->c.sched[i];
		for (uint32_t k = 0; k < s->nids && k < MS_FAULT_MAX_IDS; k++) {
			ms_fault_key *fk = &f->keys[f->nkeys];
			int dup = 0;
			for (size_t j = 0; j < f->nkeys; j++)
				dup |= memcmp(f->keys[j].id, s->ids[k],
				              MS_PK_LEN) == 0;
			/* an id that is no point on the curve names nobody
			 * who could dial us; it still applies to outbound
			 * links through peer_id */
			if (dup || ms_ed25519_pk_to_curve(fk->curve, s->ids[k],
			                                  NULL) != MS_OK)
				continue;
			memcpy(fk->id, s->ids[k], MS_PK_LEN);
			f->nkeys++;
		}
	}
	return MS_OK;
}

ms_err ms_fault_attach(ms_fault *f, ms_transport *t,
                       const ms_fault_link_cbs *cbs, ms_errbuf *eb)
{
	ms_link_ops ops;
	ms_err e;

	if (f->t != NULL || t == NULL || cbs == NULL || cbs->now_ms == NULL)
		return ms_errf(eb, MS_EINVAL,
		               "faults: attach: already attached or no clock");
	if ((e = keys_build(f, eb)) != MS_OK)
		return e;
	f->cbs = *cbs;
	ms_transport_ops_get(t, &f->kept);
	ops.send = fault_send;
	ops.send_ctx = f;
	ops.recv = fault_recv;
	ops.recv_ctx = f;
	ms_transport_ops_set(t, &ops);
	f->t = t;
	return MS_OK;
}

void ms_fault_detach(ms_fault *f)
{
	if (f == NULL || f->t == NULL)
		return;
	ms_transport_ops_set(f->t, &f->kept);
	f->t = NULL;
	for (size_t i = 0; i < f->nq; i++)
		free(f->q[i].buf);
	f->nq = 0;
	f->qbytes = 0;
	free(f->keys);
	f->keys = NULL;
	f->nkeys = 0;
}

static int by_due(const void *a, const void *b)
{
	const ms_fault_msg *x = a, *y = b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* 1 when c is among the first n connections in list (sends refused). */
static int conn_in(const ms_conn *list, size_t n, const ms_conn *c)
{
	for (size_t i = 0; i < n; i++)
		if (ms_conn_equal(&list[i], c))
			return 1;
	return 0;
}

int ms_fault_tick(ms_fault *f, uint64_t now_wall_ms)
{
	ms_fault_msg *due = NULL;
	ms_conn *busy = NULL;
	size_t ndue = 0, nbusy = 0, k = 0;
	uint64_t retry = now_wall_ms > UINT64_MAX - BUSY_RETRY_MS
	                         ? UINT64_MAX
	                         : now_wall_ms + BUSY_RETRY_MS;
	int done = 0;

	if (f->t == NULL || f->nq == 0)
		return 0;
	for (size_t i = 0; i < f->nq; i++)
		ndue += f->q[i].due <= now_wall_ms;
	if (ndue == 0)
		return 0;
	due = malloc(ndue * sizeof *due);
	busy = malloc(ndue * sizeof *busy);
	if (due == NULL || busy == NULL) {
		free(due);
		free(busy);
		return 0; /* tried again at the next turn */
	}
	/* out of the queue first: passing a message on may queue others */
	for (size_t i = 0; i < f->nq;) {
		if (f->q[i].due <= now_wall_ms) {
			due[k++] = f->q[i];
			f->qbytes -= f->q[i].len;
			f->q[i] = f->q[--f->nq];
		} else {
			i++;
		}
	}
	qsort(due, ndue, sizeof *due, by_due);
	for (size_t i = 0; i < ndue; i++) {
		ms_fault_msg *m = &due[i];
		ms_err e = MS_OK;
		if (!m->recv && conn_in(busy, nbusy, &m->conn))
			e = MS_EBUSY; /* keeps its place behind the refused */
		else
			e = pass(f, m->recv, &m->conn,
			         m->has_curve ? m->curve : NULL, m->buf, m->len,
			         m->flags, NULL);
		if (e == MS_EBUSY) {
			if (!conn_in(busy, nbusy, &m->conn))
				busy[nbusy++] = m->conn;
			if (enqueue(f, 0, &m->conn, NULL, m->buf, m->len,
			            m->flags, retry, 0) == 0)
				/* ahead of what came after it */
				f->q[f->nq - 1].order = m->order;
		} else {
			done++;
		}
		free(m->buf);
	}
	free(busy);
	free(due);
	return done;
}

uint64_t ms_fault_next_due(const ms_fault *f)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < f->nq; i++)
		if (f->q[i].due < next)
			next = f->q[i].due;
	return next;
}
