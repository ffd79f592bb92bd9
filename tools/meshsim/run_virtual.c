/*
 * run_virtual.c — STUB on branch wip-sim only, so meshsim links before
 * the real simulator (branch wip-vsim) lands; that file replaces this one.
 */
#include "ms_err_int.h"
#include "run.h"

ms_err msim_run_virtual(const msim_scenario *sc, const msim_virtual_opts *o,
                        msim_result *r, ms_errbuf *eb)
{
	(void)sc;
	(void)o;
	r->mode = "virtual";
	return ms_errf(eb, MS_EINVAL, "--virtual: not built yet");
}
