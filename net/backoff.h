/*
 * backoff.h — when to retry a peer that failed: five strategies, their
 * state, and the "retry now" kick of a link-up event.
 *
 * Let n be the number of consecutive failures including this one (n >= 1),
 * b = base_ms, c = cap_ms (b <= c), and exp(n) = min(c, b * 2^(n-1)).
 * The delay d before the next attempt is:
 *
 *   constant             d = b                                  in [b, c]
 *   linear               d = min(c, b * n)                      in [b, c]
 *   exponential          d = exp(n)                             in [b, c]
 *   full-jitter          d = uniform[0, exp(n)]                 in [0, c]
 *   decorrelated-jitter  d = min(c, uniform[b, 3 * prev])       in [b, c]
 *                        prev = the previous delay (b after a reset)
 *
 * full-jitter is "exponential with full jitter": it may retry at once, which
 * is its point (spreading many retries over the whole window).
 * decorrelated-jitter (the default) grows about as fast as exponential on
 * average but never synchronises peers that failed together, and never
 * drops below b.  All arithmetic saturates; no overflow for any n.
 *
 * The state is plain fixed-width data so the node can store it with the
 * peer and a restart does not hammer a dead peer.  Times are milliseconds
 * on whatever clock the caller uses consistently (the node uses the wall
 * clock, since the state outlives the process).
 *
 * No locking inside; the state belongs to one peer record.
 */
#ifndef MS_BACKOFF_H
#define MS_BACKOFF_H

#include <stdint.h>

#include "ms_err_int.h"
#include "rng.h"

typedef enum ms_backoff_strategy {
	MS_BACKOFF_CONSTANT = 0, /* "constant": always base */
	MS_BACKOFF_LINEAR,       /* "linear": base * n */
	MS_BACKOFF_EXPONENTIAL,  /* "exponential": base * 2^(n-1) */
	MS_BACKOFF_FULL_JITTER,  /* "full-jitter": uniform[0, exponential] */
	MS_BACKOFF_DECORRELATED, /* "decorrelated-jitter": the default */
	MS_BACKOFF_COUNT_        /* number of strategies; not one */
} ms_backoff_strategy;

#define MS_BACKOFF_DEFAULT MS_BACKOFF_DECORRELATED
#define MS_BACKOFF_DEFAULT_BASE_MS 500u
#define MS_BACKOFF_DEFAULT_CAP_MS 60000u

typedef struct ms_backoff_cfg {
	ms_backoff_strategy strategy;
	uint64_t base_ms; /* >= 1 */
	uint64_t cap_ms;  /* >= base_ms */
} ms_backoff_cfg;

/* Fill cfg with the defaults above. */
void ms_backoff_cfg_default(ms_backoff_cfg *cfg);

/* MS_EINVAL with the rule broken (unknown strategy, base 0, cap < base). */
ms_err ms_backoff_cfg_check(const ms_backoff_cfg *cfg, ms_errbuf *eb);

/* Stable name of a strategy (the list in the comment above); "unknown" for
 * values outside the enum. */
const char *ms_backoff_strategy_name(ms_backoff_strategy s);

/* Parse a strategy name exactly as ms_backoff_strategy_name writes it;
 * MS_EINVAL listing the valid names otherwise. */
ms_err ms_backoff_strategy_parse(const char *name, ms_backoff_strategy *out,
                                 ms_errbuf *eb);

/* Per-peer state.  All zero = never failed, may be tried now. */
typedef struct ms_backoff {
	uint32_t attempts; /* consecutive failures since the last success */
	uint32_t kicks;    /* kicks accepted since the last success */
	uint64_t last_delay_ms;   /* the delay chosen at the last failure */
	uint64_t next_attempt_ms; /* do not try before this time */
	uint64_t last_kick_ms;    /* when the last accepted kick happened */
} ms_backoff;

/*
 * Record a failed attempt at now_ms: count it, choose the next delay by
 * cfg's strategy (jitter drawn from rng; rng may be NULL only for the
 * strategies without jitter) and set next_attempt_ms = now_ms + delay
 * (saturating).  Returns the delay.  A cfg that fails ms_backoff_cfg_check
 * is used clamped (base >= 1, cap >= base) rather than trusted.
 */
uint64_t ms_backoff_failure(ms_backoff *st, const ms_backoff_cfg *cfg,
                            ms_rng *rng, uint64_t now_ms);

/* A good session: forget failures and kicks; the peer may be tried now. */
void ms_backoff_success(ms_backoff *st);

/* 1 if the peer may be tried at now_ms. */
int ms_backoff_due(const ms_backoff *st, uint64_t now_ms);

/*
 * A link-up event (new address, interface up, mDNS announcement): retry at
 * once, but at most once per min_interval_ms, so a flapping link cannot
 * turn backoff into a tight loop.  Returns 1 if the peer may be tried now:
 * it was already due, or the kick was accepted (next_attempt_ms = now_ms,
 * last_kick_ms = now_ms).  Returns 0 and changes nothing when the last
 * accepted kick is less than min_interval_ms ago.  The failure count is
 * kept, so if the retry fails the delays continue where they were.  A clock
 * that went backwards (now_ms < last_kick_ms) allows the kick.
 */
int ms_backoff_kick(ms_backoff *st, uint64_t now_ms, uint64_t min_interval_ms);

#endif
