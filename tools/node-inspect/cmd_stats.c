/* cmd_stats.c — `node-inspect stats`: the store's named counters and the
 * quarantine of rejected input. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

typedef struct stats_ctx {
	json_t *stats, *quar;
	ins_table *t, *qt;
	uint64_t nquar;
	int oom;
} stats_ctx;

static int on_stat(const char *name, uint64_t value, void *arg)
{
	stats_ctx *sc = arg;

	if (sc->stats != NULL) {
		if (json_object_set_new(sc->stats, name,
		                        json_integer((json_int_t)value)) != 0)
			sc->oom = 1;
	} else {
		char v[24];
		const char *row[2] = {name, v};
		snprintf(v, sizeof v, "%" PRIu64, value);
		if (ins_table_add(sc->t, row) != 0)
			sc->oom = 1;
	}
	return sc->oom;
}

static int on_quarantine(const ms_quarantine_entry *q, void *arg)
{
	stats_ctx *sc = arg;
	const char *reason = ms_op_reason_name((ms_op_reason)q->reason);

	sc->nquar++;
	if (sc->quar != NULL) {
		json_t *j = json_pack("{s:I, s:s, s:o, s:I, s:o}", "when_ms",
		                      (json_int_t)q->when_ms, "reason", reason,
		                      "peer",
		                      q->has_peer
		                              ? ins_json_hex(q->peer, MS_PK_LEN)
		                              : json_null(),
		                      "orig_len", (json_int_t)q->orig_len,
		                      "bytes", ins_json_hex(q->buf, q->len));
		if (j == NULL || json_array_append_new(sc->quar, j) != 0)
			sc->oom = 1;
	} else {
		char when[24], len[24];
		char *peer = q->has_peer ? ins_hex(q->peer, 8)
		                         : strdup("local");
		const char *row[4] = {when, reason, peer, len};
		snprintf(when, sizeof when, "%" PRIu64, q->when_ms);
		snprintf(len, sizeof len, "%" PRIu64, q->orig_len);
		if (peer == NULL || ins_table_add(sc->qt, row) != 0)
			sc->oom = 1;
		free(peer);
	}
	return sc->oom;
}

int ins_cmd_stats(ins_ctx *x)
{
	static const char *const hdr[2] = {"COUNTER", "VALUE"};
	static const char *const qhdr[4] = {"WHEN_MS", "REASON", "PEER",
	                                    "BYTES"};
	stats_ctx sc = {0};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	int rc = MS_EXIT_OK;

	if (x->json) {
		sc.stats = json_object();
		sc.quar = json_array();
		sc.oom = sc.stats == NULL || sc.quar == NULL;
	} else {
		sc.t = ins_table_new(2, hdr);
		sc.qt = ins_table_new(4, qhdr);
		sc.oom = sc.t == NULL || sc.qt == NULL;
	}
	if (sc.oom) {
		ins_err("stats: out of memory");
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("stats: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_foreach_stat(rt, on_stat, &sc, &eb) != MS_OK ||
	    (!sc.oom && ms_store_foreach_quarantine(rt, on_quarantine, &sc,
	                                            &eb) != MS_OK)) {
		ins_err("stats: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&rt);
	if (rc != MS_EXIT_OK)
		goto out;
	if (sc.oom) {
		ins_err("stats: out of memory");
		rc = MS_EXIT_STORE;
	} else if (x->json) {
		rc = ins_json_print(json_pack("{s:O, s:O}", "stats", sc.stats,
		                              "quarantine", sc.quar));
	} else {
		ins_table_print(sc.t, stdout);
		printf("\n%" PRIu64 " quarantined input(s)\n", sc.nquar);
		if (sc.nquar > 0)
			ins_table_print(sc.qt, stdout);
	}
out:
	json_decref(sc.stats);
	json_decref(sc.quar);
	ins_table_free(&sc.t);
	ins_table_free(&sc.qt);
	return rc;
}
