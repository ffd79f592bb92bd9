/*
 * peers.h — the persistent peer table: one record per peer the node knows,
 * with its addresses, where it was learnt from, its link state, backoff
 * state, counters and the summary of its last sync session.  node/ fills
 * the records from what net/ reports; node-inspect peers reads them.  The
 * store knows nothing of the network: these are plain data.
 *
 * Database: peers   0x01 || node id (32) once the peer is identified, or
 *                   0x02 || address for a configured address nobody has
 *                   answered on yet -> a version byte followed by the
 *                   ms_peer_rec struct as laid out in memory (LMDB files
 *                   are tied to the machine's architecture anyway; a new
 *                   version byte marks any change of the struct).
 */
#ifndef MS_PEERS_H
#define MS_PEERS_H

#include <stdint.h>

#include "store.h"

#define MS_PEER_MAX_ADDRS 8 /* addresses kept per peer (bits of proven) */
#define MS_PEER_ADDR_MAX \
	128 /* bytes of an address, NUL included:
                                "tcp://[v6 addr]:port" fits */

/* Where we know a peer from (bits). */
#define MS_PEER_SRC_STATIC 0x01  /* config or --peer */
#define MS_PEER_SRC_MDNS 0x02    /* mDNS discovery */
#define MS_PEER_SRC_PEX 0x04     /* peer exchange */
#define MS_PEER_SRC_INBOUND 0x08 /* it dialled us */

/* Record flags (ms_peer_rec.flags). */
#define MS_PEER_F_AUTHED \
	0x01 /* a session proved this node id: only such
                                 records (and static addresses) are stored */

/* Where a peer's link stands (the values node-inspect shows, docs/json.md). */
typedef enum ms_link_state {
	MS_LINK_STATE_DISCOVERED = 0, /* known, never tried */
	MS_LINK_STATE_CONNECTING,     /* dialling / handshaking */
	MS_LINK_STATE_SYNCING,        /* session up, catching up */
	MS_LINK_STATE_LIVE,           /* in sync, pushing new ops */
	MS_LINK_STATE_BACKOFF,        /* failed, waiting for next attempt */
	MS_LINK_STATE_DOWN, /* not connected, no attempt due (inbound only) */
	MS_LINK_STATE_LOST, /* withdrawn from mDNS and not static */
	MS_LINK_STATE_COUNT_
} ms_link_state;
/* Static name of a link state ("discovered", ...); "unknown" if out of
 * range. */
const char *ms_link_state_name(ms_link_state s);

/* The processing summary of one sync session (kept as a peer's last). */
typedef struct ms_session_summary {
	uint64_t start_ms, end_ms;
	uint8_t outbound; /* 1: we dialled */
	/* Budgets this session hit (its MS-LIMIT lines), at most 255.  The
	 * byte was padding before: older records read 0. */
	uint8_t limits_hit;
	uint8_t reserved[6];
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
	/* The next two bytes were padding before they were used: records
	 * written then read them as 0, and the record's size is unchanged. */
	uint8_t proven; /* bit i: addrs[i] is proven (we reached the peer
	                   there, or it announced it in an authenticated
	                   HELLO); kept when a new address needs room */
	uint8_t flags;  /* MS_PEER_F_* */
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

/* One change in a batch (ms_store_peer_write): exactly one of the three
 * is set. */
typedef struct ms_peer_change {
	const ms_peer_rec *put; /* insert or replace, as ms_store_peer_put */
	const uint8_t *del_id;  /* remove the record of this node id */
	const char *del_addr;   /* remove the record keyed by this address */
} ms_peer_change;

/* Apply n changes in one durable transaction, in order (the peer table
 * saves everything that changed in a loop turn this way).  Removing what
 * is not there is not an error.  Errors as ms_store_peer_put; on error
 * nothing is written. */
ms_err ms_store_peer_write(ms_store *s, const ms_peer_change *c, size_t n,
                           ms_errbuf *eb);

/* Insert or replace (one durable transaction).  A record with has_id also
 * removes, in the same transaction, the address-keyed records of each of
 * its addrs, so one peer is never listed twice.  MS_EINVAL when the record
 * has neither an id nor an addrs[0] to key it by, or more than
 * MS_PEER_MAX_ADDRS addresses; MS_EFULL, LMDB's errors. */
ms_err ms_store_peer_put(ms_store *s, const ms_peer_rec *p, ms_errbuf *eb);
/* Remove the record keyed by address (after it was identified); MS_OK
 * also when there is none. */
ms_err ms_store_peer_del_addr(ms_store *s, const char *addr, ms_errbuf *eb);
/* The record of an identified peer into *out: MS_ENOTFOUND if unknown,
 * MS_ECORRUPT if its record is not one this build reads. */
ms_err ms_store_peer_get(ms_store_rtxn *rt, const uint8_t id[MS_PK_LEN],
                         ms_peer_rec *out, ms_errbuf *eb);
/* The same for a record keyed by address (not identified yet). */
ms_err ms_store_peer_get_addr(ms_store_rtxn *rt, const char *addr,
                              ms_peer_rec *out, ms_errbuf *eb);
/*
 * Visit every record, identified peers (in id order) before address
 * records; p is valid until fn returns.  The foreach contract of store.h:
 * fn returns non-zero to stop early (MS_OK); MS_ECORRUPT for a record
 * this build does not read (size or version), or LMDB's error, with
 * "foreach_peer: why" in eb.
 */
typedef int (*ms_peer_fn)(const ms_peer_rec *p, void *ctx);
ms_err ms_store_foreach_peer(ms_store_rtxn *rt, ms_peer_fn fn, void *ctx,
                             ms_errbuf *eb);

#endif
