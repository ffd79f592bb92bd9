/*
 * stats.c — meshbench's clock, percentiles and the small JSON shapes every
 * workload uses (latency summaries, ratios, targets).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

uint64_t msb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double msb_secs_since(uint64_t t0_ns)
{
	return (double)(msb_now_ns() - t0_ns) / 1e9;
}

void msb_sleep_ms(double ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000.0);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double msb_pct(double *v, size_t n, double p)
{
	size_t k;

	qsort(v, n, sizeof *v, cmp_double);
	/* nearest rank: the smallest value with at least p% at or below */
	k = (size_t)ceil(p / 100.0 * (double)n);
	if (k == 0)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

json_t *msb_lat_json(double *v, size_t n)
{
	double p50, p99;

	if (n == 0)
		return json_pack("{s:n, s:n, s:n, s:i}", "p50_ms", "p99_ms",
		                 "max_ms", "samples", 0);
	/* msb_pct sorts v: take every figure before building the object, as
	 * the order in which arguments are evaluated is unspecified */
	p50 = msb_pct(v, n, 50);
	p99 = msb_pct(v, n, 99);
	return json_pack("{s:f, s:f, s:f, s:I}", "p50_ms", p50, "p99_ms", p99,
	                 "max_ms", v[n - 1], "samples", (json_int_t)n);
}

json_t *msb_target(double value, const char *op, double threshold)
{
	int ok = op[0] == '<' ? value <= threshold : value >= threshold;

	if (!isfinite(value))
		return json_pack("{s:n, s:f, s:s, s:b}", "value", "threshold",
		                 threshold, "op", op, "met", 0);
	return json_pack("{s:f, s:f, s:s, s:b}", "value", value, "threshold",
	                 threshold, "op", op, "met", ok);
}

json_t *msb_ratio(double a, double b)
{
	if (b == 0 || !isfinite(a) || !isfinite(b))
		return json_null();
	return json_real(a / b);
}

void msb_say(const char *fmt, ...)
{
	va_list ap;

	fputs("meshbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
