/*
 * test_disc_restart.c — discovery while the daemon comes and goes, in a
 * private network namespace ("ms-disc-<pid>-a") with its own dbus-daemon and
 * avahi-daemon (ENV.md recipe: a copy of the system bus config with its own
 * socket, avahi under `unshare -m` with a tmpfs on /run/avahi-daemon,
 * allow-interfaces=lo), so the machine's daemon is never touched.
 *
 * The programs under test are disc_probe processes (net/discovery in a small
 * main) started inside the namespace; they print their events on stdout.
 *  1. probe P starts before the namespace has a bus or a daemon: exactly one
 *     warning, STATE down, and it keeps running;
 *  2. dbus then avahi start: P registers by itself (STATE up, PUBLISHED);
 *     a second probe Q finds P; `avahi-browse -rpt _meshsync._tcp` lists P
 *     with its TXT record;
 *  3. avahi-daemon is killed (SIGKILL, by PID): both probes report STATE
 *     down; avahi is started again: both report STATE up, P publishes again
 *     and Q finds it again, with no restart of either probe;
 *  4. P stops: Q sees it LOST.
 * A second test joins two such hosts (namespaces "ms-disc-<pid>-a"/"-b")
 * with a veth pair, avahi with IPv6 on: a probe browsing IPv6 only finds
 * the other at "tcp://[fe80::…%vA]:port"; one browsing both gets the IPv4
 * and the link-local endpoint, and two LOSTs (last=0, then last=1).
 *
 * Every process is recorded (pid and name) in the test's directory as it is
 * started; the runner-side teardown stops whatever is still alive by PID and
 * deletes the namespace, also when an assertion ended the test early.
 * Without root or network namespaces the suite exits 77 with the reason.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_test.h"
#include "ms_test_host.h"

#ifndef MS_DISC_PROBE
#error "MS_DISC_PROBE (path of disc_probe) must be defined by the build"
#endif

#define WAIT_MS 10000
#define MAXLINES 1024

static char g_dir[400];     /* the test's state dir: pid and namespace lists */
static ms_test_host g_h[2]; /* [0] alone on lo; or [0] and [1] joined by veth */

/* ------------------------------------------------------------------ probes */

typedef struct probe {
	pid_t pid;
	int in, out;
	char part[1024];
	size_t plen;
	int nlines;
	char *lines[MAXLINES];
} probe;

static void probe_start(probe *p, const ms_test_host *h, int idtag, int port,
                        const char *name, int families)
{
	char id[16], po[16], fam[16];
	char *argv[] = {MS_DISC_PROBE, "--id-tag", id,    "--net-tag",
	                "17",          "--port",   po,    "--name",
	                (char *)name,  "--max-s",  "120", "--families",
	                fam,           NULL};

	memset(p, 0, sizeof *p);
	snprintf(id, sizeof id, "%d", idtag);
	snprintf(po, sizeof po, "%d", port);
	snprintf(fam, sizeof fam, "%d", families);
	p->pid = ms_test_host_spawn(h, argv, &p->in, &p->out, "disc_probe");
}

/* Read what the probe printed (without blocking past slice ms). */
static void probe_read(probe *p, int slice)
{
	struct pollfd pf = {.fd = p->out, .events = POLLIN};
	char buf[4096];
	ssize_t n, i;

	if (p->out < 0 || poll(&pf, 1, slice) <= 0)
		return;
	n = read(p->out, buf, sizeof buf);
	if (n <= 0) {
		close(p->out);
		p->out = -1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (p->plen < sizeof p->part - 1)
				p->part[p->plen++] = buf[i];
			continue;
		}
		p->part[p->plen] = '\0';
		if (getenv("MS_TEST_VERBOSE") != NULL)
			fprintf(stderr, "[%d] %s\n", (int)p->pid, p->part);
		if (p->nlines < MAXLINES)
			p->lines[p->nlines++] = strdup(p->part);
		p->plen = 0;
	}
}

/* Lines that start with prefix and contain sub (NULL: any). */
static int probe_count(const probe *p, const char *prefix, const char *sub)
{
	int i, c = 0;

	for (i = 0; i < p->nlines; i++)
		if (p->lines[i] != NULL &&
		    strncmp(p->lines[i], prefix, strlen(prefix)) == 0 &&
		    (sub == NULL || strstr(p->lines[i], sub) != NULL))
			c++;
	return c;
}

/* Close stdin (the probe exits), reap it, free the lines. */
static int probe_stop(probe *p)
{
	int st = -1, ended, i;

	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	MS_WAIT_RESULT(ended, waitpid(p->pid, &st, WNOHANG) != 0, 10000,
	               probe_read(p, 20));
	if (!ended) {
		ms_test_kill_pid(p->pid);
		st = -1;
	}
	if (p->out >= 0)
		close(p->out);
	for (i = 0; i < p->nlines; i++)
		free(p->lines[i]);
	p->nlines = 0;
	return st;
}

/* Read what p (and q, when not NULL) print, up to 25 ms each. */
static void probe_read2(probe *p, probe *q)
{
	probe_read(p, 25);
	if (q != NULL)
		probe_read(q, 25);
}

#define WAIT_FOR2(p, q, cond)                              \
	MS_WAIT_STEP(cond, WAIT_MS, probe_read2((p), (q)), \
	             "timed out waiting for %s", #cond)

/* Does `avahi-browse -rpt _meshsync._tcp` in the namespace list name
 * with our TXT record? */
static int browse_lists(const ms_test_host *h, const char *name, int idtag)
{
	char *argv[] = {"timeout",        "10", "avahi-browse", "-rpt",
	                "_meshsync._tcp", NULL};
	char idtxt[32];
	char *line, *nl;
	ms_test_out r;
	int found = 0;

	snprintf(idtxt, sizeof idtxt, "\"id=%02x%02x%02x", idtag, idtag, idtag);
	/* `timeout 10` inside bounds it; the deadline here is a backstop */
	ms_test_host_run(h, &r, argv, 15000);
	for (line = r.out; line != NULL && *line != '\0' && !found; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		found = line[0] == '=' && strstr(line, name) != NULL &&
		        strstr(line, idtxt) != NULL &&
		        strstr(line, "\"net=1111111111111111\"") != NULL &&
		        strstr(line, "\"v=1\"") != NULL;
	}
	ms_test_out_free(&r);
	return found;
}

/* --------------------------------------------------------------- fixture */

/* Host i in namespace "ms-disc-<pid>-<a+i>", avahi serving ifaces. */
static void host_init(int i, const char *ifaces, int ipv6)
{
	char prefix[32];

	snprintf(prefix, sizeof prefix, "ms-disc-%d", (int)getpid());
	if (ms_test_host_init(&g_h[i], g_dir, prefix, (char)('a' + i), ifaces,
	                      ipv6) != 0) {
		fprintf(stderr, "setup: cannot prepare host %s in %s\n",
		        g_h[i].ns, g_h[i].dir);
		abort();
	}
}

static void setup_dir(void)
{
	char *dir = ms_test_state_dir("discns");

	snprintf(g_dir, sizeof g_dir, "%s", dir);
	free(dir);
}

/* Runs in the runner process before the test (unchecked fixture): one
 * host on its loopback. */
static void setup_lo(void)
{
	setup_dir();
	host_init(0, "lo", 0);
}

/* Two hosts joined by a veth pair vA <-> vB, IPv4 and IPv6 (the kernel
 * gives each end a link-local fe80:: address once it is up). */
static void setup_veth(void)
{
	setup_dir();
	host_init(0, "vA", 1);
	host_init(1, "vB", 1);
	if (ms_test_host_veth(&g_h[0], "vA", "10.99.0.1/24", &g_h[1], "vB",
	                      "10.99.0.2/24") != 0) {
		fprintf(stderr, "setup: cannot make the veth pair\n");
		abort();
	}
}

/* Runs in the runner process after the test, however it ended: stop every
 * recorded process that still runs (newest first), delete the namespaces. */
static void teardown(void)
{
	ms_test_track_cleanup(g_dir);
	ms_test_rmdir(g_dir);
}

/* ----------------------------------------------------------------- tests */

START_TEST(late_start_and_restart)
{
	ms_test_host *h = &g_h[0];
	probe p, q;
	probe *none = NULL;
	char np[64], nq[64];
	int st;

	snprintf(np, sizeof np, "probe-p-%d", (int)getpid());
	snprintf(nq, sizeof nq, "probe-q-%d", (int)getpid());

	/* 1. no bus, no daemon: one warning, STATE down, still running */
	probe_start(&p, h, 0x11, 7801, np, 0);
	WAIT_FOR2(&p, none,
	          probe_count(&p, "STATE down", NULL) == 1 &&
	                  probe_count(&p, "LOG 4 MS-DISC-NODAEMON", NULL) == 1);

	/* 2. the bus, then the daemon: P registers by itself */
	ck_assert_msg(ms_test_host_start_dbus(h, WAIT_MS) == 0,
	              "dbus-daemon made no socket");
	ms_test_host_start_avahi(h);
	WAIT_FOR2(&p, none,
	          probe_count(&p, "STATE up", NULL) == 1 &&
	                  probe_count(&p, "LOG 6 MS-DISC-PUBLISHED", np) == 1);
	ck_assert_int_eq(probe_count(&p, "LOG 4", NULL), 1); /* one warning */
	ck_assert_int_eq(probe_count(&p, "LOG 3", NULL), 0); /* no errors */
	ck_assert_int_eq(probe_count(&p, "STATE down", NULL), 1);

	probe_start(&q, h, 0x22, 7802, nq, 0);
	WAIT_FOR2(&p, &q,
	          probe_count(&q, "FOUND", np) == 1 &&
	                  probe_count(&p, "FOUND", nq) == 1);
	ck_assert_int_eq(probe_count(&q, "FOUND", "tcp://127.0.0.1:7801"), 1);
	ck_assert_msg(browse_lists(h, np, 0x11), "avahi-browse did not list P");

	/* 3. the daemon dies and comes back */
	ms_test_host_kill_avahi(h);
	WAIT_FOR2(&p, &q,
	          probe_count(&p, "STATE down", NULL) == 2 &&
	                  probe_count(&q, "STATE down", NULL) == 1 &&
	                  probe_count(&p, "LOG 4 MS-DISC-DAEMON-LOST", NULL) ==
	                          1);
	ms_test_host_start_avahi(h);
	WAIT_FOR2(&p, &q,
	          probe_count(&p, "STATE up", NULL) == 2 &&
	                  probe_count(&q, "STATE up", NULL) == 2 &&
	                  probe_count(&p, "LOG 6 MS-DISC-PUBLISHED", np) == 2 &&
	                  probe_count(&q, "FOUND", np) == 2);
	ck_assert_int_eq(probe_count(&p, "LOG 5 MS-DISC-DAEMON-UP", NULL), 2);
	ck_assert_msg(browse_lists(h, np, 0x11),
	              "avahi-browse did not list P after the restart");
	ck_assert_int_eq(probe_count(&p, "LOG 3", NULL), 0);

	/* 4. P stops: Q loses it */
	st = probe_stop(&p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "probe P ended with status 0x%x", st);
	WAIT_FOR2(&q, none, probe_count(&q, "LOST", "last=1") == 1);
	st = probe_stop(&q);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "probe Q ended with status 0x%x", st);
	ms_test_host_stop(h);
}
END_TEST

/* Two hosts over a veth pair: A asks for IPv6 only and must get B's
 * link-local address with the zone (its own interface); B asks for both
 * families and gets A over IPv4 and IPv6, then loses both when A stops. */
START_TEST(veth_ipv6_link_local)
{
	const ms_test_host *ha = &g_h[0], *hb = &g_h[1];
	probe a, b;
	char na[64], nb[64];
	const char *fe80_a = "tcp://[fe80::", *zone_a = "%vA]:7902";
	int i, st;

	snprintf(na, sizeof na, "veth-a-%d", (int)getpid());
	snprintf(nb, sizeof nb, "veth-b-%d", (int)getpid());
	for (i = 0; i < 2; i++) {
		ck_assert_msg(ms_test_host_start_dbus(&g_h[i], WAIT_MS) == 0,
		              "dbus-daemon made no socket");
		ms_test_host_start_avahi(&g_h[i]);
	}
	probe_start(&a, ha, 0x33, 7901, na, 2 /* MS_DISC_INET6 */);
	probe_start(&b, hb, 0x44, 7902, nb, 3 /* both */);
	WAIT_FOR2(&a, &b,
	          probe_count(&a, "FOUND", nb) >= 1 &&
	                  probe_count(&b, "FOUND", "tcp://10.99.0.1:7901") ==
	                          1 &&
	                  probe_count(&b, "FOUND", "%vB]:7901") == 1);
	/* A asked for IPv6 only: every endpoint it got is link-local on vA */
	ck_assert_int_eq(probe_count(&a, "FOUND", zone_a),
	                 probe_count(&a, "FOUND", NULL));
	ck_assert_int_eq(probe_count(&a, "FOUND", fe80_a),
	                 probe_count(&a, "FOUND", NULL));
	ck_assert_int_eq(probe_count(&a, "FOUND", "10.99.0."), 0);
	ck_assert_int_eq(probe_count(&a, "LOG 3", NULL), 0);
	ck_assert_int_eq(probe_count(&b, "LOG 3", NULL), 0);

	/* A goes: B loses both of A's endpoints, and only the second LOST
	 * says that nothing of A is left */
	/* probe_stop frees every line read; the analyzer loses their count
	 * across the bounded read loop inside it */
	st = probe_stop(&a); // NOLINT(clang-analyzer-unix.Malloc)
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "probe A ended with status 0x%x", st);
	WAIT_FOR2(&b, (probe *)NULL, probe_count(&b, "LOST", NULL) == 2);
	ck_assert_int_eq(probe_count(&b, "LOST", "last=0"), 1);
	ck_assert_int_eq(probe_count(&b, "LOST", "last=1"), 1);
	for (i = 0; i < b.nlines; i++)
		if (strncmp(b.lines[i], "LOST", 4) == 0) {
			ck_assert_msg(strstr(b.lines[i], "last=0") != NULL,
			              "the first LOST must not be the last");
			break;
		}
	st = probe_stop(&b);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "probe B ended with status 0x%x", st);
	for (i = 0; i < 2; i++)
		ms_test_host_stop(&g_h[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("disc_restart");
	TCase *tc = tcase_create("restart");
	TCase *tv = tcase_create("veth");

	if (ms_test_netns_skip("test_disc_restart",
	                       "dbus-daemon avahi-daemon "
	                       "avahi-browse unshare ip timeout"))
		return 77;
	tcase_add_unchecked_fixture(tc, setup_lo, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, late_start_and_restart);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(tv, setup_veth, teardown);
	tcase_set_timeout(tv, 120);
	tcase_add_test(tv, veth_ipv6_link_local);
	suite_add_tcase(s, tv);
	return ms_test_run(s);
}
