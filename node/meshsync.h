/*
 * meshsync.h — the public embedding API: create a node's data directory, open
 * it, and read and write keys.  Every write is a signed operation appended
 * durably to the node's LMDB log; reads resolve a key's current heads under
 * the conflict policy configured for its prefix (lww, mv or counter).
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
 * one between threads under a lock of your own).  Open a directory at most
 * once per process at a time: LMDB does not allow two opens of one store
 * in one process.  Several processes may open the same directory and write
 * at once (LMDB's writer lock serialises them).  ms_strerror and
 * ms_errbuf_clear may be called from any thread.
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
		*author; /* MS_NODE_ID_LEN bytes; NULL for a counter sum */
	uint64_t seq;    /* the op's seq (0 for a counter sum) */
	uint64_t hlc;    /* the op's hybrid logical clock (0 for a sum) */
	int deleted;     /* 1: this head is a delete (MS_NODE_GET_ALL only) */
	int winner;      /* 1: the head a lww read returns */
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
