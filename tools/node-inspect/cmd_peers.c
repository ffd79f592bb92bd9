/* cmd_peers.c — `node-inspect peers`: every peer the node knows, with its
 * addresses, where it was learnt from, link state, backoff, how many ops it
 * still lacks and its last session summary; with --watch, again and again,
 * each time from a new read snapshot. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hlc.h"
#include "inspect.h"
#include "peer_vv.h"
#include "peers.h"

static const struct {
	uint8_t bit;
	const char *name;
} sources[] = {
	{MS_PEER_SRC_STATIC, "static"},
	{MS_PEER_SRC_MDNS, "mdns"},
	{MS_PEER_SRC_PEX, "pex"},
	{MS_PEER_SRC_INBOUND, "inbound"},
};
#define NSOURCES (sizeof sources / sizeof sources[0])

typedef struct peers_ctx {
	ms_store_rtxn *rt;
	uint64_t now;
	uint64_t count;
	json_t *peers;
	ins_table *t;
	int oom;
} peers_ctx;

void ins_source_text(char *buf, size_t cap, uint8_t bits)
{
	buf[0] = '\0';
	for (size_t i = 0; i < NSOURCES; i++)
		if (bits & sources[i].bit)
			snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s",
			         buf[0] ? "+" : "", sources[i].name);
	if (buf[0] == '\0')
		snprintf(buf, cap, "-");
}

json_t *ins_summary_json(const ms_session_summary *m)
{
	json_t *why = json_object();
	json_t *j;

	_Static_assert(MS_OPR_COUNT_ <= sizeof m->rejected_by_reason /
	                                        sizeof m->rejected_by_reason[0],
	               "a reason without a counter");
	for (unsigned r = 0; why != NULL && r < MS_OPR_COUNT_; r++)
		if (m->rejected_by_reason[r] != 0 &&
		    json_object_set_new(why, ms_op_reason_name((ms_op_reason)r),
		                        json_integer(
						(json_int_t)
							m->rejected_by_reason
								[r]))) {
			json_decref(why);
			why = NULL;
		}
	j = json_pack("{s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:I, "
	              "s:I, s:I, s:s, s:I}",
	              "start_ms", (json_int_t)m->start_ms, "end_ms",
	              (json_int_t)m->end_ms, "duration_ms",
	              (json_int_t)(m->end_ms > m->start_ms
	                                   ? m->end_ms - m->start_ms
	                                   : 0),
	              "direction", m->outbound ? "outbound" : "inbound",
	              "received", (json_int_t)m->received, "applied",
	              (json_int_t)m->applied, "duplicate",
	              (json_int_t)m->duplicate, "rejected",
	              (json_int_t)m->rejected, "rejected_by_reason", why,
	              "conflicts", (json_int_t)m->conflicts, "sent",
	              (json_int_t)m->sent, "bytes_in", (json_int_t)m->bytes_in,
	              "bytes_out", (json_int_t)m->bytes_out, "end_reason",
	              m->end_reason, "limits_hit", (json_int_t)m->limits_hit);
	return j;
}

static json_t *peer_json(peers_ctx *pc, const ms_peer_rec *p)
{
	json_t *addrs = json_array(), *src = json_array(), *bo, *j;
	char stext[48];

	for (uint32_t i = 0; addrs != NULL && i < p->naddrs; i++)
		if (json_array_append_new(addrs, json_string(p->addrs[i])) != 0)
			addrs = NULL;
	for (size_t i = 0; src != NULL && i < NSOURCES; i++)
		if ((p->source & sources[i].bit) &&
		    json_array_append_new(src, json_string(sources[i].name)) !=
		            0)
			src = NULL;
	bo = json_pack("{s:I, s:I, s:I, s:I, s:I}", "attempts",
	               (json_int_t)p->bo_attempts, "kicks",
	               (json_int_t)p->bo_kicks, "last_delay_ms",
	               (json_int_t)p->bo_last_delay_ms, "next_attempt_ms",
	               (json_int_t)p->bo_next_attempt_ms, "last_kick_ms",
	               (json_int_t)p->bo_last_kick_ms);
	ins_source_text(stext, sizeof stext, p->source);
	j = json_pack("{s:o, s:o, s:o, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, "
	              "s:I, s:o, s:s, s:o, s:o}",
	              "id",
	              p->has_id ? ins_json_hex(p->id, MS_PK_LEN) : json_null(),
	              "addrs", addrs, "source", src, "source_text", stext,
	              "source_bits", (json_int_t)p->source, "link",
	              ms_link_state_name((ms_link_state)p->link),
	              "link_since_ms", (json_int_t)p->link_since_ms,
	              "first_seen_ms", (json_int_t)p->first_seen_ms,
	              "last_seen_ms", (json_int_t)p->last_seen_ms,
	              "last_good_ms", (json_int_t)p->last_good_ms, "sessions",
	              (json_int_t)p->sessions, "failures",
	              (json_int_t)p->failures, "backoff", bo, "last_error",
	              p->last_error, "lag",
	              p->has_id ? json_integer(
					  (json_int_t)ms_store_peer_lag(pc->rt,
	                                                                p->id))
	                        : json_null(),
	              "last_summary",
	              p->has_summary ? ins_summary_json(&p->last)
	                             : json_null());
	return j;
}

void ins_summary_text(char *buf, size_t cap, const ms_session_summary *m)
{
	char d[INS_DUR_LEN];

	snprintf(buf, cap,
	         "%s %s rx %" PRIu64 " new %" PRIu64 " dup %" PRIu64
	         " rej %" PRIu64 " tx %" PRIu64 " (%s)",
	         m->outbound ? "out" : "in",
	         ins_dur_text(d, m->end_ms > m->start_ms
	                                 ? m->end_ms - m->start_ms
	                                 : 0),
	         m->received, m->applied, m->duplicate, m->rejected, m->sent,
	         m->end_reason[0] ? m->end_reason : "-");
}

static int on_peer(const ms_peer_rec *p, void *arg)
{
	peers_ctx *pc = arg;

	pc->count++;
	if (pc->peers != NULL) {
		json_t *j = peer_json(pc, p);
		if (j == NULL || json_array_append_new(pc->peers, j) != 0)
			pc->oom = 1;
	} else {
		char src[48], since[INS_REL_LEN], fails[24], sess[24], lag[24];
		char bo[160], last[200], next[INS_REL_LEN], delay[INS_DUR_LEN];
		char *id = p->has_id ? ins_hex(p->id, 8) : strdup("-");
		char *addrs = NULL;
		size_t alen = 2;
		const char *row[10];

		for (uint32_t i = 0; i < p->naddrs; i++)
			alen += strlen(p->addrs[i]) + 1;
		addrs = malloc(alen);
		if (addrs != NULL) {
			addrs[0] = '\0';
			for (uint32_t i = 0; i < p->naddrs; i++)
				snprintf(addrs + strlen(addrs),
				         alen - strlen(addrs), "%s%s",
				         i ? "," : "", p->addrs[i]);
			if (p->naddrs == 0)
				snprintf(addrs, alen, "-");
		}
		ins_source_text(src, sizeof src, p->source);
		ins_rel_text(since, p->link_since_ms, pc->now);
		snprintf(fails, sizeof fails, "%" PRIu64, p->failures);
		snprintf(sess, sizeof sess, "%" PRIu64, p->sessions);
		if (p->has_id)
			snprintf(lag, sizeof lag, "%" PRIu64,
			         ms_store_peer_lag(pc->rt, p->id));
		else
			snprintf(lag, sizeof lag, "-");
		if (p->bo_attempts == 0 && p->bo_next_attempt_ms == 0)
			snprintf(bo, sizeof bo, "-");
		else
			snprintf(bo, sizeof bo, "%u %s, delay %s, next %s",
			         (unsigned)p->bo_attempts,
			         p->bo_attempts == 1 ? "try" : "tries",
			         ins_dur_text(delay, p->bo_last_delay_ms),
			         ins_rel_text(next, p->bo_next_attempt_ms,
			                      pc->now));
		if (p->has_summary)
			ins_summary_text(last, sizeof last, &p->last);
		else
			snprintf(last, sizeof last, "-");
		row[0] = id;
		row[1] = addrs;
		row[2] = src;
		row[3] = ms_link_state_name((ms_link_state)p->link);
		row[4] = since;
		row[5] = fails;
		row[6] = bo;
		row[7] = sess;
		row[8] = lag;
		row[9] = last;
		if (id == NULL || addrs == NULL ||
		    ins_table_add(pc->t, row) != 0)
			pc->oom = 1;
		free(id);
		free(addrs);
	}
	return pc->oom;
}

/* One snapshot of the table; as one JSON line when line is set. */
static int peers_once(ins_ctx *x, int line)
{
	static const char *const hdr[10] = {"PEER",    "ADDRS",
	                                    "SOURCE",  "LINK",
	                                    "SINCE",   "FAILURES",
	                                    "BACKOFF", "SESSIONS",
	                                    "LAG",     "LAST SESSION"};
	peers_ctx pc = {0};
	ms_errbuf eb = {0};
	int rc = MS_EXIT_OK;

	pc.now = ms_hlc_wall_ms();
	if (x->json)
		pc.peers = json_array();
	else
		pc.t = ins_table_new(10, hdr);
	if ((x->json && pc.peers == NULL) || (!x->json && pc.t == NULL)) {
		ins_err("peers: out of memory");
		return MS_EXIT_STORE;
	}
	if (ms_store_read_begin(x->store, &pc.rt, &eb) != MS_OK) {
		ins_err("peers: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_foreach_peer(pc.rt, on_peer, &pc, &eb) != MS_OK) {
		ins_err("peers: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&pc.rt);
	if (pc.oom) {
		ins_err("peers: out of memory");
		rc = MS_EXIT_STORE;
	}
	if (rc != MS_EXIT_OK)
		goto out;
	if (x->json) {
		json_t *doc = json_pack("{s:I, s:I, s:O}", "count",
		                        (json_int_t)pc.count, "now_ms",
		                        (json_int_t)pc.now, "peers", pc.peers);
		rc = line ? ins_json_print_line(doc) : ins_json_print(doc);
	} else if (pc.count == 0)
		printf("no peers known\n");
	else
		ins_table_print(pc.t, stdout);
out:
	json_decref(pc.peers);
	ins_table_free(&pc.t);
	return rc;
}

int ins_cmd_peers(ins_ctx *x)
{
	int tty = isatty(STDOUT_FILENO);
	uint64_t n = 0;
	int rc = MS_EXIT_OK;

	if (!x->watch)
		return peers_once(x, 0);
	ins_live_signals();
	while (rc == MS_EXIT_OK && !ins_live_stopped()) {
		char when[INS_TIME_LEN], every[INS_DUR_LEN];

		n++;
		ins_time_text(when, ms_hlc_wall_ms());
		ins_dur_text(every, x->interval_ms);
		/* a terminal is redrawn in place (home, clear), like top; a
		 * pipe or file gets each snapshot after a marked line */
		if (tty && !x->json)
			printf("\033[H\033[2J");
		if (!x->json)
			printf("%s peers at %s, every %s (refresh %" PRIu64
			       "%s)\n",
			       tty ? "node-inspect" : "===", when, every, n,
			       tty ? "; Ctrl-C quits" : "");
		rc = peers_once(x, 1);
		if (!x->json && !tty)
			putchar('\n');
		if (fflush(stdout) != 0 || ferror(stdout)) {
			ins_err("peers: write to stdout failed");
			rc = MS_EXIT_STORE;
		}
		if (x->count != 0 && n >= x->count)
			break;
		ins_live_wait(-1, x->interval_ms);
	}
	return rc;
}
