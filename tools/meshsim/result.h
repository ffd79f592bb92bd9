/*
 * result.h — what one meshsim run measured, and the one JSON document both
 * runners print (docs/meshsim.md lists the fields):
 *
 *   {"scenario": "lossy", "mode": "real"|"virtual", "seed": 7,
 *    "nodes": 6, "converged": true, "seconds_to_converge": 3.2,
 *    "ops_written": 200, "ops_everywhere": 200, "missing": 0,
 *    "bytes_sent": 123456, "op_transfers": 1400, "min_transfers": 1000,
 *    "amplification": 1.4, "faults": {...fault_* counters...},
 *    "state_hash": ["ab12...", ...], "wall_seconds": 9.1}
 *
 * `wall_seconds` is the only field that depends on the machine; in a
 * virtual run every other field is a function of the scenario and seed,
 * so the same seed prints the same bytes (wall_seconds aside).
 */
#ifndef MSIM_RESULT_H
#define MSIM_RESULT_H

#include <stdint.h>
#include <stdio.h>

#include "fault.h"
#include "scenario.h"

typedef struct msim_result {
	const char *mode; /* "real" or "virtual" */
	uint64_t seed;
	int converged;
	double seconds_to_converge; /* from the last heal (scenario time) */
	uint64_t ops_written;
	uint64_t ops_everywhere; /* written ops every node holds */
	uint64_t missing;        /* written ops some node lacks */
	uint64_t bytes_sent;     /* all messages, all links */
	uint64_t op_transfers;   /* ops carried in OPS messages */
	uint64_t min_transfers;  /* ops_written * (nodes - 1) */
	ms_fault_stats faults;   /* summed over all nodes or links */
	char state_hash[MSIM_MAX_NODES][65]; /* hex, per node */
	double wall_seconds;
} msim_result;

/* Print r for scenario sc as one JSON document and a newline on out. */
void msim_result_print(const msim_scenario *sc, const msim_result *r,
                       FILE *out);

/* Exit status for r: 0 converged with nothing missing, 1 otherwise. */
int msim_result_status(const msim_result *r);

#endif
