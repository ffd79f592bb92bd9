/*
 * ms_err.h — the one error type of meshsync, and the per-call error context.
 *
 * Every fallible call returns an ms_err and, when given a non-NULL ms_errbuf,
 * fills it with "what: why" (for example
 * "mdb_env_open(/var/lib/meshsync): No space left on device").  The buffer is
 * owned by the caller; there is no shared global error state.
 *
 * This header is installed as part of the public API (see node/meshsync.h).
 */
#ifndef MS_ERR_H
#define MS_ERR_H

#include <stddef.h>

typedef enum ms_err {
	MS_OK = 0,      /* success */
	MS_ENOMEM,      /* allocation failed */
	MS_EINVAL,      /* invalid argument or value given by the caller/user */
	MS_EIO,         /* operating-system I/O error (open, read, write, mkdir) */
	MS_ENOTFOUND,   /* no such key, node, op or file */
	MS_EEXIST,      /* already exists (e.g. init over an existing node) */
	MS_ECORRUPT,    /* stored data failed a consistency check */
	MS_ECRYPTO,     /* signature/key failure or libsodium error */
	MS_EPROTO,      /* malformed or unacceptable input from outside */
	MS_EFULL,       /* store map at its configured maximum */
	MS_EPERM,       /* unsafe permissions on a key file or data dir */
	MS_ESTORE,      /* other LMDB error */
	MS_ENET,        /* transport error (libzmq) */
	MS_EBUSY,       /* resource busy, retry later */
	MS_ERR_COUNT_   /* number of codes; not an error */
} ms_err;

/* Static English description of an error code; never NULL. */
const char *ms_strerror(ms_err e);

#define MS_ERRBUF_SIZE 512

/* Per-call error context: message is "what: why", NUL-terminated. */
typedef struct ms_errbuf {
	ms_err code;
	char msg[MS_ERRBUF_SIZE];
} ms_errbuf;

/*
 * Record an error in eb (if non-NULL) with a printf-style "what: why" message
 * and return e, so callers can write `return ms_errf(eb, MS_EIO, "open %s: %s",
 * path, strerror(errno));`.
 */
ms_err ms_errf(ms_errbuf *eb, ms_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset eb to MS_OK and an empty message (NULL allowed). */
void ms_errbuf_clear(ms_errbuf *eb);

#endif
