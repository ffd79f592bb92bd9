/*
 * vector.h — the version vector's full entries: per author, the highest
 * contiguous seq held, the number of ops held (above gaps and forks too)
 * and the setsum of their ids (crypto/setsum.h).  A session sends these in VV
 * messages; ms_store_lacking (lacking.h) compares them.
 *
 * Database: vv   author (32) -> ms_vv_entry (layout in store_int.h).  The
 * store keeps it in step with every op it stores (store/vv.c).  store.h's
 * ms_store_foreach_vv is the (author, contiguous seq) view of the same db.
 */
#ifndef MS_VECTOR_H
#define MS_VECTOR_H

#include <stdint.h>

#include "setsum.h"
#include "store.h"

#define MS_VV_ACC_LEN MS_SETSUM_LEN /* setsum, carried whole in VV */

/* One author's entry of the version vector. */
typedef struct ms_vv_entry {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;  /* highest contiguous seq held */
	uint64_t held; /* ops held for this author (above gaps and forks too) */
	uint8_t acc[MS_VV_ACC_LEN]; /* setsum of the author's op ids: equal
	                               for equal sets of ops, and no one can
	                               make two different sets collide */
} ms_vv_entry;

/*
 * Visit every author's entry in author order; e is valid until fn returns.
 * The foreach contract of store.h: fn returns non-zero to stop early
 * (MS_OK); MS_ECORRUPT "foreach_vv_entry: vv record of N bytes, want M"
 * for a malformed record, or LMDB's error, with the reason in eb.
 */
typedef int (*ms_vv_entry_fn)(const ms_vv_entry *e, void *ctx);
ms_err ms_store_foreach_vv_entry(ms_store_rtxn *rt, ms_vv_entry_fn fn,
                                 void *ctx, ms_errbuf *eb);

/* One author's entry into *out: MS_ENOTFOUND if no op of author is held,
 * MS_ECORRUPT if its record is malformed. */
ms_err ms_store_vv_entry_get(ms_store_rtxn *rt, const uint8_t author[MS_PK_LEN],
                             ms_vv_entry *out, ms_errbuf *eb);

#endif
