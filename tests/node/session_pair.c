/* session_pair.c — two sessions over an in-memory link (see
 * session_pair.h). */
#include "session_pair.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_alloc.h"
#include "ms_path.h"
#include "ms_test.h"
#include "store_fix.h"

static sp_side *side_of(sp_pair *p, ms_session *s)
{
	return &p->side[(intptr_t)ms_session_user(s)];
}

static ms_err on_send(void *ctx, ms_session *s, const uint8_t *buf, size_t len,
                      ms_errbuf *eb)
{
	sp_side *me = side_of(ctx, s);
	sp_msg *m;

	if (me->fail_send)
		return ms_errf(eb, MS_ENET, "test link: gone");
	if (me->busy_after > 0 && me->inflight >= me->busy_after)
		return MS_EBUSY;
	/* the link is the test's, not the product's: never a failure point
	 * of the allocation-failure loop */
	ms_alloc_pause();
	m = malloc(sizeof *m + len);
	ms_alloc_resume();
	if (m == NULL)
		return ms_errf(eb, MS_ENOMEM, "test link: out of memory");
	m->next = NULL;
	m->len = len;
	memcpy(m->buf, buf, len);
	if (me->tail != NULL)
		me->tail->next = m;
	else
		me->head = m;
	me->tail = m;
	me->inflight++;
	me->msgs_sent++;
	me->bytes_sent += len;
	return MS_OK;
}

static void on_event(void *ctx, ms_session *s, const ms_session_event *ev)
{
	sp_side *me = side_of(ctx, s);

	switch (ev->kind) {
	case MS_SESSION_EV_IDENTIFIED:
		me->identified++;
		memcpy(me->peer_id, ev->u.id.node_id, MS_PK_LEN);
		break;
	case MS_SESSION_EV_STATE:
		if (me->nstates < SP_MAX_STATES)
			me->states[me->nstates++] = ev->u.state;
		break;
	case MS_SESSION_EV_PEERS:
		me->peers_msgs++;
		break;
	case MS_SESSION_EV_ENDED:
		me->ended++;
		snprintf(me->end_reason, sizeof me->end_reason, "%s",
		         ev->u.end.reason);
		snprintf(me->end_detail, sizeof me->end_detail, "%s",
		         ev->u.end.detail != NULL ? ev->u.end.detail : "");
		me->end_failed = ev->u.end.failed;
		me->end_bye = ev->u.end.bye_sent;
		me->end_self = ev->u.end.self;
		me->sum = *ev->u.end.summary;
		break;
	}
}

/* Everything but the session environments; dirs from base or tmpdirs. */
static void init_sides(sp_pair *p, const char *base, const char *tag,
                       uint8_t ida, uint8_t idb, uint64_t seed)
{
	const char *env = getenv("MS_TEST_SEED");
	uint8_t ids[2] = {ida, idb};

	memset(p, 0, sizeof *p);
	if (env != NULL && env[0] != '\0')
		seed = strtoull(env, NULL, 0);
	p->seed = seed;
	p->keep_dirs = base != NULL;
	ms_rng_seed(&p->rng, seed);
	p->now.mono_ms = 1000;
	p->now.wall_ms = 1700000000000ull;
	for (int i = 0; i < 2; i++) {
		sp_side *sd = &p->side[i];
		char t[64];

		if (base != NULL) {
			snprintf(t, sizeof t, "%c", 'a' + i);
			sd->dir = ms_path_join(base, t);
			ck_assert_ptr_nonnull(sd->dir);
			ck_assert_int_eq(mkdir(sd->dir, 0700), 0);
		} else {
			snprintf(t, sizeof t, "%s-%c", tag, 'a' + i);
			sd->dir = ms_test_tmpdir(t);
		}
		sd->id = fix_identity(ids[i]);
		sd->store = fix_store(sd->dir, sd->id, NULL);
		/* quiet unless a test wants to read the lines */
		sd->log.level = getenv("MS_TEST_LOG") != NULL
		                        ? MS_LOG_DEBUG
		                        : MS_LOG_ERROR - 1;
	}
}

ms_err sp_env(sp_pair *p, const ms_session_params *params, ms_errbuf *eb)
{
	ms_session_cbs cbs = {on_send, on_event, p};
	ms_session_params def;
	ms_err e;

	if (params == NULL) {
		ms_session_params_default(&def);
		params = &def;
	}
	for (int i = 0; i < 2; i++) {
		sp_side *sd = &p->side[i];
		if ((e = ms_session_env_new(&sd->env, sd->store, sd->id, params,
		                            &cbs, &sd->log, &sd->counters,
		                            eb)) != MS_OK)
			return e;
	}
	return MS_OK;
}

void sp_init(sp_pair *p, const char *tag, uint8_t ida, uint8_t idb,
             uint64_t seed, const ms_session_params *params)
{
	ms_errbuf eb = {0};

	init_sides(p, NULL, tag, ida, idb, seed);
	MS_PASS_EB(sp_env(p, params, &eb), &eb);
}

void sp_init_at(sp_pair *p, const char *base, uint8_t ida, uint8_t idb,
                uint64_t seed)
{
	init_sides(p, base, NULL, ida, idb, seed);
}

ms_err sp_open_e(sp_pair *p, ms_errbuf *eb)
{
	ms_err e;

	for (int i = 0; i < 2; i++) {
		ms_session_conf c = {0};

		c.outbound = i == 0;
		c.user = (void *)(intptr_t)i;
		if (i == 1 &&
		    (e = ms_ed25519_pk_to_curve(c.peer_curve,
		                                ms_identity_pk(p->side[0].id),
		                                eb)) != MS_OK)
			return e;
		if ((e = ms_session_new(&p->side[i].s, p->side[i].env, &c,
		                        p->now, eb)) != MS_OK)
			return e;
	}
	ms_session_start(p->side[1].s, p->now);
	ms_session_start(p->side[0].s, p->now);
	return MS_OK;
}

void sp_open(sp_pair *p)
{
	ms_errbuf eb = {0};

	MS_PASS_EB(sp_open_e(p, &eb), &eb);
}

void sp_advance(sp_pair *p, uint64_t ms)
{
	p->now.mono_ms += ms;
	p->now.wall_ms += ms;
}

static void deliver(sp_pair *p, int from)
{
	sp_side *src = &p->side[from], *dst = &p->side[!from];
	sp_msg *m = src->head;

	src->head = m->next;
	if (src->head == NULL)
		src->tail = NULL;
	src->inflight--;
	if (dst->s != NULL)
		ms_session_recv(dst->s, m->buf, m->len, p->now);
	free(m);
	p->delivered++;
}

int sp_step(sp_pair *p)
{
	int from;

	sp_advance(p, ms_rng_below(&p->rng, 4));
	if (p->side[0].head != NULL && p->side[1].head != NULL)
		from = (int)ms_rng_below(&p->rng, 2);
	else if (p->side[0].head != NULL)
		from = 0;
	else if (p->side[1].head != NULL)
		from = 1;
	else
		from = -1;
	if (from >= 0)
		deliver(p, from);
	for (int i = 0; i < 2; i++)
		if (p->side[i].s != NULL)
			ms_session_tick(p->side[i].s, p->now);
	return from >= 0 || p->side[0].head != NULL || p->side[1].head != NULL;
}

long sp_run(sp_pair *p, size_t max_steps)
{
	size_t before = p->delivered;

	for (size_t i = 0; i < max_steps; i++)
		if (!sp_step(p))
			return (long)(p->delivered - before);
	return -1;
}

void sp_inject(sp_pair *p, int to, const void *buf, size_t len)
{
	if (p->side[to].s != NULL)
		ms_session_recv(p->side[to].s, buf, len, p->now);
}

void sp_put(sp_pair *p, int i, const char *key, const char *value, int prio)
{
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_store_append(p->side[i].store, p->side[i].id, MS_OP_PUT,
	                           (ms_prio)prio, (const uint8_t *)key,
	                           strlen(key), (const uint8_t *)value,
	                           strlen(value), NULL, &eb),
	           &eb);
}

uint64_t sp_feed(sp_pair *p, int i, uint64_t after)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint64_t head;

	MS_PASS_EB(ms_store_read_begin(p->side[i].store, &rt, &eb), &eb);
	head = ms_store_arrival_head(rt);
	MS_PASS_EB(ms_session_offer_since(p->side[i].s, rt, after, &eb), &eb);
	ms_store_read_end(&rt);
	return head;
}

void sp_state_hash(sp_pair *p, int i, uint8_t out[MS_HASH_LEN])
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_store_read_begin(p->side[i].store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_state_hash(rt, out, &eb), &eb);
	ms_store_read_end(&rt);
}

uint64_t sp_ops(sp_pair *p, int i)
{
	return fix_summary(p->side[i].store).ops;
}

void sp_free(sp_pair *p)
{
	for (int i = 0; i < 2; i++) {
		sp_side *sd = &p->side[i];
		while (sd->head != NULL) {
			sp_msg *m = sd->head;
			sd->head = m->next;
			free(m);
		}
		ms_session_free(&sd->s);
		ms_session_env_free(&sd->env);
		ms_store_close(&sd->store);
		ms_identity_free(&sd->id);
		if (!p->keep_dirs)
			ms_test_rmdir(sd->dir);
		free(sd->dir);
	}
	memset(p, 0, sizeof *p);
}
