/*
 * hlc.h — hybrid logical clock: 48 bits of milliseconds since the Unix epoch,
 * 16 bits of counter.
 *
 * Pure functions over a u64 state; the store persists the state in the same
 * LMDB transaction as the op that used it.
 */
#ifndef MS_HLC_H
#define MS_HLC_H

#include <stdint.h>

#define MS_HLC_MS(h) ((h) >> 16)
#define MS_HLC_CTR(h) ((h)&0xffffu)
#define MS_HLC_MAKE(ms, ctr) \
	(((uint64_t)(ms) << 16) | ((uint64_t)(ctr)&0xffffu))
#define MS_HLC_DEFAULT_MAX_SKEW_MS (3600u * 1000u) /* 1 hour */

/* Wall clock in ms since the epoch (CLOCK_REALTIME). */
uint64_t ms_hlc_wall_ms(void);

/*
 * Next timestamp for a local write: max(wall, last) + tick.  If wall_ms is
 * ahead of last's ms, the result is (wall_ms, 0); otherwise last + 1 (the
 * counter carries into the ms part on overflow).  Always > last.
 */
uint64_t ms_hlc_tick(uint64_t last, uint64_t wall_ms);

/*
 * Observe a received timestamp.  Returns the new clock state:
 * max(last, remote) when remote's ms is no more than max_skew_ms ahead of
 * wall_ms; otherwise last unchanged and *skewed set to 1 (the op is still
 * stored and applied by the caller; only the clock is protected).
 */
uint64_t ms_hlc_observe(uint64_t last, uint64_t remote, uint64_t wall_ms,
                        uint64_t max_skew_ms, int *skewed);

#endif
