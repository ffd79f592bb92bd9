/*
 * gen_corpus.c — writes the seed corpora of fuzz_op (valid op encodings of
 * different shapes) and fuzz_wire (one valid message of each type and
 * shape, in the current MS_WIRE_VERSION).  Run by hand when a format
 * changes; its output is checked in under tests/fuzz/corpus/:
 *     gen_corpus tests/fuzz/corpus/op tests/fuzz/corpus/wire
 * Deterministic (fixed seed, Ed25519 is deterministic), so re-running it
 * reproduces the same files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hlc.h"
#include "op.h"
#include "wire.h"

static int write_seed(const char *dir, const char *name, const uint8_t *buf,
                      size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static ms_wire_bytes str(const char *s)
{
	return (ms_wire_bytes){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* Encode m and write it as dir/name. */
static int write_msg(const char *dir, const char *name, const ms_wire_msg *m)
{
	static uint8_t buf[1 << 17];
	ms_errbuf eb;
	size_t len = 0;

	if (ms_wire_encode(m, buf, sizeof buf, &len, &eb) != MS_OK) {
		fprintf(stderr, "gen_corpus: %s: %s\n", name, eb.msg);
		return -1;
	}
	return write_seed(dir, name, buf, len);
}

/* The wire corpus: the shapes the decoder has branches for. */
static int gen_wire(const char *dir)
{
	static ms_wire_vv_entry vv[3];
	static ms_wire_ack_entry ack[2];
	ms_wire_bytes ops[2] = {str("abc"), str("z")};
	ms_wire_msg m;
	int rc = 0;

	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_HELLO;
	for (int i = 0; i < MS_PK_LEN; i++) {
		m.u.hello.node_id[i] = (uint8_t)i;
		m.u.hello.vv_digest[i] = (uint8_t)(0x40 + i);
	}
	m.u.hello.op_count = 12345;
	m.u.hello.n_endpoints = 2;
	m.u.hello.endpoints[0] = str("tcp://10.0.0.7:7400");
	m.u.hello.endpoints[1] = str("tcp://[fd00::1]:7400");
	rc |= write_msg(dir, "hello-dialer", &m);
	memset(m.u.hello.vv_digest, 0, MS_HASH_LEN);
	m.u.hello.op_count = 0;
	m.u.hello.flags = MS_WIRE_HELLO_LISTENER;
	m.u.hello.has_proof = 1;
	for (int i = 0; i < MS_SIG_LEN; i++)
		m.u.hello.proof[i] = (uint8_t)(0x64 + i);
	m.u.hello.n_endpoints = 1;
	m.u.hello.endpoints[0] = str("tcp://127.0.0.1:7701");
	rc |= write_msg(dir, "hello-listener", &m);

	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_VV;
	for (int i = 0; i < 3; i++) {
		memset(vv[i].author, 0x10 * (i + 1), MS_PK_LEN);
		vv[i].seq = 10u * (uint64_t)(i + 1);
		vv[i].held = vv[i].seq + 1;
		memset(vv[i].acc, i + 1, MS_WIRE_ACC_LEN);
	}
	m.u.vv.flags = MS_WIRE_VV_LAST;
	m.u.vv.n = 3;
	m.u.vv.entries = vv;
	rc |= write_msg(dir, "vv-3", &m);
	m.u.vv.n = 0;
	rc |= write_msg(dir, "vv-empty-last", &m);
	memset(vv, 0, sizeof vv);
	memset(vv[0].author, 0x07, MS_PK_LEN);
	vv[0].seq = vv[0].held = 5;
	m.u.vv.flags = 0;
	m.u.vv.n = 1;
	rc |= write_msg(dir, "vv-more", &m);

	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_OPS;
	m.u.ops.batch = 9;
	m.u.ops.n = 2;
	m.u.ops.ops = ops;
	rc |= write_msg(dir, "ops-2", &m);
	m.u.ops.batch = 10;
	m.u.ops.n = 0;
	rc |= write_msg(dir, "ops-empty", &m);

	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_ACK;
	memset(ack[0].author, 0x01, MS_PK_LEN);
	ack[0].seq = 4;
	memset(ack[1].author, 0x02, MS_PK_LEN);
	ack[1].seq = 8;
	m.u.ack.batch = 9;
	m.u.ack.credit = 256;
	m.u.ack.n = 2;
	m.u.ack.entries = ack;
	rc |= write_msg(dir, "ack-2", &m);

	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_BYE;
	rc |= write_msg(dir, "bye-normal", &m);
	m.u.bye.reason = MS_BYE_VERSION;
	m.u.bye.text = str("protocol version 2 only");
	rc |= write_msg(dir, "bye-version", &m);

	memset(&m, 0, sizeof m);
	m.type = MS_WIRE_PEERS;
	m.u.peers.n = 2;
	memset(m.u.peers.peers[0].node_id, 0x33, MS_PK_LEN);
	m.u.peers.peers[0].last_seen_ms = 1764000000000ull;
	m.u.peers.peers[0].n_endpoints = 1;
	m.u.peers.peers[0].endpoints[0] = str("tcp://10.0.0.9:7400");
	memset(m.u.peers.peers[1].node_id, 0x66, MS_PK_LEN);
	m.u.peers.peers[1].last_seen_ms = 5;
	rc |= write_msg(dir, "peers-2", &m);
	return rc;
}

int main(int argc, char **argv)
{
	static uint8_t parents[MS_OP_MAX_PARENTS][MS_HASH_LEN];
	static uint8_t value[600];
	static uint8_t buf[1 << 16];
	struct {
		const char *name;
		uint8_t type, prio, nparents;
		const char *key;
		uint32_t vlen;
	} shapes[] = {
		{"put-simple", MS_OP_PUT, MS_PRIO_USER, 0, "greeting", 5},
		{"put-parents", MS_OP_PUT, MS_PRIO_USER, 2, "greeting", 5},
		{"put-empty", MS_OP_PUT, MS_PRIO_BACKGROUND, 1, "k", 0},
		{"del", MS_OP_DEL, MS_PRIO_USER, 3, "some/key", 0},
		{"put-big", MS_OP_PUT, MS_PRIO_BACKGROUND, 8, "bulk/data/0001",
	         600},
		{"put-maxparents", MS_OP_PUT, MS_PRIO_USER, MS_OP_MAX_PARENTS,
	         "x", 3},
	};
	uint8_t seed[MS_SEED_LEN], netid[MS_NETID_LEN];
	ms_identity *id = NULL;
	ms_errbuf eb;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_corpus OP_DIR WIRE_DIR\n");
		return 2;
	}
	memset(seed, 0x42, sizeof seed);
	memset(netid, 0x5a, sizeof netid);
	for (size_t i = 0; i < MS_OP_MAX_PARENTS; i++)
		memset(parents[i], (int)(i * 3 + 1), MS_HASH_LEN);
	for (size_t i = 0; i < sizeof value; i++)
		value[i] = (uint8_t)(i * 13);
	if (ms_crypto_init(&eb) != MS_OK ||
	    ms_identity_from_seed(&id, seed, &eb) != MS_OK) {
		fprintf(stderr, "gen_corpus: %s\n", eb.msg);
		return 1;
	}
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		ms_op op;
		size_t len = 0;

		memset(&op, 0, sizeof op);
		op.type = shapes[i].type;
		op.priority = shapes[i].prio;
		memcpy(op.author, ms_identity_pk(id), MS_PK_LEN);
		op.seq = i + 1;
		op.hlc = MS_HLC_MAKE(1700000000000ull + i, i);
		op.nparents = shapes[i].nparents;
		op.parents = parents[0];
		op.key_len = (uint16_t)strlen(shapes[i].key);
		op.key = (const uint8_t *)shapes[i].key;
		op.value_len = shapes[i].vlen;
		op.value = value;
		if (ms_op_sign_encode(&op, id, netid, buf, sizeof buf, &len,
		                      &eb) != MS_OK) {
			fprintf(stderr, "gen_corpus: %s: %s\n", shapes[i].name,
			        eb.msg);
			ms_identity_free(&id);
			return 1;
		}
		if (write_seed(argv[1], shapes[i].name, buf, len) != 0) {
			ms_identity_free(&id);
			return 1;
		}
	}
	ms_identity_free(&id);
	return gen_wire(argv[2]) == 0 ? 0 : 1;
}
