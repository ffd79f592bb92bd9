/*
 * test_node_api.c — the embedding API (node/meshsync.h) and the config
 * parser, on real data directories: init/open, put/get/del under lww, mv and
 * counter, refusing to overwrite a node, joining a network by key text,
 * the error codes' fixed values, deleted versus never-written keys, write
 * flags and what a write hands back, config errors with line numbers, and
 * key-file permission errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hlc.h"
#include "meshsync.h"
#include "ms_test.h"
#include "node_int.h"
#include "op.h"

static char *tmp;

static mode_t file_mode(const char *dir, const char *name)
{
	char *p = ms_test_pjoin(dir, name);
	struct stat st;
	ck_assert_msg(stat(p, &st) == 0, "stat %s: %s", p, strerror(errno));
	free(p);
	return st.st_mode & 07777;
}

/* Collects what ms_node_get hands out. */
typedef struct got {
	int n;
	char val[8][64];
	int deleted[8], winner[8];
	uint64_t seq[8];
} got;

static int collect(const ms_node_value *v, void *ctx)
{
	got *g = ctx;
	ck_assert_int_lt(g->n, 8);
	ck_assert_uint_lt(v->len, sizeof g->val[0]);
	memcpy(g->val[g->n], v->data, v->len);
	g->val[g->n][v->len] = '\0';
	g->deleted[g->n] = v->deleted;
	g->winner[g->n] = v->winner;
	g->seq[g->n] = v->seq;
	g->n++;
	return 0;
}

static ms_err get(ms_node *n, const char *key, unsigned flags, got *g,
                  ms_errbuf *eb)
{
	memset(g, 0, sizeof *g);
	return ms_node_get(n, key, strlen(key), flags, collect, g, eb);
}

static ms_err put(ms_node *n, const char *key, const char *val, ms_errbuf *eb)
{
	return ms_node_put(n, key, strlen(key), val, strlen(val), 0, NULL, eb);
}

START_TEST(init_open_put_get_del)
{
	char *dir = ms_test_pjoin(tmp, "deep/er/node-a");
	ms_errbuf eb = {0};
	ms_node *n = NULL;
	char id[MS_NODE_ID_HEX_LEN], net[MS_NODE_ID_HEX_LEN];
	char text[MS_NODE_NETKEY_TEXT_LEN];
	got g;

	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	ck_assert_int_eq(file_mode(dir, "."), 0700);
	ck_assert_int_eq(file_mode(dir, "identity.key"), 0600);
	ck_assert_int_eq(file_mode(dir, "network.key"), 0600);
	ck_assert_int_eq(file_mode(dir, "meshsync.conf") & 077, 0);
	(void)file_mode(dir, "data.mdb");

	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	ms_node_id_hex(n, id);
	ms_node_network_id_hex(n, net);
	ck_assert_uint_eq(strlen(id), 64);
	ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 64);
	ck_assert_uint_eq(strlen(net), 64);
	ck_assert_str_ne(id, net);
	ms_node_network_key_text(n, text);
	ck_assert_int_eq(strncmp(text, "msnet1:", 7), 0);
	ck_assert_uint_eq(strlen(text), 7 + 64 + 1);

	MS_FAIL(get(n, "greeting", 0, &g, &eb), MS_ENOTFOUND);
	MS_PASS_EB(put(n, "greeting", "hello", &eb), &eb);
	MS_PASS_EB(get(n, "greeting", 0, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.val[0], "hello");
	ck_assert_int_eq(g.winner[0], 1);
	ck_assert_uint_eq(g.seq[0], 1);

	MS_PASS_EB(ms_node_put(n, "greeting", 8, "hi again", 8,
	                       MS_NODE_PUT_BACKGROUND, NULL, &eb),
	           &eb);
	MS_PASS_EB(get(n, "greeting", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1); /* the new write names the old as parent */
	ck_assert_str_eq(g.val[0], "hi again");
	ck_assert_uint_eq(g.seq[0], 2);

	MS_PASS_EB(ms_node_del(n, "greeting", 8, 0, NULL, &eb), &eb);
	MS_FAIL(get(n, "greeting", 0, &g, &eb), MS_EDELETED);
	ck_assert_int_eq(g.n, 0);
	MS_PASS_EB(get(n, "greeting", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.deleted[0], 1);
	ck_assert_uint_eq(g.seq[0], 3);

	MS_FAIL(ms_node_put(n, "", 0, "x", 1, 0, NULL, &eb), MS_EINVAL);
	ms_node_close(&n);
	ck_assert_ptr_null(n);
	ms_node_close(&n); /* NULL is fine */

	/* Reopen: everything durable, same id. */
	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	{
		char id2[MS_NODE_ID_HEX_LEN];
		ms_node_id_hex(n, id2);
		ck_assert_str_eq(id, id2);
	}
	MS_PASS_EB(put(n, "greeting", "back", &eb), &eb);
	MS_PASS_EB(get(n, "greeting", 0, &g, &eb), &eb);
	ck_assert_str_eq(g.val[0], "back");
	ck_assert_uint_eq(g.seq[0], 4);
	ms_node_close(&n);
	free(dir);
}
END_TEST

START_TEST(init_refuses_existing_node)
{
	char *dir = ms_test_pjoin(tmp, "n");
	char *idp = ms_test_pjoin(dir, "identity.key");
	ms_errbuf eb = {0};
	char before[256] = {0}, after[256] = {0};
	FILE *f;

	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	ck_assert_ptr_nonnull(f = fopen(idp, "r"));
	ck_assert_ptr_nonnull(fgets(before, sizeof before, f));
	fclose(f);

	MS_FAIL(ms_node_init(dir, NULL, &eb), MS_EEXIST);
	ck_assert_ptr_nonnull(strstr(eb.msg, "already exists"));
	ck_assert_ptr_nonnull(f = fopen(idp, "r"));
	ck_assert_ptr_nonnull(fgets(after, sizeof after, f));
	fclose(f);
	ck_assert_str_eq(before, after);

	/* A store alone also counts as a node. */
	{
		char *d2 = ms_test_pjoin(tmp, "only-store"),
		     *p = ms_test_pjoin(d2, "data.mdb");
		ck_assert_int_eq(mkdir(d2, 0700), 0);
		ms_test_write_file(p, "x", 0600);
		MS_FAIL(ms_node_init(d2, NULL, &eb), MS_EEXIST);
		free(p);
		free(d2);
	}
	free(idp);
	free(dir);
}
END_TEST

START_TEST(init_tightens_existing_empty_dir)
{
	char *dir = ms_test_pjoin(tmp, "loose");
	ms_errbuf eb = {0};

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	ck_assert_int_eq(file_mode(dir, "."), 0700);
	free(dir);
}
END_TEST

START_TEST(open_missing_node)
{
	char *dir = ms_test_pjoin(tmp, "nothing");
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	MS_FAIL(ms_node_open(&n, dir, NULL, &eb), MS_ENOTFOUND);
	ck_assert_ptr_null(n);
	ck_assert_ptr_nonnull(strstr(eb.msg, "no such node"));
	ck_assert_ptr_nonnull(strstr(eb.msg, "meshsync-node init"));
	free(dir);
}
END_TEST

START_TEST(join_network_by_key_text)
{
	static const char *const bad[] = {
		"",
		"   \n",
		"msnet1:zz\n",
		"msnet1:0123456789abcdef\n",
		"msnet1:"
		"0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdefXX\n",
		"msid1:"
		"0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef\n",
		"a path/to/net.key",
		"-",
	};
	char *a = ms_test_pjoin(tmp, "a"), *b = ms_test_pjoin(tmp, "b"),
	     *c = ms_test_pjoin(tmp, "c");
	char text[MS_NODE_NETKEY_TEXT_LEN], padded[MS_NODE_NETKEY_TEXT_LEN + 8];
	char ida[MS_NODE_ID_HEX_LEN], idb[MS_NODE_ID_HEX_LEN];
	char neta[MS_NODE_ID_HEX_LEN], netb[MS_NODE_ID_HEX_LEN];
	char netc[MS_NODE_ID_HEX_LEN];
	ms_errbuf eb = {0};
	ms_node *na = NULL, *nb = NULL, *nc = NULL;

	MS_PASS_EB(ms_node_init(a, NULL, &eb), &eb);
	MS_PASS_EB(ms_node_open(&na, a, NULL, &eb), &eb);
	ms_node_network_key_text(na, text);

	/* The text itself, as network_key_text gives it. */
	MS_PASS_EB(ms_node_init(b, text, &eb), &eb);
	MS_PASS_EB(ms_node_open(&nb, b, NULL, &eb), &eb);
	ms_node_id_hex(na, ida);
	ms_node_id_hex(nb, idb);
	ms_node_network_id_hex(na, neta);
	ms_node_network_id_hex(nb, netb);
	ck_assert_str_eq(neta, netb);
	ck_assert_str_ne(ida, idb);

	/* Surrounding whitespace, no newline: as pasted by hand. */
	snprintf(padded, sizeof padded, "  %.*s \t", (int)strlen(text) - 1,
	         text);
	MS_PASS_EB(ms_node_init(c, padded, &eb), &eb);
	MS_PASS_EB(ms_node_open(&nc, c, NULL, &eb), &eb);
	ms_node_network_id_hex(nc, netc);
	ck_assert_str_eq(neta, netc);
	ms_node_close(&nc);

	/* Bad text (a path or "-" is text too, not a file): MS_EINVAL and
	 * nothing left behind. */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *d = ms_test_pjoin(tmp, "bad");
		ms_errbuf_clear(&eb);
		MS_FAIL(ms_node_init(d, bad[i], &eb), MS_EINVAL);
		ck_assert_int_eq(eb.code, MS_EINVAL);
		ck_assert_msg(strstr(eb.msg, "network key") != NULL,
		              "case %zu: %s", i, eb.msg);
		ck_assert_msg(access(d, F_OK) == -1, "case %zu left %s", i, d);
		free(d);
	}
	/* A bad key does not hide an existing node. */
	MS_FAIL(ms_node_init(b, "garbage", &eb), MS_EEXIST);

	ms_node_close(&na);
	ms_node_close(&nb);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* A node whose meshsync.conf (written before init) sets policies. */
static ms_node *policy_node(const char *name, const char *extra)
{
	char *dir = ms_test_pjoin(tmp, name),
	     *conf = ms_test_pjoin(dir, "meshsync.conf");
	char text[512];
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	snprintf(
		text, sizeof text,
		"[policy]\ncounter/ = counter\ndocs/ = mv ; inline comment\n%s",
		extra != NULL ? extra : "");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ms_test_write_file(conf, text, 0600);
	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	free(conf);
	free(dir);
	return n;
}

START_TEST(counter_policy)
{
	ms_node *n = policy_node("ctr", NULL);
	ms_errbuf eb = {0};
	got g;

	MS_PASS_EB(put(n, "counter/visits", "5", &eb), &eb);
	MS_PASS_EB(put(n, "counter/visits", "-3", &eb), &eb);
	MS_PASS_EB(put(n, "counter/visits", " 10\n", &eb), &eb);
	MS_PASS_EB(put(n, "counter/visits", "+1", &eb), &eb);
	MS_PASS_EB(get(n, "counter/visits", 0, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.val[0], "13");

	MS_FAIL(put(n, "counter/visits", "abc", &eb), MS_EINVAL);
	MS_FAIL(put(n, "counter/visits", "1.5", &eb), MS_EINVAL);
	MS_FAIL(put(n, "counter/visits", "99999999999999999999", &eb),
	        MS_EINVAL);
	MS_FAIL(put(n, "counter/visits", "", &eb), MS_EINVAL);
	MS_FAIL(ms_node_del(n, "counter/visits", 14, 0, NULL, &eb), MS_EINVAL);
	ck_assert_ptr_nonnull(
		strstr(eb.msg,
	               "counter keys cannot be deleted; put a negative delta"));

	/* --all shows the head's own delta. */
	MS_PASS_EB(get(n, "counter/visits", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.val[0], "1");
	MS_PASS_EB(get(n, "counter/visits", 0, &g, &eb), &eb);
	ck_assert_str_eq(g.val[0], "13");

	/* Outside the prefix values are plain bytes. */
	MS_PASS_EB(put(n, "counterx", "abc", &eb), &eb);
	ms_node_close(&n);
}
END_TEST

/* Ingest a PUT by another author with no parents, so it is concurrent with
 * whatever the node holds for key; its hlc is an hour old so the local
 * write stays the lww winner. */
static void ingest_concurrent(ms_node *n, const char *key, const char *val)
{
	ms_identity *other = NULL;
	ms_errbuf eb = {0};
	uint8_t buf[1024];
	size_t len = 0;
	ms_op op = {0};
	ms_ingest_item item;
	ms_ingest_result res;

	MS_PASS_EB(ms_identity_generate(&other, &eb), &eb);
	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(other), MS_PK_LEN);
	op.seq = 1;
	op.hlc = MS_HLC_MAKE(ms_hlc_wall_ms() - 3600 * 1000, 0);
	op.key = (const uint8_t *)key;
	op.key_len = (uint16_t)strlen(key);
	op.value = (const uint8_t *)val;
	op.value_len = (uint32_t)strlen(val);
	MS_PASS_EB(ms_op_sign_encode(&op, other, n->netid, buf, sizeof buf,
	                             &len, &eb),
	           &eb);
	item.buf = buf;
	item.len = len;
	MS_PASS_EB(ms_store_ingest(n->store, &item, 1, NULL, &res, NULL, &eb),
	           &eb);
	ck_assert_int_eq(res.status, MS_INGEST_APPLIED);
	ms_identity_free(&other);
}

START_TEST(mv_and_lww_siblings)
{
	ms_node *n = policy_node("mv", NULL);
	ms_errbuf eb = {0};
	got g;

	MS_PASS_EB(put(n, "docs/readme", "mine", &eb), &eb);
	ingest_concurrent(n, "docs/readme", "theirs");
	MS_PASS_EB(get(n, "docs/readme", 0, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.val[0], "mine"); /* newest first */
	ck_assert_str_eq(g.val[1], "theirs");

	MS_PASS_EB(put(n, "plain", "mine", &eb), &eb);
	ingest_concurrent(n, "plain", "theirs");
	MS_PASS_EB(get(n, "plain", 0, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.val[0], "mine");
	MS_PASS_EB(get(n, "plain", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 2);
	ck_assert_int_eq(g.winner[0], 1);
	ck_assert_int_eq(g.winner[1], 0);
	ck_assert_str_eq(g.val[1], "theirs");

	/* A new write names both siblings: one value again. */
	MS_PASS_EB(put(n, "docs/readme", "merged", &eb), &eb);
	MS_PASS_EB(get(n, "docs/readme", 0, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.val[0], "merged");

	/* A delete names every sibling it saw: the key is gone. */
	ingest_concurrent(n, "docs/readme", "late");
	MS_PASS_EB(ms_node_del(n, "docs/readme", 11, 0, NULL, &eb), &eb);
	MS_FAIL(get(n, "docs/readme", 0, &g, &eb), MS_EDELETED);
	ms_node_close(&n);
}
END_TEST

/* The codes' numbers are an ABI: a program built against an older header
 * compares them, so none may move.  Each has its own description. */
START_TEST(err_codes_are_fixed)
{
	static const struct {
		ms_err e;
		int value;
	} codes[] = {
		{MS_OK, 0},         {MS_ENOMEM, 1},    {MS_EINVAL, 2},
		{MS_EIO, 3},        {MS_ENOTFOUND, 4}, {MS_EEXIST, 5},
		{MS_ECORRUPT, 6},   {MS_ECRYPTO, 7},   {MS_EPROTO, 8},
		{MS_EFULL, 9},      {MS_EPERM, 10},    {MS_ESTORE, 11},
		{MS_ENET, 12},      {MS_EBUSY, 13},    {MS_EDELETED, 14},
		{MS_ECONFLICT, 15},
	};
	const size_t n = sizeof codes / sizeof codes[0];

	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq((int)codes[i].e, codes[i].value);
		ck_assert_ptr_nonnull(ms_strerror(codes[i].e));
		ck_assert_str_ne(ms_strerror(codes[i].e), "unknown error");
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(ms_strerror(codes[i].e),
			                 ms_strerror(codes[j].e));
	}
	ck_assert_str_eq(ms_strerror(MS_EDELETED), "key is deleted");
	ck_assert_str_eq(ms_strerror((ms_err)n), "unknown error");
	ck_assert_str_eq(ms_strerror((ms_err)-1), "unknown error");
}
END_TEST

static int count_calls(const ms_node_value *v, void *ctx)
{
	(void)v;
	(*(int *)ctx)++;
	return 0;
}

/* Never written and deleted are told apart by the code alone. */
START_TEST(deleted_is_not_notfound)
{
	ms_node *n = policy_node("del", NULL);
	ms_errbuf eb = {0};
	int calls = 0;
	got g;

	ms_errbuf_clear(&eb);
	MS_FAIL(ms_node_get(n, "k", 1, 0, count_calls, &calls, &eb),
	        MS_ENOTFOUND);
	ck_assert_int_eq(eb.code, MS_ENOTFOUND);
	MS_FAIL(ms_node_get(n, "k", 1, MS_NODE_GET_ALL, count_calls, &calls,
	                    &eb),
	        MS_ENOTFOUND);
	ck_assert_int_eq(calls, 0);

	MS_PASS_EB(put(n, "k", "v", &eb), &eb);
	MS_PASS_EB(ms_node_del(n, "k", 1, 0, NULL, &eb), &eb);
	ms_errbuf_clear(&eb);
	MS_FAIL(ms_node_get(n, "k", 1, 0, count_calls, &calls, &eb),
	        MS_EDELETED);
	ck_assert_int_eq(eb.code, MS_EDELETED);
	ck_assert_int_eq(calls, 0);
	/* --all still shows the tombstone, as a successful read. */
	MS_PASS_EB(get(n, "k", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.deleted[0], 1);
	ck_assert_int_eq(g.winner[0], 1);
	/* Written again: live again. */
	MS_PASS_EB(put(n, "k", "back", &eb), &eb);
	MS_PASS_EB(get(n, "k", 0, &g, &eb), &eb);
	ck_assert_str_eq(g.val[0], "back");

	/* mv: deleted once no sibling is a PUT. */
	MS_PASS_EB(put(n, "docs/a", "one", &eb), &eb);
	MS_PASS_EB(ms_node_del(n, "docs/a", 6, 0, NULL, &eb), &eb);
	MS_FAIL(get(n, "docs/a", 0, &g, &eb), MS_EDELETED);
	MS_FAIL(get(n, "docs/never", 0, &g, &eb), MS_ENOTFOUND);

	/* Misuse is MS_EINVAL, not a lookup result. */
	MS_FAIL(ms_node_get(n, "", 0, 0, count_calls, &calls, &eb), MS_EINVAL);
	MS_FAIL(ms_node_get(n, "k", 1, 0, NULL, NULL, &eb), MS_EINVAL);
	ms_node_close(&n);
}
END_TEST

/* This node's own ops, in seq order, as the store's log holds them. */
typedef struct own_log {
	int n;
	uint8_t id[8][MS_HASH_LEN];
	uint8_t rehash[8][MS_HASH_LEN]; /* BLAKE2b-256 of the stored encoding */
	uint64_t seq[8], hlc[8];
	ms_prio prio[8];
	ms_op_type type[8];
} own_log;

static int collect_log(const ms_log_entry *e, void *ctx)
{
	own_log *l = ctx;

	ck_assert_int_lt(l->n, 8);
	memcpy(l->id[l->n], e->id, MS_HASH_LEN);
	ms_op_id(l->rehash[l->n], e->buf, e->len);
	l->seq[l->n] = e->op.seq;
	l->hlc[l->n] = e->op.hlc;
	l->prio[l->n] = e->op.priority;
	l->type[l->n] = e->op.type;
	l->n++;
	return 0;
}

static void read_own_log(ms_node *n, own_log *l)
{
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};

	memset(l, 0, sizeof *l);
	MS_PASS_EB(ms_store_read_begin(n->store, &rt, &eb), &eb);
	MS_PASS_EB(ms_store_foreach_log(rt, ms_node_id(n), 0, collect_log, l,
	                                &eb),
	           &eb);
	ms_store_read_end(&rt);
}

/* Unknown flag bits are refused before anything is written; the one known
 * bit reaches the op. */
START_TEST(write_flags)
{
	static const unsigned bad[] = {1u << 1, 1u << 7, 1u << 31, ~0u,
	                               MS_NODE_PUT_BACKGROUND | 1u << 2};
	ms_node *n = policy_node("flags", NULL);
	ms_node_write_result r;
	ms_errbuf eb = {0};
	own_log l;
	int calls = 0;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ms_errbuf_clear(&eb);
		MS_FAIL(ms_node_put(n, "k", 1, "v", 1, bad[i], NULL, &eb),
		        MS_EINVAL);
		ck_assert_int_eq(eb.code, MS_EINVAL);
		ck_assert_msg(strstr(eb.msg, "unknown flags") != NULL, "%s",
		              eb.msg);
		MS_FAIL(ms_node_del(n, "k", 1, bad[i], NULL, &eb), MS_EINVAL);
		ck_assert_msg(strstr(eb.msg, "unknown flags") != NULL, "%s",
		              eb.msg);
		if (bad[i] != (MS_NODE_PUT_BACKGROUND | 1u << 2)) {
			MS_FAIL(ms_node_get(n, "k", 1, bad[i], count_calls,
			                    &calls, &eb),
			        MS_EINVAL);
			ck_assert_msg(strstr(eb.msg, "unknown flags") != NULL,
			              "%s", eb.msg);
		}
	}
	read_own_log(n, &l);
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(calls, 0);

	MS_PASS_EB(ms_node_put(n, "k", 1, "v", 1, 0, &r, &eb), &eb);
	ck_assert_uint_eq(r.seq, 1);
	MS_PASS_EB(ms_node_put(n, "k", 1, "w", 1, MS_NODE_PUT_BACKGROUND, NULL,
	                       &eb),
	           &eb);
	MS_PASS_EB(ms_node_del(n, "k", 1, MS_NODE_PUT_BACKGROUND, NULL, &eb),
	           &eb);
	MS_PASS_EB(ms_node_del(n, "k", 1, 0, NULL, &eb), &eb);
	read_own_log(n, &l);
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_eq(l.prio[0], MS_PRIO_USER);
	ck_assert_int_eq(l.prio[1], MS_PRIO_BACKGROUND);
	ck_assert_int_eq(l.prio[2], MS_PRIO_BACKGROUND);
	ck_assert_int_eq(l.prio[3], MS_PRIO_USER);
	ck_assert_int_eq(l.type[1], MS_OP_PUT);
	ck_assert_int_eq(l.type[2], MS_OP_DEL);
	ms_node_close(&n);
}
END_TEST

/* A write hands back the id, seq and hlc the store holds for its op. */
START_TEST(write_result_names_the_op)
{
	ms_node *n = policy_node("res", NULL);
	ms_node_write_result r[5], untouched;
	uint8_t fill[sizeof untouched];
	ms_errbuf eb = {0};
	own_log l;
	got g;

	MS_PASS_EB(ms_node_put(n, "a", 1, "1", 1, 0, &r[0], &eb), &eb);
	MS_PASS_EB(ms_node_put(n, "counter/c", 9, "7", 1, 0, &r[1], &eb), &eb);
	MS_PASS_EB(ms_node_del(n, "a", 1, 0, &r[2], &eb), &eb);
	MS_PASS_EB(ms_node_put(n, "b", 1, "2", 1, 0, NULL, &eb),
	           &eb); /* NULL ok */
	MS_PASS_EB(ms_node_put(n, "b", 1, "3", 1, MS_NODE_PUT_BACKGROUND, &r[4],
	                       &eb),
	           &eb);
	ck_assert_uint_eq(r[0].seq, 1);
	ck_assert_uint_eq(r[1].seq, 2);
	ck_assert_uint_eq(r[2].seq, 3);
	ck_assert_uint_eq(r[4].seq, 5);
	ck_assert_uint_gt(r[1].hlc, r[0].hlc);
	ck_assert_uint_gt(r[2].hlc, r[1].hlc);
	ck_assert_uint_gt(r[4].hlc, r[2].hlc);

	read_own_log(n, &l);
	ck_assert_int_eq(l.n, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(l.seq[i], (uint64_t)i + 1);
		/* the log's id is the hash of what it stores */
		ck_assert_mem_eq(l.id[i], l.rehash[i], MS_HASH_LEN);
		if (i == 3)
			continue;
		ck_assert_mem_eq(r[i].id, l.id[i], MS_NODE_OP_ID_LEN);
		ck_assert_uint_eq(r[i].hlc, l.hlc[i]);
	}
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < i; j++)
			ck_assert_mem_ne(l.id[i], l.id[j], MS_HASH_LEN);

	/* What a read reports about the head is the same op. */
	MS_PASS_EB(get(n, "b", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.seq[0], r[4].seq);

	/* A failing write leaves res as it was and allocates no seq. */
	memset(&untouched, 0xa5, sizeof untouched);
	memcpy(fill, &untouched, sizeof fill);
	MS_FAIL(ms_node_put(n, "", 0, "x", 1, 0, &untouched, &eb), MS_EINVAL);
	MS_FAIL(ms_node_put(n, "counter/c", 9, "x", 1, 0, &untouched, &eb),
	        MS_EINVAL);
	MS_FAIL(ms_node_del(n, "counter/c", 9, 0, &untouched, &eb), MS_EINVAL);
	MS_FAIL(ms_node_put(n, "k", 1, "v", 1, 2u, &untouched, &eb), MS_EINVAL);
	ck_assert_mem_eq(&untouched, fill, sizeof fill);
	MS_PASS_EB(ms_node_put(n, "c", 1, "4", 1, 0, &r[0], &eb), &eb);
	ck_assert_uint_eq(r[0].seq, 6);
	ms_node_close(&n);
}
END_TEST

/* ms_node_write_batch: counter text, deletes and repeated keys land as
 * the same writes one by one would; a bad write refuses the batch, naming
 * its index, with nothing stored and res untouched. */
START_TEST(write_batch)
{
	ms_node *n = policy_node("batch", NULL);
	ms_node_write w[6] = {
		{"a", 1, "1", 1, 0},  {"counter/c", 9, " 7\n", 3, 0},
		{"a", 1, NULL, 0, 1}, {"counter/c", 9, "-2", 2, 0},
		{"b", 1, "x", 1, 0},  {"b", 1, "y", 1, 0},
	};
	ms_node_write_result r[6], untouched[6];
	uint8_t fill[sizeof untouched];
	ms_errbuf eb = {0};
	own_log l;
	got g;

	MS_PASS_EB(ms_node_write_batch(n, w, 6, 0, r, &eb), &eb);
	for (int i = 0; i < 6; i++) {
		ck_assert_uint_eq(r[i].seq, (uint64_t)i + 1);
		if (i > 0)
			ck_assert_uint_gt(r[i].hlc, r[i - 1].hlc);
	}
	read_own_log(n, &l);
	ck_assert_int_eq(l.n, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_mem_eq(r[i].id, l.id[i], MS_NODE_OP_ID_LEN);
	MS_FAIL(get(n, "a", 0, &g, &eb), MS_EDELETED);
	MS_PASS_EB(get(n, "counter/c", 0, &g, &eb), &eb);
	ck_assert_str_eq(g.val[0], "5");
	MS_PASS_EB(get(n, "b", MS_NODE_GET_ALL, &g, &eb), &eb);
	ck_assert_int_eq(g.n, 1); /* the second write named the first */
	ck_assert_str_eq(g.val[0], "y");

	memset(untouched, 0xa5, sizeof untouched);
	memcpy(fill, untouched, sizeof fill);
	w[4].vlen = 0;
	w[4].value = NULL;
	w[3].value = "lots";
	w[3].vlen = 4;
	MS_FAIL(ms_node_write_batch(n, w, 6, 0, untouched, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "write 3") != NULL &&
	                      strstr(eb.msg, "decimal") != NULL,
	              "%s", eb.msg);
	w[3].value = "1";
	w[3].vlen = 1;
	w[1].del = 1;
	MS_FAIL(ms_node_write_batch(n, w, 6, 0, untouched, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "write 1") != NULL, "%s", eb.msg);
	w[1].del = 0;
	w[5].klen = 0;
	MS_FAIL(ms_node_write_batch(n, w, 6, 0, untouched, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "write 5") != NULL, "%s", eb.msg);
	MS_FAIL(ms_node_write_batch(n, w, 0, 0, untouched, &eb), MS_EINVAL);
	MS_FAIL(ms_node_write_batch(n, w, 1, 4u, untouched, &eb), MS_EINVAL);
	ck_assert_mem_eq(untouched, fill, sizeof fill);
	read_own_log(n, &l);
	ck_assert_int_eq(l.n, 6); /* nothing of the refused batches */
	w[5].klen = 1;
	MS_PASS_EB(ms_node_write_batch(n, w + 4, 2, MS_NODE_PUT_BACKGROUND, r,
	                               &eb),
	           &eb);
	ck_assert_uint_eq(r[0].seq, 7);
	ck_assert_uint_eq(r[1].seq, 8);
	ms_node_close(&n);
}
END_TEST

START_TEST(config_values)
{
	char *conf = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};
	uint64_t v;

	ms_test_write_file(
		conf,
		"# comment\n; also a comment\n\n[store]\nmap_initial = 1M\n"
		"map_max = 8M\nmax_value = 2K\nmax_clock_skew = 30m\n"
		"[policy]\n* = mv\nc/ = counter\n",
		0600);
	ms_config_default(&c);
	MS_PASS_EB(ms_config_load(&c, conf, &eb), &eb);
	ck_assert_uint_eq(c.store.map_initial, 1u << 20);
	ck_assert_uint_eq(c.store.map_max, 8u << 20);
	ck_assert_uint_eq(c.store.max_value, 2048);
	ck_assert_uint_eq(c.store.max_clock_skew_ms, 30u * 60 * 1000);
	ck_assert_uint_eq(c.nrules, 2);
	ck_assert_uint_eq(c.store.npolicies, 2);
	ck_assert_ptr_eq(c.store.policies, c.rules);
	ck_assert_str_eq(c.rules[0].prefix, "");
	ck_assert_int_eq(c.rules[0].policy, MS_POLICY_MV);
	ck_assert_str_eq(c.rules[1].prefix, "c/");
	ck_assert_int_eq(c.rules[1].policy, MS_POLICY_COUNTER);

	ck_assert_int_eq(ms_config_parse_size("16M", &v), 0);
	ck_assert_uint_eq(v, 16u << 20);
	ck_assert_int_eq(ms_config_parse_size("4g", &v), 0);
	ck_assert_uint_eq(v, 4ull << 30);
	ck_assert_int_eq(ms_config_parse_size("100", &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(ms_config_parse_size("", &v), -1);
	ck_assert_int_eq(ms_config_parse_size("1X", &v), -1);
	ck_assert_int_eq(ms_config_parse_size("-1", &v), -1);
	ck_assert_int_eq(ms_config_parse_size("99999999999999999999", &v), -1);
	ck_assert_int_eq(ms_config_parse_size("17179869184G", &v), -1);
	ck_assert_int_eq(ms_config_parse_duration_ms("90", &v), 0);
	ck_assert_uint_eq(v, 90000);
	ck_assert_int_eq(ms_config_parse_duration_ms("2h", &v), 0);
	ck_assert_uint_eq(v, 7200000);
	ck_assert_int_eq(ms_config_parse_duration_ms("1d", &v), -1);

	/* Defaults when nothing is set. */
	ms_config_default(&c);
	ck_assert_uint_eq(c.store.map_initial, 16u << 20);
	ck_assert_uint_eq(c.store.map_max, 4ull << 30);
	ck_assert_uint_eq(c.store.max_value, 1u << 20);
	ck_assert_uint_eq(c.store.max_clock_skew_ms, 3600u * 1000);
	ck_assert_uint_eq(c.nrules, 0);
	free(conf);
}
END_TEST

/* Each bad file, the line reported and the text after "meshsync.conf:". */
static const struct {
	const char *text;
	const char *want;
} bad_confs[] = {
	{"[store]\nmap_max = 8M\nx = 1\n",
         "meshsync.conf:3: unknown key 'x' in [store]"},
	{"\n[nosuch]\na = b\n", "meshsync.conf:3: unknown section [nosuch]"},
	{"a = b\n", "meshsync.conf:1: key 'a' outside any section"},
	{"[store]\nmap_max = lots\n",
         "meshsync.conf:2: bad value 'lots' for map_max"},
	{"[store]\nmax_value = 0\n",
         "meshsync.conf:2: bad value '0' for max_value"},
	{"[store]\nmax_clock_skew = 1d\n",
         "meshsync.conf:2: bad value '1d' for max_clock_skew"},
	{"[policy]\np/ = lww\np/ = mv\n",
         "meshsync.conf:3: duplicate policy for prefix 'p/'"},
	{"[policy]\n\n\np/ = fancy\n", "meshsync.conf:4: bad policy 'fancy'"},
	{"[store]\njust words\n", "meshsync.conf:2: syntax error"},
	{"[store\n", "meshsync.conf:1: syntax error"},
	{"[store]\nmap_initial = 64M\nmap_max = 32M\n",
         "map_initial (67108864) is larger than map_max"},
};

START_TEST(config_errors_name_the_line)
{
	char *conf = ms_test_pjoin(tmp, "meshsync.conf");
	ms_config c;
	ms_errbuf eb = {0};

	ms_test_write_file(conf, bad_confs[_i].text, 0600);
	ms_config_default(&c);
	MS_FAIL(ms_config_load(&c, conf, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, bad_confs[_i].want) != NULL,
	              "case %d: got '%s', want '%s'", _i, eb.msg,
	              bad_confs[_i].want);
	free(conf);
}
END_TEST

START_TEST(open_reports_config_error)
{
	char *dir = ms_test_pjoin(tmp, "n"), *conf = NULL;
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	conf = ms_test_pjoin(dir, "meshsync.conf");
	ms_test_write_file(conf, "[store]\nmap_max = 8M\nx = 1\n", 0600);
	MS_FAIL(ms_node_open(&n, dir, NULL, &eb), MS_EINVAL);
	ck_assert_ptr_null(n);
	ck_assert_ptr_nonnull(
		strstr(eb.msg, "meshsync.conf:3: unknown key 'x' in [store]"));

	/* An explicit config path overrides DIR/meshsync.conf. */
	{
		char *alt = ms_test_pjoin(tmp, "alt.conf");
		got g;
		ms_test_write_file(alt, "[store]\nmax_value = 4\n", 0600);
		MS_PASS_EB(ms_node_open(&n, dir, alt, &eb), &eb);
		MS_FAIL(put(n, "k", "12345", &eb), MS_EINVAL);
		MS_PASS_EB(put(n, "k", "1234", &eb), &eb);
		MS_PASS_EB(get(n, "k", 0, &g, &eb), &eb);
		ck_assert_str_eq(g.val[0], "1234");
		ms_node_close(&n);
		free(alt);
	}
	free(conf);
	free(dir);
}
END_TEST

START_TEST(key_file_readable_by_others_is_refused)
{
	char *dir = ms_test_pjoin(tmp, "n");
	char *idp = ms_test_pjoin(dir, "identity.key");
	ms_errbuf eb = {0};
	ms_node *n = NULL;

	MS_PASS_EB(ms_node_init(dir, NULL, &eb), &eb);
	ck_assert_int_eq(chmod(idp, 0644), 0);
	MS_FAIL(ms_node_open(&n, dir, NULL, &eb), MS_EPERM);
	ck_assert_ptr_null(n);
	ck_assert_ptr_nonnull(strstr(eb.msg, "identity.key"));
	ck_assert_int_eq(chmod(idp, 0600), 0);
	MS_PASS_EB(ms_node_open(&n, dir, NULL, &eb), &eb);
	ms_node_close(&n);
	free(idp);
	free(dir);
}
END_TEST

static Suite *node_suite(void)
{
	Suite *s = suite_create("node_api");
	TCase *tc = tcase_create("node");

	ms_test_tcase_tmpdir(tc, &tmp, "node");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, init_open_put_get_del);
	tcase_add_test(tc, init_refuses_existing_node);
	tcase_add_test(tc, init_tightens_existing_empty_dir);
	tcase_add_test(tc, open_missing_node);
	tcase_add_test(tc, join_network_by_key_text);
	tcase_add_test(tc, counter_policy);
	tcase_add_test(tc, mv_and_lww_siblings);
	tcase_add_test(tc, err_codes_are_fixed);
	tcase_add_test(tc, deleted_is_not_notfound);
	tcase_add_test(tc, write_flags);
	tcase_add_test(tc, write_result_names_the_op);
	tcase_add_test(tc, write_batch);
	tcase_add_test(tc, config_values);
	tcase_add_loop_test(tc, config_errors_name_the_line, 0,
	                    (int)(sizeof bad_confs / sizeof bad_confs[0]));
	tcase_add_test(tc, open_reports_config_error);
	tcase_add_test(tc, key_file_readable_by_others_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(node_suite());
}
