/*
 * store_fix.h — helpers shared by the store suites: deterministic
 * identities, a fixed network id, foreign ops signed by other authors, and
 * an injectable wall clock.
 */
#ifndef MS_STORE_FIX_H
#define MS_STORE_FIX_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_test.h"
#include "store.h"

extern const uint8_t fix_netid[MS_NETID_LEN];

/* Identity from a seed filled with byte b (aborts the test on failure):
 * ms_test_identity under the store suites' name. */
ms_identity *fix_identity(uint8_t b);

/* A signed encoded op (malloc'd, caller frees *buf).  parents need not be
 * sorted; they are sorted here.  id gets the op id when non-NULL. */
typedef struct fix_op {
	uint8_t *buf;
	size_t len;
	uint8_t id[MS_HASH_LEN];
} fix_op;
void fix_make_op(fix_op *out, const ms_identity *who, ms_op_type type,
                 uint64_t seq, uint64_t hlc,
                 const uint8_t (*parents)[MS_HASH_LEN], size_t np,
                 const char *key, const void *value, size_t vlen);

/* The same with a priority (fix_make_op: MS_PRIO_USER). */
void fix_make_op_prio(fix_op *out, const ms_identity *who, ms_op_type type,
                      ms_prio prio, uint64_t seq, uint64_t hlc,
                      const uint8_t (*parents)[MS_HASH_LEN], size_t np,
                      const char *key, const void *value, size_t vlen);

/* Injected wall clock: ctx points at a uint64_t of ms. */
uint64_t fix_wall(void *ctx);

/* Create a store for id in dir and open it with o (NULL = defaults). */
ms_store *fix_store(const char *dir, const ms_identity *id,
                    const ms_store_opts *o);

/* The store's summary from a fresh snapshot (asserts on failure). */
ms_store_summary fix_summary(ms_store *s);

/* Run verify and return the fault count (0 = clean); prints faults. */
uint64_t fix_verify(ms_store *s);

/*
 * Suites about order independence and process concurrency (not fsync) put
 * their stores on /dev/shm when TMPDIR is unset, so thousands of durable
 * commits do not make them slow on a busy CI disk (ms_test_prefer_ram_tmpdir
 * under the store suites' name).
 */
void fix_prefer_ram_tmpdir(void);

/* What a forks callback (ms_store_foreach_fork, ms_store_get_fork) saw:
 * fix_on_fork counts the calls and keeps the last slot's first 4 ids. */
typedef struct fix_fork_seen {
	int n;
	uint64_t seq;
	size_t nids;
	uint8_t ids[4][MS_HASH_LEN];
} fix_fork_seen;
int fix_on_fork(const uint8_t author[MS_PK_LEN], uint64_t seq,
                const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *ctx);

/* An 8-byte little-endian counter delta. */
void fix_le64(uint8_t out[8], int64_t v);

/*
 * Raw LMDB access to a store's file behind the store's back, to plant real
 * damage (the store must not be open in this process).  fix_raw_begin opens
 * dir's environment and a write transaction on the named db;
 * fix_raw_commit commits and closes it.
 */
typedef struct fix_raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
} fix_raw;
void fix_raw_begin(fix_raw *r, const char *dir, const char *db);
void fix_raw_commit(fix_raw *r);
/* Put (v non-NULL) or delete (v NULL) one record of db in its own txn. */
void fix_raw_put(const char *dir, const char *db, const void *k, size_t kl,
                 const void *v, size_t vl);

#endif
