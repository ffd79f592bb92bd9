/*
 * bench.h — meshbench's shared pieces: the run's settings and scratch
 * directory, timing and percentiles, the big store several workloads
 * share, node processes, and one entry point per workload.  Each workload
 * adds one JSON object to the result (docs/benchmarks.md has the schema).
 */
#ifndef MSB_BENCH_H
#define MSB_BENCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "meshsync.h"

#define MSB_VALUE_LEN 200 /* value bytes of every benchmark write */
#define MSB_MAX_NODES 8   /* node processes a workload starts */

/* What one run measures and where. */
typedef struct msb_ctx {
	int quick, big, keep;
	uint64_t n;          /* N of the size-dependent workloads */
	char *dir;           /* scratch directory */
	char *node_bin;      /* meshsync-node */
	char *meshsim_bin;   /* meshsim */
	double verify2_rate; /* raw limits, once measured (0: not yet) */
	double sign2_rate;
	double lmdb_p99_ms[2]; /* durable single put p99: small, N */
	double lmdb_p50_ms[2];
	/* the shared big store: N ops, made once (msb_big_store) */
	char *big_dir;
	uint64_t big_ops;
	double big_fill_seconds;
	const char *big_fill_method;
	double enc_bytes_per_op; /* mean encoded op of the big store */
	/* catchup leaves its receiver holding the big store's ops, for
	 * insync and footprint */
	char *synced_dir;
	double catchup_peak_rss_mib;
} msb_ctx;

/* --- time and samples (stats.c) ------------------------------------------ */
uint64_t msb_now_ns(void);
double msb_secs_since(uint64_t t0_ns);
void msb_sleep_ms(double ms);
/* Sorts v (n > 0) and gives its p-th percentile (0..100, nearest rank). */
double msb_pct(double *v, size_t n, double p);
/* {"p50_ms", "p99_ms", "max_ms", "samples"} of n latencies in ms (sorts v). */
json_t *msb_lat_json(double *v, size_t n);
/* A target: {"value", "threshold", "op", "met"}; op is "<=" or ">=". */
json_t *msb_target(double value, const char *op, double threshold);
/* a/b, or JSON null when b is 0 or either is not finite. */
json_t *msb_ratio(double a, double b);
/* progress line on stderr */
void msb_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- stores and processes (proc.c) ---------------------------------------- */
/* Create a node in dir (joining netkey, or a new network for NULL). */
int msb_node_create(const char *dir, const char *netkey, char *netkey_out);
/* A free TCP port on 127.0.0.1 (bound and released). */
int msb_free_port(void);
/* Write dir/meshsync.conf: listen on port, dial the peers, no mDNS. */
int msb_node_config(const char *dir, int port, const int *peers, int npeers,
                    const char *allow);
/* The node id of the node in dir as 64 hex digits (out: 65 bytes). */
int msb_node_id_hex(const char *dir, char *out);
/* Start `meshsync-node run` on dir (log in dir/node.log); 0 on failure. */
pid_t msb_node_start(const msb_ctx *c, const char *dir, const char *level);
/* Wait for dir/node.endpoints (the daemon listens); -1 on timeout or when
 * pid exited. */
int msb_node_wait_ready(const char *dir, pid_t pid, double timeout_s);
/* SIGTERM (counters flushed), SIGKILL after 10 s. */
void msb_node_stop(pid_t pid);
/* RssAnon of pid in KiB, or -1. */
long msb_rss_anon_kib(pid_t pid);
/* Read a store read-only: ops, vv digest, (when sh != NULL) state hash,
 * store bytes.  0 on success. */
typedef struct msb_store_view {
	uint64_t ops, store_bytes;
	uint8_t vv[32], sh[32];
} msb_store_view;
int msb_store_view_read(const char *dir, msb_store_view *v, int with_state);
/* A named counter of dir's store (flushed by the daemon). */
uint64_t msb_store_counter(const char *dir, const char *name);
/* Mean encoded bytes of the ops in dir's store. */
double msb_store_enc_per_op(const char *dir);
/* Bytes on the TCP connections that have port as their local port
 * (both directions, ZeroMQ framing and CURVE included), from ss; -1 when
 * ss is missing or says nothing. */
long long msb_wire_bytes(int port);
/* Start argv (argv[0] a path) with its stdout on the returned stream and
 * its stderr into errpath (NULL: /dev/null); msb_spawn_wait closes the
 * stream and gives the exit status (-1 when it did not exit). */
FILE *msb_spawn_read(char *const argv[], const char *errpath, pid_t *pid);
int msb_spawn_wait(FILE *f, pid_t pid);
/* Lines of dir/node.log containing needle. */
int msb_log_count(const char *dir, const char *needle);
/* Run argv to its end; its exit status or -1. */
int msb_run(char *const argv[], int quiet);
/* The shared store of N ops (made on first use). 0 on success. */
int msb_big_store(msb_ctx *c);

/* --- workloads -------------------------------------------------------------- */
json_t *msb_raw(msb_ctx *c);
json_t *msb_put(msb_ctx *c);
json_t *msb_batch(msb_ctx *c);
json_t *msb_ingest(msb_ctx *c);
json_t *msb_catchup(msb_ctx *c);
json_t *msb_insync(msb_ctx *c);
json_t *msb_propagate(msb_ctx *c);
json_t *msb_footprint(msb_ctx *c);
json_t *msb_mesh(msb_ctx *c);

/* Measure the 2-thread sign and verify rates again, just before a
 * workload compared with them; the limits used become the best seen in
 * the run.  Returns the figures (raw.c). */
json_t *msb_raw_recheck(msb_ctx *c);
/* A raw LMDB environment pre-filled with n records (room for extra
 * more), for single puts timed beside meshsync's (raw.c). */
typedef struct msb_rawdb msb_rawdb;
msb_rawdb *msb_rawdb_open(msb_ctx *c, uint64_t n, size_t extra);
/* One durable single put; its latency in ms, or -1. */
double msb_rawdb_put(msb_rawdb *r);
void msb_rawdb_close(msb_rawdb **rp);

/* Raw LMDB durable single-put latency on a store holding n records
 * (raw.c; put's comparison). */
json_t *msb_raw_lmdb_single(msb_ctx *c, uint64_t n, double *p50, double *p99);

#endif
