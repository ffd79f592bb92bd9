/* cmd_put.c — `meshsync-node put KEY VALUE|-`: one durable PUT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* No value may exceed the op codec's u32 length and the config's 1 GiB
 * ceiling; stop reading stdin there instead of eating all memory. */
#define STDIN_MAX ((size_t)1 << 30)

static int read_stdin(uint8_t **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);

	if (buf == NULL)
		return -1;
	for (;;) {
		ssize_t r;
		if (n == cap) {
			uint8_t *nb;
			if (cap > STDIN_MAX) {
				free(buf);
				errno = EFBIG;
				return -1;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int ms_cmd_put(const ms_cli *c)
{
	ms_errbuf eb = {0};
	ms_node *n = NULL;
	uint8_t *stdin_buf = NULL;
	const void *value;
	size_t vlen;
	int rc;

	if ((rc = ms_cli_want_args(c, "put", 2, "KEY and VALUE")) != MS_EXIT_OK)
		return rc;
	if (strcmp(c->pos[1], "-") == 0) {
		if (read_stdin(&stdin_buf, &vlen) != 0) {
			ms_cli_err("put %s: read value from stdin: %s",
			           c->pos[0], strerror(errno));
			return errno == EFBIG ? MS_EXIT_USAGE : MS_EXIT_STORE;
		}
		value = stdin_buf;
	} else {
		value = c->pos[1];
		vlen = strlen(c->pos[1]);
	}
	if ((rc = ms_cli_open(c, &n)) != MS_EXIT_OK)
		goto out;
	if (ms_node_put(n, c->pos[0], strlen(c->pos[0]), value, vlen,
	                c->background ? MS_NODE_PUT_BACKGROUND : 0, NULL,
	                &eb) != MS_OK)
		rc = ms_cli_fail(&eb);
out:
	ms_node_close(&n);
	free(stdin_buf);
	return rc;
}
