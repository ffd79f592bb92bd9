/*
 * test_peertab.c — the peer table's and peer exchange's budgets, on a real
 * store, with the table and pex wired to each other as the daemon wires
 * them and a test clock:
 *  - what mDNS and PEERS name stays in memory (peer_records) and reaches
 *    the store only after an authenticated session (peer_records_disk,
 *    least useful evicted first), everything of one flush in ONE
 *    transaction (LMDB's transaction id, read by mdb_stat in another
 *    process), and records stored before that rule are pruned on load;
 *  - dials to discovered peers are bounded (dials_inflight), static ones
 *    are not; 600 PEERS messages make neither records on disk nor more
 *    dials than the budget, and take little time;
 *  - dial targets: names, multicast, broadcast, unspecified and port 0
 *    are refused (dial_target); a 9th address never pushes out one the
 *    peer proved;
 *  - pex candidates: a sender's share, the list's size, and a proven
 *    candidate never evicted for a newcomer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "log.h"
#include "ms_test.h"
#include "node_int.h"
#include "peertab.h"
#include "pex.h"
#include "ratelog.h"
#include "rng.h"

#define MAX_DIALS 4096

typedef struct fx {
	char *dir;
	ms_store *s;
	ms_config cfg;
	ms_log log;
	ms_counters counters;
	ms_rng rng;
	ms_ratelog rl;
	uint64_t mono, wall;
	ms_clock clock;
	uint8_t self[MS_PK_LEN];
	ms_peertab *pt;
	ms_pex *pex;
	/* the dials the table asked for */
	char dials[MAX_DIALS][MS_PEER_ADDR_MAX];
	size_t ndials;
	uint32_t next_handle;
	size_t hangups;
} fx;

static fx *g; /* large: on the heap */

static uint64_t fx_mono(void *ctx)
{
	return ((fx *)ctx)->mono;
}

static uint64_t fx_wall(void *ctx)
{
	return ((fx *)ctx)->wall;
}

static ms_err on_dial(void *ctx, const char *addr, uint32_t *handle,
                      ms_errbuf *eb)
{
	fx *f = ctx;

	(void)eb;
	ck_assert_uint_lt(f->ndials, MAX_DIALS);
	snprintf(f->dials[f->ndials++], MS_PEER_ADDR_MAX, "%s", addr);
	*handle = ++f->next_handle;
	return MS_OK;
}

static void on_hangup(void *ctx, uint32_t handle, const char *why)
{
	(void)handle;
	(void)why;
	((fx *)ctx)->hangups++;
}

/* pex -> table, as node/daemon.c wires them */
static int on_learn(void *ctx, const uint8_t from[MS_PK_LEN],
                    const uint8_t id[MS_PK_LEN], const char *const *eps,
                    size_t neps)
{
	return ms_peertab_pex_learn(((fx *)ctx)->pt, from, id, eps, neps);
}

static void on_forget(void *ctx, const uint8_t id[MS_PK_LEN])
{
	ms_peertab_pex_forget(((fx *)ctx)->pt, id);
}

static int on_linked(void *ctx, const uint8_t id[MS_PK_LEN])
{
	return ms_peertab_linked(((fx *)ctx)->pt, id);
}

static int on_proven(void *ctx, const uint8_t id[MS_PK_LEN])
{
	return ms_peertab_authed(((fx *)ctx)->pt, id);
}

/* An id from a number (claims need not be valid keys). */
static void mkid(uint8_t id[MS_PK_LEN], unsigned n)
{
	memset(id, 0x5a, MS_PK_LEN);
	memcpy(id, &n, sizeof n);
	id[MS_PK_LEN - 1] = 0x77;
}

static void open_table(fx *f)
{
	ms_peertab_env pe = {0};
	ms_peertab_cbs pc = {on_dial, on_hangup, f};
	ms_pex_env xe = {0};
	ms_pex_cbs xc = {on_learn, on_forget, on_linked, on_proven, f};
	ms_errbuf eb = {0};

	pe.store = f->s;
	pe.node_id = f->self;
	pe.cfg = &f->cfg;
	pe.log = &f->log;
	pe.counters = &f->counters;
	pe.rng = &f->rng;
	pe.clock = &f->clock;
	pe.ratelog = &f->rl;
	MS_PASS_EB(ms_peertab_new(&f->pt, &pe, &pc, &eb), &eb);
	memcpy(xe.node_id, f->self, MS_PK_LEN);
	xe.max_candidates = f->cfg.limits.pex_candidates;
	xe.log = &f->log;
	xe.counters = &f->counters;
	xe.ratelog = &f->rl;
	MS_PASS_EB(ms_pex_new(&f->pex, &xe, &xc, &eb), &eb);
}

static void close_table(fx *f)
{
	ms_pex_free(&f->pex);
	ms_peertab_free(&f->pt);
}

static void setup(void)
{
	uint8_t net[MS_NETID_LEN];
	ms_errbuf eb = {0};

	g = calloc(1, sizeof *g);
	ck_assert_ptr_nonnull(g);
	g->dir = ms_test_tmpdir("peertab");
	mkid(g->self, 0xfffffff0u);
	memset(net, 7, sizeof net);
	MS_PASS_EB(ms_store_create(g->dir, g->self, net, NULL, &eb), &eb);
	MS_PASS_EB(ms_store_open(&g->s, g->dir, NULL, &eb), &eb);
	ms_config_default(&g->cfg);
	g->log.level = getenv("MS_TEST_VERBOSE") ? MS_LOG_DEBUG : MS_LOG_ERROR;
	ms_rng_seed(&g->rng, 42);
	g->mono = 1000000;
	g->wall = 1700000000000ull;
	g->clock = (ms_clock){fx_mono, fx_wall, g};
}

static void teardown(void)
{
	close_table(g);
	ms_store_close(&g->s);
	ms_test_rmdir(g->dir);
	free(g->dir);
	free(g);
	g = NULL;
}

/* --- reading the store ---------------------------------------------------- */

typedef struct stored {
	size_t n, with_id;
	const uint8_t *want; /* with this id: copied into rec */
	int found;
	ms_peer_rec rec;
} stored;

static int on_rec(const ms_peer_rec *p, void *ctx)
{
	stored *st = ctx;

	st->n++;
	st->with_id += p->has_id;
	if (st->want != NULL && p->has_id &&
	    memcmp(p->id, st->want, MS_PK_LEN) == 0) {
		st->found = 1;
		st->rec = *p;
	}
	return 0;
}

static stored store_scan(const uint8_t *want)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	stored st;

	memset(&st, 0, sizeof st);
	st.want = want;
	MS_PASS_EB(ms_store_read_begin(g->s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_peer(rt, on_rec, &st, &eb), &eb);
	ms_store_read_end(&rt);
	return st;
}

static size_t nrecords(void)
{
	ms_peer_view *v = NULL;
	size_t n = 0;

	MS_PASS(ms_peertab_views(g->pt, &v, &n, NULL));
	free(v);
	return n;
}

/* The view of id ("has" 0 when the table has no record of it). */
static ms_peer_view view_of(const uint8_t *id, int *has)
{
	ms_peer_view *v = NULL, out;
	size_t n = 0;

	memset(&out, 0, sizeof out);
	*has = 0;
	MS_PASS(ms_peertab_views(g->pt, &v, &n, NULL));
	for (size_t i = 0; i < n; i++)
		if (v[i].has_id && memcmp(v[i].id, id, MS_PK_LEN) == 0) {
			out = v[i];
			*has = 1;
		}
	free(v);
	return out;
}

static int view_has_addr(const ms_peer_view *v, const char *a, int *proven)
{
	for (uint32_t i = 0; i < v->naddrs; i++)
		if (strcmp(v->addrs[i], a) == 0) {
			*proven = (v->proven >> i) & 1;
			return 1;
		}
	return 0;
}

static uint64_t counter(const char *name)
{
	return ms_counters_total(&g->counters, name);
}

/* LMDB's last transaction id of the store, from mdb_stat in another
 * process (LMDB allows that beside our open environment). */
static unsigned long last_txnid(void)
{
	ms_test_out r;
	const char *p;
	unsigned long id = 0;

	ms_test_cmd_runl(&r, NULL, "mdb_stat", "-e", g->dir, (char *)NULL);
	ck_assert_msg(r.code == 0, "mdb_stat: %s", r.err ? r.err : "");
	p = strstr(r.out, "Last transaction ID:");
	ck_assert_ptr_nonnull(p);
	id = strtoul(p + strlen("Last transaction ID:"), NULL, 10);
	ms_test_out_free(&r);
	return id;
}

/* --- sessions, as the daemon reports them --------------------------------- */

static ms_session_summary g_sum;

/* id dials us announcing eps, the session goes live (or not) and ends. */
static void inbound_session(const uint8_t *id, const char *const *eps,
                            size_t neps, int live)
{
	ms_wire_bytes wb[8];
	ms_peertab_end end = {0};
	ms_peer *p;

	ck_assert_uint_le(neps, 8);
	for (size_t i = 0; i < neps; i++) {
		wb[i].ptr = (const uint8_t *)eps[i];
		wb[i].len = (uint32_t)strlen(eps[i]);
	}
	p = ms_peertab_identified(g->pt, NULL, 0, id, wb, neps);
	ck_assert_ptr_nonnull(p);
	end.last = MS_LINK_STATE_CONNECTING;
	if (live) {
		ms_peertab_session_state(g->pt, p, 0, MS_LINK_STATE_CONNECTING,
		                         MS_LINK_STATE_LIVE);
		end.last = MS_LINK_STATE_LIVE;
	}
	end.sum = &g_sum;
	end.reason = "bye";
	ms_peertab_session_ended(g->pt, p, &end);
}

/* PEERS from `from` naming ids first..first+n-1 at 127.0.0.x ports. */
static void send_peers(const uint8_t *from, unsigned first, unsigned n)
{
	static char eps[MS_WIRE_MAX_PEERS][MS_ENDPOINT_MAX];
	ms_wire_peers m;

	memset(&m, 0, sizeof m);
	for (unsigned i = 0; i < n && i < MS_WIRE_MAX_PEERS; i++) {
		unsigned k = first + i;
		ms_wire_peer *w = &m.peers[m.n++];
		mkid(w->node_id, k);
		w->last_seen_ms = g->wall;
		snprintf(eps[i], sizeof eps[i], "tcp://10.%u.%u.%u:%u",
		         (k >> 16) & 0xff, (k >> 8) & 0xff, k & 0xff,
		         1000 + (k % 60000));
		w->n_endpoints = 1;
		w->endpoints[0].ptr = (const uint8_t *)eps[i];
		w->endpoints[0].len = (uint32_t)strlen(eps[i]);
	}
	ms_pex_recv(g->pex, from, &m, g->mono);
}

/* --- tests ---------------------------------------------------------------- */

START_TEST(candidates_stay_in_memory_until_authenticated)
{
	uint8_t from[MS_PK_LEN], id[MS_PK_LEN];
	const char *eps[] = {"tcp://10.0.0.9:7700"};
	stored st;

	open_table(g);
	mkid(from, 999999);
	send_peers(from, 1, 32);
	mkid(id, 500);
	ms_peertab_mdns_found(g->pt, id, "tcp://127.0.0.1:7500");
	ms_peertab_flush(g->pt);
	ck_assert_uint_eq(nrecords(), 33);
	st = store_scan(NULL);
	ck_assert_uint_eq(st.n, 0); /* claims are not stored */

	/* a session proves id 7: now, and only it, is stored */
	mkid(id, 7);
	inbound_session(id, eps, 1, 1);
	ms_peertab_flush(g->pt);
	st = store_scan(id);
	ck_assert_uint_eq(st.n, 1);
	ck_assert(st.found);
	ck_assert(st.rec.flags & MS_PEER_F_AUTHED);

	/* a restart loads the one stored record, not the claims */
	close_table(g);
	open_table(g);
	ck_assert_uint_eq(nrecords(), 1);
}
END_TEST

START_TEST(records_in_memory_bounded)
{
	uint8_t a[MS_PK_LEN], b[MS_PK_LEN], proven[MS_PK_LEN];
	const char *eps[] = {"tcp://10.1.0.1:7700"};
	int has;

	g->cfg.limits.peer_records = 16;
	g->cfg.limits.pex_candidates = 1024;
	open_table(g);
	mkid(proven, 424242);
	inbound_session(proven, eps, 1, 1);
	mkid(a, 900001);
	mkid(b, 900002);
	for (unsigned i = 0; i < 10; i++) {
		send_peers(a, 1000 + 32 * i, 32);
		send_peers(b, 5000 + 32 * i, 32);
		ck_assert_uint_le(nrecords(), 16);
	}
	ck_assert_uint_eq(nrecords(), 16);
	ck_assert_uint_gt(counter("limit_peer_records"), 0);
	/* the authenticated peer was never the one to go */
	(void)view_of(proven, &has);
	ck_assert(has);
	/* mDNS is bounded the same way */
	for (unsigned i = 0; i < 100; i++) {
		uint8_t id[MS_PK_LEN];
		char ep[64];
		mkid(id, 70000 + i);
		snprintf(ep, sizeof ep, "tcp://192.168.1.%u:7700", i + 1);
		ms_peertab_mdns_found(g->pt, id, ep);
	}
	ck_assert_uint_eq(nrecords(), 16);
	(void)view_of(proven, &has);
	ck_assert(has);
}
END_TEST

START_TEST(stored_records_bounded_least_useful_first)
{
	const char *eps[] = {"tcp://10.2.0.1:7700"};
	uint8_t id[MS_PK_LEN];
	stored st;

	g->cfg.limits.peer_records_disk = 4;
	open_table(g);
	/* two peers we synced with (live), then eight we never did */
	for (unsigned i = 0; i < 2; i++) {
		mkid(id, 100 + i);
		inbound_session(id, eps, 1, 1);
		g->wall += 1000;
	}
	ms_peertab_flush(g->pt);
	for (unsigned i = 0; i < 8; i++) {
		mkid(id, 200 + i);
		inbound_session(id, eps, 1, 0);
		g->wall += 1000;
		ms_peertab_flush(g->pt);
		ck_assert_uint_le(store_scan(NULL).n, 4);
	}
	ck_assert_uint_eq(store_scan(NULL).n, 4);
	for (unsigned i = 0; i < 2; i++) {
		mkid(id, 100 + i);
		st = store_scan(id);
		ck_assert_msg(st.found, "synced-with peer %u evicted", i);
	}
	/* the newest never-synced ones took the other places */
	mkid(id, 207);
	ck_assert(store_scan(id).found);
	mkid(id, 200);
	ck_assert(!store_scan(id).found);

	/* a lower limit at the next start cuts the store down, keeping the
	 * most useful */
	close_table(g);
	g->cfg.limits.peer_records_disk = 2;
	open_table(g);
	ck_assert_uint_eq(store_scan(NULL).n, 2);
	mkid(id, 100);
	ck_assert(store_scan(id).found);
	mkid(id, 101);
	ck_assert(store_scan(id).found);
}
END_TEST

START_TEST(lowered_limits_apply_on_reload)
{
	const char *eps[] = {"tcp://10.2.1.1:7700"};
	uint8_t id[MS_PK_LEN], from[MS_PK_LEN];

	open_table(g);
	for (unsigned i = 0; i < 10; i++) {
		mkid(id, 400 + i);
		inbound_session(id, eps, 1, i < 3);
		g->wall += 1000;
	}
	mkid(from, 499);
	send_peers(from, 2000, 32);
	ms_peertab_flush(g->pt);
	ck_assert_uint_eq(store_scan(NULL).n, 10);
	ck_assert_uint_eq(nrecords(), 42);
	/* SIGHUP lowers both: the table and the store shrink at once,
	 * keeping what we synced with.  Candidates go first (42 -> 16), then
	 * the 7 stored records beyond the disk budget leave the store and
	 * the table (kept in memory, they would be stored again) */
	g->cfg.limits.peer_records = 16;
	g->cfg.limits.peer_records_disk = 3;
	ms_peertab_reconfigure(g->pt);
	ms_peertab_flush(g->pt);
	ck_assert_uint_eq(nrecords(), 16 - 7);
	ck_assert_uint_eq(store_scan(NULL).n, 3);
	for (unsigned i = 0; i < 3; i++) {
		mkid(id, 400 + i);
		ck_assert(store_scan(id).found);
	}
}
END_TEST

START_TEST(one_transaction_per_flush)
{
	const char *eps[] = {"tcp://10.3.0.1:7700"};
	uint8_t id[MS_PK_LEN];
	unsigned long before, after;

	g->cfg.limits.peer_records_disk = 1000;
	open_table(g);
	for (unsigned i = 0; i < 200; i++) {
		mkid(id, 3000 + i);
		inbound_session(id, eps, 1, 1);
	}
	before = last_txnid();
	ms_peertab_flush(g->pt);
	after = last_txnid();
	ck_assert_uint_eq(store_scan(NULL).n, 200);
	ck_assert_uint_eq(after - before, 1);
	/* nothing changed: no transaction at all */
	ms_peertab_flush(g->pt);
	ck_assert_uint_eq(last_txnid(), after);
}
END_TEST

START_TEST(unproven_records_pruned_on_load)
{
	ms_peer_rec r;
	uint8_t id[MS_PK_LEN];
	ms_errbuf eb = {0};

	/* as an older node stored them: claims, one inbound, one synced */
	for (unsigned i = 0; i < 50; i++) {
		memset(&r, 0, sizeof r);
		r.has_id = 1;
		mkid(r.id, 8000 + i);
		r.source = MS_PEER_SRC_PEX;
		r.naddrs = 1;
		snprintf(r.addrs[0], sizeof r.addrs[0], "tcp://10.4.0.%u:7700",
		         i + 1);
		if (i == 0)
			r.source |= MS_PEER_SRC_INBOUND;
		if (i == 1)
			r.last_good_ms = g->wall - 5000;
		MS_PASS_EB(ms_store_peer_put(g->s, &r, &eb), &eb);
	}
	ck_assert_uint_eq(store_scan(NULL).n, 50);
	open_table(g);
	ck_assert_uint_eq(store_scan(NULL).n, 2);
	ck_assert_uint_eq(nrecords(), 2);
	mkid(id, 8000);
	ck_assert(store_scan(id).found);
	mkid(id, 8001);
	ck_assert(store_scan(id).found);
	close_table(g);

	/* both at one start: unproven ones pruned and the rest cut to the
	 * budget, the one we synced with kept */
	for (unsigned i = 2; i < 50; i++) {
		memset(&r, 0, sizeof r);
		r.has_id = 1;
		mkid(r.id, 8000 + i);
		r.source = MS_PEER_SRC_MDNS;
		MS_PASS_EB(ms_store_peer_put(g->s, &r, &eb), &eb);
	}
	g->cfg.limits.peer_records_disk = 1;
	open_table(g);
	ck_assert_uint_eq(store_scan(NULL).n, 1);
	mkid(id, 8001);
	ck_assert(store_scan(id).found);
}
END_TEST

START_TEST(dials_in_flight_bounded)
{
	uint8_t from[MS_PK_LEN];
	size_t before;

	g->cfg.limits.dials_inflight = 4;
	snprintf(g->cfg.net.peers[0], sizeof g->cfg.net.peers[0],
	         "tcp://static-peer.example:7700");
	g->cfg.net.npeers = 1;
	open_table(g);
	mkid(from, 31337);
	send_peers(from, 1, 32);
	(void)ms_peertab_tick(g->pt);
	/* the static peer (a name: the operator's) and 4 discovered */
	ck_assert_uint_eq(g->ndials, 5);
	ck_assert_str_eq(g->dials[0], "tcp://static-peer.example:7700");
	ck_assert_uint_eq(counter("limit_dials_inflight"), 32 - 4);
	/* more turns dial no more while those are in flight */
	for (int i = 0; i < 10; i++) {
		g->mono += 100;
		g->wall += 100;
		(void)ms_peertab_tick(g->pt);
	}
	ck_assert_uint_eq(g->ndials, 5);
	ck_assert_uint_eq(counter("limit_dials_inflight"), 32 - 4);
	/* one fails: exactly one more is dialled */
	before = g->ndials;
	ms_peertab_dial_failed(g->pt, 2, "connect");
	(void)ms_peertab_tick(g->pt);
	ck_assert_uint_eq(g->ndials, before + 1);
}
END_TEST

START_TEST(pex_flood_bounded)
{
	uint8_t from[MS_PK_LEN], other[MS_PK_LEN], fresh[MS_PK_LEN];
	const char *eps[] = {"tcp://10.5.0.1:7700"};
	uint64_t t0 = ms_test_now_ms();
	int has;

	open_table(g); /* the defaults */
	mkid(from, 666);
	mkid(other, 667);
	/* an honest member's candidates before the flood */
	send_peers(other, 100000, 8);
	for (unsigned i = 0; i < 600; i++) {
		send_peers(from, 1 + 32 * i, 32);
		(void)ms_peertab_tick(g->pt);
		ms_peertab_flush(g->pt);
	}
	ck_assert_msg(ms_test_now_ms() - t0 < 10000, "600 PEERS took %llu ms",
	              (unsigned long long)(ms_test_now_ms() - t0));
	ck_assert_uint_eq(store_scan(NULL).n, 0);
	ck_assert_uint_le(nrecords(), MS_PEERTAB_RECORDS_DEFAULT);
	ck_assert_uint_le(g->ndials, MS_PEERTAB_DIALS_INFLIGHT_DEFAULT);
	ck_assert_uint_gt(counter("limit_pex_candidates"), 0);
	/* the sender wasted its own share: the honest member's candidates
	 * are still there */
	for (unsigned i = 0; i < 8; i++) {
		uint8_t id[MS_PK_LEN];
		mkid(id, 100000 + i);
		(void)view_of(id, &has);
		ck_assert_msg(has, "honest candidate %u evicted", i);
	}
	/* and a new member still authenticates and is stored */
	mkid(fresh, 123456);
	inbound_session(fresh, eps, 1, 1);
	ms_peertab_flush(g->pt);
	ck_assert(store_scan(fresh).found);
}
END_TEST

START_TEST(pex_proven_never_evicted)
{
	uint8_t a[MS_PK_LEN], id[MS_PK_LEN];
	const char *eps[] = {"tcp://10.6.0.1:7700"};
	int has;

	g->cfg.limits.pex_candidates = 40;
	open_table(g);
	mkid(a, 1);
	/* a names 32 (its share); we then authenticate them all */
	send_peers(a, 10, 32);
	for (unsigned i = 0; i < 32; i++) {
		mkid(id, 10 + i);
		inbound_session(id, eps, 1, 1);
	}
	/* a names 32 more: its share is full of proven candidates, so the
	 * new ones are refused, nothing proven is forgotten */
	send_peers(a, 1000, 32);
	ck_assert_uint_ge(counter("limit_pex_candidates"), 32);
	for (unsigned i = 0; i < 32; i++) {
		mkid(id, 1000 + i);
		(void)view_of(id, &has);
		ck_assert(!has);
	}
	for (unsigned i = 0; i < 32; i++) {
		mkid(id, 10 + i);
		ck_assert(view_of(id, &has).naddrs > 0 && has);
	}
}
END_TEST

/* What senders told, for node.mesh: one block per sender, newest first,
 * endpoints that are not endpoints left out; 64 senders kept at most
 * (mesh_senders), the least recently heard one forgotten and counted;
 * forgotten after MS_PEX_EXPIRE_MS like candidates. */
START_TEST(mesh_senders_bounded)
{
	uint8_t from[MS_PK_LEN], id[MS_PK_LEN];
	char hex[2 * MS_PK_LEN + 1], line[300], *text;
	const char *p;
	size_t froms = 0;
	ms_wire_peers m;

	open_table(g);
	ck_assert_int_eq(ms_pex_mesh_changed(g->pex), 0);
	/* one entry with a good endpoint and one with a space in it */
	memset(&m, 0, sizeof m);
	mkid(from, 1);
	mkid(m.peers[0].node_id, 2);
	m.peers[0].last_seen_ms = 1234;
	m.peers[0].n_endpoints = 2;
	m.peers[0].endpoints[0].ptr = (const uint8_t *)"tcp://10.0.0.2:7700";
	m.peers[0].endpoints[0].len = 19;
	m.peers[0].endpoints[1].ptr = (const uint8_t *)"tcp://a b:1\nto x";
	m.peers[0].endpoints[1].len = 16;
	m.n = 1;
	ms_pex_recv(g->pex, from, &m, g->mono);
	ck_assert_int_eq(ms_pex_mesh_changed(g->pex), 1);
	text = ms_pex_mesh_text(g->pex, g->mono + 500, 1000000);
	ck_assert_ptr_nonnull(text);
	ms_hex(hex, from, MS_PK_LEN);
	snprintf(line, sizeof line, "meshsync-mesh 1\nfrom %s 999500\n", hex);
	ck_assert_msg(strncmp(text, line, strlen(line)) == 0, "%s", text);
	mkid(id, 2);
	ms_hex(hex, id, MS_PK_LEN);
	snprintf(line, sizeof line, "to %s 1234 tcp://10.0.0.2:7700\n", hex);
	ck_assert_str_eq(text + strlen(text) - strlen(line), line);
	free(text);
	ms_pex_mesh_saved(g->pex);
	ck_assert_int_eq(ms_pex_mesh_changed(g->pex), 0);

	/* 65 senders: 64 kept, the first heard one gone, counted once */
	for (unsigned i = 0; i < MS_PEX_TOLD_SENDERS; i++) {
		mkid(from, 100 + i);
		g->mono += 10;
		send_peers(from, 1000 + i, 1);
	}
	ck_assert_uint_eq(counter("limit_mesh_senders"), 1);
	text = ms_pex_mesh_text(g->pex, g->mono, 1000000);
	ck_assert_ptr_nonnull(text);
	for (p = text; (p = strstr(p, "\nfrom ")) != NULL; p++)
		froms++;
	ck_assert_uint_eq(froms, MS_PEX_TOLD_SENDERS);
	mkid(from, 1);
	ms_hex(hex, from, MS_PK_LEN);
	ck_assert_ptr_null(strstr(text, hex));
	/* the newest first */
	mkid(from, 100 + MS_PEX_TOLD_SENDERS - 1);
	ms_hex(hex, from, MS_PK_LEN);
	snprintf(line, sizeof line, "meshsync-mesh 1\nfrom %s ", hex);
	ck_assert_int_eq(strncmp(text, line, strlen(line)), 0);
	free(text);

	/* an hour later, all forgotten */
	ms_pex_mesh_saved(g->pex);
	g->mono += MS_PEX_EXPIRE_MS;
	ms_pex_tick(g->pex, g->mono);
	ck_assert_int_eq(ms_pex_mesh_changed(g->pex), 1);
	text = ms_pex_mesh_text(g->pex, g->mono, 1000000);
	ck_assert_str_eq(text, "meshsync-mesh 1\n");
	free(text);
}
END_TEST

START_TEST(dial_targets_checked)
{
	static const char *const bad[] = {
		"tcp://evil.example:7700",
		"tcp://224.0.0.251:5353",
		"tcp://255.255.255.255:7700",
		"tcp://0.0.0.0:7700",
		"tcp://[::]:7700",
		"tcp://[ff02::1]:7700",
		"tcp://10.0.0.1:0",
		"tcp://10.0.0.1:99999",
		"tcp://010.0.0.1:7700",
		"tcp://[::ffff:224.0.0.1]:7700",
	};
	uint8_t id[MS_PK_LEN], from[MS_PK_LEN];
	const char *mix[3] = {bad[0], "tcp://10.7.0.1:7700", bad[1]};
	ms_peer_view v;
	int has, pr;

	open_table(g);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mkid(id, 600 + (unsigned)i);
		ms_peertab_mdns_found(g->pt, id, bad[i]);
		(void)view_of(id, &has);
		ck_assert_msg(!has, "%s recorded", bad[i]);
	}
	ck_assert_uint_eq(counter("limit_dial_target"),
	                  sizeof bad / sizeof bad[0]);
	/* from PEERS, only the numeric one is kept */
	mkid(id, 700);
	mkid(from, 701);
	ck_assert_int_eq(ms_peertab_pex_learn(g->pt, from, id, mix, 3), 1);
	v = view_of(id, &has);
	ck_assert(has);
	ck_assert_uint_eq(v.naddrs, 1);
	ck_assert(view_has_addr(&v, "tcp://10.7.0.1:7700", &pr));
	ck_assert_uint_eq(counter("limit_dial_target"),
	                  sizeof bad / sizeof bad[0] + 2);
	(void)ms_peertab_tick(g->pt);
	for (size_t i = 0; i < g->ndials; i++)
		ck_assert_msg(ms_endpoint_dialable(g->dials[i]), "dialled %s",
		              g->dials[i]);
}
END_TEST

START_TEST(proven_addresses_kept)
{
	const char *proven[] = {"tcp://10.8.0.1:7700", "tcp://10.8.0.2:7700"};
	uint8_t id[MS_PK_LEN], from[MS_PK_LEN];
	ms_peer_view v;
	int has, pr;

	open_table(g);
	mkid(id, 55);
	mkid(from, 56);
	inbound_session(id, proven, 2, 1);
	/* PEERS claims 20 more addresses for it, one at a time */
	for (unsigned i = 0; i < 20; i++) {
		char ep[64];
		const char *one = ep;
		snprintf(ep, sizeof ep, "tcp://10.9.0.%u:7700", i + 1);
		ck_assert_int_eq(ms_peertab_pex_learn(g->pt, from, id, &one, 1),
		                 1);
	}
	v = view_of(id, &has);
	ck_assert(has);
	ck_assert_uint_eq(v.naddrs, MS_PEER_MAX_ADDRS);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(view_has_addr(&v, proven[i], &pr),
		              "%s pushed out", proven[i]);
		ck_assert(pr);
	}
	/* the newest claims are the unproven ones kept */
	ck_assert(view_has_addr(&v, "tcp://10.9.0.20:7700", &pr) && !pr);
	ck_assert(!view_has_addr(&v, "tcp://10.9.0.1:7700", &pr));

	/* a peer that proved all eight keeps them against any claim */
	mkid(id, 57);
	{
		const char *eight[MS_PEER_MAX_ADDRS];
		char buf[MS_PEER_MAX_ADDRS][64];
		const char *claim = "tcp://10.10.1.1:7700";
		for (int i = 0; i < MS_PEER_MAX_ADDRS; i++) {
			snprintf(buf[i], sizeof buf[i], "tcp://10.10.0.%d:7700",
			         i + 1);
			eight[i] = buf[i];
		}
		inbound_session(id, eight, MS_PEER_MAX_ADDRS, 1);
		ck_assert_int_eq(ms_peertab_pex_learn(g->pt, from, id, &claim,
		                                      1),
		                 1);
		v = view_of(id, &has);
		ck_assert_uint_eq(v.naddrs, MS_PEER_MAX_ADDRS);
		ck_assert_uint_eq(v.proven, 0xff);
		ck_assert(!view_has_addr(&v, claim, &pr));
	}
	/* and the proven bits survive a restart */
	ms_peertab_flush(g->pt);
	close_table(g);
	open_table(g);
	v = view_of(id, &has);
	ck_assert(has);
	ck_assert_uint_eq(v.proven, 0xff);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("peertab");
	TCase *tc = tcase_create("peertab");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, candidates_stay_in_memory_until_authenticated);
	tcase_add_test(tc, records_in_memory_bounded);
	tcase_add_test(tc, stored_records_bounded_least_useful_first);
	tcase_add_test(tc, lowered_limits_apply_on_reload);
	tcase_add_test(tc, one_transaction_per_flush);
	tcase_add_test(tc, unproven_records_pruned_on_load);
	tcase_add_test(tc, dials_in_flight_bounded);
	tcase_add_test(tc, pex_flood_bounded);
	tcase_add_test(tc, pex_proven_never_evicted);
	tcase_add_test(tc, mesh_senders_bounded);
	tcase_add_test(tc, dial_targets_checked);
	tcase_add_test(tc, proven_addresses_kept);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	ms_test_prefer_ram_tmpdir();
	return ms_test_run(suite());
}
