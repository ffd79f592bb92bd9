/*
 * log.h — the daemon's log: RFC 5424 severities, one line per event of the
 * form `LEVEL MS-<AREA>-<EVENT> key=value ...`, to stderr (with a UTC
 * timestamp in front) or to syslog.
 *
 * Event ids are stable (docs/operations.md lists them); values with spaces
 * or quotes are written with ms_log_q.  A line is written with one write(2),
 * so lines of processes sharing a terminal or file do not interleave.
 *
 * Thread rules: a logger belongs to the event loop's thread.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stddef.h>

/* RFC 5424 severities (numerically: lower is more severe). */
typedef enum ms_log_level {
	MS_LOG_ERROR = 3, /* "error": something failed that needs an operator */
	MS_LOG_WARNING = 4, /* "warning": refused input, failed peers */
	MS_LOG_NOTICE = 5,  /* "notice": worth knowing, not a fault */
	MS_LOG_INFO = 6,    /* "info": sessions, summaries, dials (default) */
	MS_LOG_DEBUG = 7,   /* "debug": per-message detail */
} ms_log_level;

#define MS_LOG_DEFAULT MS_LOG_INFO

/* "error", "warning", "notice", "info", "debug"; "?" otherwise. */
const char *ms_log_level_name(int level);
/* Parse a level name as above; 0 ok, -1 unknown. */
int ms_log_level_parse(const char *name, int *out);

typedef struct ms_log {
	int level;      /* events above this severity number are dropped */
	int use_syslog; /* 1: syslog(3) (openlog done by ms_log_set) */
} ms_log;

/* Configure lg; switching to syslog opens it (ident "meshsync-node"). */
void ms_log_set(ms_log *lg, int level, int use_syslog);
/* Close syslog if open. */
void ms_log_close(ms_log *lg);
/* 1 if an event of this level would be written. */
int ms_log_on(const ms_log *lg, int level);

/* One event: fmt is the key=value tail (may be ""). */
void ms_logf(const ms_log *lg, int level, const char *event, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

/* Quote text for a key=value log field: returned as is when it is printable
 * without spaces, quotes or backslashes, else in double quotes with \" \\
 * and \xNN escapes.  Writes into buf (cap bytes, truncating) and returns it. */
const char *ms_log_q(char *buf, size_t cap, const char *text);

/* The one line for a failed call: `error EVENT error="what: why"`, the text
 * from eb (e.g. ms_log_error(lg, "MS-STORE-ERROR", &eb)). */
struct ms_errbuf;
void ms_log_error(const ms_log *lg, const char *event,
                  const struct ms_errbuf *eb);

#endif
