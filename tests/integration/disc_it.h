/*
 * disc_it.h — what the discovery integration tests add to it.h: nodes
 * started with mDNS on (optionally inside a network namespace and with
 * their own system bus address), the peers table of a node looked up by
 * peer id, and simulated hosts — a network namespace with its own
 * dbus-daemon and avahi-daemon (../shared/ENV.md recipe), joined by veth.
 *
 * Processes and namespaces are recorded in a state directory as they are
 * made (pid + program name, namespace names), so a teardown that runs in
 * the Check runner — after a failed test too — stops them by PID and
 * deletes the namespaces (dit_cleanup).  Nodes also die with the test
 * process (PR_SET_PDEATHSIG).
 */
#ifndef MS_DISC_IT_H
#define MS_DISC_IT_H

#include <stddef.h>
#include <sys/types.h>

#include "it.h"

/* Where the pid and namespace lists are kept (a directory that outlives
 * the test process, e.g. made in an unchecked fixture).  NULL: none. */
void dit_set_state_dir(const char *dir);
/* Stop every recorded process still running (newest first, checking its
 * program name first), delete recorded namespaces, remove the lists. */
void dit_cleanup(void);

/* Start `meshsync-node run --data DIR --listen n->endpoint [--peer ...]
 * --log-level debug` WITHOUT --no-mdns.  ns: run inside that namespace
 * (NULL: here); bus: DBUS_SYSTEM_BUS_ADDRESS for the node (NULL: inherit).
 * Waits for DIR/node.endpoints; asserts on failure. */
void dit_node_start(it_node *n, it_node *const *peers, size_t npeers,
                    const char *ns, const char *bus);

/* The node id of n (64 hex + NUL), from `meshsync-node id`. */
void dit_node_id(const it_node *n, char out[65]);

/* In n's `node-inspect --json peers`, the entry with id: copies its link
 * state and source_text (either may be NULL).  1 found, 0 not. */
int dit_peer(const it_node *n, const char *id, char *link, size_t lcap,
             char *src, size_t scap);
/* Wait until dit_peer finds id with link == want_link (NULL: any) and a
 * source_text containing want_src (NULL: any).  0 ok, -1 deadline. */
int dit_wait_peer(const it_node *n, const char *id, const char *want_link,
                  const char *want_src, uint64_t deadline_ms);

/* 1 when an avahi-daemon answers on the system bus here. */
int dit_avahi_running(void);
/* The number of lines of n's log holding both a and b (b may be NULL). */
size_t dit_log_count2(const it_node *n, const char *a, const char *b);
/* Wait until dit_log_count2(n, a, b) > 0.  0 ok, -1 deadline. */
int dit_wait_log2(const it_node *n, const char *a, const char *b,
                  uint64_t deadline_ms);

/* --- simulated hosts (network namespaces) -------------------------------- */

typedef struct dit_host {
	char ns[64];   /* namespace name */
	char dir[400]; /* its files: bus socket, bus.conf, avahi.conf */
	char bus[480]; /* DBUS_SYSTEM_BUS_ADDRESS value for its clients */
	pid_t dbus, avahi;
} dit_host;

/* 1 when this machine can make namespaces and has the daemons; else 0 with
 * the reason in why. */
int dit_netns_possible(char *why, size_t cap);
/* Make host h: namespace "<prefix>-<tag>" with lo up, its dir under
 * state_dir, a bus config and an avahi config serving iface (IPv4 only,
 * wide-area and reflector off).  0 or -1. */
int dit_host_init(dit_host *h, const char *prefix, char tag, const char *iface);
/* Join two hosts with a veth pair (ifa in a, ifb in b) with addresses
 * (e.g. "10.99.0.1/24") and bring both ends up.  0 or -1. */
int dit_host_veth(const dit_host *a, const char *ifa, const char *addra,
                  const dit_host *b, const char *ifb, const char *addrb);
/* Start the host's dbus-daemon, then its avahi-daemon (private
 * /run/avahi-daemon), and wait until avahi answers.  0 or -1. */
int dit_host_start(dit_host *h);
/* Start only the avahi-daemon again (after dit_host_kill_avahi). */
int dit_host_start_avahi(dit_host *h);
/* SIGKILL the host's avahi-daemon (by PID) and reap it. */
void dit_host_kill_avahi(dit_host *h);

#endif
