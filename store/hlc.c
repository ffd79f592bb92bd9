/*
 * hlc.c — the hybrid logical clock (48 bits of ms, 16 bits of counter).
 *
 * Pure functions of their arguments, the wall clock passed in, so the store
 * can persist the state in its transaction and tests can drive any clock.
 */
#include "hlc.h"

#include <time.h>

/* Largest millisecond value the 48-bit field holds (year 10889). */
#define HLC_MS_MAX ((UINT64_C(1) << 48) - 1)

uint64_t ms_hlc_wall_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0; /* a clock before 1970 orders like one at 1970 */
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ms_hlc_tick(uint64_t last, uint64_t wall_ms)
{
	/* A wall clock past the 48-bit range would wrap into the past if it
	 * were shifted in as is: clamp it instead. */
	if (wall_ms > HLC_MS_MAX)
		wall_ms = HLC_MS_MAX;
	if (wall_ms > MS_HLC_MS(last))
		return MS_HLC_MAKE(wall_ms, 0);
	/* Wall clock behind or equal: count.  A full counter carries into the
	 * ms part, which is still a later timestamp than last.  Only the very
	 * last value of the u64 cannot grow; it stays put rather than wrapping
	 * back to 0 (unreachable before the year 10889). */
	if (last == UINT64_MAX)
		return last;
	return last + 1;
}

uint64_t ms_hlc_observe(uint64_t last, uint64_t remote, uint64_t wall_ms,
                        uint64_t max_skew_ms, int *skewed)
{
	uint64_t rms = MS_HLC_MS(remote);
	int skew = rms > wall_ms && rms - wall_ms > max_skew_ms;

	if (skewed != NULL)
		*skewed = skew;
	if (skew)
		return last; /* the op is kept; only our clock is protected */
	return remote > last ? remote : last;
}
