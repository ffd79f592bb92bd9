/*
 * fuzz_txt.c — libFuzzer target for the mDNS TXT record check
 * (ms_disc_txt_parse in net/discovery.c), the one thing in discovery that
 * reads what any host on the segment may announce.
 *
 * An input is TXT RDATA as it travels in DNS (RFC 6763 §6): strings, each
 * one length byte and that many bytes, cut short at the end of the input.
 * Like net/disc_avahi.c's resolver callback, at most 32 strings are handed
 * over, each in its own exact-size buffer without a NUL, so ASan sees any
 * read past one.
 *
 * Beyond "never crash or read out of bounds": an accepted record has v= a
 * decimal of at most 10 digits that fits 32 bits, id= exactly the 64 hex
 * digits of the returned id, net= 16 hex digits returned in lower case,
 * each from the first string with that key (case-insensitive); the answer
 * is computed independently here and must agree, and a rejection says why.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "discovery.h"
#include "fuzz_check.h"
#include "fuzz_util.h"

#define TXT_MAX 32 /* strings the resolver callback passes on */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	return 0;
}

/* The value of the first string whose key is k (case-insensitive), or
 * NULL. */
static const char *first(char *const *s, const size_t *len, size_t n,
                         const char *k, size_t *vlen)
{
	size_t kl = strlen(k);

	for (size_t i = 0; i < n; i++) {
		if (len[i] <= kl || s[i][kl] != '=')
			continue;
		if (strncasecmp(s[i], k, kl) != 0 ||
		    memchr(s[i], '\0', kl) != NULL)
			continue;
		*vlen = len[i] - kl - 1;
		return s[i] + kl + 1;
	}
	return NULL;
}

static int hex_digits(const char *p, size_t n, size_t want)
{
	if (n != want)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return 0;
	return 1;
}

/* Our own reading of the rules: 1 when the record must be accepted. */
static int expect_ok(char *const *s, const size_t *len, size_t n, uint64_t *ver)
{
	const char *v, *id, *net;
	size_t vl = 0, il = 0, nl = 0;

	v = first(s, len, n, "v", &vl);
	id = first(s, len, n, "id", &il);
	net = first(s, len, n, "net", &nl);
	if (v == NULL || id == NULL || net == NULL || vl == 0 || vl > 10)
		return 0;
	*ver = 0;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		*ver = *ver * 10 + (uint64_t)(v[i] - '0');
	}
	return *ver <= UINT32_MAX && hex_digits(id, il, 2 * MS_PK_LEN) &&
	       hex_digits(net, nl, MS_DISC_NET_HEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s[TXT_MAX];
	size_t len[TXT_MAX], n = 0, off = 0;
	uint8_t id[MS_PK_LEN];
	char net[MS_DISC_NET_HEX + 1], hex[2 * MS_PK_LEN + 1];
	uint32_t version = 0;
	uint64_t want_ver = 0;
	ms_errbuf eb;
	ms_err e;
	int ok;

	while (off < size && n < TXT_MAX) {
		size_t l = data[off++];
		if (l > size - off)
			l = size - off;
		/* malloc(0) may return NULL: keep one byte, use none */
		s[n] = malloc(l > 0 ? l : 1);
		FZ_CHECK(s[n] != NULL);
		memcpy(s[n], data + off, l);
		len[n++] = l;
		off += l;
	}
	memset(&eb, 0, sizeof eb);
	e = ms_disc_txt_parse((const char *const *)s, len, n, id, &version, net,
	                      &eb);
	ok = expect_ok(s, len, n, &want_ver);
	FZ_CHECK((e == MS_OK) == ok);
	if (e != MS_OK) {
		FZ_CHECK(e == MS_EPROTO);
		FZ_CHECK(strncmp(eb.msg, "txt: ", 5) == 0);
	} else {
		const char *idv, *netv;
		size_t il = 0, nl = 0;

		idv = first(s, len, n, "id", &il);
		netv = first(s, len, n, "net", &nl);
		FZ_CHECK(version == want_ver);
		ms_hex(hex, id, MS_PK_LEN);
		FZ_CHECK(strncasecmp(hex, idv, il) == 0);
		FZ_CHECK(strlen(net) == MS_DISC_NET_HEX);
		for (size_t i = 0; i < nl; i++)
			FZ_CHECK(net[i] == tolower((unsigned char)netv[i]));
	}
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	return 0;
}
