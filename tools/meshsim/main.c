/*
 * main.c — the meshsim program: the command line, the run directory, one
 * run or a loop over seeds, the JSON result on stdout and the exit status
 * (docs/meshsim.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "ms_path.h"

enum { EXIT_PASS = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_CANNOT = 3 };
#define MAX_SETS 32

volatile sig_atomic_t msim_interrupted;

typedef struct args {
	int virtual_, keep, verbose;
	uint64_t seed;  /* 0: the scenario's */
	uint64_t seeds; /* 0: one run */
	const char *workdir, *path;
	const char *node_bin, *adversary_bin;
	const char *sets[MAX_SETS];
	size_t nsets;
} args;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: meshsim [--virtual] [--seed S | --seeds N] "
	        "[--workdir DIR] [--keep] [-v] [--set SECTION.KEY=VALUE]... "
	        "SCENARIO\n"
	        "\n"
	        "Run a scenario file (docs/meshsim.md) on real meshsync-node "
	        "processes on\n127.0.0.1, or with --virtual inside one "
	        "process on simulated links and clock.\nPrints one JSON "
	        "document on stdout; progress on stderr.\n"
	        "\n"
	        "  --virtual       the deterministic simulator\n"
	        "  --seed S        use seed S instead of the scenario's\n"
	        "  --seeds N       run N seeds (from --seed or the scenario's) "
	        "and stop at the\n"
	        "                  first failing one, printing how to replay "
	        "it\n"
	        "  --workdir DIR   where run directories go (default $TMPDIR "
	        "or /tmp;\n"
	        "                  --virtual: /dev/shm)\n"
	        "  --keep          keep the run directory after a passing run "
	        "(a failing\n"
	        "                  run's is always kept)\n"
	        "  --set S.K=V     override a scenario key, e.g. "
	        "--set mesh.nodes=4\n"
	        "  --node-bin P    the meshsync-node program (default: beside "
	        "meshsim, else\n"
	        "                  the build's)\n"
	        "  --adversary-bin P  ms-adversary, for [adversary] "
	        "(default: the build's)\n"
	        "  -v, --verbose   progress on stderr\n"
	        "  -h, --help      this text\n"
	        "\n"
	        "Exit status: 0 converged with nothing missing, 1 not "
	        "converged or ops\nmissing, 2 usage error, 3 the run could "
	        "not be made.\n");
}

static int bad_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "meshsim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see meshsim --help)\n");
	return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			usage(stdout);
			exit(EXIT_PASS);
		} else if (strcmp(o, "--virtual") == 0) {
			a->virtual_ = 1;
		} else if (strcmp(o, "--keep") == 0) {
			a->keep = 1;
		} else if (strcmp(o, "-v") == 0 ||
		           strcmp(o, "--verbose") == 0) {
			a->verbose++; /* --virtual: -v -v logs, -v -v -v sessions */
		} else if (strcmp(o, "--seed") == 0 ||
		           strcmp(o, "--seeds") == 0 ||
		           strcmp(o, "--workdir") == 0 ||
		           strcmp(o, "--set") == 0 ||
		           strcmp(o, "--node-bin") == 0 ||
		           strcmp(o, "--adversary-bin") == 0) {
			if (v == NULL)
				return bad_usage("%s needs a value", o);
			i++;
			if (strcmp(o, "--seed") == 0) {
				if (parse_u64(v, &a->seed) != 0 || a->seed == 0)
					return bad_usage(
						"bad --seed '%s' (a number from 1)",
						v);
			} else if (strcmp(o, "--seeds") == 0) {
				if (parse_u64(v, &a->seeds) != 0 ||
				    a->seeds == 0)
					return bad_usage(
						"bad --seeds '%s' (a number from 1)",
						v);
			} else if (strcmp(o, "--workdir") == 0) {
				a->workdir = v;
			} else if (strcmp(o, "--node-bin") == 0) {
				a->node_bin = v;
			} else if (strcmp(o, "--adversary-bin") == 0) {
				a->adversary_bin = v;
			} else {
				if (a->nsets == MAX_SETS)
					return bad_usage("more than %s --set",
					                 "32");
				a->sets[a->nsets++] = v;
			}
		} else if (o[0] == '-' && o[1] != '\0') {
			return bad_usage("unknown option %s", o);
		} else if (a->path != NULL) {
			return bad_usage("one scenario only ('%s' is a second)",
			                 o);
		} else {
			a->path = o;
		}
	}
	if (a->path == NULL)
		return bad_usage("%s", "no scenario file given");
	return EXIT_PASS;
}

static void on_signal(int sig)
{
	(void)sig;
	msim_interrupted = 1;
}

/* One run of sc in a fresh directory under base.  Returns the exit
 * status; the result is printed by the caller. */
static int run_once(const args *a, const msim_scenario *sc, const char *base,
                    const char *node_bin, const char *adv_bin, msim_result *r)
{
	char *dir = NULL;
	ms_errbuf eb = {0};
	ms_err e;
	int status;

	if (asprintf(&dir, "%s/meshsim-%s-%" PRIu64 "-XXXXXX", base, sc->name,
	             sc->seed) < 0 ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr, "meshsim: make a run directory in %s: %s\n",
		        base, strerror(errno));
		free(dir);
		return EXIT_CANNOT;
	}
	if (a->virtual_) {
		msim_virtual_opts vo = {.workdir = dir, .verbose = a->verbose};
		e = msim_run_virtual(sc, &vo, r, &eb);
	} else {
		msim_real_opts ro = {.node_bin = node_bin,
		                     .adversary_bin = adv_bin,
		                     .workdir = dir,
		                     .verbose = a->verbose};
		e = msim_run_real(sc, &ro, r, &eb);
	}
	if (e != MS_OK) {
		fprintf(stderr, "meshsim: %s: %s (run directory kept: %s)\n",
		        sc->name, eb.msg[0] ? eb.msg : ms_strerror(e), dir);
		free(dir);
		return EXIT_CANNOT;
	}
	status = msim_result_status(r) == 0 ? EXIT_PASS : EXIT_FAILED;
	if (status == EXIT_PASS && !a->keep)
		ms_path_remove_tree(dir);
	else
		fprintf(stderr, "meshsim: run directory kept: %s\n", dir);
	free(dir);
	return status;
}

int main(int argc, char **argv)
{
	args a = {0};
	msim_scenario *sc = malloc(sizeof *sc);
	msim_result *r = malloc(sizeof *r);
	char *node_bin = NULL, *adv_bin = NULL;
	const char *base;
	ms_errbuf eb = {0};
	struct sigaction sa = {0};
	int status;

	if (sc == NULL || r == NULL) {
		fprintf(stderr, "meshsim: out of memory\n");
		free(sc);
		free(r);
		return EXIT_CANNOT;
	}
	if ((status = parse_args(argc, argv, &a)) != EXIT_PASS)
		goto out;
	if (msim_scenario_load_ex(sc, a.path, a.seed, a.sets, a.nsets, &eb) !=
	    MS_OK) {
		fprintf(stderr, "meshsim: %s\n", eb.msg);
		status = EXIT_USAGE;
		goto out;
	}
	base = a.workdir != NULL ? a.workdir : getenv("TMPDIR");
	/* the simulator's stores sync often: tmpfs keeps that cheap */
	if (a.workdir == NULL && a.virtual_ && access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "meshsim: make %s: %s\n", base,
		        strerror(errno));
		status = EXIT_CANNOT;
		goto out;
	}
	if (!a.virtual_) {
		const char *env = getenv("MESHSIM_NODE_BIN");
		if (a.node_bin != NULL)
			node_bin = strdup(a.node_bin);
		else if (env != NULL)
			node_bin = strdup(env);
		else
			node_bin = ms_path_beside_exe("meshsync-node",
#ifdef MSIM_NODE_BIN
			                              MSIM_NODE_BIN
#else
			                              NULL
#endif
			);
		if (node_bin == NULL) {
			fprintf(stderr, "meshsim: meshsync-node not found "
			                "beside meshsim nor in the build: give "
			                "--node-bin PATH\n");
			status = EXIT_CANNOT;
			goto out;
		}
		adv_bin = a.adversary_bin != NULL
		                  ? strdup(a.adversary_bin)
		                  : ms_path_beside_exe("ms-adversary",
#ifdef MSIM_ADVERSARY_BIN
		                                       MSIM_ADVERSARY_BIN
#else
		                                       NULL
#endif
		                    );
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (a.seeds == 0) {
		status = run_once(&a, sc, base, node_bin, adv_bin, r);
		if (status != EXIT_CANNOT)
			msim_result_print(sc, r, stdout);
		goto out;
	}
	{
		uint64_t first = sc->seed;
		for (uint64_t k = 0; k < a.seeds; k++) {
			uint64_t seed = first + k;
			if (msim_scenario_load_ex(sc, a.path, seed, a.sets,
			                          a.nsets, &eb) != MS_OK) {
				fprintf(stderr, "meshsim: %s\n", eb.msg);
				status = EXIT_USAGE;
				goto out;
			}
			status = run_once(&a, sc, base, node_bin, adv_bin, r);
			if (status == EXIT_CANNOT)
				goto out;
			if (status != EXIT_PASS || k + 1 == a.seeds)
				msim_result_print(sc, r, stdout);
			if (status != EXIT_PASS) {
				fprintf(stderr,
				        "meshsim: seed %" PRIu64
				        " fails (after "
				        "%" PRIu64
				        " passing); replay it with:\n"
				        "  meshsim%s --seed %" PRIu64,
				        seed, k, a.virtual_ ? " --virtual" : "",
				        seed);
				for (size_t i = 0; i < a.nsets; i++)
					fprintf(stderr, " --set '%s'",
					        a.sets[i]);
				fprintf(stderr, " %s\n", a.path);
				goto out;
			}
			if (msim_interrupted) {
				status = EXIT_CANNOT;
				goto out;
			}
		}
		fprintf(stderr,
		        "meshsim: %" PRIu64 " seeds passed (%" PRIu64
		        "..%" PRIu64 ")\n",
		        a.seeds, first, first + a.seeds - 1);
	}
out:
	free(node_bin);
	free(adv_bin);
	free(sc);
	free(r);
	return status;
}
