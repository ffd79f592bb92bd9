/*
 * linkmon.c — the route-netlink watcher: one libmnl socket subscribed to
 * link and address multicast groups, turned into link up/down and address
 * add/remove events.  It keeps the last known up/down state of each
 * interface so that the many RTM_NEWLINK messages that change nothing that
 * matters here (statistics, MTU, ...) do not become events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "linkmon.h"

/* Interfaces whose state is remembered; beyond this, every NEWLINK of an
 * unremembered interface is reported (harmless: the node rate-limits). */
#define LM_MAX_IFS 4096

typedef struct lm_if {
	int ifindex;
	int up;
} lm_if;

struct ms_linkmon {
	struct mnl_socket *nl;
	ms_linkmon_fn fn;
	void *ctx;
	lm_if *ifs;
	size_t nifs, capifs;
	ms_linkmon_stats st;
	uint8_t *buf;
	size_t buflen;
};

ms_err ms_linkmon_new(ms_linkmon **out, ms_linkmon_fn fn, void *ctx,
                      ms_errbuf *eb)
{
	ms_linkmon *lm;
	ms_err err;
	int rcv = 1 << 20;

	if (out == NULL || fn == NULL)
		return ms_errf(eb, MS_EINVAL,
		               "ms_linkmon_new: missing argument");
	*out = NULL;
	lm = calloc(1, sizeof *lm);
	if (lm == NULL)
		return ms_errf(eb, MS_ENOMEM, "ms_linkmon_new: out of memory");
	lm->fn = fn;
	lm->ctx = ctx;
	/* Large enough for any one datagram the kernel sends us. */
	lm->buflen = 32768;
	lm->buf = malloc(lm->buflen);
	if (lm->buf == NULL) {
		err = ms_errf(eb, MS_ENOMEM, "ms_linkmon_new: out of memory");
		goto fail;
	}
	lm->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (lm->nl == NULL) {
		err = ms_errf(eb, MS_EIO, "mnl_socket_open(NETLINK_ROUTE): %s",
		              strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(lm->nl,
	                    RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
	                            RTMGRP_IPV6_IFADDR,
	                    MNL_SOCKET_AUTOPID) < 0) {
		err = ms_errf(eb, MS_EIO,
		              "mnl_socket_bind(RTMGRP_LINK|"
		              "IFADDR): %s",
		              strerror(errno));
		goto fail;
	}
	/* A burst (an interface with many addresses going away) should not
	 * overflow; if it does anyway, OVERRUN tells the node. */
	(void)setsockopt(mnl_socket_get_fd(lm->nl), SOL_SOCKET, SO_RCVBUF, &rcv,
	                 sizeof rcv);
	*out = lm;
	return MS_OK;

fail:
	if (lm->nl != NULL)
		mnl_socket_close(lm->nl);
	free(lm->buf);
	free(lm);
	return err;
}

void ms_linkmon_free(ms_linkmon **lp)
{
	ms_linkmon *lm;

	if (lp == NULL || *lp == NULL)
		return;
	lm = *lp;
	*lp = NULL;
	mnl_socket_close(lm->nl);
	free(lm->ifs);
	free(lm->buf);
	free(lm);
}

int ms_linkmon_fd(const ms_linkmon *lm)
{
	return mnl_socket_get_fd(lm->nl);
}

void ms_linkmon_stats_get(const ms_linkmon *lm, ms_linkmon_stats *out)
{
	*out = lm->st;
}

/* ------------------------------------------------------------ interfaces */

static lm_if *if_find(ms_linkmon *lm, int ifindex)
{
	size_t i;

	for (i = 0; i < lm->nifs; i++)
		if (lm->ifs[i].ifindex == ifindex)
			return &lm->ifs[i];
	return NULL;
}

static lm_if *if_add(ms_linkmon *lm, int ifindex)
{
	lm_if *n;
	size_t cap;

	if (lm->nifs == lm->capifs) {
		if (lm->capifs >= LM_MAX_IFS)
			return NULL;
		cap = lm->capifs == 0 ? 16 : lm->capifs * 2;
		n = realloc(lm->ifs, cap * sizeof *n);
		if (n == NULL)
			return NULL;
		lm->ifs = n;
		lm->capifs = cap;
	}
	n = &lm->ifs[lm->nifs++];
	n->ifindex = ifindex;
	n->up = -1;
	return n;
}

static void if_forget(ms_linkmon *lm, int ifindex)
{
	lm_if *f = if_find(lm, ifindex);

	if (f != NULL)
		*f = lm->ifs[--lm->nifs];
}

/* --------------------------------------------------------------- parsing */

typedef struct lm_attrs {
	const struct nlattr
		*tb[IFLA_MAX > IFA_MAX ? IFLA_MAX + 1 : IFA_MAX + 1];
	int max;
} lm_attrs;

static int attr_cb(const struct nlattr *attr, void *data)
{
	lm_attrs *a = data;
	int type = mnl_attr_get_type(attr);

	/* Unknown (newer) attributes are skipped, not errors. */
	if (mnl_attr_type_valid(attr, (uint16_t)a->max) < 0)
		return MNL_CB_OK;
	a->tb[type] = attr;
	return MNL_CB_OK;
}

static void emit(ms_linkmon *lm, const ms_linkmon_event *ev)
{
	lm->st.events++;
	lm->fn(lm->ctx, ev);
}

static void on_link(ms_linkmon *lm, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	lm_attrs a;
	ms_linkmon_event ev;
	lm_if *f;
	int up;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof *ifm)
		return;
	memset(&a, 0, sizeof a);
	a.max = IFLA_MAX;
	if (mnl_attr_parse(nlh, sizeof *ifm, attr_cb, &a) < 0) {
		lm->st.errors++;
		return;
	}
	memset(&ev, 0, sizeof ev);
	ev.ifindex = ifm->ifi_index;
	ev.flags = ifm->ifi_flags;
	if (a.tb[IFLA_IFNAME] != NULL &&
	    mnl_attr_validate(a.tb[IFLA_IFNAME], MNL_TYPE_STRING) >= 0)
		snprintf(ev.ifname, sizeof ev.ifname, "%s",
		         mnl_attr_get_str(a.tb[IFLA_IFNAME]));
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if_forget(lm, ev.ifindex);
		ev.kind = MS_LINKMON_LINK_DOWN;
		emit(lm, &ev);
		return;
	}
	up = (ifm->ifi_flags & IFF_UP) && (ifm->ifi_flags & IFF_RUNNING);
	f = if_find(lm, ev.ifindex);
	if (f == NULL)
		f = if_add(lm, ev.ifindex);
	if (f != NULL) {
		if (f->up == up)
			return;
		f->up = up;
	}
	ev.kind = up ? MS_LINKMON_LINK_UP : MS_LINKMON_LINK_DOWN;
	emit(lm, &ev);
}

static void on_addr(ms_linkmon *lm, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *at;
	lm_attrs a;
	ms_linkmon_event ev;
	size_t want;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof *ifa)
		return;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return;
	memset(&a, 0, sizeof a);
	a.max = IFA_MAX;
	if (mnl_attr_parse(nlh, sizeof *ifa, attr_cb, &a) < 0) {
		lm->st.errors++;
		return;
	}
	/* IPv4: IFA_LOCAL is our address (IFA_ADDRESS is the far end on a
	 * point-to-point link); IPv6 only has IFA_ADDRESS. */
	at = a.tb[IFA_LOCAL] != NULL ? a.tb[IFA_LOCAL] : a.tb[IFA_ADDRESS];
	want = ifa->ifa_family == AF_INET ? 4 : 16;
	if (at == NULL || mnl_attr_get_payload_len(at) != want) {
		lm->st.errors++;
		return;
	}
	memset(&ev, 0, sizeof ev);
	ev.kind = nlh->nlmsg_type == RTM_NEWADDR ? MS_LINKMON_ADDR_ADD
	                                         : MS_LINKMON_ADDR_DEL;
	ev.ifindex = (int)ifa->ifa_index;
	ev.family = ifa->ifa_family;
	ev.prefixlen = ifa->ifa_prefixlen;
	if (inet_ntop(ev.family, mnl_attr_get_payload(at), ev.addr,
	              sizeof ev.addr) == NULL) {
		lm->st.errors++;
		return;
	}
	if (if_indextoname((unsigned)ev.ifindex, ev.ifname) == NULL)
		ev.ifname[0] = '\0';
	emit(lm, &ev);
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	ms_linkmon *lm = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(lm, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(lm, nlh);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

int ms_linkmon_process(ms_linkmon *lm, int budget)
{
	uint64_t before = lm->st.events;
	ms_linkmon_event ev;
	ssize_t n;
	int i;

	if (budget <= 0)
		budget = MS_LINKMON_BUDGET_DEFAULT;
	for (i = 0; i < budget; i++) {
		n = mnl_socket_recvfrom(lm->nl, lm->buf, lm->buflen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				lm->st.overruns++;
				memset(&ev, 0, sizeof ev);
				ev.kind = MS_LINKMON_OVERRUN;
				emit(lm, &ev);
				continue;
			}
			lm->st.errors++;
			break;
		}
		lm->st.datagrams++;
		/* seq 0, portid 0: multicast notifications carry neither. */
		if (mnl_cb_run(lm->buf, (size_t)n, 0, 0, msg_cb, lm) < 0)
			lm->st.errors++;
	}
	return (int)(lm->st.events - before);
}
