/*
 * test_convergence.c — state is a function of the set of ops: 5 simulated
 * authors that see different subsets of each other's ops write to shared
 * keys (lww, mv and counter keys, deletes, one fork); the whole set is then
 * ingested in 200 seeded random orders and batch sizes into fresh stores,
 * and every store must end with the same state hash and vv digest, the
 * heads and counter sums the simulation predicts, and a clean verify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hlc.h"
#include "ms_test.h"
#include "store_fix.h"

#define NAUTH 5
#define NOPS 520
#define NORDERS 200
#define T0 UINT64_C(1767225600000)

static uint64_t rng_state;

/* splitmix64: small, seedable, and the same on every platform. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

typedef struct sim_op {
	fix_op enc;
	int author;
	int key;
	int type;
	int64_t delta; /* counter keys: the 8-byte value */
	int has_delta;
	size_t np;
	int parents[MS_OP_MAX_PARENTS]; /* indexes into ops */
} sim_op;

static const char *const key_names[] = {
	"k/0",  "k/1",  "k/2",  "k/3", "k/4", "k/5", /* lww */
	"mv/0", "mv/1", "mv/2",                      /* mv */
	"c/0",  "c/1",                               /* counter */
};
#define NKEYS (int)(sizeof key_names / sizeof key_names[0])

static sim_op ops[NOPS];
static size_t nops;
static uint8_t seen[NAUTH][NOPS];
static ms_identity *auth[NAUTH];

/* Heads of key in author a's view: seen ops of the key no seen op of the
 * key names. */
static size_t view_heads(int a, int key, int *out)
{
	static uint8_t named[NOPS];
	size_t n = 0;

	memset(named, 0, sizeof named);
	for (size_t i = 0; i < nops; i++)
		if (seen[a][i] && ops[i].key == key)
			for (size_t j = 0; j < ops[i].np; j++)
				named[ops[i].parents[j]] = 1;
	for (size_t i = 0; i < nops; i++)
		if (seen[a][i] && ops[i].key == key && !named[i])
			out[n++] = (int)i;
	return n;
}

static void simulate(void)
{
	uint64_t seq[NAUTH] = {0}, clock[NAUTH] = {0};
	int forked = 0;

	rng_state = 42;
	nops = 0;
	memset(seen, 0, sizeof seen);
	while (nops < NOPS) {
		int a = (int)rnd_below(NAUTH);
		int heads[NOPS] = {0}; /* view_heads fills the first nh */
		uint8_t par[MS_OP_MAX_PARENTS][MS_HASH_LEN];
		uint8_t val[16];
		size_t vlen, nh;
		uint64_t hlc, maxp = 0;
		sim_op *o;

		/* Sometimes an author syncs with another: learns a random
		 * part of what the other has seen. */
		if (rnd_below(4) == 0) {
			int b = (int)rnd_below(NAUTH);
			for (size_t i = 0; i < nops; i++)
				if (seen[b][i] && rnd_below(3) != 0)
					seen[a][i] = 1;
			continue;
		}
		o = &ops[nops];
		memset(o, 0, sizeof *o);
		o->author = a;
		o->key = (int)rnd_below(NKEYS);
		nh = view_heads(a, o->key, heads);
		o->np = nh < MS_OP_MAX_PARENTS ? nh : MS_OP_MAX_PARENTS;
		for (size_t i = 0; i < o->np; i++) {
			o->parents[i] = heads[i];
			memcpy(par[i], ops[heads[i]].enc.id, MS_HASH_LEN);
			{
				ms_op d;
				ck_assert_int_eq(ms_op_decode(&d,
				                              ops[heads[i]]
				                                      .enc.buf,
				                              ops[heads[i]]
				                                      .enc.len,
				                              0),
				                 MS_OPR_OK);
				if (d.hlc > maxp)
					maxp = d.hlc;
			}
		}
		/* Skewed wall clocks per author; writes order after parents. */
		clock[a] = ms_hlc_tick(clock[a], T0 + nops * 3 +
		                                         (uint64_t)a * 50 -
		                                         rnd_below(40));
		hlc = clock[a] > maxp ? clock[a] : maxp + 1;
		if (strncmp(key_names[o->key], "c/", 2) == 0) {
			o->type = MS_OP_PUT;
			o->delta = (int64_t)rnd_below(2001) - 1000;
			if (rnd_below(10) == 0)
				o->delta = INT64_MIN +
				           (int64_t)rnd_below(5); /* wraps */
			o->has_delta = 1;
			fix_le64(val, o->delta);
			vlen = 8;
		} else if (rnd_below(6) == 0) {
			o->type = MS_OP_DEL;
			vlen = 0;
		} else {
			o->type = MS_OP_PUT;
			vlen = (size_t)snprintf((char *)val, sizeof val, "v%zu",
			                        nops);
		}
		/* One fork: author 4 reuses its last seq once. */
		if (a == 4 && seq[4] >= 3 && !forked) {
			forked = 1;
		} else {
			seq[a]++;
		}
		fix_make_op(&o->enc, auth[a], (ms_op_type)o->type, seq[a], hlc,
		            (const uint8_t(*)[MS_HASH_LEN])par, o->np,
		            key_names[o->key], val, vlen);
		seen[a][nops] = 1;
		nops++;
	}
	ck_assert_int_eq(forked, 1);
}

typedef struct expect {
	size_t nheads;
	uint8_t heads[NOPS][MS_HASH_LEN];
	uint64_t sum;
	uint64_t n;
} expect;

static int id_cmp(const void *x, const void *y)
{
	return memcmp(x, y, MS_HASH_LEN);
}

/* Global heads and sums over the full set. */
static void expected_for(int key, expect *e)
{
	static uint8_t named[NOPS];

	memset(named, 0, sizeof named);
	memset(e, 0, sizeof *e);
	for (size_t i = 0; i < nops; i++)
		if (ops[i].key == key)
			for (size_t j = 0; j < ops[i].np; j++)
				named[ops[i].parents[j]] = 1;
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].key != key)
			continue;
		e->n++;
		if (ops[i].has_delta)
			e->sum += (uint64_t)ops[i].delta;
		if (!named[i])
			memcpy(e->heads[e->nheads++], ops[i].enc.id,
			       MS_HASH_LEN);
	}
	qsort(e->heads, e->nheads, MS_HASH_LEN, id_cmp);
}

static void check_state(ms_store *s)
{
	static expect e;
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	for (int k = 0; k < NKEYS; k++) {
		ms_key_state ks;
		uint8_t got[NOPS][MS_HASH_LEN];

		expected_for(k, &e);
		if (e.n == 0)
			continue;
		MS_PASS_EB(ms_store_get(rt, (const uint8_t *)key_names[k],
		                        strlen(key_names[k]), &ks, &eb),
		           &eb);
		ck_assert_uint_eq(ks.nops, e.n);
		ck_assert_uint_eq(ks.nheads, e.nheads);
		ck_assert_int_eq(ks.counter, (int64_t)e.sum);
		for (size_t i = 0; i < ks.nheads; i++) {
			memcpy(got[i], ks.heads[i].id, MS_HASH_LEN);
			if (i > 0) /* descending (hlc, author) */
				ck_assert_uint_ge(ks.heads[i - 1].hlc,
				                  ks.heads[i].hlc);
		}
		qsort(got, ks.nheads, MS_HASH_LEN, id_cmp);
		ck_assert_mem_eq(got, e.heads, ks.nheads * MS_HASH_LEN);
		if (strncmp(key_names[k], "mv/", 3) == 0)
			ck_assert_int_eq(ks.policy, MS_POLICY_MV);
		if (strncmp(key_names[k], "c/", 2) == 0) {
			ck_assert_int_eq(ks.policy, MS_POLICY_COUNTER);
			ck_assert_int_eq(ms_key_state_conflict(&ks), 0);
		}
	}
	ms_store_read_end(&rt);
}

static void digests(ms_store *s, uint8_t sh[MS_HASH_LEN],
                    uint8_t vd[MS_HASH_LEN], ms_store_summary *sum)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS(ms_store_read_begin(s, &rt, NULL));
	MS_PASS_EB(ms_store_state_hash(rt, sh, &eb), &eb);
	MS_PASS_EB(ms_store_vv_digest(rt, vd, &eb), &eb);
	MS_PASS_EB(ms_store_summary_get(rt, sum, &eb), &eb);
	ms_store_read_end(&rt);
}

START_TEST(test_converge_200_orders)
{
	static const ms_policy_rule rules[] = {{"mv/", MS_POLICY_MV},
	                                       {"c/", MS_POLICY_COUNTER}};
	static size_t perm[NOPS];
	static ms_ingest_item items[NOPS];
	char *base = ms_test_tmpdir("conv");
	ms_identity *node = fix_identity(0x77);
	uint8_t sh0[MS_HASH_LEN], vd0[MS_HASH_LEN];
	ms_store_opts o;
	ms_errbuf eb;

	for (int a = 0; a < NAUTH; a++)
		auth[a] = fix_identity((uint8_t)(0x10 + a));
	simulate();
	ms_store_opts_default(&o);
	o.policies = rules;
	o.npolicies = 2;
	o.map_initial = 1u << 20; /* small files: grows if needed */

	for (int order = 0; order < NORDERS; order++) {
		char dir[4096];
		ms_store *s = NULL;
		uint8_t sh[MS_HASH_LEN], vd[MS_HASH_LEN];
		ms_store_summary sum;
		size_t done = 0;
		ms_ingest_totals tot;
		uint64_t applied = 0, dup = 0;

		snprintf(dir, sizeof dir, "%s/o%d", base, order);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
		rng_state = 1000 + (uint64_t)order;
		for (size_t i = 0; i < nops; i++)
			perm[i] = i;
		for (size_t i = nops - 1; i > 0; i--) { /* Fisher-Yates */
			size_t j = rnd_below(i + 1), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		/* Some orders deliver a few ops twice: still one state. */
		for (size_t i = 0; i < nops; i++)
			items[i] = (ms_ingest_item){ops[perm[i]].enc.buf,
			                            ops[perm[i]].enc.len};
		s = fix_store(dir, node, &o);
		while (done < nops) {
			/* Mostly large batches (each is a durable commit);
			 * every 25th order goes op by op in small ones. */
			size_t b = 1 + rnd_below(order % 25 == 0 ? 8 : 200);
			if (b > nops - done)
				b = nops - done;
			MS_PASS_EB(ms_store_ingest(s, items + done, b, NULL,
			                           NULL, &tot, &eb),
			           &eb);
			applied += tot.applied;
			dup += tot.duplicate;
			ck_assert_uint_eq(tot.rejected, 0);
			if (order % 5 == 1 && done > 0 && rnd_below(4) == 0) {
				/* replay the previous batch */
				MS_PASS_EB(ms_store_ingest(s, items + done - 1,
				                           1, NULL, NULL, &tot,
				                           &eb),
				           &eb);
				ck_assert_uint_eq(tot.duplicate, 1);
			}
			done += b;
		}
		ck_assert_uint_eq(applied, nops);
		ck_assert_uint_eq(dup, 0);
		digests(s, sh, vd, &sum);
		ck_assert_uint_eq(sum.ops, nops);
		ck_assert_uint_eq(sum.authors, NAUTH);
		ck_assert_uint_eq(sum.forks, 1);
		if (order == 0) {
			memcpy(sh0, sh, MS_HASH_LEN);
			memcpy(vd0, vd, MS_HASH_LEN);
			check_state(s);
		} else {
			ck_assert_msg(memcmp(sh, sh0, MS_HASH_LEN) == 0,
			              "order %d: state hash differs", order);
			ck_assert_msg(memcmp(vd, vd0, MS_HASH_LEN) == 0,
			              "order %d: vv digest differs", order);
		}
		if (order % 20 == 0) {
			check_state(s);
			ck_assert_uint_eq(fix_verify(s), 0);
		}
		ms_store_close(&s);
		ms_test_rmdir(dir);
	}

	/* One op fewer: both digests must change. */
	{
		char dir[4096];
		ms_store *s;
		uint8_t sh[MS_HASH_LEN], vd[MS_HASH_LEN];
		ms_store_summary sum;

		snprintf(dir, sizeof dir, "%s/short", base);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
		for (size_t i = 0; i < nops; i++)
			items[i] = (ms_ingest_item){ops[i].enc.buf,
			                            ops[i].enc.len};
		s = fix_store(dir, node, &o);
		MS_PASS_EB(ms_store_ingest(s, items, nops - 1, NULL, NULL, NULL,
		                           &eb),
		           &eb);
		digests(s, sh, vd, &sum);
		ck_assert(memcmp(vd, vd0, MS_HASH_LEN) != 0);
		ck_assert(memcmp(sh, sh0, MS_HASH_LEN) != 0);
		ms_store_close(&s);
	}

	for (size_t i = 0; i < nops; i++)
		free(ops[i].enc.buf);
	for (int a = 0; a < NAUTH; a++)
		ms_identity_free(&auth[a]);
	ms_identity_free(&node);
	ms_test_rmdir(base);
	free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("convergence");

	fix_prefer_ram_tmpdir();
	TCase *tc = tcase_create("orders");

	tcase_set_timeout(tc, 280);
	tcase_add_test(tc, test_converge_200_orders);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
