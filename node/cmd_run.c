/* cmd_run.c — `meshsync-node run`: flags into ms_daemon_opts, then the
 * daemon (node/daemon.c) until SIGINT/SIGTERM. */
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "endpoint.h"
#include "log.h"

int ms_cmd_run(const ms_cli *c)
{
	const ms_cli_cmd *cmd = ms_cli_find("run");
	ms_daemon_opts o = {0};
	ms_errbuf eb = {0};
	int rc;

	if ((rc = ms_cli_want_args(c, "run", 0, NULL)) != MS_EXIT_OK)
		return rc;
	o.dir = c->data;
	o.config_path = c->config;
	o.listen = c->listen;
	o.nlisten = (size_t)c->nlisten;
	o.peers = c->peers;
	o.npeers = (size_t)c->npeers;
	o.no_mdns = c->no_mdns;
	o.syslog = c->syslog;
	o.log_level = -1;
	if (c->log_level != NULL &&
	    ms_log_level_parse(c->log_level, &o.log_level) != 0)
		return ms_cli_usage_error(
			cmd,
			"bad --log-level (debug, info, notice, warning or error)");
	for (int i = 0; i < c->nlisten; i++)
		if (ms_endpoint_check(c->listen[i]) != 0)
			return ms_cli_usage_error(
				cmd, "bad --listen endpoint (tcp://HOST:PORT)");
	for (int i = 0; i < c->npeers; i++)
		if (ms_endpoint_check(c->peers[i]) != 0)
			return ms_cli_usage_error(
				cmd, "bad --peer endpoint (tcp://HOST:PORT)");
	if (ms_daemon_run(&o, &eb) != MS_OK) {
		ms_cli_err("%s",
		           eb.msg[0] != '\0' ? eb.msg : ms_strerror(eb.code));
		return MS_EXIT_STORE;
	}
	return MS_EXIT_OK;
}
