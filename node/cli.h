/*
 * cli.h — what the meshsync-node program's files share: the parsed command
 * line, the dispatch table, exit codes and message helpers.  The library
 * (ms_node) does not use this; it belongs to node/main.c and node/cmd_*.c.
 * node-inspect includes it too, for the exit codes and for what cli_text.c
 * gives both programs (the display form, the long-option parser).
 */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "meshsync.h"

/* Exit codes (docs/cli.md; node-inspect uses the same ones). */
enum {
	MS_EXIT_OK = 0,       /* success */
	MS_EXIT_NOTFOUND = 1, /* get: key missing or deleted */
	MS_EXIT_USAGE = 2,    /* bad command line or bad input value */
	MS_EXIT_STORE = 3,    /* store, key or configuration error */
	MS_EXIT_VERIFY = 4,   /* verification failed */
};

/* Options a command may accept (ms_cli_cmd.opts). */
enum {
	MS_CLI_BACKGROUND = 1u << 0, /* --background */
	MS_CLI_ALL = 1u << 1,        /* --all */
	MS_CLI_NETKEY = 1u << 2,     /* --network-key FILE|- */
	MS_CLI_LISTEN = 1u << 3,     /* --listen EP (repeatable) */
	MS_CLI_PEER = 1u << 4,       /* --peer EP (repeatable) */
	MS_CLI_NO_MDNS = 1u << 5,    /* --no-mdns */
	MS_CLI_CONFIG = 1u << 6,     /* --config FILE */
	MS_CLI_LOG_LEVEL = 1u << 7,  /* --log-level LEVEL */
	MS_CLI_SYSLOG = 1u << 8,     /* --syslog */
	MS_CLI_DEL = 1u << 9,        /* --del (import: KEY alone deletes) */
};

/* The command line once parsed; options may appear anywhere. */
typedef struct ms_cli {
	const char *data;   /* --data or $MESHSYNC_DATA; NULL if neither */
	const char *netkey; /* --network-key */
	int background;     /* --background */
	int all;            /* --all */
	const char *const *listen; /* --listen, in order */
	int nlisten;
	const char *const *peers; /* --peer, in order */
	int npeers;
	int no_mdns;           /* --no-mdns */
	const char *config;    /* --config */
	const char *log_level; /* --log-level */
	int syslog;            /* --syslog */
	int del;               /* --del */
	int npos;              /* positional arguments after the command */
	char **pos;
} ms_cli;

typedef struct ms_cli_cmd {
	const char *name;
	int (*fn)(const ms_cli *c);
	const char *help;  /* one line for the command list */
	const char *usage; /* "put KEY VALUE|- [--background]" */
	const char *more;  /* longer help text, may be NULL */
	unsigned opts;     /* MS_CLI_* accepted */
	int needs_data;    /* 1: --data is required */
} ms_cli_cmd;

extern const ms_cli_cmd ms_cli_cmds[];
extern const size_t ms_cli_ncmds;

int ms_cmd_init(const ms_cli *c);
int ms_cmd_put(const ms_cli *c);
int ms_cmd_get(const ms_cli *c);
int ms_cmd_del(const ms_cli *c);
int ms_cmd_id(const ms_cli *c);
int ms_cmd_network_key(const ms_cli *c);
int ms_cmd_help(const ms_cli *c);
int ms_cmd_run(const ms_cli *c);
int ms_cmd_import(const ms_cli *c);

/* "meshsync-node: <message>\n" on stderr. */
void ms_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the error in eb and return the exit code it maps to: MS_EINVAL (a
 * bad value given by the user) -> 2, everything else -> 3. */
int ms_cli_fail(const ms_errbuf *eb);
/* Open the node of c->data; on failure print why and return the exit code
 * (3), else 0. */
int ms_cli_open(const ms_cli *c, ms_node **n);
/* Program and per-command help. */
void ms_cli_usage(FILE *f);
void ms_cli_cmd_usage(FILE *f, const ms_cli_cmd *cmd);
/* Wrong argument count etc.: message, the command's usage, exit 2. */
int ms_cli_usage_error(const ms_cli_cmd *cmd, const char *why);
/* The command `name` takes exactly `want` positional arguments, named
 * `what` in the message ("KEY", "KEY and VALUE"): 0 when c has them, else
 * the usage error's exit code (2). */
int ms_cli_want_args(const ms_cli *c, const char *name, int want,
                     const char *what);
const ms_cli_cmd *ms_cli_find(const char *name);

/*
 * Bytes as one printable line: the text itself when it is valid UTF-8
 * without control characters (and does not itself start with "hex:"),
 * otherwise "hex:" and lower-case hex digits.  Returns a malloc'd string,
 * NULL when out of memory.  Shared with node-inspect.
 */
char *ms_cli_text(const uint8_t *b, size_t n);

/* --- long options (shared with node-inspect) ------------------------- */

/* One entry of a program's option table. */
typedef struct ms_cli_opt {
	const char
		*name; /* "--data" or "-h"; matched whole, never abbreviated */
	unsigned flag; /* the program's own code, for its switch */
	int has_arg;   /* 1: takes a value, as --name=V or --name V */
} ms_cli_opt;

/* The program's message printer: "<program>: <message>\n" on stderr
 * (ms_cli_err, ins_err). */
typedef void ms_cli_errfn(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* What ms_cli_next_arg found. */
typedef enum ms_cli_arg {
	MS_CLI_ARG_DONE, /* argv is used up */
	MS_CLI_ARG_POS,  /* a positional argument, in *val */
	MS_CLI_ARG_OPT,  /* an option: *opt, its value in *val (NULL if none) */
	MS_CLI_ARG_UNKNOWN, /* not in the table; message printed, show usage */
	MS_CLI_ARG_BADVAL,  /* value missing or not allowed; message printed */
} ms_cli_arg;

/* Walking argv.  Set the first six fields (designated initializer) and leave
 * the rest zero; the struct borrows argv, opts and nothing else. */
typedef struct ms_cli_args {
	int argc;
	char **argv;
	const ms_cli_opt *opts;
	size_t nopts;
	int neg_pos;       /* 1: "-3" is a positional argument, not an option */
	ms_cli_errfn *err; /* prints the usage errors */
	int i;        /* last argv index consumed; 0 before the first call */
	int only_pos; /* "--" seen: the rest is positional */
} ms_cli_args;

/*
 * Classify the next argument.  "-" (stdin) is positional, and so is
 * everything after "--" (which is itself consumed, not returned).  An option
 * is looked up whole in p->opts; its value comes from "=V" or from the next
 * argument, whatever that looks like.  Usage errors are printed through
 * p->err: "unknown option 'A'", "option N needs an argument", "option N
 * takes no argument".  *val points into argv (non-const: node-inspect
 * lower-cases --author in place).  After MS_CLI_ARG_DONE it keeps returning
 * MS_CLI_ARG_DONE.
 */
ms_cli_arg ms_cli_next_arg(ms_cli_args *p, const ms_cli_opt **opt, char **val);

#endif
