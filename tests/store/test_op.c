/*
 * test_op.c — the op record: known-answer encoding, round trip, canonical
 * form, every decoder rejection with its exact reason, and tamper detection
 * at every byte.
 *
 * The known-answer encoding and id were computed independently of this code
 * (Python: struct + hashlib.blake2b + pyca/cryptography Ed25519) from the
 * layout in op.h, so they pin the format itself.
 */
#include <stdint.h>

#include "crypto.h"
#include "hlc.h"
#include "ms_test.h"
#include "op.h"

/* Network key 00 01 .. 1f (the crypto suite pins its id). */
#define NK_TEXT \
	"msnet1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* Seed 0x42 x 32; PUT, user priority, seq 7, hlc (1700000000000 ms, ctr 3),
 * parents 0x11.. and 0x22.., key "greeting", value "hello". */
#define KAT_PK \
	"2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12"
#define KAT_LEN 199
#define KAT_ENC                                                                    \
	"0101002152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db1207" \
	"0000000000000003000068e5cf8b01021111111111111111111111111111111111111111" \
	"111111111111111111111111222222222222222222222222222222222222222222222222" \
	"222222222222222208006772656574696e670500000068656c6c6f392464245bdb1ac22f" \
	"33aa469535aa04758fb030df5a1184c9b94b52a0a77d072afd5f4a61f6d5550f84d658f0" \
	"72b59839a7370a48b8578d741767750d57da09"
#define KAT_ID \
	"0931f649edea2afc42caa23555a0696a76c663343475140e67789826a5ccfbb0"

static ms_identity *g_id;
static uint8_t g_netid[MS_NETID_LEN];
static uint8_t g_parents[MS_OP_MAX_PARENTS + 1][MS_HASH_LEN]; /* ascending */

static void setup(void)
{
	ms_netkey *nk = NULL;
	ms_errbuf eb;

	g_id = ms_test_identity(0x42);
	MS_PASS_EB(ms_netkey_from_text(&nk, NK_TEXT, &eb), &eb);
	ms_netkey_id(nk, g_netid);
	ms_netkey_free(&nk);
	for (size_t i = 0; i < MS_OP_MAX_PARENTS + 1; i++) {
		memset(g_parents[i], (int)(i + 1), MS_HASH_LEN);
		g_parents[i][0] = (uint8_t)
			i; /* strictly ascending by first byte */
	}
}

static void teardown(void)
{
	ms_identity_free(&g_id);
}

/* An op template by the test identity; pointers refer to caller storage. */
static ms_op mkop(uint8_t type, const char *key, const void *value,
                  uint32_t vlen, uint8_t nparents)
{
	ms_op op;

	memset(&op, 0, sizeof op);
	op.type = type;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(g_id), MS_PK_LEN);
	op.seq = 1;
	op.hlc = MS_HLC_MAKE(1700000000000ull, 1);
	op.nparents = nparents;
	op.parents = nparents > 0 ? g_parents[0] : NULL;
	op.key_len = (uint16_t)strlen(key);
	op.key = (const uint8_t *)key;
	op.value_len = vlen;
	op.value = value;
	return op;
}

/* Encode op into a fresh malloc'd buffer; *len gets its size. */
static uint8_t *encode(ms_op *op, size_t *len)
{
	size_t cap = ms_op_encoded_len(op);
	uint8_t *buf = malloc(cap);
	ms_errbuf eb;

	ck_assert_ptr_nonnull(buf);
	MS_PASS_EB(ms_op_sign_encode(op, g_id, g_netid, buf, cap, len, &eb),
	           &eb);
	ck_assert_uint_eq(*len, cap);
	return buf;
}

static void assert_reason(const uint8_t *buf, size_t len, uint32_t max_value,
                          ms_op_reason want)
{
	ms_op op;
	ms_op_reason r = ms_op_decode(&op, buf, len, max_value);

	ck_assert_msg(r == want, "decode gave %s, want %s",
	              ms_op_reason_name(r), ms_op_reason_name(want));
}

/* --- known answer ------------------------------------------------------- */

START_TEST(t_op_kat)
{
	static const uint8_t key[] = "greeting";
	uint8_t parents[2][MS_HASH_LEN];
	uint8_t want[KAT_LEN];
	uint8_t buf[KAT_LEN];
	uint8_t id[MS_HASH_LEN];
	char hex[2 * MS_HASH_LEN + 1];
	ms_op op, dec;
	size_t len = 0;
	ms_errbuf eb;

	ck_assert_int_eq(ms_unhex(want, sizeof want, KAT_ENC), 0);
	ms_hex(hex, ms_identity_pk(g_id), MS_PK_LEN);
	ck_assert_str_eq(hex, KAT_PK);

	memset(parents[0], 0x11, MS_HASH_LEN);
	memset(parents[1], 0x22, MS_HASH_LEN);
	memset(&op, 0, sizeof op);
	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(g_id), MS_PK_LEN);
	op.seq = 7;
	op.hlc = (1700000000000ull << 16) | 3;
	op.nparents = 2;
	op.parents = parents[0];
	op.key_len = 8;
	op.key = key;
	op.value_len = 5;
	op.value = (const uint8_t *)"hello";
	ck_assert_uint_eq(ms_op_encoded_len(&op), KAT_LEN);
	MS_PASS_EB(ms_op_sign_encode(&op, g_id, g_netid, buf, sizeof buf, &len,
	                             &eb),
	           &eb);
	ck_assert_uint_eq(len, KAT_LEN);
	ck_assert_mem_eq(buf, want, KAT_LEN);
	ms_op_id(id, buf, len);
	ms_hex(hex, id, sizeof id);
	ck_assert_str_eq(hex, KAT_ID);

	/* After encoding, the op's pointers refer into buf. */
	ck_assert_uint_eq(op.version, MS_OP_VERSION);
	ck_assert_ptr_eq(op.parents, buf + 52);
	ck_assert_ptr_eq(op.key, buf + 52 + 64 + 2);
	ck_assert_ptr_eq(op.value, buf + 52 + 64 + 2 + 8 + 4);
	ck_assert_ptr_eq(op.sig, buf + KAT_LEN - MS_SIG_LEN);

	ck_assert_int_eq(ms_op_decode(&dec, want, sizeof want, 0), MS_OPR_OK);
	ck_assert_int_eq(ms_op_verify(&dec, g_netid), MS_OPR_OK);
	ck_assert_uint_eq(dec.seq, 7);
	ck_assert_uint_eq(dec.hlc, (1700000000000ull << 16) | 3);
	ck_assert_uint_eq(dec.nparents, 2);
	ck_assert_mem_eq(dec.parents, parents, sizeof parents);
	ck_assert_uint_eq(dec.key_len, 8);
	ck_assert_mem_eq(dec.key, "greeting", 8);
	ck_assert_uint_eq(dec.value_len, 5);
	ck_assert_mem_eq(dec.value, "hello", 5);
}
END_TEST

/* --- round trip and canonical form -------------------------------------- */

static void roundtrip(ms_op *in, uint32_t max_value)
{
	ms_op orig = *in;
	ms_op dec, again;
	size_t len = 0, len2 = 0;
	uint8_t *buf = encode(in, &len);
	uint8_t *buf2 = malloc(len);

	ck_assert_ptr_nonnull(buf2);
	ck_assert_int_eq(ms_op_decode(&dec, buf, len, max_value), MS_OPR_OK);
	ck_assert_int_eq(ms_op_verify(&dec, g_netid), MS_OPR_OK);
	ck_assert_uint_eq(ms_op_encoded_len(&dec), len);
	ck_assert_uint_eq(dec.version, MS_OP_VERSION);
	ck_assert_uint_eq(dec.type, orig.type);
	ck_assert_uint_eq(dec.priority, orig.priority);
	ck_assert_mem_eq(dec.author, orig.author, MS_PK_LEN);
	ck_assert_uint_eq(dec.seq, orig.seq);
	ck_assert_uint_eq(dec.hlc, orig.hlc);
	ck_assert_uint_eq(dec.nparents, orig.nparents);
	if (orig.nparents > 0)
		ck_assert_mem_eq(dec.parents, orig.parents,
		                 (size_t)orig.nparents * MS_HASH_LEN);
	ck_assert_uint_eq(dec.key_len, orig.key_len);
	ck_assert_mem_eq(dec.key, orig.key, orig.key_len);
	ck_assert_uint_eq(dec.value_len, orig.value_len);
	if (orig.value_len > 0)
		ck_assert_mem_eq(dec.value, orig.value, orig.value_len);
	ck_assert_ptr_eq(dec.sig, buf + len - MS_SIG_LEN);

	/* Canonical: encoding what was decoded gives the same bytes. */
	again = dec;
	MS_PASS(ms_op_sign_encode(&again, g_id, g_netid, buf2, len, &len2,
	                          NULL));
	ck_assert_uint_eq(len2, len);
	ck_assert_mem_eq(buf2, buf, len);
	free(buf2);
	free(buf);
}

START_TEST(t_op_roundtrip)
{
	static uint8_t big[200000];
	static char longkey[MS_OP_MAX_KEY + 1];
	ms_op op;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	memset(longkey, 'k', MS_OP_MAX_KEY);

	op = mkop(MS_OP_PUT, "a", "v", 1, 0);
	roundtrip(&op, 0);
	op = mkop(MS_OP_PUT, "empty-value", NULL, 0, 1);
	roundtrip(&op, 0);
	op = mkop(MS_OP_DEL, "gone", NULL, 0, 3);
	roundtrip(&op, 0);
	op = mkop(MS_OP_PUT, longkey, big, sizeof big, MS_OP_MAX_PARENTS);
	op.priority = MS_PRIO_BACKGROUND;
	op.seq = UINT64_MAX;
	op.hlc = UINT64_MAX;
	roundtrip(&op, sizeof big);
	op = mkop(MS_OP_PUT, "bin\001\000key", big, 1000, 2);
	op.key_len = 8; /* keys are bytes: an embedded NUL is part of it */
	roundtrip(&op, 1000);
}
END_TEST

START_TEST(t_op_value_limit)
{
	/* Exactly the limit passes, one more byte does not; 0 = 1 MiB. */
	uint8_t *val = calloc(1, MS_OP_DEFAULT_MAX_VALUE + 1);
	uint8_t *buf;
	ms_op op;
	size_t len;

	ck_assert_ptr_nonnull(val);
	op = mkop(MS_OP_PUT, "big", val, MS_OP_DEFAULT_MAX_VALUE, 0);
	buf = encode(&op, &len);
	assert_reason(buf, len, 0, MS_OPR_OK);
	assert_reason(buf, len, MS_OP_DEFAULT_MAX_VALUE, MS_OPR_OK);
	assert_reason(buf, len, MS_OP_DEFAULT_MAX_VALUE - 1, MS_OPR_VALUE_LEN);
	free(buf);
	op = mkop(MS_OP_PUT, "big", val, MS_OP_DEFAULT_MAX_VALUE + 1, 0);
	buf = encode(&op, &len);
	assert_reason(buf, len, 0, MS_OPR_VALUE_LEN);
	assert_reason(buf, len, MS_OP_DEFAULT_MAX_VALUE + 1, MS_OPR_OK);
	free(buf);
	/* A small configured maximum. */
	op = mkop(MS_OP_PUT, "k", val, 100, 0);
	buf = encode(&op, &len);
	assert_reason(buf, len, 100, MS_OPR_OK);
	assert_reason(buf, len, 99, MS_OPR_VALUE_LEN);
	assert_reason(buf, len, 1, MS_OPR_VALUE_LEN);
	free(buf);
	free(val);
}
END_TEST

/* --- every rejection ---------------------------------------------------- */

START_TEST(t_op_truncated_every_length)
{
	ms_op ops[3];
	uint8_t val[300];

	memset(val, 0xab, sizeof val);
	ops[0] = mkop(MS_OP_PUT, "greeting", "hello", 5, 2);
	ops[1] = mkop(MS_OP_DEL, "k", NULL, 0, 0);
	ops[2] = mkop(MS_OP_PUT, "some/longer/key", val, sizeof val, 5);
	for (size_t k = 0; k < 3; k++) {
		size_t len;
		uint8_t *buf = encode(&ops[k], &len);

		for (size_t cut = 0; cut < len; cut++) {
			/* A copy of exactly cut bytes, so ASan sees any overread. */
			uint8_t *part = malloc(cut > 0 ? cut : 1);
			ms_op op;
			ms_op_reason r;

			if (part == NULL)
				ck_abort_msg("out of memory");
			memcpy(part, buf, cut);
			r = ms_op_decode(&op, part, cut, 0);
			if (r != MS_OPR_TRUNCATED)
				ck_abort_msg("op %zu cut at %zu/%zu: %s", k,
				             cut, len, ms_op_reason_name(r));
			free(part);
		}
		assert_reason(buf, len, 0, MS_OPR_OK);
		free(buf);
	}
}
END_TEST

START_TEST(t_op_bad_header_fields)
{
	ms_op op = mkop(MS_OP_PUT, "greeting", "hello", 5, 2);
	size_t len;
	uint8_t *buf = encode(&op, &len);
	static const uint8_t bad_version[] = {0, 2, 0x81, 0xff};
	static const uint8_t bad_type[] = {0, 3, 4, 0x80, 0xff};
	static const uint8_t bad_prio[] = {2, 3, 0x80, 0xff};

	for (size_t i = 0; i < sizeof bad_version; i++) {
		buf[0] = bad_version[i];
		assert_reason(buf, len, 0, MS_OPR_VERSION);
		assert_reason(buf, 1, 0,
		              MS_OPR_VERSION); /* even when cut short */
	}
	buf[0] = MS_OP_VERSION;
	for (size_t i = 0; i < sizeof bad_type; i++) {
		buf[1] = bad_type[i];
		assert_reason(buf, len, 0, MS_OPR_TYPE);
	}
	buf[1] = MS_OP_PUT;
	for (size_t i = 0; i < sizeof bad_prio; i++) {
		buf[2] = bad_prio[i];
		assert_reason(buf, len, 0, MS_OPR_PRIORITY);
	}
	buf[2] =
		MS_PRIO_BACKGROUND; /* valid, though no longer what was signed */
	assert_reason(buf, len, 0, MS_OPR_OK);
	buf[2] = MS_PRIO_USER;

	/* seq 0 (u64 LE at offset 35). */
	memset(buf + 35, 0, 8);
	assert_reason(buf, len, 0, MS_OPR_SEQ);
	buf[35] = 1;
	assert_reason(buf, len, 0, MS_OPR_OK);
	free(buf);
}
END_TEST

START_TEST(t_op_bad_parents)
{
	ms_op op = mkop(MS_OP_PUT, "greeting", "hello", 5, 3);
	size_t len;
	uint8_t *buf = encode(&op, &len);
	uint8_t *p0 = buf + 52, *p1 = buf + 52 + 32, *p2 = buf + 52 + 64;
	uint8_t tmp[MS_HASH_LEN];

	/* Count over the maximum is reported before the missing bytes. */
	buf[51] = MS_OP_MAX_PARENTS + 1;
	assert_reason(buf, len, 0, MS_OPR_PARENT_COUNT);
	buf[51] = 0xff;
	assert_reason(buf, len, 0, MS_OPR_PARENT_COUNT);
	buf[51] = 3;
	assert_reason(buf, len, 0, MS_OPR_OK);

	/* Unsorted: swap the first two. */
	memcpy(tmp, p0, sizeof tmp);
	memcpy(p0, p1, sizeof tmp);
	memcpy(p1, tmp, sizeof tmp);
	assert_reason(buf, len, 0, MS_OPR_PARENT_ORDER);
	memcpy(p1, p0, sizeof tmp);
	memcpy(p0, tmp, sizeof tmp);
	assert_reason(buf, len, 0, MS_OPR_OK);
	/* Duplicated, adjacent: the last equals the middle one. */
	memcpy(tmp, p2, sizeof tmp);
	memcpy(p2, p1, sizeof tmp);
	assert_reason(buf, len, 0, MS_OPR_PARENT_ORDER);
	memcpy(p2, tmp, sizeof tmp);
	/* Differ only in the last byte, wrong way round. */
	memcpy(p1, p0, sizeof tmp);
	p0[31] = 9;
	p1[31] = 8;
	assert_reason(buf, len, 0, MS_OPR_PARENT_ORDER);
	free(buf);
}
END_TEST

/* Append little-endian integers and bytes to a hand-built encoding. */
struct wbuf {
	uint8_t *b;
	size_t n;
};

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w_le(struct wbuf *w, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

/* A hand-built op with arbitrary lengths (the encoder would refuse them). */
static size_t handbuild(uint8_t *out, uint8_t type, uint16_t key_len,
                        size_t key_bytes, uint32_t value_len,
                        size_t value_bytes)
{
	struct wbuf w = {out, 0};
	uint8_t sig[MS_SIG_LEN] = {0};

	w_le(&w, MS_OP_VERSION, 1);
	w_le(&w, type, 1);
	w_le(&w, MS_PRIO_USER, 1);
	w_bytes(&w, ms_identity_pk(g_id), MS_PK_LEN);
	w_le(&w, 1, 8);
	w_le(&w, 1, 8);
	w_le(&w, 0, 1);
	w_le(&w, key_len, 2);
	memset(out + w.n, 'k', key_bytes);
	w.n += key_bytes;
	w_le(&w, value_len, 4);
	memset(out + w.n, 'v', value_bytes);
	w.n += value_bytes;
	w_bytes(&w, sig, sizeof sig);
	return w.n;
}

START_TEST(t_op_bad_key_value)
{
	static uint8_t buf[2 * 65536 + 256];
	size_t n;

	/* Well-formed hand-built ops decode (the builder itself is right). */
	n = handbuild(buf, MS_OP_PUT, 3, 3, 2, 2);
	assert_reason(buf, n, 0, MS_OPR_OK);
	n = handbuild(buf, MS_OP_PUT, MS_OP_MAX_KEY, MS_OP_MAX_KEY, 0, 0);
	assert_reason(buf, n, 0, MS_OPR_OK);

	/* Empty key. */
	n = handbuild(buf, MS_OP_PUT, 0, 0, 2, 2);
	assert_reason(buf, n, 0, MS_OPR_KEY_LEN);
	/* Oversize key, with all its bytes present. */
	n = handbuild(buf, MS_OP_PUT, MS_OP_MAX_KEY + 1, MS_OP_MAX_KEY + 1, 2,
	              2);
	assert_reason(buf, n, 0, MS_OPR_KEY_LEN);
	n = handbuild(buf, MS_OP_PUT, 0xffff, 0xffff, 0, 0);
	assert_reason(buf, n, 0, MS_OPR_KEY_LEN);
	/* Oversize key claimed by a short buffer: the length is the reason. */
	n = handbuild(buf, MS_OP_PUT, 5000, 10, 0, 0);
	assert_reason(buf, n, 0, MS_OPR_KEY_LEN);

	/* Oversize value against the max_value argument. */
	n = handbuild(buf, MS_OP_PUT, 1, 1, 50, 50);
	assert_reason(buf, n, 50, MS_OPR_OK);
	assert_reason(buf, n, 49, MS_OPR_VALUE_LEN);
	/* A huge claimed value in a small buffer is oversize, not a read. */
	n = handbuild(buf, MS_OP_PUT, 1, 1, UINT32_MAX, 0);
	assert_reason(buf, n, 0, MS_OPR_VALUE_LEN);
	assert_reason(buf, n, UINT32_MAX, MS_OPR_TRUNCATED);

	/* DEL with a value; DEL without is fine. */
	n = handbuild(buf, MS_OP_DEL, 1, 1, 1, 1);
	assert_reason(buf, n, 0, MS_OPR_DEL_VALUE);
	n = handbuild(buf, MS_OP_DEL, 1, 1, 0, 0);
	assert_reason(buf, n, 0, MS_OPR_OK);
}
END_TEST

START_TEST(t_op_trailing)
{
	ms_op op = mkop(MS_OP_PUT, "greeting", "hello", 5, 1);
	size_t len;
	uint8_t *buf = encode(&op, &len);
	uint8_t *longer = calloc(1, len + MS_SIG_LEN);

	ck_assert_ptr_nonnull(longer);
	memcpy(longer, buf, len);
	assert_reason(longer, len, 0, MS_OPR_OK);
	assert_reason(longer, len + 1, 0, MS_OPR_TRAILING);
	assert_reason(longer, len + MS_SIG_LEN, 0, MS_OPR_TRAILING);
	free(longer);
	free(buf);
}
END_TEST

START_TEST(t_op_reason_names)
{
	static const struct {
		ms_op_reason r;
		const char *name;
	} want[] = {
		{MS_OPR_OK, "ok"},
		{MS_OPR_TRUNCATED, "truncated"},
		{MS_OPR_VERSION, "bad_version"},
		{MS_OPR_TYPE, "bad_type"},
		{MS_OPR_PRIORITY, "bad_priority"},
		{MS_OPR_SEQ, "bad_seq"},
		{MS_OPR_PARENT_COUNT, "too_many_parents"},
		{MS_OPR_PARENT_ORDER, "parents_unsorted"},
		{MS_OPR_KEY_LEN, "bad_key_len"},
		{MS_OPR_VALUE_LEN, "value_too_large"},
		{MS_OPR_DEL_VALUE, "del_with_value"},
		{MS_OPR_TRAILING, "trailing_bytes"},
		{MS_OPR_SIGNATURE, "bad_signature"},
	};

	ck_assert_uint_eq(sizeof want / sizeof want[0], MS_OPR_COUNT_);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_str_eq(ms_op_reason_name(want[i].r), want[i].name);
	ck_assert_str_eq(ms_op_reason_name(MS_OPR_COUNT_), "unknown");
	ck_assert_str_eq(ms_op_reason_name((ms_op_reason)-1), "unknown");
}
END_TEST

/* --- the encoder refuses what the decoder would ------------------------- */

START_TEST(t_op_encode_invalid)
{
	uint8_t buf[4096];
	uint8_t unsorted[2][MS_HASH_LEN];
	uint8_t other_pk[MS_PK_LEN];
	ms_op op;
	size_t len = 0;
	ms_errbuf eb;
	static char longkey[MS_OP_MAX_KEY + 2];

	memset(longkey, 'k', MS_OP_MAX_KEY + 1);
#define EXPECT_EINVAL(why)                                                     \
	do {                                                                   \
		ms_errbuf_clear(&eb);                                          \
		MS_FAIL(ms_op_sign_encode(&op, g_id, g_netid, buf, sizeof buf, \
		                          &len, &eb),                          \
		        MS_EINVAL);                                            \
		ck_assert_msg(strstr(eb.msg, (why)) != NULL,                   \
		              "\"%s\" lacks \"%s\"", eb.msg, (why));           \
	} while (0)

	op = mkop(0, "k", "v", 1, 0);
	EXPECT_EINVAL("unknown type");
	op = mkop(3, "k", "v", 1, 0);
	EXPECT_EINVAL("unknown type");
	op = mkop(MS_OP_PUT, "k", "v", 1, 0);
	op.priority = 2;
	EXPECT_EINVAL("unknown priority");
	op = mkop(MS_OP_PUT, "k", "v", 1, 0);
	op.seq = 0;
	EXPECT_EINVAL("seq");
	op = mkop(MS_OP_PUT, "k", "v", 1, MS_OP_MAX_PARENTS + 1);
	EXPECT_EINVAL("65 parents");
	op = mkop(MS_OP_PUT, "k", "v", 1, 2);
	memcpy(unsorted[0], g_parents[1], MS_HASH_LEN);
	memcpy(unsorted[1], g_parents[0], MS_HASH_LEN);
	op.parents = unsorted[0];
	EXPECT_EINVAL("sorted");
	memcpy(unsorted[1], g_parents[1], MS_HASH_LEN);
	EXPECT_EINVAL("without duplicates");
	op = mkop(MS_OP_PUT, "", "v", 1, 0);
	EXPECT_EINVAL("key of 0 bytes");
	op = mkop(MS_OP_PUT, longkey, "v", 1, 0);
	EXPECT_EINVAL("key of 1025 bytes");
	op = mkop(MS_OP_DEL, "k", "v", 1, 0);
	EXPECT_EINVAL("delete carries no value");
	op = mkop(MS_OP_PUT, "k", "v", 1, 0);
	memset(other_pk, 7, sizeof other_pk);
	memcpy(op.author, other_pk, MS_PK_LEN);
	EXPECT_EINVAL("author is not the signing identity");
	op = mkop(MS_OP_PUT, "k", "v", 1, 0);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_op_sign_encode(&op, g_id, g_netid, buf,
	                          ms_op_encoded_len(&op) - 1, &len, &eb),
	        MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(eb.msg, "buffer"));
	MS_PASS(ms_op_sign_encode(&op, g_id, g_netid, buf,
	                          ms_op_encoded_len(&op), &len, NULL));
#undef EXPECT_EINVAL
}
END_TEST

/* --- tampering ---------------------------------------------------------- */

START_TEST(t_op_flip_every_byte)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t val[40];
	ms_op op;
	size_t len;
	uint8_t *buf;
	uint8_t id[MS_HASH_LEN], id2[MS_HASH_LEN];
	unsigned decoded_ok = 0;

	for (size_t i = 0; i < sizeof val; i++)
		val[i] = (uint8_t)i;
	op = mkop(MS_OP_PUT, "some/key", val, sizeof val, 3);
	buf = encode(&op, &len);
	ms_op_id(id, buf, len);
	for (size_t pos = 0; pos < len; pos++) {
		for (size_t m = 0; m < sizeof masks; m++) {
			ms_op dec;
			ms_op_reason r;

			buf[pos] ^= masks[m];
			r = ms_op_decode(&dec, buf, len, 0);
			if (r == MS_OPR_OK) {
				decoded_ok++;
				if (ms_op_verify(&dec, g_netid) !=
				    MS_OPR_SIGNATURE)
					ck_abort_msg(
						"byte %zu ^ %02x still verifies",
						pos, masks[m]);
			}
			ms_op_id(id2, buf, len);
			if (memcmp(id, id2, sizeof id) == 0)
				ck_abort_msg("byte %zu ^ %02x keeps the id",
				             pos, masks[m]);
			buf[pos] ^= masks[m];
		}
	}
	/* Most flips land in bytes the decoder cannot judge (author, hlc,
	 * key, value, signature): the signature must have caught those. */
	ck_assert_uint_gt(decoded_ok, len);
	ck_assert_int_eq(ms_op_decode(&op, buf, len, 0), MS_OPR_OK);
	ck_assert_int_eq(ms_op_verify(&op, g_netid), MS_OPR_OK);
	free(buf);
}
END_TEST

START_TEST(t_op_wrong_network)
{
	ms_op op = mkop(MS_OP_PUT, "k", "v", 1, 0);
	size_t len;
	uint8_t *buf = encode(&op, &len);
	uint8_t other[MS_NETID_LEN];
	ms_op dec;

	ck_assert_int_eq(ms_op_decode(&dec, buf, len, 0), MS_OPR_OK);
	ck_assert_int_eq(ms_op_verify(&dec, g_netid), MS_OPR_OK);
	for (size_t i = 0; i < MS_NETID_LEN; i++) {
		memcpy(other, g_netid, sizeof other);
		other[i] ^= 0x01;
		ck_assert_int_eq(ms_op_verify(&dec, other), MS_OPR_SIGNATURE);
	}
	/* A struct altered after decoding does not verify either. */
	dec.seq++;
	ck_assert_int_eq(ms_op_verify(&dec, g_netid), MS_OPR_SIGNATURE);
	free(buf);
}
END_TEST

START_TEST(t_op_digest_layout)
{
	/* The digest is BLAKE2b-256("meshsync/op/v1\0" || netid || bytes before
	 * the signature), recomputed here from the buffer. */
	ms_op op = mkop(MS_OP_PUT, "greeting", "hello", 5, 2);
	size_t len;
	uint8_t *buf = encode(&op, &len);
	uint8_t *msg = malloc(15 + MS_NETID_LEN + len);
	uint8_t want[MS_HASH_LEN], got[MS_HASH_LEN];

	ck_assert_ptr_nonnull(msg);
	memcpy(msg, "meshsync/op/v1", 15); /* with its NUL */
	memcpy(msg + 15, g_netid, MS_NETID_LEN);
	memcpy(msg + 15 + MS_NETID_LEN, buf, len - MS_SIG_LEN);
	ms_hash(want, msg, 15 + MS_NETID_LEN + len - MS_SIG_LEN);
	ms_op_sig_digest(&op, g_netid, got);
	ck_assert_mem_eq(want, got, sizeof want);
	ck_assert_int_eq(ms_verify(op.author, buf + len - MS_SIG_LEN, want,
	                           sizeof want),
	                 1);
	free(msg);
	free(buf);
}
END_TEST

static Suite *op_suite(void)
{
	Suite *s = suite_create("op");
	TCase *tc = tcase_create("encoding");

	/* Generous: sanitizer builds on a busy two-core machine are slow. */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, t_op_kat);
	tcase_add_test(tc, t_op_roundtrip);
	tcase_add_test(tc, t_op_value_limit);
	tcase_add_test(tc, t_op_digest_layout);
	tcase_add_test(tc, t_op_encode_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("decoder");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, t_op_truncated_every_length);
	tcase_add_test(tc, t_op_bad_header_fields);
	tcase_add_test(tc, t_op_bad_parents);
	tcase_add_test(tc, t_op_bad_key_value);
	tcase_add_test(tc, t_op_trailing);
	tcase_add_test(tc, t_op_reason_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("tamper");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, t_op_flip_every_byte);
	tcase_add_test(tc, t_op_wrong_network);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ms_crypto_init(NULL) != MS_OK) {
		fprintf(stderr, "test_op: libsodium failed to initialise\n");
		return EXIT_FAILURE;
	}
	return ms_test_run(op_suite());
}
