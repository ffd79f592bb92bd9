/*
 * crypto_int.h — helpers shared between the files of crypto/ only.
 *
 * The identity's secret lives in sign.c; the key-file code in keys.c needs
 * the seed to write it out, and nothing outside crypto/ ever should.
 */
#ifndef MS_CRYPTO_INT_H
#define MS_CRYPTO_INT_H

#include <stdint.h>

#include "crypto.h"

/* Copy the identity's 32-byte seed into seed; the caller wipes it. */
void ms_identity_seed(const ms_identity *id, uint8_t seed[MS_SEED_LEN]);

#endif
