/*
 * peer_vv.h — what each peer is known to hold: per (peer, author) the
 * highest contiguous seq the peer has shown or acknowledged.  This is the
 * persistent sync queue: what a peer lacks is derived from it and our own
 * vector, never stored twice.  node/ writes it from ACKs, vectors and the
 * ops a peer sends, for the authors this store holds only.
 *
 * Database: peer_vv   peer id (32) || author (32) -> seq (u64 LE).
 */
#ifndef MS_PEER_VV_H
#define MS_PEER_VV_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A peer's known contiguous seq for one author. */
typedef struct ms_peer_vv_entry {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;
} ms_peer_vv_entry;

/* Raise peer's known seqs to the given ones (never lowers; seq 0 entries
 * are ignored), in one durable transaction.  Entries for authors this
 * store holds no op of are skipped: what a peer holds of an author we
 * never saw is of no use to the sync queue, and a peer could make up any
 * number of them (the peer_vv_unknown budget).  Errors: MS_EFULL,
 * LMDB's. */
ms_err ms_store_peer_vv_update(ms_store *s, const uint8_t peer[MS_PK_LEN],
                               const ms_peer_vv_entry *e, size_t n,
                               ms_errbuf *eb);
/* The same, telling in *unknown (not NULL) how many entries were skipped
 * because their author is not held (0 on error). */
ms_err ms_store_peer_vv_update_held(ms_store *s, const uint8_t peer[MS_PK_LEN],
                                    const ms_peer_vv_entry *e, size_t n,
                                    size_t *unknown, ms_errbuf *eb);
/* The seq peer is known to hold of author; 0 when nothing is known. */
uint64_t ms_store_peer_vv_get(ms_store_rtxn *rt, const uint8_t peer[MS_PK_LEN],
                              const uint8_t author[MS_PK_LEN]);
/* Sync-queue depth: ops we hold above what peer is known to hold, summed
 * over authors (sum of max(0, our contiguous seq - peer's seq)). */
uint64_t ms_store_peer_lag(ms_store_rtxn *rt, const uint8_t peer[MS_PK_LEN]);
/* Own ops that no peer has confirmed: our seq - max over peers of their
 * known seq for our author. */
uint64_t ms_store_unacked_local(ms_store_rtxn *rt);

#endif
