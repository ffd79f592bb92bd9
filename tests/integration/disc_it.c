/*
 * disc_it.c — helpers of the discovery integration tests (see disc_it.h):
 * mDNS-enabled nodes and lookups in a node's peers table and log.
 */
#define _GNU_SOURCE
#include "disc_it.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char state_dir[300];

void dit_set_state_dir(const char *dir)
{
	snprintf(state_dir, sizeof state_dir, "%s", dir != NULL ? dir : "");
}

/* ------------------------------------------------------------------ nodes */

void dit_node_start(it_node *n, it_node *const *peers, size_t npeers,
                    const char *ns, const char *bus)
{
	it_start_opts o = {.level = "debug",
	                   .mdns = 1,
	                   .netns = ns,
	                   .bus = bus};

	it_node_start_opts(n, peers, npeers, &o);
	/* also in the state file, for teardowns outside this process */
	ms_test_track(state_dir, n->pid, "meshsync-node");
}

void dit_node_id(const it_node *n, char out[65])
{
	char *text = NULL;
	int rc = it_cli(&text, "id", "--data", (char *)n->dir);

	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_ge(strlen(text), 64);
	memcpy(out, text, 64);
	out[64] = '\0';
	free(text);
}

int dit_peer(const it_node *n, const char *id, char *link, size_t lcap,
             char *src, size_t scap)
{
	json_t *j = it_inspect(n, "peers"), *arr = json_object_get(j, "peers");
	size_t i;
	json_t *p;
	int found = 0;

	json_array_foreach(arr, i, p)
	{
		const char *pid = json_string_value(json_object_get(p, "id"));
		if (pid == NULL || strcmp(pid, id) != 0)
			continue;
		if (link != NULL)
			snprintf(link, lcap, "%s",
			         json_string_value(json_object_get(p, "link")));
		if (src != NULL)
			snprintf(src, scap, "%s",
			         json_string_value(
					 json_object_get(p, "source_text")));
		found = 1;
		break;
	}
	json_decref(j);
	return found;
}

int dit_wait_peer(const it_node *n, const char *id, const char *want_link,
                  const char *want_src, uint64_t deadline_ms)
{
	char link[32] = "", src[64] = "";
	int ok;

	MS_WAIT_RESULT(ok,
	               dit_peer(n, id, link, sizeof link, src, sizeof src) &&
	                       (want_link == NULL ||
	                        strcmp(link, want_link) == 0) &&
	                       (want_src == NULL ||
	                        strstr(src, want_src) != NULL),
	               deadline_ms, ms_test_pause());
	if (ok)
		return 0;
	fprintf(stderr, "%s: peer %.16s link=%s source=%s (wanted %s %s)\n",
	        n->name, id, link, src, want_link ? want_link : "*",
	        want_src ? want_src : "*");
	return -1;
}

int dit_avahi_running(void)
{
	return system("avahi-daemon -c >/dev/null 2>&1") == 0;
}

size_t dit_log_count2(const it_node *n, const char *a, const char *b)
{
	FILE *f = fopen(n->log, "r");
	char line[4096];
	size_t c = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, a) != NULL &&
		    (b == NULL || strstr(line, b) != NULL))
			c++;
	fclose(f);
	return c;
}

int dit_wait_log2(const it_node *n, const char *a, const char *b,
                  uint64_t deadline_ms)
{
	int ok;

	MS_WAIT_RESULT(ok, dit_log_count2(n, a, b) > 0, deadline_ms,
	               ms_test_pause());
	return ok ? 0 : -1;
}
