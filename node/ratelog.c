/*
 * ratelog.c — per-source log line budget (ratelog.h).
 */
#include "ratelog.h"

#include <inttypes.h>
#include <string.h>

#include "crypto.h"

static ms_ratelog_src *find(ms_ratelog *r, const uint8_t *key)
{
	ms_ratelog_src *oldest = &r->src[0];

	for (size_t i = 0; i < MS_RATELOG_SOURCES; i++) {
		ms_ratelog_src *s = &r->src[i];

		if (s->used && memcmp(s->key, key, MS_RATELOG_KEY_LEN) == 0)
			return s;
		if (!s->used ||
		    (oldest->used && s->window_ms < oldest->window_ms))
			oldest = s;
	}
	/* A source we forget loses its pending "suppressed" count; r->dropped
	 * still has it. */
	memset(oldest, 0, sizeof *oldest);
	memcpy(oldest->key, key, MS_RATELOG_KEY_LEN);
	oldest->used = 1;
	return oldest;
}

int ms_ratelog_allow(ms_ratelog *r, const uint8_t key[MS_RATELOG_KEY_LEN],
                     uint64_t now_ms, uint32_t *was_dropped)
{
	uint32_t per = r->per_sec ? r->per_sec : MS_RATELOG_DEFAULT_PER_SEC;
	ms_ratelog_src *s = find(r, key);

	*was_dropped = 0;
	if (s->lines == 0 || now_ms - s->window_ms >= 1000) {
		s->window_ms = now_ms;
		s->lines = 0;
	}
	if (s->lines >= per) {
		if (s->dropped < UINT32_MAX)
			s->dropped++;
		r->dropped++;
		return 0;
	}
	s->lines++;
	*was_dropped = s->dropped;
	s->dropped = 0;
	return 1;
}

void ms_ratelog_key(uint8_t key[MS_RATELOG_KEY_LEN], const char *text)
{
	ms_hash(key, (const uint8_t *)text, strlen(text));
}

int ms_ratelog_gate(ms_ratelog *r, const ms_log *lg, ms_counters *k,
                    const uint8_t key[MS_RATELOG_KEY_LEN], const char *src,
                    uint64_t now_ms)
{
	uint32_t was = 0;

	if (r == NULL)
		return 1;
	if (!ms_ratelog_allow(r, key, now_ms, &was)) {
		if (k != NULL)
			ms_counters_add(k, "log_suppressed", NULL, 1);
		return 0;
	}
	if (was > 0)
		ms_logf(lg, MS_LOG_WARNING, "MS-LOG-SUPPRESSED",
		        "source=%s lines=%" PRIu32, src, was);
	return 1;
}
