#!/bin/sh
# check_service.sh — the service files of tools/service: the OpenWrt procd
# script parses under busybox sh (a router has no bash), and the systemd
# unit runs the node as its own user from /var/lib/meshsync with syslog
# and the hardening docs/operations.md promises; systemd-analyze verify
# accepts it where systemd is installed.
# usage: check_service.sh SRCDIR BUILDDIR BINDIR NODE_BIN
#   BUILDDIR holds the unit CMake made; BINDIR is the bin directory it must
#   name (the install prefix's); exit 0 ok, 1 failed, 77 skipped
set -eu
src=$1
unit=$2/meshsync.service
bindir=$3
node=$4
init=$src/tools/service/meshsync.init
fail=0

no() { echo "check_service: $*" >&2; fail=1; }

if ! command -v busybox >/dev/null 2>&1; then
	echo "check_service: SKIPPED: busybox is not installed (tools/deps.sh installs it)"
	exit 77
fi
busybox sh -n "$init" || no "busybox sh -n rejects $init"
grep -q '^USE_PROCD=1$' "$init" || no "$init: not a procd script"
grep -q -- '--syslog' "$init" || no "$init: does not log to syslog"

# shellcheck disable=SC2016 # $MAINPID is the unit's, not ours
for line in 'User=meshsync' 'Group=meshsync' 'StateDirectory=meshsync' \
	"ExecStart=$bindir/meshsync-node run --data /var/lib/meshsync --syslog" \
	"ExecStartPre=/bin/sh -c 'test -e /var/lib/meshsync/identity.key || exec $bindir/meshsync-node init --data /var/lib/meshsync'" \
	'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
	'PrivateTmp=yes' 'CapabilityBoundingSet=' \
	'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -qxF "$line" "$unit" || no "$unit lacks the line: $line"
done

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart's program to exist: point it at the build's
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	sed "s|$bindir/meshsync-node|$node|" "$unit" >"$tmp/meshsync.service"
	if ! out=$(systemd-analyze verify "$tmp/meshsync.service" 2>&1); then
		no "systemd-analyze verify failed: $out"
	elif [ -n "$out" ]; then
		echo "$out" | grep -v "^$" | grep -q . && no "systemd-analyze verify warns: $out"
	fi
else
	echo "check_service: systemd-analyze not installed: the unit is checked by its lines only"
fi
[ "$fail" -eq 0 ] && echo "check_service: ok"
exit "$fail"
