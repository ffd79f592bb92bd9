/*
 * test_faults.c — bad input and faults against real node processes:
 * a connected member that sends forged, altered and malformed ops, garbage
 * frames, unknown protocol versions and oversize messages; a peer that stops
 * answering in the middle of a batch; SIGKILL in the middle of sync, five
 * times in a row.  In every case the node keeps serving its other peers,
 * nothing stored changes but what is valid, and every node converges.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "crypto.h"
#include "it.h"
#include "ms_test.h"
#include "hlc.h"
#include "op.h"
#include "wire.h"

/* --- a member speaking the protocol by hand ------------------------------ */

typedef struct member {
	void *ctx, *sock;
	ms_identity *id;
	ms_netkey *nk;
	uint8_t netid[MS_NETID_LEN];
	uint8_t buf[MS_WIRE_MAX_MSG + 4096];
	size_t len;
} member;

static void member_connect(member *m, const it_node *target)
{
	char path[600];
	uint8_t spk[MS_CURVE_LEN], ssk[MS_CURVE_LEN], cpk[MS_CURVE_LEN],
		csk[MS_CURVE_LEN];
	ms_errbuf eb;
	int timeout = 100, linger = 0;
	int64_t maxmsg = -1;

	memset(m, 0, offsetof(member, buf));
	snprintf(path, sizeof path, "%s/%s", target->dir, MS_NETKEY_FILE);
	ck_assert_msg(ms_netkey_load(&m->nk, path, &eb) == MS_OK, "%s", eb.msg);
	ms_netkey_id(m->nk, m->netid);
	ck_assert_int_eq(ms_identity_generate(&m->id, &eb), MS_OK);
	ms_netkey_listen_keypair(m->nk, spk, ssk);
	ck_assert_int_eq(ms_identity_curve_keypair(m->id, cpk, csk, &eb),
	                 MS_OK);
	m->ctx = zmq_ctx_new();
	m->sock = zmq_socket(m->ctx, ZMQ_DEALER);
	ck_assert_int_eq(zmq_setsockopt(m->sock, ZMQ_CURVE_SERVERKEY, spk, 32),
	                 0);
	ck_assert_int_eq(zmq_setsockopt(m->sock, ZMQ_CURVE_PUBLICKEY, cpk, 32),
	                 0);
	ck_assert_int_eq(zmq_setsockopt(m->sock, ZMQ_CURVE_SECRETKEY, csk, 32),
	                 0);
	ck_assert_int_eq(zmq_setsockopt(m->sock, ZMQ_RCVTIMEO, &timeout,
	                                sizeof timeout),
	                 0);
	ck_assert_int_eq(zmq_setsockopt(m->sock, ZMQ_LINGER, &linger,
	                                sizeof linger),
	                 0);
	ck_assert_int_eq(zmq_setsockopt(m->sock, ZMQ_MAXMSGSIZE, &maxmsg,
	                                sizeof maxmsg),
	                 0);
	ck_assert_int_eq(zmq_connect(m->sock, target->endpoint), 0);
}

static void member_close(member *m)
{
	if (m->sock != NULL)
		zmq_close(m->sock);
	if (m->ctx != NULL)
		zmq_ctx_term(m->ctx);
	ms_identity_free(&m->id);
	ms_netkey_free(&m->nk);
	m->sock = m->ctx = NULL;
}

static void member_send(member *m, const void *buf, size_t len)
{
	ck_assert_int_eq(zmq_send(m->sock, buf, len, 0), (int)len);
}

static void member_send_msg(member *m, const ms_wire_msg *msg)
{
	static uint8_t out[MS_WIRE_MAX_MSG];
	size_t len;
	ms_errbuf eb;

	ck_assert_msg(ms_wire_encode(msg, out, sizeof out, &len, &eb) == MS_OK,
	              "%s", eb.msg);
	member_send(m, out, len);
}

/* Receive until a message of type want arrives (others are skipped);
 * 0 on success, -1 on deadline. */
static int member_expect(member *m, ms_wire_type want, uint64_t deadline_ms)
{
	ms_test_wait w;

	ms_test_wait_start(&w, deadline_ms);
	while (ms_test_wait_more(&w)) {
		int r = zmq_recv(m->sock, m->buf, sizeof m->buf, 0);
		ms_wire_type t;
		if (r < 0)
			continue;
		m->len = (size_t)r;
		if (ms_wire_peek_type(m->buf, m->len, &t) == MS_WR_OK &&
		    t == want)
			return 0;
	}
	return -1;
}

static void member_hello(member *m)
{
	ms_wire_msg msg = {0};

	msg.type = MS_WIRE_HELLO;
	memcpy(msg.u.hello.node_id, ms_identity_pk(m->id), MS_PK_LEN);
	member_send_msg(m, &msg);
	ck_assert_msg(member_expect(m, MS_WIRE_HELLO, IT_DEADLINE_MS) == 0,
	              "no HELLO from the node");
	/* our vector is empty: one last, empty chunk */
	memset(&msg, 0, sizeof msg);
	msg.type = MS_WIRE_VV;
	msg.u.vv.flags = MS_WIRE_VV_LAST;
	member_send_msg(m, &msg);
}

/* An op by the member (or claiming author), signed by the member. */
static size_t make_op(member *m, uint8_t *buf, size_t cap, uint64_t seq,
                      const char *key, const char *value)
{
	ms_op op = {0};
	size_t len;
	ms_errbuf eb;

	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(m->id), MS_PK_LEN);
	op.seq = seq;
	op.hlc = MS_HLC_MAKE(1700000000000ull + seq, 0);
	op.key = (const uint8_t *)key;
	op.key_len = (uint16_t)strlen(key);
	op.value = (const uint8_t *)value;
	op.value_len = (uint32_t)strlen(value);
	ck_assert_msg(ms_op_sign_encode(&op, m->id, m->netid, buf, cap, &len,
	                                &eb) == MS_OK,
	              "%s", eb.msg);
	return len;
}

static int bye_reason(member *m)
{
	ms_wire_bye bye;

	ck_assert_int_eq(ms_wire_bye_decode(&bye, m->buf, m->len), MS_WR_OK);
	return bye.reason;
}

/* The quarantine list, whichever top-level shape node-inspect gives it. */
static json_t *quarantine_list(json_t *j)
{
	if (json_is_array(j))
		return j;
	json_t *e = json_object_get(j, "entries");
	if (!json_is_array(e))
		e = json_object_get(j, "quarantine");
	ck_assert_msg(json_is_array(e), "quarantine JSON has no list");
	return e;
}

START_TEST(member_sends_bad_input)
{
	it_node a, b;
	it_node *ab[] = {&a, &b};
	it_node *pa[] = {&a};
	static member m;
	uint8_t good[512], forged[512], altered[512], trunc[512];
	size_t lg, lf, la, lt;
	char before[80], idhex[2 * MS_PK_LEN + 1];

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	it_put(&a, "k", "original");
	it_put(&b, "kb", "from b");
	ck_assert_int_eq(it_wait_converged(ab, 2, 2, IT_DEADLINE_MS), 0);
	it_summary_str(&a, "state_hash", before, sizeof before);

	member_connect(&m, &a);
	ms_hex(idhex, ms_identity_pk(m.id), MS_PK_LEN);
	member_hello(&m);

	lg = make_op(&m, good, sizeof good, 1, "from-member", "valid");
	/* forged: our signature on an op that claims another author */
	lf = make_op(&m, forged, sizeof forged, 2, "k", "forged value");
	memset(forged + 3, 0x42, MS_PK_LEN);
	/* altered: a valid op whose value was changed in transit */
	la = make_op(&m, altered, sizeof altered, 3, "k", "altered valuE");
	altered[la - MS_SIG_LEN - 1] ^= 0x20;
	/* malformed: cut short */
	lt = make_op(&m, trunc, sizeof trunc, 4, "x", "y") - 10;

	ms_wire_bytes ops[4] = {{good, (uint32_t)lg},
	                        {forged, (uint32_t)lf},
	                        {altered, (uint32_t)la},
	                        {trunc, (uint32_t)lt}};
	ms_wire_msg msg = {0};
	msg.type = MS_WIRE_OPS;
	msg.u.ops.batch = 1;
	msg.u.ops.n = 4;
	msg.u.ops.ops = ops;
	member_send_msg(&m, &msg);
	ck_assert_msg(member_expect(&m, MS_WIRE_ACK, IT_DEADLINE_MS) == 0,
	              "the node never acknowledged the batch");

	/* the valid op is applied, the three bad ones quarantined with reasons */
	ck_assert_uint_eq(it_summary_u64(&a, "ops"), 3);
	ck_assert_int_eq(it_wait_value(&a, "k", "original", 1000), 0);
	ck_assert_int_eq(it_wait_value(&a, "from-member", "valid", 1000), 0);
	json_t *q = it_inspect(&a, "quarantine");
	json_t *list = quarantine_list(q);
	ck_assert_uint_eq(json_array_size(list), 3);
	int sig = 0, tr = 0;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *reason = json_string_value(
			json_object_get(e, "reason"));
		const char *peer = json_string_value(
			json_object_get(e, "peer"));
		ck_assert_ptr_nonnull(reason);
		ck_assert_ptr_nonnull(peer);
		ck_assert_str_eq(peer, idhex);
		sig += strcmp(reason, "bad_signature") == 0;
		tr += strcmp(reason, "truncated") == 0;
	}
	ck_assert_int_eq(sig, 2);
	ck_assert_int_eq(tr, 1);
	json_decref(q);

	/* garbage on the session: BYE(proto), session dropped */
	member_send(&m, "garbage!", 8);
	ck_assert_int_eq(member_expect(&m, MS_WIRE_BYE, IT_DEADLINE_MS), 0);
	ck_assert_int_eq(bye_reason(&m), MS_BYE_PROTO);
	member_close(&m);

	/* a newer protocol version: BYE(version) */
	member_connect(&m, &a);
	uint8_t v2[] = {'M', 'S', MS_WIRE_VERSION + 1, 1, 0, 0, 0};
	member_send(&m, v2, sizeof v2);
	ck_assert_int_eq(member_expect(&m, MS_WIRE_BYE, IT_DEADLINE_MS), 0);
	ck_assert_int_eq(bye_reason(&m), MS_BYE_VERSION);
	member_close(&m);

	/* oversize: ZeroMQ drops the connection; the node lives on */
	member_connect(&m, &a);
	memset(m.buf, 'M', sizeof m.buf);
	member_send(&m, m.buf, MS_WIRE_MAX_MSG + 1024);
	member_close(&m);

	/* the node still serves b, and nothing stored was disturbed */
	it_put(&b, "after", "bad input");
	ck_assert_int_eq(it_wait_converged(ab, 2, 4, IT_DEADLINE_MS), 0);
	ck_assert_int_eq(it_wait_value(&b, "k", "original", 1000), 0);
	ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data", a.dir,
	                        "verify", (char *)NULL),
	                 0);
	ck_assert_uint_ge(it_log_count(&a, "bad_signature"), 1);
	it_node_stop(&b);
	it_node_stop(&a);
}
END_TEST

/* --- a peer that stops answering ---------------------------------------- */

static const char *slow_link_conf =
	"[net]\nheartbeat_interval = 200ms\nheartbeat_timeout = 1500ms\n"
	"[sync]\ncredit = 4\nbatch_ops = 4\n"
	"[backoff]\nstrategy = exponential\nbase = 300ms\ncap = 3s\n";

START_TEST(peer_stalls_mid_batch)
{
	it_node a, b;
	it_node *ab[] = {&a, &b};
	it_node *pb[] = {&b};
	enum { BACKLOG = 3000 };

	it_node_init(&a, "a", NULL, slow_link_conf);
	it_node_init(&b, "b", &a, slow_link_conf);
	it_bulk_put(&a, "bulk", BACKLOG, 1);
	it_node_start(&b, NULL, 0);
	it_node_start(&a, pb, 1); /* a dials b and streams its backlog */

	MS_WAIT(it_summary_u64(&b, "ops") >= 40, IT_DEADLINE_MS,
	        "b never started receiving");
	kill(b.pid, SIGSTOP);
	/* a notices within its heartbeat timeout, logs the session's summary
	 * and backs off */
	ck_assert_msg(it_wait_log(&a, "MS-PEER-FAIL", IT_DEADLINE_MS) == 0,
	              "a never noticed the stalled peer");
	ck_assert_uint_ge(it_log_count(&a, "MS-SYNC-SUMMARY"), 1);
	ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data", a.dir,
	                        "verify", (char *)NULL),
	                 0);
	it_node_kill(&b); /* killed while stopped: nothing half-written */
	ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data", b.dir,
	                        "verify", (char *)NULL),
	                 0);
	uint64_t had = it_summary_u64(&b, "ops");
	ck_assert_uint_lt(had, BACKLOG);
	it_node_start(&b, NULL, 0);
	ck_assert_int_eq(it_wait_converged(ab, 2, BACKLOG, 3 * IT_DEADLINE_MS),
	                 0);
	it_node_stop(&a);
	it_node_stop(&b);
}
END_TEST

/* --- SIGKILL in the middle of sync, five times --------------------------- */

START_TEST(sigkill_mid_sync_five_times)
{
	enum { ROUND_OPS = 1000 };
	it_node a, b, c;
	it_node *all[] = {&a, &b, &c};
	it_node *pa[] = {&a}, *pb[] = {&b};
	uint64_t total = 0, a_ops = 0;
	int mid_sync = 0;

	/* b grants little credit, so taking in a round's backlog takes many
	 * round trips and the kill lands in the middle of it */
	static const char *conf =
		"[sync]\ncredit = 4\nbatch_ops = 4\n"
		"[backoff]\nstrategy = constant\nbase = 200ms\ncap = 200ms\n";
	it_node_init(&a, "a", NULL, conf);
	it_node_init(&b, "b", &a, conf);
	it_node_init(&c, "c", &a, conf);
	it_node_start(&a, NULL, 0);
	it_node_start(&c, pb, 1);
	for (int round = 0; round < 5; round++) {
		char prefix[32];
		snprintf(prefix, sizeof prefix, "round%d", round);
		it_bulk_put(&a, prefix, ROUND_OPS, 1);
		total += ROUND_OPS;
		a_ops += ROUND_OPS;
		uint64_t before = it_summary_u64(&b, "ops"); /* b is down */
		it_node_start(&b, pa, 1);
		MS_WAIT(it_summary_u64(&b, "ops") > before, IT_DEADLINE_MS,
		        "b got nothing in round %d", round);
		it_node_kill(&b);
		/* what b had when it died, against everything a held */
		if (it_summary_u64(&b, "ops") < a_ops + (uint64_t)round)
			mid_sync++;
		ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data",
		                        b.dir, "verify", (char *)NULL),
		                 0);
		snprintf(prefix, sizeof prefix, "c%d", round);
		it_put(&c, prefix, "written on c");
		total += 1;
	}
	ck_assert_msg(mid_sync > 0, "no kill landed in the middle of a sync");
	it_node_start(&b, pa, 1);
	ck_assert_msg(it_wait_converged(all, 3, total, 3 * IT_DEADLINE_MS) == 0,
	              "not every op reached every node");
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data",
		                        all[i]->dir, "verify", (char *)NULL),
		                 0);
	it_node_stop(&b);
	it_node_stop(&c);
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = it_tcase("faults", 400);

	tcase_add_test(tc, member_sends_bad_input);
	tcase_add_test(tc, peer_stalls_mid_batch);
	tcase_add_test(tc, sigkill_mid_sync_five_times);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
