/*
 * discovery.c — the discovery object as the node's loop sees it: its
 * configuration, the queue that carries events and log lines from the Avahi
 * thread to the loop (with the eventfd that announces them), the counters,
 * and the TXT record rules.  Everything that talks to Avahi is in
 * disc_avahi.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include "disc_int.h"

/* ------------------------------------------------------------------ queue */

/* Append under mu, then poke the eventfd (outside the lock: a write to an
 * eventfd never blocks for long, but there is no reason to hold mu). */
static void enqueue(struct ms_disc *d, disc_qent *e)
{
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&d->mu);
	if (d->qlen >= DISC_QUEUE_MAX) {
		d->st.queue_dropped++;
		pthread_mutex_unlock(&d->mu);
		free(e);
		return;
	}
	e->next = NULL;
	if (d->qtail != NULL)
		d->qtail->next = e;
	else
		d->qhead = e;
	d->qtail = e;
	d->qlen++;
	pthread_mutex_unlock(&d->mu);
	/* EAGAIN only when the counter would overflow: it is readable anyway. */
	n = write(d->efd, &one, sizeof one);
	(void)n;
}

void disc_queue_event(struct ms_disc *d, const ms_disc_event *ev)
{
	disc_qent *e = calloc(1, sizeof *e);

	if (e == NULL) {
		DISC_STAT(d, d->st.queue_dropped++);
		return;
	}
	e->ev = *ev;
	pthread_mutex_lock(&d->mu);
	if (ev->kind == MS_DISC_FOUND)
		d->st.found++;
	else if (ev->kind == MS_DISC_LOST)
		d->st.lost++;
	pthread_mutex_unlock(&d->mu);
	enqueue(d, e);
}

void disc_log(struct ms_disc *d, int level, const char *name, const char *fmt,
              ...)
{
	disc_qent *e;
	va_list ap;

	if (d->log_fn == NULL)
		return;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return;
	e->is_log = 1;
	e->level = level;
	if (name != NULL) {
		e->has_name = 1;
		snprintf(e->name, sizeof e->name, "%s", name);
	}
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	enqueue(d, e);
}

void disc_set_up(struct ms_disc *d, int up)
{
	ms_disc_event ev;
	int changed;

	pthread_mutex_lock(&d->mu);
	changed = !d->state_known || d->st.up != up;
	d->state_known = 1;
	d->st.up = up;
	if (!up)
		d->st.published = 0;
	pthread_mutex_unlock(&d->mu);
	if (!changed)
		return;
	memset(&ev, 0, sizeof ev);
	ev.kind = MS_DISC_STATE;
	ev.up = up;
	disc_queue_event(d, &ev);
}

/* ---------------------------------------------------------------- the API */

ms_err ms_disc_new(ms_disc **out, const ms_disc_cfg *cfg,
                   ms_disc_event_fn event_fn, ms_disc_log_fn log_fn, void *ctx,
                   ms_errbuf *eb)
{
	struct ms_disc *d = NULL;
	const char *type;
	char net_full[2 * MS_NETID_LEN + 1];
	ms_err err;
	int mu_ok = 0;

	if (out == NULL || cfg == NULL || event_fn == NULL)
		return ms_errf(eb, MS_EINVAL, "ms_disc_new: missing argument");
	*out = NULL;
	if (cfg->port == 0)
		return ms_errf(eb, MS_EINVAL, "ms_disc_new: port 0");
	if ((cfg->families & ~(unsigned)(MS_DISC_INET | MS_DISC_INET6)) != 0)
		return ms_errf(eb, MS_EINVAL,
		               "ms_disc_new: families 0x%x: unknown bits",
		               cfg->families);
	type = cfg->service_type != NULL ? cfg->service_type
	                                 : MS_DISC_SERVICE_TYPE;
	if (strlen(type) >= MS_DISC_NAME_MAX)
		return ms_errf(eb, MS_EINVAL,
		               "ms_disc_new: service type %s: "
		               "too long",
		               type);
	if (cfg->name != NULL && strlen(cfg->name) >= MS_DISC_NAME_MAX)
		return ms_errf(eb, MS_EINVAL,
		               "ms_disc_new: name %s: longer "
		               "than %d bytes",
		               cfg->name, MS_DISC_NAME_MAX - 1);

	d = calloc(1, sizeof *d);
	if (d == NULL)
		return ms_errf(eb, MS_ENOMEM, "ms_disc_new: out of memory");
	d->efd = -1;
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		err = ms_errf(eb, MS_EIO, "pthread_mutex_init: failed");
		goto fail;
	}
	mu_ok = 1;
	memcpy(d->node_id, cfg->node_id, MS_PK_LEN);
	ms_hex(d->id_hex, cfg->node_id, MS_PK_LEN);
	ms_hex(net_full, cfg->net_id, MS_NETID_LEN);
	memcpy(d->net_hex, net_full, MS_DISC_NET_HEX);
	d->net_hex[MS_DISC_NET_HEX] = '\0';
	d->version = cfg->proto_version;
	d->port = cfg->port;
	snprintf(d->type, sizeof d->type, "%s", type);
	switch (cfg->families) {
	case MS_DISC_INET:
		d->proto = AVAHI_PROTO_INET;
		break;
	case MS_DISC_INET6:
		d->proto = AVAHI_PROTO_INET6;
		break;
	default:
		d->proto = AVAHI_PROTO_UNSPEC;
		break;
	}
	d->retry_ms = cfg->retry_ms != 0 ? cfg->retry_ms
	                                 : MS_DISC_RETRY_MS_DEFAULT;
	d->no_publish = cfg->no_publish;
	d->max_records = cfg->max_records != 0 ? cfg->max_records
	                                       : MS_DISC_RECORDS_DEFAULT;
	d->event_fn = event_fn;
	d->log_fn = log_fn;
	d->ctx = ctx;
	if (cfg->name != NULL && cfg->name[0] != '\0')
		snprintf(d->name, sizeof d->name, "%s", cfg->name);
	else
		snprintf(d->name, sizeof d->name, "meshsync-%.12s", d->id_hex);
	memcpy(d->st.name, d->name, sizeof d->name);

	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		err = ms_errf(eb, MS_EIO, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((err = disc_avahi_start(d, eb)) != MS_OK)
		goto fail;
	*out = d;
	return MS_OK;

fail:
	disc_avahi_stop(d);
	if (d->efd >= 0)
		close(d->efd);
	if (mu_ok)
		pthread_mutex_destroy(&d->mu);
	free(d);
	return err;
}

void ms_disc_free(ms_disc **dp)
{
	struct ms_disc *d;
	disc_qent *e, *next;

	if (dp == NULL || *dp == NULL)
		return;
	d = *dp;
	*dp = NULL;
	disc_avahi_stop(d);
	for (e = d->qhead; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	close(d->efd);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int ms_disc_fd(const ms_disc *d)
{
	return d->efd;
}

int ms_disc_process(ms_disc *d)
{
	disc_qent *list, *e, *next, *last = NULL;
	uint64_t cnt, one = 1;
	ssize_t n;
	size_t took = 0;
	int delivered = 0, left;

	/* Reset the counter before taking the list: anything queued after this
	 * point writes the fd again, so nothing is left unannounced. */
	n = read(d->efd, &cnt, sizeof cnt);
	(void)n;
	pthread_mutex_lock(&d->mu);
	list = d->qhead;
	for (e = list; e != NULL && took < MS_DISC_PROCESS_MAX; e = e->next) {
		last = e;
		took++;
	}
	d->qhead = last != NULL ? last->next : NULL;
	if (d->qhead == NULL)
		d->qtail = NULL;
	if (last != NULL)
		last->next = NULL;
	d->qlen -= took;
	left = d->qhead != NULL;
	pthread_mutex_unlock(&d->mu);
	if (left) {
		/* the rest waits for the next call: keep the fd readable */
		n = write(d->efd, &one, sizeof one);
		(void)n;
	}
	for (e = list; e != NULL; e = next) {
		next = e->next;
		if (e->is_log) {
			if (d->log_fn != NULL)
				d->log_fn(d->ctx, e->level, e->msg,
				          e->has_name ? e->name : NULL);
		} else {
			d->event_fn(d->ctx, &e->ev);
			delivered++;
		}
		free(e);
	}
	return delivered;
}

int ms_disc_refresh(ms_disc *d)
{
	int r;

	avahi_threaded_poll_lock(d->tp);
	r = disc_avahi_rebrowse(d);
	avahi_threaded_poll_unlock(d->tp);
	return r;
}

void ms_disc_stats_get(const ms_disc *d, ms_disc_stats *out)
{
	struct ms_disc *m = (struct ms_disc *)d; /* the lock is not state */

	pthread_mutex_lock(&m->mu);
	*out = m->st;
	pthread_mutex_unlock(&m->mu);
}

/* ------------------------------------------------------------- TXT rules */

/* Does TXT string s (len bytes) have key k (case-insensitive, RFC 6763
 * 6.4)?  Sets *val and *vlen to the value after the "=". */
static int txt_key(const char *s, size_t len, const char *k, const char **val,
                   size_t *vlen)
{
	size_t kl = strlen(k), i;

	if (len <= kl || s[kl] != '=')
		return 0;
	for (i = 0; i < kl; i++)
		if (tolower((unsigned char)s[i]) != k[i])
			return 0;
	*val = s + kl + 1;
	*vlen = len - kl - 1;
	return 1;
}

static int all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

ms_err ms_disc_txt_parse(const char *const *txt, const size_t *len, size_t n,
                         uint8_t id[MS_PK_LEN], uint32_t *version,
                         char net[MS_DISC_NET_HEX + 1], ms_errbuf *eb)
{
	const char *v = NULL, *i = NULL, *nt = NULL, *val;
	size_t vl = 0, il = 0, nl = 0, vlen, k;
	char idbuf[2 * MS_PK_LEN + 1];
	uint64_t ver = 0;

	/* The first occurrence of a key counts; later ones are ignored
	 * (RFC 6763 6.4). */
	for (k = 0; k < n; k++) {
		if (v == NULL && txt_key(txt[k], len[k], "v", &val, &vlen)) {
			v = val;
			vl = vlen;
		} else if (i == NULL &&
		           txt_key(txt[k], len[k], "id", &val, &vlen)) {
			i = val;
			il = vlen;
		} else if (nt == NULL &&
		           txt_key(txt[k], len[k], "net", &val, &vlen)) {
			nt = val;
			nl = vlen;
		}
	}
	if (v == NULL || i == NULL || nt == NULL)
		return ms_errf(eb, MS_EPROTO, "txt: missing %s",
		               v == NULL   ? "v"
		               : i == NULL ? "id"
		                           : "net");
	if (vl == 0 || vl > 10)
		return ms_errf(eb, MS_EPROTO, "txt: v: not a version");
	for (k = 0; k < vl; k++) {
		if (v[k] < '0' || v[k] > '9')
			return ms_errf(eb, MS_EPROTO, "txt: v: not a number");
		ver = ver * 10 + (uint64_t)(v[k] - '0');
	}
	if (ver > UINT32_MAX)
		return ms_errf(eb, MS_EPROTO, "txt: v: out of range");
	if (il != 2 * MS_PK_LEN || !all_hex(i, il))
		return ms_errf(eb, MS_EPROTO, "txt: id: want %d hex digits",
		               2 * MS_PK_LEN);
	memcpy(idbuf, i, il);
	idbuf[il] = '\0';
	if (ms_unhex(id, MS_PK_LEN, idbuf) != 0)
		return ms_errf(eb, MS_EPROTO, "txt: id: not hex");
	if (nl != MS_DISC_NET_HEX || !all_hex(nt, nl))
		return ms_errf(eb, MS_EPROTO, "txt: net: want %d hex digits",
		               MS_DISC_NET_HEX);
	for (k = 0; k < nl; k++)
		net[k] = (char)tolower((unsigned char)nt[k]);
	net[nl] = '\0';
	*version = (uint32_t)ver;
	return MS_OK;
}
