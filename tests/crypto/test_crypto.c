/*
 * test_crypto.c — the crypto module: known-answer vectors for every
 * construction, signing, key files and their permission rules, the network
 * key's text form, and the Curve25519 conversions.
 *
 * The expected values were computed independently of this code (RFC 8032
 * test 1 for Ed25519; Python hashlib + pyca/cryptography for the BLAKE2b
 * derivations and the Curve25519 keys), so they pin the constructions, not
 * just whatever the implementation happened to output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "ms_test.h"

/* RFC 8032, section 7.1, TEST 1. */
#define RFC_SEED \
	"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC_PK \
	"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC_SIG_EMPTY                                                                \
	"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590" \
	"a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
/* Ed25519 is deterministic: the same key signs "abc" to exactly this. */
#define RFC_SIG_ABC                                                                  \
	"80d724b01e7ca260f4cc7f8de7c95f73cfac615bab1f762b6435b6ec26c8cf6d2c758dae2f" \
	"87399a8eeda1cbcd2835ac5ba66d6ecaa3aba5e567a751053dc207"
/* The RFC key converted: u = (1+y)/(1-y); sk = clamp(SHA-512(seed)[0..32)). */
#define RFC_CURVE_PK \
	"d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e"
#define RFC_CURVE_SK \
	"307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f"

/* BLAKE2b-256("abc"). */
#define BLAKE_ABC \
	"bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"

/* Network key 00 01 02 .. 1f and what it derives. */
#define NK_TEXT \
	"msnet1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define NK_NETID \
	"dbc6b65249766381d27e582f23a192fe2e33f096a6ff02377c0ea94e56293cfe"
#define NK_LISTEN_SK \
	"b80d1c5f723b0a8291b53fd373a123ac1ea8462a06db5f50418342f9827ec74e"
#define NK_LISTEN_PK \
	"dbf346d3983a4cbd0aeceb2fbbfac64012e43ae803d7a71ee3c8f752dfe96158"

static void assert_hex(const uint8_t *bin, size_t len, const char *want)
{
	char got[2 * 64 + 1];

	ck_assert_uint_le(len, 64);
	ms_hex(got, bin, len);
	ck_assert_str_eq(got, want);
}

static ms_identity *rfc_identity(void)
{
	uint8_t seed[MS_SEED_LEN];
	ms_identity *id = NULL;
	ms_errbuf eb;

	ck_assert_int_eq(ms_unhex(seed, sizeof seed, RFC_SEED), 0);
	MS_PASS_EB(ms_identity_from_seed(&id, seed, &eb), &eb);
	return id;
}

/* The whole (small) file is exactly want. */
static void assert_file_is(const char *path, const char *want)
{
	char *content = ms_test_read_file(path, NULL);

	ck_assert_msg(content != NULL, "open %s: %s", path, strerror(errno));
	ck_assert_str_eq(content, want);
	free(content);
}

/* --- hashing ------------------------------------------------------------ */

START_TEST(t_hash_kat)
{
	uint8_t h[MS_HASH_LEN], h2[MS_HASH_LEN];
	ms_hash_state st;

	MS_PASS(ms_crypto_init(NULL));
	ms_hash(h, "abc", 3);
	assert_hex(h, sizeof h, BLAKE_ABC);
	/* Incremental in uneven pieces gives the same digest. */
	ms_hash_init(&st);
	ms_hash_update(&st, "a", 1);
	ms_hash_update(&st, "", 0);
	ms_hash_update(&st, "bc", 2);
	ms_hash_final(&st, h2);
	ck_assert_mem_eq(h, h2, sizeof h);
}
END_TEST

/* --- signing ------------------------------------------------------------ */

START_TEST(t_sign_kat)
{
	ms_identity *id = rfc_identity();
	uint8_t sig[MS_SIG_LEN];

	assert_hex(ms_identity_pk(id), MS_PK_LEN, RFC_PK);
	ms_sign(id, sig, "", 0);
	assert_hex(sig, sizeof sig, RFC_SIG_EMPTY);
	ck_assert_int_eq(ms_verify(ms_identity_pk(id), sig, "", 0), 1);
	ms_sign(id, sig, "abc", 3);
	assert_hex(sig, sizeof sig, RFC_SIG_ABC);
	ck_assert_int_eq(ms_verify(ms_identity_pk(id), sig, "abc", 3), 1);
	ms_identity_free(&id);
	ck_assert_ptr_null(id);
	ms_identity_free(&id); /* NULL is accepted */
}
END_TEST

START_TEST(t_sign_flip_fails)
{
	ms_identity *id = NULL;
	ms_identity *other = NULL;
	uint8_t msg[100];
	uint8_t sig[MS_SIG_LEN];
	uint8_t pk[MS_PK_LEN];
	ms_errbuf eb;

	MS_PASS_EB(ms_identity_generate(&id, &eb), &eb);
	MS_PASS_EB(ms_identity_generate(&other, &eb), &eb);
	ck_assert_mem_ne(ms_identity_pk(id), ms_identity_pk(other), MS_PK_LEN);
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	ms_sign(id, sig, msg, sizeof msg);
	ck_assert_int_eq(ms_verify(ms_identity_pk(id), sig, msg, sizeof msg),
	                 1);
	ck_assert_int_eq(ms_verify(ms_identity_pk(other), sig, msg, sizeof msg),
	                 0);
	for (size_t i = 0; i < sizeof sig; i++) {
		sig[i] ^= 0x01;
		ck_assert_int_eq(ms_verify(ms_identity_pk(id), sig, msg,
		                           sizeof msg),
		                 0);
		sig[i] ^= 0x01;
	}
	for (size_t i = 0; i < sizeof msg; i++) {
		msg[i] ^= 0x80;
		ck_assert_int_eq(ms_verify(ms_identity_pk(id), sig, msg,
		                           sizeof msg),
		                 0);
		msg[i] ^= 0x80;
	}
	memcpy(pk, ms_identity_pk(id), sizeof pk);
	for (size_t i = 0; i < sizeof pk; i++) {
		pk[i] ^= 0x10;
		ck_assert_int_eq(ms_verify(pk, sig, msg, sizeof msg), 0);
		pk[i] ^= 0x10;
	}
	ck_assert_int_eq(ms_verify(pk, sig, msg, sizeof msg), 1);
	ms_identity_free(&id);
	ms_identity_free(&other);
}
END_TEST

/* --- Curve25519 --------------------------------------------------------- */

START_TEST(t_curve_kat)
{
	ms_identity *id = rfc_identity();
	uint8_t pk[MS_CURVE_LEN], sk[MS_CURVE_LEN], pk2[MS_CURVE_LEN];
	ms_errbuf eb;

	MS_PASS_EB(ms_identity_curve_keypair(id, pk, sk, &eb), &eb);
	assert_hex(pk, sizeof pk, RFC_CURVE_PK);
	assert_hex(sk, sizeof sk, RFC_CURVE_SK);
	MS_PASS_EB(ms_ed25519_pk_to_curve(pk2, ms_identity_pk(id), &eb), &eb);
	ck_assert_mem_eq(pk, pk2, sizeof pk);
	ms_identity_free(&id);
}
END_TEST

START_TEST(t_curve_consistent)
{
	/* For fresh identities: the converted secret's public point is the
	 * converted public key, which is what makes a CURVE client key name
	 * its Ed25519 node id. */
	for (int i = 0; i < 20; i++) {
		ms_identity *id = NULL;
		uint8_t pk[MS_CURVE_LEN], sk[MS_CURVE_LEN], base[MS_CURVE_LEN];
		uint8_t seen[MS_CURVE_LEN];
		ms_errbuf eb;

		MS_PASS_EB(ms_identity_generate(&id, &eb), &eb);
		MS_PASS_EB(ms_identity_curve_keypair(id, pk, sk, &eb), &eb);
		ck_assert_int_eq(crypto_scalarmult_base(base, sk), 0);
		ck_assert_mem_eq(base, pk, sizeof pk);
		MS_PASS_EB(ms_ed25519_pk_to_curve(seen, ms_identity_pk(id),
		                                  &eb),
		           &eb);
		ck_assert_mem_eq(seen, pk, sizeof pk);
		sodium_memzero(sk, sizeof sk);
		ms_identity_free(&id);
	}
}
END_TEST

START_TEST(t_curve_bad_pk)
{
	/* Small-order points are not identities; they must be refused. */
	uint8_t zero[MS_PK_LEN] = {0};
	uint8_t ident[MS_PK_LEN] = {1};
	uint8_t out[MS_CURVE_LEN];
	ms_errbuf eb;

	ms_errbuf_clear(&eb);
	MS_FAIL(ms_ed25519_pk_to_curve(out, zero, &eb), MS_ECRYPTO);
	ck_assert_ptr_nonnull(strstr(eb.msg, "not a valid Ed25519 public key"));
	MS_FAIL(ms_ed25519_pk_to_curve(out, ident, NULL), MS_ECRYPTO);
}
END_TEST

/* --- network key -------------------------------------------------------- */

START_TEST(t_netkey_kat)
{
	ms_netkey *nk = NULL;
	uint8_t netid[MS_NETID_LEN], pk[MS_CURVE_LEN], sk[MS_CURVE_LEN];
	uint8_t base[MS_CURVE_LEN];
	char text[MS_NETKEY_TEXT_LEN];
	ms_errbuf eb;

	MS_PASS_EB(ms_netkey_from_text(&nk, NK_TEXT, &eb), &eb);
	ms_netkey_id(nk, netid);
	assert_hex(netid, sizeof netid, NK_NETID);
	ms_netkey_listen_keypair(nk, pk, sk);
	assert_hex(pk, sizeof pk, NK_LISTEN_PK);
	assert_hex(sk, sizeof sk, NK_LISTEN_SK);
	ck_assert_int_eq(crypto_scalarmult_base(base, sk), 0);
	ck_assert_mem_eq(base, pk, sizeof pk);
	ms_netkey_to_text(nk, text);
	ck_assert_str_eq(text, NK_TEXT);
	ms_netkey_free(&nk);
	ck_assert_ptr_null(nk);
	ms_netkey_free(&nk);
}
END_TEST

START_TEST(t_netkey_text_roundtrip)
{
	ms_netkey *a = NULL, *b = NULL, *c = NULL;
	uint8_t ida[MS_NETID_LEN], idb[MS_NETID_LEN], idc[MS_NETID_LEN];
	char text[MS_NETKEY_TEXT_LEN];
	char padded[MS_NETKEY_TEXT_LEN + 16];
	ms_errbuf eb;

	MS_PASS_EB(ms_netkey_generate(&a, &eb), &eb);
	ms_netkey_to_text(a, text);
	ck_assert_uint_eq(strlen(text), MS_NETKEY_TEXT_LEN - 1);
	ck_assert_int_eq(strncmp(text, "msnet1:", 7), 0);
	ck_assert_int_eq(text[MS_NETKEY_TEXT_LEN - 2], '\n');
	MS_PASS_EB(ms_netkey_from_text(&b, text, &eb), &eb);
	/* Surrounding whitespace (a pasted line, CRLF) is fine. */
	text[MS_NETKEY_TEXT_LEN - 2] = '\0';
	snprintf(padded, sizeof padded, " \t\r\n%s\r\n\n ", text);
	MS_PASS_EB(ms_netkey_from_text(&c, padded, &eb), &eb);
	ms_netkey_id(a, ida);
	ms_netkey_id(b, idb);
	ms_netkey_id(c, idc);
	ck_assert_mem_eq(ida, idb, sizeof ida);
	ck_assert_mem_eq(ida, idc, sizeof ida);
	ms_netkey_free(&a);
	ms_netkey_free(&b);
	ms_netkey_free(&c);
}
END_TEST

START_TEST(t_netkey_generate_distinct)
{
	ms_netkey *a = NULL, *b = NULL;
	uint8_t ida[MS_NETID_LEN], idb[MS_NETID_LEN];

	MS_PASS(ms_netkey_generate(&a, NULL));
	MS_PASS(ms_netkey_generate(&b, NULL));
	ms_netkey_id(a, ida);
	ms_netkey_id(b, idb);
	ck_assert_mem_ne(ida, idb, sizeof ida);
	ms_netkey_free(&a);
	ms_netkey_free(&b);
}
END_TEST

#define HEX64 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const struct {
	const char *text;
	const char *why; /* expected substring of the message */
} bad_netkeys[] = {
	{"", "empty"},
	{" \n\t ", "empty"},
	{"msnet1:", "expected 64 hex digits"},
	{"msnet1:" HEX64 "00", "found 66"},
	{"msnet1:"
         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
         "found 63"},
	{"msnet1:"
         "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
         "character 1 after"},
	{"msnet1: " HEX64, "character 1 after"},
	{"msnet1:" HEX64 " x", "is not a hex digit"},
	{"msnet1:" HEX64 "\nmsnet1:" HEX64, "is not a hex digit"},
	{"msid1:" HEX64, "node identity key, not a network key"},
	{"MSNET1:" HEX64, "does not start with \"msnet1:\""},
	{HEX64, "does not start with \"msnet1:\""},
	{"msnet2:" HEX64, "does not start with \"msnet1:\""},
};

START_TEST(t_netkey_text_malformed)
{
	ms_netkey *nk = NULL;
	ms_errbuf eb;

	for (size_t i = 0; i < sizeof bad_netkeys / sizeof bad_netkeys[0];
	     i++) {
		ms_errbuf_clear(&eb);
		ck_assert_msg(ms_netkey_from_text(&nk, bad_netkeys[i].text,
		                                  &eb) == MS_EINVAL,
		              "text %zu accepted", i);
		ck_assert_ptr_null(nk);
		ck_assert_int_eq(eb.code, MS_EINVAL);
		ck_assert_msg(strstr(eb.msg, bad_netkeys[i].why) != NULL,
		              "text %zu: message \"%s\" lacks \"%s\"", i,
		              eb.msg, bad_netkeys[i].why);
		ck_assert_msg(strncmp(eb.msg, "network key: ", 13) == 0, "%s",
		              eb.msg);
	}
}
END_TEST

START_TEST(t_hex_helpers)
{
	uint8_t b[4];
	char h[9];

	ck_assert_int_eq(ms_unhex(b, 4, "deadBEEF"), 0);
	ms_hex(h, b, 4);
	ck_assert_str_eq(h, "deadbeef");
	ck_assert_int_eq(ms_unhex(b, 4, "deadbee"), -1);
	ck_assert_int_eq(ms_unhex(b, 4, "deadbeef0"), -1);
	ck_assert_int_eq(ms_unhex(b, 4, "deadbeeg"), -1);
	ck_assert_int_eq(ms_unhex(b, 4, "dead beef"), -1);
	ck_assert_int_eq(ms_unhex(b, 4, ""), -1);
}
END_TEST

/* --- key files ---------------------------------------------------------- */

START_TEST(t_identity_file_roundtrip)
{
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	ms_identity *id = rfc_identity();
	ms_identity *back = NULL;
	uint8_t s1[MS_SIG_LEN], s2[MS_SIG_LEN];
	struct stat st;
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	MS_PASS_EB(ms_identity_save(id, path, &eb), &eb);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	assert_file_is(path, "msid1:" RFC_SEED "\n");

	MS_PASS_EB(ms_identity_load(&back, path, &eb), &eb);
	ck_assert_mem_eq(ms_identity_pk(back), ms_identity_pk(id), MS_PK_LEN);
	ms_sign(id, s1, "x", 1);
	ms_sign(back, s2, "x", 1);
	ck_assert_mem_eq(s1, s2, sizeof s1);

	ms_identity_free(&back);
	ms_identity_free(&id);
	free(path);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_netkey_file_roundtrip)
{
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_NETKEY_FILE);
	ms_netkey *nk = NULL, *back = NULL;
	uint8_t a[MS_NETID_LEN], b[MS_NETID_LEN];
	char text[MS_NETKEY_TEXT_LEN];
	struct stat st;
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	MS_PASS_EB(ms_netkey_generate(&nk, &eb), &eb);
	MS_PASS_EB(ms_netkey_save(nk, path, &eb), &eb);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ms_netkey_to_text(nk, text);
	assert_file_is(path, text);

	MS_PASS_EB(ms_netkey_load(&back, path, &eb), &eb);
	ms_netkey_id(nk, a);
	ms_netkey_id(back, b);
	ck_assert_mem_eq(a, b, sizeof a);
	ms_netkey_free(&back);
	/* The same file imported (what init --network-key does). */
	MS_PASS_EB(ms_netkey_import(&back, path, &eb), &eb);
	ms_netkey_id(back, b);
	ck_assert_mem_eq(a, b, sizeof a);

	ms_netkey_free(&back);
	ms_netkey_free(&nk);
	free(path);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_keyfile_no_overwrite)
{
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	char *npath = ms_test_pjoin(dir, MS_NETKEY_FILE);
	ms_identity *a = rfc_identity();
	ms_identity *b = NULL;
	ms_netkey *nk = NULL;
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	MS_PASS_EB(ms_identity_generate(&b, &eb), &eb);
	MS_PASS_EB(ms_identity_save(a, path, &eb), &eb);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_save(b, path, &eb), MS_EEXIST);
	ck_assert_ptr_nonnull(strstr(eb.msg, path));
	assert_file_is(path, "msid1:" RFC_SEED "\n");

	/* Nor is a network key written over an identity, or vice versa. */
	MS_PASS(ms_netkey_generate(&nk, NULL));
	MS_FAIL(ms_netkey_save(nk, path, NULL), MS_EEXIST);
	MS_PASS_EB(ms_netkey_save(nk, npath, &eb), &eb);
	MS_FAIL(ms_identity_save(a, npath, NULL), MS_EEXIST);
	assert_file_is(path, "msid1:" RFC_SEED "\n");

	ms_netkey_free(&nk);
	ms_identity_free(&a);
	ms_identity_free(&b);
	free(path);
	free(npath);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_keyfile_mode_refused)
{
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0606,
	                             0620, 0602, 0610, 0601, 0666};
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	char *npath = ms_test_pjoin(dir, MS_NETKEY_FILE);
	ms_identity *id = rfc_identity();
	ms_identity *back = NULL;
	ms_netkey *nk = NULL, *nback = NULL;
	char want[512];
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	MS_PASS(ms_identity_save(id, path, NULL));
	MS_PASS(ms_netkey_generate(&nk, NULL));
	MS_PASS(ms_netkey_save(nk, npath, NULL));

	/* The exact message an operator sees for the usual mistake. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_load(&back, path, &eb), MS_EPERM);
	ck_assert_ptr_null(back);
	snprintf(
		want, sizeof want,
		"load %s: file is readable by others (mode 0644); run: chmod 600 %s",
		path, path);
	ck_assert_str_eq(eb.msg, want);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char mode[16];

		snprintf(mode, sizeof mode, "(mode %04o)", (unsigned)bad[i]);
		ck_assert_int_eq(chmod(path, bad[i]), 0);
		ck_assert_int_eq(chmod(npath, bad[i]), 0);
		ms_errbuf_clear(&eb);
		MS_FAIL(ms_identity_load(&back, path, &eb), MS_EPERM);
		ck_assert_msg(strstr(eb.msg, mode) != NULL, "%s", eb.msg);
		ck_assert_msg(strstr(eb.msg, "chmod 600") != NULL, "%s",
		              eb.msg);
		ms_errbuf_clear(&eb);
		MS_FAIL(ms_netkey_load(&nback, npath, &eb), MS_EPERM);
		ck_assert_ptr_null(nback);
		ck_assert_msg(strstr(eb.msg, mode) != NULL, "%s", eb.msg);
		/* Importing a key a user hands over ignores its mode. */
		MS_PASS_EB(ms_netkey_import(&nback, npath, &eb), &eb);
		ms_netkey_free(&nback);
	}

	/* 0400 is stricter than 0600 and fine. */
	ck_assert_int_eq(chmod(path, 0400), 0);
	MS_PASS_EB(ms_identity_load(&back, path, &eb), &eb);
	ck_assert_mem_eq(ms_identity_pk(back), ms_identity_pk(id), MS_PK_LEN);

	ms_identity_free(&back);
	ms_identity_free(&id);
	ms_netkey_free(&nk);
	free(path);
	free(npath);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_keyfile_owner_refused)
{
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	ms_identity *id = rfc_identity();
	ms_identity *back = NULL;
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	MS_PASS(ms_identity_save(id, path, NULL));
	/* Only root can give a file away; as another user this case cannot
	 * be set up, and the rest of the suite still covers the modes. */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 12345, (gid_t)-1), 0);
		ms_errbuf_clear(&eb);
		MS_FAIL(ms_identity_load(&back, path, &eb), MS_EPERM);
		ck_assert_msg(strstr(eb.msg, "owned by uid 12345") != NULL,
		              "%s", eb.msg);
		ck_assert_ptr_null(back);
	}
	ms_identity_free(&id);
	free(path);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_keyfile_dir_refused)
{
	static const mode_t bad[] = {0755, 0750, 0705, 0711,
	                             0770, 0777, 0701, 0500};
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	ms_identity *id = rfc_identity();
	ms_netkey *nk = NULL;
	struct stat st;
	char want[512];
	ms_errbuf eb;

	MS_PASS(ms_netkey_generate(&nk, NULL));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_save(id, path, &eb), MS_EPERM);
	snprintf(
		want, sizeof want,
		"save %s: directory %s has mode 0755, must be 0700; run: chmod 700 %s",
		path, dir, dir);
	ck_assert_str_eq(eb.msg, want);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(chmod(dir, bad[i]), 0);
		MS_FAIL(ms_identity_save(id, path, NULL), MS_EPERM);
		MS_FAIL(ms_netkey_save(nk, path, NULL), MS_EPERM);
		ck_assert_int_eq(stat(path, &st), -1);
	}
	ck_assert_int_eq(chmod(dir, 0700), 0);
	MS_PASS(ms_identity_save(id, path, NULL));

	ms_netkey_free(&nk);
	ms_identity_free(&id);
	free(path);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_keyfile_missing)
{
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	char *deep = ms_test_pjoin(dir, "nosuchdir/" MS_IDENTITY_FILE);
	ms_identity *id = rfc_identity();
	ms_identity *back = NULL;
	ms_netkey *nk = NULL;
	ms_errbuf eb;

	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_load(&back, path, &eb), MS_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(eb.msg, path));
	MS_FAIL(ms_netkey_load(&nk, path, NULL), MS_ENOTFOUND);
	MS_FAIL(ms_netkey_import(&nk, path, NULL), MS_ENOTFOUND);
	MS_FAIL(ms_identity_save(id, deep, NULL), MS_ENOTFOUND);
	ck_assert_ptr_null(back);
	ck_assert_ptr_null(nk);
	ms_identity_free(&id);
	free(path);
	free(deep);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_keyfile_malformed)
{
	static const struct {
		const char *content;
		const char *why;
	} bad[] = {
		{"", "empty"},
		{"\n", "empty"},
		{"msid1:abc\n", "found 3"},
		{"msid1:" RFC_SEED "00\n", "found 66"},
		{"msid1:" RFC_SEED "\nmore\n", "not a hex digit"},
		{"msnet1:" HEX64 "\n", "network key, not a node identity key"},
		{"garbage\n", "does not start with \"msid1:\""},
		{"msid1:"
	         "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7fZZ\n",
	         "character 63 after"},
	};
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	ms_identity *back = NULL;
	ms_netkey *nk = NULL;
	char big[700];
	ms_errbuf eb;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ms_test_write_file(path, bad[i].content, 0600);
		ms_errbuf_clear(&eb);
		MS_FAIL(ms_identity_load(&back, path, &eb), MS_EINVAL);
		ck_assert_ptr_null(back);
		ck_assert_msg(strstr(eb.msg, bad[i].why) != NULL,
		              "case %zu: %s", i, eb.msg);
		ck_assert_msg(strstr(eb.msg, path) != NULL, "case %zu: %s", i,
		              eb.msg);
		unlink(path);
	}
	/* An identity file handed over as a network key is recognised. */
	ms_test_write_file(path, "msid1:" RFC_SEED "\n", 0600);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_netkey_import(&nk, path, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "node identity key, not a network key") !=
	                      NULL,
	              "%s", eb.msg);
	unlink(path);
	/* A large file is not read in full and not taken for a key. */
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ms_test_write_file(path, big, 0600);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_load(&back, path, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "too large") != NULL, "%s", eb.msg);
	MS_FAIL(ms_netkey_import(&nk, path, NULL), MS_EINVAL);
	unlink(path);
	/* A directory is not a key file. */
	ck_assert_int_eq(mkdir(path, 0700), 0);
	MS_FAIL(ms_identity_load(&back, path, NULL), MS_EINVAL);

	free(path);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(t_import_fd)
{
	int fds[2];
	ms_netkey *nk = NULL;
	uint8_t netid[MS_NETID_LEN];
	ms_errbuf eb;

	/* What meshsync-node does for --network-key -: the caller hands over
	 * the descriptor (stdin there, a pipe here); the library opens none. */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "  " NK_TEXT, strlen(NK_TEXT) + 2),
	                 (ssize_t)strlen(NK_TEXT) + 2);
	close(fds[1]);
	ms_errbuf_clear(&eb);
	MS_PASS_EB(ms_netkey_import_fd(&nk, fds[0], "network key from stdin",
	                               &eb),
	           &eb);
	ms_netkey_id(nk, netid);
	assert_hex(netid, sizeof netid, NK_NETID);
	ms_netkey_free(&nk);
	close(fds[0]);

	/* A bad key names its source. */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "garbage\n", 8), 8);
	close(fds[1]);
	MS_FAIL(ms_netkey_import_fd(&nk, fds[0], "network key from stdin", &eb),
	        MS_EINVAL);
	ck_assert_ptr_null(nk);
	ck_assert_str_eq(eb.msg,
	                 "load network key from stdin: does not start with "
	                 "\"msnet1:\"");
	close(fds[0]);
	MS_FAIL(ms_netkey_import_fd(&nk, -1, "x", NULL), MS_EINVAL);
}
END_TEST

/* A FIFO where a key file belongs: refused at once with a clear error
 * (before O_NONBLOCK, open() waited for a writer that never comes). */
START_TEST(t_keyfile_fifo_refused)
{
	char *dir = ms_test_tmpdir("crypto");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	char *npath = ms_test_pjoin(dir, MS_NETKEY_FILE);
	ms_identity *back = NULL;
	ms_netkey *nk = NULL;
	uint64_t t0 = ms_test_now_ms();
	char want[512];
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(mkfifo(npath, 0600), 0);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_load(&back, path, &eb), MS_EINVAL);
	snprintf(want, sizeof want,
	         "load %s: is a FIFO; a key file must be a regular file", path);
	ck_assert_str_eq(eb.msg, want);
	ck_assert_ptr_null(back);
	MS_FAIL(ms_netkey_load(&nk, npath, NULL), MS_EINVAL);
	/* import, too: a FIFO is no key file, whoever hands it to us */
	MS_FAIL(ms_netkey_import(&nk, npath, NULL), MS_EINVAL);
	ck_assert_ptr_null(nk);
	/* nothing waited for a writer */
	ck_assert_uint_lt(ms_test_now_ms() - t0, 5000);

	free(npath);
	free(path);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* A symlink where a node's key file belongs is refused (O_NOFOLLOW), even
 * to a good key file; import follows it. */
START_TEST(t_keyfile_symlink_refused)
{
	char *dir = ms_test_tmpdir("crypto");
	char *real = ms_test_pjoin(dir, "real.key");
	char *nreal = ms_test_pjoin(dir, "real.net");
	char *path = ms_test_pjoin(dir, MS_IDENTITY_FILE);
	char *npath = ms_test_pjoin(dir, MS_NETKEY_FILE);
	ms_identity *back = NULL;
	ms_netkey *nk = NULL, *nk2 = NULL;
	char want[512];
	ms_errbuf eb;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	ms_test_write_file(real, "msid1:" RFC_SEED "\n", 0600);
	MS_PASS(ms_identity_load(&back, real, NULL));
	ms_identity_free(&back);
	ck_assert_int_eq(symlink(real, path), 0);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_identity_load(&back, path, &eb), MS_EINVAL);
	snprintf(want, sizeof want,
	         "load %s: is a symbolic link; a key file must be a regular "
	         "file",
	         path);
	ck_assert_str_eq(eb.msg, want);
	ck_assert_ptr_null(back);

	MS_PASS(ms_netkey_generate(&nk, NULL));
	MS_PASS(ms_netkey_save(nk, nreal, NULL));
	ck_assert_int_eq(symlink(nreal, npath), 0);
	MS_FAIL(ms_netkey_load(&nk2, npath, NULL), MS_EINVAL);
	ck_assert_ptr_null(nk2);
	MS_PASS(ms_netkey_import(&nk2, npath, NULL));
	ms_netkey_free(&nk2);

	ms_netkey_free(&nk);
	free(npath);
	free(path);
	free(nreal);
	free(real);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* P and -P have one Curve25519 key.  -P is built here with libsodium's
 * point arithmetic (identity - P) and from the negated secret scalar, so
 * it is a key someone holding P's secret really can use. */
START_TEST(t_alias_negation)
{
	static const uint8_t ident[32] = {1}; /* the neutral point */
	ms_identity *id = rfc_identity();
	ms_identity *other = NULL;
	const uint8_t *pk = ms_identity_pk(id);
	uint8_t neg[MS_PK_LEN], neg2[MS_PK_LEN], neg3[MS_PK_LEN];
	uint8_t c1[MS_CURVE_LEN], c2[MS_CURVE_LEN], csk[MS_CURVE_LEN];
	uint8_t cpk[MS_CURVE_LEN], x[MS_CURVE_LEN];
	uint8_t a[32], na[32];

	ck_assert_int_eq(crypto_core_ed25519_sub(neg, ident, pk), 0);
	ck_assert(memcmp(neg, pk, MS_PK_LEN) != 0);
	MS_PASS(ms_ed25519_pk_negate(neg2, pk, NULL));
	ck_assert_mem_eq(neg2, neg, MS_PK_LEN);

	/* the secret of -P: -a mod L, from P's (clamped) scalar a */
	MS_PASS(ms_identity_curve_keypair(id, cpk, csk, NULL));
	{
		uint8_t wide[64] = {0};
		memcpy(wide, csk, 32);
		crypto_core_ed25519_scalar_reduce(a, wide);
	}
	crypto_core_ed25519_scalar_negate(na, a);
	ck_assert_int_eq(crypto_scalarmult_ed25519_base_noclamp(neg3, na), 0);
	ck_assert_mem_eq(neg3, neg, MS_PK_LEN);

	/* one transport key for both: the CURVE handshake cannot tell them */
	MS_PASS(ms_ed25519_pk_to_curve(c1, pk, NULL));
	MS_PASS(ms_ed25519_pk_to_curve(c2, neg, NULL));
	ck_assert_mem_eq(c1, c2, MS_CURVE_LEN);
	ck_assert_mem_eq(c1, cpk, MS_CURVE_LEN);
	ck_assert_int_eq(crypto_scalarmult_curve25519_base(x, csk), 0);
	ck_assert_mem_eq(x, c2, MS_CURVE_LEN);

	ck_assert_int_eq(ms_node_id_alias(pk, neg), 1);
	ck_assert_int_eq(ms_node_id_alias(neg, pk), 1);
	ck_assert_int_eq(ms_node_id_alias(pk, pk), 0);
	MS_PASS(ms_identity_generate(&other, NULL));
	ck_assert_int_eq(ms_node_id_alias(pk, ms_identity_pk(other)), 0);
	/* not a point: never an alias, and no negation */
	{
		uint8_t bad[MS_PK_LEN];
		memset(bad, 0xff, sizeof bad);
		ck_assert_int_eq(ms_node_id_alias(pk, bad), 0);
		MS_FAIL(ms_ed25519_pk_negate(neg2, bad, NULL), MS_ECRYPTO);
	}
	sodium_memzero(csk, sizeof csk);
	sodium_memzero(a, sizeof a);
	sodium_memzero(na, sizeof na);
	ms_identity_free(&other);
	ms_identity_free(&id);
}
END_TEST

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("core");

	/* Generous: sanitizer builds on a busy two-core machine are slow. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_hash_kat);
	tcase_add_test(tc, t_sign_kat);
	tcase_add_test(tc, t_sign_flip_fails);
	tcase_add_test(tc, t_curve_kat);
	tcase_add_test(tc, t_curve_consistent);
	tcase_add_test(tc, t_curve_bad_pk);
	tcase_add_test(tc, t_netkey_kat);
	tcase_add_test(tc, t_netkey_text_roundtrip);
	tcase_add_test(tc, t_netkey_generate_distinct);
	tcase_add_test(tc, t_netkey_text_malformed);
	tcase_add_test(tc, t_hex_helpers);
	tcase_add_test(tc, t_alias_negation);
	suite_add_tcase(s, tc);

	tc = tcase_create("keyfiles");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_identity_file_roundtrip);
	tcase_add_test(tc, t_netkey_file_roundtrip);
	tcase_add_test(tc, t_keyfile_no_overwrite);
	tcase_add_test(tc, t_keyfile_mode_refused);
	tcase_add_test(tc, t_keyfile_owner_refused);
	tcase_add_test(tc, t_keyfile_dir_refused);
	tcase_add_test(tc, t_keyfile_missing);
	tcase_add_test(tc, t_keyfile_malformed);
	tcase_add_test(tc, t_import_fd);
	tcase_add_test(tc, t_keyfile_fifo_refused);
	tcase_add_test(tc, t_keyfile_symlink_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (ms_crypto_init(NULL) != MS_OK) {
		fprintf(stderr,
		        "test_crypto: libsodium failed to initialise\n");
		return EXIT_FAILURE;
	}
	return ms_test_run(crypto_suite());
}
