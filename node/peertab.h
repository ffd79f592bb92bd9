/*
 * peertab.h — the peer table: every peer this node knows (static ones from
 * config and flags, those found by mDNS or peer exchange, those that dialled
 * us), which to dial and when (net/backoff, its state persisted in each
 * record), and the link state node-inspect shows for each.
 *
 * The table owns its records: nobody else reads or writes their fields.
 * The daemon (the one mediator) tells it what happened — a dial came up or
 * failed, a session changed state or ended, mDNS found or lost a node, peer
 * exchange named one — and it answers by asking the daemon, through its
 * callbacks, to dial or to hang up.  Others see a record only as an opaque
 * ms_peer handle or as a copied ms_peer_view.
 *
 * A static address whose node id is unknown is a record keyed by that
 * address; the first HELLO through it tells who is there, and the record is
 * re-keyed by node id (or merged into the record of that id).  A record is
 * removed only while no session and no dial refers to it, so a handle the
 * daemon holds for a session stays valid until that session's end is
 * reported.
 *
 * Budgets (docs/discovery.md, [limits] in the config):
 *  - peer_records: records in memory.  What mDNS and peer exchange name is
 *    a candidate, held in memory only; a new one takes the place of the
 *    least useful record nothing links us to (candidates first, then
 *    records never synced with, then the oldest), and is refused when
 *    there is none.  A peer that authenticated always gets its record.
 *  - peer_records_disk: records stored.  A record is stored only once a
 *    session proved its node id (MS_PEER_F_AUTHED), or when it is a
 *    configured address; a new one evicts the least useful stored record
 *    (never a static or linked one), or stays unstored.  Everything that
 *    changed in a loop turn is stored in one transaction (ms_peertab_flush).
 *  - dials_inflight: dials to discovered (mDNS, pex) peers that no HELLO
 *    answered yet; static peers are the operator's and are not held back.
 *  - dial_target: an address a peer or the LAN names is dialled only when
 *    ms_endpoint_dialable (numeric host, no DNS lookup); others are
 *    refused and counted.  Of a peer's MS_PEER_MAX_ADDRS addresses, those
 *    it proved (we reached it there, or its authenticated HELLO named
 *    them) are kept: a new address evicts an unproven one first.
 * Each hit adds to the counter limit_<name> and logs a rate-limited
 * `MS-LIMIT limit=<name>`.
 *
 * Thread rules: the event loop's thread only.
 */
#ifndef MS_PEERTAB_H
#define MS_PEERTAB_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "counters.h"
#include "log.h"
#include "ms_clock.h"
#include "node_int.h"
#include "peers.h"
#include "ratelog.h"
#include "rng.h"
#include "wire.h"

#define MS_PEERTAB_RECORDS_DEFAULT 1024     /* peer_records */
#define MS_PEERTAB_RECORDS_DISK_DEFAULT 256 /* peer_records_disk */
#define MS_PEERTAB_DIALS_INFLIGHT_DEFAULT 8 /* dials_inflight */

typedef struct ms_peertab ms_peertab;
typedef struct ms_peer ms_peer;

/* What the table asks of the daemon. */
typedef struct ms_peertab_cbs {
	/* Start a dial to addr; MS_OK with *handle set (> 0), or an error
	 * with eb (the table backs off). */
	ms_err (*dial)(void *ctx, const char *addr, uint32_t *handle,
	               ms_errbuf *eb);
	/* Give up dial `handle`: end the session on it, if any, with `why`
	 * ("unconfigured", "self", "withdrawn"), and hang up.  The table has
	 * already forgotten the dial when this is called. */
	void (*hangup)(void *ctx, uint32_t handle, const char *why);
	void *ctx;
} ms_peertab_cbs;

/* What the table reads; everything borrowed must outlive the table.  cfg is
 * the node's configuration (static peers, backoff, kick interval, the
 * [limits] it enforces): after a reload changes it, call
 * ms_peertab_reconfigure. */
typedef struct ms_peertab_env {
	ms_store *store;
	const uint8_t *node_id; /* MS_PK_LEN */
	const ms_config *cfg;
	const ms_log *log;
	ms_counters *counters;
	ms_rng *rng;           /* backoff jitter */
	const ms_clock *clock; /* NULL: the system clock */
	ms_ratelog *ratelog;   /* MS-LIMIT lines per source */
} ms_peertab_env;

/* Load the records from the store, merge the configured static peers and
 * store what that changed.  MS_ENOMEM, or the store's error. */
ms_err ms_peertab_new(ms_peertab **out, const ms_peertab_env *env,
                      const ms_peertab_cbs *cbs, ms_errbuf *eb);
/* Hang up every dial (through cbs.hangup), store what changed, free; sets
 * *ptp to NULL; NULL allowed. */
void ms_peertab_free(ms_peertab **ptp);

/* The static peer list changed (SIGHUP): merge it; peers no longer
 * dialled by anything lose their dial (cbs.hangup, "unconfigured"). */
void ms_peertab_reconfigure(ms_peertab *pt);

/* Dial every peer whose backoff is due (cbs.dial); returns the wall-clock
 * ms of the next due attempt, UINT64_MAX when none. */
uint64_t ms_peertab_tick(ms_peertab *pt);

/* Store the records that changed since the last flush (those that may be
 * stored: see the budgets above), and remove those that went, all in one
 * transaction. */
void ms_peertab_flush(ms_peertab *pt);

/* --- dials --------------------------------------------------------------- */

/* Dial `handle` came up: its record, or NULL when nobody wants it any more
 * (the daemon then hangs it up). */
ms_peer *ms_peertab_dial_up(ms_peertab *pt, uint32_t handle);
/* Dial `handle` ended with no session on it (the link failed, or the
 * session could not even start): back off.  reason is logged and kept as
 * the record's last error.  Unknown handles are ignored. */
void ms_peertab_dial_failed(ms_peertab *pt, uint32_t handle,
                            const char *reason);

/* --- sessions ------------------------------------------------------------ */

/* A session started on p (outbound: p is the dial's record; inbound: NULL
 * until identified, then nothing to do here).  It counts as connecting. */
void ms_peertab_session_opened(ms_peertab *pt, ms_peer *p, int outbound);

/*
 * A session proved the peer's node id in HELLO.  Outbound (p = the dial's
 * record): the record is re-keyed by id, or the dial and session move to
 * the record of that id.  Inbound (p = NULL): the record of id is found or
 * created (source inbound), merged with any static record still keyed by
 * one of the endpoints it announced, and a dial of ours waiting out a
 * backoff is kicked.  Either way the announced endpoints become the
 * record's addresses.  Returns the record the session now belongs to, or
 * NULL when out of memory.
 */
ms_peer *ms_peertab_identified(ms_peertab *pt, ms_peer *p, int outbound,
                               const uint8_t id[MS_PK_LEN],
                               const ms_wire_bytes *eps, size_t neps);

/* A session of p went from link state `from` to `to` (CONNECTING,
 * SYNCING, LIVE): the record's link state follows; an outbound session
 * that went LIVE was a good attempt and resets the backoff. */
void ms_peertab_session_state(ms_peertab *pt, ms_peer *p, int outbound,
                              ms_link_state from, ms_link_state to);

/* How a session ended, as the table needs it. */
typedef struct ms_peertab_end {
	int outbound;
	int self;                      /* it reached this node itself: the
	                                   dial's record is never dialled again */
	ms_link_state last;            /* its link state when it ended */
	const ms_session_summary *sum; /* kept as the record's last summary */
	int failed;                    /* a failed attempt (backoff) */
	const char *reason;            /* end reason */
	const char *detail;            /* why we refused the peer, or NULL */
} ms_peertab_end;

/* A session of p ended (p may be NULL: an inbound session that ended
 * before HELLO).  Outbound: the dial is over too. */
void ms_peertab_session_ended(ms_peertab *pt, ms_peer *p,
                              const ms_peertab_end *end);

/* --- discovery and peer exchange ---------------------------------------- */

/* mDNS announces id at endpoint: record it (source mdns, a candidate
 * until it authenticates) and dial it now (rate-limited), unless a session
 * or dial links us already.  A non-dialable endpoint is refused
 * (dial_target), and a new record needs room (peer_records).  When both
 * sides found each other, the one with the higher id holds back
 * MS_PEERTAB_MDNS_HOLD_MS so the pair does not open two sessions. */
#define MS_PEERTAB_MDNS_HOLD_MS 2000
void ms_peertab_mdns_found(ms_peertab *pt, const uint8_t id[MS_PK_LEN],
                           const char *endpoint);
/* mDNS withdrew id's last announcement: unless static, it is lost (a dial
 * not connected yet is hung up; a running session stays). */
void ms_peertab_mdns_lost(ms_peertab *pt, const uint8_t id[MS_PK_LEN]);

/* A link came up on this host: retry every peer waiting in backoff now
 * (each at most once per kick interval).  Returns how many were kicked. */
size_t ms_peertab_kick_all(ms_peertab *pt, const char *why);

/* Peer exchange names id at these endpoints: record the dialable ones
 * (source pex; others count as dial_target) and mark it a candidate to
 * dial.  `from` (the peer that named it) is the source of any MS-LIMIT
 * line.  1 when the record exists now, 0 when nothing usable, id is ours,
 * or there is no room (peer_records). */
int ms_peertab_pex_learn(ms_peertab *pt, const uint8_t from[MS_PK_LEN],
                         const uint8_t id[MS_PK_LEN], const char *const *eps,
                         size_t neps);
/* Peer exchange forgot id: no longer dialled for its sake. */
void ms_peertab_pex_forget(ms_peertab *pt, const uint8_t id[MS_PK_LEN]);
/* 1 when a session or a dial links us to id. */
int ms_peertab_linked(const ms_peertab *pt, const uint8_t id[MS_PK_LEN]);
/* 1 when a session proved id at some time (its record is MS_PEER_F_AUTHED). */
int ms_peertab_authed(const ms_peertab *pt, const uint8_t id[MS_PK_LEN]);

/* --- reading ------------------------------------------------------------- */

/* A copy of what others may know of a record. */
typedef struct ms_peer_view {
	int has_id;
	uint8_t id[MS_PK_LEN];
	uint32_t naddrs; /* oldest first */
	uint8_t proven;  /* bit i: addrs[i] proven (see ms_peer_rec) */
	char addrs[MS_PEER_MAX_ADDRS][MS_PEER_ADDR_MAX];
	uint64_t last_good_ms; /* wall ms of its last good session, 0 never */
	int live;              /* a session with it is live now */
	int self;              /* it is this node */
} ms_peer_view;

/* Copy every record's view into a malloc'd array (*n of them; the caller
 * frees).  MS_ENOMEM. */
ms_err ms_peertab_views(const ms_peertab *pt, ms_peer_view **out, size_t *n,
                        ms_errbuf *eb);

/* p's node id, or NULL while it is known by address only. */
const uint8_t *ms_peer_id(const ms_peer *p);

#endif
