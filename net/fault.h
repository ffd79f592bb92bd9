/*
 * fault.h — the fault layer: what happens to each message on a link when
 * faults are on (drop, delay with jitter, duplicate, corrupt, reorder, and
 * schedules that cut links: partitions and flapping), decided by a seeded
 * PRNG so a run replays exactly.
 *
 * Two halves:
 *  - the core (ms_fault_*): a sans-I/O policy.  Given a peer, the time
 *    and a message, it says what to do with it (ms_fault_verdict).  No
 *    socket, no clock: the daemon's transport glue and meshsim's virtual
 *    links (tools/meshsim --virtual) both call it, so a scenario's faults
 *    mean the same thing on real processes and in the simulator.
 *  - the transport glue (ms_fault_attach): wraps a transport's
 *    ms_link_ops, the one place all traffic passes, applying verdicts and
 *    holding delayed messages until due (ms_fault_tick).
 *
 * Configured by a `[faults]` section of the node's config or the
 * environment variable MESHSYNC_FAULTS (same keys, `key=value` separated
 * by `;`), docs/config.md.  Off by default, and free when off: with no
 * fault configured nothing is wrapped.
 *
 * Keys (ms_fault_config):
 *   seed = N            PRNG seed (0 or absent: picked, and logged)
 *   drop = P            probability 0..1 a message is dropped
 *   duplicate = P       ... delivered twice
 *   corrupt = P         ... has 1..4 bytes flipped (after the header too)
 *   reorder = P         ... is held back behind the next message
 *   delay = D           added delay (ms, or 100ms, 2s ...)
 *   jitter = D          uniform extra delay in [-jitter, +jitter]
 *   epoch = T           unix time in ms that schedules count from
 *                       (absent: when the fault layer starts)
 *   partition = A B [ID ...]   from A to B after epoch (durations), every
 *                       message to or from the listed node ids (64 hex),
 *                       or all peers when none is listed, is dropped
 *   flap = UP DOWN [ID ...]    links to the listed peers (or all) are up
 *                       for UP, then down for DOWN, repeating from epoch
 * partition and flap may repeat (at most MS_FAULT_MAX_SCHEDULES).
 *
 * Thread rules: one thread (the event loop's, or the simulator's).
 */
#ifndef MS_FAULT_H
#define MS_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "ms_err.h"
#include "rng.h"

#define MS_FAULT_MAX_SCHEDULES 32 /* partition and flap lines */
#define MS_FAULT_MAX_IDS 64       /* node ids named by one schedule line */
#define MS_FAULT_ENV "MESHSYNC_FAULTS"

typedef enum ms_fault_sched_kind {
	MS_FAULT_PARTITION = 1, /* down from a_ms to b_ms */
	MS_FAULT_FLAP = 2,      /* up a_ms, down b_ms, repeating */
} ms_fault_sched_kind;

typedef struct ms_fault_sched {
	int kind;      /* ms_fault_sched_kind */
	uint64_t a_ms; /* partition: start; flap: up time */
	uint64_t b_ms; /* partition: end; flap: down time */
	uint32_t nids; /* 0: every peer */
	uint8_t ids[MS_FAULT_MAX_IDS][MS_PK_LEN];
} ms_fault_sched;

/* Probabilities are parts per million, so decisions are exact integers. */
typedef struct ms_fault_config {
	uint64_t seed;
	uint32_t drop_ppm, duplicate_ppm, corrupt_ppm, reorder_ppm;
	uint64_t delay_ms, jitter_ms;
	uint64_t epoch_ms; /* wall ms; 0 = when started */
	uint32_t nsched;
	ms_fault_sched sched[MS_FAULT_MAX_SCHEDULES];
} ms_fault_config;

/* All zero: no fault. */
void ms_fault_config_default(ms_fault_config *c);
/* 1 when c configures any fault (probability, delay or schedule). */
int ms_fault_config_on(const ms_fault_config *c);
/*
 * Set one key (as above) from its text value.  0 ok; -1 for an unknown
 * key, -2 for a bad value, with the reason in eb ("bad value 'x' for
 * drop (a probability from 0 to 1)").  The config parser and the
 * environment reader both use it.
 */
int ms_fault_config_set(ms_fault_config *c, const char *key, const char *value,
                        ms_errbuf *eb);
/* Parse MESHSYNC_FAULTS-style text "k=v;k=v" into c (on top of what it
 * holds).  MS_OK, or MS_EINVAL with the key and reason in eb. */
ms_err ms_fault_config_parse(ms_fault_config *c, const char *text,
                             ms_errbuf *eb);
/* One line describing c for logs and node-inspect summary
 * ("seed=7 drop=0.3 delay=100ms jitter=50ms partitions=1"). */
void ms_fault_config_describe(const ms_fault_config *c, char *buf, size_t cap);
/* 1 when a and b configure the same faults (field by field: a reload
 * compares the running config with the new one). */
int ms_fault_config_equal(const ms_fault_config *a, const ms_fault_config *b);

/* --- the core ------------------------------------------------------------ */

typedef struct ms_fault ms_fault;

/* What to do with one message. */
typedef struct ms_fault_verdict {
	int drop;          /* 1: never delivered */
	int copies;        /* 1, or 2 when duplicated */
	uint64_t delay_ms; /* deliver this much later (each copy) */
	int hold;          /* reorder: deliver after the next message */
	int ncorrupt;      /* bytes to flip, at offsets below */
	size_t corrupt_at[4];
	uint8_t corrupt_xor[4]; /* never 0 */
} ms_fault_verdict;

/* Counters (node-inspect stats as fault_*). */
typedef struct ms_fault_stats {
	uint64_t seen, dropped, cut, duplicated, corrupted, reordered, delayed;
	/* the transport glue: messages dropped because the delay queue was
	 * at MS_FAULT_QUEUE_MAX messages or MS_FAULT_QUEUE_BYTES */
	uint64_t queue_full;
} ms_fault_stats;

/* A fault core for c, started at wall time start_wall_ms (the epoch when
 * c->epoch_ms is 0).  NULL on allocation failure. */
ms_fault *ms_fault_new(const ms_fault_config *c, uint64_t start_wall_ms);
void ms_fault_free(ms_fault *f);
/* The seed in use (c->seed, or the one picked): log it to replay. */
uint64_t ms_fault_seed(const ms_fault *f);

/*
 * Decide the fate of a message of len bytes to or from peer (its node
 * id, or NULL when not yet known: schedules naming ids then do not apply,
 * those for all peers do) at wall time now_wall_ms.  Draws from the PRNG
 * in a fixed order, so the same seed and the same sequence of calls give
 * the same verdicts.
 */
void ms_fault_decide(ms_fault *f, const uint8_t *peer, uint64_t now_wall_ms,
                     size_t len, ms_fault_verdict *v);
/* 1 when a schedule cuts the link to peer at now_wall_ms. */
int ms_fault_cut(const ms_fault *f, const uint8_t *peer, uint64_t now_wall_ms);
void ms_fault_stats_get(const ms_fault *f, ms_fault_stats *out);

/* --- the transport glue (net/fault_link.c) -------------------------------- */

struct ms_transport; /* net/transport.h */
struct ms_conn;

/* Budget of the delay queue (messages held for delay or reorder, both
 * directions): beyond either, a message is dropped and counted
 * (queue_full), as a router's full queue would. */
#define MS_FAULT_QUEUE_MAX 4096
#define MS_FAULT_QUEUE_BYTES ((size_t)64 << 20)
/* A message held for reorder goes out behind the next message on its
 * connection, or on its own this long (plus its delay) after it was held
 * when no next message comes. */
#define MS_FAULT_HOLD_MS 500

/*
 * What the glue asks its owner (called from inside the transport's
 * callbacks, on the loop's thread):
 *  - peer_id: the node id on connection c, or NULL when not known yet
 *    (NULL callback: never known).  When NULL for an inbound connection,
 *    the glue compares the dialer's CURVE key with the keys of the node
 *    ids the schedules name (ms_ed25519_pk_to_curve), so a listed peer
 *    is recognised from its first message.
 *  - now_ms: wall time in ms (required): the time verdicts and the
 *    schedules are judged at.
 */
typedef struct ms_fault_link_cbs {
	const uint8_t *(*peer_id)(void *ctx, const struct ms_conn *c);
	uint64_t (*now_ms)(void *ctx);
	void *ctx;
} ms_fault_link_cbs;

/*
 * Wrap t's send and receive path (ms_transport_ops_get/_set) so that
 * every message is judged by ms_fault_decide: dropped, sent or delivered
 * twice, with bytes flipped, held behind the next message of its
 * connection, or queued until its delay is over.  Delay and jitter never
 * reorder the messages of one connection and direction (a TCP stream
 * would not); only reorder does.  A delayed send reports MS_OK at once.
 * Call ms_fault_tick every loop turn.  One transport per fault; t must
 * outlive the attachment: ms_fault_detach before ms_transport_free, or
 * free the transport first and the fault after (the transport calls
 * nothing while being freed).  MS_EINVAL (already attached, no now_ms),
 * MS_ENOMEM.
 */
ms_err ms_fault_attach(ms_fault *f, struct ms_transport *t,
                       const ms_fault_link_cbs *cbs, ms_errbuf *eb);
/* Put the transport's own table back and drop what is queued. */
void ms_fault_detach(ms_fault *f);
/*
 * Send and deliver every queued message due at now_wall_ms, in due order
 * (UINT64_MAX: everything, e.g. before stopping).  A send the transport
 * refuses with MS_EBUSY stays queued (with those behind it on its
 * connection) and is tried again 10 ms later; one whose connection is
 * gone is dropped.  Returns how many left the queue.
 */
int ms_fault_tick(ms_fault *f, uint64_t now_wall_ms);
/* Wall time of the next queued message, UINT64_MAX when none: the loop's
 * poll timeout must not run past it. */
uint64_t ms_fault_next_due(const ms_fault *f);

#endif
