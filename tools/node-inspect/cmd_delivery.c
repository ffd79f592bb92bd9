/*
 * cmd_delivery.c — `node-inspect delivery KEY`: which peers are known to
 * hold the current value of KEY.  For each head of the key (its current
 * value, or each sibling), every identified peer whose acknowledged state
 * (peer_vv: what it showed or acknowledged holding, contiguously, per
 * author) covers the head's (author, seq) holds it; the head's author
 * holds it by having written it.  "Not known to hold" is not "lacks": a
 * peer may have it from someone else and not have told us yet.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "peer_vv.h"
#include "vector.h"

/* A head, copied out of the key's state (which later reads invalidate). */
typedef struct dhead {
	uint8_t id[MS_HASH_LEN];
	uint8_t author[MS_PK_LEN];
	uint64_t seq, hlc;
	uint8_t type;
} dhead;

typedef struct dctx {
	ms_store_rtxn *rt;
	dhead *heads;
	size_t nheads;
	uint64_t own_seq; /* our contiguous seq: what "own ops" are */
	const uint8_t *self;
	json_t *peers, *held_by, *not_known;
	ins_table *t;
	char *missing_text; /* "abab… (lacks 2 own ops), …" */
	size_t npeers, nheld;
	int oom;
} dctx;

static int head_held(const dctx *d, const uint8_t *peer, const dhead *h)
{
	return memcmp(peer, h->author, MS_PK_LEN) == 0 ||
	       ms_store_peer_vv_get(d->rt, peer, h->author) >= h->seq;
}

static void append_text(dctx *d, const char *s)
{
	size_t old = d->missing_text ? strlen(d->missing_text) : 0;
	char *n = realloc(d->missing_text, old + strlen(s) + 3);

	if (n == NULL) {
		d->oom = 1;
		return;
	}
	snprintf(n + old, strlen(s) + 3, "%s%s", old ? ", " : "", s);
	d->missing_text = n;
}

static int on_peer(const ms_peer_rec *p, void *arg)
{
	dctx *d = arg;
	uint64_t theirs, own_lacked, lag;
	size_t held = 0;
	json_t *missing = NULL;

	if (!p->has_id || memcmp(p->id, d->self, MS_PK_LEN) == 0)
		return 0; /* an address nobody answered on holds nothing */
	d->npeers++;
	theirs = ms_store_peer_vv_get(d->rt, p->id, d->self);
	own_lacked = d->own_seq > theirs ? d->own_seq - theirs : 0;
	lag = ms_store_peer_lag(d->rt, p->id);
	if (d->peers != NULL && (missing = json_array()) == NULL)
		d->oom = 1;
	for (size_t i = 0; i < d->nheads && !d->oom; i++) {
		if (head_held(d, p->id, &d->heads[i]))
			held++;
		else if (missing != NULL &&
		         json_array_append_new(missing,
		                               ins_json_hex(d->heads[i].id,
		                                            MS_HASH_LEN)) != 0)
			d->oom = 1;
	}
	if (held == d->nheads)
		d->nheld++;
	if (d->peers != NULL && !d->oom) {
		json_t *id = ins_json_hex(p->id, MS_PK_LEN);
		json_t *j = json_pack("{s:O, s:s, s:b, s:I, s:O, s:I, s:I}",
		                      "id", id, "link",
		                      ms_link_state_name(
					      (ms_link_state)p->link),
		                      "holds", held == d->nheads, "heads_held",
		                      (json_int_t)held, "missing", missing,
		                      "own_ops_lacked", (json_int_t)own_lacked,
		                      "lag", (json_int_t)lag);
		if (id == NULL || j == NULL ||
		    json_array_append_new(d->peers, j) != 0 ||
		    json_array_append(held == d->nheads ? d->held_by
		                                        : d->not_known,
		                      id) != 0)
			d->oom = 1;
		json_decref(id);
	} else if (d->t != NULL && !d->oom) {
		char holds[48], own[24], lg[24], who[64];
		char *label = ins_hex(p->id, 8);
		const char *row[5] = {label,
		                      ms_link_state_name(
					      (ms_link_state)p->link),
		                      holds, own, lg};
		if (held == d->nheads)
			snprintf(holds, sizeof holds, "yes");
		else if (held == 0)
			snprintf(holds, sizeof holds, "no");
		else
			snprintf(holds, sizeof holds, "%zu of %zu heads", held,
			         d->nheads);
		snprintf(own, sizeof own, "%" PRIu64, own_lacked);
		snprintf(lg, sizeof lg, "%" PRIu64, lag);
		if (label == NULL || ins_table_add(d->t, row) != 0)
			d->oom = 1;
		if (label != NULL && held != d->nheads) {
			snprintf(who, sizeof who,
			         "%s (lacks %" PRIu64 " own op%s)", label,
			         own_lacked, own_lacked == 1 ? "" : "s");
			append_text(d, who);
		}
		free(label);
	}
	json_decref(missing);
	return d->oom;
}

static json_t *heads_json(const dctx *d)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < d->nheads; i++) {
		const dhead *h = &d->heads[i];
		char hlc[INS_HLC_LEN];
		json_t *j = json_pack("{s:o, s:o, s:I, s:I, s:s, s:s}", "id",
		                      ins_json_hex(h->id, MS_HASH_LEN),
		                      "author",
		                      ins_json_hex(h->author, MS_PK_LEN), "seq",
		                      (json_int_t)h->seq, "hlc",
		                      (json_int_t)h->hlc, "hlc_time",
		                      ins_hlc_text(hlc, h->hlc), "type",
		                      h->type == MS_OP_DEL ? "del" : "put");
		if (j == NULL || json_array_append_new(a, j) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static void print_heads(const dctx *d, const ms_key_state *ks)
{
	static const char *const hdr[6] = {"HEAD", "AUTHOR", "SEQ",
	                                   "HLC",  "TYPE",   "ID"};
	ins_table *t = ins_table_new(6, hdr);

	for (size_t i = 0; t != NULL && i < d->nheads; i++) {
		const dhead *h = &d->heads[i];
		char n[40], seq[24], hlc[INS_HLC_LEN];
		char *author = ins_hex(h->author, 8), *id = ins_hex(h->id, 8);
		const char *row[6] = {n,
		                      author,
		                      seq,
		                      ins_hlc_text(hlc, h->hlc),
		                      h->type == MS_OP_DEL ? "del" : "put",
		                      id};
		snprintf(n, sizeof n, "%zu%s", i + 1,
		         i == 0 && ks->policy == MS_POLICY_LWW ? " (winner)"
		                                               : "");
		snprintf(seq, sizeof seq, "%" PRIu64, h->seq);
		if (author != NULL && id != NULL)
			(void)ins_table_add(t, row);
		free(author);
		free(id);
	}
	if (t != NULL)
		ins_table_print(t, stdout);
	ins_table_free(&t);
}

int ins_cmd_delivery(ins_ctx *x)
{
	static const char *const hdr[5] = {"PEER", "LINK", "HOLDS",
	                                   "OWN OPS LACKED", "LAG"};
	dctx d = {0};
	ms_key_state ks;
	ms_vv_entry own;
	ms_errbuf eb = {0};
	char *key = NULL;
	int rc = MS_EXIT_OK;
	ms_err e;

	d.self = ms_store_node_id(x->store);
	if (ms_store_read_begin(x->store, &d.rt, &eb) != MS_OK) {
		ins_err("delivery: %s", eb.msg);
		return MS_EXIT_STORE;
	}
	e = ms_store_get(d.rt, (const uint8_t *)x->arg, strlen(x->arg), &ks,
	                 &eb);
	if (e == MS_ENOTFOUND) {
		char *shown = ins_text((const uint8_t *)x->arg, strlen(x->arg),
		                       0);
		ins_err("delivery %s: no such key (never written)",
		        shown != NULL ? shown : x->arg);
		free(shown);
		rc = MS_EXIT_NOTFOUND;
		goto out;
	}
	if (e != MS_OK) {
		ins_err("delivery: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	/* the heads are the key's state's until the next read: copied */
	if ((d.heads = calloc(ks.nheads ? ks.nheads : 1, sizeof *d.heads)) ==
	            NULL ||
	    /* the key as asked: ms_store_get's ks.key may point into its
	     * own stack frame (store/read.c builds the lookup key there) */
	    (key = ins_text((const uint8_t *)x->arg, strlen(x->arg), 0)) ==
	            NULL) {
		d.oom = 1;
		goto out;
	}
	for (size_t i = 0; i < ks.nheads; i++) {
		memcpy(d.heads[i].id, ks.heads[i].id, MS_HASH_LEN);
		memcpy(d.heads[i].author, ks.heads[i].author, MS_PK_LEN);
		d.heads[i].seq = ks.heads[i].seq;
		d.heads[i].hlc = ks.heads[i].hlc;
		d.heads[i].type = ks.heads[i].type;
	}
	d.nheads = ks.nheads;
	if (ms_store_vv_entry_get(d.rt, d.self, &own, NULL) == MS_OK)
		d.own_seq = own.seq;
	if (x->json) {
		d.peers = json_array();
		d.held_by = json_array();
		d.not_known = json_array();
		d.oom = !d.peers || !d.held_by || !d.not_known;
	} else {
		d.oom = (d.t = ins_table_new(5, hdr)) == NULL;
		if (!d.oom) {
			printf("key %s: %s, %zu head%s%s\n", key,
			       ms_policy_name(ks.policy), d.nheads,
			       d.nheads == 1 ? "" : "s",
			       ks.heads_total > ks.nheads
			               ? " (more not read: heads_per_key)"
			               : "");
			print_heads(&d, &ks);
			putchar('\n');
		}
	}
	if (!d.oom && ms_store_foreach_peer(d.rt, on_peer, &d, &eb) != MS_OK) {
		ins_err("delivery: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (d.oom)
		goto out;
	if (x->json) {
		rc = ins_json_print(
			json_pack("{s:s, s:s, s:I, s:o, s:I, s:O, s:O, s:O}",
		                  "key", key, "policy",
		                  ms_policy_name(ks.policy), "heads_total",
		                  (json_int_t)ks.heads_total, "heads",
		                  heads_json(&d), "own_seq",
		                  (json_int_t)d.own_seq, "peers", d.peers,
		                  "held_by", d.held_by, "not_known",
		                  d.not_known));
	} else if (d.npeers == 0) {
		printf("no identified peers: no peer is known to hold it\n");
	} else {
		ins_table_print(d.t, stdout);
		printf("\nheld by %zu of %zu identified peer%s", d.nheld,
		       d.npeers, d.npeers == 1 ? "" : "s");
		if (d.missing_text != NULL)
			printf("; not known to hold it: %s", d.missing_text);
		putchar('\n');
	}
out:
	if (d.oom) {
		ins_err("delivery: out of memory");
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&d.rt);
	json_decref(d.peers);
	json_decref(d.held_by);
	json_decref(d.not_known);
	ins_table_free(&d.t);
	free(d.missing_text);
	free(d.heads);
	free(key);
	return rc;
}
