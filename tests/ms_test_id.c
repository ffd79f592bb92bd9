/*
 * ms_test_id.c — deterministic identities for the suites (see ms_test.h).
 * A file of its own so that a suite which never asks for one does not pull
 * in the crypto module.
 */
#include "crypto.h"
#include "ms_test.h"

ms_identity *ms_test_identity(uint8_t fill)
{
	uint8_t seed[MS_SEED_LEN];
	ms_identity *id = NULL;
	ms_errbuf eb;

	memset(seed, fill, sizeof seed);
	MS_PASS_EB(ms_crypto_init(&eb), &eb);
	MS_PASS_EB(ms_identity_from_seed(&id, seed, &eb), &eb);
	return id;
}
