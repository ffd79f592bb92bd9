/*
 * walk.c — the one cursor loop behind the store's foreach functions: open a
 * cursor on a db, start at its first record or at the first key >= a start
 * key, hand each record to a row callback until one stops or fails the
 * walk, close the cursor, and say why a walk failed in one form,
 * "foreach_X: why".  The foreach functions keep only what differs: which
 * records they skip or refuse, where they stop, and what they pass to their
 * visitor.
 */
#include <string.h>

#include "store_int.h"

/* The longest key st_walk_groups groups (log: author || seq). */
#define ST_GROUP_KEY_MAX (2 * MS_PK_LEN)

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

ms_err st_walk_groups(ms_store_rtxn *rt, enum st_db db, size_t key_len,
                      st_group_fn fn, void *ctx, const char *what,
                      ms_errbuf *eb)
{
	uint8_t kb[ST_GROUP_KEY_MAX];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	if (key_len > sizeof kb || key_len < MS_PK_LEN)
		return ms_errf(eb, MS_EINVAL, "%s: key length %zu", what,
		               key_len);
	if ((rc = mdb_cursor_open(rt->txn, rt->s->dbi[db], &c)) != 0)
		return st_mdb(rt->s, eb, rc, what);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size != key_len) {
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		fn(k.mv_data, ctx);
		/* past the group's last possible key: prefix || ff..ff */
		memcpy(kb, k.mv_data, MS_PK_LEN);
		memset(kb + MS_PK_LEN, 0xff, key_len - MS_PK_LEN);
		k.mv_size = key_len;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == key_len &&
		    memcmp(k.mv_data, kb, key_len) == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? MS_OK : st_mdb(rt->s, eb, rc, what);
}
