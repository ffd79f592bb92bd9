/* cmd_init.c — `meshsync-node init`: create a node, print its ids.  The
 * network key to join is read here (from FILE, or stdin for -), since the
 * library takes the key's text and never reads stdin itself. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"

/* The key text of --network-key FILE|-, checked and normalised by the key
 * file loader (bounded read, "load FILE: why" messages).  Returns 0 with
 * text filled, or the exit code after printing why. */
static int read_netkey(const char *arg, char text[MS_NODE_NETKEY_TEXT_LEN])
{
	ms_errbuf eb = {0};
	ms_netkey *nk = NULL;
	ms_err e;

	e = strcmp(arg, "-") == 0
	            ? ms_netkey_import_fd(&nk, STDIN_FILENO,
	                                  "network key from stdin", &eb)
	            : ms_netkey_import(&nk, arg, &eb);
	if (e != MS_OK) {
		ms_cli_err("%s", eb.msg);
		return MS_EXIT_STORE;
	}
	ms_netkey_to_text(nk, text);
	ms_netkey_free(&nk);
	return MS_EXIT_OK;
}

int ms_cmd_init(const ms_cli *c)
{
	ms_errbuf eb = {0};
	ms_node *n = NULL;
	char id[MS_NODE_ID_HEX_LEN], net[MS_NODE_ID_HEX_LEN];
	char key[MS_NODE_NETKEY_TEXT_LEN];
	ms_err e;
	int rc;

	if ((rc = ms_cli_want_args(c, "init", 0, NULL)) != MS_EXIT_OK)
		return rc;
	if (c->netkey != NULL &&
	    (rc = read_netkey(c->netkey, key)) != MS_EXIT_OK)
		return rc;
	e = ms_node_init(c->data, c->netkey != NULL ? key : NULL, &eb);
	sodium_memzero(key, sizeof key);
	/* Whatever the cause (existing node, bad key, I/O), init failing is a
	 * store or key error. */
	if (e != MS_OK) {
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
