/*
 * ms_err_int.h — what the library's own files share about errors and do not
 * install: how a failing call fills the caller's ms_errbuf, and how many
 * codes there are.  Internal module headers (crypto.h, net/backoff.h,
 * net/linkmon.h) include it, so every library file that reports errors
 * has it; programs built on the public API never see it.
 */
#ifndef MS_ERR_INT_H
#define MS_ERR_INT_H

#include "ms_err.h"

/* Number of codes: one past the last one in ms_err.h. */
#define MS_ERR_COUNT (MS_ECONFLICT + 1)

/*
 * Record an error in eb (if non-NULL) with a printf-style "what: why" message
 * and return e, so callers can write `return ms_errf(eb, MS_EIO, "open %s: %s",
 * path, strerror(errno));`.
 */
ms_err ms_errf(ms_errbuf *eb, ms_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
