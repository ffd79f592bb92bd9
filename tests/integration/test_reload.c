/*
 * test_reload.c — SIGHUP with real processes: settings that only apply at
 * the next start are named (only those that changed) and keep their
 * running values, even when a policy changes in the same reload; and a
 * policy change no longer reopens the store, so a store the daemon could
 * not reopen cannot leave it without one; and a reload that denies a
 * node id ends its live sessions, in both directions.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"
#include "ms_test.h"

/* The last line of n's log containing needle, copied into out ("" if
 * none). */
static void last_line(const it_node *n, const char *needle, char *out,
                      size_t cap)
{
	FILE *f = fopen(n->log, "r");
	char line[4096];

	out[0] = '\0';
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, needle) != NULL)
			snprintf(out, cap, "%s", line);
	fclose(f);
}

/* 1 once n logged its reload number nth; a failed reload fails the test. */
static int reloaded(const it_node *n, size_t nth)
{
	ck_assert_msg(it_log_count(n, "MS-CONF-RELOAD-FAIL") == 0,
	              "the reload failed");
	return it_log_count(n, "MS-CONF-RELOAD ") >= nth;
}

/* Send SIGHUP and wait for the reload line number `nth`. */
static void reload(it_node *n, size_t nth)
{
	it_node_signal(n, SIGHUP);
	MS_WAIT(reloaded(n, nth), IT_DEADLINE_MS, "reload %zu never logged",
	        nth);
}

START_TEST(restart_only_settings_named_and_kept)
{
	it_node a;
	char line[4096];

	it_node_init(&a, "a", NULL, NULL);
	it_node_write_conf(&a, "[net]\nmax_message = 2M\n");
	it_node_start(&a, NULL, 0);

	/* a policy and max_message change together: the policy applies, the
	 * message size is named and keeps its running value (peers still
	 * enforce the old one) */
	it_node_write_conf(
		&a, "[net]\nmax_message = 4M\n\n[policy]\ncnt/ = counter\n");
	reload(&a, 1);
	last_line(&a, "MS-CONF-RESTART-NEEDED", line, sizeof line);
	ck_assert_msg(strstr(line, " what=max_message\n") != NULL,
	              "restart-needed line: '%s'", line);
	last_line(&a, "MS-CONF-RELOAD ", line, sizeof line);
	ck_assert_msg(strstr(line, " max_message=2097152") != NULL,
	              "reload line: '%s'", line);
	it_put(&a, "cnt/x", "5");
	it_put(&a, "cnt/x", "-2");
	ck_assert_int_eq(it_wait_value(&a, "cnt/x", "3", IT_DEADLINE_MS), 0);

	/* only the heartbeat changes: only it is named */
	it_node_write_conf(
		&a, "[net]\nmax_message = 4M\nheartbeat_interval = 2s\n\n"
		    "[policy]\ncnt/ = counter\n");
	reload(&a, 2);
	ck_assert_uint_eq(it_log_count(&a, "MS-CONF-RESTART-NEEDED"), 2);
	last_line(&a, "MS-CONF-RESTART-NEEDED", line, sizeof line);
	ck_assert_msg(strstr(line, " what=heartbeat,max_message\n") != NULL,
	              "restart-needed line: '%s'", line);

	/* nothing restart-only differs from the running config: no line */
	it_node_write_conf(&a,
	                   "[net]\nmax_message = 2M\n\n[policy]\ncnt/ = mv\n");
	reload(&a, 3);
	ck_assert_uint_eq(it_log_count(&a, "MS-CONF-RESTART-NEEDED"), 2);
	it_node_stop(&a);
}
END_TEST

START_TEST(policy_reload_keeps_the_store_open)
{
	/* The store file disappears under the running daemon (renamed away:
	 * the daemon's open map is untouched).  A reload that changes the
	 * policy used to close and reopen the store, fail twice, and leave
	 * the daemon to crash on a NULL store at shutdown; the table is now
	 * replaced inside the open store. */
	it_node a;
	char from[600], to[600];
	json_t *j, *pol, *r;
	size_t i;
	int found = 0;

	it_node_init(&a, "a", NULL, NULL);
	it_node_start(&a, NULL, 0);
	snprintf(from, sizeof from, "%s/data.mdb", a.dir);
	snprintf(to, sizeof to, "%s/data.mdb.away", a.dir);
	ck_assert_int_eq(rename(from, to), 0);
	it_node_write_conf(&a, "[policy]\ncnt/ = counter\n");
	reload(&a, 1);
	ck_assert(it_node_alive(&a));
	ck_assert_int_eq(rename(to, from), 0);
	it_node_stop(&a); /* asserts a clean exit 0 */
	j = it_inspect(&a, "summary");
	pol = json_object_get(j, "policies");
	json_array_foreach(pol, i, r)
	{
		const char *p = json_string_value(json_object_get(r, "prefix"));
		found |= p != NULL && strcmp(p, "cnt/") == 0;
	}
	json_decref(j);
	ck_assert_msg(found, "the reloaded policy was not stored");
}
END_TEST

/* n's node id as 64 hex digits. */
static void node_id(const it_node *n, char out[65])
{
	char *text = NULL;

	ck_assert_int_eq(it_cli(&text, "id", "--data", (char *)n->dir), 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_ge(strlen(text), 64);
	memcpy(out, text, 64);
	out[64] = '\0';
	free(text);
}

START_TEST(deny_on_reload_closes_live_sessions)
{
	/* b dials a, a dials c; both sessions are live.  A reload of a that
	 * denies b and c ends both at once with BYE(auth) "denied": b's
	 * dial back is refused by ZAP, and a's own dial to c, tried again
	 * after its backoff, is ended as soon as c says who it is.  Taking
	 * the ids off the list again lets both sync. */
	it_node a, b, c;
	it_node *pa[] = {&a}, *pc[] = {&c};
	char idb[65], idc[65], conf[400], want[160];

	it_node_init(&a, "a", NULL, NULL);
	it_node_init(&b, "b", &a, NULL);
	it_node_init(&c, "c", &a, NULL);
	node_id(&b, idb);
	node_id(&c, idc);
	it_node_start(&c, NULL, 0);
	it_node_start(&a, pc, 1);
	it_node_start(&b, pa, 1);
	it_put(&b, "from/b", "1");
	it_put(&c, "from/c", "1");
	ck_assert_int_eq(it_wait_value(&a, "from/b", "1", IT_DEADLINE_MS), 0);
	ck_assert_int_eq(it_wait_value(&a, "from/c", "1", IT_DEADLINE_MS), 0);

	snprintf(conf, sizeof conf, "[net]\ndeny = %s %s\n", idb, idc);
	it_node_write_conf(&a, conf);
	reload(&a, 1);
	snprintf(want, sizeof want, "MS-CONF-DENIED peer=%s dir=in", idb);
	ck_assert_int_eq(it_wait_log(&a, want, IT_DEADLINE_MS), 0);
	snprintf(want, sizeof want, "MS-CONF-DENIED peer=%s dir=out", idc);
	ck_assert_int_eq(it_wait_log(&a, want, IT_DEADLINE_MS), 0);
	ck_assert_int_eq(it_wait_log(&b, " reason=auth text=denied",
	                             IT_DEADLINE_MS),
	                 0);
	ck_assert_int_eq(it_wait_log(&c, " reason=auth text=denied",
	                             IT_DEADLINE_MS),
	                 0);
	/* b dials again: ZAP refuses it now */
	ck_assert_int_eq(it_wait_stat_ge(&b, "handshake_fail_denied", 1,
	                                 IT_DEADLINE_MS),
	                 0);
	/* a dials c again: ended at HELLO, counted once more */
	ck_assert_int_eq(it_wait_stat_ge(&a, "sessions_denied", 3,
	                                 IT_DEADLINE_MS),
	                 0);

	/* allowed again: both sync what they wrote meanwhile */
	it_put(&b, "late/b", "2");
	it_put(&c, "late/c", "2");
	it_node_write_conf(&a, "");
	reload(&a, 2);
	ck_assert_int_eq(it_wait_value(&a, "late/b", "2", IT_DEADLINE_MS), 0);
	ck_assert_int_eq(it_wait_value(&a, "late/c", "2", IT_DEADLINE_MS), 0);
	it_node_stop(&b);
	it_node_stop(&a);
	it_node_stop(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = it_tcase("reload", 300);

	tcase_add_test(tc, restart_only_settings_named_and_kept);
	tcase_add_test(tc, policy_reload_keeps_the_store_open);
	tcase_add_test(tc, deny_on_reload_closes_live_sessions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
