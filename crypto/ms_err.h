/*
 * ms_err.h — the one error type of meshsync, and the per-call error context.
 *
 * Every fallible call returns an ms_err and, when given a non-NULL ms_errbuf,
 * fills it with "what: why" (for example
 * "mdb_env_open(/var/lib/meshsync): No space left on device").  The buffer is
 * owned by the caller; there is no shared global error state.
 *
 * This header is installed as part of the public API (see node/meshsync.h)
 * and includes nothing but standard headers.  What only the library uses
 * lives in ms_err_int.h, which is not installed.
 */
#ifndef MS_ERR_H
#define MS_ERR_H

#include <stddef.h>

/*
 * MS_MUST_USE marks a call whose result the caller must look at: GCC and
 * clang warn when it is dropped.  A (void) cast does not silence GCC, so it
 * goes only on calls where ignoring the result is always a bug.
 */
#if defined(__GNUC__) || defined(__clang__)
#define MS_MUST_USE __attribute__((warn_unused_result))
#else
#define MS_MUST_USE
#endif

/*
 * The numeric values are a stable ABI: programs built against one version
 * compare codes of another.  A new code is appended with the next value;
 * no code is ever renumbered or reused.
 */
typedef enum ms_err {
	MS_OK = 0,     /* success */
	MS_ENOMEM = 1, /* allocation failed */
	MS_EINVAL = 2, /* invalid argument or value given by the caller/user */
	MS_EIO = 3, /* operating-system I/O error (open, read, write, mkdir) */
	MS_ENOTFOUND = 4, /* no such key, node, op or file */
	MS_EEXIST = 5,    /* already exists (e.g. init over an existing node) */
	MS_ECORRUPT = 6,  /* stored data failed a consistency check */
	MS_ECRYPTO = 7,   /* signature/key failure or libsodium error */
	MS_EPROTO = 8,    /* malformed or unacceptable input from outside */
	MS_EFULL = 9,     /* store map at its configured maximum */
	MS_EPERM = 10,    /* unsafe permissions on a key file or data dir */
	MS_ESTORE = 11,   /* other LMDB error */
	MS_ENET = 12,     /* transport error (libzmq) */
	MS_EBUSY = 13,    /* resource busy, retry later */
	MS_EDELETED = 14, /* the key exists but its current value is a delete */
	MS_ECONFLICT =
		15, /* the key's heads changed since the caller read them */
} ms_err;

/* Static English description of an error code ("not found"); never NULL,
 * "unknown error" for a value that is no ms_err.  Thread-safe. */
const char *ms_strerror(ms_err e);

#define MS_ERRBUF_SIZE 512

/* Per-call error context, owned by the caller (a stack variable is usual).
 * A failing call sets code to what it returns and msg to "what: why",
 * NUL-terminated and truncated to fit.  A call that succeeds may leave an
 * earlier message in place: test the returned code, not msg. */
typedef struct ms_errbuf {
	ms_err code;
	char msg[MS_ERRBUF_SIZE];
} ms_errbuf;

/* Reset eb to MS_OK and an empty message (NULL allowed). */
void ms_errbuf_clear(ms_errbuf *eb);

#endif
