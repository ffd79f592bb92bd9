/* runfiles.c — node.pid, node.endpoints, node.faults and node.mesh (see
 * runfiles.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ms_path.h"
#include "runfiles.h"

/* ms_runfile_running takes a shared lock for a moment to test the file:
 * a daemon starting just then tries a few times before it gives up. */
#define LOCK_TRIES 5
#define LOCK_RETRY_NS 2000000L

static int flock_ex(int fd)
{
	for (int i = 0;; i++) {
		struct timespec t = {0, LOCK_RETRY_NS};
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || i + 1 == LOCK_TRIES)
			return -1;
		nanosleep(&t, NULL);
	}
}

ms_err ms_runfile_lock(const char *dir, int *fdp, ms_errbuf *eb)
{
	char buf[32], *path = ms_path_join(dir, MS_RUN_PID_FILE);
	ms_err e = MS_OK;
	ssize_t n;
	int fd;

	*fdp = -1;
	if (path == NULL)
		return ms_errf(eb, MS_ENOMEM, "run %s: out of memory", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		e = ms_errf(eb, MS_EIO, "run %s: open %s: %s", dir, path,
		            strerror(errno));
		goto out;
	}
	if (flock_ex(fd) != 0) {
		int err = errno;
		n = pread(fd, buf, sizeof buf - 1, 0);
		close(fd);
		if (err == EWOULDBLOCK) {
			buf[n > 0 ? n : 0] = '\0';
			e = ms_errf(eb, MS_EBUSY,
			            "run %s: already running (pid %ld)", dir,
			            strtol(buf, NULL, 10));
		} else {
			e = ms_errf(eb, MS_EIO, "run %s: flock %s: %s", dir,
			            path, strerror(err));
		}
		goto out;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		/* A full disk leaves the file empty: the lock, not the pid in
		 * it, keeps a second daemon out, and a node on a full disk
		 * still serves reads and its peers. */
		if (errno != ENOSPC && errno != EDQUOT) {
			e = ms_errf(eb, MS_EIO, "run %s: write %s: %s", dir,
			            path, strerror(errno));
			close(fd);
			goto out;
		}
	}
	*fdp = fd;
out:
	free(path);
	return e;
}

ms_err ms_runfile_running(const char *dir, int *pid, ms_errbuf *eb)
{
	char buf[32], *path = ms_path_join(dir, MS_RUN_PID_FILE);
	ms_err e = MS_OK;
	ssize_t n;
	long v;
	int fd;

	*pid = 0;
	if (path == NULL)
		return ms_errf(eb, MS_ENOMEM, "%s: out of memory", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			e = ms_errf(eb, MS_EIO, "open %s: %s", path,
			            strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN); /* nobody holds it: a file left behind */
	} else if (errno == EWOULDBLOCK) {
		n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		v = strtol(buf, NULL, 10);
		/* an empty file (written on a full disk) still means one
		 * runs, but its pid is not known: -1 */
		*pid = v > 0 && v <= INT_MAX ? (int)v : -1;
	} else {
		e = ms_errf(eb, MS_EIO, "flock %s: %s", path, strerror(errno));
	}
	close(fd);
out:
	free(path);
	return e;
}

void ms_runfile_unlock(const char *dir, int fd)
{
	char *path;

	if (fd < 0)
		return;
	if ((path = ms_path_join(dir, MS_RUN_PID_FILE)) != NULL)
		unlink(path);
	free(path);
	close(fd);
}

/* DIR/name replaced by n lines (each followed by nl), through name.tmp
 * and a rename. */
static ms_err write_file(const char *dir, const char *name,
                         const char *const *lines, size_t n, const char *nl,
                         ms_errbuf *eb)
{
	char *path = ms_path_join(dir, name);
	char *tmp = NULL;
	ms_err e = MS_OK;
	FILE *f;

	if (path != NULL && (tmp = malloc(strlen(path) + 5)) != NULL)
		snprintf(tmp, strlen(path) + 5, "%s.tmp", path);
	if (path == NULL || tmp == NULL) {
		e = ms_errf(eb, MS_ENOMEM, "run %s: out of memory", dir);
		goto out;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		e = ms_errf(eb, MS_EIO, "open %s: %s", tmp, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", lines[i], nl);
	/* a reader sees the old file or the whole new one, never half */
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		e = ms_errf(eb,
		            errno == ENOSPC || errno == EDQUOT ? MS_EFULL
		                                               : MS_EIO,
		            "write %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		e = ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	free(path);
	return e;
}

static ms_err write_lines(const char *dir, const char *name,
                          const char *const *lines, size_t n, ms_errbuf *eb)
{
	return write_file(dir, name, lines, n, "\n", eb);
}

ms_err ms_runfile_endpoints(const char *dir, const char *const *eps, size_t n,
                            ms_errbuf *eb)
{
	return write_lines(dir, MS_RUN_ENDPOINTS_FILE, eps, n, eb);
}

static void remove_file(const char *dir, const char *name)
{
	char *path = ms_path_join(dir, name);

	if (path != NULL)
		unlink(path);
	free(path);
}

void ms_runfile_endpoints_remove(const char *dir)
{
	remove_file(dir, MS_RUN_ENDPOINTS_FILE);
}

ms_err ms_runfile_faults(const char *dir, const char *line, ms_errbuf *eb)
{
	return write_lines(dir, MS_RUN_FAULTS_FILE, &line, 1, eb);
}

void ms_runfile_faults_remove(const char *dir)
{
	remove_file(dir, MS_RUN_FAULTS_FILE);
}

ms_err ms_runfile_mesh(const char *dir, const char *text, ms_errbuf *eb)
{
	return write_file(dir, MS_RUN_MESH_FILE, &text, 1, "", eb);
}

void ms_runfile_mesh_remove(const char *dir)
{
	remove_file(dir, MS_RUN_MESH_FILE);
}
