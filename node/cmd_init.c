/* cmd_init.c — `meshsync-node init`: create a node, print its ids. */
#include <stdio.h>

#include "cli.h"

int ms_cmd_init(const ms_cli *c)
{
	const ms_cli_cmd *cmd = ms_cli_find("init");
	ms_errbuf eb = {0};
	ms_node *n = NULL;
	char id[MS_NODE_ID_HEX_LEN], net[MS_NODE_ID_HEX_LEN];
	int rc;

	if (c->npos != 0)
		return ms_cli_usage_error(cmd, "unexpected argument");
	/* Whatever the cause (existing node, bad key file, I/O), init failing
	 * is a store or key error. */
	if (ms_node_init(c->data, c->netkey, &eb) != MS_OK) {
		ms_cli_err("%s", eb.msg);
		return MS_EXIT_STORE;
	}
	if ((rc = ms_cli_open(c, &n)) != MS_EXIT_OK)
		return rc;
	ms_node_id_hex(n, id);
	ms_node_network_id_hex(n, net);
	printf("node_id: %s\nnetwork_id: %s\n", id, net);
	ms_node_close(&n);
	return MS_EXIT_OK;
}
