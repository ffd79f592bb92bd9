/* cmd_network_key.c — `meshsync-node network-key`: print the network key in
 * the text form init --network-key reads back. */
#include <sodium.h>
#include <stdio.h>

#include "cli.h"

int ms_cmd_network_key(const ms_cli *c)
{
	ms_node *n = NULL;
	char text[MS_NODE_NETKEY_TEXT_LEN];
	int rc;

	if ((rc = ms_cli_want_args(c, "network-key", 0, NULL)) != MS_EXIT_OK)
		return rc;
	if ((rc = ms_cli_open(c, &n)) != MS_EXIT_OK)
		return rc;
	ms_node_network_key_text(n, text);
	fputs(text, stdout); /* the text form ends in its own newline */
	sodium_memzero(text, sizeof text);
	ms_node_close(&n);
	return MS_EXIT_OK;
}
