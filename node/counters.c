/* counters.c — named counters kept in memory, flushed to the store (see
 * counters.h). */
#include <stdio.h>
#include <string.h>

#include "counters.h"

static ms_counter *find(ms_counters *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->c[i].name, name) == 0)
			return &k->c[i];
	return NULL;
}

void ms_counters_add(ms_counters *k, const char *prefix, const char *suffix,
                     uint64_t n)
{
	char name[MS_COUNTER_NAME_MAX];
	ms_counter *c;

	snprintf(name, sizeof name, "%s%s", prefix,
	         suffix != NULL ? suffix : "");
	/* names become store keys: keep them plain */
	for (char *p = name; *p != '\0'; p++)
		if (*p == '-' || *p == ' ')
			*p = '_';
	if ((c = find(k, name)) == NULL) {
		if (k->n == MS_COUNTERS_MAX) {
			k->dropped += n;
			return;
		}
		c = &k->c[k->n++];
		snprintf(c->name, sizeof c->name, "%s", name);
		c->delta = c->total = 0;
	}
	c->delta += n;
	c->total += n;
}

uint64_t ms_counters_total(const ms_counters *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->c[i].name, name) == 0)
			return k->c[i].total;
	return 0;
}

ms_err ms_counters_flush(ms_counters *k, ms_store *s, ms_errbuf *eb)
{
	const char *names[MS_COUNTERS_MAX + 1];
	uint64_t deltas[MS_COUNTERS_MAX + 1];
	size_t n = 0;
	ms_err e;

	for (size_t i = 0; i < k->n; i++) {
		if (k->c[i].delta == 0)
			continue;
		names[n] = k->c[i].name;
		deltas[n] = k->c[i].delta;
		n++;
	}
	if (k->dropped > 0) {
		names[n] = "counters_dropped";
		deltas[n] = k->dropped;
		n++;
	}
	if (n == 0)
		return MS_OK;
	if ((e = ms_store_stats_add(s, names, deltas, n, eb)) != MS_OK)
		return e; /* kept: the next flush tries again */
	for (size_t i = 0; i < k->n; i++)
		k->c[i].delta = 0;
	k->dropped = 0;
	return MS_OK;
}
