/*
 * node_int.h — what node/ files share privately: the configuration (config.c)
 * and the ms_node context itself (node.c; the daemon extends it).
 */
#ifndef MS_NODE_INT_H
#define MS_NODE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "meshsync.h"
#include "ms_err.h"
#include "store.h"

/* Everything meshsync.conf can set.  Policies point into rules. */
typedef struct ms_config {
	ms_store_opts store; /* limits; store.policies -> rules */
	ms_policy_rule rules[MS_POLICY_MAX];
	size_t nrules;
} ms_config;

/* Built-in defaults (those of ms_store_opts_default, no policy rules). */
void ms_config_default(ms_config *c);

/*
 * Parse the INI file at path over the defaults.  MS_ENOTFOUND when the file
 * does not exist; MS_EINVAL "PATH:LINE: why" for an unknown section or key,
 * a bad value or a syntax error; MS_EIO otherwise.
 */
ms_err ms_config_load(ms_config *c, const char *path, ms_errbuf *eb);

/* Write the commented default configuration to path (O_EXCL, 0600). */
ms_err ms_config_write_default(const char *path, ms_errbuf *eb);

/* Parsers shared with the config file, exposed for tests and the CLI.
 * Return 0 on success, -1 when text is not a valid value. */
int ms_config_parse_size(const char *text, uint64_t *out);     /* 16M, 4G */
int ms_config_parse_duration_ms(const char *text, uint64_t *out); /* 30s, 1h */

struct ms_node {
	char *dir;
	ms_config cfg;
	ms_identity *id;
	ms_netkey *netkey;
	uint8_t netid[MS_NETID_LEN];
	ms_store *store;
};

#endif
