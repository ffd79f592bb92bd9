/*
 * ms_alloc_loop.c — the SQLite-style loop of ms_alloc.h: count a
 * scenario's allocations, then re-run it in a forked child failing each
 * one in turn, and judge every child by its exit status, its outcome and
 * what it left on disk.
 *
 * Children report through one shared anonymous page rather than a pipe so
 * that a child that crashes half-way still leaves its marks behind, and so
 * that reporting allocates nothing.
 */
#define _GNU_SOURCE
#include "ms_alloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_test.h"

/* A failed ALLOC_EXPECT; ASan, its leak check and UBSan exit 1. */
#define ALLOC_EXIT_EXPECT 3

struct ms_alloc_report {
	uint64_t count; /* allocations the body made */
	uint64_t marks; /* ms_alloc_mark calls */
	int32_t result; /* ms_err the body returned */
	int32_t fired;
	int32_t done;    /* the body returned (not crashed or exited) */
	int32_t eb_code; /* ac->eb.code when it returned */
	char msg[MS_ERRBUF_SIZE];
};

typedef struct loop_totals {
	uint64_t clean;     /* ended with an accepted error */
	uint64_t recovered; /* ended with MS_OK although the failure fired */
} loop_totals;

static const char *mode_name(unsigned flags)
{
	return (flags & MS_ALLOC_PERSIST) ? "persistent" : "transient";
}

/* Seconds on the harness's monotonic clock. */
static double now_s(void)
{
	return (double)ms_test_now_ms() / 1000.0;
}

void ms_alloc_mark(ms_alloc_ctx *ac)
{
	ac->marks++;
	if (ac->rep_ != NULL)
		ac->rep_->marks = ac->marks;
}

void ms_alloc_expect_failed(const char *file, int line, const char *expr)
{
	ms_alloc_disarm();
	fprintf(stderr, "%s:%d: ALLOC_EXPECT(%s) failed\n", file, line, expr);
	(void)fflush(stderr); /* best effort: the exit status says it anyway */
	_exit(ALLOC_EXIT_EXPECT);
}

static void child_run(const ms_alloc_scenario *sc, ms_alloc_ctx *ac,
                      struct ms_alloc_report *rep)
{
	ms_err e;

	/* A hang (a lost wakeup on an error path) ends as SIGALRM.  The
	 * default action, not the handler Check's runner installed before it
	 * forked us: that one kills the whole process group. */
	signal(SIGALRM, SIG_DFL);
	alarm(MS_ALLOC_CHILD_SECONDS);
	ms_alloc_arm(ac->n, ac->flags);
	e = sc->body(ac);
	ms_alloc_disarm();
	rep->count = ms_alloc_count();
	rep->fired = ms_alloc_fired();
	rep->result = (int32_t)e;
	rep->eb_code = (int32_t)ac->eb.code;
	memcpy(rep->msg, ac->eb.msg, sizeof rep->msg);
	rep->msg[sizeof rep->msg - 1] = '\0';
	rep->done = 1;
	/* exit, not _exit: LeakSanitizer checks the child at exit. */
	exit(0);
}

static int code_allowed(const ms_alloc_scenario *sc, ms_err e)
{
	if (e == MS_ENOMEM)
		return 1;
	for (size_t i = 0; i < sc->nalso; i++)
		if (sc->also[i] == e)
			return 1;
	return 0;
}

/* One run failing allocation n (0 = none) the flags' way; fails the test
 * on a bad one. */
static void run_one(const ms_alloc_scenario *sc, uint64_t n, unsigned flags,
                    struct ms_alloc_report *rep, loop_totals *tot)
{
	char *dir = ms_test_tmpdir("alloc");
	ms_alloc_ctx ac;
	const char *who = ac.who;
	pid_t pid;
	int st = 0;

	memset(rep, 0, sizeof *rep);
	memset(&ac, 0, sizeof ac);
	snprintf(ac.who, sizeof ac.who, "alloc %s %s n=%llu", sc->name,
	         mode_name(flags), (unsigned long long)n);
	ac.dir = dir;
	ac.arg = sc->arg;
	ac.n = n;
	ac.flags = flags;
	ac.rep_ = rep;
	ms_errbuf_clear(&ac.eb);
	(void)fflush(NULL); /* or the child's exit() prints our buffers twice */
	pid = fork();
	ck_assert_msg(pid >= 0, "%s: fork failed", who);
	if (pid == 0)
		child_run(sc, &ac, rep);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);

	ck_assert_msg(!WIFSIGNALED(st), "%s: child killed by signal %d (%s)%s",
	              who, WTERMSIG(st), strsignal(WTERMSIG(st)),
	              WTERMSIG(st) == SIGALRM ? ": it hung" : "");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "%s: child exited with status %d: a failed ALLOC_EXPECT "
	              "(3) or a sanitizer or leak report (see its stderr "
	              "above); replay with MS_ALLOC_ONLY=%llu",
	              who, WEXITSTATUS(st), (unsigned long long)n);
	ck_assert_msg(rep->done, "%s: the body did not return", who);
	if (getenv("MS_ALLOC_VERBOSE") != NULL)
		printf("%s: %s after %llu marks%s%s\n", who,
		       ms_strerror((ms_err)rep->result),
		       (unsigned long long)rep->marks, rep->msg[0] ? ": " : "",
		       rep->msg);

	if (n == 0)
		ck_assert_msg(rep->result == MS_OK,
		              "%s: the unarmed run failed: %s (%s)", who,
		              ms_strerror((ms_err)rep->result), rep->msg);
	else
		ck_assert_msg(
			rep->fired,
			"%s: allocation %llu never happened (the run made "
			"%llu): the scenario does not allocate the same "
			"way every time",
			who, (unsigned long long)n,
			(unsigned long long)rep->count);
	if (rep->result != MS_OK) {
		ms_err e = (ms_err)rep->result;
		ck_assert_msg(code_allowed(sc, e),
		              "%s: the failed allocation surfaced as %s, not "
		              "MS_ENOMEM: %s",
		              who, ms_strerror(e), rep->msg);
		ck_assert_msg(
			rep->eb_code == rep->result && rep->msg[0] != '\0',
			"%s: %s returned without its message in the errbuf "
			"(errbuf holds %s: \"%s\")",
			who, ms_strerror(e), ms_strerror((ms_err)rep->eb_code),
			rep->msg);
		tot->clean++;
	} else if (n > 0) {
		tot->recovered++;
	}

	if (sc->check != NULL) {
		ac.rep_ = NULL;
		ac.marks = rep->marks;
		ac.result = (ms_err)rep->result;
		ac.fired = rep->fired;
		sc->check(&ac);
	}
	ms_test_rmdir(dir);
	free(dir);
}

void ms_alloc_loop(const ms_alloc_scenario *sc)
{
	static const unsigned modes[] = {0, MS_ALLOC_PERSIST};
	struct ms_alloc_report *rep;
	loop_totals tot[2] = {{0, 0}, {0, 0}};
	const char *only = getenv("MS_ALLOC_ONLY");
	double t0 = now_s();
	uint64_t k, first = 1, last;

	rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE,
	           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_msg(rep != MAP_FAILED, "alloc %s: mmap failed", sc->name);

	run_one(sc, 0, 0, rep, &tot[0]);
	k = rep->count;
	ck_assert_msg(k > 0,
	              "alloc %s: the scenario made no allocation of "
	              "ours: is the test linked by ms_add_alloc_test?",
	              sc->name);
	ck_assert_msg(k <= MS_ALLOC_MAX_K,
	              "alloc %s: K=%llu allocations, more than the %d the "
	              "loop allows: split the scenario",
	              sc->name, (unsigned long long)k, MS_ALLOC_MAX_K);
	last = k;
	if (only != NULL && only[0] != '\0') {
		first = last = strtoull(only, NULL, 10);
		ck_assert_msg(first >= 1 && first <= k,
		              "alloc %s: MS_ALLOC_ONLY=%s is not in 1..%llu",
		              sc->name, only, (unsigned long long)k);
	}
	for (size_t m = 0; m < 2; m++) {
		for (uint64_t n = first; n <= last; n++) {
			ck_assert_msg(
				now_s() - t0 < MS_ALLOC_LOOP_SECONDS,
				"alloc %s: over %d s, at %s n=%llu of %llu",
				sc->name, MS_ALLOC_LOOP_SECONDS,
				mode_name(modes[m]), (unsigned long long)n,
				(unsigned long long)last);
			run_one(sc, n, modes[m], rep, &tot[m]);
		}
	}
	printf("alloc %s: K=%llu allocations, n=%llu..%llu; transient: %llu "
	       "clean errors, %llu recovered; persistent: %llu clean errors, "
	       "%llu recovered; %.2f s\n",
	       sc->name, (unsigned long long)k, (unsigned long long)first,
	       (unsigned long long)last, (unsigned long long)tot[0].clean,
	       (unsigned long long)tot[0].recovered,
	       (unsigned long long)tot[1].clean,
	       (unsigned long long)tot[1].recovered, now_s() - t0);
	(void)fflush(stdout);
	munmap(rep, sizeof *rep);
}
