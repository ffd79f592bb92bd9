/*
 * idset.h — a set of op ids (32-byte hashes): which ops one sync session
 * knows its peer holds (sent to it or received from it), so no op crosses a
 * link twice and none goes back where it came from.
 *
 * Open addressing on the first 8 bytes of the id (ids are BLAKE2b hashes,
 * so already uniform), load kept at most one half, grown by doubling.
 *
 * Thread rules: none; one owner.
 */
#ifndef MS_IDSET_H
#define MS_IDSET_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

typedef struct ms_idset {
	uint8_t (*slot)[MS_HASH_LEN]; /* all-zero marks an empty slot */
	size_t cap;                   /* power of two, or 0 */
	size_t n;                     /* ids held (has_zero included) */
	int has_zero;                 /* the all-zero id itself */
} ms_idset;

/* An empty set is all zeros: `ms_idset s = {0};`. */

/* 1 when id is in the set. */
int ms_idset_has(const ms_idset *s, const uint8_t id[MS_HASH_LEN]);

/* Add id (a no-op when present).  0, or -1 when out of memory (the set is
 * unchanged). */
int ms_idset_add(ms_idset *s, const uint8_t id[MS_HASH_LEN]);

/* Free the slots; the set is empty (and usable) again. */
void ms_idset_clear(ms_idset *s);

#endif
