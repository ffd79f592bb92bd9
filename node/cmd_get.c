/* cmd_get.c — `meshsync-node get KEY [--all]`: print a key's value(s). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "node_int.h"

/* Raw bytes and a newline: what the key's policy says the value is. */
static int print_value(const ms_node_value *v, void *ctx)
{
	(void)ctx;
	/* a short write (full disk, closed pipe) stops the read: the command
	 * then fails instead of exiting 0 with the value lost */
	if (fwrite(v->data, 1, v->len, stdout) != v->len ||
	    fputc('\n', stdout) == EOF)
		return 1;
	return 0;
}

/* One line per head; the value in its one-line display form so that tabs
 * and newlines in values cannot break the columns. */
static int print_head(const ms_node_value *v, void *ctx)
{
	char author[MS_NODE_ID_HEX_LEN] = "-";
	char *text = ms_cli_text(v->data, v->len);
	const char *flags = v->winner
	                            ? (v->deleted ? "winner,deleted" : "winner")
	                            : (v->deleted ? "deleted" : "-");

	(void)ctx;
	if (text == NULL)
		return 1;
	if (v->author != NULL) {
		static const char hexd[] = "0123456789abcdef";
		for (int i = 0; i < 8; i++) {
			author[2 * i] = hexd[v->author[i] >> 4];
			author[2 * i + 1] = hexd[v->author[i] & 15];
		}
		author[16] = '\0';
	}
	printf("%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%s\n", text, author, v->seq,
	       v->hlc, flags);
	free(text);
	return 0;
}

int ms_cmd_get(const ms_cli *c)
{
	ms_errbuf eb = {0};
	ms_node *n = NULL;
	ms_err e;
	int rc;

	if ((rc = ms_cli_want_args(c, "get", 1, "KEY")) != MS_EXIT_OK)
		return rc;
	if (ms_node_open_for_read(&n, c->data, NULL, &eb) != MS_OK) {
		ms_cli_err("%s", eb.msg);
		return MS_EXIT_STORE;
	}
	e = ms_node_get(n, c->pos[0], strlen(c->pos[0]),
	                c->all ? MS_NODE_GET_ALL : 0,
	                c->all ? print_head : print_value, NULL, &eb);
	if (e == MS_ENOTFOUND || e == MS_EDELETED) {
		ms_cli_err("get %s: %s", c->pos[0],
		           e == MS_EDELETED ? "key is deleted" : "no such key");
		rc = MS_EXIT_NOTFOUND;
	} else if (e != MS_OK) {
		rc = ms_cli_fail(&eb);
	} else if (fflush(stdout) != 0 || ferror(stdout)) {
		ms_cli_err("get %s: write: %s", c->pos[0], strerror(errno));
		rc = MS_EXIT_STORE;
	}
	ms_node_close(&n);
	return rc;
}
