/*
 * linkmon.h — watch the kernel's interfaces and addresses (route netlink) so
 * that a link or address coming up can trigger an immediate discovery
 * refresh (ms_disc_refresh) and a retry of peers waiting in backoff
 * (ms_backoff_kick).
 *
 * One netlink socket, subscribed to RTMGRP_LINK, RTMGRP_IPV4_IFADDR and
 * RTMGRP_IPV6_IFADDR, non-blocking; the node's loop polls ms_linkmon_fd and
 * calls ms_linkmon_process, which reads a bounded number of datagrams and
 * calls the callback once per event, on the caller's thread.
 *
 * Link events report changes only: the first time an interface is heard of
 * it is reported as it is (up or down); after that only transitions.  "Up"
 * means administratively up and with carrier (IFF_UP and IFF_RUNNING), which
 * is when traffic can flow.  Address events report every RTM_NEWADDR and
 * RTM_DELADDR (the kernel also sends NEWADDR when an address's lifetime is
 * renewed; a refresh it causes is harmless and the node rate-limits kicks).
 *
 * Threads: an ms_linkmon is used by one thread.  No global state.
 */
#ifndef MS_LINKMON_H
#define MS_LINKMON_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>

#include "ms_err_int.h"

/* Event kinds. */
typedef enum ms_linkmon_kind {
	MS_LINKMON_LINK_UP = 1,   /* interface up with carrier */
	MS_LINKMON_LINK_DOWN = 2, /* interface down, no carrier, or removed */
	MS_LINKMON_ADDR_ADD = 3,  /* address added (or renewed) */
	MS_LINKMON_ADDR_DEL = 4,  /* address removed */
	MS_LINKMON_OVERRUN = 5    /* the kernel dropped events (socket buffer
	                           * full): state may have changed unseen;
	                           * treat as "everything may have come up" */
} ms_linkmon_kind;

/* One event, by value; valid only during the callback. */
typedef struct ms_linkmon_event {
	ms_linkmon_kind kind;
	int ifindex;                 /* 0 for OVERRUN */
	char ifname[IF_NAMESIZE];    /* "" if unknown (e.g. already gone) */
	int family;                  /* ADDR_*: AF_INET or AF_INET6 */
	char addr[INET6_ADDRSTRLEN]; /* ADDR_*: "127.0.0.2", "fe80::1" */
	unsigned prefixlen;          /* ADDR_*: 8, 64, ... */
	unsigned flags;              /* LINK_*: the interface's IFF_* flags */
} ms_linkmon_event;

typedef void (*ms_linkmon_fn)(void *ctx, const ms_linkmon_event *ev);

/* Counters. */
typedef struct ms_linkmon_stats {
	uint64_t datagrams; /* netlink datagrams read */
	uint64_t events;    /* callbacks made */
	uint64_t overruns;  /* ENOBUFS from the kernel */
	uint64_t errors;    /* other read or parse errors */
} ms_linkmon_stats;

typedef struct ms_linkmon ms_linkmon;

/* Datagrams read per ms_linkmon_process call at most (a flood of events
 * cannot starve the rest of the loop; the fd stays readable). */
#define MS_LINKMON_BUDGET_DEFAULT 16

/*
 * Open the netlink socket and subscribe.  fn is required; ctx is passed to
 * it.  Errors: MS_EINVAL, MS_ENOMEM, MS_EIO ("mnl_socket_bind: ...").
 */
ms_err ms_linkmon_new(ms_linkmon **out, ms_linkmon_fn fn, void *ctx,
                      ms_errbuf *eb);

/* Close the socket, free, set *lp = NULL.  NULL allowed. */
void ms_linkmon_free(ms_linkmon **lp);

/* The fd to poll for reading.  Owned by lm. */
int ms_linkmon_fd(const ms_linkmon *lm);

/*
 * Read at most `budget` datagrams (0 = MS_LINKMON_BUDGET_DEFAULT) without
 * blocking and deliver their events.  Returns the number of events
 * delivered (0 when nothing was pending).
 */
int ms_linkmon_process(ms_linkmon *lm, int budget);

/* Copy the counters. */
void ms_linkmon_stats_get(const ms_linkmon *lm, ms_linkmon_stats *out);

#endif
