/*
 * test_fingerprint.c — the store's fingerprint of its op set: each
 * author's setsum in the vv db (crypto/setsum.h) and the vv digest built
 * from them, against real stores.
 *
 * A property test over random op sets: any difference between two sets,
 * same-count forks included (same author, same seqs, other ops), gives a
 * different setsum for exactly the authors whose ops differ and a
 * different vv digest, while the same set ingested in another order gives
 * the same ones.  The sets are drawn from a seeded PRNG (MS_TEST_SEED
 * overrides the seed; every failure prints it).
 *
 * A batch ingested at once (setsum points summed per author group on
 * two cores) against the same items one at a time: equal fingerprints.
 *
 * And the migration of a schema-2 store, built here by raw LMDB writes
 * from a schema-3 one exactly as the old code laid it out (the additive
 * acc in each vv record, meta op_acc, schema 2): opened read-write it is
 * migrated in place; opened read-only it is refused with the way out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "ms_bytes.h"
#include "ms_test.h"
#include "setsum.h"
#include "store_fix.h"
#include "vector.h"

#define NAUTH 3  /* authors */
#define NSLOT 12 /* seqs 1..NSLOT per author */
#define TRIALS 100

/* Assert with the seed, so a failing run can be replayed. */
#define FP_ASSERT(cond, fmt, ...) \
	ck_assert_msg(cond, "seed %" PRIu64 ": " fmt, seed, ##__VA_ARGS__)

static uint64_t seed;

/* splitmix64: small, seedable, good enough to draw test cases. */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void seed_init(uint64_t dflt)
{
	const char *env = getenv("MS_TEST_SEED");

	seed = env != NULL ? strtoull(env, NULL, 0) : dflt;
	rnd_state = seed;
}

/* Every op a set may hold: two versions of each slot of each author. */
static ms_identity *auth[NAUTH];
static fix_op uni[NAUTH][NSLOT][2];

static void universe_make(void)
{
	for (int a = 0; a < NAUTH; a++) {
		auth[a] = fix_identity((uint8_t)(0x40 + a));
		for (int s = 0; s < NSLOT; s++)
			for (int v = 0; v < 2; v++) {
				char key[32], val[32];
				snprintf(key, sizeof key, "a%d/k%d", a, s);
				snprintf(val, sizeof val, "version %d", v);
				fix_make_op(&uni[a][s][v], auth[a], MS_OP_PUT,
				            (uint64_t)s + 1,
				            MS_HLC_MAKE(1000 + (uint64_t)s, 0),
				            NULL, 0, key, val, strlen(val));
			}
	}
}

static void universe_free(void)
{
	for (int a = 0; a < NAUTH; a++) {
		for (int s = 0; s < NSLOT; s++)
			for (int v = 0; v < 2; v++)
				free(uni[a][s][v].buf);
		ms_identity_free(&auth[a]);
	}
}

/* A set: per slot, bit 0 = version 0 held, bit 1 = version 1 held. */
typedef struct opset {
	uint8_t sel[NAUTH][NSLOT];
} opset;

static void set_random(opset *x)
{
	for (int a = 0; a < NAUTH; a++)
		for (int s = 0; s < NSLOT; s++) {
			unsigned r = rnd_below(20);
			x->sel[a][s] = r < 12 ? 1 : r < 15 ? 2 : r < 17 ? 3 : 0;
		}
}

static unsigned count_of(uint8_t m)
{
	return (m & 1u) + ((m >> 1) & 1u);
}

/*
 * Change x in one of five ways; returns the kind.  Kinds 2 and 3 keep every
 * author's seq and held exactly (the equivocation no count shows).
 */
static int mutate(opset *x)
{
	for (int tries = 0; tries < 1000; tries++) {
		int kind = (int)rnd_below(5), a = (int)rnd_below(NAUTH);
		int s = (int)rnd_below(NSLOT), s2 = (int)rnd_below(NSLOT);
		uint8_t *m = &x->sel[a][s], *m2 = &x->sel[a][s2];
		int changed = 0;

		switch (kind) {
		case 0: /* drop one op */
			if (*m != 0) {
				*m &= (uint8_t)(*m == 3 ? 1 + rnd_below(2) : 0);
				changed = 1;
			}
			break;
		case 1: /* add one op (a new slot or a fork) */
			if (*m != 3) {
				*m |= (uint8_t)(*m == 0 ? 1 + rnd_below(2) : 3);
				changed = 1;
			}
			break;
		case 2: /* one slot holds the other version instead */
			if (*m == 1 || *m == 2) {
				*m ^= 3;
				changed = 1;
			}
			break;
		case 3: /* every single-version slot of a holds the other */
			for (int i = 0; i < NSLOT; i++)
				if (x->sel[a][i] == 1 || x->sel[a][i] == 2) {
					x->sel[a][i] ^= 3;
					changed = 1;
				}
			break;
		case 4: /* one op dropped and another added: held unchanged */
			if (s != s2 && *m != 0 && *m2 != 3) {
				*m &= (uint8_t)(*m == 3 ? 1 : 0);
				*m2 |= (uint8_t)(*m2 == 0 ? 1 : 3);
				changed = 1;
			}
			break;
		}
		if (changed)
			return kind;
	}
	ck_abort_msg("seed %" PRIu64 ": no mutation applied", seed);
	return -1;
}

/* A store holding exactly x, ingested in a random order in batches of
 * random sizes. */
static ms_store *store_of(const char *dir, const opset *x)
{
	ms_identity *me = fix_identity(0x01);
	ms_store *st = fix_store(dir, me, NULL);
	ms_ingest_item items[NAUTH * NSLOT * 2];
	size_t n = 0, off = 0;
	ms_errbuf eb;

	for (int a = 0; a < NAUTH; a++)
		for (int s = 0; s < NSLOT; s++)
			for (int v = 0; v < 2; v++) {
				const fix_op *o = &uni[a][s][v];
				if (x->sel[a][s] & (1u << v))
					items[n++] = (ms_ingest_item){o->buf,
					                              o->len};
			}
	for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
		size_t j = rnd_below((unsigned)i);
		ms_ingest_item t = items[i - 1];
		items[i - 1] = items[j];
		items[j] = t;
	}
	while (off < n) {
		size_t k = 1 + rnd_below((unsigned)(n - off));
		ms_ingest_totals tot;
		MS_PASS_EB(ms_store_ingest(st, items + off, k, NULL, NULL, &tot,
		                           &eb),
		           &eb);
		FP_ASSERT(tot.applied == k, "applied %" PRIu64 " of %zu",
		          tot.applied, k);
		off += k;
	}
	ms_identity_free(&me);
	return st;
}

typedef struct fp {
	ms_vv_entry e[NAUTH]; /* by author index; held 0 when absent */
	uint8_t digest[MS_HASH_LEN];
} fp;

static int fp_entry(const ms_vv_entry *e, void *ctx)
{
	fp *f = ctx;

	for (int a = 0; a < NAUTH; a++)
		if (memcmp(e->author, ms_identity_pk(auth[a]), MS_PK_LEN) == 0)
			f->e[a] = *e;
	return 0;
}

static void fp_get(ms_store *st, fp *f)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	memset(f, 0, sizeof *f);
	MS_PASS_EB(ms_store_read_begin(st, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_vv_entry(rt, fp_entry, f, &eb), &eb);
	MS_PASS_EB(ms_store_vv_digest(rt, f->digest, &eb), &eb);
	ms_store_read_end(&rt);
}

static void fp_of_set(const opset *x, fp *out)
{
	char *dir = ms_test_tmpdir("fp-set");
	ms_store *st = store_of(dir, x);

	fp_get(st, out);
	FP_ASSERT(fix_verify(st) == 0, "verify found faults");
	ms_store_close(&st);
	ms_test_rmdir(dir);
	free(dir);
}

START_TEST(test_any_difference_changes_the_fingerprint)
{
	int kinds[5] = {0};

	seed_init(0x5e75u);
	universe_make();
	for (int t = 0; t < TRIALS; t++) {
		opset x, y;
		fp fx, fx2, fy;
		int kind;

		set_random(&x);
		y = x;
		kind = mutate(&y);
		kinds[kind]++;
		fp_of_set(&x, &fx);
		fp_of_set(&x, &fx2); /* the same set in another order */
		fp_of_set(&y, &fy);
		FP_ASSERT(memcmp(fx.digest, fx2.digest, MS_HASH_LEN) == 0,
		          "trial %d: one set, two digests", t);
		FP_ASSERT(memcmp(fx.digest, fy.digest, MS_HASH_LEN) != 0,
		          "trial %d (kind %d): different sets, one digest", t,
		          kind);
		for (int a = 0; a < NAUTH; a++) {
			int same = memcmp(x.sel[a], y.sel[a], NSLOT) == 0;
			unsigned hx = 0, hy = 0;
			int reordered = memcmp(fx.e[a].acc, fx2.e[a].acc,
			                       MS_VV_ACC_LEN) != 0;

			FP_ASSERT(!reordered, "trial %d author %d: order", t,
			          a);
			FP_ASSERT(same == (memcmp(fx.e[a].acc, fy.e[a].acc,
			                          MS_VV_ACC_LEN) == 0),
			          "trial %d (kind %d) author %d: sets %s, "
			          "setsums %s",
			          t, kind, a, same ? "equal" : "differ",
			          same ? "differ" : "equal");
			for (int s = 0; s < NSLOT; s++) {
				hx += count_of(x.sel[a][s]);
				hy += count_of(y.sel[a][s]);
			}
			FP_ASSERT(fx.e[a].held == hx && fy.e[a].held == hy,
			          "trial %d author %d: held", t, a);
			if (kind == 2 || kind == 3)
				FP_ASSERT(fx.e[a].seq == fy.e[a].seq &&
				                  fx.e[a].held == fy.e[a].held,
				          "trial %d: a same-count change moved "
				          "the counts",
				          t);
		}
	}
	/* the draw covered the same-count forks, not only easy cases */
	FP_ASSERT(kinds[2] + kinds[3] > 0, "no same-count case was drawn");
	universe_free();
}
END_TEST

START_TEST(test_same_count_forks_of_every_slot)
{
	/* The attack, at the store: one author's every slot with
	 * the other version, all counts equal. */
	opset x, y;
	fp fx, fy;

	seed_init(7);
	universe_make();
	memset(&x, 0, sizeof x);
	memset(&y, 0, sizeof y);
	for (int s = 0; s < NSLOT; s++) {
		x.sel[0][s] = 1;
		y.sel[0][s] = 2;
	}
	fp_of_set(&x, &fx);
	fp_of_set(&y, &fy);
	ck_assert_uint_eq(fx.e[0].seq, NSLOT);
	ck_assert_uint_eq(fy.e[0].seq, NSLOT);
	ck_assert_uint_eq(fx.e[0].held, fy.e[0].held);
	ck_assert_mem_ne(fx.e[0].acc, fy.e[0].acc, MS_VV_ACC_LEN);
	ck_assert_mem_ne(fx.digest, fy.digest, MS_HASH_LEN);
	universe_free();
}
END_TEST

/* --- migration from schema 2 ------------------------------------------ */

/* The schema-2 accumulator: ids as 256-bit LE integers, summed mod 2^256. */
static void acc_v2_add(uint8_t acc[MS_HASH_LEN], const uint8_t id[MS_HASH_LEN])
{
	unsigned carry = 0;

	for (int i = 0; i < MS_HASH_LEN; i++) {
		carry += (unsigned)acc[i] + id[i];
		acc[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

/* Rewrite a schema-3 store that holds exactly x into the layout schema 2
 * had: vv acc = additive sum of the author's ids, meta op_acc = additive
 * sum of all ids, schema 2. */
static void downgrade_to_v2(const char *dir, const opset *x)
{
	uint8_t all[MS_HASH_LEN] = {0}, u32[4];
	fix_raw raw;

	fix_raw_begin(&raw, dir, "vv");
	for (int a = 0; a < NAUTH; a++) {
		uint8_t acc[MS_HASH_LEN] = {0}, rec[8 + 8 + MS_HASH_LEN];
		MDB_val k = {MS_PK_LEN, (void *)ms_identity_pk(auth[a])}, v;
		for (int s = 0; s < NSLOT; s++)
			for (int ver = 0; ver < 2; ver++)
				if (x->sel[a][s] & (1u << ver)) {
					acc_v2_add(acc, uni[a][s][ver].id);
					acc_v2_add(all, uni[a][s][ver].id);
				}
		if (mdb_get(raw.txn, raw.dbi, &k, &v) != 0)
			continue;
		ck_assert_uint_eq(v.mv_size, sizeof rec);
		memcpy(rec, v.mv_data, sizeof rec);
		memcpy(rec + 16, acc, MS_HASH_LEN);
		v.mv_data = rec;
		ck_assert_int_eq(mdb_put(raw.txn, raw.dbi, &k, &v, 0), 0);
	}
	fix_raw_commit(&raw);
	fix_raw_put(dir, "meta", "op_acc", 6, all, sizeof all);
	ms_put_le32(u32, 2);
	fix_raw_put(dir, "meta", "schema", 6, u32, sizeof u32);
}

/* The meta record name, read raw: its size, or -1 when absent. */
static long meta_raw(const char *dir, const char *name, uint8_t *out,
                     size_t cap)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	fix_raw raw;
	long n = -1;

	fix_raw_begin(&raw, dir, "meta");
	if (mdb_get(raw.txn, raw.dbi, &k, &v) == 0) {
		n = (long)v.mv_size;
		memcpy(out, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
	}
	fix_raw_commit(&raw);
	return n;
}

START_TEST(test_migrate_schema_2)
{
	char *dir = ms_test_tmpdir("fp-migrate");
	ms_store_opts ro;
	ms_store *st;
	opset x;
	fp before, after;
	uint8_t buf[64];
	ms_errbuf eb;

	seed_init(11);
	universe_make();
	set_random(&x);
	x.sel[1][3] = 3; /* a fork */
	x.sel[2][0] = 0; /* an author held only above a gap */
	st = store_of(dir, &x);
	fp_get(st, &before);
	ms_store_close(&st);
	downgrade_to_v2(dir, &x);
	ck_assert_int_eq(meta_raw(dir, "op_acc", buf, sizeof buf), 32);

	/* read-only: refused, saying how to migrate */
	ms_store_opts_default(&ro);
	ro.readonly = 1;
	st = NULL;
	MS_FAIL(ms_store_open(&st, dir, &ro, &eb), MS_ECORRUPT);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(eb.msg, "schema version 2 must be migrated to "
	                             "version 3") != NULL &&
	                      strstr(eb.msg, "meshsync-node get --data") !=
	                              NULL,
	              "message: %s", eb.msg);
	ck_assert_int_eq(meta_raw(dir, "schema", buf, sizeof buf), 4);
	ck_assert_uint_eq(ms_get_le32(buf), 2); /* untouched */

	/* read-write: migrated in place, the same fingerprint as a store
	 * that was always schema 3 */
	MS_PASS_EB(ms_store_open(&st, dir, NULL, &eb), &eb);
	fp_get(st, &after);
	ck_assert_mem_eq(after.digest, before.digest, MS_HASH_LEN);
	for (int a = 0; a < NAUTH; a++) {
		ck_assert_mem_eq(after.e[a].acc, before.e[a].acc,
		                 MS_VV_ACC_LEN);
		ck_assert_uint_eq(after.e[a].seq, before.e[a].seq);
		ck_assert_uint_eq(after.e[a].held, before.e[a].held);
	}
	ck_assert_uint_eq(fix_verify(st), 0);
	/* and it goes on working: one more op lands in the setsum */
	{
		ms_identity *me = fix_identity(0x01);
		MS_PASS_EB(ms_store_append(st, me, MS_OP_PUT, MS_PRIO_USER,
		                           (const uint8_t *)"k", 1,
		                           (const uint8_t *)"v", 1, NULL, &eb),
		           &eb);
		ms_identity_free(&me);
	}
	ck_assert_uint_eq(fix_verify(st), 0);
	ms_store_close(&st);
	ck_assert_int_eq(meta_raw(dir, "op_acc", buf, sizeof buf), -1);
	ck_assert_int_eq(meta_raw(dir, "schema", buf, sizeof buf), 4);
	ck_assert_uint_eq(ms_get_le32(buf), 3);
	/* a second open finds nothing to do; read-only works now */
	MS_PASS_EB(ms_store_open(&st, dir, &ro, &eb), &eb);
	ms_store_close(&st);

	universe_free();
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_other_schemas_refused)
{
	char *dir = ms_test_tmpdir("fp-schema");
	ms_identity *me = fix_identity(0x01);
	ms_store *st = fix_store(dir, me, NULL);
	uint8_t u32[4];
	ms_errbuf eb;

	ms_store_close(&st);
	for (uint32_t v = 1; v <= 4; v += 3) { /* 1 and 4 */
		ms_put_le32(u32, v);
		fix_raw_put(dir, "meta", "schema", 6, u32, sizeof u32);
		MS_FAIL(ms_store_open(&st, dir, NULL, &eb), MS_ECORRUPT);
		ck_assert_msg(strstr(eb.msg, "this build reads version 3") !=
		                      NULL,
		              "message: %s", eb.msg);
	}
	ms_identity_free(&me);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_damaged_setsum_stops_writes)
{
	/* A vv record whose setsum is no group element cannot be added to:
	 * the write fails instead of storing something verify cannot
	 * explain. */
	char *dir = ms_test_tmpdir("fp-damaged");
	ms_identity *me = fix_identity(0x01);
	ms_store *st = fix_store(dir, me, NULL);
	uint8_t rec[8 + 8 + MS_HASH_LEN];
	fix_raw raw;
	MDB_val k = {MS_PK_LEN, (void *)ms_identity_pk(me)}, v;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_append(st, me, MS_OP_PUT, MS_PRIO_USER,
	                           (const uint8_t *)"k", 1,
	                           (const uint8_t *)"v", 1, NULL, &eb),
	           &eb);
	ms_store_close(&st);
	fix_raw_begin(&raw, dir, "vv");
	ck_assert_int_eq(mdb_get(raw.txn, raw.dbi, &k, &v), 0);
	memcpy(rec, v.mv_data, sizeof rec);
	memset(rec + 16, 0xff, MS_HASH_LEN);
	v.mv_data = rec;
	ck_assert_int_eq(mdb_put(raw.txn, raw.dbi, &k, &v, 0), 0);
	fix_raw_commit(&raw);
	MS_PASS_EB(ms_store_open(&st, dir, NULL, &eb), &eb);
	MS_FAIL(ms_store_append(st, me, MS_OP_PUT, MS_PRIO_USER,
	                        (const uint8_t *)"k", 1, (const uint8_t *)"w",
	                        1, NULL, &eb),
	        MS_ECORRUPT);
	ck_assert_msg(strstr(eb.msg, "setsum") != NULL, "message: %s", eb.msg);
	ck_assert_uint_eq(fix_verify(st), 1);
	ms_store_close(&st);
	ms_identity_free(&me);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

/*
 * Ingest sums a batch's setsum points per author group on both cores and
 * adds one sum per group at commit, taking back the points of ops found
 * held (store_int.h).  A batch with rejects and duplicates inside the
 * groups, groups held whole, mostly or a little, and more authors
 * interleaved than groups stay open, must leave exactly the vv entries
 * (seq, held, setsum), vv digest and state hash that ingesting the same
 * items one at a time leaves, on one thread and on two; and verify, which
 * recomputes every setsum from the ops db, must find nothing.
 */
#define GB_AUTH 10
#define GB_SEQ 40
#define GB_MAX 256

static ms_identity *gb_auth[GB_AUTH];
static fix_op gb_op[GB_AUTH][GB_SEQ + 1];

static const fix_op *gb(int a, int seq)
{
	return &gb_op[a][seq];
}

/* The ops both stores hold before the batch. */
static void gb_preheld(ms_store *st)
{
	ms_ingest_item it[64];
	size_t n = 0;
	ms_errbuf eb;

	for (int q = 3; q <= 7; q++) /* author 0: five held of forty */
		it[n++] = (ms_ingest_item){gb(0, q)->buf, gb(0, q)->len};
	for (int q = 1; q <= 20; q++) /* author 1: a group held whole */
		it[n++] = (ms_ingest_item){gb(1, q)->buf, gb(1, q)->len};
	it[n++] = (ms_ingest_item){gb(2, 10)->buf, gb(2, 10)->len};
	for (int q = 1; q <= 8; q++) /* author 3: eight held of ten */
		it[n++] = (ms_ingest_item){gb(3, q)->buf, gb(3, q)->len};
	MS_PASS_EB(ms_store_ingest(st, it, n, NULL, NULL, NULL, &eb), &eb);
}

static void gb_fp(ms_store *st, ms_vv_entry *e, uint8_t digest[MS_HASH_LEN],
                  uint8_t state[MS_HASH_LEN])
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_read_begin(st, &rt, &eb), &eb);
	for (int a = 0; a < GB_AUTH; a++)
		MS_PASS_EB(ms_store_vv_entry_get(rt, ms_identity_pk(gb_auth[a]),
		                                 &e[a], &eb),
		           &eb);
	MS_PASS_EB(ms_store_vv_digest(rt, digest, &eb), &eb);
	MS_PASS_EB(ms_store_state_hash(rt, state, &eb), &eb);
	ms_store_read_end(&rt);
}

START_TEST(test_batch_groups_match_one_by_one)
{
	ms_identity *me = fix_identity(0x01);
	ms_ingest_item items[GB_MAX];
	uint8_t value[16], badsig[512], trunc[64];
	ms_vv_entry e[2][GB_AUTH];
	uint8_t digest[2][MS_HASH_LEN], state[2][MS_HASH_LEN];
	size_t n = 0;
	/* interleaved: nine authors, more than ST_GROUP_OPEN (8) */
	static const int inter[] = {0, 2, 4, 5, 6, 7, 8, 9, 3};
	int threads = _i + 1;

	memset(value, 'v', sizeof value);
	for (int a = 0; a < GB_AUTH; a++) {
		gb_auth[a] = fix_identity((uint8_t)(0x40 + a));
		for (int q = 1; q <= GB_SEQ; q++) {
			char key[32];
			snprintf(key, sizeof key, "gb/%d/%d", a, q);
			fix_make_op(&gb_op[a][q], gb_auth[a], MS_OP_PUT,
			            (uint64_t)q, ((uint64_t)1000 + q) << 16,
			            NULL, 0, key, value, sizeof value);
		}
	}
	/* A signature that does not verify, and an op cut short. */
	ck_assert_uint_le(gb(0, 1)->len, sizeof badsig);
	memcpy(badsig, gb(0, 1)->buf, gb(0, 1)->len);
	badsig[gb(0, 1)->len - 1] ^= 0x01;
	memcpy(trunc, gb(0, 2)->buf, sizeof trunc);

	/* author 0, seqs 1..40 as one run: a bad signature and a cut op
	 * inside it, seq 2 twice, seqs 3..7 held */
	for (int q = 1; q <= GB_SEQ; q++) {
		items[n++] = (ms_ingest_item){gb(0, q)->buf, gb(0, q)->len};
		if (q == 5)
			items[n++] = (ms_ingest_item){badsig, gb(0, 1)->len};
		if (q == 12)
			items[n++] = (ms_ingest_item){trunc, sizeof trunc};
		if (q == 20)
			items[n++] = (ms_ingest_item){gb(0, 2)->buf,
			                              gb(0, 2)->len};
	}
	for (int q = 1; q <= 20; q++) /* author 1: held whole */
		items[n++] = (ms_ingest_item){gb(1, q)->buf, gb(1, q)->len};
	for (int q = 1; q <= 12; q++) /* author 2: seq 10 held */
		items[n++] = (ms_ingest_item){gb(2, q)->buf, gb(2, q)->len};
	for (int q = 1; q <= 10; q++) /* author 3: mostly held */
		items[n++] = (ms_ingest_item){gb(3, q)->buf, gb(3, q)->len};
	for (int q = 13; q <= 20; q++) /* interleaved, a reject among them */
		for (size_t k = 0; k < sizeof inter / sizeof inter[0]; k++) {
			int a = inter[k], sq = a == 3 ? q - 2 : q + 20;
			if (a == 2)
				sq = q;
			items[n++] = (ms_ingest_item){gb(a, sq)->buf,
			                              gb(a, sq)->len};
			if (q == 16 && k == 4)
				items[n++] = (ms_ingest_item){badsig,
				                              gb(0, 1)->len};
		}
	ck_assert_uint_le(n, GB_MAX);
	ck_assert_uint_ge(n, 2 * 64); /* both halves large enough to split */

	for (int way = 0; way < 2; way++) {
		char *dir = ms_test_tmpdir("fp-groups");
		ms_store_opts o;
		ms_store *st;
		ms_ingest_totals tot, sum = {0};
		ms_errbuf eb;

		ms_store_opts_default(&o);
		o.verify_threads = (unsigned)threads;
		st = fix_store(dir, me, &o);
		gb_preheld(st);
		if (way == 0) {
			MS_PASS_EB(ms_store_ingest(st, items, n, NULL, NULL,
			                           &sum, &eb),
			           &eb);
		} else {
			for (size_t i = 0; i < n; i++) {
				MS_PASS_EB(ms_store_ingest(st, items + i, 1,
				                           NULL, NULL, &tot,
				                           &eb),
				           &eb);
				sum.applied += tot.applied;
				sum.duplicate += tot.duplicate;
				sum.rejected += tot.rejected;
			}
		}
		ck_assert_uint_eq(sum.rejected, 3);
		/* seq 2 again, 3..7, author 1's twenty, author 2's seq 10,
		 * author 3's eight, and author 0's 33..40 again among the
		 * interleaved (in other groups than their first copies) */
		ck_assert_uint_eq(sum.duplicate, 1 + 5 + 20 + 1 + 8 + 8);
		ck_assert_uint_eq(sum.applied + sum.duplicate + sum.rejected,
		                  n);
		gb_fp(st, e[way], digest[way], state[way]);
		ck_assert_uint_eq(fix_verify(st), 0);
		ms_store_close(&st);
		ms_test_rmdir(dir);
		free(dir);
	}
	for (int a = 0; a < GB_AUTH; a++) {
		ck_assert_uint_eq(e[0][a].seq, e[1][a].seq);
		ck_assert_uint_eq(e[0][a].held, e[1][a].held);
		ck_assert_msg(memcmp(e[0][a].acc, e[1][a].acc, MS_VV_ACC_LEN) ==
		                      0,
		              "author %d: setsums differ (%d threads)", a,
		              threads);
	}
	ck_assert_uint_eq(e[0][0].held, GB_SEQ);
	ck_assert_uint_eq(e[0][0].seq, GB_SEQ);
	ck_assert(memcmp(digest[0], digest[1], MS_HASH_LEN) == 0);
	ck_assert(memcmp(state[0], state[1], MS_HASH_LEN) == 0);
	for (int a = 0; a < GB_AUTH; a++) {
		for (int q = 1; q <= GB_SEQ; q++)
			free(gb_op[a][q].buf);
		ms_identity_free(&gb_auth[a]);
	}
	ms_identity_free(&me);
}
END_TEST

/* A damaged setsum stops an ingest too: the group sum is added at the
 * end of the batch, and the whole batch is refused. */
START_TEST(test_damaged_setsum_stops_ingest)
{
	char *dir = ms_test_tmpdir("fp-damaged-ingest");
	ms_identity *me = fix_identity(0x01), *who = fix_identity(0x50);
	ms_store *st = fix_store(dir, me, NULL);
	uint8_t rec[8 + 8 + MS_HASH_LEN];
	fix_op op[2];
	ms_ingest_item it[2];
	ms_ingest_totals tot;
	fix_raw raw;
	MDB_val k = {MS_PK_LEN, (void *)ms_identity_pk(who)}, v;
	ms_errbuf eb;

	for (int i = 0; i < 2; i++) {
		fix_make_op(&op[i], who, MS_OP_PUT, (uint64_t)i + 1,
		            ((uint64_t)1000 + i) << 16, NULL, 0, i ? "b" : "a",
		            "v", 1);
		it[i] = (ms_ingest_item){op[i].buf, op[i].len};
	}
	MS_PASS_EB(ms_store_ingest(st, it, 1, NULL, NULL, NULL, &eb), &eb);
	ms_store_close(&st);
	fix_raw_begin(&raw, dir, "vv");
	ck_assert_int_eq(mdb_get(raw.txn, raw.dbi, &k, &v), 0);
	memcpy(rec, v.mv_data, sizeof rec);
	memset(rec + 16, 0xff, MS_HASH_LEN);
	v.mv_data = rec;
	ck_assert_int_eq(mdb_put(raw.txn, raw.dbi, &k, &v, 0), 0);
	fix_raw_commit(&raw);
	MS_PASS_EB(ms_store_open(&st, dir, NULL, &eb), &eb);
	MS_FAIL(ms_store_ingest(st, it + 1, 1, NULL, NULL, &tot, &eb),
	        MS_ECORRUPT);
	ck_assert_msg(strstr(eb.msg, "setsum") != NULL, "message: %s", eb.msg);
	ck_assert_uint_eq(fix_summary(st).ops, 1); /* nothing kept */
	ms_store_close(&st);
	for (int i = 0; i < 2; i++)
		free(op[i].buf);
	ms_identity_free(&who);
	ms_identity_free(&me);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fingerprint");
	TCase *tc = tcase_create("fingerprint");

	fix_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_any_difference_changes_the_fingerprint);
	tcase_add_test(tc, test_same_count_forks_of_every_slot);
	tcase_add_test(tc, test_migrate_schema_2);
	tcase_add_test(tc, test_other_schemas_refused);
	tcase_add_test(tc, test_damaged_setsum_stops_writes);
	tcase_add_loop_test(tc, test_batch_groups_match_one_by_one, 0, 2);
	tcase_add_test(tc, test_damaged_setsum_stops_ingest);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
