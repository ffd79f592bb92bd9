#!/usr/bin/env bash
# demo.sh — set everything up and show meshsync working:
# installs missing packages, builds into build/, then runs a node through
# init, put, get and node-inspect, echoing every command it runs.
# The node's data lives in a fresh temporary directory that is removed at
# the end (keep it with MS_DEMO_KEEP=1).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/deps.sh
jobs=${MS_JOBS:-$(nproc)}
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$jobs" --target meshsync-node node-inspect >/dev/null

export PATH="$root/build/node:$root/build/tools:$PATH"
work=$(mktemp -d /tmp/meshsync-demo.XXXXXX)
cleanup() { [ "${MS_DEMO_KEEP:-0}" = 1 ] && echo "demo data kept in $work" || rm -rf "$work"; }
trap cleanup EXIT

step() { printf '\n$ %s\n' "$*"; "$@"; }
a="$work/node-a"

step meshsync-node init --data "$a"
step meshsync-node put --data "$a" greeting hello
step meshsync-node put --data "$a" greeting "hello, mesh"
printf 'a longer value from stdin' > "$work/value.txt"
printf '\n$ meshsync-node put --data %s notes/today - < value.txt\n' "$a"
meshsync-node put --data "$a" notes/today - < "$work/value.txt"
step meshsync-node put --data "$a" --background bulk/blob "background data"
step meshsync-node get --data "$a" greeting
step meshsync-node del --data "$a" bulk/blob
step node-inspect --data "$a" summary
step node-inspect --data "$a" --json summary
step node-inspect --data "$a" log
step node-inspect --data "$a" state
step node-inspect --data "$a" verify
echo
echo "demo: ok"
