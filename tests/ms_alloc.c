/*
 * ms_alloc.c — the counter behind ms_alloc.h: armed or not, paused or
 * not, how many allocations were counted, whether the armed one failed.
 * It is in ms_testlib, so harness code shared with ordinary suites may call
 * ms_alloc_pause/resume (no-ops there: nothing is ever armed); the wrappers
 * that consult it are in ms_alloc_wrap.c, linked only by ms_add_alloc_test.
 *
 * The state is global because the wrappers cannot be given a context: it
 * is test-only and one scenario is armed at a time.  It is atomic because
 * the store's verify worker thread may run while a scenario is armed.
 */
#define _GNU_SOURCE
#include "ms_alloc.h"

#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <unistd.h>

static int armed;        /* counting on */
static int paused;       /* ms_alloc_pause depth */
static uint64_t fail_at; /* 1-based; 0 = never */
static int persist;      /* MS_ALLOC_PERSIST */
static uint64_t counted;
static int fired;
static int trace; /* print the failing call's stack */

void ms_alloc_arm(uint64_t n, unsigned flags)
{
	__atomic_store_n(&persist, (flags & MS_ALLOC_PERSIST) != 0,
	                 __ATOMIC_SEQ_CST);
	__atomic_store_n(&counted, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fired, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&paused, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fail_at, n, __ATOMIC_SEQ_CST);
	trace = getenv("MS_ALLOC_TRACE") != NULL;
	__atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
}

void ms_alloc_disarm(void)
{
	__atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
}

uint64_t ms_alloc_count(void)
{
	return __atomic_load_n(&counted, __ATOMIC_SEQ_CST);
}

int ms_alloc_fired(void)
{
	return __atomic_load_n(&fired, __ATOMIC_SEQ_CST);
}

void ms_alloc_pause(void)
{
	__atomic_add_fetch(&paused, 1, __ATOMIC_SEQ_CST);
}

void ms_alloc_resume(void)
{
	__atomic_sub_fetch(&paused, 1, __ATOMIC_SEQ_CST);
}

/* Counts only while armed and not paused; the stack of the armed call goes
 * to stderr under MS_ALLOC_TRACE. */
int ms_alloc_hit_(void)
{
	uint64_t c, at;

	if (!__atomic_load_n(&armed, __ATOMIC_SEQ_CST) ||
	    __atomic_load_n(&paused, __ATOMIC_SEQ_CST) > 0)
		return 0;
	c = __atomic_add_fetch(&counted, 1, __ATOMIC_SEQ_CST);
	at = __atomic_load_n(&fail_at, __ATOMIC_SEQ_CST);
	if (at == 0 || c < at ||
	    (c > at && !__atomic_load_n(&persist, __ATOMIC_SEQ_CST)))
		return 0;
	__atomic_store_n(&fired, 1, __ATOMIC_SEQ_CST);
	if (trace && c == at) {
		/* backtrace's own allocations are libc's, not counted. */
		void *pcs[16];
		int npc = backtrace(pcs, 16);
		backtrace_symbols_fd(pcs, npc, STDERR_FILENO);
	}
	errno = ENOMEM; /* as a real allocator failing would leave it */
	return 1;
}
