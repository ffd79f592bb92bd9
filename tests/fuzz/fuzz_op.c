/*
 * fuzz_op.c — libFuzzer target for the op decoder (store/op).
 *
 * Beyond "never crash or read out of bounds", every input the decoder
 * accepts must be exactly one canonical op: its encoded length is the input
 * length, and the encoder accepts the very same fields (the two sides agree
 * on the limits) and reproduces the input byte for byte apart from the
 * author and signature, which are re-signed by a fixed identity.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_check.h"
#include "op.h"

static ms_identity *fz_id;
static uint8_t fz_netid[MS_NETID_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[MS_SEED_LEN];

	(void)argc;
	(void)argv;
	memset(seed, 0x42, sizeof seed);
	memset(fz_netid, 0x5a, sizeof fz_netid);
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	FZ_CHECK(ms_identity_from_seed(&fz_id, seed, NULL) == MS_OK);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ms_op op, again, back;
	uint8_t id[MS_HASH_LEN];
	uint8_t *buf;
	size_t len = 0;

	/* A small limit first: whatever it accepts the default accepts too. */
	if (ms_op_decode(&op, data, size, 16) == MS_OPR_OK)
		FZ_CHECK(ms_op_decode(&op, data, size, 0) == MS_OPR_OK);
	if (ms_op_decode(&op, data, size, 0) != MS_OPR_OK)
		return 0;
	FZ_CHECK(ms_op_encoded_len(&op) == size);
	FZ_CHECK(op.sig == data + size - MS_SIG_LEN);
	(void)ms_op_verify(&op, fz_netid); /* any answer, no crash */
	ms_op_id(id, data, size);

	/* Re-encode the same fields under our identity. */
	buf = malloc(size);
	FZ_CHECK(buf != NULL);
	again = op;
	memcpy(again.author, ms_identity_pk(fz_id), MS_PK_LEN);
	FZ_CHECK(ms_op_sign_encode(&again, fz_id, fz_netid, buf, size, &len,
	                           NULL) == MS_OK);
	FZ_CHECK(len == size);
	FZ_CHECK(memcmp(buf, data, 3) == 0);
	FZ_CHECK(memcmp(buf + 3 + MS_PK_LEN, data + 3 + MS_PK_LEN,
	                size - 3 - MS_PK_LEN - MS_SIG_LEN) == 0);
	FZ_CHECK(ms_op_decode(&back, buf, len, 0) == MS_OPR_OK);
	FZ_CHECK(ms_op_verify(&back, fz_netid) == MS_OPR_OK);
	FZ_CHECK(back.seq == op.seq && back.hlc == op.hlc &&
	         back.key_len == op.key_len && back.value_len == op.value_len);
	free(buf);
	return 0;
}
