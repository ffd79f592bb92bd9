/*
 * test_config.c — the [net], [backoff], [sync], [limits] and [log] sections of
 * meshsync.conf parsed over the defaults, each kind of bad value reported
 * with its line, and the commented default file parsing to the defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_test.h"
#include "node_int.h"
#include "transport.h"
#include "op.h"
#include "session.h"
#include "wire.h"

static char *tmp;

START_TEST(config_net_sections)
{
	char *path = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};
	static const char id_hex[] =
		"0101010101010101010101010101010101010101010101010101010101010101";
	char text[2048];

	snprintf(text, sizeof text,
	         "[net]\n"
	         "listen = tcp://127.0.0.1:7701\n"
	         "listen = tcp://10.0.0.1:7701\n"
	         "peer = tcp://10.0.0.7:7700\n"
	         "mdns = no\n"
	         "allow = %s %s\n"
	         "deny = %s\n"
	         "heartbeat_interval = 200ms\n"
	         "heartbeat_timeout = 2s\n"
	         "handshake_timeout = 3s\n"
	         "max_message = 4M\n"
	         "[backoff]\n"
	         "strategy = exponential\n"
	         "base = 100ms\n"
	         "cap = 10s\n"
	         "kick_interval = 250ms\n"
	         "[sync]\n"
	         "batch_ops = 1024\n"
	         "credit = 1\n"
	         "poll = 20ms\n"
	         "[log]\n"
	         "level = debug\n"
	         "syslog = yes\n",
	         id_hex, id_hex, id_hex);
	ms_test_write_file(path, text, 0644);
	ms_config_default(&c);
	ck_assert_uint_eq(c.net.mdns, 1);
	ck_assert_uint_eq(c.net.heartbeat_interval_ms, 1000);
	ck_assert_uint_eq(c.net.max_message, 8u << 20);
	ck_assert_uint_eq(c.backoff.base_ms, 500);
	ck_assert_uint_eq(c.backoff.cap_ms, 60000);
	ck_assert_int_eq(c.backoff.strategy, MS_BACKOFF_DECORRELATED);
	ck_assert_uint_eq(c.kick_interval_ms, 1000);
	ck_assert_uint_eq(c.sync.batch_ops, 256);
	ck_assert_uint_eq(c.sync.credit, 1024);
	ck_assert_uint_eq(c.sync.poll_ms, 50);
	ck_assert_int_eq(c.log.level, 6);

	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	ck_assert_uint_eq(c.net.nlisten, 2);
	ck_assert_str_eq(c.net.listen[1], "tcp://10.0.0.1:7701");
	ck_assert_uint_eq(c.net.npeers, 1);
	ck_assert_str_eq(c.net.peers[0], "tcp://10.0.0.7:7700");
	ck_assert_int_eq(c.net.mdns, 0);
	ck_assert_int_eq(c.net.has_allow, 1);
	ck_assert_uint_eq(c.net.nallow, 2);
	ck_assert_uint_eq(c.net.ndeny, 1);
	ck_assert_uint_eq(c.net.allow[1][31], 1);
	ck_assert_uint_eq(c.net.heartbeat_interval_ms, 200);
	ck_assert_uint_eq(c.net.heartbeat_timeout_ms, 2000);
	ck_assert_uint_eq(c.net.handshake_timeout_ms, 3000);
	ck_assert_uint_eq(c.net.max_message, 4u << 20);
	ck_assert_int_eq(c.backoff.strategy, MS_BACKOFF_EXPONENTIAL);
	ck_assert_uint_eq(c.backoff.base_ms, 100);
	ck_assert_uint_eq(c.backoff.cap_ms, 10000);
	ck_assert_uint_eq(c.kick_interval_ms, 250);
	ck_assert_uint_eq(c.sync.batch_ops, 1024);
	ck_assert_uint_eq(c.sync.credit, 1);
	ck_assert_uint_eq(c.sync.poll_ms, 20);
	ck_assert_int_eq(c.log.level, 7);
	ck_assert_int_eq(c.log.syslog, 1);
	free(path);
}
END_TEST

/* Each bad file and the text after "meshsync.conf:". */
static const struct {
	const char *text, *want;
} bad_conf[] = {
	{"[net]\nlisten = 7700\n", "2: bad endpoint '7700' for listen"},
	{"[net]\npeer = tcp://a:1\npeer = tcp://a:1\n",
         "3: duplicate peer 'tcp://a:1'"},
	{"[net]\nmdns = maybe\n", "2: bad value 'maybe' for mdns (yes or no)"},
	{"[net]\n\nallow = abc\n",
         "3: bad node id 'abc' in allow (64 hex digits)"},
	{"[net]\ndeny =\n", "2: deny needs at least one node id"},
	{"[net]\nheartbeat_interval = 1d\n",
         "2: bad value '1d' for heartbeat_interval"},
	{"[net]\nmax_message = 1K\n",
         "2: bad value '1K' for max_message (a size from 2M to 16M)"},
	{"[net]\nfoo = 1\n", "2: unknown key 'foo' in [net]"},
	{"[backoff]\nstrategy = random\n",
         "2: bad value 'random' for strategy"},
	{"[backoff]\nbase = 0\n", "2: bad value '0' for base"},
	{"[sync]\nbatch_ops = 1025\n",
         "2: bad value '1025' for batch_ops (a number from 1 to 1024)"},
	{"[sync]\ncredit = 0\n", "2: bad value '0' for credit"},
	{"[sync]\npoll = 2h\n", "2: bad value '2h' for poll"},
	{"[sync]\npoll = 0\n", "2: bad value '0' for poll"},
	{"[limits]\nsend_hwm = 0\n",
         "2: bad value '0' for send_hwm (a number from 1 to 1000)"},
	{"[limits]\ninbound_connections = 4097\n",
         "2: bad value '4097' for inbound_connections (a number from 1 to 4096)"},
	{"[limits]\nno_such_budget = 1\n",
         "2: unknown key 'no_such_budget' in [limits]"},
	{"[log]\nlevel = loud\n", "2: bad value 'loud' for level"},
	{"[log]\nsyslog = 2\n", "2: bad value '2' for syslog (yes or no)"},
	{"[backoff]\nbase = 10s\ncap = 1s\n",
         " [backoff] cap (1000ms) is smaller than base (10000ms)"},
	{"[limits]\npeer_records = 15\n",
         "2: bad value '15' for peer_records (a number from 16 to 1000000)"},
	{"[limits]\ndials_inflight = 0\n",
         "2: bad value '0' for dials_inflight"},
	{"[limits]\npex = 1\n", "2: unknown key 'pex' in [limits]"},
	{"[net]\nheartbeat_interval = 5s\n",
         " [net] heartbeat_timeout (5000ms) must be longer than heartbeat_interval (5000ms)"},
	/* the session budgets of [limits] */
	{"[limits]\nsession_vv_entries = 0\n",
         "2: bad value '0' for session_vv_entries"},
	{"[limits]\nhello_timeout = 0\n", "2: bad value '0' for hello_timeout"},
	{"[limits]\nidle_timeout = 2h\n", "2: bad value '2h' for idle_timeout"},
	{"[limits]\nsession_memory = 10K\n",
         "2: bad value '10K' for session_memory"},
	{"[limits]\nsessions_total = 0\n",
         "2: bad value '0' for sessions_total"},
	{"[limits]\nbogus = 1\n", "2: unknown key 'bogus' in [limits]"},
	/* an op with a larger value could never be sent (MS_WIRE_MAX_OP) */
	{"[store]\nmax_value = 1061767\n",
         "2: bad value '1061767' for max_value"},
	{"[store]\nmax_value = 2M\n", "2: bad value '2M' for max_value"},
};

START_TEST(config_limits_section)
{
	char *path = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};

	/* unset: the session's and the daemon's defaults apply */
	ms_config_default(&c);
	ck_assert_uint_eq(c.limits.session_vv_entries, 0);
	ck_assert_uint_eq(c.limits.idle_timeout_ms, 0);
	ck_assert_uint_eq(c.limits.sessions_total, 0);
	ms_test_write_file(path,
	                   "[limits]\n"
	                   "session_vv_entries = 500\n"
	                   "hello_timeout = 3s\n"
	                   "vv_timeout = 30s\n"
	                   "idle_timeout = 5m\n"
	                   "session_memory = 16M\n"
	                   "sessions_memory_total = 1G\n"
	                   "sessions_per_peer = 2\n"
	                   "sessions_total = 32\n"
	                   "heads_per_key = 16\n"
	                   "[store]\n"
	                   "max_value = 1061766\n",
	                   0644);
	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	ck_assert_uint_eq(c.limits.session_vv_entries, 500);
	ck_assert_uint_eq(c.limits.hello_timeout_ms, 3000);
	ck_assert_uint_eq(c.limits.vv_timeout_ms, 30000);
	ck_assert_uint_eq(c.limits.idle_timeout_ms, 300000);
	ck_assert_uint_eq(c.limits.session_memory, 16u << 20);
	ck_assert_uint_eq(c.limits.sessions_memory_total, 1u << 30);
	ck_assert_uint_eq(c.limits.sessions_per_peer, 2);
	ck_assert_uint_eq(c.limits.sessions_total, 32);
	ck_assert_uint_eq(c.store.heads_per_key, 16);
	/* the largest value whose largest op still fits the wire's op limit */
	ck_assert_uint_eq(c.store.max_value, 1061766);
	ck_assert_uint_eq(MS_OP_FIXED_LEN + MS_OP_MAX_KEY +
	                          MS_OP_MAX_PARENTS * MS_HASH_LEN + 1061766,
	                  MS_WIRE_MAX_OP);
	free(path);
}
END_TEST

START_TEST(config_net_errors)
{
	char *path = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};
	const char *msg;

	ms_test_write_file(path, bad_conf[_i].text, 0644);
	ms_config_default(&c);
	MS_FAIL(ms_config_load(&c, path, &eb), MS_EINVAL);
	msg = strstr(eb.msg, "meshsync.conf:");
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strncmp(msg + strlen("meshsync.conf:"), bad_conf[_i].want,
	                      strlen(bad_conf[_i].want)) == 0,
	              "got '%s', want '%s'", eb.msg, bad_conf[_i].want);
	free(path);
}
END_TEST

/* [limits]: the transport's budgets. */
START_TEST(config_limits)
{
	char *path = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};

	/* unset: the transport's defaults apply (node/daemon.c) */
	ms_config_default(&c);
	ck_assert_uint_eq(c.limits.send_hwm, 0);
	ck_assert_uint_eq(c.limits.recv_hwm, 0);
	ck_assert_uint_eq(c.limits.inbound_connections, 0);
	ck_assert_uint_eq(c.limits.inbound_per_address, 0);
	ck_assert_uint_eq(MS_TRANSPORT_INBOUND_MAX, 4096); /* config's bound */
	ms_test_write_file(path,
	                   "[limits]\nsend_hwm = 2\nrecv_hwm = 3\n"
	                   "inbound_connections = 64\n"
	                   "inbound_per_address = 8\n",
	                   0644);
	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	ck_assert_uint_eq(c.limits.send_hwm, 2);
	ck_assert_uint_eq(c.limits.recv_hwm, 3);
	ck_assert_uint_eq(c.limits.inbound_connections, 64);
	ck_assert_uint_eq(c.limits.inbound_per_address, 8);
	free(path);
}
END_TEST

/* [limits]: the peer table's, pex's and discovery's budgets. */
START_TEST(config_limits_peers)
{
	char *path = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};

	ms_config_default(&c);
	ck_assert_uint_eq(c.limits.peer_records, 1024);
	ck_assert_uint_eq(c.limits.peer_records_disk, 256);
	ck_assert_uint_eq(c.limits.dials_inflight, 8);
	ck_assert_uint_eq(c.limits.pex_candidates, 256);
	ck_assert_uint_eq(c.limits.mdns_records, 256);
	ms_test_write_file(path,
	                   "[limits]\npeer_records = 64\n"
	                   "peer_records_disk = 16\ndials_inflight = 2\n"
	                   "pex_candidates = 32\nmdns_records = 8\n",
	                   0644);
	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	ck_assert_uint_eq(c.limits.peer_records, 64);
	ck_assert_uint_eq(c.limits.peer_records_disk, 16);
	ck_assert_uint_eq(c.limits.dials_inflight, 2);
	ck_assert_uint_eq(c.limits.pex_candidates, 32);
	ck_assert_uint_eq(c.limits.mdns_records, 8);
	free(path);
}
END_TEST

START_TEST(config_default_file_parses)
{
	char *path = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c, def;
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_config_write_default(path, &eb), &eb);
	ms_config_default(&c);
	ms_config_default(&def);
	MS_PASS_EB(ms_config_load(&c, path, &eb), &eb);
	/* every option in it is commented out: the defaults stand */
	ck_assert_uint_eq(c.net.npeers, 0);
	ck_assert_uint_eq(c.sync.credit, def.sync.credit);
	ck_assert_uint_eq(c.backoff.cap_ms, def.backoff.cap_ms);
	free(path);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	ms_test_tcase_tmpdir(tc, &tmp, "config");
	tcase_add_test(tc, config_net_sections);
	tcase_add_loop_test(tc, config_net_errors, 0,
	                    (int)(sizeof bad_conf / sizeof bad_conf[0]));
	tcase_add_test(tc, config_limits_peers);
	tcase_add_test(tc, config_default_file_parses);
	tcase_add_test(tc, config_limits);
	tcase_add_test(tc, config_limits_section);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
