/*
 * run.h — the two ways meshsim runs a scenario.  Each fills *r (mode,
 * seed, measurements) and returns MS_OK when the run itself worked
 * (converged or not: msim_result_status says), or an error in eb when it
 * could not run (a node would not start, a store would not open).
 */
#ifndef MSIM_RUN_H
#define MSIM_RUN_H

#include "ms_err.h"
#include "result.h"
#include "scenario.h"

/* Real meshsync-node processes on 127.0.0.1 (run_real.c).  node_bin and
 * inspect_bin: the programs; workdir: where the nodes' data goes. */
typedef struct msim_real_opts {
	const char *node_bin;
	const char *inspect_bin;
	const char *adversary_bin; /* for [adversary]; NULL: refused */
	const char *workdir;
	int verbose; /* progress on stderr */
} msim_real_opts;
ms_err msim_run_real(const msim_scenario *sc, const msim_real_opts *o,
                     msim_result *r, ms_errbuf *eb);

/* In one process: session state machines over simulated links with a
 * simulated clock, real stores under workdir (run_virtual.c).  Fully
 * determined by sc (its seed included). */
typedef struct msim_virtual_opts {
	const char *workdir; /* tmpfs preferred */
	int verbose;
} msim_virtual_opts;
ms_err msim_run_virtual(const msim_scenario *sc, const msim_virtual_opts *o,
                        msim_result *r, ms_errbuf *eb);

#endif
