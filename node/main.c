/*
 * main.c — meshsync-node: the command line parser and the dispatch table.
 * Each command lives in its own cmd_*.c file.  Options may come before or
 * after the command name, so `meshsync-node --data d put k v` and
 * `meshsync-node put --data d k v` mean the same.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const ms_cli_cmd ms_cli_cmds[] = {
	{"init", ms_cmd_init, "create a new node (keys, config, store) in DIR",
         "init [--network-key FILE|-]",
         "Creates DIR (mode 0700) with a new identity, a network key, a commented\n"
         "meshsync.conf and an empty store, then prints the node id and network id.\n"
         "Without --network-key a new network (mesh) is started; with it the node\n"
         "joins the network of that key (the text `meshsync-node network-key` prints;\n"
         "- reads it from stdin).  Refuses to overwrite an existing node.\n",
         MS_CLI_NETKEY, 1},
	{"put", ms_cmd_put, "write a value (- reads it from stdin)",
         "put KEY VALUE|- [--background]",
         "Appends a signed PUT op; durable when the command returns.  VALUE - reads\n"
         "the value from stdin, bytes as they are.  For keys under the counter\n"
         "policy VALUE is a decimal delta such as 5 or -3.  --background gives the\n"
         "op background priority (synced after user data).  A value beginning with\n"
         "- other than a negative number needs -- before it.\n",
         MS_CLI_BACKGROUND, 1},
	{"get", ms_cmd_get,
         "print a key's value (exit 1 if missing or deleted)",
         "get KEY [--all]",
         "Prints the value followed by a newline: the winner (lww), every live\n"
         "sibling one per line (mv), or the sum (counter).  --all prints every\n"
         "head, one per line: VALUE<TAB>AUTHOR<TAB>SEQ<TAB>HLC<TAB>FLAGS, where VALUE\n"
         "is shown as text or hex:..., AUTHOR is the first 16 hex digits of the\n"
         "author's node id, FLAGS is winner, deleted, winner,deleted or -.\n"
         "Exit status 1 when the key was never written or is deleted.\n",
         MS_CLI_ALL, 1},
	{"del", ms_cmd_del, "delete a key (a tombstone op)",
         "del KEY [--background]",
         "Appends a signed DEL op.  Counter keys cannot be deleted; put a negative\n"
         "delta instead.\n",
         MS_CLI_BACKGROUND, 1},
	{"import", ms_cmd_import,
         "write many keys from lines KEY<TAB>VALUE (a file or stdin)",
         "import [FILE|-] [--del] [--background]",
         "Reads FILE (or stdin when FILE is - or absent), one write per line:\n"
         "KEY<TAB>VALUE puts VALUE (the rest of the line, tabs included; the line\n"
         "ending \\n or \\r\\n is not part of it), and with --del a line of KEY\n"
         "alone deletes KEY.  Empty lines are skipped.  Counter keys take a decimal\n"
         "delta, as put.  Writes are committed 1,000 at a time, each group in one\n"
         "durable transaction, and `imported N` is printed at the end.  A bad line\n"
         "stops the import with its line number; nothing of its group of 1,000 is\n"
         "written, earlier groups stay (the message says how many writes).\n"
         "Values cannot hold a newline: use put KEY - for those.\n",
         MS_CLI_DEL | MS_CLI_BACKGROUND, 1},
	{"run", ms_cmd_run,
         "run the node: listen, dial peers, sync (until SIGTERM)",
         "run [--listen EP]... [--peer EP]... [--no-mdns] [--config FILE]\n"
         "                     [--log-level LEVEL] [--syslog]",
         "Runs the node as a daemon in the foreground: accepts members on each\n"
         "--listen endpoint (default from meshsync.conf, else tcp://0.0.0.0:7700),\n"
         "dials each --peer (added to the configured peers), syncs with every\n"
         "member it reaches and pushes new writes, including `put`s made by other\n"
         "processes (their commit wakes it).  Writes DIR/node.pid (one daemon per\n"
         "DIR) and DIR/node.endpoints (the bound endpoints, ports resolved).  Logs\n"
         "to stderr (or syslog with --syslog) at LEVEL: debug, info, notice,\n"
         "warning, error.  SIGINT/SIGTERM stop it cleanly (exit 0); SIGHUP\n"
         "reloads the config.\n"
         "--config FILE reads FILE instead of DIR/meshsync.conf.  Members on the\n"
         "same network segment are found by mDNS (avahi-daemon, service\n"
         "_meshsync._tcp) unless --no-mdns; peers tell each other the addresses of\n"
         "members they synced with (peer exchange).\n",
         MS_CLI_LISTEN | MS_CLI_PEER | MS_CLI_NO_MDNS | MS_CLI_CONFIG |
                 MS_CLI_LOG_LEVEL | MS_CLI_SYSLOG,
         1},
	{"id", ms_cmd_id, "print this node's id (64 hex digits)", "id", NULL, 0,
         1},
	{"network-key", ms_cmd_network_key, "print the network key (secret!)",
         "network-key",
         "Prints the network key as one line (msnet1:...).  Saved to a file it is\n"
         "what `init --network-key FILE` takes to join this mesh.  Whoever holds it\n"
         "can join the mesh: keep it secret.\n",
         0, 1},
	{"help", ms_cmd_help, "show help for the program or a command",
         "help [COMMAND]", NULL, 0, 0},
};
const size_t ms_cli_ncmds = sizeof ms_cli_cmds / sizeof ms_cli_cmds[0];

static const char exit_text[] =
	"Exit status: 0 ok, 1 not found, 2 usage, 3 store or key error,\n"
	"4 verification failed.\n";

void ms_cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("meshsync-node: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ms_cli_fail(const ms_errbuf *eb)
{
	ms_cli_err("%s", eb->msg[0] != '\0' ? eb->msg : ms_strerror(eb->code));
	return eb->code == MS_EINVAL ? MS_EXIT_USAGE : MS_EXIT_STORE;
}

int ms_cli_open(const ms_cli *c, ms_node **n)
{
	ms_errbuf eb = {0};

	if (ms_node_open(n, c->data, NULL, &eb) != MS_OK) {
		ms_cli_err("%s", eb.msg);
		return MS_EXIT_STORE;
	}
	return MS_EXIT_OK;
}

void ms_cli_usage(FILE *f)
{
	fputs("usage: meshsync-node COMMAND --data DIR [options]\n\nCommands:\n",
	      f);
	for (size_t i = 0; i < ms_cli_ncmds; i++)
		fprintf(f, "  %-12s %s\n", ms_cli_cmds[i].name,
		        ms_cli_cmds[i].help);
	fputs("\nOptions (before or after the command):\n"
	      "  --data DIR   the node's data directory (default: $MESHSYNC_DATA)\n"
	      "  -h, --help   this help; `meshsync-node COMMAND --help` for a command\n"
	      "  --           end of options (for values that begin with -)\n\n",
	      f);
	fputs(exit_text, f);
}

void ms_cli_cmd_usage(FILE *f, const ms_cli_cmd *cmd)
{
	fprintf(f, "usage: meshsync-node %s%s\n", cmd->usage,
	        cmd->needs_data ? " --data DIR" : "");
	fprintf(f, "\n%s.\n", cmd->help);
	if (cmd->more != NULL)
		fprintf(f, "\n%s", cmd->more);
	if (cmd->needs_data)
		fputs("\n--data DIR may also come from $MESHSYNC_DATA.\n", f);
	fputs("\n", f);
	fputs(exit_text, f);
}

int ms_cli_usage_error(const ms_cli_cmd *cmd, const char *why)
{
	ms_cli_err("%s: %s", cmd->name, why);
	fprintf(stderr, "usage: meshsync-node %s%s\n", cmd->usage,
	        cmd->needs_data ? " --data DIR" : "");
	return MS_EXIT_USAGE;
}

int ms_cli_want_args(const ms_cli *c, const char *name, int want,
                     const char *what)
{
	const ms_cli_cmd *cmd = ms_cli_find(name);
	char why[96];

	if (c->npos == want)
		return MS_EXIT_OK;
	if (c->npos > want)
		return ms_cli_usage_error(cmd, want == 0
		                                       ? "no arguments expected"
		                                       : "too many arguments");
	snprintf(why, sizeof why, "%s needed", what);
	return ms_cli_usage_error(cmd, why);
}

const ms_cli_cmd *ms_cli_find(const char *name)
{
	for (size_t i = 0; i < ms_cli_ncmds; i++)
		if (strcmp(ms_cli_cmds[i].name, name) == 0)
			return &ms_cli_cmds[i];
	return NULL;
}

/* Long options every command knows about; which ones a command accepts is
 * in its table entry. */
enum { OPT_DATA = 1u << 16, OPT_HELP = 1u << 17 };
static const ms_cli_opt options[] = {
	{"--data", OPT_DATA, 1},
	{"--network-key", MS_CLI_NETKEY, 1},
	{"--background", MS_CLI_BACKGROUND, 0},
	{"--all", MS_CLI_ALL, 0},
	{"--listen", MS_CLI_LISTEN, 1},
	{"--peer", MS_CLI_PEER, 1},
	{"--no-mdns", MS_CLI_NO_MDNS, 0},
	{"--config", MS_CLI_CONFIG, 1},
	{"--log-level", MS_CLI_LOG_LEVEL, 1},
	{"--syslog", MS_CLI_SYSLOG, 0},
	{"--del", MS_CLI_DEL, 0},
	{"--help", OPT_HELP, 0},
	{"-h", OPT_HELP, 0},
};

static const char *option_name(unsigned flag)
{
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		if (options[i].flag == flag)
			return options[i].name;
	return "?";
}

int main(int argc, char **argv)
{
	ms_cli c = {0};
	ms_cli_args args = {.argc = argc,
	                    .argv = argv,
	                    .opts = options,
	                    .nopts = sizeof options / sizeof options[0],
	                    .neg_pos = 1,
	                    .err = ms_cli_err};
	ms_cli_arg kind;
	const ms_cli_opt *o;
	char *val;
	const char *cmdname = NULL;
	const ms_cli_cmd *cmd;
	unsigned seen = 0;
	const char **listen, **peers;
	int rc;

	/* Messages of up to 8 MiB come and go per session.  glibc raises its
	 * mmap threshold to the largest chunk freed (up to 32 MiB), after
	 * which such buffers come from heaps that are trimmed only at their
	 * top, so memory a peer made us hold stays resident after it is
	 * freed.  A fixed threshold keeps every large buffer in its own
	 * mapping, returned on free: resident memory follows what the
	 * budgets (docs/security.md) allow, not what was once held. */
	(void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	c.pos = calloc((size_t)argc + 1, sizeof *c.pos);
	listen = calloc((size_t)argc + 1, sizeof *listen);
	peers = calloc((size_t)argc + 1, sizeof *peers);
	c.listen = listen;
	c.peers = peers;
	if (c.pos == NULL || listen == NULL || peers == NULL) {
		ms_cli_err("out of memory");
		rc = MS_EXIT_STORE;
		goto out;
	}
	while ((kind = ms_cli_next_arg(&args, &o, &val)) != MS_CLI_ARG_DONE) {
		if (kind == MS_CLI_ARG_POS) {
			if (cmdname == NULL)
				cmdname = val;
			else
				c.pos[c.npos++] = val;
			continue;
		}
		if (kind != MS_CLI_ARG_OPT) {
			if (kind == MS_CLI_ARG_UNKNOWN)
				ms_cli_usage(stderr);
			rc = MS_EXIT_USAGE;
			goto out;
		}
		seen |= o->flag;
		switch (o->flag) {
		case OPT_DATA:
			c.data = val;
			break;
		case MS_CLI_NETKEY:
			c.netkey = val;
			break;
		case MS_CLI_BACKGROUND:
			c.background = 1;
			break;
		case MS_CLI_ALL:
			c.all = 1;
			break;
		case MS_CLI_LISTEN:
			listen[c.nlisten++] = val;
			break;
		case MS_CLI_PEER:
			peers[c.npeers++] = val;
			break;
		case MS_CLI_NO_MDNS:
			c.no_mdns = 1;
			break;
		case MS_CLI_CONFIG:
			c.config = val;
			break;
		case MS_CLI_LOG_LEVEL:
			c.log_level = val;
			break;
		case MS_CLI_SYSLOG:
			c.syslog = 1;
			break;
		case MS_CLI_DEL:
			c.del = 1;
			break;
		default:
			break;
		}
	}

	if (cmdname == NULL) {
		if (seen & OPT_HELP) {
			ms_cli_usage(stdout);
			rc = MS_EXIT_OK;
		} else {
			ms_cli_err("no command given");
			ms_cli_usage(stderr);
			rc = MS_EXIT_USAGE;
		}
		goto out;
	}
	if ((cmd = ms_cli_find(cmdname)) == NULL) {
		ms_cli_err("unknown command '%s'", cmdname);
		ms_cli_usage(stderr);
		rc = MS_EXIT_USAGE;
		goto out;
	}
	if (seen & OPT_HELP) {
		ms_cli_cmd_usage(stdout, cmd);
		rc = MS_EXIT_OK;
		goto out;
	}
	for (unsigned f = 1; f < OPT_DATA; f <<= 1) {
		if ((seen & f) && !(cmd->opts & f)) {
			char why[64];
			snprintf(why, sizeof why, "option %s does not apply",
			         option_name(f));
			rc = ms_cli_usage_error(cmd, why);
			goto out;
		}
	}
	if (c.data == NULL || c.data[0] == '\0') {
		const char *env = getenv("MESHSYNC_DATA");
		c.data = env != NULL && env[0] != '\0' ? env : NULL;
	}
	if (cmd->needs_data && c.data == NULL) {
		rc = ms_cli_usage_error(
			cmd,
			"no data directory (give --data DIR or set MESHSYNC_DATA)");
		goto out;
	}
	rc = cmd->fn(&c);
out:
	free(peers);
	free(listen);
	free(c.pos);
	if (fflush(stdout) != 0 && rc == MS_EXIT_OK) {
		ms_cli_err("write to stdout failed");
		rc = MS_EXIT_STORE;
	}
	return rc;
}
