/* cmd_log.c — `node-inspect log`: ops in (author, seq) order, filtered by
 * author prefix, seq and count. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

typedef struct log_ctx {
	ins_ctx *x;
	uint64_t count;
	json_t *ops;         /* --json */
	ins_table *t;        /* tables */
	const uint8_t *from; /* whole author id, when given */
	int oom;
} log_ctx;

static json_t *op_json(const ms_log_entry *e)
{
	const ms_op *op = &e->op;
	json_t *parents = json_array();

	for (size_t i = 0; parents != NULL && i < op->nparents; i++)
		json_array_append_new(parents,
		                      ins_json_hex(op->parents +
		                                           i * MS_HASH_LEN,
		                                   MS_HASH_LEN));
	char hlc[INS_HLC_LEN];

	ins_hlc_text(hlc, op->hlc);
	return json_pack(
		"{s:o, s:o, s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:I}", "id",
		ins_json_hex(e->id, MS_HASH_LEN), "author",
		ins_json_hex(op->author, MS_PK_LEN), "seq", (json_int_t)op->seq,
		"hlc", (json_int_t)op->hlc, "hlc_time", hlc, "type",
		op->type == MS_OP_DEL ? "del" : "put", "priority",
		op->priority ? "background" : "user", "parents", parents, "key",
		ins_json_text(op->key, op->key_len), "value",
		op->type == MS_OP_DEL ? json_null()
				      : ins_json_text(op->value, op->value_len),
		"value_len", (json_int_t)op->value_len);
}

static int on_op(const ms_log_entry *e, void *arg)
{
	log_ctx *lc = arg;
	const ms_op *op = &e->op;

	/* With a whole id the store starts at that author: another author
	 * means we are past it. */
	if (lc->from != NULL && memcmp(op->author, lc->from, MS_PK_LEN) != 0)
		return 1;
	if (lc->x->author != NULL) {
		char hex[2 * MS_PK_LEN + 1];
		ms_hex(hex, op->author, MS_PK_LEN);
		if (strncmp(hex, lc->x->author, strlen(lc->x->author)) != 0)
			return 0;
	}
	if (lc->x->limit != 0 && lc->count == lc->x->limit)
		return 1;
	lc->count++;
	if (lc->ops != NULL) {
		json_t *j = op_json(e);
		if (j == NULL || json_array_append_new(lc->ops, j) != 0)
			lc->oom = 1;
	} else {
		char seq[24], hlc[INS_HLC_LEN], par[8];
		char *author = ins_hex(op->author, 8), *id = ins_hex(e->id, 8);
		char *key = ins_text(op->key, op->key_len, INS_KEY_COLS);
		char *val = op->type == MS_OP_DEL
		                    ? NULL
		                    : ins_text(op->value, op->value_len,
		                               INS_VALUE_COLS);
		const char *row[9] = {author,
		                      seq,
		                      hlc,
		                      op->type == MS_OP_DEL ? "del" : "put",
		                      op->priority ? "background" : "user",
		                      par,
		                      key,
		                      val != NULL ? val : "-",
		                      id};
		snprintf(seq, sizeof seq, "%" PRIu64, op->seq);
		ins_hlc_text(hlc, op->hlc);
		snprintf(par, sizeof par, "%u", (unsigned)op->nparents);
		if (!author || !id || !key || (op->type != MS_OP_DEL && !val) ||
		    ins_table_add(lc->t, row) != 0)
			lc->oom = 1;
		free(author);
		free(id);
		free(key);
		free(val);
	}
	return lc->oom ? 1 : 0;
}

int ins_cmd_log(ins_ctx *x)
{
	static const char *const hdr[9] = {"AUTHOR", "SEQ",   "HLC",
	                                   "TYPE",   "PRIO",  "PARENTS",
	                                   "KEY",    "VALUE", "ID"};
	log_ctx lc = {.x = x};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	uint8_t author[MS_PK_LEN];
	const uint8_t *from = NULL;
	int rc = MS_EXIT_OK;

	/* A whole id lets the store seek to that author's log; a prefix has
	 * to scan and filter. */
	if (x->author != NULL && strlen(x->author) == 2 * MS_PK_LEN &&
	    ms_unhex(author, MS_PK_LEN, x->author) == 0)
		from = author;
	lc.from = from;
	if (x->json)
		lc.ops = json_array();
	else
		lc.t = ins_table_new(9, hdr);
	if ((x->json && lc.ops == NULL) || (!x->json && lc.t == NULL)) {
		ins_err("log: out of memory");
		return MS_EXIT_STORE;
	}
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("log: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_foreach_log(rt, from, x->since, on_op, &lc, &eb) !=
	    MS_OK) {
		ins_err("log: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&rt);
	if (rc != MS_EXIT_OK)
		goto out;
	if (lc.oom) {
		ins_err("log: out of memory");
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (x->json) {
		rc = ins_json_print(json_pack("{s:I, s:O}", "count",
		                              (json_int_t)lc.count, "ops",
		                              lc.ops));
	} else {
		ins_table_print(lc.t, stdout);
	}
out:
	json_decref(lc.ops);
	ins_table_free(&lc.t);
	return rc;
}
