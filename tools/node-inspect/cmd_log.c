/* cmd_log.c — `node-inspect log`: ops in (author, seq) order, filtered by
 * author prefix, seq and count; with --follow, then every new op as it
 * arrives (the store's arrival feed, woken by the store's commits). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arrival.h"
#include "inspect.h"
#include "wake.h"

/* Without a commit wake-up (inotify refused), look this often. */
#define FOLLOW_POLL_MS 200
/* With one, look anyway this often (a missed event costs at most this). */
#define FOLLOW_IDLE_MS 1000
/* A snapshot begun a moment before its commit was published: again in. */
#define FOLLOW_BEHIND_MS 2

typedef struct log_ctx {
	ins_ctx *x;
	uint64_t count;
	json_t *ops;         /* --json */
	ins_table *t;        /* tables */
	const uint8_t *from; /* whole author id, when given */
	int lines;           /* --follow --json: one op per line, at once */
	uint64_t arrival;    /* --follow: the feed is read up to here */
	uint64_t fresh;      /* --follow: new ops printed */
	int oom, failed;
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

/* --author and --since. */
static int op_wanted(const log_ctx *lc, const ms_op *op)
{
	if (lc->x->author != NULL) {
		char hex[2 * MS_PK_LEN + 1];
		ms_hex(hex, op->author, MS_PK_LEN);
		if (strncmp(hex, lc->x->author, strlen(lc->x->author)) != 0)
			return 0;
	}
	return op->seq > lc->x->since;
}

/* Print or collect one op. */
static void emit(log_ctx *lc, const ms_log_entry *e)
{
	const ms_op *op = &e->op;

	if (lc->lines) {
		if (ins_json_print_line(op_json(e)) != MS_EXIT_OK)
			lc->failed = 1;
	} else if (lc->ops != NULL) {
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
}

static int on_op(const ms_log_entry *e, void *arg)
{
	log_ctx *lc = arg;
	const ms_op *op = &e->op;

	/* With a whole id the store starts at that author: another author
	 * means we are past it. */
	if (lc->from != NULL && memcmp(op->author, lc->from, MS_PK_LEN) != 0)
		return 1;
	if (!op_wanted(lc, op))
		return 0;
	if (lc->x->limit != 0 && lc->count == lc->x->limit)
		return 1;
	lc->count++;
	emit(lc, e);
	return lc->oom || lc->failed;
}

/* A new op from the arrival feed: printed at once, as a row of its own
 * (tables) or a line (JSON). */
static int on_arrival(uint64_t arrival, const ms_log_entry *e, void *arg)
{
	log_ctx *lc = arg;

	lc->arrival = arrival;
	if (!op_wanted(lc, &e->op))
		return 0;
	if (!lc->lines) {
		ins_table_free(&lc->t);
		if ((lc->t = ins_table_new(9, NULL)) == NULL) {
			lc->oom = 1;
			return 1;
		}
	}
	emit(lc, e);
	if (!lc->lines && !lc->oom) {
		ins_table_print(lc->t, stdout);
		if (fflush(stdout) != 0)
			lc->failed = 1;
	}
	lc->fresh++;
	return lc->oom || lc->failed ||
	       (lc->x->count != 0 && lc->fresh >= lc->x->count);
}

/* --follow: after the log, what arrives, until a signal or --count. */
static int follow(ins_ctx *x, log_ctx *lc)
{
	ms_wake *w = NULL;
	ms_errbuf eb = {0};
	uint64_t wait_ms = 0;
	int rc = MS_EXIT_OK;

	/* No wake-up (out of inotify instances): a short poll finds the
	 * same ops, later. */
	if (ms_wake_new(&w, x->data, &eb) != MS_OK)
		w = NULL;
	while (!ins_live_stopped() && (x->count == 0 || lc->fresh < x->count)) {
		ms_store_rtxn *rt = NULL;
		int behind;

		if (wait_ms > 0)
			ins_live_wait(w != NULL ? ms_wake_fd(w) : -1, wait_ms);
		if (ins_live_stopped())
			break;
		if (w != NULL && ms_wake_drain(w) < 0)
			ms_wake_free(&w); /* data.mdb replaced: poll */
		if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
			ins_err("log: %s", eb.msg);
			rc = MS_EXIT_STORE;
			break;
		}
		/* a commit on disk but not yet in our snapshot: look again
		 * in a moment rather than at the next event */
		behind = ms_store_arrival_behind(rt);
		if (ms_store_foreach_arrival(rt, lc->arrival, on_arrival, lc,
		                             &eb) != MS_OK) {
			ins_err("log: %s", eb.msg);
			rc = MS_EXIT_STORE;
		}
		ms_store_read_end(&rt);
		if (lc->oom) {
			ins_err("log: out of memory");
			rc = MS_EXIT_STORE;
		}
		if (lc->failed && rc == MS_EXIT_OK) {
			ins_err("log: write to stdout failed");
			rc = MS_EXIT_STORE;
		}
		if (rc != MS_EXIT_OK)
			break;
		wait_ms = behind      ? FOLLOW_BEHIND_MS
		          : w != NULL ? FOLLOW_IDLE_MS
		                      : FOLLOW_POLL_MS;
	}
	ms_wake_free(&w);
	return rc;
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
	lc.lines = x->follow && x->json;
	if (x->follow)
		ins_live_signals();
	if (x->json && !lc.lines)
		lc.ops = json_array();
	else if (!x->json)
		lc.t = ins_table_new(9, hdr);
	if ((x->json && !lc.lines && lc.ops == NULL) ||
	    (!x->json && lc.t == NULL)) {
		ins_err("log: out of memory");
		return MS_EXIT_STORE;
	}
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("log: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	/* what --follow prints next is what arrives after this snapshot:
	 * nothing twice, nothing missed */
	lc.arrival = ms_store_arrival_head(rt);
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
	if (lc.failed) {
		ins_err("log: write to stdout failed");
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (lc.lines) {
		/* printed as they were read */
	} else if (x->json) {
		rc = ins_json_print(json_pack("{s:I, s:O}", "count",
		                              (json_int_t)lc.count, "ops",
		                              lc.ops));
	} else {
		ins_table_print(lc.t, stdout);
	}
	if (rc == MS_EXIT_OK && x->follow) {
		if (fflush(stdout) != 0) {
			ins_err("log: write to stdout failed");
			rc = MS_EXIT_STORE;
		} else {
			rc = follow(x, &lc);
		}
	}
out:
	json_decref(lc.ops);
	ins_table_free(&lc.t);
	return rc;
}
