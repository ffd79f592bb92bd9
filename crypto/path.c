/* path.c — joining a directory and a file name (see ms_path.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_path.h"

char *ms_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}
