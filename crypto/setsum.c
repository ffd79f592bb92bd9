/*
 * setsum.c — the set digest of setsum.h: hash each id to a ristretto255
 * point and add the points (libsodium's crypto_core_ristretto255_*).
 */
#include "setsum.h"

#include <sodium.h>
#include <string.h>

_Static_assert(MS_SETSUM_LEN == crypto_core_ristretto255_BYTES,
               "ristretto255 encoding size");
_Static_assert(crypto_core_ristretto255_HASHBYTES == 64,
               "ristretto255 hash-to-group input size");

void ms_setsum_empty(uint8_t sum[MS_SETSUM_LEN])
{
	memset(sum, 0, MS_SETSUM_LEN);
}

void ms_setsum_hash(uint8_t h[64], const uint8_t id[MS_HASH_LEN])
{
	crypto_generichash_state st;

	/* The domain keeps these points apart from any other use of
	 * hash-to-group over the same ids. */
	crypto_generichash_init(&st, NULL, 0,
	                        crypto_core_ristretto255_HASHBYTES);
	crypto_generichash_update(&st, (const unsigned char *)MS_SETSUM_DOMAIN,
	                          sizeof MS_SETSUM_DOMAIN - 1);
	crypto_generichash_update(&st, id, MS_HASH_LEN);
	crypto_generichash_final(&st, h, crypto_core_ristretto255_HASHBYTES);
}

void ms_setsum_point(uint8_t point[MS_SETSUM_LEN],
                     const uint8_t id[MS_HASH_LEN])
{
	unsigned char h[crypto_core_ristretto255_HASHBYTES];

	ms_setsum_hash(h, id);
	crypto_core_ristretto255_from_hash(point, h);
}

int ms_setsum_valid(const uint8_t sum[MS_SETSUM_LEN])
{
	static const uint8_t zero[MS_SETSUM_LEN];

	/* libsodium's validity check refuses the identity, which is the
	 * empty set's digest here.  libsodium 1.0.18 ignores the top bit
	 * of an encoding, RFC 9496 refuses it (and setsum_pt.c does): we
	 * refuse it too, whatever the library's version. */
	if ((sum[MS_SETSUM_LEN - 1] & 0x80) != 0)
		return 0;
	return sodium_memcmp(sum, zero, MS_SETSUM_LEN) == 0 ||
	       crypto_core_ristretto255_is_valid_point(sum) == 1;
}

static ms_err combine(uint8_t sum[MS_SETSUM_LEN],
                      const uint8_t p[MS_SETSUM_LEN], int sub, ms_errbuf *eb)
{
	uint8_t r[MS_SETSUM_LEN];
	int rc;

	if (((sum[MS_SETSUM_LEN - 1] | p[MS_SETSUM_LEN - 1]) & 0x80) != 0)
		return ms_errf(eb, MS_ECORRUPT,
		               "setsum: a digest is not a valid group element");
	rc = sub ? crypto_core_ristretto255_sub(r, sum, p)
	         : crypto_core_ristretto255_add(r, sum, p);
	if (rc != 0)
		return ms_errf(eb, MS_ECORRUPT,
		               "setsum: a digest is not a valid group element");
	memcpy(sum, r, MS_SETSUM_LEN);
	return MS_OK;
}

ms_err ms_setsum_add(uint8_t sum[MS_SETSUM_LEN], const uint8_t id[MS_HASH_LEN],
                     ms_errbuf *eb)
{
	uint8_t p[MS_SETSUM_LEN];

	ms_setsum_point(p, id);
	return combine(sum, p, 0, eb);
}

ms_err ms_setsum_sub(uint8_t sum[MS_SETSUM_LEN], const uint8_t id[MS_HASH_LEN],
                     ms_errbuf *eb)
{
	uint8_t p[MS_SETSUM_LEN];

	ms_setsum_point(p, id);
	return combine(sum, p, 1, eb);
}

ms_err ms_setsum_merge(uint8_t sum[MS_SETSUM_LEN],
                       const uint8_t other[MS_SETSUM_LEN], ms_errbuf *eb)
{
	return combine(sum, other, 0, eb);
}

ms_err ms_setsum_subtract(uint8_t sum[MS_SETSUM_LEN],
                          const uint8_t other[MS_SETSUM_LEN], ms_errbuf *eb)
{
	return combine(sum, other, 1, eb);
}
