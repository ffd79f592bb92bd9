/*
 * ms_alloc.c — the counting allocator wrappers behind ms_alloc.h: with
 * -Wl,--wrap=malloc (and the others listed in MS_ALLOC_WRAP in
 * tests/CMakeLists.txt) the linker sends our objects' calls here, and
 * __real_malloc is the allocator the process would have used (libc's, or
 * ASan's in the sanitizer build).
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

static int armed;         /* counting on */
static int paused;        /* ms_alloc_pause depth */
static uint64_t fail_at;  /* 1-based; 0 = never */
static int persist;       /* MS_ALLOC_PERSIST */
static uint64_t counted;
static int fired;
static int trace;         /* print the failing call's stack */

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

/* Count one allocation; 1 when it is the one to fail. */
static int should_fail(void)
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

/*
 * One wrapper per symbol: __wrap_NAME counts the call and fails it when it
 * is the armed one (NULL, errno ENOMEM, as the real one fails; a failed
 * realloc leaves the old block alone, as the real one does), else calls
 * __real_NAME, which the linker binds to the real NAME.
 */
#define MS_ALLOC_WRAPPER(ret, name, params, args)                             \
	ret __real_##name params;                                             \
	ret __wrap_##name params;                                             \
	ret __wrap_##name params                                              \
	{                                                                     \
		return should_fail() ? NULL : __real_##name args;             \
	}

MS_ALLOC_WRAPPER(void *, malloc, (size_t n), (n))
MS_ALLOC_WRAPPER(void *, calloc, (size_t nmemb, size_t n), (nmemb, n))
MS_ALLOC_WRAPPER(void *, realloc, (void *p, size_t n), (p, n))
MS_ALLOC_WRAPPER(char *, strdup, (const char *s), (s))
MS_ALLOC_WRAPPER(char *, strndup, (const char *s, size_t n), (s, n))
MS_ALLOC_WRAPPER(void *, sodium_malloc, (size_t n), (n))
