/*
 * scenario.c — reading a meshsim scenario file (libinih, errors naming
 * the file and line), checking it as a whole (node indexes, events that
 * leave every node up at the end), and what both runners derive from it:
 * the links of the topology and the time the last heal happens.
 */
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_err_int.h"
#include "rng.h"
#include "scenario.h"

#include "ms_parse.h"

typedef struct sc_ctx {
	msim_scenario *sc;
	const char *path;
	FILE *f;
	int line;
	int err_line; /* first line with an error, 0 if none */
	char why[256];
	const char *const *sets; /* --set overrides, applied after the file */
	size_t nsets;
} sc_ctx;

static int sc_fail(sc_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int sc_fail(sc_ctx *x, const char *fmt, ...)
{
	if (x->err_line == 0) {
		va_list ap;
		x->err_line = x->line;
		va_start(ap, fmt);
		vsnprintf(x->why, sizeof x->why, fmt, ap);
		va_end(ap);
	}
	return 0;
}

static char *sc_read_line(char *str, int num, void *stream)
{
	sc_ctx *x = stream;
	size_t n;

	if (fgets(str, num, x->f) == NULL)
		return NULL;
	x->line++;
	n = strlen(str);
	if (n > 0 && str[n - 1] != '\n' && !feof(x->f)) {
		int ch;
		while ((ch = fgetc(x->f)) != EOF && ch != '\n')
			;
		sc_fail(x, "line longer than %d bytes", num - 2);
		str[0] = '\0';
	}
	return str;
}

/* A whole-number value, nothing after it. */
static int parse_num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (ms_parse_u64(&s, &v) != 0 || *s != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* "250ms", "5s", "2m", or a bare number of seconds; advances *pp. */
static int parse_dur(const char **pp, uint64_t *out)
{
	return ms_parse_duration(pp, 1000, out);
}

static int parse_dur_all(const char *s, uint64_t *out)
{
	return parse_dur(&s, out) != 0 || *s != '\0' ? -1 : 0;
}

/* A share 0..1 ("0.25", "1", ".5") as parts per million. */
static int parse_share(const char *s, uint32_t *ppm)
{
	return ms_parse_ppm(&s, ppm) != 0 || *s != '\0' ? -1 : 0;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A node index below sc->nodes; advances *pp. */
static int parse_node(sc_ctx *x, const char **pp, int *out)
{
	uint64_t v;

	if (ms_parse_u64(pp, &v) != 0)
		return -1;
	if (v >= (uint64_t)x->sc->nodes)
		return -2;
	*out = (int)v;
	return 0;
}

/* "0,2,5" into a bit set of node indexes; stops at '|' or the end. */
static int parse_set(sc_ctx *x, const char **pp, uint64_t *set)
{
	const char *p = skip_ws(*pp);
	int i, r;

	*set = 0;
	for (;;) {
		if ((r = parse_node(x, &p, &i)) != 0)
			return r;
		*set |= 1ull << i;
		p = skip_ws(p);
		if (*p != ',')
			break;
		p = skip_ws(p + 1);
	}
	*pp = p;
	return 0;
}

static int sc_mesh(sc_ctx *x, const char *name, const char *value)
{
	msim_scenario *sc = x->sc;
	uint64_t v;

	if (strcmp(name, "nodes") == 0) {
		if (parse_num(value, 2, MSIM_MAX_NODES, &v) != 0)
			return sc_fail(x, "bad value '%s' for nodes (2..%d)",
			               value, MSIM_MAX_NODES);
		sc->nodes = (int)v;
		return 1;
	}
	if (strcmp(name, "topology") == 0) {
		static const char *const names[] = {"line", "ring", "grid",
		                                    "full", "random"};
		for (int i = 0; i < 5; i++)
			if (strcmp(value, names[i]) == 0) {
				sc->topology = MSIM_LINE + i;
				return 1;
			}
		return sc_fail(x,
		               "bad value '%s' for topology (line, ring, grid, "
		               "full or random)",
		               value);
	}
	if (strcmp(name, "degree") == 0) {
		if (parse_num(value, 1, MSIM_MAX_NODES - 1, &v) != 0)
			return sc_fail(x, "bad value '%s' for degree (1..%d)",
			               value, MSIM_MAX_NODES - 1);
		sc->degree = (int)v;
		return 1;
	}
	if (strcmp(name, "seed") == 0) {
		if (parse_num(value, 0, UINT64_MAX, &v) != 0)
			return sc_fail(x, "bad value '%s' for seed (a number)",
			               value);
		sc->seed = v;
		return 1;
	}
	if (strcmp(name, "deadline") == 0) {
		if (parse_dur_all(value, &v) != 0 || v == 0)
			return sc_fail(
				x,
				"bad value '%s' for deadline (a duration "
				"such as 30s or 500ms)",
				value);
		sc->deadline_ms = v;
		return 1;
	}
	return sc_fail(x, "unknown key '%s' in [mesh]", name);
}

static int sc_writes(sc_ctx *x, const char *name, const char *value)
{
	msim_scenario *sc = x->sc;
	uint64_t v;

	if (strcmp(name, "count") == 0 || strcmp(name, "rate") == 0) {
		if (parse_num(value, 0, 10000000, &v) != 0)
			return sc_fail(x, "bad value '%s' for %s (0..10000000)",
			               value, name);
		if (name[0] == 'c')
			sc->count = (uint32_t)v;
		else
			sc->rate = (uint32_t)v;
		return 1;
	}
	if (strcmp(name, "writers") == 0) {
		const char *p = value;
		if (strcmp(value, "all") == 0) {
			sc->writers = 0; /* resolved once nodes is known */
			return 1;
		}
		if (parse_set(x, &p, &sc->writers) != 0 || *p != '\0')
			return sc_fail(
				x,
				"bad value '%s' for writers (all, or node "
				"indexes below nodes such as 0,2,5; put "
				"nodes before writers)",
				value);
		return 1;
	}
	if (strcmp(name, "background") == 0 ||
	    strcmp(name, "shared_keys") == 0) {
		uint32_t ppm;
		if (parse_share(value, &ppm) != 0)
			return sc_fail(x,
			               "bad value '%s' for %s (a share from 0 "
			               "to 1)",
			               value, name);
		if (name[0] == 'b')
			sc->background_ppm = ppm;
		else
			sc->shared_ppm = ppm;
		return 1;
	}
	if (strcmp(name, "value_size") == 0) {
		if (parse_num(value, 1, 65536, &v) != 0)
			return sc_fail(
				x, "bad value '%s' for value_size (1..65536)",
				value);
		sc->value_size = (uint32_t)v;
		return 1;
	}
	if (strcmp(name, "start") == 0) {
		if (parse_dur_all(value, &v) != 0)
			return sc_fail(x,
			               "bad value '%s' for start (a duration)",
			               value);
		sc->start_ms = v;
		return 1;
	}
	return sc_fail(x, "unknown key '%s' in [writes]", name);
}

static int sc_faults(sc_ctx *x, const char *name, const char *value)
{
	ms_errbuf eb = {0};
	int r;

	/* Schedules come from [events] (they name node indexes, not ids) and
	 * the seed and epoch from the run: meshsim sets them per node. */
	if (strcmp(name, "partition") == 0 || strcmp(name, "flap") == 0)
		return sc_fail(x, "%s belongs in [events] (with node indexes)",
		               name);
	if (strcmp(name, "seed") == 0 || strcmp(name, "epoch") == 0)
		return sc_fail(x,
		               "%s is set by meshsim ([mesh] seed, the run's "
		               "start)",
		               name);
	r = ms_fault_config_set(&x->sc->faults, name, value, &eb);
	if (r == -1)
		return sc_fail(x, "unknown key '%s' in [faults]", name);
	if (r != 0)
		return sc_fail(x, "%s", eb.msg);
	return 1;
}

static int sc_event(sc_ctx *x, const char *name, const char *value)
{
	msim_scenario *sc = x->sc;
	msim_event *e;
	const char *p = skip_ws(value);
	int r = 0;

	if (sc->nevents == MSIM_MAX_EVENTS)
		return sc_fail(x, "more than %d events", MSIM_MAX_EVENTS);
	e = &sc->ev[sc->nevents];
	memset(e, 0, sizeof *e);
	e->i = e->j = -1;
	if (strcmp(name, "partition") == 0) {
		e->kind = MSIM_EV_PARTITION;
		if (parse_dur(&p, &e->t_ms) != 0)
			goto bad_partition;
		p = skip_ws(p);
		if (parse_dur(&p, &e->end_ms) != 0 || e->end_ms <= e->t_ms)
			goto bad_partition;
		if ((r = parse_set(x, &p, &e->set_a)) != 0 || *p != '|')
			goto bad_partition;
		p++;
		if ((r = parse_set(x, &p, &e->set_b)) != 0 || *p != '\0' ||
		    (e->set_a & e->set_b) != 0)
			goto bad_partition;
	} else if (strcmp(name, "flap") == 0) {
		e->kind = MSIM_EV_FLAP;
		if ((r = parse_node(x, &p, &e->i)) != 0 || *p != '-')
			goto bad_flap;
		p++;
		if ((r = parse_node(x, &p, &e->j)) != 0 || e->i == e->j)
			goto bad_flap;
		p = skip_ws(p);
		if (parse_dur(&p, &e->up_ms) != 0 || e->up_ms == 0)
			goto bad_flap;
		p = skip_ws(p);
		if (parse_dur(&p, &e->down_ms) != 0 || e->down_ms == 0 ||
		    *skip_ws(p) != '\0')
			goto bad_flap;
	} else if (strcmp(name, "kill") == 0 || strcmp(name, "restart") == 0 ||
	           strcmp(name, "term") == 0) {
		e->kind = name[0] == 'k'   ? MSIM_EV_KILL
		          : name[0] == 'r' ? MSIM_EV_RESTART
		                           : MSIM_EV_TERM;
		if (parse_dur(&p, &e->t_ms) != 0)
			goto bad_node_event;
		p = skip_ws(p);
		if ((r = parse_node(x, &p, &e->i)) != 0 || *skip_ws(p) != '\0')
			goto bad_node_event;
	} else {
		return sc_fail(x,
		               "unknown event '%s' in [events] (partition, "
		               "flap, kill, restart or term)",
		               name);
	}
	sc->nevents++;
	return 1;
bad_partition:
	return sc_fail(x,
	               "bad partition '%s' (START END A | B: durations, "
	               "END after START, two disjoint sets of node indexes "
	               "below nodes, e.g. 5s 20s 0,1,2 | 3,4,5)%s",
	               value, r == -2 ? ": no such node" : "");
bad_flap:
	return sc_fail(x,
	               "bad flap '%s' (I-J UP DOWN: a link between node "
	               "indexes below nodes, two non-zero durations, e.g. "
	               "0-1 5s 10s)%s",
	               value, r == -2 ? ": no such node" : "");
bad_node_event:
	return sc_fail(x,
	               "bad %s '%s' (TIME NODE: a duration and a node index "
	               "below nodes, e.g. 10s 3)%s",
	               name, value, r == -2 ? ": no such node" : "");
}

static int sc_adversary(sc_ctx *x, const char *name, const char *value)
{
	msim_scenario *sc = x->sc;
	uint64_t v;

	if (strcmp(name, "mode") == 0) {
		size_t n = strlen(value);
		if (n == 0 || n >= sizeof sc->adv_mode ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz-") != n)
			return sc_fail(
				x,
				"bad value '%s' for mode (an ms-adversary "
				"mode such as vv-flood)",
				value);
		memcpy(sc->adv_mode, value, n + 1);
		return 1;
	}
	if (strcmp(name, "target") == 0) {
		const char *p = value;
		if (parse_node(x, &p, &sc->adv_target) != 0 || *p != '\0')
			return sc_fail(
				x,
				"bad value '%s' for target (a node index "
				"below nodes)",
				value);
		return 1;
	}
	if (strcmp(name, "seconds") == 0) {
		if (parse_num(value, 1, 600, &v) != 0)
			return sc_fail(x, "bad value '%s' for seconds (1..600)",
			               value);
		sc->adv_seconds = (uint32_t)v;
		return 1;
	}
	return sc_fail(x, "unknown key '%s' in [adversary]", name);
}

static int sc_entry(void *user, const char *section, const char *name,
                    const char *value)
{
	sc_ctx *x = user;

	if (x->err_line != 0)
		return 0;
	if (strcmp(section, "mesh") == 0)
		return sc_mesh(x, name, value);
	if (strcmp(section, "writes") == 0)
		return sc_writes(x, name, value);
	if (strcmp(section, "faults") == 0)
		return sc_faults(x, name, value);
	if (strcmp(section, "events") == 0)
		return sc_event(x, name, value);
	if (strcmp(section, "adversary") == 0)
		return sc_adversary(x, name, value);
	if (section[0] == '\0')
		return sc_fail(
			x,
			"key '%s' outside any section ([mesh], [writes], "
			"[faults], [events] or [adversary])",
			name);
	return sc_fail(x, "unknown section [%s]", section);
}

static void sc_defaults(msim_scenario *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->nodes = 3;
	sc->topology = MSIM_LINE;
	sc->degree = 3;
	sc->seed = 1;
	sc->deadline_ms = 60000;
	sc->count = 100;
	sc->rate = 50;
	sc->value_size = 64;
	sc->adv_target = 0;
	sc->adv_seconds = 10;
	ms_fault_config_default(&sc->faults);
}

/* Name the scenario after its file: "dir/lossy.ini" -> "lossy". */
static void sc_name(msim_scenario *sc, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".ini") == 0)
		n -= 4;
	if (n >= sizeof sc->name)
		n = sizeof sc->name - 1;
	memcpy(sc->name, base, n);
	sc->name[n] = '\0';
}

/* Node up/down events must alternate per node, ending with every node up:
 * convergence is judged over all nodes. */
static ms_err sc_check_events(const msim_scenario *sc, const char *path,
                              ms_errbuf *eb)
{
	for (int n = 0; n < sc->nodes; n++) {
		uint64_t t = 0;
		int down = 0;
		for (;;) {
			/* the next event of node n at or after t, in time
			 * order (file order among equal times) */
			const msim_event *next = NULL;
			for (int k = 0; k < sc->nevents; k++) {
				const msim_event *e = &sc->ev[k];
				if (e->kind < MSIM_EV_KILL || e->i != n ||
				    e->t_ms < t)
					continue;
				if (next == NULL || e->t_ms < next->t_ms)
					next = e;
			}
			if (next == NULL)
				break;
			if ((next->kind == MSIM_EV_RESTART) != down)
				return ms_errf(eb, MS_EINVAL,
				               "%s: [events] %s of node %d at "
				               "%" PRIu64
				               "ms: the node is %s then",
				               path,
				               next->kind == MSIM_EV_RESTART
				                       ? "restart"
				               : next->kind == MSIM_EV_KILL
				                       ? "kill"
				                       : "term",
				               n, next->t_ms,
				               down ? "already down" : "up");
			down = !down;
			t = next->t_ms + 1;
		}
		if (down)
			return ms_errf(
				eb, MS_EINVAL,
				"%s: [events] node %d is stopped and never "
				"restarted (convergence needs every node up: "
				"add a restart)",
				path, n);
	}
	for (int k = 0; k < sc->nevents; k++) {
		const msim_event *e = &sc->ev[k];
		if (e->kind == MSIM_EV_FLAP && !sc->link[e->i][e->j])
			return ms_errf(
				eb, MS_EINVAL,
				"%s: [events] flap %d-%d: the topology has "
				"no such link",
				path, e->i, e->j);
	}
	return MS_OK;
}

static int sc_apply_set(sc_ctx *x, const char *s)
{
	char section[32], key[64];
	const char *dot = strchr(s, '.'), *eq = strchr(s, '=');

	if (dot == NULL || eq == NULL || dot > eq ||
	    (size_t)(dot - s) >= sizeof section ||
	    (size_t)(eq - dot - 1) >= sizeof key)
		return sc_fail(x, "bad --set '%s' (SECTION.KEY=VALUE)", s);
	memcpy(section, s, (size_t)(dot - s));
	section[dot - s] = '\0';
	memcpy(key, dot + 1, (size_t)(eq - dot - 1));
	key[eq - dot - 1] = '\0';
	/* a repeated count/rate/... replaces; an event adds one more */
	return sc_entry(x, section, key, eq + 1);
}

ms_err msim_scenario_load_ex(msim_scenario *sc, const char *path,
                             uint64_t seed_override, const char *const *sets,
                             size_t nsets, ms_errbuf *eb)
{
	sc_ctx x = {.sc = sc, .path = path, .sets = sets, .nsets = nsets};
	int rc;
	ms_err e;

	sc_defaults(sc);
	sc_name(sc, path);
	x.f = fopen(path, "r");
	if (x.f == NULL)
		return ms_errf(eb, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
		               "open %s: %s", path, strerror(errno));
	rc = ini_parse_stream(sc_read_line, &x, sc_entry, &x);
	fclose(x.f);
	if (rc > 0 && x.err_line == 0) {
		x.err_line = rc;
		snprintf(x.why, sizeof x.why, "syntax error");
	}
	if (rc < 0)
		return ms_errf(eb, MS_EIO, "read %s: failed", path);
	if (x.err_line != 0)
		return ms_errf(eb, MS_EINVAL, "%s:%d: %s", path, x.err_line,
		               x.why);
	for (size_t i = 0; i < nsets; i++) {
		x.line = 1;
		sc_apply_set(&x, sets[i]);
		if (x.err_line != 0)
			return ms_errf(eb, MS_EINVAL, "--set %s: %s", sets[i],
			               x.why);
	}
	if (seed_override != 0)
		sc->seed = seed_override;
	if (sc->seed == 0) {
		ms_rng r;
		sc->seed = ms_rng_seed(&r, 0);
	}
	if (sc->writers == 0 || sc->writers >> sc->nodes != 0) {
		if (sc->writers >> sc->nodes != 0)
			return ms_errf(
				eb, MS_EINVAL,
				"%s: [writes] writers names a node beyond "
				"nodes = %d",
				path, sc->nodes);
		sc->writers = sc->nodes == 64 ? UINT64_MAX
		                              : (1ull << sc->nodes) - 1;
	}
	if (sc->adv_mode[0] != '\0' && sc->adv_target >= sc->nodes)
		return ms_errf(eb, MS_EINVAL,
		               "%s: [adversary] target %d: no such node", path,
		               sc->adv_target);
	for (int k = 0; k < sc->nevents; k++) {
		const msim_event *ev = &sc->ev[k];
		uint64_t all = ((ev->set_a | ev->set_b) >> sc->nodes);
		if (ev->i >= sc->nodes || ev->j >= sc->nodes || all != 0)
			return ms_errf(
				eb, MS_EINVAL,
				"%s: [events] event %d names a node beyond "
				"nodes = %d",
				path, k + 1, sc->nodes);
	}
	msim_scenario_links(sc);
	if ((e = sc_check_events(sc, path, eb)) != MS_OK)
		return e;
	return MS_OK;
}

ms_err msim_scenario_load(msim_scenario *sc, const char *path,
                          uint64_t seed_override, ms_errbuf *eb)
{
	return msim_scenario_load_ex(sc, path, seed_override, NULL, 0, eb);
}

static void link_set(msim_scenario *sc, int a, int b)
{
	sc->link[a][b] = sc->link[b][a] = 1;
}

/* Random: a random spanning tree (so the mesh is connected), then extra
 * links between nodes still short of `degree`, chosen by the seed. */
static void links_random(msim_scenario *sc)
{
	int n = sc->nodes, order[MSIM_MAX_NODES], deg[MSIM_MAX_NODES] = {0};
	ms_rng r;

	/* its own stream: the topology must not shift when writes or faults
	 * draw differently */
	ms_rng_seed(&r, sc->seed ^ 0x746f706f6c6f6779ull);
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int k = (int)ms_rng_below(&r, (uint64_t)i + 1), t = order[i];
		order[i] = order[k];
		order[k] = t;
	}
	for (int i = 1; i < n; i++) {
		int a = order[i], b = order[ms_rng_below(&r, (uint64_t)i)];
		link_set(sc, a, b);
		deg[a]++;
		deg[b]++;
	}
	for (int a = 0; a < n; a++) {
		/* bounded: at most 4n tries per node */
		for (int tries = 0; deg[a] < sc->degree && tries < 4 * n;
		     tries++) {
			int b = (int)ms_rng_below(&r, (uint64_t)n);
			if (b == a || sc->link[a][b] || deg[b] >= sc->degree)
				continue;
			link_set(sc, a, b);
			deg[a]++;
			deg[b]++;
		}
	}
}

void msim_scenario_links(msim_scenario *sc)
{
	int n = sc->nodes;

	memset(sc->link, 0, sizeof sc->link);
	switch (sc->topology) {
	case MSIM_LINE:
	case MSIM_RING:
		for (int i = 0; i + 1 < n; i++)
			link_set(sc, i, i + 1);
		if (sc->topology == MSIM_RING && n > 2)
			link_set(sc, n - 1, 0);
		break;
	case MSIM_GRID: {
		int cols = 1;
		while (cols * cols < n)
			cols++;
		for (int i = 0; i < n; i++) {
			if ((i + 1) % cols != 0 && i + 1 < n)
				link_set(sc, i, i + 1);
			if (i + cols < n)
				link_set(sc, i, i + cols);
		}
		break;
	}
	case MSIM_FULL:
		for (int i = 0; i < n; i++)
			for (int j = i + 1; j < n; j++)
				link_set(sc, i, j);
		break;
	case MSIM_RANDOM:
	default:
		links_random(sc);
		break;
	}
}

uint64_t msim_scenario_writes_end_ms(const msim_scenario *sc)
{
	if (sc->count == 0 || sc->rate == 0)
		return sc->start_ms;
	return sc->start_ms + (uint64_t)(sc->count - 1) * 1000 / sc->rate;
}

uint64_t msim_scenario_last_heal_ms(const msim_scenario *sc)
{
	uint64_t t = msim_scenario_writes_end_ms(sc);

	for (int k = 0; k < sc->nevents; k++) {
		const msim_event *e = &sc->ev[k];
		if (e->kind == MSIM_EV_PARTITION && e->end_ms > t)
			t = e->end_ms;
		if (e->kind == MSIM_EV_RESTART && e->t_ms > t)
			t = e->t_ms;
	}
	return t;
}
