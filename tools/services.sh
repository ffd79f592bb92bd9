#!/usr/bin/env bash
# services.sh — start or stop the system D-Bus and an avahi-daemon for the
# discovery tests and the demo, on machines without systemd.
#
#   tools/services.sh start STATE_DIR   start what is not running, wait until
#                                       avahi answers on the bus
#   tools/services.sh stop STATE_DIR    stop only what `start` started, by PID
#
# avahi-daemon always runs with tools/avahi-loopback.conf (loopback only,
# wide-area off), never the stock config.  An avahi-daemon that was already
# running is used as it is and left alone.  PIDs of what we started are kept
# in STATE_DIR (dbus.pid, avahi.pid); the avahi log is STATE_DIR/avahi.log.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
state=${2:-}
if [ -z "$cmd" ] || [ -z "$state" ]; then
  echo "usage: services.sh start|stop STATE_DIR" >&2
  exit 2
fi

avahi_ready() {
  dbus-send --system --print-reply=literal --dest=org.freedesktop.Avahi / \
    org.freedesktop.Avahi.Server.GetState 2>/dev/null | grep -q 'int32 2'
}

# alive PIDFILE — the process recorded in PIDFILE is running
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  mkdir -p "$state"
  if [ "$(id -u)" -ne 0 ]; then
    echo "services.sh: starting the system bus and avahi-daemon needs root" >&2
    exit 1
  fi
  if avahi-daemon -c 2>/dev/null && avahi_ready; then
    return 0 # already running (ours from an earlier start, or the machine's)
  fi
  mkdir -p /run/dbus
  # dbus-daemon leaves /run/dbus/pid behind when killed; a stale one blocks
  # the next start.
  if ! alive /run/dbus/pid; then
    rm -f /run/dbus/pid
    dbus-daemon --system --fork --print-pid >"$state/dbus.pid"
  fi
  rm -f /run/avahi-daemon/pid
  avahi-daemon --no-chroot --no-rlimits -f "$root/tools/avahi-loopback.conf" \
    >"$state/avahi.log" 2>&1 &
  echo $! >"$state/avahi.pid"
  local i
  for ((i = 0; i < 100; i++)); do # at most 10 s
    if avahi_ready; then return 0; fi
    if ! alive "$state/avahi.pid"; then break; fi
    sleep 0.1
  done
  echo "services.sh: avahi-daemon did not come up; its log:" >&2
  cat "$state/avahi.log" >&2 || true
  stop
  exit 1
}

# stop_pid PIDFILE — SIGTERM, wait up to 5 s, then SIGKILL
stop_pid() {
  local f=$1 pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  stop_pid "$state/avahi.pid"
  if [ -s "$state/dbus.pid" ]; then
    stop_pid "$state/dbus.pid"
    rm -f /run/dbus/pid
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: services.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
