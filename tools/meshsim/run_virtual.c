/*
 * run_virtual.c — `meshsim --virtual`: a scenario run inside one process
 * by a discrete-event loop (docs/simulator.md).  What is real: each
 * node's store (LMDB under workdir), its identity, and the sync session
 * state machines (node/session), one at each end of every topology link,
 * fed exactly as the daemon feeds them (messages, ticks, arrival offers).
 * What is simulated: the clock (ms_time, both readings), the links (a
 * message is a heap event delivered after a latency, through the node's
 * fault core, net/fault.h, which applies the scenario's [faults] and the
 * cuts of its [events]), the transport's connection up and down, and
 * process death and restart.
 *
 * Every choice comes from one ms_rng seeded by the scenario seed (the
 * identities, the fault cores' seeds, the writes, the redial jitter);
 * events at one instant run in the order they were scheduled; nothing
 * reads the wall clock but wall_seconds.  So the same seed gives the same
 * msim_result, field for field, wall_seconds aside.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arrival.h"
#include "backoff.h"
#include "counters.h"
#include "crypto.h"
#include "fault.h"
#include "log.h"
#include "ms_err_int.h"
#include "ms_path.h"
#include "rng.h"
#include "run.h"
#include "session.h"
#include "store.h"
#include "wire.h"

/* Simulated time starts here (wall: a fixed 2023 date, so hlc values and
 * therefore op ids are a function of the seed). */
#define VSIM_WALL0 1700000000000ull
#define VSIM_MONO0 1000ull
#define VSIM_LATENCY_MS 1 /* every message, before the fault delay */
#define VSIM_TICK_MS 100  /* the daemon's loop turn / feed poll */
/* Redial after a failed session: net/backoff with its default strategy
 * and the [backoff] run_real.c gives real nodes (base 100 ms, cap 1 s);
 * after a session that ended well, at the next loop turn. */
#define VSIM_BACKOFF_BASE_MS 100
#define VSIM_BACKOFF_CAP_MS 1000
/* Session timeouts: the [limits] run_real.c gives real nodes.  A
 * dropped message is never resent, so the session waiting for it must
 * end soon for the next one to resync. */
#define VSIM_HELLO_TIMEOUT_MS 500
#define VSIM_VV_TIMEOUT_MS 1000
#define VSIM_IDLE_TIMEOUT_MS 700
/* Small maps: thousands of runs reuse the same directories. */
#define VSIM_MAP_INITIAL (1ull << 20)
#define VSIM_MAP_MAX (256ull << 20)
#define VSIM_MAX_LINKS (MSIM_MAX_NODES * (MSIM_MAX_NODES - 1) / 2)
#define VSIM_SHARED_KEYS 16 /* distinct shared keys */
/* A safety bound on the loop: far beyond any small scenario's needs. */
#define VSIM_MAX_EVENTS (50u * 1000 * 1000)

enum vsim_ev_kind {
	VE_DELIVER = 1, /* a message reaches link end `side` */
	VE_DOWN,        /* a session ended: tear the connection down */
	VE_DIAL,        /* the link's dialer connects */
	VE_WRITE,       /* the next scenario write */
	VE_SCENARIO,    /* [events] entry `arg` (kill, restart, term) */
	VE_TICK,        /* every node's loop turn; convergence check */
	VE_RELEASE,     /* a held message goes out on its own */
};

typedef struct vsim_ev {
	uint64_t t, seq;
	int kind;
	int link, side; /* VE_DELIVER: to side; VE_DOWN, VE_DIAL: link */
	uint64_t gen;   /* the connection it belongs to */
	uint64_t no;    /* VE_RELEASE: which held message */
	int arg;
	uint8_t *buf; /* VE_DELIVER: owned by the event */
	size_t len;
} vsim_ev;

typedef struct vsim vsim;

/* One end of a link: the session user pointer. */
typedef struct vsim_end {
	vsim *sim;
	int link, side;
} vsim_end;

typedef struct vsim_link {
	int node[2]; /* node[0] dials (outbound), node[1] listens */
	ms_session *s[2];
	vsim_end end[2];
	uint8_t curve0[MS_CURVE_LEN]; /* the dialer's transport key */
	uint64_t gen;                 /* connection generation */
	int connected, down_pending;
	int failed;         /* the last session ended as a failure */
	ms_backoff backoff; /* the dialer's, for this peer */
	/* reorder: a message held back behind the next one, per direction
	 * (index: the sending side) */
	uint8_t *held[2];
	size_t held_len[2];
	uint64_t held_gen[2];
	uint64_t held_no[2]; /* messages held so far */
	/* a connection is a stream: nothing overtakes what went before it
	 * (per sending side, this connection) */
	uint64_t last_at[2];
} vsim_link;

typedef struct vsim_node {
	char *dir;
	ms_identity *id;
	ms_store *store; /* NULL while the node is down */
	ms_session_env *env;
	ms_log log;
	ms_counters counters;
	ms_fault *fault; /* NULL: no fault on its links */
	uint64_t arrival_seen;
	int up;
	/* links touching this node (indexes into sim->link) */
	int nlinks;
	int links[MSIM_MAX_NODES];
} vsim_node;

struct vsim {
	const msim_scenario *sc;
	const msim_virtual_opts *o;
	ms_rng rng;
	uint64_t seed;
	uint64_t t; /* simulated ms since start */
	uint64_t seq;
	vsim_ev *heap;
	size_t nheap, capheap;
	vsim_node node[MSIM_MAX_NODES];
	vsim_link *link;
	int nlinks;
	ms_session_params params;
	ms_backoff_cfg backoff;
	ms_store_opts sopts;
	uint8_t netid[MS_NETID_LEN];
	/* writes */
	uint32_t nwritten;
	uint8_t (*written)[MS_HASH_LEN];
	int writers[MSIM_MAX_NODES];
	int nwriters;
	uint64_t last_write_t;
	uint64_t last_heal_ms;
	/* measurements */
	uint64_t bytes_sent, op_transfers;
	int converged;
	uint64_t converged_t;
	int failed; /* a store or allocation failure: the run is void */
	ms_errbuf err;
};

static ms_time sim_now(const vsim *v)
{
	ms_time t = {VSIM_MONO0 + v->t, VSIM_WALL0 + v->t};
	return t;
}

static uint64_t sim_wall(void *ctx)
{
	return VSIM_WALL0 + ((const vsim *)ctx)->t;
}

static void fail(vsim *v, const ms_errbuf *eb, const char *what)
{
	if (v->failed)
		return;
	v->failed = 1;
	if (eb != NULL)
		ms_errf(&v->err, eb->code != MS_OK ? eb->code : MS_ESTORE,
		        "%s: %s", what, eb->msg);
	else
		ms_errf(&v->err, MS_ENOMEM, "%s: out of memory", what);
}

/* --- the event heap: ordered by (time, scheduling order) ---------------- */

static int ev_before(const vsim_ev *a, const vsim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static vsim_ev *ev_push(vsim *v, uint64_t t, int kind)
{
	vsim_ev e = {0};
	size_t i;

	if (v->nheap == v->capheap) {
		size_t ncap = v->capheap ? v->capheap * 2 : 256;
		vsim_ev *nh = realloc(v->heap, ncap * sizeof *nh);
		if (nh == NULL) {
			fail(v, NULL, "event queue");
			return NULL;
		}
		v->heap = nh;
		v->capheap = ncap;
	}
	e.t = t;
	e.seq = v->seq++;
	e.kind = kind;
	i = v->nheap++;
	while (i > 0 && ev_before(&e, &v->heap[(i - 1) / 2])) {
		v->heap[i] = v->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	v->heap[i] = e;
	return &v->heap[i];
}

static vsim_ev ev_pop(vsim *v)
{
	vsim_ev top = v->heap[0], last = v->heap[--v->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= v->nheap)
			break;
		if (c + 1 < v->nheap && ev_before(&v->heap[c + 1], &v->heap[c]))
			c++;
		if (!ev_before(&v->heap[c], &last))
			break;
		v->heap[i] = v->heap[c];
		i = c;
	}
	if (v->nheap > 0)
		v->heap[i] = last;
	return top;
}

/* --- links -------------------------------------------------------------- */

static void deliver_at(vsim *v, int li, int to, uint64_t gen, uint64_t t,
                       uint8_t *buf, size_t len)
{
	vsim_ev *e = ev_push(v, t, VE_DELIVER);

	if (e == NULL) {
		free(buf);
		return;
	}
	e->link = li;
	e->side = to;
	e->gen = gen;
	e->buf = buf;
	e->len = len;
}

static uint8_t *dup_buf(vsim *v, const uint8_t *buf, size_t len)
{
	uint8_t *b = malloc(len > 0 ? len : 1);

	if (b == NULL)
		fail(v, NULL, "message");
	else
		memcpy(b, buf, len);
	return b;
}

/* Ops carried by an OPS message (header, batch u32, n u16 LE). */
static uint32_t ops_in(const uint8_t *buf, size_t len)
{
	ms_wire_type type;

	if (ms_wire_peek_type(buf, len, &type) != MS_WR_OK ||
	    type != MS_WIRE_OPS || len < MS_WIRE_OPS_FIXED_LEN)
		return 0;
	return (uint32_t)buf[MS_WIRE_HEADER_LEN + 4] |
	       (uint32_t)buf[MS_WIRE_HEADER_LEN + 5] << 8;
}

/* A session hands a message to its link: counted as sent, then the
 * sender's fault core decides its fate, applied as the verdict says. */
static ms_err on_send(void *ctx, ms_session *s, const uint8_t *buf, size_t len,
                      ms_errbuf *eb)
{
	vsim *v = ctx;
	vsim_end *me = ms_session_user(s);
	vsim_link *l = &v->link[me->link];
	int from = me->side, to = !from;
	vsim_node *src = &v->node[l->node[from]];
	const uint8_t *peer = ms_identity_pk(v->node[l->node[to]].id);
	ms_fault_verdict vd = {0};
	vsim_ev *e;
	uint64_t at;
	uint8_t *b;

	(void)eb;
	v->bytes_sent += len;
	v->op_transfers += ops_in(buf, len);
	if (src->fault != NULL)
		ms_fault_decide(src->fault, peer, sim_wall(v), len, &vd);
	else
		vd.copies = 1;
	if (vd.drop)
		return MS_OK; /* taken, never arrives */
	if ((b = dup_buf(v, buf, len)) == NULL)
		return MS_OK;
	for (int i = 0; i < vd.ncorrupt && i < 4; i++)
		if (vd.corrupt_at[i] < len)
			b[vd.corrupt_at[i]] ^= vd.corrupt_xor[i];
	if (vd.hold) {
		/* behind the next message, or on its own MS_FAULT_HOLD_MS
		 * after its delay (as the fault glue); one held at a time:
		 * an earlier one goes out now */
		if (l->held[from] != NULL && l->held_gen[from] == l->gen) {
			at = v->t + VSIM_LATENCY_MS;
			if (at < l->last_at[from])
				at = l->last_at[from];
			l->last_at[from] = at;
			deliver_at(v, me->link, to, l->gen, at, l->held[from],
			           l->held_len[from]);
		} else
			free(l->held[from]);
		l->held[from] = b;
		l->held_len[from] = len;
		l->held_gen[from] = l->gen;
		if ((e = ev_push(v,
		                 v->t + VSIM_LATENCY_MS + vd.delay_ms +
		                         MS_FAULT_HOLD_MS,
		                 VE_RELEASE)) != NULL) {
			e->link = me->link;
			e->side = to;
			e->no = ++l->held_no[from];
		}
		return MS_OK;
	}
	at = v->t + VSIM_LATENCY_MS + vd.delay_ms;
	if (at < l->last_at[from])
		at = l->last_at[from];
	l->last_at[from] = at;
	for (int c = 1; c < vd.copies; c++) {
		uint8_t *d = dup_buf(v, b, len);
		if (d != NULL)
			deliver_at(v, me->link, to, l->gen, at, d, len);
	}
	deliver_at(v, me->link, to, l->gen, at, b, len);
	if (l->held[from] != NULL) {
		if (l->held_gen[from] == l->gen)
			deliver_at(v, me->link, to, l->gen, at, l->held[from],
			           l->held_len[from]);
		else
			free(l->held[from]);
		l->held[from] = NULL;
	}
	return MS_OK;
}

static uint64_t down_delay(const vsim *v)
{
	/* after anything the ended side sent (its BYE) could arrive */
	return VSIM_LATENCY_MS + v->sc->faults.delay_ms +
	       v->sc->faults.jitter_ms + 1;
}

static void on_event(void *ctx, ms_session *s, const ms_session_event *ev)
{
	vsim *v = ctx;
	vsim_end *me = ms_session_user(s);
	vsim_link *l = &v->link[me->link];
	vsim_ev *e;

	if (ev->kind == MS_SESSION_EV_STATE && ev->u.state == MS_SESSION_LIVE)
		ms_backoff_success(&l->backoff);
	if (v->o->verbose > 2 && (ev->kind == MS_SESSION_EV_ENDED ||
	                          (ev->kind == MS_SESSION_EV_STATE &&
	                           ev->u.state == MS_SESSION_LIVE)))
		fprintf(stderr,
		        "meshsim: t=%" PRIu64 "ms link %d-%d: node %d %s%s%s\n",
		        v->t, l->node[0], l->node[1], l->node[me->side],
		        ev->kind == MS_SESSION_EV_ENDED ? "ended " : "live",
		        ev->kind == MS_SESSION_EV_ENDED ? ev->u.end.reason : "",
		        ev->kind == MS_SESSION_EV_ENDED && ev->u.end.detail
		                ? ev->u.end.detail
		                : "");
	if (ev->kind != MS_SESSION_EV_ENDED)
		return;
	if (ev->u.end.failed)
		l->failed = 1;
	/* sessions are never freed inside their callbacks: the
	 * connection is torn down by an event of its own */
	if (l->down_pending)
		return;
	l->down_pending = 1;
	if ((e = ev_push(v, v->t + down_delay(v), VE_DOWN)) != NULL) {
		e->link = me->link;
		e->gen = l->gen;
	}
}

static void schedule_dial(vsim *v, int li, uint64_t after)
{
	vsim_ev *e = ev_push(v, v->t + after, VE_DIAL);

	if (e != NULL)
		e->link = li;
}

/* When the dialer tries again: after its backoff when the last session
 * failed (as the daemon counts failures), else at its next loop turn. */
static uint64_t redial_ms(vsim *v, vsim_link *l)
{
	if (!l->failed)
		return VSIM_TICK_MS;
	l->failed = 0;
	return ms_backoff_failure(&l->backoff, &v->backoff, &v->rng,
	                          VSIM_MONO0 + v->t);
}

/* The connection is gone: an open session at a live end learns it
 * (transport DOWN), both are freed, messages still on the way are void,
 * and the dialer redials while both ends are up. */
static void link_down(vsim *v, int li, int redial)
{
	vsim_link *l = &v->link[li];

	if (!l->connected)
		return;
	for (int i = 0; i < 2; i++)
		if (l->s[i] != NULL &&
		    ms_session_state_get(l->s[i]) != MS_SESSION_CLOSED)
			ms_session_lost(l->s[i], "lost", sim_now(v));
	for (int i = 0; i < 2; i++) {
		ms_session_free(&l->s[i]);
		free(l->held[i]);
		l->held[i] = NULL;
	}
	l->gen++;
	l->connected = 0;
	l->down_pending = 0;
	if (redial && v->node[l->node[0]].up && v->node[l->node[1]].up)
		schedule_dial(v, li, redial_ms(v, l));
}

/* Both ends up: a connection appears (the transport's own handshake is
 * not subject to message faults) and both sessions start. */
static void link_up(vsim *v, int li)
{
	vsim_link *l = &v->link[li];
	ms_errbuf eb = {0};

	if (l->connected || !v->node[l->node[0]].up || !v->node[l->node[1]].up)
		return;
	l->gen++;
	l->connected = 1;
	l->down_pending = 0;
	l->last_at[0] = l->last_at[1] = 0;
	for (int i = 0; i < 2; i++) {
		ms_session_conf c = {0};

		c.outbound = i == 0;
		c.user = &l->end[i];
		c.hint_id = ms_identity_pk(v->node[l->node[!i]].id);
		if (i == 1)
			memcpy(c.peer_curve, l->curve0, MS_CURVE_LEN);
		if (ms_session_new(&l->s[i], v->node[l->node[i]].env, &c,
		                   sim_now(v), &eb) != MS_OK) {
			fail(v, &eb, "session");
			return;
		}
	}
	ms_session_start(l->s[1], sim_now(v));
	ms_session_start(l->s[0], sim_now(v));
}

/* --- nodes -------------------------------------------------------------- */

/* The daemon's loop turn for one node: offer what arrived in its store
 * to its sessions, then tick them. */
static void node_turn(vsim *v, int n)
{
	vsim_node *nd = &v->node[n];
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint64_t head;

	if (!nd->up || v->failed)
		return;
	if (ms_store_read_begin(nd->store, &rt, &eb) != MS_OK) {
		fail(v, &eb, "feed");
		return;
	}
	head = ms_store_arrival_head(rt);
	if (head > nd->arrival_seen) {
		for (int k = 0; k < nd->nlinks; k++) {
			vsim_link *l = &v->link[nd->links[k]];
			int side = l->node[1] == n;
			if (l->s[side] != NULL &&
			    ms_session_offer_since(l->s[side], rt,
			                           nd->arrival_seen,
			                           &eb) != MS_OK) {
				ms_store_read_end(&rt);
				fail(v, &eb, "offer");
				return;
			}
		}
		nd->arrival_seen = head;
	}
	ms_store_read_end(&rt);
	for (int k = 0; k < nd->nlinks; k++) {
		vsim_link *l = &v->link[nd->links[k]];
		int side = l->node[1] == n;
		if (l->s[side] != NULL)
			ms_session_tick(l->s[side], sim_now(v));
	}
}

static ms_err node_open(vsim *v, int n, ms_errbuf *eb)
{
	vsim_node *nd = &v->node[n];
	ms_session_cbs cbs = {on_send, on_event, v};
	ms_store_rtxn *rt = NULL;
	ms_err e;

	if ((e = ms_store_open(&nd->store, nd->dir, &v->sopts, eb)) != MS_OK)
		return e;
	if ((e = ms_session_env_new(&nd->env, nd->store, nd->id, &v->params,
	                            &cbs, &nd->log, &nd->counters, eb)) !=
	    MS_OK)
		return e;
	if ((e = ms_store_read_begin(nd->store, &rt, eb)) != MS_OK)
		return e;
	nd->arrival_seen = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	nd->up = 1;
	return MS_OK;
}

/* Node n stops.  clean (SIGTERM): each open session says BYE(shutdown)
 * first; otherwise (SIGKILL) its sessions vanish, and their peers learn
 * it from the transport.  Its store is closed: what it committed stays. */
static void node_stop(vsim *v, int n, int clean)
{
	vsim_node *nd = &v->node[n];

	if (!nd->up)
		return;
	for (int k = 0; k < nd->nlinks; k++) {
		vsim_link *l = &v->link[nd->links[k]];
		int side = l->node[1] == n;
		if (l->s[side] == NULL)
			continue;
		if (clean &&
		    ms_session_state_get(l->s[side]) != MS_SESSION_CLOSED)
			ms_session_close(l->s[side], MS_BYE_SHUTDOWN,
			                 "node stopping", "shutdown", 0,
			                 sim_now(v));
		ms_session_free(&l->s[side]);
	}
	nd->up = 0;
	ms_session_env_free(&nd->env);
	ms_store_close(&nd->store);
	/* a killed node's peers see the connection drop at once; after a
	 * clean stop its BYE goes first (link_down runs at VE_DOWN) */
	for (int k = 0; k < nd->nlinks; k++) {
		vsim_link *l = &v->link[nd->links[k]];
		if (!clean)
			link_down(v, nd->links[k], 0);
		else if (l->connected && !l->down_pending) {
			vsim_ev *e = ev_push(v, v->t + down_delay(v), VE_DOWN);
			l->down_pending = 1;
			if (e != NULL) {
				e->link = nd->links[k];
				e->gen = l->gen;
			}
		}
	}
}

static void node_start(vsim *v, int n)
{
	vsim_node *nd = &v->node[n];
	ms_errbuf eb = {0};

	if (nd->up)
		return;
	if (node_open(v, n, &eb) != MS_OK) {
		fail(v, &eb, "restart");
		return;
	}
	for (int k = 0; k < nd->nlinks; k++) {
		vsim_link *l = &v->link[nd->links[k]];
		if (!l->connected && v->node[l->node[0]].up &&
		    v->node[l->node[1]].up)
			schedule_dial(v, nd->links[k], redial_ms(v, l));
	}
}

/* --- writes ------------------------------------------------------------- */

/* len bytes from the run's PRNG: 8 per draw, least significant first, so
 * they are the same on every machine. */
static void fill(vsim *v, uint8_t *buf, size_t len)
{
	uint64_t x = 0;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			x = ms_rng_next(&v->rng);
		buf[i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

static void do_write(vsim *v, uint32_t k)
{
	const msim_scenario *sc = v->sc;
	int w = v->writers[ms_rng_below(&v->rng, (uint64_t)v->nwriters)];
	vsim_node *nd = &v->node[w];
	char key[64];
	uint8_t val[4096];
	size_t vlen = sc->value_size < sizeof val ? sc->value_size : sizeof val;
	ms_prio prio = MS_PRIO_USER;
	ms_append_result res;
	ms_store *st = nd->store;
	ms_errbuf eb = {0};
	ms_err e;

	if (ms_rng_below(&v->rng, 1000000) < sc->shared_ppm)
		snprintf(key, sizeof key, "shared/%u",
		         (unsigned)ms_rng_below(&v->rng, VSIM_SHARED_KEYS));
	else
		snprintf(key, sizeof key, "n%d/%u", w, (unsigned)k);
	if (ms_rng_below(&v->rng, 1000000) < sc->background_ppm)
		prio = MS_PRIO_BACKGROUND;
	fill(v, val, vlen);
	/* `meshsync-node put` writes the store whether or not the node
	 * runs: a node that is down takes the write too */
	if (st == NULL &&
	    ms_store_open(&st, nd->dir, &v->sopts, &eb) != MS_OK) {
		fail(v, &eb, "write");
		return;
	}
	e = ms_store_append(st, nd->id, MS_OP_PUT, prio, (const uint8_t *)key,
	                    strlen(key), val, vlen, &res, &eb);
	if (st != nd->store)
		ms_store_close(&st);
	if (e != MS_OK) {
		fail(v, &eb, "write");
		return;
	}
	memcpy(v->written[v->nwritten++], res.id, MS_HASH_LEN);
	v->last_write_t = v->t;
	node_turn(v, w);
}

static uint64_t write_time(const msim_scenario *sc, uint32_t k)
{
	if (sc->rate == 0)
		return sc->start_ms;
	return sc->start_ms + (uint64_t)k * 1000u / sc->rate;
}

/* --- convergence -------------------------------------------------------- */

/* Every node up, holding exactly the written ops, with one state_hash. */
static int converged_now(vsim *v)
{
	uint8_t first[MS_HASH_LEN];

	for (int n = 0; n < v->sc->nodes; n++) {
		ms_store_rtxn *rt = NULL;
		ms_store_summary s;
		ms_errbuf eb = {0};
		ms_err e;

		if (!v->node[n].up)
			return 0;
		if (ms_store_read_begin(v->node[n].store, &rt, &eb) != MS_OK) {
			fail(v, &eb, "check");
			return 0;
		}
		e = ms_store_summary_get(rt, &s, &eb);
		ms_store_read_end(&rt);
		if (e != MS_OK) {
			fail(v, &eb, "check");
			return 0;
		}
		if (s.ops != v->nwritten)
			return 0;
		if (n == 0)
			memcpy(first, s.state_hash, MS_HASH_LEN);
		else if (memcmp(first, s.state_hash, MS_HASH_LEN) != 0)
			return 0;
	}
	return 1;
}

/* --- setup -------------------------------------------------------------- */

static void set_bit_ids(ms_fault_sched *s, const vsim *v, uint64_t set)
{
	s->nids = 0;
	for (int n = 0; n < v->sc->nodes && s->nids < MS_FAULT_MAX_IDS; n++)
		if (set & (1ull << n))
			memcpy(s->ids[s->nids++], ms_identity_pk(v->node[n].id),
			       MS_PK_LEN);
}

/* Node n's fault core: [faults] for every link, and the [events] that
 * cut its links as schedules naming the peers on the other side, from
 * the simulated start.  NULL when nothing applies to it. */
static int node_fault(vsim *v, int n)
{
	const msim_scenario *sc = v->sc;
	ms_fault_config c = sc->faults;
	uint64_t me = 1ull << n;

	c.seed = ms_rng_next(&v->rng) | 1; /* drawn even when unused */
	c.epoch_ms = VSIM_WALL0;
	c.nsched = 0;
	for (int i = 0; i < sc->nevents; i++) {
		const msim_event *e = &sc->ev[i];
		ms_fault_sched *s;
		uint64_t other;

		if (e->kind == MSIM_EV_PARTITION) {
			if (e->set_a & me)
				other = e->set_b;
			else if (e->set_b & me)
				other = e->set_a;
			else
				continue;
		} else if (e->kind == MSIM_EV_FLAP) {
			if (e->i == n)
				other = 1ull << e->j;
			else if (e->j == n)
				other = 1ull << e->i;
			else
				continue;
		} else {
			continue;
		}
		if (c.nsched >= MS_FAULT_MAX_SCHEDULES)
			return -1;
		s = &c.sched[c.nsched++];
		memset(s, 0, sizeof *s);
		if (e->kind == MSIM_EV_PARTITION) {
			s->kind = MS_FAULT_PARTITION;
			s->a_ms = e->t_ms;
			s->b_ms = e->end_ms;
		} else {
			s->kind = MS_FAULT_FLAP;
			s->a_ms = e->up_ms;
			s->b_ms = e->down_ms;
		}
		set_bit_ids(s, v, other);
	}
	if (!ms_fault_config_on(&c))
		return 0;
	if ((v->node[n].fault = ms_fault_new(&c, VSIM_WALL0)) == NULL)
		return -1;
	return 0;
}

/* A fresh store in workdir/vsim-NN, reusing the directory of an earlier
 * run (its files removed). */
static ms_err node_dir(vsim *v, int n, ms_errbuf *eb)
{
	vsim_node *nd = &v->node[n];
	char name[32], *f;

	snprintf(name, sizeof name, "vsim-%02d", n);
	if ((nd->dir = ms_path_join(v->o->workdir, name)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "virtual: out of memory");
	if (mkdir(nd->dir, 0700) != 0 && errno != EEXIST)
		return ms_errf(eb, MS_EIO, "mkdir %s: %s", nd->dir,
		               strerror(errno));
	for (int i = 0; i < 2; i++) {
		f = ms_path_join(nd->dir,
		                 i == 0 ? MS_STORE_DATA_FILE : "lock.mdb");
		if (f == NULL)
			return ms_errf(eb, MS_ENOMEM, "virtual: out of memory");
		if (unlink(f) != 0 && errno != ENOENT) {
			ms_err e = ms_errf(eb, MS_EIO, "unlink %s: %s", f,
			                   strerror(errno));
			free(f);
			return e;
		}
		free(f);
	}
	return MS_OK;
}

static ms_err setup(vsim *v, ms_errbuf *eb)
{
	const msim_scenario *sc = v->sc;
	ms_err e;

	if (sc->nodes < 2 || sc->nodes > MSIM_MAX_NODES)
		return ms_errf(eb, MS_EINVAL, "virtual: %d nodes", sc->nodes);
	if (v->o == NULL || v->o->workdir == NULL)
		return ms_errf(eb, MS_EINVAL, "virtual: no workdir");
	v->seed = ms_rng_seed(&v->rng, sc->seed);
	ms_store_opts_default(&v->sopts);
	v->sopts.map_initial = VSIM_MAP_INITIAL;
	v->sopts.map_max = VSIM_MAP_MAX;
	v->sopts.wall_ms = sim_wall;
	v->sopts.wall_ctx = v;
	v->sopts.verify_threads = 1;
	ms_backoff_cfg_default(&v->backoff);
	v->backoff.base_ms = VSIM_BACKOFF_BASE_MS;
	v->backoff.cap_ms = VSIM_BACKOFF_CAP_MS;
	ms_session_params_default(&v->params);
	v->params.hello_timeout_ms = VSIM_HELLO_TIMEOUT_MS;
	v->params.vv_timeout_ms = VSIM_VV_TIMEOUT_MS;
	v->params.idle_timeout_ms = VSIM_IDLE_TIMEOUT_MS;
	fill(v, v->netid, MS_NETID_LEN);
	/* identities first, from the seed */
	for (int n = 0; n < sc->nodes; n++) {
		uint8_t seed[MS_SEED_LEN];
		fill(v, seed, sizeof seed);
		e = ms_identity_from_seed(&v->node[n].id, seed, eb);
		memset(seed, 0, sizeof seed);
		if (e != MS_OK)
			return e;
	}
	for (int n = 0; n < sc->nodes; n++) {
		vsim_node *nd = &v->node[n];
		nd->log.level = v->o->verbose > 1 ? MS_LOG_DEBUG
		                                  : MS_LOG_ERROR - 1;
		if ((e = node_dir(v, n, eb)) != MS_OK)
			return e;
		if ((e = ms_store_create(nd->dir, ms_identity_pk(nd->id),
		                         v->netid, &v->sopts, eb)) != MS_OK)
			return e;
		if ((e = node_open(v, n, eb)) != MS_OK)
			return e;
		if (node_fault(v, n) != 0)
			return ms_errf(eb, MS_ENOMEM,
			               "virtual: fault core of node %d", n);
	}
	if ((v->link = calloc(VSIM_MAX_LINKS, sizeof *v->link)) == NULL ||
	    (v->written = calloc(sc->count > 0 ? sc->count : 1,
	                         sizeof *v->written)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "virtual: out of memory");
	for (int i = 0; i < sc->nodes; i++)
		for (int j = i + 1; j < sc->nodes; j++) {
			vsim_link *l;
			if (!sc->link[i][j] && !sc->link[j][i])
				continue;
			l = &v->link[v->nlinks];
			l->node[0] = i;
			l->node[1] = j;
			for (int s = 0; s < 2; s++)
				l->end[s] = (vsim_end){v, v->nlinks, s};
			if ((e = ms_ed25519_pk_to_curve(l->curve0,
			                                ms_identity_pk(
								v->node[i].id),
			                                eb)) != MS_OK)
				return e;
			v->node[i].links[v->node[i].nlinks++] = v->nlinks;
			v->node[j].links[v->node[j].nlinks++] = v->nlinks;
			v->nlinks++;
		}
	for (int n = 0; n < sc->nodes; n++)
		if (sc->writers == 0 || (sc->writers & (1ull << n)))
			v->writers[v->nwriters++] = n;
	if (v->nwriters == 0)
		return ms_errf(eb, MS_EINVAL, "virtual: no writer");
	v->last_heal_ms = msim_scenario_last_heal_ms(sc);
	/* the mesh comes up: every link dials within its first 100 ms */
	for (int li = 0; li < v->nlinks; li++)
		schedule_dial(v, li, ms_rng_below(&v->rng, 100));
	if (sc->count > 0) {
		vsim_ev *ev = ev_push(v, write_time(sc, 0), VE_WRITE);
		if (ev != NULL)
			ev->arg = 0;
	}
	for (int i = 0; i < sc->nevents; i++) {
		int k = sc->ev[i].kind;
		if (k == MSIM_EV_KILL || k == MSIM_EV_RESTART ||
		    k == MSIM_EV_TERM) {
			vsim_ev *ev = ev_push(v, sc->ev[i].t_ms, VE_SCENARIO);
			if (ev != NULL)
				ev->arg = i;
		}
	}
	ev_push(v, VSIM_TICK_MS, VE_TICK);
	return v->failed ? v->err.code : MS_OK;
}

/* --- the loop ----------------------------------------------------------- */

static int run_event(vsim *v, vsim_ev *e)
{
	const msim_scenario *sc = v->sc;
	vsim_link *l;

	switch (e->kind) {
	case VE_DELIVER:
		l = &v->link[e->link];
		if (e->gen == l->gen && l->connected && l->s[e->side] != NULL) {
			ms_session_recv(l->s[e->side], e->buf, e->len,
			                sim_now(v));
			node_turn(v, l->node[e->side]);
		}
		free(e->buf);
		break;
	case VE_RELEASE: {
		int from = !e->side;
		uint64_t at = v->t;
		l = &v->link[e->link];
		if (l->held[from] == NULL || l->held_no[from] != e->no)
			break; /* it went out behind a later message */
		if (at < l->last_at[from])
			at = l->last_at[from];
		l->last_at[from] = at;
		deliver_at(v, e->link, e->side, l->held_gen[from], at,
		           l->held[from], l->held_len[from]);
		l->held[from] = NULL;
		break;
	}
	case VE_DOWN:
		if (e->gen == v->link[e->link].gen)
			link_down(v, e->link, 1);
		break;
	case VE_DIAL:
		link_up(v, e->link);
		break;
	case VE_WRITE:
		do_write(v, (uint32_t)e->arg);
		if ((uint32_t)e->arg + 1 < sc->count) {
			vsim_ev *n = ev_push(v,
			                     write_time(sc,
			                                (uint32_t)e->arg + 1),
			                     VE_WRITE);
			if (n != NULL)
				n->arg = e->arg + 1;
		}
		break;
	case VE_SCENARIO: {
		const msim_event *se = &sc->ev[e->arg];
		if (se->i < 0 || se->i >= sc->nodes)
			break;
		if (se->kind == MSIM_EV_KILL)
			node_stop(v, se->i, 0);
		else if (se->kind == MSIM_EV_TERM)
			node_stop(v, se->i, 1);
		else
			node_start(v, se->i);
		break;
	}
	case VE_TICK:
		for (int n = 0; n < sc->nodes; n++)
			node_turn(v, n);
		if (v->t >= v->last_heal_ms && v->nwritten == sc->count &&
		    converged_now(v)) {
			v->converged = 1;
			v->converged_t = v->t;
			return 1;
		}
		if (v->t >= v->last_heal_ms + sc->deadline_ms)
			return 1;
		ev_push(v, v->t + VSIM_TICK_MS, VE_TICK);
		break;
	}
	return 0;
}

/* Does node n's store hold op id?  Opened for the question when down. */
static int holds(vsim *v, int n, const uint8_t id[MS_HASH_LEN], ms_store *st)
{
	ms_store_rtxn *rt = NULL;
	ms_log_entry le;
	ms_errbuf eb = {0};
	ms_err e;

	if (ms_store_read_begin(st, &rt, &eb) != MS_OK) {
		fail(v, &eb, "check");
		return 0;
	}
	e = ms_store_get_op(rt, id, &le, &eb);
	ms_store_read_end(&rt);
	(void)n;
	return e == MS_OK;
}

static void measure(vsim *v, msim_result *r)
{
	const msim_scenario *sc = v->sc;
	ms_store *st[MSIM_MAX_NODES] = {0};
	int opened[MSIM_MAX_NODES] = {0};
	static const char hex[] = "0123456789abcdef";

	r->converged = v->converged;
	r->seconds_to_converge = v->converged ? (double)(v->converged_t -
	                                                 v->last_heal_ms) /
	                                                1000.0
	                                      : 0.0;
	r->ops_written = v->nwritten;
	r->bytes_sent = v->bytes_sent;
	r->op_transfers = v->op_transfers;
	r->min_transfers = (uint64_t)v->nwritten * (uint64_t)(sc->nodes - 1);
	for (int n = 0; n < sc->nodes; n++) {
		ms_errbuf eb = {0};
		st[n] = v->node[n].store;
		if (st[n] == NULL) {
			if (ms_store_open(&st[n], v->node[n].dir, &v->sopts,
			                  &eb) != MS_OK) {
				fail(v, &eb, "check");
				goto done;
			}
			opened[n] = 1;
		}
	}
	for (uint32_t k = 0; k < v->nwritten; k++) {
		int all = 1;
		for (int n = 0; n < sc->nodes && all; n++)
			all = holds(v, n, v->written[k], st[n]);
		r->ops_everywhere += all;
	}
	r->missing = r->ops_written - r->ops_everywhere;
	for (int n = 0; n < sc->nodes; n++) {
		ms_store_rtxn *rt = NULL;
		uint8_t h[MS_HASH_LEN];
		ms_errbuf eb = {0};

		if (ms_store_read_begin(st[n], &rt, &eb) != MS_OK ||
		    ms_store_state_hash(rt, h, &eb) != MS_OK) {
			ms_store_read_end(&rt);
			fail(v, &eb, "state_hash");
			goto done;
		}
		ms_store_read_end(&rt);
		for (int i = 0; i < MS_HASH_LEN; i++) {
			r->state_hash[n][2 * i] = hex[h[i] >> 4];
			r->state_hash[n][2 * i + 1] = hex[h[i] & 15];
		}
		r->state_hash[n][64] = '\0';
	}
	if (r->missing > 0)
		r->converged = 0;
done:
	for (int n = 0; n < sc->nodes; n++)
		if (opened[n])
			ms_store_close(&st[n]);
	for (int n = 0; n < sc->nodes; n++) {
		ms_fault_stats fs;
		if (v->node[n].fault == NULL)
			continue;
		ms_fault_stats_get(v->node[n].fault, &fs);
		r->faults.seen += fs.seen;
		r->faults.dropped += fs.dropped;
		r->faults.cut += fs.cut;
		r->faults.duplicated += fs.duplicated;
		r->faults.corrupted += fs.corrupted;
		r->faults.reordered += fs.reordered;
		r->faults.delayed += fs.delayed;
		r->faults.queue_full += fs.queue_full; /* 0: no queue here */
	}
}

static void teardown(vsim *v)
{
	for (int li = 0; li < v->nlinks; li++) {
		vsim_link *l = &v->link[li];
		for (int i = 0; i < 2; i++) {
			ms_session_free(&l->s[i]);
			free(l->held[i]);
		}
	}
	for (size_t i = 0; i < v->nheap; i++)
		free(v->heap[i].buf); /* messages never delivered */
	free(v->heap);
	for (int n = 0; n < MSIM_MAX_NODES; n++) {
		vsim_node *nd = &v->node[n];
		ms_session_env_free(&nd->env);
		ms_store_close(&nd->store);
		ms_fault_free(nd->fault);
		ms_identity_free(&nd->id);
		free(nd->dir);
	}
	free(v->link);
	free(v->written);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

ms_err msim_run_virtual(const msim_scenario *sc, const msim_virtual_opts *o,
                        msim_result *r, ms_errbuf *eb)
{
	vsim *v = calloc(1, sizeof *v);
	double wall0 = mono_s();
	uint64_t nev = 0;
	ms_err e;

	memset(r, 0, sizeof *r);
	r->mode = "virtual";
	if (v == NULL)
		return ms_errf(eb, MS_ENOMEM, "virtual: out of memory");
	v->sc = sc;
	v->o = o;
	if ((e = setup(v, eb)) != MS_OK)
		goto out;
	r->seed = v->seed;
	while (v->nheap > 0 && !v->failed && nev++ < VSIM_MAX_EVENTS) {
		vsim_ev ev = ev_pop(v);
		v->t = ev.t;
		if (run_event(v, &ev) != 0)
			break;
	}
	if (!v->failed)
		measure(v, r);
	if (v->failed) {
		e = v->err.code != MS_OK ? v->err.code : MS_ESTORE;
		if (eb != NULL)
			*eb = v->err;
		goto out;
	}
	if (o->verbose)
		fprintf(stderr,
		        "meshsim: virtual seed=%" PRIu64 " t=%" PRIu64
		        "ms events=%" PRIu64 " converged=%d missing=%" PRIu64
		        "\n",
		        v->seed, v->t, nev, r->converged, r->missing);
	e = MS_OK;
out:
	r->seed = v->seed;
	teardown(v);
	free(v);
	r->wall_seconds = mono_s() - wall0;
	return e;
}
