/*
 * store_int.h — private helpers shared by the files of the LMDB store:
 * the ms_store object, the write-transaction context, the byte layouts of
 * the records, and the LMDB error mapping.
 *
 * Files: store.c (environment, open/create, transactions, map growth),
 * meta.c (meta record and stats), policy.c (policy table), apply.c (the one
 * apply function), write.c (local append and ingest), read.c (read API),
 * digest.c (vv digest, state hash, summary), verify.c (consistency check),
 * vv.c (version-vector entries), arrival.c (arrival feed), lacking.c (what
 * a peer lacks), peer_vv.c (what peers hold), peers.c (peer table),
 * verify_mt.c (the ingest worker thread), walk.c (the foreach cursor loop),
 * heads.c (the two heads indexes of a key and their migration).
 */
#ifndef MS_STORE_INT_H
#define MS_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "arrival.h"
#include "lacking.h"
#include "ms_bytes.h"
#include "peer_vv.h"
#include "peers.h"
#include "setsum.h"
#include "store.h"
#include "vector.h"

/* Named databases; index into ms_store.dbi. */
enum st_db {
	ST_DB_META = 0,
	ST_DB_OPS,
	ST_DB_LOG,
	ST_DB_VV,
	ST_DB_KEYS,
	ST_DB_SUP,
	ST_DB_FORKS,
	ST_DB_QUARANTINE,
	ST_DB_STATS,
	ST_DB_PEERS,
	ST_DB_PEER_VV,
	ST_DB_ARRIVAL,
	ST_DB_HEADS,      /* dupsort: keydb key -> head id, ascending */
	ST_DB_HEADS_RANK, /* dupsort: keydb key -> rank, the winner first */
	ST_DB_COUNT_
};
extern const char *const st_db_names[ST_DB_COUNT_];

/*
 * Counters that writers accumulate in memory during a transaction and add to
 * the stats db once, at the end of it (one put per counter per txn instead of
 * one per op).  Rejection counters follow, one per ms_op_reason.
 */
enum st_stat {
	ST_STAT_OPS_LOCAL = 0, /* local appends */
	ST_STAT_OPS_APPLIED,   /* foreign (ingested) ops applied */
	ST_STAT_OPS_DUPLICATE, /* ingested ops already held */
	ST_STAT_FORKS,      /* ops that landed in an occupied (author, seq) */
	ST_STAT_CLOCK_SKEW, /* ops whose hlc was too far ahead to observe */
	ST_STAT_CONFLICTS,  /* applied ops that left their key with >1 head */
	ST_STAT_MAP_GROW,   /* map doublings */
	ST_STAT_STORE_FULL, /* writes refused at the maximum map size */
	ST_STAT_LIM_HEADS,  /* reads that left heads out (heads_per_key) */
	ST_STAT_STALE_READERS, /* reader slots of dead processes freed */
	ST_STAT_REJECTED_,     /* + ms_op_reason */
	ST_STAT_COUNT_ = ST_STAT_REJECTED_ + MS_OPR_COUNT_
};
const char *st_stat_name(unsigned i, char *buf, size_t cap);
/* stats db: counter name (1..ST_STAT_NAME_MAX bytes) -> u64 LE. */
#define ST_STAT_NAME_MAX 64

/*
 * Keys longer than LMDB's key limit (511) are stored under a prefix of the
 * key followed by its hash; the full key is kept in the record.  Key order
 * is exact for every pair of keys whose first ST_KEY_INLINE bytes differ.
 */
#define ST_KEY_INLINE 440
#define ST_KEYDB_MAX (ST_KEY_INLINE + MS_HASH_LEN)
#define ST_KH_LEN 16 /* BLAKE2b-128 of a key, in the sup index */
#define ST_LOGKEY_LEN (MS_PK_LEN + 8)
#define ST_SUPKEY_LEN (MS_HASH_LEN + ST_KH_LEN)

/*
 * keys record layout (little-endian):
 *   0   8   counter   sum of 8-byte PUT values, i64 two's complement
 *   8   8   nops      ops ever applied to the key
 *   16  8   nputs     of which PUTs
 *   24  4   nheads    entries of the key in the heads db
 *   28  2   key_len   of the full key
 *   30  4   nputheads of the heads, the PUTs (mv liveness without
 *                     loading every head)
 *   34  key_len       the full key, only when key_len > ST_KEY_INLINE
 * The heads themselves are not in the record (it would be rewritten whole
 * on every op, O(heads)); they are dup entries of the heads and heads_rank
 * dbs under the same db key, each changed in O(log heads).
 *
 * Schema 2 stores before the heads dbs kept "32*nheads head ids,
 * ascending" at offset 30, then the key tail; st_migrate_heads converts.
 */
#define ST_REC_HDR 34
#define ST_REC_HDR_V2 30

typedef struct st_rec {
	uint64_t counter; /* unsigned so sums wrap instead of overflowing */
	uint64_t nops;
	uint64_t nputs;
	uint32_t nheads;
	uint32_t nputheads;
	uint16_t key_len;
	const uint8_t *key; /* full key (db key or tail of the record) */
} st_rec;

/*
 * heads_rank dup value: ~hlc (u64 BE) || ~author || ~id, every byte
 * complemented so that LMDB's ascending order is descending (hlc, author,
 * id) — the read order, winner first — and the first heads_per_key dups are
 * the ones a read keeps.  The id, complemented too, is at ST_RANK_ID:
 * st_rank_id gives it back.
 */
#define ST_RANK_LEN (8 + MS_PK_LEN + MS_HASH_LEN)
#define ST_RANK_ID (8 + MS_PK_LEN)

/* A read snapshot; heads/ids are scratch reused by each call. */
struct ms_store_rtxn {
	ms_store *s;
	MDB_txn *txn;
	ms_head *heads;
	size_t heads_cap;
	uint8_t *ids;
	size_t ids_cap; /* in ids */
	/* heads_rank, opened by the first key read */
	MDB_cursor *rank_cur;
};

/* Fill a key state from a keys record: the first heads_per_key heads in
 * read order (winner first) loaded from heads_rank. */
ms_err st_state_fill(ms_store_rtxn *rt, const MDB_val *k, const MDB_val *v,
                     ms_key_state *out, ms_errbuf *eb);

/* Parse a keys record; -1 if it is malformed. */
int st_rec_parse(st_rec *r, const MDB_val *k, const MDB_val *v);

/* meta record keys */
#define ST_META_SCHEMA "schema"
#define ST_META_NODE_ID "node_id"
#define ST_META_NETID "network_id"
#define ST_META_LOCAL_SEQ "local_seq"
#define ST_META_HLC "hlc"
#define ST_META_OP_COUNT "op_count"
#define ST_META_POLICIES "policies"
#define ST_META_QNEXT "quarantine_next"
#define ST_META_ARRIVAL "arrival"
/* Schema 2 only: the sum of all op ids mod 2^256, dropped by the migration
 * to schema 3 (store.c). */
#define ST_META_OP_ACC_V2 "op_acc"

/*
 * vv record layout (little-endian):
 *   0   8   seq    highest contiguous seq held
 *   8   8   held   ops of the author held (forks and ops above gaps too)
 *   16  32  acc    setsum of the author's op ids (crypto/setsum.h)
 * The VV message carries all 32 bytes of acc.  Schema 2 kept the sum of
 * the ids as 256-bit LE integers here (forgeable); the migration
 * recomputes it.
 */
#define ST_VV_LEN (8 + 8 + MS_HASH_LEN)

/*
 * quarantine record layout (key: sequence number, u64 big-endian):
 *   0   8   when_ms   wall clock at rejection (LE)
 *   8   1   reason    ms_op_reason
 *   9   1   has_peer
 *   10  32  peer      source peer, zeros for local input
 *   42  8   orig_len  bytes received (LE)
 *   50  ..  the first bytes of the input (at most 4 KiB)
 */
#define ST_QREC_HDR (8 + 1 + 1 + MS_PK_LEN + 8)

/* peer_vv key: peer || author; value: seq (u64 LE). */
#define ST_PVKEY_LEN (MS_PK_LEN + MS_PK_LEN)

/* Batches at least this large split decode+verify across two threads;
 * below it the handoff costs more than the second core saves. */
#define ST_MT_MIN 64
/* Items a thread claims at a time: the two threads take chunks until none
 * is left, so a thread the machine's other work holds back leaves its
 * share to the one that runs (halves fixed in advance made the caller
 * wait for it).  Each chunk starts its own setsum groups. */
#define ST_MT_CHUNK 32

/*
 * The setsum of an ingested batch, summed per author before the write
 * transaction (verify_mt.c): each half of the batch files its accepted
 * ops into groups of one author, a group at the slot of its first
 * member, looked up among the last ST_GROUP_OPEN groups opened (so a run
 * of one author, and a few authors interleaved, each make one group per
 * half; more authors interleaved make smaller groups, never wrong ones).
 * The commit takes back the points of members that turned out held
 * already and adds one sum per group to its author's vv entry.  Points
 * stay unencoded (ms_setsum_pt), so each addition is cheap; an entry is
 * decoded and encoded once per group.
 */
#define ST_GROUP_OPEN 8

typedef struct st_group {
	ms_setsum_pt sum; /* points of the members, summed */
	uint32_t members; /* accepted ops of the group */
	uint32_t held;    /* of which duplicates (per txn attempt) */
} st_group;

/*
 * The ingest worker (verify_mt.c): one thread per store, started on the
 * first large ingest and joined by ms_store_close.  The caller publishes
 * a batch under mu; both threads claim chunks of it (next, atomically)
 * and touch only their chunks' slots of bops/bstat/bid/bpt/bgrp/bgroups.
 * A worker that had not started when the caller ran out of chunks is
 * told the job is done and skips it (busy says whether it started).
 */
typedef struct st_worker {
	int started;
	pid_t pid; /* process that started it: a fork child has no thread */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t job;  /* bumped per handoff */
	uint64_t done; /* == job when the worker has finished it */
	int quit;
	int busy; /* the worker took the current job */
	const ms_ingest_item *items;
	size_t lo, hi;
	/* When set, the job is fn(s, arg, lo, hi) instead of verifying items
	 * (st_mt_run: the batch append signs its ops here). */
	void (*fn)(ms_store *s, void *arg, size_t lo, size_t hi);
	void *arg;
	size_t n;
	size_t next; /* first unclaimed item (atomic) */
} st_worker;

/* Scratch of ms_store_append_batch (write.c), kept across calls so a batch
 * allocates only when it is larger than any before it. */
typedef struct st_batch st_batch;

struct ms_store {
	MDB_env *env;
	MDB_dbi dbi[ST_DB_COUNT_];
	char *dir;
	uint8_t node_id[MS_PK_LEN];
	uint8_t netid[MS_NETID_LEN];
	int readonly;
	uint64_t map_max;
	uint32_t max_value;
	uint64_t max_skew_ms;
	uint64_t (*wall_ms)(void *ctx);
	void *wall_ctx;
	ms_policy_rule *rules;
	size_t nrules;
	unsigned nreaders;     /* open ms_store_rtxn: no remap while > 0 */
	uint64_t pending_grow; /* doublings not yet counted in stats */
	int mdb_last;          /* last LMDB code mapped by st_mdb */
	/* Budget heads_per_key: heads a read holds (ms_store_opts). */
	uint32_t heads_per_key;
	/* Reads that hit heads_per_key since the last write transaction,
	 * which adds them to the limit_heads_per_key stat (a read txn cannot
	 * write).  Atomic: snapshots of one store may be read on two threads. */
	uint64_t pending_heads_limit;
	/* Test hooks, never reset: heads-index entries the write path
	 * positioned on, put or deleted (under the writer lock); forks slots
	 * the forks view visited (atomic, as above). */
	uint64_t trace_heads;
	uint64_t trace_forks;

	/* Scratch reused across writes so the per-op path does not allocate. */
	uint8_t *enc; /* encoding of a local op */
	size_t enc_cap;
	uint8_t *rec; /* a keys record being rebuilt */
	size_t rec_cap;
	ms_op *bops;    /* decoded batch */
	uint8_t *bstat; /* per item: reason (MS_OPR_*) */
	uint8_t (*bid)[MS_HASH_LEN];
	ms_setsum_pt *bpt; /* per item: setsum point of its id */
	uint32_t *bgrp;    /* per item: slot of its group */
	st_group *bgroups; /* valid at slots i with bgrp[i] == i */
	uint8_t *bheld;    /* per item: found held (txn attempt) */
	size_t bcap;
	unsigned verify_threads; /* 1: no worker thread */
	st_worker *worker;       /* NULL until the first large ingest */
	st_batch *batch;         /* NULL until the first batch append */
	uint64_t reap_ms;        /* monotonic ms of the last reader check */
	uint64_t pending_reaped; /* dead readers freed, not yet in stats */
};

/* State a write transaction loads from meta, changes, and saves. */
typedef struct st_wctx {
	MDB_txn *txn;
	uint64_t local_seq;
	uint64_t hlc;
	uint64_t op_count;
	uint64_t arrival; /* last arrival number handed out */
	uint64_t wall;
	uint64_t stat[ST_STAT_COUNT_];
	/* One log cursor per write txn (LMDB frees it with the txn), so the
	 * per-op path does not allocate a cursor for every op. */
	MDB_cursor *log_cur;
	MDB_cursor *heads_cur; /* the same, for the parents of a local write */
	/* Ingest adds the batch's setsum points per group (st_vv_merge)
	 * instead of one op at a time: st_apply leaves acc alone. */
	int acc_later;
} st_wctx;

/* LMDB code -> ms_err, message "what: mdb_strerror".  Remembers rc in
 * s->mdb_last so the transaction runner can tell MDB_MAP_FULL apart. */
ms_err st_mdb(ms_store *s, ms_errbuf *eb, int rc, const char *what);
/* Record e in eb as "what: why", why being a reason a helper gave without
 * knowing its caller (why may be eb itself); returns e. */
ms_err st_err_in(ms_errbuf *eb, ms_err e, const char *what,
                 const ms_errbuf *why);

/* Begin a transaction, following a map grown by another process. */
ms_err st_txn_begin(ms_store *s, unsigned flags, MDB_txn **out, ms_errbuf *eb);

/*
 * Run fn inside a write transaction and commit it.  On MDB_MAP_FULL the
 * whole transaction is aborted, the map doubled (up to map_max) and fn run
 * again from the start, so fn must derive everything from the txn and its
 * ctx, never from state an earlier attempt changed.
 */
typedef ms_err (*st_txn_fn)(ms_store *s, st_wctx *w, void *ctx, ms_errbuf *eb);
ms_err st_write(ms_store *s, st_txn_fn fn, void *ctx, ms_errbuf *eb);

/* meta.c */
ms_err st_meta_load(ms_store *s, st_wctx *w, ms_errbuf *eb);
ms_err st_meta_save(ms_store *s, st_wctx *w, ms_errbuf *eb);
ms_err st_stats_flush(ms_store *s, st_wctx *w, ms_errbuf *eb);
ms_err st_stat_add(ms_store *s, MDB_txn *txn, const char *name, uint64_t d,
                   ms_errbuf *eb);
int st_meta_u64(ms_store *s, MDB_txn *txn, const char *name, uint64_t *out);
/* Highest seq held in the log for author (0 if none). */
ms_err st_log_max_seq(ms_store *s, MDB_txn *txn, const uint8_t *author,
                      uint64_t *out, ms_errbuf *eb);

/* policy.c */
ms_err st_policy_load(ms_store *s, MDB_txn *txn, ms_errbuf *eb);
/* The stored table as a new array (NULL, 0 when none); the caller owns it
 * until st_policy_install hands it to s (which frees the old one). */
ms_err st_policy_read(ms_store *s, MDB_txn *txn, ms_policy_rule **out,
                      size_t *n, ms_errbuf *eb);
void st_policy_install(ms_store *s, ms_policy_rule *rules, size_t n);
int st_policy_differs(ms_store *s, MDB_txn *txn, const ms_policy_rule *r,
                      size_t n);
ms_err st_policy_store(ms_store *s, MDB_txn *txn, const ms_policy_rule *r,
                       size_t n, ms_errbuf *eb);

/* apply.c */
size_t st_keydb_key(uint8_t out[ST_KEYDB_MAX], const uint8_t *key, size_t klen);
void st_key_hash(uint8_t out[ST_KH_LEN], const uint8_t *key, size_t klen);
void st_logkey(uint8_t out[ST_LOGKEY_LEN], const uint8_t *author, uint64_t seq);
/* Grow a scratch buffer to at least need bytes (amortised, rarely). */
int st_reserve(void **buf, size_t *cap, size_t need, size_t elem);

/*
 * Store and apply one new op (id not yet in ops) inside w: ops, log or fork,
 * vv (with the author's setsum), sup, heads, counter.  *fork = 1 if its (author, seq) slot
 * already held another op.  *nheads_after = heads of the key afterwards.
 * Does not touch the clock: callers decide (observe for foreign ops).
 */
ms_err st_apply(ms_store *s, st_wctx *w, const ms_op *op,
                const uint8_t id[MS_HASH_LEN], const uint8_t *buf, size_t len,
                int *fork, uint32_t *nheads_after, ms_errbuf *eb);
/* st_apply without the vv step: the caller counts the op in its author's
 * vv entry itself (st_vv_add_sum, once for a whole batch of local ops). */
ms_err st_apply_novv(ms_store *s, st_wctx *w, const ms_op *op,
                     const uint8_t id[MS_HASH_LEN], const uint8_t *buf,
                     size_t len, int *fork, uint32_t *nheads_after,
                     ms_errbuf *eb);

/* vv.c: count a new op of (author, seq) with id in its author's entry (held
 * and setsum) and advance the contiguous seq over the log (the log already
 * holds it).  id NULL: the setsum is left for st_vv_merge. */
ms_err st_vv_add(ms_store *s, st_wctx *w, const uint8_t *author, uint64_t seq,
                 const uint8_t id[MS_HASH_LEN], ms_errbuf *eb);
/* vv.c: add sum (the setsum of ops st_vv_add counted with id NULL in this
 * txn) to author's entry, which must exist. */
ms_err st_vv_merge(ms_store *s, st_wctx *w, const uint8_t *author,
                   const ms_setsum_pt *sum, ms_errbuf *eb);
/* vv.c: count n new ops of author whose setsum points add up to sum (the
 * ops are in the log already): held += n, acc += sum, and the contiguous
 * seq advanced over the log.  One vv read and write for a whole batch. */
ms_err st_vv_add_sum(ms_store *s, st_wctx *w, const uint8_t *author, uint64_t n,
                     const ms_setsum_pt *sum, ms_errbuf *eb);
/* Parse a vv record; MS_ECORRUPT with the reason alone in why ("vv record
 * of 12 bytes, want 48") if it is malformed. */
ms_err st_vv_parse(ms_vv_entry *e, const MDB_val *k, const MDB_val *v,
                   ms_errbuf *why);

/* arrival.c: give a new op the next arrival number. */
ms_err st_arrival_add(ms_store *s, st_wctx *w, const uint8_t id[MS_HASH_LEN],
                      ms_errbuf *eb);

/* verify_mt.c: decode, id and verify items[0..n) into s->bops/bstat/bid,
 * compute the setsum points (bpt) and group sums (bgrp, bgroups) of the
 * accepted ones, on two threads when n is large; stop the worker
 * (close). */
void st_verify_batch(ms_store *s, const ms_ingest_item *items, size_t n);
void st_verify_range(ms_store *s, const ms_ingest_item *items, size_t lo,
                     size_t hi);
void st_worker_stop(ms_store *s);
/* verify_mt.c: run fn over [0, n) split in two ranges, [0, split) on the
 * calling thread and [split, n) on the store's worker (started if needed),
 * returning when both are done; on one thread when n is small, the worker
 * cannot start, or verify_threads is 1.  fn must touch only its range. */
typedef void (*st_range_fn)(ms_store *s, void *arg, size_t lo, size_t hi);
void st_mt_run(ms_store *s, st_range_fn fn, void *arg, size_t n, size_t split);
/* write.c: free the batch append's scratch (close). */
void st_batch_free(ms_store *s);

/*
 * heads.c: the heads of the key stored under db key kdb (kdb_len bytes).
 * st_heads_add files a new head under both indexes; st_heads_remove drops
 * id when it is a head of the key (*removed = 1, *was_put = its type was
 * PUT), a no-op otherwise.  Each is O(log heads) and counts its steps in
 * s->trace_heads.
 */
void st_rank(uint8_t out[ST_RANK_LEN], uint64_t hlc, const uint8_t *author,
             const uint8_t id[MS_HASH_LEN]);
void st_rank_id(uint8_t id[MS_HASH_LEN], const uint8_t *rank);
ms_err st_heads_add(ms_store *s, MDB_txn *txn, const uint8_t *kdb,
                    size_t kdb_len, const ms_op *op,
                    const uint8_t id[MS_HASH_LEN], ms_errbuf *eb);
ms_err st_heads_remove(ms_store *s, MDB_txn *txn, const uint8_t *kdb,
                       size_t kdb_len, const uint8_t id[MS_HASH_LEN],
                       int *removed, int *was_put, ms_errbuf *eb);
/*
 * Move the heads of keys records still in the schema-2 layout (ids inline)
 * to the heads and heads_rank dbs and rewrite those records; idempotent
 * (a record already converted is left alone) and O(1) on a converted
 * store (a store with keys and heads entries needs nothing).  Runs in the
 * caller's write txn, which must have the two dbs open.
 */
ms_err st_migrate_heads(ms_store *s, MDB_txn *txn, ms_errbuf *eb);

/* read.c: fill a head from a stored op id; -1 if the op is missing/bad. */
int st_head_load(ms_store *s, MDB_txn *txn, const uint8_t id[MS_HASH_LEN],
                 ms_head *h);
/* Decode a stored op; stored ops were validated when accepted. */
ms_op_reason st_decode_stored(ms_op *op, const MDB_val *v);
/* Look up the op with id and decode it into *out (pointing into the map).
 * missing is the error when it is not held: MS_ENOTFOUND for a lookup by
 * id, MS_ECORRUPT for an index that names it.  The reason alone goes in
 * why ("op 3fa1c2d4e5f60718 is not held (run verify)"). */
ms_err st_op_load(ms_store_rtxn *rt, const uint8_t id[MS_HASH_LEN],
                  ms_err missing, ms_log_entry *out, ms_errbuf *why);

/*
 * walk.c: the loop of every ms_store_foreach_* but the fork one.  Visits the
 * records of db in key order from the first one, or from the first key >=
 * *start when start is not NULL, calling row on each; k and v are valid
 * until row returns.  row returns MS_OK and sets *stop to end the walk
 * early (its visitor stopped, or the key range ended), or fails with an
 * ms_err and the reason alone in why ("vv record of 12 bytes, want 48").
 * Returns MS_OK at the db's end or on *stop; otherwise the row's error or
 * LMDB's, with "what: why" in eb — the walk contract in store.h.
 */
typedef ms_err (*st_row_fn)(const MDB_val *k, const MDB_val *v, void *ctx,
                            int *stop, ms_errbuf *why);
ms_err st_walk(ms_store_rtxn *rt, enum st_db db, const MDB_val *start,
               st_row_fn row, void *ctx, const char *what, ms_errbuf *eb);

/*
 * walk.c: visit each distinct MS_PK_LEN-byte prefix (author, peer) of the
 * keys of db that are key_len bytes long, once, with one cursor jump per
 * prefix rather than a step per record: fn gets the first key of each
 * group.  Keys of another length are stepped over.  MS_OK, or LMDB's
 * error with "what: why" in eb.
 */
typedef void (*st_group_fn)(const uint8_t *key, void *ctx);
ms_err st_walk_groups(ms_store_rtxn *rt, enum st_db db, size_t key_len,
                      st_group_fn fn, void *ctx, const char *what,
                      ms_errbuf *eb);

#endif
