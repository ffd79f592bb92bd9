/*
 * result.c — the one JSON document a meshsim run prints (docs/meshsim.md
 * lists the fields) and the exit status that goes with it.  Keys are
 * printed in a fixed order and reals with six significant digits, so two
 * virtual runs of one seed print the same bytes (wall_seconds aside).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "result.h"

static const char *topology_name(int t)
{
	switch (t) {
	case MSIM_LINE:
		return "line";
	case MSIM_RING:
		return "ring";
	case MSIM_GRID:
		return "grid";
	case MSIM_FULL:
		return "full";
	case MSIM_RANDOM:
		return "random";
	default:
		return "?";
	}
}

/* A measured time, rounded to the millisecond so it prints stably. */
static json_t *ms_real(double v)
{
	return json_real(round(v * 1000.0) / 1000.0);
}

void msim_result_print(const msim_scenario *sc, const msim_result *r, FILE *out)
{
	json_t *root = json_object(), *faults, *hashes = json_array();
	int bad = root == NULL || hashes == NULL;

	faults = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "seen",
	                   (json_int_t)r->faults.seen, "dropped",
	                   (json_int_t)r->faults.dropped, "cut",
	                   (json_int_t)r->faults.cut, "duplicated",
	                   (json_int_t)r->faults.duplicated, "corrupted",
	                   (json_int_t)r->faults.corrupted, "reordered",
	                   (json_int_t)r->faults.reordered, "delayed",
	                   (json_int_t)r->faults.delayed);
	for (int i = 0; !bad && i < sc->nodes; i++)
		bad |= json_array_append_new(hashes,
		                             json_string(r->state_hash[i])) !=
		       0;
	bad |= faults == NULL;
	if (!bad) {
		/* json_object_set_new keeps insertion order (jansson >= 2.8) */
		json_object_set_new(root, "scenario", json_string(sc->name));
		json_object_set_new(root, "mode", json_string(r->mode));
		json_object_set_new(root, "seed",
		                    json_integer((json_int_t)r->seed));
		json_object_set_new(root, "nodes", json_integer(sc->nodes));
		json_object_set_new(root, "topology",
		                    json_string(topology_name(sc->topology)));
		json_object_set_new(root, "converged",
		                    json_boolean(r->converged));
		json_object_set_new(root, "seconds_to_converge",
		                    r->converged
		                            ? ms_real(r->seconds_to_converge)
		                            : json_null());
		json_object_set_new(root, "ops_written",
		                    json_integer((json_int_t)r->ops_written));
		json_object_set_new(root, "ops_everywhere",
		                    json_integer(
					    (json_int_t)r->ops_everywhere));
		json_object_set_new(root, "missing",
		                    json_integer((json_int_t)r->missing));
		json_object_set_new(root, "bytes_sent",
		                    json_integer((json_int_t)r->bytes_sent));
		json_object_set_new(root, "op_transfers",
		                    json_integer((json_int_t)r->op_transfers));
		json_object_set_new(root, "min_transfers",
		                    json_integer((json_int_t)r->min_transfers));
		json_object_set_new(
			root, "amplification",
			r->min_transfers > 0
				? json_real(round((double)r->op_transfers /
		                                  (double)r->min_transfers *
		                                  1000.0) /
		                            1000.0)
				: json_null());
		json_object_set_new(root, "faults", faults);
		faults = NULL;
		json_object_set_new(root, "state_hash", hashes);
		hashes = NULL;
		json_object_set_new(root, "wall_seconds",
		                    ms_real(r->wall_seconds));
		if (json_dumpf(root, out,
		               JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0)
			bad = 1;
		fputc('\n', out);
	}
	if (bad)
		fprintf(stderr, "meshsim: printing the result failed (out of "
		                "memory?)\n");
	(void)fflush(out); /* the document is out before the exit status */
	json_decref(faults);
	json_decref(hashes);
	json_decref(root);
}

int msim_result_status(const msim_result *r)
{
	return r->converged && r->missing == 0 ? 0 : 1;
}
