/*
 * ms_test.h — helpers shared by the Check suites.
 *
 * Loud assertions: on failure they print file, line, the expression and the
 * ms_strerror/ms_errbuf text, so a red test says why without a debugger.
 */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_err.h"

/* Assert that an ms_err-returning call succeeds; eb (may be NULL) explains. */
#define MS_PASS_EB(expr, eb)                                                  \
	do {                                                                  \
		ms_err ms_t_e_ = (expr);                                      \
		ck_assert_msg(ms_t_e_ == MS_OK, "%s failed: %s (%s)", #expr,  \
		              ms_strerror(ms_t_e_),                           \
		              (eb) != NULL ? ((ms_errbuf *)(eb))->msg : "");   \
	} while (0)
#define MS_PASS(expr) MS_PASS_EB(expr, (ms_errbuf *)NULL)

/* Assert that a call fails with exactly the given code. */
#define MS_FAIL(expr, code)                                                   \
	do {                                                                  \
		ms_err ms_t_e_ = (expr);                                      \
		ck_assert_msg(ms_t_e_ == (code), "%s returned %s, want %s",   \
		              #expr, ms_strerror(ms_t_e_), ms_strerror(code)); \
	} while (0)

/*
 * A fresh private directory under $TMPDIR (or /tmp) named after the test;
 * the caller removes it with ms_test_rmdir.  Returns a malloc'd path.
 */
char *ms_test_tmpdir(const char *tag);
/* rm -rf path (bounded: only removes inside the directory it was given). */
void ms_test_rmdir(const char *path);

/* Run a Check suite with CK_ENV defaults; returns the process exit code. */
int ms_test_run(Suite *s);

#endif
