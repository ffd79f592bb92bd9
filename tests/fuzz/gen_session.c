/*
 * gen_session.c — fuzz_session's seed corpus: real sessions between the
 * fuzzed node ("self", session_world.h) and a peer with a store of its
 * own, each recorded as the fuzz input that replays self's side exactly:
 * the flags byte, then for every step the peer's message self received
 * (or none) with the clock step before it, and self's local writes.
 * Self is driven here by the very calls fuzz_session makes (new, start,
 * then per record: clock, receive or write, tick), on a store made by the
 * same code, so the replay takes the same path; what self sends goes to
 * the real peer session, whose answers make the next records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_check.h"
#include "fuzz_util.h"
#include "hlc.h"
#include "session_world.h"
#include "store.h"
#include "wire.h"

#define GEN_QMAX 4096   /* messages waiting in one direction */
#define GEN_STEPS 20000 /* steps of one phase at most */

typedef struct gen_msg {
	uint8_t *buf;
	size_t len;
} gen_msg;

typedef struct gen_side {
	ms_identity *id;
	ms_store *st;
	ms_log log;
	ms_counters counters;
	ms_session_env *env;
	ms_session *s;
	gen_msg q[GEN_QMAX]; /* sent, not delivered yet */
	size_t qhead, qlen;
	int ended;
} gen_side;

/* One recording. */
typedef struct gen {
	gen_side side[2]; /* 0: self, 1: the peer */
	ms_time now;
	uint64_t wall; /* both stores' wall clock */
	uint8_t *rec;
	size_t reclen, reccap;
	unsigned writes;
	int tamper; /* flip the last byte of the peer's next OPS with ops */
} gen;

static ms_err gen_send(void *ctx, ms_session *s, const uint8_t *buf, size_t len,
                       ms_errbuf *eb)
{
	gen *g = ctx;
	gen_side *me = ms_session_user(s);
	ms_wire_type type;
	gen_msg *m;

	(void)eb;
	FZ_CHECK(me->qlen < GEN_QMAX);
	m = &me->q[(me->qhead + me->qlen) % GEN_QMAX];
	m->buf = malloc(len);
	FZ_CHECK(m->buf != NULL);
	memcpy(m->buf, buf, len);
	m->len = len;
	/* an OPS message ends with its last op's signature: one bit off
	 * makes that op a forgery (an op is over 150 bytes) */
	if (g->tamper && me == &g->side[1] &&
	    ms_wire_peek_type(buf, len, &type) == MS_WR_OK &&
	    type == MS_WIRE_OPS && len > 200) {
		m->buf[len - 1] ^= 0x01;
		g->tamper = 0;
	}
	me->qlen++;
	return MS_OK;
}

static void gen_event(void *ctx, ms_session *s, const ms_session_event *ev)
{
	gen_side *me = ms_session_user(s);

	(void)ctx;
	if (ev->kind == MS_SESSION_EV_ENDED)
		me->ended = 1;
}

static void rec_bytes(gen *g, const void *p, size_t n)
{
	if (g->reclen + n > g->reccap) {
		g->reccap = (g->reclen + n) * 2 + 4096;
		g->rec = realloc(g->rec, g->reccap);
		FZ_CHECK(g->rec != NULL);
	}
	memcpy(g->rec + g->reclen, p, n);
	g->reclen += n;
}

static void rec_hdr(gen *g, size_t len, uint8_t dt)
{
	uint8_t h[SW_REC_HDR] = {(uint8_t)(len >> 8), (uint8_t)len, dt};

	FZ_CHECK(len <= SW_REC_WRITE);
	rec_bytes(g, h, sizeof h);
}

static void advance(gen *g, uint8_t dt)
{
	uint64_t ms = sw_step_ms(dt);

	g->now.mono_ms += ms;
	g->now.wall_ms += ms;
	g->wall = g->now.wall_ms;
}

/* Hand the peer everything self sent, then tick it. */
static void to_peer(gen *g)
{
	gen_side *self = &g->side[0], *peer = &g->side[1];

	while (self->qlen > 0) {
		gen_msg *m = &self->q[self->qhead];
		self->qhead = (self->qhead + 1) % GEN_QMAX;
		self->qlen--;
		ms_session_recv(peer->s, m->buf, m->len, g->now);
		free(m->buf);
	}
	ms_session_tick(peer->s, g->now);
}

/* One record: the clock moves by dt, self receives the peer's next
 * message (if any) and is ticked; then the peer hears self.  0 when
 * nothing moved either way. */
static int step(gen *g, uint8_t dt)
{
	gen_side *self = &g->side[0], *peer = &g->side[1];
	int moved = peer->qlen > 0 || self->qlen > 0;

	advance(g, dt);
	if (peer->qlen > 0) {
		gen_msg *m = &peer->q[peer->qhead];
		peer->qhead = (peer->qhead + 1) % GEN_QMAX;
		peer->qlen--;
		rec_hdr(g, m->len, dt);
		rec_bytes(g, m->buf, m->len);
		ms_session_recv(self->s, m->buf, m->len, g->now);
		free(m->buf);
	} else {
		rec_hdr(g, 0, dt);
	}
	ms_session_tick(self->s, g->now);
	to_peer(g);
	return moved || self->qlen > 0 || peer->qlen > 0;
}

/* Step until nothing moves (bounded). */
static void run_quiet(gen *g)
{
	for (int i = 0; i < GEN_STEPS; i++)
		if (!step(g, 1))
			return;
	fprintf(stderr, "gen_session: no quiet after %d steps\n", GEN_STEPS);
	abort();
}

/* A local write on self, as a record. */
static void self_write(gen *g)
{
	gen_side *self = &g->side[0];

	advance(g, 2);
	rec_hdr(g, SW_REC_WRITE, 2);
	FZ_CHECK(sw_local_write(self->st, self->id, self->s, g->writes++,
	                        NULL) == MS_OK);
	ms_session_tick(self->s, g->now);
	to_peer(g);
}

static void peer_write(gen *g, unsigned n)
{
	gen_side *peer = &g->side[1];

	FZ_CHECK(sw_local_write(peer->st, peer->id, peer->s, 1000 + n, NULL) ==
	         MS_OK);
	ms_session_tick(peer->s, g->now);
}

typedef struct copy_ctx {
	ms_store *to;
} copy_ctx;

static int copy_op(const ms_log_entry *e, void *ctx)
{
	sw_ingest(((copy_ctx *)ctx)->to, e->buf, e->len);
	return 0;
}

/* The peer's store.  equal: exactly self's ops (the HELLO digests match);
 * else ops of its own (nown), the third author's seq 1, a different seq 2
 * (a fork with self's) and seq 3. */
static void make_peer(gen *g, const char *dir, const char *selfdir, int equal,
                      unsigned nown)
{
	gen_side *peer = &g->side[1];
	ms_identity *third = sw_identity(SW_THIRD);
	ms_store_opts o;
	ms_errbuf eb;
	uint8_t *buf;
	size_t len;

	sw_store_opts(&o, &g->wall);
	FZ_CHECK(ms_store_create(dir, ms_identity_pk(peer->id), sw_netid, &o,
	                         &eb) == MS_OK);
	FZ_CHECK(ms_store_open(&peer->st, dir, &o, &eb) == MS_OK);
	if (equal) {
		ms_store *s = NULL;
		ms_store_rtxn *rt = NULL;
		copy_ctx c = {peer->st};

		FZ_CHECK(ms_store_open(&s, selfdir, &o, &eb) == MS_OK);
		FZ_CHECK(ms_store_read_begin(s, &rt, &eb) == MS_OK);
		FZ_CHECK(ms_store_foreach_log(rt, NULL, 0, copy_op, &c, &eb) ==
		         MS_OK);
		ms_store_read_end(&rt);
		ms_store_close(&s);
	} else {
		for (unsigned i = 0; i < nown; i++) {
			char key[32], value[32];
			g->wall += 7;
			snprintf(key, sizeof key, "peer/%u", i % 5);
			snprintf(value, sizeof value, "peer value %u", i);
			FZ_CHECK(ms_store_append(peer->st, peer->id, MS_OP_PUT,
			                         i % 3 ? MS_PRIO_USER
			                               : MS_PRIO_BACKGROUND,
			                         (const uint8_t *)key,
			                         strlen(key),
			                         (const uint8_t *)value,
			                         strlen(value), NULL,
			                         NULL) == MS_OK);
		}
		/* the same bytes as self's seq 1 (signing is deterministic) */
		sw_op(&buf, &len, third, 1, MS_HLC_MAKE(SW_WALL0 - 5000, 0),
		      "third/a", "1");
		sw_ingest(peer->st, buf, len);
		free(buf);
		sw_op(&buf, &len, third, 2, MS_HLC_MAKE(SW_WALL0 - 3990, 0),
		      "third/b", "peer's");
		sw_ingest(peer->st, buf, len);
		free(buf);
		sw_op(&buf, &len, third, 3, MS_HLC_MAKE(SW_WALL0 - 3000, 0),
		      "third/c", "3");
		sw_ingest(peer->st, buf, len);
		free(buf);
	}
	ms_identity_free(&third);
}

typedef struct gen_plan {
	const char *name;
	unsigned flags;  /* the input's flags byte (never SW_F_BUSY here) */
	int equal;       /* the peer holds exactly self's ops */
	unsigned nown;   /* the peer's own ops */
	int peer_small;  /* the peer sends small batches too */
	unsigned writes; /* live writes on each side after the sync */
	int peers_msg;   /* the peer sends PEERS */
	int bye;         /* the peer ends with BYE; else time out */
	int tamper;      /* one op of the peer's first OPS is forged */
	int long_bye;    /* the BYE is (budget) with the longest text */
} gen_plan;

static void mkdir_p(const char *d)
{
	FZ_CHECK(mkdir(d, 0700) == 0);
}

static int record(const char *outdir, const char *base, const gen_plan *pl)
{
	gen g;
	char selfdir[512], peerdir[512], path[1024];
	ms_session_cbs cbs = {gen_send, gen_event, NULL};
	char text[MS_WIRE_MAX_TEXT + 1];
	uint8_t flags;
	ms_session_params sp, pp;
	ms_store_opts o;
	ms_errbuf eb;
	FILE *f;

	memset(&g, 0, sizeof g);
	cbs.ctx = &g;
	g.tamper = pl->tamper;
	snprintf(selfdir, sizeof selfdir, "%s/%s-self", base, pl->name);
	snprintf(peerdir, sizeof peerdir, "%s/%s-peer", base, pl->name);
	mkdir_p(selfdir);
	mkdir_p(peerdir);
	g.side[0].id = sw_identity(SW_SELF);
	g.side[1].id = sw_identity(SW_PEER);
	g.wall = SW_WALL0;
	sw_make_self(selfdir, &g.wall);
	make_peer(&g, peerdir, selfdir, pl->equal, pl->nown);
	sw_store_opts(&o, &g.wall);
	FZ_CHECK(ms_store_open(&g.side[0].st, selfdir, &o, &eb) == MS_OK);

	/* fuzz_session's starting point */
	g.now.mono_ms = SW_MONO0;
	g.now.wall_ms = SW_WALL0;
	g.wall = SW_WALL0;
	sw_params(&sp, pl->flags);
	ms_session_params_default(&pp);
	if (pl->peer_small) {
		pp.batch_ops = 2;
		pp.credit = 3;
	}
	for (int i = 0; i < 2; i++) {
		gen_side *sd = &g.side[i];
		ms_session_conf c = {0};
		int self_out = (pl->flags & SW_F_OUTBOUND) != 0;

		sd->log.level = MS_LOG_ERROR - 1;
		FZ_CHECK(ms_session_env_new(&sd->env, sd->st, sd->id,
		                            i == 0 ? &sp : &pp, &cbs, &sd->log,
		                            &sd->counters, &eb) == MS_OK);
		c.outbound = i == 0 ? self_out : !self_out;
		c.user = sd;
		if (!c.outbound)
			FZ_CHECK(ms_ed25519_pk_to_curve(c.peer_curve,
			                                ms_identity_pk(
								g.side[!i].id),
			                                NULL) == MS_OK);
		FZ_CHECK(ms_session_new(&sd->s, sd->env, &c, g.now, &eb) ==
		         MS_OK);
	}
	flags = (uint8_t)pl->flags;
	rec_bytes(&g, &flags, 1);
	/* self exactly as fuzz_session: new, start */
	ms_session_start(g.side[0].s, g.now);
	ms_session_start(g.side[1].s, g.now);
	to_peer(&g);
	run_quiet(&g);
	FZ_CHECK(ms_session_state_get(g.side[0].s) == MS_SESSION_LIVE);
	FZ_CHECK(ms_session_state_get(g.side[1].s) == MS_SESSION_LIVE);

	for (unsigned i = 0; i < pl->writes; i++) {
		self_write(&g);
		peer_write(&g, i);
		run_quiet(&g);
	}
	if (pl->peers_msg) {
		ms_wire_peers m;
		memset(&m, 0, sizeof m);
		m.n = 1;
		memset(m.peers[0].node_id, SW_THIRD, MS_PK_LEN);
		m.peers[0].last_seen_ms = SW_WALL0 - 1000;
		m.peers[0].n_endpoints = 1;
		m.peers[0].endpoints[0].ptr =
			(const uint8_t *)"tcp://10.1.2.3:7700";
		m.peers[0].endpoints[0].len = 19;
		FZ_CHECK(ms_session_send_peers(g.side[1].s, &m) == 0);
		run_quiet(&g);
	}
	if (pl->bye) {
		memset(text, 'x', sizeof text - 1);
		text[pl->long_bye ? sizeof text - 1 : 0] = '\0';
		ms_session_close(g.side[1].s,
		                 pl->long_bye ? MS_BYE_BUDGET : MS_BYE_NORMAL,
		                 pl->long_bye ? text : "done", "shutdown", 0,
		                 g.now);
		run_quiet(&g);
		FZ_CHECK(g.side[0].ended);
	} else {
		/* a peer that stops answering: self's idle or vv timers */
		for (int i = 0; i < 3; i++)
			(void)step(&g, 255);
	}

	snprintf(path, sizeof path, "%s/%s", outdir, pl->name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(g.rec, 1, g.reclen, f) != g.reclen ||
	    fclose(f) != 0) {
		perror(path);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		gen_side *sd = &g.side[i];
		while (sd->qlen > 0) {
			free(sd->q[sd->qhead].buf);
			sd->qhead = (sd->qhead + 1) % GEN_QMAX;
			sd->qlen--;
		}
		ms_session_free(&sd->s);
		ms_session_env_free(&sd->env);
		ms_store_close(&sd->st);
		ms_identity_free(&sd->id);
	}
	free(g.rec);
	return 0;
}

int sw_gen_corpus(const char *dir)
{
	static const gen_plan plans[] = {
		{"dial-fork-live", SW_F_OUTBOUND, 0, 4, 0, 2, 1, 1},
		{"listen-fork-live", 0, 0, 4, 0, 2, 0, 1},
		{"dial-equal", SW_F_OUTBOUND, 1, 0, 0, 1, 0, 1},
		{"listen-equal-timeout", 0, 1, 0, 0, 0, 0, 0},
		{"dial-small-batches", SW_F_OUTBOUND | SW_F_SMALL, 0, 12, 1, 3,
	         0, 1},
		{"listen-small-batches", SW_F_SMALL, 0, 12, 1, 1, 1, 1},
		{"dial-forged-op-long-bye", SW_F_OUTBOUND, 0, 4, 0, 1, 0, 1, 1,
	         1},
	};
	/* the stores: removed at exit */
	const char *base = fz_tmpdir("gen-session");
	int rc = 0;

	for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
		rc |= record(dir, base, &plans[i]);
	return rc;
}
