/*
 * disc_probe.c — a tiny program around net/discovery for the tests that
 * run it inside a network namespace with its own dbus and avahi-daemon
 * (test_disc_restart.c): it publishes one service, browses, and prints
 * every event and log line on stdout, one per line, flushed:
 *
 *   STATE up|down
 *   FOUND <node id hex> <endpoint> <name>
 *   LOST <node id hex> last=<0|1>
 *   LOG <level> <message>
 *
 * It runs until stdin reaches EOF (the test closes its end, so the probe
 * cannot outlive the test's interest in it) or --max-s seconds pass.
 *
 *   disc_probe --id-tag N --net-tag N --port P --name NAME [--type T]
 *              [--families 1|2|3] [--retry-ms MS] [--max-s S]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "discovery.h"

static void on_event(void *ctx, const ms_disc_event *ev)
{
	char hex[2 * MS_PK_LEN + 1];

	(void)ctx;
	ms_hex(hex, ev->node_id, MS_PK_LEN);
	switch (ev->kind) {
	case MS_DISC_STATE:
		printf("STATE %s\n", ev->up ? "up" : "down");
		break;
	case MS_DISC_FOUND:
		printf("FOUND %s %s %s\n", hex, ev->endpoint, ev->name);
		break;
	case MS_DISC_LOST:
		printf("LOST %s last=%d\n", hex, ev->last);
		break;
	}
	if (fflush(stdout) != 0)
		_exit(1); /* the test stopped reading: nobody to report to */
}

static void on_log(void *ctx, int level, const char *msg, const char *name)
{
	char nm[MS_DISC_NAME_MAX];
	size_t i = 0;

	(void)ctx;
	/* one output line per log line: control bytes of a name become '?' */
	for (; name != NULL && name[i] != '\0' && i + 1 < sizeof nm; i++) {
		nm[i] = name[i];
		if ((unsigned char)nm[i] < 0x20)
			nm[i] = '?';
	}
	nm[i] = '\0';
	printf("LOG %d %s%s%s\n", level, msg, name != NULL ? " name=" : "", nm);
	if (fflush(stdout) != 0)
		_exit(1);
}

/* A decimal argument in lo..hi; 0, or -1 when v is not one. */
static int num(const char *v, long lo, long hi, long *out)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: disc_probe --id-tag N --net-tag N --port P "
	                "--name NAME [--type T] [--families F] [--retry-ms MS] "
	                "[--max-s S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	ms_disc_cfg cfg;
	ms_disc *d = NULL;
	ms_errbuf eb;
	struct pollfd p[2];
	time_t end;
	long max_s = 120;
	int i;

	memset(&cfg, 0, sizeof cfg);
	cfg.proto_version = 1;
	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		long x = 0;
		int text = strcmp(k, "--name") == 0 || strcmp(k, "--type") == 0;

		if (!text && num(v, 0, 86400000, &x) != 0)
			return usage();
		if (strcmp(k, "--name") == 0)
			cfg.name = v;
		else if (strcmp(k, "--type") == 0)
			cfg.service_type = v;
		else if (strcmp(k, "--id-tag") == 0 && x <= 255)
			memset(cfg.node_id, (int)x, MS_PK_LEN);
		else if (strcmp(k, "--net-tag") == 0 && x <= 255)
			memset(cfg.net_id, (int)x, MS_NETID_LEN);
		else if (strcmp(k, "--port") == 0 && x <= 65535)
			cfg.port = (uint16_t)x;
		else if (strcmp(k, "--retry-ms") == 0)
			cfg.retry_ms = (unsigned)x;
		else if (strcmp(k, "--families") == 0)
			cfg.families = (unsigned)x;
		else if (strcmp(k, "--max-s") == 0)
			max_s = x;
		else
			return usage();
	}
	if (i != argc)
		return usage();
	if (ms_disc_new(&d, &cfg, on_event, on_log, NULL, &eb) != MS_OK) {
		fprintf(stderr, "disc_probe: %s\n", eb.msg);
		return 1;
	}
	end = time(NULL) + max_s;
	while (time(NULL) < end) {
		p[0].fd = ms_disc_fd(d);
		p[0].events = POLLIN;
		p[1].fd = STDIN_FILENO;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			ms_disc_process(d);
		if (p[1].revents & (POLLIN | POLLHUP)) {
			char buf[64];
			if (read(STDIN_FILENO, buf, sizeof buf) <= 0)
				break;
		}
	}
	ms_disc_free(&d);
	return 0;
}
