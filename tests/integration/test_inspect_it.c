/*
 * test_inspect_it.c — node-inspect's live commands against real running
 * nodes on loopback: three `meshsync-node run` (b and c dial a; b also has
 * a static peer where nothing listens), then
 *   graph     the DOT names b, its peers a and c and the dead address,
 *             and the peer of a peer that a's PEERS told b about
 *             (DIR/node.mesh); --json has the same nodes and edges;
 *   delivery  on a, exactly which peers are known to hold a key's value,
 *             before and after c stops;
 *   why       b's verdict on a once a has stopped (backoff), by id prefix
 *             and by address, and on the dead address;
 *   log --follow prints an op written after it started, one JSON line,
 *             and stops on SIGTERM; peers --watch --count 2 prints two
 *             snapshots (redrawn in place on a pseudo-terminal, marked
 *             lines into a pipe) and stops on SIGINT.
 * The second test case (run as `test_inspect_it --dot`, CTest
 * inspect_graph_dot) feeds graph's DOT to Graphviz's `dot -Tsvg`; without
 * dot it reports SKIPPED (exit 77) with the reason.
 */
#define _GNU_SOURCE
#include <check.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it.h"
#include "ms_test.h"

#define HEX 65

static void node_id(const it_node *n, char out[HEX])
{
	char *text = NULL;

	ck_assert_int_eq(it_cli(&text, "id", "--data", (char *)n->dir), 0);
	ck_assert_int_eq(sscanf(text, "%64s", out), 1);
	free(text);
}

/* node-inspect --data DIR args... : exit code, stdout and stderr. */
static int inspect(const it_node *n, char **out, char **err, const char *a1,
                   const char *a2, const char *a3, const char *a4)
{
	return it_run(out, err, MS_INSPECT_BIN, "--data", n->dir, a1, a2, a3,
	              a4, (char *)NULL);
}

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	ck_assert_msg(j != NULL, "bad JSON (%s): %s", je.text, text);
	return j;
}

static int file_has(const char *path, const char *needle)
{
	char *text = ms_test_read_file(path, NULL);
	int yes = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return yes;
}

/* The peer record of id in `peers --json` on n, its link state into
 * link (or "" when not listed); returns its lag or -1. */
static long peer_state(const it_node *n, const char *id, char *link, size_t cap)
{
	json_t *j = it_inspect(n, "peers"), *p;
	size_t i;
	long lag = -1;

	link[0] = '\0';
	json_array_foreach(json_object_get(j, "peers"), i, p)
	{
		const char *pid = json_string_value(json_object_get(p, "id"));
		if (pid == NULL || strcmp(pid, id) != 0)
			continue;
		snprintf(link, cap, "%s",
		         json_string_value(json_object_get(p, "link")));
		if (json_is_integer(json_object_get(p, "lag")))
			lag = (long)json_integer_value(
				json_object_get(p, "lag"));
	}
	json_decref(j);
	return lag;
}

static int link_is(const it_node *n, const char *id, const char *want)
{
	char link[32];

	(void)peer_state(n, id, link, sizeof link);
	return strcmp(link, want) == 0;
}

static int acked(const it_node *n, const char *id)
{
	char link[32];

	return peer_state(n, id, link, sizeof link) == 0;
}

/* The strings of a JSON array field, joined by ',' (sorted as given). */
static void joined(json_t *j, const char *field, char *out, size_t cap)
{
	json_t *v;
	size_t i;

	out[0] = '\0';
	json_array_foreach(json_object_get(j, field), i, v)
		snprintf(out + strlen(out), cap - strlen(out), "%s%s",
	                 i ? "," : "", json_string_value(v));
}

/* Three nodes: a alone, b and c dialling a; b also dials `dead`, where
 * nothing listens.  Returns once every node holds the op of "k" and b's
 * node.mesh says a's PEERS named c. */
typedef struct mesh3 {
	it_node a, b, c, dead;
	char ia[HEX], ib[HEX], ic[HEX];
} mesh3;

/* 1 when n's graph --json has the edge "from told us of to". */
static int told(const it_node *n, const char *from, const char *to)
{
	json_t *j = it_inspect(n, "graph"), *v;
	size_t i;
	int yes = 0;

	json_array_foreach(json_object_get(j, "edges"), i, v)
		yes |= strcmp(json_string_value(json_object_get(v, "kind")),
	                      "told") == 0 &&
	               strcmp(json_string_value(json_object_get(v, "from")),
	                      from) == 0 &&
	               strcmp(json_string_value(json_object_get(v, "to")),
	                      to) == 0;
	json_decref(j);
	return yes;
}

static void mesh3_start(mesh3 *m)
{
	it_node *pa[2] = {&m->a, &m->dead};
	it_node *all[3] = {&m->a, &m->b, &m->c};

	it_node_init(&m->a, "a", NULL, NULL);
	it_node_init(&m->b, "b", &m->a, NULL);
	it_node_init(&m->c, "c", &m->a, NULL);
	memset(&m->dead, 0, sizeof m->dead);
	snprintf(m->dead.endpoint, sizeof m->dead.endpoint,
	         "tcp://127.0.0.1:%d", it_free_port());
	node_id(&m->a, m->ia);
	node_id(&m->b, m->ib);
	node_id(&m->c, m->ic);
	it_node_start(&m->a, NULL, 0);
	it_node_start(&m->b, pa, 2);
	it_node_start(&m->c, pa, 1);
	it_put(&m->a, "k", "v1");
	ck_assert_msg(it_wait_converged(all, 3, 1, IT_DEADLINE_MS) == 0,
	              "the three nodes did not converge");
	/* a tells b of c in its PEERS once both are live at a; b writes
	 * node.mesh within MS_RUN_MESH_INTERVAL_MS (5 s) of hearing it */
	MS_WAIT(told(&m->b, m->ia, m->ic), IT_DEADLINE_MS,
	        "b's node.mesh never said that a told it of c");
	/* and b met c (one dialled the other after a's PEERS) */
	MS_WAIT(link_is(&m->b, m->ic, "live"), IT_DEADLINE_MS,
	        "b never had a live link to c");
}

START_TEST(graph_delivery_why)
{
	mesh3 m;
	char *out = NULL, *err = NULL, edge[300], dead_node[200], want[200];
	char list[400];
	json_t *j, *v;
	size_t i, told = 0, links = 0;
	int rc;

	mesh3_start(&m);

	/* graph: b, its peers a and c, the dead address, a's word on c */
	rc = inspect(&m.b, &out, NULL, "graph", NULL, NULL, NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "digraph mesh {"));
	snprintf(edge, sizeof edge, "\"%s\" -> \"%s\" [label=\"live", m.ib,
	         m.ia);
	ck_assert_msg(strstr(out, edge) != NULL, "no live edge b->a in %s",
	              out);
	snprintf(dead_node, sizeof dead_node, "\"addr:%s\"", m.dead.endpoint);
	ck_assert_msg(strstr(out, dead_node) != NULL, "no dead address in %s",
	              out);
	snprintf(edge, sizeof edge, "\"%s\" -> \"%s\" [label=\"synced ", m.ia,
	         m.ic);
	ck_assert_msg(strstr(out, edge) != NULL, "no told edge a->c in %s",
	              out);
	free(out);

	rc = inspect(&m.b, &out, NULL, "--json", "graph", NULL, NULL);
	ck_assert_int_eq(rc, 0);
	j = parse(out);
	free(out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "node_id")),
	                 m.ib);
	ck_assert(json_is_true(json_object_get(j, "mesh_file")));
	json_array_foreach(json_object_get(j, "edges"), i, v)
	{
		const char *kind = json_string_value(
			json_object_get(v, "kind"));
		const char *from = json_string_value(
			json_object_get(v, "from"));
		const char *to = json_string_value(json_object_get(v, "to"));
		if (strcmp(kind, "link") == 0) {
			ck_assert_str_eq(from, m.ib);
			links++;
		} else if (strcmp(kind, "told") == 0 &&
		           strcmp(from, m.ia) == 0 && strcmp(to, m.ic) == 0) {
			told++;
		}
	}
	/* a, c (b learnt of it from a and dialled it, or c dialled b) and
	 * the dead address */
	ck_assert_uint_eq(links, 3);
	ck_assert_uint_eq(told, 1);
	json_decref(j);

	/* delivery on a: both b and c acknowledged k's op */
	MS_WAIT(acked(&m.a, m.ib) && acked(&m.a, m.ic), IT_DEADLINE_MS,
	        "a never saw its op acknowledged by b and c");
	rc = inspect(&m.a, &out, NULL, "--json", "delivery", "k", NULL);
	ck_assert_int_eq(rc, 0);
	j = parse(out);
	free(out);
	joined(j, "held_by", list, sizeof list);
	if (strcmp(m.ib, m.ic) < 0)
		snprintf(want, sizeof want, "%s,%s", m.ib, m.ic);
	else
		snprintf(want, sizeof want, "%s,%s", m.ic, m.ib);
	ck_assert_str_eq(list, want);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "not_known")), 0);
	json_decref(j);

	/* c stops; a's new value reaches b only */
	it_node_stop(&m.c);
	it_put(&m.a, "k", "v2");
	ck_assert_int_eq(it_wait_value(&m.b, "k", "v2", IT_DEADLINE_MS), 0);
	MS_WAIT(acked(&m.a, m.ib), IT_DEADLINE_MS,
	        "b never acknowledged a's second op");
	rc = inspect(&m.a, &out, NULL, "--json", "delivery", "k", NULL);
	ck_assert_int_eq(rc, 0);
	j = parse(out);
	free(out);
	joined(j, "held_by", list, sizeof list);
	ck_assert_str_eq(list, m.ib);
	joined(j, "not_known", list, sizeof list);
	ck_assert_str_eq(list, m.ic);
	json_array_foreach(json_object_get(j, "peers"), i, v)
	{
		const char *id = json_string_value(json_object_get(v, "id"));
		json_int_t lacked = json_integer_value(
			json_object_get(v, "own_ops_lacked"));
		ck_assert_int_eq(lacked, strcmp(id, m.ic) == 0 ? 1 : 0);
	}
	json_decref(j);
	rc = inspect(&m.a, &out, NULL, "delivery", "k", NULL, NULL);
	ck_assert_int_eq(rc, 0);
	snprintf(want, sizeof want,
	         "not known to hold it: %.16s (lacks 1 own op)", m.ic);
	ck_assert_msg(strstr(out, want) != NULL, "no '%s' in %s", want, out);
	ck_assert_ptr_nonnull(strstr(out, "held by 1 of 2 identified peers"));
	free(out);
	rc = inspect(&m.a, NULL, &err, "delivery", "never-written", NULL, NULL);
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(err, "no such key"));
	free(err);

	/* a stops: b's static link to it goes into backoff */
	it_node_stop(&m.a);
	MS_WAIT(link_is(&m.b, m.ia, "backoff"), IT_DEADLINE_MS,
	        "b's link to a never went into backoff");
	{
		char prefix[9];
		memcpy(prefix, m.ia, 8);
		prefix[8] = '\0';
		rc = inspect(&m.b, &out, NULL, "--json", "why", prefix, NULL);
	}
	ck_assert_int_eq(rc, 0);
	j = parse(out);
	free(out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), m.ia);
	ck_assert_str_eq(json_string_value(json_object_get(j, "link")),
	                 "backoff");
	{
		const char *verdict = json_string_value(
			json_object_get(j, "verdict"));
		ck_assert_msg(strncmp(verdict,
		                      "link is in backoff: next attempt ",
		                      33) == 0 &&
		                      strstr(verdict, " after ") != NULL &&
		                      strstr(verdict, " failure") != NULL,
		              "verdict: %s", verdict);
	}
	ck_assert_str_eq(json_string_value(json_object_get(j, "budgets_scope")),
	                 "node");
	json_decref(j);
	/* by address, without the tcp:// */
	rc = inspect(&m.b, &out, NULL, "why", m.a.endpoint + 6, NULL, NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, m.ia));
	ck_assert_ptr_nonnull(strstr(out, "verdict       link is in backoff"));
	free(out);
	rc = inspect(&m.b, &out, NULL, "why", m.dead.endpoint, NULL, NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "(no node id yet)") != NULL, "%s", out);
	free(out);
	rc = inspect(&m.b, NULL, &err, "why", "tcp://127.0.0.1:1", NULL, NULL);
	ck_assert_int_eq(rc, 1);
	free(err);
	it_node_stop(&m.b);
}
END_TEST

/* Read what fd has within ms into buf (appended, NUL-terminated). */
static void read_some(int fd, char *buf, size_t cap, uint64_t ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t len = strlen(buf);

	if (len + 1 < cap && poll(&p, 1, (int)ms) > 0) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n > 0)
			buf[len + (size_t)n] = '\0';
	}
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Run argv on a pseudo-terminal until it exits (bounded); what it wrote
 * there into buf, its exit status into *status. */
static void run_on_tty(char *const argv[], char *buf, size_t cap, int *status)
{
	ms_test_wait w;
	size_t len = 0;
	int master = -1;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	buf[0] = '\0';
	ms_test_wait_start(&w, IT_DEADLINE_MS);
	while (ms_test_wait_more(&w)) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 100) <= 0)
			continue;
		/* EIO once the child is gone and the terminal closed */
		if ((n = read(master, buf + len, cap - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (len + 1 >= cap)
			break;
	}
	ck_assert_int_eq(ms_test_stop_pid(pid, SIGKILL, IT_DEADLINE_MS, status),
	                 0);
	close(master);
}

static size_t count_of(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(follow_and_watch)
{
	it_node a;
	char buf[16384] = "", *out = NULL;
	int fd = -1, status = 0;
	char *argv[] = {MS_INSPECT_BIN, "--data",  NULL, "--json", "log",
	                "--follow",     "--count", "1",  NULL};
	ms_test_spawn_opts so = {.out_fd = &fd, .die_with_parent = 1};
	const char *last;
	json_t *j;
	pid_t pid;
	int rc;

	it_node_init(&a, "a", NULL, NULL);
	it_put(&a, "k1", "one");
	it_put(&a, "k2", "two");
	argv[2] = a.dir;

	/* --follow --count 1: the two ops, then the one written after */
	pid = ms_test_spawn(argv, &so);
	MS_WAIT_STEP(count_lines(buf) >= 2, IT_DEADLINE_MS,
	             read_some(fd, buf, sizeof buf, 50),
	             "log --follow did not print the log: '%s'", buf);
	ck_assert_uint_eq(count_lines(buf), 2);
	it_put(&a, "k3", "three");
	MS_WAIT_STEP(count_lines(buf) >= 3, IT_DEADLINE_MS,
	             read_some(fd, buf, sizeof buf, 50),
	             "log --follow did not print the new op: '%s'", buf);
	ck_assert_int_eq(ms_test_wait_pid(pid, IT_DEADLINE_MS, &status), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "status 0x%x", status);
	read_some(fd, buf, sizeof buf, 0);
	close(fd);
	ck_assert_uint_eq(count_lines(buf), 3);
	buf[strlen(buf) - 1] = '\0'; /* the last line's newline */
	last = strrchr(buf, '\n');
	j = parse(last != NULL ? last + 1 : buf);
	ck_assert_str_eq(json_string_value(json_object_get(j, "key")), "k3");
	ck_assert_str_eq(json_string_value(json_object_get(j, "value")),
	                 "three");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 3);
	json_decref(j);

	/* without --count it runs until SIGTERM, and ends with exit 0 */
	argv[6] = NULL;
	buf[0] = '\0';
	pid = ms_test_spawn(argv, &so);
	MS_WAIT_STEP(count_lines(buf) >= 3, IT_DEADLINE_MS,
	             read_some(fd, buf, sizeof buf, 50),
	             "log --follow did not print the log: '%s'", buf);
	ck_assert_int_eq(ms_test_stop_pid(pid, SIGTERM, IT_DEADLINE_MS,
	                                  &status),
	                 0);
	close(fd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "status 0x%x", status);

	/* peers --watch --count 2: two snapshots, each marked */
	rc = inspect(&a, &out, NULL, "peers", "--watch", "--count", "2");
	ck_assert_int_eq(rc, 0);
	{
		size_t n = 0;
		for (const char *p = out;
		     (p = strstr(p, "=== peers at ")) != NULL; p++)
			n++;
		ck_assert_uint_eq(n, 2);
		ck_assert_ptr_nonnull(strstr(out, "(refresh 2)"));
		ck_assert_ptr_null(strstr(out, "(refresh 3)"));
		ck_assert_ptr_null(strstr(out, "\033["));
	}
	free(out);

	/* on a terminal: redrawn in place (home, clear) each refresh */
	{
		char *targv[] = {MS_INSPECT_BIN, "--data",  a.dir, "peers",
		                 "--watch",      "--count", "2",   "--interval",
		                 "0.1",          NULL};
		run_on_tty(targv, buf, sizeof buf, &status);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "status 0x%x: %s", status, buf);
		ck_assert_uint_eq(count_of(buf, "\033[H\033[2J"), 2);
		ck_assert_uint_eq(count_of(buf, "Ctrl-C quits"), 2);
		ck_assert_ptr_null(strstr(buf, "=== peers at"));
	}

	/* without --count, until SIGINT */
	{
		char *wargv[] = {MS_INSPECT_BIN, "--data",     a.dir, "peers",
		                 "--watch",      "--interval", "0.1", NULL};
		buf[0] = '\0';
		pid = ms_test_spawn(wargv, &so);
		MS_WAIT_STEP(strstr(buf, "(refresh 2)") != NULL, IT_DEADLINE_MS,
		             read_some(fd, buf, sizeof buf, 50),
		             "peers --watch did not refresh: '%s'", buf);
		ck_assert_int_eq(ms_test_stop_pid(pid, SIGINT, IT_DEADLINE_MS,
		                                  &status),
		                 0);
		close(fd);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "status 0x%x", status);
	}
	rc = it_run(&out, NULL, MS_INSPECT_BIN, "--data", a.dir, "--json",
	            "peers", "--watch", "--count", "2", "--interval", "0.1",
	            (char *)NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(count_lines(out), 2);
	{
		char *nl = strchr(out, '\n');
		*nl = '\0';
		j = parse(out);
		ck_assert_int_eq(json_integer_value(
					 json_object_get(j, "count")),
		                 0);
		json_decref(j);
		j = parse(nl + 1);
		ck_assert(json_is_array(json_object_get(j, "peers")));
		json_decref(j);
	}
	free(out);
}
END_TEST

/* graph's DOT parses with Graphviz: the SVG names every node. */
START_TEST(graph_parses_with_dot)
{
	mesh3 m;
	char dot[600], svg[600], cmd[1500];
	char *text;
	int rc;

	mesh3_start(&m);
	snprintf(dot, sizeof dot, "%s/mesh.dot", it_tmpdir());
	snprintf(svg, sizeof svg, "%s/mesh.svg", it_tmpdir());
	snprintf(cmd, sizeof cmd, "'%s' --data '%s' graph > '%s'",
	         MS_INSPECT_BIN, m.b.dir, dot);
	ck_assert_int_eq(ms_test_sh("%s", cmd), 0);
	snprintf(cmd, sizeof cmd, "dot -Tsvg -o '%s' '%s'", svg, dot);
	ck_assert_msg(ms_test_sh("%s", cmd) == 0, "dot -Tsvg refused %s", dot);
	text = ms_test_read_file(svg, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "<svg"));
	/* node names are the full ids: dot keeps them as <title>s */
	ck_assert_ptr_nonnull(strstr(text, m.ia));
	ck_assert_ptr_nonnull(strstr(text, m.ib));
	ck_assert_ptr_nonnull(strstr(text, m.ic));
	free(text);
	unlink(svg);
	/* and through --svg */
	rc = it_run(NULL, NULL, MS_INSPECT_BIN, "--data", m.b.dir, "graph",
	            "--svg", svg, (char *)NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert(file_has(svg, m.ic));
	it_node_stop(&m.c);
	it_node_stop(&m.b);
	it_node_stop(&m.a);
}
END_TEST

static int have_dot(void)
{
	return ms_test_sh("command -v dot >/dev/null 2>&1") == 0;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("inspect_it");
	TCase *tc;

	if (argc > 1 && strcmp(argv[1], "--dot") == 0) {
		if (!have_dot()) {
			printf("SKIPPED: Graphviz's dot is not installed "
			       "(tools/deps.sh installs graphviz)\n");
			return 77;
		}
		tc = it_tcase("graph_dot", 120);
		tcase_add_test(tc, graph_parses_with_dot);
	} else {
		tc = it_tcase("inspect_it", 180);
		tcase_add_test(tc, graph_delivery_why);
		tcase_add_test(tc, follow_and_watch);
	}
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
