/*
 * walk.c — the one cursor loop behind the store's foreach functions: open a
 * cursor on a db, start at its first record or at the first key >= a start
 * key, hand each record to a row callback until one stops the walk, close
 * the cursor.  The foreach functions keep only what differs: which records
 * they skip, where they stop, and what they pass to their visitor.
 */
#include "store_int.h"

int st_walk(ms_store_rtxn *rt, enum st_db db, const MDB_val *start,
            st_row_fn row, void *ctx)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc, ret = 0;

	if (mdb_cursor_open(rt->txn, rt->s->dbi[db], &c) != 0)
		return -1;
	if (start != NULL) {
		k = *start; /* MDB_SET_RANGE overwrites k with the key found */
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	}
	/* Each step moves the cursor forward; ends at the db's end. */
	while (rc == 0) {
		ret = row(&k, &v, ctx);
		if (ret != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	/* MDB_NOTFOUND is the end of the db, not a failure. */
	if (rc != 0 && rc != MDB_NOTFOUND)
		ret = -1;
	mdb_cursor_close(c);
	return ret;
}
