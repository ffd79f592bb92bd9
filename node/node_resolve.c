/*
 * node_resolve.c — ms_node_resolve: a write that names the siblings it
 * merges as its parents, refused (MS_ECONFLICT) when the key's heads are no
 * longer exactly those, a check made inside the write transaction by the
 * store's one append path (ms_store_append_resolve).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"

_Static_assert(MS_NODE_RESOLVE_MAX >= MS_OP_MAX_PARENTS,
               "an op's parent limit is within the API's");

/* Bytes of a key a message shows. */
#define KEY_SHOWN 64

/* The key for a message: its text when printable, else "the key". */
static void key_text(char *out, size_t cap, const uint8_t *key, size_t klen)
{
	size_t show = klen < KEY_SHOWN ? klen : KEY_SHOWN;

	for (size_t i = 0; i < show; i++)
		if (key[i] < 0x20 || key[i] > 0x7e) {
			snprintf(out, cap, "the key");
			return;
		}
	snprintf(out, cap, "%.*s%s", (int)show, (const char *)key,
	         klen > show ? "..." : "");
}

ms_err ms_node_resolve(ms_node *n, const void *key, size_t klen,
                       const void *value, size_t vlen,
                       const uint8_t (*parents)[MS_NODE_OP_ID_LEN],
                       size_t nparents, unsigned flags,
                       ms_node_write_result *res, ms_errbuf *eb)
{
	const unsigned known = MS_NODE_PUT_BACKGROUND | MS_NODE_RESOLVE_DEL;
	char kt[KEY_SHOWN + 8];
	ms_errbuf why = {0};
	uint64_t now = 0;
	int del = (flags & MS_NODE_RESOLVE_DEL) != 0;
	ms_err e;

	if ((flags & ~known) != 0)
		return ms_errf(eb, MS_EINVAL, "resolve: unknown flags 0x%x",
		               flags & ~known);
	if (key == NULL || klen == 0)
		return ms_errf(eb, MS_EINVAL, "resolve: key is empty");
	if (parents == NULL || nparents == 0 || nparents > MS_NODE_RESOLVE_MAX)
		return ms_errf(eb, MS_EINVAL,
		               "resolve: %zu parents named: name the key's "
		               "heads, 1..%u of them (more: use ms_node_put)",
		               parents == NULL ? 0 : nparents,
		               MS_NODE_RESOLVE_MAX);
	if (del && vlen != 0)
		return ms_errf(eb, MS_EINVAL,
		               "resolve: a delete carries no value");
	if (ms_store_policy_for(n->store, key, klen) == MS_POLICY_COUNTER)
		return ms_errf(eb, MS_EINVAL,
		               "resolve: counter keys never conflict; put a "
		               "delta instead");
	e = ms_node_write_op(n, del ? MS_OP_DEL : MS_OP_PUT,
	                     (flags & MS_NODE_PUT_BACKGROUND)
	                             ? MS_PRIO_BACKGROUND
	                             : MS_PRIO_USER,
	                     key, klen, del ? NULL : value, vlen, parents,
	                     nparents, &now, res, &why);
	switch (e) {
	case MS_OK:
		break;
	case MS_ECONFLICT:
		key_text(kt, sizeof kt, key, klen);
		ms_errf(eb, e,
		        "resolve: %s has %" PRIu64 " head%s now, not the %zu "
		        "named; read them again",
		        kt, now, now == 1 ? "" : "s", nparents);
		break;
	case MS_ENOTFOUND:
		ms_errf(eb, e, "resolve: no such key");
		break;
	default: /* the store's own message ("append_resolve: ...") */
		ms_errf(eb, e, "%s", why.msg);
		break;
	}
	return e;
}
