/*
 * ms_alloc.h — allocation-failure injection for the test suites, in the
 * style of SQLite's fault simulation: make the n-th allocation made by
 * meshsync's own code fail, and re-run a scenario for every n.
 *
 * Mechanism (ms_alloc.c).  A test built with ms_add_alloc_test (see
 * tests/CMakeLists.txt) is linked with -Wl,--wrap for malloc, calloc,
 * realloc, strdup, strndup and sodium_malloc, so every call to them from an
 * object file of that executable (crypto/, store/, net/, node/ and the test
 * itself) goes through a counting wrapper (ms_alloc_wrap.c).  Calls made
 * inside shared
 * libraries (LMDB, libsodium's own, libzmq, avahi, libc's) are neither
 * counted nor failed: only our code's handling of a failed allocation is
 * under test.  Counting is on only while armed, so a test's own setup is
 * not counted.  Works in the plain and the ASan build (ASan's allocator
 * sits behind the __real_ symbols).  The API below is in ms_testlib, so
 * any test may call it (harmless where nothing is wrapped, e.g. the pause
 * in a link harness shared with an ordinary suite); the wrappers exist
 * only in an ms_add_alloc_test executable.
 *
 * Loop (ms_alloc_loop.c).  ms_alloc_loop runs a scenario once with counting
 * on to learn K, its number of allocations, then for n = 1..K runs it in a
 * forked child with the n-th allocation failing (transient: later ones
 * succeed), then n = 1..K again with every allocation from the n-th on
 * failing (persistent), as SQLite's fault simulation does.
 * Each child must end cleanly: either the body returns MS_OK (the failed
 * allocation had a fallback) or it returns the error of the call that
 * failed, which must be MS_ENOMEM (or a code the scenario lists in also[])
 * with a message in ac->eb, and only after the injected failure fired.  The
 * body releases everything it holds on every path and the child leaves via
 * exit(), so LeakSanitizer checks it in the ASan build; a crash (signal),
 * a hang (alarm), a leak report or a failed ALLOC_EXPECT is a non-zero
 * status that fails the test with n in the message.  After each child the
 * parent runs the scenario's check (unarmed) on what the child left on
 * disk.  Set MS_ALLOC_ONLY=n in the environment to run just that n.
 *
 * Adding a scenario (see tests/store/test_store_alloc.c):
 *
 *     ALLOC_SCENARIO_CHECKED(session_pair, session_check)
 *     {
 *             ... set up under ac->dir, pass &ac->eb to every call, call
 *             ms_alloc_mark(ac) after each durable step, release
 *             everything and return the first error (or MS_OK) ...
 *     }
 *
 * and tcase_add_test(tc, alloc_session_pair) with a timeout from
 * ms_alloc_tcase_timeout.  ALLOC_SCENARIO(name) is the same without a
 * check.
 */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "ms_err.h"

/* --- the mechanism ------------------------------------------------------ */

/* ms_alloc_arm flag: fail the n-th allocation and every one after it
 * (SQLite's "persistent" mode), not only the n-th ("transient"). */
#define MS_ALLOC_PERSIST 0x1u

/*
 * Start counting allocations from 0, failing the n-th one (1-based) and,
 * with MS_ALLOC_PERSIST, all later ones; n = 0 counts without failing.
 */
void ms_alloc_arm(uint64_t n, unsigned flags);
/* Stop counting and failing (the count and fired flag are kept). */
void ms_alloc_disarm(void);
/* Allocations counted since the last ms_alloc_arm (the failed one too). */
uint64_t ms_alloc_count(void);
/* 1 when the armed failure has happened since the last ms_alloc_arm. */
int ms_alloc_fired(void);
/* For ms_alloc_wrap.c: count one allocation; 1 when it must fail (then
 * errno is ENOMEM). */
int ms_alloc_hit_(void);
/* Pause counting (and failing) while the test allocates for itself inside
 * an armed scenario: setup that must not fail, or a test's callback that
 * product code calls (an in-memory link queueing a message).  Nests;
 * ms_alloc_resume undoes one pause. */
void ms_alloc_pause(void);
void ms_alloc_resume(void);

/* --- the loop ----------------------------------------------------------- */

/* What a scenario body gets; the same struct reaches the check. */
typedef struct ms_alloc_ctx {
	const char *dir; /* fresh empty directory for this run */
	void *arg;       /* the scenario's own data (ms_alloc_scenario.arg) */
	uint64_t n;      /* failing allocation of this run, 0 = none */
	unsigned flags;  /* MS_ALLOC_PERSIST or 0 */
	char who[128];   /* "alloc NAME MODE n=N", for messages */
	ms_errbuf eb;    /* pass to every call: the loop reads its message */
	/* For the check only (parent side, after the child ended): */
	uint64_t marks;               /* ms_alloc_mark calls the child made */
	ms_err result;                /* what the body returned */
	int fired;                    /* the injected failure happened */
	struct ms_alloc_report *rep_; /* the loop's: shared with the parent */
} ms_alloc_ctx;

typedef struct ms_alloc_scenario {
	const char *name;
	/* Runs in a forked child, armed; returns MS_OK or the first error
	 * after releasing everything it holds. */
	ms_err (*body)(ms_alloc_ctx *ac);
	/* Runs in the parent, unarmed, after every child (NULL = none): check
	 * what the child left in ac->dir with Check assertions. */
	void (*check)(const ms_alloc_ctx *ac);
	void *arg;
	/* Codes other than MS_ENOMEM that a failed allocation may surface
	 * as in this scenario, each with a reason at the scenario. */
	const ms_err *also;
	size_t nalso;
} ms_alloc_scenario;

/* The loop's bounds: n runs at most, per-child and whole-loop seconds. */
#define MS_ALLOC_MAX_K 5000
#define MS_ALLOC_CHILD_SECONDS 10
#define MS_ALLOC_LOOP_SECONDS 240
/* A Check timeout that covers one whole loop (both passes). */
#define ms_alloc_tcase_timeout (MS_ALLOC_LOOP_SECONDS + 30)

/*
 * Run the loop (see the top of this file); fails the calling Check test on
 * the first bad run.  Prints one line with K, the outcomes and the time.
 * Needs the caller's working directory to stay put and no store open.
 */
void ms_alloc_loop(const ms_alloc_scenario *sc);

/* A durable step of the body has completed: the check is told how many
 * (ac->marks), so it can insist that nothing committed was lost. */
void ms_alloc_mark(ms_alloc_ctx *ac);

/* In a body: a result check.  On failure prints file, line and expr and
 * ends the child with a failing status (Check assertions belong to the
 * parent process, not to the child). */
#define ALLOC_EXPECT(cond)                                                 \
	do {                                                               \
		if (!(cond))                                               \
			ms_alloc_expect_failed(__FILE__, __LINE__, #cond); \
	} while (0)
void ms_alloc_expect_failed(const char *file, int line, const char *expr)
	__attribute__((noreturn));

/*
 * ALLOC_SCENARIO_CHECKED(name, check) { body } defines the body (it sees
 * `ms_alloc_ctx *ac`) and a Check test `alloc_<name>` that runs the loop
 * over it; ALLOC_SCENARIO(name) has no check.  For also[] or arg, fill an
 * ms_alloc_scenario and call ms_alloc_loop directly.
 */
#define ALLOC_SCENARIO_CHECKED(name, checkfn)                          \
	static ms_err alloc_body_##name(ms_alloc_ctx *ac);             \
	START_TEST(alloc_##name)                                       \
	{                                                              \
		ms_alloc_scenario sc_ = {#name,     alloc_body_##name, \
		                         (checkfn), NULL,              \
		                         NULL,      0};                \
		ms_alloc_loop(&sc_);                                   \
	}                                                              \
	END_TEST                                                       \
	static ms_err alloc_body_##name(ms_alloc_ctx *ac)
#define ALLOC_SCENARIO(name) ALLOC_SCENARIO_CHECKED(name, NULL)

#endif
