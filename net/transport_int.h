/*
 * transport_int.h — what net/transport.c (sockets, monitors, messages) and
 * net/zap.c (the ZAP handler and access lists) share.  Not for other modules.
 */
#ifndef MS_TRANSPORT_INT_H
#define MS_TRANSPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

/* Messages or events taken from one socket per ms_transport_process call. */
#define MS_TRANSPORT_BUDGET 256

/* One outgoing connection. */
typedef struct ms_dial {
	uint32_t peer;       /* handle given to the caller */
	void *sock;          /* DEALER, CURVE client */
	void *mon;           /* PAIR receiving the DEALER's monitor events */
	int up;              /* HANDSHAKE_SUCCEEDED seen */
	ms_link_reason fail; /* reason learnt from a HANDSHAKE_FAILED_* event */
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
	uint8_t curve[MS_CURVE_LEN]; /* dialer's key from User-Id */
} ms_inconn;

/* Inbound table bound: beyond it the longest-known entry is dropped with an
 * MS_LINK_DOWN (its next message brings a new MS_LINK_UP), so memory stays
 * bounded. */
#define MS_TRANSPORT_MAX_IN 4096

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

	/* access lists as Curve25519 keys, n * MS_CURVE_LEN bytes */
	uint8_t *allow;
	size_t nallow;
	int has_allow;
	uint8_t *deny;
	size_t ndeny;

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
