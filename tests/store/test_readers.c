/*
 * test_readers.c — a process killed inside a read transaction while this
 * one keeps the store open: its reader slot is freed by the writer
 * (counted as stale_readers), so freed pages are reused and the data file
 * stops growing with every write.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_test.h"
#include "store_fix.h"

static uint64_t stat_of(ms_store *s, const char *name)
{
	ms_store_rtxn *rt = NULL;
	uint64_t v;

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	v = ms_store_stat(rt, name);
	ms_store_read_end(&rt);
	return v;
}

static long long file_size(const char *dir)
{
	char *p = ms_test_pjoin(dir, MS_STORE_DATA_FILE);
	struct stat st;

	ck_assert_int_eq(stat(p, &st), 0);
	free(p);
	return (long long)st.st_size;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put(ms_store *s, const ms_identity *a, int i)
{
	char key[32];
	uint8_t val[200];
	ms_errbuf eb;
	int kl = snprintf(key, sizeof key, "k/%06d", i);

	memset(val, 'v', sizeof val);
	MS_PASS_EB(ms_store_append(s, a, MS_OP_PUT, MS_PRIO_USER,
	                           (const uint8_t *)key, (size_t)kl, val,
	                           sizeof val, NULL, &eb),
	           &eb);
}

START_TEST(test_dead_reader_is_freed)
{
	char *dir = ms_test_tmpdir("readers");
	ms_identity *a = fix_identity(1);
	ms_store *s = fix_store(dir, a, NULL);
	long long before;
	double deadline;
	int status, i = 0;
	pid_t pid;

	for (; i < 50; i++)
		put(s, a, i);
	/* The child opens the store on its own and dies holding a snapshot;
	 * we keep our environment open all along, so LMDB keeps its slot. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ms_store_opts o;
		ms_store *c = NULL;
		ms_store_rtxn *rt = NULL;
		ms_store_opts_default(&o);
		o.readonly = 1;
		if (ms_store_open(&c, dir, &o, NULL) != MS_OK ||
		    ms_store_read_begin(c, &rt, NULL) != MS_OK)
			_exit(1);
		raise(SIGKILL); /* does not return */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	              "child status %d", status);

	/* The writer checks for dead readers at most once a second. */
	deadline = mono() + 10;
	while (stat_of(s, "stale_readers") == 0 && mono() < deadline)
		put(s, a, i++);
	ck_assert_uint_eq(stat_of(s, "stale_readers"), 1);

	/* Pages freed by each write are reused again: 300 writes of about
	 * 70 KiB of pages each would grow the file by 20 MiB otherwise. */
	before = file_size(dir);
	for (int k = 0; k < 300; k++)
		put(s, a, i++);
	ck_assert_msg(file_size(dir) - before < (2LL << 20),
	              "the data file grew by %lld bytes in 300 writes",
	              file_size(dir) - before);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&a);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("readers");
	TCase *tc = tcase_create("readers");

	fix_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dead_reader_is_freed);
	suite_add_tcase(suite, tc);
	return ms_test_run(suite);
}
