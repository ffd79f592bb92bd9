/*
 * test_scenario.c — the meshsim scenario file (tools/meshsim/scenario.c):
 * the shipped scenarios load, each topology gives the links it names (the
 * random one connected and the same for the same seed), errors name the
 * file and line, --set overrides, and the last heal is where the format
 * says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_test.h"
#include "scenario.h"

static char tmpdir[] = "/tmp/msim-scn.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

/* Write text to tmpdir/name.ini and return its path (static buffer). */
static const char *file(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s.ini", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static int nlinks(const msim_scenario *sc, int *maxdeg)
{
	int n = 0;
	*maxdeg = 0;
	for (int i = 0; i < sc->nodes; i++) {
		int d = 0;
		for (int j = 0; j < sc->nodes; j++)
			d += sc->link[i][j];
		ck_assert_int_eq(sc->link[i][i], 0);
		n += d;
		if (d > *maxdeg)
			*maxdeg = d;
	}
	return n / 2;
}

static int connected(const msim_scenario *sc)
{
	uint64_t seen = 1, prev = 0;
	while (seen != prev) {
		prev = seen;
		for (int i = 0; i < sc->nodes; i++)
			for (int j = 0; j < sc->nodes; j++)
				if ((seen >> i & 1) && sc->link[i][j])
					seen |= 1ull << j;
	}
	return seen == (sc->nodes == 64 ? UINT64_MAX : (1ull << sc->nodes) - 1);
}

START_TEST(shipped_scenarios_load)
{
	static const char *const names[] = {"village-line", "partition-heal",
	                                    "lossy",        "churn",
	                                    "dense",        "hostile"};
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		char path[512];
		msim_scenario sc;
		ms_errbuf eb = {0};
		snprintf(path, sizeof path, "%s/%s.ini", MSIM_SCENARIO_DIR,
		         names[k]);
		MS_PASS_EB(msim_scenario_load(&sc, path, 0, &eb), &eb);
		ck_assert_str_eq(sc.name, names[k]);
		ck_assert(connected(&sc));
		ck_assert_uint_gt(sc.count, 0);
		/* real runs must stay well under a minute */
		ck_assert_uint_lt(msim_scenario_last_heal_ms(&sc) +
		                          sc.deadline_ms,
		                  60000 + 1);
	}
}
END_TEST

START_TEST(topologies)
{
	static const struct {
		const char *topo;
		int nodes, links, maxdeg;
	} t[] = {
		{"line", 6, 5, 2},  {"ring", 6, 6, 2}, {"full", 5, 10, 4},
		{"grid", 9, 12, 4}, {"grid", 7, 8, 3}, {"ring", 2, 1, 1},
	};
	for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
		char text[128];
		msim_scenario sc;
		ms_errbuf eb = {0};
		int maxdeg;
		snprintf(text, sizeof text,
		         "[mesh]\nnodes = %d\ntopology = %s\n", t[k].nodes,
		         t[k].topo);
		MS_PASS_EB(msim_scenario_load(&sc, file("t", text), 0, &eb),
		           &eb);
		ck_assert_msg(nlinks(&sc, &maxdeg) == t[k].links,
		              "%s of %d: %d links", t[k].topo, t[k].nodes,
		              nlinks(&sc, &maxdeg));
		ck_assert_int_eq(maxdeg, t[k].maxdeg);
		ck_assert(connected(&sc));
	}
}
END_TEST

START_TEST(random_is_connected_and_seeded)
{
	const char *p = file("r", "[mesh]\nnodes = 20\ntopology = random\n"
	                          "degree = 4\n");
	msim_scenario a, b;
	int maxdeg, differ = 0;

	for (uint64_t seed = 1; seed <= 50; seed++) {
		MS_PASS(msim_scenario_load(&a, p, seed, NULL));
		MS_PASS(msim_scenario_load(&b, p, seed, NULL));
		ck_assert(connected(&a));
		ck_assert(memcmp(a.link, b.link, sizeof a.link) == 0);
		ck_assert_int_ge(nlinks(&a, &maxdeg), 19);
		MS_PASS(msim_scenario_load(&b, p, seed + 1000, NULL));
		differ += memcmp(a.link, b.link, sizeof a.link) != 0;
	}
	ck_assert_int_ge(differ, 45); /* the seed does choose the links */
}
END_TEST

START_TEST(values_and_events)
{
	msim_scenario sc;
	ms_errbuf eb = {0};
	const char *p =
		file("v", "[mesh]\nnodes = 6\ntopology = line\nseed = 9\n"
	                  "deadline = 1500ms\n[writes]\ncount = 21\nrate = 10\n"
	                  "writers = 0, 5\nbackground = .25\nshared_keys = 1\n"
	                  "start = 2s\n[faults]\ndrop = 0.3\ndelay = 100ms\n"
	                  "[events]\npartition = 5s 20s 0,1,2 | 3,4,5\n"
	                  "flap = 1-2 5s 10s\nkill = 10s 3\nrestart = 12s 3\n"
	                  "term = 13s 4\nrestart = 14s 4\n[adversary]\n"
	                  "mode = vv-flood\ntarget = 2\nseconds = 3\n");

	MS_PASS_EB(msim_scenario_load(&sc, p, 0, &eb), &eb);
	ck_assert_uint_eq(sc.seed, 9);
	ck_assert_uint_eq(sc.deadline_ms, 1500);
	ck_assert_uint_eq(sc.writers, (1u << 0) | (1u << 5));
	ck_assert_uint_eq(sc.background_ppm, 250000);
	ck_assert_uint_eq(sc.shared_ppm, 1000000);
	ck_assert_uint_eq(sc.faults.drop_ppm, 300000);
	ck_assert_uint_eq(sc.faults.delay_ms, 100);
	ck_assert_int_eq(sc.nevents, 6);
	ck_assert_int_eq(sc.ev[0].kind, MSIM_EV_PARTITION);
	ck_assert_uint_eq(sc.ev[0].t_ms, 5000);
	ck_assert_uint_eq(sc.ev[0].end_ms, 20000);
	ck_assert_uint_eq(sc.ev[0].set_a, 7);
	ck_assert_uint_eq(sc.ev[0].set_b, 56);
	ck_assert_int_eq(sc.ev[1].kind, MSIM_EV_FLAP);
	ck_assert_uint_eq(sc.ev[1].up_ms, 5000);
	ck_assert_uint_eq(sc.ev[1].down_ms, 10000);
	ck_assert_int_eq(sc.ev[2].kind, MSIM_EV_KILL);
	ck_assert_int_eq(sc.ev[2].i, 3);
	ck_assert_int_eq(sc.ev[4].kind, MSIM_EV_TERM);
	ck_assert_str_eq(sc.adv_mode, "vv-flood");
	ck_assert_int_eq(sc.adv_target, 2);
	/* writes end at 2s + 20/10 s = 4s; the partition heals at 20s */
	ck_assert_uint_eq(msim_scenario_writes_end_ms(&sc), 4000);
	ck_assert_uint_eq(msim_scenario_last_heal_ms(&sc), 20000);
	/* the seed override wins */
	MS_PASS(msim_scenario_load(&sc, p, 77, NULL));
	ck_assert_uint_eq(sc.seed, 77);
}
END_TEST

START_TEST(overrides)
{
	const char *p = file("o", "[mesh]\nnodes = 6\n[writes]\ncount = 500\n");
	const char *sets[] = {"writes.count=20", "mesh.nodes=3",
	                      "events=kill = 1s 0"};
	msim_scenario sc;
	ms_errbuf eb = {0};

	MS_PASS_EB(msim_scenario_load_ex(&sc, p, 0, sets, 2, &eb), &eb);
	ck_assert_uint_eq(sc.count, 20);
	ck_assert_int_eq(sc.nodes, 3);
	ck_assert_uint_eq(sc.writers, 7); /* all, of the new size */
	MS_FAIL(msim_scenario_load_ex(&sc, p, 0, sets + 2, 1, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "--set events=kill") != NULL, "%s",
	              eb.msg);
	sets[0] = "events.kill=1s 0";
	MS_FAIL(msim_scenario_load_ex(&sc, p, 0, sets, 1, &eb), MS_EINVAL);
	ck_assert_msg(strstr(eb.msg, "node 0 is stopped and never restarted") !=
	                      NULL,
	              "%s", eb.msg);
}
END_TEST

START_TEST(errors_name_file_and_line)
{
	static const struct {
		const char *text, *want;
	} t[] = {
		{"[mesh]\nnodes = 1\n", ":2: bad value '1' for nodes"},
		{"[mesh]\nnodes = 4\ncolour = red\n",
	         ":3: unknown key 'colour'"},
		{"[weather]\nrain = 1\n", ":2: unknown section [weather]"},
		{"nodes = 4\n", ":1: key 'nodes' outside any section"},
		{"[mesh]\nnodes = 4\n[writes]\nbackground = 1.5\n",
	         ":4: bad value '1.5' for background"},
		{"[mesh]\nnodes = 4\n[writes]\nwriters = 0,4\n",
	         ":4: bad value '0,4' for writers"},
		{"[mesh]\nnodes = 4\n[events]\npartition = 5s 2s 0 | 1\n",
	         ":4: bad partition"},
		{"[mesh]\nnodes = 4\n[events]\npartition = 1s 2s 0,1 | 1,2\n",
	         ":4: bad partition"},
		{"[mesh]\nnodes = 4\n[events]\nflap = 0-9 1s 1s\n",
	         "no such node"},
		{"[mesh]\nnodes = 4\ntopology = line\n[events]\nflap = 0-3 1s 1s\n",
	         "flap 0-3: the topology has no such link"},
		{"[mesh]\nnodes = 4\n[events]\nrestart = 1s 2\n",
	         "restart of node 2 at 1000ms: the node is up then"},
		{"[mesh]\nnodes = 4\n[events]\nquake = 1s 2\n",
	         ":4: unknown event 'quake'"},
		{"[mesh]\nnodes = 4\n[faults]\npartition = 1s 2s\n",
	         ":4: partition belongs in [events]"},
		{"[mesh]\nnodes = 4\n[faults]\nseed = 3\n",
	         ":4: seed is set by meshsim"},
		{"[mesh]\nnodes = 4\n[faults]\nwobble = 3\n",
	         ":4: unknown key 'wobble' in [faults]"},
		{"[mesh]\nnodes = 4\n[adversary]\ntarget = 4\n",
	         ":4: bad value '4' for target"},
		{"[mesh]\nnodes = 4\n[mesh\n", ":3: syntax error"},
	};
	for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
		msim_scenario sc;
		ms_errbuf eb = {0};
		const char *p = file("e", t[k].text);
		MS_FAIL(msim_scenario_load(&sc, p, 0, &eb), MS_EINVAL);
		ck_assert_msg(strstr(eb.msg, t[k].want) != NULL &&
		                      strstr(eb.msg, "e.ini") != NULL,
		              "case %zu: '%s' lacks '%s'", k, eb.msg,
		              t[k].want);
	}
	{
		msim_scenario sc;
		ms_errbuf eb = {0};
		char p[160];
		snprintf(p, sizeof p, "%s/absent.ini", tmpdir);
		MS_FAIL(msim_scenario_load(&sc, p, 0, &eb), MS_ENOTFOUND);
		ck_assert_msg(strstr(eb.msg, "absent.ini") != NULL, "%s",
		              eb.msg);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meshsim_scenario");
	TCase *tc = tcase_create("scenario");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, shipped_scenarios_load);
	tcase_add_test(tc, topologies);
	tcase_add_test(tc, random_is_connected_and_seeded);
	tcase_add_test(tc, values_and_events);
	tcase_add_test(tc, overrides);
	tcase_add_test(tc, errors_name_file_and_line);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
