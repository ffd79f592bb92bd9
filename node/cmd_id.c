/* cmd_id.c — `meshsync-node id`: print the node id. */
#include <stdio.h>

#include "cli.h"

int ms_cmd_id(const ms_cli *c)
{
	ms_node *n = NULL;
	char id[MS_NODE_ID_HEX_LEN];
	int rc;

	if ((rc = ms_cli_want_args(c, "id", 0, NULL)) != MS_EXIT_OK ||
	    (rc = ms_cli_open(c, &n)) != MS_EXIT_OK)
		return rc;
	ms_node_id_hex(n, id);
	printf("%s\n", id);
	ms_node_close(&n);
	return MS_EXIT_OK;
}
