/*
 * walk.c — the one cursor loop behind the store's foreach functions: open a
 * cursor on a db, start at its first record or at the first key >= a start
 * key, hand each record to a row callback until one stops or fails the
 * walk, close the cursor, and say why a walk failed in one form,
 * "foreach_X: why".  The foreach functions keep only what differs: which
 * records they skip or refuse, where they stop, and what they pass to their
 * visitor.
 */
#include "store_int.h"

ms_err st_walk(ms_store_rtxn *rt, enum st_db db, const MDB_val *start,
               st_row_fn row, void *ctx, const char *what, ms_errbuf *eb)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	ms_errbuf why = {0};
	ms_err e = MS_OK;
	int rc, stop = 0;

	rc = mdb_cursor_open(rt->txn, rt->s->dbi[db], &c);
	if (rc != 0)
		return st_err_in(eb, st_mdb(rt->s, &why, rc, "mdb_cursor_open"),
		                 what, &why);
	if (start != NULL) {
		k = *start; /* MDB_SET_RANGE overwrites k with the key found */
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	}
	/* Each step moves the cursor forward; ends at the db's end. */
	while (rc == 0) {
		e = row(&k, &v, ctx, &stop, &why);
		if (e != MS_OK || stop)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	/* MDB_NOTFOUND is the end of the db, not a failure. */
	if (e == MS_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = st_mdb(rt->s, &why, rc, "mdb_cursor_get");
	mdb_cursor_close(c);
	return e == MS_OK ? MS_OK : st_err_in(eb, e, what, &why);
}
