/* live.c — what the commands that keep running share (peers --watch, log
 * --follow): ending cleanly on SIGINT or SIGTERM, and waiting for the next
 * refresh or for a commit to the store. */
#define _GNU_SOURCE /* ppoll */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "inspect.h"

static volatile sig_atomic_t stop_flag;
static sigset_t wait_mask; /* the mask while waiting: both signals open */

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void ins_live_signals(void)
{
	struct sigaction sa;
	sigset_t both;

	/* Blocked except inside ppoll(): a signal that comes while a
	 * snapshot is printed ends the next wait at once, instead of falling
	 * between a check of the flag and the wait. */
	sigemptyset(&both);
	sigaddset(&both, SIGINT);
	sigaddset(&both, SIGTERM);
	sigprocmask(SIG_BLOCK, &both, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a signal ends the poll() a command waits in */
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int ins_live_stopped(void)
{
	return stop_flag != 0;
}

void ins_live_wait(int fd, uint64_t ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts;

	if (stop_flag)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* returns when fd is readable, a signal came (EINTR), or at the end */
	(void)ppoll(&p, fd >= 0 ? 1 : 0, &ts, &wait_mask);
}
