/*
 * disc_it.h — what the discovery integration tests add to it.h: nodes
 * started with mDNS on (optionally inside a network namespace and with
 * their own system bus address), and the peers table and log of a node
 * looked up by peer id or by two words.  The simulated hosts (network
 * namespaces with their own dbus and avahi-daemon) are ms_test_host.h's.
 *
 * Nodes are recorded in a state directory as they start (pid + program
 * name), so a teardown that runs in the Check runner — after a failed test
 * too — stops them by PID (ms_test_track_cleanup).  Nodes also die with
 * the test process (PR_SET_PDEATHSIG).
 */
#ifndef MS_DISC_IT_H
#define MS_DISC_IT_H

#include <stddef.h>
#include <sys/types.h>

#include "it.h"
#include "ms_test_host.h"

/* Where started nodes are recorded (a directory that outlives the test
 * process, e.g. made in an unchecked fixture).  NULL: nowhere. */
void dit_set_state_dir(const char *dir);

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

#endif
