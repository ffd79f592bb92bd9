/*
 * zap.c — the ZAP handler (ZeroMQ RFC 27) of a transport, and its access
 * lists.
 *
 * libzmq asks inproc://zeromq.zap.01 of the socket's context about every
 * CURVE handshake the ROUTER completes.  By then the dialer has proved it
 * knows the listening public key (derived from the network key), so it is a
 * member; what is left to decide is whether this member may connect to us,
 * from its long-term Curve25519 key (its converted node id).  The answer's
 * User-Id is that key in hex: libzmq attaches it to every message of the
 * connection, which is how transport.c knows who sent what.
 *
 * The handler runs on the node's loop (no thread): a handshake waits for the
 * loop, which costs latency but no locking.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "transport_int.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_VERSION "1.0"
/* A CURVE request has 7 frames; anything longer is malformed. */
#define ZAP_MAX_FRAMES 8

ms_err ms_zap_bind(ms_transport *t, ms_errbuf *eb)
{
	int linger = 0;

	t->zap = zmq_socket(t->zctx, ZMQ_REP);
	if (t->zap == NULL)
		return ms_errf(eb, MS_ENET, "zmq_socket(REP): %s",
		               zmq_strerror(zmq_errno()));
	(void)zmq_setsockopt(t->zap, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_bind(t->zap, ZAP_ENDPOINT) != 0) {
		int e = zmq_errno();
		return ms_errf(eb, e == EADDRINUSE ? MS_EBUSY : MS_ENET,
		               "zmq_bind(%s): %s%s", ZAP_ENDPOINT,
		               zmq_strerror(e),
		               e == EADDRINUSE
		                       ? " (one transport per ZeroMQ context)"
		                       : "");
	}
	return MS_OK;
}

static int key_in(const uint8_t *list, size_t n,
                  const uint8_t key[MS_CURVE_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list + i * MS_CURVE_LEN, key, MS_CURVE_LEN) == 0)
			return 1;
	return 0;
}

/* Send the reply frames; a REP socket that cannot reply is stuck, so failures
 * here are only counted by libzmq (the handshake then times out). */
static void zap_reply(void *zap, const zmq_msg_t *reqid, const char *code,
                      const char *text, const char *user_id)
{
	(void)zmq_send(zap, ZAP_VERSION, strlen(ZAP_VERSION), ZMQ_SNDMORE);
	(void)zmq_send(zap,
	               reqid != NULL ? zmq_msg_data((zmq_msg_t *)reqid) : "",
	               reqid != NULL ? zmq_msg_size((zmq_msg_t *)reqid) : 0,
	               ZMQ_SNDMORE);
	(void)zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
	(void)zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
	(void)zmq_send(zap, user_id, strlen(user_id), ZMQ_SNDMORE);
	(void)zmq_send(zap, "", 0, 0); /* no metadata */
}

static int frame_is(zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);
	return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* Copy a frame as a NUL-terminated string, truncated to fit. */
static void frame_str(zmq_msg_t *m, char *out, size_t cap)
{
	size_t n = zmq_msg_size(m);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, zmq_msg_data(m), n);
	out[n] = '\0';
	/* an address is printed in logs: keep it printable */
	for (size_t i = 0; i < n; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			out[i] = '?';
}

/* Answer one request; 0 if none was pending, 1 otherwise. */
static int zap_one(ms_transport *t)
{
	zmq_msg_t f[ZAP_MAX_FRAMES];
	int n = 0, more = 1, extra = 0;
	ms_reject_reason why = 0;
	char addr[64] = "";
	char user_id[2 * MS_CURVE_LEN + 1] = "";
	const uint8_t *key = NULL;

	zmq_msg_init(&f[0]);
	if (zmq_msg_recv(&f[0], t->zap, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&f[0]);
		return 0;
	}
	n = 1;
	more = zmq_msg_more(&f[0]);
	/* the rest of a multipart message is already here (atomic delivery) */
	while (more) {
		if (n < ZAP_MAX_FRAMES) {
			zmq_msg_init(&f[n]);
			if (zmq_msg_recv(&f[n], t->zap, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&f[n]);
				break;
			}
			more = zmq_msg_more(&f[n]);
			n++;
		} else {
			zmq_msg_t junk;
			zmq_msg_init(&junk);
			if (zmq_msg_recv(&junk, t->zap, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&junk);
				break;
			}
			more = zmq_msg_more(&junk);
			zmq_msg_close(&junk);
			extra = 1;
		}
	}
	t->st.zap_requests++;

	/* version, request id, domain, address, identity, mechanism, creds... */
	if (n < 6 || extra || !frame_is(&f[0], ZAP_VERSION)) {
		why = MS_REJECT_MALFORMED;
	} else {
		frame_str(&f[3], addr, sizeof addr);
		if (!frame_is(&f[5], "CURVE")) {
			why = MS_REJECT_MECHANISM;
		} else if (n != 7 || zmq_msg_size(&f[6]) != MS_CURVE_LEN) {
			why = MS_REJECT_MALFORMED;
		} else {
			key = zmq_msg_data(&f[6]);
			if (key_in(t->deny, t->ndeny, key))
				why = MS_REJECT_DENYLIST;
			else if (t->has_allow &&
			         !key_in(t->allow, t->nallow, key))
				why = MS_REJECT_NOT_ALLOWED;
		}
	}

	if (why == 0) {
		ms_hex(user_id, key, MS_CURVE_LEN);
		zap_reply(t->zap, n >= 2 ? &f[1] : NULL, "200", "OK", user_id);
	} else {
		t->st.zap_denied[why]++;
		zap_reply(t->zap, n >= 2 ? &f[1] : NULL, "400",
		          ms_reject_reason_str(why), "");
		if (t->cbs.reject != NULL)
			t->cbs.reject(t->cbs.ctx, why, key, addr);
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	return 1;
}

int ms_transport_zap_handle(ms_transport *t)
{
	int done = 0;
	while (done < MS_TRANSPORT_BUDGET && zap_one(t))
		done++;
	return done;
}

void *ms_transport_zap_socket(const ms_transport *t)
{
	return t->zap;
}

ms_err ms_transport_acl_set(ms_transport *t, ms_acl_kind kind,
                            const uint8_t *ids, size_t n, ms_errbuf *eb)
{
	uint8_t *keys = NULL;

	if (kind != MS_ACL_ALLOW && kind != MS_ACL_DENY)
		return ms_errf(eb, MS_EINVAL, "acl: unknown list kind %d",
		               (int)kind);
	if (n > 0 && ids == NULL)
		return ms_errf(eb, MS_EINVAL, "acl: %zu ids but no buffer", n);
	if (n > SIZE_MAX / MS_CURVE_LEN)
		return ms_errf(eb, MS_EINVAL, "acl: %zu ids is too many", n);
	if (n > 0) {
		keys = malloc(n * MS_CURVE_LEN);
		if (keys == NULL)
			return ms_errf(eb, MS_ENOMEM,
			               "acl: malloc(%zu ids) failed", n);
	}
	for (size_t i = 0; i < n; i++) {
		ms_errbuf ceb;
		if (ms_ed25519_pk_to_curve(keys + i * MS_CURVE_LEN,
		                           ids + i * MS_PK_LEN,
		                           &ceb) != MS_OK) {
			free(keys);
			return ms_errf(
				eb, MS_EINVAL,
				"acl: node id #%zu is not a valid Ed25519 key: %s",
				i, ceb.msg);
		}
	}
	if (kind == MS_ACL_ALLOW) {
		free(t->allow);
		t->allow = keys;
		t->nallow = n;
		t->has_allow = 1;
	} else {
		free(t->deny);
		t->deny = keys;
		t->ndeny = n;
	}
	return MS_OK;
}

void ms_transport_acl_clear(ms_transport *t, ms_acl_kind kind)
{
	if (kind == MS_ACL_ALLOW) {
		free(t->allow);
		t->allow = NULL;
		t->nallow = 0;
		t->has_allow = 0;
	} else if (kind == MS_ACL_DENY) {
		free(t->deny);
		t->deny = NULL;
		t->ndeny = 0;
	}
}

void ms_zap_acl_free(ms_transport *t)
{
	ms_transport_acl_clear(t, MS_ACL_ALLOW);
	ms_transport_acl_clear(t, MS_ACL_DENY);
}
