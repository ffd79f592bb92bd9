/*
 * gen_corpus.c — writes the seed corpus of fuzz_op (valid op encodings of
 * different shapes) into a directory.  Run once by hand; its output is
 * checked in under tests/fuzz/corpus/op/:
 *     gen_corpus tests/fuzz/corpus/op
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

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
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
	return 0;
}
