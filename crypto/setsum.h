/*
 * setsum.h — an unforgeable digest of a set of op ids that can be updated
 * one id at a time: the multiset hash of the elliptic-curve kind ("ECMH").
 *
 * Each id maps to a point of the prime-order group ristretto255:
 *     P(id) = ristretto255_from_hash(BLAKE2b-512("meshsync/setsum/v1" || id))
 * and a set's digest is the group sum of its points, kept as the point's
 * 32-byte canonical encoding.  The empty set is the identity, encoded as 32
 * zero bytes.  The sum is commutative, so the digest does not depend on the
 * order ids were added in, and adding then subtracting an id gives back the
 * digest without it.
 *
 * Security: finding two different sets of ids with equal digests means
 * finding a linear relation between hash-to-group outputs, which is as hard
 * as discrete logarithms in ristretto255 (with BLAKE2b modelled as a random
 * oracle); generalised-birthday searches, which break a sum of ids as
 * integers mod 2^256, do not apply.  A set holding one id twice is not
 * told apart from one holding it once only if the caller adds it twice:
 * the store adds each held op exactly once.
 *
 * Cost: one hash-to-group and one point addition per id, about 31 µs on
 * the reference machine (docs/format.md): each is about 15 µs, an
 * addition being two decodings and one encoding of points.  Many ids at
 * once are cheaper as ms_setsum_pt values (below): about 8 µs an id.
 * The sum is the same bytes in any grouping.
 */
#ifndef MS_SETSUM_H
#define MS_SETSUM_H

#include <stdint.h>

#include "crypto.h"

#define MS_SETSUM_LEN 32                      /* encoded ristretto255 point */
#define MS_SETSUM_DOMAIN "meshsync/setsum/v1" /* hashed without its NUL */

/* The empty set's digest (the group identity: 32 zero bytes). */
void ms_setsum_empty(uint8_t sum[MS_SETSUM_LEN]);

/* The point of one id (its encoding): the digest of the set {id}. */
void ms_setsum_point(uint8_t point[MS_SETSUM_LEN],
                     const uint8_t id[MS_HASH_LEN]);

/*
 * sum += P(id) / sum -= P(id), in place.  MS_ECORRUPT ("setsum: ... is not
 * a valid group element") when sum is not a canonical encoding: a digest
 * read from disk that was damaged; sum is then left as it was.
 */
ms_err ms_setsum_add(uint8_t sum[MS_SETSUM_LEN], const uint8_t id[MS_HASH_LEN],
                     ms_errbuf *eb);
ms_err ms_setsum_sub(uint8_t sum[MS_SETSUM_LEN], const uint8_t id[MS_HASH_LEN],
                     ms_errbuf *eb);

/* sum += other (the union of two disjoint sets), in place; MS_ECORRUPT
 * when either is not a valid encoding. */
ms_err ms_setsum_merge(uint8_t sum[MS_SETSUM_LEN],
                       const uint8_t other[MS_SETSUM_LEN], ms_errbuf *eb);

/* sum -= other (other a digest of a subset of sum's set), in place;
 * MS_ECORRUPT when either is not a valid encoding. */
ms_err ms_setsum_subtract(uint8_t sum[MS_SETSUM_LEN],
                          const uint8_t other[MS_SETSUM_LEN], ms_errbuf *eb);

/* The 64 bytes hashed to the group for id: BLAKE2b-512(domain || id). */
void ms_setsum_hash(uint8_t h[64], const uint8_t id[MS_HASH_LEN]);

/*
 * A group element held unencoded (extended coordinates), for summing many
 * points: adding two costs a few field multiplications (well under a
 * microsecond) where ms_setsum_merge, working on encodings, costs about
 * 15 µs.  Computing one from an id costs about two thirds of
 * ms_setsum_point (no encoding).  Fields are private (crypto/setsum_pt.c);
 * the same bytes result as the encoded functions above, whatever the
 * grouping.  Plain values: copy them freely, use them on any thread.
 */
typedef struct ms_setsum_pt {
	uint64_t x[5], y[5], z[5], t[5];
} ms_setsum_pt;

/* p = the identity (the empty set). */
void ms_setsum_pt_identity(ms_setsum_pt *p);
/* p = P(id). */
void ms_setsum_pt_of_id(ms_setsum_pt *p, const uint8_t id[MS_HASH_LEN]);
/* p += q / p -= q. */
void ms_setsum_pt_add(ms_setsum_pt *p, const ms_setsum_pt *q);
void ms_setsum_pt_sub(ms_setsum_pt *p, const ms_setsum_pt *q);
/* The digest of p: its canonical encoding (the identity: 32 zeros). */
void ms_setsum_pt_encode(uint8_t sum[MS_SETSUM_LEN], const ms_setsum_pt *p);
/* p = the element sum encodes; MS_ECORRUPT (p undefined) when sum is not
 * a canonical encoding of a group element. */
ms_err ms_setsum_pt_decode(ms_setsum_pt *p, const uint8_t sum[MS_SETSUM_LEN],
                           ms_errbuf *eb);

/* 1 if sum is a canonical encoding of a group element (the identity
 * included), 0 otherwise. */
int ms_setsum_valid(const uint8_t sum[MS_SETSUM_LEN]);

#endif
