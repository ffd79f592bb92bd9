/*
 * config.c — meshsync.conf: defaults, the INI parser (libinih) with errors
 * that name the file and line, and the commented default file written by
 * init.  docs/config.md documents every option; keep the two in step.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hlc.h"
#include "node_int.h"
#include "op.h"

/* Bounds that keep a config from asking LMDB or the op codec for nonsense. */
#define CFG_MAP_MIN (64ull << 10)  /* smaller maps cannot hold the schema */
#define CFG_MAP_LIMIT (1ull << 44) /* 16 TiB: beyond any real deployment */
#define CFG_VALUE_LIMIT (1ull << 30) /* 1 GiB: ops must fit a u32 length */
#define CFG_SKEW_LIMIT_MS (366ull * 24 * 3600 * 1000) /* a year */

void ms_config_default(ms_config *c)
{
	memset(c, 0, sizeof *c);
	ms_store_opts_default(&c->store);
	c->store.policies = c->rules;
	c->store.npolicies = 0;
}

static int parse_u64(const char *p, uint64_t *out, const char **end)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

int ms_config_parse_size(const char *text, uint64_t *out)
{
	const char *p;
	uint64_t v, mul = 1;

	if (parse_u64(text, &v, &p) != 0)
		return -1;
	switch (*p) {
	case 'k': case 'K': mul = 1ull << 10; p++; break;
	case 'm': case 'M': mul = 1ull << 20; p++; break;
	case 'g': case 'G': mul = 1ull << 30; p++; break;
	case 't': case 'T': mul = 1ull << 40; p++; break;
	default: break;
	}
	if (*p != '\0' || (v != 0 && v > UINT64_MAX / mul))
		return -1;
	*out = v * mul;
	return 0;
}

int ms_config_parse_duration_ms(const char *text, uint64_t *out)
{
	const char *p;
	uint64_t v, mul;

	if (parse_u64(text, &v, &p) != 0)
		return -1;
	if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		mul = 1000;
	else if (strcmp(p, "ms") == 0)
		mul = 1;
	else if (strcmp(p, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mul = 3600 * 1000;
	else
		return -1;
	if (v != 0 && v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* Parser state: inih gives the handler no line numbers in Debian's build,
 * so our reader counts lines and the handler reads the count. */
typedef struct cfg_ctx {
	ms_config *c;
	FILE *f;
	int line;     /* lines read so far = the line being handled */
	int err_line; /* first line with an error we described, 0 if none */
	char why[256];
} cfg_ctx;

static char *cfg_read_line(char *str, int num, void *stream)
{
	cfg_ctx *x = stream;
	size_t n;

	if (fgets(str, num, x->f) == NULL)
		return NULL;
	x->line++;
	n = strlen(str);
	if (n > 0 && str[n - 1] != '\n' && !feof(x->f)) {
		/* An over-long line would reach inih in pieces and shift every
		 * later line number: reject it here, once. */
		int ch;
		while ((ch = fgetc(x->f)) != EOF && ch != '\n')
			;
		if (x->err_line == 0) {
			x->err_line = x->line;
			snprintf(x->why, sizeof x->why,
			         "line longer than %d bytes", num - 2);
		}
		str[0] = '\0'; /* hand inih an empty line */
	}
	return str;
}

__attribute__((format(printf, 2, 3)))
static int cfg_fail(cfg_ctx *x, const char *fmt, ...)
{
	if (x->err_line == 0) {
		va_list ap;
		x->err_line = x->line;
		va_start(ap, fmt);
		vsnprintf(x->why, sizeof x->why, fmt, ap);
		va_end(ap);
	}
	return 0;
}

static int cfg_store(cfg_ctx *x, const char *name, const char *value)
{
	ms_store_opts *o = &x->c->store;
	uint64_t v;

	if (strcmp(name, "map_initial") == 0 || strcmp(name, "map_max") == 0) {
		if (ms_config_parse_size(value, &v) != 0 || v < CFG_MAP_MIN ||
		    v > CFG_MAP_LIMIT)
			return cfg_fail(x, "bad value '%s' for %s (a size from 64K to 16T, e.g. 16M)",
			                value, name);
		if (name[4] == 'i')
			o->map_initial = v;
		else
			o->map_max = v;
		return 1;
	}
	if (strcmp(name, "max_value") == 0) {
		if (ms_config_parse_size(value, &v) != 0 || v < 1 ||
		    v > CFG_VALUE_LIMIT)
			return cfg_fail(x, "bad value '%s' for max_value (a size from 1 to 1G, e.g. 1M)",
			                value);
		o->max_value = (uint32_t)v;
		return 1;
	}
	if (strcmp(name, "max_clock_skew") == 0) {
		if (ms_config_parse_duration_ms(value, &v) != 0 ||
		    v > CFG_SKEW_LIMIT_MS)
			return cfg_fail(x, "bad value '%s' for max_clock_skew (seconds, or with s/m/h, e.g. 1h)",
			                value);
		o->max_clock_skew_ms = v;
		return 1;
	}
	return cfg_fail(x, "unknown key '%s' in [store]", name);
}

static int cfg_policy(cfg_ctx *x, const char *name, const char *value)
{
	ms_config *c = x->c;
	ms_policy p;
	/* "*" stands for the empty prefix, which INI cannot spell. */
	const char *prefix = strcmp(name, "*") == 0 ? "" : name;

	if (ms_policy_parse(value, &p) != 0)
		return cfg_fail(x, "bad policy '%s' for prefix '%s' (lww, mv or counter)",
		                value, name);
	if (strlen(prefix) > MS_POLICY_PREFIX_MAX)
		return cfg_fail(x, "prefix longer than %d bytes", MS_POLICY_PREFIX_MAX);
	for (size_t i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].prefix, prefix) == 0)
			return cfg_fail(x, "duplicate policy for prefix '%s'", name);
	if (c->nrules == MS_POLICY_MAX)
		return cfg_fail(x, "more than %d policy rules", MS_POLICY_MAX);
	snprintf(c->rules[c->nrules].prefix, sizeof c->rules[0].prefix, "%s",
	         prefix);
	c->rules[c->nrules].policy = p;
	c->nrules++;
	c->store.npolicies = c->nrules;
	return 1;
}

static int cfg_entry(void *user, const char *section, const char *name,
                     const char *value)
{
	cfg_ctx *x = user;

	if (strcmp(section, "store") == 0)
		return cfg_store(x, name, value);
	if (strcmp(section, "policy") == 0)
		return cfg_policy(x, name, value);
	if (section[0] == '\0')
		return cfg_fail(x, "key '%s' outside any section ([store] or [policy])",
		                name);
	return cfg_fail(x, "unknown section [%s]", section);
}

ms_err ms_config_load(ms_config *c, const char *path, ms_errbuf *eb)
{
	cfg_ctx x = {.c = c};
	int rc;

	x.f = fopen(path, "r");
	if (x.f == NULL) {
		if (errno == ENOENT)
			return ms_errf(eb, MS_ENOTFOUND, "open %s: %s", path,
			               strerror(errno));
		return ms_errf(eb, MS_EIO, "open %s: %s", path, strerror(errno));
	}
	rc = ini_parse_stream(cfg_read_line, &x, cfg_entry, &x);
	if (rc == 0 && ferror(x.f))
		rc = -1;
	fclose(x.f);
	if (rc < 0)
		return ms_errf(eb, MS_EIO, "read %s: %s", path,
		               rc == -2 ? "out of memory" : "read error");
	if (rc > 0 || x.err_line != 0) {
		/* inih reports the first line it disliked; our message may be
		 * for a later line if an earlier one was a plain syntax error. */
		if (x.err_line == 0 || (rc > 0 && rc < x.err_line))
			return ms_errf(eb, MS_EINVAL,
			               "%s:%d: syntax error (expected '[section]' or 'name = value')",
			               path, rc);
		return ms_errf(eb, MS_EINVAL, "%s:%d: %s", path, x.err_line,
		               x.why);
	}
	if (c->store.map_initial > c->store.map_max)
		return ms_errf(eb, MS_EINVAL,
		               "%s: map_initial (%" PRIu64 ") is larger than map_max (%" PRIu64 ")",
		               path, c->store.map_initial, c->store.map_max);
	c->store.policies = c->rules;
	c->store.npolicies = c->nrules;
	return MS_OK;
}

static const char default_conf[] =
	"# meshsync.conf: configuration of this meshsync node.\n"
	"# Every option is listed with its default value, commented out.\n"
	"# Reference: docs/config.md.  Sizes take K, M, G or T (powers of 1024);\n"
	"# durations are seconds or take s, m or h.\n"
	"\n"
	"[store]\n"
	"# Size of the LMDB map when the store is created.\n"
	"# map_initial = 16M\n"
	"# The map doubles when full, up to this size; then writes fail with\n"
	"# \"store full\" while reads go on.\n"
	"# map_max = 4G\n"
	"# Largest value accepted in an op (local or received).\n"
	"# max_value = 1M\n"
	"# A received op whose clock is further than this ahead of our wall clock\n"
	"# is stored and applied but does not move our clock.\n"
	"# max_clock_skew = 1h\n"
	"\n"
	"[policy]\n"
	"# Conflict policy per key prefix: lww (last writer wins, the default),\n"
	"# mv (keep every concurrent value) or counter (values are decimal deltas,\n"
	"# the state is their sum).  The longest matching prefix wins; * matches\n"
	"# every key.  Examples:\n"
	"# counter/ = counter\n"
	"# docs/ = mv\n"
	"# * = lww\n";

ms_err ms_config_write_default(const char *path, ms_errbuf *eb)
{
	size_t off = 0, len = sizeof default_conf - 1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return ms_errf(eb, errno == EEXIST ? MS_EEXIST : MS_EIO,
		               "create %s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, default_conf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(e));
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return ms_errf(eb, MS_EIO, "fsync %s: %s", path, strerror(e));
	}
	if (close(fd) != 0) {
		int e = errno;
		unlink(path);
		return ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(e));
	}
	return MS_OK;
}
