/*
 * disc_avahi.c — the Avahi side of discovery: the client and its life
 * across daemon absences and restarts, our entry group (with renames on
 * collision), the browser, and one resolver per browsed instance.
 *
 * Everything here runs on the Avahi thread with the threaded-poll lock held
 * (Avahi calls us that way), except disc_avahi_start (before the thread
 * exists), disc_avahi_stop (after it ended) and disc_avahi_rebrowse (the
 * loop thread, holding the lock).
 *
 * Client life: always created with AVAHI_CLIENT_NO_FAIL, so a missing daemon
 * leaves it in CONNECTING and it comes to RUNNING by itself when the daemon
 * registers on the bus.  Without a system bus even that fails
 * (AVAHI_ERR_NO_DAEMON) and `timer` tries again every retry_ms.  On
 * AVAHI_CLIENT_FAILURE the client is useless (browsers, resolvers and group
 * die with it), so the timer fires at once to free it and start a new one;
 * that is done from the timer rather than inside the client's own callback.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/timeval.h>

#include "disc_int.h"

static void client_cb(AvahiClient *c, AvahiClientState state, void *userdata);
static void publish(struct ms_disc *d);

/* --------------------------------------------------------------- instances */

static disc_inst *inst_find(struct ms_disc *d, AvahiIfIndex ifi,
                            AvahiProtocol proto, const char *name,
                            const char *domain)
{
	disc_inst *in;

	for (in = d->insts; in != NULL; in = in->next)
		if (in->ifindex == ifi && in->proto == proto &&
		    strcmp(in->name, name) == 0 &&
		    strcmp(in->domain, domain) == 0)
			return in;
	return NULL;
}

/* Queue LOST for an accepted instance: `last` when no other accepted
 * instance carries the same node id. */
static void inst_lost(struct ms_disc *d, disc_inst *gone)
{
	ms_disc_event ev;
	disc_inst *in;

	if (gone->verdict != DISC_ACCEPTED)
		return;
	ev = gone->ev;
	ev.kind = MS_DISC_LOST;
	ev.last = 1;
	for (in = d->insts; in != NULL; in = in->next)
		if (in != gone && in->verdict == DISC_ACCEPTED &&
		    memcmp(in->ev.node_id, ev.node_id, MS_PK_LEN) == 0)
			ev.last = 0;
	disc_log(d, LOG_INFO, ev.name, "MS-DISC-LOST endpoint=%s last=%d",
	         ev.endpoint, ev.last);
	disc_queue_event(d, &ev);
	gone->verdict = DISC_PENDING;
}

/* Unlink and free one instance (LOST first if it was reported). */
static void inst_remove(struct ms_disc *d, disc_inst *gone)
{
	disc_inst **pp;

	inst_lost(d, gone);
	for (pp = &d->insts; *pp != NULL; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			break;
		}
	if (gone->res != NULL)
		avahi_service_resolver_free(gone->res);
	free(gone);
	d->ninsts--;
	DISC_STAT(d, d->st.records = d->ninsts);
}

/* ------------------------------------------------------------ resolution */

/* "tcp://127.0.0.1:7701" or "tcp://[fe80::1%eth0]:7701" (a link-local
 * IPv6 address means nothing without its interface). */
static int endpoint_of(const AvahiAddress *a, AvahiIfIndex ifi, uint16_t port,
                       char *out, size_t cap, int *family)
{
	char host[INET6_ADDRSTRLEN];
	char ifname[IF_NAMESIZE];
	const uint8_t *b;
	int n;

	if (a->proto == AVAHI_PROTO_INET) {
		if (inet_ntop(AF_INET, &a->data.ipv4.address, host,
		              sizeof host) == NULL)
			return -1;
		*family = AF_INET;
		n = snprintf(out, cap, "tcp://%s:%u", host, (unsigned)port);
	} else if (a->proto == AVAHI_PROTO_INET6) {
		b = a->data.ipv6.address;
		if (inet_ntop(AF_INET6, b, host, sizeof host) == NULL)
			return -1;
		*family = AF_INET6;
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
			if (ifi < 0 ||
			    if_indextoname((unsigned)ifi, ifname) == NULL)
				return -1;
			n = snprintf(out, cap, "tcp://[%s%%%s]:%u", host,
			             ifname, (unsigned)port);
		} else {
			n = snprintf(out, cap, "tcp://[%s]:%u", host,
			             (unsigned)port);
		}
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Count a skip once per instance; log it (a foreign or broken service on
 * the segment is worth one line, not one per announcement). */
static void inst_skip(struct ms_disc *d, disc_inst *in, uint64_t *counter,
                      int level, const char *why)
{
	if (in->verdict == DISC_SKIPPED)
		return;
	inst_lost(d, in);
	in->verdict = DISC_SKIPPED;
	pthread_mutex_lock(&d->mu);
	(*counter)++;
	pthread_mutex_unlock(&d->mu);
	disc_log(d, level, in->name, "MS-DISC-SKIP ifindex=%d reason=%s",
	         (int)in->ifindex, why);
}

static void resolve_cb(AvahiServiceResolver *r, AvahiIfIndex ifi,
                       AvahiProtocol proto, AvahiResolverEvent event,
                       const char *name, const char *type, const char *domain,
                       const char *host, const AvahiAddress *a, uint16_t port,
                       AvahiStringList *txt, AvahiLookupResultFlags flags,
                       void *userdata)
{
	disc_inst *in = userdata;
	struct ms_disc *d = in->d;
	const char *strs[32];
	size_t lens[32], n = 0;
	AvahiStringList *l;
	ms_disc_event ev;
	uint32_t ver = 0;
	char net[MS_DISC_NET_HEX + 1];
	ms_errbuf eb;
	int too_many = 0;

	(void)proto;
	(void)type;
	(void)domain;
	(void)flags;
	/* One answer is all we need: a changed service is withdrawn and
	 * announced again, which the browser reports. */
	avahi_service_resolver_free(r);
	in->res = NULL;

	if (event != AVAHI_RESOLVER_FOUND) {
		DISC_STAT(d, d->st.resolve_fail++);
		disc_log(d, LOG_NOTICE, name,
		         "MS-DISC-RESOLVE-FAIL ifindex=%d reason=\"%s\"",
		         (int)ifi,
		         avahi_strerror(avahi_client_errno(d->client)));
		return;
	}
	DISC_STAT(d, d->st.resolved++);
	for (l = txt; l != NULL; l = avahi_string_list_get_next(l)) {
		if (n == sizeof strs / sizeof strs[0]) {
			too_many = 1;
			break;
		}
		strs[n] = (const char *)avahi_string_list_get_text(l);
		lens[n] = avahi_string_list_get_size(l);
		n++;
	}
	memset(&ev, 0, sizeof ev);
	if (too_many) {
		inst_skip(d, in, &d->st.skip_malformed, LOG_NOTICE,
		          "txt:too_many_strings");
		return;
	}
	if (ms_disc_txt_parse(strs, lens, n, ev.node_id, &ver, net, &eb) !=
	    MS_OK) {
		char why[sizeof eb.msg + 2];
		snprintf(why, sizeof why, "\"%s\"", eb.msg);
		inst_skip(d, in, &d->st.skip_malformed, LOG_NOTICE, why);
		return;
	}
	if (memcmp(ev.node_id, d->node_id, MS_PK_LEN) == 0) {
		inst_skip(d, in, &d->st.skip_self, LOG_DEBUG, "self");
		return;
	}
	if (strcmp(net, d->net_hex) != 0) {
		inst_skip(d, in, &d->st.skip_net, LOG_INFO, "other_network");
		return;
	}
	if (ver != d->version) {
		inst_skip(d, in, &d->st.skip_version, LOG_INFO,
		          "other_version");
		return;
	}
	ev.kind = MS_DISC_FOUND;
	snprintf(ev.name, sizeof ev.name, "%s", name);
	ev.ifindex = (int)ifi;
	ev.port = port;
	if (endpoint_of(a, ifi, port, ev.endpoint, sizeof ev.endpoint,
	                &ev.family) != 0) {
		inst_skip(d, in, &d->st.skip_malformed, LOG_NOTICE, "address");
		return;
	}
	in->verdict = DISC_ACCEPTED;
	in->ev = ev;
	/* the host name is the announcer's text too: the endpoint says
	 * where it is */
	(void)host;
	disc_log(d, LOG_INFO, name, "MS-DISC-FOUND endpoint=%s", ev.endpoint);
	disc_queue_event(d, &ev);
}

/* ---------------------------------------------------------------- browse */

/* cppcheck-suppress constParameter ; the type is Avahi's browser callback */
static void browse_cb(AvahiServiceBrowser *b, AvahiIfIndex ifi,
                      AvahiProtocol proto, AvahiBrowserEvent event,
                      const char *name, const char *type, const char *domain,
                      AvahiLookupResultFlags flags, void *userdata)
{
	struct ms_disc *d = userdata;
	disc_inst *in, *next;

	(void)flags;
	if (b != d->browser)
		return; /* a browser being replaced */
	switch (event) {
	case AVAHI_BROWSER_NEW:
		if (strlen(name) >= MS_DISC_NAME_MAX ||
		    strlen(domain) >= DISC_DOMAIN_MAX)
			return; /* Avahi guarantees label sizes; be safe */
		in = inst_find(d, ifi, proto, name, domain);
		if (in == NULL && d->ninsts >= d->max_records) {
			/* mdns_records: anyone on the LAN may announce; a
			 * new instance waits until some go (ALL_FOR_NOW or
			 * REMOVE), neither resolved nor reported */
			DISC_STAT(d, d->st.records_full++);
			return;
		}
		if (in == NULL) {
			in = calloc(1, sizeof *in);
			if (in == NULL)
				return;
			d->ninsts++;
			DISC_STAT(d, d->st.records = d->ninsts);
			in->d = d;
			in->ifindex = ifi;
			in->proto = proto;
			snprintf(in->name, sizeof in->name, "%s", name);
			snprintf(in->domain, sizeof in->domain, "%s", domain);
			in->next = d->insts;
			d->insts = in;
		}
		in->seen = d->gen;
		if (in->res != NULL)
			avahi_service_resolver_free(in->res);
		/* aprotocol = the protocol it was announced on: on the
		 * IPv4-only loopback daemon asking for "any" can give ::1. */
		in->res = avahi_service_resolver_new(d->client, ifi, proto,
		                                     name, type, domain, proto,
		                                     0, resolve_cb, in);
		if (in->res == NULL) {
			DISC_STAT(d, d->st.resolve_fail++);
			disc_log(d, LOG_WARNING, name,
			         "MS-DISC-RESOLVE-FAIL reason=\"%s\"",
			         avahi_strerror(avahi_client_errno(d->client)));
		}
		break;
	case AVAHI_BROWSER_REMOVE:
		in = inst_find(d, ifi, proto, name, domain);
		if (in != NULL)
			inst_remove(d, in);
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
		/* The first round of a (re)browse is complete: whatever it did
		 * not report is gone. */
		for (in = d->insts; in != NULL; in = next) {
			next = in->next;
			if (in->seen != d->gen)
				inst_remove(d, in);
		}
		break;
	case AVAHI_BROWSER_CACHE_EXHAUSTED:
		break;
	case AVAHI_BROWSER_FAILURE:
		disc_log(d, LOG_ERR, NULL,
		         "MS-DISC-BROWSE-FAIL type=%s reason=\"%s\"", d->type,
		         avahi_strerror(avahi_client_errno(d->client)));
		avahi_service_browser_free(d->browser);
		d->browser = NULL;
		break;
	}
}

/* Start (or restart) the browser: a new generation, every resolver
 * dropped (the new browser reports every instance again). */
static void browse(struct ms_disc *d)
{
	disc_inst *in;

	if (d->browser != NULL) {
		avahi_service_browser_free(d->browser);
		d->browser = NULL;
	}
	for (in = d->insts; in != NULL; in = in->next)
		if (in->res != NULL) {
			avahi_service_resolver_free(in->res);
			in->res = NULL;
		}
	d->gen++;
	d->browser = avahi_service_browser_new(d->client, AVAHI_IF_UNSPEC,
	                                       d->proto, d->type, NULL, 0,
	                                       browse_cb, d);
	if (d->browser == NULL) {
		disc_log(d, LOG_ERR, NULL,
		         "MS-DISC-BROWSE-FAIL type=%s reason=\"%s\"", d->type,
		         avahi_strerror(avahi_client_errno(d->client)));
		return;
	}
	DISC_STAT(d, d->st.browses++);
}

int disc_avahi_rebrowse(struct ms_disc *d)
{
	if (d->client == NULL ||
	    avahi_client_get_state(d->client) != AVAHI_CLIENT_S_RUNNING)
		return 0;
	browse(d);
	return d->browser != NULL;
}

/* --------------------------------------------------------------- publish */

/* Take Avahi's alternative name ("name #2", "name #3", ...). */
static void rename_service(struct ms_disc *d)
{
	char *alt = avahi_alternative_service_name(d->name);

	if (alt == NULL)
		return;
	disc_log(d, LOG_NOTICE, d->name, "MS-DISC-COLLISION new=\"%s\"", alt);
	snprintf(d->name, sizeof d->name, "%s", alt);
	avahi_free(alt);
	pthread_mutex_lock(&d->mu);
	d->st.collisions++;
	memcpy(d->st.name, d->name, sizeof d->name);
	pthread_mutex_unlock(&d->mu);
}

static void group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state,
                     void *userdata)
{
	struct ms_disc *d = userdata;

	if (d->group != NULL && g != d->group)
		return;
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		pthread_mutex_lock(&d->mu);
		d->st.published = 1;
		d->st.registrations++;
		pthread_mutex_unlock(&d->mu);
		disc_log(d, LOG_INFO, d->name,
		         "MS-DISC-PUBLISHED type=%s port=%u id=%.16s", d->type,
		         (unsigned)d->port, d->id_hex);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* Someone else on the segment holds the name. */
		DISC_STAT(d, d->st.published = 0);
		rename_service(d);
		avahi_entry_group_reset(g);
		publish(d);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		DISC_STAT(d, d->st.published = 0);
		disc_log(d, LOG_ERR, d->name,
		         "MS-DISC-PUBLISH-FAIL reason=\"%s\"",
		         avahi_strerror(avahi_client_errno(
				 avahi_entry_group_get_client(g))));
		break;
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
	case AVAHI_ENTRY_GROUP_REGISTERING:
		break;
	}
}

/* Add our service to the (empty) group and commit it.  A name already
 * held on this host fails at once with AVAHI_ERR_COLLISION; a remote
 * holder shows up later as AVAHI_ENTRY_GROUP_COLLISION (group_cb). */
static void publish(struct ms_disc *d)
{
	AvahiStringList *txt = NULL;
	char v[16], id[4 + 2 * MS_PK_LEN], net[8 + MS_DISC_NET_HEX];
	int ret = 0, tries;

	if (d->no_publish || d->client == NULL)
		return;
	if (d->group == NULL) {
		d->group = avahi_entry_group_new(d->client, group_cb, d);
		if (d->group == NULL) {
			disc_log(d, LOG_ERR, NULL,
			         "MS-DISC-PUBLISH-FAIL "
			         "reason=\"avahi_entry_group_new: %s\"",
			         avahi_strerror(avahi_client_errno(d->client)));
			return;
		}
	}
	if (!avahi_entry_group_is_empty(d->group))
		return;
	snprintf(v, sizeof v, "v=%u", (unsigned)d->version);
	snprintf(id, sizeof id, "id=%s", d->id_hex);
	snprintf(net, sizeof net, "net=%s", d->net_hex);
	txt = avahi_string_list_new(v, id, net, NULL);
	if (txt == NULL) {
		disc_log(d, LOG_ERR, NULL,
		         "MS-DISC-PUBLISH-FAIL reason=\"out of "
		         "memory\"");
		return;
	}
	for (tries = 0; tries < DISC_RENAME_MAX; tries++) {
		/* Announced over both protocols whatever `families` says:
		 * it limits what we browse, not who may find us. */
		ret = avahi_entry_group_add_service_strlst(d->group,
		                                           AVAHI_IF_UNSPEC,
		                                           AVAHI_PROTO_UNSPEC,
		                                           0, d->name, d->type,
		                                           NULL, NULL, d->port,
		                                           txt);
		if (ret != AVAHI_ERR_COLLISION)
			break;
		rename_service(d);
	}
	if (ret >= 0)
		ret = avahi_entry_group_commit(d->group);
	if (ret < 0) {
		disc_log(d, LOG_ERR, d->name,
		         "MS-DISC-PUBLISH-FAIL reason=\"%s\"",
		         avahi_strerror(ret));
		avahi_entry_group_reset(d->group);
	}
	avahi_string_list_free(txt);
}

/* ---------------------------------------------------------------- client */

/* Free the client and everything that hangs off it.  Instances stay (the
 * members did not vanish because our daemon did) but lose their resolver;
 * the next browse decides who is still there. */
static void client_drop(struct ms_disc *d)
{
	disc_inst *in;

	if (d->client != NULL)
		avahi_client_free(d->client); /* frees group, browser,
		                               * resolvers */
	d->client = NULL;
	d->group = NULL;
	d->browser = NULL;
	for (in = d->insts; in != NULL; in = in->next)
		in->res = NULL;
}

static void arm_timer(struct ms_disc *d, unsigned ms)
{
	struct timeval tv;

	avahi_elapse_time(&tv, ms, 0);
	d->api->timeout_update(d->timer, &tv);
}

/* Say once that the daemon is unavailable (until it comes back). */
static void warn_down(struct ms_disc *d, const char *id, const char *why)
{
	if (!d->warned)
		disc_log(
			d, LOG_WARNING, NULL,
			"%s reason=\"%s\" action=\"mDNS "
			"discovery paused; static peers keep working; retrying\"",
			id, why);
	d->warned = 1;
	disc_set_up(d, 0);
}

static void client_start(struct ms_disc *d)
{
	AvahiClient *c;
	int error = 0;

	c = avahi_client_new(d->api, AVAHI_CLIENT_NO_FAIL, client_cb, d,
	                     &error);
	if (c == NULL) {
		DISC_STAT(d, d->st.client_fails++);
		warn_down(d, "MS-DISC-NODAEMON", avahi_strerror(error));
		arm_timer(d, d->retry_ms);
		return;
	}
	d->client = c;
	DISC_STAT(d, d->st.client_starts++);
}

static void timer_cb(AvahiTimeout *t, void *userdata)
{
	struct ms_disc *d = userdata;

	d->api->timeout_update(t, NULL); /* one-shot until armed again */
	client_drop(d);
	client_start(d);
}

static void client_cb(AvahiClient *c, AvahiClientState state, void *userdata)
{
	struct ms_disc *d = userdata;
	int error;

	/* Called from inside avahi_client_new, before it returns c. */
	d->client = c;
	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		if (d->warned)
			disc_log(d, LOG_NOTICE, NULL,
			         "MS-DISC-DAEMON-UP "
			         "action=\"publishing and browsing again\"");
		d->warned = 0;
		disc_set_up(d, 1);
		publish(d);
		browse(d);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* The host name is being (re)negotiated: withdraw, publish
		 * again when RUNNING. */
		if (d->group != NULL)
			avahi_entry_group_reset(d->group);
		DISC_STAT(d, d->st.published = 0);
		break;
	case AVAHI_CLIENT_CONNECTING:
		warn_down(d, "MS-DISC-NODAEMON", "avahi-daemon is not running");
		break;
	case AVAHI_CLIENT_FAILURE:
		error = avahi_client_errno(c);
		DISC_STAT(d, d->st.disconnects++);
		warn_down(d, "MS-DISC-DAEMON-LOST", avahi_strerror(error));
		/* Not from inside the client's own callback: let the timer
		 * free it and start a new one, at once. */
		arm_timer(d, 0);
		break;
	}
}

ms_err disc_avahi_start(struct ms_disc *d, ms_errbuf *eb)
{
	d->tp = avahi_threaded_poll_new();
	if (d->tp == NULL)
		return ms_errf(eb, MS_ENOMEM,
		               "avahi_threaded_poll_new: failed");
	d->api = avahi_threaded_poll_get(d->tp);
	d->timer = d->api->timeout_new(d->api, NULL, timer_cb, d);
	if (d->timer == NULL)
		return ms_errf(eb, MS_ENOMEM, "avahi timeout_new: failed");
	/* First attempt now, on this thread (the poll thread is not running
	 * yet, so nothing races us): a missing daemon is logged before
	 * ms_disc_new returns. */
	client_start(d);
	if (avahi_threaded_poll_start(d->tp) < 0)
		return ms_errf(eb, MS_EIO, "avahi_threaded_poll_start: failed");
	d->started = 1;
	return MS_OK;
}

void disc_avahi_stop(struct ms_disc *d)
{
	disc_inst *in, *next;

	if (d->tp == NULL)
		return;
	if (d->started)
		avahi_threaded_poll_stop(d->tp);
	d->started = 0;
	client_drop(d);
	for (in = d->insts; in != NULL; in = next) {
		next = in->next;
		free(in);
	}
	d->insts = NULL;
	d->ninsts = 0;
	if (d->timer != NULL)
		d->api->timeout_free(d->timer);
	d->timer = NULL;
	avahi_threaded_poll_free(d->tp);
	d->tp = NULL;
}
