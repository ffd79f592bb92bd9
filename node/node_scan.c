/*
 * node_scan.c — ms_node_scan: the keys under a prefix, in key order, from
 * one snapshot, each with its values as ms_node_get hands them (the one
 * emitter in node.c, ms_node_values) gathered into the entry's array.
 */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

/* Counter text: an i64 in decimal with its sign, and a NUL. */
#define SCAN_TEXT_MAX 24

typedef struct scan_ctx {
	unsigned flags;
	ms_node_entry_fn fn;
	void *ctx;
	const ms_key_state *ks;
	/* the values of the key being visited; counter text is copied,
	 * since ms_node_values hands it from its own stack */
	ms_node_value *vals;
	char (*text)[SCAN_TEXT_MAX];
	size_t nvals, cap;
	int oom;
} scan_ctx;

static int scan_value(const ms_node_value *v, void *arg)
{
	scan_ctx *c = arg;
	ms_node_value *dst;

	if (c->nvals == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		ms_node_value *vals = realloc(c->vals, cap * sizeof *vals);
		char(*text)[SCAN_TEXT_MAX];

		if (vals == NULL) {
			c->oom = 1;
			return 1;
		}
		c->vals = vals;
		text = realloc(c->text, cap * sizeof *text);
		if (text == NULL) {
			c->oom = 1;
			return 1;
		}
		c->text = text;
		c->cap = cap;
	}
	dst = &c->vals[c->nvals];
	*dst = *v;
	if (c->ks->policy == MS_POLICY_COUNTER && v->len < SCAN_TEXT_MAX) {
		memcpy(c->text[c->nvals], v->data, v->len);
		c->text[c->nvals][v->len] = '\0';
		dst->data = c->text[c->nvals];
	}
	c->nvals++;
	return 0;
}

static int scan_key(const ms_key_state *ks, void *arg)
{
	scan_ctx *c = arg;
	ms_node_entry e;

	c->ks = ks;
	c->nvals = 0;
	if (ms_node_values(ks, c->flags, scan_value, c) == MS_EDELETED)
		return 0; /* a deleted key is skipped without GET_ALL */
	if (c->oom)
		return 1;
	e.key = ks->key;
	e.klen = ks->key_len;
	e.values = c->vals;
	e.nvalues = c->nvals;
	e.conflict = ms_key_state_conflict(ks);
	e.deleted = !ms_key_state_live(ks);
	return c->fn(&e, c->ctx);
}

ms_err ms_node_scan(ms_node *n, const void *prefix, size_t plen,
                    const void *after, size_t alen, unsigned flags,
                    ms_node_entry_fn fn, void *ctx, ms_errbuf *eb)
{
	scan_ctx c = {.flags = flags, .fn = fn, .ctx = ctx};
	ms_store_rtxn *rt = NULL;
	ms_errbuf why = {0};
	ms_err e;

	if ((flags & ~MS_NODE_GET_ALL) != 0)
		return ms_errf(eb, MS_EINVAL, "scan: unknown flags 0x%x",
		               flags & ~MS_NODE_GET_ALL);
	if (fn == NULL)
		return ms_errf(eb, MS_EINVAL, "scan: no callback given");
	if (plen > 0 && prefix == NULL)
		return ms_errf(eb, MS_EINVAL, "scan: prefix is NULL");
	if ((e = ms_store_read_begin(n->store, &rt, eb)) != MS_OK)
		return e;
	/* after NULL is "from the first", whatever alen says */
	e = ms_store_foreach_key_after(rt, plen > 0 ? prefix : NULL, plen,
	                               after, after != NULL ? alen : 0,
	                               scan_key, &c, &why);
	if (e == MS_OK && c.oom)
		e = ms_errf(eb, MS_ENOMEM, "scan: out of memory");
	else if (e != MS_OK)
		ms_errf(eb, e, "scan: %s", why.msg);
	ms_store_read_end(&rt);
	free(c.text);
	free(c.vals);
	return e;
}
