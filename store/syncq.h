/*
 * syncq.h — the store's side of sync: per-author vector entries, the arrival
 * feed, what a peer lacks, peer_vv (the persistent sync queue) and the peer
 * table.
 *
 * Databases (created by ms_store_create/open, see store.h):
 *   vv        author -> ms_vv_entry (contiguous seq, held count, id
 *             accumulator) — extended from store.h's (author, seq) view
 *   arrival   local arrival number (u64 BE) -> op id: every op this store
 *             gains (appended or ingested) gets the next number, so a daemon
 *             finds new ops (including those written by other processes)
 *             by reading past the last number it has seen
 *   peer_vv   peer id (32) || author (32) -> seq the peer is known to hold
 *             contiguously; what a peer lacks is derived from it, never
 *             stored twice
 *   peers     peer key -> ms_peer_rec (see ms_peer_key)
 *
 * The store knows nothing of the network: it stores plain data that node/
 * fills from net/ (backoff state, link states, session summaries).
 */
#ifndef MS_SYNCQ_H
#define MS_SYNCQ_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define MS_VV_ACC_LEN 16 /* accumulator prefix carried in VV messages */

/* One author's entry of the version vector. */
typedef struct ms_vv_entry {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;  /* highest contiguous seq held */
	uint64_t held; /* ops held for this author (above gaps and forks too) */
	uint8_t acc[MS_VV_ACC_LEN]; /* first bytes of the sum of the author's
	                               op ids as 256-bit LE integers */
} ms_vv_entry;

/* Visit every author's full entry in author order. */
typedef int (*ms_vv_entry_fn)(const ms_vv_entry *e, void *ctx);
int ms_store_foreach_vv_entry(ms_store_rtxn *rt, ms_vv_entry_fn fn, void *ctx);
/* MS_ENOTFOUND if no op of author is held. */
ms_err ms_store_vv_entry_get(ms_store_rtxn *rt, const uint8_t author[MS_PK_LEN],
                             ms_vv_entry *out, ms_errbuf *eb);

/* --- arrival feed -------------------------------------------------------- */

/* Highest arrival number so far (0 = empty store). */
uint64_t ms_store_arrival_head(ms_store_rtxn *rt);
/* Visit ops that arrived after `after`, in arrival order; stop when fn
 * returns non-zero. */
typedef int (*ms_arrival_fn)(uint64_t arrival, const ms_log_entry *e, void *ctx);
int ms_store_foreach_arrival(ms_store_rtxn *rt, uint64_t after,
                             ms_arrival_fn fn, void *ctx);

/* --- what a peer lacks --------------------------------------------------- */

/* An op to send, sortable without reading it again. */
typedef struct ms_sync_item {
	uint8_t priority; /* ms_prio: user (0) first */
	uint64_t hlc;
	uint8_t id[MS_HASH_LEN];
} ms_sync_item;

/* Order: priority, then hlc, then id (a total order, so replays match). */
int ms_sync_item_cmp(const void *a, const void *b);

/*
 * Compute the ops the other side lacks, given its vector entries (sorted by
 * author; n may be 0 for "knows nothing"), by the rules of docs/protocol.md:
 * for each author where the entries differ, every op with seq above the
 * other's contiguous seq; if we hold more ops at or below that seq than the
 * seq itself, also our forked slots there; if seq and held match but the
 * accumulators differ (an author that equivocated), all of the author's
 * ops.  *items is a malloc'd array sorted by ms_sync_item_cmp, owned by the
 * caller (free()); *n its length.
 */
ms_err ms_store_lacking(ms_store_rtxn *rt, const ms_vv_entry *theirs,
                        size_t ntheirs, ms_sync_item **items, size_t *n,
                        ms_errbuf *eb);

/* --- peer_vv ------------------------------------------------------------ */

typedef struct ms_peer_vv_entry {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;
} ms_peer_vv_entry;

/* Raise peer's known seqs to the given ones (never lowers), one durable
 * transaction. */
ms_err ms_store_peer_vv_update(ms_store *s, const uint8_t peer[MS_PK_LEN],
                               const ms_peer_vv_entry *e, size_t n,
                               ms_errbuf *eb);
/* 0 when nothing is known. */
uint64_t ms_store_peer_vv_get(ms_store_rtxn *rt, const uint8_t peer[MS_PK_LEN],
                              const uint8_t author[MS_PK_LEN]);
/* Sync-queue depth: ops we hold above what peer is known to hold, summed
 * over authors (sum of max(0, our contiguous seq - peer's seq)). */
uint64_t ms_store_peer_lag(ms_store_rtxn *rt, const uint8_t peer[MS_PK_LEN]);
/* Own ops that no peer has confirmed: our seq - max over peers of their
 * known seq for our author. */
uint64_t ms_store_unacked_local(ms_store_rtxn *rt);

/* --- peer table ---------------------------------------------------------- */

#define MS_PEER_MAX_ADDRS 8
#define MS_PEER_ADDR_MAX 128 /* "tcp://[v6 addr]:port" fits */

/* Where we know a peer from (bits). */
#define MS_PEER_SRC_STATIC 0x01 /* config or --peer */
#define MS_PEER_SRC_MDNS 0x02   /* mDNS discovery */
#define MS_PEER_SRC_PEX 0x04    /* peer exchange */
#define MS_PEER_SRC_INBOUND 0x08 /* it dialled us */

typedef enum ms_link_state {
	MS_LINK_STATE_DISCOVERED = 0, /* known, never tried */
	MS_LINK_STATE_CONNECTING,     /* dialling / handshaking */
	MS_LINK_STATE_SYNCING,        /* session up, catching up */
	MS_LINK_STATE_LIVE,           /* in sync, pushing new ops */
	MS_LINK_STATE_BACKOFF,        /* failed, waiting for next attempt */
	MS_LINK_STATE_DOWN,           /* not connected, no attempt due (inbound only) */
	MS_LINK_STATE_LOST,           /* withdrawn from mDNS and not static */
	MS_LINK_STATE_COUNT_
} ms_link_state;
const char *ms_link_state_name(ms_link_state s); /* "discovered", ... */

/* The processing summary of one sync session. */
typedef struct ms_session_summary {
	uint64_t start_ms, end_ms;
	uint8_t outbound;  /* 1: we dialled */
	uint8_t reserved[7];
	uint64_t received, applied, duplicate, rejected, conflicts;
	uint64_t sent;
	uint64_t bytes_in, bytes_out;
	uint64_t rejected_by_reason[16]; /* indexed by ms_op_reason */
	char end_reason[64];             /* "bye", "lost", "shutdown", ... */
} ms_session_summary;

/*
 * A peer record.  Peers are keyed by node id once known; a static address
 * whose node id is not known yet is keyed by its address (has_id = 0) until
 * the first handshake tells who is there.
 */
typedef struct ms_peer_rec {
	uint8_t has_id;
	uint8_t id[MS_PK_LEN];
	uint8_t source; /* MS_PEER_SRC_* bits */
	uint8_t link;   /* ms_link_state */
	uint64_t link_since_ms;
	uint32_t naddrs;
	char addrs[MS_PEER_MAX_ADDRS][MS_PEER_ADDR_MAX];
	uint64_t first_seen_ms, last_seen_ms, last_good_ms;
	uint64_t sessions, failures;
	/* backoff state (net/backoff.h's ms_backoff, stored as plain data) */
	uint32_t bo_attempts, bo_kicks;
	uint64_t bo_last_delay_ms, bo_next_attempt_ms, bo_last_kick_ms;
	char last_error[128];
	uint8_t has_summary;
	ms_session_summary last;
} ms_peer_rec;

/* Insert or replace (one durable transaction).  A record with has_id also
 * removes, in the same transaction, the address-keyed records of each of
 * its addrs, so one peer is never listed twice.  MS_EINVAL when the record
 * has neither an id nor an addrs[0] to key it by. */
ms_err ms_store_peer_put(ms_store *s, const ms_peer_rec *p, ms_errbuf *eb);
/* Remove the record keyed by address (after it was identified); MS_OK
 * also when there is none. */
ms_err ms_store_peer_del_addr(ms_store *s, const char *addr, ms_errbuf *eb);
/* MS_ENOTFOUND if unknown. */
ms_err ms_store_peer_get(ms_store_rtxn *rt, const uint8_t id[MS_PK_LEN],
                         ms_peer_rec *out, ms_errbuf *eb);
ms_err ms_store_peer_get_addr(ms_store_rtxn *rt, const char *addr,
                              ms_peer_rec *out, ms_errbuf *eb);
typedef int (*ms_peer_fn)(const ms_peer_rec *p, void *ctx);
int ms_store_foreach_peer(ms_store_rtxn *rt, ms_peer_fn fn, void *ctx);

#endif
