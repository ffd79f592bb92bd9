/*
 * daemon.h — `meshsync-node run`: the daemon's context shared by its files
 * (daemon.c: lifecycle, signals and the one zmq_poll loop; peerman.c: the
 * peer table, dialling and backoff; sync.c: sessions), and its entry point.
 *
 * One thread runs everything here (the store's verify worker is the only
 * other thread).  Nothing in this header is public API.
 */
#ifndef MS_DAEMON_H
#define MS_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "arrival.h"
#include "backoff.h"
#include "lacking.h"
#include "log.h"
#include "node_int.h"
#include "peer_vv.h"
#include "peers.h"
#include "rng.h"
#include "transport.h"
#include "vector.h"
#include "wire.h"

/* What the command line adds to (or overrides in) meshsync.conf. */
typedef struct ms_daemon_opts {
	const char *dir;          /* data directory (required) */
	const char *config_path;  /* NULL: DIR/meshsync.conf if present */
	const char *const *listen; /* --listen: replaces [net] listen */
	size_t nlisten;
	const char *const *peers; /* --peer: added to [net] peer */
	size_t npeers;
	int no_mdns;   /* --no-mdns */
	int log_level; /* --log-level, or -1 for the config's */
	int syslog;    /* --syslog */
} ms_daemon_opts;

/*
 * Run the daemon until SIGINT or SIGTERM: lock DIR/node.pid, open the node,
 * listen, write DIR/node.endpoints, dial static peers and sync.  Returns
 * MS_OK after a clean stop (both files removed); otherwise the error in eb,
 * e.g. MS_EBUSY "run DIR: already running (pid N)".
 */
ms_err ms_daemon_run(const ms_daemon_opts *o, ms_errbuf *eb);

typedef struct ms_session ms_session;

/* One peer the peer manager knows (see peerman.c). */
typedef struct ms_pm_peer {
	ms_peer_rec rec;   /* what is persisted */
	ms_backoff bo;     /* mirrors rec.bo_* */
	int is_static;     /* one of its addresses is a configured peer */
	int self;          /* dialling it reached ourselves: never again */
	uint32_t dial;     /* transport dial handle, 0 when not dialling */
	char dial_addr[MS_PEER_ADDR_MAX];
	uint32_t rr;       /* which static address to dial next */
	ms_session *out;   /* the session on our dial, if up */
	int dirty;         /* rec changed since it was last stored */
	/* discovery (node/discover.c, node/pex.c): why a non-static peer is
	 * dialled, and whether mDNS withdrew it */
	int mdns;          /* its service is announced now */
	int pex;           /* a live peer-exchange candidate */
	int lost;          /* mDNS withdrew it (cleared when seen again) */
	uint64_t hold_until_ms; /* wall ms: do not dial before (tie-break) */
} ms_pm_peer;

/* Daemon-wide counters (logged at exit; for tests through the log). */
typedef struct ms_daemon_stats {
	uint64_t sessions, bad_messages, auth_failures, rejects, dials;
} ms_daemon_stats;

/* Named counters for the store's stats db (node-inspect stats), counted in
 * memory and flushed at most once a second and at exit (ms_daemon_count). */
#define MS_DCOUNT_MAX 128
#define MS_DCOUNT_NAME 48
typedef struct ms_dcount {
	char name[MS_DCOUNT_NAME];
	uint64_t delta; /* not flushed yet */
} ms_dcount;

typedef struct ms_daemon {
	ms_node *node;
	const ms_daemon_opts *opts;
	ms_log log;
	ms_rng rng;
	ms_transport *t;
	char bound[MS_CFG_MAX_LISTEN][MS_CFG_EP_MAX]; /* endpoints bound */
	size_t nbound;

	ms_pm_peer **peers; /* peer manager table */
	size_t npeers, cappeers;

	ms_session *sessions; /* every open session (list) */
	uint64_t arrival_seen; /* arrival feed read up to here */

	ms_wire_scratch *scratch; /* decode arrays (64 KiB) */
	uint8_t *msgbuf;          /* encode buffer, MS_WIRE_MAX_MSG bytes */
	ms_wire_bytes *txops;     /* MS_WIRE_MAX_OPS ops of the batch being built */
	ms_daemon_stats st;
	ms_dcount counts[MS_DCOUNT_MAX];
	size_t ncounts;
	ms_transport_stats tst_flushed; /* transport counters already added */
	uint64_t counts_flushed_mono;
	struct ms_discover *disc; /* mDNS + link monitor (node/discover.c) */
	struct ms_pex *pex;       /* peer exchange (node/pex.c) */
	int stopping;
} ms_daemon;

/* Add n to the named counter (prefix + suffix, e.g. "bye_sent_" +
 * "proto"); suffix may be NULL.  Cheap: nothing is written here. */
void ms_daemon_count(ms_daemon *d, const char *prefix, const char *suffix,
                     uint64_t n);
/* Write the counters' deltas (and the transport's) to the store: when force,
 * or when a second has passed since the last write. */
void ms_daemon_counts_flush(ms_daemon *d, int force);

/* Milliseconds: monotonic (timers, durations) and wall (persisted state). */
uint64_t ms_daemon_mono_ms(void);
uint64_t ms_daemon_wall_ms(void);

/* --- peer manager (peerman.c) -------------------------------------------- */

/* Load the peer table from the store and merge the configured static peers. */
ms_err ms_pm_init(ms_daemon *d, ms_errbuf *eb);
/* Store what changed and free the table. */
void ms_pm_free(ms_daemon *d);
/* The config's static peers changed (SIGHUP): merge the new list. */
void ms_pm_reconfigure(ms_daemon *d);
/* Dial every static peer whose backoff is due; returns the wall-clock ms of
 * the next due dial (UINT64_MAX when none). */
uint64_t ms_pm_tick(ms_daemon *d);
/* Store records that changed (once per loop, never per op). */
void ms_pm_flush(ms_daemon *d);

/* Transport link events for dials (MS_CONN_OUT). */
void ms_pm_dial_up(ms_daemon *d, uint32_t handle);
void ms_pm_dial_down(ms_daemon *d, uint32_t handle, ms_link_reason why);

/* A session learnt the peer's node id from HELLO.  Outbound: the dial's
 * entry is merged with the record of that id.  Inbound: the record is found
 * or created (source inbound), merged with any static record still keyed
 * by one of the endpoints it announced (eps), and, if its backoff holds our
 * dial back, the dial is kicked.  Returns the entry, NULL when id is our own (self). */
ms_pm_peer *ms_pm_identified(ms_daemon *d, ms_session *s,
                             const uint8_t id[MS_PK_LEN],
                             const ms_wire_bytes *eps, size_t neps);
/* Session s of p changed state (syncing, live): recompute the link state;
 * an outbound session that completed its initial sync resets backoff. */
void ms_pm_session_state(ms_daemon *d, ms_pm_peer *p, ms_session *s);
/* A session is over: summary stored, backoff reset or advanced (failed),
 * outbound dial released.  reason is the summary's end reason. */
void ms_pm_session_end(ms_daemon *d, ms_session *s, ms_pm_peer *p, int failed,
                       const char *reason);
/* An outbound dial reached ourselves: hang up, never dial it again. */
void ms_pm_self(ms_daemon *d, ms_pm_peer *p);
/* A refused connection or identity, for counting: p may be NULL. */
void ms_pm_count_failure(ms_daemon *d, ms_pm_peer *p, const char *why);

/* "addr" of a peer for logs: the dialled address, its first address, or "-". */
const char *ms_pm_addr(const ms_pm_peer *p);

#endif
