/*
 * fuzz_session.c — libFuzzer target for the sync session state machine
 * (node/session): arbitrary message sequences from a peer into one session
 * backed by a real store, under a simulated clock.
 *
 * The input is a flags byte and records (session_world.h): messages
 * received, time passing, local writes offered to the session; the session
 * is ticked after each.  What it sends is counted and dropped (a flag makes
 * the link report "full" now and then).  Seeds are real sessions recorded
 * by gen_corpus against a real peer, so the fuzzer starts from inputs that
 * get past HELLO and its proof, through vector rounds, OPS batches, ACKs,
 * forks, live pushes, PEERS and BYE, and mutates from there.
 *
 * The store: one template is built per process on tmpfs (session_world.c:
 * ops of our own and of a third author) and copied over the working store
 * before each input, so each input starts from the same state and a
 * finding replays from its file alone.
 *
 * Beyond "never crash, read out of bounds or leak": after the input the
 * owner closes the session if it is still open, and exactly one ENDED
 * event must have been delivered, no message sent after it; the sessions'
 * memory count returns to zero; and ms_store_verify finds the store
 * consistent (every op decoded and signed, log, vector, heads, indexes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_check.h"
#include "fuzz_util.h"
#include "session.h"
#include "session_world.h"
#include "store.h"

static char fz_tmpl[600], fz_work[600], fz_tmpl_data[700], fz_work_data[700];
static ms_identity *fz_self;
static ms_counters fz_counters;
static ms_log fz_log;
static uint64_t fz_wall;

/* What the callbacks saw during one input. */
static struct {
	unsigned flags;
	uint64_t sends;
	int ended;
	int sent_after_end;
} fz;

static ms_err on_send(void *ctx, ms_session *s, const uint8_t *buf, size_t len,
                      ms_errbuf *eb)
{
	(void)ctx;
	(void)s;
	(void)eb;
	FZ_CHECK(buf != NULL && len > 0);
	if (fz.ended)
		fz.sent_after_end = 1;
	fz.sends++;
	if ((fz.flags & SW_F_BUSY) && fz.sends % 3 == 0)
		return MS_EBUSY;
	return MS_OK;
}

static void on_event(void *ctx, ms_session *s, const ms_session_event *ev)
{
	(void)ctx;
	(void)s;
	if (ev->kind == MS_SESSION_EV_ENDED) {
		fz.ended++;
		FZ_CHECK(ev->u.end.reason != NULL);
		FZ_CHECK(ev->u.end.summary != NULL);
	}
}

/* Copy the template's data file over the working one. */
static void reset_store(void)
{
	static uint8_t buf[1 << 16];
	int in = open(fz_tmpl_data, O_RDONLY | O_CLOEXEC);
	int out = open(fz_work_data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	               0600);
	ssize_t r;

	FZ_CHECK(in >= 0 && out >= 0);
	while ((r = read(in, buf, sizeof buf)) != 0) {
		FZ_CHECK(r > 0 || errno == EINTR);
		if (r > 0)
			FZ_CHECK(write(out, buf, (size_t)r) == r);
	}
	FZ_CHECK(close(in) == 0 && close(out) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fz_tmpdir("fuzz-session");

	(void)argc;
	(void)argv;
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	fz_path(fz_tmpl, sizeof fz_tmpl, dir, "template");
	fz_path(fz_work, sizeof fz_work, dir, "work");
	fz_path(fz_tmpl_data, sizeof fz_tmpl_data, fz_tmpl, MS_STORE_DATA_FILE);
	fz_path(fz_work_data, sizeof fz_work_data, fz_work, MS_STORE_DATA_FILE);
	FZ_CHECK(mkdir(fz_tmpl, 0700) == 0 && mkdir(fz_work, 0700) == 0);
	fz_wall = SW_WALL0;
	sw_make_self(fz_tmpl, &fz_wall);
	fz_self = sw_identity(SW_SELF);
	/* quiet: the fuzzer would spend its time writing log lines */
	fz_log.level = getenv("MS_FUZZ_LOG") != NULL ? MS_LOG_DEBUG
	                                             : MS_LOG_ERROR - 1;
	return 0;
}

static void print_fault(const char *what, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "fuzz_session: verify fault: %s\n", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ms_session_params p;
	ms_session_cbs cbs = {on_send, on_event, NULL};
	ms_session_conf conf = {0};
	ms_session_env *env = NULL;
	ms_session *s = NULL;
	ms_store *st = NULL;
	ms_store_opts o;
	ms_time now = {.mono_ms = SW_MONO0, .wall_ms = SW_WALL0};
	ms_errbuf eb;
	uint64_t faults = 0;
	unsigned writes = 0;
	size_t off = 1;

	if (size == 0)
		return 0;
	memset(&fz, 0, sizeof fz);
	memset(&fz_counters, 0, sizeof fz_counters);
	fz.flags = data[0];
	fz_wall = now.wall_ms;

	reset_store();
	sw_store_opts(&o, &fz_wall);
	if (ms_store_open(&st, fz_work, &o, &eb) != MS_OK) {
		fprintf(stderr, "fuzz_session: open: %s\n", eb.msg);
		abort();
	}
	sw_params(&p, fz.flags);
	FZ_CHECK(ms_session_env_new(&env, st, fz_self, &p, &cbs, &fz_log,
	                            &fz_counters, NULL) == MS_OK);
	conf.outbound = (fz.flags & SW_F_OUTBOUND) != 0;
	if (!conf.outbound) {
		/* the dialer's transport key: the peer's, as CURVE proved it */
		ms_identity *peer = sw_identity(SW_PEER);
		FZ_CHECK(ms_ed25519_pk_to_curve(conf.peer_curve,
		                                ms_identity_pk(peer),
		                                NULL) == MS_OK);
		ms_identity_free(&peer);
	}
	FZ_CHECK(ms_session_new(&s, env, &conf, now, NULL) == MS_OK);
	ms_session_start(s, now);

	while (off + SW_REC_HDR <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		uint64_t step = sw_step_ms(data[off + 2]);

		off += SW_REC_HDR;
		now.mono_ms += step;
		now.wall_ms += step;
		fz_wall = now.wall_ms;
		if (len == SW_REC_WRITE) {
			/* a failed write or offer is the store's business,
			 * not the session's: nothing to check here */
			(void)sw_local_write(st, fz_self, s, writes++, &eb);
		} else if (len > 0) {
			if (len > size - off)
				len = size - off;
			ms_session_recv(s, data + off, len, now);
			off += len;
		}
		ms_session_tick(s, now);
	}

	if (ms_session_state_get(s) != MS_SESSION_CLOSED)
		ms_session_close(s, MS_BYE_SHUTDOWN, "fuzz input ended",
		                 "shutdown", 0, now);
	FZ_CHECK(ms_session_state_get(s) == MS_SESSION_CLOSED);
	FZ_CHECK(fz.ended == 1);
	FZ_CHECK(!fz.sent_after_end);
	ms_session_free(&s);
	FZ_CHECK(s == NULL);
	FZ_CHECK(ms_session_env_memory(env) == 0);
	ms_session_env_free(&env);

	if (ms_store_verify(st, print_fault, NULL, &faults, &eb) != MS_OK) {
		fprintf(stderr, "fuzz_session: verify: %s\n", eb.msg);
		abort();
	}
	FZ_CHECK(faults == 0);
	ms_store_close(&st);
	return 0;
}
