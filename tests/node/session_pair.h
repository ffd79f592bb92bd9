/*
 * session_pair.h — two sync sessions (node/session) joined by an in-memory
 * link inside one test process, each with a real store in a temporary
 * directory: side 0 dialled (outbound), side 1 listened.
 *
 * The link keeps each direction in order (as one ZeroMQ connection does);
 * which direction delivers next, and how far the simulated clock moves, is
 * drawn from a PRNG seeded by the test (MS_TEST_SEED overrides it), so a
 * failing run replays exactly: every assertion prints the seed.
 *
 * A side may also be given a link that fills up (busy_after: the send
 * callback says MS_EBUSY once that many messages wait), or one that fails
 * (fail_send), and raw bytes can be injected as if the other side sent
 * them, for the misbehaving-peer tests.
 */
#ifndef MS_SESSION_PAIR_H
#define MS_SESSION_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "log.h"
#include "rng.h"
#include "session.h"
#include "store.h"

#define SP_MAX_STATES 16

typedef struct sp_msg {
	struct sp_msg *next;
	size_t len;
	uint8_t buf[];
} sp_msg;

typedef struct sp_side {
	char *dir;
	ms_identity *id;
	ms_store *store;
	ms_log log;
	ms_counters counters;
	ms_session_env *env;
	ms_session *s;
	/* what it sent that the other side has not received yet */
	sp_msg *head, *tail;
	size_t inflight;
	size_t busy_after; /* 0: never busy */
	int fail_send;     /* 1: the next send fails (link gone) */
	uint64_t msgs_sent, bytes_sent;
	/* events seen */
	int identified;
	uint8_t peer_id[MS_PK_LEN];
	ms_session_state states[SP_MAX_STATES];
	size_t nstates;
	size_t peers_msgs;
	int ended;
	char end_reason[64];
	char end_detail[64];
	int end_failed, end_bye, end_self;
	ms_session_summary sum;
} sp_side;

typedef struct sp_pair {
	sp_side side[2];
	int keep_dirs; /* sp_init_at: the caller's dirs stay after sp_free */
	ms_rng rng;
	uint64_t seed;
	ms_time now;
	size_t delivered;
} sp_pair;

/* Two stores with identities from seed bytes ida, idb (as store_fix's
 * fix_identity), and session environments with params (NULL: defaults).
 * seed drives delivery order unless MS_TEST_SEED is set. */
void sp_init(sp_pair *p, const char *tag, uint8_t ida, uint8_t idb,
             uint64_t seed, const ms_session_params *params);

/* The same with the stores in base/a and base/b (created here, kept by
 * sp_free) and without the session environments: sp_env makes them.  For
 * the allocation-failure loop, which wants every fallible call to return
 * its error instead of asserting. */
void sp_init_at(sp_pair *p, const char *base, uint8_t ida, uint8_t idb,
                uint64_t seed);
ms_err sp_env(sp_pair *p, const ms_session_params *params, ms_errbuf *eb);

/* New sessions on both sides and start (the dialer sends HELLO). */
void sp_open(sp_pair *p);
/* The same, returning the error of ms_session_new instead of asserting. */
ms_err sp_open_e(sp_pair *p, ms_errbuf *eb);

/* Deliver one message (direction drawn from the PRNG), then tick both
 * sessions.  0 when nothing was in flight and the ticks sent nothing. */
int sp_step(sp_pair *p);

/* Step until quiet; returns the messages delivered, or -1 when max_steps
 * passed first. */
long sp_run(sp_pair *p, size_t max_steps);

/* Hand raw bytes to side `to` as if the other side had sent them. */
void sp_inject(sp_pair *p, int to, const void *buf, size_t len);

/* Move the simulated clock forward. */
void sp_advance(sp_pair *p, uint64_t ms);

/* A local write on side i (user or background priority). */
void sp_put(sp_pair *p, int i, const char *key, const char *value, int prio);

/* Offer what arrived in side i's store since `after` to its session (as
 * the daemon's arrival feed does); returns the new arrival head. */
uint64_t sp_feed(sp_pair *p, int i, uint64_t after);

/* Side i's state_hash / op count. */
void sp_state_hash(sp_pair *p, int i, uint8_t out[MS_HASH_LEN]);
uint64_t sp_ops(sp_pair *p, int i);

/* Free sessions (if still there), environments, stores; remove the dirs. */
void sp_free(sp_pair *p);

#endif
