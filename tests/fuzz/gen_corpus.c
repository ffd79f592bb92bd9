/*
 * gen_corpus.c — writes the seed corpora of every fuzz target under ROOT
 * (tests/fuzz/corpus):
 *   op/       valid op encodings of different shapes (fuzz_op)
 *   wire/     one valid message of each type and shape, in the current
 *             MS_WIRE_VERSION (fuzz_wire)
 *   config/   meshsync.conf files: the default one, every key of every
 *             section, and some of each kind of error (fuzz_config)
 *   txt/      mDNS TXT records as DNS RDATA (fuzz_txt)
 *   keys/     identity and network key files, well and badly formed
 *             (fuzz_keys)
 *   session/  real sessions recorded against a peer (gen_session.c)
 * Run by hand when a format changes; its output is checked in:
 *     gen_corpus tests/fuzz/corpus
 * Deterministic (fixed seeds, Ed25519 is deterministic), so re-running it
 * reproduces the same files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz_util.h"
#include "node_int.h"
#include "session_world.h"
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
	m.u.bye.text = str("protocol version 3 only");
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

	{
		static uint8_t ids[2][MS_WIRE_ID_LEN];
		memset(ids[0], 0x44, MS_WIRE_ID_LEN);
		memset(ids[1], 0x88, MS_WIRE_ID_LEN);
		memset(&m, 0, sizeof m);
		m.type = MS_WIRE_HAVE;
		m.u.have.n = 2;
		m.u.have.ids = (const uint8_t(*)[MS_WIRE_ID_LEN])ids;
		rc |= write_msg(dir, "have-2", &m);
		memset(&m, 0, sizeof m);
		m.type = MS_WIRE_WANT;
		m.u.want.flags = MS_WIRE_WANT_REPLY;
		m.u.want.n = 1;
		m.u.want.ids = (const uint8_t(*)[MS_WIRE_ID_LEN])ids;
		rc |= write_msg(dir, "want-reply-1", &m);
		m.u.want.n = 0;
		rc |= write_msg(dir, "want-reply-0", &m);
	}
	return rc;
}

/* The op corpus. */
static int gen_op(const char *dir)
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

	memset(seed, 0x42, sizeof seed);
	memset(netid, 0x5a, sizeof netid);
	for (size_t i = 0; i < MS_OP_MAX_PARENTS; i++)
		memset(parents[i], (int)(i * 3 + 1), MS_HASH_LEN);
	for (size_t i = 0; i < sizeof value; i++)
		value[i] = (uint8_t)(i * 13);
	if (ms_crypto_init(&eb) != MS_OK ||
	    ms_identity_from_seed(&id, seed, &eb) != MS_OK) {
		fprintf(stderr, "gen_corpus: %s\n", eb.msg);
		return -1;
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
			return -1;
		}
		if (write_seed(dir, shapes[i].name, buf, len) != 0) {
			ms_identity_free(&id);
			return -1;
		}
	}
	ms_identity_free(&id);
	return 0;
}

static int write_text(const char *dir, const char *name, const char *text)
{
	return write_seed(dir, name, (const uint8_t *)text, strlen(text));
}

#define ID_A "3fa1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff"
#define ID_B "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"

/* The config corpus. */
static int gen_config(const char *dir)
{
	char path[4096];
	ms_errbuf eb;
	int rc = 0;

	snprintf(path, sizeof path, "%s/default", dir);
	(void)unlink(path);
	if (ms_config_write_default(path, &eb) != MS_OK) {
		fprintf(stderr, "gen_corpus: %s\n", eb.msg);
		return -1;
	}
	rc |= write_text(dir, "every-key",
	                 "[store]\n"
	                 "map_initial = 32M\n"
	                 "map_max = 8G\n"
	                 "max_value = 512K\n"
	                 "max_clock_skew = 10m\n"
	                 "[policy]\n"
	                 "counter/ = counter\n"
	                 "docs/ = mv\n"
	                 "* = lww\n"
	                 "[net]\n"
	                 "listen = tcp://0.0.0.0:7700\n"
	                 "listen = tcp://[::1]:7701\n"
	                 "peer = tcp://10.20.0.1:7700\n"
	                 "peer = tcp://node-b.example:7700\n"
	                 "mdns = no\n"
	                 "allow = " ID_A " " ID_B "\n"
	                 "deny = " ID_B "\n"
	                 "heartbeat_interval = 500ms\n"
	                 "heartbeat_timeout = 3s\n"
	                 "handshake_timeout = 2s\n"
	                 "max_message = 4M\n"
	                 "[backoff]\n"
	                 "strategy = full-jitter\n"
	                 "base = 250ms\n"
	                 "cap = 5m\n"
	                 "kick_interval = 2s\n"
	                 "[sync]\n"
	                 "batch_ops = 128\n"
	                 "credit = 4096\n"
	                 "poll = 20ms\n"
	                 "[limits]\n"
	                 "send_hwm = 8\n"
	                 "recv_hwm = 4\n"
	                 "inbound_connections = 256\n"
	                 "inbound_per_address = 16\n"
	                 "peer_records = 512\n"
	                 "peer_records_disk = 128\n"
	                 "dials_inflight = 8\n"
	                 "pex_candidates = 32\n"
	                 "mdns_records = 256\n"
	                 "session_vv_entries = 1024\n"
	                 "hello_timeout = 5s\n"
	                 "vv_timeout = 30s\n"
	                 "idle_timeout = 1m\n"
	                 "session_memory = 16M\n"
	                 "sessions_memory_total = 128M\n"
	                 "sessions_per_peer = 2\n"
	                 "sessions_total = 64\n"
	                 "heads_per_key = 16\n"
	                 "[log]\n"
	                 "level = debug\n"
	                 "syslog = yes\n");
	rc |= write_text(dir, "comments-and-spacing",
	                 "; a comment\n"
	                 "# another\n"
	                 "\n"
	                 "  [ store ]  \n"
	                 "map_max=1T ; trailing comment\n"
	                 "[net]\r\n"
	                 "mdns = true\r\n");
	/* [faults] (net/fault.h): refused until the fault layer's section
	 * lands, then a seed with every key */
	rc |= write_text(dir, "faults",
	                 "[faults]\n"
	                 "seed = 7\n"
	                 "drop = 0.3\n"
	                 "duplicate = 0.05\n"
	                 "corrupt = 0.01\n"
	                 "reorder = 0.1\n"
	                 "delay = 100ms\n"
	                 "jitter = 50ms\n"
	                 "epoch = 1700000000000\n"
	                 "partition = 10s 20s\n"
	                 "partition = 30s 40s " ID_A "\n"
	                 "flap = 5s 10s " ID_B "\n");
	rc |= write_text(dir, "bad-value", "[sync]\nbatch_ops = 0\n");
	rc |= write_text(dir, "bad-section", "[nope]\nx = 1\n");
	rc |= write_text(dir, "no-section", "x = 1\n");
	rc |= write_text(dir, "syntax", "[store\nmap_max\n");
	rc |= write_text(dir, "map-order",
	                 "[store]\nmap_initial = 1G\nmap_max = 64M\n");
	rc |= write_text(dir, "heartbeat-order",
	                 "[net]\nheartbeat_interval = 5s\n"
	                 "heartbeat_timeout = 1s\n");
	rc |= write_text(dir, "policy-dup", "[policy]\na = mv\na = lww\n");
	{
		/* a line longer than inih's buffer */
		char longl[600];
		memset(longl, 'x', sizeof longl);
		memcpy(longl, "[net]\npeer = tcp://", 19);
		longl[sizeof longl - 2] = '\n';
		longl[sizeof longl - 1] = '\0';
		rc |= write_text(dir, "long-line", longl);
	}
	return rc;
}

/* One TXT record as DNS RDATA: each string behind its length byte. */
static int write_txt(const char *dir, const char *name, const char *const *strs,
                     size_t n)
{
	uint8_t buf[2048];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(strs[i]);
		if (l > 255 || len + 1 + l > sizeof buf)
			return -1;
		buf[len++] = (uint8_t)l;
		memcpy(buf + len, strs[i], l);
		len += l;
	}
	return write_seed(dir, name, buf, len);
}

static int gen_txt(const char *dir)
{
	static const char *const ok[] = {"v=2", ("id=" ID_A),
	                                 "net=0123456789abcdef"};
	static const char *const upper[] = {"NET=0123456789ABCDEF",
	                                    ("ID=" ID_B), "V=2", "extra=1"};
	static const char *const dup[] = {"v=2",
	                                  "v=3",
	                                  ("id=" ID_A),
	                                  ("id=" ID_B),
	                                  "net=0123456789abcdef",
	                                  "net=zz"};
	static const char *const missing[] = {"v=2", ("id=" ID_A)};
	static const char *const big[] = {"v=4294967296", ("id=" ID_A),
	                                  "net=0123456789abcdef"};
	static const char *const bare[] = {"v", "id=", "net", "txtvers=1"};
	int rc = 0;

	rc |= write_txt(dir, "ok", ok, 3);
	rc |= write_txt(dir, "upper-extra", upper, 4);
	rc |= write_txt(dir, "duplicates", dup, 6);
	rc |= write_txt(dir, "missing-net", missing, 2);
	rc |= write_txt(dir, "version-too-big", big, 3);
	rc |= write_txt(dir, "bare-keys", bare, 4);
	return rc;
}

static int gen_keys(const char *dir)
{
	int rc = 0;

	rc |= write_text(dir, "identity", "msid1:" ID_A "\n");
	rc |= write_text(dir, "netkey", "msnet1:" ID_B "\n");
	rc |= write_text(dir, "netkey-spaces", " \t msnet1:" ID_A " \r\n\n");
	rc |= write_text(dir, "identity-no-newline", "msid1:" ID_B);
	rc |= write_text(dir, "short", "msnet1:0123\n");
	rc |= write_text(dir, "not-hex", "msid1:" ID_A "zz\n");
	rc |= write_text(dir, "wrong-prefix", "msnet2:" ID_A "\n");
	rc |= write_text(dir, "empty", "");
	return rc;
}

/* ROOT/sub, created when missing. */
static int subdir(char *out, size_t cap, const char *root, const char *sub)
{
	snprintf(out, cap, "%s/%s", root, sub);
	if (mkdir(out, 0755) != 0 && access(out, W_OK) != 0) {
		perror(out);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *sub;
		int (*fn)(const char *dir);
	} gens[] = {
		{"op", gen_op},         {"wire", gen_wire},
		{"config", gen_config}, {"txt", gen_txt},
		{"keys", gen_keys},     {"session", sw_gen_corpus},
	};
	char dir[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus ROOT (tests/fuzz/corpus)\n");
		return 2;
	}
	if (ms_crypto_init(NULL) != MS_OK)
		return 1;
	for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
		if (subdir(dir, sizeof dir, argv[1], gens[i].sub) != 0 ||
		    gens[i].fn(dir) != 0) {
			fprintf(stderr, "gen_corpus: %s failed\n", gens[i].sub);
			return 1;
		}
	}
	return 0;
}
