/*
 * test_daemon.c — daemon behaviour with real processes: an equivocation
 * hidden inside the common prefix settles in one session (the extra vector
 * round of docs/protocol.md §5.3 rule 4); SIGHUP reloads policies and the
 * log level, and a broken config on reload is logged while the old one
 * stays; backoff state survives a restart; a second `run` on the same
 * directory is refused.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "hlc.h"
#include "it.h"
#include "ms_test.h"
#include "op.h"
#include "store.h"

/* --- equivocation -------------------------------------------------------- */

typedef struct signed_op {
	uint8_t buf[512];
	size_t len;
} signed_op;

static void sign_op(signed_op *o, const ms_identity *who,
                    const uint8_t netid[MS_NETID_LEN], uint64_t seq,
                    uint64_t hlc, const char *key, const char *value)
{
	ms_op op = {0};
	ms_errbuf eb;

	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(who), MS_PK_LEN);
	op.seq = seq;
	op.hlc = hlc;
	op.key_len = (uint16_t)strlen(key);
	op.key = (const uint8_t *)key;
	op.value_len = (uint32_t)strlen(value);
	op.value = (const uint8_t *)value;
	ck_assert_msg(ms_op_sign_encode(&op, who, netid, o->buf, sizeof o->buf,
	                                &o->len, &eb) == MS_OK,
	              "sign: %s", eb.msg);
}

/* Ingest ops into n's store (the daemon is not running). */
static void ingest(const it_node *n, const signed_op *const *ops, size_t k)
{
	ms_store *s = NULL;
	ms_ingest_item items[8];
	ms_ingest_totals tot = {0};
	ms_errbuf eb;

	ck_assert_uint_le(k, 8);
	ck_assert_msg(ms_store_open(&s, n->dir, NULL, &eb) == MS_OK, "open: %s",
	              eb.msg);
	for (size_t i = 0; i < k; i++) {
		items[i].buf = ops[i]->buf;
		items[i].len = ops[i]->len;
	}
	ck_assert_msg(ms_store_ingest(s, items, k, NULL, NULL, &tot, &eb) ==
	                      MS_OK,
	              "ingest: %s", eb.msg);
	ck_assert_uint_eq(tot.applied, k);
	ms_store_close(&s);
}

START_TEST(equivocation_in_common_prefix_converges)
{
	it_node a, b;
	it_node *ab[] = {&a, &b};
	it_node *pa[] = {&a};
	ms_identity *e = NULL, *f = NULL;
	ms_netkey *nk = NULL;
	uint8_t netid[MS_NETID_LEN];
	char path[600];
	ms_errbuf eb;
	uint64_t h = ms_hlc_tick(0, ms_hlc_wall_ms());
	signed_op e1, e2a, e2b, e3, e4, f1a, f1b;

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	snprintf(path, sizeof path, "%s/%s", a.dir, MS_NETKEY_FILE);
	ck_assert_msg(ms_netkey_load(&nk, path, &eb) == MS_OK, "%s", eb.msg);
	ms_netkey_id(nk, netid);
	ck_assert_int_eq(ms_identity_generate(&e, &eb), MS_OK);
	ck_assert_int_eq(ms_identity_generate(&f, &eb), MS_OK);

	/* author e equivocated at seq 2 inside the prefix both hold (1..3);
	 * a also holds seq 4, so the counts differ and no rule of the first
	 * vector round sees the fork */
	sign_op(&e1, e, netid, 1, h + 1, "e/1", "one");
	sign_op(&e2a, e, netid, 2, h + 2, "e/2", "version a");
	sign_op(&e2b, e, netid, 2, h + 2, "e/2", "version b");
	sign_op(&e3, e, netid, 3, h + 3, "e/3", "three");
	sign_op(&e4, e, netid, 4, h + 4, "e/4", "four");
	/* author f equivocated at its only slot: equal seq and held, the case
	 * the first round already settles */
	sign_op(&f1a, f, netid, 1, h + 5, "f/1", "version a");
	sign_op(&f1b, f, netid, 1, h + 5, "f/1", "version b");
	{
		const signed_op *on_a[] = {&e1, &e2a, &e3, &e4, &f1a};
		const signed_op *on_b[] = {&e1, &e2b, &e3, &f1b};
		ingest(&a, on_a, 5);
		ingest(&b, on_b, 4);
	}
	ms_identity_free(&e);
	ms_identity_free(&f);
	ms_netkey_free(&nk);

	it_node_start(&a, NULL, 0);
	it_node_start(&b, pa, 1);
	/* e: 1, 2 (both versions), 3, 4; f: 1 (both versions) */
	ck_assert_msg(it_wait_converged(ab, 2, 7, IT_DEADLINE_MS) == 0,
	              "the equivocations did not settle");
	ck_assert_uint_eq(it_summary_u64(&a, "forks"), 2);
	ck_assert_uint_eq(it_summary_u64(&b, "forks"), 2);
	/* in one session: b dialled once and never failed */
	ck_assert_uint_eq(it_log_count(&b, "MS-PEER-FAIL"), 0);
	ck_assert_uint_ge(it_log_count(&b, "MS-SYNC-VV2"), 1);
	it_node_stop(&b);
	it_node_stop(&a);
	ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data", a.dir,
	                        "verify", (char *)NULL),
	                 0);
	ck_assert_int_eq(it_run(NULL, NULL, MS_INSPECT_BIN, "--data", b.dir,
	                        "verify", (char *)NULL),
	                 0);
}
END_TEST

/* --- SIGHUP -------------------------------------------------------------- */

/* The policy summary shows for prefix, or "" when none. */
static void policy_of(const it_node *n, const char *prefix, char *out,
                      size_t cap)
{
	json_t *j = it_inspect(n, "summary");
	json_t *pol = json_object_get(j, "policies"), *r;
	size_t i;

	out[0] = '\0';
	json_array_foreach(pol, i, r)
	{
		const char *p = json_string_value(json_object_get(r, "prefix"));
		if (p != NULL && strcmp(p, prefix) == 0)
			snprintf(out, cap, "%s",
			         json_string_value(
					 json_object_get(r, "policy")));
	}
	json_decref(j);
}

START_TEST(sighup_reloads_policy_and_level)
{
	it_node a;
	char pol[32];

	it_node_init(&a, "a", NULL, NULL);
	it_node_write_conf(&a, "[log]\nlevel = info\n");
	it_node_start_level(&a, NULL, 0, NULL); /* the config sets the level */
	policy_of(&a, "cnt/", pol, sizeof pol);
	ck_assert_str_eq(pol, "");

	it_node_write_conf(
		&a, "[log]\nlevel = debug\n\n[policy]\ncnt/ = counter\n");
	it_node_signal(&a, SIGHUP);
	ck_assert_msg(it_wait_log(&a, "MS-CONF-RELOAD peers=0 level=debug",
	                          IT_DEADLINE_MS) == 0,
	              "no reload line");
	policy_of(&a, "cnt/", pol, sizeof pol);
	ck_assert_str_eq(pol, "counter");
	/* the new policy is in force in the running daemon's store: a counter
	 * key sums its deltas */
	it_put(&a, "cnt/x", "5");
	it_put(&a, "cnt/x", "-2");
	ck_assert_int_eq(it_wait_value(&a, "cnt/x", "3", IT_DEADLINE_MS), 0);

	/* a broken file: logged, the old config kept, the daemon goes on */
	it_node_write_conf(&a,
	                   "[log]\nlevel = error\n\n[policy]\ncnt/ = fancy\n");
	it_node_signal(&a, SIGHUP);
	ck_assert_msg(it_wait_log(&a, "MS-CONF-RELOAD-FAIL", IT_DEADLINE_MS) ==
	                      0,
	              "no reload failure line");
	ck_assert(it_node_alive(&a));
	/* the CLI reads the file too: put the good one back (no SIGHUP; the
	 * daemon still runs on what it loaded before) */
	it_node_write_conf(
		&a, "[log]\nlevel = debug\n\n[policy]\ncnt/ = counter\n");
	policy_of(&a, "cnt/", pol, sizeof pol);
	ck_assert_str_eq(pol, "counter");
	ck_assert_uint_eq(it_log_count(&a, "MS-CONF-RELOAD "), 1);
	/* still at debug (the broken file said error): debug lines go on */
	{
		size_t before = it_log_count(&a, "debug MS-");
		it_node b;
		it_node *ab[] = {&a, &b}, *pa[] = {&a};
		it_node_init(&b, "b", &a, NULL);
		it_node_start(&b, pa, 1);
		ck_assert_int_eq(it_wait_converged(ab, 2, 2, IT_DEADLINE_MS),
		                 0);
		ck_assert_uint_gt(it_log_count(&a, "debug MS-"), before);
		it_node_stop(&b);
	}
	it_node_stop(&a);
}
END_TEST

/* --- backoff across a restart -------------------------------------------- */

/* Wall-clock ms of a log line's timestamp "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static uint64_t line_ms(const char *line)
{
	struct tm tm = {0};
	const char *p = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm);
	char *end;
	long ms;

	ck_assert_msg(p != NULL && *p == '.', "no timestamp: %s", line);
	ms = strtol(p + 1, &end, 10);
	ck_assert_msg(end == p + 4 && *end == 'Z' && ms >= 0 && ms < 1000,
	              "no milliseconds: %s", line);
	return (uint64_t)timegm(&tm) * 1000 + (uint64_t)ms;
}

/* The first line containing needle after the last line containing mark
 * (copied into out); 0 found, -1 not. */
static int line_after(const it_node *n, const char *mark, const char *needle,
                      char *out, size_t cap)
{
	FILE *f = fopen(n->log, "r");
	char line[4096];
	int found = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, mark) != NULL)
			found = -1;
		else if (found != 0 && strstr(line, needle) != NULL) {
			snprintf(out, cap, "%s", line);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

START_TEST(backoff_persists_across_restart)
{
	enum { FAILS = 4 };
	it_node a, b;
	it_node *pb[] = {&b};
	char dial[160], line[4096], want[64];
	json_t *peers, *p, *bo = NULL;
	uint64_t attempts, next_ms;
	size_t i;

	it_node_init(
		&a, "a", NULL,
		"[backoff]\nstrategy = exponential\nbase = 500ms\ncap = 30s\n");
	it_node_init(&b, "b", &a, NULL); /* never started: its port is dead */
	it_node_start(&a, pb, 1);
	MS_WAIT(it_log_count(&a, "MS-PEER-FAIL") >= FAILS, IT_DEADLINE_MS,
	        "a did not fail %d times", FAILS);
	/* the 4th failure set a delay of 4 s: stop well inside it */
	it_node_stop(&a);

	peers = it_inspect(&a, "peers");
	json_array_foreach(json_is_array(peers)
	                           ? peers
	                           : json_object_get(peers, "peers"),
	                   i, p)
	{
		json_t *addr = json_array_get(json_object_get(p, "addrs"), 0);
		if (addr != NULL &&
		    strcmp(json_string_value(addr), b.endpoint) == 0)
			bo = json_object_get(p, "backoff");
	}
	ck_assert_ptr_nonnull(bo);
	attempts = (uint64_t)json_integer_value(
		json_object_get(bo, "attempts"));
	next_ms = (uint64_t)json_integer_value(
		json_object_get(bo, "next_attempt_ms"));
	json_decref(peers);
	ck_assert_uint_eq(attempts, FAILS);

	it_node_start(&a, pb, 1);
	snprintf(dial, sizeof dial, "MS-PEER-DIAL addr=%s", b.endpoint);
	MS_WAIT(line_after(&a, "MS-NODE-START", dial, line, sizeof line) == 0,
	        IT_DEADLINE_MS, "a never dialled b again");
	/* the first dial after the restart waited for the stored time and
	 * continued the count */
	ck_assert_msg(
		line_ms(line) + 2 >= next_ms,
		"dialled at %llu, before the stored next attempt %llu: %s",
		(unsigned long long)line_ms(line), (unsigned long long)next_ms,
		line);
	snprintf(want, sizeof want, "attempt=%llu",
	         (unsigned long long)attempts + 1);
	ck_assert_msg(strstr(line, want) != NULL, "want %s in %s", want, line);
	it_node_stop(&a);
}
END_TEST

/* --- one daemon per directory -------------------------------------------- */

START_TEST(second_run_refused)
{
	it_node a;
	char *err = NULL, want[700];
	int rc;

	it_node_init(&a, "a", NULL, NULL);
	it_node_start(&a, NULL, 0);
	rc = it_run(NULL, &err, MS_NODE_BIN, "run", "--data", a.dir, "--listen",
	            "tcp://127.0.0.1:0", "--no-mdns", (char *)NULL);
	ck_assert_int_eq(rc, 3);
	snprintf(want, sizeof want, "run %s: already running (pid %d)", a.dir,
	         (int)a.pid);
	ck_assert_msg(strstr(err, want) != NULL, "stderr: %s", err);
	free(err);
	ck_assert(it_node_alive(&a));
	it_put(&a, "still", "serving");
	it_node_stop(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = it_tcase("daemon", 300);

	tcase_add_test(tc, equivocation_in_common_prefix_converges);
	tcase_add_test(tc, sighup_reloads_policy_and_level);
	tcase_add_test(tc, backoff_persists_across_restart);
	tcase_add_test(tc, second_run_refused);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
