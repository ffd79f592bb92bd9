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
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_test.h"

#ifndef MS_DISC_PROBE
#error "MS_DISC_PROBE (path of disc_probe) must be defined by the build"
#endif

#define WAIT_MS 10000
#define MAXLINES 1024

/* One simulated host: a network namespace with its own bus and daemon. */
typedef struct host {
	char ns[64];   /* network namespace name */
	char dir[480]; /* its files: bus socket, bus.conf, avahi.conf */
	char bus[700]; /* DBUS_SYSTEM_BUS_ADDRESS value */
} host;

static char g_dir[400]; /* the test's dir: pid list, namespace list, hosts */
static host g_h[2];     /* [0] alone on lo; or [0] and [1] joined by veth */
static int g_nh;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------- processes */

/* Remember pid (and its program name, checked before it is ever killed, in
 * case the pid was reused) so the teardown can stop it. */
static void track(pid_t pid, const char *comm)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/pids", g_dir);
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%d %s\n", (int)pid, comm);
	fclose(f);
}

static int comm_is(pid_t pid, const char *comm)
{
	char path[64], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strncmp(buf, comm, 15) == 0; /* comm is cut at 15 bytes */
}

/* Stop pid: SIGTERM, up to 5 s, then SIGKILL; reap it if it is ours. */
static void stop_pid(pid_t pid, int sig)
{
	int64_t dl = now_ms() + 5000;
	int st;

	if (kill(pid, sig) != 0)
		return;
	while (now_ms() < dl) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		if (kill(pid, 0) != 0)
			return;
		poll(NULL, 0, 20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/*
 * Fork and exec argv inside the namespace (`ip netns exec`, which execs,
 * so the pid is the program's own).  in/out: pipes for its stdin/stdout
 * when non-NULL (otherwise /dev/null).  The bus address is always set.
 */
static pid_t spawn_ns(const host *h, const char *const *argv, int *in,
                      int *out, const char *comm)
{
	const char *full[24];
	int pin[2] = {-1, -1}, pout[2] = {-1, -1};
	pid_t pid;
	int i, n = 0;

	full[n++] = "ip";
	full[n++] = "netns";
	full[n++] = "exec";
	full[n++] = h->ns;
	for (i = 0; argv[i] != NULL && n < 23; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	if (in != NULL)
		ck_assert_int_eq(pipe2(pin, O_CLOEXEC), 0);
	if (out != NULL)
		ck_assert_int_eq(pipe2(pout, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(in != NULL ? pin[0] : nul, 0);
		dup2(out != NULL ? pout[1] : nul, 1);
		if (getenv("MS_TEST_VERBOSE") == NULL)
			dup2(nul, 2);
		setenv("DBUS_SYSTEM_BUS_ADDRESS", h->bus, 1);
		execvp("ip", (char *const *)full);
		_exit(127);
	}
	track(pid, comm);
	if (in != NULL) {
		close(pin[0]);
		*in = pin[1];
	}
	if (out != NULL) {
		close(pout[1]);
		*out = pout[0];
	}
	return pid;
}

/* Run a command to completion (bounded by `timeout` inside), collecting
 * stdout into buf; returns its exit status. */
static int run_ns(const host *h, const char *const *argv, char *buf,
                  size_t cap)
{
	int out = -1, st = 0;
	size_t len = 0;
	int64_t dl = now_ms() + 15000;
	struct pollfd p;
	ssize_t n;
	pid_t pid = spawn_ns(h, argv, NULL, &out, "ip");

	buf[0] = '\0';
	while (now_ms() < dl) {
		p.fd = out;
		p.events = POLLIN;
		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(out, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (len == cap - 1)
			break;
	}
	close(out);
	/* `timeout 10` inside bounds it; the deadline here is a backstop */
	dl = now_ms() + 15000;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() >= dl) {
			stop_pid(pid, SIGKILL);
			return -1;
		}
		poll(NULL, 0, 20);
	}
	return st;
}

/* ------------------------------------------------------------------ probes */

typedef struct probe {
	pid_t pid;
	int in, out;
	char part[1024];
	size_t plen;
	int nlines;
	char *lines[MAXLINES];
} probe;

static void probe_start(probe *p, const host *h, int idtag, int port,
                        const char *name, int families)
{
	char id[16], po[16], fam[16];
	const char *argv[] = {MS_DISC_PROBE, "--id-tag", id, "--net-tag", "17",
	                      "--port", po, "--name", name, "--max-s", "120",
	                      "--families", fam, NULL};

	memset(p, 0, sizeof *p);
	snprintf(id, sizeof id, "%d", idtag);
	snprintf(po, sizeof po, "%d", port);
	snprintf(fam, sizeof fam, "%d", families);
	p->pid = spawn_ns(h, argv, &p->in, &p->out, "disc_probe");
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
	int64_t dl = now_ms() + 10000;
	int st = -1, i;

	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	while (now_ms() < dl && waitpid(p->pid, &st, WNOHANG) == 0)
		probe_read(p, 20);
	if (waitpid(p->pid, &st, WNOHANG) == 0) {
		stop_pid(p->pid, SIGKILL);
		st = -1;
	}
	if (p->out >= 0)
		close(p->out);
	for (i = 0; i < p->nlines; i++)
		free(p->lines[i]);
	p->nlines = 0;
	return st;
}

#define WAIT_FOR2(p, q, cond)                                                 \
	do {                                                                  \
		int64_t dl_ = now_ms() + WAIT_MS;                             \
		while (!(cond) && now_ms() < dl_) {                           \
			probe_read((p), 25);                                  \
			if ((q) != NULL)                                      \
				probe_read((q), 25);                          \
		}                                                             \
		ck_assert_msg((cond), "timed out waiting for %s", #cond);     \
	} while (0)

/* ------------------------------------------------------------- daemons */

static pid_t start_dbus(const host *h)
{
	char conf[600], sock[600];
	const char *argv[] = {"dbus-daemon", conf, "--nofork", "--nopidfile",
	                      NULL};
	struct stat sb;
	int64_t dl;
	pid_t pid;

	snprintf(conf, sizeof conf, "--config-file=%s/bus.conf", h->dir);
	snprintf(sock, sizeof sock, "%s/bus", h->dir);
	pid = spawn_ns(h, argv, NULL, NULL, "dbus-daemon");
	dl = now_ms() + WAIT_MS;
	while (stat(sock, &sb) != 0 && now_ms() < dl)
		poll(NULL, 0, 20);
	ck_assert_msg(stat(sock, &sb) == 0, "dbus-daemon made no socket");
	return pid;
}

/* avahi-daemon with a private /run/avahi-daemon (its pid file and socket)
 * so it does not meet the machine's daemon; every exec keeps the pid. */
static pid_t start_avahi(const host *h)
{
	char script[1024];
	const char *argv[] = {"unshare", "-m", "--propagation", "private",
	                      "sh", "-c", script, NULL};

	snprintf(script, sizeof script,
	         "mkdir -p /run/avahi-daemon && "
	         "mount -t tmpfs tmpfs /run/avahi-daemon && "
	         "exec avahi-daemon --no-chroot --no-rlimits -f %s/avahi.conf",
	         h->dir);
	return spawn_ns(h, argv, NULL, NULL, "avahi-daemon");
}

/* Does `avahi-browse -rpt _meshsync._tcp` in the namespace list name
 * with our TXT record? */
static int browse_lists(const host *h, const char *name, int idtag)
{
	static char out[65536];
	const char *argv[] = {"timeout", "10", "avahi-browse", "-rpt",
	                      "_meshsync._tcp", NULL};
	char idtxt[32];
	char *line, *nl;

	snprintf(idtxt, sizeof idtxt, "\"id=%02x%02x%02x", idtag, idtag,
	         idtag);
	run_ns(h, argv, out, sizeof out);
	for (line = out; line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		if (line[0] == '=' && strstr(line, name) != NULL &&
		    strstr(line, idtxt) != NULL &&
		    strstr(line, "\"net=1111111111111111\"") != NULL &&
		    strstr(line, "\"v=1\"") != NULL)
			return 1;
	}
	return 0;
}

/* --------------------------------------------------------------- fixture */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* The system bus config with our own socket, no pid file, and the policy
 * directory made absolute (avahi's bus policy lives there). */
static int write_bus_conf(const host *h)
{
	char line[1024], out[700];
	FILE *in, *f;

	in = fopen("/usr/share/dbus-1/system.conf", "r");
	if (in == NULL)
		return -1;
	snprintf(out, sizeof out, "%s/bus.conf", h->dir);
	f = fopen(out, "w");
	if (f == NULL) {
		fclose(in);
		return -1;
	}
	while (fgets(line, sizeof line, in) != NULL) {
		if (strstr(line, "<listen>") != NULL)
			fprintf(f, "  <listen>unix:path=%s/bus</listen>\n",
			        h->dir);
		else if (strstr(line, "<pidfile>") != NULL ||
		         strstr(line, "<fork/>") != NULL)
			continue;
		else if (strstr(line, "<includedir>system.d</includedir>"))
			fputs("  <includedir>/usr/share/dbus-1/system.d"
			      "</includedir>\n", f);
		else
			fputs(line, f);
	}
	fclose(in);
	return fclose(f);
}

/* Run `ip ARGS` (a shell line) and return system()'s status. */
static int ip_cmd(const char *fmt, const char *a, const char *b)
	__attribute__((format(printf, 1, 0)));
static int ip_cmd(const char *fmt, const char *a, const char *b)
{
	char cmd[1400];
	int n;

	memcpy(cmd, "ip ", 3);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = snprintf(cmd + 3, sizeof cmd - 3, fmt, a, b);
#pragma GCC diagnostic pop
	if (n < 0 || (size_t)n >= sizeof cmd - 3)
		return -1;
	return system(cmd);
}

/* Note a namespace before creating it, so the teardown deletes it. */
static int add_netns(const char *ns)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/netns", g_dir);
	f = fopen(path, "a");
	if (f == NULL)
		return -1;
	fprintf(f, "%s\n", ns);
	fclose(f);
	if (ip_cmd("netns add %s", ns, "") != 0 ||
	    ip_cmd("netns exec %s ip link set lo up", ns, "") != 0)
		return -1;
	return 0;
}

/* Host i: its dir, bus config and an avahi config serving `ifaces`. */
static void host_init(int i, const char *ifaces, int ipv6)
{
	host *h = &g_h[i];
	char conf[1024], path[700];

	snprintf(h->ns, sizeof h->ns, "ms-disc-%d-%c", (int)getpid(), 'a' + i);
	snprintf(h->dir, sizeof h->dir, "%s/%c", g_dir, 'a' + i);
	snprintf(h->bus, sizeof h->bus, "unix:path=%s/%c/bus", g_dir, 'a' + i);
	snprintf(conf, sizeof conf,
	         "[server]\nhost-name=ms-ns-%d-%c\nuse-ipv4=yes\nuse-ipv6=%s\n"
	         "allow-interfaces=%s\nratelimit-interval-usec=1000000\n"
	         "ratelimit-burst=1000\n[wide-area]\nenable-wide-area=no\n"
	         "[publish]\npublish-hinfo=no\npublish-workstation=no\n"
	         "[reflector]\nenable-reflector=no\n", (int)getpid(), 'a' + i,
	         ipv6 ? "yes" : "no", ifaces);
	snprintf(path, sizeof path, "%s/avahi.conf", h->dir);
	/* avahi-daemon drops to its own user before it connects to the bus:
	 * the socket's directory must be searchable by it */
	if (mkdir(h->dir, 0755) != 0 || chmod(h->dir, 0755) != 0 ||
	    write_file(path, conf) != 0 || write_bus_conf(h) != 0 ||
	    add_netns(h->ns) != 0) {
		fprintf(stderr, "setup: cannot prepare host %s in %s\n", h->ns,
		        h->dir);
		abort();
	}
	g_nh = i + 1;
}

static void setup_dir(void)
{
	char *dir = ms_test_tmpdir("discns");

	snprintf(g_dir, sizeof g_dir, "%s", dir);
	free(dir);
	chmod(g_dir, 0755);
	g_nh = 0;
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
	if (ip_cmd("-n %s link add vA type veth peer name vB netns %s",
	           g_h[0].ns, g_h[1].ns) != 0 ||
	    ip_cmd("-n %s addr add 10.99.0.1/24 dev vA%s", g_h[0].ns, "") ||
	    ip_cmd("-n %s addr add 10.99.0.2/24 dev vB%s", g_h[1].ns, "") ||
	    ip_cmd("-n %s link set vA up%s", g_h[0].ns, "") != 0 ||
	    ip_cmd("-n %s link set vB up%s", g_h[1].ns, "") != 0) {
		fprintf(stderr, "setup: cannot make the veth pair\n");
		abort();
	}
}

/* Runs in the runner process after the test, however it ended: stop every
 * recorded process that still runs (newest first), delete the namespaces. */
static void teardown(void)
{
	char path[600], ns[64];
	pid_t pids[64];
	char comms[64][32];
	int n = 0, pid;
	FILE *f;

	snprintf(path, sizeof path, "%s/pids", g_dir);
	f = fopen(path, "r");
	while (f != NULL && n < 64 &&
	       fscanf(f, "%d %31s", &pid, comms[n]) == 2)
		pids[n++] = (pid_t)pid;
	if (f != NULL)
		fclose(f);
	while (n-- > 0)
		if (comm_is(pids[n], comms[n]))
			stop_pid(pids[n], SIGTERM);
	snprintf(path, sizeof path, "%s/netns", g_dir);
	f = fopen(path, "r");
	for (n = 0; f != NULL && n < 8 && fscanf(f, "%63s", ns) == 1; n++)
		ip_cmd("netns del %s 2>/dev/null%s", ns, "");
	if (f != NULL)
		fclose(f);
	ms_test_rmdir(g_dir);
}

/* ----------------------------------------------------------------- tests */

START_TEST(late_start_and_restart)
{
	const host *h = &g_h[0];
	probe p, q;
	probe *none = NULL;
	pid_t dbus, avahi;
	char np[64], nq[64];
	int st;

	snprintf(np, sizeof np, "probe-p-%d", (int)getpid());
	snprintf(nq, sizeof nq, "probe-q-%d", (int)getpid());

	/* 1. no bus, no daemon: one warning, STATE down, still running */
	probe_start(&p, h, 0x11, 7801, np, 0);
	WAIT_FOR2(&p, none, probe_count(&p, "STATE down", NULL) == 1 &&
	                    probe_count(&p, "LOG 4 MS-DISC-NODAEMON",
	                                NULL) == 1);

	/* 2. the bus, then the daemon: P registers by itself */
	dbus = start_dbus(h);
	avahi = start_avahi(h);
	WAIT_FOR2(&p, none, probe_count(&p, "STATE up", NULL) == 1 &&
	                    probe_count(&p, "LOG 6 MS-DISC-PUBLISHED",
	                                np) == 1);
	ck_assert_int_eq(probe_count(&p, "LOG 4", NULL), 1); /* one warning */
	ck_assert_int_eq(probe_count(&p, "LOG 3", NULL), 0); /* no errors */
	ck_assert_int_eq(probe_count(&p, "STATE down", NULL), 1);

	probe_start(&q, h, 0x22, 7802, nq, 0);
	WAIT_FOR2(&p, &q, probe_count(&q, "FOUND", np) == 1 &&
	                  probe_count(&p, "FOUND", nq) == 1);
	ck_assert_int_eq(probe_count(&q, "FOUND", "tcp://127.0.0.1:7801"), 1);
	ck_assert_msg(browse_lists(h, np, 0x11), "avahi-browse did not list P");

	/* 3. the daemon dies and comes back */
	stop_pid(avahi, SIGKILL);
	WAIT_FOR2(&p, &q, probe_count(&p, "STATE down", NULL) == 2 &&
	                  probe_count(&q, "STATE down", NULL) == 1 &&
	                  probe_count(&p, "LOG 4 MS-DISC-DAEMON-LOST",
	                              NULL) == 1);
	avahi = start_avahi(h);
	WAIT_FOR2(&p, &q, probe_count(&p, "STATE up", NULL) == 2 &&
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
	stop_pid(avahi, SIGTERM);
	stop_pid(dbus, SIGTERM);
}
END_TEST

/* Two hosts over a veth pair: A asks for IPv6 only and must get B's
 * link-local address with the zone (its own interface); B asks for both
 * families and gets A over IPv4 and IPv6, then loses both when A stops. */
START_TEST(veth_ipv6_link_local)
{
	const host *ha = &g_h[0], *hb = &g_h[1];
	pid_t dbus[2], avahi[2];
	probe a, b;
	char na[64], nb[64];
	const char *fe80_a = "tcp://[fe80::", *zone_a = "%vA]:7902";
	int i, st;

	snprintf(na, sizeof na, "veth-a-%d", (int)getpid());
	snprintf(nb, sizeof nb, "veth-b-%d", (int)getpid());
	for (i = 0; i < 2; i++) {
		dbus[i] = start_dbus(&g_h[i]);
		avahi[i] = start_avahi(&g_h[i]);
	}
	probe_start(&a, ha, 0x33, 7901, na, 2 /* MS_DISC_INET6 */);
	probe_start(&b, hb, 0x44, 7902, nb, 3 /* both */);
	WAIT_FOR2(&a, &b, probe_count(&a, "FOUND", nb) >= 1 &&
	                  probe_count(&b, "FOUND", "tcp://10.99.0.1:7901") == 1 &&
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
	st = probe_stop(&a);
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
	for (i = 0; i < 2; i++) {
		stop_pid(avahi[i], SIGTERM);
		stop_pid(dbus[i], SIGTERM);
	}
}
END_TEST

/* Can we make namespaces and are the daemons installed?  why: the reason. */
static int can_run(char *why, size_t len)
{
	char cmd[128];
	int ok;

	if (geteuid() != 0) {
		snprintf(why, len, "not root (network namespaces need root)");
		return 0;
	}
	if (system("command -v dbus-daemon avahi-daemon avahi-browse unshare "
	           "ip timeout >/dev/null 2>&1") != 0) {
		snprintf(why, len, "dbus-daemon, avahi-daemon, avahi-utils, "
		         "util-linux or iproute2 missing");
		return 0;
	}
	snprintf(cmd, sizeof cmd, "ip netns add ms-disc-probe-%d 2>/dev/null",
	         (int)getpid());
	ok = system(cmd) == 0;
	snprintf(cmd, sizeof cmd, "ip netns del ms-disc-probe-%d 2>/dev/null",
	         (int)getpid());
	if (ok)
		ok = system(cmd) == 0;
	if (!ok)
		snprintf(why, len, "`ip netns add` failed: this machine cannot "
		         "create network namespaces");
	return ok;
}

int main(void)
{
	Suite *s = suite_create("disc_restart");
	TCase *tc = tcase_create("restart");
	TCase *tv = tcase_create("veth");
	char why[256];

	if (!can_run(why, sizeof why)) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0) {
		printf("SKIP: test_disc_restart needs Check's fork mode (its "
		       "teardown must run after a failed test)\n");
		return 77;
	}
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
