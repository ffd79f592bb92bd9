/* ms_test_host.c — simulated hosts in network namespaces (see ms_test_host.h). */
#define _GNU_SOURCE
#include "ms_test_host.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STOP_MS 5000 /* a recorded process gets this long after SIGTERM */
#define MAX_PIDS 128 /* processes one test may record */
#define MAX_NETNS 16 /* namespaces one test may record */

char *ms_test_state_dir(const char *tag)
{
	char *dir = ms_test_tmpdir(tag);

	if (chmod(dir, 0755) != 0)
		fprintf(stderr, "ms_test_state_dir: chmod %s: %s\n", dir,
		        strerror(errno));
	return dir;
}

/* Append one line to state/name; -1 if the list cannot be written. */
static int note(const char *state, const char *name, const char *line)
{
	char path[600];
	FILE *f;

	if (state == NULL || state[0] == '\0')
		return 0;
	snprintf(path, sizeof path, "%s/%s", state, name);
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fprintf(f, "%s\n", line);
	return fclose(f);
}

void ms_test_track(const char *state, pid_t pid, const char *comm)
{
	char line[64];

	snprintf(line, sizeof line, "%d %.31s", (int)pid, comm);
	note(state, "pids", line);
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

void ms_test_track_cleanup(const char *state)
{
	char path[600], ns[64], line[128];
	pid_t pids[MAX_PIDS];
	char comms[MAX_PIDS][32];
	int n = 0, pid;
	FILE *f;

	if (state == NULL || state[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/pids", state);
	f = fopen(path, "r");
	while (f != NULL && n < MAX_PIDS &&
	       fgets(line, sizeof line, f) != NULL) {
		/* "PID COMM" per line */
		char *end;
		long v = strtol(line, &end, 10);
		if (end == line || *end != ' ' || v <= 0 || v > INT32_MAX ||
		    sscanf(end + 1, "%31s", comms[n]) != 1)
			continue;
		pid = (int)v;
		pids[n++] = (pid_t)pid;
	}
	if (f != NULL)
		fclose(f);
	while (n-- > 0)
		if (comm_is(pids[n], comms[n]))
			ms_test_stop_pid(pids[n], SIGTERM, STOP_MS, NULL);
	unlink(path);
	snprintf(path, sizeof path, "%s/netns", state);
	f = fopen(path, "r");
	for (n = 0; f != NULL && n < MAX_NETNS && fscanf(f, "%63s", ns) == 1;
	     n++)
		if (ms_test_sh("ip netns del %s 2>/dev/null", ns) != 0) {
			/* already gone */
		}
	if (f != NULL)
		fclose(f);
	unlink(path);
}

int ms_test_netns_possible(const char *tools, char *why, size_t cap)
{
	int ok;

	if (geteuid() != 0) {
		snprintf(why, cap, "not root (network namespaces need root)");
		return 0;
	}
	/* one lookup per program: `command -v a b` in dash reports only on
	 * the last one */
	for (const char *t = tools; *t != '\0';) {
		size_t len = strcspn(t, " ");
		if (len > 0 && ms_test_sh("command -v %.*s >/dev/null 2>&1",
		                          (int)len, t) != 0) {
			snprintf(why, cap, "%.*s is missing (one of: %s)",
			         (int)len, t, tools);
			return 0;
		}
		t += len + (t[len] == ' ');
	}
	ok = ms_test_sh("ip netns add ms-probe-%d 2>/dev/null",
	                (int)getpid()) == 0;
	if (ok)
		ok = ms_test_sh("ip netns del ms-probe-%d 2>/dev/null",
		                (int)getpid()) == 0;
	if (!ok)
		snprintf(why, cap,
		         "`ip netns add` failed: this machine cannot "
		         "create network namespaces");
	return ok;
}

int ms_test_netns_skip(const char *suite, const char *tools)
{
	char why[256];

	if (!ms_test_netns_possible(tools, why, sizeof why)) {
		printf("SKIP: %s\n", why);
		return 1;
	}
	if (!ms_test_fork_mode()) {
		printf("SKIP: %s needs Check's fork mode (its teardown must run "
		       "after a failed test)\n",
		       suite);
		return 1;
	}
	return 0;
}

size_t ms_test_netns_argv(char **argv, const char *ns)
{
	argv[0] = "ip";
	argv[1] = "netns";
	argv[2] = "exec";
	argv[3] = (char *)ns;
	return 4;
}

/* The system bus config with our own socket, no pid file, no fork, and the
 * policy directory made absolute (avahi's bus policy lives there). */
static int write_bus_conf(const ms_test_host *h)
{
	char line[1024], out[600];
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
			fprintf(f, "  <listen>unix:path=%s/bus</listen>\n",
			        h->dir);
		else if (strstr(line, "<pidfile>") != NULL ||
		         strstr(line, "<fork/>") != NULL)
			continue;
		else if (strstr(line, "<includedir>system.d</includedir>"))
			fputs("  <includedir>/usr/share/dbus-1/system.d</includedir>\n",
			      f);
		else
			fputs(line, f);
	}
	fclose(in);
	return fclose(f);
}

int ms_test_host_init_bare(ms_test_host *h, const char *state,
                           const char *prefix, char tag)
{
	memset(h, 0, sizeof *h);
	snprintf(h->ns, sizeof h->ns, "%s-%c", prefix, tag);
	snprintf(h->state, sizeof h->state, "%s", state);
	snprintf(h->dir, sizeof h->dir, "%s/host-%c", state, tag);
	snprintf(h->bus, sizeof h->bus, "unix:path=%s/bus", h->dir);
	/* avahi-daemon drops to its own user before it connects to the bus:
	 * the socket's directory must be searchable by it */
	if (mkdir(h->dir, 0755) != 0 || chmod(h->dir, 0755) != 0)
		return -1;
	/* noted before it exists, so the teardown deletes it */
	if (note(state, "netns", h->ns) != 0)
		return -1;
	if (ms_test_sh("ip netns add %s", h->ns) != 0 ||
	    ms_test_sh("ip -n %s link set lo up", h->ns) != 0)
		return -1;
	return 0;
}

int ms_test_host_init(ms_test_host *h, const char *state, const char *prefix,
                      char tag, const char *ifaces, int ipv6)
{
	char conf[1024], path[600];

	if (ms_test_host_init_bare(h, state, prefix, tag) != 0)
		return -1;
	snprintf(conf, sizeof conf,
	         "[server]\nhost-name=%s\nuse-ipv4=yes\nuse-ipv6=%s\n"
	         "allow-interfaces=%s\nratelimit-interval-usec=1000000\n"
	         "ratelimit-burst=1000\n[wide-area]\nenable-wide-area=no\n"
	         "[publish]\npublish-hinfo=no\npublish-workstation=no\n"
	         "[reflector]\nenable-reflector=no\n",
	         h->ns, ipv6 ? "yes" : "no", ifaces);
	snprintf(path, sizeof path, "%s/avahi.conf", h->dir);
	if (ms_test_write_text(path, conf, 0644) != 0 || write_bus_conf(h) != 0)
		return -1;
	return 0;
}

int ms_test_host_veth(const ms_test_host *a, const char *ifa, const char *addra,
                      const ms_test_host *b, const char *ifb, const char *addrb)
{
	if (ms_test_sh("ip -n %s link add %s type veth peer name %s netns %s",
	               a->ns, ifa, ifb, b->ns) != 0 ||
	    ms_test_sh("ip -n %s addr add %s dev %s", a->ns, addra, ifa) != 0 ||
	    ms_test_sh("ip -n %s addr add %s dev %s", b->ns, addrb, ifb) != 0 ||
	    ms_test_sh("ip -n %s link set %s up", a->ns, ifa) != 0 ||
	    ms_test_sh("ip -n %s link set %s up", b->ns, ifb) != 0)
		return -1;
	return 0;
}

int ms_test_host_bridge(const ms_test_host *hub, const char *br)
{
	if (ms_test_sh("ip -n %s link add %s type bridge", hub->ns, br) != 0 ||
	    ms_test_sh("ip -n %s link set %s up", hub->ns, br) != 0)
		return -1;
	return 0;
}

int ms_test_host_bridge_port(const ms_test_host *hub, const char *br,
                             const char *port, const ms_test_host *h,
                             const char *ifh, const char *addr)
{
	if (ms_test_sh("ip -n %s link add %s type veth peer name %s netns %s",
	               hub->ns, port, ifh, h->ns) != 0 ||
	    ms_test_sh("ip -n %s link set %s master %s", hub->ns, port, br) !=
	            0 ||
	    ms_test_sh("ip -n %s link set %s up", hub->ns, port) != 0 ||
	    ms_test_sh("ip -n %s addr add %s dev %s", h->ns, addr, ifh) != 0 ||
	    ms_test_sh("ip -n %s link set %s up", h->ns, ifh) != 0)
		return -1;
	return 0;
}

int ms_test_host_nft_loss(const ms_test_host *h, const char *iface,
                          unsigned percent)
{
	if (ms_test_sh("ip netns exec %s nft add table inet ms_loss", h->ns) !=
	            0 ||
	    ms_test_sh("ip netns exec %s nft add chain inet ms_loss out "
	               "'{ type filter hook output priority 0 ; }'",
	               h->ns) != 0 ||
	    ms_test_sh("ip netns exec %s nft add rule inet ms_loss out "
	               "oifname %s numgen random mod 100 '<' %u counter drop",
	               h->ns, iface, percent) != 0)
		return -1;
	return 0;
}

int64_t ms_test_host_nft_drops(const ms_test_host *h)
{
	char *argv[] = {"nft", "list", "chain", "inet", "ms_loss", "out", NULL};
	ms_test_out r;
	const char *p;
	char *end;
	long long v = -1;

	ms_test_host_run(h, &r, argv, 10000);
	/* "... counter packets N bytes M drop": the one rule has the one
	 * counter */
	if (r.code == 0 && r.out != NULL &&
	    (p = strstr(r.out, "counter packets ")) != NULL) {
		p += strlen("counter packets ");
		errno = 0;
		v = strtoll(p, &end, 10);
		if (end == p || *end != ' ' || errno != 0 || v < 0)
			v = -1;
	}
	ms_test_out_free(&r);
	return (int64_t)v;
}

int ms_test_nft_possible(char *why, size_t cap)
{
	int ns = 0, ok;

	if (ms_test_sh("command -v nft >/dev/null 2>&1") != 0) {
		snprintf(why, cap, "no nft binary (apt-get install nftables)");
		return 0;
	}
	ok = ms_test_sh("ip netns add ms-nftprobe-%d 2>/dev/null",
	                (int)getpid()) == 0;
	if (ok) {
		ns = 1;
		ok = ms_test_sh(
			     "ip netns exec ms-nftprobe-%d nft add table inet "
			     "ms_probe >/dev/null 2>&1",
			     (int)getpid()) == 0;
	}
	if (ns && ms_test_sh("ip netns del ms-nftprobe-%d 2>/dev/null",
	                     (int)getpid()) != 0) {
		/* gone already: nothing left to delete */
	}
	if (!ok)
		snprintf(
			why, cap,
			"nftables does not work in a network namespace here "
			"(`nft add table` failed: no nf_tables in the kernel?)");
	return ok;
}

/* "ip netns exec NS argv..." into full (cap entries, NULL-terminated). */
static void ns_argv(const ms_test_host *h, char *const argv[], char **full,
                    size_t cap)
{
	size_t n = ms_test_netns_argv(full, h->ns);

	for (size_t i = 0; argv[i] != NULL; i++) {
		ck_assert_uint_lt(n, cap - 1);
		full[n++] = argv[i];
	}
	full[n] = NULL;
}

pid_t ms_test_host_spawn(const ms_test_host *h, char *const argv[], int *in_fd,
                         int *out_fd, const char *comm)
{
	char env[600], *full[MS_TEST_MAX_ARGS];
	const char *envs[] = {env, NULL};
	ms_test_spawn_opts o = {.env = envs, .in_fd = in_fd, .out_fd = out_fd};
	pid_t pid;

	snprintf(env, sizeof env, "DBUS_SYSTEM_BUS_ADDRESS=%s", h->bus);
	ns_argv(h, argv, full, MS_TEST_MAX_ARGS);
	/* ip execs: the pid is the program's own */
	pid = ms_test_spawn(full, &o);
	ms_test_track(h->state, pid, comm);
	return pid;
}

void ms_test_host_run(const ms_test_host *h, ms_test_out *r, char *const argv[],
                      uint64_t timeout_ms)
{
	char env[600], *full[MS_TEST_MAX_ARGS];
	const char *envs[] = {env, NULL};
	ms_test_cmd c = {.env = envs, .timeout_ms = timeout_ms};

	snprintf(env, sizeof env, "DBUS_SYSTEM_BUS_ADDRESS=%s", h->bus);
	ns_argv(h, argv, full, MS_TEST_MAX_ARGS);
	ms_test_cmd_run(r, &c, full);
}

int ms_test_host_start_dbus(ms_test_host *h, uint64_t timeout_ms)
{
	char conf[600], sock[600];
	char *argv[] = {"dbus-daemon", conf, "--nofork", "--nopidfile", NULL};
	int up;

	snprintf(conf, sizeof conf, "--config-file=%s/bus.conf", h->dir);
	snprintf(sock, sizeof sock, "%s/bus", h->dir);
	h->dbus = ms_test_host_spawn(h, argv, NULL, NULL, "dbus-daemon");
	MS_WAIT_RESULT(up, ms_test_exists(sock), timeout_ms, ms_test_pause());
	return up ? 0 : -1;
}

void ms_test_host_start_avahi(ms_test_host *h)
{
	char script[1024];
	char *argv[] = {"unshare", "-m", "--propagation", "private",
	                "sh",      "-c", script,          NULL};

	/* a private /run/avahi-daemon: its pid file and socket do not meet
	 * the machine's daemon; every exec keeps the pid */
	snprintf(script, sizeof script,
	         "mkdir -p /run/avahi-daemon && "
	         "mount -t tmpfs tmpfs /run/avahi-daemon && "
	         "exec avahi-daemon --no-chroot --no-rlimits -f %s/avahi.conf",
	         h->dir);
	h->avahi = ms_test_host_spawn(h, argv, NULL, NULL, "avahi-daemon");
}

/* 1 when the host's avahi-daemon reports AVAHI_SERVER_RUNNING (2). */
static int avahi_running(const ms_test_host *h)
{
	return ms_test_sh("ip netns exec %s env DBUS_SYSTEM_BUS_ADDRESS=%s "
	                  "timeout 5 dbus-send --system --print-reply=literal "
	                  "--dest=org.freedesktop.Avahi / "
	                  "org.freedesktop.Avahi.Server.GetState 2>/dev/null | "
	                  "grep -q 'int32 2'",
	                  h->ns, h->bus) == 0;
}

int ms_test_host_wait_avahi(const ms_test_host *h, uint64_t timeout_ms)
{
	int up;

	MS_WAIT_RESULT(up, avahi_running(h), timeout_ms, ms_test_pause());
	return up ? 0 : -1;
}

int ms_test_host_start(ms_test_host *h)
{
	if (ms_test_host_start_dbus(h, 10000) != 0)
		return -1;
	ms_test_host_start_avahi(h);
	return ms_test_host_wait_avahi(h, 15000);
}

void ms_test_host_kill_avahi(ms_test_host *h)
{
	ms_test_kill_pid(h->avahi);
	h->avahi = 0;
}

void ms_test_host_stop(ms_test_host *h)
{
	ms_test_stop_pid(h->avahi, SIGTERM, STOP_MS, NULL);
	ms_test_stop_pid(h->dbus, SIGTERM, STOP_MS, NULL);
	h->avahi = h->dbus = 0;
}
