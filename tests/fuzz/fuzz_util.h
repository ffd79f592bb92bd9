/*
 * fuzz_util.h — what the fuzz targets share besides FZ_CHECK: the two
 * libFuzzer entry points' declarations, and a private scratch directory
 * for targets whose parser reads a file by path (config, key files) or
 * that need a real store (the session).
 */
#ifndef MS_FUZZ_UTIL_H
#define MS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Defined by each target; called by libFuzzer or by fuzz_replay.c. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A fresh 0700 directory for this process (on /dev/shm when TMPDIR is
 * unset and /dev/shm is writable: the targets write per input, and RAM
 * keeps that cheap), removed with its files at exit.  Aborts on failure:
 * without it the target cannot run.  The returned string is static.
 */
const char *fz_tmpdir(const char *tag);

/* dir/name into buf (aborts when it does not fit). */
void fz_path(char *buf, size_t cap, const char *dir, const char *name);

/* Replace the file at path with data (mode 0600); aborts on failure. */
void fz_write_file(const char *path, const uint8_t *data, size_t size);

#endif
