/*
 * disc_it.c — helpers of the discovery integration tests (see disc_it.h):
 * mDNS-enabled nodes, peer lookups, and hosts in network namespaces with
 * their own bus and avahi-daemon.
 */
#define _GNU_SOURCE
#include "disc_it.h"

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char state_dir[300];

void dit_set_state_dir(const char *dir)
{
	snprintf(state_dir, sizeof state_dir, "%s", dir != NULL ? dir : "");
}

/* Note pid before anything can fail, so a teardown finds it. */
static void track(pid_t pid, const char *comm)
{
	char path[512];
	FILE *f;

	if (state_dir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/pids", state_dir);
	if ((f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "%d %s\n", (int)pid, comm);
	fclose(f);
}

static int comm_is(pid_t pid, const char *comm)
{
	char path[64], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strncmp(buf, comm, 15) == 0; /* comm is cut at 15 bytes */
}

/* SIGTERM, up to 5 s, then SIGKILL; reaped when it is our child. */
static void stop_pid(pid_t pid)
{
	uint64_t dl = it_now_ms() + 5000;
	int st;

	if (kill(pid, SIGTERM) != 0)
		return;
	while (it_now_ms() < dl) {
		if (waitpid(pid, &st, WNOHANG) == pid || kill(pid, 0) != 0)
			return;
		it_poll_pause();
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

void dit_cleanup(void)
{
	char path[512], ns[64], cmd[160];
	pid_t pids[128];
	char comms[128][32];
	int n = 0, pid;
	FILE *f;

	if (state_dir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/pids", state_dir);
	f = fopen(path, "r");
	while (f != NULL && n < 128 && fscanf(f, "%d %31s", &pid, comms[n]) == 2)
		pids[n++] = (pid_t)pid;
	if (f != NULL)
		fclose(f);
	while (n-- > 0)
		if (comm_is(pids[n], comms[n]))
			stop_pid(pids[n]);
	unlink(path);
	snprintf(path, sizeof path, "%s/netns", state_dir);
	f = fopen(path, "r");
	for (n = 0; f != NULL && n < 16 && fscanf(f, "%63s", ns) == 1; n++) {
		snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", ns);
		if (system(cmd) != 0) {
			/* already gone */
		}
	}
	if (f != NULL)
		fclose(f);
	unlink(path);
}

/* ------------------------------------------------------------------ nodes */

void dit_node_start(it_node *n, it_node *const *peers, size_t npeers,
                    const char *ns, const char *bus)
{
	it_start_opts o = {.level = "debug", .mdns = 1, .netns = ns, .bus = bus};

	it_node_start_opts(n, peers, npeers, &o);
	/* also in the state file, for teardowns outside this process */
	track(n->pid, "meshsync-node");
}

void dit_node_id(const it_node *n, char out[65])
{
	char *text = NULL;
	int rc = it_cli(&text, "id", "--data", (char *)n->dir);

	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_ge(strlen(text), 64);
	memcpy(out, text, 64);
	out[64] = '\0';
	free(text);
}

int dit_peer(const it_node *n, const char *id, char *link, size_t lcap,
             char *src, size_t scap)
{
	json_t *j = it_inspect(n, "peers"), *arr = json_object_get(j, "peers");
	size_t i;
	json_t *p;
	int found = 0;

	json_array_foreach(arr, i, p) {
		const char *pid = json_string_value(json_object_get(p, "id"));
		if (pid == NULL || strcmp(pid, id) != 0)
			continue;
		if (link != NULL)
			snprintf(link, lcap, "%s",
			         json_string_value(json_object_get(p, "link")));
		if (src != NULL)
			snprintf(src, scap, "%s",
			         json_string_value(json_object_get(p, "source_text")));
		found = 1;
		break;
	}
	json_decref(j);
	return found;
}

int dit_wait_peer(const it_node *n, const char *id, const char *want_link,
                  const char *want_src, uint64_t deadline_ms)
{
	uint64_t dl = it_now_ms() + deadline_ms;
	char link[32] = "", src[64] = "";

	for (;;) {
		if (dit_peer(n, id, link, sizeof link, src, sizeof src) &&
		    (want_link == NULL || strcmp(link, want_link) == 0) &&
		    (want_src == NULL || strstr(src, want_src) != NULL))
			return 0;
		if (it_now_ms() >= dl) {
			fprintf(stderr, "%s: peer %.16s link=%s source=%s (wanted %s %s)\n",
			        n->name, id, link, src, want_link ? want_link : "*",
			        want_src ? want_src : "*");
			return -1;
		}
		it_poll_pause();
	}
}

int dit_avahi_running(void)
{
	return system("avahi-daemon -c >/dev/null 2>&1") == 0;
}

size_t dit_log_count2(const it_node *n, const char *a, const char *b)
{
	FILE *f = fopen(n->log, "r");
	char line[4096];
	size_t c = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
			c++;
	fclose(f);
	return c;
}

int dit_wait_log2(const it_node *n, const char *a, const char *b,
                  uint64_t deadline_ms)
{
	uint64_t dl = it_now_ms() + deadline_ms;

	while (dit_log_count2(n, a, b) == 0) {
		if (it_now_ms() >= dl)
			return -1;
		it_poll_pause();
	}
	return 0;
}

/* ------------------------------------------------------------------ hosts */

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
	char cmd[1600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	return system(cmd);
}

int dit_netns_possible(char *why, size_t cap)
{
	int ok;

	if (geteuid() != 0) {
		snprintf(why, cap, "not root (network namespaces need root)");
		return 0;
	}
	if (shell("command -v dbus-daemon avahi-daemon dbus-send unshare ip "
	          ">/dev/null 2>&1") != 0) {
		snprintf(why, cap, "dbus-daemon, avahi-daemon, dbus-send, unshare "
		         "or ip missing");
		return 0;
	}
	ok = shell("ip netns add ms-dit-probe-%d 2>/dev/null", (int)getpid()) == 0;
	if (ok)
		ok = shell("ip netns del ms-dit-probe-%d 2>/dev/null",
		           (int)getpid()) == 0;
	if (!ok)
		snprintf(why, cap, "`ip netns add` failed: this machine cannot "
		         "create network namespaces");
	return ok;
}

/* The system bus config with our own socket, no pid file, no fork, and the
 * policy directory made absolute (avahi's bus policy lives there). */
static int write_bus_conf(const dit_host *h)
{
	char line[1024], out[480];
	FILE *in, *f;

	if ((in = fopen("/usr/share/dbus-1/system.conf", "r")) == NULL)
		return -1;
	snprintf(out, sizeof out, "%s/bus.conf", h->dir);
	if ((f = fopen(out, "w")) == NULL) {
		fclose(in);
		return -1;
	}
	while (fgets(line, sizeof line, in) != NULL) {
		if (strstr(line, "<listen>") != NULL)
			fprintf(f, "  <listen>unix:path=%s/bus</listen>\n", h->dir);
		else if (strstr(line, "<pidfile>") != NULL ||
		         strstr(line, "<fork/>") != NULL)
			continue;
		else if (strstr(line, "<includedir>system.d</includedir>"))
			fputs("  <includedir>/usr/share/dbus-1/system.d</includedir>\n", f);
		else
			fputs(line, f);
	}
	fclose(in);
	return fclose(f);
}

int dit_host_init(dit_host *h, const char *prefix, char tag, const char *iface)
{
	char conf[1024], path[480];
	FILE *f;

	memset(h, 0, sizeof *h);
	snprintf(h->ns, sizeof h->ns, "%s-%c", prefix, tag);
	snprintf(h->dir, sizeof h->dir, "%s/host-%c", state_dir, tag);
	snprintf(h->bus, sizeof h->bus, "unix:path=%s/bus", h->dir);
	snprintf(conf, sizeof conf,
	         "[server]\nhost-name=%s\nuse-ipv4=yes\nuse-ipv6=no\n"
	         "allow-interfaces=%s\nratelimit-interval-usec=1000000\n"
	         "ratelimit-burst=1000\n[wide-area]\nenable-wide-area=no\n"
	         "[publish]\npublish-hinfo=no\npublish-workstation=no\n"
	         "[reflector]\nenable-reflector=no\n", h->ns, iface);
	snprintf(path, sizeof path, "%s/avahi.conf", h->dir);
	/* avahi-daemon drops to its own user before it connects to the bus:
	 * the socket's directory must be searchable by it */
	if (mkdir(h->dir, 0755) != 0 || chmod(h->dir, 0755) != 0 ||
	    write_text(path, conf) != 0 || write_bus_conf(h) != 0)
		return -1;
	/* noted before it exists, so the teardown deletes it */
	snprintf(path, sizeof path, "%s/netns", state_dir);
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fprintf(f, "%s\n", h->ns);
	fclose(f);
	if (shell("ip netns add %s", h->ns) != 0 ||
	    shell("ip -n %s link set lo up", h->ns) != 0)
		return -1;
	return 0;
}

int dit_host_veth(const dit_host *a, const char *ifa, const char *addra,
                  const dit_host *b, const char *ifb, const char *addrb)
{
	if (shell("ip -n %s link add %s type veth peer name %s netns %s", a->ns,
	          ifa, ifb, b->ns) != 0 ||
	    shell("ip -n %s addr add %s dev %s", a->ns, addra, ifa) != 0 ||
	    shell("ip -n %s addr add %s dev %s", b->ns, addrb, ifb) != 0 ||
	    shell("ip -n %s link set %s up", a->ns, ifa) != 0 ||
	    shell("ip -n %s link set %s up", b->ns, ifb) != 0)
		return -1;
	return 0;
}

/* Fork `ip netns exec NS argv...` (ip execs: the pid is the program's). */
static pid_t spawn_ns(const dit_host *h, const char *const *argv,
                      const char *comm)
{
	const char *full[24];
	int n = 0;
	pid_t pid;

	full[n++] = "/usr/sbin/ip";
	full[n++] = "netns";
	full[n++] = "exec";
	full[n++] = h->ns;
	for (int i = 0; argv[i] != NULL && n < 23; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		if (getenv("MS_TEST_VERBOSE") == NULL)
			dup2(nul, 2);
		setenv("DBUS_SYSTEM_BUS_ADDRESS", h->bus, 1);
		execv(full[0], (char *const *)full);
		_exit(127);
	}
	track(pid, comm);
	return pid;
}

void dit_host_kill_avahi(dit_host *h)
{
	int st;

	if (h->avahi <= 0)
		return;
	kill(h->avahi, SIGKILL);
	waitpid(h->avahi, &st, 0);
	h->avahi = 0;
}

int dit_host_start(dit_host *h)
{
	char conf[520], sock[480];
	const char *dargv[] = {"dbus-daemon", conf, "--nofork", "--nopidfile",
	                       NULL};
	uint64_t dl;
	struct stat sb;

	snprintf(conf, sizeof conf, "--config-file=%s/bus.conf", h->dir);
	snprintf(sock, sizeof sock, "%s/bus", h->dir);
	if ((h->dbus = spawn_ns(h, dargv, "dbus-daemon")) < 0)
		return -1;
	dl = it_now_ms() + 10000;
	while (stat(sock, &sb) != 0 && it_now_ms() < dl)
		it_poll_pause();
	if (stat(sock, &sb) != 0)
		return -1;
	return dit_host_start_avahi(h);
}

int dit_host_start_avahi(dit_host *h)
{
	char script[1024];
	const char *aargv[] = {"unshare", "-m", "--propagation", "private",
	                       "sh", "-c", script, NULL};
	uint64_t dl;

	/* a private /run/avahi-daemon: its pid file and socket do not meet
	 * the machine's daemon; every exec keeps the pid */
	snprintf(script, sizeof script,
	         "mkdir -p /run/avahi-daemon && "
	         "mount -t tmpfs tmpfs /run/avahi-daemon && "
	         "exec avahi-daemon --no-chroot --no-rlimits -f %s/avahi.conf",
	         h->dir);
	if ((h->avahi = spawn_ns(h, aargv, "avahi-daemon")) < 0)
		return -1;
	/* running when the server state is 2 (AVAHI_SERVER_RUNNING) */
	dl = it_now_ms() + 15000;
	while (it_now_ms() < dl) {
		if (shell("ip netns exec %s env DBUS_SYSTEM_BUS_ADDRESS=%s "
		          "timeout 5 dbus-send --system --print-reply=literal "
		          "--dest=org.freedesktop.Avahi / "
		          "org.freedesktop.Avahi.Server.GetState 2>/dev/null | "
		          "grep -q 'int32 2'", h->ns, h->bus) == 0)
			return 0;
		it_poll_pause();
	}
	return -1;
}
