/*
 * net.c — the workloads on running `meshsync-node run` processes over
 * loopback with CURVE: catchup (a fresh node fetches N ops), insync (a
 * reconnect of two nodes holding the same ops), propagate (a line of five
 * nodes, writes made by `meshsync-node put` on the first) and footprint
 * (an idle node holding N ops: memory, start-up time, store size).
 */
#include <inttypes.h>
#include <lmdb.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "store.h"

#define MIB (1024.0 * 1024.0)

static int netkey_of(const char *dir, char out[MS_NODE_NETKEY_TEXT_LEN])
{
	ms_node *n = NULL;
	ms_errbuf eb = {0};

	if (ms_node_open(&n, dir, NULL, &eb) != MS_OK) {
		msb_say("open %s: %s", dir, eb.msg);
		return -1;
	}
	ms_node_network_key_text(n, out);
	ms_node_close(&n);
	return 0;
}

typedef struct pair {
	const char *a, *b; /* a holds the ops and listens; b dials a */
	int pa, pb;
	pid_t ida, idb;
} pair;

static int pair_config(pair *p)
{
	p->pa = msb_free_port();
	p->pb = msb_free_port();
	if (p->pa < 0 || p->pb < 0 || p->pa == p->pb)
		return -1;
	if (msb_node_config(p->a, p->pa, NULL, 0, NULL) != 0 ||
	    msb_node_config(p->b, p->pb, &p->pa, 1, NULL) != 0)
		return -1;
	return 0;
}

static void pair_stop(pair *p)
{
	msb_node_stop(p->idb);
	msb_node_stop(p->ida);
	p->ida = p->idb = 0;
}

/* Every TCP byte between the two, whoever dialled. */
static long long pair_wire(const pair *p)
{
	long long a = msb_wire_bytes(p->pa), b = msb_wire_bytes(p->pb);
	if (a < 0 && b < 0)
		return -1;
	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

json_t *msb_catchup(msb_ctx *c)
{
	char dst[4096], netkey[MS_NODE_NETKEY_TEXT_LEN];
	pair p = {0};
	msb_store_view va, vb;
	uint64_t out0, sent0, t0, ops;
	long peak_a = 0, peak_b = 0, r;
	double secs = NAN, deadline, last_poll = -1;
	long long wire;
	uint64_t a_out, a_in, b_in, b_out, a_sent;
	json_t *o = NULL, *recheck = NULL;
	int done = 0;

	if (msb_big_store(c) != 0)
		return json_null();
	snprintf(dst, sizeof dst, "%s/catchup-recv", c->dir);
	if (netkey_of(c->big_dir, netkey) != 0 ||
	    msb_node_create(dst, netkey, NULL) != 0)
		return json_null();
	p.a = c->big_dir;
	p.b = dst;
	if (pair_config(&p) != 0 || msb_store_view_read(p.a, &va, 1) != 0)
		return json_null();
	ops = va.ops;
	if (c->enc_bytes_per_op == 0)
		c->enc_bytes_per_op = msb_store_enc_per_op(p.a);
	out0 = msb_store_counter(p.a, "bytes_out") +
	       msb_store_counter(p.a, "bytes_in");
	sent0 = msb_store_counter(p.a, "ops_sent");
	recheck = msb_raw_recheck(c);
	if ((p.ida = msb_node_start(c, p.a, "info")) == 0 ||
	    msb_node_wait_ready(p.a, p.ida, 30) != 0)
		goto out;
	msb_say("catchup: a fresh node fetches %" PRIu64 " ops", ops);
	t0 = msb_now_ns();
	if ((p.idb = msb_node_start(c, p.b, "info")) == 0)
		goto out;
	deadline = 60.0 + (double)ops / 500.0;
	while (msb_secs_since(t0) < deadline) {
		double now = msb_secs_since(t0);
		int st;
		if ((r = msb_rss_anon_kib(p.ida)) > peak_a)
			peak_a = r;
		if ((r = msb_rss_anon_kib(p.idb)) > peak_b)
			peak_b = r;
		if (waitpid(p.idb, &st, WNOHANG) == p.idb ||
		    waitpid(p.ida, &st, WNOHANG) == p.ida) {
			msb_say("catchup: a node exited: see %s/node.log, "
			        "%s/node.log",
			        p.a, p.b);
			p.ida = p.idb = 0;
			goto out;
		}
		/* the vector digest is cheap; the state hash only once the
		 * vectors agree */
		if (now - last_poll >= 0.05) {
			last_poll = now;
			if (msb_store_view_read(p.b, &vb, 0) == 0 &&
			    memcmp(vb.vv, va.vv, 32) == 0) {
				secs = msb_secs_since(t0);
				if (msb_store_view_read(p.b, &vb, 1) == 0 &&
				    memcmp(vb.sh, va.sh, 32) == 0) {
					done = 1;
					break;
				}
			}
		}
		msb_sleep_ms(10);
	}
	if (!done) {
		msb_say("catchup: no equal state within %.0f s", deadline);
		goto out;
	}
	wire = pair_wire(&p);
	pair_stop(&p); /* SIGTERM: the counters are flushed to the stores */
	a_out = msb_store_counter(p.a, "bytes_out");
	a_in = msb_store_counter(p.a, "bytes_in");
	a_sent = msb_store_counter(p.a, "ops_sent") - sent0;
	b_in = msb_store_counter(p.b, "bytes_in");
	b_out = msb_store_counter(p.b, "bytes_out");
	{
		double rate = (double)ops / secs;
		double proto = (double)(a_out + a_in - out0) / (double)ops;
		double wpo = wire >= 0 ? (double)wire / (double)ops : NAN;
		double enc = c->enc_bytes_per_op;
		double pa_mib = (double)peak_a * 1024 / MIB;
		double pb_mib = (double)peak_b * 1024 / MIB;
		msb_say("catchup: %.2f s, %.0f ops/s, wire %.0f B/op, encoded "
		        "%.0f B/op, peak RssAnon %.1f / %.1f MiB",
		        secs, rate, wpo, enc, pa_mib, pb_mib);
		o = json_object();
		json_object_set_new(
			o, "params",
			json_pack("{s:I, s:s, s:s}", "ops", (json_int_t)ops,
		                  "setup",
		                  "two meshsync-node run processes on "
		                  "127.0.0.1 with CURVE, static peer, no mDNS; "
		                  "the receiver starts empty and dials",
		                  "wire_bytes",
		                  "TCP payload bytes of the connection both "
		                  "ways (ss -ti bytes_sent + bytes_received "
		                  "on the listening side), ZMTP framing and "
		                  "the CURVE handshake included"));
		json_object_set_new(o, "seconds", json_real(secs));
		json_object_set_new(o, "limits_rechecked", recheck);
		recheck = NULL;
		json_object_set_new(o, "ops_per_s", json_real(rate));
		json_object_set_new(o, "ops_sent",
		                    json_integer((json_int_t)a_sent));
		json_object_set_new(o, "wire_bytes_per_op",
		                    isfinite(wpo) ? json_real(wpo)
		                                  : json_null());
		json_object_set_new(o, "protocol_bytes_per_op",
		                    json_real(proto));
		json_object_set_new(o, "receiver_protocol_bytes",
		                    json_pack("{s:I, s:I}", "in",
		                              (json_int_t)b_in, "out",
		                              (json_int_t)b_out));
		json_object_set_new(o, "encoded_bytes_per_op", json_real(enc));
		json_object_set_new(o, "peak_rss_anon_mib",
		                    json_pack("{s:f, s:f}", "sender", pa_mib,
		                              "receiver", pb_mib));
		json_object_set_new(o, "ratios",
		                    json_pack("{s:o, s:o, s:o}", "vs_verify_2t",
		                              msb_ratio(rate, c->verify2_rate),
		                              "wire_vs_encoded",
		                              msb_ratio(wpo, enc),
		                              "protocol_vs_encoded",
		                              msb_ratio(proto, enc)));
		json_object_set_new(
			o, "targets",
			json_pack("{s:o, s:o, s:o}", "vs_verify_2t",
		                  msb_target(c->verify2_rate > 0
		                                     ? rate / c->verify2_rate
		                                     : NAN,
		                             ">=", 0.7),
		                  "wire_vs_encoded",
		                  msb_target(enc > 0 ? wpo / enc : NAN,
		                             "<=", 1.15),
		                  "peak_rss_anon_mib",
		                  msb_target(pa_mib > pb_mib ? pa_mib : pb_mib,
		                             "<=", 32)));
		c->catchup_peak_rss_mib = pa_mib > pb_mib ? pa_mib : pb_mib;
		free(c->synced_dir);
		c->synced_dir = strdup(dst);
	}
out:
	json_decref(recheck);
	pair_stop(&p);
	return o != NULL ? o : json_null();
}

/* The digest_equal value of the last MS-SYNC-HELLO line of dir's log
 * (-1: none). */
static int last_digest_equal(const char *dir)
{
	char path[4096], line[4096];
	FILE *f;
	int eq = -1;

	snprintf(path, sizeof path, "%s/node.log", dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		const char *p = strstr(line, "MS-SYNC-HELLO");
		if (p != NULL && (p = strstr(p, "digest_equal=")) != NULL)
			eq = p[strlen("digest_equal=")] == '1';
	}
	fclose(f);
	return eq;
}

json_t *msb_insync(msb_ctx *c)
{
	pair p = {0};
	int hello_a, hello_b, vv2, eq, rt;
	uint64_t a0, b0, a1 = 0, b1 = 0, t0, bin0, bout0;
	long long wire = -1;
	json_t *o = NULL, *prep = NULL;
	const char *how = "counters read while both ran";
	msb_store_view va;

	if (c->synced_dir == NULL) {
		msb_say("insync: needs two nodes with the same ops: running "
		        "catchup first");
		prep = msb_catchup(c);
		json_decref(prep);
		if (c->synced_dir == NULL)
			return json_null();
	}
	p.a = c->big_dir;
	p.b = c->synced_dir;
	if (pair_config(&p) != 0 || msb_store_view_read(p.a, &va, 1) != 0)
		return json_null();
	hello_a = msb_log_count(p.a, "MS-SYNC-HELLO");
	hello_b = msb_log_count(p.b, "MS-SYNC-HELLO");
	vv2 = msb_log_count(p.b, "MS-SYNC-VV2");
	a0 = msb_store_counter(p.a, "bytes_out") +
	     msb_store_counter(p.a, "bytes_in");
	bin0 = msb_store_counter(p.b, "bytes_in");
	bout0 = msb_store_counter(p.b, "bytes_out");
	b0 = bin0 + bout0;
	msb_say("insync: both hold the same ops; restart both, the second "
	        "dials");
	if ((p.ida = msb_node_start(c, p.a, "debug")) == 0 ||
	    msb_node_wait_ready(p.a, p.ida, 30) != 0 ||
	    (p.idb = msb_node_start(c, p.b, "debug")) == 0 ||
	    msb_node_wait_ready(p.b, p.idb, 30) != 0)
		goto out;
	t0 = msb_now_ns();
	while (msb_secs_since(t0) < 20 &&
	       (msb_log_count(p.a, "MS-SYNC-HELLO") <= hello_a ||
	        msb_log_count(p.b, "MS-SYNC-HELLO") <= hello_b))
		msb_sleep_ms(5);
	if (msb_log_count(p.b, "MS-SYNC-HELLO") <= hello_b) {
		msb_say("insync: no session within 20 s: see %s/node.log", p.b);
		goto out;
	}
	/* the daemon adds its counters to the store at most once a second:
	 * wait for this session's bytes to show on both sides */
	t0 = msb_now_ns();
	while (msb_secs_since(t0) < 3) {
		a1 = msb_store_counter(p.a, "bytes_out") +
		     msb_store_counter(p.a, "bytes_in");
		b1 = msb_store_counter(p.b, "bytes_in") +
		     msb_store_counter(p.b, "bytes_out");
		if (a1 > a0 && b1 > b0 &&
		    msb_store_counter(p.b, "bytes_in") > bin0 &&
		    msb_store_counter(p.b, "bytes_out") > bout0)
			break;
		msb_sleep_ms(50);
	}
	wire = pair_wire(&p);
	if (!(a1 > a0 && b1 > b0)) {
		how = "counters flushed at stop (BYE included)";
		pair_stop(&p);
		a1 = msb_store_counter(p.a, "bytes_out") +
		     msb_store_counter(p.a, "bytes_in");
		b1 = msb_store_counter(p.b, "bytes_in") +
		     msb_store_counter(p.b, "bytes_out");
	}
	pair_stop(&p);
	eq = last_digest_equal(p.b);
	vv2 = msb_log_count(p.b, "MS-SYNC-VV2") - vv2;
	/* no counter counts round trips: HELLO both ways is one (protocol
	 * §5.2); unequal digests add the vector round(s) (§5.3) */
	rt = eq == 1 ? 1 : eq == 0 ? (vv2 > 0 ? 3 : 2) : -1;
	msb_say("insync: digest_equal=%d round trips %d, protocol bytes %" PRIu64
	        " (receiver's view %" PRIu64 "), wire %lld",
	        eq, rt, a1 - a0, b1 - b0, wire);
	o = json_object();
	json_object_set_new(
		o, "params",
		json_pack("{s:I, s:s, s:s, s:s}", "ops", (json_int_t)va.ops,
	                  "setup",
	                  "the catchup pair restarted; the second dials the "
	                  "first",
	                  "round_trips_from",
	                  "no round-trip or message counter exists: derived "
	                  "from the MS-SYNC-HELLO digest_equal debug line "
	                  "(equal: HELLO each way = 1 round trip, protocol "
	                  "5.2) and MS-SYNC-VV2 lines",
	                  "protocol_bytes_from", how));
	json_object_set_new(o, "digest_equal",
	                    eq < 0 ? json_null() : json_boolean(eq));
	json_object_set_new(o, "round_trips",
	                    rt < 0 ? json_null() : json_integer(rt));
	json_object_set_new(o, "protocol_bytes",
	                    json_integer((json_int_t)(a1 - a0)));
	json_object_set_new(o, "protocol_bytes_receiver",
	                    json_integer((json_int_t)(b1 - b0)));
	json_object_set_new(o, "wire_bytes",
	                    wire >= 0 ? json_integer(wire) : json_null());
	json_object_set_new(o, "targets",
	                    json_pack("{s:o, s:o}", "round_trips",
	                              msb_target(rt < 0 ? NAN : (double)rt,
	                                         "<=", 1),
	                              "protocol_bytes",
	                              msb_target((double)(a1 - a0),
	                                         "<=", 512)));
out:
	pair_stop(&p);
	return o != NULL ? o : json_null();
}

/* --- propagate -------------------------------------------------------------- */

#define LINE 5

typedef struct watch {
	ms_store *s;
	const char *dir;
} watch;

static int watch_open(watch *w, const char *dir)
{
	ms_store_opts o;

	ms_store_opts_default(&o);
	o.readonly = 1;
	w->dir = dir;
	return ms_store_open(&w->s, dir, &o, NULL) == MS_OK ? 0 : -1;
}

/* 1 when the store holds key (reopened once on an error, e.g. after the
 * writer grew the map). */
static int watch_has(watch *w, const char *key)
{
	ms_store_rtxn *rt = NULL;
	ms_key_state ks;
	ms_err e;

	if (w->s == NULL && watch_open(w, w->dir) != 0)
		return 0;
	if (ms_store_read_begin(w->s, &rt, NULL) != MS_OK) {
		ms_store_close(&w->s);
		return 0;
	}
	e = ms_store_get(rt, (const uint8_t *)key, strlen(key), &ks, NULL);
	ms_store_read_end(&rt);
	return e == MS_OK;
}

json_t *msb_propagate(msb_ctx *c)
{
	size_t writes = c->quick ? 10 : 100;
	char dir[LINE][4096], netkey[MS_NODE_NETKEY_TEXT_LEN] = "";
	char id[LINE][MS_NODE_ID_HEX_LEN];
	int port[LINE];
	pid_t pid[LINE] = {0};
	watch hop1 = {0}, far = {0};
	double *lat_far = calloc(writes, sizeof *lat_far);
	double *lat_exit = calloc(writes, sizeof *lat_exit);
	double *lat_hop1 = calloc(writes, sizeof *lat_hop1);
	double *lat_put = calloc(writes, sizeof *lat_put);
	char value[] = "propagate";
	json_t *o = NULL;
	size_t k = 0;

	if (lat_far == NULL || lat_exit == NULL || lat_hop1 == NULL ||
	    lat_put == NULL)
		goto out;
	for (int i = 0; i < LINE; i++) {
		snprintf(dir[i], sizeof dir[i], "%s/line%d", c->dir, i);
		if (msb_node_create(dir[i], i ? netkey : NULL,
		                    i ? NULL : netkey) != 0 ||
		    (port[i] = msb_free_port()) < 0)
			goto out;
	}
	/* each node dials its left neighbour and allows only its two
	 * neighbours: a line 0-1-2-3-4 that peer exchange cannot short-cut */
	for (int i = 0; i < LINE; i++)
		if (msb_node_id_hex(dir[i], id[i]) != 0)
			goto out;
	for (int i = 0; i < LINE; i++) {
		char allow[2 * MS_NODE_ID_HEX_LEN + 2];
		snprintf(allow, sizeof allow, "%s %s", i ? id[i - 1] : "",
		         i + 1 < LINE ? id[i + 1] : "");
		if (msb_node_config(dir[i], port[i], i ? &port[i - 1] : NULL,
		                    i ? 1 : 0, allow) != 0)
			goto out;
	}
	for (int i = 0; i < LINE; i++)
		if ((pid[i] = msb_node_start(c, dir[i], "info")) == 0 ||
		    msb_node_wait_ready(dir[i], pid[i], 30) != 0)
			goto out;
	if (watch_open(&hop1, dir[1]) != 0 || watch_open(&far, dir[LINE - 1]))
		goto out;
	msb_say("propagate: a line of %d nodes; %zu writes by meshsync-node "
	        "put on the first",
	        LINE, writes);
	for (k = 0; k <= writes; k++) {
		/* write 0 warms the line up (every link up) and is not
		 * counted */
		char key[48];
		char *argv[] = {c->node_bin, "put", "--data", dir[0],
		                key,         value, NULL};
		uint64_t t0, t_exit = 0, t_hop1 = 0, t_far = 0;
		double limit = k == 0 ? 60 : 10;
		pid_t w;
		int st;

		snprintf(key, sizeof key, "prop/%zu", k);
		(void)fflush(NULL);
		t0 = msb_now_ns();
		if ((w = fork()) == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		if (w < 0)
			goto out;
		while (t_exit == 0 || t_hop1 == 0 || t_far == 0) {
			if (t_exit == 0 && waitpid(w, &st, WNOHANG) == w) {
				t_exit = msb_now_ns();
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
					msb_say("propagate: put failed");
					goto out;
				}
			}
			if (t_hop1 == 0 && watch_has(&hop1, key))
				t_hop1 = msb_now_ns();
			if (t_far == 0 && watch_has(&far, key))
				t_far = msb_now_ns();
			if (msb_secs_since(t0) > limit) {
				msb_say("propagate: write %zu did not reach the "
				        "far end in %.0f s",
				        k, limit);
				if (t_exit == 0) {
					kill(w, SIGKILL);
					waitpid(w, &st, 0);
				}
				goto out;
			}
			msb_sleep_ms(0.2);
		}
		if (k == 0)
			continue;
		lat_put[k - 1] = (double)(t_exit - t0) / 1e6;
		lat_far[k - 1] = (double)(t_far - t0) / 1e6;
		lat_exit[k - 1] = ((double)t_far - (double)t_exit) / 1e6;
		lat_hop1[k - 1] = ((double)t_hop1 - (double)t_exit) / 1e6;
	}
	o = json_object();
	json_object_set_new(
		o, "params",
		json_pack("{s:i, s:i, s:I, s:s, s:s}", "nodes", LINE, "hops",
	                  LINE - 1, "writes", (json_int_t)writes, "writer",
	                  "a meshsync-node put process per write on the "
	                  "first node, waited for before the next",
	                  "latency",
	                  "far_end: from the put process's exit (its commit "
	                  "is durable) until the last node's store holds the "
	                  "key (polled read-only every 0.2 ms); "
	                  "far_end_from_spawn: from the fork of the put "
	                  "process; first_hop: exit until the second node "
	                  "holds it"));
	json_object_set_new(o, "far_end", msb_lat_json(lat_exit, writes));
	json_object_set_new(o, "far_end_from_spawn",
	                    msb_lat_json(lat_far, writes));
	json_object_set_new(o, "first_hop", msb_lat_json(lat_hop1, writes));
	json_object_set_new(o, "put_process", msb_lat_json(lat_put, writes));
	json_object_set_new(o, "targets",
	                    json_pack("{s:o}", "far_end_p50_ms",
	                              msb_target(msb_pct(lat_exit, writes, 50),
	                                         "<=", 5)));
	msb_say("propagate: far end p50 %.2f ms p99 %.2f ms; first hop p50 "
	        "%.2f ms",
	        msb_pct(lat_exit, writes, 50), msb_pct(lat_exit, writes, 99),
	        msb_pct(lat_hop1, writes, 50));
out:
	ms_store_close(&hop1.s);
	ms_store_close(&far.s);
	for (int i = LINE - 1; i >= 0; i--)
		msb_node_stop(pid[i]);
	free(lat_far);
	free(lat_exit);
	free(lat_hop1);
	free(lat_put);
	return o != NULL ? o : json_null();
}

/* --- footprint -------------------------------------------------------------- */

/* Bytes of every named database of dir's LMDB environment (pages in use
 * times the page size) and its entries, read with LMDB directly. */
static json_t *db_breakdown(const char *dir, uint64_t ops)
{
	MDB_env *env = NULL;
	MDB_txn *t = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi main_dbi;
	MDB_val k, v;
	json_t *o = json_object();

	if (mdb_env_create(&env) != 0)
		return o;
	if (mdb_env_set_maxdbs(env, 64) != 0 ||
	    mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &t) != 0 ||
	    mdb_dbi_open(t, NULL, 0, &main_dbi) != 0 ||
	    mdb_cursor_open(t, main_dbi, &cur) != 0)
		goto out;
	for (MDB_cursor_op op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	     op = MDB_NEXT) {
		char name[128];
		MDB_dbi d;
		MDB_stat st;
		uint64_t bytes;
		if (k.mv_size >= sizeof name)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (mdb_dbi_open(t, name, 0, &d) != 0 ||
		    mdb_stat(t, d, &st) != 0)
			continue;
		bytes = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages +
		                   st.ms_overflow_pages) *
		        st.ms_psize;
		json_object_set_new(o, name,
		                    json_pack("{s:I, s:I, s:o}", "bytes",
		                              (json_int_t)bytes, "entries",
		                              (json_int_t)st.ms_entries,
		                              "bytes_per_op",
		                              ops ? json_real((double)bytes /
		                                              (double)ops)
		                                  : json_null()));
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (t != NULL)
		mdb_txn_abort(t);
	mdb_env_close(env);
	return o;
}

json_t *msb_footprint(msb_ctx *c)
{
	const char *dir;
	int port, peers = 0;
	pid_t pid;
	uint64_t t0;
	double ready_ms, rss_mib, per_op, enc, file_per_op;
	long rss;
	msb_store_view v;
	struct stat st;
	char path[4096];
	json_t *o;

	if (msb_big_store(c) != 0)
		return json_null();
	dir = c->synced_dir != NULL ? c->synced_dir : c->big_dir;
	if ((port = msb_free_port()) < 0 ||
	    msb_node_config(dir, port, &peers, 0, NULL) != 0)
		return json_null();
	msb_say("footprint: an idle node holding the store of %s", dir);
	t0 = msb_now_ns();
	if ((pid = msb_node_start(c, dir, "info")) == 0)
		return json_null();
	if (msb_node_wait_ready(dir, pid, 30) != 0) {
		msb_node_stop(pid);
		return json_null();
	}
	ready_ms = msb_secs_since(t0) * 1000;
	/* idle: after start-up work (peer records, first flush) is done */
	msb_sleep_ms(c->quick ? 300 : 1500);
	rss = msb_rss_anon_kib(pid);
	msb_node_stop(pid);
	if (msb_store_view_read(dir, &v, 1) != 0)
		return json_null();
	enc = msb_store_enc_per_op(dir);
	if (c->enc_bytes_per_op == 0)
		c->enc_bytes_per_op = enc;
	snprintf(path, sizeof path, "%s/%s", dir, MS_STORE_DATA_FILE);
	file_per_op = stat(path, &st) == 0 && v.ops
	                      ? (double)st.st_size / (double)v.ops
	                      : NAN;
	per_op = v.ops ? (double)v.store_bytes / (double)v.ops : NAN;
	rss_mib = rss >= 0 ? (double)rss * 1024 / MIB : NAN;
	msb_say("footprint: ready in %.1f ms, RssAnon %.2f MiB idle, store "
	        "%.0f B/op (encoded %.0f B/op)",
	        ready_ms, rss_mib, per_op, enc);
	o = json_object();
	json_object_set_new(
		o, "params",
		json_pack("{s:I, s:s, s:s, s:s}", "ops", (json_int_t)v.ops,
	                  "store",
	                  c->synced_dir != NULL
	                          ? "the catchup receiver's (built from the "
	                            "wire)"
	                          : "the big store (built locally)",
	                  "ready",
	                  "from fork until DIR/node.endpoints exists (written "
	                  "once every listener is bound)",
	                  "store_bytes",
	                  "LMDB pages in use (ms_store_summary store_bytes); "
	                  "per-database figures from mdb_stat"));
	json_object_set_new(o, "ready_ms", json_real(ready_ms));
	json_object_set_new(o, "rss_anon_idle_mib",
	                    isfinite(rss_mib) ? json_real(rss_mib)
	                                      : json_null());
	json_object_set_new(o, "store_bytes",
	                    json_integer((json_int_t)v.store_bytes));
	json_object_set_new(o, "store_bytes_per_op", json_real(per_op));
	json_object_set_new(o, "data_file_bytes_per_op",
	                    isfinite(file_per_op) ? json_real(file_per_op)
	                                          : json_null());
	json_object_set_new(o, "encoded_bytes_per_op", json_real(enc));
	json_object_set_new(o, "databases", db_breakdown(dir, v.ops));
	json_object_set_new(o, "ratios",
	                    json_pack("{s:o}", "store_vs_encoded",
	                              msb_ratio(per_op, enc)));
	json_object_set_new(o, "targets",
	                    json_pack("{s:o, s:o, s:o}", "store_vs_encoded",
	                              msb_target(enc > 0 ? per_op / enc : NAN,
	                                         "<=", 1.5),
	                              "rss_anon_idle_mib",
	                              msb_target(rss_mib, "<=", 32), "ready_ms",
	                              msb_target(ready_ms, "<=", 200)));
	return o;
}
