/*
 * test_oldstore.c — a store written by an earlier version of meshsync
 * (tests/store/fixtures: a real data.mdb that code wrote, not one rebuilt
 * here) still opens: read-only it opens or is refused with a message that
 * says how to migrate; read-write it opens (migrated if its layout
 * changed), says what it said when it was written (op count, keys,
 * conflicts, forks, quarantine, state hash), passes the full consistency
 * check, reads back its values through the node API, and takes new
 * writes after its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meshsync.h"
#include "ms_test.h"
#include "store.h"

#ifndef MS_FIXTURE_DIR
#error "MS_FIXTURE_DIR names tests/store/fixtures"
#endif

static const char *const files[] = {"data.mdb", "identity.key", "network.key",
                                    "meshsync.conf"};

/* Copy fixture NAME into a fresh private directory, as a node would
 * hold it (0700 directory, 0600 files). */
static char *copy_fixture(const char *name)
{
	char *dir = ms_test_tmpdir("oldstore");
	char src[4096];

	ck_assert_int_eq(chmod(dir, 0700), 0);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		FILE *in, *out;
		char *dst = ms_test_pjoin(dir, files[i]);
		char buf[65536];
		size_t n;

		snprintf(src, sizeof src, "%s/%s/%s", MS_FIXTURE_DIR, name,
		         files[i]);
		in = fopen(src, "rb");
		ck_assert_msg(in != NULL, "fixture %s missing", src);
		out = fopen(dst, "wb");
		ck_assert_ptr_nonnull(out);
		while ((n = fread(buf, 1, sizeof buf, in)) > 0)
			ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
		fclose(in);
		ck_assert_int_eq(fclose(out), 0);
		ck_assert_int_eq(chmod(dst, 0600), 0);
		free(dst);
	}
	return dir;
}

/* The value of "NAME value" in the fixture's expected file. */
static void expected(const char *fixture, const char *name, char *out,
                     size_t cap)
{
	char path[4096], line[256];
	size_t nl = strlen(name);
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/expected", MS_FIXTURE_DIR, fixture);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
			snprintf(out, cap, "%s", line + nl + 1);
			out[strcspn(out, "\n")] = '\0';
			fclose(f);
			return;
		}
	fclose(f);
	ck_abort_msg("expected: no %s", name);
}

static uint64_t expected_u64(const char *fixture, const char *name)
{
	char v[128];

	expected(fixture, name, v, sizeof v);
	return strtoull(v, NULL, 10);
}

static void check_summary(const char *fixture, ms_store *s)
{
	ms_store_rtxn *rt = NULL;
	ms_store_summary sum;
	ms_errbuf eb = {0};
	char want[128], got[2 * MS_HASH_LEN + 1];

	ck_assert_int_eq(ms_store_read_begin(s, &rt, &eb), MS_OK);
	ck_assert_int_eq(ms_store_summary_get(rt, &sum, &eb), MS_OK);
	ck_assert_uint_eq(sum.ops, expected_u64(fixture, "ops"));
	ck_assert_uint_eq(sum.authors, expected_u64(fixture, "authors"));
	ck_assert_uint_eq(sum.keys, expected_u64(fixture, "keys"));
	ck_assert_uint_eq(sum.live_keys, expected_u64(fixture, "live_keys"));
	ck_assert_uint_eq(sum.conflicts, expected_u64(fixture, "conflicts"));
	ck_assert_uint_eq(sum.forks, expected_u64(fixture, "forks"));
	ck_assert_uint_eq(sum.quarantined,
	                  expected_u64(fixture, "quarantined"));
	ck_assert_uint_eq(sum.local_seq, expected_u64(fixture, "local_seq"));
	expected(fixture, "state_hash", want, sizeof want);
	for (size_t i = 0; i < MS_HASH_LEN; i++)
		snprintf(got + 2 * i, 3, "%02x", sum.state_hash[i]);
	ck_assert_str_eq(got, want);
	ms_store_read_end(&rt);
}

static int copy_value(const ms_node_value *v, void *ctx)
{
	char *out = ctx;

	snprintf(out, 64, "%.*s", (int)v->len, (const char *)v->data);
	return 1;
}

START_TEST(test_schema3_store_opens)
{
	char *dir = copy_fixture("schema3");
	ms_store_opts o;
	ms_store *s = NULL;
	ms_node *n = NULL;
	ms_errbuf eb = {0};
	ms_node_write_result wr;
	uint64_t faults = 0;
	char v[64];
	ms_err e;

	/* read-only, as node-inspect opens it: works, or says how to
	 * migrate (a read-only open cannot rewrite the layout) */
	ms_store_opts_default(&o);
	o.readonly = 1;
	e = ms_store_open(&s, dir, &o, &eb);
	if (e == MS_OK) {
		check_summary("schema3", s);
		ms_store_close(&s);
	} else {
		ck_assert_int_eq(e, MS_ECORRUPT);
		ck_assert_msg(strstr(eb.msg, "migrat") != NULL,
		              "refusal does not say how to migrate: %s",
		              eb.msg);
	}

	/* read-write: opened (and migrated when the layout changed) */
	o.readonly = 0;
	ck_assert_msg(ms_store_open(&s, dir, &o, &eb) == MS_OK, "%s",
	              ms_test_eb_msg(&eb));
	check_summary("schema3", s);
	ck_assert_msg(ms_store_verify(s, NULL, NULL, &faults, &eb) == MS_OK,
	              "%" PRIu64 " faults: %s", faults, ms_test_eb_msg(&eb));
	ck_assert_uint_eq(faults, 0);
	ms_store_close(&s);

	/* the node as a user opens it: values and policies as written */
	ck_assert_msg(ms_node_open(&n, dir, NULL, &eb) == MS_OK, "%s",
	              ms_test_eb_msg(&eb));
	ck_assert_int_eq(ms_node_get(n, "k/00", 4, 0, copy_value, v, &eb),
	                 MS_OK);
	ck_assert_str_eq(v, "again");
	ck_assert_int_eq(ms_node_get(n, "cnt/hits", 8, 0, copy_value, v, &eb),
	                 MS_OK);
	ck_assert_str_eq(v, "17");
	ck_assert_int_eq(ms_node_get(n, "k/01", 4, 0, copy_value, v, &eb),
	                 MS_EDELETED);
	ck_assert_int_eq(ms_node_put(n, "new", 3, "after", 5, 0, &wr, &eb),
	                 MS_OK);
	ck_assert_uint_eq(wr.seq, expected_u64("schema3", "local_seq") + 1);
	ms_node_close(&n);
	ms_test_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("oldstore");
	TCase *tc = tcase_create("oldstore");

	ms_test_prefer_ram_tmpdir();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_schema3_store_opens);
	suite_add_tcase(suite, tc);
	return ms_test_run(suite);
}
