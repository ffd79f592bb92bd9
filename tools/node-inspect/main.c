/*
 * main.c — node-inspect: command line, dispatch table, and opening the
 * store read-only.  Each command lives in its own cmd_*.c file.  Options may
 * come before or after the command name.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inspect.h"
#include "ms_path.h"

static const ins_cmd cmds[] = {
	{"summary", ins_cmd_summary,
         "ids, counts, digests and sizes of the store", "summary", 0},
	{"log", ins_cmd_log, "the operation log in (author, seq) order",
         "log [--author HEXPREFIX] [--since SEQ] [--limit N] "
         "[--follow [--count N]]",
         INS_AUTHOR | INS_SINCE | INS_LIMIT | INS_FOLLOW | INS_COUNT, NULL,
         "  --author HEXPREFIX  authors whose id starts with it\n"
         "  --since SEQ         ops with seq > SEQ\n"
         "  --limit N           at most N ops (of the log printed first)\n"
         "  --follow            then print new ops as they arrive, until\n"
         "                      SIGINT/SIGTERM (--json: one op per line)\n"
         "  --count N           with --follow: stop after N new ops\n"},
	{"state", ins_cmd_state,
         "every key with its policy, value(s) and heads", "state [--prefix P]",
         INS_PREFIX},
	{"conflicts", ins_cmd_conflicts,
         "keys with concurrent heads, and forks", "conflicts", 0},
	{"stats", ins_cmd_stats, "the store's counters and the quarantine",
         "stats", 0},
	{"peers", ins_cmd_peers,
         "known peers: addresses, link, backoff, lag, last session",
         "peers [--watch [--interval SECONDS] [--count N]]",
         INS_WATCH | INS_INTERVAL | INS_COUNT, NULL,
         "  --watch             refresh until SIGINT/SIGTERM: in place on a\n"
         "                      terminal, else one snapshot after another\n"
         "                      (--json: one document per line)\n"
         "  --interval SECONDS  between refreshes (default 2; 0.25 allowed)\n"
         "  --count N           stop after N refreshes\n"},
	{"quarantine", ins_cmd_quarantine,
         "rejected input: when, reason, source peer, first bytes", "quarantine",
         0},
	{"verify", ins_cmd_verify,
         "re-check every signature, id and index (exit 4 on any fault)",
         "verify", 0},
	{"graph", ins_cmd_graph,
         "the mesh as Graphviz DOT: this node, peers, peers of peers",
         "graph [--svg FILE]", INS_SVG, NULL,
         "Peers of peers come from DIR/node.mesh, written by a running\n"
         "node from what its peers' PEERS listed.\n"
         "  --svg FILE  write the graph as SVG through Graphviz's dot\n"
         "              instead (exit 3 when dot is not installed)\n"},
	{"delivery", ins_cmd_delivery,
         "which peers are known to hold the current value of KEY",
         "delivery KEY", 0, "KEY",
         "For each head of KEY, the identified peers known to hold it (from\n"
         "what they acknowledged), those not known to, and how many of our\n"
         "own ops each still lacks.  Exit 1 for a key never written.\n"},
	{"why", ins_cmd_why,
         "why a peer has not got our writes: link, backoff, lag, verdict",
         "why PEER", 0, "PEER",
         "PEER is a prefix of its hex node id or one of its addresses.\n"
         "One screen: link state and since when, backoff and the next\n"
         "attempt, lag, unacked own ops, the last session, the last error,\n"
         "budgets hit (in its last session, and node-wide), quarantined\n"
         "input from it, a verdict.\n"
         "An ambiguous prefix lists the candidates (exit 2); no such peer:\n"
         "exit 1.\n"},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static const char exit_text[] =
	"Exit status: 0 ok, 1 not found (delivery: key; why: peer),\n"
	"2 usage (why: an ambiguous prefix), 3 store error (or no such node;\n"
	"graph --svg: no Graphviz), 4 verification failed.\n";

void ins_err(const char *fmt, ...)
{
	va_list ap;

	fputs("node-inspect: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fputs("usage: node-inspect --data DIR [--json] COMMAND [options]\n\n"
	      "Reads a node's store (read-only; safe beside a running node).\n\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "  %-11s %s\n", "help",
	        "this help; `node-inspect COMMAND --help`");
	fputs("\nOptions (before or after the command):\n"
	      "  --data DIR   the node's data directory (default: $MESHSYNC_DATA)\n"
	      "  --json       one JSON document instead of tables (docs/json.md)\n"
	      "  -h, --help   help\n\n",
	      f);
	fputs(exit_text, f);
}

static void cmd_usage(FILE *f, const ins_cmd *c)
{
	fprintf(f,
	        "usage: node-inspect --data DIR [--json] %s\n\n%s.\n\n%s%s%s",
	        c->usage, c->help, c->more != NULL ? c->more : "",
	        c->more != NULL ? "\n" : "", exit_text);
}

enum {
	OPT_DATA = INS_OPTS_END,
	OPT_JSON = INS_OPTS_END << 1,
	OPT_HELP = INS_OPTS_END << 2
};
static const ms_cli_opt options[] = {
	{"--data", OPT_DATA, 1},     {"--json", OPT_JSON, 0},
	{"--author", INS_AUTHOR, 1}, {"--since", INS_SINCE, 1},
	{"--limit", INS_LIMIT, 1},   {"--prefix", INS_PREFIX, 1},
	{"--watch", INS_WATCH, 0},   {"--interval", INS_INTERVAL, 1},
	{"--count", INS_COUNT, 1},   {"--follow", INS_FOLLOW, 0},
	{"--svg", INS_SVG, 1},       {"--help", OPT_HELP, 0},
	{"-h", OPT_HELP, 0},
};
#define NOPTS (sizeof options / sizeof options[0])

/* Seconds, with up to three decimals ("2", "0.25"), as ms in
 * 1..86400000. */
static int parse_seconds(const char *s, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0, scale = 1000;

	if (*s == '\0' || *s == '.')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((whole = whole * 10 + (uint64_t)(*s - '0')) > 86400)
			return -1;
	if (*s == '.') {
		if (s[1] == '\0')
			return -1;
		for (s++; *s >= '0' && *s <= '9' && scale > 1; s++) {
			scale /= 10;
			frac += (uint64_t)(*s - '0') * scale;
		}
	}
	if (*s != '\0')
		return -1;
	*ms = whole * 1000 + frac;
	return *ms >= 1 && *ms <= 86400000 ? 0 : -1;
}

static int open_store(ins_ctx *x)
{
	ms_store_opts o;
	ms_errbuf eb = {0};
	struct stat st;
	char *path = ms_path_join(x->data, MS_STORE_DATA_FILE);
	ms_err e;

	if (path == NULL) {
		ins_err("open %s: out of memory", x->data);
		return MS_EXIT_STORE;
	}
	e = stat(path, &st) == 0 || errno != ENOENT ? MS_OK : MS_ENOTFOUND;
	free(path);
	ms_store_opts_default(&o);
	o.readonly = 1;
	if (e == MS_OK && (e = ms_crypto_init(&eb)) != MS_OK) {
		ins_err("%s", eb.msg);
		return MS_EXIT_STORE;
	}
	if (e == MS_OK)
		e = ms_store_open(&x->store, x->data, &o, &eb);
	if (e == MS_ENOTFOUND) {
		ins_err("open %s: no such node (run meshsync-node init --data %s)",
		        x->data, x->data);
		return MS_EXIT_STORE;
	}
	if (e != MS_OK) {
		ins_err("%s", eb.msg);
		return MS_EXIT_STORE;
	}
	return MS_EXIT_OK;
}

int main(int argc, char **argv)
{
	ins_ctx x = {.interval_ms = 2000};
	const char *name = NULL;
	const ins_cmd *cmd = NULL;
	ms_cli_args args = {.argc = argc,
	                    .argv = argv,
	                    .opts = options,
	                    .nopts = NOPTS,
	                    .neg_pos = 0,
	                    .err = ins_err};
	ms_cli_arg kind;
	const ms_cli_opt *o;
	char *val;
	unsigned seen = 0;
	int rc;

	x.pos = calloc((size_t)argc + 1, sizeof *x.pos);
	if (x.pos == NULL) {
		ins_err("out of memory");
		return MS_EXIT_STORE;
	}
	while ((kind = ms_cli_next_arg(&args, &o, &val)) != MS_CLI_ARG_DONE) {
		if (kind == MS_CLI_ARG_POS) {
			if (name == NULL)
				name = val;
			else
				x.pos[x.npos++] = val;
			continue;
		}
		if (kind != MS_CLI_ARG_OPT) {
			if (kind == MS_CLI_ARG_UNKNOWN)
				usage(stderr);
			rc = MS_EXIT_USAGE;
			goto out;
		}
		seen |= o->flag;
		switch (o->flag) {
		case OPT_DATA:
			x.data = val;
			break;
		case OPT_JSON:
			x.json = 1;
			break;
		case INS_PREFIX:
			x.prefix = val;
			break;
		case INS_WATCH:
			x.watch = 1;
			break;
		case INS_FOLLOW:
			x.follow = 1;
			break;
		case INS_SVG:
			x.svg = val;
			break;
		case INS_INTERVAL:
			if (parse_seconds(val, &x.interval_ms) != 0) {
				ins_err("--interval '%s': not a number of "
				        "seconds in 0.001..86400",
				        val);
				rc = MS_EXIT_USAGE;
				goto out;
			}
			break;
		case INS_AUTHOR:
			if (!ins_hex_prefix(val, val)) {
				ins_err("--author '%s': not a hex prefix of a node id",
				        val);
				rc = MS_EXIT_USAGE;
				goto out;
			}
			x.author = val;
			break;
		case INS_SINCE:
		case INS_LIMIT:
		case INS_COUNT:
			if (ins_parse_u64(val, strlen(val),
			                  o->flag == INS_SINCE ? &x.since
			                  : o->flag == INS_LIMIT
			                          ? &x.limit
			                          : &x.count) != 0) {
				ins_err("%s '%s': not a number", o->name, val);
				rc = MS_EXIT_USAGE;
				goto out;
			}
			break;
		default:
			break;
		}
	}

	if (name == NULL || strcmp(name, "help") == 0) {
		if (name == NULL && !(seen & OPT_HELP)) {
			ins_err("no command given");
			usage(stderr);
			rc = MS_EXIT_USAGE;
			goto out;
		}
		if (name != NULL && x.npos > 0) {
			for (size_t i = 0; i < NCMDS && cmd == NULL; i++)
				if (strcmp(cmds[i].name, x.pos[0]) == 0)
					cmd = &cmds[i];
			if (cmd == NULL) {
				ins_err("help: unknown command '%s'", x.pos[0]);
				usage(stderr);
				rc = MS_EXIT_USAGE;
				goto out;
			}
			cmd_usage(stdout, cmd);
		} else {
			usage(stdout);
		}
		rc = MS_EXIT_OK;
		goto out;
	}
	for (size_t i = 0; i < NCMDS && cmd == NULL; i++)
		if (strcmp(cmds[i].name, name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL) {
		ins_err("unknown command '%s'", name);
		usage(stderr);
		rc = MS_EXIT_USAGE;
		goto out;
	}
	if (seen & OPT_HELP) {
		cmd_usage(stdout, cmd);
		rc = MS_EXIT_OK;
		goto out;
	}
	for (unsigned f = 1; f < OPT_DATA; f <<= 1) {
		if ((seen & f) && !(cmd->opts & f)) {
			for (size_t k = 0; k < NOPTS; k++)
				if (options[k].flag == f)
					ins_err("%s: option %s does not apply",
					        cmd->name, options[k].name);
			fprintf(stderr,
			        "usage: node-inspect --data DIR [--json] %s\n",
			        cmd->usage);
			rc = MS_EXIT_USAGE;
			goto out;
		}
	}
	{
		/* options that only make sense together */
		const char *bad = NULL;
		if ((seen & INS_INTERVAL) && !x.watch)
			bad = "--interval goes with --watch";
		else if (cmd->opts & INS_WATCH && (seen & INS_COUNT) &&
		         !x.watch)
			bad = "--count goes with --watch";
		else if (cmd->opts & INS_FOLLOW && (seen & INS_COUNT) &&
		         !x.follow)
			bad = "--count goes with --follow";
		else if (x.svg != NULL && x.json)
			bad = "--svg writes a file: it does not go with --json";
		if (bad != NULL) {
			ins_err("%s: %s", cmd->name, bad);
			fprintf(stderr,
			        "usage: node-inspect --data DIR [--json] %s\n",
			        cmd->usage);
			rc = MS_EXIT_USAGE;
			goto out;
		}
	}
	if (cmd->arg != NULL) {
		if (x.npos == 0) {
			ins_err("%s: no %s given", cmd->name, cmd->arg);
			fprintf(stderr,
			        "usage: node-inspect --data DIR [--json] %s\n",
			        cmd->usage);
			rc = MS_EXIT_USAGE;
			goto out;
		}
		x.arg = x.pos[0];
	}
	if (x.npos > (cmd->arg != NULL)) {
		ins_err("%s: unexpected argument '%s'", cmd->name,
		        x.pos[cmd->arg != NULL]);
		fprintf(stderr, "usage: node-inspect --data DIR [--json] %s\n",
		        cmd->usage);
		rc = MS_EXIT_USAGE;
		goto out;
	}
	if (x.data == NULL || x.data[0] == '\0') {
		const char *env = getenv("MESHSYNC_DATA");
		x.data = env != NULL && env[0] != '\0' ? env : NULL;
	}
	if (x.data == NULL) {
		ins_err("%s: no data directory (give --data DIR or set MESHSYNC_DATA)",
		        cmd->name);
		fprintf(stderr, "usage: node-inspect --data DIR [--json] %s\n",
		        cmd->usage);
		rc = MS_EXIT_USAGE;
		goto out;
	}
	if ((rc = open_store(&x)) != MS_EXIT_OK)
		goto out;
	rc = cmd->fn(&x);
out:
	ms_store_close(&x.store);
	free(x.pos);
	if (fflush(stdout) != 0 && rc == MS_EXIT_OK) {
		ins_err("write to stdout failed");
		rc = MS_EXIT_STORE;
	}
	return rc;
}
