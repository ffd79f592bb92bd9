/*
 * cmd_graph.c — `node-inspect graph`: the mesh as this node sees it, as
 * Graphviz DOT (or --json, or an SVG through Graphviz's dot): this node,
 * every peer it knows with the link's state and how long since the last
 * sync, and the peers of its peers that their last PEERS named
 * (DIR/node.mesh, mesh.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hlc.h"
#include "inspect.h"

/* What the graph holds, before it is printed in either form. */
typedef enum gkind { G_SELF, G_PEER, G_ADDR, G_TOLD } gkind;
static const char *const kind_names[] = {"self", "peer", "address",
                                         "peer_of_peer"};

typedef struct gnode {
	char name[2 * MS_PK_LEN + 140]; /* hex id, or "addr:" + address */
	int has_id;
	uint8_t id[MS_PK_LEN];
	gkind kind;
	const ms_peer_rec *rec; /* G_PEER, G_ADDR */
} gnode;

typedef struct graph {
	uint64_t now;
	uint8_t self[MS_PK_LEN];
	ins_peer_list recs; /* the peer table, copied out of the snapshot */
	gnode *nodes;
	size_t nnodes, ncap;
	ins_mesh mesh;
	int oom;
} graph;

/* Link state colours: green is well, red is failing, grey is idle. */
static const char *link_colour(uint8_t link)
{
	switch (link) {
	case MS_LINK_STATE_LIVE:
		return "darkgreen";
	case MS_LINK_STATE_SYNCING:
		return "blue";
	case MS_LINK_STATE_CONNECTING:
		return "darkorange";
	case MS_LINK_STATE_BACKOFF:
		return "red";
	default:
		return "gray50";
	}
}

static int on_peer(const ms_peer_rec *p, void *arg)
{
	graph *g = arg;

	if (ins_peer_list_add(&g->recs, p) != 0) {
		g->oom = 1;
		return 1;
	}
	return 0;
}

static gnode *node_find(graph *g, const uint8_t *id)
{
	for (size_t i = 0; i < g->nnodes; i++)
		if (g->nodes[i].has_id &&
		    memcmp(g->nodes[i].id, id, MS_PK_LEN) == 0)
			return &g->nodes[i];
	return NULL;
}

static gnode *node_add(graph *g, gkind kind, const uint8_t *id,
                       const char *addr, const ms_peer_rec *rec)
{
	gnode *n;

	if (g->nnodes == g->ncap) {
		size_t nc = g->ncap ? g->ncap * 2 : 16;
		gnode *nn = realloc(g->nodes, nc * sizeof *nn);
		if (nn == NULL) {
			g->oom = 1;
			return NULL;
		}
		g->nodes = nn;
		g->ncap = nc;
	}
	n = &g->nodes[g->nnodes++];
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->rec = rec;
	if (id != NULL) {
		n->has_id = 1;
		memcpy(n->id, id, MS_PK_LEN);
		ms_hex(n->name, id, MS_PK_LEN);
	} else {
		snprintf(n->name, sizeof n->name, "addr:%s", addr);
	}
	return n;
}

/* Every node: ourselves, the peer table, then the ids node.mesh names
 * that are neither (peers of peers). */
static void collect(graph *g)
{
	node_add(g, G_SELF, g->self, NULL, NULL);
	for (size_t i = 0; i < g->recs.n && !g->oom; i++) {
		const ms_peer_rec *p = &g->recs.v[i];
		if (p->has_id && node_find(g, p->id) != NULL)
			continue; /* ourselves, if the table lists us */
		node_add(g, p->has_id ? G_PEER : G_ADDR,
		         p->has_id ? p->id : NULL,
		         p->naddrs > 0 ? p->addrs[0] : "-", p);
	}
	for (size_t i = 0; i < g->mesh.nfrom && !g->oom; i++) {
		const ins_mesh_from *f = &g->mesh.from[i];
		if (node_find(g, f->id) == NULL)
			node_add(g, G_TOLD, f->id, NULL, NULL);
		for (size_t k = 0; k < f->nto && !g->oom; k++)
			if (node_find(g, f->to[k].id) == NULL)
				node_add(g, G_TOLD, f->to[k].id, NULL, NULL);
	}
}

/* A told edge worth drawing: not a node naming itself or us (a PEERS
 * never names its receiver; the file is untrusted all the same). */
static int told_edge(const graph *g, const ins_mesh_from *f,
                     const ins_mesh_to *t)
{
	return memcmp(f->id, t->id, MS_PK_LEN) != 0 &&
	       memcmp(t->id, g->self, MS_PK_LEN) != 0;
}

/* --- DOT ----------------------------------------------------------------- */

/* s inside a DOT "string": quotes and backslashes escaped, anything that
 * is not printable ASCII shown as '?' (addresses come from the network). */
static void dot_str(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fputc('\\', f);
		fputc(c >= 0x20 && c < 0x7f ? c : '?', f);
	}
}

/* "last sync 12s ago" / "never synced" / "in session now". */
static void sync_age(char *buf, size_t cap, const ms_peer_rec *p, uint64_t now)
{
	char rel[INS_REL_LEN];

	if (p->link == MS_LINK_STATE_LIVE || p->link == MS_LINK_STATE_SYNCING)
		snprintf(buf, cap, "in session now");
	else if (p->last_good_ms == 0)
		snprintf(buf, cap, "never synced");
	else
		snprintf(buf, cap, "last sync %s",
		         ins_rel_text(rel, p->last_good_ms, now));
}

static void print_dot(const graph *g, FILE *f)
{
	char short_id[17], when[INS_TIME_LEN], age[INS_REL_LEN + 16];

	ins_time_text(when, g->now);
	ms_hex(short_id, g->self, 8);
	fprintf(f,
	        "digraph mesh {\n"
	        "  graph [rankdir=LR, fontname=\"monospace\", "
	        "label=\"meshsync mesh seen from %s at %s\"];\n"
	        "  node [shape=box, fontname=\"monospace\", "
	        "fontsize=10];\n"
	        "  edge [fontname=\"monospace\", fontsize=9];\n",
	        short_id, when);
	for (size_t i = 0; i < g->nnodes; i++) {
		const gnode *n = &g->nodes[i];
		fputs("  \"", f);
		dot_str(f, n->name);
		fputs("\" [label=\"", f);
		if (n->has_id) {
			ms_hex(short_id, n->id, 8);
			fputs(short_id, f);
		} else {
			dot_str(f, n->name + 5);
		}
		switch (n->kind) {
		case G_SELF:
			fputs("\\nthis node\", style=\"bold,filled\", "
			      "fillcolor=\"lightblue\"];\n",
			      f);
			break;
		case G_PEER:
			fprintf(f, "\\n%s\", color=\"%s\"];\n",
			        ms_link_state_name((ms_link_state)n->rec->link),
			        link_colour(n->rec->link));
			break;
		case G_ADDR:
			fprintf(f,
			        "\\nno id yet: %s\", style=dashed, "
			        "color=\"%s\"];\n",
			        ms_link_state_name((ms_link_state)n->rec->link),
			        link_colour(n->rec->link));
			break;
		case G_TOLD:
			fputs("\\npeer of a peer\", style=dotted];\n", f);
			break;
		}
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		const gnode *n = &g->nodes[i];
		const char *col;
		char self[2 * MS_PK_LEN + 1];
		if (n->kind != G_PEER && n->kind != G_ADDR)
			continue;
		col = link_colour(n->rec->link);
		sync_age(age, sizeof age, n->rec, g->now);
		ms_hex(self, g->self, MS_PK_LEN);
		fprintf(f, "  \"%s\" -> \"", self);
		dot_str(f, n->name);
		fprintf(f,
		        "\" [label=\"%s\\n%s\", color=\"%s\", "
		        "fontcolor=\"%s\"%s];\n",
		        ms_link_state_name((ms_link_state)n->rec->link), age,
		        col, col,
		        n->rec->link == MS_LINK_STATE_LOST ? ", style=dashed"
		                                           : "");
	}
	for (size_t i = 0; i < g->mesh.nfrom; i++) {
		const ins_mesh_from *fr = &g->mesh.from[i];
		char from[2 * MS_PK_LEN + 1], to[2 * MS_PK_LEN + 1];
		char rel[INS_REL_LEN];
		ms_hex(from, fr->id, MS_PK_LEN);
		for (size_t k = 0; k < fr->nto; k++) {
			const ins_mesh_to *t = &fr->to[k];
			if (!told_edge(g, fr, t))
				continue;
			ms_hex(to, t->id, MS_PK_LEN);
			fprintf(f,
			        "  \"%s\" -> \"%s\" [label=\"synced %s\", "
			        "style=dotted, color=\"gray40\", "
			        "fontcolor=\"gray40\"];\n",
			        from, to,
			        t->last_seen_ms != 0
			                ? ins_rel_text(rel, t->last_seen_ms,
			                               g->now)
			                : "never");
		}
	}
	fputs("}\n", f);
}

/* --- JSON ---------------------------------------------------------------- */

static json_t *graph_json(const graph *g)
{
	json_t *nodes = json_array(), *edges = json_array(), *j;
	char self[2 * MS_PK_LEN + 1];

	ms_hex(self, g->self, MS_PK_LEN);
	for (size_t i = 0; nodes != NULL && i < g->nnodes; i++) {
		const gnode *n = &g->nodes[i];
		json_t *addrs = json_array();
		for (uint32_t a = 0;
		     n->rec != NULL && addrs != NULL && a < n->rec->naddrs; a++)
			if (json_array_append_new(addrs,
			                          json_string(
							  n->rec->addrs[a])) !=
			    0)
				addrs = NULL;
		j = json_pack("{s:s, s:o, s:s, s:o, s:o}", "name", n->name,
		              "id",
		              n->has_id ? ins_json_hex(n->id, MS_PK_LEN)
		                        : json_null(),
		              "kind", kind_names[n->kind], "link",
		              n->rec != NULL
		                      ? json_string(ms_link_state_name(
						(ms_link_state)n->rec->link))
		                      : json_null(),
		              "addrs", addrs);
		if (j == NULL || json_array_append_new(nodes, j) != 0) {
			json_decref(nodes);
			nodes = NULL;
		}
	}
	for (size_t i = 0; edges != NULL && i < g->nnodes; i++) {
		const gnode *n = &g->nodes[i];
		const ms_peer_rec *p = n->rec;
		if (n->kind != G_PEER && n->kind != G_ADDR)
			continue;
		j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "from",
		              self, "to", n->name, "kind", "link", "link",
		              ms_link_state_name((ms_link_state)p->link),
		              "link_since_ms", (json_int_t)p->link_since_ms,
		              "last_good_ms", (json_int_t)p->last_good_ms,
		              "sync_age_ms",
		              p->last_good_ms != 0 && p->last_good_ms <= g->now
		                      ? json_integer(
						(json_int_t)(g->now -
		                                             p->last_good_ms))
		                      : json_null());
		if (j == NULL || json_array_append_new(edges, j) != 0) {
			json_decref(edges);
			edges = NULL;
		}
	}
	for (size_t i = 0; edges != NULL && i < g->mesh.nfrom; i++) {
		const ins_mesh_from *fr = &g->mesh.from[i];
		for (size_t k = 0; edges != NULL && k < fr->nto; k++) {
			const ins_mesh_to *t = &fr->to[k];
			json_t *eps = json_array();
			if (!told_edge(g, fr, t)) {
				json_decref(eps);
				continue;
			}
			for (size_t e = 0; eps != NULL && e < t->neps; e++)
				if (json_array_append_new(eps,
				                          json_string(
								  t->eps[e])) !=
				    0)
					eps = NULL;
			j = json_pack("{s:o, s:o, s:s, s:I, s:I, s:o}", "from",
			              ins_json_hex(fr->id, MS_PK_LEN), "to",
			              ins_json_hex(t->id, MS_PK_LEN), "kind",
			              "told", "told_ms",
			              (json_int_t)fr->when_ms, "last_seen_ms",
			              (json_int_t)t->last_seen_ms, "endpoints",
			              eps);
			if (j == NULL || json_array_append_new(edges, j) != 0) {
				json_decref(edges);
				edges = NULL;
			}
		}
	}
	return json_pack("{s:s, s:I, s:b, s:I, s:o, s:o}", "node_id", self,
	                 "now_ms", (json_int_t)g->now, "mesh_file",
	                 g->mesh.present && !g->mesh.bad_version,
	                 "mesh_skipped", (json_int_t)g->mesh.skipped, "nodes",
	                 nodes, "edges", edges);
}

/* --- SVG through Graphviz ------------------------------------------------ */

/* 1 when `dot` is an executable in $PATH. */
static int have_dot(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (path == NULL || *path == '\0')
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		size_t n = strcspn(path, ":");
		if (n > 0 && n + 5 < sizeof buf) {
			memcpy(buf, path, n);
			memcpy(buf + n, "/dot", 5);
			if (access(buf, X_OK) == 0)
				return 1;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* dot -Tsvg -o FILE, the graph on its stdin. */
static int write_svg(const graph *g, const char *file)
{
	int fds[2], status;
	pid_t pid;
	FILE *f;

	if (!have_dot()) {
		ins_err("graph --svg: Graphviz is not installed (no `dot` in "
		        "PATH); install it (apt-get install graphviz) or use "
		        "`graph > FILE.dot`");
		return MS_EXIT_STORE;
	}
	if (pipe(fds) != 0) {
		ins_err("graph --svg: pipe: %s", strerror(errno));
		return MS_EXIT_STORE;
	}
	if ((pid = fork()) < 0) {
		ins_err("graph --svg: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return MS_EXIT_STORE;
	}
	if (pid == 0) {
		char *const argv[] = {"dot", "-Tsvg", "-o", (char *)file, NULL};
		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("dot", argv);
		_exit(127);
	}
	close(fds[0]);
	/* dot may die before reading all: an error below, not SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	if ((f = fdopen(fds[1], "w")) == NULL) {
		close(fds[1]);
	} else {
		print_dot(g, f);
		fclose(f);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ins_err("graph --svg: dot -Tsvg -o %s failed (%s %d)", file,
		        WIFEXITED(status) ? "exit status" : "signal",
		        WIFEXITED(status) ? WEXITSTATUS(status)
		                          : WTERMSIG(status));
		return MS_EXIT_STORE;
	}
	return MS_EXIT_OK;
}

int ins_cmd_graph(ins_ctx *x)
{
	graph g = {0};
	ms_store_rtxn *rt = NULL;
	ms_errbuf eb = {0};
	int rc = MS_EXIT_OK;

	g.now = ms_hlc_wall_ms();
	memcpy(g.self, ms_store_node_id(x->store), MS_PK_LEN);
	if (ms_store_read_begin(x->store, &rt, &eb) != MS_OK) {
		ins_err("graph: %s", eb.msg);
		return MS_EXIT_STORE;
	}
	if (ms_store_foreach_peer(rt, on_peer, &g, &eb) != MS_OK) {
		ins_err("graph: %s", eb.msg);
		rc = MS_EXIT_STORE;
	}
	ms_store_read_end(&rt);
	if (rc == MS_EXIT_OK && ins_mesh_read(x->data, &g.mesh) != 0)
		g.oom = 1;
	if (rc == MS_EXIT_OK && !g.oom)
		collect(&g);
	if (g.oom) {
		ins_err("graph: out of memory");
		rc = MS_EXIT_STORE;
	}
	if (rc != MS_EXIT_OK)
		goto out;
	/* what of node.mesh could not be used: said, never fatal */
	if (g.mesh.bad_version)
		ins_err("graph: %s/node.mesh: not a version this build reads; "
		        "peers of peers left out",
		        x->data);
	else if (g.mesh.skipped > 0 || g.mesh.truncated)
		ins_err("graph: %s/node.mesh: %zu malformed line(s) skipped%s",
		        x->data, g.mesh.skipped,
		        g.mesh.truncated ? ", the file cut at 4 MiB" : "");
	if (x->svg != NULL)
		rc = write_svg(&g, x->svg);
	else if (x->json)
		rc = ins_json_print(graph_json(&g));
	else
		print_dot(&g, stdout);
out:
	ins_mesh_free(&g.mesh);
	free(g.nodes);
	ins_peer_list_free(&g.recs);
	return rc;
}
