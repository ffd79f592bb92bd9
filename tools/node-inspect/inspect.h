/*
 * inspect.h — what node-inspect's files share: the parsed command line with
 * the store opened read-only, the dispatch table, aligned text tables, and
 * the JSON and display helpers.  node-inspect reads nothing but the store
 * (no key files), through store.h's read API, and two run files:
 * node.faults (summary: whether the running node injects faults) and
 * node.mesh (graph: what peers told of their peers; untrusted input).
 */
#ifndef MS_INSPECT_H
#define MS_INSPECT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h" /* exit codes, ms_cli_text */
#include "peers.h"
#include "peers.h"
#include "store.h"

/* Options a command may accept (ins_cmd.opts). */
enum {
	INS_AUTHOR = 1u << 0,   /* --author HEXPREFIX */
	INS_SINCE = 1u << 1,    /* --since SEQ */
	INS_LIMIT = 1u << 2,    /* --limit N */
	INS_PREFIX = 1u << 3,   /* --prefix P */
	INS_WATCH = 1u << 4,    /* --watch (peers) */
	INS_INTERVAL = 1u << 5, /* --interval SECONDS (with --watch) */
	INS_COUNT = 1u << 6,    /* --count N (--watch, --follow) */
	INS_FOLLOW = 1u << 7,   /* --follow (log) */
	INS_SVG = 1u << 8,      /* --svg FILE (graph) */
	INS_OPTS_END = 1u << 9, /* the first bit that is not a command's */
};

typedef struct ins_ctx {
	const char *data;     /* --data or $MESHSYNC_DATA */
	int json;             /* --json */
	const char *author;   /* lower-cased hex prefix, or NULL */
	uint64_t since;       /* --since (0 = from the start) */
	uint64_t limit;       /* --limit (0 = no limit) */
	const char *prefix;   /* --prefix, or NULL */
	int watch;            /* --watch */
	uint64_t interval_ms; /* --interval (default 2000) */
	uint64_t count;       /* --count (0 = until a signal) */
	int follow;           /* --follow */
	const char *svg;      /* --svg FILE, or NULL */
	const char *arg;      /* the command's argument (KEY, PEER), or NULL */
	int npos;
	char **pos;
	ms_store *store; /* opened read-only before the command runs */
} ins_ctx;

typedef struct ins_cmd {
	const char *name;
	int (*fn)(ins_ctx *x);
	const char *help;  /* one line */
	const char *usage; /* "log [--author HEX] ..." */
	unsigned opts;     /* INS_* accepted */
	const char *arg;   /* name of its one required argument, or NULL */
	const char *more;  /* more help for `COMMAND --help`, or NULL */
} ins_cmd;

int ins_cmd_summary(ins_ctx *x);
int ins_cmd_log(ins_ctx *x);
int ins_cmd_state(ins_ctx *x);
int ins_cmd_conflicts(ins_ctx *x);
int ins_cmd_stats(ins_ctx *x);
int ins_cmd_verify(ins_ctx *x);
int ins_cmd_peers(ins_ctx *x);
int ins_cmd_quarantine(ins_ctx *x);
int ins_cmd_graph(ins_ctx *x);
int ins_cmd_delivery(ins_ctx *x);
int ins_cmd_why(ins_ctx *x);

/* --- live commands (live.c): peers --watch, log --follow -------------- */
/* Catch SIGINT and SIGTERM from now on: ins_live_stopped() turns 1 and a
 * wait returns early, so the command ends cleanly (exit 0). */
void ins_live_signals(void);
int ins_live_stopped(void);
/* Sleep up to ms, or until fd (>= 0) is readable or a signal came. */
void ins_live_wait(int fd, uint64_t ms);

/* "node-inspect: <message>\n" on stderr. */
void ins_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- DIR/node.mesh (mesh.c): what peers told of their peers ---------- */
#define INS_MESH_FILE_MAX (4u << 20) /* bytes read at most */
#define INS_MESH_FROM_MAX 256        /* senders kept */
#define INS_MESH_TO_MAX 64           /* entries kept per sender */
#define INS_MESH_EPS_MAX 4           /* endpoints kept per entry */
typedef struct ins_mesh_to {
	uint8_t id[MS_PK_LEN];
	uint64_t last_seen_ms; /* the sender's claim: when it last synced */
	size_t neps;
	char eps[INS_MESH_EPS_MAX][128];
} ins_mesh_to;
typedef struct ins_mesh_from {
	uint8_t id[MS_PK_LEN];
	uint64_t when_ms; /* when its PEERS came */
	size_t nto;
	ins_mesh_to *to;
} ins_mesh_from;
typedef struct ins_mesh {
	int present;     /* the file exists (a node runs, or ran) */
	int bad_version; /* its first line is not "meshsync-mesh 1": unread */
	int truncated;   /* longer than INS_MESH_FILE_MAX: the rest unread */
	size_t skipped;  /* malformed lines (or over the counts) skipped */
	size_t nfrom;
	ins_mesh_from *from;
} ins_mesh;
/* Read DIR/node.mesh into *m (all zero when absent): 0, or -1 when out
 * of memory.  ins_mesh_free it. */
int ins_mesh_read(const char *dir, ins_mesh *m);
void ins_mesh_free(ins_mesh *m);

/* --- peer records copied out of a snapshot --------------------------- */
typedef struct ins_peer_list {
	ms_peer_rec *v;
	size_t n, cap;
} ins_peer_list;
/* Append a copy of p; -1 when out of memory (the list is unchanged). */
int ins_peer_list_add(ins_peer_list *l, const ms_peer_rec *p);
void ins_peer_list_free(ins_peer_list *l);

/* --- aligned text tables ---------------------------------------------- */
typedef struct ins_table ins_table;
/* headers: ncols strings, or NULL for a table without a header row. */
ins_table *ins_table_new(size_t ncols, const char *const *headers);
/* Copy one row of ncols cells; -1 when out of memory. */
int ins_table_add(ins_table *t, const char *const *cells);
/* Print with columns padded to their widest cell (in characters). */
void ins_table_print(const ins_table *t, FILE *f);
void ins_table_free(ins_table **tp);

/* --- parsing what a user or a file gives ------------------------------ */
/* The n decimal digits at s (no sign, no spaces) into *out; -1 when n is
 * 0, a byte is not a digit, or the value does not fit 64 bits. */
int ins_parse_u64(const char *s, size_t n, uint64_t *out);
/* s as a prefix of a hex node id (1..64 digits, any case) written
 * lower-cased to out (which may be s itself); 0 when it is not one. */
int ins_hex_prefix(const char *s, char out[2 * MS_PK_LEN + 1]);

/* --- formatting ------------------------------------------------------- */
/* Lower-case hex of b (malloc'd; abort-free: NULL when out of memory). */
char *ins_hex(const uint8_t *b, size_t n);
/* The display form (ms_cli_text) cut to max characters with "..." for
 * tables; max 0 = whole. */
char *ins_text(const uint8_t *b, size_t n, size_t max);
/* A head's value as shown: counter deltas as decimal, deletes as NULL. */
char *ins_head_value(const ms_key_state *ks, const ms_head *h, size_t max);
/* JSON string of the display form / of hex. */
json_t *ins_json_text(const uint8_t *b, size_t n);
json_t *ins_json_hex(const uint8_t *b, size_t n);
/* A head as a JSON object (id, author, seq, hlc, type, priority, value). */
json_t *ins_json_head(const ms_key_state *ks, const ms_head *h);
/* A key as `state --json` shows it (docs/json.md). */
json_t *ins_state_key_json(const ms_key_state *ks);
/* Dump root (one document, 2-space indent, newline) to stdout and drop the
 * reference; MS_EXIT_STORE if root is NULL (out of memory) or the write
 * fails. */
int ins_json_print(json_t *root);
/* The same as one compact line (JSON lines: --watch, --follow), flushed. */
int ins_json_print_line(json_t *root);
/* The node's hex id prefix and link state of peers, shared by graph,
 * delivery and why: a peer record's display id ("abab12345678abcd", or
 * its first address when it has no id). */
char *ins_peer_label(const ms_peer_rec *p);
/* A session summary as `peers --json` shows it (docs/json.md). */
json_t *ins_summary_json(const ms_session_summary *m);
/* As the peers table shows it: "out 250ms rx 10 new 7 dup 2 rej 1 tx 3
 * (bye)". */
void ins_summary_text(char *buf, size_t cap, const ms_session_summary *m);
/* "static+mdns": every way we know the peer from, joined by '+' ("-"). */
void ins_source_text(char *buf, size_t cap, uint8_t bits);
/* Wall time in ms as "2026-11-25T10:07:43.123Z" (UTC). */
#define INS_TIME_LEN 32
char *ins_time_text(char buf[INS_TIME_LEN], uint64_t ms);
/* An hlc as its time and counter: "2026-11-25T10:07:43.123Z.0003". */
#define INS_HLC_LEN 40
char *ins_hlc_text(char buf[INS_HLC_LEN], uint64_t hlc);
/* A duration in ms, compact: "850ms", "12s", "3m4s", "2h5m", "3d4h". */
#define INS_DUR_LEN 32
char *ins_dur_text(char buf[INS_DUR_LEN], uint64_t ms);
/* when relative to now: "12s ago", "in 4s", "now"; "-" for 0 (never). */
#define INS_REL_LEN 48
char *ins_rel_text(char buf[INS_REL_LEN], uint64_t when_ms, uint64_t now_ms);
/* Width-limited columns in human tables. */
#define INS_VALUE_COLS 40
#define INS_KEY_COLS 40

#endif
