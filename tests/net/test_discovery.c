/*
 * test_discovery.c — net/discovery against the avahi-daemon running on this
 * machine (loopback-only config, tools/services.sh): instances in one
 * process find each other, lose each other, skip foreign networks, other
 * protocol versions, malformed records and themselves, and survive a name
 * collision.  Plus the TXT rules on their own.
 *
 * Every run browses a private service type ("_mst<pid>._tcp") and names its
 * instances with the pid, so parallel runs (normal and sanitizer builds)
 * never see each other and every count can be exact.  One test publishes
 * the real `_meshsync._tcp` and checks it with `avahi-browse -rpt`.
 *
 * Without an avahi-daemon on the system bus the daemon tests are skipped
 * (exit 77) with the reason printed; the TXT tests run anyway.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>

#include "discovery.h"
#include "ms_test.h"

#define WAIT_MS 10000 /* every wait: ENV says discovery on lo takes ~1 s */
#define MAXEV 128

static char g_type[32];
static int g_ntype;
static size_t g_max_records; /* for the next start(); 0 = default */

/* A service type private to this test: instances freed by an earlier test
 * linger in the daemon's cache for a moment and must not be counted. */
static void new_type(void)
{
	snprintf(g_type, sizeof g_type, "_mst%dx%d._tcp", (int)getpid(),
	         ++g_ntype);
}

/* One discovery instance and what its callbacks saw. */
typedef struct tdisc {
	ms_disc *d;
	uint8_t id[MS_PK_LEN];
	uint16_t port;
	int nev;
	ms_disc_event ev[MAXEV];
	int nwarn;     /* log lines at LOG_WARNING or worse */
	int nl_in_msg; /* log texts holding a newline (never: names apart) */
	int nnamed;    /* log lines about an instance name */
	char named[MAXEV][MS_DISC_NAME_MAX]; /* their names, as handed over */
} tdisc;

static void on_event(void *ctx, const ms_disc_event *ev)
{
	tdisc *t = ctx;

	if (t->nev < MAXEV)
		t->ev[t->nev++] = *ev;
}

static void on_log(void *ctx, int level, const char *msg, const char *name)
{
	tdisc *t = ctx;

	if (level <= 4)
		t->nwarn++;
	if (strchr(msg, '\n') != NULL)
		t->nl_in_msg++;
	if (name != NULL && t->nnamed < MAXEV)
		snprintf(t->named[t->nnamed++], MS_DISC_NAME_MAX, "%s", name);
	if (getenv("MS_TEST_VERBOSE") != NULL)
		fprintf(stderr, "[%p] %d %s name=%s\n", ctx, level, msg,
		        name != NULL ? name : "-");
}

static void mkid(uint8_t id[MS_PK_LEN], uint8_t tag)
{
	memset(id, tag, MS_PK_LEN);
	id[0] = (uint8_t)(getpid() & 0xff);
	id[1] = (uint8_t)((getpid() >> 8) & 0xff);
}

static void mknet(uint8_t net[MS_NETID_LEN], uint8_t tag)
{
	memset(net, tag, MS_NETID_LEN);
}

/* Start an instance: id tag, network tag, protocol version, name. */
static void start(tdisc *t, uint8_t idtag, uint8_t nettag, uint32_t ver,
                  uint16_t port, const char *name, const char *type)
{
	ms_disc_cfg cfg;
	ms_errbuf eb;

	memset(t, 0, sizeof *t);
	memset(&cfg, 0, sizeof cfg);
	mkid(cfg.node_id, idtag);
	mknet(cfg.net_id, nettag);
	memcpy(t->id, cfg.node_id, MS_PK_LEN);
	cfg.proto_version = ver;
	cfg.port = port;
	cfg.name = name;
	cfg.service_type = type != NULL ? type : g_type;
	cfg.max_records = g_max_records;
	t->port = port;
	MS_PASS_EB(ms_disc_new(&t->d, &cfg, on_event, on_log, t, &eb), &eb);
}

/* Poll every instance's fd once (up to slice ms) and process. */
static void pump(tdisc **ts, int n, int slice)
{
	struct pollfd p[8];
	int i;

	ck_assert_int_le(n, 8);
	for (i = 0; i < n; i++) {
		p[i].fd = ms_disc_fd(ts[i]->d);
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	if (poll(p, (nfds_t)n, slice) > 0)
		for (i = 0; i < n; i++)
			if (p[i].revents & POLLIN)
				ms_disc_process(ts[i]->d);
}

static int count_ev(const tdisc *t, ms_disc_event_kind k, const uint8_t *id)
{
	int i, c = 0;

	for (i = 0; i < t->nev; i++)
		if (t->ev[i].kind == k &&
		    (id == NULL ||
		     memcmp(t->ev[i].node_id, id, MS_PK_LEN) == 0))
			c++;
	return c;
}

static const ms_disc_event *last_ev(const tdisc *t, ms_disc_event_kind k,
                                    const uint8_t *id)
{
	int i;

	for (i = t->nev - 1; i >= 0; i--)
		if (t->ev[i].kind == k &&
		    memcmp(t->ev[i].node_id, id, MS_PK_LEN) == 0)
			return &t->ev[i];
	return NULL;
}

static ms_disc_stats stats(const tdisc *t)
{
	ms_disc_stats s;
	ms_disc_stats_get(t->d, &s);
	return s;
}

/* Pump until cond holds or WAIT_MS passes; the loop is bounded by time. */
#define WAIT_FOR(ts, n, cond)                            \
	MS_WAIT_STEP(cond, WAIT_MS, pump((ts), (n), 50), \
	             "timed out after %d ms waiting for %s", WAIT_MS, #cond)

/* ------------------------------------------------------------- TXT rules */

static ms_err parse(const char *const *s, size_t n, uint8_t id[MS_PK_LEN],
                    uint32_t *v, char net[MS_DISC_NET_HEX + 1])
{
	size_t lens[8], i;

	for (i = 0; i < n; i++)
		lens[i] = strlen(s[i]);
	return ms_disc_txt_parse(s, lens, n, id, v, net, NULL);
}

#define ID64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

START_TEST(txt_good)
{
	const char *s[] = {"x=1", "V=7", ("id=" ID64), "net=0123456789ABCDEF",
	                   "v=9"};
	uint8_t id[MS_PK_LEN];
	uint32_t v = 0;
	char net[MS_DISC_NET_HEX + 1];

	MS_PASS(parse(s, 5, id, &v, net));
	ck_assert_uint_eq(v, 7); /* the first occurrence counts */
	ck_assert_str_eq(net, "0123456789abcdef");
	ck_assert_uint_eq(id[0], 0x00);
	ck_assert_uint_eq(id[15], 0xff);
}
END_TEST

START_TEST(txt_bad)
{
	const char *miss[] = {"v=1", ("id=" ID64)};
	const char *shortid[] = {"v=1", "id=0011", "net=0123456789abcdef"};
	const char *badhex[] = {"v=1", ("id=" ID64), "net=0123456789abcdeg"};
	const char *badv[] = {"v=1x", ("id=" ID64), "net=0123456789abcdef"};
	const char *bigv[] = {"v=4294967296", ("id=" ID64),
	                      "net=0123456789abcdef"};
	const char *emptyv[] = {"v=", ("id=" ID64), "net=0123456789abcdef"};
	const char *novalue[] = {"v", ("id=" ID64), "net=0123456789abcdef"};
	uint8_t id[MS_PK_LEN];
	uint32_t v;
	char net[MS_DISC_NET_HEX + 1];

	MS_FAIL(parse(miss, 2, id, &v, net), MS_EPROTO);
	MS_FAIL(parse(shortid, 3, id, &v, net), MS_EPROTO);
	MS_FAIL(parse(badhex, 3, id, &v, net), MS_EPROTO);
	MS_FAIL(parse(badv, 3, id, &v, net), MS_EPROTO);
	MS_FAIL(parse(bigv, 3, id, &v, net), MS_EPROTO);
	MS_FAIL(parse(emptyv, 3, id, &v, net), MS_EPROTO);
	MS_FAIL(parse(novalue, 3, id, &v, net), MS_EPROTO);
}
END_TEST

START_TEST(cfg_invalid)
{
	ms_disc_cfg cfg;
	ms_disc *d = NULL;
	ms_errbuf eb;
	tdisc t;

	memset(&cfg, 0, sizeof cfg);
	MS_FAIL(ms_disc_new(&d, &cfg, on_event, NULL, &t, &eb), MS_EINVAL);
	cfg.port = 1;
	cfg.families = 0x10;
	MS_FAIL(ms_disc_new(&d, &cfg, on_event, NULL, &t, &eb), MS_EINVAL);
	ck_assert_ptr_null(d);
	ms_disc_free(&d); /* NULL allowed */
}
END_TEST

/* --------------------------------------------------------- with a daemon */

START_TEST(find_and_lose)
{
	tdisc a, b, *ts[2] = {&a, &b};
	const ms_disc_event *e;
	char name[64], want[64];

	new_type();

	snprintf(name, sizeof name, "ms-a-%d", (int)getpid());
	start(&a, 0xa1, 0x11, 1, 7701, name, NULL);
	snprintf(name, sizeof name, "ms-b-%d", (int)getpid());
	start(&b, 0xb2, 0x11, 1, 7702, name, NULL);

	WAIT_FOR(ts, 2,
	         count_ev(&a, MS_DISC_FOUND, b.id) >= 1 &&
	                 count_ev(&b, MS_DISC_FOUND, a.id) >= 1 &&
	                 stats(&a).skip_self == 1 && stats(&b).skip_self == 1);
	ck_assert_int_eq(a.ev[0].kind, MS_DISC_STATE);
	ck_assert_int_eq(a.ev[0].up, 1);
	e = last_ev(&a, MS_DISC_FOUND, b.id);
	ck_assert_uint_eq(e->port, 7702);
	ck_assert_int_eq(e->family, AF_INET);
	ck_assert_str_eq(e->endpoint, "tcp://127.0.0.1:7702");
	ck_assert_str_eq(e->name, name);
	ck_assert_int_gt(e->ifindex, 0);
	e = last_ev(&b, MS_DISC_FOUND, a.id);
	ck_assert_str_eq(e->endpoint, "tcp://127.0.0.1:7701");
	/* never ourselves */
	ck_assert_int_eq(count_ev(&a, MS_DISC_FOUND, a.id), 0);
	ck_assert_int_eq(count_ev(&b, MS_DISC_FOUND, b.id), 0);
	ck_assert_int_eq(a.nwarn, 0);
	ck_assert_int_eq(stats(&a).up, 1);
	WAIT_FOR(ts, 2, stats(&a).published == 1 && stats(&b).published == 1);
	snprintf(want, sizeof want, "ms-a-%d", (int)getpid());
	ck_assert_str_eq(stats(&a).name, want);

	/* b goes: a sees it withdrawn, with last = 1 */
	ms_disc_free(&b.d);
	ck_assert_ptr_null(b.d);
	WAIT_FOR(ts, 1, count_ev(&a, MS_DISC_LOST, b.id) == 1);
	e = last_ev(&a, MS_DISC_LOST, b.id);
	ck_assert_int_eq(e->last, 1);
	ck_assert_str_eq(e->endpoint, "tcp://127.0.0.1:7702");
	ck_assert_uint_eq(stats(&a).lost, 1);
	ms_disc_free(&a.d);
}
END_TEST

START_TEST(skip_foreign)
{
	tdisc a, c, dv, *ts[3] = {&a, &c, &dv};
	char n1[64], n2[64], n3[64];
	ms_disc_stats s;
	ms_test_wait settle;

	new_type();

	snprintf(n1, sizeof n1, "ms-a-%d", (int)getpid());
	snprintf(n2, sizeof n2, "ms-c-%d", (int)getpid());
	snprintf(n3, sizeof n3, "ms-d-%d", (int)getpid());
	start(&a, 0xa1, 0x11, 1, 7711, n1, NULL);
	start(&c, 0xc3, 0x22, 1, 7712, n2, NULL);  /* another network */
	start(&dv, 0xd4, 0x11, 2, 7713, n3, NULL); /* another version */

	WAIT_FOR(ts, 3,
	         stats(&a).skip_net == 1 && stats(&a).skip_version == 1 &&
	                 stats(&a).skip_self == 1);
	/* c sees a and dv as another network; dv sees a as another version
	 * and c as another network (net is checked before v). */
	WAIT_FOR(ts, 3,
	         stats(&c).skip_net == 2 && stats(&dv).skip_net == 1 &&
	                 stats(&dv).skip_version == 1);
	/* Let any stray announcement arrive, then check exact counts. */
	ms_test_wait_start(&settle, 1500);
	while (ms_test_wait_more(&settle))
		pump(ts, 3, 50);
	s = stats(&a);
	ck_assert_uint_eq(s.skip_net, 1);
	ck_assert_uint_eq(s.skip_version, 1);
	ck_assert_uint_eq(s.skip_self, 1);
	ck_assert_uint_eq(s.skip_malformed, 0);
	ck_assert_uint_eq(s.found, 0);
	ck_assert_int_eq(count_ev(&a, MS_DISC_FOUND, NULL), 0);
	ck_assert_int_eq(count_ev(&c, MS_DISC_FOUND, NULL), 0);
	ck_assert_int_eq(count_ev(&dv, MS_DISC_FOUND, NULL), 0);
	ms_disc_free(&dv.d);
	ms_disc_free(&c.d);
	ms_disc_free(&a.d);
}
END_TEST

START_TEST(name_collision)
{
	tdisc e, f, g, *ts[3] = {&e, &f, &g};
	char name[64], alt[80];
	ms_disc_stats se, sf;
	const ms_disc_event *x, *y;

	new_type();

	snprintf(name, sizeof name, "ms-same-%d", (int)getpid());
	snprintf(alt, sizeof alt, "%s #2", name);
	start(&e, 0xe5, 0x11, 1, 7721, name, NULL);
	WAIT_FOR(ts, 1, stats(&e).published == 1);
	start(&f, 0xf6, 0x11, 1, 7722, name, NULL);
	WAIT_FOR(ts, 2, stats(&f).published == 1);
	se = stats(&e);
	sf = stats(&f);
	ck_assert_str_eq(se.name, name);
	ck_assert_str_eq(sf.name, alt);
	ck_assert_uint_eq(se.collisions, 0);
	ck_assert_uint_eq(sf.collisions, 1);

	start(&g, 0x07, 0x11, 1, 7723, NULL, NULL);
	WAIT_FOR(ts, 3,
	         count_ev(&g, MS_DISC_FOUND, e.id) >= 1 &&
	                 count_ev(&g, MS_DISC_FOUND, f.id) >= 1 &&
	                 count_ev(&e, MS_DISC_FOUND, f.id) >= 1 &&
	                 count_ev(&f, MS_DISC_FOUND, e.id) >= 1);
	x = last_ev(&g, MS_DISC_FOUND, e.id);
	y = last_ev(&g, MS_DISC_FOUND, f.id);
	ck_assert_str_eq(x->name, name);
	ck_assert_str_eq(y->name, alt);
	ck_assert_uint_eq(x->port, 7721);
	ck_assert_uint_eq(y->port, 7722);
	ms_disc_free(&g.d);
	ms_disc_free(&f.d);
	ms_disc_free(&e.d);
}
END_TEST

START_TEST(refresh_refinds)
{
	tdisc a, b, *ts[2] = {&a, &b};
	char n1[64], n2[64];
	ms_disc_stats s0;
	int found0;

	new_type();

	snprintf(n1, sizeof n1, "ms-ra-%d", (int)getpid());
	snprintf(n2, sizeof n2, "ms-rb-%d", (int)getpid());
	start(&a, 0xa1, 0x11, 1, 7731, n1, NULL);
	start(&b, 0xb2, 0x11, 1, 7732, n2, NULL);
	WAIT_FOR(ts, 2, count_ev(&a, MS_DISC_FOUND, b.id) == 1);
	s0 = stats(&a);
	found0 = count_ev(&a, MS_DISC_FOUND, b.id);
	ck_assert_int_eq(ms_disc_refresh(a.d), 1);
	WAIT_FOR(ts, 2, count_ev(&a, MS_DISC_FOUND, b.id) == found0 + 1);
	ck_assert_uint_eq(stats(&a).browses, s0.browses + 1);
	/* still there: no LOST, and the skip of ourselves is not recounted */
	pump(ts, 2, 1500);
	ck_assert_int_eq(count_ev(&a, MS_DISC_LOST, NULL), 0);
	ck_assert_uint_eq(stats(&a).skip_self, 1);
	ms_disc_free(&b.d);
	ms_disc_free(&a.d);
}
END_TEST

START_TEST(skip_malformed)
{
	tdisc a, *ts[1] = {&a};
	char n1[64], n2[64];
	char *argv[] = {"avahi-publish-service",
	                "-s",
	                n2,
	                g_type,
	                "7741",
	                "v=1",
	                "id=nothex",
	                "net=0123456789abcdef",
	                NULL};
	pid_t pid;

	new_type();

	snprintf(n1, sizeof n1, "ms-m-%d", (int)getpid());
	snprintf(n2, sizeof n2, "ms-bad-%d", (int)getpid());
	pid = ms_test_spawn(argv, NULL);
	start(&a, 0xa1, 0x11, 1, 7742, n1, NULL);
	WAIT_FOR(ts, 1, stats(&a).skip_malformed == 1);
	ck_assert_int_eq(count_ev(&a, MS_DISC_FOUND, NULL), 0);
	ck_assert_int_eq(ms_test_stop_pid(pid, SIGTERM, WAIT_MS, NULL), 0);
	ms_disc_free(&a.d);
}
END_TEST

/* The real service type, as `avahi-browse -rpt _meshsync._tcp` shows it. */
START_TEST(avahi_browse_sees_us)
{
	tdisc a, *ts[1] = {&a};
	char name[64], cmd[128], line[1024], idtxt[80];
	int seen = 0, lines = 0;
	FILE *p;

	snprintf(name, sizeof name, "ms-browse-%d", (int)getpid());
	start(&a, 0xa1, 0x11, 1, 7751, name, MS_DISC_SERVICE_TYPE);
	WAIT_FOR(ts, 1, stats(&a).published == 1);
	snprintf(idtxt, sizeof idtxt, "\"id=%02x%02x", a.id[0], a.id[1]);
	snprintf(cmd, sizeof cmd, "timeout 10 avahi-browse -rpt %s",
	         MS_DISC_SERVICE_TYPE);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	/* "=;lo;IPv4;ms-browse-123;_meshsync._tcp;local;host;127.0.0.1;7751;
	 *  "net=..." "id=..." "v=1"": avahi-browse resolves with any address
	 * family, so the host's ::1 may come instead of 127.0.0.1 (ENV.md). */
	while (lines++ < 10000 && fgets(line, sizeof line, p) != NULL) {
		if (getenv("MS_TEST_VERBOSE") != NULL)
			fprintf(stderr, "avahi-browse: %s", line);
		if (line[0] == '=' && strstr(line, name) != NULL &&
		    (strstr(line, ";127.0.0.1;7751;") != NULL ||
		     strstr(line, ";::1;7751;") != NULL) &&
		    strstr(line, "\"v=1\"") != NULL &&
		    strstr(line, "\"net=1111111111111111\"") != NULL &&
		    strstr(line, idtxt) != NULL)
			seen = 1;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(seen, "avahi-browse did not list %s with its TXT", name);
	ms_disc_free(&a.d);
}
END_TEST

/* An instance name is any bytes the announcer likes: it reaches the log
 * callback apart from the text (for the node to quote), never inside it. */
START_TEST(names_apart_from_log_text)
{
	tdisc a, b, *ts[2] = {&a, &b};
	char name[64], okname[64];
	int seen = 0;

	new_type();
	snprintf(name, sizeof name, "evil-%d\nerror MS-FAKE x=\"1\"",
	         (int)getpid());
	snprintf(okname, sizeof okname, "ms-ok-%d", (int)getpid());
	start(&a, 0xe1, 0x11, 1, 7761, name, NULL);
	start(&b, 0xe2, 0x11, 1, 7762, okname, NULL);
	WAIT_FOR(ts, 2, count_ev(&b, MS_DISC_FOUND, a.id) >= 1);
	ck_assert_str_eq(last_ev(&b, MS_DISC_FOUND, a.id)->name, name);
	for (int i = 0; i < b.nnamed; i++)
		seen += strcmp(b.named[i], name) == 0;
	ck_assert_int_ge(seen, 1); /* MS-DISC-FOUND about it, name apart */
	ck_assert_int_eq(b.nl_in_msg, 0);
	ck_assert_int_eq(a.nl_in_msg, 0);
	ms_disc_free(&b.d);
	ms_disc_free(&a.d);
}
END_TEST

/* mdns_records: a browser holds at most max_records instances; the rest
 * are neither resolved nor reported, and counted. */
START_TEST(records_bounded)
{
	tdisc p[4], b, *ts[5];
	char name[64];
	int found = 0;

	new_type();
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "ms-p%d-%d", i, (int)getpid());
		start(&p[i], (uint8_t)(0xc0 + i), 0x11, 1, (uint16_t)(7770 + i),
		      name, NULL);
		ts[i] = &p[i];
	}
	g_max_records = 2;
	snprintf(name, sizeof name, "ms-b-%d", (int)getpid());
	start(&b, 0xcf, 0x11, 1, 7779, name, NULL);
	g_max_records = 0;
	ts[4] = &b;
	/* four others and its own service: at most two held */
	WAIT_FOR(ts, 5, stats(&b).records_full >= 3);
	ck_assert_uint_le(stats(&b).records, 2);
	for (int i = 0; i < 4; i++)
		found += count_ev(&b, MS_DISC_FOUND, p[i].id) > 0;
	ck_assert_int_le(found, 2);
	ms_disc_free(&b.d);
	for (int i = 0; i < 4; i++)
		ms_disc_free(&p[i].d);
}
END_TEST

/* Does an avahi-daemon answer on the system bus?  reason says why not. */
static int daemon_answers(char *reason, size_t len)
{
	AvahiSimplePoll *sp = avahi_simple_poll_new();
	AvahiClient *c;
	int error = 0;

	if (sp == NULL) {
		snprintf(reason, len, "avahi_simple_poll_new failed");
		return 0;
	}
	c = avahi_client_new(avahi_simple_poll_get(sp), 0, NULL, NULL, &error);
	if (c == NULL) {
		snprintf(reason, len, "avahi_client_new: %s",
		         avahi_strerror(error));
		avahi_simple_poll_free(sp);
		return 0;
	}
	avahi_client_free(c);
	avahi_simple_poll_free(sp);
	return 1;
}

int main(void)
{
	Suite *s = suite_create("discovery");
	Suite *sd = suite_create("discovery_daemon");
	TCase *tc = tcase_create("txt");
	TCase *td = tcase_create("daemon");
	char reason[256];
	int rc;

	tcase_add_test(tc, txt_good);
	tcase_add_test(tc, txt_bad);
	tcase_add_test(tc, cfg_invalid);
	suite_add_tcase(s, tc);
	rc = ms_test_run(s);
	if (rc != 0)
		return rc;
	if (!daemon_answers(reason, sizeof reason)) {
		printf("SKIP: no avahi-daemon answers on the system bus (%s); "
		       "start one with tools/services.sh start DIR\n",
		       reason);
		return 77;
	}
	tcase_set_timeout(td, 60);
	tcase_add_test(td, find_and_lose);
	tcase_add_test(td, skip_foreign);
	tcase_add_test(td, name_collision);
	tcase_add_test(td, refresh_refinds);
	tcase_add_test(td, skip_malformed);
	tcase_add_test(td, avahi_browse_sees_us);
	tcase_add_test(td, names_apart_from_log_text);
	tcase_add_test(td, records_bounded);
	suite_add_tcase(sd, td);
	return ms_test_run(sd);
}
