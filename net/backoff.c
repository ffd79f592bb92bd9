/*
 * backoff.c — the retry-delay strategies and the per-peer backoff state
 * (formulas in backoff.h).
 */
#include "backoff.h"

#include <string.h>

static const char *const strategy_names[MS_BACKOFF_COUNT_] = {
	[MS_BACKOFF_CONSTANT] = "constant",
	[MS_BACKOFF_LINEAR] = "linear",
	[MS_BACKOFF_EXPONENTIAL] = "exponential",
	[MS_BACKOFF_FULL_JITTER] = "full-jitter",
	[MS_BACKOFF_DECORRELATED] = "decorrelated-jitter",
};

const char *ms_backoff_strategy_name(ms_backoff_strategy s)
{
	if ((unsigned)s >= MS_BACKOFF_COUNT_)
		return "unknown";
	return strategy_names[s];
}

ms_err ms_backoff_strategy_parse(const char *name, ms_backoff_strategy *out,
                                 ms_errbuf *eb)
{
	for (int i = 0; name != NULL && i < MS_BACKOFF_COUNT_; i++) {
		if (strcmp(name, strategy_names[i]) == 0) {
			*out = (ms_backoff_strategy)i;
			return MS_OK;
		}
	}
	return ms_errf(
		eb, MS_EINVAL,
		"backoff strategy \"%s\": unknown (use constant, linear, "
		"exponential, full-jitter or decorrelated-jitter)",
		name != NULL ? name : "");
}

void ms_backoff_cfg_default(ms_backoff_cfg *cfg)
{
	cfg->strategy = MS_BACKOFF_DEFAULT;
	cfg->base_ms = MS_BACKOFF_DEFAULT_BASE_MS;
	cfg->cap_ms = MS_BACKOFF_DEFAULT_CAP_MS;
}

ms_err ms_backoff_cfg_check(const ms_backoff_cfg *cfg, ms_errbuf *eb)
{
	if ((unsigned)cfg->strategy >= MS_BACKOFF_COUNT_)
		return ms_errf(eb, MS_EINVAL, "backoff strategy %d: unknown",
		               (int)cfg->strategy);
	if (cfg->base_ms == 0)
		return ms_errf(eb, MS_EINVAL,
		               "backoff base: must be at least 1 ms");
	if (cfg->cap_ms < cfg->base_ms)
		return ms_errf(eb, MS_EINVAL,
		               "backoff cap %llu ms: below base %llu ms",
		               (unsigned long long)cfg->cap_ms,
		               (unsigned long long)cfg->base_ms);
	return MS_OK;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* min(cap, base * 2^(n-1)), doubling only while below the cap so neither
 * the shift nor the product can overflow. */
static uint64_t exp_delay(uint64_t base, uint64_t cap, uint32_t n)
{
	uint64_t d = base;
	for (uint32_t i = 1; i < n && d < cap; i++)
		d = sat_mul(d, 2);
	return min_u64(d, cap);
}

uint64_t ms_backoff_failure(ms_backoff *st, const ms_backoff_cfg *cfg,
                            ms_rng *rng, uint64_t now_ms)
{
	uint64_t base = cfg->base_ms != 0 ? cfg->base_ms : 1;
	uint64_t cap = cfg->cap_ms >= base ? cfg->cap_ms : base;
	if (st->attempts < UINT32_MAX)
		st->attempts++;
	uint32_t n = st->attempts;
	uint64_t d;

	switch (cfg->strategy) {
	case MS_BACKOFF_CONSTANT:
		d = base;
		break;
	case MS_BACKOFF_LINEAR:
		d = min_u64(cap, sat_mul(base, n));
		break;
	case MS_BACKOFF_EXPONENTIAL:
		d = exp_delay(base, cap, n);
		break;
	case MS_BACKOFF_FULL_JITTER:
		d = ms_rng_range(rng, 0, exp_delay(base, cap, n));
		break;
	case MS_BACKOFF_DECORRELATED:
	default: {
		/* A stored last delay below base (fresh state, or a cfg whose
		 * base was raised since) restarts the walk from base. */
		uint64_t prev = st->last_delay_ms >= base ? st->last_delay_ms
		                                          : base;
		d = min_u64(cap, ms_rng_range(rng, base, sat_mul(prev, 3)));
		break;
	}
	}
	st->last_delay_ms = d;
	st->next_attempt_ms = sat_add(now_ms, d);
	return d;
}

void ms_backoff_success(ms_backoff *st)
{
	memset(st, 0, sizeof *st);
}

int ms_backoff_due(const ms_backoff *st, uint64_t now_ms)
{
	return st->next_attempt_ms <= now_ms;
}

int ms_backoff_kick(ms_backoff *st, uint64_t now_ms, uint64_t min_interval_ms)
{
	if (ms_backoff_due(st, now_ms))
		return 1;
	if (st->kicks > 0 && now_ms >= st->last_kick_ms &&
	    now_ms - st->last_kick_ms < min_interval_ms)
		return 0;
	if (st->kicks < UINT32_MAX)
		st->kicks++;
	st->last_kick_ms = now_ms;
	st->next_attempt_ms = now_ms;
	return 1;
}
