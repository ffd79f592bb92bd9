/*
 * session_relay.c — relayed ops announced before they are sent
 * (docs/protocol.md §5.6): a live session announces an op of another
 * author in HAVE instead of pushing it; the peer answers every HAVE with
 * one WANT naming the ids it asks this link for, and those go out as
 * ops.  A node asks one link for an op at a time (the environment's
 * `asked` set); the other links that announced it are remembered and
 * asked when that one ends before delivering.
 *
 * Why: pushing every new op to every neighbour at once makes a node of a
 * mesh of degree d receive each op up to d times.  Announcing costs a
 * round trip per hop and 32 bytes per id; each op body then crosses
 * about one link per node that lacked it.  Every HAVE is answered by one
 * WANT (flag REPLY, maybe empty), so a lost HAVE or WANT shows as a peer
 * that owes a message, and idle_timeout ends the session as it does for
 * a lost OPS or ACK.  Our own writes are still pushed at once (no
 * neighbour can have them yet), and so is what a node with two links or
 * fewer relays.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

int ss_idvec_push(ss_idvec *v, const uint8_t id[MS_HASH_LEN], uint64_t at,
                  size_t max)
{
	if (v->n >= max)
		return -1;
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		ss_idref *nv = realloc(v->v, ncap * sizeof *nv);
		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = ncap;
	}
	memcpy(v->v[v->n].id, id, MS_HASH_LEN);
	v->v[v->n].at = at;
	v->n++;
	return 0;
}

void ss_idvec_free(ss_idvec *v)
{
	free(v->v);
	memset(v, 0, sizeof *v);
}

/* Every session of the environment that has not ended. */
void ss_env_link(ms_session *s)
{
	ms_session_env *env = s->env;

	s->env_next = env->sessions;
	s->env_prev = NULL;
	if (env->sessions != NULL)
		env->sessions->env_prev = s;
	env->sessions = s;
}

void ss_env_unlink(ms_session *s)
{
	ms_session_env *env = s->env;

	if (s->env_prev != NULL)
		s->env_prev->env_next = s->env_next;
	else if (env->sessions == s)
		env->sessions = s->env_next;
	if (s->env_next != NULL)
		s->env_next->env_prev = s->env_prev;
	s->env_next = s->env_prev = NULL;
}

/* The asked set again from the sessions' outstanding asks: after a
 * session ended with asks undelivered (so the links that deferred them
 * ask next), or when the set grew past its bound with ids since held. */
static void asked_rebuild(ms_session_env *env)
{
	ms_idset_clear(&env->asked);
	for (ms_session *o = env->sessions; o != NULL; o = o->env_next)
		for (size_t i = 0; i < o->wants.n; i++)
			(void)ms_idset_add(&env->asked, o->wants.v[i].id);
}

void ss_relay_release(ms_session *s)
{
	int undelivered = s->wants.n > 0;

	s->env->wants_total -= s->wants.n;
	ss_idvec_free(&s->have_out);
	ss_idvec_free(&s->wants);
	ss_idvec_free(&s->deferred);
	s->have_unanswered = 0;
	if (undelivered)
		asked_rebuild(s->env);
}

uint64_t ss_relay_mem(const ms_session *s)
{
	return (uint64_t)(s->have_out.cap + s->wants.cap + s->deferred.cap) *
	       sizeof(ss_idref);
}

int ss_relay_fanout(const ms_session_env *env)
{
	int n = 0;

	for (const ms_session *o = env->sessions; o != NULL; o = o->env_next)
		n += ss_ready(o);
	return n;
}

int ss_relay_lazy(const ms_session *s, const ms_log_entry *e, int fanout)
{
	/* our own writes: no neighbour can have them yet.  With two links
	 * or fewer, a relayed op came in on one and goes out on at most
	 * one: nothing to choose between, so no round trip (a line relays
	 * as fast as before) */
	return fanout >= 3 &&
	       memcmp(e->op.author, s->env->node_id, MS_PK_LEN) != 0;
}

int ss_relay_announce(ms_session *s, const uint8_t id[MS_HASH_LEN])
{
	return ss_idvec_push(&s->have_out, id, 0, SIZE_MAX);
}

void ss_relay_flush_have(ms_session *s)
{
	size_t off = 0;

	while (off < s->have_out.n && s->state != MS_SESSION_CLOSED) {
		ms_wire_msg m = {.type = MS_WIRE_HAVE};
		uint8_t(*ids)[MS_HASH_LEN];
		size_t n = s->have_out.n - off;

		if (n > MS_WIRE_MAX_IDS)
			n = MS_WIRE_MAX_IDS;
		if ((ids = malloc(n * MS_HASH_LEN)) == NULL)
			break;
		for (size_t i = 0; i < n; i++)
			memcpy(ids[i], s->have_out.v[off + i].id, MS_HASH_LEN);
		m.u.have.n = (uint16_t)n;
		m.u.have.ids = (const uint8_t(*)[MS_WIRE_ID_LEN])ids;
		if (ss_send_msg(s, &m) != 0) {
			free(ids);
			break;
		}
		free(ids);
		if (s->have_unanswered++ == 0)
			s->idle_from = s->env->now.mono_ms; /* a WANT is owed */
		ss_count(s, "relay_have_ids", NULL, n);
		off += n;
	}
	/* what could not be announced (out of memory) goes out as ops */
	if (off < s->have_out.n) {
		ms_store_rtxn *rt = NULL;
		ms_errbuf eb = {0};
		if (ms_store_read_begin(s->env->store, &rt, &eb) == MS_OK) {
			for (size_t i = off; i < s->have_out.n; i++)
				ss_queue_id(s, rt, s->have_out.v[i].id);
			ms_store_read_end(&rt);
		} else {
			ss_store_error(s, &eb);
		}
	}
	s->have_out.n = 0;
}

/* 1 when our store holds id (a read error counts as not held: asking
 * again costs at most a duplicate). */
static int held(ms_store_rtxn *rt, const uint8_t id[MS_HASH_LEN])
{
	ms_log_entry e;

	return ms_store_get_op(rt, id, &e, NULL) == MS_OK;
}

/* Ask this link for id: it is ours to deliver from now on. */
static int ask(ms_session *s, const uint8_t id[MS_HASH_LEN], uint64_t now_ms)
{
	ms_session_env *env = s->env;

	/* at most MS_SESSION_KNOWN_MAX asks open per link: the rest wait
	 * among the deferred ids (or for the next vector exchange) */
	if (ss_idvec_push(&s->wants, id, now_ms, MS_SESSION_KNOWN_MAX) != 0)
		return -1;
	env->wants_total++;
	/* the set keeps ids since held: drop them once they are most of it
	 * (never per ask: the rebuild walks every open ask) */
	if (env->asked.n >= MS_SESSION_KNOWN_MAX &&
	    env->asked.n >= 2 * env->wants_total)
		asked_rebuild(env);
	(void)ms_idset_add(&env->asked, id); /* missing: a duplicate ask */
	return 0;
}

void ss_on_have(ms_session *s, const ms_wire_ids *h, ms_time now)
{
	ms_wire_msg m = {.type = MS_WIRE_WANT};
	uint8_t(*want)[MS_HASH_LEN] = NULL;
	/* this WANT answers that HAVE, even when it asks for nothing: the
	 * announcer learns the HAVE arrived (§5.6) */
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint16_t n = 0;

	if (h->n > 0 && (want = malloc((size_t)h->n * MS_HASH_LEN)) == NULL) {
		ss_local_error(s, "out of memory", "local-error", now);
		return;
	}
	if (h->n > 0 && ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		free(want);
		ss_local_error(s, "store error", "store", now);
		return;
	}
	for (uint16_t i = 0; i < h->n; i++) {
		const uint8_t *id = h->ids[i];

		/* the peer holds it: never announce or send it back */
		ss_know(s, id);
		if (held(rt, id))
			continue;
		/* asked on another link first (this one is asked if that
		 * one ends without delivering), or a duplicate in this HAVE,
		 * or this link has all the asks it may have open: remember
		 * it; the ticks ask for it when they can.  Only memory bounds
		 * this list (session_memory: a session that grows past it
		 * ends, and the next one's vector exchange sends the rest) */
		if (ms_idset_has(&s->env->asked, id) ||
		    ask(s, id, now.mono_ms) != 0) {
			if (ss_idvec_push(&s->deferred, id, now.mono_ms,
			                  SIZE_MAX) != 0)
				ss_log(s, MS_LOG_ERROR, "MS-SYNC-NOMEM",
				       "what=deferred");
			continue;
		}
		memcpy(want[n++], id, MS_HASH_LEN);
	}
	ms_store_read_end(&rt);
	m.u.want.flags = MS_WIRE_WANT_REPLY;
	m.u.want.n = n;
	m.u.want.ids = (const uint8_t(*)[MS_WIRE_ID_LEN])want;
	ss_count(s, "relay_want_ids", NULL, n);
	if (ss_send_msg(s, &m) != 0) {
		free(want);
		ss_local_error(s, "local error", "local-error", now);
		return;
	}
	free(want);
	(void)ss_flush(s, now);
}

void ss_on_want(ms_session *s, const ms_wire_ids *w, ms_time now)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};

	if (w->flags & MS_WIRE_WANT_REPLY) {
		if (s->have_unanswered == 0) {
			ss_bad_message(s, "unexpected_want", now);
			return;
		}
		s->have_unanswered--;
	}
	if (w->n > 0) {
		if (ms_store_read_begin(s->env->store, &rt, &eb) != MS_OK) {
			ss_store_error(s, &eb);
			ss_local_error(s, "store error", "store", now);
			return;
		}
		for (uint16_t i = 0; i < w->n; i++)
			ss_queue_id(s, rt, w->ids[i]);
		ms_store_read_end(&rt);
	}
	ss_send_batches(s, now);
}

void ss_relay_tick(ms_session *s, ms_time now)
{
	ms_session_env *env = s->env;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	size_t k;

	if (s->wants.n == 0 && s->deferred.n == 0)
		return;
	if (ms_store_read_begin(env->store, &rt, &eb) != MS_OK) {
		ss_store_error(s, &eb);
		return;
	}
	/* asks delivered (by this link or another) are done */
	k = 0;
	for (size_t i = 0; i < s->wants.n; i++)
		if (!held(rt, s->wants.v[i].id))
			s->wants.v[k++] = s->wants.v[i];
	env->wants_total -= s->wants.n - k;
	s->wants.n = k;
	/* deferred announcements: done when held, asked here when the link
	 * asked first ended without delivering (the set was rebuilt) */
	if (s->deferred.n > 0 && ss_ready(s)) {
		uint8_t(*want)[MS_HASH_LEN] = NULL;
		uint16_t n = 0;

		k = 0;
		for (size_t i = 0; i < s->deferred.n; i++) {
			const uint8_t *id = s->deferred.v[i].id;
			if (held(rt, id))
				continue;
			if (n < MS_WIRE_MAX_IDS &&
			    !ms_idset_has(&env->asked, id)) {
				if (want == NULL)
					want = malloc(MS_WIRE_MAX_IDS *
					              MS_HASH_LEN);
				if (want != NULL &&
				    ask(s, id, now.mono_ms) == 0) {
					memcpy(want[n++], id, MS_HASH_LEN);
					continue;
				}
			}
			s->deferred.v[k++] = s->deferred.v[i];
		}
		s->deferred.n = k;
		if (n > 0) {
			/* an ask of our own, answering no HAVE */
			ms_wire_msg m = {.type = MS_WIRE_WANT};
			m.u.want.flags = 0;
			m.u.want.n = n;
			m.u.want.ids = (const uint8_t(*)[MS_WIRE_ID_LEN])want;
			ss_count(s, "relay_reasked", NULL, n);
			if (ss_send_msg(s, &m) != 0) {
				free(want);
				ms_store_read_end(&rt);
				ss_local_error(s, "local error", "local-error",
				               now);
				return;
			}
		}
		free(want);
	}
	ms_store_read_end(&rt);
}
