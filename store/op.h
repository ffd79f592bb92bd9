/*
 * op.h — the operation record: canonical encoding, id, signature, strict
 * decoding.
 *
 * Encoding (all integers little-endian, fixed width; exactly one encoding per
 * op, so the id is a function of the op's content):
 *
 *   off  size        field
 *   0    1           version      MS_OP_VERSION (1)
 *   1    1           type         MS_OP_PUT (1) | MS_OP_DEL (2)
 *   2    1           priority     MS_PRIO_USER (0) | MS_PRIO_BACKGROUND (1)
 *   3    32          author       Ed25519 public key
 *   35   8           seq          u64, >= 1, per author
 *   43   8           hlc          u64, 48 bits ms | 16 bits counter
 *   51   1           nparents     0..MS_OP_MAX_PARENTS
 *   52   32*n        parents      op ids, strictly ascending (sorted, unique)
 *   ..   2           key_len      1..MS_OP_MAX_KEY
 *   ..   key_len     key
 *   ..   4           value_len    0..max_value (and 0 for DEL)
 *   ..   value_len   value
 *   ..   64          signature
 *
 * signature = Ed25519(author, BLAKE2b-256("meshsync/op/v1\0" || network id ||
 *             every byte before the signature)).  Signing the digest lets a
 *             verifier hash in place without copying large values.
 * id        = BLAKE2b-256(the whole encoding, signature included).
 */
#ifndef MS_OP_H
#define MS_OP_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "ms_err.h"

#define MS_OP_VERSION 1
#define MS_OP_MAX_PARENTS 64
#define MS_OP_MAX_KEY 1024
#define MS_OP_DEFAULT_MAX_VALUE (1u << 20) /* 1 MiB */
#define MS_OP_FIXED_LEN (1 + 1 + 1 + 32 + 8 + 8 + 1 + 2 + 4 + 64)
#define MS_OP_DOMAIN "meshsync/op/v1"

typedef enum ms_op_type {
	MS_OP_PUT = 1, /* set the key's value */
	MS_OP_DEL = 2, /* delete the key (tombstone; value empty) */
} ms_op_type;

typedef enum ms_prio {
	MS_PRIO_USER = 0,       /* a person is waiting: sent first */
	MS_PRIO_BACKGROUND = 1, /* bulk/background data */
} ms_prio;

/*
 * A decoded op.  Pointers (parents, key, value, sig) point into the buffer
 * that was decoded or encoded, which must outlive the struct: decoding never
 * allocates.
 */
typedef struct ms_op {
	uint8_t version;
	uint8_t type;     /* ms_op_type */
	uint8_t priority; /* ms_prio */
	uint8_t author[MS_PK_LEN];
	uint64_t seq;
	uint64_t hlc;
	uint8_t nparents;
	const uint8_t *parents; /* nparents * MS_HASH_LEN bytes, ascending */
	uint16_t key_len;
	const uint8_t *key;
	uint32_t value_len;
	const uint8_t *value;
	const uint8_t *sig; /* MS_SIG_LEN bytes */
} ms_op;

/* Why a buffer is not an acceptable op.  Stable names: ms_op_reason_name. */
typedef enum ms_op_reason {
	MS_OPR_OK = 0,       /* accepted */
	MS_OPR_TRUNCATED,    /* buffer ends inside a field */
	MS_OPR_VERSION,      /* unknown format version */
	MS_OPR_TYPE,         /* unknown op type */
	MS_OPR_PRIORITY,     /* unknown priority */
	MS_OPR_SEQ,          /* seq is 0 */
	MS_OPR_PARENT_COUNT, /* more than MS_OP_MAX_PARENTS parents */
	MS_OPR_PARENT_ORDER, /* parents not strictly ascending */
	MS_OPR_KEY_LEN,      /* key empty or longer than MS_OP_MAX_KEY */
	MS_OPR_VALUE_LEN,    /* value longer than the configured maximum */
	MS_OPR_DEL_VALUE,    /* DEL carrying a value */
	MS_OPR_TRAILING,     /* bytes after the signature */
	MS_OPR_SIGNATURE,    /* signature does not verify */
	MS_OPR_COUNT_        /* number of reasons; not a reason */
} ms_op_reason;

/* Stable lower-case name ("truncated", "bad_version", ...) for logs, stats
 * and JSON. */
const char *ms_op_reason_name(ms_op_reason r);

/*
 * Strictly decode buf[0..len) into *op.  Returns MS_OPR_OK or the first
 * reason the buffer is not a well-formed op; never reads outside buf.
 * Does not check the signature (see ms_op_verify).  max_value of 0 means
 * MS_OP_DEFAULT_MAX_VALUE.
 */
ms_op_reason ms_op_decode(ms_op *op, const uint8_t *buf, size_t len,
                          uint32_t max_value);

/* Exact encoded size of op. */
size_t ms_op_encoded_len(const ms_op *op);

/*
 * Fill in op->version, op->sig and encode it into buf (cap bytes), signing
 * with id under netid.  op->author must equal ms_identity_pk(id).  On return
 * op->parents/key/value/sig point into buf.  *out_len gets the size.
 * MS_EINVAL if the fields break a limit (parents unsorted, key empty, ...) or
 * cap is too small.
 */
ms_err ms_op_sign_encode(ms_op *op, const ms_identity *id,
                         const uint8_t netid[MS_NETID_LEN], uint8_t *buf,
                         size_t cap, size_t *out_len, ms_errbuf *eb);

/* The digest that the signature covers, for an op decoded from buf. */
void ms_op_sig_digest(const ms_op *op, const uint8_t netid[MS_NETID_LEN],
                      uint8_t digest[MS_HASH_LEN]);

/* MS_OPR_OK if op's signature verifies under netid, else MS_OPR_SIGNATURE. */
ms_op_reason ms_op_verify(const ms_op *op, const uint8_t netid[MS_NETID_LEN]);

/* id = BLAKE2b-256 of the encoding (buf, len as decoded/encoded). */
void ms_op_id(uint8_t id[MS_HASH_LEN], const uint8_t *buf, size_t len);

#endif
