/*
 * ms_test_host.h — simulated hosts for the discovery tests: a network
 * namespace with its own dbus-daemon and avahi-daemon (the ../shared/ENV.md
 * recipe: a copy of the system bus config with its own socket, avahi under
 * `unshare -m` with a tmpfs on /run/avahi-daemon, serving only the given
 * interfaces), joined to others by veth pairs.  The machine's own daemons
 * are never touched.
 *
 * Processes and namespaces are recorded in a state directory as they are
 * made (pid + program name; namespace names), before anything can fail, so
 * a teardown that runs in the Check runner — after a failed test too —
 * stops them by PID and deletes the namespaces (ms_test_track_cleanup).
 */
#ifndef MS_TEST_HOST_H
#define MS_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ms_test.h"

/* A state directory for one test (ms_test_tmpdir made searchable by the
 * daemons' own users, which reach the bus sockets inside it); malloc'd. */
char *ms_test_state_dir(const char *tag);
/* Note pid and its program name (checked before it is ever signalled, in
 * case the pid was reused) in state/pids.  state "" or NULL: nothing. */
void ms_test_track(const char *state, pid_t pid, const char *comm);
/* Stop every recorded process still running (newest first: SIGTERM, then
 * SIGKILL after 5 s), delete the recorded namespaces, remove the lists. */
void ms_test_track_cleanup(const char *state);

/*
 * 1 when this machine can make network namespaces (root, `ip netns add`
 * works) and has every program named in tools (a space-separated list);
 * else 0 with the reason in why.
 */
int ms_test_netns_possible(const char *tools, char *why, size_t cap);
/* For main(): 1 after printing "SKIP: ..." when the namespaces or tools
 * are missing or Check is not in fork mode (the suite then exits 77). */
int ms_test_netns_skip(const char *suite, const char *tools);
/* Put "ip netns exec NS" at argv[0..3]; returns 4. */
size_t ms_test_netns_argv(char **argv, const char *ns);

typedef struct ms_test_host {
	char ns[64];       /* network namespace name */
	char state[400];   /* where its processes are recorded */
	char dir[480];     /* its files: bus socket, bus.conf, avahi.conf */
	char bus[520];     /* DBUS_SYSTEM_BUS_ADDRESS value for its clients */
	pid_t dbus, avahi; /* its daemons while they run, else 0 */
} ms_test_host;

/*
 * Make host h: namespace "<prefix>-<tag>" with lo up, its dir state/host-
 * <tag> with a bus config and an avahi config serving ifaces (a comma list)
 * over IPv4, and IPv6 too when ipv6.  0, or -1 (does not assert: it runs in
 * fixtures outside the test process too).
 */
int ms_test_host_init(ms_test_host *h, const char *state, const char *prefix,
                      char tag, const char *ifaces, int ipv6);
/*
 * Make host h without daemons: namespace "<prefix>-<tag>" with lo up and
 * its dir state/host-<tag> (no bus or avahi config: for hosts that only
 * run nodes with mDNS off, or a hub).  0, or -1 (does not assert).
 */
int ms_test_host_init_bare(ms_test_host *h, const char *state,
                           const char *prefix, char tag);
/* Join two hosts with a veth pair (ifa in a, ifb in b) with addresses
 * (e.g. "10.99.0.1/24") and bring both ends up.  0 or -1. */
int ms_test_host_veth(const ms_test_host *a, const char *ifa, const char *addra,
                      const ms_test_host *b, const char *ifb,
                      const char *addrb);

/* A bridge br in hub's namespace, up.  0 or -1. */
int ms_test_host_bridge(const ms_test_host *hub, const char *br);
/* Join host h to hub's bridge br: a veth pair with end port in hub (a
 * port of br, no address) and end ifh in h with address addr (e.g.
 * "10.99.0.1/24"), both up.  0 or -1. */
int ms_test_host_bridge_port(const ms_test_host *hub, const char *br,
                             const char *port, const ms_test_host *h,
                             const char *ifh, const char *addr);

/*
 * Packet loss without netem (this kernel has none, ../shared/ENV.md): an
 * nftables table `ms_loss` in h's namespace whose output chain drops
 * percent % (0..99, nft's numgen range) of the packets leaving through
 * iface at random and counts them.  On output only, so each packet
 * crossing a link is judged once, by its sender.  0 or -1.
 */
int ms_test_host_nft_loss(const ms_test_host *h, const char *iface,
                          unsigned percent);
/* The packets the ms_loss rule of h has dropped so far, or -1 when the
 * counter cannot be read. */
int64_t ms_test_host_nft_drops(const ms_test_host *h);
/*
 * 1 when nftables works inside a network namespace here (a probe namespace
 * gets a table, then is deleted); else 0 with the reason in why.  Call
 * after ms_test_netns_possible said yes.
 */
int ms_test_nft_possible(char *why, size_t cap);

/* Start argv inside the namespace with the host's bus address (pipes as in
 * ms_test_spawn_opts when in_fd/out_fd are non-NULL); recorded as comm. */
pid_t ms_test_host_spawn(const ms_test_host *h, char *const argv[], int *in_fd,
                         int *out_fd, const char *comm);
/* Run argv inside the namespace to completion (bounded by timeout_ms). */
void ms_test_host_run(const ms_test_host *h, ms_test_out *r, char *const argv[],
                      uint64_t timeout_ms);

/* Start the host's dbus-daemon; 0 once its socket exists, -1 if it did not
 * appear within timeout_ms. */
int ms_test_host_start_dbus(ms_test_host *h, uint64_t timeout_ms);
/* Start its avahi-daemon (a private /run/avahi-daemon); does not wait. */
void ms_test_host_start_avahi(ms_test_host *h);
/* Wait until the host's avahi-daemon says it is running (server state 2).
 * 0 or -1. */
int ms_test_host_wait_avahi(const ms_test_host *h, uint64_t timeout_ms);
/* dbus, then avahi, waiting for each (10 s, 15 s).  0 or -1. */
int ms_test_host_start(ms_test_host *h);
/* SIGKILL the avahi-daemon by PID and reap it. */
void ms_test_host_kill_avahi(ms_test_host *h);
/* Stop avahi-daemon, then dbus-daemon (SIGTERM, bounded), by PID. */
void ms_test_host_stop(ms_test_host *h);

#endif
