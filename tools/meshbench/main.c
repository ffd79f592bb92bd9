/*
 * main.c — meshbench: measures the machine's raw limits, then meshsync on
 * the same work, and prints one JSON document on stdout (progress on
 * stderr).  Flags, the scratch directory, finding meshsync-node and
 * meshsim, the machine's description, and the list of every target's
 * verdict.  docs/benchmarks.md describes the method and the schema.
 */
#define _GNU_SOURCE /* asprintf, nftw */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "crypto.h"
#include "ms_path.h"

#define EXIT_USAGE 2

typedef struct workload {
	const char *name;
	json_t *(*fn)(msb_ctx *c);
	const char *help;
} workload;

static const workload workloads[] = {
	{"put", msb_put, "durable single writes: API and meshsync-node put"},
	{"batch", msb_batch, "ms_node_write_batch, 1,000 writes a call"},
	{"ingest", msb_ingest, "ms_store_ingest of other authors' ops"},
	{"catchup", msb_catchup, "a fresh node fetches N ops over loopback"},
	{"insync", msb_insync, "a reconnect of two nodes in sync"},
	{"propagate", msb_propagate, "a write crossing a line of 5 nodes"},
	{"footprint", msb_footprint, "idle memory, start-up, store size"},
	{"mesh", msb_mesh, "a 30-node meshsim run: amplification"},
};
#define NWORK (sizeof workloads / sizeof workloads[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: meshbench [--quick | --big] [--only W[,W...]] "
	           "[--ops N]\n"
	           "                 [--dir D] [--keep] [--bin DIR]\n"
	           "Measures the machine's raw limits (Ed25519, LMDB), then "
	           "meshsync on the\nsame work; prints one JSON document on "
	           "stdout, progress on stderr.\n\n"
	           "  --quick      tiny sizes (seconds; the test suite runs "
	           "this)\n"
	           "  --big        1,000,000 ops for the size-dependent "
	           "workloads\n"
	           "  --ops N      N for the size-dependent workloads "
	           "(default 100000)\n"
	           "  --only LIST  run only these workloads (the raw limits "
	           "always run)\n"
	           "  --dir D      make the scratch directory inside D "
	           "(default /var/tmp)\n"
	           "  --keep       keep the scratch directory\n"
	           "  --bin DIR    where meshsync-node and meshsim are "
	           "(default: beside\n"
	           "               meshbench, else the build tree's)\n\n"
	           "workloads:\n");
	for (size_t i = 0; i < NWORK; i++)
		fprintf(f, "  %-10s %s\n", workloads[i].name,
		        workloads[i].help);
}

static int bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, "meshbench: %s%s (meshbench --help)\n", what, arg);
	return EXIT_USAGE;
}

/* In bindir when given, else beside this program, then the build tree's
 * (as meshsim finds meshsync-node). */
static char *find_bin(const char *bindir, const char *name, const char *built)
{
	char *p;

	if (bindir == NULL)
		return ms_path_beside_exe(name, built);
	return asprintf(&p, "%s/%s", bindir, name) < 0 ? NULL : p;
}

/* The first "name : value" line of /proc/cpuinfo. */
static json_t *cpuinfo(const char *name)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	json_t *v = json_null();
	size_t len = strlen(name);

	if (f == NULL)
		return v;
	while (fgets(line, sizeof line, f) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, name, len) == 0 && colon != NULL) {
			colon++;
			while (*colon == ' ')
				colon++;
			colon[strcspn(colon, "\n")] = '\0';
			json_decref(v);
			v = json_string(colon);
			break;
		}
	}
	fclose(f);
	return v;
}

/* The file system the scratch directory is on (longest mount prefix). */
static json_t *disk(const char *dir)
{
	char dev[512], mnt[512], type[64],
		best_dev[512] = "?", best_type[64] = "?", best_mnt[512] = "?";
	size_t best = 0;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (f != NULL) {
		while (fscanf(f, "%511s %511s %63s %*[^\n]", dev, mnt, type) ==
		       3) {
			size_t l = strlen(mnt);
			if (strncmp(dir, mnt, l) == 0 &&
			    (dir[l] == '/' || dir[l] == '\0' || l == 1) &&
			    l >= best) {
				best = l;
				snprintf(best_dev, sizeof best_dev, "%s", dev);
				snprintf(best_type, sizeof best_type, "%s",
				         type);
				snprintf(best_mnt, sizeof best_mnt, "%s", mnt);
			}
		}
		fclose(f);
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "scratch", dir, "mount",
	                 best_mnt, "device", best_dev, "fs", best_type);
}

static json_t *machine(const msb_ctx *c)
{
	struct utsname u;
	json_t *o = json_object();

	json_object_set_new(o, "cpu_model", cpuinfo("model name"));
	json_object_set_new(o, "cpus",
	                    json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	if (uname(&u) == 0)
		json_object_set_new(o, "kernel", json_string(u.release));
	json_object_set_new(o, "disk", disk(c->dir));
	return o;
}

static void collect_targets(json_t *all, const char *wname, json_t *w)
{
	const char *k;
	json_t *t, *ts = json_object_get(w, "targets");

	json_object_foreach(ts, k, t)
	{
		json_t *e = json_deep_copy(t);
		json_object_set_new(e, "workload", json_string(wname));
		json_object_set_new(e, "target", json_string(k));
		json_array_append_new(all, e);
	}
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	msb_ctx c = {0};
	const char *only = NULL, *base = "/var/tmp", *bindir = NULL;
	char *dir = NULL, *end;
	int ops_set = 0, status = 0;
	int run[NWORK];
	json_t *doc, *works, *all;
	uint64_t t0;
	char started[32];
	time_t now = time(NULL);
	struct tm tm;
	struct sigaction sa = {0};
	ms_errbuf eb = {0};

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(o, "--quick") == 0) {
			c.quick = 1;
		} else if (strcmp(o, "--big") == 0) {
			c.big = 1;
		} else if (strcmp(o, "--keep") == 0) {
			c.keep = 1;
		} else if (strcmp(o, "--only") == 0 ||
		           strcmp(o, "--ops") == 0 || strcmp(o, "--dir") == 0 ||
		           strcmp(o, "--bin") == 0) {
			if (i + 1 >= argc)
				return bad_usage(o, " needs a value");
			if (strcmp(o, "--only") == 0) {
				only = argv[++i];
			} else if (strcmp(o, "--dir") == 0) {
				base = argv[++i];
			} else if (strcmp(o, "--bin") == 0) {
				bindir = argv[++i];
			} else {
				const char *v = argv[++i];
				errno = 0;
				c.n = strtoull(v, &end, 10);
				if (errno != 0 || end == v || *end != '\0' ||
				    v[0] == '-' || c.n == 0 || c.n > 100000000)
					return bad_usage(
						"--ops: a whole number from 1 to "
						"100000000, not ",
						v);
				ops_set = 1;
			}
		} else {
			return bad_usage("unknown option ", o);
		}
	}
	if (c.quick && c.big)
		return bad_usage("--quick and --big exclude each other", "");
	if (!ops_set)
		c.n = c.quick ? 2000 : c.big ? 1000000 : 100000;
	for (size_t w = 0; w < NWORK; w++)
		run[w] = only == NULL;
	if (only != NULL) {
		const char *tok = only;
		while (*tok != '\0') {
			size_t len = strcspn(tok, ","), w = 0;
			while (w < NWORK &&
			       !(strlen(workloads[w].name) == len &&
			         strncmp(workloads[w].name, tok, len) == 0))
				w++;
			if (w == NWORK)
				return bad_usage(
					"--only: an unknown workload in ",
					only);
			run[w] = 1;
			tok += len + (tok[len] == ',');
		}
	}

	c.node_bin = find_bin(bindir, "meshsync-node",
#ifdef MSB_NODE_BIN
	                      MSB_NODE_BIN
#else
	                      NULL
#endif
	);
	c.meshsim_bin = find_bin(bindir, "meshsim",
#ifdef MSB_MESHSIM_BIN
	                         MSB_MESHSIM_BIN
#else
	                         NULL
#endif
	);
	if (c.node_bin == NULL || access(c.node_bin, X_OK) != 0) {
		fprintf(stderr,
		        "meshbench: meshsync-node not found %s: give "
		        "--bin DIR\n",
		        bindir ? "in --bin DIR"
		               : "beside meshbench nor in the "
		                 "build");
		return 1;
	}
	if (run[NWORK - 1] &&
	    (c.meshsim_bin == NULL || access(c.meshsim_bin, X_OK) != 0)) {
		fprintf(stderr, "meshbench: meshsim not found (needed by the "
		                "mesh workload): give --bin DIR\n");
		return 1;
	}
	if (ms_crypto_init(&eb) != MS_OK) {
		fprintf(stderr, "meshbench: %s\n", eb.msg);
		return 1;
	}
	if (mkdir(base, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "meshbench: make %s: %s\n", base,
		        strerror(errno));
		return 1;
	}
	if (asprintf(&dir, "%s/meshbench-XXXXXX", base) < 0 ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr,
		        "meshbench: make a scratch directory in %s: %s\n", base,
		        strerror(errno));
		return 1;
	}
	c.dir = dir;
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(started, sizeof started, "?");
	msb_say("scratch directory %s; N = %" PRIu64, c.dir, c.n);
	t0 = msb_now_ns();
	doc = json_object();
	works = json_object();
	all = json_array();
	json_object_set_new(doc, "meshbench",
	                    json_pack("{s:i, s:s, s:s, s:I}", "schema", 1,
	                              "mode",
	                              c.quick ? "quick"
	                              : c.big ? "big"
	                                      : "default",
	                              "started", started, "n",
	                              (json_int_t)c.n));
	json_object_set_new(doc, "machine", machine(&c));
	json_object_set_new(doc, "raw", msb_raw(&c));
	for (size_t w = 0; w < NWORK && !interrupted; w++) {
		json_t *r;
		uint64_t tw = msb_now_ns();
		if (!run[w])
			continue;
		msb_say("--- %s", workloads[w].name);
		r = workloads[w].fn(&c);
		if (json_is_object(r)) {
			json_object_set_new(r, "wall_seconds",
			                    json_real(msb_secs_since(tw)));
			collect_targets(all, workloads[w].name, r);
		} else {
			msb_say("%s: failed (null in the result)",
			        workloads[w].name);
			status = 1;
		}
		json_object_set_new(works, workloads[w].name, r);
	}
	if (interrupted) {
		msb_say("interrupted");
		status = 1;
	}
	json_object_set_new(doc, "workloads", works);
	json_object_set_new(doc, "targets", all);
	json_object_set_new(json_object_get(doc, "meshbench"), "seconds",
	                    json_real(msb_secs_since(t0)));
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) !=
	            0 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		status = 1;
	json_decref(doc);
	if (!c.keep)
		ms_path_remove_tree(c.dir);
	else
		msb_say("scratch directory kept: %s", c.dir);
	free(c.dir);
	free(c.node_bin);
	free(c.meshsim_bin);
	free(c.big_dir);
	free(c.synced_dir);
	return status;
}
