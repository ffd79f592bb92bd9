/*
 * parse.c — whole numbers, durations and shares as written in files
 * (ms_parse.h).
 */
#include "ms_parse.h"

#include <ctype.h>
#include <string.h>

#define PPM 1000000u
#define PPM_DIGITS 6

int ms_parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
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
	*pp = p;
	return 0;
}

int ms_parse_duration(const char **pp, uint64_t bare_ms, uint64_t *out_ms)
{
	const char *p = *pp;
	uint64_t v, mul = bare_ms;

	if (ms_parse_u64(&p, &v) != 0)
		return -1;
	if (strncmp(p, "ms", 2) == 0) {
		mul = 1;
		p += 2;
	} else if (*p == 's') {
		mul = 1000;
		p++;
	} else if (*p == 'm') {
		mul = 60 * 1000;
		p++;
	} else if (*p == 'h') {
		mul = 3600 * 1000;
		p++;
	}
	if (mul != 0 && v > UINT64_MAX / mul)
		return -1;
	*out_ms = v * mul;
	*pp = p;
	return 0;
}

int ms_parse_ppm(const char **pp, uint32_t *out)
{
	const char *p = *pp;
	uint64_t whole = 0, frac = 0;
	int digits = 0, any = 0;

	if (isdigit((unsigned char)*p)) {
		if (ms_parse_u64(&p, &whole) != 0 || whole > 1)
			return -1;
		any = 1;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			any = 1;
			if (digits < PPM_DIGITS)
				frac = frac * 10 + (uint64_t)(*p - '0');
			else if (*p != '0')
				return -1;
		}
	}
	if (!any)
		return -1;
	for (; digits < PPM_DIGITS; digits++)
		frac *= 10;
	if (whole == 1 && frac != 0)
		return -1;
	*out = (uint32_t)(whole * PPM + frac);
	*pp = p;
	return 0;
}
