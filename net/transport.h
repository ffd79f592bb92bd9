/*
 * transport.h — the ZeroMQ transport of one node: a CURVE ROUTER that accepts
 * members, one CURVE DEALER per outgoing peer, the ZAP handler that learns
 * who dialed and applies the allow/deny lists, and the socket monitors that
 * turn ZeroMQ events into link events.
 *
 * Keys (see docs/security.md):
 *  - The ROUTER is a CURVE server whose keypair every member derives from the
 *    shared network key (ms_netkey_listen_keypair).  A dialer must know that
 *    public key to even start the handshake, so a node of another mesh fails
 *    the handshake and nothing is ever delivered in either direction.
 *  - Every DEALER is a CURVE client whose keypair is the node's Ed25519
 *    identity converted to Curve25519 (ms_identity_curve_keypair).  The
 *    listener therefore learns the dialer's converted node id from the
 *    handshake itself; the node checks in HELLO that the claimed node id
 *    converts to that key (ms_ed25519_pk_to_curve).
 *
 * Threads: an ms_transport is used by one thread (the node's event loop).
 * Nothing here blocks except ms_transport_send with MS_SEND_WAIT.
 * There is no global state; each transport owns (or is given) a ZeroMQ
 * context and binds inproc://zeromq.zap.01 in it, so a context carries at
 * most one transport.
 *
 * Retries: outgoing DEALERs are set with ZMQ_RECONNECT_IVL = -1, so ZeroMQ
 * never reconnects on its own.  A dial ends in exactly one MS_LINK_DOWN event
 * (or in ms_transport_hangup); after it the handle is dead and the node's
 * backoff decides when to dial again (DESIGN, Links: one mechanism owns
 * retries).
 */
#ifndef MS_TRANSPORT_H
#define MS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "crypto.h"
#include "ms_err.h"

/* Largest message by default: an 8 MiB OPS batch plus framing headroom. */
#define MS_TRANSPORT_MAXMSG_DEFAULT ((int64_t)8 * 1024 * 1024 + 64 * 1024)
/* ZAP domain set on the ROUTER (ZAP is consulted for every CURVE handshake). */
#define MS_TRANSPORT_ZAP_DOMAIN "meshsync"
/* Longest ROUTER routing id ZeroMQ allows. */
#define MS_RID_MAX 255

/*
 * Budgets (docs/security.md).  ZeroMQ's high-water marks are counted in
 * messages, and a message may be MS_TRANSPORT_MAXMSG_DEFAULT bytes, so they
 * are a few messages: what one connection can make ZeroMQ hold is about
 * (hwm + 1) * maxmsgsize each way (the +1 being the message in the codec).
 * A send that finds the queue full returns MS_EBUSY; the caller keeps the
 * message (a session's output queue, bounded by the credit it may use).
 */
#define MS_TRANSPORT_SEND_HWM_DEFAULT 4 /* send_hwm: messages per link */
/* A session has at most one OPS batch unacknowledged (node/session), so an
 * honest peer never has more than a message or two on its way: two is
 * enough, and halves what a flooding member parks in our receive queues. */
#define MS_TRANSPORT_RECV_HWM_DEFAULT 2 /* recv_hwm: messages per link */
/* inbound_connections: TCP connections accepted and open at once, whether
 * or not their handshake is done. */
#define MS_TRANSPORT_INBOUND_DEFAULT 512
/* inbound_per_address: the same from one remote IP address.  Generous
 * enough for NAT'ed sites and for test meshes on loopback. */
#define MS_TRANSPORT_INBOUND_PER_ADDR_DEFAULT 32
/* Largest inbound_connections accepted (the tracking tables' bound). */
#define MS_TRANSPORT_INBOUND_MAX 4096

/*
 * Tunables.  Fill with ms_transport_params_init, then change what you need.
 * Keepalives (ms_transport_keepalive) are what notice a dead link: a peer
 * that stops answering is declared down heartbeat_timeout_ms after its last
 * sign of life.  ZeroMQ's own heartbeats (ZMQ_HEARTBEAT_*) are not used:
 * libzmq 4.3.4 sends a heartbeat from its timer without checking whether
 * the connection already failed while its input was stopped, and asserts
 * (stream_engine_base.cpp:331, "!_io_error") — a whole-process abort when
 * a peer hangs up on a connection the node has not read for a moment.
 */
typedef struct ms_transport_params {
	int64_t maxmsgsize;   /* bytes; a larger message drops its connection */
	int heartbeat_ivl_ms; /* keepalive after sending nothing this long
	                       * (default 1000) */
	int heartbeat_timeout_ms; /* nothing received this long => link down
	                           * (5000; longer than heartbeat_ivl_ms) */
	int handshake_ms; /* TCP connect + CURVE handshake limit (5000) */
	int linger_ms;    /* unsent data kept at close (100) */
	int send_hwm;     /* ZMQ_SNDHWM of every socket, messages (>= 1) */
	int recv_hwm;     /* ZMQ_RCVHWM of every socket, messages (>= 1) */
	/* Inbound connections open at once, in total and per remote IP
	 * (1..MS_TRANSPORT_INBOUND_MAX).  A connection accepted over either
	 * budget makes room by closing the oldest connection (of that address,
	 * for the per-address budget) that is not established, i.e. has not
	 * delivered a message (a bare TCP connection, a handshake under way,
	 * or a member that authenticated and stays silent); when every one is
	 * established, the new connection is closed instead: a connection a
	 * session runs on is never dropped for a newcomer.  Each refusal is
	 * counted and reported (reject callback, MS_REJECT_INBOUND_TOTAL /
	 * MS_REJECT_INBOUND_ADDR). */
	int inbound_connections;
	int inbound_per_address;
} ms_transport_params;

/* Defaults: MS_TRANSPORT_MAXMSG_DEFAULT, 1000/5000 ms, 5000, 100,
 * and the MS_TRANSPORT_*_DEFAULT budgets above. */
void ms_transport_params_init(ms_transport_params *p);

/* Direction of a connection. */
typedef enum ms_conn_dir {
	MS_CONN_OUT = 1, /* we dialed: identified by the dial handle */
	MS_CONN_IN = 2 /* they dialed us: identified by the ROUTER routing id */
} ms_conn_dir;

/*
 * One connection, by value.  For MS_CONN_OUT only `peer` matters; for
 * MS_CONN_IN only rid/rid_len.  Handles are never reused within a transport,
 * so a stale one yields MS_ENOTFOUND rather than reaching someone else.
 */
typedef struct ms_conn {
	ms_conn_dir dir;
	uint32_t peer;           /* dial handle (MS_CONN_OUT), > 0 */
	size_t rid_len;          /* routing id length (MS_CONN_IN) */
	uint8_t rid[MS_RID_MAX]; /* routing id bytes (MS_CONN_IN) */
} ms_conn;

/* 1 when a and b name the same connection. */
int ms_conn_equal(const ms_conn *a, const ms_conn *b);

/* Link event kinds. */
typedef enum ms_link_event {
	MS_LINK_UP =
		1, /* OUT: handshake done; IN: first message from a dialer */
	MS_LINK_DOWN =
		2 /* the connection is gone; an OUT handle is dead after it */
} ms_link_event;

/* Why a link went down (MS_LINK_NONE with MS_LINK_UP). */
typedef enum ms_link_reason {
	MS_LINK_NONE = 0, /* no reason: the link came up */
	MS_LINK_CONNECT, /* TCP connect failed (refused, unreachable, timeout) */
	MS_LINK_KEY,     /* CURVE handshake failed: the listener has another
	                       * network key (or is not a meshsync node) */
	MS_LINK_DENIED,  /* the listener's ZAP handler refused our node id */
	MS_LINK_HANDSHAKE, /* connected but no handshake within handshake_ms */
	MS_LINK_LOST,      /* an established link broke: closed by the peer,
	                       * keepalive timeout, or an oversize message */
	MS_LINK_REASON_COUNT_ /* number of reasons; not a reason */
} ms_link_reason;

/* Static lower-case name of a reason ("connect", "key", "denied", ...). */
const char *ms_link_reason_str(ms_link_reason r);

/* Why the listener refused or lost a dialer before any message. */
typedef enum ms_reject_reason {
	MS_REJECT_HANDSHAKE =
		1,           /* CURVE failed: dialer has another network key */
	MS_REJECT_MECHANISM, /* ZAP request for something other than CURVE */
	MS_REJECT_DENYLIST,  /* dialer's node id is on the deny list */
	MS_REJECT_NOT_ALLOWED, /* an allow list is set and the id is not on it */
	MS_REJECT_MALFORMED,   /* ZAP request not understood */
	MS_REJECT_INBOUND_TOTAL, /* over inbound_connections: a connection
	                          * with no session yet (or the new one)
	                          * was closed */
	MS_REJECT_INBOUND_ADDR,  /* over inbound_per_address: the same */
	MS_REJECT_SILENT,        /* no message within the silent limit
	                          * (ms_transport_close_silent) */
	MS_REJECT_REASON_COUNT_  /* number of reasons; not a reason */
} ms_reject_reason;

/* Static lower-case name of a reject reason ("handshake", "denylist", ...;
 * the two budget reasons are named as their budgets: "inbound_connections",
 * "inbound_per_address"). */
const char *ms_reject_reason_str(ms_reject_reason r);

/*
 * The callbacks.  All run on the thread that calls ms_transport_process,
 * from inside it.  Pointers passed to them are valid only during the call.
 *  - recv: one message, never an empty one (empty messages are keepalives,
 *    see ms_transport_keepalive).  peer_curve is the dialer's Curve25519 key (from the
 *    ZAP "User-Id" metadata) for MS_CONN_IN, NULL for MS_CONN_OUT (an
 *    outgoing link's far end proves its node id in HELLO instead).
 *  - link: MS_LINK_UP / MS_LINK_DOWN with a reason.  peer_curve as for recv.
 *    Inbound: UP comes just before the first message of a routing id; DOWN
 *    when ZeroMQ reports the connection's socket closed (peer gone,
 *    oversize message), when a send found it gone, or when it was silent
 *    for heartbeat_timeout_ms (ms_transport_keepalive, which calls link
 *    too).  After an
 *    inbound DOWN, sends to that routing id return MS_ENOTFOUND.  ZeroMQ
 *    reports closes by socket fd, mapped back through the fd of each
 *    routing id's last message, so a connection that dies in the instant
 *    between its message and our reading it is only noticed at the next
 *    send to it.
 *  - reject: the listener refused a dialer or its handshake failed, or
 *    closed a connection over an inbound budget; for counting and a log
 *    line.  peer_curve is NULL when unknown (a failed CURVE handshake
 *    reveals no key); addr is the dialer's IP or "".
 * The callbacks may call ms_transport_send, _dial and _hangup; they must not
 * free the transport.
 */
typedef struct ms_transport_cbs {
	void (*recv)(void *ctx, const ms_conn *c, const uint8_t *peer_curve,
	             const void *buf, size_t len);
	void (*link)(void *ctx, const ms_conn *c, ms_link_event ev,
	             ms_link_reason why, const uint8_t *peer_curve);
	void (*reject)(void *ctx, ms_reject_reason why,
	               const uint8_t *peer_curve, const char *addr);
	void *ctx;
} ms_transport_cbs;

/* Flags for ms_transport_send. */
#define MS_SEND_WAIT \
	0x1 /* block while the peer's queue is full (tests, tools) */

/*
 * The send/receive path as a table, so that a fault-injecting layer
 * (net/fault) can wrap it: read the current table with ms_transport_ops_get,
 * keep it, install one whose functions do their mischief and then call the
 * kept ones.  Every message sent through ms_transport_send goes through
 * ops.send; every received non-empty message is handed to ops.recv, whose
 * default is cbs.recv.  Keepalives (empty messages) go around the table.
 *  - send: returns MS_OK, MS_EBUSY (queue full, without MS_SEND_WAIT),
 *    MS_ENOTFOUND (no such connection), MS_EINVAL (too large), MS_ENET.
 */
typedef struct ms_link_ops {
	ms_err (*send)(void *send_ctx, const ms_conn *c, const void *buf,
	               size_t len, int flags, ms_errbuf *eb);
	void *send_ctx;
	void (*recv)(void *recv_ctx, const ms_conn *c,
	             const uint8_t *peer_curve, const void *buf, size_t len);
	void *recv_ctx;
} ms_link_ops;

/* Counters, for node-inspect and tests.  Monotonic for the transport's life. */
typedef struct ms_transport_stats {
	uint64_t in_accepted;       /* TCP connections accepted */
	uint64_t in_handshake_ok;   /* CURVE handshakes completed by dialers */
	uint64_t in_handshake_fail; /* CURVE failures (another network key) */
	uint64_t zap_requests;      /* ZAP requests answered */
	uint64_t zap_denied[MS_REJECT_REASON_COUNT_]; /* 400s by reason */
	uint64_t in_lost; /* inbound connections that went away */
	uint64_t dials;   /* ms_transport_dial calls that succeeded */
	uint64_t out_up;  /* outgoing handshakes completed */
	uint64_t out_down[MS_LINK_REASON_COUNT_]; /* outgoing DOWN by reason */
	uint64_t rx_msgs, rx_bytes;               /* messages delivered */
	uint64_t rx_dropped; /* multi-frame or unidentified input dropped */
	uint64_t tx_msgs, tx_bytes; /* messages handed to ZeroMQ */
	uint64_t tx_busy; /* sends refused: the queue was at send_hwm */
	uint64_t in_refused_total;   /* closed over inbound_connections */
	uint64_t in_refused_addr;    /* closed over inbound_per_address */
	uint64_t in_silent;          /* closed silent (close_silent) */
	uint64_t in_released_closed; /* closed after their session ended */
	uint64_t ka_sent;            /* keepalives sent (not in tx_msgs) */
	uint64_t ka_recv;            /* keepalives received (not in rx_msgs) */
	uint64_t ka_skipped; /* keepalives not sent: the queue was full */
	uint64_t ka_timeout; /* links closed silent for heartbeat_timeout_ms
	                      * (also counted as in_lost / out_down[LOST]) */
} ms_transport_stats;

typedef struct ms_transport ms_transport;

/*
 * Create a transport.  zctx: a ZeroMQ context to use (the caller keeps it and
 * terminates it after ms_transport_free), or NULL to create and own one.
 * nk and id are only read during the call: the derived keys are copied into
 * sodium_malloc'd memory (locked, guarded, no access except while read).
 * ZeroMQ keeps its own copies of each secret it is given (the socket's
 * options, then every connection's session and CURVE mechanism), on its
 * ordinary heap and not wiped when freed; a DEALER's own option is
 * overwritten once its connection has copied it (see ms_transport_dial).  p NULL means defaults.  cbs is copied; cbs->recv
 * and cbs->link are required, reject may be NULL.
 * Binds the ZAP handler (MS_EBUSY if another transport holds this context's
 * ZAP endpoint).  No listen endpoint yet: see ms_transport_listen.
 * Errors: MS_EINVAL, MS_ENOMEM, MS_ECRYPTO, MS_ENET, MS_EBUSY.
 */
ms_err ms_transport_new(ms_transport **out, void *zctx, const ms_netkey *nk,
                        const ms_identity *id, const ms_transport_params *p,
                        const ms_transport_cbs *cbs, ms_errbuf *eb);

/* Close every socket (pending output is kept for linger_ms), wipe the keys,
 * terminate the context if owned, free, set *tp = NULL.  NULL allowed.
 * No callbacks are called. */
void ms_transport_free(ms_transport **tp);

/*
 * Bind the ROUTER to endpoint ("tcp://0.0.0.0:7400", "tcp://127.0.0.1:*").
 * May be called several times.  When bound is non-NULL it receives the
 * endpoint actually bound (ZMQ_LAST_ENDPOINT, the port resolved).
 * Errors: MS_ENET ("zmq_bind(ep): Address already in use"), MS_EINVAL.
 */
ms_err ms_transport_listen(ms_transport *t, const char *endpoint, char *bound,
                           size_t bound_len, ms_errbuf *eb);

/*
 * Start an outgoing connection to endpoint; *peer receives its handle.
 * Returns at once: the outcome arrives as MS_LINK_UP, then eventually exactly
 * one MS_LINK_DOWN (with the reason).  Messages may be sent at once; they are
 * queued until the handshake completes and dropped if it never does (once
 * the attempt has failed, sends return MS_EBUSY until the DOWN is
 * delivered).  Best practice: send HELLO on MS_LINK_UP.
 * Errors: MS_EINVAL (bad endpoint), MS_ENET, MS_ENOMEM.
 */
ms_err ms_transport_dial(ms_transport *t, const char *endpoint, uint32_t *peer,
                         ms_errbuf *eb);

/* Close an outgoing connection now; no MS_LINK_DOWN follows.  Unknown or dead
 * handles are ignored. */
void ms_transport_hangup(ms_transport *t, uint32_t peer);

/*
 * Send one message (one ZeroMQ frame) on c through the ops table.  Without
 * MS_SEND_WAIT it never blocks: MS_EBUSY means the queue is full (retry after
 * the next poll).  MS_ENOTFOUND: unknown handle, dead dial, or an inbound
 * routing id that is no longer connected.  MS_EINVAL: len > maxmsgsize.
 */
ms_err ms_transport_send(ms_transport *t, const ms_conn *c, const void *buf,
                         size_t len, int flags, ms_errbuf *eb);

/* The raw send (what ops.send is at creation); send_ctx is the transport. */
ms_err ms_transport_send_raw(void *transport, const ms_conn *c, const void *buf,
                             size_t len, int flags, ms_errbuf *eb);

/*
 * The caller has no session on inbound connection c any more (it ended,
 * BYE sent): the connection stops counting as established, so the inbound
 * budgets may close it to make room for a newcomer (ZeroMQ cannot close
 * one routing id of a ROUTER; the dialer normally hangs up itself).  It is
 * not closed now, so a BYE still queued goes out.  Unknown or outbound
 * connections are ignored.
 */
void ms_transport_release(ms_transport *t, const ms_conn *c);

/* Read / replace the send/receive table (see ms_link_ops). */
void ms_transport_ops_get(const ms_transport *t, ms_link_ops *out);
void ms_transport_ops_set(ms_transport *t, const ms_link_ops *ops);

/*
 * The sockets to poll: fills up to cap items (socket set, events =
 * ZMQ_POLLIN) and returns how many there are; when that exceeds cap, nothing
 * is written and the caller retries with more room.  The set changes after
 * dial/hangup/DOWN, so rebuild it before each zmq_poll.
 */
int ms_transport_pollitems(const ms_transport *t, zmq_pollitem_t *items,
                           int cap);

/*
 * After zmq_poll reported any transport item readable (or at any time):
 * answer pending ZAP requests, turn monitor events into link events and
 * counters, and deliver received messages — draining each socket without
 * blocking, at most a fixed budget per socket per call so one busy peer
 * cannot starve the others (anything left keeps the socket readable).
 * Returns the number of messages and events handled.
 */
int ms_transport_process(ms_transport *t);

/* How long an inbound connection whose session ended
 * (ms_transport_release) stays open: time for our BYE to leave. */
#define MS_TRANSPORT_RELEASE_GRACE_MS 2000u

/*
 * Close every inbound connection that has delivered no message for
 * after_ms (a dialer that completes CURVE, or not even that, and never
 * sends HELLO: no session exists to time it out), and every one whose
 * session ended MS_TRANSPORT_RELEASE_GRACE_MS ago.  The second matters
 * when our BYE was lost: the dialer would otherwise keep a session we no
 * longer have, over a connection nobody closes; closing it gives the
 * dialer a link-down, and it dials again.  A connection's clock starts
 * at the first call that sees it (or at its release), so the caller calls
 * this every loop turn with its monotonic time.  Silent closes are
 * counted (in_silent) and reported through the reject callback
 * (MS_REJECT_SILENT); released ones are counted (in_released_closed).
 * Returns how many were closed.
 */
int ms_transport_close_silent(ms_transport *t, uint64_t now_ms,
                              uint64_t after_ms);

/*
 * Keepalives, the link's liveness check; the caller calls this every loop
 * turn, after ms_transport_process, with its monotonic time, and polls no
 * longer than until the time it returns.
 *  - Every established connection (an outgoing dial once up; an inbound
 *    routing id once it delivered a message) on which nothing was sent for
 *    heartbeat_ivl_ms gets a keepalive: an empty (zero-length) message,
 *    sent without blocking (a full queue skips it: the peer then has our
 *    data to read instead).  Keepalives bypass the ops table (net/fault
 *    does not see them).
 *  - Any message received is a sign of life.  Empty messages are consumed
 *    by the transport and never delivered (ms_transport_process), and do
 *    not establish an inbound connection: a dialer that only sends
 *    keepalives is still closed by ms_transport_close_silent.
 *  - A connection with no sign of life for heartbeat_timeout_ms is closed
 *    and reported down through the link callback: a dial as MS_LINK_DOWN /
 *    MS_LINK_LOST (the handle is dead after it); an inbound routing id as
 *    MS_LINK_DOWN / MS_LINK_LOST, and its TCP connection is shut.
 *  - Silence is only counted while the caller is calling: after a gap
 *    between two calls longer than heartbeat_ivl_ms (the process was
 *    stopped or stalled), every connection's clock restarts, so a node
 *    that stalled does not drop all of its links for its own lateness.
 *    A peer stalled for longer than heartbeat_timeout_ms does lose them.
 * Returns the monotonic time at which it wants to be called again
 * (UINT64_MAX when there is no connection to watch).
 */
uint64_t ms_transport_keepalive(ms_transport *t, uint64_t now_ms);

/*
 * The ZAP handler: its REP socket (also in ms_transport_pollitems) and the
 * function that answers every pending request without blocking; called by
 * ms_transport_process, exposed for loops that service it separately.
 * Policy: mechanism CURVE only; deny list first, then the allow list if one
 * is set; 200 with User-Id = hex of the client's Curve25519 key, otherwise 400
 * and one reject callback + counter per refusal.  Returns requests answered.
 */
void *ms_transport_zap_socket(const ms_transport *t);
int ms_transport_zap_handle(ms_transport *t);

/* Access lists of node ids (Ed25519 public keys, n * MS_PK_LEN bytes). */
typedef enum ms_acl_kind {
	MS_ACL_ALLOW = 1, /* when set, only these may connect */
	MS_ACL_DENY = 2   /* these may never connect (checked first) */
} ms_acl_kind;

/*
 * Replace a list.  ids are converted to Curve25519 keys now (MS_EINVAL naming
 * the index of one that is not a valid Ed25519 point; the old list stays).
 * n = 0 with MS_ACL_ALLOW sets an empty allow list: nobody is admitted.
 * Applies to handshakes from now on; established connections stay.
 */
ms_err ms_transport_acl_set(ms_transport *t, ms_acl_kind kind,
                            const uint8_t *ids, size_t n, ms_errbuf *eb);
/* Remove a list (no allow list = every member admitted). */
void ms_transport_acl_clear(ms_transport *t, ms_acl_kind kind);

/* Copy the counters. */
void ms_transport_stats_get(const ms_transport *t, ms_transport_stats *out);

/* The transport's own Curve25519 dialing public key (its converted node id). */
const uint8_t *ms_transport_curve_pk(const ms_transport *t);

#endif
