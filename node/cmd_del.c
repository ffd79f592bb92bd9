/* cmd_del.c — `meshsync-node del KEY`: one durable DEL (tombstone). */
#include <string.h>

#include "cli.h"

int ms_cmd_del(const ms_cli *c)
{
	ms_errbuf eb = {0};
	ms_node *n = NULL;
	int rc;

	if ((rc = ms_cli_want_args(c, "del", 1, "KEY")) != MS_EXIT_OK ||
	    (rc = ms_cli_open(c, &n)) != MS_EXIT_OK)
		return rc;
	if (ms_node_del(n, c->pos[0], strlen(c->pos[0]),
	                c->background ? MS_NODE_PUT_BACKGROUND : 0, NULL,
	                &eb) != MS_OK)
		rc = ms_cli_fail(&eb);
	ms_node_close(&n);
	return rc;
}
