/*
 * test_session.c — the sync session state machine (node/session) without a
 * daemon, a transport or sockets: two sessions joined by an in-memory link
 * (session_pair.h) with real stores.  Initial sync both ways, equal digests
 * in one round trip, concurrent writes, forks and equivocation, credit
 * exhausted and granted, user priority over a background backlog, live
 * push, a busy and a failing link, a peer that sends garbage or
 * messages out of order, and one that runs into each budget (vector
 * entries, timeouts, memory, credit, the receive allowance) or makes it
 * log more than its share of warning lines.  Delivery order is drawn from a seeded PRNG:
 * every failure message carries the seed (rerun with MS_TEST_SEED=N).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_test.h"
#include "ratelog.h"
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
	static uint8_t buf[1 << 17]; /* a full VV chunk */
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
		sp.lacking_window = (uint32_t)(seed % 3); /* 0: the default */
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
	/* the receiver knows the sender holds all it sent, the user op
	 * included, though that arrived above a gap the backlog filled
	 * later: no lag is left on either side */
	for (int i = 0; i < 2; i++) {
		uint64_t lag;
		ms_session_env_flush_peer_vv(p.side[i].env);
		MS_PASS_EB(ms_store_read_begin(p.side[i].store, &rt, &eb), &eb);
		lag = ms_store_peer_lag(rt, ms_identity_pk(p.side[1 - i].id));
		ms_store_read_end(&rt);
		SP_ASSERT(&p, lag == 0, "side %d sees its peer lag %" PRIu64, i,
		          lag);
	}
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
	uint8_t newer[8] = {'M', 'S', MS_WIRE_VERSION + 1, MS_WIRE_HELLO};

	refused_fresh(1, newer, sizeof newer, "bad_version", MS_BYE_VERSION);
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

/* --- budgets ----------------------------------------------------------------- */

/* Encode m and hand it to session s (not necessarily one of the pair's). */
static void inject_to(sp_pair *p, ms_session *s, const ms_wire_msg *m)
{
	size_t len;
	const uint8_t *buf = enc(m, &len);

	ms_session_recv(s, buf, len, p->now);
}

/* What a dialer with identity `who` says first: a HELLO whose digest no
 * store has, so the listening session s answers with its vector and waits
 * for the peer's (state SYNC, vector exchange). */
static void fake_hello(sp_pair *p, ms_session *s, const ms_identity *who)
{
	ms_wire_msg m = {.type = MS_WIRE_HELLO};

	memcpy(m.u.hello.node_id, ms_identity_pk(who), MS_PK_LEN);
	memset(m.u.hello.vv_digest, 0xd1, MS_HASH_LEN);
	inject_to(p, s, &m);
}

static int wvv_cmp(const void *a, const void *b)
{
	return memcmp(((const ms_wire_vv_entry *)a)->author,
	              ((const ms_wire_vv_entry *)b)->author, MS_PK_LEN);
}

/* Entries (sorted here) to s as VV chunks, the last one LAST; stops when
 * s closes. */
static void inject_vv(sp_pair *p, ms_session *s, ms_wire_vv_entry *e, size_t n)
{
	size_t off = 0;

	if (n == 0) { /* a peer that holds nothing: one empty LAST chunk */
		ms_wire_msg m = {.type = MS_WIRE_VV};
		m.u.vv.flags = MS_WIRE_VV_LAST;
		inject_to(p, s, &m);
		return;
	}
	qsort(e, n, sizeof *e, wvv_cmp);
	do {
		ms_wire_msg m = {.type = MS_WIRE_VV};
		size_t k = n - off > MS_WIRE_MAX_VV ? MS_WIRE_MAX_VV : n - off;

		m.u.vv.n = (uint16_t)k;
		m.u.vv.entries = e + off;
		off += k;
		m.u.vv.flags = off == n ? MS_WIRE_VV_LAST : 0;
		inject_to(p, s, &m);
	} while (off < n && ms_session_state_get(s) != MS_SESSION_CLOSED);
}

/* An author nobody holds: i in its first bytes. */
static void made_up(ms_wire_vv_entry *e, uint32_t i)
{
	memset(e, 0, sizeof *e);
	memset(e->author, 0xee, MS_PK_LEN);
	e->author[0] = (uint8_t)(i >> 16);
	e->author[1] = (uint8_t)(i >> 8);
	e->author[2] = (uint8_t)i;
	e->seq = e->held = 1000 + i;
	memset(e->acc, 0x5a, sizeof e->acc);
}

static int author_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MS_PK_LEN); /* the author leads each entry */
}

static uint64_t counter(sp_pair *p, int i, const char *name)
{
	return ms_counters_total(&p->side[i].counters, name);
}

/* If side 0's next message is an OPS: flip the last signature bit of its
 * op number `index` the first time (its bytes kept in keep, keep_len),
 * and of every op equal to the kept one after that.  1 when an op was
 * damaged. */
static int damage_ops(sp_pair *p, ms_wire_scratch *ws, int index, uint8_t *keep,
                      size_t *keep_len)
{
	sp_msg *m = p->side[0].head;
	ms_wire_msg w;
	int hit = 0;

	if (m == NULL || ms_wire_decode(&w, ws, m->buf, m->len) != MS_WR_OK ||
	    w.type != MS_WIRE_OPS)
		return 0;
	for (uint16_t i = 0; i < w.u.ops.n; i++) {
		uint8_t *op = (uint8_t *)w.u.ops.ops[i].ptr;
		size_t len = w.u.ops.ops[i].len;

		if (*keep_len == 0 && (int)i == index && len <= 4096) {
			memcpy(keep, op, len);
			*keep_len = len;
		} else if (len != *keep_len || memcmp(op, keep, len) != 0) {
			continue;
		}
		op[len - 1] ^= 1;
		hit = 1;
	}
	return hit;
}

/* An op damaged on the way inside an OPS message is rejected; the ACK of
 * that batch stops just below it, and the sender offers it again in the
 * same session: the pair converges without a new session.  If every copy
 * arrives damaged (a peer that refuses an op for good), it is offered
 * again once, not forever. */
START_TEST(rejected_op_offered_again)
{
	ms_wire_scratch *ws = malloc(sizeof *ws);
	static uint8_t keep[4096];

	ck_assert_ptr_nonnull(ws);
	for (int always = 0; always < 2; always++) {
		ms_session_params sp;
		size_t steps = 0, keep_len = 0;
		int damaged = 0;
		sp_pair p;

		ms_session_params_default(&sp);
		sp.batch_ops = 5;
		sp_init(&p, "reoffer", 0x11, 0x22, 23 + always, &sp);
		put_n(&p, 0, "k/", 20, MS_PRIO_USER);
		sp_open(&p);
		/* the second op of side 0's first OPS; with `always`, every
		 * later copy of it too */
		while (steps++ < STEPS) {
			if (keep_len == 0 || always)
				damaged += damage_ops(&p, ws, 1, keep,
				                      &keep_len);
			if (!sp_step(&p))
				break;
		}
		ck_assert_uint_lt(steps, STEPS);
		ck_assert_int_eq(damaged, always ? 2 : 1);
		ck_assert(is_live(&p, 0) && is_live(&p, 1));
		ck_assert_uint_eq(counter(&p, 0, "ops_reoffered"), 1);
		ck_assert_uint_eq(counter(&p, 0, "ops_sent"), 21);
		ck_assert_uint_eq(sp_ops(&p, 1), always ? 19 : 20);
		if (!always)
			assert_converged(&p);
		close_both(&p);
		ck_assert_uint_eq(p.side[1].sum.rejected, always ? 2 : 1);
		sp_free(&p);
	}
	free(ws);
}
END_TEST

static uint64_t peer_vv_of(sp_pair *p, int i, const uint8_t *peer,
                           const uint8_t *author)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint64_t v;

	MS_PASS_EB(ms_store_read_begin(p->side[i].store, &rt, &eb), &eb);
	v = ms_store_peer_vv_get(rt, peer, author);
	ms_store_read_end(&rt);
	return v;
}

/* Side i's session ended for `budget` with BYE(bye), counted once in
 * side ci's counters (its environment's). */
static void assert_limited_in(sp_pair *p, int i, int ci, const char *budget,
                              int bye)
{
	char name[64];

	SP_ASSERT(p, p->side[i].ended == 1, "side %d still open", i);
	ck_assert_str_eq(p->side[i].end_reason,
	                 bye == MS_BYE_TIMEOUT ? "timeout" : "budget");
	ck_assert_str_eq(p->side[i].end_detail, budget);
	ck_assert_int_eq(p->side[i].end_bye, bye);
	ck_assert_int_eq(p->side[i].end_failed, 1);
	snprintf(name, sizeof name, "limit_%s", budget);
	ck_assert_uint_eq(counter(p, ci, name), 1);
	/* the BYE naming the budget is the last thing on the link */
	ck_assert_ptr_nonnull(p->side[i].tail);
	ck_assert_uint_eq(p->side[i].tail->buf[3], MS_WIRE_BYE);
	ck_assert_uint_eq(p->side[i].tail->buf[4], (unsigned)bye);
}

static void assert_limited(sp_pair *p, int i, const char *budget, int bye)
{
	assert_limited_in(p, i, i, budget, bye);
}

/* With deferral on (as the daemon runs it), what a peer is learnt to hold
 * reaches peer_vv only at ms_session_env_flush_peer_vv: the ops a peer sends
 * (the receiver's side) and the ACKs of ours (the sender's side). */
START_TEST(deferred_peer_vv_waits_for_flush)
{
	sp_pair p;
	const uint8_t *a = NULL, *b = NULL;
	uint64_t h;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};

	sp_init(&p, "defer", 0x11, 0x22, 5, NULL);
	a = ms_identity_pk(p.side[0].id);
	b = ms_identity_pk(p.side[1].id);
	ms_session_env_defer_peer_vv(p.side[0].env, 1);
	ms_session_env_defer_peer_vv(p.side[1].env, 1);
	put_n(&p, 0, "a/", 3, MS_PRIO_USER);
	sp_open(&p);
	run_quiet(&p);
	ck_assert(is_live(&p, 0) && is_live(&p, 1));
	ms_session_env_flush_peer_vv(p.side[0].env);
	ms_session_env_flush_peer_vv(p.side[1].env);
	ck_assert_uint_eq(peer_vv_of(&p, 1, a, a), 3); /* b saw a's ops */
	ck_assert_uint_eq(peer_vv_of(&p, 0, b, a), 3); /* a got the ACKs */

	MS_PASS_EB(ms_store_read_begin(p.side[0].store, &rt, &eb), &eb);
	h = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	sp_put(&p, 0, "late", "1", MS_PRIO_USER);
	(void)sp_feed(&p, 0, h);
	run_quiet(&p);
	ck_assert_uint_eq(sp_ops(&p, 1), 4); /* relayed: the op is there */
	ck_assert_uint_eq(peer_vv_of(&p, 1, a, a), 3);
	ck_assert_uint_eq(peer_vv_of(&p, 0, b, a), 3);
	ms_session_env_flush_peer_vv(p.side[0].env);
	ms_session_env_flush_peer_vv(p.side[1].env);
	ck_assert_uint_eq(peer_vv_of(&p, 1, a, a), 4);
	ck_assert_uint_eq(peer_vv_of(&p, 0, b, a), 4);
	ms_session_env_flush_peer_vv(p.side[1].env); /* nothing: no-op */
	close_both(&p);
	sp_free(&p);
}
END_TEST

START_TEST(vv_keeps_held_authors_and_bounds_the_rest)
{
	ms_session_params sp;
	ms_wire_vv_entry *e = calloc(2100, sizeof *e);
	const uint8_t *me, *peer;
	sp_pair p;

	ck_assert_ptr_nonnull(e);
	ms_session_params_default(&sp);
	sp.vv_entries = 2000;
	/* within the budget: 2000 made-up authors and one we hold */
	sp_init(&p, "vvkeep", 0x11, 0x22, 31, &sp);
	put_n(&p, 1, "b/", 3, MS_PRIO_USER);
	sp_open(&p);
	me = ms_identity_pk(p.side[1].id);
	peer = ms_identity_pk(p.side[0].id);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	ck_assert_int_eq(ms_session_state_get(p.side[1].s), MS_SESSION_SYNC);
	for (uint32_t i = 0; i < 2000; i++)
		made_up(&e[i], i);
	memset(&e[2000], 0, sizeof e[2000]);
	memcpy(e[2000].author, me, MS_PK_LEN);
	e[2000].seq = e[2000].held = 2; /* the peer holds 2 of our 3 */
	inject_vv(&p, p.side[1].s, e, 2001);
	ck_assert_int_eq(p.side[1].ended, 0);
	/* only the held author reached peer_vv; the made-up ones nowhere */
	ck_assert_uint_eq(peer_vv_of(&p, 1, peer, me), 2);
	for (uint32_t i = 0; i < 2000; i += 97) {
		made_up(&e[0], i);
		ck_assert_uint_eq(peer_vv_of(&p, 1, peer, e[0].author), 0);
	}
	ck_assert_uint_eq(counter(&p, 1, "limit_session_vv_entries"), 0);
	ck_assert_uint_eq(counter(&p, 1, "limit_peer_vv_unknown"), 2000);
	/* and the session holds no 2000 entries: far below 2000 * 72 */
	ck_assert_uint_lt(ms_session_env_memory(p.side[1].env), 64 << 10);
	sp_free(&p);

	/* one more than the budget: BYE(budget session_vv_entries) */
	sp_init(&p, "vvcap", 0x11, 0x22, 32, &sp);
	sp_open(&p);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	for (uint32_t i = 0; i < 2001; i++)
		made_up(&e[i], i);
	inject_vv(&p, p.side[1].s, e, 2001);
	assert_limited(&p, 1, "session_vv_entries", MS_BYE_BUDGET);
	ck_assert_uint_eq(ms_session_env_memory(p.side[1].env), 0);
	sp_free(&p);
	free(e);
}
END_TEST

START_TEST(peer_vv_skips_unknown_authors)
{
	ms_wire_ack_entry acks[3];
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	const uint8_t *me, *peer;
	ms_wire_vv_entry unk;
	sp_pair p;

	sp_init(&p, "pvunk", 0x11, 0x22, 33, NULL);
	put_n(&p, 1, "b/", 3, MS_PRIO_USER);
	sp_open(&p);
	me = ms_identity_pk(p.side[1].id);
	peer = ms_identity_pk(p.side[0].id);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	inject_vv(&p, p.side[1].s, NULL, 0); /* the peer holds nothing */
	/* side 1 sent its 3 ops in batch 1; the ACK names two made-up
	 * authors besides ours */
	ck_assert_uint_eq(ms_session_inflight(p.side[1].s), 1);
	made_up(&unk, 7);
	memcpy(acks[0].author, unk.author, MS_PK_LEN);
	acks[0].seq = 99;
	memcpy(acks[1].author, me, MS_PK_LEN);
	acks[1].seq = 3;
	made_up(&unk, 8);
	memcpy(acks[2].author, unk.author, MS_PK_LEN);
	acks[2].seq = 5;
	qsort(acks, 3, sizeof acks[0], author_cmp);
	m.u.ack.batch = 1;
	m.u.ack.credit = 10;
	m.u.ack.n = 3;
	m.u.ack.entries = acks;
	inject_to(&p, p.side[1].s, &m);
	ck_assert_int_eq(p.side[1].ended, 0);
	ck_assert_uint_eq(peer_vv_of(&p, 1, peer, me), 3);
	made_up(&unk, 7);
	ck_assert_uint_eq(peer_vv_of(&p, 1, peer, unk.author), 0);
	made_up(&unk, 8);
	ck_assert_uint_eq(peer_vv_of(&p, 1, peer, unk.author), 0);
	/* entries skipped, not lines or messages */
	ck_assert_uint_eq(counter(&p, 1, "limit_peer_vv_unknown"), 2);
	sp_free(&p);
}
END_TEST

START_TEST(hello_timeout_both_directions)
{
	sp_pair p;

	sp_init(&p, "hellot", 0x11, 0x22, 34, NULL);
	sp_open(&p); /* nothing is delivered: neither HELLO arrives */
	sp_advance(&p, MS_SESSION_HELLO_TIMEOUT_DEFAULT_MS - 1);
	ms_session_tick(p.side[0].s, p.now);
	ms_session_tick(p.side[1].s, p.now);
	ck_assert_int_eq(p.side[0].ended + p.side[1].ended, 0);
	sp_advance(&p, 1);
	ms_session_tick(p.side[0].s, p.now);
	ms_session_tick(p.side[1].s, p.now);
	/* the dialer that sent its HELLO and the listener that waits */
	assert_limited(&p, 0, "hello_timeout", MS_BYE_TIMEOUT);
	assert_limited(&p, 1, "hello_timeout", MS_BYE_TIMEOUT);
	sp_free(&p);
}
END_TEST

START_TEST(vv_and_idle_timeouts)
{
	ms_session_params sp;
	ms_wire_vv_entry e;
	sp_pair p;

	ms_session_params_default(&sp);
	sp.vv_timeout_ms = 5000;
	sp.idle_timeout_ms = 20000;
	/* a peer that starts its vector and never finishes it */
	sp_init(&p, "vvt", 0x11, 0x22, 35, &sp);
	sp_open(&p);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	made_up(&e, 1);
	{
		ms_wire_msg m = {.type = MS_WIRE_VV};
		m.u.vv.n = 1;
		m.u.vv.entries = &e;
		inject_to(&p, p.side[1].s, &m); /* not LAST */
	}
	sp_advance(&p, 4999);
	ms_session_tick(p.side[1].s, p.now);
	ck_assert_int_eq(p.side[1].ended, 0);
	sp_advance(&p, 1);
	ms_session_tick(p.side[1].s, p.now);
	assert_limited(&p, 1, "vv_timeout", MS_BYE_TIMEOUT);
	sp_free(&p);

	/* a peer that took a batch and never acknowledges it */
	sp_init(&p, "idlet", 0x11, 0x22, 36, &sp);
	put_n(&p, 1, "b/", 3, MS_PRIO_USER);
	sp_open(&p);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	inject_vv(&p, p.side[1].s, NULL, 0);
	ck_assert_uint_eq(ms_session_inflight(p.side[1].s), 1);
	for (int i = 0; i < 19; i++) {
		sp_advance(&p, 1000);
		ms_session_tick(p.side[1].s, p.now);
	}
	ck_assert_int_eq(p.side[1].ended, 0);
	sp_advance(&p, 1000);
	ms_session_tick(p.side[1].s, p.now);
	assert_limited(&p, 1, "idle_timeout", MS_BYE_TIMEOUT);
	sp_free(&p);
}
END_TEST

START_TEST(quiet_live_session_is_not_idle)
{
	ms_session_params sp;
	sp_pair p;

	ms_session_params_default(&sp);
	sp.idle_timeout_ms = 1000;
	sp_init(&p, "quiet", 0x11, 0x22, 37, &sp);
	put_n(&p, 0, "a/", 5, MS_PRIO_USER);
	sp_open(&p);
	run_quiet(&p);
	ck_assert(is_live(&p, 0) && is_live(&p, 1));
	/* a day without a message: nothing is owed, nothing ends */
	for (int i = 0; i < 24; i++) {
		sp_advance(&p, 3600 * 1000);
		ms_session_tick(p.side[0].s, p.now);
		ms_session_tick(p.side[1].s, p.now);
	}
	ck_assert(is_live(&p, 0) && is_live(&p, 1));
	/* and a write after it still goes through */
	{
		uint64_t head = sp_feed(&p, 0, 0);
		sp_put(&p, 0, "late", "v", MS_PRIO_USER);
		(void)sp_feed(&p, 0, head);
	}
	run_quiet(&p);
	assert_converged(&p);
	ck_assert(is_live(&p, 0) && is_live(&p, 1));
	sp_free(&p);
}
END_TEST

START_TEST(session_memory_budget)
{
	ms_session_params sp;
	sp_pair p;

	/* 400 lacking ops are 400 * 48 bytes of ids: over 16 KiB */
	ms_session_params_default(&sp);
	sp.memory = 16 << 10;
	sp_init(&p, "mem", 0x11, 0x22, 38, &sp);
	put_n(&p, 1, "b/", 400, MS_PRIO_BACKGROUND);
	sp_open(&p);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	ck_assert_int_eq(p.side[1].ended, 0);
	inject_vv(&p, p.side[1].s, NULL, 0);
	assert_limited(&p, 1, "session_memory", MS_BYE_BUDGET);
	ck_assert_uint_eq(ms_session_env_memory(p.side[1].env), 0);
	sp_free(&p);
}
END_TEST

START_TEST(sessions_memory_total_budget)
{
	ms_identity *carol = fix_identity(0x33);
	ms_session_params sp;
	ms_session_conf c = {0};
	ms_session *b = NULL;
	ms_errbuf eb = {0};
	uint64_t one;
	sp_pair p;

	ms_session_params_default(&sp);
	sp_init(&p, "memtot", 0x11, 0x22, 39, &sp);
	put_n(&p, 1, "b/", 300, MS_PRIO_BACKGROUND);
	sp_open(&p);
	/* session A (side 1's) holds the 300 ids the peer lacks */
	fake_hello(&p, p.side[1].s, p.side[0].id);
	inject_vv(&p, p.side[1].s, NULL, 0);
	ck_assert_int_eq(p.side[1].ended, 0);
	one = ms_session_env_memory(p.side[1].env);
	ck_assert_uint_gt(one, 300 * sizeof(ms_sync_item));
	/* room for A and half of another */
	sp.memory_total = one + one / 2;
	ms_session_env_set_params(p.side[1].env, &sp);
	/* session B in the same environment, from carol (its events land in
	 * side 0's record, whose own session is gone) */
	ms_session_free(&p.side[0].s);
	c.outbound = 0;
	c.user = (void *)(intptr_t)0;
	MS_PASS(ms_ed25519_pk_to_curve(c.peer_curve, ms_identity_pk(carol),
	                               NULL));
	MS_PASS_EB(ms_session_new(&b, p.side[1].env, &c, p.now, &eb), &eb);
	p.side[0].s = b; /* freed by sp_free */
	fake_hello(&p, b, carol);
	inject_vv(&p, b, NULL, 0);
	assert_limited_in(&p, 0, 1, "sessions_memory_total", MS_BYE_BUDGET);
	/* A goes on; the total is A's again */
	ck_assert_int_eq(p.side[1].ended, 0);
	ck_assert_uint_le(ms_session_env_memory(p.side[1].env), one + 4096);
	ms_identity_free(&carol);
	sp_free(&p);
}
END_TEST

START_TEST(credit_granted_is_clamped)
{
	ms_session_params sp;
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	sp_pair p;

	ms_session_params_default(&sp);
	sp.batch_ops = 2;
	sp.credit = 4;
	sp_init(&p, "clamp", 0x11, 0x22, 40, &sp);
	put_n(&p, 1, "b/", 40, MS_PRIO_USER);
	sp_open(&p);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	inject_vv(&p, p.side[1].s, NULL, 0);
	ck_assert_uint_eq(ms_session_inflight(p.side[1].s), 1);
	/* the peer grants everything and then never reads */
	m.u.ack.batch = 1;
	m.u.ack.credit = UINT32_MAX;
	inject_to(&p, p.side[1].s, &m);
	for (int i = 0; i < 10; i++)
		ms_session_tick(p.side[1].s, p.now);
	/* our own credit, 4 ops: two batches of 2, not 19 */
	ck_assert_uint_eq(ms_session_inflight(p.side[1].s), 2);
	ck_assert_uint_eq(counter(&p, 1, "limit_credit"), 1);
	ck_assert_int_eq(p.side[1].ended, 0);
	/* its processing summary says the session hit one budget */
	close_both(&p);
	ck_assert_uint_eq(p.side[1].sum.limits_hit, 1);
	sp_free(&p);
}
END_TEST

/* Authors 0x71.. with n ops each (seqs 1..n, keys w<author>/<seq>) into
 * side i, skipping every `gap`-th seq when gap > 0 (ops above a gap). */
static void ingest_authors(sp_pair *p, int i, int nauth, int n, int gap)
{
	for (int a = 0; a < nauth; a++) {
		ms_identity *w = fix_identity((uint8_t)(0x71 + a));
		for (int q = 1; q <= n; q++) {
			fix_op o;
			char k[32];
			if (gap > 0 && q % gap == 0)
				continue;
			snprintf(k, sizeof k, "w%d/%d", a, q);
			fix_make_op(&o, w, MS_OP_PUT, (uint64_t)q,
			            100 + (uint64_t)q, NULL, 0, k, "v", 1);
			ingest(p, i, &o, 1);
			free(o.buf);
		}
		ms_identity_free(&w);
	}
}

START_TEST(lacking_in_windows_converges)
{
	/* what a peer lacks is queued a few ids at a time: every window size
	 * and interleaving ends with both sides equal, and sends exactly what
	 * one window of everything (0: the default) sends */
	static const uint32_t windows[] = {0, 1, 2, 5, 13};
	uint64_t base[4] = {0};

	for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
		for (uint64_t seed = 200; seed < 204; seed++) {
			ms_session_params sp;
			sp_pair p;
			uint64_t sent;

			ms_session_params_default(&sp);
			sp.batch_ops = 4;
			sp.credit = 6;
			sp.lacking_window = windows[wi];
			sp_init(&p, "windows", 0x11, 0x22, seed, &sp);
			put_n(&p, 0, "a/", 30, MS_PRIO_BACKGROUND);
			put_n(&p, 0, "u/", 3, MS_PRIO_USER);
			put_n(&p, 1, "b/", 9, MS_PRIO_USER);
			ingest_authors(&p, 0, 3, 8, 0);
			ingest_authors(&p, 1, 2, 11, 4); /* gaps on b */
			sp_open(&p);
			run_quiet(&p);
			SP_ASSERT(&p, is_live(&p, 0) && is_live(&p, 1),
			          "window %" PRIu32 ": not live", windows[wi]);
			assert_converged(&p);
			close_both(&p);
			/* ops above b's gaps come back as duplicates (§5.3
			 * rule 2); nothing else crosses twice */
			for (int i = 0; i < 2; i++)
				ck_assert_uint_eq(p.side[i].sum.sent,
				                  p.side[!i].sum.applied +
				                          p.side[!i]
				                                  .sum
				                                  .duplicate);
			sent = p.side[0].sum.sent + p.side[1].sum.sent;
			if (wi == 0)
				base[seed - 200] = sent;
			SP_ASSERT(&p, sent == base[seed - 200],
			          "window %" PRIu32 ": %" PRIu64
			          " sent, %" PRIu64 " in one window",
			          windows[wi], sent, base[seed - 200]);
			sp_free(&p);
		}
	}
}
END_TEST

START_TEST(lacking_windows_cover_the_whole)
{
	/* store/lacking in windows of 1..7: their union is the whole list,
	 * no id twice, and a window passes its bound by forks only */
	ms_identity *e = fix_identity(0x7d);
	fix_op x, y;
	sp_pair p;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	ms_sync_item *all = NULL;
	size_t nall = 0;

	sp_init(&p, "lkwin", 0x11, 0x22, 46, NULL);
	put_n(&p, 0, "a/", 20, MS_PRIO_USER);
	ingest_authors(&p, 0, 3, 6, 5);
	fix_make_op(&x, e, MS_OP_PUT, 1, 100, NULL, 0, "k", "x", 1);
	fix_make_op(&y, e, MS_OP_PUT, 1, 100, NULL, 0, "k", "y", 1);
	ingest(&p, 0, &x, 1);
	ingest(&p, 0, &y, 1); /* a fork: both versions are lacking */
	MS_PASS_EB(ms_store_read_begin(p.side[0].store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_lacking(rt, NULL, 0, &all, &nall, &eb), &eb);
	ck_assert_uint_eq(nall, 20 + 3 * 5 + 2);
	for (size_t max = 1; max <= 7; max++) {
		ms_lacking_pos pos;
		size_t got = 0, windows = 0;
		uint8_t *seen = calloc(nall, 1);

		ck_assert_ptr_nonnull(seen);
		memset(&pos, 0, sizeof pos);
		while (!pos.done) {
			ms_sync_item *w = NULL;
			size_t n = 0;

			MS_PASS_EB(ms_store_lacking_next(rt, NULL, 0, &pos, max,
			                                 &w, &n, &eb),
			           &eb);
			ck_assert_uint_le(n, max + 2);
			for (size_t i = 0; i < n; i++) {
				size_t j = 0;
				while (j < nall && memcmp(all[j].id, w[i].id,
				                          MS_HASH_LEN) != 0)
					j++;
				ck_assert_uint_lt(j, nall);
				ck_assert_uint_eq(seen[j], 0);
				seen[j] = 1;
			}
			got += n;
			free(w);
			ck_assert_uint_lt(++windows, 1000);
		}
		ck_assert_uint_eq(got, nall);
		free(seen);
	}
	ms_store_read_end(&rt);
	free(all);
	free(x.buf);
	free(y.buf);
	ms_identity_free(&e);
	sp_free(&p);
}
END_TEST

START_TEST(unacknowledged_bytes_are_bounded)
{
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	size_t vlen = 700u << 10;
	char *big = malloc(vlen + 1);
	ms_identity *carol = fix_identity(0x34), *dave = fix_identity(0x35);
	ms_session_conf c = {0};
	ms_session *b = NULL, *d = NULL;
	ms_errbuf eb = {0};
	uint64_t before;
	sp_pair p;

	/* 60 ops of 700 KiB: an 8 MiB message holds 11 of them */
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', vlen);
	big[vlen] = '\0';
	sp_init(&p, "txwin", 0x11, 0x22, 45, NULL);
	for (int i = 0; i < 60; i++) {
		char k[16];
		snprintf(k, sizeof k, "big/%02d", i);
		sp_put(&p, 1, k, big, MS_PRIO_USER);
	}
	sp_open(&p);
	fake_hello(&p, p.side[1].s, p.side[0].id);
	inject_vv(&p, p.side[1].s, NULL, 0);
	ck_assert_uint_eq(ms_session_inflight(p.side[1].s), 1);
	/* credit for every op, then nothing read: one full message waits
	 * (the session's window), not the four that would carry 49 ops */
	m.u.ack.batch = 1;
	m.u.ack.credit = 1024;
	inject_to(&p, p.side[1].s, &m);
	for (int i = 0; i < 10; i++)
		ms_session_tick(p.side[1].s, p.now);
	ck_assert_uint_eq(ms_session_inflight(p.side[1].s), 1);
	ck_assert_uint_lt(p.side[1].bytes_sent, 2 * MS_SESSION_TX_WINDOW_BYTES);
	ck_assert_uint_eq(counter(&p, 1, "limit_sessions_tx_total"), 0);

	/* two more peers that stop reading (carol, dave: in the same
	 * environment; their records land in side 0's).  Carol's first
	 * message nearly fills the total (16 MiB); dave, with nothing in
	 * flight, still gets one op, then waits for room */
	ms_session_free(&p.side[0].s);
	c.user = (void *)(intptr_t)0;
	MS_PASS(ms_ed25519_pk_to_curve(c.peer_curve, ms_identity_pk(carol),
	                               NULL));
	MS_PASS_EB(ms_session_new(&b, p.side[1].env, &c, p.now, &eb), &eb);
	p.side[0].s = b; /* freed by sp_free */
	fake_hello(&p, b, carol);
	inject_vv(&p, b, NULL, 0);
	ck_assert_uint_eq(ms_session_inflight(b), 1);
	MS_PASS(ms_ed25519_pk_to_curve(c.peer_curve, ms_identity_pk(dave),
	                               NULL));
	MS_PASS_EB(ms_session_new(&d, p.side[1].env, &c, p.now, &eb), &eb);
	before = p.side[0].bytes_sent;
	fake_hello(&p, d, dave);
	inject_vv(&p, d, NULL, 0);
	inject_to(&p, d, &m); /* ACK(1): after it, one op at a time */
	for (int i = 0; i < 10; i++)
		ms_session_tick(d, p.now);
	ck_assert_uint_eq(ms_session_inflight(d), 1);
	/* HELLO, VV and two single ops */
	ck_assert_uint_lt(p.side[0].bytes_sent - before, 2u << 20);
	ck_assert_uint_eq(counter(&p, 1, "limit_sessions_tx_total"), 1);
	/* the first peer's end makes room: full messages again */
	ms_session_close(p.side[1].s, MS_BYE_NORMAL, "done", "done", 0, p.now);
	m.u.ack.batch = 2;
	before = p.side[0].bytes_sent;
	inject_to(&p, d, &m);
	ms_session_tick(d, p.now);
	ck_assert_uint_eq(ms_session_inflight(d), 1);
	ck_assert_uint_gt(p.side[0].bytes_sent - before, 6u << 20);
	ck_assert_int_eq(p.side[0].ended, 0);
	ms_session_free(&d);
	ms_identity_free(&dave);
	ms_identity_free(&carol);
	free(big);
	sp_free(&p);
}
END_TEST

START_TEST(sender_that_does_not_wait_is_refused)
{
	ms_identity *e = fix_identity(0x7b);
	ms_wire_bytes ops[8];
	fix_op fo[8];
	ms_session_params sp;
	ms_wire_msg m = {.type = MS_WIRE_OPS};
	sp_pair p;

	for (int i = 0; i < 8; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		fix_make_op(&fo[i], e, MS_OP_PUT, (uint64_t)i + 1, 100, NULL, 0,
		            k, "v", 1);
		ops[i].ptr = fo[i].buf;
		ops[i].len = (uint32_t)fo[i].len;
	}
	/* two batches back to back before our first ACK left */
	sp_init(&p, "flood1", 0x11, 0x22, 41, NULL);
	sp_open(&p);
	run_quiet(&p);
	m.u.ops.ops = ops;
	m.u.ops.n = 1;
	m.u.ops.batch = 1;
	inject_msg(&p, 1, &m);
	m.u.ops.batch = 2;
	m.u.ops.ops = ops + 1;
	inject_msg(&p, 1, &m);
	assert_limited(&p, 1, "rx_inflight", MS_BYE_BUDGET);
	ck_assert_uint_eq(sp_ops(&p, 1), 1);
	sp_free(&p);

	/* after the grant of 4 left: 3 + 3 without waiting for the next */
	ms_session_params_default(&sp);
	sp.credit = 4;
	sp_init(&p, "flood2", 0x11, 0x22, 42, &sp);
	sp_open(&p);
	run_quiet(&p);
	m.u.ops.batch = 1;
	m.u.ops.n = 1;
	m.u.ops.ops = ops;
	inject_msg(&p, 1, &m);
	ms_session_tick(p.side[1].s, p.now); /* ACK(1, 4) leaves */
	m.u.ops.batch = 2;
	m.u.ops.n = 3;
	m.u.ops.ops = ops + 1;
	inject_msg(&p, 1, &m);
	ck_assert_int_eq(p.side[1].ended, 0);
	/* batch 3 arrives before ACK(2) left: ops 5..7 of at most 5 */
	for (int i = 4; i < 7; i++)
		fo[i].buf[fo[i].len - 1] ^= 1; /* and would be rejected */
	m.u.ops.batch = 3;
	m.u.ops.ops = ops + 4;
	inject_msg(&p, 1, &m);
	assert_limited(&p, 1, "rx_inflight", MS_BYE_BUDGET);
	/* refused before anything of it was verified or quarantined */
	ck_assert_uint_eq(sp_ops(&p, 1), 4);
	ck_assert_uint_eq(p.side[1].sum.received, 4);
	ck_assert_uint_eq(p.side[1].sum.rejected, 0);
	sp_free(&p);

	/* the same pace after each ACK left is fine */
	sp_init(&p, "paced", 0x11, 0x22, 43, &sp);
	sp_open(&p);
	run_quiet(&p);
	for (int i = 4; i < 7; i++)
		fo[i].buf[fo[i].len - 1] ^= 1;
	for (uint32_t b = 1; b <= 4; b++) {
		m.u.ops.batch = b;
		m.u.ops.n = b == 1 ? 1 : 2;
		m.u.ops.ops = ops + (b == 1 ? 0 : 2 * b - 3);
		inject_msg(&p, 1, &m);
		ms_session_tick(p.side[1].s, p.now);
	}
	ck_assert_int_eq(p.side[1].ended, 0);
	ck_assert_uint_eq(sp_ops(&p, 1), 7);
	sp_free(&p);
	for (int i = 0; i < 8; i++)
		free(fo[i].buf);
	ms_identity_free(&e);
}
END_TEST

/* Lines of `path` that contain `what`. */
static size_t lines_with(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, what) != NULL)
			n++;
	fclose(f);
	return n;
}

START_TEST(warnings_are_rate_limited_per_peer)
{
	ms_identity *e = fix_identity(0x7c);
	ms_wire_msg m = {.type = MS_WIRE_OPS};
	ms_wire_bytes op;
	fix_op bad;
	char *path;
	int saved, fd;
	sp_pair p;

	fix_make_op(&bad, e, MS_OP_PUT, 1, 100, NULL, 0, "k", "v", 1);
	bad.buf[bad.len - 1] ^= 1;
	op = (ms_wire_bytes){bad.buf, (uint32_t)bad.len};
	sp_init(&p, "ratelog", 0x11, 0x22, 44, NULL);
	sp_open(&p);
	run_quiet(&p);
	p.side[1].log.level = MS_LOG_WARNING;
	path = ms_test_pjoin(p.side[1].dir, "stderr.log");
	/* the log writes to stderr: catch it in a file for the count */
	ck_assert_int_eq(fflush(stderr), 0);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);
	/* 50 batches, each with a rejected op, within one second */
	m.u.ops.n = 1;
	m.u.ops.ops = &op;
	for (uint32_t b = 1; b <= 50; b++) {
		m.u.ops.batch = b;
		inject_msg(&p, 1, &m);
		ms_session_tick(p.side[1].s, p.now);
	}
	/* a second later: one more line, after the count of those refused */
	sp_advance(&p, 1000);
	m.u.ops.batch = 51;
	inject_msg(&p, 1, &m);
	ck_assert_int_eq(fflush(stderr), 0);
	ck_assert_int_ge(dup2(saved, 2), 0);
	close(saved);
	ck_assert(is_live(&p, 1));
	ck_assert_uint_eq(lines_with(path, "MS-SYNC-REJECT"),
	                  MS_RATELOG_DEFAULT_PER_SEC + 1);
	ck_assert_uint_eq(lines_with(path, "MS-LOG-SUPPRESSED"), 1);
	ck_assert_uint_eq(lines_with(path, "lines=45"), 1);
	ck_assert_uint_eq(counter(&p, 1, "log_suppressed"), 45);
	free(path);
	free(bad.buf);
	ms_identity_free(&e);
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
	tcase_add_test(tc, deferred_peer_vv_waits_for_flush);
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
	tcase_add_test(tc, rejected_op_offered_again);
	tcase_add_test(tc, bye_ends_the_other_side);
	tcase_add_test(tc, peers_reach_the_owner);
	tcase_add_test(tc, vv_keeps_held_authors_and_bounds_the_rest);
	tcase_add_test(tc, peer_vv_skips_unknown_authors);
	tcase_add_test(tc, hello_timeout_both_directions);
	tcase_add_test(tc, vv_and_idle_timeouts);
	tcase_add_test(tc, quiet_live_session_is_not_idle);
	tcase_add_test(tc, session_memory_budget);
	tcase_add_test(tc, sessions_memory_total_budget);
	tcase_add_test(tc, credit_granted_is_clamped);
	tcase_add_test(tc, lacking_in_windows_converges);
	tcase_add_test(tc, lacking_windows_cover_the_whole);
	tcase_add_test(tc, unacknowledged_bytes_are_bounded);
	tcase_add_test(tc, sender_that_does_not_wait_is_refused);
	tcase_add_test(tc, warnings_are_rate_limited_per_peer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fix_prefer_ram_tmpdir();
	return ms_test_run(suite());
}
