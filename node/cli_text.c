/* cli_text.c — the one-line display form of keys and values used by both
 * programs (meshsync-node get --all, node-inspect): text when it is clean
 * UTF-8, "hex:..." otherwise, so output never carries raw control bytes. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Length of the UTF-8 sequence at b (n bytes left) that encodes a printable
 * code point, or 0 when it is invalid, overlong, a surrogate, or a C0/C1
 * control character or DEL. */
static size_t utf8_printable(const uint8_t *b, size_t n)
{
	uint32_t cp;
	size_t len;

	if (b[0] < 0x80)
		return (b[0] >= 0x20 && b[0] != 0x7f) ? 1 : 0;
	if (b[0] >= 0xc2 && b[0] <= 0xdf) {
		len = 2;
		cp = b[0] & 0x1f;
	} else if (b[0] >= 0xe0 && b[0] <= 0xef) {
		len = 3;
		cp = b[0] & 0x0f;
	} else if (b[0] >= 0xf0 && b[0] <= 0xf4) {
		len = 4;
		cp = b[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((b[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (b[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

char *ms_cli_text(const uint8_t *b, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	int text = !(n >= 4 && memcmp(b, "hex:", 4) == 0);
	char *out;

	for (size_t i = 0; text && i < n;) {
		size_t l = utf8_printable(b + i, n - i);
		if (l == 0)
			text = 0;
		i += l;
	}
	if (text) {
		out = malloc(n + 1);
		if (out != NULL) {
			if (n > 0)
				memcpy(out, b, n);
			out[n] = '\0';
		}
		return out;
	}
	out = malloc(4 + 2 * n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, "hex:", 4);
	for (size_t i = 0; i < n; i++) {
		out[4 + 2 * i] = hexd[b[i] >> 4];
		out[4 + 2 * i + 1] = hexd[b[i] & 15];
	}
	out[4 + 2 * n] = '\0';
	return out;
}
