/*
 * log.c — the daemon's log lines (see log.h): formatting, the level filter,
 * stderr with timestamps or syslog.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ms_err.h"

#define LOG_LINE_MAX 2048

static const char *const level_names[] = {
	[MS_LOG_ERROR] = "error",   [MS_LOG_WARNING] = "warning",
	[MS_LOG_NOTICE] = "notice", [MS_LOG_INFO] = "info",
	[MS_LOG_DEBUG] = "debug",
};

const char *ms_log_level_name(int level)
{
	if (level < MS_LOG_ERROR || level > MS_LOG_DEBUG)
		return "?";
	return level_names[level];
}

int ms_log_level_parse(const char *name, int *out)
{
	for (int l = MS_LOG_ERROR; l <= MS_LOG_DEBUG; l++) {
		if (strcmp(name, level_names[l]) == 0) {
			*out = l;
			return 0;
		}
	}
	return -1;
}

void ms_log_set(ms_log *lg, int level, int use_syslog)
{
	if (use_syslog && !lg->use_syslog)
		openlog("meshsync-node", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && lg->use_syslog)
		closelog();
	lg->level = level;
	lg->use_syslog = use_syslog;
}

void ms_log_close(ms_log *lg)
{
	if (lg->use_syslog)
		closelog();
	lg->use_syslog = 0;
}

int ms_log_on(const ms_log *lg, int level)
{
	return level <= lg->level;
}

void ms_logf(const ms_log *lg, int level, const char *event, const char *fmt,
             ...)
{
	char line[LOG_LINE_MAX];
	size_t off = 0;
	va_list ap;
	int n;

	if (!ms_log_on(lg, level))
		return;
	if (!lg->use_syslog) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + off, sizeof line - off, ".%03ldZ ",
		             ts.tv_nsec / 1000000);
		off += n > 0 ? (size_t)n : 0;
	}
	n = snprintf(line + off, sizeof line - off, "%s %s%s",
	             ms_log_level_name(level), event,
	             fmt[0] != '\0' ? " " : "");
	if (n > 0)
		off += (size_t)n;
	if (off < sizeof line) {
		va_start(ap, fmt);
		n = vsnprintf(line + off, sizeof line - off, fmt, ap);
		va_end(ap);
		if (n > 0)
			off += (size_t)n;
	}
	if (off >= sizeof line - 1)
		off = sizeof line - 2; /* truncated: keep the newline */
	if (lg->use_syslog) {
		line[off] = '\0';
		syslog(level, "%s", line);
		return;
	}
	line[off++] = '\n';
	for (size_t done = 0; done < off;) {
		ssize_t w = write(STDERR_FILENO, line + done, off - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to complain to */
		done += (size_t)w;
	}
}

const char *ms_log_q(char *buf, size_t cap, const char *text)
{
	size_t o = 0;
	int plain = text[0] != '\0';

	for (const char *p = text; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			plain = 0;
	if (plain) {
		snprintf(buf, cap, "%s", text);
		return buf;
	}
	if (cap < 3) {
		if (cap > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)text;
	     *p != '\0' && o + 6 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f) {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void ms_log_error(const ms_log *lg, const char *event, const ms_errbuf *eb)
{
	char q[MS_ERRBUF_SIZE + 8];

	ms_logf(lg, MS_LOG_ERROR, event, "error=%s",
	        ms_log_q(q, sizeof q, eb != NULL ? eb->msg : ""));
}
