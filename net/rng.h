/*
 * rng.h — a small seeded pseudo-random generator (xoshiro256**, seeded
 * through splitmix64).
 *
 * For jitter in backoff, the fault-injection layer and meshsim scenarios:
 * the same seed gives the same sequence on every machine, so a run can be
 * replayed from the seed it logged.  Not for secrets: keys and nonces come
 * from libsodium.
 *
 * The state is plain data owned by the caller; one ms_rng per thread (no
 * locking inside).
 */
#ifndef MS_RNG_H
#define MS_RNG_H

#include <stdint.h>

typedef struct ms_rng {
	uint64_t s[4];
} ms_rng;

/*
 * Seed r.  seed 0 means "pick one": 8 bytes from libsodium's
 * randombytes_buf.  Returns the seed actually used (never 0), which the
 * caller logs so the run can be replayed with it.
 */
uint64_t ms_rng_seed(ms_rng *r, uint64_t seed);

/* Next 64 uniformly distributed bits. */
uint64_t ms_rng_next(ms_rng *r);

/* Uniform in [0, n), without modulo bias; 0 when n is 0. */
uint64_t ms_rng_below(ms_rng *r, uint64_t n);

/* Uniform in [lo, hi], both included; lo when hi < lo. */
uint64_t ms_rng_range(ms_rng *r, uint64_t lo, uint64_t hi);

/* 1 with probability num/den (0 when den is 0 or num is 0, 1 when
 * num >= den): drop/duplicate decisions of the fault layer. */
int ms_rng_chance(ms_rng *r, uint64_t num, uint64_t den);

#endif
