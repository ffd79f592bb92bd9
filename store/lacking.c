/*
 * lacking.c — what the other side of a session lacks, from its vector
 * entries and ours (docs/protocol.md §5.3), as a list of ops sorted in
 * send order (priority, hlc, id), whole or in windows of a bounded size
 * (so a session never holds the ids of a whole store).
 *
 * Per author A, ours (s, h, acc) against theirs (ps, ph, pacc); an author
 * they do not list counts as (0, 0, none):
 *   1. acc == pacc (all 32 bytes of the setsum, so the sets are equal):
 *      nothing.
 *   4. s == ps and h == ph (so only acc differs: A equivocated): every op
 *      of A.  The peer stores the versions it lacked as forks; the ones it
 *      holds come back as duplicates.
 *   otherwise 2. every op of A with seq > ps, and 3. every op of every
 *      forked slot of A.  Rule 3 reads the forks db instead of trusting the
 *      count of ops in [1..ps], which a gap of ours can hide.
 * Ops the other side already holds come back as cheap duplicates.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int ms_sync_item_cmp(const void *a, const void *b)
{
	const ms_sync_item *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->hlc != y->hlc)
		return x->hlc < y->hlc ? -1 : 1;
	return memcmp(x->id, y->id, MS_HASH_LEN);
}

typedef struct lk {
	ms_store_rtxn *rt;
	MDB_cursor *log, *forks;
	ms_sync_item *items;
	size_t n, cap;
	size_t max;        /* a window's bound on log items (0: none) */
	int stopped;       /* the log walk stopped at the bound ... */
	uint64_t stop_seq; /* ... before this seq */
} lk;

/* Add op id (held) to the list, with its priority and hlc. */
static ms_err lk_add(lk *l, const uint8_t *id, ms_errbuf *eb)
{
	MDB_val k = {MS_HASH_LEN, (void *)id}, v;
	ms_sync_item *it;
	ms_op op;
	int rc;

	rc = mdb_get(l->rt->txn, l->rt->s->dbi[ST_DB_OPS], &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND
		               ? ms_errf(eb, MS_ECORRUPT,
		                         "lacking: an indexed op is not held (run "
		                         "verify)")
		               : st_mdb(l->rt->s, eb, rc, "lacking: read ops");
	if (st_decode_stored(&op, &v) != MS_OPR_OK)
		return ms_errf(
			eb, MS_ECORRUPT,
			"lacking: a stored op does not decode (run verify)");
	if (st_reserve((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items))
		return ms_errf(eb, MS_ENOMEM, "lacking: out of memory");
	it = &l->items[l->n++];
	memset(it, 0, sizeof *it);
	it->priority = op.priority;
	it->hlc = op.hlc;
	memcpy(it->id, id, MS_HASH_LEN);
	return MS_OK;
}

/*
 * Add every id stored under author with seq >= from in a database keyed
 * author || seq: the log (one id per slot) or forks (MDB_NEXT walks every
 * duplicate of a slot before the next slot).  Stops at the author's last
 * key.  what names the database in errors.
 */
static ms_err lk_range(lk *l, MDB_cursor *c, const uint8_t *author,
                       uint64_t from, const char *what, ms_errbuf *eb)
{
	uint8_t kb[ST_LOGKEY_LEN];
	MDB_val k, v;
	ms_err e;
	int rc;

	st_logkey(kb, author, from);
	k.mv_size = sizeof kb;
	k.mv_data = kb;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size != ST_LOGKEY_LEN ||
		    memcmp(k.mv_data, author, MS_PK_LEN) != 0)
			break;
		/* a window is full: the log walk resumes here next time (forks
		 * are listed whole, with their author's first window) */
		if (c == l->log && l->max > 0 && l->n >= l->max) {
			l->stopped = 1;
			l->stop_seq = ms_get_be64((const uint8_t *)k.mv_data +
			                          MS_PK_LEN);
			return MS_OK;
		}
		/* A read txn's pages stay put, so the id is used in place. */
		if (v.mv_size == MS_HASH_LEN &&
		    (e = lk_add(l, v.mv_data, eb)) != MS_OK)
			return e;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return st_mdb(l->rt->s, eb, rc, what);
	return MS_OK;
}

/* Log entries of author with seq > after (one per slot). */
static ms_err lk_log(lk *l, const uint8_t *author, uint64_t after,
                     ms_errbuf *eb)
{
	if (after == UINT64_MAX)
		return MS_OK;
	return lk_range(l, l->log, author, after + 1, "lacking: read log", eb);
}

/* Every id of every forked slot of author (the log's id of the slot is
 * among them; duplicates are removed after sorting). */
static ms_err lk_forks(lk *l, const uint8_t *author, ms_errbuf *eb)
{
	return lk_range(l, l->forks, author, 0, "lacking: read forks", eb);
}

/* Their entry for author, by binary search (theirs is sorted). */
static const ms_vv_entry *find_theirs(const ms_vv_entry *t, size_t n,
                                      const uint8_t *author)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(t[mid].author, author, MS_PK_LEN);
		if (c == 0)
			return &t[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

ms_err ms_store_lacking(ms_store_rtxn *rt, const ms_vv_entry *theirs,
                        size_t ntheirs, ms_sync_item **items, size_t *n,
                        ms_errbuf *eb)
{
	ms_lacking_pos pos;

	memset(&pos, 0, sizeof pos);
	return ms_store_lacking_next(rt, theirs, ntheirs, &pos, 0, items, n,
	                             eb);
}

ms_err ms_store_lacking_next(ms_store_rtxn *rt, const ms_vv_entry *theirs,
                             size_t ntheirs, ms_lacking_pos *pos, size_t max,
                             ms_sync_item **items, size_t *n, ms_errbuf *eb)
{
	lk l;
	MDB_cursor *vc = NULL;
	MDB_val k, v;
	ms_err e = MS_OK;
	ms_lacking_pos np = *pos;
	size_t out = 0;
	int rc, more = 0;

	*items = NULL;
	*n = 0;
	memset(&l, 0, sizeof l);
	l.rt = rt;
	l.max = max;
	if (pos->done)
		return MS_OK;
	if ((rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_LOG], &l.log)) ||
	    (rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_FORKS],
	                          &l.forks)) ||
	    (rc = mdb_cursor_open(rt->txn, rt->s->dbi[ST_DB_VV], &vc))) {
		e = st_mdb(rt->s, eb, rc, "lacking: cursor");
		goto done;
	}
	if (pos->started) {
		k.mv_size = MS_PK_LEN;
		k.mv_data = np.author;
		rc = mdb_cursor_get(vc, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(vc, &k, &v, MDB_FIRST);
	}
	/* One step per author we hold. */
	while (rc == 0) {
		ms_vv_entry ours;
		const ms_vv_entry *p;
		/* resuming this author's log where the last window stopped */
		uint64_t resume = np.started && memcmp(k.mv_data, np.author,
		                                       MS_PK_LEN) == 0
		                          ? np.seq
		                          : 0;

		if ((e = st_vv_parse(&ours, &k, &v, eb)) != MS_OK) {
			e = st_err_in(eb, e, "lacking", eb);
			goto done;
		}
		p = find_theirs(theirs, ntheirs, ours.author);
		if (p != NULL && memcmp(p->acc, ours.acc, MS_VV_ACC_LEN) == 0)
			goto next; /* rule 1 */
		{
			uint64_t after = 0; /* rule 4: every op */
			if (!(p != NULL && p->seq == ours.seq &&
			      p->held == ours.held))
				after = p != NULL ? p->seq : 0; /* rule 2 */
			if (resume > 0 && resume - 1 > after)
				after = resume - 1;
			e = lk_log(&l, ours.author, after, eb);
		}
		if (e == MS_OK && resume == 0)
			e = lk_forks(&l, ours.author, eb); /* rules 3 and 4 */
		if (e != MS_OK)
			goto done;
		if (l.stopped) { /* the window is full inside this author */
			memcpy(np.author, ours.author, MS_PK_LEN);
			np.seq = l.stop_seq;
			np.started = 1;
			more = 1;
			break;
		}
	next:
		rc = mdb_cursor_get(vc, &k, &v, MDB_NEXT);
		if (rc == 0 && max > 0 && l.n >= max) {
			/* the window is full: the next author starts the next */
			memcpy(np.author, k.mv_data, MS_PK_LEN);
			np.seq = 0;
			np.started = 1;
			more = 1;
			break;
		}
	}
	if (!more && rc != MDB_NOTFOUND) {
		e = st_mdb(rt->s, eb, rc, "lacking: read vv");
		goto done;
	}
	if (l.n > 0) {
		qsort(l.items, l.n, sizeof *l.items, ms_sync_item_cmp);
		/* Equal ids sort next to each other (same priority and hlc). */
		for (size_t i = 0; i < l.n; i++)
			if (out == 0 || memcmp(l.items[out - 1].id,
			                       l.items[i].id, MS_HASH_LEN) != 0)
				l.items[out++] = l.items[i];
	}
	*items = l.items;
	*n = out;
	l.items = NULL;
	np.done = !more;
	*pos = np;
done:
	if (vc != NULL)
		mdb_cursor_close(vc);
	if (l.forks != NULL)
		mdb_cursor_close(l.forks);
	if (l.log != NULL)
		mdb_cursor_close(l.log);
	free(l.items);
	return e;
}
