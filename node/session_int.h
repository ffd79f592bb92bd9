/*
 * session_int.h — what the files of one sync session share (node/session.h
 * is the API): the session and environment structs, and the few functions
 * one part calls in another.
 *
 *   session.c      life (new, start, close, end and its summary), output
 *                  queue, events, HELLO and identity, dispatch of received
 *                  messages, BYE and PEERS
 *   session_vv.c   the vector exchange: our VV, the peer's VV, what it
 *                  lacks, and when the initial sync is done (§5.2-§5.3)
 *   session_ops.c  ops both ways: the send queue fed by what the peer lacks
 *                  and by offers, OPS batches under credit, received
 *                  batches, ACKs, fork replies (§5.3-§5.4)
 *   session_relay.c  relayed ops announced (HAVE) and asked for (WANT),
 *                  one link asked per op (§5.6)
 *
 * Nothing here is used outside those three files.
 */
#ifndef MS_SESSION_INT_H
#define MS_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "idset.h"
#include "ratelog.h"
#include "sendq.h"
#include "session.h"
/* Batches built per session per tick, so one peer cannot starve others. */
#define SESSION_TICK_ROUNDS 8
/* Deferred peer_vv raises the environment keeps (72 KiB): live links
 * bring a few authors a turn; past this (vector rounds of many authors)
 * what waits is written at once, as without deferral. */
#define SESSION_PV_PEND_MAX 1024

/* One deferred peer_vv raise: s's peer holds author up to e.seq. */
typedef struct pv_pend {
	ms_session *s;
	ms_peer_vv_entry e;
} pv_pend;

typedef struct outmsg {
	struct outmsg *next;
	/* an ACK: the receive horizon (ops received in all, plus the credit
	 * granted) that takes effect when it leaves for the link; else 0 */
	uint64_t grant;
	size_t len;
	uint8_t buf[];
} outmsg;

typedef struct inflight {
	uint32_t batch, n;
	uint64_t bytes;
} inflight;

/* One op of a batch in flight: an ACK whose contiguous seq for its author
 * stops just below it says the peer did not take it (session_ops.c). */
typedef struct ss_sent {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;
	uint8_t id[MS_HASH_LEN];
} ss_sent;

/* An op id with a time (when it was asked for, ms). */
typedef struct ss_idref {
	uint8_t id[MS_HASH_LEN];
	uint64_t at;
} ss_idref;

typedef struct ss_idvec {
	ss_idref *v;
	size_t n, cap;
} ss_idvec;

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
	ms_ratelog ratelog;       /* warning lines per peer (node/ratelog) */
	ms_time now;              /* the latest time a call gave us */
	uint64_t mem_total;       /* sum of every open session's mem */
	uint64_t tx_total;        /* sum of every open session's fl_bytes */
	int defer_peer_vv;        /* ms_session_env_defer_peer_vv */
	pv_pend *pv;              /* the raises waiting, one per (s, author) */
	size_t npv, pvcap;
	ms_session *sessions; /* every session not ended (relay) */
	/* ids asked for on some link and maybe not held yet: another link
	 * announcing one is not asked (may hold ids since held; rebuilt
	 * from the sessions' asks when one ends or it grows too big) */
	ms_idset asked;
	uint64_t wants_total; /* asks open over all sessions */
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

	vvec tvv; /* the peer's vector so far: authors we hold only */
	/* this round of the peer's vector: entries read, those of authors we
	 * do not hold (dropped, counted against session_vv_entries), and the
	 * last author (order is checked across chunks) */
	uint64_t vv_seen, vv_unknown;
	uint8_t vv_last[MS_PK_LEN];
	int can_send; /* the peer's vector known (or digests equal) */
	/* vector exchange (digests differed): rounds of the peer's VV fully
	 * received (1, then 2 after the extra round of §5.3 rule 4), and
	 * whether we sent our second VV */
	int vv_mode;
	int vv_rounds;
	int vv2_sent;

	ms_sendq q;
	ms_idset known;
	/* relay (session_relay.c): the environment's list, ids to announce
	 * at the end of this offer, ids asked on this link and not held yet
	 * (oldest first), ids the peer announced while another link was
	 * asked, and our HAVEs the peer has not answered */
	ms_session *env_next, *env_prev;
	ss_idvec have_out, wants, deferred;
	uint64_t have_unanswered;
	/* what the peer lacks is queued in windows (store/lacking): where the
	 * next window starts, and whether one is left (tvv is kept till then) */
	ms_lacking_pos lk_pos;
	int lk_more;

	uint32_t tx_batch; /* last batch number sent */
	inflight *fl;      /* unacknowledged batches, oldest first */
	size_t nfl, capfl;
	/* the ops of the batches in flight in the order sent (fl[0]'s n
	 * first); ops the peer did not take, to offer again ahead of the
	 * queue; and those offered again, each at most once a session */
	ss_sent *sent;
	size_t nsent, capsent;
	ss_idvec again;
	ms_idset resent;
	int reoffer_hit;   /* limit_reoffers counted on this session */
	uint64_t credit;   /* ops we may still send (after the first ACK) */
	uint64_t fl_bytes; /* bytes of the batches in flight */
	int got_ack;
	int credit_clamped;  /* limit_credit counted on this session */
	int tx_total_hit;    /* limit_sessions_tx_total counted on it */
	uint64_t unsendable; /* ops we could not send to this peer */

	/* receive allowance (§5.4): ops received in all, and how many the
	 * peer may have sent in all by the ACKs that left for the link (one
	 * batch before the first) */
	uint32_t rx_batch; /* last batch number received */
	uint64_t rx_total;
	uint64_t rx_horizon;
	uint32_t rx_acks_out; /* ACKs handed to the link */

	outmsg *oq_head, *oq_tail;
	uint64_t oq_bytes;

	uint64_t start_mono;
	uint64_t vv_start;  /* HELLO completed with differing digests */
	uint64_t idle_from; /* last message from the peer, or since we wait */
	uint64_t mem;       /* bytes held, as counted in env->mem_total */
	ms_session_summary sum;
};

/* --- session.c ----------------------------------------------------------- */

/* An event about s: "peer=... dir=..." then fmt's key=value pairs. */
void ss_log(const ms_session *s, int level, const char *event, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));
/* The MS-STORE-ERROR line. */
void ss_store_error(const ms_session *s, const ms_errbuf *eb);
/* Add n to the environment's counter prefix+suffix. */
void ss_count(ms_session *s, const char *prefix, const char *suffix,
              uint64_t n);
/* Change state and deliver the STATE event (no-op when unchanged). */
void ss_set_state(ms_session *s, ms_session_state st);
/* Encode m and queue it for the link.  0, or -1 (logged). */
int ss_send_msg(ms_session *s, const ms_wire_msg *m);
/* The same for an ACK that raises the receive horizon to `grant` once it
 * leaves for the link. */
int ss_send_ack(ms_session *s, const ms_wire_msg *m, uint64_t grant);
/* Hand queued messages to the link until it is busy.  0, or -1 when the
 * session ended (the link failed, or a callback closed it). */
int ss_flush(ms_session *s, ms_time now);
/* A budget was hit (n times): add n to limit_<name>, log one MS-LIMIT
 * line (through the ratelog) with fmt's key=value pairs after it. */
void ss_limit_n(ms_session *s, const char *name, uint64_t n, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
/* ss_limit_n (once), then BYE(bye: MS_BYE_BUDGET or MS_BYE_TIMEOUT) with the name
 * as text; the session ends "budget" or "timeout", failed. */
void ss_limit_close(ms_session *s, const char *name, int bye, ms_time now);
/* Only the closing part of ss_limit_close (after an ss_limit_n with
 * details). */
void ss_budget_close(ms_session *s, const char *name, int bye, ms_time now);
/* Recount what the session holds (env->mem_total follows) and close it
 * when over session_memory or sessions_memory_total.  0, or -1 when it
 * was closed. */
int ss_mem_check(ms_session *s, ms_time now);
/* Close the session when one of its stages took too long (hello_timeout,
 * vv_timeout, idle_timeout).  0, or -1 when it was closed. */
int ss_timeouts(ms_session *s, ms_time now);
/* The bytes the session holds now (what ss_mem_check counts): checks
 * before a large allocation add to it. */
uint64_t ss_mem_now(const ms_session *s);
/* We cannot go on (out of memory, the store failed): BYE(overload), end
 * failed with `end`. */
void ss_local_error(ms_session *s, const char *text, const char *end,
                    ms_time now);
/* The peer broke the protocol: count, log, BYE(proto), end "proto". */
void ss_bad_message(ms_session *s, const char *why, ms_time now);
/* 1 when the session takes offers: its initial exchange has told it what
 * the peer holds (state SYNC past the vectors, or LIVE). */
int ss_ready(const ms_session *s);
/* Raise what the peer is known to hold (peer_vv); a failure is logged.
 * Deferred (ms_session_env_defer_peer_vv): kept until the owner's flush. */
void ss_note_peer_holds(ms_session *s, const ms_peer_vv_entry *e, size_t n);
/* The peer's peer_vv seq for author as rt reads it, or higher when a
 * deferred raise for that peer waits (from this session or another one
 * with the same peer). */
uint64_t ss_peer_holds_get(const ms_session *s, ms_store_rtxn *rt,
                           const uint8_t author[MS_PK_LEN]);

/* --- session_vv.c -------------------------------------------------------- */

/* Queue our whole vector as VV chunks.  0 or -1. */
int ss_send_vv(ms_session *s);
/* Queue the next window of what the peer lacks, when one is left.  0, or
 * -1 when the session was closed (out of memory, a store error, or the
 * session_memory budget). */
int ss_queue_lacking(ms_session *s, ms_time now);
void ss_on_vv(ms_session *s, const ms_wire_vv *v, ms_time now);
/* Go LIVE once the initial exchange is over (after the second vector
 * round when vectors were exchanged). */
void ss_check_synced(ms_session *s, ms_time now);

/* --- session_ops.c ------------------------------------------------------- */

/* Remember that the peer holds id (no op crosses a link twice). */
void ss_know(ms_session *s, const uint8_t id[MS_HASH_LEN]);
/* Queue op id to be sent (read from rt) unless the peer is known to hold
 * it or we do not. */
void ss_queue_id(ms_session *s, ms_store_rtxn *rt,
                 const uint8_t id[MS_HASH_LEN]);

/* Live on equal digests: queue what arrived since our HELLO. */
void ss_catch_up(ms_session *s);
/* Build and queue OPS batches while credit and the link allow. */
void ss_send_batches(ms_session *s, ms_time now);
void ss_on_ops(ms_session *s, const ms_wire_ops *o, ms_time now);
void ss_on_ack(ms_session *s, const ms_wire_ack *a, ms_time now);

/* --- session_relay.c ----------------------------------------------------- */

void ss_idvec_free(ss_idvec *v);
/* Append; -1 when out of memory or v holds `max` ids already. */
int ss_idvec_push(ss_idvec *v, const uint8_t id[MS_HASH_LEN], uint64_t at,
                  size_t max);
/* Enter s in / take it out of its environment's list (idempotent). */
void ss_env_link(ms_session *s);
void ss_env_unlink(ms_session *s);
/* Free the relay state of an ending session; asks it had not delivered
 * go to the links that deferred them. */
void ss_relay_release(ms_session *s);
/* Bytes the relay state holds (ss_mem_now). */
uint64_t ss_relay_mem(const ms_session *s);
/* Sessions of env that take offers (ss_ready). */
int ss_relay_fanout(const ms_session_env *env);
/* 1 when op e is announced rather than pushed: another author's, and
 * this node has `fanout` (ss_relay_fanout) of 3 or more. */
int ss_relay_lazy(const ms_session *s, const ms_log_entry *e, int fanout);
/* Add id to the next HAVE; ss_relay_flush_have sends them.  0, or -1
 * when out of memory (then push the op instead). */
int ss_relay_announce(ms_session *s, const uint8_t id[MS_HASH_LEN]);
void ss_relay_flush_have(ms_session *s);
void ss_on_have(ms_session *s, const ms_wire_ids *h, ms_time now);
void ss_on_want(ms_session *s, const ms_wire_ids *w, ms_time now);
/* Once per tick: drop asks and deferred ids now held; ask this link for
 * deferred ids no link is asked for any more. */
void ss_relay_tick(ms_session *s, ms_time now);

#endif
