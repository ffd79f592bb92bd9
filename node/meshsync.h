/*
 * meshsync.h — the public embedding API: create a node's data directory, open
 * it, read and write keys, iterate a prefix, read and resolve conflicting
 * siblings, watch for changes, and read the node's and its peers' status
 * (what the daemon, `meshsync-node run`, records as it syncs).  Every
 * write is a signed operation appended durably to the node's LMDB log;
 * reads resolve a key's current heads under the conflict policy configured
 * for its prefix (lww, mv or counter).
 *
 * A node's data directory (mode 0700) holds:
 *   identity.key   the node's Ed25519 identity (0600)
 *   network.key    the shared network (membership) key (0600)
 *   meshsync.conf  configuration (INI; see docs/config.md)
 *   data.mdb, lock.mdb   the store
 *
 * Errors: every fallible call returns an ms_err (values in ms_err.h, a
 * stable ABI) and, when eb is non-NULL, fills it with "what: why".  Calls
 * marked MS_MUST_USE make GCC and clang warn when the result is dropped.
 * Passing NULL where a pointer is required (other than where a comment
 * allows it) is a programming error, not a reported one.
 *
 * Ownership: types are opaque; what a call allocates it documents, and
 * pointers it hands out stay valid for as long as it says.  No call here
 * reads stdin or writes to stdout or stderr.
 *
 * Thread rules: an ms_node may be used from one thread at a time (share
 * one between threads under a lock of your own); callbacks run on the
 * calling thread, inside the call, and must not call ms_node functions on
 * the same node.  Different ms_nodes (of different directories) may be used
 * from different threads at once.  The watch descriptor
 * (ms_node_watch_fd) may be polled from any thread; the calls that read it
 * (ms_node_changes) follow the rule above.  Open a directory at most once
 * per process at a time: LMDB does not allow two opens of one store in one
 * process.  Several processes may open the same directory and write at
 * once (LMDB's writer lock serialises them): an app and the node's daemon
 * (`meshsync-node run`, which does the syncing) are such processes.
 * ms_strerror, ms_errbuf_clear and ms_node_link_name may be called from any
 * thread.
 *
 * This header includes nothing but ms_err.h and standard headers.
 */
#ifndef MESHSYNC_H
#define MESHSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "ms_err.h"

#define MS_NODE_ID_LEN 32          /* node id (Ed25519 public key), bytes */
#define MS_NODE_ID_HEX_LEN 65      /* 64 hex digits + NUL */
#define MS_NODE_OP_ID_LEN 32       /* op id (BLAKE2b-256 of the op), bytes */
#define MS_NODE_NETKEY_TEXT_LEN 73 /* "msnet1:" + 64 hex + "\n" + NUL */
#define MS_NODE_CONF_FILE "meshsync.conf" /* the config file's name in dir */

/* An open node: its keys, configuration and store.  Created by
 * ms_node_open, released by ms_node_close. */
typedef struct ms_node ms_node;

/*
 * Create a node in dir: the directory (and missing parents) is created; dir
 * itself is made 0700 (an existing empty directory is tightened to 0700).
 * Writes a new identity, the network key, a commented default meshsync.conf
 * (kept if dir already has one, which then configures the new store), and
 * an empty store.  netkey_text is the network key to join, as the text
 * ms_node_network_key_text gives ("msnet1:<64 hex>", surrounding whitespace
 * allowed; the caller reads it from wherever the user keeps it), or NULL to
 * start a new network with a fresh random key.  The text is only read; the
 * caller owns it (and should wipe it: it is secret).
 * Errors: MS_EEXIST when dir already holds a node (identity.key,
 * network.key or data.mdb); MS_EINVAL for a bad network key text or
 * configuration, or dir NULL or ""; MS_EPERM when dir belongs to someone
 * else; MS_EIO, MS_ESTORE, MS_ENOMEM.  On failure nothing this call created
 * in dir is left behind.
 * Thread rules: any thread; do not run two inits on one dir at once.
 */
MS_MUST_USE ms_err ms_node_init(const char *dir, const char *netkey_text,
                                ms_errbuf *eb);

/*
 * Open the node in dir and store it in *out (NULL on failure); the caller
 * releases it with ms_node_close.  config_path NULL means dir/meshsync.conf
 * if it exists, built-in defaults otherwise.  The store is opened with the
 * configured limits and policy table.
 * Errors: MS_ENOTFOUND when dir holds no node ("no such node"); MS_EINVAL
 * for a configuration error ("meshsync.conf:LINE: ..."); MS_EPERM for a key
 * file group or others may access (the message says the chmod to run);
 * MS_ECORRUPT when the keys do not belong to the store; MS_ESTORE, MS_EIO,
 * MS_ENOMEM.
 */
MS_MUST_USE ms_err ms_node_open(ms_node **out, const char *dir,
                                const char *config_path, ms_errbuf *eb);

/* Close the node, free it and set *np to NULL; np == NULL and *np == NULL
 * are fine.  Pointers obtained from the node (ms_node_id) die with it. */
void ms_node_close(ms_node **np);

/* Flags for ms_node_put and ms_node_del (bitwise OR; 0 for none).  Any other
 * bit is refused with MS_EINVAL, so a flag from a newer version is never
 * silently ignored. */
#define MS_NODE_PUT_BACKGROUND \
	1u /* background priority: synced after user data */

/* What a write produced, for a caller that wants to name the op later
 * (node-inspect log shows the same id, seq and hlc). */
typedef struct ms_node_write_result {
	uint8_t id[MS_NODE_OP_ID_LEN]; /* the op's id */
	uint64_t seq; /* the op's seq: this node's writes count 1, 2, 3, ... */
	uint64_t
		hlc; /* the op's hybrid logical clock (48 bits ms, 16 counter) */
} ms_node_write_result;

/*
 * Write vlen bytes at value to the key of klen bytes at key (durable on
 * return).  flags: MS_NODE_PUT_BACKGROUND or 0.  For a key under the
 * counter policy, value is decimal text ("5", "-3"; surrounding whitespace
 * allowed) and the op stores it as an 8-byte little-endian delta.  res, when
 * non-NULL, receives the new op's id, seq and hlc (untouched on failure).
 * key and value are only read during the call (value may be NULL when vlen
 * is 0).
 * Errors: MS_EINVAL (unknown flag bits, empty or oversize key or value, bad
 * counter text), MS_EFULL (store at its configured maximum; reads still
 * work), MS_ESTORE, MS_ENOMEM.
 */
MS_MUST_USE ms_err ms_node_put(ms_node *n, const void *key, size_t klen,
                               const void *value, size_t vlen, unsigned flags,
                               ms_node_write_result *res, ms_errbuf *eb);

/*
 * Delete key (a tombstone op; durable on return); flags and res as for
 * ms_node_put.  A later ms_node_get returns MS_EDELETED.
 * Errors: MS_EINVAL (unknown flag bits, empty or oversize key, and a
 * counter key: "counter keys cannot be deleted; put a negative delta"),
 * MS_EFULL, MS_ESTORE, MS_ENOMEM.
 */
MS_MUST_USE ms_err ms_node_del(ms_node *n, const void *key, size_t klen,
                               unsigned flags, ms_node_write_result *res,
                               ms_errbuf *eb);

/* One write of a batch: a PUT of value (vlen bytes; NULL when 0) or, with
 * del set, a delete of key (value NULL, vlen 0).  Counter keys take
 * decimal text, as ms_node_put. */
typedef struct ms_node_write {
	const void *key;
	size_t klen;
	const void *value;
	size_t vlen;
	int del;
} ms_node_write;

/*
 * Write nw ops at once: each is a signed op of its own (seq and hlc
 * increasing in array order; a key written twice in the batch names its
 * earlier op as parent), the signatures are made on both cores, and the
 * whole batch is committed in one durable transaction: when the call
 * returns MS_OK every op is on disk; on any error none is.  flags as for
 * ms_node_put (they apply to every op).  res, when non-NULL, has nw
 * entries, filled in array order on success.
 * Errors: MS_EINVAL (nw 0 or over MS_NODE_BATCH_MAX, unknown flag bits, a
 * bad write: the message names its index), MS_EFULL, MS_ESTORE, MS_ENOMEM.
 */
#define MS_NODE_BATCH_MAX 100000u
MS_MUST_USE ms_err ms_node_write_batch(ms_node *n, const ms_node_write *w,
                                       size_t nw, unsigned flags,
                                       ms_node_write_result *res,
                                       ms_errbuf *eb);

/* One value handed to an ms_node_get callback.  The struct and everything
 * it points to are valid only during the callback: copy what you keep. */
typedef struct ms_node_value {
	const void *data; /* value bytes; decimal text for counter keys */
	size_t len;       /* bytes at data (no NUL counted) */
	const uint8_t
		*author;   /* MS_NODE_ID_LEN bytes; NULL for a counter sum */
	uint64_t seq;      /* the op's seq (0 for a counter sum) */
	uint64_t hlc;      /* the op's hybrid logical clock (0 for a sum) */
	int deleted;       /* 1: this head is a delete (MS_NODE_GET_ALL only) */
	int winner;        /* 1: the head a lww read returns */
	const uint8_t *id; /* MS_NODE_OP_ID_LEN bytes: the head's op id, to
	                      name as a parent in ms_node_resolve; NULL for a
	                      counter sum */
} ms_node_value;

/* Callback of ms_node_get: return 0 to continue, non-zero to stop
 * (ms_node_get then returns MS_OK).  It runs inside a read transaction and
 * must not call ms_node functions on the same node. */
typedef int (*ms_node_value_fn)(const ms_node_value *v, void *ctx);

/* Flags for ms_node_get; any other bit is refused with MS_EINVAL. */
#define MS_NODE_GET_ALL 1u /* every head, deleted ones included */

/*
 * Read key, handing each value to fn (with ctx) before returning.  Without
 * flags fn sees what the key's policy says the value is: lww — the winner
 * once; mv — every live sibling, newest first; counter — the sum once, as
 * decimal text.  With MS_NODE_GET_ALL it sees every head (newest first, the
 * lww winner flagged, deletes flagged, counter heads as their decimal
 * delta).
 * Errors: MS_ENOTFOUND when the key was never written; MS_EDELETED (without
 * MS_NODE_GET_ALL) when it was, and its value under its policy is a delete
 * (fn is not called); MS_EINVAL (unknown flag bits, empty key, fn NULL);
 * MS_ESTORE.
 */
MS_MUST_USE ms_err ms_node_get(ms_node *n, const void *key, size_t klen,
                               unsigned flags, ms_node_value_fn fn, void *ctx,
                               ms_errbuf *eb);

/* --- iterating a prefix ------------------------------------------------ */

/* One key handed to an ms_node_scan callback, with its value(s) as
 * ms_node_get would hand them (the same flags).  Valid only during the
 * callback. */
typedef struct ms_node_entry {
	const void *key;
	size_t klen;
	const ms_node_value *values; /* nvalues entries, as ms_node_get's */
	size_t nvalues;
	int conflict; /* 1: the key has more than one head (mv siblings, a
	                 lww winner chosen among several, or a delete beside
	                 a value); never for a counter key.  The same test
	                 as node-inspect conflicts */
	int deleted;  /* 1: its value under its policy is a delete (only
	                 seen with MS_NODE_GET_ALL) */
} ms_node_entry;

/* Callback of ms_node_scan: 0 to continue, non-zero to stop (the scan then
 * returns MS_OK). */
typedef int (*ms_node_entry_fn)(const ms_node_entry *e, void *ctx);

/*
 * Visit every key that starts with the plen bytes at prefix (plen 0: every
 * key) and sorts after the alen bytes at after (after NULL: from the
 * first), in byte order of the keys, from one snapshot (writes made
 * meanwhile, by this or another process, are not seen).  To page through
 * a large prefix, stop in the callback and scan again with the last key
 * seen as after.  Without flags a key whose value is a delete is skipped
 * and values are what ms_node_get hands; with MS_NODE_GET_ALL every key
 * ever written is visited with every head.
 * Errors: MS_EINVAL (unknown flag bits, fn NULL), MS_ESTORE, MS_ENOMEM.
 */
MS_MUST_USE ms_err ms_node_scan(ms_node *n, const void *prefix, size_t plen,
                                const void *after, size_t alen, unsigned flags,
                                ms_node_entry_fn fn, void *ctx, ms_errbuf *eb);

/* --- siblings and resolving a conflict -------------------------------- */

/*
 * A key's siblings are its heads: read them with ms_node_get(...,
 * MS_NODE_GET_ALL, ...), which hands each with its op id.  Resolve them by
 * writing a value that names exactly those ids as its parents: the new op
 * supersedes them all, on every node that receives it.
 *
 * ms_node_resolve writes value (vlen bytes; with MS_NODE_RESOLVE_DEL a
 * delete, value NULL and vlen 0) to key with the nparents op ids at
 * parents as its parents, after checking, inside the write transaction,
 * that they are exactly the key's current heads (in any order).  If a head
 * arrived or was written after the caller read them, nothing is written
 * and the call returns MS_ECONFLICT: read the siblings again and merge
 * them too.  flags: MS_NODE_PUT_BACKGROUND, MS_NODE_RESOLVE_DEL.  res as
 * for ms_node_put.  (ms_node_put also supersedes every head this node
 * holds, without the check: it is a resolve that does not look.)
 * Errors: MS_ECONFLICT (the heads differ; the message says how many there
 * are now); MS_ENOTFOUND (the key was never written); MS_EINVAL (nparents
 * 0 or over MS_NODE_RESOLVE_MAX — a key with more heads than that is
 * resolved by ms_node_put, each of which supersedes 64 —, a counter key:
 * counters never conflict, unknown flags, bad key or value), MS_EFULL,
 * MS_ESTORE, MS_ENOMEM.
 */
#define MS_NODE_RESOLVE_DEL 2u  /* ms_node_resolve: write a delete */
#define MS_NODE_RESOLVE_MAX 64u /* an op names at most 64 parents */
MS_MUST_USE ms_err ms_node_resolve(ms_node *n, const void *key, size_t klen,
                                   const void *value, size_t vlen,
                                   const uint8_t (*parents)[MS_NODE_OP_ID_LEN],
                                   size_t nparents, unsigned flags,
                                   ms_node_write_result *res, ms_errbuf *eb);

/* --- watching for changes --------------------------------------------- */

/*
 * A file descriptor that becomes readable when any process (this one, the
 * node's daemon storing ops from peers, `meshsync-node put`) commits to
 * the node's store.  Poll it for POLLIN (select, poll, epoll, an event
 * loop) and then call ms_node_changes, which empties it; never read or
 * close it yourself.  It is made on the first call, owned by the node, and
 * closed by ms_node_close.  Readable does not promise a change to report
 * (the daemon also commits peer records): ms_node_changes may find none.
 * Errors: MS_EIO (the system refused a watch, e.g. inotify limits: the
 * message names it; fall back to calling ms_node_changes on a timer),
 * MS_ENOMEM.
 */
MS_MUST_USE ms_err ms_node_watch_fd(ms_node *n, int *fd, ms_errbuf *eb);

/* One op handed to an ms_node_changes callback; valid only during it. */
typedef struct ms_node_change {
	uint64_t cursor; /* this change's position: pass it back to resume
	                    after it */
	const void *key;
	size_t klen;
	const uint8_t *id;     /* MS_NODE_OP_ID_LEN bytes: the op's id */
	const uint8_t *author; /* MS_NODE_ID_LEN bytes */
	uint64_t seq, hlc;
	int deleted; /* 1: the op is a delete */
	int local;   /* 1: written by this node (any process); 0: from a peer */
	int background; /* 1: written with MS_NODE_PUT_BACKGROUND */
} ms_node_change;

typedef int (*ms_node_change_fn)(const ms_node_change *c, void *ctx);

/*
 * Hand fn every op the store gained after cursor, in the order this store
 * gained them, at most max of them (0: no limit), and set *next to the
 * cursor to pass next time (the last change handed, or cursor itself when
 * there was none).  Cursor 0 means from the beginning; ms_node_status_get's
 * `cursor` is the current end (to watch only what comes next).  Cursors
 * are positions in this node's store and mean nothing on another node;
 * they survive restarts.  An op is reported once, whichever process or
 * peer brought it; what it did to its key (won, became a sibling, was
 * superseded) is read with ms_node_get.  Empties the watch descriptor
 * first, so a change committed while fn runs makes it readable again.
 * fn returning non-zero stops early; *next is then the last change handed.
 * After a call that stopped early (fn, or max reached), call again from
 * *next before polling the descriptor: it is already emptied, and the
 * changes left will not make it readable again.
 * Errors: MS_EINVAL (fn or next NULL), MS_ECORRUPT, MS_ESTORE.
 */
MS_MUST_USE ms_err ms_node_changes(ms_node *n, uint64_t cursor, size_t max,
                                   ms_node_change_fn fn, void *ctx,
                                   uint64_t *next, ms_errbuf *eb);

/* --- status ----------------------------------------------------------- */

/* A node's own figures (ms_node_status_get). */
typedef struct ms_node_status {
	uint64_t ops;           /* distinct ops held */
	uint64_t authors;       /* distinct authors */
	uint64_t keys;          /* keys ever written */
	uint64_t local_seq;     /* seq of this node's newest op */
	uint64_t unacked_local; /* own ops no peer has confirmed holding */
	uint64_t quarantined;   /* rejected input kept for inspection */
	uint64_t cursor;        /* the changes feed's current end */
	uint64_t peers;         /* peer records */
	int daemon_pid; /* pid of the daemon running on this directory, 0
	                   when none runs, -1 when one runs but its pid file
	                   is empty (it could not write it: disk full) */
} ms_node_status;

/*
 * Fill *out with the node's figures from one snapshot.  Counts are those
 * `node-inspect summary` shows (docs/json.md).
 * Errors: MS_ESTORE, MS_ECORRUPT.
 */
MS_MUST_USE ms_err ms_node_status_get(ms_node *n, ms_node_status *out,
                                      ms_errbuf *eb);

/* Where a link to a peer stands (the names node-inspect shows). */
typedef enum ms_node_link {
	MS_NODE_LINK_DISCOVERED = 0, /* known, never tried */
	MS_NODE_LINK_CONNECTING,     /* dialling, handshaking */
	MS_NODE_LINK_SYNCING,        /* session up, catching up */
	MS_NODE_LINK_LIVE,           /* in sync, new ops pushed at once */
	MS_NODE_LINK_BACKOFF,        /* failed, waiting for the next attempt */
	MS_NODE_LINK_DOWN,           /* not connected, no attempt due */
	MS_NODE_LINK_LOST            /* gone from mDNS, not static */
} ms_node_link;

/* "discovered", "connecting", ...; "unknown" for another value. */
const char *ms_node_link_name(ms_node_link l);

/* What one sync session with a peer did (its processing summary). */
typedef struct ms_node_summary {
	uint64_t start_ms, end_ms; /* wall clock, ms since the epoch */
	int outbound;              /* 1: this node dialled */
	uint64_t received, applied, duplicate, rejected, conflicts;
	uint64_t sent; /* ops sent */
	uint64_t bytes_in, bytes_out;
	const char *end_reason; /* "bye", "lost", "shutdown", ... */
	unsigned limits_hit;    /* budgets the session hit (at most 255): the
	                        node's MS-LIMIT lines naming this peer */
} ms_node_summary;

/* One peer as the daemon last recorded it; valid only during the
 * callback. */
typedef struct ms_node_peer {
	const uint8_t *id;        /* MS_NODE_ID_LEN bytes; NULL for a configured
	                      address nobody has answered on yet */
	const char *const *addrs; /* naddrs addresses ("tcp://...") */
	size_t naddrs;
	int static_peer, mdns, pex, inbound; /* 1: known from that source */
	ms_node_link link;
	uint64_t link_since_ms;
	uint64_t last_good_ms; /* last session that went well (0 never) */
	uint64_t sessions, failures;
	uint64_t next_attempt_ms; /* backoff: next dial (0 none due) */
	uint64_t lag; /* ops this node holds that the peer is not known
	                       to hold (0 when id is NULL) */
	const char *last_error;      /* "" when none */
	const ms_node_summary *last; /* its last session, or NULL */
} ms_node_peer;

typedef int (*ms_node_peer_fn)(const ms_node_peer *p, void *ctx);

/*
 * Visit every peer record the daemon keeps (identified peers in id order,
 * then configured addresses not yet answered), from one snapshot.  The
 * records are written by the daemon as links change; with no daemon
 * running they are its last view (ms_node_status_get's daemon_pid says
 * which).  fn returns non-zero to stop.
 * Errors: MS_EINVAL (fn NULL), MS_ECORRUPT (a record this build does not
 * read), MS_ESTORE.
 */
MS_MUST_USE ms_err ms_node_peers(ms_node *n, ms_node_peer_fn fn, void *ctx,
                                 ms_errbuf *eb);

/* This node's id (Ed25519 public key), MS_NODE_ID_LEN bytes, valid until
 * ms_node_close. */
const uint8_t *ms_node_id(const ms_node *n);
/* The node id as 64 lower-case hex digits and a NUL, written to out. */
void ms_node_id_hex(const ms_node *n, char out[MS_NODE_ID_HEX_LEN]);
/* The network id (hash of the network key; public) as 64 hex digits and a
 * NUL, written to out. */
void ms_node_network_id_hex(const ms_node *n, char out[MS_NODE_ID_HEX_LEN]);
/*
 * The network key as one text line "msnet1:<64 hex>\n" and a NUL, written to
 * out.  Secret: whoever holds it can join the mesh; wipe out when done.  It
 * is the text ms_node_init takes to join this node's network.
 */
void ms_node_network_key_text(const ms_node *n,
                              char out[MS_NODE_NETKEY_TEXT_LEN]);

#endif
