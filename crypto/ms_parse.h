/*
 * ms_parse.h — the numbers people write in config and scenario files:
 * whole numbers, durations with a unit, shares from 0 to 1.  One reading
 * of each for every file that takes them (node/config.c, net/fault.c,
 * tools/meshsim/scenario.c), so "250ms" or "0.3" means the same thing
 * everywhere.  Each parser reads from *pp and, on success, leaves *pp
 * just past what it read: the caller decides whether more may follow.
 */
#ifndef MS_PARSE_H
#define MS_PARSE_H

#include <stdint.h>

/* Decimal digits (no sign, no space) as a u64; -1 for none or overflow. */
int ms_parse_u64(const char **pp, uint64_t *out);

/*
 * A duration: digits, then "ms", "s", "m", "h" or no unit, which counts
 * bare_ms milliseconds a unit (1000: bare seconds; 1: bare milliseconds).
 * Into *out_ms; -1 for no digits or overflow.
 */
int ms_parse_duration(const char **pp, uint64_t bare_ms, uint64_t *out_ms);

/* A share from 0 to 1 ("0", "1", "0.25", ".5", "1.0") in parts per
 * million, exactly; digits past the sixth must be zeros.  -1 otherwise. */
int ms_parse_ppm(const char **pp, uint32_t *out);

#endif
