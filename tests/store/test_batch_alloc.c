/*
 * test_batch_alloc.c — ms_store_append_batch under allocation failure
 * (tests/ms_alloc.h): on a fresh handle (its batch scratch not yet
 * allocated) a batch of distinct keys large enough for the signing worker,
 * then one that writes keys twice (segments) and outgrows the scratch.
 * A failed call returns MS_ENOMEM and stores nothing of its batch; what
 * returned MS_OK is on disk, and the store verifies clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_alloc.h"
#include "ms_test.h"
#include "store_fix.h"

#define T_NOW UINT64_C(1767225600000)
#define N1 80
#define N2 120

static struct {
	ms_identity *a;
	uint64_t wall;
	ms_store_opts opts;
	char keys[N2][32];
	uint8_t val[64];
	ms_append_item it[N2];
} fx;

static void fx_setup(void)
{
	memset(&fx, 0, sizeof fx);
	fx.wall = T_NOW;
	ms_store_opts_default(&fx.opts);
	fx.opts.wall_ms = fix_wall;
	fx.opts.wall_ctx = &fx.wall;
	fx.a = fix_identity(1);
	memset(fx.val, 'v', sizeof fx.val);
}

static void fx_teardown(void)
{
	ms_identity_free(&fx.a);
}

/* Batch k: keys "k<k>/<i>", in the second one every third key twice. */
static void make_batch(int k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t key = k == 2 && i % 3 == 2 ? i - 1 : i;
		snprintf(fx.keys[i], sizeof fx.keys[i], "k%d/%zu", k, key);
		fx.it[i].type = MS_OP_PUT;
		fx.it[i].prio = MS_PRIO_USER;
		fx.it[i].key = (const uint8_t *)fx.keys[i];
		fx.it[i].klen = strlen(fx.keys[i]);
		fx.it[i].value = fx.val;
		fx.it[i].vlen = 1 + i % sizeof fx.val;
	}
}

#define TRY(expr)                          \
	do {                               \
		if ((e = (expr)) != MS_OK) \
			goto out;          \
	} while (0)

static void check(const ms_alloc_ctx *ac)
{
	ms_store *s = NULL;
	ms_store_summary m;
	uint64_t want = 0;

	if (ac->marks == 0)
		return; /* the store was never created */
	MS_PASS(ms_store_open(&s, ac->dir, &fx.opts, NULL));
	m = fix_summary(s);
	if (ac->marks >= 3)
		want += N1;
	if (ac->marks >= 4)
		want += N2;
	ck_assert_msg(m.ops == want && m.local_seq == want,
	              "%s: %llu ops, seq %llu after %llu marks", ac->who,
	              (unsigned long long)m.ops,
	              (unsigned long long)m.local_seq,
	              (unsigned long long)ac->marks);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
}

ALLOC_SCENARIO_CHECKED(batch, check)
{
	ms_errbuf *eb = &ac->eb;
	ms_store *s = NULL;
	ms_err e;

	TRY(ms_store_create(ac->dir, ms_identity_pk(fx.a), fix_netid, NULL,
	                    eb));
	ms_alloc_mark(ac);
	TRY(ms_store_open(&s, ac->dir, &fx.opts, eb));
	ms_alloc_mark(ac);
	make_batch(1, N1);
	TRY(ms_store_append_batch(s, fx.a, fx.it, N1, NULL, eb));
	ms_alloc_mark(ac);
	make_batch(2, N2);
	TRY(ms_store_append_batch(s, fx.a, fx.it, N2, NULL, eb));
	ms_alloc_mark(ac);
out:
	ms_store_close(&s);
	return e;
}

int main(void)
{
	Suite *su = suite_create("batch_alloc");
	TCase *tc = tcase_create("alloc");

	tcase_add_unchecked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, ms_alloc_tcase_timeout);
	tcase_add_test(tc, alloc_batch);
	suite_add_tcase(su, tc);
	return ms_test_run(su);
}
