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
 * Errors: every fallible call returns an ms_err and, when eb is non-NULL,
 * fills it with "what: why".  Types are opaque; this header includes nothing
 * but ms_err.h and standard headers.
 *
 * Thread rules: an ms_node may be used from one thread at a time.  Several
 * processes may open the same directory and write at once (LMDB's writer
 * lock serialises them).
 */
#ifndef MESHSYNC_H
#define MESHSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "ms_err.h"

#define MS_NODE_ID_LEN 32          /* node id (Ed25519 public key), bytes */
#define MS_NODE_ID_HEX_LEN 65      /* 64 hex digits + NUL */
#define MS_NODE_NETKEY_TEXT_LEN 73 /* "msnet1:" + 64 hex + "\n" + NUL */
#define MS_NODE_CONF_FILE "meshsync.conf"

typedef struct ms_node ms_node;

/*
 * Create a node in dir: the directory (and missing parents) is created; dir
 * itself is made 0700 (an existing empty directory is tightened to 0700).
 * Writes a new identity, the network key (imported from netkey_path, a file
 * holding the text that ms_node_network_key_text gives, "-" for stdin; or a
 * new one when netkey_path is NULL), a commented default meshsync.conf
 * (kept if dir already has one, which then configures the new store), and
 * an empty store.
 * Errors: MS_EEXIST when dir already holds a node (identity.key,
 * network.key or data.mdb); MS_EINVAL for a bad network key text or
 * configuration; MS_EPERM when dir belongs to someone else; MS_EIO.  On
 * failure nothing this call created in dir is left behind.
 */
ms_err ms_node_init(const char *dir, const char *netkey_path, ms_errbuf *eb);

/*
 * Open the node in dir.  config_path NULL means dir/meshsync.conf if it
 * exists, built-in defaults otherwise.  The store is opened with the
 * configured limits and policy table.
 * Errors: MS_ENOTFOUND when dir holds no node ("no such node"); MS_EINVAL
 * for a configuration error ("meshsync.conf:LINE: ..."); MS_EPERM for a key
 * file group or others may access (the message says the chmod to run);
 * MS_ECORRUPT when the keys do not belong to the store; MS_ESTORE, MS_EIO.
 */
ms_err ms_node_open(ms_node **out, const char *dir, const char *config_path,
                    ms_errbuf *eb);

/* Close the node and set *np to NULL; NULL and *np == NULL are fine. */
void ms_node_close(ms_node **np);

/*
 * Write value to key (durable on return).  background selects background
 * priority (sent after user data when syncing).  For a key under the
 * counter policy, value is decimal text ("5", "-3"; surrounding whitespace
 * allowed) and the op stores it as an 8-byte little-endian delta.
 * Errors: MS_EINVAL (empty or oversize key or value, bad counter text),
 * MS_EFULL (store at its configured maximum; reads still work), MS_ESTORE.
 */
ms_err ms_node_put(ms_node *n, const void *key, size_t klen, const void *value,
                   size_t vlen, int background, ms_errbuf *eb);

/*
 * Delete key (a tombstone op; durable on return).  MS_EINVAL for a counter
 * key: "counter keys cannot be deleted; put a negative delta".
 */
ms_err ms_node_del(ms_node *n, const void *key, size_t klen, int background,
                   ms_errbuf *eb);

/* One value handed to an ms_node_get callback.  Pointers are valid only
 * during the callback. */
typedef struct ms_node_value {
	const void *data;    /* value bytes; decimal text for counter keys */
	size_t len;          /* bytes at data (no NUL counted) */
	const uint8_t *author; /* MS_NODE_ID_LEN bytes; NULL for a counter sum */
	uint64_t seq;        /* the op's seq (0 for a counter sum) */
	uint64_t hlc;        /* the op's hybrid logical clock (0 for a sum) */
	int deleted;         /* 1: this head is a delete (MS_NODE_GET_ALL only) */
	int winner;          /* 1: the head a lww read returns */
} ms_node_value;

/* Callback: return 0 to continue, non-zero to stop (ms_node_get then
 * returns MS_OK). */
typedef int (*ms_node_value_fn)(const ms_node_value *v, void *ctx);

#define MS_NODE_GET_ALL 1u /* every head, deleted ones included */

/*
 * Read key.  Without flags the callback sees what the key's policy says the
 * value is: lww — the winner once; mv — every live sibling, newest first;
 * counter — the sum once, as decimal text.  With MS_NODE_GET_ALL it sees
 * every head (newest first, the lww winner flagged, deletes flagged, counter
 * heads as their decimal delta).
 * Errors: MS_ENOTFOUND when the key was never written or (without
 * MS_NODE_GET_ALL) is deleted; MS_ESTORE.
 */
ms_err ms_node_get(ms_node *n, const void *key, size_t klen, unsigned flags,
                   ms_node_value_fn fn, void *ctx, ms_errbuf *eb);

/* This node's id (Ed25519 public key), MS_NODE_ID_LEN bytes. */
const uint8_t *ms_node_id(const ms_node *n);
/* The node id as 64 lower-case hex digits. */
void ms_node_id_hex(const ms_node *n, char out[MS_NODE_ID_HEX_LEN]);
/* The network id (hash of the network key) as 64 hex digits. */
void ms_node_network_id_hex(const ms_node *n, char out[MS_NODE_ID_HEX_LEN]);
/*
 * The network key as one text line "msnet1:<64 hex>\n".  Secret: whoever
 * holds it can join the mesh.  Saved to a file it is what ms_node_init (and
 * meshsync-node init --network-key) accepts.
 */
void ms_node_network_key_text(const ms_node *n,
                              char out[MS_NODE_NETKEY_TEXT_LEN]);

#endif
