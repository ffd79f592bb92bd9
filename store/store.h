/*
 * store.h — the node's LMDB environment: operation log, version vector,
 * materialised state with conflict policies, forks, quarantine, stats.
 *
 * One environment (DIR/data.mdb, DIR/lock.mdb) with named databases:
 *   meta        schema, node id, network id, local seq, hlc, op count,
 *               arrival counter, policy table
 *   ops         op id (32) -> encoding
 *   log         author (32) || seq (u64 big-endian) -> op id
 *   vv          author (32) -> highest contiguous seq held, ops held,
 *               setsum of the ids (crypto/setsum.h; vector.h's
 *               ms_vv_entry)
 *   keys        key -> heads record (sorted head ids + counter sum)
 *   sup         parent id (32) || BLAKE2b-128(key) -> "" : some known op of
 *               that key names the parent, so it is not a head
 *   forks       author || seq -> every op id seen for that slot (dupsort)
 *   quarantine  bounded ring of rejected input: reason, source peer, bytes
 *   stats       counter name -> u64
 *   arrival     arrival number (u64 BE) -> op id (see arrival.h)
 *   peer_vv     peer (32) || author (32) -> seq the peer holds (peer_vv.h)
 *   peers       the peer table (peers.h)
 *
 * The store's side of sync has headers of its own: vector.h (the vv
 * entries), arrival.h (the arrival feed), lacking.h (what a peer lacks),
 * peer_vv.h and peers.h.
 *
 * Seq and hlc are allocated inside the write transaction, so several
 * processes may write one store (LMDB's writer lock serialises them).  Local
 * writes are durable when ms_store_append returns.  Ingest commits one
 * transaction per batch.  When the map fills, it grows (doubling) up to
 * opts.map_max; beyond that writes fail with MS_EFULL and reads go on.
 *
 * Heads of a key are the ops of that key that no other known op of that key
 * names as a parent; this and the counter sum are a function of the set of
 * ops only, whatever order they arrived in.  Policies change how reads
 * resolve heads, never what is stored, so state_hash does not depend on them.
 *
 * Thread rules: an ms_store may be used from one thread at a time; read
 * transactions (ms_store_rtxn) belong to the thread that began them.
 * Internally, ms_store_ingest splits decoding and signature checks of a
 * large batch (64 ops or more) with one worker thread the store owns: it
 * is started on the first such batch, works only while the calling thread
 * waits inside ms_store_ingest (mutex + condition variable handoff), never
 * touches LMDB, and is joined by ms_store_close.  ms_store_append_batch
 * hands it half of each batch's signing the same way.  Results do not
 * depend on the split.  A process that forks starts its own worker in the
 * child.
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "ms_err.h"
#include "op.h"

/* 2: vv entries with held/acc, arrival db.  3: acc is the setsum, meta
 * op_acc gone; a schema-2 store is migrated when opened read-write. */
#define MS_STORE_SCHEMA 3
#define MS_STORE_DATA_FILE "data.mdb"
#define MS_STORE_DEFAULT_MAP_INITIAL (16ull << 20) /* 16 MiB */
#define MS_STORE_DEFAULT_MAP_MAX (4ull << 30)      /* 4 GiB */
#define MS_STORE_QUARANTINE_MAX 1000               /* entries kept */
/*
 * Budget heads_per_key: the heads of one key a read holds in memory
 * (ms_key_state.heads).  Ops are never refused for it — which op a node
 * refused would depend on arrival order and split the mesh — so a key may
 * hold any number of heads; a read keeps the first ones in read order (the
 * lww winner first) and counts limit_heads_per_key.
 */
#define MS_STORE_HEADS_PER_KEY_DEFAULT 64
#define MS_POLICY_PREFIX_MAX 255
#define MS_POLICY_MAX 64

typedef enum ms_policy {
	MS_POLICY_LWW = 0, /* greatest (hlc, author) head wins; rest listed */
	MS_POLICY_MV = 1,  /* every sibling returned until a write names it */
	MS_POLICY_COUNTER =
		2, /* values are i64 LE deltas; state is their sum */
} ms_policy;

const char *ms_policy_name(ms_policy p); /* "lww", "mv", "counter" */
int ms_policy_parse(const char *name, ms_policy *out); /* 0 ok, -1 unknown */

typedef struct ms_policy_rule {
	char prefix[MS_POLICY_PREFIX_MAX + 1]; /* key prefix ("" = every key) */
	ms_policy policy;
} ms_policy_rule;

typedef struct ms_store_opts {
	uint64_t map_initial;       /* map size for a new store, bytes */
	uint64_t map_max;           /* growth stops here: then MS_EFULL */
	uint32_t max_value;         /* largest accepted value, bytes */
	uint64_t max_clock_skew_ms; /* see hlc.h */
	int readonly;               /* MDB_RDONLY: node-inspect */
	/* Policy rules (longest matching prefix wins, default lww).  A writer
	 * stores them in meta when they differ from the stored table, so
	 * readers (node-inspect) resolve keys exactly as the node does.  A
	 * read-only open ignores these and uses the stored table. */
	const ms_policy_rule *policies;
	size_t npolicies;
	/* Wall clock in ms since the epoch; NULL = ms_hlc_wall_ms.  Tests and
	 * meshsim give nodes skewed clocks through it. */
	uint64_t (*wall_ms)(void *ctx);
	void *wall_ctx;
	/* Threads that decode and verify an ingested batch: 0 = default (2),
	 * 1 = the calling thread only (tests compare the two). */
	unsigned verify_threads;
	/* Budget heads_per_key: 0 = MS_STORE_HEADS_PER_KEY_DEFAULT. */
	uint32_t heads_per_key;
} ms_store_opts;

/* Defaults: map 16 MiB growing to 4 GiB, 1 MiB values, 1 h skew, lww. */
void ms_store_opts_default(ms_store_opts *o);

typedef struct ms_store ms_store;

/*
 * Create a new store in dir (which must exist): MS_EEXIST when dir already
 * holds one.  Records the node id, network id and schema version.
 */
ms_err ms_store_create(const char *dir, const uint8_t node_id[MS_PK_LEN],
                       const uint8_t netid[MS_NETID_LEN],
                       const ms_store_opts *o, ms_errbuf *eb);

/*
 * Open an existing store; MS_ENOTFOUND when dir holds none.  A store of
 * schema 2 is migrated to MS_STORE_SCHEMA first, in one write transaction
 * (each author's setsum recomputed from its ops: about 40 µs per op); a
 * read-only open of one fails with MS_ECORRUPT and a message saying how to
 * migrate it.  Any other schema: MS_ECORRUPT.
 */
ms_err ms_store_open(ms_store **out, const char *dir, const ms_store_opts *o,
                     ms_errbuf *eb);
void ms_store_close(ms_store **sp);

const uint8_t *ms_store_node_id(const ms_store *s);    /* MS_PK_LEN */
const uint8_t *ms_store_network_id(const ms_store *s); /* MS_NETID_LEN */
/* Policy for a key under the store's table. */
ms_policy ms_store_policy_for(const ms_store *s, const uint8_t *key,
                              size_t klen);
/* The policy table in force (as stored). */
const ms_policy_rule *ms_store_policies(const ms_store *s, size_t *n);
/* Put a new policy table in force (a reload changed the configuration):
 * stored in meta when it differs, so readers follow.  Stored heads and
 * state_hash do not depend on it.  MS_EINVAL (a bad table, a read-only
 * store), MS_ENOMEM, MS_EFULL, MS_ESTORE; on error the old table stays,
 * in this handle and on disk. */
ms_err ms_store_set_policies(ms_store *s, const ms_policy_rule *r, size_t n,
                             ms_errbuf *eb);

/* --- writing ------------------------------------------------------------ */

typedef struct ms_append_result {
	uint8_t id[MS_HASH_LEN];
	uint64_t seq;
	uint64_t hlc;
} ms_append_result;

/*
 * Append a local op by id (whose public key must be this store's node id):
 * parents = the key's current heads, seq = one past the highest seq held for
 * this author (so a node restored from a backup continues after ops of its
 * own it has since learned), hlc = the clock's tick, raised above the
 * parents' hlc so a node with a slow clock still orders its write after
 * what it has seen.  Signed, applied and committed durably before return.
 * Errors: MS_EINVAL (empty/oversize key or value, DEL with value),
 * MS_EFULL (map at maximum), MS_ESTORE.
 */
ms_err ms_store_append(ms_store *s, const ms_identity *id, ms_op_type type,
                       ms_prio prio, const uint8_t *key, size_t klen,
                       const uint8_t *value, size_t vlen, ms_append_result *res,
                       ms_errbuf *eb);

/*
 * ms_store_append with the parents named by the caller: expect holds
 * nexpect distinct op ids, and the op is written only when they are
 * exactly the key's current heads (in any order), checked inside the
 * write transaction, so no head another process wrote or ingested since
 * the caller read them is superseded unseen.  The op names them as its
 * parents (what ms_store_append would name).  *heads_now (may be NULL)
 * receives how many heads the key has in that transaction (when the
 * check ran).  Errors: MS_ECONFLICT (the heads differ: "append_resolve:
 * the key has N heads now, not the M named"), MS_ENOTFOUND (no op of the
 * key is held), MS_EINVAL (nexpect 0 or over MS_OP_MAX_PARENTS, an id
 * named twice, and as ms_store_append), MS_EFULL, MS_ESTORE.  expect NULL
 * is ms_store_append.
 */
ms_err ms_store_append_resolve(ms_store *s, const ms_identity *id,
                               ms_op_type type, ms_prio prio,
                               const uint8_t *key, size_t klen,
                               const uint8_t *value, size_t vlen,
                               const uint8_t (*expect)[MS_HASH_LEN],
                               size_t nexpect, uint64_t *heads_now,
                               ms_append_result *res, ms_errbuf *eb);

/* One local op of a batch (ms_store_append_batch). */
typedef struct ms_append_item {
	uint8_t type; /* ms_op_type: MS_OP_PUT or MS_OP_DEL */
	uint8_t prio; /* ms_prio */
	const uint8_t *key;
	size_t klen;
	const uint8_t *value; /* NULL for a DEL */
	size_t vlen;
} ms_append_item;

/*
 * Append n local ops in one write transaction, committed durably once:
 * what n calls of ms_store_append would store, in array order (seqs and
 * hlcs increasing; a key written twice names its earlier op as parent),
 * at the cost of one commit.  Signing and each op's setsum point (the
 * dominant costs: about 19 + 30 µs an op) are split over the store's
 * worker thread and the caller.  All or nothing: on error no
 * op of the batch is stored.  res (n entries) may be NULL.
 * Errors: MS_EINVAL (n 0, a bad item: "item 17: ..."), MS_EFULL,
 * MS_ENOMEM, MS_ESTORE.
 */
ms_err ms_store_append_batch(ms_store *s, const ms_identity *id,
                             const ms_append_item *items, size_t n,
                             ms_append_result *res, ms_errbuf *eb);

typedef enum ms_ingest_status {
	MS_INGEST_APPLIED = 0,   /* new op, stored and applied */
	MS_INGEST_DUPLICATE = 1, /* already held: no-op */
	MS_INGEST_REJECTED =
		2, /* malformed or forged: see reason; quarantined */
} ms_ingest_status;

typedef struct ms_ingest_item {
	const uint8_t *buf; /* encoded op */
	size_t len;
} ms_ingest_item;

typedef struct ms_ingest_result {
	uint8_t status; /* ms_ingest_status */
	uint8_t reason; /* ms_op_reason when rejected */
	uint8_t fork;   /* 1 if the op made (author, seq) a fork */
	uint8_t skewed; /* 1 if its hlc was too far ahead to move our clock */
	uint8_t id[MS_HASH_LEN]; /* valid unless rejected as malformed */
} ms_ingest_result;

typedef struct ms_ingest_totals {
	uint64_t applied, duplicate, rejected, forks, skewed, conflicts;
	/* applied ops that left their key with more heads than a read holds
	 * (heads_per_key): accepted all the same, the caller reports it */
	uint64_t heads_over;
} ms_ingest_totals;

/*
 * Ingest a batch of foreign (or any) encoded ops: each is decoded and its
 * signature verified before anything is written; then all accepted ops are
 * written in one transaction.  One bad op never fails the batch: it gets
 * MS_INGEST_REJECTED with its reason, is counted, and is recorded in
 * quarantine with from_peer (MS_PK_LEN bytes, or NULL for local input).
 * res (n entries) and totals may be NULL.  Returns an error only when the
 * store itself fails (MS_EFULL, MS_ESTORE); then nothing of the batch is
 * committed.
 */
ms_err ms_store_ingest(ms_store *s, const ms_ingest_item *items, size_t n,
                       const uint8_t *from_peer, ms_ingest_result *res,
                       ms_ingest_totals *totals, ms_errbuf *eb);

/* --- reading ------------------------------------------------------------ */

/*
 * A read snapshot.  Everything returned through it (values, op buffers) points
 * into the map and is valid until ms_store_read_end.
 *
 * Walks.  Every ms_store_foreach_* function (here and in vector.h,
 * arrival.h, peers.h) has one shape:
 *   ms_err ms_store_foreach_X(ms_store_rtxn *rt, <what to visit>,
 *                             <visitor> fn, void *ctx, ms_errbuf *eb);
 * It calls fn on each record in order.  fn returns 0 to go on, or non-zero
 * to stop the walk early, which is not an error.  The function returns
 * MS_OK when the walk reached its end or fn stopped it; otherwise the error
 * that ended it, with "foreach_X: why" in eb:
 *   MS_ECORRUPT  a record this build cannot read: a key or value of the
 *                wrong size ("foreach_vv: vv record of 12 bytes, want 48"),
 *                an index naming an op that is not held or does not
 *                decode (node-inspect verify lists every such fault);
 *   MS_ENOMEM    the store ran out of memory;
 *   others       LMDB failed ("foreach_log: mdb_cursor_get: why"), mapped
 *                as everywhere else (MS_ESTORE, MS_EIO, ...).
 * Records visited before a failure were seen by fn.  A visitor that fails
 * on its own (out of memory, say) records that in its ctx and returns
 * non-zero: the walk then returns MS_OK and the caller checks its ctx.
 */
typedef struct ms_store_rtxn ms_store_rtxn;
ms_err ms_store_read_begin(ms_store *s, ms_store_rtxn **out, ms_errbuf *eb);
void ms_store_read_end(ms_store_rtxn **rtp);

/* One head of a key: the op's metadata and value. */
typedef struct ms_head {
	uint8_t id[MS_HASH_LEN];
	uint8_t author[MS_PK_LEN];
	uint64_t seq;
	uint64_t hlc;
	uint8_t type; /* ms_op_type */
	uint8_t priority;
	const uint8_t *value;
	uint32_t value_len;
} ms_head;

/* A key's state: heads sorted by descending (hlc, author, id), so heads[0]
 * is the lww winner.  A read holds the first heads_per_key of them:
 * nheads < heads_total means the rest were left out (and counted in the
 * limit_heads_per_key stat at the store's next write). */
typedef struct ms_key_state {
	const uint8_t *key;
	size_t key_len;
	ms_policy policy;
	size_t nheads;        /* heads held in heads[] */
	const ms_head *heads; /* valid until the next call on this rtxn */
	uint64_t heads_total; /* heads of the key, held or not */
	uint64_t put_heads;   /* of which PUTs (mv liveness) */
	int64_t counter;      /* sum of all 8-byte PUT values of the key */
	uint64_t nops;        /* ops ever applied to this key */
	uint64_t nputs;       /* of which PUTs (counter liveness) */
} ms_key_state;

/* Is the key live (not deleted) under its policy?  lww: winner is a PUT;
 * mv: any head is a PUT (of all heads); counter: any op was a PUT. */
int ms_key_state_live(const ms_key_state *ks);
/* Conflict under its policy: more than one head (of all heads) and
 * policy != counter. */
int ms_key_state_conflict(const ms_key_state *ks);

/* MS_ENOTFOUND if no op was ever written to key.  out->key is the
 * caller's key (valid as long as the caller keeps it). */
ms_err ms_store_get(ms_store_rtxn *rt, const uint8_t *key, size_t klen,
                    ms_key_state *out, ms_errbuf *eb);

/* Walk the keys starting with prefix (plen 0 = all) in key order; ks is
 * valid until fn returns.  Walk contract above; "foreach_key: ..." also
 * when a key's record is malformed or a head op is missing. */
typedef int (*ms_key_fn)(const ms_key_state *ks, void *ctx);
ms_err ms_store_foreach_key(ms_store_rtxn *rt, const uint8_t *prefix,
                            size_t plen, ms_key_fn fn, void *ctx,
                            ms_errbuf *eb);
/* The same walk from the first key that sorts after the alen bytes at
 * after (after NULL: from the first), so a caller pages through a prefix
 * by passing the last key it saw.  Keys longer than the db key's inline
 * part (440 bytes) that share those bytes sort by their hash among
 * themselves; "after" follows the walk's order, so paging neither skips
 * nor repeats them. */
ms_err ms_store_foreach_key_after(ms_store_rtxn *rt, const uint8_t *prefix,
                                  size_t plen, const uint8_t *after,
                                  size_t alen, ms_key_fn fn, void *ctx,
                                  ms_errbuf *eb);

/* An op from the log with its id and encoding (both point into the map). */
typedef struct ms_log_entry {
	const uint8_t *id;
	const uint8_t *buf;
	size_t len;
	ms_op op; /* decoded from buf */
} ms_log_entry;

/* Look up one op by id; MS_ENOTFOUND if not held. */
ms_err ms_store_get_op(ms_store_rtxn *rt, const uint8_t id[MS_HASH_LEN],
                       ms_log_entry *out, ms_errbuf *eb);

/* Walk the log in (author, seq) order: one author's ops with seq >
 * since_seq, or (author NULL) every author's.  Walk contract above;
 * "foreach_log: ..." also when a log entry names an op that is not held
 * or does not decode. */
typedef int (*ms_log_fn)(const ms_log_entry *e, void *ctx);
ms_err ms_store_foreach_log(ms_store_rtxn *rt, const uint8_t *author,
                            uint64_t since_seq, ms_log_fn fn, void *ctx,
                            ms_errbuf *eb);

/* Walk the version vector: (author, highest contiguous seq) in author
 * order, authors held only above a gap (seq 0) left out; vector.h has the
 * full entries.  Walk contract above ("foreach_vv: ..."). */
typedef int (*ms_vv_fn)(const uint8_t author[MS_PK_LEN], uint64_t seq,
                        void *ctx);
ms_err ms_store_foreach_vv(ms_store_rtxn *rt, ms_vv_fn fn, void *ctx,
                           ms_errbuf *eb);

/* Walk the forks: (author, seq) slots with more than one op id, in
 * (author, seq) order, each with all its ids (valid until fn returns).
 * Walk contract above ("foreach_fork: ..."). */
typedef int (*ms_fork_fn)(const uint8_t author[MS_PK_LEN], uint64_t seq,
                          const uint8_t (*ids)[MS_HASH_LEN], size_t nids,
                          void *ctx);
ms_err ms_store_foreach_fork(ms_store_rtxn *rt, ms_fork_fn fn, void *ctx,
                             ms_errbuf *eb);
/* The one slot (author, seq): fn is called once with all its ids if the
 * slot is forked, not at all otherwise (MS_OK either way).  One lookup,
 * however many other slots are forked: what a batch that forked slots
 * reads.  MS_ECORRUPT for a malformed forks record, LMDB's errors. */
ms_err ms_store_get_fork(ms_store_rtxn *rt, const uint8_t author[MS_PK_LEN],
                         uint64_t seq, ms_fork_fn fn, void *ctx, ms_errbuf *eb);

/* A quarantine entry: rejected input and why. */
typedef struct ms_quarantine_entry {
	uint64_t when_ms;
	uint8_t reason; /* ms_op_reason */
	uint8_t has_peer;
	uint8_t peer[MS_PK_LEN];
	const uint8_t *buf; /* the rejected bytes (first 4 KiB at most) */
	size_t len;         /* bytes kept */
	uint64_t orig_len;  /* bytes received */
} ms_quarantine_entry;
/* Walk the quarantine, oldest first.  Walk contract above
 * ("foreach_quarantine: ..."). */
typedef int (*ms_quarantine_fn)(const ms_quarantine_entry *q, void *ctx);
ms_err ms_store_foreach_quarantine(ms_store_rtxn *rt, ms_quarantine_fn fn,
                                   void *ctx, ms_errbuf *eb);

/* Named counters ("ops_local", "ops_applied", "ops_duplicate",
 * "rejected_<reason>", "forks", "clock_skew", "map_grow", "store_full"...).
 * Walk them in name order.  Walk contract above ("foreach_stat: ..."). */
typedef int (*ms_stat_fn)(const char *name, uint64_t value, void *ctx);
ms_err ms_store_foreach_stat(ms_store_rtxn *rt, ms_stat_fn fn, void *ctx,
                             ms_errbuf *eb);
/* One counter's value; 0 if unset (or its record is malformed). */
uint64_t ms_store_stat(ms_store_rtxn *rt, const char *name);
/* Add deltas[i] to counter names[i] (created at 0) for i < n, in one
 * durable transaction: for counters kept in memory by a process (the
 * daemon's) and flushed now and then.  A name is 1..64 bytes. */
ms_err ms_store_stats_add(ms_store *s, const char *const *names,
                          const uint64_t *deltas, size_t n, ms_errbuf *eb);

typedef struct ms_store_summary {
	uint8_t node_id[MS_PK_LEN];
	uint8_t network_id[MS_NETID_LEN];
	uint64_t ops;         /* distinct ops held */
	uint64_t authors;     /* distinct authors */
	uint64_t keys;        /* keys ever written (deleted ones included) */
	uint64_t live_keys;   /* keys live under their policy */
	uint64_t conflicts;   /* keys in conflict under their policy */
	uint64_t forks;       /* forked (author, seq) slots */
	uint64_t quarantined; /* entries in quarantine */
	uint64_t local_seq;   /* highest seq of our own author */
	uint64_t hlc;         /* clock state */
	uint8_t vv_digest[MS_HASH_LEN];
	uint8_t state_hash[MS_HASH_LEN];
	uint64_t store_bytes; /* bytes of the map in use */
	uint64_t map_size;    /* current map size */
} ms_store_summary;

/* Every field: walks every key, the forks and the vector (O(keys)). */
ms_err ms_store_summary_get(ms_store_rtxn *rt, ms_store_summary *out,
                            ms_errbuf *eb);
/* Only what costs no walk over keys or ops: node and network ids, ops,
 * authors, keys, quarantined, local_seq, hlc, store_bytes, map_size; the
 * rest is 0.  For callers that ask often (ms_node_status_get). */
ms_err ms_store_summary_quick(ms_store_rtxn *rt, ms_store_summary *out,
                              ms_errbuf *eb);

/*
 * Version-vector digest: BLAKE2b-256 over every author's (author,
 * contiguous seq, ops held, setsum) in author order, then the op count
 * (docs/format.md).  The setsums cover ops above a gap and every op of a
 * fork, and cannot be made to collide: equal digests mean equal op sets.
 */
ms_err ms_store_vv_digest(ms_store_rtxn *rt, uint8_t out[MS_HASH_LEN],
                          ms_errbuf *eb);
/* BLAKE2b-256 over the sorted key -> sorted head ids pairs. */
ms_err ms_store_state_hash(ms_store_rtxn *rt, uint8_t out[MS_HASH_LEN],
                           ms_errbuf *eb);

/*
 * Re-check every op (decode, signature, id), the log, the vector (each
 * author's setsum recomputed), heads, sup index and the op count.  fn (may be NULL) is called with a
 * description of each fault.  Returns MS_OK with *faults = 0 when all is
 * well; MS_ECORRUPT with *faults > 0 otherwise.
 */
typedef void (*ms_fault_fn)(const char *what, void *ctx);
ms_err ms_store_verify(ms_store *s, ms_fault_fn fn, void *ctx, uint64_t *faults,
                       ms_errbuf *eb);

#endif
