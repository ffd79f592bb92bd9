/* cmd_summary.c — `node-inspect summary`: the store at a glance, and
 * whether the node runs with faults injected. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "ms_path.h"
#include "peer_vv.h"
#include "runfiles.h"

/* The fault layer's settings from DIR/node.faults (written by a daemon
 * running with faults on, removed when it stops): 1 with the line in buf,
 * 0 when there is none (faults off). */
static int faults_line(const ins_ctx *x, char *buf, size_t cap)
{
	char *path = ms_path_join(x->data, MS_RUN_FAULTS_FILE);
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	int got = 0;

	if (f != NULL && fgets(buf, (int)cap, f) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		got = buf[0] != '\0';
	}
	if (f != NULL)
		fclose(f);
	free(path);
	return got;
}

static json_t *policies_json(const ms_store *s)
{
	size_t n;
	const ms_policy_rule *r = ms_store_policies(s, &n);
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_pack("{s:s, s:s}", "prefix",
		                                       r[i].prefix, "policy",
		                                       ms_policy_name(
							       r[i].policy))) !=
		    0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static char *policies_text(const ms_store *s)
{
	size_t n, len = 1;
	const ms_policy_rule *r = ms_store_policies(s, &n);
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(r[i].prefix) + 16;
	if ((out = malloc(len + 32)) == NULL)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, len + 32 - l, "%s%s=%s", i ? ", " : "",
		         r[i].prefix[0] ? r[i].prefix : "*",
		         ms_policy_name(r[i].policy));
	}
	size_t l = strlen(out);
	snprintf(out + l, len + 32 - l, "%sdefault lww", n ? ", " : "");
	return out;
}

int ins_cmd_summary(ins_ctx *x)
{
	ms_store_rtxn *rt = NULL;
	ms_store_summary sm;
	ms_errbuf eb = {0};
	char node[2 * MS_PK_LEN + 1], net[2 * MS_NETID_LEN + 1];
	char vv[2 * MS_HASH_LEN + 1], sh[2 * MS_HASH_LEN + 1];
	char hlc[INS_HLC_LEN];
	uint64_t unacked;
	char faults[512];
	int rc = MS_EXIT_OK, has_faults;

	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK ||
	    ms_store_summary_get(rt, &sm, &eb) != MS_OK) {
		ins_err("summary: %s", eb.msg);
		ms_store_read_end(&rt);
		return MS_EXIT_STORE;
	}
	unacked = ms_store_unacked_local(rt);
	ms_store_read_end(&rt);
	ins_hlc_text(hlc, sm.hlc);
	ms_hex(node, sm.node_id, MS_PK_LEN);
	ms_hex(net, sm.network_id, MS_NETID_LEN);
	ms_hex(vv, sm.vv_digest, MS_HASH_LEN);
	ms_hex(sh, sm.state_hash, MS_HASH_LEN);
	has_faults = faults_line(x, faults, sizeof faults);

	if (x->json) {
		json_t *root = json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:o, s:I, s:o}",
			"node_id", node, "network_id", net, "ops",
			(json_int_t)sm.ops, "authors", (json_int_t)sm.authors,
			"keys", (json_int_t)sm.keys, "live_keys",
			(json_int_t)sm.live_keys, "conflicts",
			(json_int_t)sm.conflicts, "forks", (json_int_t)sm.forks,
			"quarantined", (json_int_t)sm.quarantined, "local_seq",
			(json_int_t)sm.local_seq, "hlc", (json_int_t)sm.hlc,
			"hlc_time", hlc, "vv_digest", vv, "state_hash", sh,
			"store_bytes", (json_int_t)sm.store_bytes, "map_size",
			(json_int_t)sm.map_size, "policies",
			policies_json(x->store), "unacked_local_ops",
			(json_int_t)unacked, "faults",
			has_faults ? json_string(faults) : json_null());
		return ins_json_print(root);
	}

	{
		struct {
			const char *name;
			uint64_t v;
		} nums[] =
			{
				{"ops", sm.ops},
				{"authors", sm.authors},
				{"keys", sm.keys},
				{"live_keys", sm.live_keys},
				{"conflicts", sm.conflicts},
				{"forks", sm.forks},
				{"quarantined", sm.quarantined},
				{"local_seq", sm.local_seq},
				{"unacked_local_ops", unacked},
			},
		  sizes[] = {
			  {"store_bytes", sm.store_bytes},
			  {"map_size", sm.map_size},
		  };
		ins_table *t = ins_table_new(2, NULL);
		char *pol = policies_text(x->store);
		const char *row[2];
		int bad = t == NULL || pol == NULL;

#define ROW(a, b) \
	(row[0] = (a), row[1] = (b), bad |= ins_table_add(t, row) != 0)
		if (!bad) {
			ROW("node_id", node);
			ROW("network_id", net);
			for (size_t i = 0; i < sizeof nums / sizeof nums[0];
			     i++) {
				char buf[24];
				snprintf(buf, sizeof buf, "%" PRIu64,
				         nums[i].v);
				ROW(nums[i].name, buf);
			}
			ROW("hlc", hlc);
			for (size_t i = 0; i < sizeof sizes / sizeof sizes[0];
			     i++) {
				char buf[24];
				snprintf(buf, sizeof buf, "%" PRIu64,
				         sizes[i].v);
				ROW(sizes[i].name, buf);
			}
			ROW("vv_digest", vv);
			ROW("state_hash", sh);
			ROW("policies", pol);
			ROW("faults", has_faults ? faults : "off");
		}
#undef ROW
		if (bad) {
			ins_err("summary: out of memory");
			rc = MS_EXIT_STORE;
		} else {
			ins_table_print(t, stdout);
		}
		free(pol);
		ins_table_free(&t);
	}
	return rc;
}
