/*
 * test_multiproc.c — several processes on one store: two writers appending
 * at once get one contiguous seq space between them (with a read-only
 * opener watching beside them), and a writer killed with SIGKILL in the
 * middle of a put loop loses none of the puts it had acknowledged.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_test.h"
#include "store_fix.h"

#define PER_CHILD 1000
#define ACKS_BEFORE_KILL 50

/* Child: wait for the go byte, then append PER_CHILD keys; exit code 0 on
 * success, 1..3 for which step failed. */
static void writer_child(const char *dir, int go_fd, int which)
{
	ms_identity *id = fix_identity(1);
	ms_store *s = NULL;
	ms_errbuf eb;
	char go;

	if (read(go_fd, &go, 1) != 1)
		_exit(1);
	if (ms_store_open(&s, dir, NULL, &eb) != MS_OK) {
		fprintf(stderr, "child open: %s\n", eb.msg);
		_exit(2);
	}
	for (int i = 0; i < PER_CHILD; i++) {
		char key[32];
		int n = snprintf(key, sizeof key, "w%d/%04d", which, i);
		if (ms_store_append(s, id, MS_OP_PUT, MS_PRIO_USER,
		                    (const uint8_t *)key, (size_t)n,
		                    (const uint8_t *)key, (size_t)n, NULL,
		                    &eb) != MS_OK) {
			fprintf(stderr, "child append: %s\n", eb.msg);
			_exit(3);
		}
	}
	ms_store_close(&s);
	ms_identity_free(&id);
	_exit(0);
}

typedef struct seq_check {
	uint64_t next;
	int ok;
} seq_check;

static int on_log(const ms_log_entry *e, void *ctx)
{
	seq_check *sc = ctx;
	if (e->op.seq != sc->next)
		sc->ok = 0;
	sc->next++;
	return 0;
}

/* The op count a read-only opener sees now; it never goes back. */
static uint64_t ops_now(ms_store *ro, uint64_t before)
{
	uint64_t ops = fix_summary(ro).ops;

	ck_assert_uint_ge(ops, before);
	return ops;
}

START_TEST(test_two_writers)
{
	char *dir = ms_test_tmpdir("mp-two");
	ms_identity *id = fix_identity(1);
	pid_t pid[2];
	int go[2];
	ms_store *s = NULL, *ro = NULL;
	ms_store_opts o;
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	seq_check sc = {1, 1};
	ms_errbuf eb;
	uint64_t seen_ops = 0;
	int watched;

	MS_PASS_EB(ms_store_create(dir, ms_identity_pk(id), fix_netid, NULL,
	                           &eb),
	           &eb);
	ck_assert_int_eq(pipe(go), 0);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(go[1]);
			writer_child(dir, go[0], i);
		}
	}
	close(go[0]);
	/* Both start together. */
	ck_assert_int_eq(write(go[1], "gg", 2), 2);
	close(go[1]);

	/* A read-only opener works beside the writers. */
	ms_store_opts_default(&o);
	o.readonly = 1;
	MS_PASS_EB(ms_store_open(&ro, dir, &o, &eb), &eb);
	/* watch for a while; the count is checked after the writers end */
	MS_WAIT_RESULT(watched, (seen_ops = ops_now(ro, seen_ops)) >= 100,
	               60000, ms_test_sleep_ms(5));
	(void)watched;
	for (int i = 0; i < 2; i++) {
		int st = 0;
		ck_assert_msg(ms_test_stop_pid(pid[i], 0, 120000, &st) == 0,
		              "writer %d did not finish in time", i);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		              "writer %d failed: status %d", i, st);
	}
	ck_assert_uint_ge(seen_ops, 1);
	ms_store_close(&ro);

	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	ck_assert_uint_eq(sum.ops, 2 * PER_CHILD);
	ck_assert_uint_eq(sum.keys, 2 * PER_CHILD);
	ck_assert_uint_eq(sum.local_seq, 2 * PER_CHILD);
	ck_assert_uint_eq(sum.forks, 0);
	MS_PASS_EB(ms_store_foreach_log(rt, ms_identity_pk(id), 0, on_log, &sc,
	                                &eb),
	           &eb);
	ck_assert_int_eq(sc.ok, 1);
	ck_assert_uint_eq(sc.next, 2 * PER_CHILD + 1);
	ck_assert_uint_eq(ms_store_stat(rt, "ops_local"), 2 * PER_CHILD);
	ms_store_read_end(&rt);
	ck_assert_uint_eq(fix_verify(s), 0);
	ms_store_close(&s);
	ms_identity_free(&id);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/* Child: append forever (bounded), reporting each returned seq. */
static void loop_child(const char *dir, int ack_fd)
{
	ms_identity *id = fix_identity(1);
	ms_store *s = NULL;
	ms_errbuf eb;

	if (ms_store_open(&s, dir, NULL, &eb) != MS_OK)
		_exit(2);
	for (int i = 0; i < 1000000; i++) {
		ms_append_result r;
		char key[32];
		int n = snprintf(key, sizeof key, "loop/%d", i);
		if (ms_store_append(s, id, MS_OP_PUT, MS_PRIO_USER,
		                    (const uint8_t *)key, (size_t)n,
		                    (const uint8_t *)key, (size_t)n, &r,
		                    &eb) != MS_OK)
			_exit(3);
		if (write(ack_fd, &r.seq, sizeof r.seq) != sizeof r.seq)
			_exit(4);
	}
	_exit(0);
}

START_TEST(test_sigkill_mid_loop)
{
	char *dir = ms_test_tmpdir("mp-kill");
	ms_identity *id = fix_identity(1);
	static uint64_t acked[2000000 / 8];
	size_t nacked = 0, cap = sizeof acked / sizeof acked[0];
	uint8_t partial[8];
	size_t plen = 0;
	int ack[2], st;
	pid_t pid;
	ms_store *s = NULL;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;
	ms_test_wait w;
	int killed = 0;

	MS_PASS_EB(ms_store_create(dir, ms_identity_pk(id), fix_netid, NULL,
	                           &eb),
	           &eb);
	ck_assert_int_eq(pipe(ack), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ack[0]);
		loop_child(dir, ack[1]);
	}
	close(ack[1]);

	/* Read acks until enough arrived, then kill; keep reading what was
	 * acknowledged before the kill until EOF. */
	ms_test_wait_start(&w, 60000);
	for (;;) {
		struct pollfd pfd = {ack[0], POLLIN, 0};
		uint8_t buf[4096];
		ssize_t n;
		int pr;

		if (!killed && nacked >= ACKS_BEFORE_KILL) {
			ck_assert_int_eq(kill(pid, SIGKILL), 0);
			killed = 1;
		}
		if (!ms_test_wait_more(&w)) {
			ms_test_kill_pid(pid);
			ck_abort_msg("only %zu acks before the deadline",
			             nacked);
		}
		pr = poll(&pfd, 1, 100);
		if (pr < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(pr, 0);
		if (pr == 0)
			continue;
		n = read(ack[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break; /* child gone, everything read */
		for (ssize_t i = 0; i < n; i++) {
			partial[plen++] = buf[i];
			if (plen == 8) {
				uint64_t v;
				memcpy(&v, partial, 8);
				ck_assert_uint_lt(nacked, cap);
				acked[nacked++] = v;
				plen = 0;
			}
		}
	}
	close(ack[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_ge(nacked, ACKS_BEFORE_KILL);

	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	ck_assert_uint_eq(fix_verify(s), 0);
	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	for (size_t i = 0; i < nacked; i++) {
		char key[32];
		ms_key_state ks;
		int n;

		ck_assert_uint_eq(acked[i], i + 1); /* seqs 1, 2, 3 ... */
		n = snprintf(key, sizeof key, "loop/%zu", i);
		MS_PASS_EB(ms_store_get(rt, (const uint8_t *)key, (size_t)n,
		                        &ks, &eb),
		           &eb);
		ck_assert_uint_eq(ks.heads[0].seq, acked[i]);
	}
	{
		ms_store_summary sum;
		MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
		/* At most the one put in flight went through unacknowledged. */
		ck_assert_uint_ge(sum.ops, nacked);
		ck_assert_uint_le(sum.ops, nacked + 1);
	}
	ms_store_read_end(&rt);
	/* And the store goes on: the next put continues the seqs. */
	{
		ms_append_result r;
		ms_store_summary sum;
		MS_PASS_EB(ms_store_append(s, id, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)"after", 5, NULL, 0,
		                           &r, &eb),
		           &eb);
		MS_PASS(ms_store_read_begin(s, &rt, NULL));
		MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
		ms_store_read_end(&rt);
		ck_assert_uint_eq(r.seq, sum.ops);
	}
	ms_store_close(&s);
	ms_identity_free(&id);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("multiproc");
	TCase *tc = tcase_create("processes");

	fix_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, test_two_writers);
	tcase_add_test(tc, test_sigkill_mid_loop);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
