#!/usr/bin/env bash
# demo.sh — set everything up and show a small mesh working: installs missing
# packages, builds into build/, then
#   1. one node alone: init, put, get, node-inspect (offline-first);
#   2. three nodes on loopback in a line A - B - C with static peers: a write
#      on A reaches C through B, shown with node-inspect on every node.
# Every command is echoed.  Node data lives in a fresh temporary directory,
# removed at the end (keep it with MS_DEMO_KEEP=1).  The daemons started here
# are stopped by PID on exit.  Ports: MS_DEMO_PORT (default 7701) and the two
# after it, on 127.0.0.1 only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/deps.sh
jobs=${MS_JOBS:-$(nproc)}
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j "$jobs" --target meshsync-node node-inspect >/dev/null
export PATH="$root/build/node:$root/build/tools:$PATH"

work=$(mktemp -d /tmp/meshsync-demo.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${MS_DEMO_KEEP:-0}" = 1 ]; then echo "demo data kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n$ %s\n' "$*"; "$@"; }
say() { printf '\n## %s\n' "$*"; }

# wait_for DESC CMD... — run CMD every 100 ms until it succeeds, at most 30 s.
wait_for() {
  local desc=$1 i
  shift
  for ((i = 0; i < 300; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $desc" >&2
  return 1
}

say "1. One node, offline"
s="$work/solo"
step meshsync-node init --data "$s"
step meshsync-node put --data "$s" greeting hello
step meshsync-node put --data "$s" greeting "hello, mesh"
step meshsync-node put --data "$s" --background bulk/blob "background data"
step meshsync-node get --data "$s" greeting
step meshsync-node del --data "$s" bulk/blob
step node-inspect --data "$s" summary
step node-inspect --data "$s" log
step node-inspect --data "$s" verify

say "2. Three nodes on loopback: A - B - C (static peers, no mDNS)"
port=${MS_DEMO_PORT:-7701}
a="$work/node-a" b="$work/node-b" c="$work/node-c"
step meshsync-node init --data "$a"
printf '\n$ meshsync-node network-key --data %s > net.key\n' "$a"
meshsync-node network-key --data "$a" > "$work/net.key"
step meshsync-node init --data "$b" --network-key "$work/net.key"
step meshsync-node init --data "$c" --network-key "$work/net.key"

start() { # start NAME DIR PORT [PEER_PORT]
  local name=$1 dir=$2 p=$3 peer=${4:-}
  local args=(run --data "$dir" --listen "tcp://127.0.0.1:$p" --no-mdns)
  [ -n "$peer" ] && args+=(--peer "tcp://127.0.0.1:$peer")
  printf '\n$ meshsync-node %s 2> %s.log &\n' "${args[*]}" "$name"
  meshsync-node "${args[@]}" 2>"$work/$name.log" &
  pids+=($!)
  wait_for "node $name to listen" test -s "$dir/node.endpoints"
}
start a "$a" "$port"
start b "$b" $((port + 1)) "$port"
start c "$c" $((port + 2)) $((port + 1))

step meshsync-node put --data "$a" greeting "hello from A"
wait_for "the write to reach C" sh -c \
  "meshsync-node get --data '$c' greeting | grep -qx 'hello from A'"
step meshsync-node get --data "$c" greeting
step meshsync-node put --data "$c" reply "hi A, C here"
wait_for "the reply to reach A" meshsync-node get --data "$a" reply
step meshsync-node get --data "$a" reply
for n in a b c; do
  dir="$work/node-$n"
  printf '\n$ node-inspect --data node-%s --json summary | grep -E "ops|state_hash"\n' "$n"
  node-inspect --data "$dir" --json summary | grep -E '"(ops|state_hash)"'
done
step node-inspect --data "$b" peers
step node-inspect --data "$c" state

hash() { node-inspect --data "$1" --json summary | sed -n 's/.*"state_hash": *"\([0-9a-f]*\)".*/\1/p'; }
wait_for "equal state on A, B and C" sh -c \
  "[ \"\$(node-inspect --data '$a' --json summary | grep state_hash)\" = \"\$(node-inspect --data '$c' --json summary | grep state_hash)\" ]"
ha=$(hash "$a") hb=$(hash "$b") hc=$(hash "$c")
if [ "$ha" != "$hb" ] || [ "$hb" != "$hc" ]; then
  echo "demo: FAILED: state hashes differ: $ha $hb $hc" >&2
  exit 1
fi
echo
echo "demo: ok — A, B and C hold the same state ($ha)"
