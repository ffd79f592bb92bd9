/*
 * op.c — the operation record: its one canonical encoding, the strict
 * decoder, the signature and the id (layout in op.h).
 *
 * The decoder is the first thing every byte from the network meets, so it
 * checks each length against what is left of the buffer before using it,
 * never allocates, and reports the first rule a buffer breaks.
 */
#include "op.h"

#include <string.h>

#include "ms_bytes.h"

static const char *const reason_names[MS_OPR_COUNT_] = {
	[MS_OPR_OK] = "ok",
	[MS_OPR_TRUNCATED] = "truncated",
	[MS_OPR_VERSION] = "bad_version",
	[MS_OPR_TYPE] = "bad_type",
	[MS_OPR_PRIORITY] = "bad_priority",
	[MS_OPR_SEQ] = "bad_seq",
	[MS_OPR_PARENT_COUNT] = "too_many_parents",
	[MS_OPR_PARENT_ORDER] = "parents_unsorted",
	[MS_OPR_KEY_LEN] = "bad_key_len",
	[MS_OPR_VALUE_LEN] = "value_too_large",
	[MS_OPR_DEL_VALUE] = "del_with_value",
	[MS_OPR_TRAILING] = "trailing_bytes",
	[MS_OPR_SIGNATURE] = "bad_signature",
};

const char *ms_op_reason_name(ms_op_reason r)
{
	if ((unsigned)r >= MS_OPR_COUNT_ || reason_names[r] == NULL)
		return "unknown";
	return reason_names[r];
}

/* Offsets of the fixed-position fields (op.h). */
enum {
	OFF_VERSION = 0,
	OFF_TYPE = 1,
	OFF_PRIO = 2,
	OFF_AUTHOR = 3,
	OFF_SEQ = 35,
	OFF_HLC = 43,
	OFF_NPARENTS = 51,
	OFF_PARENTS = 52,
};
_Static_assert(OFF_PARENTS == 1 + 1 + 1 + MS_PK_LEN + 8 + 8 + 1, "op header");

static int parents_ascending(const uint8_t *parents, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		if (memcmp(parents + (size_t)(i - 1) * MS_HASH_LEN,
		           parents + (size_t)i * MS_HASH_LEN, MS_HASH_LEN) >= 0)
			return 0;
	}
	return 1;
}

ms_op_reason ms_op_decode(ms_op *op, const uint8_t *buf, size_t len,
                          uint32_t max_value)
{
	size_t pos = OFF_PARENTS;
	size_t plen;

	memset(op, 0, sizeof *op);
	if (max_value == 0)
		max_value = MS_OP_DEFAULT_MAX_VALUE;

	/* Fixed header, one field at a time so that a buffer cut short
	 * inside it still reports its first bad field, if any. */
	if (len < OFF_TYPE)
		return MS_OPR_TRUNCATED;
	op->version = buf[OFF_VERSION];
	if (op->version != MS_OP_VERSION)
		return MS_OPR_VERSION;
	if (len < OFF_PRIO)
		return MS_OPR_TRUNCATED;
	op->type = buf[OFF_TYPE];
	if (op->type != MS_OP_PUT && op->type != MS_OP_DEL)
		return MS_OPR_TYPE;
	if (len < OFF_AUTHOR)
		return MS_OPR_TRUNCATED;
	op->priority = buf[OFF_PRIO];
	if (op->priority != MS_PRIO_USER && op->priority != MS_PRIO_BACKGROUND)
		return MS_OPR_PRIORITY;
	if (len < OFF_HLC)
		return MS_OPR_TRUNCATED;
	memcpy(op->author, buf + OFF_AUTHOR, MS_PK_LEN);
	op->seq = ms_get_le64(buf + OFF_SEQ);
	if (op->seq == 0)
		return MS_OPR_SEQ;
	if (len < OFF_PARENTS)
		return MS_OPR_TRUNCATED;
	op->hlc = ms_get_le64(buf + OFF_HLC);
	op->nparents = buf[OFF_NPARENTS];
	if (op->nparents > MS_OP_MAX_PARENTS)
		return MS_OPR_PARENT_COUNT;

	/* From here on pos <= len always holds, so len - pos is what is left. */
	plen = (size_t)op->nparents * MS_HASH_LEN;
	if (len - pos < plen)
		return MS_OPR_TRUNCATED;
	op->parents = buf + pos;
	if (!parents_ascending(op->parents, op->nparents))
		return MS_OPR_PARENT_ORDER;
	pos += plen;

	if (len - pos < 2)
		return MS_OPR_TRUNCATED;
	op->key_len = ms_get_le16(buf + pos);
	pos += 2;
	if (op->key_len == 0 || op->key_len > MS_OP_MAX_KEY)
		return MS_OPR_KEY_LEN;
	if (len - pos < op->key_len)
		return MS_OPR_TRUNCATED;
	op->key = buf + pos;
	pos += op->key_len;

	if (len - pos < 4)
		return MS_OPR_TRUNCATED;
	op->value_len = ms_get_le32(buf + pos);
	pos += 4;
	if (op->value_len > max_value)
		return MS_OPR_VALUE_LEN;
	if (op->type == MS_OP_DEL && op->value_len != 0)
		return MS_OPR_DEL_VALUE;
	if (len - pos < op->value_len)
		return MS_OPR_TRUNCATED;
	op->value = buf + pos;
	pos += op->value_len;

	if (len - pos < MS_SIG_LEN)
		return MS_OPR_TRUNCATED;
	op->sig = buf + pos;
	pos += MS_SIG_LEN;
	if (pos != len)
		return MS_OPR_TRAILING;
	return MS_OPR_OK;
}

size_t ms_op_encoded_len(const ms_op *op)
{
	return MS_OP_FIXED_LEN + (size_t)op->nparents * MS_HASH_LEN +
	       op->key_len + op->value_len;
}

/* The fixed header (everything before the parents) as it is encoded. */
static void put_header(uint8_t hdr[OFF_PARENTS], const ms_op *op)
{
	hdr[OFF_VERSION] = op->version;
	hdr[OFF_TYPE] = op->type;
	hdr[OFF_PRIO] = op->priority;
	memcpy(hdr + OFF_AUTHOR, op->author, MS_PK_LEN);
	ms_put_le64(hdr + OFF_SEQ, op->seq);
	ms_put_le64(hdr + OFF_HLC, op->hlc);
	hdr[OFF_NPARENTS] = op->nparents;
}

/*
 * The digest is computed from the fields rather than from the buffer the op
 * came in: the encoding is canonical, so the bytes are the same, and a
 * struct whose fields were altered after decoding cannot verify.
 */
void ms_op_sig_digest(const ms_op *op, const uint8_t netid[MS_NETID_LEN],
                      uint8_t digest[MS_HASH_LEN])
{
	static const char domain[] = MS_OP_DOMAIN; /* hashed with its NUL */
	uint8_t hdr[OFF_PARENTS];
	uint8_t n[4];
	ms_hash_state st;

	put_header(hdr, op);
	ms_hash_init(&st);
	ms_hash_update(&st, domain, sizeof domain);
	ms_hash_update(&st, netid, MS_NETID_LEN);
	ms_hash_update(&st, hdr, sizeof hdr);
	if (op->nparents > 0)
		ms_hash_update(&st, op->parents,
		               (size_t)op->nparents * MS_HASH_LEN);
	ms_put_le16(n, op->key_len);
	ms_hash_update(&st, n, 2);
	if (op->key_len > 0)
		ms_hash_update(&st, op->key, op->key_len);
	ms_put_le32(n, op->value_len);
	ms_hash_update(&st, n, 4);
	if (op->value_len > 0)
		ms_hash_update(&st, op->value, op->value_len);
	ms_hash_final(&st, digest);
}

ms_op_reason ms_op_verify(const ms_op *op, const uint8_t netid[MS_NETID_LEN])
{
	uint8_t digest[MS_HASH_LEN];

	ms_op_sig_digest(op, netid, digest);
	return ms_verify(op->author, op->sig, digest, sizeof digest)
	               ? MS_OPR_OK
	               : MS_OPR_SIGNATURE;
}

void ms_op_id(uint8_t id[MS_HASH_LEN], const uint8_t *buf, size_t len)
{
	ms_hash(id, buf, len);
}

/* The limits the decoder enforces, checked on the way in so that we never
 * sign an op that every peer would reject. */
static ms_err op_check(const ms_op *op, ms_errbuf *eb)
{
	if (op->type != MS_OP_PUT && op->type != MS_OP_DEL)
		return ms_errf(eb, MS_EINVAL, "op: unknown type %u", op->type);
	if (op->priority != MS_PRIO_USER && op->priority != MS_PRIO_BACKGROUND)
		return ms_errf(eb, MS_EINVAL, "op: unknown priority %u",
		               op->priority);
	if (op->seq == 0)
		return ms_errf(eb, MS_EINVAL, "op: seq must be at least 1");
	if (op->nparents > MS_OP_MAX_PARENTS)
		return ms_errf(eb, MS_EINVAL,
		               "op: %u parents, at most %d allowed",
		               op->nparents, MS_OP_MAX_PARENTS);
	if (op->nparents > 0 && op->parents == NULL)
		return ms_errf(eb, MS_EINVAL, "op: parents missing");
	if (op->nparents > 0 && !parents_ascending(op->parents, op->nparents))
		return ms_errf(
			eb, MS_EINVAL,
			"op: parents must be sorted ascending without duplicates");
	if (op->key_len == 0 || op->key_len > MS_OP_MAX_KEY)
		return ms_errf(eb, MS_EINVAL,
		               "op: key of %u bytes, must be 1..%d",
		               op->key_len, MS_OP_MAX_KEY);
	if (op->key == NULL)
		return ms_errf(eb, MS_EINVAL, "op: key missing");
	if (op->type == MS_OP_DEL && op->value_len != 0)
		return ms_errf(eb, MS_EINVAL,
		               "op: a delete carries no value (%u bytes given)",
		               (unsigned)op->value_len);
	if (op->value_len > 0 && op->value == NULL)
		return ms_errf(eb, MS_EINVAL, "op: value missing");
	return MS_OK;
}

ms_err ms_op_sign_encode(ms_op *op, const ms_identity *id,
                         const uint8_t netid[MS_NETID_LEN], uint8_t *buf,
                         size_t cap, size_t *out_len, ms_errbuf *eb)
{
	uint8_t digest[MS_HASH_LEN];
	uint8_t *p;
	size_t need;
	ms_err e;

	/* The value limit is configuration (ms_store_opts.max_value), so the
	 * store checks it; here only what every peer enforces. */
	if ((e = op_check(op, eb)) != MS_OK)
		return e;
	if (memcmp(op->author, ms_identity_pk(id), MS_PK_LEN) != 0)
		return ms_errf(eb, MS_EINVAL,
		               "op: author is not the signing identity");
	need = ms_op_encoded_len(op);
	if (cap < need)
		return ms_errf(eb, MS_EINVAL,
		               "op: buffer of %zu bytes, encoding needs %zu",
		               cap, need);

	op->version = MS_OP_VERSION;
	put_header(buf, op);
	p = buf + OFF_PARENTS;
	/* memmove: the caller may re-encode an op whose fields point into buf. */
	if (op->nparents > 0)
		memmove(p, op->parents, (size_t)op->nparents * MS_HASH_LEN);
	op->parents = p;
	p += (size_t)op->nparents * MS_HASH_LEN;
	ms_put_le16(p, op->key_len);
	p += 2;
	memmove(p, op->key, op->key_len);
	op->key = p;
	p += op->key_len;
	ms_put_le32(p, op->value_len);
	p += 4;
	if (op->value_len > 0)
		memmove(p, op->value, op->value_len);
	op->value = p;
	p += op->value_len;

	ms_op_sig_digest(op, netid, digest);
	ms_sign(id, p, digest, sizeof digest);
	op->sig = p;
	*out_len = need;
	return MS_OK;
}
