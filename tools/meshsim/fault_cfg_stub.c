/*
 * fault_cfg_stub.c — STUB on branch wip-sim only: the two ms_fault_config
 * calls scenario.c needs, until net/fault.c (branch wip-fault) lands.
 * tools/meshsim/CMakeLists.txt builds it only when net/fault.c is absent.
 */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "ms_err_int.h"

void ms_fault_config_default(ms_fault_config *c)
{
	memset(c, 0, sizeof *c);
}

int ms_fault_config_on(const ms_fault_config *c)
{
	return c->drop_ppm || c->duplicate_ppm || c->corrupt_ppm ||
	       c->reorder_ppm || c->delay_ms || c->jitter_ms || c->nsched;
}

static int prob(const char *v, uint32_t *out)
{
	char *end;
	double d = strtod(v, &end);
	if (*end != '\0' || d < 0 || d > 1)
		return -1;
	*out = (uint32_t)(d * 1000000.0 + 0.5);
	return 0;
}

static int dur(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v)
		return -1;
	if (strcmp(end, "ms") == 0 || *end == '\0')
		*out = n;
	else if (strcmp(end, "s") == 0)
		*out = n * 1000;
	else
		return -1;
	return 0;
}

int ms_fault_config_set(ms_fault_config *c, const char *key, const char *value,
                        ms_errbuf *eb)
{
	int r;
	if (strcmp(key, "drop") == 0)
		r = prob(value, &c->drop_ppm);
	else if (strcmp(key, "duplicate") == 0)
		r = prob(value, &c->duplicate_ppm);
	else if (strcmp(key, "corrupt") == 0)
		r = prob(value, &c->corrupt_ppm);
	else if (strcmp(key, "reorder") == 0)
		r = prob(value, &c->reorder_ppm);
	else if (strcmp(key, "delay") == 0)
		r = dur(value, &c->delay_ms);
	else if (strcmp(key, "jitter") == 0)
		r = dur(value, &c->jitter_ms);
	else
		return -1;
	if (r != 0) {
		ms_errf(eb, MS_EINVAL, "bad value '%s' for %s", value, key);
		return -2;
	}
	return 0;
}
