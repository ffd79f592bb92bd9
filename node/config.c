/*
 * config.c — meshsync.conf: defaults, the INI parser (libinih) with errors
 * that name the file and line, the commented default file written by init,
 * `run`'s flags over the file, and what a reload may change while running
 * (the rest waits for a restart).  docs/config.md documents every option;
 * keep the two in step.
 */
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"
#include "hlc.h"
#include "log.h"
#include "ms_path.h"
#include "ms_parse.h"
#include "node_int.h"
#include "discovery.h"
#include "op.h"
#include "peertab.h"
#include "pex.h"
#include "session.h"
#include "wire.h"

/* Bounds that keep a config from asking LMDB or the op codec for nonsense. */
#define CFG_MAP_MIN (64ull << 10)  /* smaller maps cannot hold the schema */
#define CFG_MAP_LIMIT (1ull << 44) /* 16 TiB: beyond any real deployment */
/* The largest value whose op (largest key, most parents) still fits the
 * wire's op limit: a larger one could be written but never sent. */
#define CFG_VALUE_LIMIT             \
	((uint64_t)MS_WIRE_MAX_OP - \
	 (MS_OP_FIXED_LEN + MS_OP_MAX_KEY + MS_OP_MAX_PARENTS * MS_HASH_LEN))
#define CFG_SKEW_LIMIT_MS (366ull * 24 * 3600 * 1000) /* a year */
#define CFG_HOUR_MS (3600ull * 1000)
/* A message must hold at least one largest op; the wire caps it anyway. */
#define CFG_MSG_MIN (2ull << 20)
#define CFG_MSG_MAX (16ull << 20)
#define CFG_CREDIT_MAX 1000000u
/* the timed read of the arrival feed is a fallback (node/wake): slow is fine */
#define CFG_POLL_MAX_MS CFG_HOUR_MS
#define CFG_HWM_MAX 1000u     /* ZeroMQ's own default: no higher than that */
#define CFG_INBOUND_MAX 4096u /* MS_TRANSPORT_INBOUND_MAX */

void ms_config_default(ms_config *c)
{
	memset(c, 0, sizeof *c);
	ms_store_opts_default(&c->store);
	c->store.policies = c->rules;
	c->store.npolicies = 0;
	c->net.mdns = 1;
	c->net.heartbeat_interval_ms = 1000;
	c->net.heartbeat_timeout_ms = 5000;
	c->net.handshake_timeout_ms = 5000;
	c->net.max_message = 8ull << 20;
	ms_backoff_cfg_default(&c->backoff);
	c->kick_interval_ms = 1000;
	c->denied_hold_ms = CFG_HOUR_MS;
	c->sync.batch_ops = MS_SESSION_DEFAULT_BATCH_OPS;
	c->sync.credit = MS_SESSION_DEFAULT_CREDIT;
	c->sync.poll_ms = 50;
	c->limits.peer_records = MS_PEERTAB_RECORDS_DEFAULT;
	c->limits.peer_records_disk = MS_PEERTAB_RECORDS_DISK_DEFAULT;
	c->limits.dials_inflight = MS_PEERTAB_DIALS_INFLIGHT_DEFAULT;
	c->limits.pex_candidates = MS_PEX_CANDIDATES_DEFAULT;
	c->limits.mdns_records = MS_DISC_RECORDS_DEFAULT;
	/* send_hwm .. inbound_per_address stay 0: the transport's defaults */
	c->log.level = MS_LOG_DEFAULT;
	c->log.syslog = 0;
}

void ms_config_fix(ms_config *c)
{
	c->store.policies = c->rules;
	c->store.npolicies = c->nrules;
}

int ms_config_parse_size(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t v, mul = 1;

	if (ms_parse_u64(&p, &v) != 0)
		return -1;
	switch (*p) {
	case 'k':
	case 'K':
		mul = 1ull << 10;
		p++;
		break;
	case 'm':
	case 'M':
		mul = 1ull << 20;
		p++;
		break;
	case 'g':
	case 'G':
		mul = 1ull << 30;
		p++;
		break;
	case 't':
	case 'T':
		mul = 1ull << 40;
		p++;
		break;
	default:
		break;
	}
	if (*p != '\0' || (v != 0 && v > UINT64_MAX / mul))
		return -1;
	*out = v * mul;
	return 0;
}

int ms_config_parse_duration_ms(const char *text, uint64_t *out)
{
	uint64_t v;

	if (ms_parse_duration(&text, 1000, &v) != 0 || *text != '\0')
		return -1;
	*out = v;
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

static int cfg_fail(cfg_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
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
			return cfg_fail(
				x,
				"bad value '%s' for %s (a size from 64K to 16T, e.g. 16M)",
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
			return cfg_fail(
				x,
				"bad value '%s' for max_value (a size from 1 to %" PRIu64
				" bytes, so that the largest op fits the protocol's op limit; e.g. 1M)",
				value, (uint64_t)CFG_VALUE_LIMIT);
		o->max_value = (uint32_t)v;
		return 1;
	}
	if (strcmp(name, "max_clock_skew") == 0) {
		if (ms_config_parse_duration_ms(value, &v) != 0 ||
		    v > CFG_SKEW_LIMIT_MS)
			return cfg_fail(
				x,
				"bad value '%s' for max_clock_skew (seconds, or with s/m/h, e.g. 1h)",
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
		return cfg_fail(
			x,
			"bad policy '%s' for prefix '%s' (lww, mv or counter)",
			value, name);
	if (strlen(prefix) > MS_POLICY_PREFIX_MAX)
		return cfg_fail(x, "prefix longer than %d bytes",
		                MS_POLICY_PREFIX_MAX);
	for (size_t i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].prefix, prefix) == 0)
			return cfg_fail(x, "duplicate policy for prefix '%s'",
			                name);
	if (c->nrules == MS_POLICY_MAX)
		return cfg_fail(x, "more than %d policy rules", MS_POLICY_MAX);
	snprintf(c->rules[c->nrules].prefix, sizeof c->rules[0].prefix, "%s",
	         prefix);
	c->rules[c->nrules].policy = p;
	c->nrules++;
	c->store.npolicies = c->nrules;
	return 1;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* A duration in [lo, hi] ms. */
static int cfg_duration(cfg_ctx *x, const char *name, const char *value,
                        uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (ms_config_parse_duration_ms(value, &v) != 0 || v < lo || v > hi)
		return cfg_fail(
			x,
			"bad value '%s' for %s (a duration from %" PRIu64
			"ms to %" PRIu64 "s, e.g. 500ms or 2s)",
			value, name, lo, hi / 1000);
	*out = v;
	return 1;
}

static int cfg_uint(cfg_ctx *x, const char *name, const char *value,
                    uint64_t lo, uint64_t hi, uint64_t *out)
{
	const char *end = value;
	uint64_t v;

	if (ms_parse_u64(&end, &v) != 0 || *end != '\0' || v < lo || v > hi)
		return cfg_fail(x,
		                "bad value '%s' for %s (a number from %" PRIu64
		                " to %" PRIu64 ")",
		                value, name, lo, hi);
	*out = v;
	return 1;
}

/* allow/deny: node ids as 64 hex digits, separated by spaces or tabs. */
static int cfg_ids(cfg_ctx *x, const char *name, const char *value,
                   uint8_t (*ids)[MS_PK_LEN], size_t *n)
{
	const char *p = value;
	int any = 0;

	for (;;) {
		char hex[2 * MS_PK_LEN + 1];
		size_t len;

		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t");
		if (len != 2 * MS_PK_LEN)
			return cfg_fail(
				x, "bad node id '%.*s' in %s (64 hex digits)",
				(int)(len > 80 ? 80 : len), p, name);
		memcpy(hex, p, len);
		hex[len] = '\0';
		if (*n == MS_CFG_MAX_ACL)
			return cfg_fail(x, "more than %d node ids in %s",
			                MS_CFG_MAX_ACL, name);
		if (ms_unhex(ids[*n], MS_PK_LEN, hex) != 0)
			return cfg_fail(
				x, "bad node id '%s' in %s (64 hex digits)",
				hex, name);
		(*n)++;
		any = 1;
		p += len;
	}
	if (!any)
		return cfg_fail(x, "%s needs at least one node id", name);
	return 1;
}

static int cfg_endpoint(cfg_ctx *x, const char *name, const char *value,
                        char (*eps)[MS_CFG_EP_MAX], size_t *n, size_t max)
{
	if (ms_endpoint_check(value) != 0)
		return cfg_fail(
			x,
			"bad endpoint '%s' for %s (tcp://HOST:PORT, at most %d bytes)",
			value, name, MS_CFG_EP_MAX - 1);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(eps[i], value) == 0)
			return cfg_fail(x, "duplicate %s '%s'", name, value);
	if (*n == max)
		return cfg_fail(x, "more than %zu %s lines", max, name);
	snprintf(eps[*n], MS_CFG_EP_MAX, "%s", value);
	(*n)++;
	return 1;
}

static int cfg_net(cfg_ctx *x, const char *name, const char *value)
{
	ms_config_net *n = &x->c->net;
	uint64_t v;

	if (strcmp(name, "listen") == 0)
		return cfg_endpoint(x, name, value, n->listen, &n->nlisten,
		                    MS_CFG_MAX_LISTEN);
	if (strcmp(name, "peer") == 0)
		return cfg_endpoint(x, name, value, n->peers, &n->npeers,
		                    MS_CFG_MAX_PEERS);
	if (strcmp(name, "mdns") == 0) {
		if (parse_bool(value, &n->mdns) != 0)
			return cfg_fail(x,
			                "bad value '%s' for mdns (yes or no)",
			                value);
		return 1;
	}
	if (strcmp(name, "allow") == 0) {
		n->has_allow = 1;
		return cfg_ids(x, name, value, n->allow, &n->nallow);
	}
	if (strcmp(name, "deny") == 0)
		return cfg_ids(x, name, value, n->deny, &n->ndeny);
	if (strcmp(name, "heartbeat_interval") == 0)
		return cfg_duration(x, name, value, 10, CFG_HOUR_MS,
		                    &n->heartbeat_interval_ms);
	if (strcmp(name, "heartbeat_timeout") == 0)
		return cfg_duration(x, name, value, 10, CFG_HOUR_MS,
		                    &n->heartbeat_timeout_ms);
	if (strcmp(name, "handshake_timeout") == 0)
		return cfg_duration(x, name, value, 10, CFG_HOUR_MS,
		                    &n->handshake_timeout_ms);
	if (strcmp(name, "max_message") == 0) {
		if (ms_config_parse_size(value, &v) != 0 || v < CFG_MSG_MIN ||
		    v > CFG_MSG_MAX)
			return cfg_fail(
				x,
				"bad value '%s' for max_message (a size from 2M to 16M)",
				value);
		n->max_message = v;
		return 1;
	}
	return cfg_fail(x, "unknown key '%s' in [net]", name);
}

static int cfg_backoff(cfg_ctx *x, const char *name, const char *value)
{
	ms_config *c = x->c;

	if (strcmp(name, "strategy") == 0) {
		if (ms_backoff_strategy_parse(value, &c->backoff.strategy,
		                              NULL) != MS_OK)
			return cfg_fail(
				x,
				"bad value '%s' for strategy (constant, linear, exponential, full-jitter or decorrelated-jitter)",
				value);
		return 1;
	}
	if (strcmp(name, "base") == 0)
		return cfg_duration(x, name, value, 1, CFG_HOUR_MS,
		                    &c->backoff.base_ms);
	if (strcmp(name, "cap") == 0)
		return cfg_duration(x, name, value, 1, 24 * CFG_HOUR_MS,
		                    &c->backoff.cap_ms);
	if (strcmp(name, "kick_interval") == 0)
		return cfg_duration(x, name, value, 0, CFG_HOUR_MS,
		                    &c->kick_interval_ms);
	if (strcmp(name, "denied_hold") == 0)
		return cfg_duration(x, name, value, 0, 24 * CFG_HOUR_MS,
		                    &c->denied_hold_ms);
	return cfg_fail(x, "unknown key '%s' in [backoff]", name);
}

static int cfg_sync(cfg_ctx *x, const char *name, const char *value)
{
	ms_config_sync *s = &x->c->sync;
	uint64_t v = 0; /* cfg_uint sets it when it returns 1 */
	int r;

	if (strcmp(name, "batch_ops") == 0) {
		if ((r = cfg_uint(x, name, value, 1, MS_WIRE_MAX_OPS, &v)) == 1)
			s->batch_ops = (uint32_t)v;
		return r;
	}
	if (strcmp(name, "credit") == 0) {
		if ((r = cfg_uint(x, name, value, 1, CFG_CREDIT_MAX, &v)) == 1)
			s->credit = (uint32_t)v;
		return r;
	}
	if (strcmp(name, "poll") == 0)
		return cfg_duration(x, name, value, 1, CFG_POLL_MAX_MS,
		                    &s->poll_ms);
	return cfg_fail(x, "unknown key '%s' in [sync]", name);
}

/* A size option of [limits] from lo to hi bytes. */
static int cfg_size(cfg_ctx *x, const char *name, const char *value,
                    uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (ms_config_parse_size(value, &v) != 0 || v < lo || v > hi)
		return cfg_fail(x,
		                "bad value '%s' for %s (a size from %" PRIu64
		                "K to %" PRIu64 "G, e.g. 64M)",
		                value, name, lo >> 10, hi >> 30);
	*out = v;
	return 1;
}

/* [limits]: the session budgets (node/session, node/daemon). */
static int cfg_limits_session(cfg_ctx *x, const char *name, const char *value)
{
	ms_config_limits *l = &x->c->limits;
	uint64_t v = 0; /* cfg_uint sets it when it returns 1 */
	int r;

	if (strcmp(name, "session_vv_entries") == 0) {
		if ((r = cfg_uint(x, name, value, 1, 1u << 22, &v)) == 1)
			l->session_vv_entries = (uint32_t)v;
		return r;
	}
	if (strcmp(name, "hello_timeout") == 0)
		return cfg_duration(x, name, value, 100, CFG_HOUR_MS,
		                    &l->hello_timeout_ms);
	if (strcmp(name, "vv_timeout") == 0)
		return cfg_duration(x, name, value, 100, CFG_HOUR_MS,
		                    &l->vv_timeout_ms);
	if (strcmp(name, "idle_timeout") == 0)
		return cfg_duration(x, name, value, 100, CFG_HOUR_MS,
		                    &l->idle_timeout_ms);
	if (strcmp(name, "session_memory") == 0)
		return cfg_size(x, name, value, 1ull << 20, 64ull << 30,
		                &l->session_memory);
	if (strcmp(name, "sessions_memory_total") == 0)
		return cfg_size(x, name, value, 1ull << 20, 1024ull << 30,
		                &l->sessions_memory_total);
	if (strcmp(name, "sessions_per_peer") == 0) {
		if ((r = cfg_uint(x, name, value, 1, 1024, &v)) == 1)
			l->sessions_per_peer = (uint32_t)v;
		return r;
	}
	if (strcmp(name, "heads_per_key") == 0) {
		/* the store's read budget: part of the store options */
		if ((r = cfg_uint(x, name, value, 1, 65536, &v)) == 1)
			x->c->store.heads_per_key = (uint32_t)v;
		return r;
	}
	if (strcmp(name, "sessions_total") == 0) {
		if ((r = cfg_uint(x, name, value, 1, 65536, &v)) == 1)
			l->sessions_total = (uint32_t)v;
		return r;
	}
	return cfg_fail(x, "unknown key '%s' in [limits]", name);
}

/* [limits]: the budgets of the peer table, pex, discovery and transport. */
static int cfg_limits(cfg_ctx *x, const char *name, const char *value)
{
	ms_config_limits *l = &x->c->limits;
	static const struct {
		const char *name;
		size_t off;
		uint64_t lo, hi;
	} k[] = {
		{"peer_records", offsetof(ms_config_limits, peer_records), 16,
	         1000000},
		{"peer_records_disk",
	         offsetof(ms_config_limits, peer_records_disk), 1, 1000000},
		{"dials_inflight", offsetof(ms_config_limits, dials_inflight),
	         1, 1024},
		{"pex_candidates", offsetof(ms_config_limits, pex_candidates),
	         1, MS_PEX_CANDIDATES_MAX},
		{"mdns_records", offsetof(ms_config_limits, mdns_records), 1,
	         65536},
		{"send_hwm", offsetof(ms_config_limits, send_hwm), 1,
	         CFG_HWM_MAX},
		{"recv_hwm", offsetof(ms_config_limits, recv_hwm), 1,
	         CFG_HWM_MAX},
		{"inbound_connections",
	         offsetof(ms_config_limits, inbound_connections), 1,
	         CFG_INBOUND_MAX},
		{"inbound_per_address",
	         offsetof(ms_config_limits, inbound_per_address), 1,
	         CFG_INBOUND_MAX},
	};

	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		uint64_t v = 0;
		uint32_t u;
		int r;
		if (strcmp(name, k[i].name) != 0)
			continue;
		if ((r = cfg_uint(x, name, value, k[i].lo, k[i].hi, &v)) != 1)
			return r;
		u = (uint32_t)v;
		memcpy((char *)l + k[i].off, &u, sizeof u);
		return 1;
	}
	return cfg_limits_session(x, name, value);
}

static int cfg_log(cfg_ctx *x, const char *name, const char *value)
{
	ms_config_log *l = &x->c->log;

	if (strcmp(name, "level") == 0) {
		if (ms_log_level_parse(value, &l->level) != 0)
			return cfg_fail(
				x,
				"bad value '%s' for level (debug, info, notice, warning or error)",
				value);
		return 1;
	}
	if (strcmp(name, "syslog") == 0) {
		if (parse_bool(value, &l->syslog) != 0)
			return cfg_fail(x,
			                "bad value '%s' for syslog (yes or no)",
			                value);
		return 1;
	}
	return cfg_fail(x, "unknown key '%s' in [log]", name);
}

/* [faults]: every key through the fault layer's own parser (net/fault),
 * the one MESHSYNC_FAULTS also goes through. */
static int cfg_faults(cfg_ctx *x, const char *name, const char *value)
{
	ms_errbuf eb = {0};

	if (ms_fault_config_set(&x->c->faults, name, value, &eb) != 0)
		return cfg_fail(x, "%s", eb.msg);
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
	if (strcmp(section, "net") == 0)
		return cfg_net(x, name, value);
	if (strcmp(section, "backoff") == 0)
		return cfg_backoff(x, name, value);
	if (strcmp(section, "sync") == 0)
		return cfg_sync(x, name, value);
	if (strcmp(section, "limits") == 0)
		return cfg_limits(x, name, value);
	if (strcmp(section, "log") == 0)
		return cfg_log(x, name, value);
	if (strcmp(section, "faults") == 0)
		return cfg_faults(x, name, value);
	if (section[0] == '\0')
		return cfg_fail(
			x,
			"key '%s' outside any section ([store], [policy], [net], [backoff], [sync], [limits], [log] or [faults])",
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
		return ms_errf(eb, MS_EIO, "open %s: %s", path,
		               strerror(errno));
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
			return ms_errf(
				eb, MS_EINVAL,
				"%s:%d: syntax error (expected '[section]' or 'name = value')",
				path, rc);
		return ms_errf(eb, MS_EINVAL, "%s:%d: %s", path, x.err_line,
		               x.why);
	}
	if (c->store.map_initial > c->store.map_max)
		return ms_errf(eb, MS_EINVAL,
		               "%s: map_initial (%" PRIu64
		               ") is larger than map_max (%" PRIu64 ")",
		               path, c->store.map_initial, c->store.map_max);
	if (c->backoff.cap_ms < c->backoff.base_ms)
		return ms_errf(eb, MS_EINVAL,
		               "%s: [backoff] cap (%" PRIu64
		               "ms) is smaller than base (%" PRIu64 "ms)",
		               path, c->backoff.cap_ms, c->backoff.base_ms);
	if (c->net.heartbeat_timeout_ms <= c->net.heartbeat_interval_ms)
		return ms_errf(
			eb, MS_EINVAL,
			"%s: [net] heartbeat_timeout (%" PRIu64
			"ms) must be longer than heartbeat_interval (%" PRIu64
			"ms)",
			path, c->net.heartbeat_timeout_ms,
			c->net.heartbeat_interval_ms);
	ms_config_fix(c);
	return MS_OK;
}

ms_err ms_config_load_node(ms_config *c, const char *dir,
                           const char *config_path, ms_errbuf *eb)
{
	char *path = NULL;
	ms_err e;

	ms_config_default(c);
	if (config_path != NULL)
		return ms_config_load(c, config_path, eb);
	if ((path = ms_path_join(dir, MS_NODE_CONF_FILE)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "open %s: out of memory", dir);
	e = ms_config_load(c, path, eb);
	free(path);
	if (e == MS_ENOTFOUND) {
		/* no file: the built-in defaults */
		ms_config_default(c);
		ms_errbuf_clear(eb);
		e = MS_OK;
	}
	return e;
}

ms_err ms_config_faults_env(ms_config *c, ms_errbuf *eb)
{
	const char *v = getenv(MS_FAULT_ENV);
	ms_fault_config fc = c->faults;
	ms_errbuf why = {0};

	if (v == NULL || v[0] == '\0')
		return MS_OK;
	/* on a copy: a bad variable changes nothing */
	if (ms_fault_config_parse(&fc, v, &why) != MS_OK)
		return ms_errf(eb, MS_EINVAL, "%s: %s", MS_FAULT_ENV, why.msg);
	c->faults = fc;
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
	"# * = lww\n"
	"\n"
	"[net]\n"
	"# Where to accept connections (repeatable).  Without any listen line:\n"
	"# listen = tcp://0.0.0.0:7700\n"
	"# Static peers to dial (repeatable), for routed meshes mDNS cannot reach:\n"
	"# peer = tcp://10.0.0.7:7700\n"
	"# Discover peers on the local network with mDNS.\n"
	"# mdns = yes\n"
	"# Only these node ids may connect (repeatable; space-separated hex ids).\n"
	"# allow = <64 hex digits> ...\n"
	"# These node ids may never connect (checked before allow).\n"
	"# deny = <64 hex digits> ...\n"
	"# heartbeat_interval = 1s\n"
	"# heartbeat_timeout = 5s\n"
	"# handshake_timeout = 5s\n"
	"# max_message = 8M\n"
	"\n"
	"[backoff]\n"
	"# How long to wait before dialling a failed peer again: constant, linear,\n"
	"# exponential, full-jitter or decorrelated-jitter.\n"
	"# strategy = decorrelated-jitter\n"
	"# base = 500ms\n"
	"# cap = 60s\n"
	"# A peer in backoff that dials us is retried at once, at most this often.\n"
	"# kick_interval = 1s\n"
	"# A peer found by mDNS or peer exchange that refused us (its allow or\n"
	"# deny list) is not dialled again for this long, unless it dials us.\n"
	"# denied_hold = 1h\n"
	"\n"
	"[sync]\n"
	"# Ops per OPS message (at most 1024).\n"
	"# batch_ops = 256\n"
	"# Ops a peer may send beyond each acknowledged batch (flow control).\n"
	"# credit = 1024\n"
	"# A commit by another process (meshsync-node put) wakes the node at\n"
	"# once; without that wake-up (inotify refused) it looks this often.\n"
	"# poll = 50ms\n"
	"\n"
	"[limits]\n"
	"# Messages ZeroMQ queues per connection each way (a message is up to\n"
	"# max_message bytes).\n"
	"# send_hwm = 4\n"
	"# recv_hwm = 2\n"
	"# TCP connections accepted at once, in total and from one IP address.\n"
	"# inbound_connections = 512\n"
	"# inbound_per_address = 32\n"
	"# Peer records held in memory (candidates from mDNS and peer exchange\n"
	"# included) and stored on disk (only peers that authenticated).\n"
	"# peer_records = 1024\n"
	"# peer_records_disk = 256\n"
	"# Dials to discovered peers not answered yet, at once.\n"
	"# dials_inflight = 8\n"
	"# Peer exchange candidates kept (needs a restart).\n"
	"# pex_candidates = 256\n"
	"# mDNS service instances held (needs a restart).\n"
	"# mdns_records = 256\n"
	"# What one peer may make this node hold or wait for (docs/config.md).\n"
	"# Vector entries per round for authors this node does not hold.\n"
	"# session_vv_entries = 4096\n"
	"# A session that has not completed HELLO, or whose peer has not sent\n"
	"# its whole vector, or that owes a message and sends nothing, ends.\n"
	"# hello_timeout = 10s\n"
	"# vv_timeout = 60s\n"
	"# idle_timeout = 120s\n"
	"# Memory one session may hold, and all sessions together.\n"
	"# session_memory = 64M\n"
	"# sessions_memory_total = 256M\n"
	"# Sessions open at once with one node id, and in all.\n"
	"# sessions_per_peer = 4\n"
	"# sessions_total = 256\n"
	"# Heads of one key a read holds in memory (needs a restart).\n"
	"# heads_per_key = 64\n"
	"\n"
	"[log]\n"
	"# debug, info, notice, warning or error.\n"
	"# level = info\n"
	"# syslog = no\n"
	"\n"
	"[faults]\n"
	"# Fault injection for tests and simulations (docs/config.md), off\n"
	"# unless a key below is set; MESHSYNC_FAULTS overrides.  Never on a\n"
	"# node that serves anyone.  Bare durations here are milliseconds.\n"
	"# seed = 0\n"
	"# drop = 0\n"
	"# duplicate = 0\n"
	"# corrupt = 0\n"
	"# reorder = 0\n"
	"# delay = 0ms\n"
	"# jitter = 0ms\n"
	"# partition = 10s 30s\n"
	"# flap = up 5s down 10s\n";

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
			return ms_errf(eb, MS_EIO, "write %s: %s", path,
			               strerror(e));
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

/* Flags over the file: --listen replaces the configured list, --peer adds
 * to it, the rest override single values. */
ms_err ms_config_apply_flags(ms_config *c, const ms_daemon_opts *o,
                             ms_errbuf *eb)
{
	if (o->nlisten > 0) {
		if (o->nlisten > MS_CFG_MAX_LISTEN)
			return ms_errf(eb, MS_EINVAL,
			               "run: more than %d --listen",
			               MS_CFG_MAX_LISTEN);
		c->net.nlisten = 0;
		for (size_t i = 0; i < o->nlisten; i++) {
			if (ms_endpoint_check(o->listen[i]) != 0)
				return ms_errf(
					eb, MS_EINVAL,
					"run: bad --listen '%s' (tcp://HOST:PORT)",
					o->listen[i]);
			snprintf(c->net.listen[c->net.nlisten++], MS_CFG_EP_MAX,
			         "%s", o->listen[i]);
		}
	}
	for (size_t i = 0; i < o->npeers; i++) {
		int dup = 0;
		if (ms_endpoint_check(o->peers[i]) != 0)
			return ms_errf(eb, MS_EINVAL,
			               "run: bad --peer '%s' (tcp://HOST:PORT)",
			               o->peers[i]);
		for (size_t k = 0; k < c->net.npeers; k++)
			dup |= strcmp(c->net.peers[k], o->peers[i]) == 0;
		if (dup)
			continue;
		if (c->net.npeers == MS_CFG_MAX_PEERS)
			return ms_errf(eb, MS_EINVAL, "run: more than %d peers",
			               MS_CFG_MAX_PEERS);
		snprintf(c->net.peers[c->net.npeers++], MS_CFG_EP_MAX, "%s",
		         o->peers[i]);
	}
	if (o->no_mdns)
		c->net.mdns = 0;
	if (o->log_level >= 0)
		c->log.level = o->log_level;
	if (o->syslog)
		c->log.syslog = 1;
	return MS_OK;
}

int ms_config_policies_differ(const ms_config *a, const ms_config *b)
{
	if (a->nrules != b->nrules)
		return 1;
	for (size_t i = 0; i < a->nrules; i++)
		if (strcmp(a->rules[i].prefix, b->rules[i].prefix) != 0 ||
		    a->rules[i].policy != b->rules[i].policy)
			return 1;
	return 0;
}

/* Settings that only take effect at the next start (the transport, the
 * store's limits and discovery are set up once): list those nc changes
 * against the running config in `what`, then put the running values back
 * into nc so nothing half-applies.  Returns how many changed. */
int ms_config_keep_restart_only(ms_config *nc, const ms_config *run, char *what,
                                size_t cap)
{
	const ms_config_net *a = &nc->net, *b = &run->net;
	const ms_store_opts *sa = &nc->store, *sb = &run->store;
	struct {
		const char *name;
		int changed;
	} f[] = {
		{"listen",
	         a->nlisten != b->nlisten ||
	                 memcmp(a->listen, b->listen, sizeof a->listen) != 0},
		{"heartbeat",
	         a->heartbeat_interval_ms != b->heartbeat_interval_ms ||
	                 a->heartbeat_timeout_ms != b->heartbeat_timeout_ms},
		{"handshake_timeout",
	         a->handshake_timeout_ms != b->handshake_timeout_ms},
		{"max_message", a->max_message != b->max_message},
		{"mdns", a->mdns != b->mdns},
		{"map", sa->map_initial != sb->map_initial ||
	                        sa->map_max != sb->map_max},
		{"max_value", sa->max_value != sb->max_value},
		{"max_clock_skew",
	         sa->max_clock_skew_ms != sb->max_clock_skew_ms},
		{"heads_per_key", sa->heads_per_key != sb->heads_per_key},
		{"send_hwm", nc->limits.send_hwm != run->limits.send_hwm},
		{"recv_hwm", nc->limits.recv_hwm != run->limits.recv_hwm},
		{"inbound_connections",
	         nc->limits.inbound_connections !=
	                 run->limits.inbound_connections},
		{"inbound_per_address",
	         nc->limits.inbound_per_address !=
	                 run->limits.inbound_per_address},
		{"pex_candidates",
	         nc->limits.pex_candidates != run->limits.pex_candidates},
		{"mdns_records",
	         nc->limits.mdns_records != run->limits.mdns_records},
		{"faults", !ms_fault_config_equal(&nc->faults, &run->faults)},
	};
	size_t off = 0;
	int n = 0;

	what[0] = '\0';
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (!f[i].changed)
			continue;
		off += (size_t)snprintf(what + off, off < cap ? cap - off : 0,
		                        "%s%s", n ? "," : "", f[i].name);
		n++;
	}
	memcpy(nc->net.listen, b->listen, sizeof b->listen);
	nc->net.nlisten = b->nlisten;
	nc->net.heartbeat_interval_ms = b->heartbeat_interval_ms;
	nc->net.heartbeat_timeout_ms = b->heartbeat_timeout_ms;
	nc->net.handshake_timeout_ms = b->handshake_timeout_ms;
	nc->net.max_message = b->max_message;
	nc->net.mdns = b->mdns;
	nc->store.map_initial = sb->map_initial;
	nc->store.map_max = sb->map_max;
	nc->store.max_value = sb->max_value;
	nc->store.max_clock_skew_ms = sb->max_clock_skew_ms;
	nc->store.heads_per_key = sb->heads_per_key;
	nc->limits.send_hwm = run->limits.send_hwm;
	nc->limits.recv_hwm = run->limits.recv_hwm;
	nc->limits.inbound_connections = run->limits.inbound_connections;
	nc->limits.inbound_per_address = run->limits.inbound_per_address;
	nc->limits.pex_candidates = run->limits.pex_candidates;
	nc->limits.mdns_records = run->limits.mdns_records;
	nc->faults = run->faults;
	return n;
}
