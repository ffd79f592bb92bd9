/* cmd_help.c — `meshsync-node help [COMMAND]`. */
#include <stdio.h>

#include "cli.h"

int ms_cmd_help(const ms_cli *c)
{
	const ms_cli_cmd *cmd;

	if (c->npos == 0) {
		ms_cli_usage(stdout);
		return MS_EXIT_OK;
	}
	if (c->npos > 1)
		return ms_cli_usage_error(ms_cli_find("help"),
		                          "too many arguments");
	if ((cmd = ms_cli_find(c->pos[0])) == NULL) {
		ms_cli_err("help: unknown command '%s'", c->pos[0]);
		ms_cli_usage(stderr);
		return MS_EXIT_USAGE;
	}
	ms_cli_cmd_usage(stdout, cmd);
	return MS_EXIT_OK;
}
