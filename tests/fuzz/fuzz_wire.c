/*
 * fuzz_wire.c — libFuzzer target for the sync protocol codec (net/wire).
 *
 * Each input is tried twice: as a whole frame, and as a body behind a valid
 * header whose type is chosen by the first byte (so the fuzzer spends its
 * time inside the six body decoders rather than rediscovering "MS\x01").
 *
 * Beyond "never crash or read out of bounds": the header reason agrees with
 * ms_wire_peek_type, every reason has a name, every pointer a decoder hands
 * out lies inside the input, the typed decoders of the other types answer
 * wrong_type, and whatever decodes re-encodes to the very same bytes
 * (canonical form); otherwise abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_check.h"
#include "wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 64 KiB of arrays: static, not on libFuzzer's stack. */
static ms_wire_scratch fz_scratch;
static ms_wire_scratch fz_other;
static ms_wire_msg fz_msg;
static ms_wire_msg fz_tmp;
static uint8_t fz_dialer_cpk[MS_CURVE_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	memset(fz_dialer_cpk, 0x24, sizeof fz_dialer_cpk);
	return 0;
}

static void in_input(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	if (n == 0)
		return;
	FZ_CHECK(p >= buf && p + n <= buf + len);
}

static void check_pointers(const ms_wire_msg *m, const uint8_t *buf, size_t len)
{
	switch (m->type) {
	case MS_WIRE_HELLO:
		FZ_CHECK(m->u.hello.n_endpoints <= MS_WIRE_MAX_ENDPOINTS);
		for (int i = 0; i < m->u.hello.n_endpoints; i++)
			in_input(m->u.hello.endpoints[i].ptr,
			         m->u.hello.endpoints[i].len, buf, len);
		/* any answer, no crash */
		(void)ms_wire_hello_proof_verify(m->u.hello.node_id,
		                                 fz_dialer_cpk,
		                                 m->u.hello.proof);
		break;
	case MS_WIRE_VV:
		FZ_CHECK(m->u.vv.n <= MS_WIRE_MAX_VV);
		FZ_CHECK(m->u.vv.entries == fz_scratch.vv);
		break;
	case MS_WIRE_OPS:
		FZ_CHECK(m->u.ops.n <= MS_WIRE_MAX_OPS);
		for (int i = 0; i < m->u.ops.n; i++) {
			FZ_CHECK(m->u.ops.ops[i].len >= 1 &&
			         m->u.ops.ops[i].len <= MS_WIRE_MAX_OP);
			in_input(m->u.ops.ops[i].ptr, m->u.ops.ops[i].len, buf,
			         len);
		}
		break;
	case MS_WIRE_ACK:
		FZ_CHECK(m->u.ack.n <= MS_WIRE_MAX_ACK);
		break;
	case MS_WIRE_BYE:
		FZ_CHECK(m->u.bye.reason < MS_BYE_COUNT_);
		in_input(m->u.bye.text.ptr, m->u.bye.text.len, buf, len);
		break;
	case MS_WIRE_PEERS:
		FZ_CHECK(m->u.peers.n <= MS_WIRE_MAX_PEERS);
		for (int i = 0; i < m->u.peers.n; i++)
			for (int j = 0; j < m->u.peers.peers[i].n_endpoints;
			     j++)
				in_input(m->u.peers.peers[i].endpoints[j].ptr,
				         m->u.peers.peers[i].endpoints[j].len,
				         buf, len);
		break;
	case MS_WIRE_HAVE:
	case MS_WIRE_WANT:
		FZ_CHECK(m->u.have.n <= MS_WIRE_MAX_IDS);
		FZ_CHECK((m->u.have.flags &
		          ~(m->type == MS_WIRE_WANT ? MS_WIRE_WANT_REPLY
		                                    : 0u)) == 0);
		if (m->u.have.n > 0)
			in_input(m->u.have.ids[0],
			         (size_t)m->u.have.n * MS_WIRE_ID_LEN, buf,
			         len);
		break;
	}
}

/* Only the decoder of the message's own type accepts it. */
static void check_wrong_types(ms_wire_type t, const uint8_t *buf, size_t len)
{
	if (t != MS_WIRE_HELLO)
		FZ_CHECK(ms_wire_hello_decode(&fz_tmp.u.hello, buf, len) ==
		         MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_VV)
		FZ_CHECK(ms_wire_vv_decode(&fz_tmp.u.vv, fz_other.vv, buf,
		                           len) == MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_OPS)
		FZ_CHECK(ms_wire_ops_decode(&fz_tmp.u.ops, fz_other.ops, buf,
		                            len) == MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_ACK)
		FZ_CHECK(ms_wire_ack_decode(&fz_tmp.u.ack, fz_other.ack, buf,
		                            len) == MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_BYE)
		FZ_CHECK(ms_wire_bye_decode(&fz_tmp.u.bye, buf, len) ==
		         MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_PEERS)
		FZ_CHECK(ms_wire_peers_decode(&fz_tmp.u.peers, buf, len) ==
		         MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_HAVE)
		FZ_CHECK(ms_wire_ids_decode(MS_WIRE_HAVE, &fz_tmp.u.have, buf,
		                            len) == MS_WR_WRONG_TYPE);
	if (t != MS_WIRE_WANT)
		FZ_CHECK(ms_wire_ids_decode(MS_WIRE_WANT, &fz_tmp.u.want, buf,
		                            len) == MS_WR_WRONG_TYPE);
}

static void one(const uint8_t *buf, size_t len)
{
	ms_wire_type t = 0;
	ms_wire_reason peek = ms_wire_peek_type(buf, len, &t);
	ms_wire_reason r = ms_wire_decode(&fz_msg, &fz_scratch, buf, len);

	FZ_CHECK(strcmp(ms_wire_reason_name(r), "unknown") != 0);
	if (peek != MS_WR_OK) {
		FZ_CHECK(r == peek);
		return;
	}
	check_wrong_types(t, buf, len);
	if (r != MS_WR_OK)
		return;
	FZ_CHECK(fz_msg.type == t);
	check_pointers(&fz_msg, buf, len);

	/* Canonical form: re-encoding gives back the input, byte for byte. */
	FZ_CHECK(ms_wire_len(&fz_msg) == len);
	uint8_t *out = malloc(len > 0 ? len : 1);
	size_t out_len = 0;
	FZ_CHECK(out != NULL);
	FZ_CHECK(ms_wire_encode(&fz_msg, out, len, &out_len, NULL) == MS_OK);
	FZ_CHECK(out_len == len);
	FZ_CHECK(memcmp(out, buf, len) == 0);
	/* One byte less never fits. */
	FZ_CHECK(ms_wire_encode(&fz_msg, out, len - 1, &out_len, NULL) ==
	         MS_EINVAL);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies, so ASan sees a read one byte past the end
	 * (calloc: gcc cannot tell that an empty one is never read). */
	uint8_t *buf = calloc(1, size ? size : 1);
	FZ_CHECK(buf != NULL);
	if (size)
		memcpy(buf, data, size);
	one(buf, size);
	free(buf);

	if (size >= 1 && size - 1 <= MS_WIRE_MAX_MSG - MS_WIRE_HEADER_LEN) {
		size_t len = MS_WIRE_HEADER_LEN + size - 1;
		uint8_t *framed = malloc(len);
		FZ_CHECK(framed != NULL);
		framed[0] = 'M';
		framed[1] = 'S';
		framed[2] = MS_WIRE_VERSION;
		framed[3] = (uint8_t)(MS_WIRE_HELLO + data[0] % MS_WIRE_WANT);
		memcpy(framed + MS_WIRE_HEADER_LEN, data + 1, size - 1);
		one(framed, len);
		free(framed);
	}
	return 0;
}
