/*
 * fault.c — the fault layer's configuration (keys, values, the one-line
 * description) and its sans-I/O core: seeded verdicts per message and the
 * partition and flap schedules (see fault.h).  The transport glue that
 * applies the verdicts is net/fault_link.c.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_int.h"
#include "ms_err_int.h"
#include "ms_parse.h"

#define PPM 1000000u
#define PPM_DIGITS 6
/* Longest duration a key takes: a partition that outlasts any run. */
#define DUR_MAX_MS (366ull * 24 * 3600 * 1000)

void ms_fault_config_default(ms_fault_config *c)
{
	memset(c, 0, sizeof *c);
}

int ms_fault_config_on(const ms_fault_config *c)
{
	return c->drop_ppm != 0 || c->duplicate_ppm != 0 ||
	       c->corrupt_ppm != 0 || c->reorder_ppm != 0 || c->delay_ms != 0 ||
	       c->jitter_ms != 0 || c->nsched != 0;
}

/* --- values -------------------------------------------------------------- */

/* "0", "1", "0.25", ".5", "1.0": parts per million, exactly.  Digits past
 * the sixth must be zeros (a millionth is the finest step). */
static int parse_prob(const char *p, uint32_t *ppm)
{
	return ms_parse_ppm(&p, ppm) != 0 || *p != '\0' ? -1 : 0;
}

/* A duration: digits with ms, s, m or h; bare digits are milliseconds
 * (fault.h).  At most DUR_MAX_MS. */
static int parse_dur(const char *text, uint64_t *out)
{
	uint64_t v;

	if (ms_parse_duration(&text, 1, &v) != 0 || *text != '\0' ||
	    v > DUR_MAX_MS)
		return -1;
	*out = v;
	return 0;
}

/* Next whitespace-separated token of *p into tok (cap bytes); 0 when
 * there is none, -1 when it does not fit. */
static int next_tok(const char **p, char *tok, size_t cap)
{
	const char *s = *p + strspn(*p, " \t");
	size_t n = strcspn(s, " \t");

	*p = s + n;
	if (n == 0)
		return 0;
	if (n >= cap)
		return -1;
	memcpy(tok, s, n);
	tok[n] = '\0';
	return 1;
}

/* "A B [ID ...]" (partition) or "UP DOWN [ID ...]", also spelt
 * "up UP down DOWN [ID ...]" (flap). */
static int set_sched(ms_fault_config *c, int kind, const char *key,
                     const char *value, ms_errbuf *eb)
{
	const char *p = value;
	const char *usage =
		kind == MS_FAULT_PARTITION
			? "FROM TO [NODE_ID ...]: durations after the epoch, FROM before TO, e.g. 10s 30s"
			: "UP DOWN [NODE_ID ...] or up UP down DOWN [NODE_ID ...]: durations above zero, e.g. up 5s down 10s";
	char tok[2 * MS_PK_LEN + 2];
	ms_fault_sched *s;
	uint64_t v[2];
	int r;

	if (c->nsched == MS_FAULT_MAX_SCHEDULES) {
		ms_errf(eb, MS_EINVAL,
		        "more than %d partition and flap lines for %s",
		        MS_FAULT_MAX_SCHEDULES, key);
		return -2;
	}
	s = &c->sched[c->nsched];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	for (int i = 0; i < 2; i++) {
		if ((r = next_tok(&p, tok, sizeof tok)) == 1 &&
		    kind == MS_FAULT_FLAP &&
		    strcmp(tok, i == 0 ? "up" : "down") == 0)
			r = next_tok(&p, tok, sizeof tok);
		if (r != 1 || parse_dur(tok, &v[i]) != 0)
			goto bad;
	}
	if (kind == MS_FAULT_PARTITION ? v[0] >= v[1] : v[0] == 0 || v[1] == 0)
		goto bad;
	s->a_ms = v[0];
	s->b_ms = v[1];
	while ((r = next_tok(&p, tok, sizeof tok)) != 0) {
		if (s->nids == MS_FAULT_MAX_IDS) {
			ms_errf(eb, MS_EINVAL, "more than %d node ids in %s",
			        MS_FAULT_MAX_IDS, key);
			return -2;
		}
		if (r < 0 || strlen(tok) != 2 * MS_PK_LEN ||
		    ms_unhex(s->ids[s->nids], MS_PK_LEN, tok) != 0) {
			ms_errf(eb, MS_EINVAL,
			        "bad node id in %s '%s' (64 hex digits)", key,
			        value);
			return -2;
		}
		s->nids++;
	}
	c->nsched++;
	return 0;
bad:
	ms_errf(eb, MS_EINVAL, "bad value '%s' for %s (%s)", value, key, usage);
	return -2;
}

int ms_fault_config_set(ms_fault_config *c, const char *key, const char *value,
                        ms_errbuf *eb)
{
	static const struct {
		const char *name;
		size_t off;
	} probs[] = {
		{"drop", offsetof(ms_fault_config, drop_ppm)},
		{"duplicate", offsetof(ms_fault_config, duplicate_ppm)},
		{"corrupt", offsetof(ms_fault_config, corrupt_ppm)},
		{"reorder", offsetof(ms_fault_config, reorder_ppm)},
	};
	const char *end;
	uint64_t v;

	for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++) {
		uint32_t ppm;
		if (strcmp(key, probs[i].name) != 0)
			continue;
		if (parse_prob(value, &ppm) != 0) {
			ms_errf(eb, MS_EINVAL,
			        "bad value '%s' for %s (a probability from 0 to 1, e.g. 0.05)",
			        value, key);
			return -2;
		}
		memcpy((char *)c + probs[i].off, &ppm, sizeof ppm);
		return 0;
	}
	if (strcmp(key, "delay") == 0 || strcmp(key, "jitter") == 0) {
		if (parse_dur(value, &v) != 0) {
			ms_errf(eb, MS_EINVAL,
			        "bad value '%s' for %s (a duration: milliseconds, or with ms, s, m or h, e.g. 100ms)",
			        value, key);
			return -2;
		}
		if (key[0] == 'd')
			c->delay_ms = v;
		else
			c->jitter_ms = v;
		return 0;
	}
	if (strcmp(key, "seed") == 0 || strcmp(key, "epoch") == 0) {
		end = value;
		if (ms_parse_u64(&end, &v) != 0 || *end != '\0') {
			ms_errf(eb, MS_EINVAL,
			        key[0] == 's'
			                ? "bad value '%s' for %s (a number; 0 picks one)"
			                : "bad value '%s' for %s (unix time in milliseconds)",
			        value, key);
			return -2;
		}
		if (key[0] == 's')
			c->seed = v;
		else
			c->epoch_ms = v;
		return 0;
	}
	if (strcmp(key, "partition") == 0)
		return set_sched(c, MS_FAULT_PARTITION, key, value, eb);
	if (strcmp(key, "flap") == 0)
		return set_sched(c, MS_FAULT_FLAP, key, value, eb);
	ms_errf(eb, MS_EINVAL,
	        "unknown key '%s' in [faults] (seed, drop, duplicate, corrupt, reorder, delay, jitter, epoch, partition or flap)",
	        key);
	return -1;
}

/* Trim spaces and tabs at both ends of s[0..n) in place; returns s. */
static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t\r\n");
	n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

ms_err ms_fault_config_parse(ms_fault_config *c, const char *text,
                             ms_errbuf *eb)
{
	char *copy = strdup(text), *item, *next;
	ms_errbuf why = {0};
	ms_err e = MS_OK;

	if (copy == NULL)
		return ms_errf(eb, MS_ENOMEM, "faults: out of memory");
	for (item = copy; item != NULL && e == MS_OK; item = next) {
		char *eq, *k;
		if ((next = strchr(item, ';')) != NULL)
			*next++ = '\0';
		k = trim(item);
		if (*k == '\0')
			continue; /* "a=1;;b=2", a trailing ';' */
		if ((eq = strchr(k, '=')) == NULL) {
			e = ms_errf(eb, MS_EINVAL, "'%s': expected key=value",
			            k);
			break;
		}
		*eq = '\0';
		if (ms_fault_config_set(c, trim(k), trim(eq + 1), &why) != 0)
			e = ms_errf(eb, MS_EINVAL, "%s", why.msg);
	}
	free(copy);
	return e;
}

/* Probability in ppm as the shortest decimal ("0.3", "0.05", "1"). */
static void prob_text(char *buf, size_t cap, uint32_t ppm)
{
	char frac[PPM_DIGITS + 1];
	size_t n;

	if (ppm >= PPM) {
		snprintf(buf, cap, "1");
		return;
	}
	snprintf(frac, sizeof frac, "%06" PRIu32, ppm);
	n = strlen(frac);
	while (n > 1 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(buf, cap, "0.%s", frac);
}

/* A duration in the largest unit that keeps it exact. */
static void dur_text(char *buf, size_t cap, uint64_t ms)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, cap, "%" PRIu64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, cap, "%" PRIu64 "m", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, cap, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, cap, "%" PRIu64 "ms", ms);
}

/* Append to buf (cap bytes) at *off; past the end only *off moves. */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + (*off < cap ? *off : cap),
	              *off < cap ? cap - *off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

void ms_fault_config_describe(const ms_fault_config *c, char *buf, size_t cap)
{
	const struct {
		const char *name;
		uint32_t ppm;
	} probs[] = {
		{"drop", c->drop_ppm},
		{"duplicate", c->duplicate_ppm},
		{"corrupt", c->corrupt_ppm},
		{"reorder", c->reorder_ppm},
	};
	size_t off = 0;
	uint32_t np = 0, nf = 0;
	char v[32], w[32];

	if (cap == 0)
		return;
	buf[0] = '\0';
	put(buf, cap, &off, "seed=%" PRIu64, c->seed);
	for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++) {
		if (probs[i].ppm == 0)
			continue;
		prob_text(v, sizeof v, probs[i].ppm);
		put(buf, cap, &off, " %s=%s", probs[i].name, v);
	}
	if (c->delay_ms != 0) {
		dur_text(v, sizeof v, c->delay_ms);
		put(buf, cap, &off, " delay=%s", v);
	}
	if (c->jitter_ms != 0) {
		dur_text(v, sizeof v, c->jitter_ms);
		put(buf, cap, &off, " jitter=%s", v);
	}
	if (c->epoch_ms != 0)
		put(buf, cap, &off, " epoch=%" PRIu64, c->epoch_ms);
	for (uint32_t i = 0; i < c->nsched; i++) {
		const ms_fault_sched *s = &c->sched[i];
		if (s->kind == MS_FAULT_PARTITION)
			np++;
		else
			nf++;
		dur_text(v, sizeof v, s->a_ms);
		dur_text(w, sizeof w, s->b_ms);
		/* the first schedule of each kind in full, for the log */
		if ((s->kind == MS_FAULT_PARTITION ? np : nf) == 1)
			put(buf, cap, &off, " %s=%s/%s%s",
			    s->kind == MS_FAULT_PARTITION ? "partition"
			                                  : "flap",
			    v, w, s->nids ? "/some" : "/all");
	}
	if (np > 1)
		put(buf, cap, &off, " partitions=%" PRIu32, np);
	if (nf > 1)
		put(buf, cap, &off, " flaps=%" PRIu32, nf);
}

int ms_fault_config_equal(const ms_fault_config *a, const ms_fault_config *b)
{
	if (a->seed != b->seed || a->drop_ppm != b->drop_ppm ||
	    a->duplicate_ppm != b->duplicate_ppm ||
	    a->corrupt_ppm != b->corrupt_ppm ||
	    a->reorder_ppm != b->reorder_ppm || a->delay_ms != b->delay_ms ||
	    a->jitter_ms != b->jitter_ms || a->epoch_ms != b->epoch_ms ||
	    a->nsched != b->nsched)
		return 0;
	for (uint32_t i = 0; i < a->nsched && i < MS_FAULT_MAX_SCHEDULES; i++) {
		const ms_fault_sched *x = &a->sched[i], *y = &b->sched[i];
		if (x->kind != y->kind || x->a_ms != y->a_ms ||
		    x->b_ms != y->b_ms || x->nids != y->nids ||
		    x->nids > MS_FAULT_MAX_IDS ||
		    memcmp(x->ids, y->ids, (size_t)x->nids * MS_PK_LEN) != 0)
			return 0;
	}
	return 1;
}

/* --- the core ------------------------------------------------------------ */

ms_fault *ms_fault_new(const ms_fault_config *c, uint64_t start_wall_ms)
{
	ms_fault *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	f->c = *c;
	if (f->c.nsched > MS_FAULT_MAX_SCHEDULES)
		f->c.nsched = MS_FAULT_MAX_SCHEDULES;
	f->seed = ms_rng_seed(&f->rng, c->seed);
	f->c.seed = f->seed;
	f->epoch_ms = c->epoch_ms != 0 ? c->epoch_ms : start_wall_ms;
	return f;
}

void ms_fault_free(ms_fault *f)
{
	if (f == NULL)
		return;
	/* the transport is not touched: it is detached or already freed
	 * (fault.h) */
	for (size_t i = 0; i < f->nq; i++)
		free(f->q[i].buf);
	free(f->q);
	free(f->keys);
	free(f);
}

uint64_t ms_fault_seed(const ms_fault *f)
{
	return f->seed;
}

static int names(const ms_fault_sched *s, const uint8_t *peer)
{
	if (s->nids == 0)
		return 1;
	if (peer == NULL)
		return 0;
	for (uint32_t i = 0; i < s->nids && i < MS_FAULT_MAX_IDS; i++)
		if (memcmp(s->ids[i], peer, MS_PK_LEN) == 0)
			return 1;
	return 0;
}

int ms_fault_cut(const ms_fault *f, const uint8_t *peer, uint64_t now_wall_ms)
{
	uint64_t t;

	/* before the epoch no schedule has begun */
	if (now_wall_ms < f->epoch_ms)
		return 0;
	t = now_wall_ms - f->epoch_ms;
	for (uint32_t i = 0; i < f->c.nsched; i++) {
		const ms_fault_sched *s = &f->c.sched[i];
		if (!names(s, peer))
			continue;
		/* partition: down in [a, b); flap: up in [0, up), down in
		 * [up, up + down) of each period */
		if (s->kind == MS_FAULT_PARTITION && t >= s->a_ms &&
		    t < s->b_ms)
			return 1;
		if (s->kind == MS_FAULT_FLAP && s->a_ms + s->b_ms != 0 &&
		    t % (s->a_ms + s->b_ms) >= s->a_ms)
			return 1;
	}
	return 0;
}

/* A draw below ppm out of a million, always consuming the PRNG the same
 * way (ms_rng_chance skips the draw for 0, which would shift every later
 * verdict when one probability changes). */
static int chance(ms_rng *r, uint32_t ppm)
{
	return ms_rng_below(r, PPM) < ppm;
}

void ms_fault_decide(ms_fault *f, const uint8_t *peer, uint64_t now_wall_ms,
                     size_t len, ms_fault_verdict *v)
{
	ms_fault_config *c = &f->c;
	int drop, dup, corrupt, reorder, ncor;
	uint64_t jit, delay;
	size_t at[4];
	uint8_t x[4];

	memset(v, 0, sizeof *v);
	v->copies = 1;
	f->st.seen++;
	/* Every call draws the same values in the same order, whatever the
	 * outcome, so verdict n depends only on the seed and n. */
	drop = chance(&f->rng, c->drop_ppm);
	dup = chance(&f->rng, c->duplicate_ppm);
	corrupt = chance(&f->rng, c->corrupt_ppm);
	reorder = chance(&f->rng, c->reorder_ppm);
	jit = ms_rng_below(&f->rng, 2 * c->jitter_ms + 1);
	ncor = 1 + (int)ms_rng_below(&f->rng, 4);
	for (int i = 0; i < 4; i++) {
		at[i] = (size_t)ms_rng_below(&f->rng, len);
		x[i] = (uint8_t)(1 + ms_rng_below(&f->rng, 255));
	}

	if (ms_fault_cut(f, peer, now_wall_ms)) {
		v->drop = 1;
		f->st.cut++;
		return;
	}
	if (drop) {
		v->drop = 1;
		f->st.dropped++;
		return;
	}
	if (dup) {
		v->copies = 2;
		f->st.duplicated++;
	}
	if (corrupt && len > 0) {
		/* distinct offsets, so two flips never cancel out */
		for (int i = 0; i < ncor; i++) {
			int seen = 0;
			for (int k = 0; k < v->ncorrupt; k++)
				seen |= v->corrupt_at[k] == at[i];
			if (seen)
				continue;
			v->corrupt_at[v->ncorrupt] = at[i];
			v->corrupt_xor[v->ncorrupt] = x[i];
			v->ncorrupt++;
		}
		f->st.corrupted++;
	}
	if (reorder) {
		v->hold = 1;
		f->st.reordered++;
	}
	/* delay + jitter in [-jitter, +jitter], never below zero */
	delay = c->delay_ms + jit;
	delay = delay > c->jitter_ms ? delay - c->jitter_ms : 0;
	if (delay > 0) {
		v->delay_ms = delay;
		f->st.delayed++;
	}
}

void ms_fault_stats_get(const ms_fault *f, ms_fault_stats *out)
{
	*out = f->st;
}
