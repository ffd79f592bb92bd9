/*
 * store.c — the LMDB environment of a store: create, open (with the
 * migration of an older schema), close, the named databases, transactions,
 * LMDB error mapping and map growth.
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "store_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "hlc.h"

const char *const st_db_names[ST_DB_COUNT_] = {
	[ST_DB_META] = "meta",       [ST_DB_OPS] = "ops",
	[ST_DB_LOG] = "log",         [ST_DB_VV] = "vv",
	[ST_DB_KEYS] = "keys",       [ST_DB_SUP] = "sup",
	[ST_DB_FORKS] = "forks",     [ST_DB_QUARANTINE] = "quarantine",
	[ST_DB_STATS] = "stats",     [ST_DB_PEERS] = "peers",
	[ST_DB_PEER_VV] = "peer_vv", [ST_DB_ARRIVAL] = "arrival",
	[ST_DB_HEADS] = "heads",     [ST_DB_HEADS_RANK] = "heads_rank",
};

/* Growth never goes past this many attempts in one write: doubling from
 * one page reaches any 64-bit size well before it. */
#define ST_WRITE_ATTEMPTS 80

void ms_store_opts_default(ms_store_opts *o)
{
	memset(o, 0, sizeof *o);
	o->map_initial = MS_STORE_DEFAULT_MAP_INITIAL;
	o->map_max = MS_STORE_DEFAULT_MAP_MAX;
	o->max_value = MS_OP_DEFAULT_MAX_VALUE;
	o->max_clock_skew_ms = MS_HLC_DEFAULT_MAX_SKEW_MS;
	o->heads_per_key = MS_STORE_HEADS_PER_KEY_DEFAULT;
}

/* Less room than this on the data file's file system counts as full.
 * LMDB turns a write the kernel cut short for want of space into EIO, so
 * EIO alone does not tell a full disk from a failing one. */
#define ST_FS_FULL_BYTES (1ull << 20)

static int st_fs_full(const char *dir)
{
	struct statvfs v;

	if (dir == NULL || statvfs(dir, &v) != 0)
		return 0;
	return (uint64_t)v.f_bavail * v.f_frsize < ST_FS_FULL_BYTES;
}

/*
 * A fault of the disk or of the data file itself, put in words an operator
 * can act on: which file, what is wrong, what to do (docs/operations.md,
 * "Storage faults", describes each).  Returns -1 for any other code, which
 * mdb_strerror describes well enough.
 */
static int st_fault(ms_errbuf *eb, int rc, const char *dir, const char *what,
                    ms_err *out)
{
	const char *raw = mdb_strerror(rc);
	const char *f = MS_STORE_DATA_FILE;

	if (dir == NULL)
		return -1;
	switch (rc) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
	case EIO:
		if (rc == EIO && !st_fs_full(dir)) {
			*out = ms_errf(eb, MS_EIO,
			               "%s: %s/%s: I/O error (%s): the disk is "
			               "failing or went away; check the kernel "
			               "log, then run node-inspect verify",
			               what, dir, f, raw);
			return 0;
		}
		*out = ms_errf(eb, MS_EFULL,
		               "%s: %s/%s: the file system is full (%s%s): "
		               "nothing of this write was committed; free "
		               "space there and writes resume by themselves",
		               what, dir, f, rc == EIO ? "a short write: " : "",
		               raw);
		return 0;
	case EROFS:
		*out = ms_errf(eb, MS_EIO,
		               "%s: %s/%s: the file system is read-only (%s): "
		               "remount it read-write; node-inspect can still "
		               "read the store",
		               what, dir, f, raw);
		return 0;
	case EACCES:
	case EPERM:
		*out = ms_errf(eb, MS_EIO,
		               "%s: %s/%s: permission denied (%s): the store's "
		               "files (%s, lock.mdb) must be readable and "
		               "writable by the user running this (uid %u)",
		               what, dir, f, raw, f, (unsigned)geteuid());
		return 0;
	case MDB_INVALID:
		*out = ms_errf(eb, MS_ECORRUPT,
		               "%s: %s/%s is not a store or its header is "
		               "damaged (%s): restore the directory from a "
		               "backup, or re-create the node (docs/"
		               "operations.md, Storage faults)",
		               what, dir, f, raw);
		return 0;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		*out = ms_errf(eb, MS_ECORRUPT,
		               "%s: %s/%s is damaged (%s): run node-inspect "
		               "verify; restore the directory from a backup, "
		               "or re-create the node (docs/operations.md, "
		               "Storage faults)",
		               what, dir, f, raw);
		return 0;
	case MDB_VERSION_MISMATCH:
		*out = ms_errf(
			eb, MS_ECORRUPT,
			"%s: %s/%s was written by an incompatible LMDB "
			"version (%s): open it with the build that wrote "
			"it",
			what, dir, f, raw);
		return 0;
	default:
		return -1;
	}
}

/* st_mdb for a store not yet (or no longer) behind an ms_store. */
static ms_err st_mdb_at(ms_store *s, const char *dir, ms_errbuf *eb, int rc,
                        const char *what)
{
	ms_err e;

	if (s != NULL)
		s->mdb_last = rc;
	switch (rc) {
	case MDB_SUCCESS:
		return MS_OK;
	case MDB_NOTFOUND:
		e = MS_ENOTFOUND;
		break;
	case MDB_MAP_FULL:
		e = MS_EFULL; /* st_write grows the map before anyone sees it */
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		e = MS_ECORRUPT;
		break;
	case ENOMEM:
		e = MS_ENOMEM;
		break;
	case EIO:
	case ENOSPC:
	case EACCES:
	case EROFS:
		e = MS_EIO;
		break;
	default:
		e = MS_ESTORE;
		break;
	}
	if (st_fault(eb, rc, dir, what, &e) == 0)
		return e;
	return ms_errf(eb, e, "%s: %s", what, mdb_strerror(rc));
}

ms_err st_mdb(ms_store *s, ms_errbuf *eb, int rc, const char *what)
{
	return st_mdb_at(s, s != NULL ? s->dir : NULL, eb, rc, what);
}

ms_err st_err_in(ms_errbuf *eb, ms_err e, const char *what,
                 const ms_errbuf *why)
{
	char msg[MS_ERRBUF_SIZE];

	/* Copied first: why may be eb. */
	snprintf(msg, sizeof msg, "%s", why != NULL ? why->msg : "");
	return ms_errf(eb, e, "%s: %s", what, msg);
}

/* Adopt the map size another process grew the file to.  Remapping would
 * pull the map from under our own open snapshots, so refuse then. */
static ms_err st_follow_resize(ms_store *s, ms_errbuf *eb)
{
	int rc;

	if (s->nreaders > 0)
		return ms_errf(eb, MS_EBUSY,
		               "store map was grown by another process: close "
		               "open read snapshots and retry");
	rc = mdb_env_set_mapsize(s->env, 0);
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_env_set_mapsize");
	return MS_OK;
}

ms_err st_txn_begin(ms_store *s, unsigned flags, MDB_txn **out, ms_errbuf *eb)
{
	int rc = 0;

	for (int i = 0; i < 8; i++) {
		rc = mdb_txn_begin(s->env, NULL, flags, out);
		if (rc != MDB_MAP_RESIZED)
			break;
		ms_err e = st_follow_resize(s, eb);
		if (e != MS_OK)
			return e;
	}
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_txn_begin");
	return MS_OK;
}

/* Record a refused write in stats.  Its own small txn may also find the map
 * full; then the count is lost, which is acceptable for a statistic. */
static void st_count_full(ms_store *s)
{
	MDB_txn *txn = NULL;

	if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
		return;
	if (st_stat_add(s, txn, "store_full", 1, NULL) != MS_OK) {
		mdb_txn_abort(txn);
		return;
	}
	(void)mdb_txn_commit(txn);
}

/* Called after a transaction hit MDB_MAP_FULL (and was aborted). */
static ms_err st_grow(ms_store *s, ms_errbuf *eb)
{
	MDB_envinfo info;
	uint64_t cur, next;
	int rc;

	if (s->nreaders > 0)
		return ms_errf(eb, MS_EBUSY,
		               "store map full: cannot grow it while read "
		               "snapshots are open");
	mdb_env_info(s->env, &info);
	cur = info.me_mapsize;
	/* Another process may have grown the file already: adopt that first. */
	rc = mdb_env_set_mapsize(s->env, 0);
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_env_set_mapsize");
	mdb_env_info(s->env, &info);
	if (info.me_mapsize > cur)
		return MS_OK;
	if (cur >= s->map_max) {
		st_count_full(s);
		return ms_errf(
			eb, MS_EFULL,
			"store full: %s/%s is at its map maximum of %llu MiB: "
			"nothing of this write was committed, reads go on; "
			"raise store.map_max ([store] map_max in "
			"meshsync.conf) and restart the node",
			s->dir, MS_STORE_DATA_FILE,
			(unsigned long long)(s->map_max >> 20));
	}
	next = cur > s->map_max / 2 ? s->map_max : cur * 2;
	rc = mdb_env_set_mapsize(s->env, (size_t)next);
	if (rc != 0)
		return st_mdb(s, eb, rc, "mdb_env_set_mapsize");
	s->pending_grow++;
	return MS_OK;
}

/*
 * A process that dies inside a read transaction (kill -9, a crash) leaves
 * its reader slot behind for as long as any other process keeps the store
 * open, a running daemon for one.  LMDB then keeps every page freed since
 * that snapshot, so each commit writes all of its pages past the end of
 * the file: the file grows by about 100 KiB per local write and every
 * durable commit also allocates blocks (a journal commit on ext4).
 * mdb_reader_check frees the slots of dead processes; a writer runs it at
 * open and then at most once a second, before a write.
 */
#define ST_REAP_EVERY_MS 1000

static uint64_t st_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void st_readers_reap(ms_store *s, int force)
{
	uint64_t now = st_mono_ms();
	int dead = 0;

	if (!force && now - s->reap_ms < ST_REAP_EVERY_MS)
		return;
	s->reap_ms = now;
	if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
		s->pending_reaped += (uint64_t)dead;
}

ms_err st_write(ms_store *s, st_txn_fn fn, void *ctx, ms_errbuf *eb)
{
	st_wctx w;
	ms_err e;
	int rc;

	if (s->readonly)
		return ms_errf(eb, MS_EINVAL,
		               "write to %s: store opened read-only", s->dir);
	st_readers_reap(s, 0);
	for (int attempt = 0; attempt < ST_WRITE_ATTEMPTS; attempt++) {
		uint64_t limit_heads;
		memset(&w, 0, sizeof w);
		s->mdb_last = 0;
		e = st_txn_begin(s, 0, &w.txn, eb);
		if (e != MS_OK)
			return e;
		e = st_meta_load(s, &w, eb);
		if (e == MS_OK)
			e = fn(s, &w, ctx, eb);
		/* Taken now, given back if the txn does not commit. */
		limit_heads = __atomic_exchange_n(&s->pending_heads_limit, 0,
		                                  __ATOMIC_RELAXED);
		if (e == MS_OK) {
			w.stat[ST_STAT_MAP_GROW] += s->pending_grow;
			w.stat[ST_STAT_STALE_READERS] += s->pending_reaped;
			w.stat[ST_STAT_LIM_HEADS] += limit_heads;
			e = st_meta_save(s, &w, eb);
		}
		if (e == MS_OK)
			e = st_stats_flush(s, &w, eb);
		if (e == MS_OK) {
			/* Commit frees the txn (and its cursors) either way. */
			rc = mdb_txn_commit(w.txn);
			w.txn = NULL;
			w.log_cur = NULL;
			if (rc == 0) {
				s->pending_grow = 0;
				s->pending_reaped = 0;
				return MS_OK;
			}
			e = st_mdb(s, eb, rc, "write");
		} else {
			mdb_txn_abort(w.txn);
		}
		__atomic_add_fetch(&s->pending_heads_limit, limit_heads,
		                   __ATOMIC_RELAXED);
		if (e != MS_EFULL || s->mdb_last != MDB_MAP_FULL)
			return e;
		e = st_grow(s, eb);
		if (e != MS_OK)
			return e;
	}
	return ms_errf(eb, MS_ESTORE, "write to %s: map kept filling", s->dir);
}

static int data_file_exists(const char *dir, int *err)
{
	char path[PATH_MAX];
	struct stat st;

	*err = 0;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir,
	                     MS_STORE_DATA_FILE) >= sizeof path) {
		*err = ENAMETOOLONG;
		return 0;
	}
	if (stat(path, &st) == 0)
		return 1;
	if (errno != ENOENT)
		*err = errno;
	return 0;
}

/*
 * A data file shorter than its last committed page was cut (a copy that
 * stopped early, a file system repaired after a crash, a truncate): the
 * first read of a page past its end would kill the process with SIGBUS,
 * so it is refused here, before anything is read through the map.
 */
static ms_err st_check_size(MDB_env *env, const char *dir, ms_errbuf *eb)
{
	char path[PATH_MAX];
	MDB_envinfo info;
	MDB_stat ms;
	struct stat st;
	uint64_t need;
	int rc;

	if ((rc = mdb_env_info(env, &info)) != 0 ||
	    (rc = mdb_env_stat(env, &ms)) != 0)
		return st_mdb_at(NULL, dir, eb, rc, "open store");
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir,
	                     MS_STORE_DATA_FILE) >= sizeof path)
		return ms_errf(eb, MS_EINVAL, "open store %s: path too long",
		               dir);
	if (stat(path, &st) != 0)
		return st_mdb_at(NULL, dir, eb, errno, "open store");
	need = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	if ((uint64_t)st.st_size < need)
		return ms_errf(
			eb, MS_ECORRUPT,
			"open store: %s is truncated: %llu bytes, but its last "
			"committed page ends at byte %llu: restore the "
			"directory from a backup, or re-create the node "
			"(docs/operations.md, Storage faults)",
			path, (unsigned long long)st.st_size,
			(unsigned long long)need);
	return MS_OK;
}

/*
 * LMDB asserts on some damaged pages (a zeroed branch or leaf page met by a
 * cursor) and would abort() with a line only its authors can read.  Nothing
 * sound can follow an LMDB assertion, so the process still ends here, but
 * with the file and the remedy named and exit status 3 (a store error, as
 * the programs' other store failures) rather than a core dump.
 */
static void st_mdb_assert(MDB_env *env, const char *msg)
{
	const char *dir = mdb_env_get_userctx(env);

	fprintf(stderr,
	        "%s: %s/%s is damaged (LMDB stopped at an impossible page: "
	        "%s): stopping; restore the directory from a backup or "
	        "re-create the node "
	        "(docs/operations.md, Storage faults)\n",
	        program_invocation_short_name, dir != NULL ? dir : "?",
	        MS_STORE_DATA_FILE, msg);
	_exit(3);
}

static ms_err st_env_open(MDB_env **out, const char *dir, unsigned flags,
                          uint64_t mapsize, ms_errbuf *eb)
{
	MDB_env *env = NULL;
	ms_err e;
	int rc;

	*out = NULL;
	rc = mdb_env_create(&env);
	if (rc != 0)
		return st_mdb(NULL, eb, rc, "mdb_env_create");
	/* dir outlives env: the caller's for create, s->dir for open */
	(void)mdb_env_set_userctx(env, (void *)dir);
	(void)mdb_env_set_assert(env, st_mdb_assert);
	rc = mdb_env_set_maxdbs(env, ST_DB_COUNT_ + 4);
	if (rc == 0 && mapsize > 0)
		rc = mdb_env_set_mapsize(env, (size_t)mapsize);
	if (rc == 0)
		rc = mdb_env_open(env, dir, flags | MDB_NOTLS, 0600);
	if (rc != 0) {
		mdb_env_close(env);
		return st_mdb_at(NULL, dir, eb, rc, "open store");
	}
	if ((e = st_check_size(env, dir, eb)) != MS_OK) {
		mdb_env_close(env);
		return e;
	}
	*out = env;
	return MS_OK;
}

static ms_err st_dbis_open(ms_store *s, MDB_txn *txn, unsigned create,
                           ms_errbuf *eb)
{
	for (int i = 0; i < ST_DB_COUNT_; i++) {
		unsigned fl = create;
		char what[64];
		int rc;

		if (i == ST_DB_FORKS)
			fl |= MDB_DUPSORT;
		if (i == ST_DB_HEADS || i == ST_DB_HEADS_RANK)
			fl |= MDB_DUPSORT | MDB_DUPFIXED;
		rc = mdb_dbi_open(txn, st_db_names[i], fl, &s->dbi[i]);
		if (rc != 0) {
			snprintf(what, sizeof what, "open database %s",
			         st_db_names[i]);
			ms_err e = st_mdb(s, eb, rc, what);
			/* A named db missing from an existing store: damage. */
			if (rc == MDB_NOTFOUND)
				e = ms_errf(
					eb, MS_ECORRUPT,
					"open database %s: missing from the store",
					st_db_names[i]);
			/* ... unless the store predates it: a writer adds
			 * it (st_migrate_heads), a reader cannot. */
			if (rc == MDB_NOTFOUND &&
			    (i == ST_DB_HEADS || i == ST_DB_HEADS_RANK))
				e = ms_errf(
					eb, MS_ECORRUPT,
					"open database %s: the store predates "
					"it; start meshsync-node on it once "
					"to migrate",
					st_db_names[i]);
			return e;
		}
	}
	return MS_OK;
}

static ms_err meta_put(ms_store *s, MDB_txn *txn, const char *name,
                       const void *p, size_t n, ms_errbuf *eb)
{
	MDB_val k = {strlen(name), (void *)name}, v = {n, (void *)p};
	int rc = mdb_put(txn, s->dbi[ST_DB_META], &k, &v, 0);
	return rc ? st_mdb(s, eb, rc, "write meta") : MS_OK;
}

ms_err ms_store_create(const char *dir, const uint8_t node_id[MS_PK_LEN],
                       const uint8_t netid[MS_NETID_LEN],
                       const ms_store_opts *o, ms_errbuf *eb)
{
	ms_store_opts def;
	ms_store s;
	MDB_txn *txn = NULL;
	uint8_t u64[8], u32[4];
	int err, rc;
	ms_err e;

	if (o == NULL) {
		ms_store_opts_default(&def);
		o = &def;
	}
	if (data_file_exists(dir, &err))
		return ms_errf(
			eb, MS_EEXIST,
			"create store in %s: a store already exists there",
			dir);
	if (err != 0)
		return ms_errf(eb, MS_EIO, "create store in %s: %s", dir,
		               strerror(err));
	memset(&s, 0, sizeof s);
	s.dir = (char *)dir;
	e = st_env_open(&s.env, dir, 0, o->map_initial, eb);
	if (e != MS_OK)
		return e;
	rc = mdb_txn_begin(s.env, NULL, 0, &txn);
	if (rc != 0) {
		e = st_mdb(&s, eb, rc, "mdb_txn_begin");
		goto fail;
	}
	e = st_dbis_open(&s, txn, MDB_CREATE, eb);
	if (e != MS_OK)
		goto fail;
	ms_put_le32(u32, MS_STORE_SCHEMA);
	ms_put_le64(u64, 0);
	if ((e = meta_put(&s, txn, ST_META_SCHEMA, u32, 4, eb)) ||
	    (e = meta_put(&s, txn, ST_META_NODE_ID, node_id, MS_PK_LEN, eb)) ||
	    (e = meta_put(&s, txn, ST_META_NETID, netid, MS_NETID_LEN, eb)) ||
	    (e = meta_put(&s, txn, ST_META_LOCAL_SEQ, u64, 8, eb)) ||
	    (e = meta_put(&s, txn, ST_META_HLC, u64, 8, eb)) ||
	    (e = meta_put(&s, txn, ST_META_OP_COUNT, u64, 8, eb)) ||
	    (e = meta_put(&s, txn, ST_META_QNEXT, u64, 8, eb)) ||
	    (e = meta_put(&s, txn, ST_META_ARRIVAL, u64, 8, eb)))
		goto fail;
	e = st_policy_store(&s, txn, o->policies, o->npolicies, eb);
	if (e != MS_OK)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		e = st_mdb(&s, eb, rc, "create store: commit");
		goto fail;
	}
	mdb_env_close(s.env);
	free(s.rules);
	return MS_OK;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(s.env);
	free(s.rules);
	return e;
}

/* The schema a store of the previous version has: migrated on open. */
#define ST_SCHEMA_MIGRATABLE 2

/* Read the schema version from meta; MS_ECORRUPT when there is none. */
static ms_err st_meta_schema(ms_store *s, MDB_txn *txn, uint32_t *out,
                             ms_errbuf *eb)
{
	MDB_val k = {strlen(ST_META_SCHEMA), (void *)ST_META_SCHEMA}, v;
	int rc;

	rc = mdb_get(txn, s->dbi[ST_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 4))
		return ms_errf(eb, MS_ECORRUPT,
		               "open store %s: no schema version in meta",
		               s->dir);
	if (rc != 0)
		return st_mdb(s, eb, rc, "read meta");
	*out = ms_get_le32(v.mv_data);
	return MS_OK;
}

/* Check schema and read the identity of the store (any txn).  *schema is
 * MS_STORE_SCHEMA or ST_SCHEMA_MIGRATABLE (the caller migrates it); any
 * other version is refused here. */
static ms_err st_meta_identity(ms_store *s, MDB_txn *txn, uint32_t *schema,
                               ms_errbuf *eb)
{
	MDB_val k, v;
	ms_err e;
	int rc;

	if ((e = st_meta_schema(s, txn, schema, eb)) != MS_OK)
		return e;
	if (*schema != MS_STORE_SCHEMA && *schema != ST_SCHEMA_MIGRATABLE)
		return ms_errf(eb, MS_ECORRUPT,
		               "open store %s: schema version %u, this build "
		               "reads version %u (and migrates version %u)",
		               s->dir, *schema, MS_STORE_SCHEMA,
		               ST_SCHEMA_MIGRATABLE);
	k.mv_data = (void *)ST_META_NODE_ID;
	k.mv_size = strlen(ST_META_NODE_ID);
	rc = mdb_get(txn, s->dbi[ST_DB_META], &k, &v);
	if (rc != 0 || v.mv_size != MS_PK_LEN)
		return ms_errf(eb, MS_ECORRUPT,
		               "open store %s: no node id in meta", s->dir);
	memcpy(s->node_id, v.mv_data, MS_PK_LEN);
	k.mv_data = (void *)ST_META_NETID;
	k.mv_size = strlen(ST_META_NETID);
	rc = mdb_get(txn, s->dbi[ST_DB_META], &k, &v);
	if (rc != 0 || v.mv_size != MS_NETID_LEN)
		return ms_errf(eb, MS_ECORRUPT,
		               "open store %s: no network id in meta", s->dir);
	memcpy(s->netid, v.mv_data, MS_NETID_LEN);
	return MS_OK;
}

typedef struct st_policy_ctx {
	const ms_policy_rule *rules;
	size_t n;
	ms_policy_rule *read; /* the table as stored by this txn */
	size_t nread;
} st_policy_ctx;

/* Store the table and read it back in the same transaction, so that an
 * allocation failure aborts the write: the old table stays in force both
 * in memory and on disk. */
static ms_err st_policy_write(ms_store *s, st_wctx *w, void *ctx, ms_errbuf *eb)
{
	st_policy_ctx *pc = ctx;
	ms_err e;

	free(pc->read); /* an earlier attempt's, before the map grew */
	pc->read = NULL;
	e = st_policy_store(s, w->txn, pc->rules, pc->n, eb);
	if (e == MS_OK)
		e = st_policy_read(s, w->txn, &pc->read, &pc->nread, eb);
	return e;
}

/* A writer stores the table it was given when it differs from the stored
 * one; then everyone resolves keys by the stored table. */
static ms_err policies_apply(ms_store *s, const ms_policy_rule *r, size_t n,
                             ms_errbuf *eb)
{
	MDB_txn *txn = NULL;
	int differs;
	ms_err e;

	if ((e = st_txn_begin(s, MDB_RDONLY, &txn, eb)) != MS_OK)
		return e;
	differs = !s->readonly && st_policy_differs(s, txn, r, n);
	mdb_txn_abort(txn);
	if (differs) {
		st_policy_ctx pc = {r, n, NULL, 0};
		if ((e = st_write(s, st_policy_write, &pc, eb)) != MS_OK) {
			free(pc.read);
			return e;
		}
		st_policy_install(s, pc.read, pc.nread);
		return MS_OK;
	}
	if ((e = st_txn_begin(s, MDB_RDONLY, &txn, eb)) != MS_OK)
		return e;
	e = st_policy_load(s, txn, eb);
	mdb_txn_abort(txn);
	return e;
}

ms_err ms_store_set_policies(ms_store *s, const ms_policy_rule *r, size_t n,
                             ms_errbuf *eb)
{
	if (s->readonly)
		return ms_errf(eb, MS_EINVAL,
		               "set policies: store opened read-only");
	return policies_apply(s, r, n, eb);
}

/* --- migration from schema 2 ------------------------------------------ */

/* One author's setsum, recomputed from the ops. */
typedef struct mig_author {
	uint8_t author[MS_PK_LEN];
	uint8_t sum[MS_SETSUM_LEN];
} mig_author;

typedef struct mig_ctx {
	mig_author *au; /* sorted by author */
	size_t n, cap;
} mig_ctx;

static mig_author *mig_get(mig_ctx *m, const uint8_t *author)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(m->au[mid].author, author, MS_PK_LEN);
		if (c == 0)
			return &m->au[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (st_reserve((void **)&m->au, &m->cap, m->n + 1, sizeof *m->au))
		return NULL;
	memmove(&m->au[lo + 1], &m->au[lo], (m->n - lo) * sizeof *m->au);
	memcpy(m->au[lo].author, author, MS_PK_LEN);
	ms_setsum_empty(m->au[lo].sum);
	m->n++;
	return &m->au[lo];
}

/* bsearch: an author key against an entry. */
static int mig_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const mig_author *)elem)->author, MS_PK_LEN);
}

/* Sum every held op into its author's setsum: the ops db is the truth the
 * old accumulators were derived from, so nothing of theirs is trusted. */
static ms_err mig_sum_ops(ms_store *s, st_wctx *w, mig_ctx *m, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	ms_err e = MS_OK;
	int rc;

	rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_OPS], &c);
	if (rc != 0)
		return st_mdb(s, eb, rc, "migrate: cursor(ops)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		mig_author *a;
		ms_op op;

		if (k.mv_size != MS_HASH_LEN ||
		    st_decode_stored(&op, &v) != MS_OPR_OK) {
			e = ms_errf(eb, MS_ECORRUPT,
			            "migrate: a stored op does not decode (run "
			            "node-inspect verify with the version that "
			            "wrote the store)");
			break;
		}
		if ((a = mig_get(m, op.author)) == NULL) {
			e = ms_errf(eb, MS_ENOMEM, "migrate: out of memory");
			break;
		}
		if ((e = ms_setsum_add(a->sum, k.mv_data, eb)) != MS_OK)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (e == MS_OK && rc != MDB_NOTFOUND)
		e = st_mdb(s, eb, rc, "migrate: read ops");
	return e;
}

/* Replace the acc of every vv record with its author's setsum (the empty
 * set for an author no held op has, which verify then reports). */
static ms_err mig_rewrite_vv(ms_store *s, st_wctx *w, mig_ctx *m, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	ms_err e = MS_OK;
	int rc;

	rc = mdb_cursor_open(w->txn, s->dbi[ST_DB_VV], &c);
	if (rc != 0)
		return st_mdb(s, eb, rc, "migrate: cursor(vv)");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		uint8_t rec[ST_VV_LEN];
		const mig_author *a;

		if (k.mv_size != MS_PK_LEN || v.mv_size != ST_VV_LEN) {
			e = ms_errf(eb, MS_ECORRUPT,
			            "migrate: vv record of %zu bytes, want %d",
			            v.mv_size, ST_VV_LEN);
			break;
		}
		memcpy(rec, v.mv_data, ST_VV_LEN);
		a = m->n > 0 ? bsearch(k.mv_data, m->au, m->n, sizeof *m->au,
		                       mig_cmp)
		             : NULL;
		if (a != NULL)
			memcpy(rec + 16, a->sum, MS_SETSUM_LEN);
		else
			ms_setsum_empty(rec + 16);
		v.mv_size = ST_VV_LEN;
		v.mv_data = rec;
		rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT);
		if (rc != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (e == MS_OK && rc != MDB_NOTFOUND)
		e = st_mdb(s, eb, rc, "migrate: write vv");
	return e;
}

static ms_err migrate_txn(ms_store *s, st_wctx *w, void *vctx, ms_errbuf *eb)
{
	mig_ctx *m = vctx;
	MDB_val k = {strlen(ST_META_OP_ACC_V2), (void *)ST_META_OP_ACC_V2}, v;
	uint8_t u32[4];
	uint32_t schema = 0;
	ms_err e;
	int rc;

	m->n = 0; /* an earlier attempt's, before the map grew */
	if ((e = st_meta_schema(s, w->txn, &schema, eb)) != MS_OK)
		return e;
	if (schema == MS_STORE_SCHEMA)
		return MS_OK; /* another process migrated it meanwhile */
	if ((e = mig_sum_ops(s, w, m, eb)) != MS_OK ||
	    (e = mig_rewrite_vv(s, w, m, eb)) != MS_OK)
		return e;
	rc = mdb_del(w->txn, s->dbi[ST_DB_META], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(s, eb, rc, "migrate: delete meta op_acc");
	ms_put_le32(u32, MS_STORE_SCHEMA);
	k.mv_size = strlen(ST_META_SCHEMA);
	k.mv_data = (void *)ST_META_SCHEMA;
	v.mv_size = sizeof u32;
	v.mv_data = u32;
	rc = mdb_put(w->txn, s->dbi[ST_DB_META], &k, &v, 0);
	return rc ? st_mdb(s, eb, rc, "migrate: write meta schema") : MS_OK;
}

/*
 * Schema 2 -> 3: the vv records' acc (a forgeable sum of ids) becomes the
 * author's setsum, recomputed from the ops; meta op_acc goes.  One write
 * transaction: a crash leaves the store at schema 2, to be migrated on the
 * next open.  A read-only open cannot write, so it refuses with the way out.
 */
static ms_err st_migrate(ms_store *s, ms_errbuf *eb)
{
	mig_ctx m = {0};
	ms_err e;

	if (s->readonly)
		return ms_errf(
			eb, MS_ECORRUPT,
			"open store %s: schema version %u must be migrated to "
			"version %u, which a read-only open cannot do (open it "
			"once read-write, e.g. `meshsync-node get --data %s "
			"any-key`, or start the node)",
			s->dir, ST_SCHEMA_MIGRATABLE, MS_STORE_SCHEMA, s->dir);
	e = st_write(s, migrate_txn, &m, eb);
	free(m.au);
	if (e != MS_OK)
		return st_err_in(eb, e, "open store: migrate to schema 3", eb);
	return MS_OK;
}

ms_err ms_store_open(ms_store **out, const char *dir, const ms_store_opts *o,
                     ms_errbuf *eb)
{
	ms_store_opts def;
	ms_store *s = NULL;
	MDB_txn *txn = NULL;
	uint32_t schema = 0;
	int err, rc;
	ms_err e;

	*out = NULL;
	if (o == NULL) {
		ms_store_opts_default(&def);
		o = &def;
	}
	if (!data_file_exists(dir, &err)) {
		if (err != 0)
			return ms_errf(eb, MS_EIO, "open store %s: %s", dir,
			               strerror(err));
		return ms_errf(
			eb, MS_ENOTFOUND,
			"open store %s: no store there (run `meshsync-node "
			"init --data %s` first)",
			dir, dir);
	}
	s = calloc(1, sizeof *s);
	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "open store %s: out of memory", dir);
		goto fail;
	}
	s->readonly = o->readonly != 0;
	s->map_max = o->map_max ? o->map_max : MS_STORE_DEFAULT_MAP_MAX;
	{
		/* LMDB wants whole pages; round the ceiling down to them. */
		long pg = sysconf(_SC_PAGESIZE);
		uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
		s->map_max -= s->map_max % page;
		if (s->map_max < page)
			s->map_max = page;
	}
	s->max_value = o->max_value ? o->max_value : MS_OP_DEFAULT_MAX_VALUE;
	s->max_skew_ms = o->max_clock_skew_ms;
	s->wall_ms = o->wall_ms;
	s->wall_ctx = o->wall_ctx;
	s->verify_threads = o->verify_threads ? o->verify_threads : 2;
	s->heads_per_key = o->heads_per_key ? o->heads_per_key
	                                    : MS_STORE_HEADS_PER_KEY_DEFAULT;
	/* Existing stores keep the map size recorded in the file (0 = use it). */
	e = st_env_open(&s->env, s->dir, s->readonly ? MDB_RDONLY : 0, 0, eb);
	if (e != MS_OK)
		goto fail;
	if (!s->readonly)
		st_readers_reap(s, 1);
	e = st_txn_begin(s, s->readonly ? MDB_RDONLY : 0, &txn, eb);
	if (e != MS_OK)
		goto fail;
	e = st_dbis_open(s, txn, s->readonly ? 0 : MDB_CREATE, eb);
	if (e == MS_OK)
		e = st_meta_identity(s, txn, &schema, eb);
	/* Idempotent and O(1) once done: part of the schema-2 to 3 step, with
	 * the setsum migration below (after this transaction commits). */
	if (e == MS_OK && !s->readonly)
		e = st_migrate_heads(s, txn, eb);
	if (e != MS_OK)
		goto fail;
	rc = mdb_txn_commit(txn); /* keeps the dbi handles for later txns */
	txn = NULL;
	if (rc != 0) {
		e = st_mdb(s, eb, rc, "open store: commit");
		goto fail;
	}
	if (schema != MS_STORE_SCHEMA && (e = st_migrate(s, eb)) != MS_OK)
		goto fail;
	e = policies_apply(s, o->policies, o->npolicies, eb);
	if (e != MS_OK)
		goto fail;
	*out = s;
	return MS_OK;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	ms_store_close(&s);
	return e;
}

void ms_store_close(ms_store **sp)
{
	ms_store *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	st_worker_stop(s);
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s->dir);
	free(s->rules);
	free(s->enc);
	free(s->rec);
	free(s->bops);
	free(s->bstat);
	free(s->bid);
	free(s->bpt);
	free(s->bgrp);
	free(s->bgroups);
	free(s->bheld);
	st_batch_free(s);
	free(s);
	*sp = NULL;
}

const uint8_t *ms_store_node_id(const ms_store *s)
{
	return s->node_id;
}

const uint8_t *ms_store_network_id(const ms_store *s)
{
	return s->netid;
}

int st_reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*buf, ncap * elem);
	if (p == NULL)
		return -1;
	*buf = p;
	*cap = ncap;
	return 0;
}
