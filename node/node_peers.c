/*
 * node_peers.c — ms_node_peers: the persistent peer records (peers.h) as
 * the public ms_node_peer, with each identified peer's lag (peer_vv.h),
 * and ms_node_link_name, the public face of the store's link states.
 */
#include <string.h>

#include "node_int.h"
#include "peer_vv.h"
#include "peers.h"

/* The public enum is the store's, value for value: records hold the
 * store's numbers and are handed out as they are. */
_Static_assert(MS_NODE_LINK_DISCOVERED == (int)MS_LINK_STATE_DISCOVERED,
               "link states in step");
_Static_assert(MS_NODE_LINK_CONNECTING == (int)MS_LINK_STATE_CONNECTING,
               "link states in step");
_Static_assert(MS_NODE_LINK_SYNCING == (int)MS_LINK_STATE_SYNCING,
               "link states in step");
_Static_assert(MS_NODE_LINK_LIVE == (int)MS_LINK_STATE_LIVE,
               "link states in step");
_Static_assert(MS_NODE_LINK_BACKOFF == (int)MS_LINK_STATE_BACKOFF,
               "link states in step");
_Static_assert(MS_NODE_LINK_DOWN == (int)MS_LINK_STATE_DOWN,
               "link states in step");
_Static_assert(MS_NODE_LINK_LOST == (int)MS_LINK_STATE_LOST,
               "link states in step");
_Static_assert(MS_NODE_LINK_LOST + 1 == (int)MS_LINK_STATE_COUNT_,
               "a link state the public enum does not name");

const char *ms_node_link_name(ms_node_link l)
{
	return ms_link_state_name((ms_link_state)l);
}

typedef struct peers_ctx {
	ms_store_rtxn *rt;
	ms_node_peer_fn fn;
	void *ctx;
} peers_ctx;

static int on_peer(const ms_peer_rec *p, void *arg)
{
	peers_ctx *c = arg;
	const char *addrs[MS_PEER_MAX_ADDRS];
	char addr[MS_PEER_MAX_ADDRS][MS_PEER_ADDR_MAX];
	char last_error[sizeof p->last_error + 1];
	char end_reason[sizeof p->last.end_reason + 1];
	ms_node_summary sum;
	ms_node_peer np;
	size_t na = p->naddrs < MS_PEER_MAX_ADDRS ? p->naddrs
	                                          : MS_PEER_MAX_ADDRS;

	/* the record is plain data from the file: its strings are
	 * terminated here, whatever it holds */
	/* cppcheck-suppress knownConditionTrueFalse ; na comes from the
	 * record read from the store, which cppcheck takes for zeroed */
	for (size_t i = 0; i < na; i++) {
		memcpy(addr[i], p->addrs[i], MS_PEER_ADDR_MAX);
		addr[i][MS_PEER_ADDR_MAX - 1] = '\0';
		addrs[i] = addr[i];
	}
	memcpy(last_error, p->last_error, sizeof p->last_error);
	last_error[sizeof p->last_error] = '\0';
	memset(&np, 0, sizeof np);
	np.id = p->has_id ? p->id : NULL;
	np.addrs = addrs;
	np.naddrs = na;
	np.static_peer = (p->source & MS_PEER_SRC_STATIC) != 0;
	np.mdns = (p->source & MS_PEER_SRC_MDNS) != 0;
	np.pex = (p->source & MS_PEER_SRC_PEX) != 0;
	np.inbound = (p->source & MS_PEER_SRC_INBOUND) != 0;
	np.link = (ms_node_link)p->link;
	np.link_since_ms = p->link_since_ms;
	np.last_good_ms = p->last_good_ms;
	np.sessions = p->sessions;
	np.failures = p->failures;
	np.next_attempt_ms = p->bo_next_attempt_ms;
	np.lag = p->has_id ? ms_store_peer_lag(c->rt, p->id) : 0;
	np.last_error = last_error;
	if (p->has_summary) {
		const ms_session_summary *m = &p->last;
		memcpy(end_reason, m->end_reason, sizeof m->end_reason);
		end_reason[sizeof m->end_reason] = '\0';
		sum.start_ms = m->start_ms;
		sum.end_ms = m->end_ms;
		sum.outbound = m->outbound != 0;
		sum.received = m->received;
		sum.applied = m->applied;
		sum.duplicate = m->duplicate;
		sum.rejected = m->rejected;
		sum.conflicts = m->conflicts;
		sum.sent = m->sent;
		sum.bytes_in = m->bytes_in;
		sum.bytes_out = m->bytes_out;
		sum.end_reason = end_reason;
		sum.limits_hit = m->limits_hit;
		np.last = &sum;
	}
	return c->fn(&np, c->ctx);
}

ms_err ms_node_peers(ms_node *n, ms_node_peer_fn fn, void *ctx, ms_errbuf *eb)
{
	peers_ctx c = {NULL, fn, ctx};
	ms_errbuf why = {0};
	ms_err e;

	if (fn == NULL)
		return ms_errf(eb, MS_EINVAL, "peers: no callback given");
	if ((e = ms_store_read_begin(n->store, &c.rt, eb)) != MS_OK)
		return e;
	e = ms_store_foreach_peer(c.rt, on_peer, &c, &why);
	ms_store_read_end(&c.rt);
	if (e != MS_OK)
		return ms_errf(eb, e, "peers: %s", why.msg);
	return MS_OK;
}
