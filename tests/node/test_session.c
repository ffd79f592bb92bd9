/*
 * test_session.c — the sync session state machine (node/session) without a
 * daemon, a transport or sockets: two sessions joined by an in-memory link
 * (session_pair.h) with real stores.  Initial sync both ways, equal digests
 * in one round trip, concurrent writes, forks and equivocation, credit
 * exhausted and granted, user priority over a background backlog, live
 * push, a busy and a failing link, and a peer that sends garbage or
 * messages out of order.  Delivery order is drawn from a seeded PRNG:
 * every failure message carries the seed (rerun with MS_TEST_SEED=N).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_test.h"
#include "session_pair.h"
#include "store_fix.h"

#define STEPS 100000 /* bound on deliveries in one run */

/* Assert with the seed in the message, so the run can be replayed. */
#define SP_ASSERT(p, cond, fmt, ...) \
	ck_assert_msg(cond, "seed %" PRIu64 ": " fmt, (p)->seed, ##__VA_ARGS__)

static void put_n(sp_pair *p, int side, const char *prefix, int n, int prio)
{
	for (int i = 0; i < n; i++) {
		char k[64], v[64];
		snprintf(k, sizeof k, "%s%04d", prefix, i);
		snprintf(v, sizeof v, "value %d of %s", i, prefix);
		sp_put(p, side, k, v, prio);
	}
}

static void run_quiet(sp_pair *p)
{
	long n = sp_run(p, STEPS);
	SP_ASSERT(p, n >= 0, "the pair did not go quiet in %d steps", STEPS);
}

static void assert_converged(sp_pair *p)
{
	uint8_t ha[MS_HASH_LEN], hb[MS_HASH_LEN];

	sp_state_hash(p, 0, ha);
	sp_state_hash(p, 1, hb);
	SP_ASSERT(p, memcmp(ha, hb, MS_HASH_LEN) == 0, "state hashes differ");
	SP_ASSERT(p, sp_ops(p, 0) == sp_ops(p, 1),
	          "op counts %" PRIu64 " vs %" PRIu64, sp_ops(p, 0),
	          sp_ops(p, 1));
}

static int is_live(const sp_pair *p, int i)
{
	return p->side[i].s != NULL &&
	       ms_session_state_get(p->side[i].s) == MS_SESSION_LIVE;
}

/* Encode a message for injection (static buffer: one at a time). */
static const uint8_t *enc(const ms_wire_msg *m, size_t *len)
{
	static uint8_t buf[1 << 16];
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_wire_encode(m, buf, sizeof buf, len, &eb), &eb);
	return buf;
}

/* Encode m and hand it to side `to` as if the other side had sent it. */
static void inject_msg(sp_pair *p, int to, const ms_wire_msg *m)
{
	size_t len;
	const uint8_t *buf = enc(m, &len);

	sp_inject(p, to, buf, len);
}

/* Close both sessions normally, so their summaries are final. */
static void close_both(sp_pair *p)
{
	ms_session_close(p->side[0].s, MS_BYE_NORMAL, "done", "done", 0,
	                 p->now);
	ms_session_close(p->side[1].s, MS_BYE_NORMAL, "done", "done", 0,
	                 p->now);
}

/* --- sync ------------------------------------------------------------------- */

START_TEST(initial_sync_both_ways)
{
	sp_pair p;

	sp_init(&p, "both", 0x11, 0x22, 1, NULL);
	put_n(&p, 0, "a/", 50, MS_PRIO_USER);
	put_n(&p, 1, "b/", 30, MS_PRIO_BACKGROUND);
	sp_open(&p);
	run_quiet(&p);
	SP_ASSERT(&p, is_live(&p, 0) && is_live(&p, 1), "not live");
	assert_converged(&p);
	ck_assert_uint_eq(sp_ops(&p, 0), 80);
	/* both proved who they are to each other */
	ck_assert_int_eq(p.side[0].identified, 1);
	ck_assert_int_eq(p.side[1].identified, 1);
	ck_assert_mem_eq(p.side[0].peer_id, ms_identity_pk(p.side[1].id),
	                 MS_PK_LEN);
	ck_assert_mem_eq(p.side[1].peer_id, ms_identity_pk(p.side[0].id),
	                 MS_PK_LEN);
	close_both(&p);
	ck_assert_int_eq(p.side[0].ended, 1);
	ck_assert_str_eq(p.side[0].end_reason, "done");
	ck_assert_uint_eq(p.side[0].sum.sent, 50);
	ck_assert_uint_eq(p.side[0].sum.received, 30);
	ck_assert_uint_eq(p.side[0].sum.applied, 30);
	ck_assert_uint_eq(p.side[1].sum.sent, 30);
	ck_assert_uint_eq(p.side[1].sum.applied, 50);
	ck_assert_uint_eq(p.side[1].sum.duplicate, 0);
	/* every op crossed once: nothing was sent back */
	ck_assert_uint_eq(ms_counters_total(&p.side[0].counters, "ops_sent"),
	                  50);
	ck_assert_uint_eq(ms_counters_total(&p.side[1].counters, "ops_sent"),
	                  30);
	sp_free(&p);
}
END_TEST

START_TEST(many_seeds_converge)
{
	/* the interleaving of the two directions must not matter */
	for (uint64_t seed = 100; seed < 116; seed++) {
		sp_pair p;
		ms_session_params sp;

		ms_session_params_default(&sp);
		sp.batch_ops = 7;
		sp.credit = 5;
		sp_init(&p, "seeds", 0x11, 0x22, seed, &sp);
		put_n(&p, 0, "a/", 40, MS_PRIO_USER);
		put_n(&p, 1, "b/", 25, MS_PRIO_USER);
		put_n(&p, 1, "a/", 3,
		      MS_PRIO_USER); /* the same keys: conflicts */
		sp_open(&p);
		run_quiet(&p);
		SP_ASSERT(&p, is_live(&p, 0) && is_live(&p, 1), "not live");
		assert_converged(&p);
		sp_free(&p);
	}
}
END_TEST

START_TEST(equal_digests_one_round_trip)
{
	sp_pair p;
	uint64_t m0, m1;

	sp_init(&p, "equal", 0x11, 0x22, 2, NULL);
	put_n(&p, 0, "a/", 20, MS_PRIO_USER);
	put_n(&p, 1, "b/", 20, MS_PRIO_USER);
	sp_open(&p);
	run_quiet(&p);
	assert_converged(&p);
	/* a second session between the same stores: HELLO each, nothing else */
	close_both(&p);
	run_quiet(&p);
	ms_session_free(&p.side[0].s);
	ms_session_free(&p.side[1].s);
	m0 = p.side[0].msgs_sent;
	m1 = p.side[1].msgs_sent;
	p.side[0].nstates = p.side[1].nstates = 0;
	sp_open(&p);
	run_quiet(&p);
	SP_ASSERT(&p, is_live(&p, 0) && is_live(&p, 1), "not live");
	ck_assert_uint_eq(p.side[0].msgs_sent - m0, 1);
	ck_assert_uint_eq(p.side[1].msgs_sent - m1, 1);
	/* sync then live, straight from the HELLOs */
	ck_assert_uint_eq(p.side[0].nstates, 2);
	ck_assert_int_eq(p.side[0].states[0], MS_SESSION_SYNC);
	ck_assert_int_eq(p.side[0].states[1], MS_SESSION_LIVE);
	sp_free(&p);
}
END_TEST

static size_t heads_of(sp_pair *p, int i, const char *key)
{
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	ms_errbuf eb = {0};
	size_t n;

	MS_PASS_EB(ms_store_read_begin(p->side[i].store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_get(rt, (const uint8_t *)key, strlen(key), &ks,
	                        &eb),
	           &eb);
	n = ks.nheads;
	ms_store_read_end(&rt);
	return n;
}

START_TEST(concurrent_writes_conflict)
{
	sp_pair p;

	sp_init(&p, "conflict", 0x11, 0x22, 3, NULL);
	sp_put(&p, 0, "shared", "from a", MS_PRIO_USER);
	sp_put(&p, 1, "shared", "from b", MS_PRIO_USER);
	sp_open(&p);
	run_quiet(&p);
	assert_converged(&p);
	/* neither write saw the other: two heads on both sides */
	ck_assert_uint_eq(heads_of(&p, 0, "shared"), 2);
	ck_assert_uint_eq(heads_of(&p, 1, "shared"), 2);
	close_both(&p);
	ck_assert_uint_eq(p.side[1].sum.conflicts, 1);
	sp_free(&p);
}
END_TEST

/* Ingest encoded ops into side i's store as if received from nobody. */
static void ingest(sp_pair *p, int i, fix_op *ops, size_t n)
{
	ms_ingest_item it[16];
	ms_ingest_totals tot = {0};
	ms_errbuf eb = {0};

	ck_assert_uint_le(n, 16);
	for (size_t k = 0; k < n; k++) {
		it[k].buf = ops[k].buf;
		it[k].len = ops[k].len;
	}
	MS_PASS_EB(ms_store_ingest(p->side[i].store, it, n, NULL, NULL, &tot,
	                           &eb),
	           &eb);
	ck_assert_uint_eq(tot.applied, n);
}

static uint64_t forks_of(sp_pair *p, int i)
{
	return fix_summary(p->side[i].store).forks;
}

START_TEST(equivocation_in_common_prefix)
{
	/* author e signed two different ops for seq 2; a holds one, b the
	 * other, both hold seq 1 and 3: equal seq and held, different
	 * accumulators, so the vectors differ and the extra VV round of
	 * protocol §5.3 rule 4 must bring both versions to both sides */
	ms_identity *e = fix_identity(0x77);
	fix_op a_ops[3], b_ops[3];
	sp_pair p;

	sp_init(&p, "equiv", 0x11, 0x22, 4, NULL);
	fix_make_op(&a_ops[0], e, MS_OP_PUT, 1, 100, NULL, 0, "e1", "one", 3);
	fix_make_op(&a_ops[1], e, MS_OP_PUT, 2, 200, NULL, 0, "e2", "two-a", 5);
	fix_make_op(&a_ops[2], e, MS_OP_PUT, 3, 300, NULL, 0, "e3", "three", 5);
	fix_make_op(&b_ops[0], e, MS_OP_PUT, 1, 100, NULL, 0, "e1", "one", 3);
	fix_make_op(&b_ops[1], e, MS_OP_PUT, 2, 200, NULL, 0, "e2", "two-b", 5);
	fix_make_op(&b_ops[2], e, MS_OP_PUT, 3, 300, NULL, 0, "e3", "three", 5);
	ingest(&p, 0, a_ops, 3);
	ingest(&p, 1, b_ops, 3);
	sp_open(&p);
	run_quiet(&p);
	SP_ASSERT(&p, is_live(&p, 0) && is_live(&p, 1), "not live");
	assert_converged(&p);
	ck_assert_uint_eq(sp_ops(&p, 0), 4);
	ck_assert_uint_eq(forks_of(&p, 0), 1);
	ck_assert_uint_eq(forks_of(&p, 1), 1);
	ck_assert_uint_eq(heads_of(&p, 0, "e2"), 2);
	/* each received exactly the other's version of seq 2 */
	close_both(&p);
	ck_assert_uint_eq(p.side[0].sum.applied, 1);
	ck_assert_uint_eq(p.side[1].sum.applied, 1);
	for (int i = 0; i < 3; i++) {
		free(a_ops[i].buf);
		free(b_ops[i].buf);
	}
	ms_identity_free(&e);
	sp_free(&p);
}
END_TEST

START_TEST(fork_above_the_prefix)
{
	/* e forked its only slot: a sends its version, b answers with the
	 * other in the same session (fork reply) */
	ms_identity *e = fix_identity(0x78);
	fix_op x, y;
	sp_pair p;

	sp_init(&p, "fork", 0x11, 0x22, 5, NULL);
	fix_make_op(&x, e, MS_OP_PUT, 1, 100, NULL, 0, "k", "x", 1);
	fix_make_op(&y, e, MS_OP_PUT, 1, 100, NULL, 0, "k", "y", 1);
	ingest(&p, 0, &x, 1);
	ingest(&p, 1, &y, 1);
	sp_open(&p);
	run_quiet(&p);
	assert_converged(&p);
	ck_assert_uint_eq(forks_of(&p, 0), 1);
	ck_assert_uint_eq(forks_of(&p, 1), 1);
	free(x.buf);
	free(y.buf);
	ms_identity_free(&e);
	sp_free(&p);
}
END_TEST

/* --- flow control ------------------------------------------------------------ */

START_TEST(credit_exhausted_and_granted)
{
	ms_session_params sp;
	sp_pair p;
	size_t steps = 0, max_inflight = 0;

	ms_session_params_default(&sp);
	sp.batch_ops = 3;
	sp.credit = 3;
	sp_init(&p, "credit", 0x11, 0x22, 6, &sp);
	put_n(&p, 0, "a/", 30, MS_PRIO_USER);
	sp_open(&p);
	while (sp_step(&p) && steps++ < STEPS) {
		size_t f = ms_session_inflight(p.side[0].s);
		if (f > max_inflight)
			max_inflight = f;
		/* never more unacknowledged ops than the grant allows */
		SP_ASSERT(&p, f <= 1, "%zu batches in flight with credit 3", f);
	}
	ck_assert_uint_eq(max_inflight, 1);
	assert_converged(&p);
	close_both(&p);
	/* 30 ops in batches of 3: ten batches, each waited for its ACK */
	ck_assert_uint_eq(p.side[0].sum.sent, 30);
	ck_assert_uint_eq(p.side[1].sum.received, 30);
	sp_free(&p);
}
END_TEST

START_TEST(credit_exceeded_is_refused)
{
	ms_identity *e = fix_identity(0x79);
	ms_wire_bytes ops[4];
	fix_op fo[4];
	ms_session_params sp;
	ms_wire_msg m = {.type = MS_WIRE_OPS};
	sp_pair p;

	ms_session_params_default(&sp);
	sp.credit = 2;
	sp_init(&p, "overcredit", 0x11, 0x22, 7, &sp);
	sp_open(&p);
	run_quiet(&p);
	ck_assert(is_live(&p, 1));
	for (int i = 0; i < 4; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		fix_make_op(&fo[i], e, MS_OP_PUT, (uint64_t)i + 1, 100, NULL, 0,
		            k, "v", 1);
		ops[i].ptr = fo[i].buf;
		ops[i].len = (uint32_t)fo[i].len;
	}
	/* batch 1 fits the first allowance; its ACK grants 2 once it has
	 * left for the link (the tick) */
	m.u.ops.batch = 1;
	m.u.ops.n = 1;
	m.u.ops.ops = ops;
	inject_msg(&p, 1, &m);
	ms_session_tick(p.side[1].s, p.now);
	ck_assert(is_live(&p, 1));
	/* batch 2 with 3 ops: one more than granted */
	m.u.ops.batch = 2;
	m.u.ops.n = 3;
	m.u.ops.ops = ops + 1;
	inject_msg(&p, 1, &m);
	ck_assert_int_eq(p.side[1].ended, 1);
	ck_assert_str_eq(p.side[1].end_reason, "budget");
	ck_assert_str_eq(p.side[1].end_detail, "rx_inflight");
	ck_assert_int_eq(p.side[1].end_bye, MS_BYE_BUDGET);
	ck_assert_int_eq(p.side[1].end_failed, 1);
	ck_assert_uint_eq(ms_counters_total(&p.side[1].counters,
	                                    "limit_rx_inflight"),
	                  1);
	/* the first batch was kept, the refused one not */
	ck_assert_uint_eq(sp_ops(&p, 1), 1);
	for (int i = 0; i < 4; i++)
		free(fo[i].buf);
	ms_identity_free(&e);
	sp_free(&p);
}
END_TEST

typedef struct first_ctx {
	int seen;
	int first_prio;
	uint64_t user_arrival;
} first_ctx;

static int first_arrivals(uint64_t arrival, const ms_log_entry *e, void *ctx)
{
	first_ctx *f = ctx;

	if (!f->seen) {
		f->seen = 1;
		f->first_prio = e->op.priority;
	}
	if (e->op.priority == MS_PRIO_USER)
		f->user_arrival = arrival;
	return 0;
}

START_TEST(user_priority_over_background)
{
	ms_session_params sp;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	first_ctx f = {0};
	sp_pair p;

	ms_session_params_default(&sp);
	sp.batch_ops = 10;
	sp.credit = 10;
	sp_init(&p, "prio", 0x11, 0x22, 8, &sp);
	put_n(&p, 0, "bulk/", 300, MS_PRIO_BACKGROUND);
	sp_put(&p, 0, "urgent", "now", MS_PRIO_USER); /* written last */
	sp_open(&p);
	run_quiet(&p);
	assert_converged(&p);
	MS_PASS_EB(ms_store_read_begin(p.side[1].store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_arrival(rt, 0, first_arrivals, &f, &eb),
	           &eb);
	ms_store_read_end(&rt);
	/* the user write overtook 300 older background ops: first to land */
	ck_assert_int_eq(f.first_prio, MS_PRIO_USER);
	ck_assert_uint_eq(f.user_arrival, 1);
	sp_free(&p);
}
END_TEST

START_TEST(user_write_overtakes_backlog_in_flight)
{
	ms_session_params sp;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	first_ctx f = {0};
	uint64_t head, at_offer;
	size_t steps = 0;
	sp_pair p;

	ms_session_params_default(&sp);
	sp.batch_ops = 5;
	sp.credit = 5;
	sp_init(&p, "overtake", 0x11, 0x22, 22, &sp);
	put_n(&p, 0, "bulk/", 200, MS_PRIO_BACKGROUND);
	MS_PASS_EB(ms_store_read_begin(p.side[0].store, &rt, &eb), &eb);
	head = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	sp_open(&p);
	/* stream part of the backlog, then write a user op and offer it as
	 * the arrival feed would: it joins the queue behind 150+ older ops */
	while (sp_ops(&p, 1) < 40 && steps++ < STEPS)
		ck_assert(sp_step(&p));
	at_offer = sp_ops(&p, 1);
	sp_put(&p, 0, "urgent", "now", MS_PRIO_USER);
	(void)sp_feed(&p, 0, head);
	run_quiet(&p);
	assert_converged(&p);
	MS_PASS_EB(ms_store_read_begin(p.side[1].store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_arrival(rt, 0, first_arrivals, &f, &eb),
	           &eb);
	ms_store_read_end(&rt);
	/* it went out in the next batch or two, not after the backlog */
	SP_ASSERT(&p, f.user_arrival <= at_offer + 2 * sp.batch_ops,
	          "user op landed %" PRIu64 "th, offered after %" PRIu64,
	          f.user_arrival, at_offer);
	sp_free(&p);
}
END_TEST

START_TEST(live_push_both_ways)
{
	sp_pair p;
	uint64_t ha, hb;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};

	sp_init(&p, "live", 0x11, 0x22, 9, NULL);
	put_n(&p, 0, "a/", 5, MS_PRIO_USER);
	sp_open(&p);
	run_quiet(&p);
	ck_assert(is_live(&p, 0) && is_live(&p, 1));
	MS_PASS_EB(ms_store_read_begin(p.side[0].store, &rt, &eb), &eb);
	ha = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	MS_PASS_EB(ms_store_read_begin(p.side[1].store, &rt, &eb), &eb);
	hb = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	/* new writes on both sides after the initial sync, offered as the
	 * daemon's arrival feed would */
	sp_put(&p, 0, "late/a", "1", MS_PRIO_USER);
	sp_put(&p, 1, "late/b", "2", MS_PRIO_USER);
	ha = sp_feed(&p, 0, ha);
	hb = sp_feed(&p, 1, hb);
	run_quiet(&p);
	assert_converged(&p);
	ck_assert_uint_eq(sp_ops(&p, 0), 7);
	/* the ops each received are offered back by its feed: the session
	 * knows the peer holds them and sends nothing */
	(void)sp_feed(&p, 0, ha);
	(void)sp_feed(&p, 1, hb);
	run_quiet(&p);
	close_both(&p);
	ck_assert_uint_eq(p.side[0].sum.sent, 6);
	ck_assert_uint_eq(p.side[1].sum.sent, 1);
	ck_assert_uint_eq(p.side[0].sum.duplicate, 0);
	ck_assert_uint_eq(p.side[1].sum.duplicate, 0);
	sp_free(&p);
}
END_TEST

START_TEST(busy_link_holds_output)
{
	ms_session_params sp;
	sp_pair p;

	ms_session_params_default(&sp);
	sp.batch_ops = 4;
	sp_init(&p, "busy", 0x11, 0x22, 10, &sp);
	put_n(&p, 0, "a/", 40, MS_PRIO_USER);
	put_n(&p, 1, "b/", 40, MS_PRIO_USER);
	p.side[0].busy_after = 1;
	p.side[1].busy_after = 1;
	sp_open(&p);
	run_quiet(&p);
	assert_converged(&p);
	ck_assert(is_live(&p, 0) && is_live(&p, 1));
	sp_free(&p);
}
END_TEST

START_TEST(failing_link_ends_session)
{
	sp_pair p;

	sp_init(&p, "fail", 0x11, 0x22, 11, NULL);
	put_n(&p, 0, "a/", 10, MS_PRIO_USER);
	p.side[0].fail_send = 1;
	sp_open(&p);
	ck_assert_int_eq(p.side[0].ended, 1);
	ck_assert_str_eq(p.side[0].end_reason, "send-failed");
	ck_assert_int_eq(p.side[0].end_failed, 1);
	/* an ended session ignores everything after */
	sp_inject(&p, 0, "garbage", 7);
	ck_assert_int_eq(p.side[0].ended, 1);
	sp_free(&p);
}
END_TEST

START_TEST(self_dial)
{
	/* both ends are the same node: the dialer learns it from the HELLO
	 * and neither keeps a session */
	sp_pair p;

	sp_init(&p, "self", 0x11, 0x11, 12, NULL);
	sp_open(&p);
	run_quiet(&p);
	ck_assert_int_eq(p.side[0].ended, 1);
	ck_assert_int_eq(p.side[1].ended, 1);
	ck_assert_int_eq(p.side[0].end_self, 1);
	ck_assert_int_eq(p.side[1].end_self, 1);
	ck_assert_int_eq(p.side[0].end_failed, 0);
	ck_assert_int_eq(p.side[0].identified, 0);
	sp_free(&p);
}
END_TEST

/* --- a misbehaving peer ---------------------------------------------------- */

/* Open a pair, deliver nothing, inject buf into side `to`, and check it
 * refused with the given detail and BYE reason. */
static void refused_fresh(int to, const void *buf, size_t len,
                          const char *detail, int bye)
{
	sp_pair p;

	sp_init(&p, "refuse", 0x11, 0x22, 13, NULL);
	sp_open(&p);
	sp_inject(&p, to, buf, len);
	ck_assert_int_eq(p.side[to].ended, 1);
	ck_assert_str_eq(p.side[to].end_detail, detail);
	ck_assert_int_eq(p.side[to].end_bye, bye);
	ck_assert_int_eq(p.side[to].end_failed, 1);
	/* the BYE it sent is the last thing on its link */
	ck_assert_ptr_nonnull(p.side[to].tail);
	ck_assert_uint_eq(p.side[to].tail->buf[3], MS_WIRE_BYE);
	sp_free(&p);
}

START_TEST(garbage_is_refused)
{
	refused_fresh(1, "hello there", 11, "bad_magic", MS_BYE_PROTO);
	refused_fresh(0, "MS", 2, "truncated", MS_BYE_PROTO);
}
END_TEST

START_TEST(other_version_is_refused)
{
	uint8_t v2[8] = {'M', 'S', 2, MS_WIRE_HELLO, 0, 0, 0, 0};

	refused_fresh(1, v2, sizeof v2, "bad_version", MS_BYE_VERSION);
}
END_TEST

START_TEST(messages_before_hello_are_refused)
{
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	const uint8_t *buf;
	size_t len;

	m.u.ack.batch = 1;
	m.u.ack.credit = 5;
	buf = enc(&m, &len);
	refused_fresh(1, buf, len, "before_hello", MS_BYE_PROTO);
}
END_TEST

START_TEST(out_of_order_after_hello)
{
	ms_wire_msg m;
	sp_pair p;

	sp_init(&p, "order", 0x11, 0x22, 14, NULL);
	put_n(&p, 0, "a/", 3, MS_PRIO_USER);
	sp_open(&p);
	run_quiet(&p);
	ck_assert(is_live(&p, 1));
	/* an ACK for a batch never sent */
	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_ACK;
	m.u.ack.batch = 99;
	m.u.ack.credit = 1;
	inject_msg(&p, 1, &m);
	ck_assert_int_eq(p.side[1].ended, 1);
	ck_assert_str_eq(p.side[1].end_detail, "unexpected_ack");
	/* a batch number that skips ahead */
	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_OPS;
	m.u.ops.batch = 7;
	inject_msg(&p, 0, &m);
	ck_assert_int_eq(p.side[0].ended, 1);
	ck_assert_str_eq(p.side[0].end_detail, "batch_order");
	sp_free(&p);
}
END_TEST

START_TEST(second_hello_and_late_vv_are_refused)
{
	ms_wire_msg m = {.type = MS_WIRE_VV};
	sp_pair p;

	/* equal (empty) stores: no vector exchange, so a VV is out of place */
	sp_init(&p, "vv", 0x11, 0x22, 15, NULL);
	sp_open(&p);
	run_quiet(&p);
	ck_assert(is_live(&p, 0));
	m.u.vv.flags = MS_WIRE_VV_LAST;
	inject_msg(&p, 0, &m);
	ck_assert_str_eq(p.side[0].end_detail, "unexpected_vv");
	sp_free(&p);

	/* the listener's HELLO, replayed to it as a second HELLO */
	sp_init(&p, "hello2", 0x11, 0x22, 16, NULL);
	sp_open(&p);
	ck_assert_ptr_nonnull(p.side[0].head); /* the dialer's HELLO */
	{
		uint8_t copy[4096];
		size_t n = p.side[0].head->len;
		memcpy(copy, p.side[0].head->buf, n);
		run_quiet(&p);
		sp_inject(&p, 1, copy, n);
	}
	ck_assert_str_eq(p.side[1].end_detail, "second_hello");
	sp_free(&p);
}
END_TEST

START_TEST(forged_identity_is_refused)
{
	ms_wire_msg m;
	sp_pair p;
	ms_identity *mallory = fix_identity(0x66);

	/* to the listener: a HELLO claiming another node id than the key the
	 * dialer's handshake proved */
	sp_init(&p, "forge-in", 0x11, 0x22, 17, NULL);
	sp_open(&p);
	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_HELLO;
	memcpy(m.u.hello.node_id, ms_identity_pk(mallory), MS_PK_LEN);
	inject_msg(&p, 1, &m);
	ck_assert_str_eq(p.side[1].end_detail, "id_mismatch");
	ck_assert_int_eq(p.side[1].end_bye, MS_BYE_AUTH);
	ck_assert_int_eq(p.side[1].identified, 0);
	sp_free(&p);

	/* to the dialer: a listener HELLO whose proof was signed by someone
	 * else than the node id it names */
	sp_init(&p, "forge-out", 0x11, 0x22, 18, NULL);
	sp_open(&p);
	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_HELLO;
	memcpy(m.u.hello.node_id, ms_identity_pk(p.side[1].id), MS_PK_LEN);
	m.u.hello.flags = MS_WIRE_HELLO_LISTENER;
	m.u.hello.has_proof = 1;
	{
		uint8_t curve[MS_CURVE_LEN];
		MS_PASS(ms_ed25519_pk_to_curve(curve,
		                               ms_identity_pk(p.side[0].id),
		                               NULL));
		ms_wire_hello_proof_sign(mallory, curve, m.u.hello.proof);
	}
	inject_msg(&p, 0, &m);
	ck_assert_str_eq(p.side[0].end_detail, "bad_proof");
	ck_assert_int_eq(p.side[0].end_bye, MS_BYE_AUTH);
	sp_free(&p);
	ms_identity_free(&mallory);
}
END_TEST

START_TEST(forged_ops_are_rejected_not_fatal)
{
	/* a batch with one good op, one with a flipped signature bit and one
	 * truncated: the good op is applied, the others rejected with their
	 * reasons, and the session goes on */
	ms_identity *e = fix_identity(0x7a);
	ms_wire_bytes ops[3];
	fix_op good, bad, cut;
	ms_wire_msg m = {.type = MS_WIRE_OPS};
	sp_pair p;

	sp_init(&p, "forged", 0x11, 0x22, 19, NULL);
	sp_open(&p);
	run_quiet(&p);
	fix_make_op(&good, e, MS_OP_PUT, 1, 100, NULL, 0, "g", "ok", 2);
	fix_make_op(&bad, e, MS_OP_PUT, 2, 100, NULL, 0, "b", "no", 2);
	fix_make_op(&cut, e, MS_OP_PUT, 3, 100, NULL, 0, "c", "no", 2);
	bad.buf[bad.len - 1] ^= 1;
	ops[0] = (ms_wire_bytes){good.buf, (uint32_t)good.len};
	ops[1] = (ms_wire_bytes){bad.buf, (uint32_t)bad.len};
	ops[2] = (ms_wire_bytes){cut.buf, (uint32_t)cut.len - 5};
	m.u.ops.batch = 1;
	m.u.ops.n = 3;
	m.u.ops.ops = ops;
	inject_msg(&p, 1, &m);
	ck_assert(is_live(&p, 1));
	ck_assert_uint_eq(sp_ops(&p, 1), 1);
	close_both(&p);
	ck_assert_uint_eq(p.side[1].sum.received, 3);
	ck_assert_uint_eq(p.side[1].sum.applied, 1);
	ck_assert_uint_eq(p.side[1].sum.rejected, 2);
	ck_assert_uint_eq(p.side[1].sum.rejected_by_reason[MS_OPR_SIGNATURE],
	                  1);
	free(good.buf);
	free(bad.buf);
	free(cut.buf);
	ms_identity_free(&e);
	sp_free(&p);
}
END_TEST

START_TEST(bye_ends_the_other_side)
{
	sp_pair p;

	sp_init(&p, "bye", 0x11, 0x22, 20, NULL);
	sp_open(&p);
	run_quiet(&p);
	ms_session_close(p.side[0].s, MS_BYE_SHUTDOWN, "node stopping",
	                 "shutdown", 0, p.now);
	run_quiet(&p);
	ck_assert_str_eq(p.side[0].end_reason, "shutdown");
	ck_assert_int_eq(p.side[0].end_failed, 0);
	ck_assert_str_eq(p.side[1].end_reason, "bye-shutdown");
	ck_assert_uint_eq(ms_counters_total(&p.side[1].counters,
	                                    "bye_recv_shutdown"),
	                  1);
	sp_free(&p);
}
END_TEST

START_TEST(peers_reach_the_owner)
{
	ms_wire_msg m = {.type = MS_WIRE_PEERS};
	sp_pair p;

	sp_init(&p, "peers", 0x11, 0x22, 21, NULL);
	sp_open(&p);
	run_quiet(&p);
	m.u.peers.n = 1;
	memset(m.u.peers.peers[0].node_id, 0x42, MS_PK_LEN);
	ck_assert_int_eq(ms_session_send_peers(p.side[0].s, &m.u.peers), 0);
	run_quiet(&p);
	ck_assert_uint_eq(p.side[1].peers_msgs, 1);
	ck_assert(is_live(&p, 1));
	sp_free(&p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, initial_sync_both_ways);
	tcase_add_test(tc, many_seeds_converge);
	tcase_add_test(tc, equal_digests_one_round_trip);
	tcase_add_test(tc, concurrent_writes_conflict);
	tcase_add_test(tc, equivocation_in_common_prefix);
	tcase_add_test(tc, fork_above_the_prefix);
	tcase_add_test(tc, credit_exhausted_and_granted);
	tcase_add_test(tc, credit_exceeded_is_refused);
	tcase_add_test(tc, user_priority_over_background);
	tcase_add_test(tc, user_write_overtakes_backlog_in_flight);
	tcase_add_test(tc, live_push_both_ways);
	tcase_add_test(tc, busy_link_holds_output);
	tcase_add_test(tc, failing_link_ends_session);
	tcase_add_test(tc, self_dial);
	tcase_add_test(tc, garbage_is_refused);
	tcase_add_test(tc, other_version_is_refused);
	tcase_add_test(tc, messages_before_hello_are_refused);
	tcase_add_test(tc, out_of_order_after_hello);
	tcase_add_test(tc, second_hello_and_late_vv_are_refused);
	tcase_add_test(tc, forged_identity_is_refused);
	tcase_add_test(tc, forged_ops_are_rejected_not_fatal);
	tcase_add_test(tc, bye_ends_the_other_side);
	tcase_add_test(tc, peers_reach_the_owner);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fix_prefer_ram_tmpdir();
	return ms_test_run(suite());
}
