/*
 * run_real.c — a scenario on real meshsync-node processes on 127.0.0.1.
 *
 * One run: create N nodes of one network under the run directory; give
 * each a generated meshsync.conf (its listen port, its neighbours as
 * static peers and as the only ids it accepts, no mDNS, quick backoff, and
 * a [faults] section: the scenario's faults with a per-node seed, plus the
 * partitions and flaps of [events] turned into schedules naming the ids of
 * the nodes cut away, counted from one epoch, the run's start); start the
 * processes; write the ops at the scenario's rate through the public API
 * (each into its writer's store, as an application beside the node would);
 * stop and start processes by PID as the events say; then poll every
 * node's store, read-only as node-inspect does, until all hold the same
 * ops and state or the deadline passes; stop every process by PID (also
 * on every failure) and read the counters the nodes flushed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "meshsync.h"
#include "ms_err_int.h"
#include "ms_path.h"
#include "rng.h"
#include "run.h"
#include "store.h"

#define SHARED_KEYS 8       /* shared_keys writes go to one of these */
#define POLL_MS 200         /* convergence poll interval */
#define STOP_WAIT_MS 10000  /* SIGTERM, then SIGKILL after this */
#define START_WAIT_MS 15000 /* a node must listen within this */
#define IDS_PER_LINE 2      /* a config line holds at most 199 bytes */

extern volatile sig_atomic_t msim_interrupted; /* main.c: SIGINT/SIGTERM */

typedef struct rnode {
	char *dir;
	char id_hex[MS_NODE_ID_HEX_LEN];
	uint8_t id[MS_NODE_ID_LEN];
	int port;
	pid_t pid; /* 0: not running */
	int starts;
} rnode;

typedef struct wop {
	uint8_t id[MS_NODE_OP_ID_LEN];
} wop;

typedef struct rrun {
	const msim_scenario *sc;
	const msim_real_opts *o;
	rnode n[MSIM_MAX_NODES];
	pid_t adv_pid;
	wop *ops;
	uint64_t nops;
	uint64_t t0; /* wall ms: the epoch, t = 0 of the scenario */
} rrun;

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !msim_interrupted)
		;
}

static void say(const rrun *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(const rrun *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->o->verbose)
		return;
	fprintf(stderr, "meshsim: [%7.3fs] ",
	        x->t0 == 0 ? 0.0
	                   : ((double)wall_ms() - (double)x->t0) / 1000.0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A free TCP port on 127.0.0.1; the socket is kept until all are picked so
 * no two nodes get the same one. */
static int pick_port(int *fd_out)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		close(fd);
		return -1;
	}
	*fd_out = fd;
	return ntohs(a.sin_port);
}

static int port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

/* The fault seed of node i: one function of the scenario seed, so a run
 * replays (docs/meshsim.md). */
static uint64_t node_seed(const msim_scenario *sc, int i)
{
	uint64_t s = sc->seed * 1000 + (uint64_t)i + 1;
	return s + (s == 0); /* 0 would ask the node to pick one */
}

/* "partition = A B id id" / "flap = UP DOWN id id" lines, IDS_PER_LINE ids
 * each, for the nodes in set; counts lines in *nsched. */
static void sched_lines(FILE *f, const rrun *x, const char *what, uint64_t a,
                        uint64_t b, uint64_t set, int *nsched)
{
	int k = 0;

	for (int j = 0; j < x->sc->nodes; j++) {
		if (!(set >> j & 1))
			continue;
		if (k % IDS_PER_LINE == 0) {
			if (k > 0)
				fputc('\n', f);
			fprintf(f, "%s = %" PRIu64 "ms %" PRIu64 "ms", what, a,
			        b);
			(*nsched)++;
		}
		fprintf(f, " %s", x->n[j].id_hex);
		k++;
	}
	if (k > 0)
		fputc('\n', f);
}

static void ppm_text(char *buf, size_t cap, uint32_t ppm)
{
	snprintf(buf, cap, "%u.%06u", ppm / 1000000, ppm % 1000000);
}

/* The [faults] section of node i (nothing when it has no fault). */
static ms_err faults_section(FILE *f, const rrun *x, int i, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	const ms_fault_config *c = &sc->faults;
	int nsched = 0, any = ms_fault_config_on(c);
	char p[32];

	for (int k = 0; k < sc->nevents; k++) {
		const msim_event *e = &sc->ev[k];
		if ((e->kind == MSIM_EV_PARTITION &&
		     ((e->set_a | e->set_b) >> i & 1)) ||
		    (e->kind == MSIM_EV_FLAP && (e->i == i || e->j == i)))
			any = 1;
	}
	if (!any)
		return MS_OK;
	fprintf(f, "\n[faults]\nseed = %" PRIu64 "\n", node_seed(sc, i));
	fprintf(f, "epoch = %" PRIu64 "\n", x->t0);
	if (c->drop_ppm)
		ppm_text(p, sizeof p, c->drop_ppm),
			fprintf(f, "drop = %s\n", p);
	if (c->duplicate_ppm)
		ppm_text(p, sizeof p, c->duplicate_ppm),
			fprintf(f, "duplicate = %s\n", p);
	if (c->corrupt_ppm)
		ppm_text(p, sizeof p, c->corrupt_ppm),
			fprintf(f, "corrupt = %s\n", p);
	if (c->reorder_ppm)
		ppm_text(p, sizeof p, c->reorder_ppm),
			fprintf(f, "reorder = %s\n", p);
	if (c->delay_ms)
		fprintf(f, "delay = %" PRIu64 "ms\n", c->delay_ms);
	if (c->jitter_ms)
		fprintf(f, "jitter = %" PRIu64 "ms\n", c->jitter_ms);
	for (int k = 0; k < sc->nevents; k++) {
		const msim_event *e = &sc->ev[k];
		if (e->kind == MSIM_EV_PARTITION && (e->set_a >> i & 1))
			sched_lines(f, x, "partition", e->t_ms, e->end_ms,
			            e->set_b, &nsched);
		else if (e->kind == MSIM_EV_PARTITION && (e->set_b >> i & 1))
			sched_lines(f, x, "partition", e->t_ms, e->end_ms,
			            e->set_a, &nsched);
		else if (e->kind == MSIM_EV_FLAP && (e->i == i || e->j == i))
			sched_lines(f, x, "flap", e->up_ms, e->down_ms,
			            1ull << (e->i == i ? e->j : e->i), &nsched);
	}
	if (nsched > MS_FAULT_MAX_SCHEDULES)
		return ms_errf(
			eb, MS_EINVAL,
			"node %d needs %d schedule lines (partition, "
			"flap), more than a node takes (%d): fewer events "
			"or smaller sets",
			i, nsched, MS_FAULT_MAX_SCHEDULES);
	return MS_OK;
}

static ms_err write_config(const rrun *x, int i, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	char *path = ms_path_join(x->n[i].dir, MS_NODE_CONF_FILE);
	FILE *f;
	int k = 0;
	/* the adversary's id is made at run time: its target takes anyone */
	int allow = !(sc->adv_mode[0] != '\0' && sc->adv_target == i);
	ms_err e = MS_OK;

	if (path == NULL)
		return ms_errf(eb, MS_ENOMEM,
		               "config of node %d: out of memory", i);
	if ((f = fopen(path, "w")) == NULL) {
		e = ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(errno));
		free(path);
		return e;
	}
	fprintf(f,
	        "# written by meshsim: scenario %s, node %d of %d, seed %" PRIu64
	        "\n[net]\nlisten = tcp://127.0.0.1:%d\nmdns = no\n",
	        sc->name, i, sc->nodes, sc->seed, x->n[i].port);
	/* both ends dial, as static peers and mDNS do in a real mesh: when
	 * one end drops a session whose BYE is lost (a cut link), the other
	 * may keep it as live, and only a dial from the first restores the
	 * link */
	for (int j = 0; j < sc->nodes; j++)
		if (sc->link[i][j])
			fprintf(f, "peer = tcp://127.0.0.1:%d\n", x->n[j].port);
	/* only neighbours may connect, so peer exchange cannot turn the
	 * topology into a full mesh */
	for (int j = 0; allow && j < sc->nodes; j++) {
		if (!sc->link[i][j])
			continue;
		fprintf(f, "%s%s",
		        k % IDS_PER_LINE == 0 ? (k ? "\nallow = " : "allow = ")
		                              : " ",
		        x->n[j].id_hex);
		k++;
	}
	if (k > 0)
		fputc('\n', f);
	/* a healed link is retried within seconds, not the default minute */
	fprintf(f,
	        "\n[backoff]\nbase = 100ms\ncap = 1s\nkick_interval = 200ms\n");
	/* a message the fault layer drops is never sent again: the session
	 * that waits for it ends by these timeouts and the next one resyncs,
	 * so they bound how long a drop stalls a link (defaults: 10s..120s) */
	fprintf(f, "\n[limits]\nhello_timeout = 500ms\nvv_timeout = 1s\n"
	           "idle_timeout = 700ms\n");
	e = faults_section(f, x, i, eb);
	if (fclose(f) != 0 && e == MS_OK)
		e = ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(errno));
	free(path);
	return e;
}

static ms_err spawn_node(rrun *x, int i, ms_errbuf *eb)
{
	rnode *n = &x->n[i];
	char *log = ms_path_join(n->dir, "node.log");
	pid_t pid;
	int fd;

	if (log == NULL)
		return ms_errf(eb, MS_ENOMEM, "start node %d: out of memory",
		               i);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(log);
	if (fd < 0)
		return ms_errf(eb, MS_EIO, "start node %d: open its log: %s", i,
		               strerror(errno));
	(void)fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		close(fd);
		return ms_errf(eb, MS_EIO, "start node %d: fork: %s", i,
		               strerror(errno));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		/* faults come from the generated config only */
		unsetenv(MS_FAULT_ENV);
		execl(x->o->node_bin, x->o->node_bin, "run", "--data", n->dir,
		      "--no-mdns", (char *)NULL);
		dprintf(2, "meshsim: exec %s: %s\n", x->o->node_bin,
		        strerror(errno));
		_exit(127);
	}
	close(fd);
	n->pid = pid;
	n->starts++;
	return MS_OK;
}

/* Stop pid with sig; after SIGTERM wait up to STOP_WAIT_MS, then SIGKILL.
 * Returns the wait status. */
static int stop_pid(pid_t pid, int sig)
{
	int st = 0;

	if (pid <= 0)
		return 0;
	kill(pid, sig);
	for (int t = 0; sig != SIGKILL && t < STOP_WAIT_MS / 10; t++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		sleep_ms(10);
	}
	if (sig != SIGKILL)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void stop_all(rrun *x, int sig)
{
	for (int i = 0; i < x->sc->nodes; i++) {
		if (x->n[i].pid > 0)
			stop_pid(x->n[i].pid, sig);
		x->n[i].pid = 0;
	}
	if (x->adv_pid > 0)
		stop_pid(x->adv_pid, SIGTERM);
	x->adv_pid = 0;
}

/* A node that exited on its own is a finding: say so. */
static ms_err check_alive(rrun *x, ms_errbuf *eb)
{
	for (int i = 0; i < x->sc->nodes; i++) {
		int st;
		if (x->n[i].pid <= 0 ||
		    waitpid(x->n[i].pid, &st, WNOHANG) != x->n[i].pid)
			continue;
		x->n[i].pid = 0;
		return ms_errf(
			eb, MS_EIO,
			"node %d exited by itself (%s %d): see %s/node.log", i,
			WIFSIGNALED(st) ? "signal" : "status",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			x->n[i].dir);
	}
	return MS_OK;
}

static ms_err wait_listening(rrun *x, ms_errbuf *eb)
{
	uint64_t until = wall_ms() + START_WAIT_MS;
	ms_err e;

	for (int i = 0; i < x->sc->nodes; i++) {
		while (!port_open(x->n[i].port)) {
			if ((e = check_alive(x, eb)) != MS_OK)
				return e;
			if (wall_ms() > until || msim_interrupted)
				return ms_errf(
					eb, MS_EIO,
					"node %d does not listen on port %d "
					"after %ds: see %s/node.log",
					i, x->n[i].port, START_WAIT_MS / 1000,
					x->n[i].dir);
			sleep_ms(20);
		}
	}
	return MS_OK;
}

/* nodes.txt: "INDEX NODE-ID PORT" per node, to read logs and configs by
 * node index (the tests use it too). */
static ms_err write_nodes_txt(const rrun *x, ms_errbuf *eb)
{
	char *path = ms_path_join(x->o->workdir, "nodes.txt");
	FILE *f = path != NULL ? fopen(path, "w") : NULL;
	ms_err e = MS_OK;

	if (f == NULL) {
		e = ms_errf(eb, MS_EIO, "write nodes.txt in %s: %s",
		            x->o->workdir, strerror(errno));
		free(path);
		return e;
	}
	for (int i = 0; i < x->sc->nodes; i++)
		fprintf(f, "%d %s %d\n", i, x->n[i].id_hex, x->n[i].port);
	if (fclose(f) != 0)
		e = ms_errf(eb, MS_EIO, "write %s: %s", path, strerror(errno));
	free(path);
	return e;
}

static ms_err create_nodes(rrun *x, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	char netkey[MS_NODE_NETKEY_TEXT_LEN] = "";
	int fds[MSIM_MAX_NODES];
	ms_err e = MS_OK;
	int i;

	for (i = 0; i < sc->nodes; i++) {
		char name[16];
		ms_node *n = NULL;
		snprintf(name, sizeof name, "node%d", i);
		if ((x->n[i].dir = ms_path_join(x->o->workdir, name)) == NULL)
			return ms_errf(eb, MS_ENOMEM, "out of memory");
		if ((e = ms_node_init(x->n[i].dir, i ? netkey : NULL, eb)) !=
		            MS_OK ||
		    (e = ms_node_open(&n, x->n[i].dir, NULL, eb)) != MS_OK)
			break;
		if (i == 0)
			ms_node_network_key_text(n, netkey);
		memcpy(x->n[i].id, ms_node_id(n), MS_NODE_ID_LEN);
		ms_node_id_hex(n, x->n[i].id_hex);
		ms_node_close(&n);
	}
	sodium_memzero(netkey, sizeof netkey);
	if (e != MS_OK)
		return e;
	for (i = 0; i < sc->nodes; i++)
		if ((x->n[i].port = pick_port(&fds[i])) < 0)
			break;
	if (i < sc->nodes)
		e = ms_errf(eb, MS_EIO, "pick a port on 127.0.0.1: %s",
		            strerror(errno));
	while (i-- > 0)
		close(fds[i]);
	return e != MS_OK ? e : write_nodes_txt(x, eb);
}

/* --- writes --------------------------------------------------------------- */

typedef struct wstate {
	ms_node *h[MSIM_MAX_NODES]; /* writers' handles, opened lazily */
	int writer[MSIM_MAX_NODES];
	int nwriters;
	ms_rng rng;
	uint8_t *value;
} wstate;

static ms_err write_one(rrun *x, wstate *w, uint64_t k, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	int i = w->writer[k % (uint64_t)w->nwriters];
	char key[64];
	unsigned flags = 0;
	ms_node_write_result res;
	ms_err e;

	/* draws in a fixed order: shared?, which key, background?, value */
	if (ms_rng_chance(&w->rng, sc->shared_ppm, 1000000))
		snprintf(key, sizeof key, "shared/%" PRIu64,
		         ms_rng_below(&w->rng, SHARED_KEYS));
	else
		snprintf(key, sizeof key, "n%d/%" PRIu64, i, k);
	if (ms_rng_chance(&w->rng, sc->background_ppm, 1000000))
		flags = MS_NODE_PUT_BACKGROUND;
	for (uint32_t b = 0; b < sc->value_size; b++)
		w->value[b] = (uint8_t)('a' + ms_rng_below(&w->rng, 26));
	if (w->h[i] == NULL &&
	    (e = ms_node_open(&w->h[i], x->n[i].dir, NULL, eb)) != MS_OK)
		return e;
	if ((e = ms_node_put(w->h[i], key, strlen(key), w->value,
	                     sc->value_size, flags, &res, eb)) != MS_OK)
		return e;
	memcpy(x->ops[x->nops++].id, res.id, MS_NODE_OP_ID_LEN);
	return MS_OK;
}

static uint64_t write_due(const msim_scenario *sc, uint64_t k)
{
	return sc->start_ms + (sc->rate ? k * 1000 / sc->rate : 0);
}

static ms_err spawn_adversary(rrun *x, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	char target[48], secs[16], *key, *log;
	pid_t pid;
	int fd;

	if (x->o->adversary_bin == NULL)
		return ms_errf(eb, MS_EINVAL,
		               "[adversary] needs ms-adversary (built with the "
		               "tests: --adversary-bin PATH)");
	snprintf(target, sizeof target, "tcp://127.0.0.1:%d",
	         x->n[sc->adv_target].port);
	snprintf(secs, sizeof secs, "%u", sc->adv_seconds);
	key = ms_path_join(x->n[sc->adv_target].dir, "network.key");
	log = ms_path_join(x->o->workdir, "adversary.log");
	if (key == NULL || log == NULL ||
	    (fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) <
	            0) {
		free(key);
		free(log);
		return ms_errf(eb, MS_EIO, "start ms-adversary: %s",
		               strerror(errno));
	}
	(void)fflush(NULL); /* nothing buffered is written twice */
	if ((pid = fork()) == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execl(x->o->adversary_bin, x->o->adversary_bin, "--mode",
		      sc->adv_mode, "--target", target, "--network-key", key,
		      "--seconds", secs, (char *)NULL);
		dprintf(2, "meshsim: exec %s: %s\n", x->o->adversary_bin,
		        strerror(errno));
		_exit(127);
	}
	close(fd);
	free(key);
	free(log);
	if (pid < 0)
		return ms_errf(eb, MS_EIO, "start ms-adversary: fork: %s",
		               strerror(errno));
	x->adv_pid = pid;
	return MS_OK;
}

/* Events of the node kinds in time order, file order among equals. */
static int next_event(const msim_scenario *sc, const uint8_t *done)
{
	int best = -1;

	for (int k = 0; k < sc->nevents; k++) {
		if (done[k] || sc->ev[k].kind < MSIM_EV_KILL)
			continue;
		if (best < 0 || sc->ev[k].t_ms < sc->ev[best].t_ms)
			best = k;
	}
	return best;
}

static ms_err run_event(rrun *x, const msim_event *e, ms_errbuf *eb)
{
	rnode *n = &x->n[e->i];

	switch (e->kind) {
	case MSIM_EV_KILL:
	case MSIM_EV_TERM:
		say(x, "%s node %d (pid %d)",
		    e->kind == MSIM_EV_KILL ? "SIGKILL" : "SIGTERM", e->i,
		    (int)n->pid);
		stop_pid(n->pid, e->kind == MSIM_EV_KILL ? SIGKILL : SIGTERM);
		n->pid = 0;
		return MS_OK;
	case MSIM_EV_RESTART:
		say(x, "restart node %d", e->i);
		return spawn_node(x, e->i, eb);
	default:
		return MS_OK;
	}
}

/* Writes and node events until both are done (the mesh runs meanwhile). */
static ms_err drive(rrun *x, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	wstate w = {0};
	uint8_t done[MSIM_MAX_EVENTS] = {0};
	uint64_t k = 0;
	int adv = sc->adv_mode[0] != '\0';
	ms_err e = MS_OK;

	for (int i = 0; i < sc->nodes; i++)
		if (sc->writers >> i & 1)
			w.writer[w.nwriters++] = i;
	ms_rng_seed(&w.rng, sc->seed ^ 0x7772697465730000ull);
	if ((w.value = malloc(sc->value_size)) == NULL)
		return ms_errf(eb, MS_ENOMEM, "out of memory");
	for (;;) {
		int ev = next_event(sc, done);
		uint64_t now = wall_ms() - x->t0, due = UINT64_MAX;
		if (msim_interrupted) {
			e = ms_errf(eb, MS_EIO, "interrupted");
			break;
		}
		if ((e = check_alive(x, eb)) != MS_OK)
			break;
		if (adv && now >= sc->start_ms) {
			say(x, "ms-adversary %s against node %d for %us",
			    sc->adv_mode, sc->adv_target, sc->adv_seconds);
			if ((e = spawn_adversary(x, eb)) != MS_OK)
				break;
			adv = 0;
		}
		if (ev >= 0 && sc->ev[ev].t_ms <= now) {
			done[ev] = 1;
			if ((e = run_event(x, &sc->ev[ev], eb)) != MS_OK)
				break;
			continue;
		}
		if (k < sc->count && write_due(sc, k) <= now) {
			if ((e = write_one(x, &w, k, eb)) != MS_OK)
				break;
			k++;
			if (k % 100 == 0 || k == sc->count)
				say(x, "%" PRIu64 " of %u ops written", k,
				    sc->count);
			continue;
		}
		if (k == sc->count && ev < 0 && !adv)
			break;
		if (k < sc->count)
			due = write_due(sc, k);
		if (ev >= 0 && sc->ev[ev].t_ms < due)
			due = sc->ev[ev].t_ms;
		if (adv && sc->start_ms < due)
			due = sc->start_ms;
		sleep_ms(due > now + 50 ? 50 : due - now);
	}
	for (int i = 0; i < MSIM_MAX_NODES; i++)
		ms_node_close(&w.h[i]);
	free(w.value);
	return e;
}

/* --- convergence ---------------------------------------------------------- */

typedef struct nstate {
	uint8_t vv[MS_HASH_LEN], sh[MS_HASH_LEN];
	uint64_t missing; /* written ops this node lacks */
	uint64_t bytes_out, ops_sent;
	ms_fault_stats f;
} nstate;

static ms_err read_node(const rrun *x, int i, nstate *ns, uint8_t *lacks,
                        ms_errbuf *eb)
{
	ms_store_opts o;
	ms_store *s = NULL;
	ms_store_rtxn *rt = NULL;
	ms_store_summary sm;
	ms_err e;

	ms_store_opts_default(&o);
	o.readonly = 1;
	memset(ns, 0, sizeof *ns);
	if ((e = ms_store_open(&s, x->n[i].dir, &o, eb)) != MS_OK)
		return e;
	if ((e = ms_store_read_begin(s, &rt, eb)) != MS_OK ||
	    (e = ms_store_summary_get(rt, &sm, eb)) != MS_OK)
		goto out;
	memcpy(ns->vv, sm.vv_digest, MS_HASH_LEN);
	memcpy(ns->sh, sm.state_hash, MS_HASH_LEN);
	for (uint64_t k = 0; k < x->nops; k++) {
		ms_log_entry le;
		ms_err g = ms_store_get_op(rt, x->ops[k].id, &le, NULL);
		if (g == MS_ENOTFOUND) {
			ns->missing++;
			if (lacks != NULL)
				lacks[k] = 1;
		} else if (g != MS_OK) {
			e = ms_errf(eb, g, "node %d: read op: %s", i,
			            ms_strerror(g));
			goto out;
		}
	}
	ns->bytes_out = ms_store_stat(rt, "bytes_out");
	ns->ops_sent = ms_store_stat(rt, "ops_sent");
	ns->f.seen = ms_store_stat(rt, "fault_seen");
	ns->f.dropped = ms_store_stat(rt, "fault_dropped");
	ns->f.cut = ms_store_stat(rt, "fault_cut");
	ns->f.duplicated = ms_store_stat(rt, "fault_duplicated");
	ns->f.corrupted = ms_store_stat(rt, "fault_corrupted");
	ns->f.reordered = ms_store_stat(rt, "fault_reordered");
	ns->f.delayed = ms_store_stat(rt, "fault_delayed");
out:
	ms_store_read_end(&rt);
	ms_store_close(&s);
	return e;
}

/* 1 when every node holds the same op set and state and every written op;
 * fills ns[]. */
static int converged(const rrun *x, nstate *ns, ms_errbuf *eb, ms_err *e)
{
	int same = 1;

	*e = MS_OK;
	for (int i = 0; i < x->sc->nodes; i++) {
		if ((*e = read_node(x, i, &ns[i], NULL, eb)) != MS_OK)
			return 0;
		if (ns[i].missing != 0 ||
		    memcmp(ns[i].vv, ns[0].vv, MS_HASH_LEN) != 0 ||
		    memcmp(ns[i].sh, ns[0].sh, MS_HASH_LEN) != 0)
			same = 0;
	}
	return same;
}

static ms_err wait_converged(rrun *x, msim_result *r, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	uint64_t heal = msim_scenario_last_heal_ms(sc);
	uint64_t until = heal + sc->deadline_ms;
	nstate ns[MSIM_MAX_NODES];
	ms_err e;

	while (wall_ms() - x->t0 < heal && !msim_interrupted)
		sleep_ms(20);
	say(x, "last heal at %.3fs: waiting for convergence (deadline %.3fs)",
	    (double)heal / 1000.0, (double)until / 1000.0);
	for (;;) {
		uint64_t now;
		if (msim_interrupted)
			return ms_errf(eb, MS_EIO, "interrupted");
		if ((e = check_alive(x, eb)) != MS_OK)
			return e;
		now = wall_ms() - x->t0;
		if (converged(x, ns, eb, &e)) {
			r->converged = 1;
			r->seconds_to_converge = now > heal ? (double)(now -
			                                               heal) /
			                                              1000.0
			                                    : 0.0;
			say(x, "converged %.3fs after the last heal",
			    r->seconds_to_converge);
			return MS_OK;
		}
		if (e != MS_OK)
			return e;
		if (now > until) {
			uint64_t most = 0;
			for (int i = 0; i < sc->nodes; i++)
				if (ns[i].missing > most)
					most = ns[i].missing;
			say(x,
			    "deadline passed: not converged (a node lacks "
			    "%" PRIu64 " written ops)",
			    most);
			return MS_OK;
		}
		sleep_ms(POLL_MS);
	}
}

/* After every process stopped (counters flushed): the measurements. */
static ms_err measure(rrun *x, msim_result *r, ms_errbuf *eb)
{
	const msim_scenario *sc = x->sc;
	uint8_t *lacks = calloc(x->nops ? x->nops : 1, 1);
	ms_err e = MS_OK;

	if (lacks == NULL)
		return ms_errf(eb, MS_ENOMEM, "out of memory");
	for (int i = 0; i < sc->nodes; i++) {
		nstate ns;
		if ((e = read_node(x, i, &ns, lacks, eb)) != MS_OK)
			break;
		ms_hex(r->state_hash[i], ns.sh, MS_HASH_LEN);
		r->bytes_sent += ns.bytes_out;
		r->op_transfers += ns.ops_sent;
		r->faults.seen += ns.f.seen;
		r->faults.dropped += ns.f.dropped;
		r->faults.cut += ns.f.cut;
		r->faults.duplicated += ns.f.duplicated;
		r->faults.corrupted += ns.f.corrupted;
		r->faults.reordered += ns.f.reordered;
		r->faults.delayed += ns.f.delayed;
	}
	r->ops_written = x->nops;
	for (uint64_t k = 0; e == MS_OK && k < x->nops; k++)
		r->missing += lacks[k];
	r->ops_everywhere = r->ops_written - r->missing;
	r->min_transfers = r->ops_written * (uint64_t)(sc->nodes - 1);
	free(lacks);
	return e;
}

ms_err msim_run_real(const msim_scenario *sc, const msim_real_opts *o,
                     msim_result *r, ms_errbuf *eb)
{
	rrun *x = calloc(1, sizeof *x);
	uint64_t wall0 = wall_ms();
	ms_err e;

	memset(r, 0, sizeof *r);
	r->mode = "real";
	r->seed = sc->seed;
	if (x == NULL)
		return ms_errf(eb, MS_ENOMEM, "out of memory");
	x->sc = sc;
	x->o = o;
	if ((x->ops = calloc(sc->count ? sc->count : 1, sizeof *x->ops)) ==
	    NULL) {
		free(x);
		return ms_errf(eb, MS_ENOMEM, "out of memory");
	}
	if (sc->adv_mode[0] != '\0' && o->adversary_bin == NULL) {
		e = ms_errf(eb, MS_EINVAL,
		            "[adversary] needs ms-adversary (built with the "
		            "tests; --adversary-bin PATH)");
		goto out;
	}
	if ((e = ms_crypto_init(eb)) != MS_OK ||
	    (e = create_nodes(x, eb)) != MS_OK)
		goto out;
	/* the epoch lies a little ahead, so every node has started by then
	 * and all count their schedules from the same instant */
	x->t0 = wall_ms() + 1000 + 100 * (uint64_t)sc->nodes;
	for (int i = 0; i < sc->nodes; i++)
		if ((e = write_config(x, i, eb)) != MS_OK)
			goto out;
	for (int i = 0; i < sc->nodes; i++)
		if ((e = spawn_node(x, i, eb)) != MS_OK)
			goto out;
	if ((e = wait_listening(x, eb)) != MS_OK)
		goto out;
	while (wall_ms() < x->t0 && !msim_interrupted)
		sleep_ms(10);
	say(x, "%d nodes up (%s): run directory %s", sc->nodes, sc->name,
	    o->workdir);
	if ((e = drive(x, eb)) != MS_OK ||
	    (e = wait_converged(x, r, eb)) != MS_OK)
		goto out;
	/* SIGTERM flushes each node's counters to its store */
	stop_all(x, SIGTERM);
	e = measure(x, r, eb);
out:
	stop_all(x, SIGKILL);
	r->wall_seconds = (double)(wall_ms() - wall0) / 1000.0;
	for (int i = 0; i < MSIM_MAX_NODES; i++)
		free(x->n[i].dir);
	free(x->ops);
	free(x);
	return e;
}
