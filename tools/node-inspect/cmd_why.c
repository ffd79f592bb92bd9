/*
 * cmd_why.c — `node-inspect why PEER`: one screen answering "why hasn't
 * this peer got my writes?": the link and since when, backoff and the next
 * attempt, what it lacks, own ops nobody confirmed, its last session and
 * last error, the budgets its last session hit and those the node hit
 * (the store counts them per node), input from it that was quarantined, and a
 * one-line verdict.  PEER is a prefix of the peer's hex node id or one of
 * its addresses.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "inspect.h"
#include "peer_vv.h"
#include "vector.h"

typedef struct why_ctx {
	ins_ctx *x;
	char want[2 * MS_PK_LEN + 1]; /* the prefix, lower-cased */
	int by_id;                    /* PEER is a hex prefix */
	ins_peer_list match;          /* matches (copied) */
	int oom;
} why_ctx;

/* The node-wide budgets hit and the quarantine from one peer. */
typedef struct facts {
	const uint8_t *peer;
	json_t *limits; /* name -> count, non-zero only */
	char limits_text[512];
	uint64_t quarantined, last_q_ms;
	uint8_t last_q_reason;
	json_t *q_reasons; /* reason -> count */
	int oom;
} facts;

/* An address matches as given or without its "tcp://". */
static int addr_matches(const char *have, const char *want)
{
	return strcmp(have, want) == 0 ||
	       (strncmp(have, "tcp://", 6) == 0 && strcmp(have + 6, want) == 0);
}

static int on_peer(const ms_peer_rec *p, void *arg)
{
	why_ctx *w = arg;
	int hit = 0;

	if (w->by_id && p->has_id) {
		char hex[2 * MS_PK_LEN + 1];
		ms_hex(hex, p->id, MS_PK_LEN);
		hit = strncmp(hex, w->want, strlen(w->want)) == 0;
	}
	for (uint32_t i = 0; !hit && i < p->naddrs; i++)
		hit = addr_matches(p->addrs[i], w->x->arg);
	if (!hit)
		return 0;
	if (ins_peer_list_add(&w->match, p) != 0) {
		w->oom = 1;
		return 1;
	}
	return 0;
}

static int on_stat(const char *name, uint64_t value, void *arg)
{
	facts *f = arg;
	size_t len = strlen(f->limits_text);

	if (strncmp(name, "limit_", 6) != 0 || value == 0)
		return 0;
	if (json_object_set_new(f->limits, name,
	                        json_integer((json_int_t)value)) != 0)
		f->oom = 1;
	if (len + 1 < sizeof f->limits_text)
		snprintf(f->limits_text + len, sizeof f->limits_text - len,
		         "%s%s=%" PRIu64, len ? ", " : "", name, value);
	return f->oom;
}

static int on_quarantine(const ms_quarantine_entry *q, void *arg)
{
	facts *f = arg;
	const char *reason = ms_op_reason_name((ms_op_reason)q->reason);
	json_t *old;

	if (!q->has_peer || memcmp(q->peer, f->peer, MS_PK_LEN) != 0)
		return 0;
	f->quarantined++;
	if (q->when_ms >= f->last_q_ms) {
		f->last_q_ms = q->when_ms;
		f->last_q_reason = q->reason;
	}
	old = json_object_get(f->q_reasons, reason);
	if (json_object_set_new(f->q_reasons, reason,
	                        json_integer(old ? json_integer_value(old) + 1
	                                         : 1)) != 0)
		f->oom = 1;
	return f->oom;
}

/* The one-line answer, from the facts in order of what blocks delivery
 * first: no link, then a link that is not done, then what is left. */
static void verdict(char *buf, size_t cap, const ms_peer_rec *p, uint64_t now,
                    uint64_t lag, const facts *f)
{
	char rel[INS_REL_LEN], err[160] = "";
	uint32_t tries = p->bo_attempts ? p->bo_attempts
	                                : (uint32_t)p->failures;
	size_t len;

	if (p->last_error[0] != '\0')
		snprintf(err, sizeof err, ": %s", p->last_error);
	switch ((ms_link_state)p->link) {
	case MS_LINK_STATE_BACKOFF:
		if (p->bo_next_attempt_ms > now)
			ins_rel_text(rel, p->bo_next_attempt_ms, now);
		else
			snprintf(rel, sizeof rel, "due now");
		snprintf(buf, cap,
		         "%s is in backoff: next attempt %s after %u "
		         "failure%s%s",
		         p->has_id ? "link" : "address", rel, (unsigned)tries,
		         tries == 1 ? "" : "s", err);
		break;
	case MS_LINK_STATE_CONNECTING:
		snprintf(buf, cap, "connecting now (%u earlier failure%s%s)",
		         (unsigned)tries, tries == 1 ? "" : "s", err);
		break;
	case MS_LINK_STATE_SYNCING:
		snprintf(buf, cap,
		         "a session is catching up: %" PRIu64
		         " op%s not yet known to be held",
		         lag, lag == 1 ? "" : "s");
		break;
	case MS_LINK_STATE_LIVE:
		if (lag == 0)
			snprintf(buf, cap,
			         "in sync: the link is live and the "
			         "peer is known to hold every op we "
			         "hold");
		else
			snprintf(buf, cap,
			         "the link is live; %" PRIu64
			         " op%s not yet acknowledged (being sent, or "
			         "its ACK is on the way)",
			         lag, lag == 1 ? "" : "s");
		break;
	case MS_LINK_STATE_DOWN:
		snprintf(buf, cap,
		         "no link: it connected to us before and "
		         "is not connected now; we have no address "
		         "to dial it at, so it has to connect again");
		break;
	case MS_LINK_STATE_LOST:
		snprintf(buf, cap,
		         "lost: its mDNS record was withdrawn and it "
		         "is not a static peer, so nothing dials it");
		break;
	case MS_LINK_STATE_DISCOVERED:
		snprintf(buf, cap,
		         "known, not tried yet: the first attempt is "
		         "pending");
		break;
	default:
		snprintf(buf, cap, "link state unknown (%u)",
		         (unsigned)p->link);
		break;
	}
	if (!p->has_id && p->link != MS_LINK_STATE_BACKOFF) {
		len = strlen(buf);
		snprintf(buf + len, cap - len,
		         "; no node has answered at %s yet",
		         p->naddrs > 0 ? p->addrs[0] : "its address");
	}
	if (p->has_id && lag == 0 && p->link != MS_LINK_STATE_LIVE) {
		len = strlen(buf);
		snprintf(buf + len, cap - len,
		         "; it already holds every op we hold");
	}
	if (f->quarantined > 0) {
		len = strlen(buf);
		snprintf(buf + len, cap - len,
		         "; %" PRIu64 " input%s from it quarantined (last: %s)",
		         f->quarantined, f->quarantined == 1 ? "" : "s",
		         ms_op_reason_name((ms_op_reason)f->last_q_reason));
	}
}

static void row(ins_table *t, const char *k, const char *v, int *oom)
{
	const char *r[2] = {k, v};

	if (ins_table_add(t, r) != 0)
		*oom = 1;
}

static int show(ins_ctx *x, ms_store_rtxn *rt, const ms_peer_rec *p)
{
	uint64_t now = ms_hlc_wall_ms(), lag = 0, own_lacked = 0, own_seq = 0;
	uint64_t unacked = ms_store_unacked_local(rt);
	facts f = {.peer = p->id};
	ms_errbuf eb = {0};
	ms_vv_entry own;
	char v[600];
	int rc = MS_EXIT_OK, oom = 0;

	f.limits = json_object();
	f.q_reasons = json_object();
	if (f.limits == NULL || f.q_reasons == NULL)
		f.oom = 1;
	if (ms_store_vv_entry_get(rt, ms_store_node_id(x->store), &own, NULL) ==
	    MS_OK)
		own_seq = own.seq;
	if (p->has_id) {
		uint64_t theirs = ms_store_peer_vv_get(rt, p->id,
		                                       ms_store_node_id(
							       x->store));
		lag = ms_store_peer_lag(rt, p->id);
		own_lacked = own_seq > theirs ? own_seq - theirs : 0;
	}
	if (!f.oom &&
	    (ms_store_foreach_stat(rt, on_stat, &f, &eb) != MS_OK ||
	     (p->has_id && ms_store_foreach_quarantine(rt, on_quarantine, &f,
	                                               &eb) != MS_OK))) {
		ins_err("why: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (f.oom) {
		oom = 1;
		goto out;
	}
	verdict(v, sizeof v, p, now, lag, &f);
	if (x->json) {
		json_t *addrs = json_array(), *bo;
		char stext[48];
		for (uint32_t i = 0; addrs != NULL && i < p->naddrs; i++)
			if (json_array_append_new(addrs,
			                          json_string(p->addrs[i])) !=
			    0)
				addrs = NULL;
		ins_source_text(stext, sizeof stext, p->source);
		bo = json_pack("{s:I, s:I, s:I, s:I}", "attempts",
		               (json_int_t)p->bo_attempts, "kicks",
		               (json_int_t)p->bo_kicks, "last_delay_ms",
		               (json_int_t)p->bo_last_delay_ms,
		               "next_attempt_ms",
		               (json_int_t)p->bo_next_attempt_ms);
		rc = ins_json_print(json_pack(
			"{s:o, s:o, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:I, "
			"s:I, s:I, s:I, s:I, s:o, s:s, s:s, s:O, s:{s:I, s:I, "
			"s:O}, s:s}",
			"id",
			p->has_id ? ins_json_hex(p->id, MS_PK_LEN)
				  : json_null(),
			"addrs", addrs, "source_text", stext, "link",
			ms_link_state_name((ms_link_state)p->link),
			"link_since_ms", (json_int_t)p->link_since_ms, "now_ms",
			(json_int_t)now, "backoff", bo, "lag",
			p->has_id ? json_integer((json_int_t)lag) : json_null(),
			"own_ops_lacked",
			p->has_id ? json_integer((json_int_t)own_lacked)
				  : json_null(),
			"unacked_local_ops", (json_int_t)unacked, "sessions",
			(json_int_t)p->sessions, "failures",
			(json_int_t)p->failures, "last_seen_ms",
			(json_int_t)p->last_seen_ms, "last_good_ms",
			(json_int_t)p->last_good_ms, "last_summary",
			p->has_summary ? ins_summary_json(&p->last)
				       : json_null(),
			"last_error", p->last_error, "budgets_scope", "node",
			"budgets_hit", f.limits, "quarantined", "count",
			(json_int_t)f.quarantined, "last_ms",
			(json_int_t)f.last_q_ms, "reasons", f.q_reasons,
			"verdict", v));
	} else {
		ins_table *t = ins_table_new(2, NULL);
		char buf[600], rel[INS_REL_LEN], rel2[INS_REL_LEN];
		char when[INS_TIME_LEN], d[INS_DUR_LEN];
		char *id = p->has_id ? ins_hex(p->id, MS_PK_LEN) : NULL;

		if (t == NULL || (p->has_id && id == NULL)) {
			free(id);
			ins_table_free(&t);
			oom = 1;
			goto out;
		}
		row(t, "peer", id != NULL ? id : "(no node id yet)", &oom);
		free(id);
		buf[0] = '\0';
		for (uint32_t i = 0; i < p->naddrs; i++) {
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof buf - len, "%s%s%s",
			         i ? ", " : "", p->addrs[i],
			         (p->proven >> i) & 1 ? " (proven)" : "");
		}
		row(t, "addresses", p->naddrs ? buf : "-", &oom);
		ins_source_text(buf, sizeof buf, p->source);
		row(t, "source", buf, &oom);
		if (p->link_since_ms != 0)
			snprintf(buf, sizeof buf, "%s since %s (%s)",
			         ms_link_state_name((ms_link_state)p->link),
			         ins_time_text(when, p->link_since_ms),
			         ins_rel_text(rel, p->link_since_ms, now));
		else
			snprintf(buf, sizeof buf, "%s",
			         ms_link_state_name((ms_link_state)p->link));
		row(t, "link", buf, &oom);
		if (p->bo_attempts == 0 && p->bo_next_attempt_ms == 0)
			snprintf(buf, sizeof buf, "none");
		else
			snprintf(buf, sizeof buf,
			         "%u failed attempt%s since the last good "
			         "session, delay %s, next attempt %s",
			         (unsigned)p->bo_attempts,
			         p->bo_attempts == 1 ? "" : "s",
			         ins_dur_text(d, p->bo_last_delay_ms),
			         p->bo_next_attempt_ms > now
			                 ? ins_rel_text(rel,
			                                p->bo_next_attempt_ms,
			                                now)
			                 : "due now");
		row(t, "backoff", buf, &oom);
		if (p->has_id)
			snprintf(buf, sizeof buf,
			         "%" PRIu64
			         " op%s it is not known to hold, %" PRIu64
			         " of them our own",
			         lag, lag == 1 ? "" : "s", own_lacked);
		else
			snprintf(buf, sizeof buf, "- (no node id yet)");
		row(t, "lag", buf, &oom);
		snprintf(buf, sizeof buf,
		         "%" PRIu64 " own op%s no peer has confirmed "
		         "(node-wide)",
		         unacked, unacked == 1 ? "" : "s");
		row(t, "unacked", buf, &oom);
		snprintf(buf, sizeof buf,
		         "%" PRIu64 " completed, %" PRIu64
		         " failed; last good %s, last heard %s",
		         p->sessions, p->failures,
		         p->last_good_ms
		                 ? ins_rel_text(rel, p->last_good_ms, now)
		                 : "never",
		         p->last_seen_ms
		                 ? ins_rel_text(rel2, p->last_seen_ms, now)
		                 : "never");
		row(t, "sessions", buf, &oom);
		if (p->has_summary) {
			char s[200];
			ins_summary_text(s, sizeof s, &p->last);
			snprintf(buf, sizeof buf, "%s, ended %s: %s", s,
			         ins_rel_text(rel, p->last.end_ms, now),
			         p->last.end_reason[0] ? p->last.end_reason
			                               : "-");
		} else {
			snprintf(buf, sizeof buf, "none yet");
		}
		row(t, "last session", buf, &oom);
		row(t, "last error", p->last_error[0] ? p->last_error : "none",
		    &oom);
		if (p->has_summary)
			snprintf(buf, sizeof buf,
			         "%u in its last session; node-wide: %s",
			         (unsigned)p->last.limits_hit,
			         f.limits_text[0] ? f.limits_text : "none");
		else
			snprintf(buf, sizeof buf, "node-wide: %s",
			         f.limits_text[0] ? f.limits_text : "none");
		row(t, "budgets hit", buf, &oom);
		if (f.quarantined == 0)
			snprintf(buf, sizeof buf, "nothing from this peer");
		else
			snprintf(buf, sizeof buf,
			         "%" PRIu64 " input%s from this peer, last %s "
			         "%s",
			         f.quarantined, f.quarantined == 1 ? "" : "s",
			         ms_op_reason_name(
					 (ms_op_reason)f.last_q_reason),
			         ins_rel_text(rel, f.last_q_ms, now));
		row(t, "quarantine", buf, &oom);
		row(t, "verdict", v, &oom);
		if (!oom)
			ins_table_print(t, stdout);
		ins_table_free(&t);
	}
out:
	json_decref(f.limits);
	json_decref(f.q_reasons);
	if (oom) {
		ins_err("why: out of memory");
		rc = MS_EXIT_STORE;
	}
	return rc;
}

int ins_cmd_why(ins_ctx *x)
{
	why_ctx w = {.x = x};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	int rc = MS_EXIT_OK;

	w.by_id = ins_hex_prefix(x->arg, w.want);
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("why: %s", eb.msg);
		return MS_EXIT_STORE;
	}
	if (ms_store_foreach_peer(rt, on_peer, &w, &eb) != MS_OK) {
		ins_err("why: %s", eb.msg);
		rc = MS_EXIT_STORE;
	} else if (w.oom) {
		ins_err("why: out of memory");
		rc = MS_EXIT_STORE;
	} else if (w.match.n == 0) {
		ins_err("why %s: no such peer (node-inspect peers lists them)",
		        x->arg);
		rc = MS_EXIT_NOTFOUND;
	} else if (w.match.n > 1) {
		ins_err("why %s: ambiguous: %zu peers match; give more of the id:",
		        x->arg, w.match.n);
		for (size_t i = 0; i < w.match.n; i++) {
			char hex[2 * MS_PK_LEN + 1];
			const ms_peer_rec *p = &w.match.v[i];
			if (p->has_id)
				ms_hex(hex, p->id, MS_PK_LEN);
			fprintf(stderr, "  %s  %s  %s\n",
			        p->has_id ? hex : "(no id)",
			        ms_link_state_name((ms_link_state)p->link),
			        p->naddrs ? p->addrs[0] : "-");
		}
		rc = MS_EXIT_USAGE;
	} else {
		rc = show(x, rt, &w.match.v[0]);
	}
	ms_store_read_end(&rt);
	ins_peer_list_free(&w.match);
	return rc;
}
