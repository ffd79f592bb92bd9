/*
 * transport_int.h — what net/transport.c (sockets, monitors, messages) and
 * net/zap.c (the ZAP handler and access lists) share.  Not for other modules.
 */
#ifndef MS_TRANSPORT_INT_H
#define MS_TRANSPORT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport.h"

/* Messages or events taken from one socket per ms_transport_process call. */
#define MS_TRANSPORT_BUDGET 256

/* Keepalive state of one connection (see ms_transport_keepalive).  The
 * send and receive paths only raise the flags; the next keepalive call,
 * which has the time, turns them into clocks, so no time is read or kept
 * between calls. */
typedef struct ms_alive {
	int heard;         /* a message came in since the last call */
	int sent;          /* a message went out since the last call */
	uint64_t heard_ms; /* last sign of life (0: not yet stamped) */
	uint64_t sent_ms;  /* last message sent (0: not yet stamped) */
} ms_alive;

/* One outgoing connection. */
typedef struct ms_dial {
	uint32_t peer;       /* handle given to the caller */
	void *sock;          /* DEALER, CURVE client */
	void *mon;           /* PAIR receiving the DEALER's monitor events */
	int up;              /* HANDSHAKE_SUCCEEDED seen */
	ms_link_reason fail; /* reason learnt from a HANDSHAKE_FAILED_* event */
	ms_alive alive;      /* keepalive clocks (from up) */
} ms_dial;

/* One inbound connection seen through a message (see the fd note in
 * transport.c).  The table is authoritative for sending: a routing id that
 * is not in it is refused, so a send after its MS_LINK_DOWN always fails. */
typedef struct ms_inconn {
	int dead;    /* send found it gone; DOWN not yet told */
	int closing; /* ZeroMQ reported its fd closed: DOWN is
	                             * told after the messages it left queued */
	size_t rid_len;
	uint8_t rid[MS_RID_MAX];
	int fd;                      /* ZMQ_SRCFD of its last message */
	uint64_t tcp_seq;            /* its ms_tcpconn (0: none was tracked) */
	uint8_t curve[MS_CURVE_LEN]; /* dialer's key from User-Id */
	ms_alive alive;              /* keepalive clocks (from its UP) */
} ms_inconn;

/* Inbound table bound.  Each live TCP connection has at most one routing
 * id, and live connections are at most inbound_connections <= this, so a
 * full table holds at least one entry whose connection is gone: that one
 * makes room (in_note). */
#define MS_TRANSPORT_MAX_IN MS_TRANSPORT_INBOUND_MAX

/* Room for "ffff:...:ffff" and a NUL. */
#define MS_ADDR_TEXT_MAX 48

/* One accepted TCP connection, from the ROUTER monitor's ACCEPTED event
 * until its DISCONNECTED: what the inbound budgets count.  ZeroMQ names a
 * connection only by its fd, so the remote address is read with
 * getpeername when the event is handled, and checked again before the
 * connection is shut down (shutdown(2) on the fd: ZeroMQ's I/O thread then
 * sees the socket closed and cleans up as for a peer that hung up). */
typedef struct ms_tcpconn {
	int fd;
	int established;  /* a message came through it (ZAP said yes, and a
	                  * session may run on it) */
	int released;     /* its session ended (ms_transport_release) */
	uint64_t seq;     /* accept order (> 0): smaller is older */
	uint64_t seen_ms; /* first close_silent call that saw it (0: none) */
	struct sockaddr_storage sa; /* remote address and port */
	socklen_t salen;
	char addr
		[MS_ADDR_TEXT_MAX]; /* remote IP as text: the per-address key */
} ms_tcpconn;

/* Routing ids reported down, remembered so that a message the connection
 * left queued in the ROUTER, read after its DOWN, is dropped instead of
 * looking like a new connection (ZeroMQ's generated routing ids are never
 * reused by a socket, so no live connection is refused by this). */
#define MS_TRANSPORT_TOMBSTONES 64
typedef struct ms_rid {
	size_t len;
	uint8_t b[MS_RID_MAX];
} ms_rid;

struct ms_transport {
	void *zctx;
	int own_zctx;
	ms_transport_params p;
	ms_transport_cbs cbs;
	ms_link_ops ops;

	/* sodium_malloc'd, no access except while read: listen sk, dialing sk */
	uint8_t *secrets;
	uint8_t listen_pk[MS_CURVE_LEN];
	uint8_t my_pk[MS_CURVE_LEN];

	void *router;     /* ROUTER, CURVE server */
	void *router_mon; /* PAIR receiving the ROUTER's monitor events */
	void *zap;        /* REP bound to inproc://zeromq.zap.01 */

	ms_dial *dials;
	size_t ndials, capdials;
	uint32_t next_peer;
	uint32_t mon_tag; /* random, makes monitor endpoints unique */
	unsigned mon_seq;

	ms_inconn *in;
	size_t nin, capin;
	ms_rid gone[MS_TRANSPORT_TOMBSTONES]; /* ring of dead routing ids */
	size_t ngone, gone_next;

	ms_tcpconn *tcp; /* accepted connections, p.inbound_connections max */
	size_t ntcp;
	uint64_t tcp_seq; /* last seq given */

	/* access lists as Curve25519 keys, n * MS_CURVE_LEN bytes */
	uint8_t *allow;
	size_t nallow;
	int has_allow;
	uint8_t *deny;
	size_t ndeny;

	uint64_t ka_last_ms; /* now_ms of the last keepalive call (0: none) */

	ms_transport_stats st;
};

/* Offsets inside t->secrets. */
#define MS_SECRET_LISTEN_SK 0
#define MS_SECRET_MY_SK MS_CURVE_LEN
#define MS_SECRETS_LEN (2 * MS_CURVE_LEN)

/* zap.c */
ms_err ms_zap_bind(ms_transport *t, ms_errbuf *eb);
void ms_zap_acl_free(ms_transport *t);

#endif
