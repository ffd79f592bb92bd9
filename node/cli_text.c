/* cli_text.c — what both programs (meshsync-node, node-inspect) share on
 * the command line: the one-line display form of keys and values (text when
 * it is clean UTF-8, "hex:..." otherwise, so output never carries raw
 * control bytes), and the long-option parser, so that both read argv and
 * word their usage errors the same way.  The parser lives here rather than
 * in a file of its own because this is the one source both programs are
 * built from. */
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

/* A negative number is positional only where the program asks for it
 * (meshsync-node: `put KEY -3` is a counter delta); node-inspect has no use
 * for one and reports it as an unknown option. */
static int is_option(const char *a, int neg_pos)
{
	if (a[0] != '-' || a[1] == '\0')
		return 0;
	return !(neg_pos && a[1] >= '0' && a[1] <= '9');
}

ms_cli_arg ms_cli_next_arg(ms_cli_args *p, const ms_cli_opt **opt, char **val)
{
	const ms_cli_opt *o = NULL;
	char *a;
	size_t nlen;

	*opt = NULL;
	*val = NULL;
	for (;;) {
		if (p->i + 1 >= p->argc)
			return MS_CLI_ARG_DONE;
		a = p->argv[++p->i];
		if (p->only_pos || !is_option(a, p->neg_pos)) {
			*val = a;
			return MS_CLI_ARG_POS;
		}
		if (strcmp(a, "--") != 0)
			break;
		p->only_pos = 1;
	}
	nlen = strcspn(a, "=");
	for (size_t k = 0; k < p->nopts && o == NULL; k++)
		if (strlen(p->opts[k].name) == nlen &&
		    strncmp(p->opts[k].name, a, nlen) == 0)
			o = &p->opts[k];
	if (o == NULL) {
		p->err("unknown option '%s'", a);
		return MS_CLI_ARG_UNKNOWN;
	}
	if (o->has_arg) {
		if (a[nlen] == '=')
			*val = a + nlen + 1;
		else if (p->i + 1 < p->argc)
			*val = p->argv[++p->i];
		else {
			p->err("option %s needs an argument", o->name);
			return MS_CLI_ARG_BADVAL;
		}
	} else if (a[nlen] == '=') {
		p->err("option %s takes no argument", o->name);
		return MS_CLI_ARG_BADVAL;
	}
	*opt = o;
	return MS_CLI_ARG_OPT;
}
