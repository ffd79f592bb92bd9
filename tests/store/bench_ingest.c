/*
 * bench_ingest.c — a driver (not a test) for profiling the ingest path:
 * N ops of A other authors, signed beforehand, then fed to
 * ms_store_ingest in batches of B as a catch-up would, on a real store
 * file in a fresh directory.  Prints one line: ops, seconds, ops/s.
 *
 *   bench_ingest [-n ops] [-a authors] [-b batch] [-d dir] [-i]
 *                [-s store]
 *
 * -i interleaves the authors op by op (a backlog sent in hlc order when
 * the authors wrote at the same time); by default each author's ops come
 * as one run (a backlog of one author after another).  -d names a parent
 * directory for the store (default TMPDIR or /tmp), so perf sees the real
 * disk's syncs.  -s fills an existing store instead (a node's data
 * directory, signed under its network id, kept): the sender of a
 * catch-up measurement.  Never run by ctest: it times, and tests never do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "store.h"

static uint8_t netid[MS_NETID_LEN] = {'b', 'e', 'n', 'c', 'h'};

static ms_identity *ident(uint8_t b)
{
	uint8_t seed[MS_SEED_LEN];
	ms_identity *id = NULL;
	ms_errbuf eb;

	memset(seed, b, sizeof seed);
	if (ms_identity_from_seed(&id, seed, &eb) != MS_OK) {
		fprintf(stderr, "identity: %s\n", eb.msg);
		exit(1);
	}
	return id;
}

/* One signed PUT of who (malloc'd encoding in *buf). */
static void make_op(ms_ingest_item *it, const ms_identity *who, uint64_t seq,
                    uint64_t hlc, const char *key, const uint8_t *value,
                    size_t vlen)
{
	ms_errbuf eb;
	ms_op op;
	size_t cap, len;
	uint8_t *buf;

	memset(&op, 0, sizeof op);
	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(who), MS_PK_LEN);
	op.seq = seq;
	op.hlc = hlc;
	op.key_len = (uint16_t)strlen(key);
	op.key = (const uint8_t *)key;
	op.value_len = (uint32_t)vlen;
	op.value = value;
	cap = MS_OP_FIXED_LEN + strlen(key) + vlen;
	if ((buf = malloc(cap)) == NULL ||
	    ms_op_sign_encode(&op, who, netid, buf, cap, &len, &eb) != MS_OK) {
		fprintf(stderr, "sign\n");
		exit(1);
	}
	it->buf = buf;
	it->len = len;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = 100000, nauth = 4, batch = 256;
	const char *parent = getenv("TMPDIR"), *keep = NULL;
	int inter = 0, c, rc = 0;
	char dir[4096];
	uint8_t value[200];
	ms_identity **ids, *me;
	ms_ingest_item *items;
	ms_store *s = NULL;
	ms_errbuf eb;
	double t0, t1, c0, c1;
	uint64_t applied = 0;

	while ((c = getopt(argc, argv, "n:a:b:d:is:")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'a':
			nauth = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			parent = optarg;
			break;
		case 'i':
			inter = 1;
			break;
		case 's':
			keep = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_ingest [-n ops] [-a "
			                "authors] [-b batch] [-d dir] [-i]\n");
			return 2;
		}
	}
	if (n == 0 || nauth == 0 || nauth > 200 || batch == 0)
		return 2;
	if (parent == NULL)
		parent = "/tmp";
	snprintf(dir, sizeof dir, "%s/bench_ingest.XXXXXX", parent);
	if (keep != NULL) {
		if (ms_store_open(&s, keep, NULL, &eb) != MS_OK) {
			fprintf(stderr, "store: %s\n", eb.msg);
			return 1;
		}
		memcpy(netid, ms_store_network_id(s), MS_NETID_LEN);
	} else if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	ids = calloc(nauth, sizeof(ms_identity *));
	items = calloc(n, sizeof *items);
	if (ids == NULL || items == NULL) {
		free(ids);
		free(items);
		return 1;
	}
	for (size_t a = 0; a < nauth; a++)
		ids[a] = ident((uint8_t)(10 + a));
	me = ident(1);
	memset(value, 'v', sizeof value);
	/* Slot i holds author i % nauth (interleaved) or i / per (runs). */
	for (size_t i = 0; i < n; i++) {
		size_t per = (n + nauth - 1) / nauth;
		size_t a = inter ? i % nauth : i / per;
		uint64_t seq = inter ? i / nauth + 1 : i % per + 1;
		char key[64];
		snprintf(key, sizeof key, "k%02zu/%08llu", a,
		         (unsigned long long)seq);
		make_op(&items[i], ids[a], seq,
		        ((uint64_t)1700000000000ull + i) << 16, key, value,
		        sizeof value);
	}
	if (keep == NULL && (ms_store_create(dir, ms_identity_pk(me), netid,
	                                     NULL, &eb) != MS_OK ||
	                     ms_store_open(&s, dir, NULL, &eb) != MS_OK)) {
		fprintf(stderr, "store: %s\n", eb.msg);
		rc = 1;
		goto out;
	}
	t0 = now_s();
	c0 = cpu_s();
	for (size_t i = 0; i < n; i += batch) {
		size_t k = n - i < batch ? n - i : batch;
		ms_ingest_totals tot;
		if (ms_store_ingest(s, items + i, k, NULL, NULL, &tot, &eb) !=
		    MS_OK) {
			fprintf(stderr, "ingest: %s\n", eb.msg);
			rc = 1;
			goto out;
		}
		applied += tot.applied;
	}
	t1 = now_s();
	c1 = cpu_s();
	printf("ops=%zu authors=%zu batch=%zu order=%s applied=%llu "
	       "seconds=%.3f ops_per_s=%.0f cpu_us_per_op=%.1f\n",
	       n, nauth, batch, inter ? "interleaved" : "runs",
	       (unsigned long long)applied, t1 - t0, (double)n / (t1 - t0),
	       (c1 - c0) * 1e6 / (double)n);
out:
	ms_store_close(&s);
	if (keep == NULL) {
		char cmd[4200];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	for (size_t i = 0; i < n; i++)
		free((void *)items[i].buf);
	for (size_t a = 0; a < nauth; a++)
		ms_identity_free(&ids[a]);
	ms_identity_free(&me);
	free(items);
	free(ids);
	return rc;
}
