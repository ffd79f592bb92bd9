/*
 * sync.h — sync sessions (docs/protocol.md §5): one per connection, in
 * either direction.  HELLO with the listener's proof and the dialer-id
 * check, one round trip when the vector digests match, otherwise VV chunks,
 * then OPS batches from a per-session send queue ordered (priority, hlc),
 * ACKs with credit, a second VV round once the streams drained (§5.3 rule
 * 4), peer_vv persisted from ACKs, the peer's VV, equal digests and the ops
 * it sends, and live push of new ops read from the store's arrival feed.  Every message goes through
 * ms_transport_send (the transport's ms_link_ops), so a fault layer sees all.
 *
 * Sessions belong to the daemon's loop thread.
 */
#ifndef MS_SYNC_H
#define MS_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

typedef enum ms_sess_state {
	MS_SESS_HELLO = 0, /* waiting for the peer's HELLO */
	MS_SESS_SYNC,      /* vectors and backlog being exchanged */
	MS_SESS_LIVE,      /* initial sync done: pushing new ops */
	MS_SESS_CLOSED,    /* over; freed by ms_sync_reap */
} ms_sess_state;

/* Open a session on connection c.  Outbound (p is the dial's entry): sends
 * HELLO at once.  Inbound: peer_curve is the dialer's key from ZAP; waits
 * for its HELLO.  NULL when out of memory (logged). */
ms_session *ms_sync_open(ms_daemon *d, const ms_conn *c, ms_pm_peer *p,
                         const uint8_t *peer_curve);

/* The session on connection c, or NULL. */
ms_session *ms_sync_find(ms_daemon *d, const ms_conn *c);

/* One received message. */
void ms_sync_recv(ms_session *s, const uint8_t *buf, size_t len);

/* The connection is gone (transport DOWN): end with reason. */
void ms_sync_lost(ms_session *s, const char *reason);

/*
 * End the session: send BYE(bye_reason) unless bye_reason < 0, hang up an
 * outbound dial, log the summary and hand it to the peer manager.  failed:
 * the end counts as a failure for backoff.
 */
void ms_sync_close(ms_session *s, int bye_reason, const char *text,
                   const char *end, int failed);

/* Read the arrival feed past the last op seen and queue new ops for every
 * session whose peer lacks them. */
void ms_sync_feed(ms_daemon *d);

/* Flush queued output and send OPS as credit allows, on every session. */
void ms_sync_pump_all(ms_daemon *d);

/* Free closed sessions (not from inside callbacks that still use them). */
void ms_sync_reap(ms_daemon *d);

/* Accessors for the peer manager. */
ms_pm_peer *ms_sync_peer(const ms_session *s);
int ms_sync_outbound(const ms_session *s);
ms_sess_state ms_sync_state(const ms_session *s);
const ms_conn *ms_sync_conn(const ms_session *s);
const ms_session_summary *ms_sync_summary(const ms_session *s);
ms_session *ms_sync_next(const ms_session *s);
/* 1 once the peer's node id is known. */
int ms_sync_identified(const ms_session *s);

#endif
