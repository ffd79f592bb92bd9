/*
 * crypto.h — identity and network keys, key files, signing, hashing, and the
 * Curve25519 keys used by the ZeroMQ CURVE transport.
 *
 * All of it is libsodium.  Secret keys live in sodium_malloc'd memory that is
 * read-only except while being written; stack copies are wiped before return.
 * Call ms_crypto_init() once before anything else (idempotent, thread-safe).
 */
#ifndef MS_CRYPTO_H
#define MS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "ms_err_int.h"

#define MS_PK_LEN 32     /* Ed25519 public key = node id */
#define MS_SK_LEN 64     /* Ed25519 secret key (seed || pk, libsodium form) */
#define MS_SEED_LEN 32   /* Ed25519 seed, what the identity file holds */
#define MS_SIG_LEN 64    /* Ed25519 signature */
#define MS_HASH_LEN 32   /* BLAKE2b-256 */
#define MS_NETKEY_LEN 32 /* shared network (membership) key */
#define MS_NETID_LEN 32  /* network id = hash of the network key */
#define MS_CURVE_LEN 32  /* Curve25519 public or secret key */

/* File names inside a node's data directory. */
#define MS_IDENTITY_FILE "identity.key"
#define MS_NETKEY_FILE "network.key"

/* Initialise libsodium; MS_ECRYPTO if it cannot. */
ms_err ms_crypto_init(ms_errbuf *eb);

/* --- hashing ------------------------------------------------------------ */

/* BLAKE2b-256 of buf. */
void ms_hash(uint8_t out[MS_HASH_LEN], const void *buf, size_t len);

/* Incremental BLAKE2b-256 (wraps crypto_generichash_state). */
typedef struct ms_hash_state {
	_Alignas(64) unsigned char opaque[384];
} ms_hash_state;
void ms_hash_init(ms_hash_state *st);
void ms_hash_update(ms_hash_state *st, const void *buf, size_t len);
void ms_hash_final(ms_hash_state *st, uint8_t out[MS_HASH_LEN]);

/* --- signing ------------------------------------------------------------ */

/*
 * A node identity: Ed25519 keypair.  Created by ms_identity_generate or
 * ms_identity_load; freed by ms_identity_free, which wipes the secret.
 */
typedef struct ms_identity ms_identity;

ms_err ms_identity_generate(ms_identity **out, ms_errbuf *eb);
/* Deterministic identity from a 32-byte seed (tests, known-answer vectors). */
ms_err ms_identity_from_seed(ms_identity **out, const uint8_t seed[MS_SEED_LEN],
                             ms_errbuf *eb);
void ms_identity_free(ms_identity **idp);
/* The public key (node id); valid while the identity lives. */
const uint8_t *ms_identity_pk(const ms_identity *id);

/* Detached Ed25519 signature over msg. */
void ms_sign(const ms_identity *id, uint8_t sig[MS_SIG_LEN], const void *msg,
             size_t len);
/* 1 if sig is a valid signature of msg by pk, 0 otherwise. */
int ms_verify(const uint8_t pk[MS_PK_LEN], const uint8_t sig[MS_SIG_LEN],
              const void *msg, size_t len);

/* --- network key -------------------------------------------------------- */

typedef struct ms_netkey ms_netkey;

ms_err ms_netkey_generate(ms_netkey **out, ms_errbuf *eb);
void ms_netkey_free(ms_netkey **nkp);
/* Network id: BLAKE2b-256 keyed by nothing over domain "meshsync/netid/v1" ||
 * key.  Public: goes in the mDNS TXT record (prefix) and in every signature. */
void ms_netkey_id(const ms_netkey *nk, uint8_t id[MS_NETID_LEN]);
/*
 * The listening (CURVE server) keypair every member derives from the network
 * key: seed = BLAKE2b-256 over "meshsync/listen/v1" || key, then
 * crypto_box_seed_keypair.  sk must be MS_CURVE_LEN bytes; caller wipes it.
 */
void ms_netkey_listen_keypair(const ms_netkey *nk, uint8_t pk[MS_CURVE_LEN],
                              uint8_t sk[MS_CURVE_LEN]);

/* Text form of a network key: one line "msnet1:<64 hex digits>\n".  buf must
 * hold MS_NETKEY_TEXT_LEN bytes: 7 + 64 + newline + NUL. */
#define MS_NETKEY_TEXT_LEN 73
void ms_netkey_to_text(const ms_netkey *nk, char buf[MS_NETKEY_TEXT_LEN]);
/* Parse the text form (surrounding whitespace allowed); MS_EINVAL with a
 * reason when it is not one. */
ms_err ms_netkey_from_text(ms_netkey **out, const char *text, ms_errbuf *eb);

/* --- Curve25519 for the transport -------------------------------------- */

/* The identity's Ed25519 keys converted to Curve25519 (dialing keypair). */
ms_err ms_identity_curve_keypair(const ms_identity *id,
                                 uint8_t pk[MS_CURVE_LEN],
                                 uint8_t sk[MS_CURVE_LEN], ms_errbuf *eb);
/* Ed25519 public key -> Curve25519 public key (what a listener sees). */
ms_err ms_ed25519_pk_to_curve(uint8_t curve_pk[MS_CURVE_LEN],
                              const uint8_t ed_pk[MS_PK_LEN], ms_errbuf *eb);

/*
 * Aliases.  The Curve25519 form keeps only the Montgomery u-coordinate, so
 * an Ed25519 key P and its negation -P convert to the same Curve25519 key:
 * whoever holds the secret of one can sign as, and complete the CURVE
 * handshake as, the other.  A transport key therefore names a pair of node
 * ids; callers that bind a node id to a transport key refuse the second
 * one (see node/daemon.c, identity_refused).
 */
/* -P from P: the same point with the sign of x flipped (bit 255 of the
 * encoding).  MS_ECRYPTO when pk is not a valid Ed25519 key. */
ms_err ms_ed25519_pk_negate(uint8_t out[MS_PK_LEN], const uint8_t pk[MS_PK_LEN],
                            ms_errbuf *eb);
/* 1 when a and b are different node ids with the same Curve25519 key (each
 * is the other's negation), 0 otherwise (equal, unrelated or invalid). */
int ms_node_id_alias(const uint8_t a[MS_PK_LEN], const uint8_t b[MS_PK_LEN]);

/* --- key files ---------------------------------------------------------- */

/*
 * Key files are one line of text, written 0600 (O_EXCL: never overwritten)
 * inside a directory that must be 0700.  Loading refuses (MS_EPERM, with the
 * file, its mode and the chmod to run) a key file that group or others may
 * read or write, or one not owned by the current user, and (MS_EINVAL)
 * anything that is not a regular file: a symlink, a FIFO, a device.  Files
 * are opened O_NOFOLLOW | O_NONBLOCK, so none of them blocks or redirects
 * the load.  Import (below) follows a symlink to a regular file.
 * The identity file holds "msid1:<64 hex digits of the seed>\n".
 */
ms_err ms_identity_save(const ms_identity *id, const char *path, ms_errbuf *eb);
ms_err ms_identity_load(ms_identity **out, const char *path, ms_errbuf *eb);
ms_err ms_netkey_save(const ms_netkey *nk, const char *path, ms_errbuf *eb);
ms_err ms_netkey_load(ms_netkey **out, const char *path, ms_errbuf *eb);
/* Load a network key from a file a user handed us (init --network-key): any
 * mode is accepted, since it is about to be copied into a 0600 file.  At
 * most a few hundred bytes are read (a longer file is no key file:
 * MS_EINVAL); MS_ENOTFOUND when there is no such file. */
ms_err ms_netkey_import(ms_netkey **out, const char *path, ms_errbuf *eb);
/* The same from fd, read to its end and left open (meshsync-node reads
 * "--network-key -" from stdin this way; the library itself never does);
 * name says in messages where the key came from. */
ms_err ms_netkey_import_fd(ms_netkey **out, int fd, const char *name,
                           ms_errbuf *eb);

/* Hex helpers (sodium_bin2hex); out needs 2*len+1 bytes. */
void ms_hex(char *out, const uint8_t *bin, size_t len);
/* 0 on success, -1 when hex is not exactly 2*len hex digits. */
int ms_unhex(uint8_t *bin, size_t len, const char *hex);

#endif
