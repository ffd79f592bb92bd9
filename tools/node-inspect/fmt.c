/* fmt.c — how node-inspect shows bytes, heads and JSON documents. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hlc.h"
#include "inspect.h"
#include "ms_bytes.h"

char *ins_hex(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);

	if (s != NULL)
		ms_hex(s, b, n);
	return s;
}

char *ins_text(const uint8_t *b, size_t n, size_t max)
{
	char *s = ms_cli_text(b, n);
	size_t chars = 0, cut = 0;

	if (s == NULL || max < 4)
		return s;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (chars == max - 3)
			cut = i; /* where "..." goes if the text is too long */
		chars++;
	}
	/* Cutting at a character start keeps the result valid UTF-8; the
	 * text has more than max characters, so "..." fits in what is cut. */
	if (chars > max)
		memcpy(s + cut, "...", 4);
	return s;
}

char *ins_head_value(const ms_key_state *ks, const ms_head *h, size_t max)
{
	if (h->type == MS_OP_DEL)
		return NULL;
	if (ks->policy == MS_POLICY_COUNTER && h->value_len == 8) {
		char buf[24];
		snprintf(buf, sizeof buf, "%" PRId64,
		         (int64_t)ms_get_le64(h->value));
		return strdup(buf);
	}
	return ins_text(h->value, h->value_len, max);
}

json_t *ins_json_text(const uint8_t *b, size_t n)
{
	char *s = ms_cli_text(b, n);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

json_t *ins_json_hex(const uint8_t *b, size_t n)
{
	char *s = ins_hex(b, n);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

json_t *ins_json_head(const ms_key_state *ks, const ms_head *h)
{
	char *v = ins_head_value(ks, h, 0);
	json_t *j = json_pack("{s:o, s:o, s:I, s:I, s:s, s:s, s:o}", "id",
	                      ins_json_hex(h->id, MS_HASH_LEN), "author",
	                      ins_json_hex(h->author, MS_PK_LEN), "seq",
	                      (json_int_t)h->seq, "hlc", (json_int_t)h->hlc,
	                      "type", h->type == MS_OP_DEL ? "del" : "put",
	                      "priority", h->priority ? "background" : "user",
	                      "value",
	                      v != NULL ? json_string(v) : json_null());
	free(v);
	return j;
}

int ins_json_print(json_t *root)
{
	int rc = MS_EXIT_OK;

	if (root == NULL) {
		ins_err("building JSON output: out of memory");
		return MS_EXIT_STORE;
	}
	if (json_dumpf(root, stdout, JSON_INDENT(2)) != 0 ||
	    fputc('\n', stdout) == EOF) {
		ins_err("write JSON to stdout failed");
		rc = MS_EXIT_STORE;
	}
	json_decref(root);
	return rc;
}

int ins_json_print_line(json_t *root)
{
	int rc = MS_EXIT_OK;

	if (root == NULL) {
		ins_err("building JSON output: out of memory");
		return MS_EXIT_STORE;
	}
	if (json_dumpf(root, stdout, JSON_COMPACT) != 0 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		ins_err("write JSON to stdout failed");
		rc = MS_EXIT_STORE;
	}
	json_decref(root);
	return rc;
}

char *ins_peer_label(const ms_peer_rec *p)
{
	if (p->has_id)
		return ins_hex(p->id, 8);
	return strdup(p->naddrs > 0 ? p->addrs[0] : "-");
}

char *ins_time_text(char buf[INS_TIME_LEN], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, INS_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, INS_TIME_LEN, "@%" PRIu64 "ms", ms);
		return buf;
	}
	snprintf(buf + strlen(buf), INS_TIME_LEN - strlen(buf), ".%03uZ",
	         (unsigned)(ms % 1000));
	return buf;
}

char *ins_hlc_text(char buf[INS_HLC_LEN], uint64_t hlc)
{
	char t[INS_TIME_LEN];

	snprintf(buf, INS_HLC_LEN, "%s.%04u", ins_time_text(t, MS_HLC_MS(hlc)),
	         (unsigned)MS_HLC_CTR(hlc));
	return buf;
}

char *ins_dur_text(char buf[INS_DUR_LEN], uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, INS_DUR_LEN, "%" PRIu64 "ms", ms);
	else if (s < 60)
		snprintf(buf, INS_DUR_LEN, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, INS_DUR_LEN, "%" PRIu64 "m%" PRIu64 "s", s / 60,
		         s % 60);
	else if (s < 86400)
		snprintf(buf, INS_DUR_LEN, "%" PRIu64 "h%" PRIu64 "m", s / 3600,
		         s % 3600 / 60);
	else
		snprintf(buf, INS_DUR_LEN, "%" PRIu64 "d%" PRIu64 "h",
		         s / 86400, s % 86400 / 3600);
	return buf;
}

char *ins_rel_text(char buf[INS_REL_LEN], uint64_t when_ms, uint64_t now_ms)
{
	char d[INS_DUR_LEN];

	if (when_ms == 0)
		snprintf(buf, INS_REL_LEN, "-");
	else if (when_ms <= now_ms)
		snprintf(buf, INS_REL_LEN, "%s ago",
		         ins_dur_text(d, now_ms - when_ms));
	else
		snprintf(buf, INS_REL_LEN, "in %s",
		         ins_dur_text(d, when_ms - now_ms));
	return buf;
}

int ins_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int ins_hex_prefix(const char *s, char out[2 * MS_PK_LEN + 1])
{
	size_t n = strlen(s);

	if (n == 0 || n > 2 * MS_PK_LEN)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (c != '\0' &&
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		out[i] = c;
	}
	return 1;
}
