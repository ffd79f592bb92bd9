/*
 * fuzz_replay.c — main() for a fuzz target in the normal (gcc) and ASan
 * builds, where there is no libFuzzer: runs the target once on every file
 * named, or in a directory named, on the command line (its seed corpus and
 * its regression inputs), in name order, and prints how many it ran.  A
 * crash or a failed FZ_CHECK aborts, which fails the CTest test; under
 * ASan a leak fails it at exit.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_check.h"
#include "fuzz_util.h"

/* Run the target on one file. */
static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	FZ_CHECK(fseek(f, 0, SEEK_END) == 0);
	len = ftell(f);
	FZ_CHECK(len >= 0 && fseek(f, 0, SEEK_SET) == 0);
	/* an exact-size copy, so ASan sees a read past the end */
	buf = malloc(len > 0 ? (size_t)len : 1);
	FZ_CHECK(buf != NULL);
	FZ_CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	fprintf(stderr, "fuzz_replay: %s (%ld bytes)\n", path, len);
	(void)LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the target on every file of dir (not hidden ones); returns how many. */
static size_t run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		perror(dir);
		exit(1);
	}
	/* cppcheck-suppress readdirCalled ; one thread, and glibc deprecates readdir_r */
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;
			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof *nn);
			FZ_CHECK(nn != NULL);
			names = nn;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		names[n] = malloc(len);
		FZ_CHECK(names[n] != NULL);
		snprintf(names[n], len, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		run_file(names[i]);
		free(names[i]);
	}
	free(names);
	return n;
}

int main(int argc, char **argv)
{
	size_t total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	(void)LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			total += run_dir(argv[i]);
		} else {
			run_file(argv[i]);
			total++;
		}
	}
	printf("fuzz_replay: %zu inputs, no failure\n", total);
	return total > 0 ? 0 : 1;
}
