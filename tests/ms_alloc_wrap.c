/*
 * ms_alloc_wrap.c — the allocator wrappers of ms_alloc.h.  With
 * -Wl,--wrap=malloc (and the others in MS_ALLOC_WRAP, tests/CMakeLists.txt)
 * the linker sends the executable's own calls to __wrap_malloc here, and
 * binds __real_malloc to the allocator the process would have used (libc's,
 * or ASan's in the sanitizer build).  Only ms_add_alloc_test links this
 * file: without the flags, __real_malloc does not exist.
 */
#include "ms_alloc.h"

#include <stddef.h>

/*
 * One wrapper per symbol: __wrap_NAME counts the call and fails it when it
 * is the armed one (NULL, errno ENOMEM, as the real one fails; a failed
 * realloc leaves the old block alone, as the real one does), else calls
 * __real_NAME, which the linker binds to the real NAME.
 */
#define MS_ALLOC_WRAPPER(ret, name, params, args)                   \
	ret __real_##name params;                                   \
	ret __wrap_##name params;                                   \
	ret __wrap_##name params                                    \
	{                                                           \
		return ms_alloc_hit_() ? NULL : __real_##name args; \
	}

MS_ALLOC_WRAPPER(void *, malloc, (size_t n), (n))
MS_ALLOC_WRAPPER(void *, calloc, (size_t nmemb, size_t n), (nmemb, n))
MS_ALLOC_WRAPPER(void *, realloc, (void *p, size_t n), (p, n))
MS_ALLOC_WRAPPER(char *, strdup, (const char *s), (s))
MS_ALLOC_WRAPPER(char *, strndup, (const char *s, size_t n), (s, n))
MS_ALLOC_WRAPPER(void *, sodium_malloc, (size_t n), (n))
