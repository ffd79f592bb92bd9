/*
 * session.h — one sync session (docs/protocol.md §5) as a state machine
 * without I/O: the caller feeds it received messages, time and offers of
 * new ops; it answers with messages to send and events, through the
 * callbacks of its environment.  It opens no socket, reads no clock and
 * knows neither the daemon, the transport nor the peer table, so the same
 * code runs in the daemon, over an in-memory link in a unit test, under a
 * fuzzer and in a simulator.  Its only other input is the store it reads
 * and writes (ops received, peer_vv).
 *
 * What lives here: HELLO and the listener's proof (§4), the digest
 * comparison and VV rounds (§5.2, §5.3 with the extra round of rule 4),
 * what the peer lacks (store/lacking), the send queue ordered user priority
 * first (node/sendq), OPS batches under the credit the peer grants and the
 * ACKs we grant (§5.4), forks and equivocation replies, live push of offered
 * ops, BYE, and PEERS in both directions (the content of PEERS is peer
 * exchange's business: node/pex).  Every session ends with one processing
 * summary (the MS-SYNC-SUMMARY log line and the ENDED event).
 *
 * Lifetime: ms_session_new, then ms_session_start (the dialer sends HELLO),
 * then any number of ms_session_recv / _tick / _offer / _send_peers, until
 * the session closes itself (refusal, BYE, send failure) or the owner calls
 * ms_session_close or ms_session_lost; either way exactly one ENDED event is
 * delivered, after which every call is a no-op.  ms_session_free releases
 * it; never from inside one of its callbacks.
 *
 * Callbacks run inside the call that caused them and may call back into
 * the session (ms_session_close from an event is fine); the session checks
 * whether it was closed after each one.
 *
 * Thread rules: a session and its environment belong to one thread.
 */
#ifndef MS_SESSION_H
#define MS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "log.h"
#include "ms_clock.h"
#include "store.h"
#include "arrival.h"
#include "lacking.h"
#include "peer_vv.h"
#include "peers.h"
#include "vector.h"
#include "wire.h"

typedef struct ms_session ms_session;
typedef struct ms_session_env ms_session_env;

typedef enum ms_session_state {
	MS_SESSION_HELLO = 0, /* waiting for the peer's HELLO */
	MS_SESSION_SYNC,      /* vectors and backlog being exchanged */
	MS_SESSION_LIVE,      /* initial sync done: pushing new ops */
	MS_SESSION_CLOSED,    /* over: the ENDED event was delivered */
} ms_session_state;

#define MS_SESSION_MAX_ENDPOINTS 8 /* endpoints announced in HELLO */

/* What every session of a node shares; a SIGHUP may change it
 * (ms_session_env_set_params: new batches and grants use it). */
typedef struct ms_session_params {
	uint32_t batch_ops;   /* ops per OPS batch, 1..MS_WIRE_MAX_OPS */
	uint32_t credit;      /* ops granted per ACK, 1..MS_WIRE_MAX_OPS */
	uint64_t max_message; /* largest message built, bytes; capped at
	                         MS_WIRE_MAX_MSG */
	uint32_t max_value;   /* value bound when decoding received ops */
	/* our listen endpoints, announced in HELLO (wildcards are skipped) */
	char endpoints[MS_SESSION_MAX_ENDPOINTS][MS_WIRE_MAX_ENDPOINT_LEN + 1];
	size_t nendpoints;
	/* Budgets ([limits]; docs/security.md).  0 means the default. */
	uint32_t vv_entries;       /* session_vv_entries: entries of one vector
	                              round for authors we do not hold */
	uint64_t hello_timeout_ms; /* hello_timeout: HELLO not completed */
	uint64_t vv_timeout_ms;    /* vv_timeout: the peer's first vector not
	                              complete after HELLO */
	uint64_t idle_timeout_ms;  /* idle_timeout: nothing from a peer that
	                              owes us a message (an ACK, or anything
	                              while the initial sync runs) */
	uint64_t memory;           /* session_memory: bytes one session holds */
	uint64_t memory_total;     /* sessions_memory_total: all sessions */
	uint32_t lacking_window;   /* ids of what the peer lacks queued at
	                              once (0: MS_SESSION_LACKING_WINDOW; tests
	                              make it small) */
} ms_session_params;

/* 256-op batches, four in flight: the receiver verifies one on both
 * cores while the next ones arrive.  Catch-up of 100,000 small ops cost
 * the receiver about the same CPU per op at 256, 512 and 1024 ops a
 * batch (within 5%), so the smaller batch, which keeps more in flight
 * and ACKs sooner, stays. */
#define MS_SESSION_DEFAULT_BATCH_OPS 256 /* [sync] batch_ops */
#define MS_SESSION_DEFAULT_CREDIT 1024   /* [sync] credit */

/* Authors we hold are always allowed in the peer's vector (they are the
 * only entries kept); this many others per vector round are read and
 * dropped, one more is BYE(budget session_vv_entries).  A mesh of a few
 * hundred nodes has a few hundred authors, so a peer knowing a few
 * thousand we never saw is far beyond any real one. */
#define MS_SESSION_VV_ENTRIES_DEFAULT 4096u
#define MS_SESSION_HELLO_TIMEOUT_DEFAULT_MS 10000u /* hello_timeout */
#define MS_SESSION_VV_TIMEOUT_DEFAULT_MS 60000u    /* vv_timeout */
/* Long enough for a full 8 MiB OPS message on a 1 Mbit/s link; a peer
 * that owes nothing (live, nothing in flight) is never idle: the transport's
 * keepalives ([net] heartbeat_timeout) judge that link. */
#define MS_SESSION_IDLE_TIMEOUT_DEFAULT_MS 120000u
/* Per session: the peer's vector, the send queue of ids (what the peer
 * lacks, a window of MS_SESSION_LACKING_WINDOW at a time, and new ops
 * offered while live), the ids known to be held, batches in flight and
 * queued output. */
#define MS_SESSION_MEMORY_DEFAULT (64ull << 20)
#define MS_SESSION_MEMORY_TOTAL_DEFAULT (256ull << 20)
/* Ids of what the peer lacks queued at once (48 bytes each: 3 MiB); the
 * next window is read from the store when the queue has drained. */
#define MS_SESSION_LACKING_WINDOW (1u << 16)
/* The ids a session remembers as held by the peer (no op crosses a link
 * twice); beyond this the set starts over, which only risks a duplicate
 * send (peer_vv still filters most).  4 MiB of table. */
#define MS_SESSION_KNOWN_MAX (1u << 16)
/* Ops a session offers again after its peer's ACK showed it did not take
 * them (an op damaged on the way and rejected), each at most once: a
 * peer that refuses an op for good cannot make us send it forever.
 * Beyond this the session stops offering again (budget `reoffers`); the
 * next session sends what is still missing. */
#define MS_SESSION_REOFFER_MAX 4096u
/* Bytes of OPS a session keeps unacknowledged at most, whatever credit
 * the peer grants (one full message's worth): what waits in ZeroMQ's
 * queue for one slow or stalled peer.  Batches of small ops meet the
 * credit first: credit / batch_ops messages in flight (four at the
 * defaults), enough that the receiver has the next batch as soon as it
 * committed one; only batches of large values (over about 2 MiB a
 * batch) are held to fewer.  Doubling it would let such batches overlap
 * too, at up to 16 MiB of queued bytes per peer (docs/security.md). */
#define MS_SESSION_TX_WINDOW_BYTES MS_WIRE_MAX_MSG
/* The same over all sessions (sessions_tx_total): once this many bytes
 * wait unacknowledged in all, only a session with nothing in flight may
 * send, one op at a time; peers that stop reading therefore hold this
 * plus one op each until their sessions end at idle_timeout. */
#define MS_SESSION_TX_TOTAL_BYTES (16u << 20)

/* Defaults: the batch and credit above, max_message MS_WIRE_MAX_MSG,
 * values up to MS_OP_DEFAULT_MAX_VALUE, no endpoints, the budgets'
 * defaults above. */
void ms_session_params_default(ms_session_params *p);

typedef enum ms_session_event_kind {
	MS_SESSION_EV_IDENTIFIED = 1, /* the peer's node id is proven (u.id) */
	MS_SESSION_EV_STATE,          /* the state changed (u.state) */
	MS_SESSION_EV_PEERS,          /* the peer sent PEERS (u.peers) */
	MS_SESSION_EV_ENDED,          /* the session is over (u.end) */
} ms_session_event_kind;

/* How a session ended. */
typedef struct ms_session_end {
	const char *reason; /* the summary's end reason: "bye-normal", "proto",
	                       "auth", "version", "lost", "shutdown", "self",
	                       "send-failed", "local-error", "store",
	                       "budget", "timeout", ... */
	const char *detail; /* why we refused the peer ("bad_proof",
	                       "batch_order", a budget's name, ...), NULL
	                       when we did not */
	int bye_sent;       /* the ms_wire_bye_reason we sent, -1 for none */
	int failed;         /* counts as a failed attempt (backoff) */
	int self;           /* the far end is this node (a dial to ourselves) */
	const ms_session_summary *summary; /* counters, end_reason, times */
} ms_session_end;

typedef struct ms_session_event {
	ms_session_event_kind kind;
	union {
		struct {
			const uint8_t *node_id; /* MS_PK_LEN bytes */
			const ms_wire_bytes
				*endpoints; /* as the peer announced */
			size_t nendpoints;
		} id;
		ms_session_state state;
		const ms_wire_peers *peers; /* claims, not checked (§5.5) */
		ms_session_end end;
	} u;
} ms_session_event;

/*
 * The owner's side.  Pointers passed are valid only during the call.
 *  - send: take one encoded message for the link.  MS_OK: taken.
 *    MS_EBUSY: the link is full; the session keeps it (and everything after
 *    it) and offers it again at the next ms_session_tick.  Anything else:
 *    the link is gone; the session ends ("send-failed").
 *  - event: see ms_session_event_kind.
 */
typedef struct ms_session_cbs {
	ms_err (*send)(void *ctx, ms_session *s, const uint8_t *buf, size_t len,
	               ms_errbuf *eb);
	void (*event)(void *ctx, ms_session *s, const ms_session_event *ev);
	void *ctx;
} ms_session_cbs;

/*
 * The environment sessions share: the store, our identity (HELLO proof;
 * our transport key is derived from it), the parameters, the log, the
 * counters, the callbacks, and the encode/decode buffers (about 8 MiB,
 * shared because one thread runs every session).  store, id, log and
 * counters are borrowed: they must outlive the environment.
 * Errors: MS_EINVAL, MS_ENOMEM, MS_ECRYPTO.
 */
ms_err ms_session_env_new(ms_session_env **out, ms_store *store,
                          const ms_identity *id, const ms_session_params *p,
                          const ms_session_cbs *cbs, const ms_log *log,
                          ms_counters *counters, ms_errbuf *eb);
/* Free the environment (every session of it freed first); NULL allowed. */
void ms_session_env_free(ms_session_env **envp);
/* Replace the parameters (bounds are clamped as in ms_session_env_new). */
void ms_session_env_set_params(ms_session_env *env, const ms_session_params *p);
/* Bytes all open sessions of env hold, as counted for session_memory. */
uint64_t ms_session_env_memory(const ms_session_env *env);
/*
 * on = 1: what a peer is learnt to hold (peer_vv, from the ops it sends,
 * its ACKs and vectors) is no longer written to the store at once, in a
 * synced commit of its own between a received batch and what the turn
 * sends next (the relay of that batch, the ACK), but kept in env until
 * ms_session_env_flush_peer_vv, which the owner calls once its turn has
 * sent.  Sessions read the waiting raises as if written (an op a peer sent
 * on one session is not offered back on another to that peer).  Only
 * peer_vv waits; ops are committed as before.  Losing waiting raises (a
 * crash) costs resends, never data.  Off by default.
 */
void ms_session_env_defer_peer_vv(ms_session_env *env, int on);
/* Write the waiting peer_vv raises: one commit per session that has some
 * (a failure is logged; those raises are dropped: resends).  Cheap when
 * none wait.  ms_session_free writes a session's own first. */
void ms_session_env_flush_peer_vv(ms_session_env *env);

/* Per-session settings. */
typedef struct ms_session_conf {
	int outbound; /* 1: we dialled (we send HELLO first, the peer proves
	                 its id); 0: the peer dialled us */
	/* inbound: the dialer's Curve25519 key as the handshake proved it */
	uint8_t peer_curve[MS_CURVE_LEN];
	/* for log lines until HELLO: who we expect (never trusted); NULL */
	const uint8_t *hint_id;
	void *user; /* the owner's pointer (ms_session_user) */
} ms_session_conf;

/* A new session in state HELLO; nothing is sent yet.  MS_ENOMEM. */
ms_err ms_session_new(ms_session **out, ms_session_env *env,
                      const ms_session_conf *c, ms_time now, ms_errbuf *eb);

/* Start: a dialer sends its HELLO now; a listener waits for the peer's.
 * If HELLO cannot be built (store error) the session ends
 * ("local-error", failed). */
void ms_session_start(ms_session *s, ms_time now);

/* One message received on the link. */
void ms_session_recv(ms_session *s, const uint8_t *buf, size_t len,
                     ms_time now);

/* Time passes and the link may have room: send what waited, build the OPS
 * batches the credit allows, finish the initial sync when it is done.
 * Cheap when there is nothing to do: call it every loop turn. */
void ms_session_tick(ms_session *s, ms_time now);

/* Live push: queue every op that arrived in the store after arrival
 * number `after` (in rt's snapshot, see store/arrival.h) unless the peer is
 * known to hold it (sent or received on this link, or its peer_vv); the
 * next ticks send them.  A no-op while the session is not ready.  MS_OK,
 * or the store's error (eb) when the feed could not be read. */
ms_err ms_session_offer_since(ms_session *s, ms_store_rtxn *rt, uint64_t after,
                              ms_errbuf *eb);

/* Send PEERS (peer exchange) on an identified session.  0, or -1 when the
 * session is not identified or closed, or the message cannot be built. */
int ms_session_send_peers(ms_session *s, const ms_wire_peers *m);

/*
 * End the session: send BYE(bye_reason) unless bye_reason < 0 (output
 * queued before it goes first, as far as the link takes it), log the
 * summary and deliver ENDED with end reason `end` and `failed`.
 */
void ms_session_close(ms_session *s, int bye_reason, const char *text,
                      const char *end, int failed, ms_time now);

/*
 * The owner refuses the session for the budget named `budget` (e.g.
 * "sessions_total", "sessions_per_peer"): counts limit_<budget>, logs
 * MS-LIMIT (rate-limited per peer), sends BYE(budget) with the name as
 * text and ends with reason "budget", failed.
 */
void ms_session_refuse(ms_session *s, const char *budget, ms_time now);

/* The link is gone (transport DOWN): end with reason, failed. */
void ms_session_lost(ms_session *s, const char *reason, ms_time now);

/* Free s and set *sp to NULL; NULL allowed.  An open session is freed
 * without a BYE and without an ENDED event. */
void ms_session_free(ms_session **sp);

ms_session_state ms_session_state_get(const ms_session *s);
/* The peer's node id once HELLO proved it, else NULL. */
const uint8_t *ms_session_peer_id(const ms_session *s);
/* OPS batches sent and not acknowledged yet (tests check the credit). */
size_t ms_session_inflight(const ms_session *s);
/* The owner's pointer given in ms_session_conf. */
void *ms_session_user(const ms_session *s);

#endif
