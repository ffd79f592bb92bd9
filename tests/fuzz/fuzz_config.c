/*
 * fuzz_config.c — libFuzzer target for the meshsync.conf parser
 * (node/config.c: libinih under our section handlers and value parsers).
 *
 * The parser reads a file by path, so each input is written to a file in a
 * private directory on tmpfs (fuzz_util.h) and loaded from there: the
 * product's own entry point, line reader included, with no test-only API.
 * Whatever sections config.c knows are covered; seeds name every key.
 *
 * Beyond "never crash, read out of bounds or leak": the answer is MS_OK or
 * MS_EINVAL with a message naming the file (the file exists and is
 * readable, so nothing else is right); a loaded config keeps the
 * invariants the rest of the node relies on; loading the same text again
 * gives the same bytes (nothing depends on stale or uninitialised memory);
 * and a reload against the defaults keeps the restart-only settings
 * consistently (a second pass finds nothing left to keep).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "endpoint.h"
#include "fuzz_check.h"
#include "fuzz_util.h"
#include "node_int.h"

static char fz_conf[600];
/* ms_config is about 100 KiB (endpoint and id tables): static, not on
 * libFuzzer's stack. */
static ms_config fz_a, fz_b, fz_def;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FZ_CHECK(ms_crypto_init(NULL) == MS_OK);
	fz_path(fz_conf, sizeof fz_conf, fz_tmpdir("fuzz-config"),
	        "meshsync.conf");
	return 0;
}

/* What the daemon and the store take for granted once a config loaded. */
static void check_loaded(const ms_config *c)
{
	FZ_CHECK(c->store.map_initial <= c->store.map_max);
	FZ_CHECK(c->store.max_value >= 1);
	FZ_CHECK(c->store.policies == c->rules);
	FZ_CHECK(c->store.npolicies == c->nrules);
	FZ_CHECK(c->nrules <= MS_POLICY_MAX);
	for (size_t i = 0; i < c->nrules; i++) {
		FZ_CHECK(memchr(c->rules[i].prefix, '\0',
		                sizeof c->rules[i].prefix) != NULL);
		for (size_t j = i + 1; j < c->nrules; j++)
			FZ_CHECK(strcmp(c->rules[i].prefix,
			                c->rules[j].prefix) != 0);
	}
	FZ_CHECK(c->net.nlisten <= MS_CFG_MAX_LISTEN);
	FZ_CHECK(c->net.npeers <= MS_CFG_MAX_PEERS);
	FZ_CHECK(c->net.nallow <= MS_CFG_MAX_ACL);
	FZ_CHECK(c->net.ndeny <= MS_CFG_MAX_ACL);
	for (size_t i = 0; i < c->net.nlisten; i++)
		FZ_CHECK(ms_endpoint_check(c->net.listen[i]) == 0);
	for (size_t i = 0; i < c->net.npeers; i++)
		FZ_CHECK(ms_endpoint_check(c->net.peers[i]) == 0);
	FZ_CHECK(c->backoff.cap_ms >= c->backoff.base_ms);
	FZ_CHECK(c->net.heartbeat_timeout_ms > c->net.heartbeat_interval_ms);
	FZ_CHECK(c->sync.batch_ops >= 1 && c->sync.credit >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ms_errbuf eb, eb2;
	ms_err e, e2;
	char what[512];

	fz_write_file(fz_conf, data, size);
	ms_config_default(&fz_a);
	memset(&eb, 0, sizeof eb);
	e = ms_config_load(&fz_a, fz_conf, &eb);
	FZ_CHECK(e == MS_OK || e == MS_EINVAL);
	if (e != MS_OK) {
		/* "PATH:LINE: why" or "PATH: why" */
		FZ_CHECK(strncmp(eb.msg, fz_conf, strlen(fz_conf)) == 0);
		FZ_CHECK(eb.msg[strlen(fz_conf)] == ':');
	}

	/* The same text again: the same answer and the same bytes. */
	ms_config_default(&fz_b);
	memset(&eb2, 0, sizeof eb2);
	e2 = ms_config_load(&fz_b, fz_conf, &eb2);
	FZ_CHECK(e2 == e);
	FZ_CHECK(strcmp(eb.msg, eb2.msg) == 0);
	/* store.policies points into each one's own rules */
	fz_b.store.policies = fz_a.store.policies;
	/* both began as ms_config_default's memset, padding included */
	/* NOLINTNEXTLINE(bugprone-suspicious-memory-comparison,cert-exp42-c,cert-flp37-c): any byte that differs is a finding */
	FZ_CHECK(memcmp(&fz_a, &fz_b, sizeof fz_a) == 0);
	if (e != MS_OK)
		return 0;

	check_loaded(&fz_a);
	/* A reload from the defaults to this config: whatever must wait for
	 * a restart is put back, and then nothing is left to put back. */
	ms_config_default(&fz_def);
	FZ_CHECK(ms_config_policies_differ(&fz_a, &fz_a) == 0);
	(void)ms_config_keep_restart_only(&fz_a, &fz_def, what, sizeof what);
	FZ_CHECK(memchr(what, '\0', sizeof what) != NULL);
	FZ_CHECK(ms_config_keep_restart_only(&fz_a, &fz_def, what,
	                                     sizeof what) == 0);
	return 0;
}
