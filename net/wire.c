/*
 * wire.c — encoding and strict decoding of the sync protocol's messages
 * (layout and rules in wire.h and docs/protocol.md).
 *
 * The decoder reads through a cursor that refuses to move past the end of
 * the buffer, so every field read is bounds-checked in one place.  The
 * encoder first checks the struct against the same rules the decoder
 * enforces (msg_check_*), then computes the exact size, then writes with
 * unchecked stores into a buffer known to be large enough.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include "ms_bytes.h"

/* --- names -------------------------------------------------------------- */

static const char *const type_names[] = {
	[MS_WIRE_HELLO] = "hello", [MS_WIRE_VV] = "vv",
	[MS_WIRE_OPS] = "ops",     [MS_WIRE_ACK] = "ack",
	[MS_WIRE_BYE] = "bye",     [MS_WIRE_PEERS] = "peers",
	[MS_WIRE_HAVE] = "have",   [MS_WIRE_WANT] = "want",
};

const char *ms_wire_type_name(int type)
{
	if (type < MS_WIRE_HELLO || type > MS_WIRE_WANT)
		return "unknown";
	return type_names[type];
}

static const char *const reason_names[MS_WR_COUNT_] = {
	[MS_WR_OK] = "ok",
	[MS_WR_TRUNCATED] = "truncated",
	[MS_WR_MAGIC] = "bad_magic",
	[MS_WR_VERSION] = "bad_version",
	[MS_WR_TYPE] = "bad_type",
	[MS_WR_WRONG_TYPE] = "wrong_type",
	[MS_WR_TOO_BIG] = "too_big",
	[MS_WR_FLAGS] = "bad_flags",
	[MS_WR_PROOF_FLAG] = "bad_proof_flag",
	[MS_WR_COUNT] = "count_over_cap",
	[MS_WR_LENGTH] = "bad_length",
	[MS_WR_CHARS] = "bad_chars",
	[MS_WR_ORDER] = "bad_order",
	[MS_WR_HELD] = "bad_held",
	[MS_WR_BYE_REASON] = "bad_bye_reason",
	[MS_WR_TRAILING] = "trailing",
};

const char *ms_wire_reason_name(ms_wire_reason r)
{
	if ((unsigned)r >= MS_WR_COUNT_)
		return "unknown";
	return reason_names[r];
}

static const char *const bye_names[MS_BYE_COUNT_] = {
	[MS_BYE_NORMAL] = "normal",       [MS_BYE_VERSION] = "version",
	[MS_BYE_AUTH] = "auth",           [MS_BYE_PROTO] = "proto",
	[MS_BYE_OVERLOAD] = "overload",   [MS_BYE_SHUTDOWN] = "shutdown",
	[MS_BYE_BUDGET] = "budget",       [MS_BYE_TIMEOUT] = "timeout",
	[MS_BYE_DUPLICATE] = "duplicate",
};

const char *ms_wire_bye_reason_name(int r)
{
	if (r < 0 || r >= MS_BYE_COUNT_)
		return "unknown";
	return bye_names[r];
}

/* --- reading ------------------------------------------------------------ */

typedef struct rd {
	const uint8_t *p;
	size_t left;
} rd;

/* Each rd_* returns 0 when the buffer ends inside the field. */
static int rd_take(rd *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return 0;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 1;
}

static int rd_copy(rd *r, void *dst, size_t n)
{
	const uint8_t *p;
	if (!rd_take(r, n, &p))
		return 0;
	memcpy(dst, p, n);
	return 1;
}

static int rd_u8(rd *r, uint8_t *v)
{
	return rd_copy(r, v, 1);
}

/* Fixed-width little-endian integers (ms_bytes.h does the byte work). */
static int rd_u16(rd *r, uint16_t *v)
{
	const uint8_t *p;
	if (!rd_take(r, 2, &p))
		return 0;
	*v = ms_get_le16(p);
	return 1;
}

static int rd_u32(rd *r, uint32_t *v)
{
	const uint8_t *p;
	if (!rd_take(r, 4, &p))
		return 0;
	*v = ms_get_le32(p);
	return 1;
}

static int rd_u64(rd *r, uint64_t *v)
{
	const uint8_t *p;
	if (!rd_take(r, 8, &p))
		return 0;
	*v = ms_get_le64(p);
	return 1;
}

/* Inside a decoder: a field that does not fit is a truncated message. */
#define NEED(call)                              \
	do {                                    \
		if (!(call))                    \
			return MS_WR_TRUNCATED; \
	} while (0)

/* --- writing (capacity already checked by the caller) --------------------- */

typedef struct wr {
	uint8_t *p;
} wr;

static void wr_bytes(wr *w, const void *src, size_t n)
{
	if (n == 0)
		return; /* src may be NULL for an empty string */
	memcpy(w->p, src, n);
	w->p += n;
}

static void wr_u8(wr *w, uint8_t v)
{
	*w->p++ = v;
}

static void wr_u16(wr *w, uint16_t v)
{
	ms_put_le16(w->p, v);
	w->p += 2;
}

static void wr_u32(wr *w, uint32_t v)
{
	ms_put_le32(w->p, v);
	w->p += 4;
}

static void wr_u64(wr *w, uint64_t v)
{
	ms_put_le64(w->p, v);
	w->p += 8;
}

static void wr_header(wr *w, ms_wire_type type)
{
	wr_bytes(w, MS_WIRE_MAGIC, 2);
	wr_u8(w, MS_WIRE_VERSION);
	wr_u8(w, (uint8_t)type);
}

/* --- shared rules ----------------------------------------------------------- */

/*
 * Endpoints end up in zmq_connect and in log lines: printable ASCII without
 * spaces keeps both safe (no embedded NUL, no log injection).
 */
static ms_wire_reason endpoint_check(const uint8_t *p, size_t len)
{
	if (len == 0 || len > MS_WIRE_MAX_ENDPOINT_LEN)
		return MS_WR_LENGTH;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return MS_WR_CHARS;
	return MS_WR_OK;
}

/* BYE text goes to the peer's log: printable ASCII, spaces allowed. */
static ms_wire_reason text_check(const uint8_t *p, size_t len)
{
	if (len > MS_WIRE_MAX_TEXT)
		return MS_WR_LENGTH;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return MS_WR_CHARS;
	return MS_WR_OK;
}

static ms_wire_reason endpoints_check(uint8_t n, uint8_t max,
                                      const ms_wire_bytes *eps)
{
	if (n > max)
		return MS_WR_COUNT;
	for (uint8_t i = 0; i < n; i++) {
		ms_wire_reason r = endpoint_check(eps[i].ptr, eps[i].len);
		if (r != MS_WR_OK)
			return r;
	}
	return MS_WR_OK;
}

/* max bounds the walk over a fixed array when n is bad (the *_len
 * functions are public and may see a struct that breaks the caps). */
static size_t endpoints_len(uint8_t n, uint8_t max, const ms_wire_bytes *eps)
{
	size_t len = 1;
	for (uint8_t i = 0; i < n && i < max; i++)
		len += 2 + (size_t)eps[i].len;
	return len;
}

static void wr_endpoints(wr *w, uint8_t n, const ms_wire_bytes *eps)
{
	wr_u8(w, n);
	for (uint8_t i = 0; i < n; i++) {
		wr_u16(w, (uint16_t)eps[i].len);
		wr_bytes(w, eps[i].ptr, eps[i].len);
	}
}

static ms_wire_reason rd_endpoints(rd *r, uint8_t max, uint8_t *n_out,
                                   ms_wire_bytes *eps)
{
	uint8_t n;
	NEED(rd_u8(r, &n));
	if (n > max)
		return MS_WR_COUNT;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t len;
		const uint8_t *p;
		NEED(rd_u16(r, &len));
		if (len == 0 || len > MS_WIRE_MAX_ENDPOINT_LEN)
			return MS_WR_LENGTH;
		NEED(rd_take(r, len, &p));
		ms_wire_reason why = endpoint_check(p, len);
		if (why != MS_WR_OK)
			return why;
		eps[i].ptr = p;
		eps[i].len = len;
	}
	*n_out = n;
	return MS_WR_OK;
}

/* --- header --------------------------------------------------------------- */

ms_wire_reason ms_wire_peek_type(const uint8_t *buf, size_t len,
                                 ms_wire_type *type)
{
	if (buf == NULL || len < MS_WIRE_HEADER_LEN)
		return MS_WR_TRUNCATED;
	if (buf[0] != (uint8_t)MS_WIRE_MAGIC[0] ||
	    buf[1] != (uint8_t)MS_WIRE_MAGIC[1])
		return MS_WR_MAGIC;
	if (buf[2] != MS_WIRE_VERSION)
		return MS_WR_VERSION;
	if (buf[3] < MS_WIRE_HELLO || buf[3] > MS_WIRE_WANT)
		return MS_WR_TYPE;
	if (len > MS_WIRE_MAX_MSG)
		return MS_WR_TOO_BIG;
	*type = (ms_wire_type)buf[3];
	return MS_WR_OK;
}

/* Check the header for a decoder of type want and point r at the body. */
static ms_wire_reason rd_header(rd *r, const uint8_t *buf, size_t len,
                                ms_wire_type want)
{
	ms_wire_type t;
	ms_wire_reason why = ms_wire_peek_type(buf, len, &t);
	if (why != MS_WR_OK)
		return why;
	if (t != want)
		return MS_WR_WRONG_TYPE;
	r->p = buf + MS_WIRE_HEADER_LEN;
	r->left = len - MS_WIRE_HEADER_LEN;
	return MS_WR_OK;
}

/* A decoder's last word: anything left over is an error. */
static ms_wire_reason rd_end(const rd *r)
{
	return r->left == 0 ? MS_WR_OK : MS_WR_TRAILING;
}

/*
 * Common tail of every encoder: refuse a struct that breaks a rule or a
 * buffer that is too small.  Returns MS_OK when writing may go ahead.
 */
static ms_err enc_prepare(ms_wire_type type, ms_wire_reason why, size_t need,
                          size_t cap, ms_errbuf *eb)
{
	if (why != MS_WR_OK)
		return ms_errf(eb, MS_EINVAL, "encode %s: %s",
		               ms_wire_type_name(type),
		               ms_wire_reason_name(why));
	if (need > cap)
		return ms_errf(eb, MS_EINVAL,
		               "encode %s: needs %zu bytes, buffer has %zu",
		               ms_wire_type_name(type), need, cap);
	return MS_OK;
}

/* The writer must land exactly on the size the *_len function computed;
 * anything else is a bug in this file, not bad input. */
static void enc_finish(const wr *w, const uint8_t *buf, size_t need,
                       size_t *out_len)
{
	if ((size_t)(w->p - buf) != need)
		abort();
	*out_len = need;
}

/* --- HELLO -------------------------------------------------------------- */

static ms_wire_reason hello_check(const ms_wire_hello *m)
{
	if (m->flags & ~MS_WIRE_HELLO_LISTENER)
		return MS_WR_FLAGS;
	if (m->has_proof > 1)
		return MS_WR_PROOF_FLAG;
	return endpoints_check(m->n_endpoints, MS_WIRE_MAX_ENDPOINTS,
	                       m->endpoints);
}

size_t ms_wire_hello_len(const ms_wire_hello *m)
{
	return MS_WIRE_HEADER_LEN + MS_PK_LEN + MS_HASH_LEN + 8 + 1 + 1 +
	       (m->has_proof ? MS_SIG_LEN : 0) +
	       endpoints_len(m->n_endpoints, MS_WIRE_MAX_ENDPOINTS,
	                     m->endpoints);
}

ms_err ms_wire_hello_encode(const ms_wire_hello *m, uint8_t *buf, size_t cap,
                            size_t *out_len, ms_errbuf *eb)
{
	ms_wire_reason why = hello_check(m);
	size_t need = why == MS_WR_OK ? ms_wire_hello_len(m) : 0;
	ms_err e = enc_prepare(MS_WIRE_HELLO, why, need, cap, eb);
	if (e != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, MS_WIRE_HELLO);
	wr_bytes(&w, m->node_id, MS_PK_LEN);
	wr_bytes(&w, m->vv_digest, MS_HASH_LEN);
	wr_u64(&w, m->op_count);
	wr_u8(&w, m->flags);
	wr_u8(&w, m->has_proof);
	if (m->has_proof)
		wr_bytes(&w, m->proof, MS_SIG_LEN);
	wr_endpoints(&w, m->n_endpoints, m->endpoints);
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_hello_decode(ms_wire_hello *out, const uint8_t *buf,
                                    size_t len)
{
	rd r;
	ms_wire_reason why = rd_header(&r, buf, len, MS_WIRE_HELLO);
	if (why != MS_WR_OK)
		return why;
	memset(out, 0, sizeof *out);
	NEED(rd_copy(&r, out->node_id, MS_PK_LEN));
	NEED(rd_copy(&r, out->vv_digest, MS_HASH_LEN));
	NEED(rd_u64(&r, &out->op_count));
	NEED(rd_u8(&r, &out->flags));
	if (out->flags & ~MS_WIRE_HELLO_LISTENER)
		return MS_WR_FLAGS;
	NEED(rd_u8(&r, &out->has_proof));
	if (out->has_proof > 1)
		return MS_WR_PROOF_FLAG;
	if (out->has_proof)
		NEED(rd_copy(&r, out->proof, MS_SIG_LEN));
	why = rd_endpoints(&r, MS_WIRE_MAX_ENDPOINTS, &out->n_endpoints,
	                   out->endpoints);
	if (why != MS_WR_OK)
		return why;
	return rd_end(&r);
}

/* The signed message: domain (NUL included) || dialer curve pk || id. */
#define PROOF_MSG_LEN (MS_WIRE_HELLO_DOMAIN_LEN + MS_CURVE_LEN + MS_PK_LEN)

static void proof_msg(uint8_t msg[PROOF_MSG_LEN],
                      const uint8_t dialer_curve_pk[MS_CURVE_LEN],
                      const uint8_t listener_id[MS_PK_LEN])
{
	memcpy(msg, MS_WIRE_HELLO_DOMAIN, MS_WIRE_HELLO_DOMAIN_LEN);
	memcpy(msg + MS_WIRE_HELLO_DOMAIN_LEN, dialer_curve_pk, MS_CURVE_LEN);
	memcpy(msg + MS_WIRE_HELLO_DOMAIN_LEN + MS_CURVE_LEN, listener_id,
	       MS_PK_LEN);
}

void ms_wire_hello_proof_sign(const ms_identity *listener,
                              const uint8_t dialer_curve_pk[MS_CURVE_LEN],
                              uint8_t proof[MS_SIG_LEN])
{
	uint8_t msg[PROOF_MSG_LEN];
	proof_msg(msg, dialer_curve_pk, ms_identity_pk(listener));
	ms_sign(listener, proof, msg, sizeof msg);
}

int ms_wire_hello_proof_verify(const uint8_t listener_id[MS_PK_LEN],
                               const uint8_t dialer_curve_pk[MS_CURVE_LEN],
                               const uint8_t proof[MS_SIG_LEN])
{
	uint8_t msg[PROOF_MSG_LEN];
	proof_msg(msg, dialer_curve_pk, listener_id);
	return ms_verify(listener_id, proof, msg, sizeof msg);
}

/* --- VV ----------------------------------------------------------------- */

/* Authors strictly ascending: sorted chunks and no author listed twice. */
static int author_after(const uint8_t *prev, const uint8_t *cur)
{
	return memcmp(prev, cur, MS_PK_LEN) < 0;
}

static ms_wire_reason vv_check(const ms_wire_vv *m)
{
	if (m->flags & ~MS_WIRE_VV_LAST)
		return MS_WR_FLAGS;
	if (m->n > MS_WIRE_MAX_VV)
		return MS_WR_COUNT;
	for (uint16_t i = 0; i < m->n; i++) {
		if (i > 0 && !author_after(m->entries[i - 1].author,
		                           m->entries[i].author))
			return MS_WR_ORDER;
		if (m->entries[i].held < m->entries[i].seq)
			return MS_WR_HELD;
	}
	return MS_WR_OK;
}

size_t ms_wire_vv_len(const ms_wire_vv *m)
{
	return MS_WIRE_HEADER_LEN + 1 + 2 + (size_t)m->n * MS_WIRE_VV_ENTRY_LEN;
}

ms_err ms_wire_vv_encode(const ms_wire_vv *m, uint8_t *buf, size_t cap,
                         size_t *out_len, ms_errbuf *eb)
{
	ms_wire_reason why = vv_check(m);
	size_t need = why == MS_WR_OK ? ms_wire_vv_len(m) : 0;
	ms_err e = enc_prepare(MS_WIRE_VV, why, need, cap, eb);
	if (e != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, MS_WIRE_VV);
	wr_u8(&w, m->flags);
	wr_u16(&w, m->n);
	for (uint16_t i = 0; i < m->n; i++) {
		const ms_wire_vv_entry *v = &m->entries[i];
		wr_bytes(&w, v->author, MS_PK_LEN);
		wr_u64(&w, v->seq);
		wr_u64(&w, v->held);
		wr_bytes(&w, v->acc, MS_WIRE_ACC_LEN);
	}
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_vv_decode(ms_wire_vv *out, ms_wire_vv_entry *entries,
                                 const uint8_t *buf, size_t len)
{
	rd r;
	ms_wire_reason why = rd_header(&r, buf, len, MS_WIRE_VV);
	if (why != MS_WR_OK)
		return why;
	out->entries = entries;
	out->n = 0;
	NEED(rd_u8(&r, &out->flags));
	if (out->flags & ~MS_WIRE_VV_LAST)
		return MS_WR_FLAGS;
	uint16_t n;
	NEED(rd_u16(&r, &n));
	if (n > MS_WIRE_MAX_VV)
		return MS_WR_COUNT;
	for (uint16_t i = 0; i < n; i++) {
		ms_wire_vv_entry *v = &entries[i];
		NEED(rd_copy(&r, v->author, MS_PK_LEN));
		NEED(rd_u64(&r, &v->seq));
		NEED(rd_u64(&r, &v->held));
		NEED(rd_copy(&r, v->acc, MS_WIRE_ACC_LEN));
		if (i > 0 && !author_after(entries[i - 1].author, v->author))
			return MS_WR_ORDER;
		if (v->held < v->seq)
			return MS_WR_HELD;
	}
	out->n = n;
	return rd_end(&r);
}

/* --- OPS ---------------------------------------------------------------- */

static ms_wire_reason ops_check(const ms_wire_ops *m)
{
	if (m->n > MS_WIRE_MAX_OPS)
		return MS_WR_COUNT;
	for (uint16_t i = 0; i < m->n; i++)
		if (m->ops[i].len == 0 || m->ops[i].len > MS_WIRE_MAX_OP)
			return MS_WR_LENGTH;
	if (ms_wire_ops_len(m) > MS_WIRE_MAX_MSG)
		return MS_WR_TOO_BIG;
	return MS_WR_OK;
}

size_t ms_wire_ops_len(const ms_wire_ops *m)
{
	size_t len = MS_WIRE_OPS_FIXED_LEN;
	for (uint16_t i = 0; i < m->n; i++)
		len += MS_WIRE_OPS_PER_OP_LEN + (size_t)m->ops[i].len;
	return len;
}

ms_err ms_wire_ops_encode(const ms_wire_ops *m, uint8_t *buf, size_t cap,
                          size_t *out_len, ms_errbuf *eb)
{
	ms_wire_reason why = ops_check(m);
	size_t need = why == MS_WR_OK ? ms_wire_ops_len(m) : 0;
	ms_err e = enc_prepare(MS_WIRE_OPS, why, need, cap, eb);
	if (e != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, MS_WIRE_OPS);
	wr_u32(&w, m->batch);
	wr_u16(&w, m->n);
	for (uint16_t i = 0; i < m->n; i++) {
		wr_u32(&w, m->ops[i].len);
		wr_bytes(&w, m->ops[i].ptr, m->ops[i].len);
	}
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_ops_decode(ms_wire_ops *out, ms_wire_bytes *ops,
                                  const uint8_t *buf, size_t len)
{
	rd r;
	/* The header check caps the whole message at MS_WIRE_MAX_MSG, so the
	 * ops inside can never add up to more. */
	ms_wire_reason why = rd_header(&r, buf, len, MS_WIRE_OPS);
	if (why != MS_WR_OK)
		return why;
	out->ops = ops;
	out->n = 0;
	NEED(rd_u32(&r, &out->batch));
	uint16_t n;
	NEED(rd_u16(&r, &n));
	if (n > MS_WIRE_MAX_OPS)
		return MS_WR_COUNT;
	for (uint16_t i = 0; i < n; i++) {
		uint32_t olen;
		NEED(rd_u32(&r, &olen));
		if (olen == 0 || olen > MS_WIRE_MAX_OP)
			return MS_WR_LENGTH;
		NEED(rd_take(&r, olen, &ops[i].ptr));
		ops[i].len = olen;
	}
	out->n = n;
	return rd_end(&r);
}

/* --- ACK ---------------------------------------------------------------- */

static ms_wire_reason ack_check(const ms_wire_ack *m)
{
	if (m->n > MS_WIRE_MAX_ACK)
		return MS_WR_COUNT;
	for (uint16_t i = 1; i < m->n; i++)
		if (!author_after(m->entries[i - 1].author,
		                  m->entries[i].author))
			return MS_WR_ORDER;
	return MS_WR_OK;
}

size_t ms_wire_ack_len(const ms_wire_ack *m)
{
	return MS_WIRE_HEADER_LEN + 4 + 4 + 2 +
	       (size_t)m->n * MS_WIRE_ACK_ENTRY_LEN;
}

ms_err ms_wire_ack_encode(const ms_wire_ack *m, uint8_t *buf, size_t cap,
                          size_t *out_len, ms_errbuf *eb)
{
	ms_wire_reason why = ack_check(m);
	size_t need = why == MS_WR_OK ? ms_wire_ack_len(m) : 0;
	ms_err e = enc_prepare(MS_WIRE_ACK, why, need, cap, eb);
	if (e != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, MS_WIRE_ACK);
	wr_u32(&w, m->batch);
	wr_u32(&w, m->credit);
	wr_u16(&w, m->n);
	for (uint16_t i = 0; i < m->n; i++) {
		wr_bytes(&w, m->entries[i].author, MS_PK_LEN);
		wr_u64(&w, m->entries[i].seq);
	}
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_ack_decode(ms_wire_ack *out, ms_wire_ack_entry *entries,
                                  const uint8_t *buf, size_t len)
{
	rd r;
	ms_wire_reason why = rd_header(&r, buf, len, MS_WIRE_ACK);
	if (why != MS_WR_OK)
		return why;
	out->entries = entries;
	out->n = 0;
	NEED(rd_u32(&r, &out->batch));
	NEED(rd_u32(&r, &out->credit));
	uint16_t n;
	NEED(rd_u16(&r, &n));
	if (n > MS_WIRE_MAX_ACK)
		return MS_WR_COUNT;
	for (uint16_t i = 0; i < n; i++) {
		NEED(rd_copy(&r, entries[i].author, MS_PK_LEN));
		NEED(rd_u64(&r, &entries[i].seq));
		if (i > 0 &&
		    !author_after(entries[i - 1].author, entries[i].author))
			return MS_WR_ORDER;
	}
	out->n = n;
	return rd_end(&r);
}

/* --- BYE ---------------------------------------------------------------- */

static ms_wire_reason bye_check(const ms_wire_bye *m)
{
	if (m->reason >= MS_BYE_COUNT_)
		return MS_WR_BYE_REASON;
	return text_check(m->text.ptr, m->text.len);
}

size_t ms_wire_bye_len(const ms_wire_bye *m)
{
	return MS_WIRE_HEADER_LEN + 1 + 2 + (size_t)m->text.len;
}

ms_err ms_wire_bye_encode(const ms_wire_bye *m, uint8_t *buf, size_t cap,
                          size_t *out_len, ms_errbuf *eb)
{
	ms_wire_reason why = bye_check(m);
	size_t need = why == MS_WR_OK ? ms_wire_bye_len(m) : 0;
	ms_err e = enc_prepare(MS_WIRE_BYE, why, need, cap, eb);
	if (e != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, MS_WIRE_BYE);
	wr_u8(&w, m->reason);
	wr_u16(&w, (uint16_t)m->text.len);
	wr_bytes(&w, m->text.ptr, m->text.len);
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_bye_decode(ms_wire_bye *out, const uint8_t *buf,
                                  size_t len)
{
	rd r;
	ms_wire_reason why = rd_header(&r, buf, len, MS_WIRE_BYE);
	if (why != MS_WR_OK)
		return why;
	NEED(rd_u8(&r, &out->reason));
	if (out->reason >= MS_BYE_COUNT_)
		return MS_WR_BYE_REASON;
	uint16_t tlen;
	NEED(rd_u16(&r, &tlen));
	if (tlen > MS_WIRE_MAX_TEXT)
		return MS_WR_LENGTH;
	NEED(rd_take(&r, tlen, &out->text.ptr));
	out->text.len = tlen;
	why = text_check(out->text.ptr, tlen);
	if (why != MS_WR_OK)
		return why;
	return rd_end(&r);
}

/* --- PEERS -------------------------------------------------------------- */

static ms_wire_reason peers_check(const ms_wire_peers *m)
{
	if (m->n > MS_WIRE_MAX_PEERS)
		return MS_WR_COUNT;
	for (uint8_t i = 0; i < m->n; i++) {
		ms_wire_reason why = endpoints_check(m->peers[i].n_endpoints,
		                                     MS_WIRE_MAX_PEER_ENDPOINTS,
		                                     m->peers[i].endpoints);
		if (why != MS_WR_OK)
			return why;
	}
	return MS_WR_OK;
}

size_t ms_wire_peers_len(const ms_wire_peers *m)
{
	size_t len = MS_WIRE_HEADER_LEN + 1;
	for (uint8_t i = 0; i < m->n && i < MS_WIRE_MAX_PEERS; i++)
		len += MS_PK_LEN + 8 +
		       endpoints_len(m->peers[i].n_endpoints,
		                     MS_WIRE_MAX_PEER_ENDPOINTS,
		                     m->peers[i].endpoints);
	return len;
}

ms_err ms_wire_peers_encode(const ms_wire_peers *m, uint8_t *buf, size_t cap,
                            size_t *out_len, ms_errbuf *eb)
{
	ms_wire_reason why = peers_check(m);
	size_t need = why == MS_WR_OK ? ms_wire_peers_len(m) : 0;
	ms_err e = enc_prepare(MS_WIRE_PEERS, why, need, cap, eb);
	if (e != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, MS_WIRE_PEERS);
	wr_u8(&w, m->n);
	for (uint8_t i = 0; i < m->n; i++) {
		const ms_wire_peer *p = &m->peers[i];
		wr_bytes(&w, p->node_id, MS_PK_LEN);
		wr_u64(&w, p->last_seen_ms);
		wr_endpoints(&w, p->n_endpoints, p->endpoints);
	}
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_peers_decode(ms_wire_peers *out, const uint8_t *buf,
                                    size_t len)
{
	rd r;
	ms_wire_reason why = rd_header(&r, buf, len, MS_WIRE_PEERS);
	if (why != MS_WR_OK)
		return why;
	uint8_t n;
	NEED(rd_u8(&r, &n));
	if (n > MS_WIRE_MAX_PEERS)
		return MS_WR_COUNT;
	out->n = 0;
	for (uint8_t i = 0; i < n; i++) {
		ms_wire_peer *p = &out->peers[i];
		memset(p, 0, sizeof *p);
		NEED(rd_copy(&r, p->node_id, MS_PK_LEN));
		NEED(rd_u64(&r, &p->last_seen_ms));
		why = rd_endpoints(&r, MS_WIRE_MAX_PEER_ENDPOINTS,
		                   &p->n_endpoints, p->endpoints);
		if (why != MS_WR_OK)
			return why;
	}
	out->n = n;
	return rd_end(&r);
}

/* --- HAVE, WANT -------------------------------------------------------- */

size_t ms_wire_ids_len(const ms_wire_ids *m)
{
	return MS_WIRE_HEADER_LEN + 1 + 2 + (size_t)m->n * MS_WIRE_ID_LEN;
}

ms_err ms_wire_ids_encode(ms_wire_type type, const ms_wire_ids *m, uint8_t *buf,
                          size_t cap, size_t *out_len, ms_errbuf *eb)
{
	uint8_t allowed = type == MS_WIRE_WANT ? MS_WIRE_WANT_REPLY : 0;
	ms_wire_reason why = (m->flags & ~allowed) != 0 ? MS_WR_FLAGS
	                     : m->n > MS_WIRE_MAX_IDS   ? MS_WR_COUNT
	                                                : MS_WR_OK;
	size_t need = why == MS_WR_OK ? ms_wire_ids_len(m) : 0;
	ms_err e;

	if (type != MS_WIRE_HAVE && type != MS_WIRE_WANT)
		return ms_errf(eb, MS_EINVAL, "encode: %d is not HAVE or WANT",
		               (int)type);
	if ((e = enc_prepare(type, why, need, cap, eb)) != MS_OK)
		return e;
	wr w = {buf};
	wr_header(&w, type);
	wr_u8(&w, m->flags);
	wr_u16(&w, m->n);
	for (uint16_t i = 0; i < m->n; i++)
		wr_bytes(&w, m->ids[i], MS_WIRE_ID_LEN);
	enc_finish(&w, buf, need, out_len);
	return MS_OK;
}

ms_wire_reason ms_wire_ids_decode(ms_wire_type type, ms_wire_ids *out,
                                  const uint8_t *buf, size_t len)
{
	rd r;
	uint16_t n;
	const uint8_t *p;
	ms_wire_reason why;

	if (type != MS_WIRE_HAVE && type != MS_WIRE_WANT)
		return MS_WR_WRONG_TYPE;
	if ((why = rd_header(&r, buf, len, type)) != MS_WR_OK)
		return why;
	out->n = 0;
	out->ids = NULL;
	NEED(rd_u8(&r, &out->flags));
	if ((out->flags & ~(type == MS_WIRE_WANT ? MS_WIRE_WANT_REPLY : 0u)) !=
	    0)
		return MS_WR_FLAGS;
	NEED(rd_u16(&r, &n));
	if (n > MS_WIRE_MAX_IDS)
		return MS_WR_COUNT;
	NEED(rd_take(&r, (size_t)n * MS_WIRE_ID_LEN, &p));
	out->n = n;
	out->ids = (const uint8_t(*)[MS_WIRE_ID_LEN])p;
	return rd_end(&r);
}

/* --- any message -------------------------------------------------------- */

ms_wire_reason ms_wire_decode(ms_wire_msg *out, ms_wire_scratch *scratch,
                              const uint8_t *buf, size_t len)
{
	ms_wire_type t;
	ms_wire_reason why = ms_wire_peek_type(buf, len, &t);
	if (why != MS_WR_OK)
		return why;
	out->type = t;
	switch (t) {
	case MS_WIRE_HELLO:
		return ms_wire_hello_decode(&out->u.hello, buf, len);
	case MS_WIRE_VV:
		return ms_wire_vv_decode(&out->u.vv, scratch->vv, buf, len);
	case MS_WIRE_OPS:
		return ms_wire_ops_decode(&out->u.ops, scratch->ops, buf, len);
	case MS_WIRE_ACK:
		return ms_wire_ack_decode(&out->u.ack, scratch->ack, buf, len);
	case MS_WIRE_BYE:
		return ms_wire_bye_decode(&out->u.bye, buf, len);
	case MS_WIRE_PEERS:
		return ms_wire_peers_decode(&out->u.peers, buf, len);
	case MS_WIRE_HAVE:
		return ms_wire_ids_decode(t, &out->u.have, buf, len);
	case MS_WIRE_WANT:
		return ms_wire_ids_decode(t, &out->u.want, buf, len);
	}
	return MS_WR_TYPE; /* unreachable: peek accepted only known types */
}

size_t ms_wire_len(const ms_wire_msg *m)
{
	switch (m->type) {
	case MS_WIRE_HELLO:
		return ms_wire_hello_len(&m->u.hello);
	case MS_WIRE_VV:
		return ms_wire_vv_len(&m->u.vv);
	case MS_WIRE_OPS:
		return ms_wire_ops_len(&m->u.ops);
	case MS_WIRE_ACK:
		return ms_wire_ack_len(&m->u.ack);
	case MS_WIRE_BYE:
		return ms_wire_bye_len(&m->u.bye);
	case MS_WIRE_PEERS:
		return ms_wire_peers_len(&m->u.peers);
	case MS_WIRE_HAVE:
		return ms_wire_ids_len(&m->u.have);
	case MS_WIRE_WANT:
		return ms_wire_ids_len(&m->u.want);
	}
	return 0;
}

ms_err ms_wire_encode(const ms_wire_msg *m, uint8_t *buf, size_t cap,
                      size_t *out_len, ms_errbuf *eb)
{
	switch (m->type) {
	case MS_WIRE_HELLO:
		return ms_wire_hello_encode(&m->u.hello, buf, cap, out_len, eb);
	case MS_WIRE_VV:
		return ms_wire_vv_encode(&m->u.vv, buf, cap, out_len, eb);
	case MS_WIRE_OPS:
		return ms_wire_ops_encode(&m->u.ops, buf, cap, out_len, eb);
	case MS_WIRE_ACK:
		return ms_wire_ack_encode(&m->u.ack, buf, cap, out_len, eb);
	case MS_WIRE_BYE:
		return ms_wire_bye_encode(&m->u.bye, buf, cap, out_len, eb);
	case MS_WIRE_PEERS:
		return ms_wire_peers_encode(&m->u.peers, buf, cap, out_len, eb);
	case MS_WIRE_HAVE:
		return ms_wire_ids_encode(m->type, &m->u.have, buf, cap,
		                          out_len, eb);
	case MS_WIRE_WANT:
		return ms_wire_ids_encode(m->type, &m->u.want, buf, cap,
		                          out_len, eb);
	}
	return ms_errf(eb, MS_EINVAL, "encode: unknown message type %d",
	               (int)m->type);
}
