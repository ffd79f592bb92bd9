/*
 * discover.h — how the daemon finds peers without being told: mDNS
 * (net/discovery) and the link monitor (net/linkmon) glued to the loop in
 * discover.c, peer exchange (docs/protocol.md §5.5) in pex.c, and the peer
 * manager's entry points they use (peerman.c).
 *
 * Everything runs on the daemon's loop thread.  Nothing here is public API.
 */
#ifndef MS_DISCOVER_H
#define MS_DISCOVER_H

#include <stdint.h>
#include <zmq.h>

#include "daemon.h"

/* --- discover.c ---------------------------------------------------------- */

/* Start mDNS (unless [net] mdns = no), the link monitor and peer exchange.
 * Neither an absent avahi-daemon nor a failing netlink socket stops the
 * node: both are logged and the node runs on static peers.  Errors only for
 * MS_ENOMEM. */
ms_err ms_discover_start(ms_daemon *d, ms_errbuf *eb);
/* Withdraw our service, close everything (NULL-safe, idempotent). */
void ms_discover_stop(ms_daemon *d);
/* Append the fds to poll (mDNS eventfd, netlink socket); returns how many
 * were written (at most cap, at most 2). */
int ms_discover_pollitems(ms_daemon *d, zmq_pollitem_t *items, int cap);
/* Deliver pending discovery and link events, run peer exchange's timers.
 * Cheap when nothing is pending: call once per loop turn. */
void ms_discover_process(ms_daemon *d);

/* --- pex.c --------------------------------------------------------------- */

#define MS_PEX_MAX_CANDIDATES 256     /* learnt entries kept at most */
#define MS_PEX_EXPIRE_MS (3600u * 1000u) /* forgotten when not refreshed */
#define MS_PEX_SEND_INTERVAL_MS 60000u   /* per session, after the first */
#define MS_PEX_RECENT_MS (3600u * 1000u) /* "synced with recently" */

ms_err ms_pex_new(ms_daemon *d, ms_errbuf *eb);
void ms_pex_free(ms_daemon *d);
/* A PEERS message arrived on session s. */
void ms_pex_recv(ms_daemon *d, ms_session *s, const ms_wire_peers *m);
/* Send PEERS on sessions due for one; expire old candidates. */
void ms_pex_tick(ms_daemon *d);

/* --- peerman.c: discovered peers ---------------------------------------- */

/* The peer with node id `id`, or NULL. */
ms_pm_peer *ms_pm_find(ms_daemon *d, const uint8_t id[MS_PK_LEN]);
/* Find or create the record of id, add addr to its addresses (deduped) and
 * source to its sources; marks it dirty and recomputes its link state.
 * NULL when id is ours or out of memory. */
ms_pm_peer *ms_pm_learn(ms_daemon *d, const uint8_t id[MS_PK_LEN],
                        const char *addr, uint8_t source);
/* 1 when p has a session (either direction) or a dial in flight. */
int ms_pm_connected(ms_daemon *d, const ms_pm_peer *p);
/* 1 when the peer manager dials p by itself (static, mDNS, pex). */
int ms_pm_dialable(const ms_pm_peer *p);
/* Recompute p's link state (after changing mdns/pex/lost). */
void ms_pm_refresh(ms_daemon *d, ms_pm_peer *p);
/* Retry p now if it waits in backoff, at most once per kick_interval;
 * logs MS-PEER-KICK with why.  1 when a dial is now due. */
int ms_pm_kick(ms_daemon *d, ms_pm_peer *p, const char *why);
/* Withdrawn from mDNS: stop a dial that has not connected yet (a session
 * keeps running until its link drops). */
void ms_pm_hangup_dial(ms_daemon *d, ms_pm_peer *p);

/* Queue m on session s (sent by the next pump).  0 or -1 (sync.c). */
int ms_sync_send(ms_session *s, const ms_wire_msg *m);

#endif
