/*
 * wire.h — the sync protocol's message codec (docs/protocol.md is the spec).
 *
 * Every message is one ZeroMQ frame:
 *
 *   off  size  field
 *   0    2     magic     "MS"
 *   2    1     version   MS_WIRE_VERSION (3)
 *   3    1     type      ms_wire_type
 *   4    ..    body      per type, below; integers little-endian
 *
 * This module only turns bytes into structs and back.  What a session does
 * with them (who sends what when, credit, peer_vv, forks) is node/session's.
 * Ops travel as opaque length-prefixed byte strings: net/ never includes
 * store/, and node/session decodes and verifies each op with store/op.h.
 *
 * Decoding is strict and never allocates: every length is checked against
 * the buffer and the caps below, reserved flag bits must be zero, trailing
 * bytes are rejected, and each refusal has an ms_wire_reason with a stable
 * name.  Decoded structs point into the decoded buffer (which must outlive
 * them) or into an array the caller provides.  Every accepted buffer is the
 * canonical encoding of what it decodes to: encode(decode(b)) == b.
 *
 * Encoding writes into a caller buffer after checking its capacity and that
 * the struct obeys the same rules the decoder enforces, so what we send is
 * always something we would accept.
 *
 * Thread rules: no state; every function is safe from any thread.
 */
#ifndef MS_WIRE_H
#define MS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "ms_err.h"

/* --- header, caps ------------------------------------------------------- */

#define MS_WIRE_MAGIC "MS"
/* 3: HAVE and WANT (relayed ops are announced, then fetched) and
 * BYE(duplicate); version 2 would refuse them as bad_type and
 * bad_bye_reason.  2: VV entries carry the whole 32-byte setsum (version
 * 1: a 16-byte prefix of a forgeable sum), and the HELLO digest is built
 * from them. */
#define MS_WIRE_VERSION 3
#define MS_WIRE_HEADER_LEN 4

/* Largest message of any type (also what ZMQ_MAXMSGSIZE should be). */
#define MS_WIRE_MAX_MSG (8u << 20)
/* Largest op carried in OPS: a 1 MiB value plus room for key, parents and
 * the fixed fields of store/op.h. */
#define MS_WIRE_MAX_OP ((1u << 20) + (16u << 10))

#define MS_WIRE_MAX_ENDPOINTS 8      /* endpoints in HELLO */
#define MS_WIRE_MAX_ENDPOINT_LEN 255 /* bytes in one endpoint */
#define MS_WIRE_MAX_VV 1024          /* entries in one VV chunk */
#define MS_WIRE_MAX_OPS 1024         /* ops in one OPS batch */
#define MS_WIRE_MAX_ACK 1024         /* entries in one ACK */
#define MS_WIRE_MAX_TEXT 255         /* bytes of BYE text */
#define MS_WIRE_MAX_PEERS 32         /* peers in one PEERS */
#define MS_WIRE_MAX_PEER_ENDPOINTS 4 /* endpoints per PEERS entry */
#define MS_WIRE_MAX_IDS 1024         /* op ids in one HAVE or WANT */

#define MS_WIRE_ACC_LEN 32 /* per-author setsum of op ids in VV */

/* Fixed sizes, for callers that pack batches up to MS_WIRE_MAX_MSG. */
#define MS_WIRE_VV_ENTRY_LEN (MS_PK_LEN + 8 + 8 + MS_WIRE_ACC_LEN) /* 80 */
#define MS_WIRE_ACK_ENTRY_LEN (MS_PK_LEN + 8)                      /* 40 */
#define MS_WIRE_OPS_FIXED_LEN (MS_WIRE_HEADER_LEN + 4 + 2) /* before the ops */
#define MS_WIRE_OPS_PER_OP_LEN 4   /* length prefix added to each op */
#define MS_WIRE_ID_LEN MS_HASH_LEN /* one op id in HAVE / WANT: 32 */

/* HELLO flags. */
#define MS_WIRE_HELLO_LISTENER 0x01u /* sender is this connection's listener */
/* VV flags. */
#define MS_WIRE_VV_LAST 0x01u /* last chunk of the sender's vector */

/* Domain string of the listener's proof, NUL included (18 bytes signed). */
#define MS_WIRE_HELLO_DOMAIN "meshsync/hello/v1"
#define MS_WIRE_HELLO_DOMAIN_LEN (sizeof MS_WIRE_HELLO_DOMAIN)

typedef enum ms_wire_type {
	MS_WIRE_HELLO = 1, /* opens a session: identity, digest, endpoints */
	MS_WIRE_VV = 2,    /* one chunk of the sender's version vector */
	MS_WIRE_OPS = 3,   /* a batch of ops the receiver lacks */
	MS_WIRE_ACK = 4,   /* receiver's new vector entries and credit */
	MS_WIRE_BYE = 5,   /* closes the session with a reason */
	MS_WIRE_PEERS = 6, /* peer exchange: members and their endpoints */
	MS_WIRE_HAVE = 7,  /* ids of ops the sender holds and may relay */
	MS_WIRE_WANT = 8,  /* ids of announced ops the sender asks for */
} ms_wire_type;

/* Stable lower-case name of a message type ("hello", ...); "unknown" for
 * anything else. */
const char *ms_wire_type_name(int type);

/* Why a buffer is not an acceptable message.  Stable names:
 * ms_wire_reason_name. */
typedef enum ms_wire_reason {
	MS_WR_OK = 0,     /* accepted */
	MS_WR_TRUNCATED,  /* buffer ends inside the header or a field */
	MS_WR_MAGIC,      /* does not start with "MS" */
	MS_WR_VERSION,    /* protocol version we do not speak: BYE(version) */
	MS_WR_TYPE,       /* unknown message type */
	MS_WR_WRONG_TYPE, /* a known type, but not the one being decoded */
	MS_WR_TOO_BIG,    /* longer than MS_WIRE_MAX_MSG */
	MS_WR_FLAGS,      /* a reserved flag bit is set */
	MS_WR_PROOF_FLAG, /* HELLO has_proof is neither 0 nor 1 */
	MS_WR_COUNT,      /* an element count above its cap */
	MS_WR_LENGTH,     /* an element length of 0 or above its cap */
	MS_WR_CHARS,      /* endpoint or text byte outside printable ASCII */
	MS_WR_ORDER,      /* VV/ACK authors not strictly ascending */
	MS_WR_HELD,       /* VV entry holds fewer ops than its seq */
	MS_WR_BYE_REASON, /* unknown BYE reason */
	MS_WR_TRAILING,   /* bytes after the last field */
	MS_WR_COUNT_      /* number of reasons; not a reason */
} ms_wire_reason;

/* Stable lower-case name ("truncated", "bad_version", ...) for logs, stats
 * and JSON; "unknown" for values outside the enum. */
const char *ms_wire_reason_name(ms_wire_reason r);

/* A byte string inside a decoded buffer (or, to encode, the caller's). */
typedef struct ms_wire_bytes {
	const uint8_t *ptr;
	uint32_t len;
} ms_wire_bytes;

/*
 * Check the header of buf[0..len) and report the message type.  Returns
 * MS_WR_OK and sets *type, or MS_WR_TRUNCATED (len < 4), MS_WR_MAGIC,
 * MS_WR_VERSION (the node answers BYE(version)), MS_WR_TYPE, MS_WR_TOO_BIG.
 * Checked in that order, so a newer version is reported as such whatever
 * its size.  *type is set only on MS_WR_OK.  The body is not looked at.
 */
ms_wire_reason ms_wire_peek_type(const uint8_t *buf, size_t len,
                                 ms_wire_type *type);

/*
 * Every *_encode below: write the message into buf (cap bytes) and set
 * *out_len.  MS_EINVAL, with the rule broken in eb, when the struct breaks
 * a rule the decoder enforces or cap is smaller than the *_len result;
 * nothing useful is in buf then.
 *
 * Every *_decode: strictly decode buf[0..len), header included.  Returns
 * MS_WR_OK or the first reason it is not acceptable; never reads outside
 * buf, never allocates.  On failure *out is unspecified.
 */

/* --- HELLO (1) ---------------------------------------------------------- */

/*
 * Body:
 *   node_id[32] vv_digest[32] op_count u64 flags u8
 *   has_proof u8 (0|1)   [proof[64] if has_proof]
 *   n_endpoints u8 (<= 8)   then each: len u16 (1..255) + bytes
 * Endpoint bytes are printable ASCII without spaces (0x21..0x7e), not
 * NUL-terminated: copy one out before handing it to zmq_connect.
 */
typedef struct ms_wire_hello {
	uint8_t node_id[MS_PK_LEN];
	uint8_t vv_digest[MS_HASH_LEN];
	uint64_t op_count;
	uint8_t flags;             /* MS_WIRE_HELLO_* bits; others must be 0 */
	uint8_t has_proof;         /* 0 or 1 */
	uint8_t proof[MS_SIG_LEN]; /* when has_proof; zeroed by decode if not */
	uint8_t n_endpoints;
	ms_wire_bytes endpoints[MS_WIRE_MAX_ENDPOINTS];
} ms_wire_hello;

size_t ms_wire_hello_len(const ms_wire_hello *m);
ms_err ms_wire_hello_encode(const ms_wire_hello *m, uint8_t *buf, size_t cap,
                            size_t *out_len, ms_errbuf *eb);
ms_wire_reason ms_wire_hello_decode(ms_wire_hello *out, const uint8_t *buf,
                                    size_t len);

/*
 * The listener's proof of its node id: Ed25519 by the listener's identity
 * over "meshsync/hello/v1\0" || dialer's Curve25519 transport public key
 * (as ZAP saw it) || listener's node id.  Binding the dialer's transport
 * key means a proof cannot be replayed to another connection's dialer.
 */
void ms_wire_hello_proof_sign(const ms_identity *listener,
                              const uint8_t dialer_curve_pk[MS_CURVE_LEN],
                              uint8_t proof[MS_SIG_LEN]);
/* 1 if proof is listener_id's signature for the dialer's transport key,
 * 0 otherwise. */
int ms_wire_hello_proof_verify(const uint8_t listener_id[MS_PK_LEN],
                               const uint8_t dialer_curve_pk[MS_CURVE_LEN],
                               const uint8_t proof[MS_SIG_LEN]);

/* --- VV (2) ------------------------------------------------------------- */

/*
 * Body: flags u8, n u16 (<= 1024), then n entries of 80 bytes:
 *   author[32] seq u64 held u64 acc[32]
 * Authors strictly ascending within a chunk (chunks are sent in order, so
 * the whole vector is sorted); held >= seq, since the ops 1..seq are held.
 */
typedef struct ms_wire_vv_entry {
	uint8_t author[MS_PK_LEN];
	uint64_t seq;  /* highest contiguous seq held for author */
	uint64_t held; /* ops held for author (gaps and forks counted) */
	uint8_t acc[MS_WIRE_ACC_LEN]; /* the author's setsum (opaque here) */
} ms_wire_vv_entry;

typedef struct ms_wire_vv {
	uint8_t flags; /* MS_WIRE_VV_LAST; others must be 0 */
	uint16_t n;
	const ms_wire_vv_entry *entries; /* n entries */
} ms_wire_vv;

size_t ms_wire_vv_len(const ms_wire_vv *m);
ms_err ms_wire_vv_encode(const ms_wire_vv *m, uint8_t *buf, size_t cap,
                         size_t *out_len, ms_errbuf *eb);
/* entries: the caller's array of MS_WIRE_MAX_VV; out->entries points to it. */
ms_wire_reason ms_wire_vv_decode(ms_wire_vv *out, ms_wire_vv_entry *entries,
                                 const uint8_t *buf, size_t len);

/* --- OPS (3) ------------------------------------------------------------ */

/*
 * Body: batch u32, n u16 (<= 1024), then each op: len u32
 * (1..MS_WIRE_MAX_OP) + bytes; the whole message <= MS_WIRE_MAX_MSG.
 * n = 0 is allowed.  Op bytes are opaque here.
 */
typedef struct ms_wire_ops {
	uint32_t batch; /* sender's batch number, echoed by ACK */
	uint16_t n;
	const ms_wire_bytes *ops; /* n ops */
} ms_wire_ops;

size_t ms_wire_ops_len(const ms_wire_ops *m);
ms_err ms_wire_ops_encode(const ms_wire_ops *m, uint8_t *buf, size_t cap,
                          size_t *out_len, ms_errbuf *eb);
/* ops: the caller's array of MS_WIRE_MAX_OPS; out->ops points to it and
 * each element into buf. */
ms_wire_reason ms_wire_ops_decode(ms_wire_ops *out, ms_wire_bytes *ops,
                                  const uint8_t *buf, size_t len);

/* --- ACK (4) ------------------------------------------------------------ */

/*
 * Body: batch u32, credit u32, n u16 (<= 1024), then n entries of 40
 * bytes: author[32] seq u64, authors strictly ascending.
 */
typedef struct ms_wire_ack_entry {
	uint8_t author[MS_PK_LEN];
	uint64_t seq; /* receiver's new highest contiguous seq for author */
} ms_wire_ack_entry;

typedef struct ms_wire_ack {
	uint32_t batch;  /* the OPS batch acknowledged */
	uint32_t credit; /* ops the receiver accepts beyond this batch */
	uint16_t n;
	const ms_wire_ack_entry *entries; /* n entries */
} ms_wire_ack;

size_t ms_wire_ack_len(const ms_wire_ack *m);
ms_err ms_wire_ack_encode(const ms_wire_ack *m, uint8_t *buf, size_t cap,
                          size_t *out_len, ms_errbuf *eb);
/* entries: the caller's array of MS_WIRE_MAX_ACK; out->entries points to it. */
ms_wire_reason ms_wire_ack_decode(ms_wire_ack *out, ms_wire_ack_entry *entries,
                                  const uint8_t *buf, size_t len);

/* --- BYE (5) ------------------------------------------------------------ */

typedef enum ms_wire_bye_reason {
	MS_BYE_NORMAL = 0,    /* session done */
	MS_BYE_VERSION = 1,   /* we do not speak the peer's protocol version */
	MS_BYE_AUTH = 2,      /* identity or proof refused */
	MS_BYE_PROTO = 3,     /* malformed or out-of-order message */
	MS_BYE_OVERLOAD = 4,  /* too busy: try later */
	MS_BYE_SHUTDOWN = 5,  /* the node is stopping */
	MS_BYE_BUDGET = 6,    /* the peer hit a budget; text names it */
	MS_BYE_TIMEOUT = 7,   /* a session stage took too long; text names it */
	MS_BYE_DUPLICATE = 8, /* another session with this peer is kept */
	MS_BYE_COUNT_         /* number of reasons; not a reason */
} ms_wire_bye_reason;

/* Stable name ("normal", "version", "auth", "proto", "overload",
 * "shutdown", "budget", "timeout", "duplicate"); "unknown" otherwise. */
const char *ms_wire_bye_reason_name(int r);

/*
 * Body: reason u8, text len u16 (<= 255) + bytes, printable ASCII
 * (0x20..0x7e) for the peer's log; may be empty.
 */
typedef struct ms_wire_bye {
	uint8_t reason; /* ms_wire_bye_reason */
	ms_wire_bytes text;
} ms_wire_bye;

size_t ms_wire_bye_len(const ms_wire_bye *m);
ms_err ms_wire_bye_encode(const ms_wire_bye *m, uint8_t *buf, size_t cap,
                          size_t *out_len, ms_errbuf *eb);
ms_wire_reason ms_wire_bye_decode(ms_wire_bye *out, const uint8_t *buf,
                                  size_t len);

/* --- PEERS (6) ---------------------------------------------------------- */

/*
 * Body: n u8 (<= 32), then each: node_id[32] last_seen_ms u64
 * n_endpoints u8 (<= 4), each len u16 (1..255) + bytes (as in HELLO).
 */
typedef struct ms_wire_peer {
	uint8_t node_id[MS_PK_LEN];
	uint64_t
		last_seen_ms; /* sender's wall clock when last synced with it */
	uint8_t n_endpoints;
	ms_wire_bytes endpoints[MS_WIRE_MAX_PEER_ENDPOINTS];
} ms_wire_peer;

typedef struct ms_wire_peers {
	uint8_t n;
	ms_wire_peer peers[MS_WIRE_MAX_PEERS];
} ms_wire_peers;

size_t ms_wire_peers_len(const ms_wire_peers *m);
ms_err ms_wire_peers_encode(const ms_wire_peers *m, uint8_t *buf, size_t cap,
                            size_t *out_len, ms_errbuf *eb);
ms_wire_reason ms_wire_peers_decode(ms_wire_peers *out, const uint8_t *buf,
                                    size_t len);

/* --- HAVE (7), WANT (8) ------------------------------------------------- */

/*
 * Body: flags u8, n u16 (<= 1024), then n op ids of 32 bytes (op ids are
 * store/op's BLAKE2b of the signed op; opaque here).  HAVE: "I hold these
 * and send them if asked"; flags must be 0.  WANT: "send me these";
 * flag MS_WIRE_WANT_REPLY when it answers the oldest HAVE not answered
 * yet (docs/protocol.md §5.6), other bits 0.  No order is required: a
 * sender lists ids in the order it learned them.
 */
#define MS_WIRE_WANT_REPLY 0x01u /* WANT: answers the oldest open HAVE */

typedef struct ms_wire_ids {
	uint8_t flags; /* HAVE: 0; WANT: MS_WIRE_WANT_REPLY or 0 */
	uint16_t n;
	const uint8_t (*ids)[MS_WIRE_ID_LEN]; /* n ids */
} ms_wire_ids;

size_t ms_wire_ids_len(const ms_wire_ids *m);
/* type: MS_WIRE_HAVE or MS_WIRE_WANT (MS_EINVAL otherwise). */
ms_err ms_wire_ids_encode(ms_wire_type type, const ms_wire_ids *m, uint8_t *buf,
                          size_t cap, size_t *out_len, ms_errbuf *eb);
/* type: which of the two buf must be (MS_WR_WRONG_TYPE otherwise);
 * out->ids points into buf. */
ms_wire_reason ms_wire_ids_decode(ms_wire_type type, ms_wire_ids *out,
                                  const uint8_t *buf, size_t len);

/* --- any message -------------------------------------------------------- */

/* Arrays the variable-size messages decode into; one message at a time, so
 * a union (about 64 KiB: allocate it, do not put it on a small stack). */
typedef union ms_wire_scratch {
	ms_wire_vv_entry vv[MS_WIRE_MAX_VV];
	ms_wire_bytes ops[MS_WIRE_MAX_OPS];
	ms_wire_ack_entry ack[MS_WIRE_MAX_ACK];
} ms_wire_scratch;

typedef struct ms_wire_msg {
	ms_wire_type type; /* selects the member of u */
	union {
		ms_wire_hello hello;
		ms_wire_vv vv;
		ms_wire_ops ops;
		ms_wire_ack ack;
		ms_wire_bye bye;
		ms_wire_peers peers;
		ms_wire_ids have; /* MS_WIRE_HAVE */
		ms_wire_ids want; /* MS_WIRE_WANT */
	} u;
} ms_wire_msg;

/* Peek, then decode whatever type buf holds into *out (arrays into
 * *scratch, which must outlive *out like buf). */
ms_wire_reason ms_wire_decode(ms_wire_msg *out, ms_wire_scratch *scratch,
                              const uint8_t *buf, size_t len);
/* Encoded size of m (0 for an unknown type). */
size_t ms_wire_len(const ms_wire_msg *m);
/* Encode m by its type; MS_EINVAL for an unknown type, as *_encode above. */
ms_err ms_wire_encode(const ms_wire_msg *m, uint8_t *buf, size_t cap,
                      size_t *out_len, ms_errbuf *eb);

#endif
