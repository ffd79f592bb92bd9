/* cmd_quarantine.c — `node-inspect quarantine`: rejected input, oldest
 * first: when, why, from which peer, how big, and its first bytes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "inspect.h"

#define QUAR_HEAD 64 /* bytes of each entry shown */

typedef struct quar_ctx {
	uint64_t now;
	uint64_t count;
	json_t *items;
	ins_table *t;
	int oom;
} quar_ctx;

static int on_entry(const ms_quarantine_entry *q, void *arg)
{
	quar_ctx *qc = arg;
	const char *reason = ms_op_reason_name((ms_op_reason)q->reason);
	size_t head = q->len < QUAR_HEAD ? q->len : QUAR_HEAD;
	char when[INS_TIME_LEN];

	qc->count++;
	ins_time_text(when, q->when_ms);
	if (qc->items != NULL) {
		json_t *j = json_pack("{s:I, s:s, s:s, s:o, s:I, s:I, s:o}",
		                      "when_ms", (json_int_t)q->when_ms, "when",
		                      when, "reason", reason, "peer",
		                      q->has_peer
		                              ? ins_json_hex(q->peer, MS_PK_LEN)
		                              : json_null(),
		                      "orig_len", (json_int_t)q->orig_len,
		                      "kept_len", (json_int_t)q->len, "head",
		                      ins_json_hex(q->buf, head));
		if (j == NULL || json_array_append_new(qc->items, j) != 0)
			qc->oom = 1;
	} else {
		char rel[INS_REL_LEN], len[24];
		char *peer = q->has_peer ? ins_hex(q->peer, 8)
		                         : strdup("local");
		char *hex = ins_hex(q->buf, head);
		const char *row[6] = {when, rel, reason, peer, len, hex};

		ins_rel_text(rel, q->when_ms, qc->now);
		snprintf(len, sizeof len, "%" PRIu64, q->orig_len);
		if (peer == NULL || hex == NULL ||
		    ins_table_add(qc->t, row) != 0)
			qc->oom = 1;
		free(peer);
		free(hex);
	}
	return qc->oom;
}

int ins_cmd_quarantine(ins_ctx *x)
{
	static const char *const hdr[6] = {"WHEN",   "AGO",
	                                   "REASON", "PEER",
	                                   "BYTES",  "FIRST BYTES (HEX)"};
	quar_ctx qc = {0};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	int rc = MS_EXIT_OK;

	qc.now = ms_hlc_wall_ms();
	if (x->json)
		qc.items = json_array();
	else
		qc.t = ins_table_new(6, hdr);
	if ((x->json && qc.items == NULL) || (!x->json && qc.t == NULL)) {
		ins_err("quarantine: out of memory");
		return MS_EXIT_STORE;
	}
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("quarantine: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_foreach_quarantine(rt, on_entry, &qc, &eb) != MS_OK) {
		ins_err("quarantine: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&rt);
	if (qc.oom) {
		ins_err("quarantine: out of memory");
		rc = MS_EXIT_STORE;
	}
	if (rc != MS_EXIT_OK)
		goto out;
	if (x->json)
		rc = ins_json_print(json_pack("{s:I, s:O}", "count",
		                              (json_int_t)qc.count,
		                              "quarantine", qc.items));
	else if (qc.count == 0)
		printf("quarantine is empty\n");
	else
		ins_table_print(qc.t, stdout);
out:
	json_decref(qc.items);
	ins_table_free(&qc.t);
	return rc;
}
