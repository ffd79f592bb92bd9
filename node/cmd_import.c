/*
 * cmd_import.c — `meshsync-node import [FILE|-]`: many writes from lines of
 * text, committed by ms_node_write_batch IMPORT_CHUNK lines at a time (one
 * durable commit per chunk instead of one per write).
 *
 * A line is KEY<TAB>VALUE (a PUT; the value is the rest of the line, tabs
 * included), or with --del a line holding only KEY is a delete.  The line
 * ending (\n, or \r\n) is not part of the value; empty lines are skipped.
 * A chunk is checked whole before it is written, so a bad line stops the
 * import with its line number and nothing of its chunk stored; earlier
 * chunks stay committed, and the message says how many writes they held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define IMPORT_CHUNK 1000

typedef struct chunk {
	ms_node_write w[IMPORT_CHUNK];
	unsigned long line[IMPORT_CHUNK]; /* line number of each write */
	size_t off[IMPORT_CHUNK];         /* the line's bytes in buf */
	size_t n;
	char *buf; /* the chunk's lines, back to back */
	size_t len, cap;
} chunk;

/* Keep one line's bytes in the chunk; -1 when out of memory. */
static int chunk_add(chunk *ck, const char *line, size_t len,
                     unsigned long lineno)
{
	if (ck->len + len > ck->cap) {
		size_t cap = ck->cap ? ck->cap : 64 * 1024;
		char *nb;
		while (cap < ck->len + len)
			cap *= 2;
		if ((nb = realloc(ck->buf, cap)) == NULL)
			return -1;
		ck->buf = nb;
		ck->cap = cap;
	}
	memcpy(ck->buf + ck->len, line, len);
	ck->off[ck->n] = ck->len;
	ck->line[ck->n] = lineno;
	ck->w[ck->n].klen = len; /* split into key and value at flush */
	ck->len += len;
	ck->n++;
	return 0;
}

/* The index a batch error names ("write 17:" / "item 17:"), or -1. */
static long error_index(const char *msg)
{
	static const char *const tags[] = {"write ", "item "};

	for (size_t t = 0; t < 2; t++) {
		const char *p = strstr(msg, tags[t]);
		char *end;
		long v;
		if (p == NULL)
			continue;
		v = strtol(p + strlen(tags[t]), &end, 10);
		if (end != p + strlen(tags[t]) && *end == ':')
			return v;
	}
	return -1;
}

/* Split the chunk's lines into writes (the buffer no longer moves), then
 * write them; returns an exit code. */
static int chunk_flush(ms_node *n, chunk *ck, const ms_cli *c, const char *src,
                       unsigned long long *done)
{
	ms_errbuf eb = {0};
	long bad;

	for (size_t i = 0; i < ck->n; i++) {
		char *p = ck->buf + ck->off[i];
		size_t len = ck->w[i].klen;
		char *tab = memchr(p, '\t', len);
		ms_node_write *w = &ck->w[i];

		memset(w, 0, sizeof *w);
		w->key = p;
		if (tab != NULL) {
			w->klen = (size_t)(tab - p);
			w->value = tab + 1;
			w->vlen = len - w->klen - 1;
		} else if (c->del) {
			w->klen = len;
			w->del = 1;
		} else {
			ms_cli_err(
				"import %s: line %lu: no TAB between key and "
				"value (KEY<TAB>VALUE; a line of KEY alone "
				"deletes it only with --del); %llu writes "
				"imported before it",
				src, ck->line[i], *done);
			return MS_EXIT_USAGE;
		}
		if (w->klen == 0) {
			ms_cli_err(
				"import %s: line %lu: empty key; %llu writes "
				"imported before it",
				src, ck->line[i], *done);
			return MS_EXIT_USAGE;
		}
	}
	if (ms_node_write_batch(n, ck->w, ck->n,
	                        c->background ? MS_NODE_PUT_BACKGROUND : 0,
	                        NULL, &eb) != MS_OK) {
		bad = error_index(eb.msg);
		if (bad >= 0 && (size_t)bad < ck->n)
			ms_cli_err(
				"import %s: line %lu: %s; %llu writes imported "
				"before it",
				src, ck->line[bad], eb.msg, *done);
		else
			ms_cli_err("import %s: lines %lu..%lu: %s; %llu writes "
			           "imported before them",
			           src, ck->line[0], ck->line[ck->n - 1],
			           eb.msg, *done);
		return eb.code == MS_EINVAL ? MS_EXIT_USAGE : MS_EXIT_STORE;
	}
	*done += ck->n;
	ck->n = 0;
	ck->len = 0;
	return MS_EXIT_OK;
}

int ms_cmd_import(const ms_cli *c)
{
	const char *src = c->npos == 1 ? c->pos[0] : "-";
	unsigned long long done = 0;
	unsigned long lineno = 0;
	ms_node *n = NULL;
	chunk *ck = NULL;
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t r;
	int rc;

	if (c->npos > 1)
		return ms_cli_want_args(c, "import", 1, "FILE");
	if (strcmp(src, "-") == 0) {
		f = stdin;
	} else if ((f = fopen(src, "r")) == NULL) {
		ms_cli_err("import %s: %s", src, strerror(errno));
		return MS_EXIT_USAGE;
	}
	if ((ck = calloc(1, sizeof *ck)) == NULL) {
		ms_cli_err("import: out of memory");
		rc = MS_EXIT_STORE;
		goto out;
	}
	if ((rc = ms_cli_open(c, &n)) != MS_EXIT_OK)
		goto out;
	while ((r = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)r;
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (chunk_add(ck, line, len, lineno) != 0) {
			ms_cli_err("import %s: line %lu: out of memory", src,
			           lineno);
			rc = MS_EXIT_STORE;
			goto out;
		}
		if (ck->n == IMPORT_CHUNK &&
		    (rc = chunk_flush(n, ck, c, src, &done)) != MS_EXIT_OK)
			goto out;
	}
	if (ferror(f)) {
		ms_cli_err("import %s: read: %s; %llu writes imported", src,
		           strerror(errno), done);
		rc = MS_EXIT_STORE;
		goto out;
	}
	if (ck->n > 0 && (rc = chunk_flush(n, ck, c, src, &done)) != MS_EXIT_OK)
		goto out;
	printf("imported %llu\n", done);
	rc = MS_EXIT_OK;
out:
	free(line);
	if (ck != NULL)
		free(ck->buf);
	free(ck);
	ms_node_close(&n);
	if (f != NULL && f != stdin)
		fclose(f);
	return rc;
}
