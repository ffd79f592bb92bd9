/*
 * session_world.c — fuzz_session's world, shared with gen_corpus
 * (session_world.h).
 */
#include "session_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrival.h"
#include "crypto.h"
#include "fuzz_check.h"
#include "hlc.h"
#include "op.h"

const uint8_t sw_netid[MS_NETID_LEN] = {'m', 's', '-', 'f', 'u', 'z', 'z', '-',
                                        'n', 'e', 't', 0,   1,   2,   3,   4,
                                        5,   6,   7,   8,   9,   10,  11,  12,
                                        13,  14,  15,  16,  17,  18,  19,  20};

ms_identity *sw_identity(uint8_t fill)
{
	uint8_t seed[MS_SEED_LEN];
	ms_identity *id = NULL;

	memset(seed, fill, sizeof seed);
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	FZ_CHECK(ms_identity_from_seed(&id, seed, NULL) == MS_OK);
	return id;
}

void sw_op(uint8_t **buf, size_t *len, const ms_identity *who, uint64_t seq,
           uint64_t hlc, const char *key, const char *value)
{
	ms_op op;
	size_t cap;

	memset(&op, 0, sizeof op);
	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(who), MS_PK_LEN);
	op.seq = seq;
	op.hlc = hlc;
	op.key_len = (uint16_t)strlen(key);
	op.key = (const uint8_t *)key;
	op.value_len = (uint32_t)strlen(value);
	op.value = (const uint8_t *)value;
	cap = ms_op_encoded_len(&op);
	*buf = malloc(cap);
	FZ_CHECK(*buf != NULL);
	FZ_CHECK(ms_op_sign_encode(&op, who, sw_netid, *buf, cap, len, NULL) ==
	         MS_OK);
}

void sw_ingest(ms_store *s, const uint8_t *buf, size_t len)
{
	ms_ingest_item it = {buf, len};
	ms_ingest_result res;
	ms_errbuf eb;

	if (ms_store_ingest(s, &it, 1, NULL, &res, NULL, &eb) != MS_OK) {
		fprintf(stderr, "session_world: ingest: %s\n", eb.msg);
		abort();
	}
	FZ_CHECK(res.status == MS_INGEST_APPLIED);
}

static uint64_t sw_wall(void *ctx)
{
	return *(const uint64_t *)ctx;
}

void sw_store_opts(ms_store_opts *o, uint64_t *wall_ms)
{
	ms_store_opts_default(o);
	o->verify_threads = 1;
	o->wall_ms = sw_wall;
	o->wall_ctx = wall_ms;
}

void sw_make_self(const char *dir, uint64_t *wall_ms)
{
	static const char *const mine[][2] = {{"greeting", "hello"},
	                                      {"list/1", "one"},
	                                      {"counter", "7"}};
	ms_identity *self = sw_identity(SW_SELF);
	ms_identity *third = sw_identity(SW_THIRD);
	ms_store_opts o;
	ms_store *s = NULL;
	ms_errbuf eb;
	uint8_t *buf;
	size_t len;

	sw_store_opts(&o, wall_ms);
	if (ms_store_create(dir, ms_identity_pk(self), sw_netid, &o, &eb) !=
	            MS_OK ||
	    ms_store_open(&s, dir, &o, &eb) != MS_OK) {
		fprintf(stderr, "session_world: store %s: %s\n", dir, eb.msg);
		abort();
	}
	for (size_t i = 0; i < 3; i++) {
		*wall_ms += 10;
		FZ_CHECK(ms_store_append(s, self, MS_OP_PUT,
		                         i == 1 ? MS_PRIO_BACKGROUND
		                                : MS_PRIO_USER,
		                         (const uint8_t *)mine[i][0],
		                         strlen(mine[i][0]),
		                         (const uint8_t *)mine[i][1],
		                         strlen(mine[i][1]), NULL,
		                         NULL) == MS_OK);
	}
	sw_op(&buf, &len, third, 1, MS_HLC_MAKE(SW_WALL0 - 5000, 0), "third/a",
	      "1");
	sw_ingest(s, buf, len);
	free(buf);
	sw_op(&buf, &len, third, 2, MS_HLC_MAKE(SW_WALL0 - 4000, 0), "third/b",
	      "self's");
	sw_ingest(s, buf, len);
	free(buf);
	ms_store_close(&s);
	ms_identity_free(&third);
	ms_identity_free(&self);
}

void sw_params(ms_session_params *p, unsigned flags)
{
	ms_session_params_default(p);
	/* announced in HELLO; the wildcard is skipped */
	snprintf(p->endpoints[0], sizeof p->endpoints[0], "%s",
	         "tcp://0.0.0.0:7700");
	snprintf(p->endpoints[1], sizeof p->endpoints[1], "%s",
	         "tcp://10.0.0.1:7700");
	p->nendpoints = 2;
	if (flags & SW_F_TIGHT) {
		p->vv_entries = 1;
		p->hello_timeout_ms = 100;
		p->vv_timeout_ms = 100;
		p->idle_timeout_ms = 100;
		p->memory = 64u << 10;
		p->memory_total = 96u << 10;
	}
	if (flags & SW_F_SMALL) {
		p->batch_ops = 2;
		p->credit = 3;
		p->lacking_window = 2;
	}
}

uint64_t sw_step_ms(uint8_t dt)
{
	return dt < 128 ? dt : (uint64_t)(dt - 127) * 1000;
}

ms_err sw_local_write(ms_store *st, const ms_identity *id, ms_session *s,
                      unsigned n, ms_errbuf *eb)
{
	ms_store_rtxn *rt = NULL;
	char key[32], value[32];
	uint64_t head;
	ms_err e;

	if ((e = ms_store_read_begin(st, &rt, eb)) != MS_OK)
		return e;
	head = ms_store_arrival_head(rt);
	ms_store_read_end(&rt);
	snprintf(key, sizeof key, "local/%u", n);
	snprintf(value, sizeof value, "value %u", n);
	if ((e = ms_store_append(st, id, MS_OP_PUT,
	                         n % 2 ? MS_PRIO_BACKGROUND : MS_PRIO_USER,
	                         (const uint8_t *)key, strlen(key),
	                         (const uint8_t *)value, strlen(value), NULL,
	                         eb)) != MS_OK)
		return e;
	if ((e = ms_store_read_begin(st, &rt, eb)) != MS_OK)
		return e;
	e = ms_session_offer_since(s, rt, head, eb);
	ms_store_read_end(&rt);
	return e;
}
