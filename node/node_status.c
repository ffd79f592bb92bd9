/*
 * node_status.c — ms_node_status_get: the node's own figures from one
 * snapshot (the store's counts that need no walk over keys, the
 * unacknowledged local ops, the arrival feed's end, the peer records),
 * and whether a daemon runs on the directory (runfiles.h).
 */
#include <string.h>

#include "arrival.h"
#include "node_int.h"
#include "peer_vv.h"
#include "peers.h"
#include "runfiles.h"

static int count_peer(const ms_peer_rec *p, void *arg)
{
	(void)p;
	(*(uint64_t *)arg)++;
	return 0;
}

ms_err ms_node_status_get(ms_node *n, ms_node_status *out, ms_errbuf *eb)
{
	ms_store_rtxn *rt = NULL;
	ms_store_summary sm;
	ms_errbuf why = {0};
	ms_node_status st;
	ms_err e;

	if (out == NULL)
		return ms_errf(eb, MS_EINVAL, "status: out is NULL");
	memset(&st, 0, sizeof st);
	if ((e = ms_store_read_begin(n->store, &rt, eb)) != MS_OK)
		return e;
	if ((e = ms_store_summary_quick(rt, &sm, &why)) != MS_OK ||
	    (e = ms_store_foreach_peer(rt, count_peer, &st.peers, &why)) !=
	            MS_OK) {
		ms_store_read_end(&rt);
		return ms_errf(eb, e, "status: %s", why.msg);
	}
	st.ops = sm.ops;
	st.authors = sm.authors;
	st.keys = sm.keys;
	st.local_seq = sm.local_seq;
	st.quarantined = sm.quarantined;
	st.unacked_local = ms_store_unacked_local(rt);
	st.cursor = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	if ((e = ms_runfile_running(n->dir, &st.daemon_pid, &why)) != MS_OK)
		return ms_errf(eb, e, "status: %s", why.msg);
	*out = st;
	return MS_OK;
}
