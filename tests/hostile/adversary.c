/*
 * adversary.c — ms-adversary, a hostile member for the hostile suite
 * (tests/hostile/test_hostile.c, issue 8).  It holds the network key, so
 * CURVE and ZAP let it in like any member; it speaks the protocol through
 * the project's own transport (net/transport, a CURVE DEALER per session)
 * and codec (net/wire), and signs its ops with store/op.  Each --mode is one
 * way a member can try to exhaust or split a node (docs/security.md):
 *
 *   vv-flood      VV chunks of made-up authors, never the LAST chunk
 *   vv-unknown    finished vectors and ACKs naming made-up authors
 *   credit-hog    grants 2^32-1 ops of credit, then stops reading
 *   ops-flood     OPS batches back to back, never waiting for an ACK
 *   peers-flood   PEERS naming thousands of made-up node ids
 *   sessions      many concurrent sessions of one member
 *   idle          HELLO, then nothing
 *   heads         thousands of concurrent parentless ops on one key
 *   equivocate    two op sets for the same slots, one to each of two nodes
 *   hello-silent  CURVE and bare TCP connections that never send HELLO
 *
 * It runs for at most --seconds, stops early on SIGTERM/SIGINT, prints
 * "ms-adversary: attacking ..." on stdout once the attack is under way and
 * one summary line ("ms-adversary: done ...") at the end.  Exit 0 when the
 * attack ran (equivocate: both sets delivered), 1 when it could not (no
 * node answered, a local error), 2 for a usage error.
 *
 * Its own memory is bounded: every DEALER's ZeroMQ queues are capped
 * (ZMQ_SNDHWM/ZMQ_RCVHWM), so a node that stops reading blocks it rather
 * than filling it, and credit-hog stops reading at the TCP level.
 *
 * Made-up ids and authors are never valid members: VV and ACK authors are
 * a counter followed by fixed random bytes (nobody can sign for them);
 * PEERS ids are real Ed25519 keys nobody keeps the secret of, with
 * endpoints on loopback port 1, where nothing listens.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto.h"
#include "hlc.h"
#include "op.h"
#include "transport.h"
#include "wire.h"

#define ADV_MAX_CONNS 256        /* --conns bound (two sockets each) */
#define ADV_MAX_SECONDS 600      /* --seconds bound */
#define ADV_SNDHWM 4             /* our queued messages per session */
#define ADV_REDIAL_MS 100        /* pause before a lost session redials */
#define ADV_HELLO_WAIT_MS 10000  /* no HELLO from any node: give up */
#define ADV_HEARTBEAT_OFF 600000 /* credit-hog: never time the node out */
#define ADV_PEER_ENDPOINT "tcp://127.0.0.1:1" /* nothing listens there */

typedef enum adv_mode {
	M_VV_FLOOD,
	M_VV_UNKNOWN,
	M_CREDIT_HOG,
	M_OPS_FLOOD,
	M_PEERS_FLOOD,
	M_SESSIONS,
	M_IDLE,
	M_HEADS,
	M_EQUIVOCATE,
	M_HELLO_SILENT,
	M_COUNT_
} adv_mode;

/* Per mode: name, default --conns, default --count, one line of help. */
static const struct {
	const char *name;
	int conns;
	uint64_t count;
	const char *help;
} modes[M_COUNT_] = {
	[M_VV_FLOOD] = {"vv-flood", 3, 0,
                        "stream VV chunks of made-up authors, never LAST "
                        "(--count: entries per session, 0 = no end)"},
	[M_VV_UNKNOWN] = {"vv-unknown", 2, 65536,
                          "finished VVs and ACKs of --count made-up "
                          "authors per session, then a new session"},
	[M_CREDIT_HOG] = {"credit-hog", 3, 0,
                          "ACK the first batch with credit 2^32-1, then "
                          "stop reading"},
	[M_OPS_FLOOD] = {"ops-flood", 3, 64,
                         "send OPS batches of --count signed ops (values "
                         "of --value-size) back to back, never waiting "
                         "for ACKs"},
	[M_PEERS_FLOOD] = {"peers-flood", 1, 20000,
                           "send PEERS naming --count made-up node ids, "
                           "each with endpoints, then again"},
	[M_SESSIONS] = {"sessions", 64, 0,
                        "hold --conns concurrent sessions of one member"},
	[M_IDLE] = {"idle", 32, 0,
                    "--conns sessions that send HELLO and then nothing"},
	[M_HEADS] = {"heads", 1, 16384,
                     "--count parentless signed ops on one key, honestly "
                     "batched"},
	[M_EQUIVOCATE] = {"equivocate", 2, 256,
                          "--count slots signed twice with different "
                          "content: one set to each --target (give two)"},
	[M_HELLO_SILENT] = {"hello-silent", 32, 0,
                            "--conns connections, half CURVE, half bare "
                            "TCP, that never send HELLO"},
};

/* One session (or, in hello-silent, one bare TCP connection). */
typedef struct conn {
	int target;    /* index into adv.targets */
	uint32_t peer; /* dial handle; 0: not dialled */
	int tcp_fd;    /* hello-silent bare TCP socket, or -1 */
	int up;        /* CURVE handshake done */
	int hello_rx;  /* the node's HELLO arrived and its proof checked */
	int vv_rx;     /* LAST chunks received from the node (rounds) */
	int vv_tx;     /* our finished vectors sent */
	uint64_t vv_entries;   /* made-up entries sent this session */
	uint64_t round_chunks; /* vv-unknown: chunks sent in this round */
	uint8_t sent_digest[MS_HASH_LEN]; /* the digest our HELLO claimed */
	uint32_t batch_tx;                /* our last OPS batch number */
	uint32_t acked;     /* the node's last ACKed batch of ours */
	uint64_t set_off;   /* next op of our set to send (heads, equivocate) */
	uint64_t peers_off; /* next made-up id to name (peers-flood) */
	int stalled;        /* credit-hog: granted and stopped reading */
	uint64_t redial_at; /* monotonic ms; 0: no redial pending */
	uint64_t hangup_at; /* monotonic ms; 0: none */
} conn;

/* A set of signed ops (encoded back to back). */
typedef struct opset {
	uint8_t *buf;
	size_t *off, *len;
	size_t n;
} opset;

typedef struct adv {
	adv_mode mode;
	const char *targets[2];
	int ntargets;
	const char *netkey_path;
	unsigned seconds;
	int nconns;
	uint64_t count;
	uint32_t value_size;
	int verbose;

	ms_netkey *nk;
	ms_identity *id;
	uint8_t netid[MS_NETID_LEN];
	ms_transport *t;
	conn conns[ADV_MAX_CONNS];
	uint8_t *out; /* encode buffer, MS_WIRE_MAX_MSG */
	ms_wire_scratch *scratch;
	uint8_t madeup_tail[MS_PK_LEN - 8]; /* fixed bytes after the counter */
	uint64_t madeup_next;               /* next made-up author counter */
	uint8_t *peer_ids;                  /* peers-flood: count ids */
	opset sets[2]; /* ops-flood, heads: [0]; equivocate: [0], [1] */
	uint8_t digest[MS_HASH_LEN]; /* sessions: the node's last digest */
	int have_digest;
	int attacking; /* the "attacking" line was printed */
	uint64_t start_ms;

	/* what happened, for the summary line */
	uint64_t sessions, links_up, links_down, msgs_tx, bytes_tx, msgs_rx,
		bytes_rx;
	uint64_t ops_tx, acks_rx, madeup, busy, tcp_closed;
	uint64_t byes[MS_BYE_COUNT_];
	char last_bye[MS_WIRE_MAX_TEXT + 32];
} adv;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void logf_(const adv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(const adv *a, const char *fmt, ...)
{
	va_list ap;

	if (!a->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "ms-adversary: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ms-adversary --mode MODE --target tcp://HOST:PORT "
	        "--network-key FILE [options]\n"
	        "A hostile member for the hostile test suite: it holds the "
	        "network key and attacks a\nrunning meshsync-node.\n\n"
	        "options:\n"
	        "  --mode MODE          the attack (below)\n"
	        "  --target EP          the node to attack (equivocate: give "
	        "two)\n"
	        "  --network-key FILE   the mesh's network key (a node's "
	        "DIR/network.key)\n"
	        "  --seconds N          stop after N seconds (default 10, at "
	        "most %d)\n"
	        "  --conns N            concurrent sessions (default per mode, "
	        "at most %d)\n"
	        "  --count N            size of the attack (per mode, below)\n"
	        "  --value-size N       value bytes of ops-flood ops (default "
	        "65536)\n"
	        "  --verbose            progress on stderr\n"
	        "  --help               this text\n\nmodes:\n",
	        ADV_MAX_SECONDS, ADV_MAX_CONNS);
	for (int m = 0; m < M_COUNT_; m++)
		fprintf(f, "  %-13s %s\n", modes[m].name, modes[m].help);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* 0 ok, 2 usage error (printed). */
static int parse_args(adv *a, int argc, char **argv)
{
	int mode = -1, conns = 0;
	uint64_t v;

	a->seconds = 10;
	a->value_size = 65536;
	a->count = UINT64_MAX; /* unset */
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(o, "--verbose") == 0) {
			a->verbose = 1;
			continue;
		}
		if (arg == NULL) {
			fprintf(stderr,
			        "ms-adversary: %s: missing value (see --help)\n",
			        o);
			return 2;
		}
		i++;
		if (strcmp(o, "--mode") == 0) {
			for (int m = 0; m < M_COUNT_; m++)
				if (strcmp(arg, modes[m].name) == 0)
					mode = m;
			if (mode < 0) {
				fprintf(stderr,
				        "ms-adversary: --mode %s: no such mode "
				        "(see --help)\n",
				        arg);
				return 2;
			}
		} else if (strcmp(o, "--target") == 0) {
			if (a->ntargets == 2) {
				fprintf(stderr, "ms-adversary: at most two "
				                "--target\n");
				return 2;
			}
			a->targets[a->ntargets++] = arg;
		} else if (strcmp(o, "--network-key") == 0) {
			a->netkey_path = arg;
		} else if (strcmp(o, "--seconds") == 0) {
			if (parse_u64(arg, ADV_MAX_SECONDS, &v) != 0 || v == 0)
				goto bad;
			a->seconds = (unsigned)v;
		} else if (strcmp(o, "--conns") == 0) {
			if (parse_u64(arg, ADV_MAX_CONNS, &v) != 0 || v == 0)
				goto bad;
			conns = (int)v;
		} else if (strcmp(o, "--count") == 0) {
			if (parse_u64(arg, UINT32_MAX, &v) != 0)
				goto bad;
			a->count = v;
		} else if (strcmp(o, "--value-size") == 0) {
			if (parse_u64(arg, MS_OP_DEFAULT_MAX_VALUE, &v) != 0)
				goto bad;
			a->value_size = (uint32_t)v;
		} else {
			fprintf(stderr,
			        "ms-adversary: unknown option %s (see --help)\n",
			        o);
			return 2;
		}
		continue;
	bad:
		fprintf(stderr, "ms-adversary: %s %s: not a valid number\n", o,
		        arg);
		return 2;
	}
	if (mode < 0 || a->ntargets == 0 || a->netkey_path == NULL) {
		fprintf(stderr, "ms-adversary: --mode, --target and "
		                "--network-key are required (see --help)\n");
		return 2;
	}
	a->mode = (adv_mode)mode;
	if (a->mode == M_EQUIVOCATE && a->ntargets != 2) {
		fprintf(stderr,
		        "ms-adversary: equivocate needs two --target\n");
		return 2;
	}
	a->nconns = conns > 0 ? conns : modes[mode].conns;
	if (a->mode == M_EQUIVOCATE)
		a->nconns = 2; /* one session per target */
	if (a->count == UINT64_MAX)
		a->count = modes[mode].count;
	if ((a->mode == M_HEADS || a->mode == M_EQUIVOCATE ||
	     a->mode == M_OPS_FLOOD || a->mode == M_PEERS_FLOOD) &&
	    a->count == 0) {
		fprintf(stderr, "ms-adversary: --count must be > 0 for %s\n",
		        modes[mode].name);
		return 2;
	}
	return 0;
}

/* --- made-up things ------------------------------------------------------ */

/* The next made-up author: a big-endian counter, so a session's authors
 * come out strictly ascending, then fixed random bytes. */
static void madeup_author(adv *a, uint8_t out[MS_PK_LEN])
{
	uint64_t c = ++a->madeup_next;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(c >> (56 - 8 * i));
	memcpy(out + 8, a->madeup_tail, sizeof a->madeup_tail);
	a->madeup++;
}

/* peers-flood: count real Ed25519 public keys nobody holds the secret of. */
static int make_peer_ids(adv *a)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];

	a->peer_ids = malloc(a->count * MS_PK_LEN);
	if (a->peer_ids == NULL)
		return -1;
	for (uint64_t i = 0; i < a->count; i++) {
		crypto_sign_keypair(pk, sk);
		memcpy(a->peer_ids + i * MS_PK_LEN, pk, MS_PK_LEN);
	}
	sodium_memzero(sk, sizeof sk);
	return 0;
}

/*
 * Sign n ops by our identity into set: seq 1..n, key key_fmt with %u = the
 * index (or the same key for all when it has no %u), a value of vsize
 * bytes starting with tag, no parents, hlc from the wall clock (one ms
 * apart, so all are concurrent heads when on one key).
 */
static int make_opset(adv *a, opset *set, uint64_t n, const char *key_fmt,
                      uint32_t vsize, const char *tag, uint64_t hlc_ms)
{
	size_t cap = (size_t)n * (MS_OP_FIXED_LEN + 64 + vsize), used = 0;
	uint8_t *val = calloc(1, vsize > 0 ? vsize : 1);
	ms_errbuf eb = {0};

	set->buf = malloc(cap);
	set->off = calloc(n, sizeof *set->off);
	set->len = calloc(n, sizeof *set->len);
	if (val == NULL || set->buf == NULL || set->off == NULL ||
	    set->len == NULL) {
		free(val);
		return -1;
	}
	randombytes_buf(val, vsize);
	for (uint64_t i = 0; i < n; i++) {
		ms_op op = {0};
		char key[64];
		int kl;
		size_t len;

		/* the key format is one of ours, never input */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
		kl = snprintf(key, sizeof key, key_fmt, (unsigned)i);
#pragma GCC diagnostic pop
		if (vsize > 0)
			snprintf((char *)val, vsize, "%s %" PRIu64, tag, i);
		op.type = MS_OP_PUT;
		op.priority = MS_PRIO_BACKGROUND;
		memcpy(op.author, ms_identity_pk(a->id), MS_PK_LEN);
		op.seq = i + 1;
		op.hlc = MS_HLC_MAKE(hlc_ms + i, 0);
		op.key = (const uint8_t *)key;
		op.key_len = (uint16_t)kl;
		op.value = val;
		op.value_len = vsize;
		if (ms_op_sign_encode(&op, a->id, a->netid, set->buf + used,
		                      cap - used, &len, &eb) != MS_OK) {
			fprintf(stderr, "ms-adversary: sign op: %s\n", eb.msg);
			free(val);
			return -1;
		}
		set->off[i] = used;
		set->len[i] = len;
		used += len;
	}
	set->n = n;
	free(val);
	return 0;
}

static void opset_free(opset *set)
{
	free(set->buf);
	free(set->off);
	free(set->len);
	memset(set, 0, sizeof *set);
}

/* --- sending ------------------------------------------------------------- */

static ms_conn conn_of(const conn *c)
{
	ms_conn mc = {.dir = MS_CONN_OUT, .peer = c->peer};

	return mc;
}

/* Encode and send m on c.  0 sent, 1 the queue is full (try later), -1 the
 * session is gone or m is ours to fix. */
static int send_msg(adv *a, conn *c, const ms_wire_msg *m)
{
	ms_conn mc = conn_of(c);
	ms_errbuf eb = {0};
	size_t len;
	ms_err e;

	if (ms_wire_encode(m, a->out, MS_WIRE_MAX_MSG, &len, &eb) != MS_OK) {
		fprintf(stderr, "ms-adversary: encode %s: %s\n",
		        ms_wire_type_name(m->type), eb.msg);
		return -1;
	}
	e = ms_transport_send(a->t, &mc, a->out, len, 0, &eb);
	if (e == MS_EBUSY) {
		a->busy++;
		return 1;
	}
	if (e != MS_OK) {
		logf_(a, "send %s: %s", ms_wire_type_name(m->type), eb.msg);
		return -1;
	}
	a->msgs_tx++;
	a->bytes_tx += len;
	return 0;
}

static int send_hello(adv *a, conn *c)
{
	ms_wire_msg m = {.type = MS_WIRE_HELLO};

	memcpy(m.u.hello.node_id, ms_identity_pk(a->id), MS_PK_LEN);
	/* sessions: the node's own digest makes it go live at once, so a
	 * session costs the node only its state (no vector, no backlog) */
	if (a->mode == M_SESSIONS && a->have_digest)
		memcpy(m.u.hello.vv_digest, a->digest, MS_HASH_LEN);
	else
		randombytes_buf(m.u.hello.vv_digest, MS_HASH_LEN);
	memcpy(c->sent_digest, m.u.hello.vv_digest, MS_HASH_LEN);
	return send_msg(a, c, &m);
}

/* Our vector: we claim to hold nothing. */
static int send_empty_vv(adv *a, conn *c)
{
	ms_wire_msg m = {.type = MS_WIRE_VV};
	int r;

	m.u.vv.flags = MS_WIRE_VV_LAST;
	if ((r = send_msg(a, c, &m)) == 0)
		c->vv_tx++;
	return r;
}

/* One VV chunk of MS_WIRE_MAX_VV made-up authors; last sets LAST. */
static int send_madeup_vv(adv *a, conn *c, int last)
{
	ms_wire_msg m = {.type = MS_WIRE_VV};
	ms_wire_vv_entry *e = a->scratch->vv;
	uint64_t save = a->madeup_next, save_n = a->madeup;
	int r;

	for (int i = 0; i < MS_WIRE_MAX_VV; i++) {
		madeup_author(a, e[i].author);
		e[i].seq = 1;
		e[i].held = 1;
		randombytes_buf(e[i].acc, MS_WIRE_ACC_LEN);
	}
	m.u.vv.flags = last ? MS_WIRE_VV_LAST : 0;
	m.u.vv.n = MS_WIRE_MAX_VV;
	m.u.vv.entries = e;
	r = send_msg(a, c, &m);
	if (r == 0) {
		c->vv_entries += MS_WIRE_MAX_VV;
		if (last)
			c->vv_tx++;
	} else {
		a->madeup_next = save; /* not sent: the next try reuses them */
		a->madeup = save_n;
	}
	return r;
}

/* ACK the node's batch with credit; with madeup, MS_WIRE_MAX_ACK entries
 * naming made-up authors. */
static int send_ack(adv *a, conn *c, uint32_t batch, uint32_t credit,
                    int madeup)
{
	ms_wire_msg m = {.type = MS_WIRE_ACK};
	ms_wire_ack_entry *e = a->scratch->ack;

	m.u.ack.batch = batch;
	m.u.ack.credit = credit;
	if (madeup) {
		for (int i = 0; i < MS_WIRE_MAX_ACK; i++) {
			madeup_author(a, e[i].author);
			e[i].seq = 1;
		}
		m.u.ack.n = MS_WIRE_MAX_ACK;
		m.u.ack.entries = e;
	}
	return send_msg(a, c, &m);
}

/* OPS with ops [from, from+n) of set as batch number batch. */
static int send_ops(adv *a, conn *c, const opset *set, size_t from, size_t n,
                    uint32_t batch)
{
	ms_wire_msg m = {.type = MS_WIRE_OPS};
	ms_wire_bytes *ob = a->scratch->ops;
	int r;

	for (size_t i = 0; i < n; i++) {
		ob[i].ptr = set->buf + set->off[from + i];
		ob[i].len = (uint32_t)set->len[from + i];
	}
	m.u.ops.batch = batch;
	m.u.ops.n = (uint16_t)n;
	m.u.ops.ops = ob;
	if ((r = send_msg(a, c, &m)) == 0)
		a->ops_tx += n;
	return r;
}

/* How many ops of set from `from` fit one message (and MS_WIRE_MAX_OPS). */
static size_t ops_fit(const opset *set, size_t from)
{
	size_t total = MS_WIRE_OPS_FIXED_LEN, n = 0;

	while (from + n < set->n && n < MS_WIRE_MAX_OPS) {
		size_t add = MS_WIRE_OPS_PER_OP_LEN + set->len[from + n];
		if (total + add > MS_WIRE_MAX_MSG)
			break;
		total += add;
		n++;
	}
	return n;
}

static int send_peers(adv *a, conn *c)
{
	ms_wire_msg m = {.type = MS_WIRE_PEERS};
	static const char *const eps[MS_WIRE_MAX_PEER_ENDPOINTS] =
		{ADV_PEER_ENDPOINT, "tcp://127.0.0.2:1", "tcp://127.0.0.3:1",
	         "tcp://127.0.0.4:1"};
	uint64_t now = wall_ms();
	int r;

	m.u.peers.n = MS_WIRE_MAX_PEERS;
	for (int i = 0; i < MS_WIRE_MAX_PEERS; i++) {
		ms_wire_peer *p = &m.u.peers.peers[i];
		uint64_t k = (c->peers_off + (uint64_t)i) % a->count;

		memcpy(p->node_id, a->peer_ids + k * MS_PK_LEN, MS_PK_LEN);
		p->last_seen_ms = now;
		p->n_endpoints = MS_WIRE_MAX_PEER_ENDPOINTS;
		for (int j = 0; j < MS_WIRE_MAX_PEER_ENDPOINTS; j++) {
			p->endpoints[j].ptr = (const uint8_t *)eps[j];
			p->endpoints[j].len = (uint32_t)strlen(eps[j]);
		}
	}
	if ((r = send_msg(a, c, &m)) == 0) {
		c->peers_off += MS_WIRE_MAX_PEERS;
		a->madeup += MS_WIRE_MAX_PEERS;
	}
	return r;
}

/* --- sessions ------------------------------------------------------------ */

/* ZeroMQ queue caps on every DEALER we own (set again after each dial:
 * libzmq applies a changed HWM to pipes already attached). */
static void cap_queues(adv *a, int rcvhwm)
{
	zmq_pollitem_t items[2 * ADV_MAX_CONNS + 16];
	int n = ms_transport_pollitems(a->t, items,
	                               (int)(sizeof items / sizeof items[0]));
	int snd = ADV_SNDHWM;

	for (int i = 0; i < n && i < (int)(sizeof items / sizeof items[0]);
	     i++) {
		int type = 0;
		size_t tl = sizeof type;
		if (items[i].socket == NULL ||
		    zmq_getsockopt(items[i].socket, ZMQ_TYPE, &type, &tl) !=
		            0 ||
		    type != ZMQ_DEALER)
			continue;
		(void)zmq_setsockopt(items[i].socket, ZMQ_SNDHWM, &snd,
		                     sizeof snd);
		(void)zmq_setsockopt(items[i].socket, ZMQ_RCVHWM, &rcvhwm,
		                     sizeof rcvhwm);
	}
}

static void conn_reset(conn *c)
{
	int target = c->target;

	memset(c, 0, sizeof *c);
	c->target = target;
	c->tcp_fd = -1;
}

/* Bare TCP connection (hello-silent): 0, or -1 (logged). */
static int tcp_open(adv *a, conn *c)
{
	const char *ep = a->targets[c->target];
	const char *colon = strrchr(ep, ':');
	char host[64];
	uint64_t port = 0;
	struct sockaddr_in sa = {0};
	int fd;

	if (strncmp(ep, "tcp://", 6) == 0 && colon != NULL &&
	    colon - (ep + 6) < (ptrdiff_t)sizeof host)
		snprintf(host, sizeof host, "%.*s", (int)(colon - (ep + 6)),
		         ep + 6);
	else
		host[0] = '\0';
	if (colon == NULL || parse_u64(colon + 1, 65535, &port) != 0 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr,
		        "ms-adversary: %s: bare TCP needs tcp://IPV4:PORT\n",
		        ep);
		return -1;
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	c->tcp_fd = fd;
	return 0;
}

static int conn_open(adv *a, conn *c)
{
	ms_errbuf eb = {0};

	conn_reset(c);
	if (a->mode == M_HELLO_SILENT && (c - a->conns) % 2 == 1)
		return tcp_open(a, c);
	if (ms_transport_dial(a->t, a->targets[c->target], &c->peer, &eb) !=
	    MS_OK) {
		fprintf(stderr, "ms-adversary: dial %s: %s\n",
		        a->targets[c->target], eb.msg);
		return -1;
	}
	cap_queues(a, a->mode == M_CREDIT_HOG ? 1 : ADV_SNDHWM);
	return 0;
}

/* The session is over: hang up and dial again after a pause (modes that
 * finish, equivocate, do not). */
static void conn_end(adv *a, conn *c, const char *why)
{
	logf_(a, "session %d ended: %s", (int)(c - a->conns), why);
	if (c->peer != 0)
		ms_transport_hangup(a->t, c->peer);
	if (c->tcp_fd >= 0)
		close(c->tcp_fd);
	conn_reset(c);
	c->redial_at = now_ms() + ADV_REDIAL_MS;
}

static conn *conn_find(adv *a, uint32_t peer)
{
	for (int i = 0; i < a->nconns; i++)
		if (a->conns[i].peer == peer && peer != 0)
			return &a->conns[i];
	return NULL;
}

static void attacking(adv *a)
{
	if (a->attacking)
		return;
	a->attacking = 1;
	printf("ms-adversary: attacking mode=%s conns=%d\n",
	       modes[a->mode].name, a->nconns);
	/* the test waits for this line: it must leave now */
	if (fflush(stdout) != 0)
		fprintf(stderr, "ms-adversary: stdout: %s\n", strerror(errno));
}

/* After the node's HELLO: what each mode does first. */
static void on_hello(adv *a, conn *c)
{
	a->sessions++;
	attacking(a);
	switch (a->mode) {
	case M_IDLE:       /* and nothing, ever */
	case M_VV_FLOOD:   /* pumped by step() */
	case M_VV_UNKNOWN: /* pumped by step() */
		break;
	case M_SESSIONS:
		/* equal digests: live at once; otherwise claim nothing */
		if (memcmp(c->sent_digest, a->digest, MS_HASH_LEN) != 0)
			(void)send_empty_vv(a, c);
		break;
	default:
		(void)send_empty_vv(a, c);
		break;
	}
}

static void on_ops(adv *a, conn *c, const ms_wire_ops *o)
{
	switch (a->mode) {
	case M_CREDIT_HOG:
		if (c->stalled)
			return;
		/* all the node holds, at once; then never read again */
		if (send_ack(a, c, o->batch, UINT32_MAX, 0) == 0)
			c->stalled = 1;
		return;
	case M_VV_UNKNOWN:
		(void)send_ack(a, c, o->batch, MS_WIRE_MAX_OPS, 1);
		return;
	case M_IDLE:
		return;
	default:
		(void)send_ack(a, c, o->batch, MS_WIRE_MAX_OPS, 0);
		return;
	}
}

static void on_recv(void *ctx, const ms_conn *mc, const uint8_t *peer_curve,
                    const void *buf, size_t len)
{
	adv *a = ctx;
	conn *c = conn_find(a, mc->peer);
	ms_wire_msg m;
	ms_wire_reason r;

	(void)peer_curve;
	a->msgs_rx++;
	a->bytes_rx += len;
	if (c == NULL)
		return;
	r = ms_wire_decode(&m, a->scratch, buf, len);
	if (r != MS_WR_OK) {
		fprintf(stderr,
		        "ms-adversary: the node sent a bad message: %s\n",
		        ms_wire_reason_name(r));
		conn_end(a, c, "bad message");
		return;
	}
	switch (m.type) {
	case MS_WIRE_HELLO:
		if (!(m.u.hello.flags & MS_WIRE_HELLO_LISTENER) ||
		    !m.u.hello.has_proof ||
		    !ms_wire_hello_proof_verify(m.u.hello.node_id,
		                                ms_transport_curve_pk(a->t),
		                                m.u.hello.proof)) {
			fprintf(stderr, "ms-adversary: the node's HELLO "
			                "proof does not verify\n");
			conn_end(a, c, "bad proof");
			return;
		}
		memcpy(a->digest, m.u.hello.vv_digest, MS_HASH_LEN);
		a->have_digest = 1;
		c->hello_rx = 1;
		on_hello(a, c);
		break;
	case MS_WIRE_VV:
		if (m.u.vv.flags & MS_WIRE_VV_LAST)
			c->vv_rx++;
		break;
	case MS_WIRE_OPS:
		on_ops(a, c, &m.u.ops);
		break;
	case MS_WIRE_ACK:
		a->acks_rx++;
		c->acked = m.u.ack.batch;
		break;
	case MS_WIRE_BYE: {
		char text[MS_WIRE_MAX_TEXT + 1];
		int r2 = m.u.bye.reason < MS_BYE_COUNT_ ? m.u.bye.reason : 0;
		memcpy(text, m.u.bye.text.ptr, m.u.bye.text.len);
		text[m.u.bye.text.len] = '\0';
		a->byes[r2]++;
		snprintf(a->last_bye, sizeof a->last_bye, "%s:%s",
		         ms_wire_bye_reason_name(m.u.bye.reason), text);
		conn_end(a, c, a->last_bye);
		break;
	}
	case MS_WIRE_PEERS:
		break;
	case MS_WIRE_HAVE:
		/* every HAVE is owed one WANT; asking for nothing keeps the
		 * node's relay out of the attack (idle stays silent) */
		if (a->mode != M_IDLE) {
			ms_wire_msg w = {.type = MS_WIRE_WANT};
			w.u.want.flags = MS_WIRE_WANT_REPLY;
			(void)send_msg(a, c, &w);
		}
		break;
	case MS_WIRE_WANT:
		break;
	}
}

static void on_link(void *ctx, const ms_conn *mc, ms_link_event ev,
                    ms_link_reason why, const uint8_t *peer_curve)
{
	adv *a = ctx;
	conn *c = conn_find(a, mc->peer);

	(void)peer_curve;
	if (c == NULL)
		return;
	if (ev == MS_LINK_UP) {
		c->up = 1;
		a->links_up++;
		if (a->mode == M_HELLO_SILENT) {
			attacking(a);
			return; /* and never a HELLO */
		}
		(void)send_hello(a, c);
		return;
	}
	a->links_down++;
	c->peer = 0; /* the handle is dead */
	conn_end(a, c, ms_link_reason_str(why));
}

/* Push what the mode sends on c until the queue is full.  Returns 1 when
 * the mode's work on this session is done (equivocate). */
static int step(adv *a, conn *c)
{
	int r = 0;

	if (!c->hello_rx || c->stalled)
		return 0;
	switch (a->mode) {
	case M_VV_FLOOD:
		/* never LAST; --count > 0 bounds a session's entries */
		while (r == 0 && (a->count == 0 || c->vv_entries < a->count) &&
		       !stop_flag)
			r = send_madeup_vv(a, c, 0);
		break;
	case M_VV_UNKNOWN: {
		uint64_t chunks = (a->count + MS_WIRE_MAX_VV - 1) /
		                  MS_WIRE_MAX_VV;
		/* round 1 now, round 2 once the node's second vector came:
		 * each a fresh run of made-up authors, then a new session */
		while (r == 0 && c->vv_tx < 2 &&
		       (c->vv_tx == 0 || c->vv_rx >= 2)) {
			int last = c->round_chunks + 1 >= chunks;
			r = send_madeup_vv(a, c, last);
			if (r == 0)
				c->round_chunks = last ? 0
				                       : c->round_chunks + 1;
		}
		if (c->vv_tx == 2 && c->hangup_at == 0)
			c->hangup_at = now_ms() + 500;
		break;
	}
	case M_OPS_FLOOD:
		if (c->vv_rx < 1)
			break; /* OPS may follow the node's vector only */
		if (c->vv_tx < 2)
			r = send_empty_vv(a, c);
		/* the same pre-signed batch under ever new batch numbers:
		 * cheap for us, a full decode for the node */
		while (r == 0 && !stop_flag) {
			r = send_ops(a, c, &a->sets[0], 0,
			             ops_fit(&a->sets[0], 0), c->batch_tx + 1);
			if (r == 0)
				c->batch_tx++;
		}
		break;
	case M_PEERS_FLOOD:
		if (c->vv_rx < 1)
			break;
		if (c->vv_tx < 2)
			r = send_empty_vv(a, c);
		while (r == 0 && !stop_flag)
			r = send_peers(a, c);
		break;
	case M_SESSIONS:
	case M_CREDIT_HOG:
		if (c->vv_rx >= 1 && c->vv_tx == 1)
			(void)send_empty_vv(a, c);
		break;
	case M_HEADS:
	case M_EQUIVOCATE: {
		const opset *set =
			&a->sets[a->mode == M_EQUIVOCATE ? c->target : 0];
		if (c->vv_rx < 1)
			break;
		/* honest batching: the next batch once the last is ACKed */
		if (c->set_off < set->n && c->acked == c->batch_tx) {
			size_t n = ops_fit(set, c->set_off);
			if (send_ops(a, c, set, c->set_off, n,
			             c->batch_tx + 1) == 0) {
				c->batch_tx++;
				c->set_off += n;
			}
		}
		if (c->set_off == set->n && c->acked == c->batch_tx) {
			if (c->vv_tx < 2)
				(void)send_empty_vv(a, c);
			return a->mode == M_EQUIVOCATE;
		}
		break;
	}
	case M_IDLE:
	case M_HELLO_SILENT:
	case M_COUNT_:
		break;
	}
	if (r < 0)
		conn_end(a, c, "send failed");
	return 0;
}

/* hello-silent's bare TCP connections: notice the node closing them. */
static void tcp_check(adv *a, conn *c)
{
	struct pollfd p = {.fd = c->tcp_fd, .events = POLLIN};
	char b[256];

	if (poll(&p, 1, 0) <= 0)
		return;
	if (p.revents & (POLLERR | POLLHUP) ||
	    ((p.revents & POLLIN) && recv(c->tcp_fd, b, sizeof b, 0) <= 0)) {
		a->tcp_closed++;
		conn_end(a, c, "tcp closed by the node");
	}
}

/* The main loop: until --seconds, a signal, or (equivocate) done.
 * 0 or 1. */
static int run(adv *a)
{
	uint64_t end = a->start_ms + (uint64_t)a->seconds * 1000u;
	zmq_pollitem_t *items = NULL;
	int cap = 0, rc = 0;

	for (int i = 0; i < a->nconns; i++) {
		a->conns[i].target = a->mode == M_EQUIVOCATE ? i : 0;
		if (conn_open(a, &a->conns[i]) != 0)
			return 1;
		/* sessions: the rest wait for the first HELLO's digest */
		if (a->mode == M_SESSIONS && i == 0)
			for (int j = 1; j < a->nconns; j++) {
				conn_reset(&a->conns[j]);
				a->conns[j].redial_at = UINT64_MAX;
			}
		if (a->mode == M_SESSIONS)
			break;
	}
	while (!stop_flag) {
		uint64_t now = now_ms();
		int n, done = 0, all_stalled = 1;

		if (now >= end)
			break;
		if (!a->attacking && now - a->start_ms > ADV_HELLO_WAIT_MS) {
			fprintf(stderr,
			        "ms-adversary: no node answered within %d ms\n",
			        ADV_HELLO_WAIT_MS);
			rc = 1;
			break;
		}
		for (int i = 0; i < a->nconns; i++) {
			conn *c = &a->conns[i];
			if (a->mode == M_SESSIONS &&
			    c->redial_at == UINT64_MAX && a->have_digest)
				c->redial_at = now;
			if (c->peer == 0 && c->tcp_fd < 0 &&
			    c->redial_at != 0 && now >= c->redial_at) {
				if (conn_open(a, c) != 0) {
					c->redial_at = now + ADV_REDIAL_MS;
					continue;
				}
			}
			if (c->tcp_fd >= 0)
				tcp_check(a, c);
			if (c->hangup_at != 0 && now >= c->hangup_at)
				conn_end(a, c, "done with this session");
			if (c->peer != 0)
				done += step(a, c);
			if (!c->stalled)
				all_stalled = 0;
		}
		if (a->mode == M_EQUIVOCATE && done == a->nconns)
			break;
		if (a->mode == M_HELLO_SILENT && !a->attacking) {
			for (int i = 0; i < a->nconns; i++)
				if (a->conns[i].tcp_fd >= 0)
					attacking(a);
		}
		/* credit-hog: every session granted; reading on would let
		 * the node's queues drain into ours */
		if (all_stalled) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			/* keepalives need no reading: the node keeps the link
			 * of a member that hogs it, as it would a slow one */
			(void)ms_transport_keepalive(a->t, now);
			nanosleep(&ts, NULL);
			continue;
		}
		n = ms_transport_pollitems(a->t, items, cap);
		if (n > cap) {
			zmq_pollitem_t *ni = realloc(items,
			                             (size_t)n * sizeof *ni);
			if (ni == NULL) {
				fprintf(stderr,
				        "ms-adversary: out of memory\n");
				rc = 1;
				break;
			}
			items = ni;
			cap = n;
			n = ms_transport_pollitems(a->t, items, cap);
		}
		if (zmq_poll(items, n, 10) < 0 && zmq_errno() != EINTR) {
			fprintf(stderr, "ms-adversary: zmq_poll: %s\n",
			        zmq_strerror(zmq_errno()));
			rc = 1;
			break;
		}
		ms_transport_process(a->t);
		(void)ms_transport_keepalive(a->t, now_ms());
	}
	free(items);
	if (a->mode == M_EQUIVOCATE && rc == 0) {
		for (int i = 0; i < a->nconns; i++)
			if (a->conns[i].set_off < a->sets[i].n ||
			    a->conns[i].acked != a->conns[i].batch_tx) {
				fprintf(stderr,
				        "ms-adversary: equivocate: set %d not "
				        "delivered to %s in time\n",
				        i, a->targets[i]);
				rc = 1;
			}
	}
	return rc;
}

/* Our own anonymous RSS in KiB, for the summary (0 if unreadable). */
static uint64_t self_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "RssAnon:", 8) == 0) {
			kb = strtoull(line + 8, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static void summary(const adv *a, int rc)
{
	printf("ms-adversary: done mode=%s rc=%d seconds=%.1f sessions=%" PRIu64
	       " links_up=%" PRIu64 " links_down=%" PRIu64 " msgs_tx=%" PRIu64
	       " bytes_tx=%" PRIu64 " msgs_rx=%" PRIu64 " bytes_rx=%" PRIu64
	       " ops_tx=%" PRIu64 " acks_rx=%" PRIu64 " madeup=%" PRIu64
	       " busy=%" PRIu64 " tcp_closed=%" PRIu64,
	       modes[a->mode].name, rc, (double)(now_ms() - a->start_ms) / 1e3,
	       a->sessions, a->links_up, a->links_down, a->msgs_tx, a->bytes_tx,
	       a->msgs_rx, a->bytes_rx, a->ops_tx, a->acks_rx, a->madeup,
	       a->busy, a->tcp_closed);
	for (int r = 0; r < MS_BYE_COUNT_; r++)
		if (a->byes[r] > 0)
			printf(" bye_%s=%" PRIu64, ms_wire_bye_reason_name(r),
			       a->byes[r]);
	printf(" last_bye=\"%s\" rss_kb=%" PRIu64 "\n", a->last_bye,
	       self_rss_kb());
	if (fflush(stdout) != 0)
		fprintf(stderr, "ms-adversary: stdout: %s\n", strerror(errno));
}

/* Keys, transport and the mode's material.  0 or 1 (printed). */
static int setup(adv *a)
{
	ms_transport_params p;
	ms_transport_cbs cbs = {.recv = on_recv, .link = on_link, .ctx = a};
	ms_errbuf eb = {0};
	uint64_t t0 = wall_ms();

	if (ms_crypto_init(&eb) != MS_OK) {
		fprintf(stderr, "ms-adversary: %s\n", eb.msg);
		return 1;
	}
	if (ms_netkey_load(&a->nk, a->netkey_path, &eb) != MS_OK) {
		fprintf(stderr,
		        "ms-adversary: network key %s: %s (give a node's "
		        "DIR/network.key)\n",
		        a->netkey_path, eb.msg);
		return 1;
	}
	ms_netkey_id(a->nk, a->netid);
	if (ms_identity_generate(&a->id, &eb) != MS_OK) {
		fprintf(stderr, "ms-adversary: identity: %s\n", eb.msg);
		return 1;
	}
	a->out = malloc(MS_WIRE_MAX_MSG);
	a->scratch = malloc(sizeof *a->scratch);
	if (a->out == NULL || a->scratch == NULL) {
		fprintf(stderr, "ms-adversary: out of memory\n");
		return 1;
	}
	randombytes_buf(a->madeup_tail, sizeof a->madeup_tail);
	switch (a->mode) {
	case M_PEERS_FLOOD:
		if (make_peer_ids(a) != 0)
			goto nomem;
		break;
	case M_OPS_FLOOD: {
		/* as many ops as one message holds, up to --count */
		uint64_t per = (MS_WIRE_MAX_MSG - MS_WIRE_OPS_FIXED_LEN) /
		               (MS_WIRE_OPS_PER_OP_LEN + MS_OP_FIXED_LEN + 16 +
		                a->value_size);
		uint64_t n = a->count < per ? a->count : per;
		if (n > MS_WIRE_MAX_OPS)
			n = MS_WIRE_MAX_OPS;
		if (make_opset(a, &a->sets[0], n, "flood/%u", a->value_size,
		               "flood", t0) != 0)
			goto nomem;
		break;
	}
	case M_HEADS:
		if (make_opset(a, &a->sets[0], a->count, "heads/one", 8, "h",
		               t0) != 0)
			goto nomem;
		break;
	case M_EQUIVOCATE:
		/* the same slots (seq), keys and clocks; other values */
		if (make_opset(a, &a->sets[0], a->count, "equivocate/%u", 16,
		               "A", t0) != 0 ||
		    make_opset(a, &a->sets[1], a->count, "equivocate/%u", 16,
		               "B", t0) != 0)
			goto nomem;
		break;
	default:
		break;
	}
	ms_transport_params_init(&p);
	if (a->mode == M_CREDIT_HOG) {
		/* we stop reading, so we hear no keepalive: keep the link
		 * anyway */
		p.heartbeat_timeout_ms = ADV_HEARTBEAT_OFF;
	}
	if (ms_transport_new(&a->t, NULL, a->nk, a->id, &p, &cbs, &eb) !=
	    MS_OK) {
		fprintf(stderr, "ms-adversary: transport: %s\n", eb.msg);
		return 1;
	}
	return 0;
nomem:
	fprintf(stderr, "ms-adversary: preparing %s: out of memory\n",
	        modes[a->mode].name);
	return 1;
}

static void teardown(adv *a)
{
	for (int i = 0; i < a->nconns; i++)
		if (a->conns[i].tcp_fd >= 0)
			close(a->conns[i].tcp_fd);
	ms_transport_free(&a->t);
	ms_identity_free(&a->id);
	ms_netkey_free(&a->nk);
	opset_free(&a->sets[0]);
	opset_free(&a->sets[1]);
	free(a->peer_ids);
	free(a->scratch);
	free(a->out);
}

int main(int argc, char **argv)
{
	static adv a; /* large: the connection table */
	struct sigaction sa = {0};
	int rc;

	for (int i = 0; i < ADV_MAX_CONNS; i++)
		a.conns[i].tcp_fd = -1;
	if ((rc = parse_args(&a, argc, argv)) != 0)
		return rc;
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a.start_ms = now_ms();
	rc = setup(&a);
	if (rc == 0)
		rc = run(&a);
	summary(&a, rc);
	teardown(&a);
	return rc;
}
