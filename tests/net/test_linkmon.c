/*
 * test_linkmon.c — net/linkmon against the real kernel, inside a private
 * network namespace (unshare(CLONE_NEWNET) in each forked test), so the
 * machine's own interfaces are never touched: lo up and down, IPv4 and IPv6
 * addresses added and removed with `ip`, a veth pair appearing, and a burst
 * of events read in bounded slices.
 *
 * Needs root (CAP_SYS_ADMIN) for the namespace and `ip` from iproute2:
 * without them the suite exits 77 (CTest SKIP) and prints why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linkmon.h"
#include "ms_test.h"

#define WAIT_MS 10000
#define MAXEV 512

typedef struct rec {
	int n;
	ms_linkmon_event ev[MAXEV];
} rec;

static void on_ev(void *ctx, const ms_linkmon_event *ev)
{
	rec *r = ctx;

	if (r->n < MAXEV)
		r->ev[r->n++] = *ev;
}

/* Run `ip ARGS...` (up to 7, NULL-terminated) and require exit status 0. */
static void ip(const char *a1, const char *a2, const char *a3, const char *a4,
               const char *a5, const char *a6, const char *a7)
{
	ms_test_out r;

	ms_test_cmd_runl(&r, NULL, "ip", a1, a2, a3, a4, a5, a6, a7,
	                 (char *)NULL);
	ck_assert_msg(r.code == 0, "ip %s %s %s %s ... failed (exit %d): %s",
	              a1, a2, a3, a4 != NULL ? a4 : "", r.code, r.err);
	ms_test_out_free(&r);
}

static int find(const rec *r, ms_linkmon_kind k, const char *ifname, int family,
                const char *addr)
{
	int i, c = 0;

	for (i = 0; i < r->n; i++)
		if (r->ev[i].kind == k &&
		    (ifname == NULL || strcmp(r->ev[i].ifname, ifname) == 0) &&
		    (family == 0 || r->ev[i].family == family) &&
		    (addr == NULL || strcmp(r->ev[i].addr, addr) == 0))
			c++;
	return c;
}

static void pump(ms_linkmon *lm, int slice)
{
	struct pollfd p = {.fd = ms_linkmon_fd(lm), .events = POLLIN};

	if (poll(&p, 1, slice) > 0)
		ms_linkmon_process(lm, 0);
}

#define WAIT_FOR(lm, cond)                          \
	MS_WAIT_STEP(cond, WAIT_MS, pump((lm), 50), \
	             "timed out waiting for %s", #cond)

static void private_netns(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s",
	              strerror(errno));
}

START_TEST(lo_and_addresses)
{
	ms_linkmon *lm = NULL;
	ms_errbuf eb;
	rec r;
	int i;

	memset(&r, 0, sizeof r);
	private_netns();
	MS_PASS_EB(ms_linkmon_new(&lm, on_ev, &r, &eb), &eb);
	ck_assert_int_ge(ms_linkmon_fd(lm), 0);
	ck_assert_int_eq(ms_linkmon_process(lm, 0), 0); /* nothing yet */

	ip("link", "set", "lo", "up", NULL, NULL, NULL);
	WAIT_FOR(lm, find(&r, MS_LINKMON_LINK_UP, "lo", 0, NULL) == 1 &&
	                     find(&r, MS_LINKMON_ADDR_ADD, "lo", AF_INET,
	                          "127.0.0.1") == 1);
	for (i = 0; i < r.n; i++)
		if (r.ev[i].kind == MS_LINKMON_LINK_UP) {
			ck_assert_int_eq(r.ev[i].ifindex,
			                 (int)if_nametoindex("lo"));
			ck_assert_uint_ne(r.ev[i].flags & IFF_UP, 0);
		}

	ip("addr", "add", "127.0.0.2/8", "dev", "lo", NULL, NULL);
	WAIT_FOR(lm, find(&r, MS_LINKMON_ADDR_ADD, "lo", AF_INET,
	                  "127.0.0.2") == 1);
	for (i = 0; i < r.n; i++)
		if (strcmp(r.ev[i].addr, "127.0.0.2") == 0)
			ck_assert_uint_eq(r.ev[i].prefixlen, 8);

	ip("-6", "addr", "add", "fd00:99::1/64", "dev", "lo", "nodad");
	WAIT_FOR(lm, find(&r, MS_LINKMON_ADDR_ADD, "lo", AF_INET6,
	                  "fd00:99::1") == 1);

	ip("addr", "del", "127.0.0.2/8", "dev", "lo", NULL, NULL);
	WAIT_FOR(lm, find(&r, MS_LINKMON_ADDR_DEL, "lo", AF_INET,
	                  "127.0.0.2") == 1);

	ip("link", "set", "lo", "down", NULL, NULL, NULL);
	WAIT_FOR(lm, find(&r, MS_LINKMON_LINK_DOWN, "lo", 0, NULL) == 1);
	/* up once, down once: the many NEWLINKs in between are not events */
	ck_assert_int_eq(find(&r, MS_LINKMON_LINK_UP, NULL, 0, NULL), 1);
	ms_linkmon_free(&lm);
	ck_assert_ptr_null(lm);
	ms_linkmon_free(&lm);
}
END_TEST

START_TEST(veth_appears)
{
	ms_linkmon *lm = NULL;
	ms_errbuf eb;
	rec r;

	memset(&r, 0, sizeof r);
	private_netns();
	MS_PASS_EB(ms_linkmon_new(&lm, on_ev, &r, &eb), &eb);
	ip("link", "add", "vt0", "type", "veth", "peer", "vt1");
	/* new and down: reported once as down (first sight) */
	WAIT_FOR(lm,
	         find(&r, MS_LINKMON_LINK_DOWN, "vt0", 0, NULL) >= 1 &&
	                 find(&r, MS_LINKMON_LINK_DOWN, "vt1", 0, NULL) >= 1);
	ip("link", "set", "vt0", "up", NULL, NULL, NULL);
	ip("link", "set", "vt1", "up", NULL, NULL, NULL);
	ip("addr", "add", "10.99.0.1/24", "dev", "vt0", NULL, NULL);
	WAIT_FOR(lm,
	         find(&r, MS_LINKMON_LINK_UP, "vt0", 0, NULL) == 1 &&
	                 find(&r, MS_LINKMON_LINK_UP, "vt1", 0, NULL) == 1 &&
	                 find(&r, MS_LINKMON_ADDR_ADD, "vt0", AF_INET,
	                      "10.99.0.1") == 1);
	ip("link", "del", "vt0", NULL, NULL, NULL, NULL);
	/* deleting one end removes both; the address goes with it */
	WAIT_FOR(lm,
	         find(&r, MS_LINKMON_ADDR_DEL, NULL, AF_INET, "10.99.0.1") ==
	                         1 &&
	                 find(&r, MS_LINKMON_LINK_DOWN, "vt0", 0, NULL) >= 2 &&
	                 find(&r, MS_LINKMON_LINK_DOWN, "vt1", 0, NULL) >= 2);
	ms_linkmon_free(&lm);
}
END_TEST

/* Many events, read in slices: each call reads at most `budget`
 * datagrams, and the fd stays readable until all are read. */
START_TEST(bounded_reads)
{
	ms_linkmon *lm = NULL;
	ms_errbuf eb;
	ms_linkmon_stats st;
	struct pollfd p;
	char a[32];
	rec r;
	int i, calls = 0;

	memset(&r, 0, sizeof r);
	private_netns();
	ip("link", "set", "lo", "up", NULL, NULL, NULL);
	MS_PASS_EB(ms_linkmon_new(&lm, on_ev, &r, &eb), &eb);
	for (i = 0; i < 40; i++) {
		snprintf(a, sizeof a, "127.1.0.%d/8", i + 1);
		ip("addr", "add", a, "dev", "lo", NULL, NULL);
	}
	p.fd = ms_linkmon_fd(lm);
	p.events = POLLIN;
	for (calls = 0; calls < 100; calls++) {
		p.revents = 0;
		if (poll(&p, 1, 2000) <= 0)
			break;
		ck_assert_int_le(ms_linkmon_process(lm, 3), 3);
		if (find(&r, MS_LINKMON_ADDR_ADD, "lo", AF_INET, NULL) == 40)
			break;
	}
	ck_assert_int_eq(find(&r, MS_LINKMON_ADDR_ADD, "lo", AF_INET, NULL),
	                 40);
	ck_assert_int_ge(calls, 40 / 3);
	ms_linkmon_stats_get(lm, &st);
	ck_assert_uint_eq(st.overruns, 0);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_ge(st.datagrams, 40);
	ms_linkmon_free(&lm);
}
END_TEST

/* Can this process make a network namespace?  Checked in a child so the
 * test runner itself stays where it is. */
static int netns_ok(char *why, size_t len)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 ? 0 : 10 + (errno & 0x3f));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		snprintf(why, len, "unshare(CLONE_NEWNET): %s",
		         WIFEXITED(st) && WEXITSTATUS(st) >= 10
		                 ? strerror(WEXITSTATUS(st) - 10)
		                 : "child failed");
		return 0;
	}
	if (system("ip -V >/dev/null 2>&1") != 0) {
		snprintf(why, len, "`ip` (iproute2) not found");
		return 0;
	}
	return 1;
}

int main(void)
{
	Suite *s = suite_create("linkmon");
	TCase *tc = tcase_create("netns");
	char why[256];

	if (!netns_ok(why, sizeof why)) {
		printf("SKIP: cannot create a network namespace (%s); "
		       "test_linkmon needs root\n",
		       why);
		return 77;
	}
	if (!ms_test_fork_mode()) {
		/* each test moves its process into a new namespace */
		printf("SKIP: test_linkmon needs Check's fork mode\n");
		return 77;
	}
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lo_and_addresses);
	tcase_add_test(tc, veth_appears);
	tcase_add_test(tc, bounded_reads);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
