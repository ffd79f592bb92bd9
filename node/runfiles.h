/*
 * runfiles.h — the files a running node keeps in its data directory:
 *   node.pid        the daemon's pid, under an exclusive flock: the lock,
 *                   not the file, says a daemon runs (a file left by a
 *                   killed daemon is simply taken over);
 *   node.endpoints  the endpoints it listens on, one per line, with the
 *                   ports resolved (how tests and tools find a node that
 *                   asked for port 0), replaced atomically;
 *   node.faults     one line: the fault layer's settings with the seed in
 *                   use, while a daemon runs with faults on (what
 *                   node-inspect summary shows), replaced atomically;
 *   node.mesh       what each peer's last PEERS listed (node/pex.h's
 *                   ms_pex_mesh_text; node-inspect graph draws it),
 *                   replaced atomically, at most once every
 *                   MS_RUN_MESH_INTERVAL_MS however often peers send.
 */
#ifndef MS_RUNFILES_H
#define MS_RUNFILES_H

#include <stddef.h>

#include "ms_err_int.h"

#define MS_RUN_PID_FILE "node.pid"
#define MS_RUN_ENDPOINTS_FILE "node.endpoints"
#define MS_RUN_FAULTS_FILE "node.faults"
#define MS_RUN_MESH_FILE "node.mesh"
#define MS_RUN_MESH_INTERVAL_MS 5000 /* node.mesh written at most this often */

/* Take the lock on DIR/node.pid and write our pid; *fdp is the open file
 * (keep it open while running).  A lock held by someone else is tried
 * again for up to ~10 ms (a reader's test of it: ms_runfile_running).  On
 * a full file system the lock is taken and the file left empty.  MS_EBUSY "run DIR: already running (pid N)"
 * when another process holds it; MS_EIO, MS_ENOMEM. */
ms_err ms_runfile_lock(const char *dir, int *fdp, ms_errbuf *eb);
/* Whether a daemon runs on DIR, for readers (ms_node_status_get): *pid is
 * the pid in DIR/node.pid while a process holds its lock, -1 when one
 * holds it but the file is empty (written on a full disk), 0 when none
 * does (no file, or one left by a killed daemon).  It tests the lock by
 * taking a shared one for a moment, which a starting daemon waits out
 * (ms_runfile_lock tries a few times).  MS_EIO, MS_ENOMEM (*pid 0). */
ms_err ms_runfile_running(const char *dir, int *pid, ms_errbuf *eb);
/* Remove DIR/node.pid and close fd (a no-op for fd < 0). */
void ms_runfile_unlock(const char *dir, int fd);

/* Write DIR/node.endpoints (n endpoints); MS_EFULL (the file system is
 * full; the old file, if any, stays), MS_EIO, MS_ENOMEM. */
ms_err ms_runfile_endpoints(const char *dir, const char *const *eps, size_t n,
                            ms_errbuf *eb);
/* Remove DIR/node.endpoints. */
void ms_runfile_endpoints_remove(const char *dir);

/* Write DIR/node.faults (line, a newline added); MS_EIO, MS_ENOMEM. */
ms_err ms_runfile_faults(const char *dir, const char *line, ms_errbuf *eb);
/* Remove DIR/node.faults (one left by a killed daemon too). */
void ms_runfile_faults_remove(const char *dir);

/* Write DIR/node.mesh (text as it is); MS_EFULL, MS_EIO, MS_ENOMEM (the
 * old file, if any, stays). */
ms_err ms_runfile_mesh(const char *dir, const char *text, ms_errbuf *eb);
/* Remove DIR/node.mesh (one left by a killed daemon too). */
void ms_runfile_mesh_remove(const char *dir);

#endif
