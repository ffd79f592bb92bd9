/*
 * pex.h — peer exchange (docs/protocol.md §5.5): what a node tells its
 * peers about the members it synced with, and what it does with what it is
 * told.  mDNS stops at the edge of a layer-2 cloud; this is how a node
 * behind a routed hop learns whom it could dial.
 *
 * Sending: a live session gets one PEERS, then at most one every
 * MS_PEX_SEND_INTERVAL_MS: up to 32 members we had a live session with in
 * the last MS_PEX_RECENT_MS (newest first), each with up to 4 passable
 * endpoints (those it proved first, then newest first), never the
 * receiver or ourselves.  An empty list is not sent.  ms_pex_build chooses
 * them from views of the peer table the daemon hands in; the daemon sends
 * the result on the session.
 *
 * Receiving: entries are claims.  They become candidates in a bounded list
 * (the pex_candidates budget, MS_PEX_CANDIDATES_DEFAULT), forgotten after
 * MS_PEX_EXPIRE_MS without a refresh.  Each sender has a share of
 * MS_PEX_PER_SENDER candidates (one full PEERS): a new one beyond it takes
 * the place of that sender's least recently refreshed, so a member can
 * waste its own share, never the list.  A full list evicts the least
 * recently refreshed candidate of anyone; a candidate we had an
 * authenticated session with (proven) is never evicted for a new one: the
 * new one is refused instead.  Each hit counts limit_pex_candidates and
 * logs a rate-limited MS-LIMIT.  Through its callbacks pex asks the daemon
 * to record a candidate (the peer table then dials it, with backoff, while
 * nothing links us to it) and to forget it.  Only a real connection proves
 * who answers (§4).
 *
 * What each sender's last PEERS listed is also kept, for DIR/node.mesh
 * (the graph node-inspect draws, peers of peers): the ids with their
 * claimed last_seen_ms and the endpoints that pass ms_endpoint_check, for
 * at most MS_PEX_TOLD_SENDERS senders (the mesh_senders budget: a new
 * sender beyond it replaces the one heard from least recently, counted as
 * limit_mesh_senders), forgotten like candidates after MS_PEX_EXPIRE_MS.
 * Nothing in it is dialled or trusted: it is shown, no more.
 *
 * pex knows neither sessions nor the peer table: the daemon wires them.
 * Thread rules: the event loop's thread only.
 */
#ifndef MS_PEX_H
#define MS_PEX_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "log.h"
#include "peertab.h"
#include "ratelog.h"
#include "wire.h"

#define MS_PEX_CANDIDATES_DEFAULT 256       /* pex_candidates: entries kept */
#define MS_PEX_CANDIDATES_MAX 65536         /* the most [limits] may set */
#define MS_PEX_PER_SENDER MS_WIRE_MAX_PEERS /* one sender's share */
#define MS_PEX_EXPIRE_MS (3600u * 1000u)    /* forgotten when not refreshed */
#define MS_PEX_SEND_INTERVAL_MS 60000u      /* per session, after the first */
#define MS_PEX_RECENT_MS (3600u * 1000u)    /* "synced with recently" */
#define MS_PEX_TOLD_SENDERS 64 /* mesh_senders: senders kept for node.mesh */
#define MS_PEX_MESH_VERSION 1  /* the first line of node.mesh */

typedef struct ms_pex ms_pex;

typedef struct ms_pex_cbs {
	/* Record id, named by `from`, at these passable endpoints as a
	 * candidate to dial.  1 when it is recorded, 0 when not (ours,
	 * nothing usable, no room). */
	int (*learn)(void *ctx, const uint8_t from[MS_PK_LEN],
	             const uint8_t id[MS_PK_LEN], const char *const *eps,
	             size_t neps);
	/* id is no longer a candidate. */
	void (*forget)(void *ctx, const uint8_t id[MS_PK_LEN]);
	/* 1 when a session or dial links us to id (for the log line). */
	int (*linked)(void *ctx, const uint8_t id[MS_PK_LEN]);
	/* 1 when a session ever proved id (never evicted for a newcomer). */
	int (*proven)(void *ctx, const uint8_t id[MS_PK_LEN]);
	void *ctx;
} ms_pex_cbs;

/* What pex reads; log, counters and ratelog (MS-LIMIT lines per sender,
 * NULL: not limited) are borrowed. */
typedef struct ms_pex_env {
	uint8_t node_id[MS_PK_LEN]; /* ours */
	size_t max_candidates;      /* pex_candidates; 0 = the default */
	const ms_log *log;
	ms_counters *counters;
	ms_ratelog *ratelog;
} ms_pex_env;

/* MS_ENOMEM; MS_EINVAL when max_candidates > MS_PEX_CANDIDATES_MAX. */
ms_err ms_pex_new(ms_pex **out, const ms_pex_env *env, const ms_pex_cbs *cbs,
                  ms_errbuf *eb);
/* NULL allowed; sets *xp to NULL. */
void ms_pex_free(ms_pex **xp);

/* PEERS from `from` (an identified peer) at monotonic time now_mono. */
void ms_pex_recv(ms_pex *x, const uint8_t from[MS_PK_LEN],
                 const ms_wire_peers *m, uint64_t now_mono);

/* Forget candidates not refreshed for MS_PEX_EXPIRE_MS (checked at most
 * once a second). */
void ms_pex_tick(ms_pex *x, uint64_t now_mono);

/*
 * Fill out (PEERS) for the peer `to` from the table's views at wall time
 * now_wall.  out's endpoints point into views, which must outlive it.
 * Returns the number of entries (0: nothing worth sending).
 */
size_t ms_pex_build(const ms_pex *x, const uint8_t to[MS_PK_LEN],
                    const ms_peer_view *views, size_t nviews, uint64_t now_wall,
                    ms_wire_peers *out);

/* 1 when what senders told changed since ms_pex_mesh_saved. */
int ms_pex_mesh_changed(const ms_pex *x);

/*
 * The text of DIR/node.mesh (docs/format.md, "Run files"), malloc'd (the
 * caller frees; NULL when out of memory):
 *   meshsync-mesh 1
 *   from <sender id hex> <wall ms its PEERS came>
 *   to <id hex> <last_seen_ms it claimed> [<endpoint> ...]
 * one `from` line per sender, most recently heard first, each followed by
 * its entries.  now_mono and now_wall turn arrival times into wall time.
 */
char *ms_pex_mesh_text(const ms_pex *x, uint64_t now_mono, uint64_t now_wall);
/* The text was written: ms_pex_mesh_changed is 0 until the next change. */
void ms_pex_mesh_saved(ms_pex *x);

/* PEERS was sent to `to` (for the log and counters). */
void ms_pex_sent(ms_pex *x, const uint8_t to[MS_PK_LEN],
                 const ms_wire_peers *m);

#endif
