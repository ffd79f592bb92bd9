/* ms_test.c — the shared test harness (see ms_test.h). */
#define _GNU_SOURCE
#include "ms_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ms_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int ms_test_fork_mode(void)
{
	const char *f = getenv("CK_FORK");

	return f == NULL || strcmp(f, "no") != 0;
}

/* ------------------------------------------------------ time and waiting */

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ms_test_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

uint64_t ms_test_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

void ms_test_sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)(ms % 1000) * 1000000L};

	/* at most a few signals arrive in a test; each resumes the rest */
	for (int i = 0; i < 100 && nanosleep(&ts, &ts) != 0 && errno == EINTR;
	     i++)
		;
}

void ms_test_pause(void)
{
	ms_test_sleep_ms(MS_TEST_PAUSE_MS);
}

void ms_test_wait_start(ms_test_wait *w, uint64_t timeout_ms)
{
	w->deadline_ms = ms_test_now_ms() + timeout_ms;
	w->tries = 0;
}

int ms_test_wait_more(ms_test_wait *w)
{
	if (w->tries >= MS_TEST_WAIT_MAX_TRIES ||
	    ms_test_now_ms() >= w->deadline_ms)
		return 0;
	w->tries++;
	return 1;
}

uint64_t ms_test_wait_left(const ms_test_wait *w)
{
	uint64_t now = ms_test_now_ms();

	return now < w->deadline_ms ? w->deadline_ms - now : 0;
}

int ms_test_wait_until(int (*cond)(void *ctx), void *ctx, uint64_t timeout_ms)
{
	int ok;

	MS_WAIT_RESULT(ok, cond(ctx), timeout_ms, ms_test_pause());
	return ok;
}

/* --------------------------------------------------- scratch directories */

const char *ms_test_eb_msg(const ms_errbuf *eb)
{
	return eb != NULL ? eb->msg : "";
}

char *ms_test_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/mstest-%s-XXXXXX", base, tag) < 0)
		abort();
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void ms_test_rmdir(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void ms_test_prefer_ram_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	if ((t == NULL || t[0] == '\0') && access("/dev/shm", W_OK | X_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
}

/* Check's fixtures take no arguments: the one registered variable. */
static char **tc_dirp;
static const char *tc_tag;

static void tc_setup(void)
{
	*tc_dirp = ms_test_tmpdir(tc_tag);
}

static void tc_teardown(void)
{
	ms_test_rmdir(*tc_dirp);
	free(*tc_dirp);
	*tc_dirp = NULL;
}

void ms_test_tcase_tmpdir(TCase *tc, char **dirp, const char *tag)
{
	if (tc_dirp != NULL && tc_dirp != dirp)
		abort(); /* misuse: see ms_test.h */
	tc_dirp = dirp;
	tc_tag = tag;
	tcase_add_checked_fixture(tc, tc_setup, tc_teardown);
}

/* ----------------------------------------------------------------- files */

char *ms_test_pjoin(const char *dir, const char *name)
{
	char *p = NULL;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static int write_fd(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	/* a regular file takes it in one write; the bound is for safety */
	for (int i = 0; i < 1000 && off < len; i++) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return off == len ? 0 : -1;
}

static int write_flags(const char *path, const char *text, int flags,
                       mode_t mode, int exact_mode)
{
	int fd = open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, mode);
	int e;

	if (fd < 0)
		return -1;
	if (write_fd(fd, text) != 0 || (exact_mode && fchmod(fd, mode) != 0)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int ms_test_write_text(const char *path, const char *text, mode_t mode)
{
	/* exactly mode, whatever the umask: key-file tests depend on it */
	return write_flags(path, text, O_TRUNC, mode, 1);
}

void ms_test_write_file(const char *path, const char *text, mode_t mode)
{
	ck_assert_msg(ms_test_write_text(path, text, mode) == 0, "write %s: %s",
	              path, strerror(errno));
}

void ms_test_append_file(const char *path, const char *text)
{
	ck_assert_msg(write_flags(path, text, O_APPEND, 0600, 0) == 0,
	              "append to %s: %s", path, strerror(errno));
}

/* Append n bytes to the NUL-terminated buffer *b of length *len. */
static void buf_append(char **b, size_t *len, const char *d, size_t n)
{
	ck_assert_uint_le(*len + n, MS_TEST_OUT_MAX);
	*b = realloc(*b, *len + n + 1);
	ck_assert_ptr_nonnull(*b);
	memcpy(*b + *len, d, n);
	*len += n;
	(*b)[*len] = '\0';
}

char *ms_test_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *b = NULL, buf[65536];
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return NULL;
	buf_append(&b, &n, "", 0);
	/* bounded by MS_TEST_OUT_MAX through buf_append */
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_msg(r > 0, "read %s: %s", path, strerror(errno));
		buf_append(&b, &n, buf, (size_t)r);
	}
	close(fd);
	if (len != NULL)
		*len = n;
	return b;
}

int ms_test_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ------------------------------------------------------------- processes */

int ms_test_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* In the child: apply one "NAME=VALUE" or "NAME" entry. */
static void child_env(const char *e)
{
	const char *eq = strchr(e, '=');
	char name[256];

	if (eq == NULL) {
		unsetenv(e);
		return;
	}
	snprintf(name, sizeof name, "%.*s", (int)(eq - e), e);
	setenv(name, eq + 1, 1);
}

pid_t ms_test_spawn(char *const argv[], const ms_test_spawn_opts *o)
{
	static const ms_test_spawn_opts none;
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
	int logfd = -1;
	pid_t pid;

	if (o == NULL)
		o = &none;
	if (o->in_fd != NULL)
		ck_assert_int_eq(pipe2(pin, O_CLOEXEC), 0);
	if (o->out_fd != NULL)
		ck_assert_int_eq(pipe2(pout, O_CLOEXEC), 0);
	if (o->err_fd != NULL)
		ck_assert_int_eq(pipe2(perr, O_CLOEXEC), 0);
	if (o->log != NULL) {
		logfd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		             0600);
		ck_assert_msg(logfd >= 0, "open %s: %s", o->log,
		              strerror(errno));
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		int quiet = getenv("MS_TEST_VERBOSE") == NULL;

		/* a test killed by Check's timeout cannot stop it itself */
		if (o->die_with_parent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pin[0] >= 0 ? pin[0] : nul, 0);
		dup2(pout[1] >= 0 ? pout[1] : logfd >= 0 ? logfd : nul, 1);
		if (perr[1] >= 0 || logfd >= 0 || quiet)
			dup2(perr[1] >= 0 ? perr[1]
			     : logfd >= 0 ? logfd
			                  : nul,
			     2);
		for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++)
			child_env(o->env[i]);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (o->in_fd != NULL) {
		close(pin[0]);
		*o->in_fd = pin[1];
	}
	if (o->out_fd != NULL) {
		close(pout[1]);
		*o->out_fd = pout[0];
	}
	if (o->err_fd != NULL) {
		close(perr[1]);
		*o->err_fd = perr[0];
	}
	if (logfd >= 0)
		close(logfd);
	return pid;
}

/* 1 once pid has ended (reaped into *st when it is our child). */
static int pid_ended(pid_t pid, int *st)
{
	pid_t r = waitpid(pid, st, WNOHANG);

	if (r == pid)
		return 1;
	if (r < 0 && errno == ECHILD) {
		/* not our child: ended when it no longer exists */
		*st = -1;
		return kill(pid, 0) != 0;
	}
	return 0;
}

int ms_test_wait_pid(pid_t pid, uint64_t timeout_ms, int *status)
{
	unsigned nap = 1;
	int st = -1, ended;

	if (pid <= 0)
		return -1;
	/* short naps first: a program whose output has ended exits at once */
	MS_WAIT_RESULT(ended, pid_ended(pid, &st), timeout_ms,
	               (ms_test_sleep_ms(nap),
	                nap = nap < MS_TEST_PAUSE_MS ? 2 * nap
	                                             : MS_TEST_PAUSE_MS));
	if (status != NULL)
		*status = st;
	return ended ? 0 : -1;
}

int ms_test_stop_pid(pid_t pid, int sig, uint64_t timeout_ms, int *status)
{
	int st = -1;

	if (status != NULL)
		*status = -1;
	if (pid <= 0)
		return -1; /* never kill(0) or kill(-1): that is a whole group */
	if (sig != 0 && kill(pid, sig) != 0)
		return 0; /* gone already (not even a zombie) */
	if (ms_test_wait_pid(pid, timeout_ms, &st) == 0) {
		if (status != NULL)
			*status = st;
		return 0;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (status != NULL)
		*status = st;
	return -1;
}

void ms_test_kill_pid(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGCONT);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

void ms_test_out_free(ms_test_out *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

/* Read what fd has into the buffer; closes it (*fd = -1) at its end. */
static void drain(int *fd, char **b, size_t *len)
{
	char buf[65536];
	ssize_t got = read(*fd, buf, sizeof buf);

	if (got > 0) {
		buf_append(b, len, buf, (size_t)got);
	} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

void ms_test_cmd_run(ms_test_out *r, const ms_test_cmd *c, char *const argv[])
{
	static const ms_test_cmd defaults;
	ms_test_spawn_opts so = {0};
	int in = -1, out = -1, err = -1, status = -1;
	size_t inoff = 0;
	ms_test_wait w;
	pid_t pid;

	if (c == NULL)
		c = &defaults;
	memset(r, 0, sizeof *r);
	buf_append(&r->out, &r->outlen, "", 0);
	buf_append(&r->err, &r->errlen, "", 0);
	signal(SIGPIPE, SIG_IGN); /* a child that does not read its stdin */
	so.env = c->env;
	so.in_fd = &in;
	so.out_fd = &out;
	so.err_fd = &err;
	pid = ms_test_spawn(argv, &so);
	fcntl(in, F_SETFL, O_NONBLOCK);
	if (c->in == NULL || c->inlen == 0) {
		close(in);
		in = -1;
	}
	ms_test_wait_start(&w, c->timeout_ms != 0 ? c->timeout_ms
	                                          : MS_TEST_CMD_TIMEOUT_MS);
	while (out >= 0 || err >= 0) {
		struct pollfd p[3] = {{out, POLLIN, 0},
		                      {err, POLLIN, 0},
		                      {in, POLLOUT, 0}}; /* fd -1: ignored */
		uint64_t left;
		int n;

		if (!ms_test_wait_more(&w)) {
			r->timed_out = 1;
			break;
		}
		left = ms_test_wait_left(&w);
		n = poll(p, 3, left < 1000 ? (int)left : 1000);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(n, 0);
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			drain(&out, &r->out, &r->outlen);
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			drain(&err, &r->err, &r->errlen);
		if (in >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t wr = write(in, c->in + inoff, c->inlen - inoff);
			if (wr > 0)
				inoff += (size_t)wr;
			if ((wr < 0 && errno != EAGAIN && errno != EINTR) ||
			    inoff == c->inlen) {
				close(in);
				in = -1;
			}
		}
	}
	/* Both streams closed: the child is exiting; wait for it within the
	 * same deadline. */
	if (r->timed_out ||
	    ms_test_wait_pid(pid, ms_test_wait_left(&w), &status) != 0) {
		r->timed_out = 1;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	r->code = ms_test_exit_code(status);
}

void ms_test_cmd_run_va(ms_test_out *r, const ms_test_cmd *c, const char *bin,
                        va_list ap)
{
	char *argv[MS_TEST_MAX_ARGS + 1];
	size_t n = 0;

	argv[n++] = (char *)bin;
	for (char *a; (a = va_arg(ap, char *)) != NULL;) {
		ck_assert_uint_lt(n, MS_TEST_MAX_ARGS);
		argv[n++] = a;
	}
	argv[n] = NULL;
	ms_test_cmd_run(r, c, argv);
}

void ms_test_cmd_runl(ms_test_out *r, const ms_test_cmd *c, const char *bin,
                      ...)
{
	va_list ap;

	va_start(ap, bin);
	ms_test_cmd_run_va(r, c, bin, ap);
	va_end(ap);
}

int ms_test_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return -1;
	return system(cmd);
}
