/*
 * ms_test.h — the harness every Check suite links (ms_testlib): loud
 * assertions, time and bounded waits, scratch directories, small file
 * helpers, and processes started, run and stopped by PID.
 *
 * Loud assertions: on failure they print file, line, the expression and the
 * ms_strerror/ms_errbuf text, so a red test says why without a debugger.
 *
 * Waits: a test never sleeps in place of a condition.  It waits for the
 * condition with a deadline (MS_WAIT, ms_test_wait_until); every wait loop
 * here is bounded both in time and in the number of tries.
 */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ms_err.h"

/* The message in eb, "" for NULL (what MS_PASS_EB prints). */
const char *ms_test_eb_msg(const ms_errbuf *eb);

/* Assert that an ms_err-returning call succeeds; eb (may be NULL) explains. */
#define MS_PASS_EB(expr, eb)                                                 \
	do {                                                                 \
		ms_err ms_t_e_ = (expr);                                     \
		ck_assert_msg(ms_t_e_ == MS_OK, "%s failed: %s (%s)", #expr, \
		              ms_strerror(ms_t_e_), ms_test_eb_msg(eb));     \
	} while (0)
#define MS_PASS(expr) MS_PASS_EB(expr, (ms_errbuf *)NULL)

/* Assert that a call fails with exactly the given code. */
#define MS_FAIL(expr, code)                                                    \
	do {                                                                   \
		ms_err ms_t_e_ = (expr);                                       \
		ck_assert_msg(ms_t_e_ == (code), "%s returned %s, want %s",    \
		              #expr, ms_strerror(ms_t_e_), ms_strerror(code)); \
	} while (0)

/* Run a Check suite with CK_ENV defaults; returns the process exit code. */
int ms_test_run(Suite *s);
/* 1 unless CK_FORK=no: suites whose teardown must outlive a failed test,
 * or whose tests move their process into a namespace, need fork mode. */
int ms_test_fork_mode(void);

/* --- time and waiting ---------------------------------------------------- */

/* The step of a wait that has nothing better to do than sleep. */
#define MS_TEST_PAUSE_MS 20
/* Every wait gives up after this many tries even before its deadline. */
#define MS_TEST_WAIT_MAX_TRIES 1000000u

/* CLOCK_MONOTONIC in milliseconds: what every deadline is measured on. */
uint64_t ms_test_now_ms(void);
/* CLOCK_REALTIME in milliseconds since the epoch. */
uint64_t ms_test_wall_ms(void);
/* Sleep ms milliseconds (restarted after a signal). */
void ms_test_sleep_ms(unsigned ms);
/* Sleep MS_TEST_PAUSE_MS: one step of a polling wait. */
void ms_test_pause(void);

/* A deadline and a try count, for wait loops written out by hand. */
typedef struct ms_test_wait {
	uint64_t deadline_ms; /* on ms_test_now_ms() */
	uint64_t tries;       /* ms_test_wait_more calls that said yes */
} ms_test_wait;
void ms_test_wait_start(ms_test_wait *w, uint64_t timeout_ms);
/* 1 while another try is allowed (deadline not reached, fewer than
 * MS_TEST_WAIT_MAX_TRIES tries); 0 once the wait is over. */
int ms_test_wait_more(ms_test_wait *w);
/* Milliseconds left before the deadline (0 once it has passed). */
uint64_t ms_test_wait_left(const ms_test_wait *w);

/*
 * ok = whether expr came to hold: expr is evaluated, then step is run
 * between tries until expr holds or the wait is over.  The last thing done
 * is always an evaluation of expr.  step bounds its own time (a pause, a
 * poll with a timeout).
 */
#define MS_WAIT_RESULT(ok, expr, timeout_ms, step)                          \
	do {                                                                \
		ms_test_wait ms_t_w_;                                       \
		ms_test_wait_start(&ms_t_w_, (timeout_ms));                 \
		while (!((ok) = !!(expr)) && ms_test_wait_more(&ms_t_w_)) { \
			step;                                               \
		}                                                           \
	} while (0)

/* Assert that expr comes to hold within timeout_ms, running step between
 * tries; on failure the message is the printf-style rest. */
#define MS_WAIT_STEP(expr, timeout_ms, step, ...)                 \
	do {                                                      \
		int ms_t_ok_;                                     \
		MS_WAIT_RESULT(ms_t_ok_, expr, timeout_ms, step); \
		ck_assert_msg(ms_t_ok_, __VA_ARGS__);             \
	} while (0)

/* The same, pausing MS_TEST_PAUSE_MS between tries. */
#define MS_WAIT(expr, timeout_ms, ...) \
	MS_WAIT_STEP(expr, timeout_ms, ms_test_pause(), __VA_ARGS__)

/* 1 once cond(ctx) returns non-zero, 0 if it did not within timeout_ms
 * (polled every MS_TEST_PAUSE_MS). */
int ms_test_wait_until(int (*cond)(void *ctx), void *ctx, uint64_t timeout_ms);

/* --- identities --------------------------------------------------------- */

typedef struct ms_identity ms_identity; /* crypto.h */

/* The identity whose seed is MS_SEED_LEN bytes of fill (crypto
 * initialised first): the same keys in every run.  ms_identity_free it. */
ms_identity *ms_test_identity(uint8_t fill);

/* --- scratch directories ------------------------------------------------- */

/*
 * A fresh private directory under $TMPDIR (or /tmp) named after the test;
 * the caller removes it with ms_test_rmdir.  Returns a malloc'd path.
 */
char *ms_test_tmpdir(const char *tag);
/* rm -rf path (bounded: only removes inside the directory it was given). */
void ms_test_rmdir(const char *path);
/*
 * Suites about sync, order or processes (not fsync) keep their files on
 * /dev/shm when TMPDIR is unset, so thousands of durable commits do not
 * make them slow on a busy CI disk: sets TMPDIR for this process.
 */
void ms_test_prefer_ram_tmpdir(void);
/*
 * Give every test of tc a fresh ms_test_tmpdir(tag) in *dirp, removed and
 * set to NULL after the test (a checked fixture).  One variable per
 * program: every test case that calls this must pass the same dirp.
 */
void ms_test_tcase_tmpdir(TCase *tc, char **dirp, const char *tag);

/* --- files --------------------------------------------------------------- */

/* "dir/name", malloc'd (the caller frees). */
char *ms_test_pjoin(const char *dir, const char *name);
/* Write text to path (created or truncated) with exactly mode: 0, or -1
 * with errno set.  Does not assert: fixtures outside a test use it. */
int ms_test_write_text(const char *path, const char *text, mode_t mode);
/* The same, failing the test with the path and the reason. */
void ms_test_write_file(const char *path, const char *text, mode_t mode);
/* Append text to path (created 0600 if missing); fails the test on error. */
void ms_test_append_file(const char *path, const char *text);
/* The whole file, NUL-terminated and malloc'd (len gets its length when
 * not NULL), or NULL if it cannot be opened. */
char *ms_test_read_file(const char *path, size_t *len);
/* 1 if path exists. */
int ms_test_exists(const char *path);

/* --- processes ----------------------------------------------------------- */

/* The exit code of a wait status: WEXITSTATUS, 128+signal when killed. */
int ms_test_exit_code(int status);

/* How ms_test_spawn sets up the child.  Zero-initialised: stdin and stdout
 * /dev/null, stderr /dev/null unless MS_TEST_VERBOSE is set. */
typedef struct ms_test_spawn_opts {
	/* "NAME=VALUE" to set, "NAME" to unset; NULL-terminated, or NULL */
	const char *const *env;
	int *in_fd;  /* non-NULL: a pipe to its stdin; our (write) end here */
	int *out_fd; /* non-NULL: a pipe from its stdout; our (read) end here */
	int *err_fd; /* non-NULL: a pipe from its stderr; our end here */
	/* non-NULL: stdout and stderr (those not piped) appended to this file */
	const char *log;
	int die_with_parent; /* SIGKILLed when the test process dies */
} ms_test_spawn_opts;

/* Fork and exec argv (argv[0] looked up in PATH); o may be NULL.  Fails
 * the test if it cannot fork; an exec failure is exit code 127. */
pid_t ms_test_spawn(char *const argv[], const ms_test_spawn_opts *o);

/*
 * Wait up to timeout_ms for pid to end: 0 once it has (our child: reaped,
 * its wait status in *status; not our child: gone, *status -1), -1 if it
 * still runs at the deadline.  status may be NULL.
 */
int ms_test_wait_pid(pid_t pid, uint64_t timeout_ms, int *status);
/*
 * Send sig (0: none) and wait up to timeout_ms for pid to end; if it does
 * not, SIGKILL and reap it.  0 if it ended by itself (or was already
 * gone), -1 if it had to be killed.  *status as for ms_test_wait_pid.
 */
int ms_test_stop_pid(pid_t pid, int sig, uint64_t timeout_ms, int *status);
/* SIGCONT (in case a test stopped it), SIGKILL, reap.  pid <= 0: nothing. */
void ms_test_kill_pid(pid_t pid);

/* What ms_test_cmd_run gives back. */
typedef struct ms_test_out {
	int code;        /* exit code; 128+signal when killed */
	int timed_out;   /* 1: still running at the deadline, killed */
	char *out, *err; /* stdout, stderr: NUL-terminated, malloc'd */
	size_t outlen, errlen;
} ms_test_out;

/* How ms_test_cmd_run runs a program (NULL: all defaults). */
typedef struct ms_test_cmd {
	const char *in; /* stdin bytes; NULL: empty stdin */
	size_t inlen;
	const char *const *env; /* as ms_test_spawn_opts.env */
	uint64_t timeout_ms;    /* 0: MS_TEST_CMD_TIMEOUT_MS */
} ms_test_cmd;

#define MS_TEST_CMD_TIMEOUT_MS 60000 /* generous for sanitizer builds */
#define MS_TEST_OUT_MAX (16u << 20)  /* bytes kept per stream; more fails */
#define MS_TEST_MAX_ARGS 64

/* Run argv to completion: its input fed, both output streams captured;
 * killed at the deadline (r->timed_out).  Free r with ms_test_out_free. */
void ms_test_cmd_run(ms_test_out *r, const ms_test_cmd *c, char *const argv[]);
/* The same with argv = bin and the NULL-terminated strings in ap. */
void ms_test_cmd_run_va(ms_test_out *r, const ms_test_cmd *c, const char *bin,
                        va_list ap);
/* The same with argv = bin, ... (NULL-terminated). */
void ms_test_cmd_runl(ms_test_out *r, const ms_test_cmd *c, const char *bin,
                      ...) __attribute__((sentinel));
void ms_test_out_free(ms_test_out *r);

/* system() of a printf-formatted shell line; -1 if it does not fit. */
int ms_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
