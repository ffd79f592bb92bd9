/*
 * sign.c — the node identity (Ed25519 keypair), signing and verifying,
 * BLAKE2b hashing, and the Ed25519 -> Curve25519 conversions the CURVE
 * transport needs.
 *
 * The secret key sits in its own sodium_malloc'd region (guard pages,
 * mlock'd, wiped by sodium_free) that is read-only once written, so a stray
 * write elsewhere in the process faults instead of corrupting or leaking it.
 */
#include "crypto.h"
#include "crypto_int.h"

#include <sodium.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ms_hash_state is declared without including sodium.h in crypto.h; make
 * sure it can really hold libsodium's state. */
_Static_assert(sizeof(ms_hash_state) >= sizeof(crypto_generichash_state),
               "ms_hash_state too small for crypto_generichash_state");
_Static_assert(alignof(ms_hash_state) >= alignof(crypto_generichash_state),
               "ms_hash_state under-aligned for crypto_generichash_state");
_Static_assert(MS_HASH_LEN >= crypto_generichash_BYTES_MIN &&
                       MS_HASH_LEN <= crypto_generichash_BYTES_MAX,
               "BLAKE2b output length out of range");
_Static_assert(MS_PK_LEN == crypto_sign_PUBLICKEYBYTES, "Ed25519 pk size");
_Static_assert(MS_SK_LEN == crypto_sign_SECRETKEYBYTES, "Ed25519 sk size");
_Static_assert(MS_SEED_LEN == crypto_sign_SEEDBYTES, "Ed25519 seed size");
_Static_assert(MS_SIG_LEN == crypto_sign_BYTES, "Ed25519 signature size");
_Static_assert(MS_CURVE_LEN == crypto_scalarmult_curve25519_BYTES,
               "Curve25519 key size");

struct ms_identity {
	uint8_t pk[MS_PK_LEN];
	unsigned char *sk; /* MS_SK_LEN bytes, sodium_malloc, read-only */
};

ms_err ms_crypto_init(ms_errbuf *eb)
{
	if (sodium_init() < 0)
		return ms_errf(eb, MS_ECRYPTO,
		               "sodium_init: libsodium failed to initialise");
	return MS_OK;
}

/* --- hashing ------------------------------------------------------------ */

void ms_hash(uint8_t out[MS_HASH_LEN], const void *buf, size_t len)
{
	crypto_generichash(out, MS_HASH_LEN, buf, len, NULL, 0);
}

void ms_hash_init(ms_hash_state *st)
{
	crypto_generichash_init((crypto_generichash_state *)(void *)st->opaque,
	                        NULL, 0, MS_HASH_LEN);
}

void ms_hash_update(ms_hash_state *st, const void *buf, size_t len)
{
	crypto_generichash_update((crypto_generichash_state *)(void *)
	                                  st->opaque,
	                          buf, len);
}

void ms_hash_final(ms_hash_state *st, uint8_t out[MS_HASH_LEN])
{
	crypto_generichash_final((crypto_generichash_state *)(void *)st->opaque,
	                         out, MS_HASH_LEN);
}

/* --- identity ----------------------------------------------------------- */

/*
 * Build an identity from a seed, or from fresh randomness when seed is NULL.
 * The keypair is written straight into the guarded region, so the secret
 * never exists in ordinary memory.
 */
static ms_err identity_new(ms_identity **out, const uint8_t *seed,
                           ms_errbuf *eb)
{
	ms_identity *id = NULL;
	ms_err e;

	*out = NULL;
	if ((e = ms_crypto_init(eb)) != MS_OK)
		return e;
	id = calloc(1, sizeof *id);
	if (id == NULL)
		return ms_errf(eb, MS_ENOMEM, "identity: out of memory");
	id->sk = sodium_malloc(MS_SK_LEN);
	if (id->sk == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "identity: sodium_malloc failed");
		goto fail;
	}
	if (seed != NULL) {
		if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0) {
			e = ms_errf(
				eb, MS_ECRYPTO,
				"identity: crypto_sign_seed_keypair failed");
			goto fail;
		}
	} else if (crypto_sign_keypair(id->pk, id->sk) != 0) {
		e = ms_errf(eb, MS_ECRYPTO,
		            "identity: crypto_sign_keypair failed");
		goto fail;
	}
	if (sodium_mprotect_readonly(id->sk) != 0) {
		e = ms_errf(eb, MS_ECRYPTO,
		            "identity: sodium_mprotect_readonly failed");
		goto fail;
	}
	*out = id;
	return MS_OK;
fail:
	ms_identity_free(&id);
	return e;
}

ms_err ms_identity_generate(ms_identity **out, ms_errbuf *eb)
{
	return identity_new(out, NULL, eb);
}

ms_err ms_identity_from_seed(ms_identity **out, const uint8_t seed[MS_SEED_LEN],
                             ms_errbuf *eb)
{
	return identity_new(out, seed, eb);
}

void ms_identity_free(ms_identity **idp)
{
	if (idp == NULL || *idp == NULL)
		return;
	/* sodium_free makes the region writable again and wipes it. */
	sodium_free((*idp)->sk);
	free(*idp);
	*idp = NULL;
}

const uint8_t *ms_identity_pk(const ms_identity *id)
{
	return id->pk;
}

void ms_identity_seed(const ms_identity *id, uint8_t seed[MS_SEED_LEN])
{
	crypto_sign_ed25519_sk_to_seed(seed, id->sk);
}

/* --- signing ------------------------------------------------------------ */

void ms_sign(const ms_identity *id, uint8_t sig[MS_SIG_LEN], const void *msg,
             size_t len)
{
	crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int ms_verify(const uint8_t pk[MS_PK_LEN], const uint8_t sig[MS_SIG_LEN],
              const void *msg, size_t len)
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

/* --- Curve25519 --------------------------------------------------------- */

ms_err ms_identity_curve_keypair(const ms_identity *id,
                                 uint8_t pk[MS_CURVE_LEN],
                                 uint8_t sk[MS_CURVE_LEN], ms_errbuf *eb)
{
	if (crypto_sign_ed25519_pk_to_curve25519(pk, id->pk) != 0)
		return ms_errf(
			eb, MS_ECRYPTO,
			"identity curve key: public key has no Curve25519 form");
	if (crypto_sign_ed25519_sk_to_curve25519(sk, id->sk) != 0) {
		sodium_memzero(pk, MS_CURVE_LEN);
		return ms_errf(
			eb, MS_ECRYPTO,
			"identity curve key: secret key conversion failed");
	}
	return MS_OK;
}

ms_err ms_ed25519_pk_to_curve(uint8_t curve_pk[MS_CURVE_LEN],
                              const uint8_t ed_pk[MS_PK_LEN], ms_errbuf *eb)
{
	/* Fails for points that are not on the curve or have small order:
	 * such a "node id" comes from outside and must be refused. */
	if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, ed_pk) != 0)
		return ms_errf(
			eb, MS_ECRYPTO,
			"ed25519 to curve25519: not a valid Ed25519 public key");
	return MS_OK;
}

ms_err ms_ed25519_pk_negate(uint8_t out[MS_PK_LEN], const uint8_t pk[MS_PK_LEN],
                            ms_errbuf *eb)
{
	/* a valid key has x != 0 (small-order points are refused), so the
	 * flipped encoding is canonical and is the point -P */
	if (crypto_core_ed25519_is_valid_point(pk) != 1)
		return ms_errf(
			eb, MS_ECRYPTO,
			"ed25519 negate: not a valid Ed25519 public key");
	memcpy(out, pk, MS_PK_LEN);
	out[MS_PK_LEN - 1] ^= 0x80;
	return MS_OK;
}

int ms_node_id_alias(const uint8_t a[MS_PK_LEN], const uint8_t b[MS_PK_LEN])
{
	uint8_t ca[MS_CURVE_LEN], cb[MS_CURVE_LEN];

	if (memcmp(a, b, MS_PK_LEN) == 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(ca, a) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(cb, b) != 0)
		return 0;
	return sodium_memcmp(ca, cb, MS_CURVE_LEN) == 0;
}
