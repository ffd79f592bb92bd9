/*
 * fuzz_keys.c — libFuzzer target for the key files (crypto/keys.c): the
 * node identity file ("msid1:<64 hex>") and the network key file
 * ("msnet1:<64 hex>"), read by the product's own loaders from a real file.
 *
 * Each input is written to a 0600 file in a private 0700 directory and
 * loaded with ms_identity_load and ms_netkey_load (strict: mode and owner
 * checked), ms_netkey_import (any mode) and ms_netkey_import_fd (from an
 * open descriptor); as a string it goes to ms_netkey_from_text.
 *
 * Beyond "never crash, read out of bounds or leak": every loader agrees
 * with a reading of the format done here independently (at most 512
 * bytes; the prefix and exactly 64 hex digits, with only whitespace
 * around them); the loaders of the same kind agree with each other; an
 * accepted identity is the one its hex seed gives, and an accepted network
 * key prints back as the same line in lower case.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_check.h"
#include "fuzz_util.h"

#define KEYFILE_MAX 512 /* crypto/keys.c: a longer file is no key file */

static char fz_key[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	fz_path(fz_key, sizeof fz_key, fz_tmpdir("fuzz-keys"), "key");
	return 0;
}

static int space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* 1 when text[0..len) is prefix + 64 hex digits with whitespace around;
 * the key into out. */
static int expect_key(const uint8_t *text, size_t len, const char *prefix,
                      uint8_t out[32])
{
	size_t pl = strlen(prefix);
	char hex[65];

	while (len > 0 && space(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && space(text[len - 1]))
		len--;
	if (len != pl + 64 || memcmp(text, prefix, pl) != 0)
		return 0;
	memcpy(hex, text + pl, 64);
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return 0;
	hex[64] = '\0';
	FZ_CHECK(ms_unhex(out, 32, hex) == 0);
	return 1;
}

/* The error of a load that failed: the file is named, the code right. */
static void check_refusal(ms_err e, const ms_errbuf *eb, int named)
{
	FZ_CHECK(e == MS_EINVAL);
	FZ_CHECK(eb->msg[0] != '\0');
	if (named)
		FZ_CHECK(strstr(eb->msg, fz_key) != NULL);
}

static void check_identity(const uint8_t *data, size_t size)
{
	uint8_t seed[32];
	ms_identity *id = NULL, *want = NULL;
	ms_errbuf eb = {0};
	ms_err e;
	int ok = size <= KEYFILE_MAX && expect_key(data, size, "msid1:", seed);

	e = ms_identity_load(&id, fz_key, &eb);
	FZ_CHECK((e == MS_OK) == ok);
	if (e != MS_OK) {
		FZ_CHECK(id == NULL);
		check_refusal(e, &eb, 1);
		return;
	}
	FZ_CHECK(ms_identity_from_seed(&want, seed, NULL) == MS_OK);
	FZ_CHECK(memcmp(ms_identity_pk(id), ms_identity_pk(want), MS_PK_LEN) ==
	         0);
	ms_identity_free(&want);
	ms_identity_free(&id);
	FZ_CHECK(id == NULL);
}

/* One network key loader's answer against the expected key. */
static void check_netkey(ms_err e, ms_netkey **nkp, const ms_errbuf *eb, int ok,
                         const uint8_t key[32], int named)
{
	char text[MS_NETKEY_TEXT_LEN], want[MS_NETKEY_TEXT_LEN];

	FZ_CHECK((e == MS_OK) == ok);
	if (e != MS_OK) {
		FZ_CHECK(*nkp == NULL);
		check_refusal(e, eb, named);
		return;
	}
	ms_netkey_to_text(*nkp, text);
	memcpy(want, "msnet1:", 7);
	ms_hex(want + 7, key, 32);
	want[MS_NETKEY_TEXT_LEN - 2] = '\n';
	want[MS_NETKEY_TEXT_LEN - 1] = '\0';
	FZ_CHECK(strcmp(text, want) == 0);
	ms_netkey_free(nkp);
	FZ_CHECK(*nkp == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[32];
	ms_netkey *nk = NULL;
	ms_errbuf eb;
	char *str;
	int fd, ok;

	fz_write_file(fz_key, data, size);
	check_identity(data, size);

	ok = expect_key(data, size, "msnet1:", key);
	memset(&eb, 0, sizeof eb);
	check_netkey(ms_netkey_load(&nk, fz_key, &eb), &nk, &eb,
	             ok && size <= KEYFILE_MAX, key, 1);
	memset(&eb, 0, sizeof eb);
	check_netkey(ms_netkey_import(&nk, fz_key, &eb), &nk, &eb,
	             ok && size <= KEYFILE_MAX, key, 1);
	fd = open(fz_key, O_RDONLY | O_CLOEXEC);
	FZ_CHECK(fd >= 0);
	memset(&eb, 0, sizeof eb);
	check_netkey(ms_netkey_import_fd(&nk, fd, fz_key, &eb), &nk, &eb,
	             ok && size <= KEYFILE_MAX, key, 1);
	FZ_CHECK(close(fd) == 0);

	/* As text: up to the first NUL, and no size limit. */
	str = malloc(size + 1);
	FZ_CHECK(str != NULL);
	memcpy(str, data, size);
	str[size] = '\0';
	ok = expect_key((const uint8_t *)str, strlen(str), "msnet1:", key);
	memset(&eb, 0, sizeof eb);
	check_netkey(ms_netkey_from_text(&nk, str, &eb), &nk, &eb, ok, key, 0);
	free(str);
	return 0;
}
