/*
 * fuzz_util.c — the fuzz targets' scratch directory and file helpers
 * (fuzz_util.h).
 */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"

static char fz_dir[512];

/* Remove dir's entries: files always; subdirectories (through fn, which
 * empties them) when fn is not NULL.  0 when dir could be read. */
static int rm_entries(const char *dir, void (*fn)(const char *sub))
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return -1;
	/* cppcheck-suppress readdirCalled ; one thread, and glibc deprecates readdir_r */
	while ((e = readdir(d)) != NULL) {
		char p[1024];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >=
		    (int)sizeof p)
			continue;
		if (lstat(p, &st) != 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			(void)unlink(p);
		} else if (fn != NULL) {
			fn(p);
			(void)rmdir(p);
		}
	}
	closedir(d);
	return 0;
}

static void rm_files(const char *dir)
{
	(void)rm_entries(dir, NULL);
}

/* Remove dir, its files and its subdirectories' files: the targets make
 * one level of subdirectories at most (the session's stores). */
static void rm_tree(const char *dir)
{
	if (rm_entries(dir, rm_files) == 0)
		(void)rmdir(dir);
}

static void fz_cleanup(void)
{
	if (fz_dir[0] != '\0')
		rm_tree(fz_dir);
}

const char *fz_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");

	if (fz_dir[0] != '\0')
		return fz_dir;
	if (base == NULL || base[0] == '\0')
		base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm"
		                                            : "/tmp";
	FZ_CHECK(snprintf(fz_dir, sizeof fz_dir, "%s/ms-%s-XXXXXX", base, tag) <
	         (int)sizeof fz_dir);
	if (mkdtemp(fz_dir) == NULL) {
		perror(fz_dir);
		abort();
	}
	FZ_CHECK(atexit(fz_cleanup) == 0);
	return fz_dir;
}

void fz_path(char *buf, size_t cap, const char *dir, const char *name)
{
	FZ_CHECK(snprintf(buf, cap, "%s/%s", dir, name) < (int)cap);
}

void fz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w < 0 && errno == EINTR)
			continue;
		FZ_CHECK(w > 0);
		off += (size_t)w;
	}
	FZ_CHECK(close(fd) == 0);
}
