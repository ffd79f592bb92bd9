/*
 * test_session_alloc.c — two sync sessions (session_pair.h) under
 * allocation failure (tests/ms_alloc.h): environments, sessions, HELLO,
 * vector exchange, batches under small credit, ACKs, a fork reply and live
 * push, failing the n-th allocation for every n.  Each run must end either
 * in sync (equal state hashes) or with the session that hit the failure
 * ended "local-error" or "store" and the other told or lost — never stuck,
 * never a crash or a leak — and both stores must verify afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_alloc.h"
#include "ms_path.h"
#include "ms_test.h"
#include "session_pair.h"
#include "store_fix.h"

#define STEPS 4000

static int ended_locally(const sp_side *x)
{
	return x->ended && x->end_failed &&
	       (strcmp(x->end_reason, "local-error") == 0 ||
	        strcmp(x->end_reason, "store") == 0);
}

/* e forked its seq 1: a holds one version, b the other, so the session
 * answers a fork (and runs the extra vector round). */
static void plant_fork(sp_pair *p)
{
	ms_identity *e = fix_identity(0x7b);
	fix_op x, y;
	ms_ingest_item it;
	ms_errbuf eb = {0};

	fix_make_op(&x, e, MS_OP_PUT, 1, 100, NULL, 0, "f", "x", 1);
	fix_make_op(&y, e, MS_OP_PUT, 1, 100, NULL, 0, "f", "y", 1);
	it = (ms_ingest_item){x.buf, x.len};
	MS_PASS_EB(ms_store_ingest(p->side[0].store, &it, 1, NULL, NULL, NULL,
	                           &eb),
	           &eb);
	it = (ms_ingest_item){y.buf, y.len};
	MS_PASS_EB(ms_store_ingest(p->side[1].store, &it, 1, NULL, NULL, NULL,
	                           &eb),
	           &eb);
	free(x.buf);
	free(y.buf);
	ms_identity_free(&e);
}

static void pair_check(const ms_alloc_ctx *ac)
{
	for (int i = 0; i < 2; i++) {
		char sub[2] = {(char)('a' + i), '\0'};
		char *dir = ms_path_join(ac->dir, sub);
		ms_store *st = NULL;
		ms_errbuf eb = {0};

		ck_assert_ptr_nonnull(dir);
		MS_PASS_EB(ms_store_open(&st, dir, NULL, &eb), &eb);
		ck_assert_msg(fix_verify(st) == 0,
		              "%s: store %s does not verify", ac->who, sub);
		ms_store_close(&st);
		free(dir);
	}
}

ALLOC_SCENARIO_CHECKED(session_pair, pair_check)
{
	static sp_pair p;
	ms_session_params sp;
	ms_errbuf *eb = &ac->eb;
	uint8_t ha[MS_HASH_LEN], hb[MS_HASH_LEN];
	uint64_t head = 0;
	size_t steps = 0;
	ms_err e;

	ms_alloc_pause(); /* the fixture: stores and their first ops */
	sp_init_at(&p, ac->dir, 0x11, 0x22, 1);
	for (int i = 0; i < 6; i++) {
		char k[16];
		snprintf(k, sizeof k, "a/%d", i);
		sp_put(&p, 0, k, "v",
		       i == 5 ? MS_PRIO_USER : MS_PRIO_BACKGROUND);
		snprintf(k, sizeof k, "b/%d", i);
		sp_put(&p, 1, k, "w", MS_PRIO_USER);
	}
	plant_fork(&p);
	ms_alloc_resume();

	ms_session_params_default(&sp);
	sp.batch_ops = 2;
	sp.credit = 2;
	if ((e = sp_env(&p, &sp, eb)) != MS_OK ||
	    (e = sp_open_e(&p, eb)) != MS_OK)
		goto out;
	while (steps++ < STEPS && sp_step(&p)) {
		if (p.side[0].ended || p.side[1].ended)
			break;
		if (steps == 40) {
			/* a write during the sync, offered as the feed would */
			ms_alloc_pause();
			sp_put(&p, 0, "late", "x", MS_PRIO_USER);
			ms_alloc_resume();
			head = sp_feed(&p, 0, head);
		}
	}
	if (p.side[0].ended || p.side[1].ended) {
		/* the other side hears the BYE, or the link goes */
		while (sp_step(&p) && steps++ < STEPS)
			;
		for (int i = 0; i < 2; i++)
			if (!p.side[i].ended)
				ms_session_lost(p.side[i].s, "lost", p.now);
		if (ended_locally(&p.side[0]) || ended_locally(&p.side[1]))
			e = ms_errf(eb, MS_ENOMEM, "a session ended: a=%s b=%s",
			            p.side[0].end_reason, p.side[1].end_reason);
		else
			e = ms_errf(eb, MS_EPROTO, "sessions ended: a=%s b=%s",
			            p.side[0].end_reason, p.side[1].end_reason);
		goto out;
	}
	if (steps >= STEPS) {
		e = ms_errf(eb, MS_EPROTO, "sessions stuck after %d steps",
		            STEPS);
		goto out;
	}
	ALLOC_EXPECT(ms_session_state_get(p.side[0].s) == MS_SESSION_LIVE);
	ALLOC_EXPECT(ms_session_state_get(p.side[1].s) == MS_SESSION_LIVE);
	ms_alloc_pause();
	sp_state_hash(&p, 0, ha);
	sp_state_hash(&p, 1, hb);
	ms_alloc_resume();
	ALLOC_EXPECT(memcmp(ha, hb, MS_HASH_LEN) == 0);
out:
	ms_alloc_pause();
	sp_free(&p);
	ms_alloc_resume();
	return e;
}

static Suite *suite(void)
{
	Suite *s = suite_create("session_alloc");
	TCase *tc = tcase_create("session_alloc");

	tcase_set_timeout(tc, ms_alloc_tcase_timeout);
	tcase_add_test(tc, alloc_session_pair);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fix_prefer_ram_tmpdir();
	return ms_test_run(suite());
}
