/*
 * test_cli.c — meshsync-node and node-inspect run as real processes: every
 * subcommand's success and error paths with exact exit codes and messages,
 * stdin input, joining a network through `network-key`, and every --json
 * document parsed back with jansson.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_test.h"
#include "peer_vv.h"
#include "peers.h"
#include "store.h"     /* peer records and forged ops for the inspect cases */
#include "store_fix.h" /* raw LMDB edits of a store file */

static char *tmp;

/* One program run: its exit code and both output streams. */
typedef ms_test_out run_res;

static void run_free(run_res *r)
{
	ms_test_out_free(r);
}

/* MESHSYNC_DATA for the child: set to env_data, or removed when NULL (var
 * holds the NAME=VALUE text env points at). */
static void data_env(const char *env[2], char *var, size_t cap,
                     const char *env_data)
{
	env[0] = "MESHSYNC_DATA";
	env[1] = NULL;
	if (env_data != NULL) {
		snprintf(var, cap, "MESHSYNC_DATA=%s", env_data);
		env[0] = var;
	}
}

/*
 * Run bin with argv (NULL-terminated, argv[0] == bin), feeding in[0..inlen)
 * on stdin (NULL: empty stdin) and capturing stdout and stderr, with
 * MESHSYNC_DATA as data_env sets it.  Fails the test if the program
 * outlives MS_TEST_CMD_TIMEOUT_MS.
 */
static void runv(run_res *r, const char *in, size_t inlen, const char *env_data,
                 const char *bin, char *const argv[])
{
	char var[4200];
	const char *env[2];
	ms_test_cmd c = {.in = in, .inlen = inlen, .env = env};

	ck_assert_str_eq(argv[0], bin);
	data_env(env, var, sizeof var, env_data);
	ms_test_cmd_run(r, &c, argv);
	ck_assert_msg(!r->timed_out, "%s did not finish within %d ms", bin,
	              MS_TEST_CMD_TIMEOUT_MS);
}

/* run(r, stdin, env, bin, args..., NULL) */
static void run(run_res *r, const char *in, const char *env_data,
                const char *bin, ...)
{
	char var[4200];
	const char *env[2];
	ms_test_cmd c = {.in = in,
	                 .inlen = in != NULL ? strlen(in) : 0,
	                 .env = env};
	va_list ap;

	data_env(env, var, sizeof var, env_data);
	va_start(ap, bin);
	ms_test_cmd_run_va(r, &c, bin, ap);
	va_end(ap);
	ck_assert_msg(!r->timed_out, "%s did not finish within %d ms", bin,
	              MS_TEST_CMD_TIMEOUT_MS);
}

#define NODE(r, ...) \
	run((r), NULL, NULL, MS_NODE_BIN, __VA_ARGS__, (char *)NULL)
#define NODE_IN(r, in, ...) \
	run((r), (in), NULL, MS_NODE_BIN, __VA_ARGS__, (char *)NULL)
#define INSPECT(r, ...) \
	run((r), NULL, NULL, MS_INSPECT_BIN, __VA_ARGS__, (char *)NULL)

/* Assert the exit code, showing stderr when it is not the one expected. */
#define EXPECT_CODE(r, want)                                               \
	ck_assert_msg((r)->code == (want), "exit %d, want %d; stderr: %s", \
	              (r)->code, (want), (r)->err)

/* init DIR; returns the node id printed (malloc'd). */
static char *init_node(const char *dir)
{
	run_res r;
	char *id;

	NODE(&r, "init", "--data", dir);
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "node_id: "));
	ck_assert_ptr_nonnull(strstr(r.out, "network_id: "));
	id = strndup(strstr(r.out, "node_id: ") + 9, 64);
	run_free(&r);
	return id;
}

static char *field_after(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	ck_assert_msg(p != NULL, "no '%s' in '%s'", label, text);
	return strndup(p + strlen(label), 64);
}

static json_t *parse_json(const run_res *r)
{
	json_error_t je;
	json_t *j = json_loadb(r->out, r->outlen, 0, &je);
	ck_assert_msg(j != NULL, "bad JSON (%s at line %d): %s", je.text,
	              je.line, r->out);
	return j;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	ck_assert_msg(json_is_integer(v), "field %s is not an integer", k);
	return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	ck_assert_msg(json_is_string(v), "field %s is not a string", k);
	return json_string_value(v);
}

/* ---- meshsync-node ---------------------------------------------------- */

/* Split s in place at each sep into at most n fields; returns how many. */
static int split_fields(char *s, char sep, char **f, int n)
{
	int k = 0;

	while (k < n) {
		char *e = strchr(s, sep);
		f[k++] = s;
		if (e == NULL)
			break;
		*e = '\0';
		s = e + 1;
	}
	return k;
}

START_TEST(acceptance_init_put_get)
{
	char *dir = ms_test_pjoin(tmp, "node-a");
	char *id;
	run_res r;

	id = init_node(dir);
	NODE(&r, "put", "--data", dir, "greeting", "hello");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	NODE(&r, "get", "--data", dir, "greeting");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "hello\n");
	ck_assert_str_eq(r.err, "");
	run_free(&r);

	/* id prints what init printed. */
	NODE(&r, "id", "--data", dir);
	EXPECT_CODE(&r, 0);
	ck_assert_uint_eq(r.outlen, 65);
	ck_assert_int_eq(strncmp(r.out, id, 64), 0);
	ck_assert_int_eq(r.out[64], '\n');
	run_free(&r);
	free(id);
	free(dir);
}
END_TEST

START_TEST(options_anywhere_and_env)
{
	char *dir = ms_test_pjoin(tmp, "n");
	run_res r;

	free(init_node(dir));
	NODE(&r, "--data", dir, "put", "k1", "v1");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "put", "k2", "v2", "--data", dir);
	EXPECT_CODE(&r, 0);
	run_free(&r);
	{
		char *opt;
		ck_assert_int_ge(asprintf(&opt, "--data=%s", dir), 0);
		NODE(&r, "put", opt, "k3", "v3", "--background");
		EXPECT_CODE(&r, 0);
		run_free(&r);
		free(opt);
	}
	/* --background reached the op. */
	INSPECT(&r, "--data", dir, "--json", "log", "--since", "2");
	EXPECT_CODE(&r, 0);
	{
		json_t *j = parse_json(&r), *op;
		ck_assert_int_eq(jint(j, "count"), 1);
		op = json_array_get(json_object_get(j, "ops"), 0);
		ck_assert_str_eq(jstr(op, "key"), "k3");
		ck_assert_str_eq(jstr(op, "priority"), "background");
		json_decref(j);
	}
	run_free(&r);
	run(&r, NULL, dir, MS_NODE_BIN, "get", "k2", (char *)NULL);
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "v2\n");
	run_free(&r);
	run(&r, NULL, dir, MS_NODE_BIN, "get", "k3", (char *)NULL);
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "v3\n");
	run_free(&r);
	/* A value beginning with - after --. */
	NODE(&r, "put", "--data", dir, "--", "k4", "--not-an-option");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "k4");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "--not-an-option\n");
	run_free(&r);
	free(dir);
}
END_TEST

START_TEST(usage_errors)
{
	char *dir = ms_test_pjoin(tmp, "n");
	run_res r;

	free(init_node(dir));

	NODE(&r, "frobnicate", "--data", dir);
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "meshsync-node: unknown command 'frobnicate'"));
	ck_assert_ptr_nonnull(strstr(r.err, "usage: meshsync-node"));
	ck_assert_str_eq(r.out, "");
	run_free(&r);

	run(&r, NULL, NULL, MS_NODE_BIN, (char *)NULL);
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "usage:"));
	run_free(&r);

	NODE(&r, "get", "k");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "meshsync-node: get: no data directory"));
	run_free(&r);

	NODE(&r, "put", "--data", dir, "k");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "usage: meshsync-node put KEY VALUE|-"));
	run_free(&r);
	NODE(&r, "put", "--data", dir, "k", "v", "extra");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	NODE(&r, "get", "--data", dir);
	EXPECT_CODE(&r, 2);
	run_free(&r);
	NODE(&r, "del", "--data", dir, "a", "b");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	NODE(&r, "id", "--data", dir, "extra");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	NODE(&r, "network-key", "--data", dir, "extra");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	NODE(&r, "init", "--data", dir, "extra");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "k", "--bogus");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "unknown option '--bogus'"));
	run_free(&r);
	NODE(&r, "id", "--data", dir, "--all");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "id: option --all does not apply"));
	run_free(&r);
	NODE(&r, "get", "k", "--data");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "option --data needs an argument"));
	run_free(&r);
	NODE(&r, "help", "nosuch");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	free(dir);
}
END_TEST

START_TEST(help_everywhere)
{
	static const char *const cmds[] = {"init", "put",         "get", "del",
	                                   "id",   "network-key", "help"};
	run_res r;

	NODE(&r, "--help");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(
		strstr(r.out, "usage: meshsync-node COMMAND --data DIR"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "Exit status: 0 ok, 1 not found, 2 usage"));
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		ck_assert_ptr_nonnull(strstr(r.out, cmds[i]));
	run_free(&r);
	NODE(&r, "help");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: meshsync-node"));
	run_free(&r);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		char want[64];
		snprintf(want, sizeof want, "usage: meshsync-node %s", cmds[i]);
		NODE(&r, cmds[i], "--help");
		EXPECT_CODE(&r, 0);
		ck_assert_msg(strstr(r.out, want) != NULL, "%s --help: %s",
		              cmds[i], r.out);
		ck_assert_str_eq(r.err, "");
		run_free(&r);
		NODE(&r, "help", cmds[i]);
		EXPECT_CODE(&r, 0);
		ck_assert_ptr_nonnull(strstr(r.out, want));
		run_free(&r);
	}
	NODE(&r, "-h", "get");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "get KEY [--all]"));
	run_free(&r);
}
END_TEST

/* get's output cannot be written (a full disk): exit 3 and why, not 0 with
 * the value lost. */
START_TEST(get_output_write_fails)
{
	char *dir = ms_test_pjoin(tmp, "n"), cmd[8192];
	run_res r;

	free(init_node(dir));
	NODE(&r, "put", "--data", dir, "k", "v");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	snprintf(cmd, sizeof cmd, "exec '%s' get --data '%s' k >/dev/full",
	         MS_NODE_BIN, dir);
	run(&r, NULL, NULL, "/bin/sh", "-c", cmd, (char *)NULL);
	EXPECT_CODE(&r, 3);
	ck_assert_str_eq(
		r.err,
		"meshsync-node: get k: write: No space left on device\n");
	run_free(&r);
	free(dir);
}
END_TEST

START_TEST(get_missing_and_deleted)
{
	char *dir = ms_test_pjoin(tmp, "n");
	run_res r;

	free(init_node(dir));
	NODE(&r, "get", "--data", dir, "nope");
	EXPECT_CODE(&r, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "meshsync-node: get nope: no such key\n");
	run_free(&r);

	NODE(&r, "put", "--data", dir, "k", "v");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "del", "--data", dir, "k");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	NODE(&r, "get", "--data", dir, "k");
	EXPECT_CODE(&r, 1);
	ck_assert_str_eq(r.err, "meshsync-node: get k: key is deleted\n");
	run_free(&r);

	/* --all still shows the tombstone. */
	NODE(&r, "get", "--data", dir, "k", "--all");
	EXPECT_CODE(&r, 0);
	{
		/* "VALUE\tAUTHOR\tSEQ\tHLC\tFLAGS\n", the value empty */
		char *f[5], *end;
		unsigned long long seq, hlc;
		ck_assert_int_eq(split_fields(r.out, '\t', f, 5), 5);
		ck_assert_str_eq(f[0], "");
		ck_assert_uint_eq(strlen(f[1]), 16);
		seq = strtoull(f[2], &end, 10);
		ck_assert(*end == '\0');
		hlc = strtoull(f[3], &end, 10);
		ck_assert(*end == '\0');
		ck_assert_uint_eq(seq, 2);
		ck_assert_uint_gt(hlc, 0);
		ck_assert_str_eq(f[4], "winner,deleted\n");
	}
	run_free(&r);
	NODE(&r, "get", "--data", dir, "nope", "--all");
	EXPECT_CODE(&r, 1);
	run_free(&r);
	free(dir);
}
END_TEST

START_TEST(put_from_stdin_and_get_all)
{
	char *dir = ms_test_pjoin(tmp, "n");
	char *id;
	static const char bin[] = "line1\n\tline2\x01\xff";
	run_res r;

	id = init_node(dir);
	runv(&r, bin, sizeof bin - 1, NULL, MS_NODE_BIN,
	     (char *[]){MS_NODE_BIN, "put", "--data", dir, "blob", "-", NULL});
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "blob");
	EXPECT_CODE(&r, 0);
	ck_assert_uint_eq(r.outlen, sizeof bin);
	ck_assert_int_eq(memcmp(r.out, bin, sizeof bin - 1), 0);
	ck_assert_int_eq(r.out[sizeof bin - 1], '\n');
	run_free(&r);

	/* --all: one line, value as hex since it is not clean text. */
	NODE(&r, "get", "--data", dir, "blob", "--all");
	EXPECT_CODE(&r, 0);
	{
		char want[256];
		snprintf(want, sizeof want,
		         "hex:6c696e65310a096c696e653201ff\t%.16s\t1\t", id);
		ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0,
		              "got %s want %s", r.out, want);
		ck_assert_ptr_nonnull(strstr(r.out, "\twinner\n"));
	}
	run_free(&r);

	/* Empty stdin is an empty value. */
	NODE(&r, "put", "--data", dir, "empty", "-");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "empty");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "\n");
	run_free(&r);
	free(id);
	free(dir);
}
END_TEST

START_TEST(store_and_key_errors)
{
	char *dir = ms_test_pjoin(tmp, "n"),
	     *missing = ms_test_pjoin(tmp, "missing");
	char *idp = ms_test_pjoin(dir, "identity.key");
	run_res r;

	free(init_node(dir));
	NODE(&r, "init", "--data", dir);
	EXPECT_CODE(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "meshsync-node: init "));
	ck_assert_ptr_nonnull(strstr(r.err, "already exists"));
	run_free(&r);

	NODE(&r, "get", "--data", missing, "k");
	EXPECT_CODE(&r, 3);
	{
		char want[512];
		snprintf(
			want, sizeof want,
			"meshsync-node: open %s: no such node (run meshsync-node init --data %s)\n",
			missing, missing);
		ck_assert_str_eq(r.err, want);
	}
	run_free(&r);
	NODE(&r, "put", "--data", missing, "k", "v");
	EXPECT_CODE(&r, 3);
	run_free(&r);
	NODE(&r, "id", "--data", missing);
	EXPECT_CODE(&r, 3);
	run_free(&r);

	ck_assert_int_eq(chmod(idp, 0644), 0);
	NODE(&r, "put", "--data", dir, "k", "v");
	EXPECT_CODE(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "meshsync-node: "));
	ck_assert_ptr_nonnull(strstr(r.err, "identity.key"));
	run_free(&r);
	ck_assert_int_eq(chmod(idp, 0600), 0);

	/* A config error names file and line, exit 3. */
	{
		char *conf = ms_test_pjoin(dir, "meshsync.conf");
		ms_test_write_file(conf, "[store]\nmap_max = 8M\nx = 1\n",
		                   0644);
		NODE(&r, "get", "--data", dir, "k");
		EXPECT_CODE(&r, 3);
		ck_assert_ptr_nonnull(
			strstr(r.err,
		               "meshsync.conf:3: unknown key 'x' in [store]"));
		run_free(&r);
		free(conf);
	}
	free(idp);
	free(missing);
	free(dir);
}
END_TEST

START_TEST(network_key_joins_network)
{
	char *a = ms_test_pjoin(tmp, "a"), *b = ms_test_pjoin(tmp, "b"),
	     *c = ms_test_pjoin(tmp, "c");
	char *keyfile = ms_test_pjoin(tmp, "net.key");
	char *neta, *netb, *netc;
	run_res r;

	NODE(&r, "init", "--data", a);
	EXPECT_CODE(&r, 0);
	neta = field_after(r.out, "network_id: ");
	run_free(&r);

	NODE(&r, "network-key", "--data", a);
	EXPECT_CODE(&r, 0);
	ck_assert_int_eq(strncmp(r.out, "msnet1:", 7), 0);
	ck_assert_uint_eq(r.outlen, 7 + 64 + 1);
	ck_assert_int_eq(r.out[r.outlen - 1], '\n');
	ms_test_write_file(keyfile, r.out, 0644);
	run_free(&r);

	NODE(&r, "init", "--data", b, "--network-key", keyfile);
	EXPECT_CODE(&r, 0);
	netb = field_after(r.out, "network_id: ");
	run_free(&r);
	ck_assert_str_eq(neta, netb);

	/* From stdin, key text piped in. */
	NODE(&r, "network-key", "--data", a);
	{
		char *text = strdup(r.out);
		run_free(&r);
		NODE_IN(&r, text, "init", "--network-key", "-", "--data", c);
		free(text);
	}
	EXPECT_CODE(&r, 0);
	netc = field_after(r.out, "network_id: ");
	ck_assert_str_eq(neta, netc);
	run_free(&r);

	/* Bad key file, bad key on stdin, no key file: exit 3, the source named,
	 * nothing created. */
	{
		char *d = ms_test_pjoin(tmp, "d"),
		     *bad = ms_test_pjoin(tmp, "bad.key");
		char *none = ms_test_pjoin(tmp, "no.key");
		char want[512];
		ms_test_write_file(bad, "not a key\n", 0644);
		NODE(&r, "init", "--data", d, "--network-key", bad);
		EXPECT_CODE(&r, 3);
		snprintf(
			want, sizeof want,
			"meshsync-node: load %s: does not start with \"msnet1:\"\n",
			bad);
		ck_assert_str_eq(r.err, want);
		ck_assert_str_eq(r.out, "");
		ck_assert_int_eq(access(d, F_OK), -1);
		run_free(&r);

		NODE_IN(&r, "not a key\n", "init", "--network-key", "-",
		        "--data", d);
		EXPECT_CODE(&r, 3);
		ck_assert_str_eq(r.err,
		                 "meshsync-node: load network key from stdin: "
		                 "does not start with \"msnet1:\"\n");
		ck_assert_int_eq(access(d, F_OK), -1);
		run_free(&r);

		NODE(&r, "init", "--network-key", "-", "--data",
		     d); /* empty stdin */
		EXPECT_CODE(&r, 3);
		ck_assert_str_eq(
			r.err, "meshsync-node: load network key from stdin: "
			       "empty, expected \"msnet1:<64 hex digits>\"\n");
		ck_assert_int_eq(access(d, F_OK), -1);
		run_free(&r);

		NODE(&r, "init", "--data", d, "--network-key", none);
		EXPECT_CODE(&r, 3);
		snprintf(want, sizeof want,
		         "meshsync-node: load %s: no such file\n", none);
		ck_assert_str_eq(r.err, want);
		ck_assert_int_eq(access(d, F_OK), -1);
		run_free(&r);
		free(d);
		free(bad);
		free(none);
	}
	free(neta);
	free(netb);
	free(netc);
	free(keyfile);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(counter_keys)
{
	char *dir = ms_test_pjoin(tmp, "n"),
	     *conf = ms_test_pjoin(dir, "meshsync.conf");
	run_res r;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ms_test_write_file(conf, "[policy]\ncounter/ = counter\n", 0644);
	free(init_node(dir));
	NODE(&r, "put", "--data", dir, "counter/n", "5");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "put", "--data", dir, "counter/n", "-2");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE_IN(&r, "10\n", "put", "--data", dir, "counter/n", "-");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "counter/n");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "13\n");
	run_free(&r);
	NODE(&r, "put", "--data", dir, "counter/n", "lots");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "decimal integer"));
	run_free(&r);
	NODE(&r, "del", "--data", dir, "counter/n");
	EXPECT_CODE(&r, 2);
	ck_assert_str_eq(
		r.err,
		"meshsync-node: del: counter keys cannot be deleted; put a negative delta\n");
	run_free(&r);
	free(conf);
	free(dir);
}
END_TEST

/* import: 2,500 lines in three commits, counter deltas and deletes; a bad
 * line names its number and stores nothing of its group of 1,000. */
START_TEST(import_lines)
{
	char *dir = ms_test_pjoin(tmp, "n"),
	     *conf = ms_test_pjoin(dir, "meshsync.conf"),
	     *file = ms_test_pjoin(tmp, "in.tsv");
	size_t cap = 2600 * 40, len = 0;
	char *in = malloc(cap);
	run_res r;

	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ms_test_write_file(conf, "[policy]\ncounter/ = counter\n", 0644);
	free(init_node(dir));
	for (int i = 1; i <= 2500; i++)
		len += (size_t)snprintf(in + len, cap - len,
		                        i % 500 == 0 ? "counter/n\t%d\r\n"
		                                     : "k/%05d\tv\t%d\n",
		                        i, i);
	in[len] = '\0';
	ms_test_write_file(file, in, 0600);
	NODE(&r, "import", "--data", dir, file);
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "imported 2500\n");
	run_free(&r);
	NODE(&r, "get", "--data", dir, "k/02499");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "v\t2499\n"); /* tabs after the first kept */
	run_free(&r);
	NODE(&r, "get", "--data", dir, "counter/n"); /* 500+1000+...+2500 */
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "7500\n");
	run_free(&r);

	/* Line 1203 has no TAB: the first 1,000 are written, nothing of
	 * lines 1001..2000. */
	len = 0;
	for (int i = 1; i <= 1500; i++)
		len += (size_t)snprintf(in + len, cap - len,
		                        i == 1203 ? "bad/%05d\n"
		                                  : "x/%05d\t%d\n",
		                        i, i);
	NODE_IN(&r, in, "import", "--data", dir, "-");
	EXPECT_CODE(&r, 2);
	ck_assert_msg(strstr(r.err, "line 1203") != NULL &&
	                      strstr(r.err, "1000 writes imported") != NULL,
	              "%s", r.err);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "x/01000");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "x/01001");
	EXPECT_CODE(&r, 1);
	run_free(&r);

	/* A bad counter delta: named by its line, found by the API. */
	NODE_IN(&r, "y/1\t1\ncounter/n\t1\ncounter/n\tlots\n", "import",
	        "--data", dir);
	EXPECT_CODE(&r, 2);
	ck_assert_msg(strstr(r.err, "line 3") != NULL &&
	                      strstr(r.err, "decimal") != NULL,
	              "%s", r.err);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "y/1");
	EXPECT_CODE(&r, 1);
	run_free(&r);

	/* --del: KEY alone deletes it. */
	NODE_IN(&r, "k/00001\n\nk/00002\tnew\n", "import", "--data", dir,
	        "--del");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "imported 2\n");
	run_free(&r);
	NODE(&r, "get", "--data", dir, "k/00001");
	EXPECT_CODE(&r, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "deleted"));
	run_free(&r);
	NODE(&r, "import", "--data", dir, "/nonexistent/in.tsv");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/in.tsv"));
	run_free(&r);
	free(in);
	free(file);
	free(conf);
	free(dir);
}
END_TEST

START_TEST(store_full_keeps_reads)
{
	char *dir = ms_test_pjoin(tmp, "n"),
	     *conf = ms_test_pjoin(dir, "meshsync.conf");
	size_t big = 400u << 10;
	char *val = malloc(big);
	run_res r;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ms_test_write_file(conf,
	                   "[store]\nmap_initial = 256K\nmap_max = 256K\n",
	                   0644);
	free(init_node(dir));
	NODE(&r, "put", "--data", dir, "small", "kept");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	memset(val, 'x', big);
	runv(&r, val, big, NULL, MS_NODE_BIN,
	     (char *[]){MS_NODE_BIN, "put", "--data", dir, "big", "-", NULL});
	EXPECT_CODE(&r, 3);
	ck_assert_msg(strstr(r.err, "full") != NULL, "stderr: %s", r.err);
	run_free(&r);
	NODE(&r, "get", "--data", dir, "small");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "kept\n");
	run_free(&r);
	NODE(&r, "get", "--data", dir, "big");
	EXPECT_CODE(&r, 1);
	run_free(&r);
	free(val);
	free(conf);
	free(dir);
}
END_TEST

/* ---- node-inspect ----------------------------------------------------- */

/* A node with n ops: keys k1..k(n-1) and one rewrite of k1. */
static char *filled_node(const char *name, int n, char **id)
{
	char *dir = ms_test_pjoin(tmp, name);
	run_res r;

	*id = init_node(dir);
	for (int i = 1; i <= n; i++) {
		char key[16], val[16];
		snprintf(key, sizeof key, "k%d", i < n ? i : 1);
		snprintf(val, sizeof val, "v%d", i);
		NODE(&r, "put", "--data", dir, key, val);
		EXPECT_CODE(&r, 0);
		run_free(&r);
	}
	return dir;
}

START_TEST(inspect_summary)
{
	char *id, *dir = filled_node("n", 6, &id);
	char *net;
	run_res r;
	json_t *j, *pol;

	INSPECT(&r, "--data", dir, "--json", "summary");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_str_eq(jstr(j, "node_id"), id);
	ck_assert_uint_eq(strlen(jstr(j, "network_id")), 64);
	net = strdup(jstr(j, "network_id"));
	ck_assert_int_eq(jint(j, "ops"), 6);
	ck_assert_int_eq(jint(j, "authors"), 1);
	ck_assert_int_eq(jint(j, "keys"), 5);
	ck_assert_int_eq(jint(j, "live_keys"), 5);
	ck_assert_int_eq(jint(j, "conflicts"), 0);
	ck_assert_int_eq(jint(j, "forks"), 0);
	ck_assert_int_eq(jint(j, "quarantined"), 0);
	ck_assert_int_eq(jint(j, "local_seq"), 6);
	ck_assert_int_gt(jint(j, "hlc"), 0);
	ck_assert_int_gt(jint(j, "store_bytes"), 0);
	ck_assert_int_ge(jint(j, "map_size"), jint(j, "store_bytes"));
	ck_assert_uint_eq(strlen(jstr(j, "vv_digest")), 64);
	ck_assert_uint_eq(strlen(jstr(j, "state_hash")), 64);
	pol = json_object_get(j, "policies");
	ck_assert(json_is_array(pol));
	ck_assert_uint_eq(json_array_size(pol), 0);
	json_decref(j);
	run_free(&r);

	/* Options after the command; human form has the same facts. */
	INSPECT(&r, "summary", "--data", dir);
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, id));
	ck_assert_ptr_nonnull(strstr(r.out, net));
	ck_assert_ptr_nonnull(strstr(r.out, "state_hash"));
	run_free(&r);

	/* One more put changes ops and the state hash. */
	INSPECT(&r, "--data", dir, "--json", "summary");
	j = parse_json(&r);
	run_free(&r);
	{
		char *sh = strdup(jstr(j, "state_hash"));
		json_decref(j);
		NODE(&r, "put", "--data", dir, "k2", "changed");
		run_free(&r);
		INSPECT(&r, "--data", dir, "--json", "summary");
		j = parse_json(&r);
		ck_assert_int_eq(jint(j, "ops"), 7);
		ck_assert_str_ne(jstr(j, "state_hash"), sh);
		json_decref(j);
		run_free(&r);
		free(sh);
	}
	free(net);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_log_filters)
{
	char *id, *dir = filled_node("n", 8, &id);
	run_res r;
	json_t *j, *ops;
	char prefix[9], other[2];

	INSPECT(&r, "--data", dir, "--json", "log");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 8);
	ops = json_object_get(j, "ops");
	ck_assert_uint_eq(json_array_size(ops), 8);
	for (size_t i = 0; i < 8; i++) {
		json_t *op = json_array_get(ops, i);
		ck_assert_int_eq(jint(op, "seq"), (json_int_t)i + 1);
		ck_assert_str_eq(jstr(op, "author"), id);
		ck_assert_str_eq(jstr(op, "type"), "put");
		ck_assert_str_eq(jstr(op, "priority"), "user");
		ck_assert_uint_eq(strlen(jstr(op, "id")), 64);
		ck_assert(json_is_array(json_object_get(op, "parents")));
	}
	/* The rewrite of k1 (seq 8) names the first write as its parent. */
	{
		json_t *last = json_array_get(ops, 7),
		       *first = json_array_get(ops, 0);
		ck_assert_str_eq(jstr(last, "key"), "k1");
		ck_assert_str_eq(jstr(last, "value"), "v8");
		ck_assert_int_eq(jint(last, "value_len"), 2);
		ck_assert_uint_eq(json_array_size(
					  json_object_get(last, "parents")),
		                  1);
		ck_assert_str_eq(json_string_value(json_array_get(
					 json_object_get(last, "parents"), 0)),
		                 jstr(first, "id"));
	}
	json_decref(j);
	run_free(&r);

	INSPECT(&r, "--data", dir, "--json", "log", "--since", "3");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 5);
	ck_assert_int_eq(jint(json_array_get(json_object_get(j, "ops"), 0),
	                      "seq"),
	                 4);
	json_decref(j);
	run_free(&r);

	INSPECT(&r, "log", "--limit", "2", "--since=1", "--json", "--data",
	        dir);
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "ops")), 2);
	ck_assert_int_eq(jint(json_array_get(json_object_get(j, "ops"), 1),
	                      "seq"),
	                 3);
	json_decref(j);
	run_free(&r);

	memcpy(prefix, id, 8);
	prefix[8] = '\0';
	INSPECT(&r, "--data", dir, "--json", "log", "--author", prefix);
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 8);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "--json", "log", "--author", id, "--since",
	        "6");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 2);
	json_decref(j);
	run_free(&r);
	other[0] = id[0] == 'a' ? 'b' : 'a';
	other[1] = '\0';
	INSPECT(&r, "--data", dir, "--json", "log", "--author", other);
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 0);
	json_decref(j);
	run_free(&r);

	/* Human table: header and one row per op. */
	INSPECT(&r, "--data", dir, "log", "--limit", "3");
	EXPECT_CODE(&r, 0);
	ck_assert_int_eq(strncmp(r.out, "AUTHOR", 6), 0);
	{
		int lines = 0;
		for (const char *p = r.out; *p; p++)
			lines += *p == '\n';
		ck_assert_int_eq(lines, 4);
	}
	run_free(&r);

	INSPECT(&r, "--data", dir, "log", "--since", "x");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	INSPECT(&r, "--data", dir, "log", "--author", "xyz");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	INSPECT(&r, "--data", dir, "log", "--prefix", "k");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "log: option --prefix does not apply"));
	run_free(&r);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_state_conflicts_stats)
{
	char *dir = ms_test_pjoin(tmp, "n"),
	     *conf = ms_test_pjoin(dir, "meshsync.conf");
	char *id;
	run_res r;
	json_t *j, *keys;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ms_test_write_file(conf, "[policy]\ncounter/ = counter\ndocs/ = mv\n",
	                   0644);
	id = init_node(dir);
	NODE(&r, "put", "--data", dir, "app/a", "1");
	run_free(&r);
	NODE(&r, "put", "--data", dir, "app/b", "2");
	run_free(&r);
	NODE(&r, "del", "--data", dir, "app/b");
	run_free(&r);
	NODE(&r, "put", "--data", dir, "counter/c", "7");
	run_free(&r);
	NODE(&r, "put", "--data", dir, "counter/c", "-2");
	run_free(&r);
	NODE(&r, "put", "--data", dir, "docs/d", "text");
	EXPECT_CODE(&r, 0);
	run_free(&r);

	INSPECT(&r, "--data", dir, "--json", "state");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 4);
	keys = json_object_get(j, "keys");
	ck_assert_uint_eq(json_array_size(keys), 4);
	{
		json_t *a = json_array_get(keys, 0),
		       *b = json_array_get(keys, 1);
		json_t *c = json_array_get(keys, 2),
		       *d = json_array_get(keys, 3);
		ck_assert_str_eq(jstr(a, "key"), "app/a");
		ck_assert_str_eq(jstr(a, "policy"), "lww");
		ck_assert(json_is_true(json_object_get(a, "live")));
		ck_assert(json_is_false(json_object_get(a, "conflict")));
		ck_assert_str_eq(json_string_value(json_array_get(
					 json_object_get(a, "values"), 0)),
		                 "1");
		ck_assert_uint_eq(json_array_size(json_object_get(a, "heads")),
		                  1);
		ck_assert_str_eq(jstr(json_array_get(json_object_get(a,
		                                                     "heads"),
		                                     0),
		                      "author"),
		                 id);

		ck_assert_str_eq(jstr(b, "key"), "app/b");
		ck_assert(json_is_false(json_object_get(b, "live")));
		ck_assert_int_eq(jint(b, "ops"), 2);
		ck_assert_uint_eq(json_array_size(json_object_get(b, "values")),
		                  0);
		ck_assert_str_eq(jstr(json_array_get(json_object_get(b,
		                                                     "heads"),
		                                     0),
		                      "type"),
		                 "del");
		ck_assert(json_is_null(
			json_object_get(json_array_get(json_object_get(b,
		                                                       "heads"),
		                                       0),
		                        "value")));

		ck_assert_str_eq(jstr(c, "key"), "counter/c");
		ck_assert_str_eq(jstr(c, "policy"), "counter");
		ck_assert_int_eq(jint(c, "counter"), 5);
		ck_assert_str_eq(json_string_value(json_array_get(
					 json_object_get(c, "values"), 0)),
		                 "5");
		ck_assert_str_eq(jstr(json_array_get(json_object_get(c,
		                                                     "heads"),
		                                     0),
		                      "value"),
		                 "-2");

		ck_assert_str_eq(jstr(d, "key"), "docs/d");
		ck_assert_str_eq(jstr(d, "policy"), "mv");
	}
	json_decref(j);
	run_free(&r);

	INSPECT(&r, "--data", dir, "--json", "state", "--prefix", "app/");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 2);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "state", "--prefix", "zzz");
	EXPECT_CODE(&r, 0);
	ck_assert_int_eq(strncmp(r.out, "KEY", 3), 0);
	run_free(&r);
	INSPECT(&r, "--data", dir, "state");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "counter/c"));
	ck_assert_ptr_nonnull(strstr(r.out, "deleted"));
	run_free(&r);

	/* summary lists the stored policy table. */
	INSPECT(&r, "--data", dir, "--json", "summary");
	j = parse_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "policies")), 2);
	ck_assert_int_eq(jint(j, "live_keys"), 3);
	json_decref(j);
	run_free(&r);

	INSPECT(&r, "--data", dir, "--json", "conflicts");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "conflicts")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "forks")), 0);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "conflicts");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "0 key(s) in conflict"));
	run_free(&r);

	INSPECT(&r, "--data", dir, "--json", "stats");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert(json_is_object(json_object_get(j, "stats")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "quarantine")), 0);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "stats");
	EXPECT_CODE(&r, 0);
	ck_assert_int_eq(strncmp(r.out, "COUNTER", 7), 0);
	run_free(&r);
	free(id);
	free(conf);
	free(dir);
}
END_TEST

START_TEST(inspect_needs_only_the_store)
{
	char *id, *dir = filled_node("n", 3, &id);
	char *idp = ms_test_pjoin(dir, "identity.key"),
	     *nkp = ms_test_pjoin(dir, "network.key");
	run_res r;

	ck_assert_int_eq(unlink(idp), 0);
	ck_assert_int_eq(unlink(nkp), 0);
	INSPECT(&r, "--data", dir, "verify");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "ok: 3 ops verified\n");
	run_free(&r);
	INSPECT(&r, "--data", dir, "--json", "summary");
	EXPECT_CODE(&r, 0);
	{
		json_t *j = parse_json(&r);
		ck_assert_str_eq(jstr(j, "node_id"), id);
		json_decref(j);
	}
	run_free(&r);
	free(idp);
	free(nkp);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_usage_and_missing_store)
{
	char *missing = ms_test_pjoin(tmp, "x");
	char want[512];
	run_res r;

	INSPECT(&r, "--data", missing, "summary");
	EXPECT_CODE(&r, 3);
	snprintf(
		want, sizeof want,
		"node-inspect: open %s: no such node (run meshsync-node init --data %s)\n",
		missing, missing);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	INSPECT(&r, "--data", missing, "verify");
	EXPECT_CODE(&r, 3);
	run_free(&r);

	INSPECT(&r, "--data", missing, "frobnicate");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "node-inspect: unknown command 'frobnicate'"));
	ck_assert_ptr_nonnull(strstr(r.err, "usage: node-inspect"));
	run_free(&r);
	INSPECT(&r, "--data", missing);
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "usage: node-inspect"));
	run_free(&r);
	INSPECT(&r, "summary");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "no data directory"));
	run_free(&r);
	INSPECT(&r, "summary", "extra", "--data", missing);
	EXPECT_CODE(&r, 2);
	run_free(&r);
	INSPECT(&r, "--bogus", "summary");
	EXPECT_CODE(&r, 2);
	run_free(&r);

	INSPECT(&r, "--help");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(
		strstr(r.out,
	               "usage: node-inspect --data DIR [--json] COMMAND"));
	ck_assert_ptr_nonnull(strstr(r.out, "verify"));
	run_free(&r);
	INSPECT(&r, "help");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	INSPECT(&r, "log", "--help");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(
		strstr(r.out,
	               "log [--author HEXPREFIX] [--since SEQ] [--limit N]"));
	run_free(&r);
	INSPECT(&r, "help", "state");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "state [--prefix P]"));
	run_free(&r);
	free(missing);
}
END_TEST

/* Flip one byte inside a stored op's encoding through LMDB itself. */
static void corrupt_one_op(const char *dir)
{
	fix_raw raw;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t key[64], *copy;

	fix_raw_begin(&raw, dir, "ops");
	ck_assert_int_eq(mdb_cursor_open(raw.txn, raw.dbi, &cur), 0);
	ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
	ck_assert_uint_le(k.mv_size, sizeof key);
	memcpy(key, k.mv_data, k.mv_size);
	k.mv_data = key;
	copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size - 65] ^=
		0x01; /* the value's last byte, before the sig */
	v.mv_data = copy;
	mdb_cursor_close(cur);
	ck_assert_int_eq(mdb_put(raw.txn, raw.dbi, &k, &v, 0), 0);
	fix_raw_commit(&raw);
	free(copy);
}

START_TEST(inspect_verify_detects_corruption)
{
	char *id, *dir = filled_node("n", 4, &id);
	run_res r;
	json_t *j;

	INSPECT(&r, "--data", dir, "verify");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "ok: 4 ops verified\n");
	run_free(&r);
	INSPECT(&r, "--data", dir, "--json", "verify");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_int_eq(jint(j, "ops"), 4);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "faults")), 0);
	json_decref(j);
	run_free(&r);

	corrupt_one_op(dir);
	INSPECT(&r, "--data", dir, "verify");
	EXPECT_CODE(&r, 4);
	ck_assert_ptr_nonnull(strstr(r.out, "fault: "));
	ck_assert_ptr_nonnull(strstr(r.err, "node-inspect: verify "));
	run_free(&r);
	INSPECT(&r, "--json", "verify", "--data", dir);
	EXPECT_CODE(&r, 4);
	j = parse_json(&r);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert_int_gt(jint(j, "fault_count"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "faults")),
	                  (size_t)jint(j, "fault_count"));
	json_decref(j);
	run_free(&r);
	free(id);
	free(dir);
}
END_TEST

/* A store that cannot be read through: the command names the walk and the
 * reason, prints nothing on stdout and exits 3 (docs/cli.md). */
START_TEST(inspect_unreadable_record)
{
	char *id, *dir = filled_node("n", 3, &id);
	uint8_t logkey[MS_PK_LEN + 8];
	run_res r;

	memset(logkey, 0xff, MS_PK_LEN); /* after the node's own author */
	memset(logkey + MS_PK_LEN, 0, 8);
	logkey[MS_PK_LEN + 7] = 1;
	fix_raw_put(dir, "log", logkey, sizeof logkey, "12345", 5);
	fix_raw_put(dir, "stats", "zz", 2, "123", 3);
	INSPECT(&r, "--data", dir, "log");
	EXPECT_CODE(&r, 3);
	ck_assert_str_eq(r.err, "node-inspect: log: foreach_log: log record of "
	                        "5 bytes, want 32\n");
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	INSPECT(&r, "--data", dir, "--json", "stats");
	EXPECT_CODE(&r, 3);
	ck_assert_str_eq(r.err,
	                 "node-inspect: stats: foreach_stat: stats record "
	                 "of 3 bytes, want 8\n");
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	/* What does not walk the damaged dbs still works. */
	INSPECT(&r, "--data", dir, "state");
	EXPECT_CODE(&r, 0);
	run_free(&r);
	free(id);
	free(dir);
}
END_TEST

/* ---- node-inspect: peers, quarantine, unacked (sync views) ------------ */

static ms_store *open_rw(const char *dir)
{
	ms_store *s = NULL;
	ms_errbuf eb;

	MS_PASS_EB(ms_crypto_init(&eb), &eb);
	MS_PASS_EB(ms_store_open(&s, dir, NULL, &eb), &eb);
	return s;
}

START_TEST(inspect_peers)
{
	char *id, *dir = filled_node("n", 3, &id);
	ms_identity *p1 = ms_test_identity(0x31);
	ms_store *s;
	ms_peer_rec rec;
	ms_errbuf eb;
	run_res r;
	json_t *j, *peers, *p, *last;
	char p1hex[2 * MS_PK_LEN + 1];
	uint64_t now = (uint64_t)time(NULL) * 1000;

	/* No peer records: an empty list. */
	INSPECT(&r, "--data", dir, "--json", "peers");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 0);
	ck_assert(json_is_array(json_object_get(j, "peers")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "peers")), 0);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "peers");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.out, "no peers known\n");
	run_free(&r);

	/* One identified peer with a session behind it, one bare address. */
	s = open_rw(dir);
	memset(&rec, 0, sizeof rec);
	rec.has_id = 1;
	memcpy(rec.id, ms_identity_pk(p1), MS_PK_LEN);
	ms_hex(p1hex, rec.id, MS_PK_LEN);
	rec.source = MS_PEER_SRC_STATIC | MS_PEER_SRC_MDNS;
	rec.link = MS_LINK_STATE_LIVE;
	rec.link_since_ms = now - 12000;
	rec.naddrs = 2;
	snprintf(rec.addrs[0], sizeof rec.addrs[0], "tcp://127.0.0.1:7701");
	snprintf(rec.addrs[1], sizeof rec.addrs[1], "tcp://[::1]:7701");
	rec.first_seen_ms = now - 60000;
	rec.last_seen_ms = now - 1000;
	rec.last_good_ms = now - 12000;
	rec.sessions = 4;
	rec.failures = 2;
	rec.bo_attempts = 2;
	rec.bo_last_delay_ms = 2000;
	rec.bo_next_attempt_ms = now + 5000;
	snprintf(rec.last_error, sizeof rec.last_error, "heartbeat timeout");
	rec.has_summary = 1;
	rec.last.start_ms = now - 12250;
	rec.last.end_ms = now - 12000;
	rec.last.outbound = 1;
	rec.last.received = 10;
	rec.last.applied = 7;
	rec.last.duplicate = 2;
	rec.last.rejected = 1;
	rec.last.rejected_by_reason[MS_OPR_SIGNATURE] = 1;
	rec.last.conflicts = 1;
	rec.last.sent = 3;
	rec.last.bytes_in = 2048;
	rec.last.bytes_out = 512;
	snprintf(rec.last.end_reason, sizeof rec.last.end_reason, "bye");
	MS_PASS_EB(ms_store_peer_put(s, &rec, &eb), &eb);
	{
		/* It holds 1 of our 3 ops: lag 2. */
		ms_peer_vv_entry e;
		memcpy(e.author, ms_store_node_id(s), MS_PK_LEN);
		e.seq = 1;
		MS_PASS_EB(ms_store_peer_vv_update(s, rec.id, &e, 1, &eb), &eb);
	}
	memset(&rec, 0, sizeof rec);
	rec.source = MS_PEER_SRC_STATIC;
	rec.link = MS_LINK_STATE_BACKOFF;
	rec.naddrs = 1;
	snprintf(rec.addrs[0], sizeof rec.addrs[0], "tcp://127.0.0.1:7799");
	MS_PASS_EB(ms_store_peer_put(s, &rec, &eb), &eb);
	ms_store_close(&s);

	INSPECT(&r, "--data", dir, "--json", "peers");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 2);
	ck_assert_int_gt(jint(j, "now_ms"), 0);
	peers = json_object_get(j, "peers");
	ck_assert_uint_eq(json_array_size(peers), 2);
	p = json_array_get(peers, 0);
	ck_assert_str_eq(jstr(p, "id"), p1hex);
	ck_assert_uint_eq(json_array_size(json_object_get(p, "addrs")), 2);
	ck_assert_str_eq(json_string_value(
				 json_array_get(json_object_get(p, "addrs"),
	                                        1)),
	                 "tcp://[::1]:7701");
	ck_assert_uint_eq(json_array_size(json_object_get(p, "source")), 2);
	ck_assert_str_eq(json_string_value(
				 json_array_get(json_object_get(p, "source"),
	                                        0)),
	                 "static");
	ck_assert_str_eq(json_string_value(
				 json_array_get(json_object_get(p, "source"),
	                                        1)),
	                 "mdns");
	ck_assert_int_eq(jint(p, "source_bits"),
	                 MS_PEER_SRC_STATIC | MS_PEER_SRC_MDNS);
	ck_assert_str_eq(jstr(p, "link"), "live");
	ck_assert_int_eq(jint(p, "link_since_ms"), (json_int_t)(now - 12000));
	ck_assert_int_eq(jint(p, "first_seen_ms"), (json_int_t)(now - 60000));
	ck_assert_int_eq(jint(p, "last_seen_ms"), (json_int_t)(now - 1000));
	ck_assert_int_eq(jint(p, "last_good_ms"), (json_int_t)(now - 12000));
	ck_assert_int_eq(jint(p, "sessions"), 4);
	ck_assert_int_eq(jint(p, "failures"), 2);
	ck_assert_int_eq(jint(json_object_get(p, "backoff"), "attempts"), 2);
	ck_assert_int_eq(jint(json_object_get(p, "backoff"), "last_delay_ms"),
	                 2000);
	ck_assert_int_eq(jint(json_object_get(p, "backoff"), "next_attempt_ms"),
	                 (json_int_t)(now + 5000));
	ck_assert_str_eq(jstr(p, "last_error"), "heartbeat timeout");
	ck_assert_int_eq(jint(p, "lag"), 2);
	last = json_object_get(p, "last_summary");
	ck_assert(json_is_object(last));
	ck_assert_str_eq(jstr(last, "direction"), "outbound");
	ck_assert_int_eq(jint(last, "duration_ms"), 250);
	ck_assert_int_eq(jint(last, "received"), 10);
	ck_assert_int_eq(jint(last, "applied"), 7);
	ck_assert_int_eq(jint(last, "duplicate"), 2);
	ck_assert_int_eq(jint(last, "rejected"), 1);
	ck_assert_int_eq(jint(json_object_get(last, "rejected_by_reason"),
	                      ms_op_reason_name(MS_OPR_SIGNATURE)),
	                 1);
	ck_assert_int_eq(jint(last, "conflicts"), 1);
	ck_assert_int_eq(jint(last, "sent"), 3);
	ck_assert_int_eq(jint(last, "bytes_in"), 2048);
	ck_assert_int_eq(jint(last, "bytes_out"), 512);
	ck_assert_str_eq(jstr(last, "end_reason"), "bye");
	p = json_array_get(peers, 1);
	ck_assert(json_is_null(json_object_get(p, "id")));
	ck_assert(json_is_null(json_object_get(p, "lag")));
	ck_assert(json_is_null(json_object_get(p, "last_summary")));
	ck_assert_str_eq(jstr(p, "link"), "backoff");
	json_decref(j);
	run_free(&r);

	/* The table: id prefix, sources, relative times, lag, summary. */
	INSPECT(&r, "--data", dir, "peers");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "PEER"));
	{
		char prefix[17];
		memcpy(prefix, p1hex, 16);
		prefix[16] = '\0';
		ck_assert_ptr_nonnull(strstr(r.out, prefix));
	}
	ck_assert_ptr_nonnull(strstr(r.out, "static+mdns"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "tcp://127.0.0.1:7701,tcp://[::1]:7701"));
	ck_assert_ptr_nonnull(strstr(r.out, "s ago"));
	ck_assert_ptr_nonnull(strstr(r.out, "2 tries, delay 2s, next in "));
	ck_assert_ptr_nonnull(
		strstr(r.out, "out 250ms rx 10 new 7 dup 2 rej 1 tx 3 (bye)"));
	ck_assert_ptr_nonnull(strstr(r.out, "tcp://127.0.0.1:7799"));
	run_free(&r);

	/* summary: 3 own ops, the best peer holds 1. */
	INSPECT(&r, "--data", dir, "--json", "summary");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "unacked_local_ops"), 2);
	ck_assert_ptr_nonnull(strchr(jstr(j, "hlc_time"), 'T'));
	json_decref(j);
	run_free(&r);
	ms_identity_free(&p1);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_quarantine_and_unacked)
{
	char *id, *dir = filled_node("n", 2, &id);
	ms_identity *author = ms_test_identity(0x42);
	ms_identity *from = ms_test_identity(0x43);
	uint8_t buf[512];
	char fromhex[2 * MS_PK_LEN + 1], head[2 * 64 + 1];
	ms_ingest_item item;
	ms_ingest_result res;
	ms_store *s;
	ms_errbuf eb;
	size_t len = 0;
	run_res r;
	json_t *j, *q;
	ms_op op;

	INSPECT(&r, "--data", dir, "--json", "summary");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "unacked_local_ops"), 2);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "summary");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "unacked_local_ops"));
	ck_assert_ptr_nonnull(strstr(r.out, "Z.0"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "--json", "quarantine");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "quarantine")), 0);
	json_decref(j);
	run_free(&r);

	/* A forged op (signature altered) from a connected peer. */
	s = open_rw(dir);
	memset(&op, 0, sizeof op);
	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(author), MS_PK_LEN);
	op.seq = 1;
	op.hlc = (uint64_t)1767225600000 << 16;
	op.key = (const uint8_t *)"forged";
	op.key_len = 6;
	op.value = (const uint8_t *)"x";
	op.value_len = 1;
	MS_PASS_EB(ms_op_sign_encode(&op, author, ms_store_network_id(s), buf,
	                             sizeof buf, &len, &eb),
	           &eb);
	buf[len - 1] ^= 0x01;
	item = (ms_ingest_item){buf, len};
	MS_PASS_EB(ms_store_ingest(s, &item, 1, ms_identity_pk(from), &res,
	                           NULL, &eb),
	           &eb);
	ck_assert_uint_eq(res.status, MS_INGEST_REJECTED);
	ms_store_close(&s);
	ms_hex(fromhex, ms_identity_pk(from), MS_PK_LEN);
	ms_hex(head, buf, 64);

	INSPECT(&r, "--data", dir, "--json", "quarantine");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "count"), 1);
	q = json_array_get(json_object_get(j, "quarantine"), 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(jstr(q, "reason"),
	                 ms_op_reason_name(MS_OPR_SIGNATURE));
	ck_assert_str_eq(jstr(q, "peer"), fromhex);
	ck_assert_int_eq(jint(q, "orig_len"), (json_int_t)len);
	ck_assert_int_eq(jint(q, "kept_len"), (json_int_t)len);
	ck_assert_str_eq(jstr(q, "head"), head);
	ck_assert_int_gt(jint(q, "when_ms"), 0);
	ck_assert_ptr_nonnull(strchr(jstr(q, "when"), 'Z'));
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "quarantine");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(
		strstr(r.out, ms_op_reason_name(MS_OPR_SIGNATURE)));
	ck_assert_ptr_nonnull(strstr(r.out, " ago"));
	{
		char prefix[17];
		memcpy(prefix, fromhex, 16);
		prefix[16] = '\0';
		ck_assert_ptr_nonnull(strstr(r.out, prefix));
	}
	run_free(&r);

	/* Nothing of the forged op was stored; summary counts it. */
	INSPECT(&r, "--data", dir, "--json", "summary");
	j = parse_json(&r);
	ck_assert_int_eq(jint(j, "ops"), 2);
	ck_assert_int_eq(jint(j, "quarantined"), 1);
	ck_assert_int_eq(jint(j, "unacked_local_ops"), 2);
	json_decref(j);
	run_free(&r);
	ms_identity_free(&author);
	ms_identity_free(&from);
	free(id);
	free(dir);
}
END_TEST

/* An op of key by author (not this node) with no parents, ingested as if
 * from peer `from` (NULL: local input). */
static void ingest_foreign(ms_store *s, ms_identity *author, uint64_t seq,
                           const char *key, const uint8_t *from)
{
	uint8_t buf[512];
	size_t len = 0;
	ms_ingest_item item;
	ms_ingest_result res;
	ms_errbuf eb;
	ms_op op;

	memset(&op, 0, sizeof op);
	op.type = MS_OP_PUT;
	op.priority = MS_PRIO_USER;
	memcpy(op.author, ms_identity_pk(author), MS_PK_LEN);
	op.seq = seq;
	op.hlc = (uint64_t)1767225600000 << 16; /* older than any local op */
	op.key = (const uint8_t *)key;
	op.key_len = strlen(key);
	op.value = (const uint8_t *)"theirs";
	op.value_len = 6;
	MS_PASS_EB(ms_op_sign_encode(&op, author, ms_store_network_id(s), buf,
	                             sizeof buf, &len, &eb),
	           &eb);
	item = (ms_ingest_item){buf, len};
	MS_PASS_EB(ms_store_ingest(s, &item, 1, from, &res, NULL, &eb), &eb);
	ck_assert_uint_eq(res.status, MS_INGEST_APPLIED);
}

/* An identified peer record with the given id and link state. */
static void put_peer(ms_store *s, const uint8_t *id, uint8_t link,
                     const char *addr)
{
	ms_peer_rec rec;
	ms_errbuf eb;

	memset(&rec, 0, sizeof rec);
	rec.has_id = id != NULL;
	if (id != NULL)
		memcpy(rec.id, id, MS_PK_LEN);
	rec.source = MS_PEER_SRC_STATIC;
	rec.link = link;
	rec.link_since_ms = (uint64_t)time(NULL) * 1000 - 5000;
	rec.naddrs = 1;
	snprintf(rec.addrs[0], sizeof rec.addrs[0], "%s", addr);
	MS_PASS_EB(ms_store_peer_put(s, &rec, &eb), &eb);
}

static void peer_knows(ms_store *s, const uint8_t *peer, const uint8_t *author,
                       uint64_t seq)
{
	ms_peer_vv_entry e;
	ms_errbuf eb;

	memcpy(e.author, author, MS_PK_LEN);
	e.seq = seq;
	MS_PASS_EB(ms_store_peer_vv_update(s, peer, &e, 1, &eb), &eb);
}

START_TEST(inspect_delivery)
{
	/* k1 at seq 3 (own), k2 at seq 2 (own) and a concurrent op of k2
	 * by another author: two heads */
	char *id, *dir = filled_node("n", 3, &id);
	ms_identity *other = ms_test_identity(0x52);
	ms_identity *i1 = ms_test_identity(0x51), *i3 = ms_test_identity(0x53);
	const uint8_t *p1 = ms_identity_pk(i1), *p2 = ms_identity_pk(other),
		      *p3 = ms_identity_pk(i3);
	char h1[65], h2[65], h3[65], want[300];
	const char *first, *second;
	json_t *j, *p;
	ms_store *s;
	run_res r;
	size_t i;

	s = open_rw(dir);
	ingest_foreign(s, other, 1, "k2", NULL);
	/* p1 holds everything; p2 (the other author) only its own op and
	 * our first; p3 nothing known */
	put_peer(s, p1, MS_LINK_STATE_LIVE, "tcp://127.0.0.1:7701");
	put_peer(s, p2, MS_LINK_STATE_DOWN, "tcp://127.0.0.1:7702");
	put_peer(s, p3, MS_LINK_STATE_BACKOFF, "tcp://127.0.0.1:7703");
	put_peer(s, NULL, MS_LINK_STATE_BACKOFF, "tcp://127.0.0.1:7704");
	peer_knows(s, p1, ms_store_node_id(s), 3);
	peer_knows(s, p1, p2, 1);
	peer_knows(s, p2, ms_store_node_id(s), 1);
	ms_store_close(&s);
	ms_hex(h1, p1, MS_PK_LEN);
	ms_hex(h2, p2, MS_PK_LEN);
	ms_hex(h3, p3, MS_PK_LEN);

	INSPECT(&r, "--data", dir, "--json", "delivery", "k2");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_str_eq(jstr(j, "key"), "k2");
	ck_assert_int_eq(jint(j, "heads_total"), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "heads")), 2);
	ck_assert_int_eq(jint(j, "own_seq"), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "held_by")), 1);
	ck_assert_str_eq(json_string_value(
				 json_array_get(json_object_get(j, "held_by"),
	                                        0)),
	                 h1);
	/* identified peers in id order; the address record is no peer */
	first = strcmp(h2, h3) < 0 ? h2 : h3;
	second = strcmp(h2, h3) < 0 ? h3 : h2;
	ck_assert_uint_eq(json_array_size(json_object_get(j, "not_known")), 2);
	ck_assert_str_eq(json_string_value(
				 json_array_get(json_object_get(j, "not_known"),
	                                        0)),
	                 first);
	ck_assert_str_eq(json_string_value(
				 json_array_get(json_object_get(j, "not_known"),
	                                        1)),
	                 second);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "peers")), 3);
	json_array_foreach(json_object_get(j, "peers"), i, p)
	{
		const char *pid = jstr(p, "id");
		if (strcmp(pid, h1) == 0) {
			ck_assert(json_is_true(json_object_get(p, "holds")));
			ck_assert_int_eq(jint(p, "heads_held"), 2);
			ck_assert_int_eq(jint(p, "own_ops_lacked"), 0);
			ck_assert_int_eq(jint(p, "lag"), 0);
		} else if (strcmp(pid, h2) == 0) {
			/* its own op, not our seq 2 */
			ck_assert(json_is_false(json_object_get(p, "holds")));
			ck_assert_int_eq(jint(p, "heads_held"), 1);
			ck_assert_uint_eq(json_array_size(
						  json_object_get(p,
			                                          "missing")),
			                  1);
			ck_assert_int_eq(jint(p, "own_ops_lacked"), 2);
			ck_assert_str_eq(jstr(p, "link"), "down");
		} else {
			ck_assert_str_eq(pid, h3);
			ck_assert_int_eq(jint(p, "heads_held"), 0);
			ck_assert_int_eq(jint(p, "own_ops_lacked"), 3);
			ck_assert_int_eq(jint(p, "lag"), 4);
		}
	}
	json_decref(j);
	run_free(&r);

	INSPECT(&r, "--data", dir, "delivery", "k2");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "key k2: lww, 2 heads\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "1 of 2 heads"));
	snprintf(want, sizeof want,
	         "held by 1 of 3 identified peers; not known to hold it: "
	         "%.16s (lacks %d own ops), %.16s (lacks %d own ops)\n",
	         first, first == h2 ? 2 : 3, second, second == h2 ? 2 : 3);
	ck_assert_msg(strstr(r.out, want) != NULL, "no '%s' in %s", want,
	              r.out);
	run_free(&r);

	INSPECT(&r, "--data", dir, "delivery", "nokey");
	EXPECT_CODE(&r, 1);
	ck_assert_str_eq(r.err, "node-inspect: delivery nokey: no such key "
	                        "(never written)\n");
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	INSPECT(&r, "--data", dir, "delivery");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "delivery: no KEY given"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "delivery", "k1", "k2");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "unexpected argument 'k2'"));
	run_free(&r);
	ms_identity_free(&other);
	ms_identity_free(&i1);
	ms_identity_free(&i3);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_why)
{
	char *id, *dir = filled_node("w", 2, &id);
	uint8_t a1[MS_PK_LEN] = {0xab, 0x01}, a2[MS_PK_LEN] = {0xab, 0x02};
	ms_identity *author = ms_test_identity(0x61);
	const char *const names[1] = {"limit_pex_candidates"};
	const uint64_t deltas[1] = {3};
	char h1[65], h2[65];
	ms_peer_rec rec;
	ms_store *s;
	ms_errbuf eb;
	run_res r;
	json_t *j;
	uint64_t now = (uint64_t)time(NULL) * 1000;

	s = open_rw(dir);
	memset(&rec, 0, sizeof rec);
	rec.has_id = 1;
	memcpy(rec.id, a1, MS_PK_LEN);
	rec.source = MS_PEER_SRC_STATIC;
	rec.link = MS_LINK_STATE_BACKOFF;
	rec.link_since_ms = now - 5000;
	rec.naddrs = 1;
	snprintf(rec.addrs[0], sizeof rec.addrs[0], "tcp://10.0.0.1:7700");
	rec.failures = 4;
	rec.bo_attempts = 4;
	rec.bo_last_delay_ms = 600000;
	rec.bo_next_attempt_ms = now + 600000;
	snprintf(rec.last_error, sizeof rec.last_error, "connection refused");
	/* its last session hit budgets three times */
	rec.has_summary = 1;
	rec.last.start_ms = now - 70000;
	rec.last.end_ms = now - 65000;
	rec.last.limits_hit = 3;
	snprintf(rec.last.end_reason, sizeof rec.last.end_reason, "budget");
	MS_PASS_EB(ms_store_peer_put(s, &rec, &eb), &eb);
	put_peer(s, a2, MS_LINK_STATE_LIVE, "tcp://10.0.0.2:7700");
	put_peer(s, NULL, MS_LINK_STATE_BACKOFF, "tcp://10.9.9.9:7700");
	MS_PASS_EB(ms_store_stats_add(s, names, deltas, 1, &eb), &eb);
	/* a forged op from a1: quarantined with a1 as its source */
	{
		uint8_t buf[512];
		size_t len = 0;
		ms_ingest_item item;
		ms_ingest_result res;
		ms_op op;
		memset(&op, 0, sizeof op);
		op.type = MS_OP_PUT;
		memcpy(op.author, ms_identity_pk(author), MS_PK_LEN);
		op.seq = 1;
		op.hlc = (uint64_t)1767225600000 << 16;
		op.key = (const uint8_t *)"forged";
		op.key_len = 6;
		MS_PASS_EB(ms_op_sign_encode(&op, author,
		                             ms_store_network_id(s), buf,
		                             sizeof buf, &len, &eb),
		           &eb);
		buf[len - 1] ^= 0x01;
		item = (ms_ingest_item){buf, len};
		MS_PASS_EB(ms_store_ingest(s, &item, 1, a1, &res, NULL, &eb),
		           &eb);
		ck_assert_uint_eq(res.status, MS_INGEST_REJECTED);
	}
	ms_store_close(&s);
	ms_hex(h1, a1, MS_PK_LEN);
	ms_hex(h2, a2, MS_PK_LEN);

	/* "ab" names both: exit 2, the candidates listed */
	INSPECT(&r, "--data", dir, "why", "ab");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "why ab: ambiguous: 2 peers match"));
	ck_assert_ptr_nonnull(strstr(r.err, h1));
	ck_assert_ptr_nonnull(strstr(r.err, h2));
	ck_assert_str_eq(r.out, "");
	run_free(&r);

	/* a1 in backoff; case does not matter in the prefix */
	INSPECT(&r, "--data", dir, "--json", "why", "AB01");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_str_eq(jstr(j, "id"), h1);
	ck_assert_str_eq(jstr(j, "link"), "backoff");
	{
		const char *v = jstr(j, "verdict");
		const char *tail = " after 4 failures: connection refused; 1 "
				   "input from it quarantined (last: "
				   "bad_signature)";
		ck_assert_msg(strncmp(v, "link is in backoff: next attempt in ",
		                      36) == 0,
		              "verdict: %s", v);
		ck_assert_msg(strlen(v) > strlen(tail) &&
		                      strcmp(v + strlen(v) - strlen(tail),
		                             tail) == 0,
		              "verdict: %s", v);
	}
	ck_assert_int_eq(jint(j, "lag"), 2);
	ck_assert_int_eq(jint(j, "own_ops_lacked"), 2);
	ck_assert_int_eq(jint(j, "unacked_local_ops"), 2);
	ck_assert_str_eq(jstr(j, "budgets_scope"), "node");
	ck_assert_int_eq(jint(json_object_get(j, "budgets_hit"),
	                      "limit_pex_candidates"),
	                 3);
	ck_assert_uint_eq(json_object_size(json_object_get(j, "budgets_hit")),
	                  1);
	ck_assert_int_eq(jint(json_object_get(j, "quarantined"), "count"), 1);
	ck_assert_int_eq(jint(json_object_get(json_object_get(j, "quarantined"),
	                                      "reasons"),
	                      "bad_signature"),
	                 1);
	ck_assert_str_eq(jstr(j, "last_error"), "connection refused");
	ck_assert_int_eq(jint(json_object_get(j, "last_summary"), "limits_hit"),
	                 3);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "why", "ab01");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(
		strstr(r.out, "verdict       link is in backoff"));
	ck_assert_ptr_nonnull(strstr(r.out, "3 in its last session; node-wide: "
	                                    "limit_pex_candidates=3"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "1 input from this peer, last bad_signature"));
	ck_assert_ptr_nonnull(strstr(r.out, "4 failed attempts since the last "
	                                    "good session, delay 10m0s"));
	run_free(&r);

	/* a2 live, nothing acknowledged */
	INSPECT(&r, "--data", dir, "--json", "why", "ab02");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert_str_eq(jstr(j, "verdict"),
	                 "the link is live; 2 ops not yet acknowledged (being "
	                 "sent, or its ACK is on the way)");
	ck_assert_int_eq(jint(json_object_get(j, "quarantined"), "count"), 0);
	json_decref(j);
	run_free(&r);

	/* an address nobody answered on, by address */
	INSPECT(&r, "--data", dir, "--json", "why", "10.9.9.9:7700");
	EXPECT_CODE(&r, 0);
	j = parse_json(&r);
	ck_assert(json_is_null(json_object_get(j, "id")));
	ck_assert(json_is_null(json_object_get(j, "lag")));
	ck_assert_msg(strncmp(jstr(j, "verdict"),
	                      "address is in backoff: ", 23) == 0,
	              "verdict: %s", jstr(j, "verdict"));
	json_decref(j);
	run_free(&r);

	INSPECT(&r, "--data", dir, "why", "cd");
	EXPECT_CODE(&r, 1);
	ck_assert_str_eq(r.err, "node-inspect: why cd: no such peer "
	                        "(node-inspect peers lists them)\n");
	run_free(&r);
	INSPECT(&r, "--data", dir, "why");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "why: no PEER given"));
	run_free(&r);
	ms_identity_free(&author);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_graph)
{
	char *id, *dir = filled_node("g", 1, &id);
	uint8_t p[MS_PK_LEN] = {0x11}, q[MS_PK_LEN] = {0x22};
	char hp[65], hq[65], text[2048], want[400];
	char *mesh = ms_test_pjoin(dir, "node.mesh");
	const char *env[] = {"PATH=/nonexistent", NULL};
	ms_test_cmd c = {.env = env};
	size_t n, told = 0, pop = 0;
	ms_store *s;
	run_res r;
	json_t *j, *v;

	s = open_rw(dir);
	put_peer(s, p, MS_LINK_STATE_LIVE, "tcp://10.0.0.1:7700");
	/* an address as it might come from the network: quoted in DOT */
	put_peer(s, NULL, MS_LINK_STATE_BACKOFF, "tcp://x\"y\\z:1");
	ms_store_close(&s);
	ms_hex(hp, p, MS_PK_LEN);
	ms_hex(hq, q, MS_PK_LEN);

	/* without node.mesh: this node, its peers */
	INSPECT(&r, "--data", dir, "graph");
	EXPECT_CODE(&r, 0);
	ck_assert_str_eq(r.err, "");
	snprintf(want, sizeof want,
	         "  \"%s\" -> \"%s\" [label=\"live\\nin "
	         "session now\", color=\"darkgreen\"",
	         id, hp);
	ck_assert_msg(strstr(r.out, want) != NULL, "no '%s' in %s", want,
	              r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"addr:tcp://x\\\"y\\\\z:1\""));
	ck_assert_ptr_null(strstr(r.out, hq));
	run_free(&r);

	/* node.mesh with good lines and bad ones: the bad ones are skipped
	 * and counted, the rest drawn */
	snprintf(text, sizeof text,
	         "meshsync-mesh 1\n"
	         "from %s 1796000000000\n"
	         "to %s 1796000000000 tcp://10.0.0.2:7700\n"
	         "to zz%.62s 1 tcp://10.0.0.3:7700\n"
	         "to %s 5 a b c d e\n"
	         "to %s 7 tcp://a\001b\n"
	         "nonsense\n"
	         "from %s 1796000000001\n"
	         "to %s 1796000000001\n"
	         "to %s 3\n",
	         hp, hq, hq, hq, hq, hq, hp, hq);
	ms_test_write_file(mesh, text, 0644);
	INSPECT(&r, "--data", dir, "--json", "graph");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "4 malformed line(s) skipped"));
	j = parse_json(&r);
	ck_assert_str_eq(jstr(j, "node_id"), id);
	ck_assert(json_is_true(json_object_get(j, "mesh_file")));
	ck_assert_int_eq(jint(j, "mesh_skipped"), 4);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "nodes")), 4);
	json_array_foreach(json_object_get(j, "nodes"), n, v)
		pop += strcmp(jstr(v, "kind"), "peer_of_peer") == 0 &&
	               strcmp(jstr(v, "name"), hq) == 0;
	json_array_foreach(json_object_get(j, "edges"), n, v)
	{
		if (strcmp(jstr(v, "kind"), "told") != 0)
			continue;
		told++;
		/* p told of q, q told of p; q naming itself is not drawn */
		ck_assert_str_ne(jstr(v, "from"), jstr(v, "to"));
	}
	ck_assert_uint_eq(pop, 1);
	ck_assert_uint_eq(told, 2);
	json_decref(j);
	run_free(&r);
	INSPECT(&r, "--data", dir, "graph");
	EXPECT_CODE(&r, 0);
	snprintf(want, sizeof want, "\"%s\" -> \"%s\" [label=\"synced ", hp,
	         hq);
	ck_assert_ptr_nonnull(strstr(r.out, want));
	snprintf(want, sizeof want, "\"%s\" -> \"%s\"", hq, hq);
	ck_assert_ptr_null(strstr(r.out, want));
	run_free(&r);

	/* another version: not read, said so */
	ms_test_write_file(mesh, "meshsync-mesh 2\nfrom x\n", 0644);
	INSPECT(&r, "--data", dir, "--json", "graph");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "not a version this build reads"));
	j = parse_json(&r);
	ck_assert(json_is_false(json_object_get(j, "mesh_file")));
	json_decref(j);
	run_free(&r);

	/* --svg without Graphviz: exit 3, and why */
	ms_test_cmd_runl(&r, &c, MS_INSPECT_BIN, "--data", dir, "graph",
	                 "--svg", mesh, (char *)NULL);
	EXPECT_CODE(&r, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "Graphviz is not installed"));
	run_free(&r);
	free(mesh);
	free(id);
	free(dir);
}
END_TEST

START_TEST(inspect_live_usage)
{
	char *id, *dir = filled_node("u", 1, &id);
	run_res r;

	INSPECT(&r, "--data", dir, "peers", "--interval", "1");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--interval goes with --watch"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "peers", "--count", "1");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--count goes with --watch"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "peers", "--watch", "--interval", "0");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--interval '0'"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "peers", "--watch", "--interval", "1.x");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	INSPECT(&r, "--data", dir, "log", "--count", "1");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--count goes with --follow"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "summary", "--follow");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(
		strstr(r.err, "summary: option --follow does not apply"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "log", "--watch");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	INSPECT(&r, "--data", dir, "--json", "graph", "--svg", "x.svg");
	EXPECT_CODE(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "does not go with --json"));
	run_free(&r);
	INSPECT(&r, "--data", dir, "graph", "--bogus");
	EXPECT_CODE(&r, 2);
	run_free(&r);
	/* each new command's help names its options */
	INSPECT(&r, "peers", "--help");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--watch"));
	ck_assert_ptr_nonnull(strstr(r.out, "--interval SECONDS"));
	run_free(&r);
	INSPECT(&r, "help", "log");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--follow"));
	run_free(&r);
	INSPECT(&r, "why", "--help");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: node-inspect --data DIR "
	                                    "[--json] why PEER"));
	run_free(&r);
	/* a log with --follow --count 0 would never end: --count 0 means
	 * "until a signal"; the plain log is unchanged by the new options */
	INSPECT(&r, "--data", dir, "--json", "log");
	EXPECT_CODE(&r, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"count\": 1"));
	run_free(&r);
	free(id);
	free(dir);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tn = tcase_create("meshsync-node");
	TCase *ti = tcase_create("node-inspect");

	ms_test_tcase_tmpdir(tn, &tmp, "cli");
	tcase_set_timeout(tn, 240);
	tcase_add_test(tn, acceptance_init_put_get);
	tcase_add_test(tn, options_anywhere_and_env);
	tcase_add_test(tn, usage_errors);
	tcase_add_test(tn, help_everywhere);
	tcase_add_test(tn, import_lines);
	tcase_add_test(tn, get_missing_and_deleted);
	tcase_add_test(tn, get_output_write_fails);
	tcase_add_test(tn, put_from_stdin_and_get_all);
	tcase_add_test(tn, store_and_key_errors);
	tcase_add_test(tn, network_key_joins_network);
	tcase_add_test(tn, counter_keys);
	tcase_add_test(tn, store_full_keeps_reads);
	suite_add_tcase(s, tn);

	ms_test_tcase_tmpdir(ti, &tmp, "cli");
	tcase_set_timeout(ti, 240);
	tcase_add_test(ti, inspect_summary);
	tcase_add_test(ti, inspect_log_filters);
	tcase_add_test(ti, inspect_state_conflicts_stats);
	tcase_add_test(ti, inspect_needs_only_the_store);
	tcase_add_test(ti, inspect_usage_and_missing_store);
	tcase_add_test(ti, inspect_verify_detects_corruption);
	tcase_add_test(ti, inspect_unreadable_record);
	tcase_add_test(ti, inspect_peers);
	tcase_add_test(ti, inspect_quarantine_and_unacked);
	tcase_add_test(ti, inspect_delivery);
	tcase_add_test(ti, inspect_why);
	tcase_add_test(ti, inspect_graph);
	tcase_add_test(ti, inspect_live_usage);
	suite_add_tcase(s, ti);
	return s;
}

int main(void)
{
	return ms_test_run(cli_suite());
}
