/* err.c — ms_err descriptions and the per-call error context. */
#include "ms_err_int.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_text[MS_ERR_COUNT] = {
	[MS_OK] = "success",
	[MS_ENOMEM] = "out of memory",
	[MS_EINVAL] = "invalid argument",
	[MS_EIO] = "input/output error",
	[MS_ENOTFOUND] = "not found",
	[MS_EEXIST] = "already exists",
	[MS_ECORRUPT] = "data corrupt",
	[MS_ECRYPTO] = "cryptographic failure",
	[MS_EPROTO] = "protocol violation",
	[MS_EFULL] = "store full",
	[MS_EPERM] = "unsafe permissions",
	[MS_ESTORE] = "store error",
	[MS_ENET] = "network error",
	[MS_EBUSY] = "busy",
	[MS_EDELETED] = "key is deleted",
	[MS_ECONFLICT] = "key changed since it was read",
};

const char *ms_strerror(ms_err e)
{
	if ((unsigned)e >= MS_ERR_COUNT || err_text[e] == NULL)
		return "unknown error";
	return err_text[e];
}

ms_err ms_errf(ms_errbuf *eb, ms_err e, const char *fmt, ...)
{
	if (eb != NULL) {
		va_list ap;
		eb->code = e;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
		va_end(ap);
	}
	return e;
}

void ms_errbuf_clear(ms_errbuf *eb)
{
	if (eb != NULL) {
		eb->code = MS_OK;
		eb->msg[0] = '\0';
	}
}
