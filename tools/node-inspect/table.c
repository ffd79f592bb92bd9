/* table.c — aligned text tables for node-inspect's human output. */
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

struct ins_table {
	size_t ncols, nrows, cap;
	int has_header;
	char **cells; /* row-major; row 0 is the header when has_header */
};

/* Display width: characters, i.e. bytes that do not continue a UTF-8
 * sequence (cells hold ms_cli_text output, so they are valid UTF-8). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

ins_table *ins_table_new(size_t ncols, const char *const *headers)
{
	ins_table *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	if (headers != NULL) {
		t->has_header = 1;
		if (ins_table_add(t, headers) != 0)
			ins_table_free(&t);
	}
	return t;
}

int ins_table_add(ins_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->ncols * sizeof *nc);
		if (nc == NULL)
			return -1;
		t->cells = nc;
		t->cap = ncap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char *s = strdup(cells[c] != NULL ? cells[c] : "");
		if (s == NULL) {
			while (c-- > 0)
				free(t->cells[t->nrows * t->ncols + c]);
			return -1;
		}
		t->cells[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
	return 0;
}

void ins_table_print(const ins_table *t, FILE *f)
{
	size_t *w = calloc(t->ncols, sizeof *w);

	if (w == NULL)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = text_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			fputs(s, f);
			if (c + 1 < t->ncols)
				for (size_t p = text_width(s); p < w[c] + 2;
				     p++)
					fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(w);
}

void ins_table_free(ins_table **tp)
{
	ins_table *t;

	if (tp == NULL || (t = *tp) == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	*tp = NULL;
}
