/*
 * mesh.c — reading DIR/node.mesh, what a running node's peers last told it
 * of their own peers (written by the daemon: node/pex.h,
 * ms_pex_mesh_text).  The content comes from other nodes, so it is read
 * as untrusted input: a bounded file, bounded lines and counts, every id
 * exactly 64 hex digits, every number decimal, every endpoint printable
 * without spaces; a line that is not so is skipped and counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "ms_bytes.h"
#include "ms_path.h"

#define MESH_FILE "node.mesh"
#define MESH_LINE_MAX 1024 /* longer lines are skipped */

/* A number of the file: decimal, at most 20 digits. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	return n > 20 ? -1 : ins_parse_u64(s, n, out);
}

static int parse_id(const char *s, size_t n, uint8_t id[MS_PK_LEN])
{
	char hex[2 * MS_PK_LEN + 1];

	if (n != 2 * MS_PK_LEN)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	memcpy(hex, s, n);
	hex[n] = '\0';
	return ms_unhex(id, MS_PK_LEN, hex);
}

/* The next space-separated word of line from *p: its start and length. */
static size_t word(const char *line, size_t *p, const char **w)
{
	size_t n = 0;

	while (line[*p] == ' ')
		(*p)++;
	*w = line + *p;
	while (line[*p] != ' ' && line[*p] != '\0') {
		(*p)++;
		n++;
	}
	return n;
}

/* "to ID MS [EP...]" into a new entry of the last sender; -1 when
 * malformed, -2 out of memory. */
static int add_to(ins_mesh *m, const char *line)
{
	ins_mesh_from *f = &m->from[m->nfrom - 1];
	ins_mesh_to t;
	const char *w;
	size_t p = 2, n;

	memset(&t, 0, sizeof t);
	if (f->nto == INS_MESH_TO_MAX)
		return -1;
	n = word(line, &p, &w);
	if (parse_id(w, n, t.id) != 0)
		return -1;
	n = word(line, &p, &w);
	if (parse_u64(w, n, &t.last_seen_ms) != 0)
		return -1;
	while ((n = word(line, &p, &w)) > 0) {
		if (t.neps == INS_MESH_EPS_MAX || n >= sizeof t.eps[0])
			return -1;
		memcpy(t.eps[t.neps], w, n);
		t.eps[t.neps++][n] = '\0';
	}
	if (f->nto % 8 == 0) {
		ins_mesh_to *nt = realloc(f->to, (f->nto + 8) * sizeof *nt);
		if (nt == NULL)
			return -2;
		f->to = nt;
	}
	f->to[f->nto++] = t;
	return 0;
}

/* "from ID MS" starts a sender. */
static int add_from(ins_mesh *m, const char *line)
{
	ins_mesh_from f;
	const char *w;
	size_t p = 4, n;

	memset(&f, 0, sizeof f);
	if (m->nfrom == INS_MESH_FROM_MAX)
		return -1;
	n = word(line, &p, &w);
	if (parse_id(w, n, f.id) != 0)
		return -1;
	n = word(line, &p, &w);
	if (parse_u64(w, n, &f.when_ms) != 0 || word(line, &p, &w) != 0)
		return -1;
	if (m->nfrom % 8 == 0) {
		ins_mesh_from *nf = realloc(m->from,
		                            (m->nfrom + 8) * sizeof *nf);
		if (nf == NULL)
			return -2;
		m->from = nf;
	}
	m->from[m->nfrom++] = f;
	return 0;
}

/* Printable ASCII, no tabs or control bytes. */
static int line_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int ins_mesh_read(const char *dir, ins_mesh *m)
{
	char *path = ms_path_join(dir, MESH_FILE);
	char line[MESH_LINE_MAX + 2];
	size_t total = 0, lineno = 0;
	int rc = 0;
	FILE *f;

	memset(m, 0, sizeof *m);
	if (path == NULL)
		return -1;
	f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return errno == ENOMEM ? -1 : 0; /* absent: nothing told */
	m->present = 1;
	while (fgets(line, sizeof line, f) != NULL) {
		size_t n = strlen(line);
		int r = -1;

		total += n;
		lineno++;
		if (total > INS_MESH_FILE_MAX) {
			m->truncated = 1;
			break;
		}
		if (n == 0 || line[n - 1] != '\n') {
			/* too long: skip the rest of it */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				if (++total > INS_MESH_FILE_MAX)
					break;
			m->skipped++;
			continue;
		}
		line[n - 1] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "meshsync-mesh 1") != 0) {
				m->bad_version = 1;
				break;
			}
			continue;
		}
		if (line_ok(line)) {
			if (strncmp(line, "from ", 5) == 0)
				r = add_from(m, line);
			else if (strncmp(line, "to ", 3) == 0 && m->nfrom > 0)
				r = add_to(m, line);
		}
		if (r == -2) {
			rc = -1;
			break;
		}
		if (r != 0)
			m->skipped++;
	}
	fclose(f);
	if (rc != 0)
		ins_mesh_free(m);
	return rc;
}

void ins_mesh_free(ins_mesh *m)
{
	for (size_t i = 0; i < m->nfrom; i++)
		free(m->from[i].to);
	free(m->from);
	memset(m, 0, sizeof *m);
}
