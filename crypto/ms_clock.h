/*
 * ms_clock.h — the clocks every part of meshsync reads time from, behind one
 * small table so that tests and the simulator can drive time themselves.
 *
 * Two readings, both in milliseconds:
 *  - mono: a monotonic clock for timers, durations and rate limits; its
 *    origin means nothing and it never goes back;
 *  - wall: milliseconds since the Unix epoch, for what is persisted or sent
 *    (hlc, link_since, last_seen); it may jump.
 *
 * Protocol logic (node/session) reads no clock at all: its caller passes an
 * ms_time in.  The parts around it (daemon, peer table, peer exchange) read
 * the ms_clock they were given, never the system directly.
 *
 * Thread rules: the system clock is safe from any thread; a custom clock is
 * whatever its functions are.
 */
#ifndef MS_CLOCK_H
#define MS_CLOCK_H

#include <stdint.h>

/* One reading of both clocks, taken together. */
typedef struct ms_time {
	uint64_t mono_ms; /* monotonic */
	uint64_t wall_ms; /* since the epoch */
} ms_time;

/* A clock: two functions and their context. */
typedef struct ms_clock {
	uint64_t (*mono_ms)(void *ctx);
	uint64_t (*wall_ms)(void *ctx);
	void *ctx;
} ms_clock;

/* The process's clocks (CLOCK_MONOTONIC, CLOCK_REALTIME); a static object. */
const ms_clock *ms_clock_system(void);

/* Read c; NULL means the system clock. */
uint64_t ms_clock_mono(const ms_clock *c);
uint64_t ms_clock_wall(const ms_clock *c);
ms_time ms_clock_now(const ms_clock *c);

#endif
