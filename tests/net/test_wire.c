/*
 * test_wire.c — the sync protocol codec (net/wire): round trips of every
 * message, byte layouts pinned against encodings built by hand here (not by
 * the encoder), canonical re-encoding, every malformed variant rejected with
 * its exact reason, encoder refusals, and the listener's HELLO proof.
 *
 * Decoders are always handed a heap buffer of exactly the message's length,
 * so under ASan a read one byte past the end is a crash, not luck.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ms_test.h"
#include "wire.h"

/* --- a byte builder independent of the encoder --------------------------- */

typedef struct bb {
	uint8_t *buf;
	size_t len, cap;
} bb;

static void bb_put(bb *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->buf = realloc(b->buf, cap);
		ck_assert_ptr_nonnull(b->buf);
		b->cap = cap;
	}
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void bb_u8(bb *b, uint8_t v)
{
	bb_put(b, &v, 1);
}

static void bb_le(bb *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		bb_u8(b, (uint8_t)(v >> (8 * i)));
}

static void bb_fill(bb *b, uint8_t byte, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bb_u8(b, byte);
}

static void bb_hdr(bb *b, uint8_t type)
{
	bb_put(b, "MS", 2);
	bb_u8(b, 3); /* version 3 */
	bb_u8(b, type);
}

static void bb_str(bb *b, const char *s)
{
	bb_le(b, strlen(s), 2);
	bb_put(b, s, strlen(s));
}

static void bb_free(bb *b)
{
	free(b->buf);
	memset(b, 0, sizeof *b);
}

/* Decode a copy of buf[0..len) in an exact-size heap buffer with the generic
 * decoder (and the type's own decoder when the header names a known type). */
static ms_wire_reason decode_exact(const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	ms_wire_scratch *sc = malloc(sizeof *sc);
	ms_wire_msg *m = malloc(sizeof *m);
	ck_assert(copy && sc && m);
	if (len)
		memcpy(copy, buf, len);
	ms_wire_reason r = ms_wire_decode(m, sc, copy, len);

	/* The per-type decoder must agree with the generic one. */
	if (len >= MS_WIRE_HEADER_LEN && buf[3] >= MS_WIRE_HELLO &&
	    buf[3] <= MS_WIRE_WANT) {
		ms_wire_reason r2 = MS_WR_OK;
		switch (buf[3]) {
		case MS_WIRE_HELLO:
			r2 = ms_wire_hello_decode(&m->u.hello, copy, len);
			break;
		case MS_WIRE_VV:
			r2 = ms_wire_vv_decode(&m->u.vv, sc->vv, copy, len);
			break;
		case MS_WIRE_OPS:
			r2 = ms_wire_ops_decode(&m->u.ops, sc->ops, copy, len);
			break;
		case MS_WIRE_ACK:
			r2 = ms_wire_ack_decode(&m->u.ack, sc->ack, copy, len);
			break;
		case MS_WIRE_BYE:
			r2 = ms_wire_bye_decode(&m->u.bye, copy, len);
			break;
		case MS_WIRE_PEERS:
			r2 = ms_wire_peers_decode(&m->u.peers, copy, len);
			break;
		case MS_WIRE_HAVE:
		case MS_WIRE_WANT:
			r2 = ms_wire_ids_decode((ms_wire_type)buf[3],
			                        &m->u.have, copy, len);
			break;
		}
		ck_assert_msg(r2 == r, "generic %s vs typed %s",
		              ms_wire_reason_name(r), ms_wire_reason_name(r2));
	}
	free(m);
	free(sc);
	free(copy);
	return r;
}

#define ASSERT_REASON(buf, len, want)                                    \
	do {                                                             \
		ms_wire_reason got_ = decode_exact((buf), (len));        \
		ck_assert_msg(got_ == (want), "decode gave %s, want %s", \
		              ms_wire_reason_name(got_),                 \
		              ms_wire_reason_name(want));                \
	} while (0)

/*
 * Decode buf with the generic decoder, re-encode what came out, and demand
 * the very same bytes: the canonical-form property.
 */
static void assert_canonical(const uint8_t *buf, size_t len)
{
	ms_wire_scratch *sc = malloc(sizeof *sc);
	ms_wire_msg m;
	uint8_t *out = malloc(len + 16);
	size_t out_len = 0;
	ms_errbuf eb;
	ck_assert(sc && out);
	ck_assert_int_eq(ms_wire_decode(&m, sc, buf, len), MS_WR_OK);
	ck_assert_uint_eq(ms_wire_len(&m), len);
	MS_PASS_EB(ms_wire_encode(&m, out, len + 16, &out_len, &eb), &eb);
	ck_assert_uint_eq(out_len, len);
	ck_assert_mem_eq(out, buf, len);
	free(out);
	free(sc);
}

/* Every proper prefix of a valid message is truncated, and one byte more is
 * trailing. */
static void assert_prefixes_and_trailing(const uint8_t *buf, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		ms_wire_reason r = decode_exact(buf, k);
		ck_assert_msg(r == MS_WR_TRUNCATED, "prefix %zu/%zu gave %s", k,
		              len, ms_wire_reason_name(r));
	}
	uint8_t *more = malloc(len + 1);
	ck_assert_ptr_nonnull(more);
	memcpy(more, buf, len);
	more[len] = 0;
	ASSERT_REASON(more, len + 1, MS_WR_TRAILING);
	free(more);
}

static void fill_id(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

static ms_wire_bytes bytes_of(const char *s)
{
	return (ms_wire_bytes){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* --- samples: a struct and the bytes it must encode to -------------------- */

static const char *const EP0 = "tcp://10.0.0.7:7400";
static const char *const EP1 = "tcp://[fd00::1]:7400";

static void sample_hello(ms_wire_hello *h, int with_proof)
{
	memset(h, 0, sizeof *h);
	fill_id(h->node_id, MS_PK_LEN, 0x10);
	fill_id(h->vv_digest, MS_HASH_LEN, 0x40);
	h->op_count = 0x0102030405060708u;
	h->flags = with_proof ? MS_WIRE_HELLO_LISTENER : 0;
	h->has_proof = with_proof ? 1 : 0;
	if (with_proof)
		fill_id(h->proof, MS_SIG_LEN, 0x80);
	h->n_endpoints = 2;
	h->endpoints[0] = bytes_of(EP0);
	h->endpoints[1] = bytes_of(EP1);
}

static void bytes_hello(bb *b, int with_proof)
{
	uint8_t x[64];
	bb_hdr(b, 1);
	fill_id(x, 32, 0x10);
	bb_put(b, x, 32);
	fill_id(x, 32, 0x40);
	bb_put(b, x, 32);
	bb_le(b, 0x0102030405060708u, 8);
	bb_u8(b, with_proof ? 1 : 0);
	bb_u8(b, with_proof ? 1 : 0);
	if (with_proof) {
		fill_id(x, 64, 0x80);
		bb_put(b, x, 64);
	}
	bb_u8(b, 2);
	bb_str(b, EP0);
	bb_str(b, EP1);
}

#define NVV 3
static void sample_vv(ms_wire_vv *v, ms_wire_vv_entry e[NVV])
{
	memset(e, 0, sizeof(ms_wire_vv_entry) * NVV);
	for (int i = 0; i < NVV; i++) {
		fill_id(e[i].author, MS_PK_LEN, (uint8_t)(0x20 * (i + 1)));
		e[i].seq = 1000u * (uint64_t)(i + 1);
		e[i].held = e[i].seq + (uint64_t)i;
		fill_id(e[i].acc, MS_WIRE_ACC_LEN, (uint8_t)(0xa0 + i));
	}
	v->flags = MS_WIRE_VV_LAST;
	v->n = NVV;
	v->entries = e;
}

static void bytes_vv(bb *b)
{
	uint8_t x[32];
	bb_hdr(b, 2);
	bb_u8(b, 1);
	bb_le(b, NVV, 2);
	for (int i = 0; i < NVV; i++) {
		fill_id(x, 32, (uint8_t)(0x20 * (i + 1)));
		bb_put(b, x, 32);
		bb_le(b, 1000u * (uint64_t)(i + 1), 8);
		bb_le(b, 1000u * (uint64_t)(i + 1) + (uint64_t)i, 8);
		fill_id(x, 32, (uint8_t)(0xa0 + i));
		bb_put(b, x, 32);
	}
}

static const uint8_t OP_A[] = {1, 2, 3};
static const uint8_t OP_B[] = {0xff};

static void sample_ops(ms_wire_ops *o, ms_wire_bytes ops[2])
{
	ops[0] = (ms_wire_bytes){OP_A, sizeof OP_A};
	ops[1] = (ms_wire_bytes){OP_B, sizeof OP_B};
	o->batch = 0xdeadbeef;
	o->n = 2;
	o->ops = ops;
}

static void bytes_ops(bb *b)
{
	bb_hdr(b, 3);
	bb_le(b, 0xdeadbeef, 4);
	bb_le(b, 2, 2);
	bb_le(b, sizeof OP_A, 4);
	bb_put(b, OP_A, sizeof OP_A);
	bb_le(b, sizeof OP_B, 4);
	bb_put(b, OP_B, sizeof OP_B);
}

static void sample_ack(ms_wire_ack *a, ms_wire_ack_entry e[2])
{
	memset(e, 0, sizeof(ms_wire_ack_entry) * 2);
	fill_id(e[0].author, MS_PK_LEN, 0x01);
	e[0].seq = 7;
	fill_id(e[1].author, MS_PK_LEN, 0x02);
	e[1].seq = UINT64_MAX;
	a->batch = 42;
	a->credit = 4096;
	a->n = 2;
	a->entries = e;
}

static void bytes_ack(bb *b)
{
	uint8_t x[32];
	bb_hdr(b, 4);
	bb_le(b, 42, 4);
	bb_le(b, 4096, 4);
	bb_le(b, 2, 2);
	fill_id(x, 32, 0x01);
	bb_put(b, x, 32);
	bb_le(b, 7, 8);
	fill_id(x, 32, 0x02);
	bb_put(b, x, 32);
	bb_le(b, UINT64_MAX, 8);
}

static const char *const BYE_TEXT = "protocol version 3 only";

static void sample_bye(ms_wire_bye *y)
{
	y->reason = MS_BYE_VERSION;
	y->text = bytes_of(BYE_TEXT);
}

static void bytes_bye(bb *b)
{
	bb_hdr(b, 5);
	bb_u8(b, 1);
	bb_str(b, BYE_TEXT);
}

static void sample_peers(ms_wire_peers *p)
{
	memset(p, 0, sizeof *p);
	p->n = 2;
	fill_id(p->peers[0].node_id, MS_PK_LEN, 0x33);
	p->peers[0].last_seen_ms = 1764000000000u;
	p->peers[0].n_endpoints = 1;
	p->peers[0].endpoints[0] = bytes_of(EP0);
	fill_id(p->peers[1].node_id, MS_PK_LEN, 0x66);
	p->peers[1].last_seen_ms = 5;
	p->peers[1].n_endpoints = 0;
}

static void bytes_peers(bb *b)
{
	uint8_t x[32];
	bb_hdr(b, 6);
	bb_u8(b, 2);
	fill_id(x, 32, 0x33);
	bb_put(b, x, 32);
	bb_le(b, 1764000000000u, 8);
	bb_u8(b, 1);
	bb_str(b, EP0);
	fill_id(x, 32, 0x66);
	bb_put(b, x, 32);
	bb_le(b, 5, 8);
	bb_u8(b, 0);
}

/* Encode with the given encoder into an exact-size buffer and compare with
 * the hand-built bytes. */
#define ASSERT_ENCODES(encfn, lenfn, msgp, want)                             \
	do {                                                                 \
		size_t need_ = lenfn(msgp), got_len_ = 0;                    \
		uint8_t *out_ = malloc(need_);                               \
		ms_errbuf eb_;                                               \
		ck_assert_ptr_nonnull(out_);                                 \
		ck_assert_uint_eq(need_, (want)->len);                       \
		MS_PASS_EB(encfn(msgp, out_, need_, &got_len_, &eb_), &eb_); \
		ck_assert_uint_eq(got_len_, (want)->len);                    \
		ck_assert_mem_eq(out_, (want)->buf, (want)->len);            \
		/* one byte less does not fit */                             \
		MS_FAIL(encfn(msgp, out_, need_ - 1, &got_len_, &eb_),       \
		        MS_EINVAL);                                          \
		free(out_);                                                  \
	} while (0)

/* --- round trips and layouts -------------------------------------------- */

START_TEST(t_hello_roundtrip)
{
	for (int proof = 0; proof <= 1; proof++) {
		ms_wire_hello h, d;
		bb b = {0};
		sample_hello(&h, proof);
		bytes_hello(&b, proof);
		ASSERT_ENCODES(ms_wire_hello_encode, ms_wire_hello_len, &h, &b);

		ck_assert_int_eq(ms_wire_hello_decode(&d, b.buf, b.len),
		                 MS_WR_OK);
		ck_assert_mem_eq(d.node_id, h.node_id, MS_PK_LEN);
		ck_assert_mem_eq(d.vv_digest, h.vv_digest, MS_HASH_LEN);
		ck_assert_uint_eq(d.op_count, h.op_count);
		ck_assert_uint_eq(d.flags, h.flags);
		ck_assert_uint_eq(d.has_proof, proof);
		ck_assert_mem_eq(d.proof, h.proof, MS_SIG_LEN);
		ck_assert_uint_eq(d.n_endpoints, 2);
		ck_assert_uint_eq(d.endpoints[0].len, strlen(EP0));
		ck_assert_mem_eq(d.endpoints[0].ptr, EP0, strlen(EP0));
		ck_assert_uint_eq(d.endpoints[1].len, strlen(EP1));
		ck_assert_mem_eq(d.endpoints[1].ptr, EP1, strlen(EP1));
		/* points into the buffer, not a copy */
		ck_assert(d.endpoints[0].ptr > b.buf &&
		          d.endpoints[0].ptr < b.buf + b.len);
		assert_canonical(b.buf, b.len);
		bb_free(&b);
	}
}
END_TEST

START_TEST(t_hello_minimal)
{
	/* No proof, no endpoints: 4 + 32 + 32 + 8 + 1 + 1 + 1 bytes. */
	ms_wire_hello h, d;
	uint8_t buf[128];
	size_t len = 0;
	memset(&h, 0, sizeof h);
	MS_PASS(ms_wire_hello_encode(&h, buf, sizeof buf, &len, NULL));
	ck_assert_uint_eq(len, 79);
	ck_assert_int_eq(ms_wire_hello_decode(&d, buf, len), MS_WR_OK);
	ck_assert_uint_eq(d.n_endpoints, 0);
	ck_assert_uint_eq(d.has_proof, 0);
	assert_canonical(buf, len);
}
END_TEST

START_TEST(t_vv_roundtrip)
{
	ms_wire_vv v, d;
	ms_wire_vv_entry e[NVV];
	ms_wire_vv_entry *out = malloc(sizeof(ms_wire_vv_entry) *
	                               MS_WIRE_MAX_VV);
	bb b = {0};
	ck_assert_ptr_nonnull(out);
	sample_vv(&v, e);
	bytes_vv(&b);
	ASSERT_ENCODES(ms_wire_vv_encode, ms_wire_vv_len, &v, &b);
	ck_assert_uint_eq(b.len, 4 + 1 + 2 + NVV * 80);
	ck_assert_int_eq(ms_wire_vv_decode(&d, out, b.buf, b.len), MS_WR_OK);
	ck_assert_ptr_eq(d.entries, out);
	ck_assert_uint_eq(d.flags, MS_WIRE_VV_LAST);
	ck_assert_uint_eq(d.n, NVV);
	for (int i = 0; i < NVV; i++) {
		ck_assert_mem_eq(out[i].author, e[i].author, MS_PK_LEN);
		ck_assert_uint_eq(out[i].seq, e[i].seq);
		ck_assert_uint_eq(out[i].held, e[i].held);
		ck_assert_mem_eq(out[i].acc, e[i].acc, MS_WIRE_ACC_LEN);
	}
	assert_canonical(b.buf, b.len);
	bb_free(&b);
	free(out);
}
END_TEST

START_TEST(t_vv_full_and_empty)
{
	/* A full chunk of MS_WIRE_MAX_VV entries, then an empty last chunk. */
	ms_wire_vv_entry *e = calloc(MS_WIRE_MAX_VV, sizeof *e);
	ms_wire_vv_entry *out = calloc(MS_WIRE_MAX_VV, sizeof *out);
	size_t cap = 4 + 3 + 80 * MS_WIRE_MAX_VV, len = 0;
	uint8_t *buf = malloc(cap);
	ck_assert(e && out && buf);
	for (int i = 0; i < MS_WIRE_MAX_VV; i++) {
		e[i].author[0] = (uint8_t)(i >> 8);
		e[i].author[1] = (uint8_t)i;
		e[i].seq = e[i].held = (uint64_t)i;
	}
	ms_wire_vv v = {0, MS_WIRE_MAX_VV, e}, d;
	MS_PASS(ms_wire_vv_encode(&v, buf, cap, &len, NULL));
	ck_assert_uint_eq(len, cap);
	ck_assert_int_eq(ms_wire_vv_decode(&d, out, buf, len), MS_WR_OK);
	ck_assert_uint_eq(d.n, MS_WIRE_MAX_VV);
	ck_assert_uint_eq(out[1023].seq, 1023);
	assert_canonical(buf, len);

	ms_wire_vv empty = {MS_WIRE_VV_LAST, 0, NULL};
	MS_PASS(ms_wire_vv_encode(&empty, buf, cap, &len, NULL));
	ck_assert_uint_eq(len, 7);
	ck_assert_int_eq(ms_wire_vv_decode(&d, out, buf, len), MS_WR_OK);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(d.flags, MS_WIRE_VV_LAST);
	free(buf);
	free(out);
	free(e);
}
END_TEST

START_TEST(t_ops_roundtrip)
{
	ms_wire_ops o, d;
	ms_wire_bytes ops[2];
	ms_wire_bytes *out = calloc(MS_WIRE_MAX_OPS, sizeof *out);
	bb b = {0};
	ck_assert_ptr_nonnull(out);
	sample_ops(&o, ops);
	bytes_ops(&b);
	ASSERT_ENCODES(ms_wire_ops_encode, ms_wire_ops_len, &o, &b);
	ck_assert_int_eq(ms_wire_ops_decode(&d, out, b.buf, b.len), MS_WR_OK);
	ck_assert_uint_eq(d.batch, 0xdeadbeef);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_uint_eq(out[0].len, 3);
	ck_assert_mem_eq(out[0].ptr, OP_A, 3);
	ck_assert_ptr_eq(out[0].ptr, b.buf + 14);
	ck_assert_uint_eq(out[1].len, 1);
	ck_assert_uint_eq(out[1].ptr[0], 0xff);
	assert_canonical(b.buf, b.len);

	/* An empty batch is a valid message too. */
	ms_wire_ops none = {7, 0, NULL};
	uint8_t buf[16];
	size_t len;
	MS_PASS(ms_wire_ops_encode(&none, buf, sizeof buf, &len, NULL));
	ck_assert_uint_eq(len, MS_WIRE_OPS_FIXED_LEN);
	assert_canonical(buf, len);
	bb_free(&b);
	free(out);
}
END_TEST

START_TEST(t_ops_big)
{
	/* Seven ops of the largest size fit in one message; an eighth does not
	 * (8 * (1 MiB + 16 KiB) > 8 MiB). */
	uint8_t *op = malloc(MS_WIRE_MAX_OP);
	ms_wire_bytes ops[8];
	ms_wire_bytes *out = calloc(MS_WIRE_MAX_OPS, sizeof *out);
	size_t cap = MS_WIRE_MAX_MSG + 64, len = 0;
	uint8_t *buf = malloc(cap);
	ms_errbuf eb;
	ck_assert(op && out && buf);
	memset(op, 0x5a, MS_WIRE_MAX_OP);
	for (int i = 0; i < 8; i++)
		ops[i] = (ms_wire_bytes){op, MS_WIRE_MAX_OP};
	ms_wire_ops o = {1, 7, ops}, d;
	MS_PASS_EB(ms_wire_ops_encode(&o, buf, cap, &len, &eb), &eb);
	ck_assert_uint_eq(len, MS_WIRE_OPS_FIXED_LEN +
	                               7 * (4 + (size_t)MS_WIRE_MAX_OP));
	ck_assert_int_eq(ms_wire_ops_decode(&d, out, buf, len), MS_WR_OK);
	ck_assert_uint_eq(d.n, 7);
	ck_assert_uint_eq(out[6].len, MS_WIRE_MAX_OP);

	o.n = 8;
	MS_FAIL(ms_wire_ops_encode(&o, buf, cap, &len, &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "too_big"));
	free(buf);
	free(out);
	free(op);
}
END_TEST

START_TEST(t_ack_roundtrip)
{
	ms_wire_ack a, d;
	ms_wire_ack_entry e[2];
	ms_wire_ack_entry *out = calloc(MS_WIRE_MAX_ACK, sizeof *out);
	bb b = {0};
	ck_assert_ptr_nonnull(out);
	sample_ack(&a, e);
	bytes_ack(&b);
	ASSERT_ENCODES(ms_wire_ack_encode, ms_wire_ack_len, &a, &b);
	ck_assert_int_eq(ms_wire_ack_decode(&d, out, b.buf, b.len), MS_WR_OK);
	ck_assert_uint_eq(d.batch, 42);
	ck_assert_uint_eq(d.credit, 4096);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_mem_eq(out[0].author, e[0].author, MS_PK_LEN);
	ck_assert_uint_eq(out[0].seq, 7);
	ck_assert_uint_eq(out[1].seq, UINT64_MAX);
	assert_canonical(b.buf, b.len);
	bb_free(&b);
	free(out);
}
END_TEST

START_TEST(t_bye_roundtrip)
{
	ms_wire_bye y, d;
	bb b = {0};
	sample_bye(&y);
	bytes_bye(&b);
	ASSERT_ENCODES(ms_wire_bye_encode, ms_wire_bye_len, &y, &b);
	ck_assert_int_eq(ms_wire_bye_decode(&d, b.buf, b.len), MS_WR_OK);
	ck_assert_uint_eq(d.reason, MS_BYE_VERSION);
	ck_assert_uint_eq(d.text.len, strlen(BYE_TEXT));
	ck_assert_mem_eq(d.text.ptr, BYE_TEXT, strlen(BYE_TEXT));
	assert_canonical(b.buf, b.len);
	bb_free(&b);

	/* Every reason, empty text. */
	for (int r = 0; r < MS_BYE_COUNT_; r++) {
		uint8_t buf[8];
		size_t len;
		ms_wire_bye e = {(uint8_t)r, {NULL, 0}};
		MS_PASS(ms_wire_bye_encode(&e, buf, sizeof buf, &len, NULL));
		ck_assert_uint_eq(len, 7);
		ck_assert_int_eq(ms_wire_bye_decode(&d, buf, len), MS_WR_OK);
		ck_assert_uint_eq(d.reason, r);
		ck_assert_uint_eq(d.text.len, 0);
	}
}
END_TEST

/* HAVE and WANT: flags, count, then the ids, built byte by byte. */
START_TEST(t_ids_roundtrip)
{
	uint8_t ids[2][MS_WIRE_ID_LEN];
	ms_wire_ids m = {0}, d;
	bb b = {0};

	fill_id(ids[0], 32, 0x10);
	fill_id(ids[1], 32, 0x90);
	m.flags = MS_WIRE_WANT_REPLY;
	m.n = 2;
	m.ids = (const uint8_t(*)[MS_WIRE_ID_LEN])ids;
	bb_hdr(&b, MS_WIRE_WANT);
	bb_u8(&b, MS_WIRE_WANT_REPLY);
	bb_le(&b, 2, 2);
	bb_put(&b, ids[0], 32);
	bb_put(&b, ids[1], 32);
	{
		uint8_t out[128];
		size_t len;
		MS_PASS(ms_wire_ids_encode(MS_WIRE_WANT, &m, out, sizeof out,
		                           &len, NULL));
		ck_assert_uint_eq(len, b.len);
		ck_assert_uint_eq(ms_wire_ids_len(&m), b.len);
		ck_assert_mem_eq(out, b.buf, b.len);
	}
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_WANT, &d, b.buf, b.len),
	                 MS_WR_OK);
	ck_assert_uint_eq(d.flags, MS_WIRE_WANT_REPLY);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_mem_eq(d.ids[1], ids[1], 32);
	assert_canonical(b.buf, b.len);
	/* the same body as HAVE: the REPLY bit is reserved there */
	b.buf[3] = MS_WIRE_HAVE;
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_HAVE, &d, b.buf, b.len),
	                 MS_WR_FLAGS);
	ck_assert_int_eq(ms_wire_ids_encode(MS_WIRE_HAVE, &m, b.buf, b.len,
	                                    &(size_t){0}, NULL),
	                 MS_EINVAL);
	b.buf[4] = 0;
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_HAVE, &d, b.buf, b.len),
	                 MS_WR_OK);
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_WANT, &d, b.buf, b.len),
	                 MS_WR_WRONG_TYPE);
	/* WANT: bits above REPLY are reserved */
	b.buf[3] = MS_WIRE_WANT;
	b.buf[4] = 0x02;
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_WANT, &d, b.buf, b.len),
	                 MS_WR_FLAGS);
	b.buf[4] = 0;
	/* a count beyond the ids, then beyond the cap */
	b.buf[5] = 3;
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_WANT, &d, b.buf, b.len),
	                 MS_WR_TRUNCATED);
	b.buf[5] = 1;
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_WANT, &d, b.buf, b.len),
	                 MS_WR_TRAILING);
	b.buf[5] = (MS_WIRE_MAX_IDS + 1) & 0xff;
	b.buf[6] = (MS_WIRE_MAX_IDS + 1) >> 8;
	ck_assert_int_eq(ms_wire_ids_decode(MS_WIRE_WANT, &d, b.buf, b.len),
	                 MS_WR_COUNT);
	/* an empty WANT is 7 bytes */
	m.n = 0;
	ck_assert_uint_eq(ms_wire_ids_len(&m), 7);
	bb_free(&b);
}
END_TEST

START_TEST(t_peers_roundtrip)
{
	ms_wire_peers p, d;
	bb b = {0};
	sample_peers(&p);
	bytes_peers(&b);
	ASSERT_ENCODES(ms_wire_peers_encode, ms_wire_peers_len, &p, &b);
	ck_assert_int_eq(ms_wire_peers_decode(&d, b.buf, b.len), MS_WR_OK);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_mem_eq(d.peers[0].node_id, p.peers[0].node_id, MS_PK_LEN);
	ck_assert_uint_eq(d.peers[0].last_seen_ms, 1764000000000u);
	ck_assert_uint_eq(d.peers[0].n_endpoints, 1);
	ck_assert_mem_eq(d.peers[0].endpoints[0].ptr, EP0, strlen(EP0));
	ck_assert_uint_eq(d.peers[1].n_endpoints, 0);
	ck_assert_uint_eq(d.peers[1].last_seen_ms, 5);
	assert_canonical(b.buf, b.len);
	bb_free(&b);
}
END_TEST

START_TEST(t_peers_full)
{
	/* 32 peers with 4 endpoints of 255 bytes each: every cap at once. */
	static ms_wire_peers p, d; /* 3.6 KiB each: keep off Check's stack */
	char ep[256];
	memset(ep, 'e', 255);
	ep[255] = '\0';
	memset(&p, 0, sizeof p);
	p.n = MS_WIRE_MAX_PEERS;
	for (int i = 0; i < MS_WIRE_MAX_PEERS; i++) {
		p.peers[i].node_id[0] = (uint8_t)i;
		p.peers[i].n_endpoints = MS_WIRE_MAX_PEER_ENDPOINTS;
		for (int j = 0; j < MS_WIRE_MAX_PEER_ENDPOINTS; j++)
			p.peers[i].endpoints[j] = bytes_of(ep);
	}
	size_t need = ms_wire_peers_len(&p), len;
	ck_assert_uint_eq(need, 4 + 1 + 32 * (32 + 8 + 1 + 4 * (2 + 255)));
	uint8_t *buf = malloc(need);
	ck_assert_ptr_nonnull(buf);
	MS_PASS(ms_wire_peers_encode(&p, buf, need, &len, NULL));
	ck_assert_int_eq(ms_wire_peers_decode(&d, buf, len), MS_WR_OK);
	ck_assert_uint_eq(d.n, 32);
	ck_assert_uint_eq(d.peers[31].endpoints[3].len, 255);
	assert_canonical(buf, len);
	free(buf);
}
END_TEST

/* --- malformed input ------------------------------------------------------- */

typedef void (*bytes_fn)(bb *);

static void bytes_hello_plain(bb *b)
{
	bytes_hello(b, 0);
}

static void bytes_hello_proof(bb *b)
{
	bytes_hello(b, 1);
}

static const bytes_fn samples[] = {bytes_hello_plain, bytes_hello_proof,
                                   bytes_vv,          bytes_ops,
                                   bytes_ack,         bytes_bye,
                                   bytes_peers};
#define NSAMPLES (sizeof samples / sizeof samples[0])

START_TEST(t_truncated_every_length)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		bb b = {0};
		samples[i](&b);
		ASSERT_REASON(b.buf, b.len, MS_WR_OK);
		assert_prefixes_and_trailing(b.buf, b.len);
		bb_free(&b);
	}
}
END_TEST

START_TEST(t_header_errors)
{
	for (size_t i = 0; i < NSAMPLES; i++) {
		bb b = {0};
		ms_wire_type t = 0;
		samples[i](&b);
		uint8_t type = b.buf[3];
		ck_assert_int_eq(ms_wire_peek_type(b.buf, b.len, &t), MS_WR_OK);
		ck_assert_int_eq(t, type);

		b.buf[0] = 'X';
		ASSERT_REASON(b.buf, b.len, MS_WR_MAGIC);
		b.buf[0] = 'M';
		b.buf[1] = 's';
		ASSERT_REASON(b.buf, b.len, MS_WR_MAGIC);
		b.buf[1] = 'S';

		/* A version we do not speak is told apart, so the node can
		 * answer BYE(version). */
		for (int v = 0; v < 256; v++) {
			if (v == MS_WIRE_VERSION)
				continue;
			b.buf[2] = (uint8_t)v;
			ck_assert_int_eq(ms_wire_peek_type(b.buf, b.len, &t),
			                 MS_WR_VERSION);
			ASSERT_REASON(b.buf, b.len, MS_WR_VERSION);
		}
		b.buf[2] = MS_WIRE_VERSION;

		const int bad_types[] = {0, 9, 10, 0x7f, 0x80, 0xff};
		for (size_t k = 0; k < sizeof bad_types / sizeof bad_types[0];
		     k++) {
			b.buf[3] = (uint8_t)bad_types[k];
			ck_assert_int_eq(ms_wire_peek_type(b.buf, b.len, &t),
			                 MS_WR_TYPE);
			ASSERT_REASON(b.buf, b.len, MS_WR_TYPE);
		}
		b.buf[3] = type;
		ASSERT_REASON(b.buf, b.len, MS_WR_OK);
		bb_free(&b);
	}
	/* Short buffers are truncated whatever they hold. */
	ck_assert_int_eq(ms_wire_peek_type(NULL, 0, NULL), MS_WR_TRUNCATED);
	ck_assert_int_eq(ms_wire_peek_type((const uint8_t *)"XYZ", 3, NULL),
	                 MS_WR_TRUNCATED);
}
END_TEST

START_TEST(t_wrong_type)
{
	/* Each typed decoder refuses every other type's valid message. */
	ms_wire_scratch *sc = malloc(sizeof *sc);
	ms_wire_msg *m = malloc(sizeof *m);
	ck_assert(sc && m);
	for (size_t i = 0; i < NSAMPLES; i++) {
		bb b = {0};
		samples[i](&b);
		uint8_t t = b.buf[3];
		if (t != MS_WIRE_HELLO)
			ck_assert_int_eq(ms_wire_hello_decode(&m->u.hello,
			                                      b.buf, b.len),
			                 MS_WR_WRONG_TYPE);
		if (t != MS_WIRE_VV)
			ck_assert_int_eq(ms_wire_vv_decode(&m->u.vv, sc->vv,
			                                   b.buf, b.len),
			                 MS_WR_WRONG_TYPE);
		if (t != MS_WIRE_OPS)
			ck_assert_int_eq(ms_wire_ops_decode(&m->u.ops, sc->ops,
			                                    b.buf, b.len),
			                 MS_WR_WRONG_TYPE);
		if (t != MS_WIRE_ACK)
			ck_assert_int_eq(ms_wire_ack_decode(&m->u.ack, sc->ack,
			                                    b.buf, b.len),
			                 MS_WR_WRONG_TYPE);
		if (t != MS_WIRE_BYE)
			ck_assert_int_eq(ms_wire_bye_decode(&m->u.bye, b.buf,
			                                    b.len),
			                 MS_WR_WRONG_TYPE);
		if (t != MS_WIRE_PEERS)
			ck_assert_int_eq(ms_wire_peers_decode(&m->u.peers,
			                                      b.buf, b.len),
			                 MS_WR_WRONG_TYPE);
		bb_free(&b);
	}
	free(m);
	free(sc);
}
END_TEST

START_TEST(t_too_big)
{
	/* One byte over MS_WIRE_MAX_MSG is refused by the header check alone,
	 * before the body is looked at. */
	size_t len = (size_t)MS_WIRE_MAX_MSG + 1;
	uint8_t *buf = calloc(1, len);
	ms_wire_type t;
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, "MS\x03\x03", 4);
	ck_assert_int_eq(ms_wire_peek_type(buf, len, &t), MS_WR_TOO_BIG);
	ASSERT_REASON(buf, len, MS_WR_TOO_BIG);
	/* ...but a newer version is still reported as a version problem. */
	buf[2] = 4;
	ck_assert_int_eq(ms_wire_peek_type(buf, len, &t), MS_WR_VERSION);
	free(buf);
}
END_TEST

/* Offsets inside the sample encodings. */
#define HELLO_FLAGS_OFF (4 + 32 + 32 + 8)
#define HELLO_PROOF_FLAG_OFF (HELLO_FLAGS_OFF + 1)
#define HELLO_NEP_OFF (HELLO_PROOF_FLAG_OFF + 1) /* without proof */
#define HELLO_EP0_LEN_OFF (HELLO_NEP_OFF + 1)
#define VV_ENTRY_OFF(i) (4 + 1 + 2 + 80 * (i))

static void set_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

START_TEST(t_hello_malformed)
{
	bb b = {0};
	bytes_hello(&b, 0);
	uint8_t *p = b.buf;

	for (int f = 0x02; f <= 0x80; f <<= 1) {
		p[HELLO_FLAGS_OFF] = (uint8_t)(f | 1);
		ASSERT_REASON(p, b.len, MS_WR_FLAGS);
	}
	p[HELLO_FLAGS_OFF] = 0;
	p[HELLO_PROOF_FLAG_OFF] = 2;
	ASSERT_REASON(p, b.len, MS_WR_PROOF_FLAG);
	p[HELLO_PROOF_FLAG_OFF] = 0xff;
	ASSERT_REASON(p, b.len, MS_WR_PROOF_FLAG);
	/* has_proof = 1 without a proof: the 64 bytes "taken" leave the
	 * endpoint list truncated. */
	p[HELLO_PROOF_FLAG_OFF] = 1;
	ASSERT_REASON(p, b.len, MS_WR_TRUNCATED);
	p[HELLO_PROOF_FLAG_OFF] = 0;

	p[HELLO_NEP_OFF] = MS_WIRE_MAX_ENDPOINTS + 1;
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	p[HELLO_NEP_OFF] = 0xff;
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	/* fewer endpoints than present: the rest is trailing */
	p[HELLO_NEP_OFF] = 1;
	ASSERT_REASON(p, b.len, MS_WR_TRAILING);
	p[HELLO_NEP_OFF] = 2;

	set_le(p + HELLO_EP0_LEN_OFF, 0, 2);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + HELLO_EP0_LEN_OFF, 256, 2);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + HELLO_EP0_LEN_OFF, 0xffff, 2);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + HELLO_EP0_LEN_OFF, strlen(EP0), 2);

	const uint8_t bad_chars[] = {0x00, ' ', '\n', 0x7f, 0x80, 0xff};
	for (size_t i = 0; i < sizeof bad_chars; i++) {
		p[HELLO_EP0_LEN_OFF + 2 + 3] = bad_chars[i];
		ASSERT_REASON(p, b.len, MS_WR_CHARS);
	}
	p[HELLO_EP0_LEN_OFF + 2 + 3] = EP0[3];
	ASSERT_REASON(p, b.len, MS_WR_OK);
	bb_free(&b);

	/* An endpoint of exactly 255 bytes is fine. */
	bb c = {0};
	uint8_t z[64] = {0};
	bb_hdr(&c, 1);
	bb_put(&c, z, 64);
	bb_le(&c, 0, 8);
	bb_u8(&c, 0);
	bb_u8(&c, 0);
	bb_u8(&c, 1);
	bb_le(&c, 255, 2);
	bb_fill(&c, 'a', 255);
	ASSERT_REASON(c.buf, c.len, MS_WR_OK);
	bb_free(&c);
}
END_TEST

START_TEST(t_vv_malformed)
{
	bb b = {0};
	bytes_vv(&b);
	uint8_t *p = b.buf;

	p[4] = 0x03;
	ASSERT_REASON(p, b.len, MS_WR_FLAGS);
	p[4] = 0x80;
	ASSERT_REASON(p, b.len, MS_WR_FLAGS);
	p[4] = 0x01;

	set_le(p + 5, MS_WIRE_MAX_VV + 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	set_le(p + 5, 0xffff, 2);
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	set_le(p + 5, NVV - 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_TRAILING);
	set_le(p + 5, NVV, 2);

	/* Entry 1 given entry 0's author: not strictly ascending. */
	uint8_t save[32];
	memcpy(save, p + VV_ENTRY_OFF(1), 32);
	memcpy(p + VV_ENTRY_OFF(1), p + VV_ENTRY_OFF(0), 32);
	ASSERT_REASON(p, b.len, MS_WR_ORDER);
	/* ...or one below it. */
	p[VV_ENTRY_OFF(1)] = (uint8_t)(p[VV_ENTRY_OFF(0)] - 1);
	ASSERT_REASON(p, b.len, MS_WR_ORDER);
	memcpy(p + VV_ENTRY_OFF(1), save, 32);

	/* held < seq for entry 2 */
	set_le(p + VV_ENTRY_OFF(2) + 32 + 8, 2999, 8);
	ASSERT_REASON(p, b.len, MS_WR_HELD);
	set_le(p + VV_ENTRY_OFF(2) + 32 + 8, 3000, 8); /* held == seq is fine */
	ASSERT_REASON(p, b.len, MS_WR_OK);
	bb_free(&b);
}
END_TEST

START_TEST(t_ops_malformed)
{
	bb b = {0};
	bytes_ops(&b);
	uint8_t *p = b.buf;

	set_le(p + 8, MS_WIRE_MAX_OPS + 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	set_le(p + 8, 0xffff, 2);
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	set_le(p + 8, 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_TRAILING);
	set_le(p + 8, 2, 2);

	set_le(p + 10, 0, 4);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + 10, MS_WIRE_MAX_OP + 1, 4);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + 10, UINT32_MAX, 4);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	/* a length within the cap but past the end of the buffer */
	set_le(p + 10, MS_WIRE_MAX_OP, 4);
	ASSERT_REASON(p, b.len, MS_WR_TRUNCATED);
	set_le(p + 10, 3, 4);
	ASSERT_REASON(p, b.len, MS_WR_OK);
	bb_free(&b);

	/* An op of exactly MS_WIRE_MAX_OP bytes decodes. */
	bb c = {0};
	bb_hdr(&c, 3);
	bb_le(&c, 0, 4);
	bb_le(&c, 1, 2);
	bb_le(&c, MS_WIRE_MAX_OP, 4);
	bb_fill(&c, 0, MS_WIRE_MAX_OP);
	ASSERT_REASON(c.buf, c.len, MS_WR_OK);
	bb_free(&c);
}
END_TEST

START_TEST(t_ack_malformed)
{
	bb b = {0};
	bytes_ack(&b);
	uint8_t *p = b.buf;

	set_le(p + 12, MS_WIRE_MAX_ACK + 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	set_le(p + 12, 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_TRAILING);
	set_le(p + 12, 2, 2);

	/* second author equal to the first */
	memcpy(p + 14 + 40, p + 14, 32);
	ASSERT_REASON(p, b.len, MS_WR_ORDER);
	bb_free(&b);
}
END_TEST

START_TEST(t_bye_malformed)
{
	bb b = {0};
	bytes_bye(&b);
	uint8_t *p = b.buf;

	p[4] = MS_BYE_COUNT_;
	ASSERT_REASON(p, b.len, MS_WR_BYE_REASON);
	p[4] = 0xff;
	ASSERT_REASON(p, b.len, MS_WR_BYE_REASON);
	p[4] = MS_BYE_SHUTDOWN;
	ASSERT_REASON(p, b.len, MS_WR_OK);

	set_le(p + 5, MS_WIRE_MAX_TEXT + 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + 5, strlen(BYE_TEXT) - 1, 2);
	ASSERT_REASON(p, b.len, MS_WR_TRAILING);
	set_le(p + 5, strlen(BYE_TEXT), 2);

	p[7] = '\n';
	ASSERT_REASON(p, b.len, MS_WR_CHARS);
	p[7] = 0;
	ASSERT_REASON(p, b.len, MS_WR_CHARS);
	p[7] = 0xc3;
	ASSERT_REASON(p, b.len, MS_WR_CHARS);
	bb_free(&b);

	/* 255 bytes of text is fine */
	bb c = {0};
	bb_hdr(&c, 5);
	bb_u8(&c, 0);
	bb_le(&c, 255, 2);
	bb_fill(&c, ' ', 255);
	ASSERT_REASON(c.buf, c.len, MS_WR_OK);
	bb_free(&c);
}
END_TEST

START_TEST(t_peers_malformed)
{
	bb b = {0};
	bytes_peers(&b);
	uint8_t *p = b.buf;
	const size_t nep0 = 4 + 1 + 32 + 8; /* peer 0's n_endpoints */

	p[4] = MS_WIRE_MAX_PEERS + 1;
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	p[4] = 1;
	ASSERT_REASON(p, b.len, MS_WR_TRAILING);
	p[4] = 2;

	p[nep0] = MS_WIRE_MAX_PEER_ENDPOINTS + 1;
	ASSERT_REASON(p, b.len, MS_WR_COUNT);
	p[nep0] = 1;
	set_le(p + nep0 + 1, 0, 2);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + nep0 + 1, 256, 2);
	ASSERT_REASON(p, b.len, MS_WR_LENGTH);
	set_le(p + nep0 + 1, strlen(EP0), 2);
	p[nep0 + 3] = ' ';
	ASSERT_REASON(p, b.len, MS_WR_CHARS);
	bb_free(&b);
}
END_TEST

/* --- the encoder refuses what the decoder would refuse --------------------- */

static void assert_enc_refused(const ms_wire_msg *m, const char *reason)
{
	uint8_t *buf = malloc(1 << 16);
	size_t len = 12345;
	ms_errbuf eb;
	ck_assert_ptr_nonnull(buf);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_wire_encode(m, buf, 1 << 16, &len, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, reason) != NULL, "message \"%s\" lacks %s",
	              eb.msg, reason);
	free(buf);
}

START_TEST(t_encode_refuses)
{
	static ms_wire_msg m;
	ms_wire_vv_entry ve[NVV];
	ms_wire_ack_entry ae[2];
	ms_wire_bytes ops[2];

	m.type = MS_WIRE_HELLO;
	sample_hello(&m.u.hello, 1);
	m.u.hello.flags = 0x02;
	assert_enc_refused(&m, "bad_flags");
	sample_hello(&m.u.hello, 1);
	m.u.hello.has_proof = 2;
	assert_enc_refused(&m, "bad_proof_flag");
	sample_hello(&m.u.hello, 0);
	m.u.hello.n_endpoints = MS_WIRE_MAX_ENDPOINTS + 1;
	assert_enc_refused(&m, "count_over_cap");
	sample_hello(&m.u.hello, 0);
	m.u.hello.endpoints[1].len = 0;
	assert_enc_refused(&m, "bad_length");
	m.u.hello.endpoints[1] = bytes_of("tcp://a b");
	assert_enc_refused(&m, "bad_chars");

	m.type = MS_WIRE_VV;
	sample_vv(&m.u.vv, ve);
	m.u.vv.flags = 0x10;
	assert_enc_refused(&m, "bad_flags");
	sample_vv(&m.u.vv, ve);
	m.u.vv.n = MS_WIRE_MAX_VV + 1;
	assert_enc_refused(&m, "count_over_cap");
	sample_vv(&m.u.vv, ve);
	memcpy(ve[2].author, ve[1].author, MS_PK_LEN);
	assert_enc_refused(&m, "bad_order");
	sample_vv(&m.u.vv, ve);
	/* cppcheck-suppress unreadVariable ; read through m.u.vv.entries */
	ve[0].held = ve[0].seq - 1;
	assert_enc_refused(&m, "bad_held");

	m.type = MS_WIRE_OPS;
	sample_ops(&m.u.ops, ops);
	ops[1].len = 0;
	assert_enc_refused(&m, "bad_length");
	ops[1].len = MS_WIRE_MAX_OP + 1;
	assert_enc_refused(&m, "bad_length");
	sample_ops(&m.u.ops, ops);
	m.u.ops.n = MS_WIRE_MAX_OPS + 1;
	assert_enc_refused(&m, "count_over_cap");

	m.type = MS_WIRE_ACK;
	sample_ack(&m.u.ack, ae);
	memcpy(ae[0].author, ae[1].author, MS_PK_LEN);
	assert_enc_refused(&m, "bad_order");
	sample_ack(&m.u.ack, ae);
	m.u.ack.n = MS_WIRE_MAX_ACK + 1;
	assert_enc_refused(&m, "count_over_cap");

	m.type = MS_WIRE_BYE;
	sample_bye(&m.u.bye);
	m.u.bye.reason = MS_BYE_COUNT_;
	assert_enc_refused(&m, "bad_bye_reason");
	sample_bye(&m.u.bye);
	m.u.bye.text = bytes_of("line\nbreak");
	assert_enc_refused(&m, "bad_chars");
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	m.u.bye.text = bytes_of(big);
	assert_enc_refused(&m, "bad_length");

	m.type = MS_WIRE_PEERS;
	sample_peers(&m.u.peers);
	m.u.peers.n = MS_WIRE_MAX_PEERS + 1;
	assert_enc_refused(&m, "count_over_cap");
	sample_peers(&m.u.peers);
	m.u.peers.peers[0].n_endpoints = MS_WIRE_MAX_PEER_ENDPOINTS + 1;
	assert_enc_refused(&m, "count_over_cap");

	m.type = (ms_wire_type)9;
	assert_enc_refused(&m, "unknown message type");
	ck_assert_uint_eq(ms_wire_len(&m), 0);
}
END_TEST

/* --- names ------------------------------------------------------------------ */

START_TEST(t_names)
{
	/* Every reason has its own non-empty name; out of range is "unknown". */
	for (int i = 0; i < MS_WR_COUNT_; i++) {
		const char *a = ms_wire_reason_name((ms_wire_reason)i);
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_gt(strlen(a), 0);
		ck_assert_str_ne(a, "unknown");
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(a, ms_wire_reason_name(
						    (ms_wire_reason)j));
	}
	ck_assert_str_eq(ms_wire_reason_name(MS_WR_COUNT_), "unknown");
	ck_assert_str_eq(ms_wire_reason_name(MS_WR_VERSION), "bad_version");
	ck_assert_str_eq(ms_wire_reason_name(MS_WR_TRUNCATED), "truncated");
	ck_assert_str_eq(ms_wire_reason_name(MS_WR_TRAILING), "trailing");

	const char *bye[] = {"normal", "version",  "auth",
	                     "proto",  "overload", "shutdown",
	                     "budget", "timeout",  "duplicate"};
	ck_assert_int_eq(MS_BYE_COUNT_, sizeof bye / sizeof bye[0]);
	for (int i = 0; i < MS_BYE_COUNT_; i++)
		ck_assert_str_eq(ms_wire_bye_reason_name(i), bye[i]);
	ck_assert_str_eq(ms_wire_bye_reason_name(MS_BYE_COUNT_), "unknown");
	ck_assert_str_eq(ms_wire_bye_reason_name(-1), "unknown");

	const char *types[] = {"hello", "vv",    "ops",  "ack",
	                       "bye",   "peers", "have", "want"};
	for (int i = 1; i <= 8; i++)
		ck_assert_str_eq(ms_wire_type_name(i), types[i - 1]);
	ck_assert_str_eq(ms_wire_type_name(0), "unknown");
	ck_assert_str_eq(ms_wire_type_name(9), "unknown");
}
END_TEST

/* --- the listener's proof ------------------------------------------------- */

START_TEST(t_hello_proof)
{
	ms_identity *listener = NULL, *dialer = NULL, *other = NULL;
	uint8_t dialer_cpk[MS_CURVE_LEN], dialer_csk[MS_CURVE_LEN];
	uint8_t other_cpk[MS_CURVE_LEN], other_csk[MS_CURVE_LEN];
	uint8_t proof[MS_SIG_LEN];
	ms_errbuf eb;

	MS_PASS(ms_crypto_init(NULL));
	listener = ms_test_identity(0x11);
	dialer = ms_test_identity(0x22);
	other = ms_test_identity(0x33);
	MS_PASS_EB(ms_identity_curve_keypair(dialer, dialer_cpk, dialer_csk,
	                                     &eb),
	           &eb);
	MS_PASS_EB(ms_identity_curve_keypair(other, other_cpk, other_csk, &eb),
	           &eb);

	ms_wire_hello_proof_sign(listener, dialer_cpk, proof);
	ck_assert_int_eq(ms_wire_hello_proof_verify(ms_identity_pk(listener),
	                                            dialer_cpk, proof),
	                 1);

	/* The proof travels in HELLO and still verifies after decoding. */
	ms_wire_hello h, d;
	uint8_t buf[512];
	size_t len;
	sample_hello(&h, 1);
	memcpy(h.node_id, ms_identity_pk(listener), MS_PK_LEN);
	memcpy(h.proof, proof, MS_SIG_LEN);
	MS_PASS(ms_wire_hello_encode(&h, buf, sizeof buf, &len, NULL));
	ck_assert_int_eq(ms_wire_hello_decode(&d, buf, len), MS_WR_OK);
	ck_assert_int_eq(ms_wire_hello_proof_verify(d.node_id, dialer_cpk,
	                                            d.proof),
	                 1);

	/* Any flipped bit anywhere in the proof fails. */
	for (size_t i = 0; i < MS_SIG_LEN; i++) {
		for (int bit = 0; bit < 8; bit++) {
			uint8_t bad[MS_SIG_LEN];
			memcpy(bad, proof, sizeof bad);
			bad[i] ^= (uint8_t)(1u << bit);
			ck_assert_int_eq(ms_wire_hello_proof_verify(
						 ms_identity_pk(listener),
						 dialer_cpk, bad),
			                 0);
		}
	}
	/* A flipped byte of the HELLO carrying it (inside the proof) fails. */
	buf[HELLO_PROOF_FLAG_OFF + 1 + 10] ^= 0x01;
	ck_assert_int_eq(ms_wire_hello_decode(&d, buf, len), MS_WR_OK);
	ck_assert_int_eq(ms_wire_hello_proof_verify(d.node_id, dialer_cpk,
	                                            d.proof),
	                 0);

	/* Replayed to another dialer: fails. */
	ck_assert_int_eq(ms_wire_hello_proof_verify(ms_identity_pk(listener),
	                                            other_cpk, proof),
	                 0);
	/* Claimed by another node id: fails. */
	ck_assert_int_eq(ms_wire_hello_proof_verify(ms_identity_pk(other),
	                                            dialer_cpk, proof),
	                 0);
	/* Another identity signing the same statement is not the listener. */
	uint8_t forged[MS_SIG_LEN];
	ms_wire_hello_proof_sign(other, dialer_cpk, forged);
	ck_assert_int_eq(ms_wire_hello_proof_verify(ms_identity_pk(listener),
	                                            dialer_cpk, forged),
	                 0);

	/* Deterministic: Ed25519 signs the same statement to the same bytes,
	 * and the statement is exactly domain || dialer key || listener id. */
	uint8_t again[MS_SIG_LEN], stmt[18 + 32 + 32];
	ms_wire_hello_proof_sign(listener, dialer_cpk, again);
	ck_assert_mem_eq(again, proof, MS_SIG_LEN);
	memcpy(stmt, "meshsync/hello/v1", 18); /* NUL included */
	memcpy(stmt + 18, dialer_cpk, 32);
	memcpy(stmt + 50, ms_identity_pk(listener), 32);
	ck_assert_int_eq(ms_verify(ms_identity_pk(listener), proof, stmt,
	                           sizeof stmt),
	                 1);

	ms_identity_free(&listener);
	ms_identity_free(&dialer);
	ms_identity_free(&other);
	ck_assert_ptr_null(listener);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("roundtrip");
	tcase_add_test(tc, t_hello_roundtrip);
	tcase_add_test(tc, t_hello_minimal);
	tcase_add_test(tc, t_vv_roundtrip);
	tcase_add_test(tc, t_vv_full_and_empty);
	tcase_add_test(tc, t_ops_roundtrip);
	tcase_add_test(tc, t_ops_big);
	tcase_add_test(tc, t_ack_roundtrip);
	tcase_add_test(tc, t_bye_roundtrip);
	tcase_add_test(tc, t_ids_roundtrip);
	tcase_add_test(tc, t_peers_roundtrip);
	tcase_add_test(tc, t_peers_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_truncated_every_length);
	tcase_add_test(tc, t_header_errors);
	tcase_add_test(tc, t_wrong_type);
	tcase_add_test(tc, t_too_big);
	tcase_add_test(tc, t_hello_malformed);
	tcase_add_test(tc, t_vv_malformed);
	tcase_add_test(tc, t_ops_malformed);
	tcase_add_test(tc, t_ack_malformed);
	tcase_add_test(tc, t_bye_malformed);
	tcase_add_test(tc, t_peers_malformed);
	tcase_add_test(tc, t_encode_refuses);
	tcase_add_test(tc, t_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("proof");
	tcase_add_test(tc, t_hello_proof);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(wire_suite());
}
