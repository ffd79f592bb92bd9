/*
 * test_node_api_alloc.c — the embedding API under allocation failure
 * (tests/ms_alloc.h): open a node, write, take in a foreign sibling, scan
 * (past the scan's first value array), read and resolve the siblings, read
 * the changes feed, make the watch descriptor, read the status and the
 * peer records, failing the n-th allocation for every n.  Each run must
 * end with MS_OK or the failing call's MS_ENOMEM, never a crash or a
 * leak, and the node must open and verify afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "meshsync.h"
#include "ms_alloc.h"
#include "ms_test.h"
#include "node_int.h"
#include "op.h"
#include "peers.h"

#define SIBLINGS 10 /* more than the scan's first value array (8) */

#define TRY(call)                          \
	do {                               \
		if ((e = (call)) != MS_OK) \
			goto out;          \
	} while (0)

/* SIBLINGS concurrent PUTs of key by identities of the test's own,
 * encoded (unarmed: the test's setup). */
typedef struct foreign {
	uint8_t buf[SIBLINGS][512];
	ms_ingest_item items[SIBLINGS];
} foreign;

static void make_foreign(foreign *f, const uint8_t netid[MS_NETID_LEN],
                         const char *key)
{
	for (int i = 0; i < SIBLINGS; i++) {
		ms_identity *id = ms_test_identity((uint8_t)(0x90 + i));
		ms_op op = {0};
		size_t len = 0;
		char val[16];

		snprintf(val, sizeof val, "theirs %d", i);
		op.type = MS_OP_PUT;
		op.priority = MS_PRIO_USER;
		memcpy(op.author, ms_identity_pk(id), MS_PK_LEN);
		op.seq = 1;
		op.hlc = MS_HLC_MAKE(ms_hlc_wall_ms() - 3600 * 1000, i);
		op.key = (const uint8_t *)key;
		op.key_len = (uint16_t)strlen(key);
		op.value = (const uint8_t *)val;
		op.value_len = (uint32_t)strlen(val);
		if (ms_op_sign_encode(&op, id, netid, f->buf[i],
		                      sizeof f->buf[i], &len, NULL) != MS_OK)
			abort();
		f->items[i] = (ms_ingest_item){f->buf[i], len};
		ms_identity_free(&id);
	}
}

typedef struct seen {
	size_t entries, values, changes, peers;
	uint8_t ids[SIBLINGS + 1][MS_NODE_OP_ID_LEN];
	size_t nids;
} seen;

static int on_entry(const ms_node_entry *e, void *ctx)
{
	seen *s = ctx;

	s->entries++;
	s->values += e->nvalues;
	return 0;
}

static int on_value(const ms_node_value *v, void *ctx)
{
	seen *s = ctx;

	if (s->nids <= SIBLINGS && v->id != NULL)
		memcpy(s->ids[s->nids++], v->id, MS_NODE_OP_ID_LEN);
	return 0;
}

static int on_change(const ms_node_change *c, void *ctx)
{
	(void)c;
	((seen *)ctx)->changes++;
	return 0;
}

static int on_peer(const ms_node_peer *p, void *ctx)
{
	(void)p;
	((seen *)ctx)->peers++;
	return 0;
}

static void api_check(const ms_alloc_ctx *ac)
{
	ms_node *n = NULL;
	ms_errbuf eb = {0};
	uint64_t faults = 0;

	/* a failed init leaves no node behind; else it opens and verifies */
	if (!ms_test_exists(ac->dir))
		return;
	{
		char *id = ms_test_pjoin(ac->dir, "identity.key");
		int has = ms_test_exists(id);
		free(id);
		if (!has)
			return;
	}
	MS_PASS_EB(ms_node_open(&n, ac->dir, NULL, &eb), &eb);
	MS_PASS_EB(ms_store_verify(n->store, NULL, NULL, &faults, &eb), &eb);
	ck_assert_uint_eq(faults, 0);
	ms_node_close(&n);
}

ALLOC_SCENARIO_CHECKED(node_api, api_check)
{
	static foreign f;
	ms_errbuf *eb = &ac->eb;
	ms_node *n = NULL;
	ms_node_status st;
	ms_peer_rec p;
	seen s;
	uint64_t next = 0;
	int fd = -1;
	ms_err e;

	memset(&s, 0, sizeof s);
	memset(&p, 0, sizeof p);
	TRY(ms_node_init(ac->dir, NULL, eb));
	ms_alloc_mark(ac);
	TRY(ms_node_open(&n, ac->dir, NULL, eb));
	ms_alloc_pause();
	make_foreign(&f, n->netid, "k");
	ms_alloc_resume();
	TRY(ms_node_put(n, "k", 1, "mine", 4, 0, NULL, eb));
	ms_alloc_mark(ac);
	TRY(ms_store_ingest(n->store, f.items, SIBLINGS, NULL, NULL, NULL, eb));
	ms_alloc_mark(ac);
	TRY(ms_node_put(n, "other", 5, "v", 1, MS_NODE_PUT_BACKGROUND, NULL,
	                eb));
	ms_alloc_mark(ac);

	TRY(ms_node_scan(n, NULL, 0, NULL, 0, MS_NODE_GET_ALL, on_entry, &s,
	                 eb));
	ALLOC_EXPECT(s.entries == 2 && s.values == SIBLINGS + 2);
	TRY(ms_node_get(n, "k", 1, MS_NODE_GET_ALL, on_value, &s, eb));
	ALLOC_EXPECT(s.nids == SIBLINGS + 1);
	TRY(ms_node_resolve(n, "k", 1, "merged", 6,
	                    (const uint8_t(*)[MS_NODE_OP_ID_LEN])s.ids, s.nids,
	                    0, NULL, eb));
	ms_alloc_mark(ac);
	TRY(ms_node_changes(n, 0, 0, on_change, &s, &next, eb));
	ALLOC_EXPECT(s.changes == SIBLINGS + 3 && next == SIBLINGS + 3);
	TRY(ms_node_watch_fd(n, &fd, eb));
	TRY(ms_node_changes(n, next, 0, on_change, &s, &next, eb));

	p.has_id = 1;
	memcpy(p.id, f.items[0].buf + 1, MS_PK_LEN); /* any 32 bytes */
	p.naddrs = 1;
	snprintf(p.addrs[0], sizeof p.addrs[0], "tcp://127.0.0.1:7701");
	TRY(ms_store_peer_put(n->store, &p, eb));
	ms_alloc_mark(ac);
	TRY(ms_node_status_get(n, &st, eb));
	ALLOC_EXPECT(st.ops == SIBLINGS + 3 && st.peers == 1);
	TRY(ms_node_peers(n, on_peer, &s, eb));
	ALLOC_EXPECT(s.peers == 1);
out:
	ms_node_close(&n);
	return e;
}

int main(void)
{
	Suite *su = suite_create("node_api_alloc");
	TCase *tc = tcase_create("alloc");

	tcase_set_timeout(tc, ms_alloc_tcase_timeout);
	tcase_add_test(tc, alloc_node_api);
	suite_add_tcase(su, tc);
	return ms_test_run(su);
}
