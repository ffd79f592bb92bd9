/* cmd_verify.c — `node-inspect verify`: re-check every op, index and digest
 * (ms_store_verify); exit 4 and list the faults when anything is wrong. */
#include <inttypes.h>
#include <stdio.h>

#include "inspect.h"

typedef struct verify_ctx {
	json_t *faults; /* --json; else faults are printed as they come */
	int oom;
} verify_ctx;

static void on_fault(const char *what, void *arg)
{
	verify_ctx *vc = arg;

	if (vc->faults != NULL) {
		if (json_array_append_new(vc->faults, json_string(what)) != 0)
			vc->oom = 1;
	} else {
		printf("fault: %s\n", what);
	}
}

int ins_cmd_verify(ins_ctx *x)
{
	verify_ctx vc = {0};
	ms_errbuf eb = {0};
	ms_store_rtxn *rt = NULL;
	ms_store_summary sm = {0};
	uint64_t faults = 0;
	ms_err e;
	int rc;

	if (x->json && (vc.faults = json_array()) == NULL) {
		ins_err("verify: out of memory");
		return MS_EXIT_STORE;
	}
	e = ms_store_verify(x->store, on_fault, &vc, &faults, &eb);
	if (e != MS_OK && e != MS_ECORRUPT) {
		ins_err("verify: %s", eb.msg);
		json_decref(vc.faults);
		return MS_EXIT_STORE;
	}
	if (e == MS_ECORRUPT && faults == 0)
		faults = 1; /* the store says corrupt; never report ok */
	/* The op count is for the report only; a store too damaged to
	 * summarise is already reported by its faults. */
	if (ms_store_read_begin(x->store, &rt, NULL) == MS_OK)
		ms_store_summary_get(rt, &sm, NULL);
	ms_store_read_end(&rt);
	rc = faults > 0 ? MS_EXIT_VERIFY : MS_EXIT_OK;
	if (x->json) {
		int prc;
		if (vc.oom) {
			ins_err("verify: out of memory");
			json_decref(vc.faults);
			return MS_EXIT_STORE;
		}
		prc = ins_json_print(
			json_pack("{s:b, s:I, s:I, s:O}", "ok", faults == 0,
		                  "ops", (json_int_t)sm.ops, "fault_count",
		                  (json_int_t)faults, "faults", vc.faults));
		json_decref(vc.faults);
		return prc != MS_EXIT_OK ? prc : rc;
	}
	if (faults == 0) {
		printf("ok: %" PRIu64 " ops verified\n", sm.ops);
	} else {
		printf("FAILED: %" PRIu64 " fault(s) in %" PRIu64 " ops\n",
		       faults, sm.ops);
		ins_err("verify %s: %" PRIu64 " fault(s)", x->data, faults);
	}
	return rc;
}
