/*
 * ratelog.h — the budget on log lines per source: at most `per_sec` warning
 * lines a second for each source (a peer's node id, or a hash of a remote
 * address), so a peer that fails a thousand handshakes a second costs a few
 * lines, not a full disk.
 *
 * Sources live in a fixed table of MS_RATELOG_SOURCES; a new source takes
 * the slot whose window started longest ago, so a flood of made-up sources
 * cannot grow it.  What a source had suppressed is handed back with its
 * next allowed line, for one "MS-LOG-SUPPRESSED lines=N" after it.
 *
 * No clock inside: the caller passes its monotonic time.
 * Thread rules: one thread (the event loop's).
 */
#ifndef MS_RATELOG_H
#define MS_RATELOG_H

#include <stdint.h>

#include "counters.h"
#include "log.h"

#define MS_RATELOG_SOURCES 64        /* sources tracked at once */
#define MS_RATELOG_KEY_LEN 32        /* bytes identifying a source */
#define MS_RATELOG_DEFAULT_PER_SEC 5 /* lines per source per second */

typedef struct ms_ratelog_src {
	uint8_t key[MS_RATELOG_KEY_LEN];
	uint64_t window_ms; /* start of the current one-second window */
	uint32_t lines;     /* lines allowed in this window */
	uint32_t dropped;   /* lines refused since the last allowed one */
	int used;
} ms_ratelog_src;

typedef struct ms_ratelog {
	uint32_t per_sec; /* 0 = MS_RATELOG_DEFAULT_PER_SEC */
	uint64_t dropped; /* lines refused since creation (a counter) */
	ms_ratelog_src src[MS_RATELOG_SOURCES];
} ms_ratelog;

/*
 * May the source `key` log one more line at now_ms?  1 yes, 0 no (the line
 * is counted in r->dropped and the source's own count).  On 1, *was_dropped
 * is how many lines this source had refused since its last allowed line
 * (0 usually): the caller logs MS-LOG-SUPPRESSED with it when non-zero.
 */
int ms_ratelog_allow(ms_ratelog *r, const uint8_t key[MS_RATELOG_KEY_LEN],
                     uint64_t now_ms, uint32_t *was_dropped);

/*
 * The gate every rate-limited warning goes through: 1 when the source
 * `key` may log a line now.  On 0 the line is counted as log_suppressed in
 * k (when not NULL).  On 1 after refused lines, first logs
 * `warning MS-LOG-SUPPRESSED source=<src> lines=N` (src as printed in the
 * source's own lines: a short node id, an address).  r NULL: always 1.
 */
int ms_ratelog_gate(ms_ratelog *r, const ms_log *lg, ms_counters *k,
                    const uint8_t key[MS_RATELOG_KEY_LEN], const char *src,
                    uint64_t now_ms);

/* A source key from text (an address): BLAKE2b-256 of it. */
void ms_ratelog_key(uint8_t key[MS_RATELOG_KEY_LEN], const char *text);

#endif
