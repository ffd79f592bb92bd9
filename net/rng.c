/*
 * rng.c — xoshiro256** (Blackman and Vigna's public-domain generator,
 * written here from its published definition) with splitmix64 to spread one
 * 64-bit seed over the 256-bit state, as its authors recommend: an all-zero
 * state would stick at zero, and similar seeds must not give similar
 * streams.
 */
#include "rng.h"

#include <sodium.h>

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint64_t ms_rng_seed(ms_rng *r, uint64_t seed)
{
	/* Bounded: eight zero draws in a row from the OS means something is
	 * broken; fall back to a fixed non-zero seed rather than loop. */
	for (int i = 0; seed == 0 && i < 8; i++) {
		if (sodium_init() < 0)
			break;
		randombytes_buf(&seed, sizeof seed);
	}
	if (seed == 0)
		seed = 0x6d65736873796e63u; /* "meshsync" */
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	return seed;
}

uint64_t ms_rng_next(ms_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t ms_rng_below(ms_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/*
	 * Rejection: 2^64 mod n values at the bottom would make the low
	 * residues more likely, so draws below that threshold are redrawn.
	 * Each draw is rejected with probability < 1/2, so the expected number
	 * of draws is under two.
	 */
	uint64_t threshold = (0 - n) % n;
	for (;;) {
		uint64_t x = ms_rng_next(r);
		if (x >= threshold)
			return x % n;
	}
}

uint64_t ms_rng_range(ms_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	/* [0, UINT64_MAX] has 2^64 values, one more than a u64 can count */
	if (lo == 0 && hi == UINT64_MAX)
		return ms_rng_next(r);
	return lo + ms_rng_below(r, hi - lo + 1);
}

int ms_rng_chance(ms_rng *r, uint64_t num, uint64_t den)
{
	if (den == 0 || num == 0)
		return 0;
	if (num >= den)
		return 1;
	return ms_rng_below(r, den) < num;
}
