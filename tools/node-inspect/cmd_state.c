/* cmd_state.c — `node-inspect state`: every key (or those under --prefix)
 * with its policy, what a read returns, and its heads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

typedef struct state_ctx {
	uint64_t count;
	json_t *keys;
	ins_table *t;
	int oom;
} state_ctx;

/* What a read of the key returns, as ms_node_get defines it. */
static json_t *values_json(const ms_key_state *ks)
{
	json_t *a = json_array();

	if (a == NULL || !ms_key_state_live(ks))
		return a;
	if (ks->policy == MS_POLICY_COUNTER) {
		char buf[24];
		snprintf(buf, sizeof buf, "%" PRId64, ks->counter);
		json_array_append_new(a, json_string(buf));
	} else {
		for (size_t i = 0; i < ks->nheads; i++) {
			if (ks->heads[i].type != MS_OP_PUT)
				continue;
			json_array_append_new(
				a, ins_json_text(ks->heads[i].value,
			                         ks->heads[i].value_len));
			if (ks->policy == MS_POLICY_LWW)
				break;
		}
	}
	return a;
}

json_t *ins_state_key_json(const ms_key_state *ks)
{
	json_t *heads = json_array();
	json_t *o;

	for (size_t i = 0; heads != NULL && i < ks->nheads; i++)
		if (json_array_append_new(heads,
		                          ins_json_head(ks, &ks->heads[i])) !=
		    0) {
			json_decref(heads);
			return NULL;
		}
	o = json_pack("{s:o, s:s, s:b, s:b, s:I, s:o, s:o}", "key",
	              ins_json_text(ks->key, ks->key_len), "policy",
	              ms_policy_name(ks->policy), "live", ms_key_state_live(ks),
	              "conflict", ms_key_state_conflict(ks), "ops",
	              (json_int_t)ks->nops, "values", values_json(ks), "heads",
	              heads);
	if (o != NULL && ks->policy == MS_POLICY_COUNTER &&
	    json_object_set_new(o, "counter", json_integer(ks->counter)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The VALUE cell: what a read returns, siblings joined by " | ". */
static char *values_text(const ms_key_state *ks)
{
	char *out = NULL;
	size_t len = 0;

	if (!ms_key_state_live(ks))
		return strdup("-");
	if (ks->policy == MS_POLICY_COUNTER) {
		char buf[24];
		snprintf(buf, sizeof buf, "%" PRId64, ks->counter);
		return strdup(buf);
	}
	for (size_t i = 0; i < ks->nheads; i++) {
		char *v, *n;
		size_t vl;
		if (ks->heads[i].type != MS_OP_PUT)
			continue;
		v = ins_text(ks->heads[i].value, ks->heads[i].value_len,
		             INS_VALUE_COLS);
		if (v == NULL)
			goto oom;
		vl = strlen(v);
		n = realloc(out, len + vl + 4);
		if (n == NULL) {
			free(v);
			goto oom;
		}
		out = n;
		if (len > 0) {
			memcpy(out + len, " | ", 3);
			len += 3;
		}
		memcpy(out + len, v, vl + 1);
		len += vl;
		free(v);
		if (ks->policy == MS_POLICY_LWW)
			break;
	}
	return out != NULL ? out : strdup("-");
oom:
	free(out);
	return NULL;
}

static int on_key(const ms_key_state *ks, void *arg)
{
	state_ctx *sc = arg;

	sc->count++;
	if (sc->keys != NULL) {
		json_t *j = ins_state_key_json(ks);
		if (j == NULL || json_array_append_new(sc->keys, j) != 0)
			sc->oom = 1;
	} else {
		char heads[24], ops[24];
		char *key = ins_text(ks->key, ks->key_len, INS_KEY_COLS);
		char *val = values_text(ks);
		const char *status = ms_key_state_live(ks)
		                             ? (ms_key_state_conflict(ks)
		                                        ? "live,conflict"
		                                        : "live")
		                             : (ms_key_state_conflict(ks)
		                                        ? "deleted,conflict"
		                                        : "deleted");
		const char *row[6] = {key,    ms_policy_name(ks->policy),
		                      status, heads,
		                      ops,    val};
		snprintf(heads, sizeof heads, "%zu", ks->nheads);
		snprintf(ops, sizeof ops, "%" PRIu64, ks->nops);
		if (key == NULL || val == NULL ||
		    ins_table_add(sc->t, row) != 0)
			sc->oom = 1;
		free(key);
		free(val);
	}
	return sc->oom;
}

int ins_cmd_state(ins_ctx *x)
{
	static const char *const hdr[6] = {"KEY",   "POLICY", "STATUS",
	                                   "HEADS", "OPS",    "VALUE"};
	state_ctx sc = {0};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	const char *prefix = x->prefix != NULL ? x->prefix : "";
	int rc = MS_EXIT_OK;

	if (x->json)
		sc.keys = json_array();
	else
		sc.t = ins_table_new(6, hdr);
	if (sc.keys == NULL && sc.t == NULL) {
		ins_err("state: out of memory");
		return MS_EXIT_STORE;
	}
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("state: %s", eb.msg);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ms_store_foreach_key(rt, (const uint8_t *)prefix, strlen(prefix),
	                         on_key, &sc, &eb) != MS_OK) {
		ins_err("state: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&rt);
	if (rc != MS_EXIT_OK)
		goto out;
	if (sc.oom) {
		ins_err("state: out of memory");
		rc = MS_EXIT_STORE;
	} else if (x->json) {
		rc = ins_json_print(json_pack("{s:I, s:O}", "count",
		                              (json_int_t)sc.count, "keys",
		                              sc.keys));
	} else {
		ins_table_print(sc.t, stdout);
	}
out:
	json_decref(sc.keys);
	ins_table_free(&sc.t);
	return rc;
}
