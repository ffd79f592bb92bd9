/*
 * daemon.h — `meshsync-node run`: what the command line gives the daemon,
 * and its entry point.  Everything else about the daemon is private to
 * daemon.c, the one mediator that wires the transport, the sync sessions,
 * the peer table, discovery and peer exchange together (see
 * docs/architecture.md).
 */
#ifndef MS_DAEMON_H
#define MS_DAEMON_H

#include <stddef.h>

#include "ms_err.h"

/* Sessions the daemon admits ([limits]; docs/security.md): open at once
 * over all peers (a session beyond it gets BYE(budget sessions_total)),
 * and per node id once HELLO proved it (sessions_per_peer: two for a
 * pair that dialled each other, room for a reconnect not yet noticed). */
#define MS_DAEMON_SESSIONS_TOTAL_DEFAULT 256u
#define MS_DAEMON_SESSIONS_PER_PEER_DEFAULT 4u

/* What the command line adds to (or overrides in) meshsync.conf. */
typedef struct ms_daemon_opts {
	const char *dir;           /* data directory (required) */
	const char *config_path;   /* NULL: DIR/meshsync.conf if present */
	const char *const *listen; /* --listen: replaces [net] listen */
	size_t nlisten;
	const char *const *peers; /* --peer: added to [net] peer */
	size_t npeers;
	int no_mdns;   /* --no-mdns */
	int log_level; /* --log-level, or -1 for the config's */
	int syslog;    /* --syslog */
} ms_daemon_opts;

/*
 * Run the daemon until SIGINT or SIGTERM: lock DIR/node.pid, open the node,
 * listen, write DIR/node.endpoints, dial static peers and sync.  Returns
 * MS_OK after a clean stop (both files removed); otherwise the error in eb,
 * e.g. MS_EBUSY "run DIR: already running (pid N)".
 */
ms_err ms_daemon_run(const ms_daemon_opts *o, ms_errbuf *eb);

#endif
