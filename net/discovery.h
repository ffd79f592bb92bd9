/*
 * discovery.h — mDNS/DNS-SD discovery of the members of one mesh through
 * avahi-daemon: publish this node as `_meshsync._tcp`, browse and resolve the
 * others, and hand what was found to the node's event loop.
 *
 * What is published (docs/discovery.md): one service of type
 * MS_DISC_SERVICE_TYPE on the node's listening port, on every interface the
 * daemon serves, with the TXT record
 *     v=<protocol version, decimal>
 *     id=<node id, 64 lower-case hex>
 *     net=<first 16 hex of the network id>
 * Resolved services are checked before anything dials them: our own id,
 * another `net`, another `v` and malformed records are skipped and counted
 * (ms_disc_stats); only the rest become MS_DISC_FOUND events.
 *
 * Threads: Avahi runs in its own thread (avahi_threaded_poll).  Everything it
 * learns is put on a lock-protected queue, and an eventfd (ms_disc_fd)
 * becomes readable; the node's loop polls that fd and calls ms_disc_process,
 * which delivers the queued events AND log lines on the caller's thread.  So
 * the callbacks never run concurrently with the loop and need no locks.
 *
 * The daemon may be absent, appear later, die and come back: the module
 * keeps trying on its own (see ms_disc_new) and reports it with
 * MS_DISC_STATE events; the caller never has to recreate it.
 */
#ifndef MS_DISCOVERY_H
#define MS_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "ms_err.h"

/* The DNS-SD service type every node publishes and browses. */
#define MS_DISC_SERVICE_TYPE "_meshsync._tcp"
/* Longest service instance name DNS allows (one label), plus the NUL. */
#define MS_DISC_NAME_MAX 64
/* Longest endpoint string: "tcp://[" v6 "%" ifname "]:" port, plus the NUL. */
#define MS_DISC_EP_MAX 80
/* Hex digits of the network id carried in the TXT record. */
#define MS_DISC_NET_HEX 16
/* mdns_records: service instances (one per interface, protocol and name)
 * held at once by default.  Anyone on the LAN can announce instances;
 * beyond the budget new ones are neither resolved nor reported, and are
 * counted (records_full) until some go. */
#define MS_DISC_RECORDS_DEFAULT 256
/* Queued events and log lines delivered per ms_disc_process call. */
#define MS_DISC_PROCESS_MAX 256
/* Default interval between attempts to reach a missing system bus. */
#define MS_DISC_RETRY_MS_DEFAULT 2000u

/* Address families to browse and resolve (bits of ms_disc_cfg.families).
 * Our own service is always announced over both. */
#define MS_DISC_INET 0x1  /* IPv4: A records, tcp://1.2.3.4:port */
#define MS_DISC_INET6 0x2 /* IPv6: AAAA records, tcp://[fe80::1%eth0]:port */

/*
 * Configuration; only read during ms_disc_new (strings are copied).
 * Zero values pick the defaults given in each comment.
 */
typedef struct ms_disc_cfg {
	uint8_t node_id[MS_PK_LEN];   /* our node id (published as `id`) */
	uint8_t net_id[MS_NETID_LEN]; /* our network id (prefix as `net`) */
	uint32_t proto_version;       /* published as `v`; others are skipped */
	uint16_t port;                /* our listening TCP port, > 0 */
	const char *name;             /* instance name wanted; NULL or "" =
	                              * "meshsync-<first 12 hex of node id>".
	                              * On a collision Avahi's alternative
	                              * ("name #2") is taken instead. */
	const char *service_type; /* NULL = MS_DISC_SERVICE_TYPE; tests use a
	                              * private type so runs cannot meet */
	unsigned families;        /* MS_DISC_INET|INET6 bits; 0 = both */
	unsigned retry_ms;        /* bus retry interval; 0 = default */
	int no_publish;           /* 1: browse only (tools, probes) */
	size_t max_records; /* mdns_records; 0 = MS_DISC_RECORDS_DEFAULT */
} ms_disc_cfg;

/* Event kinds (ms_disc_event.kind). */
typedef enum ms_disc_event_kind {
	MS_DISC_FOUND = 1, /* a member's service resolved to an endpoint */
	MS_DISC_LOST =
		2, /* a member's service was withdrawn on one interface */
	MS_DISC_STATE = 3 /* the daemon connection went up or down */
} ms_disc_event_kind;

/*
 * One event, by value; valid only during the callback.
 *  - FOUND: node_id, name, endpoint ("tcp://127.0.0.1:7701" or
 *    "tcp://[fe80::1%eth0]:7701"), ifindex, family (AF_INET/AF_INET6),
 *    port.  One FOUND per (interface, protocol) the service resolves on, so
 *    one member may yield several endpoints.  A FOUND may repeat for an
 *    instance already found (after ms_disc_refresh or a daemon restart):
 *    it means "seen again now", and the endpoint may have changed.
 *  - LOST: the same fields as the FOUND it undoes.  `last` is 1 when no
 *    other endpoint of that node id remains known (the member is gone from
 *    mDNS entirely).  Only services that were FOUND are ever LOST.
 *  - STATE: `up` is 1 when the daemon answers and our service is being
 *    published/browsed, 0 when the daemon went away (or is absent at
 *    start).  While down, known members are kept (the daemon going away
 *    does not mean they did); the ones not seen again within one browse
 *    after it comes back are then reported LOST.
 */
typedef struct ms_disc_event {
	ms_disc_event_kind kind;
	uint8_t node_id[MS_PK_LEN];
	char name[MS_DISC_NAME_MAX];
	char endpoint[MS_DISC_EP_MAX];
	int ifindex; /* interface the service was seen on */
	int family;  /* AF_INET or AF_INET6 */
	uint16_t port;
	int last; /* LOST: no other endpoint of this node id remains */
	int up;   /* STATE */
} ms_disc_event;

/* Event callback; runs inside ms_disc_process on the caller's thread. */
typedef void (*ms_disc_event_fn)(void *ctx, const ms_disc_event *ev);

/*
 * Log callback; runs inside ms_disc_process on the caller's thread.  level
 * is an RFC 5424 / syslog level (LOG_ERR 3, LOG_WARNING 4, LOG_NOTICE 5,
 * LOG_INFO 6, LOG_DEBUG 7); msg starts with a stable id and carries facts
 * as key=value, e.g. "MS-DISC-NODAEMON reason=...", none of them text
 * from the network.  name, when not NULL, is the service instance name the
 * line is about, as announced on the LAN: any bytes (newlines included),
 * for the receiver to quote (the node's log: ms_log_q) as name=.  NULL =
 * no logs.
 */
typedef void (*ms_disc_log_fn)(void *ctx, int level, const char *msg,
                               const char *name);

/* Counters, for node-inspect and tests; monotonic except `up`, `name` and
 * `records`. */
typedef struct ms_disc_stats {
	int up;        /* 1 while the daemon answers (last STATE) */
	int published; /* 1 while our entry group is established */
	char name[MS_DISC_NAME_MAX]; /* the instance name in use now */
	uint64_t client_starts;      /* avahi clients created */
	uint64_t client_fails;   /* avahi_client_new refused (no bus/daemon) */
	uint64_t disconnects;    /* daemon connection lost (FAILURE) */
	uint64_t registrations;  /* times our service became established */
	uint64_t collisions;     /* renames taken after a name collision */
	uint64_t browses;        /* browsers started (refresh, restart) */
	uint64_t resolved;       /* resolver answers */
	uint64_t resolve_fail;   /* resolver failures/timeouts */
	uint64_t found;          /* FOUND events queued */
	uint64_t lost;           /* LOST events queued */
	uint64_t skip_self;      /* our own service (id == ours) */
	uint64_t skip_net;       /* another network (`net` differs) */
	uint64_t skip_version;   /* another protocol version (`v` differs) */
	uint64_t skip_malformed; /* TXT missing or unparsable */
	uint64_t queue_dropped;  /* events dropped: queue full (see below) */
	uint64_t records;        /* instances held now (not monotonic) */
	uint64_t records_full;   /* instances ignored: mdns_records reached */
} ms_disc_stats;

typedef struct ms_disc ms_disc;

/*
 * Create discovery and start its Avahi thread.  event_fn is required;
 * log_fn may be NULL; ctx is passed to both.
 *
 * Never fails because of the daemon: with no system bus or no avahi-daemon
 * one warning (MS-DISC-NODAEMON) is logged, a STATE down event is queued,
 * and the thread keeps trying (the client is created with
 * AVAHI_CLIENT_NO_FAIL, so it notices the daemon appear; without a bus the
 * client is re-created every retry_ms).  Once the daemon answers, the
 * service is registered and browsing starts, with a STATE up event.  When
 * the daemon dies (AVAHI_CLIENT_FAILURE, AVAHI_ERR_DISCONNECTED), the client
 * is replaced and everything is redone when it runs again.
 *
 * Skips are counted once per service instance (per interface and protocol),
 * not once per resolution.
 *
 * Errors: MS_EINVAL (port 0, bad families, name too long), MS_ENOMEM,
 * MS_EIO (eventfd, thread).
 */
ms_err ms_disc_new(ms_disc **out, const ms_disc_cfg *cfg,
                   ms_disc_event_fn event_fn, ms_disc_log_fn log_fn, void *ctx,
                   ms_errbuf *eb);

/* Stop the Avahi thread (our service is withdrawn as the client goes), free
 * everything, set *dp = NULL.  Queued events are discarded, no callbacks
 * run.  NULL allowed.  Call from the thread that owns the loop, never from
 * inside a callback. */
void ms_disc_free(ms_disc **dp);

/* The fd to poll for reading (an eventfd); readable while events are
 * queued.  Owned by d. */
int ms_disc_fd(const ms_disc *d);

/*
 * Deliver queued events and log lines, in order, by calling the callbacks on
 * this thread.  Delivers at most the entries queued when the call started,
 * and at most MS_DISC_PROCESS_MAX of them, so a flood of announcements
 * cannot hold the caller's loop (the rest, and new arrivals, wait for the
 * next call, which the fd announces).  Returns the number of events delivered (log lines not
 * counted).  Callbacks may call ms_disc_refresh and ms_disc_stats_get, not
 * ms_disc_free.
 */
int ms_disc_process(ms_disc *d);

/*
 * Browse again now: used when linkmon reports an interface or address
 * coming up, so members on it are found at once rather than when their next
 * announcement happens to arrive.  Every member still present is reported
 * FOUND again; members that do not answer within the first browse round are
 * reported LOST.  A no-op (returns 0) while the daemon is down (it
 * re-browses by itself when it comes back); 1 when a browse was started.
 */
int ms_disc_refresh(ms_disc *d);

/* Copy the counters (taken under the lock; consistent with each other). */
void ms_disc_stats_get(const ms_disc *d, ms_disc_stats *out);

/*
 * The TXT check applied to every resolved service, exposed for tests and
 * tools: parse "v", "id", "net" from strings like "id=ab12…" (n of them).
 * Returns MS_OK and fills id/version/net (16 lower-case hex + NUL), or
 * MS_EPROTO with the reason in eb.
 */
ms_err ms_disc_txt_parse(const char *const *txt, const size_t *len, size_t n,
                         uint8_t id[MS_PK_LEN], uint32_t *version,
                         char net[MS_DISC_NET_HEX + 1], ms_errbuf *eb);

#endif
