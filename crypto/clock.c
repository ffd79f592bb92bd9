/* clock.c — the system clock behind ms_clock (see ms_clock.h). */
#include <time.h>

#include "ms_clock.h"

static uint64_t read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t sys_mono(void *ctx)
{
	(void)ctx;
	return read_ms(CLOCK_MONOTONIC);
}

static uint64_t sys_wall(void *ctx)
{
	(void)ctx;
	return read_ms(CLOCK_REALTIME);
}

static const ms_clock system_clock = {sys_mono, sys_wall, NULL};

const ms_clock *ms_clock_system(void)
{
	return &system_clock;
}

uint64_t ms_clock_mono(const ms_clock *c)
{
	if (c == NULL)
		c = &system_clock;
	return c->mono_ms(c->ctx);
}

uint64_t ms_clock_wall(const ms_clock *c)
{
	if (c == NULL)
		c = &system_clock;
	return c->wall_ms(c->ctx);
}

ms_time ms_clock_now(const ms_clock *c)
{
	ms_time t = {ms_clock_mono(c), ms_clock_wall(c)};
	return t;
}
