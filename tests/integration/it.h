/*
 * it.h — the harness for multi-process integration tests: real
 * `meshsync-node run` processes on loopback, driven through the real CLI
 * (`meshsync-node put`, `node-inspect --json`), waited on with deadlines and
 * stopped by PID.
 *
 * Every wait is bounded in count and time; every process a test starts is
 * recorded in its it_node and stopped by it_node_stop/it_node_kill (the
 * fixture's teardown stops whatever is still running).  Time, waits,
 * files and processes come from the shared harness, ms_test.h.
 */
#ifndef MS_IT_H
#define MS_IT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ms_test.h"

#define IT_MAX_NODES 8
#define IT_DEADLINE_MS 60000 /* default wait: generous for sanitizer builds */

typedef struct it_node {
	char name[16];     /* "a", "b", ... (log lines and file names) */
	char dir[512];     /* data directory */
	char log[512];     /* stderr of `run` (appended across restarts) */
	char conf[512];    /* extra config appended to DIR/meshsync.conf */
	int port;          /* loopback port it listens on */
	char endpoint[64]; /* tcp://127.0.0.1:PORT */
	pid_t pid;         /* running daemon, or 0 */
} it_node;

/* A test case with the it_setup/it_teardown fixture and a timeout in
 * seconds: every integration suite is built from these. */
#include <check.h>
TCase *it_tcase(const char *name, int timeout_s);

/* A scratch directory for one test (under $TMPDIR or /dev/shm). */
const char *it_tmpdir(void);
/* Create the scratch dir; remove it and stop every node (teardown). */
void it_setup(void);
void it_teardown(void);

/* A free loopback TCP port (bound and released; unlikely to be reused in the
 * few ms before the node binds it). */
int it_free_port(void);

/*
 * Make node n named name: init its data dir (joining netkey_from's network
 * when non-NULL, else a new network) and write its config with extra_conf
 * appended (may be NULL).
 */
void it_node_init(it_node *n, const char *name, const it_node *netkey_from,
                  const char *extra_conf);

/* Start `meshsync-node run` with --listen on n->port, --peer for each of
 * peers (n_peers entries), --no-mdns and --log-level debug; wait until it
 * has written DIR/node.endpoints.  Asserts on failure. */
void it_node_start(it_node *n, it_node *const *peers, size_t n_peers);
/* The same with --log-level level, or without the flag when level is NULL
 * (the config's [log] level applies then). */
void it_node_start_level(it_node *n, it_node *const *peers, size_t n_peers,
                         const char *level);
/* How to start a node, for the variants above and the discovery tests. */
typedef struct it_start_opts {
	const char *level; /* --log-level, or NULL for the config's level */
	int mdns;          /* 0: --no-mdns */
	const char *netns; /* run under `ip netns exec NETNS`, or NULL */
	const char *bus;   /* DBUS_SYSTEM_BUS_ADDRESS for the node, or NULL */
} it_start_opts;
void it_node_start_opts(it_node *n, it_node *const *peers, size_t n_peers,
                        const it_start_opts *o);
/* Send sig to the running daemon; 1 if it is still alive afterwards. */
int it_node_alive(const it_node *n);
void it_node_signal(const it_node *n, int sig);
/* Replace DIR/meshsync.conf with text. */
void it_node_write_conf(const it_node *n, const char *text);
/* SIGTERM, wait for a clean exit (asserts exit 0) within the deadline. */
void it_node_stop(it_node *n);
/* SIGKILL and reap. */
void it_node_kill(it_node *n);

/* Run a program to completion; stdout returned (malloc'd, NUL-terminated;
 * NULL allowed for out), exit code returned.  stdin is empty. */
int it_run(char **out, char **err, const char *bin, ...);
#define it_cli(out, ...) \
	it_run(out, NULL, MS_NODE_BIN, __VA_ARGS__, (char *)NULL)

/* meshsync-node put --data DIR key value (asserts exit 0). */
void it_put(const it_node *n, const char *key, const char *value);
/* count puts "prefix/<i>" = "value <i>" through the embedding API in one
 * process (fast backlogs; the node must not be running a writer-heavy
 * workload at the same time, but a running daemon is fine). */
void it_bulk_put(const it_node *n, const char *prefix, int count,
                 int background);
/* node-inspect --data DIR --json CMD parsed; asserts exit 0 (caller
 * json_decref's). */
json_t *it_inspect(const it_node *n, const char *cmd);
/* Integer field of `summary` (asserts it exists). */
uint64_t it_summary_u64(const it_node *n, const char *field);
/* String field of `summary` copied into out (asserts it exists). */
void it_summary_str(const it_node *n, const char *field, char *out, size_t cap);

/* Wait until every node's summary reports `ops` == want_ops and equal
 * state_hash; returns 0 on success, -1 on deadline (caller asserts, after
 * printing the nodes' summaries for the log). */
int it_wait_converged(it_node *const *nodes, size_t n, uint64_t want_ops,
                      uint64_t deadline_ms);
/* Wait until `meshsync-node get KEY` on n prints value (exit 0). */
int it_wait_value(const it_node *n, const char *key, const char *value,
                  uint64_t deadline_ms);
/* Wait until n's log file contains needle; 0 found, -1 deadline. */
int it_wait_log(const it_node *n, const char *needle, uint64_t deadline_ms);
/* Count occurrences of needle in n's log. */
size_t it_log_count(const it_node *n, const char *needle);

/* A named counter from `node-inspect --json stats` (0 when unset). */
uint64_t it_stat(const it_node *n, const char *name);
/* Wait until it_stat(n, name) >= min; 0 ok, -1 deadline. */
int it_wait_stat_ge(const it_node *n, const char *name, uint64_t min,
                    uint64_t deadline_ms);
/* Wait until, on every node, every identified peer in `peers` has lag 0
 * and `summary` says unacked_local_ops 0 (ACKs are asynchronous); and each
 * node lists at least min_peers identified peers.  0 ok, -1 deadline (the
 * nodes' peers are printed). */
int it_wait_no_lag(it_node *const *nodes, size_t n, size_t min_peers,
                   uint64_t deadline_ms);

#endif
