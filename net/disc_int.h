/*
 * disc_int.h — what discovery.c (the object, its queue and the TXT rules)
 * and disc_avahi.c (the Avahi thread) share.  Private to net/.
 *
 * Locks: the Avahi thread holds the threaded-poll lock while it runs any
 * callback; the loop thread takes it (avahi_threaded_poll_lock) before it
 * touches any Avahi object.  `mu` guards the queue and the stats only.
 * Order: poll lock, then mu; never the other way round, and no callback of
 * the user runs while either is held.
 */
#ifndef MS_DISC_INT_H
#define MS_DISC_INT_H

#include <pthread.h>
#include <stdarg.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/thread-watch.h>

#include "discovery.h"

/* Queue bound: far above anything one segment produces; a full queue drops
 * and counts rather than growing without limit. */
#define DISC_QUEUE_MAX 65536u
/* Longest log line handed to log_fn. */
#define DISC_LOG_MAX 384
/* Longest DNS domain name plus the NUL. */
#define DISC_DOMAIN_MAX 256
/* Bound on renames in one registration attempt. */
#define DISC_RENAME_MAX 32

/* One queued item: an event or a log line. */
typedef struct disc_qent {
	struct disc_qent *next;
	int is_log;
	int level;
	int has_name; /* a log line about instance `name` */
	ms_disc_event ev;
	char msg[DISC_LOG_MAX];
	char name[MS_DISC_NAME_MAX];
} disc_qent;

/* What a browsed instance turned out to be. */
typedef enum disc_verdict {
	DISC_PENDING = 0, /* not resolved yet */
	DISC_ACCEPTED,    /* FOUND was queued; a LOST will follow its removal */
	DISC_SKIPPED      /* counted as a skip; never reported */
} disc_verdict;

/* One service instance seen by the browser (per interface and protocol). */
typedef struct disc_inst {
	struct disc_inst *next;
	struct ms_disc *d;
	AvahiIfIndex ifindex;
	AvahiProtocol proto;
	char name[MS_DISC_NAME_MAX];
	char domain[DISC_DOMAIN_MAX];
	AvahiServiceResolver *res;
	disc_verdict verdict;
	unsigned seen;    /* browse generation that last reported it */
	ms_disc_event ev; /* the FOUND it produced (ACCEPTED) */
} disc_inst;

struct ms_disc {
	/* Set by ms_disc_new, read-only afterwards. */
	uint8_t node_id[MS_PK_LEN];
	char id_hex[2 * MS_PK_LEN + 1];
	char net_hex[MS_DISC_NET_HEX + 1];
	uint32_t version;
	uint16_t port;
	char type[MS_DISC_NAME_MAX];
	AvahiProtocol proto;
	unsigned retry_ms;
	int no_publish;
	size_t max_records; /* mdns_records */
	ms_disc_event_fn event_fn;
	ms_disc_log_fn log_fn;
	void *ctx;
	int efd;

	/* Under mu. */
	pthread_mutex_t mu;
	disc_qent *qhead, *qtail;
	size_t qlen;
	ms_disc_stats st;
	int state_known; /* a STATE event has been queued at least once */

	/* Avahi thread (or loop thread holding the poll lock). */
	AvahiThreadedPoll *tp;
	const AvahiPoll *api;
	int started;
	AvahiClient *client;
	AvahiEntryGroup *group;
	AvahiServiceBrowser *browser;
	AvahiTimeout *timer; /* (re)creates the client */
	char name[MS_DISC_NAME_MAX];
	int warned;   /* a "daemon unavailable" warning since last up */
	unsigned gen; /* browse generation */
	disc_inst *insts;
	size_t ninsts; /* in insts (st.records mirrors it under mu) */
	int refusing;  /* at max_records: logged once until below */
};

/* discovery.c: queue an event / a log line (any thread; takes mu).  name
 * (NULL allowed) is the instance name the line is about, carried apart
 * from the text: it came from the network (see ms_disc_log_fn). */
void disc_queue_event(struct ms_disc *d, const ms_disc_event *ev);
void disc_log(struct ms_disc *d, int level, const char *name, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));
/* discovery.c: record daemon up/down; queues STATE when it changed. */
void disc_set_up(struct ms_disc *d, int up);
/* discovery.c: run fn on the stats under mu. */
#define DISC_STAT(d, stmt)                      \
	do {                                    \
		pthread_mutex_lock(&(d)->mu);   \
		stmt;                           \
		pthread_mutex_unlock(&(d)->mu); \
	} while (0)

/* disc_avahi.c: first client attempt (before the thread starts), and the
 * teardown of every Avahi object (after it stopped). */
ms_err disc_avahi_start(struct ms_disc *d, ms_errbuf *eb);
void disc_avahi_stop(struct ms_disc *d);
/* disc_avahi.c: re-browse; caller holds the poll lock.  1 if started. */
int disc_avahi_rebrowse(struct ms_disc *d);

#endif
