/*
 * node_int.h — what node/ files share privately: the configuration (config.c)
 * and the ms_node context itself (node.c; the daemon extends it), and what
 * the public API's files share (node.c's reads and writes, used by
 * node_scan.c and node_resolve.c).
 */
#ifndef MS_NODE_INT_H
#define MS_NODE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "crypto.h"
#include "daemon.h"
#include "endpoint.h"
#include "fault.h"
#include "meshsync.h"
#include "ms_err.h"
#include "peers.h"
#include "store.h"
#include "wake.h"

#define MS_CFG_MAX_LISTEN 8           /* [net] listen lines */
#define MS_CFG_MAX_PEERS 64           /* [net] peer lines */
#define MS_CFG_MAX_ACL 256            /* node ids in allow (or deny) */
#define MS_CFG_EP_MAX MS_ENDPOINT_MAX /* bytes of an endpoint, NUL included */

#define MS_CFG_DEFAULT_LISTEN "tcp://0.0.0.0:7700"

/* [net]: endpoints, discovery, access lists and link timing. */
typedef struct ms_config_net {
	char listen[MS_CFG_MAX_LISTEN][MS_CFG_EP_MAX];
	size_t nlisten; /* 0: MS_CFG_DEFAULT_LISTEN */
	char peers[MS_CFG_MAX_PEERS][MS_CFG_EP_MAX];
	size_t npeers;
	int mdns; /* 1: publish and discover peers with mDNS (net/discovery, wired by node/daemon.c) */
	int has_allow; /* an allow list was given: only those may dial us */
	uint8_t allow[MS_CFG_MAX_ACL][MS_PK_LEN];
	size_t nallow;
	uint8_t deny[MS_CFG_MAX_ACL][MS_PK_LEN];
	size_t ndeny;
	uint64_t heartbeat_interval_ms;
	uint64_t heartbeat_timeout_ms;
	uint64_t handshake_timeout_ms;
	uint64_t
		max_message; /* bytes: ZMQ_MAXMSGSIZE and the OPS packing bound */
} ms_config_net;

/* [sync]: batching, flow control and the arrival-feed poll. */
typedef struct ms_config_sync {
	uint32_t batch_ops; /* ops per OPS batch, 1..1024 */
	uint32_t credit;    /* ops granted per ACK */
	uint64_t poll_ms;   /* arrival-feed check interval */
} ms_config_sync;

/* [limits]: the budgets an operator may set (docs/config.md).  The peer
 * table's, pex's and discovery's are filled with their module's default;
 * the transport's stay 0 = not set, its own defaults apply (config.c may
 * not include net/transport.h: tools/layering.sh). */
typedef struct ms_config_limits {
	uint32_t peer_records;      /* node/peertab: records in memory */
	uint32_t peer_records_disk; /* node/peertab: records stored */
	uint32_t dials_inflight;    /* node/peertab: discovered dials at once */
	uint32_t pex_candidates;    /* node/pex: candidates kept (restart) */
	uint32_t mdns_records;      /* net/discovery: instances (restart) */
	uint32_t send_hwm;          /* ZMQ_SNDHWM, messages (restart) */
	uint32_t recv_hwm;          /* ZMQ_RCVHWM, messages (restart) */
	uint32_t inbound_connections; /* TCP connections accepted at once */
	uint32_t inbound_per_address; /* the same from one IP address */
	/* sessions: 0 = not set; node/session enforces
	 * (MS_SESSION_*_DEFAULT), node/daemon admits
	 * (MS_DAEMON_SESSIONS_*_DEFAULT) */
	uint32_t session_vv_entries;
	uint64_t hello_timeout_ms;
	uint64_t vv_timeout_ms;
	uint64_t idle_timeout_ms;
	uint64_t session_memory;
	uint64_t sessions_memory_total;
	uint32_t sessions_per_peer;
	uint32_t sessions_total;
} ms_config_limits;

/* [log]. */
typedef struct ms_config_log {
	int level;  /* ms_log_level (RFC 5424 severity) */
	int syslog; /* 1: syslog instead of stderr */
} ms_config_log;

/* Everything meshsync.conf can set.  Policies point into rules: after copying
 * an ms_config, call ms_config_fix to re-point them. */
typedef struct ms_config {
	ms_store_opts store; /* limits; store.policies -> rules */
	ms_policy_rule rules[MS_POLICY_MAX];
	size_t nrules;
	ms_config_net net;
	ms_backoff_cfg backoff;
	uint64_t kick_interval_ms; /* [backoff] kick_interval */
	ms_config_sync sync;
	ms_config_limits limits;
	ms_config_log log;
	/* [faults] and then MESHSYNC_FAULTS (ms_config_faults_env); all
	 * zero (off) by default */
	ms_fault_config faults;
} ms_config;

/* Built-in defaults (those of ms_store_opts_default, no policy rules, and
 * the documented [net]/[backoff]/[sync]/[log] defaults; [limits] unset). */
void ms_config_default(ms_config *c);

/* Re-point c->store.policies at c->rules (after a struct copy). */
void ms_config_fix(ms_config *c);

/*
 * Parse the INI file at path over the defaults.  MS_ENOTFOUND when the file
 * does not exist; MS_EINVAL "PATH:LINE: why" for an unknown section or key,
 * a bad value or a syntax error; MS_EIO otherwise.
 */
ms_err ms_config_load(ms_config *c, const char *path, ms_errbuf *eb);

/* The configuration a node in dir runs with: config_path when given
 * (it must exist), else dir/meshsync.conf if it exists, else the
 * defaults.  Errors as ms_config_load. */
ms_err ms_config_load_node(ms_config *c, const char *dir,
                           const char *config_path, ms_errbuf *eb);

/* `meshsync-node run`'s flags over a loaded config: --listen replaces the
 * listen list, --peer adds to the peer list, the rest override single
 * values.  MS_EINVAL naming the bad flag. */
ms_err ms_config_apply_flags(ms_config *c, const ms_daemon_opts *o,
                             ms_errbuf *eb);

/* 1 when a and b have different policy tables. */
int ms_config_policies_differ(const ms_config *a, const ms_config *b);

/* For a reload: the settings that only take effect at the next start (the
 * transport, the store's limits, discovery: listen, heartbeat,
 * handshake_timeout, max_message, mdns, map, max_value, max_clock_skew,
 * pex_candidates, mdns_records, faults).
 * Writes the names of those nc changes against the running config run,
 * comma-separated, into what (cap bytes), puts run's values back into nc
 * so nothing half-applies, and returns how many changed. */
int ms_config_keep_restart_only(ms_config *nc, const ms_config *run, char *what,
                                size_t cap);

/*
 * The fault layer's environment variable MESHSYNC_FAULTS ("k=v;k=v", the
 * keys of [faults]) over what the file set: a key given there replaces
 * the file's value, partition and flap lines are added to the file's.
 * Unset or empty: nothing changes.  MS_EINVAL "MESHSYNC_FAULTS: why".
 * Read by `run` only (at start and reload), so a stray variable never
 * stops put/get.
 */
ms_err ms_config_faults_env(ms_config *c, ms_errbuf *eb);

/* Write the commented default configuration to path (O_EXCL, 0600). */
ms_err ms_config_write_default(const char *path, ms_errbuf *eb);

/* Parsers shared with the config file, exposed for tests and the CLI.
 * Return 0 on success, -1 when text is not a valid value. */
int ms_config_parse_size(const char *text, uint64_t *out);        /* 16M, 4G */
int ms_config_parse_duration_ms(const char *text, uint64_t *out); /* 30s, 1h */

struct ms_node {
	char *dir;
	ms_config cfg;
	ms_identity *id;
	ms_netkey *netkey;
	uint8_t netid[MS_NETID_LEN];
	ms_store *store;
	ms_wake *wake; /* ms_node_watch_fd's, made on its first call */
};

/*
 * Hand what a read of ks gives under flags (0 or MS_NODE_GET_ALL) to fn,
 * one value at a time, exactly as ms_node_get documents (counter deltas
 * and sums as decimal text, valid only during fn); stops when fn returns
 * non-zero.  MS_EDELETED (fn not called) when flags lack MS_NODE_GET_ALL
 * and the key's value under its policy is a delete; MS_OK otherwise.
 * ms_node_get and ms_node_scan both hand values through it.
 */
ms_err ms_node_values(const ms_key_state *ks, unsigned flags,
                      ms_node_value_fn fn, void *ctx);

/*
 * Append one local op through the store's one append path:
 * parents NULL takes the key's heads (ms_node_put, ms_node_del); else the
 * nparents ids must be exactly the key's heads (ms_node_resolve;
 * ms_store_append_resolve, *heads_now as there).  res (may be NULL) is
 * filled only on success.  Errors as ms_store_append_resolve.
 */
ms_err ms_node_write_op(ms_node *n, ms_op_type type, ms_prio prio,
                        const void *key, size_t klen, const void *value,
                        size_t vlen, const uint8_t (*parents)[MS_HASH_LEN],
                        size_t nparents, uint64_t *heads_now,
                        ms_node_write_result *res, ms_errbuf *eb);

/* ms_node_open for a command that only reads (`get`): read-write when it
 * can (so an older store is migrated as by any open), read-only when DIR
 * is on a read-only file system, so that reads go on there; a write
 * through such a handle fails with MS_EINVAL. */
ms_err ms_node_open_for_read(ms_node **out, const char *dir,
                             const char *config_path, ms_errbuf *eb);

#endif
