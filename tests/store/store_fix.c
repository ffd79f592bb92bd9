/* store_fix.c — helpers for the store suites (see store_fix.h). */
#include "store_fix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_bytes.h"

const uint8_t fix_netid[MS_NETID_LEN] = {0x6d, 0x65, 0x73, 0x68, 0x73, 0x79,
                                         0x6e, 0x63, 0x2d, 0x74, 0x65, 0x73,
                                         0x74, 0x2d, 0x6e, 0x65, 0x74, 0x01,
                                         0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                         0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
                                         0x0e, 0x0f};

ms_identity *fix_identity(uint8_t b)
{
	return ms_test_identity(b);
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MS_HASH_LEN);
}

void fix_make_op(fix_op *out, const ms_identity *who, ms_op_type type,
                 uint64_t seq, uint64_t hlc,
                 const uint8_t (*parents)[MS_HASH_LEN], size_t np,
                 const char *key, const void *value, size_t vlen)
{
	fix_make_op_prio(out, who, type, MS_PRIO_USER, seq, hlc, parents, np,
	                 key, value, vlen);
}

void fix_make_op_prio(fix_op *out, const ms_identity *who, ms_op_type type,
                      ms_prio prio, uint64_t seq, uint64_t hlc,
                      const uint8_t (*parents)[MS_HASH_LEN], size_t np,
                      const char *key, const void *value, size_t vlen)
{
	uint8_t sorted[MS_OP_MAX_PARENTS][MS_HASH_LEN];
	ms_errbuf eb;
	ms_op op;
	size_t cap;

	ck_assert_uint_le(np, MS_OP_MAX_PARENTS);
	if (np > 0) {
		memcpy(sorted, parents, np * MS_HASH_LEN);
		qsort(sorted, np, MS_HASH_LEN, id_cmp);
	}
	memset(&op, 0, sizeof op);
	op.type = (uint8_t)type;
	op.priority = (uint8_t)prio;
	memcpy(op.author, ms_identity_pk(who), MS_PK_LEN);
	op.seq = seq;
	op.hlc = hlc;
	op.nparents = (uint8_t)np;
	op.parents = &sorted[0][0];
	op.key_len = (uint16_t)strlen(key);
	op.key = (const uint8_t *)key;
	op.value_len = (uint32_t)vlen;
	op.value = value;
	cap = MS_OP_FIXED_LEN + np * MS_HASH_LEN + strlen(key) + vlen;
	out->buf = malloc(cap);
	ck_assert_ptr_nonnull(out->buf);
	MS_PASS_EB(ms_op_sign_encode(&op, who, fix_netid, out->buf, cap,
	                             &out->len, &eb),
	           &eb);
	ck_assert_uint_eq(out->len, cap);
	ms_op_id(out->id, out->buf, out->len);
}

uint64_t fix_wall(void *ctx)
{
	return *(const uint64_t *)ctx;
}

ms_store *fix_store(const char *dir, const ms_identity *id,
                    const ms_store_opts *o)
{
	ms_store *s = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_store_create(dir, ms_identity_pk(id), fix_netid, o, &eb),
	           &eb);
	MS_PASS_EB(ms_store_open(&s, dir, o, &eb), &eb);
	return s;
}

static void print_fault(const char *what, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "verify fault: %s\n", what);
}

uint64_t fix_verify(ms_store *s)
{
	uint64_t faults = 0;
	ms_errbuf eb;
	ms_err e = ms_store_verify(s, print_fault, NULL, &faults, &eb);

	if (e != MS_OK && e != MS_ECORRUPT)
		ck_abort_msg("verify failed: %s (%s)", ms_strerror(e), eb.msg);
	ck_assert((e == MS_OK) == (faults == 0));
	return faults;
}

void fix_le64(uint8_t out[8], int64_t v)
{
	ms_put_le64(out, (uint64_t)v); /* two's complement, as stored */
}

void fix_raw_begin(fix_raw *r, const char *dir, const char *db)
{
	memset(r, 0, sizeof *r);
	ck_assert_int_eq(mdb_env_create(&r->env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(r->env, 32), 0);
	ck_assert_int_eq(mdb_env_open(r->env, dir, MDB_NOTLS, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	ck_assert_int_eq(mdb_dbi_open(r->txn, db, 0, &r->dbi), 0);
}

void fix_raw_commit(fix_raw *r)
{
	ck_assert_int_eq(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
	memset(r, 0, sizeof *r);
}

void fix_raw_put(const char *dir, const char *db, const void *k, size_t kl,
                 const void *v, size_t vl)
{
	fix_raw r;
	MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};

	fix_raw_begin(&r, dir, db);
	if (v != NULL)
		ck_assert_int_eq(mdb_put(r.txn, r.dbi, &key, &val, 0), 0);
	else
		ck_assert_int_eq(mdb_del(r.txn, r.dbi, &key, NULL), 0);
	fix_raw_commit(&r);
}

void fix_prefer_ram_tmpdir(void)
{
	ms_test_prefer_ram_tmpdir();
}

ms_store_summary fix_summary(ms_store *s)
{
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	ms_errbuf eb = {0};

	MS_PASS_EB(ms_store_read_begin(s, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_summary_get(rt, &sum, &eb), &eb);
	ms_store_read_end(&rt);
	return sum;
}

int fix_on_fork(const uint8_t author[MS_PK_LEN], uint64_t seq,
                const uint8_t (*ids)[MS_HASH_LEN], size_t nids, void *ctx)
{
	fix_fork_seen *f = ctx;

	(void)author;
	f->n++;
	f->seq = seq;
	f->nids = nids;
	for (size_t i = 0; i < nids && i < 4; i++)
		memcpy(f->ids[i], ids[i], MS_HASH_LEN);
	return 0;
}
