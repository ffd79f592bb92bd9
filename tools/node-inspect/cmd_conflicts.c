/* cmd_conflicts.c — `node-inspect conflicts`: keys whose concurrent heads
 * are a conflict under their policy, and forked (author, seq) slots. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

typedef struct conf_ctx {
	uint64_t count, nforks;
	json_t *keys, *forks;
	ins_table *t, *ft;
	int oom;
} conf_ctx;

static int on_key(const ms_key_state *ks, void *arg)
{
	conf_ctx *cc = arg;

	if (!ms_key_state_conflict(ks))
		return 0;
	cc->count++;
	if (cc->keys != NULL) {
		json_t *j = ins_state_key_json(ks);
		if (j == NULL || json_array_append_new(cc->keys, j) != 0)
			cc->oom = 1;
		return cc->oom;
	}
	for (size_t i = 0; i < ks->nheads && !cc->oom; i++) {
		const ms_head *h = &ks->heads[i];
		char seq[24], hlc[INS_HLC_LEN];
		char *key = ins_text(ks->key, ks->key_len, INS_KEY_COLS);
		char *author = ins_hex(h->author, 8);
		char *val = ins_head_value(ks, h, INS_VALUE_COLS);
		const char *row[8] = {key,
		                      ms_policy_name(ks->policy),
		                      author,
		                      seq,
		                      hlc,
		                      h->type == MS_OP_DEL ? "del" : "put",
		                      val != NULL ? val : "-",
		                      i == 0 ? "winner" : ""};
		snprintf(seq, sizeof seq, "%" PRIu64, h->seq);
		ins_hlc_text(hlc, h->hlc);
		if (!key || !author || (h->type != MS_OP_DEL && !val) ||
		    ins_table_add(cc->t, row) != 0)
			cc->oom = 1;
		free(key);
		free(author);
		free(val);
	}
	return cc->oom;
}

static int on_fork(const uint8_t author[MS_PK_LEN], uint64_t seq,
                   const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *arg)
{
	conf_ctx *cc = arg;

	cc->nforks++;
	if (cc->forks != NULL) {
		json_t *a = json_array();
		for (size_t i = 0; a != NULL && i < nids; i++)
			json_array_append_new(a, ins_json_hex(ids[i],
			                                      MS_HASH_LEN));
		if (json_array_append_new(cc->forks,
		                          json_pack("{s:o, s:I, s:o}", "author",
		                                    ins_json_hex(author,
		                                                 MS_PK_LEN),
		                                    "seq", (json_int_t)seq,
		                                    "ids", a)) != 0)
			cc->oom = 1;
		return cc->oom;
	}
	for (size_t i = 0; i < nids && !cc->oom; i++) {
		char s[24];
		char *a = ins_hex(author, MS_PK_LEN),
		     *id = ins_hex(ids[i], MS_HASH_LEN);
		const char *row[3] = {a, s, id};
		snprintf(s, sizeof s, "%" PRIu64, seq);
		if (!a || !id || ins_table_add(cc->ft, row) != 0)
			cc->oom = 1;
		free(a);
		free(id);
	}
	return cc->oom;
}

int ins_cmd_conflicts(ins_ctx *x)
{
	static const char *const hdr[8] = {"KEY", "POLICY", "AUTHOR", "SEQ",
	                                   "HLC", "TYPE",   "VALUE",  "WINNER"};
	static const char *const fhdr[3] = {"AUTHOR", "SEQ", "OP ID"};
	conf_ctx cc = {0};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	int rc = MS_EXIT_OK;

	if (x->json) {
		cc.keys = json_array();
		cc.forks = json_array();
		cc.oom = cc.keys == NULL || cc.forks == NULL;
	} else {
		cc.t = ins_table_new(8, hdr);
		cc.ft = ins_table_new(3, fhdr);
		cc.oom = cc.t == NULL || cc.ft == NULL;
	}
	if (cc.oom) {
		ins_err("conflicts: out of memory");
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("conflicts: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_foreach_key(rt, (const uint8_t *)"", 0, on_key, &cc,
	                         &eb) != MS_OK ||
	    (!cc.oom &&
	     ms_store_foreach_fork(rt, on_fork, &cc, &eb) != MS_OK)) {
		ins_err("conflicts: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&rt);
	if (rc != MS_EXIT_OK)
		goto out;
	if (cc.oom) {
		ins_err("conflicts: out of memory");
		rc = MS_EXIT_STORE;
	} else if (x->json) {
		rc = ins_json_print(json_pack("{s:I, s:O, s:O}", "count",
		                              (json_int_t)cc.count, "conflicts",
		                              cc.keys, "forks", cc.forks));
	} else {
		printf("%" PRIu64 " key(s) in conflict\n", cc.count);
		if (cc.count > 0)
			ins_table_print(cc.t, stdout);
		printf("%" PRIu64 " forked slot(s)\n", cc.nforks);
		if (cc.nforks > 0)
			ins_table_print(cc.ft, stdout);
	}
out:
	json_decref(cc.keys);
	json_decref(cc.forks);
	ins_table_free(&cc.t);
	ins_table_free(&cc.ft);
	return rc;
}
