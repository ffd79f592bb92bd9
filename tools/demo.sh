#!/usr/bin/env bash
# demo.sh — set everything up and show a small mesh working: installs missing
# packages, builds into build/, then
#   1. one node alone: init, put, get, node-inspect (offline-first);
#   2. three nodes on loopback started with NO peer addresses: they find each
#      other by mDNS (avahi-daemon), connect and sync; shown with
#      avahi-browse and node-inspect peers (source mdns) on every node,
#      then delivery of a key and the mesh graph as node A sees them.
# Every command is echoed.  Node data lives in a fresh temporary directory,
# removed at the end (keep it with MS_DEMO_KEEP=1).  The system bus and a
# loopback-only avahi-daemon (tools/avahi-loopback.conf, never the stock
# config) are started by tools/services.sh unless already running, and only
# what it started is stopped on exit, by PID, as are the nodes.  Ports:
# MS_DEMO_PORT (default 7701) and the two after it, on 127.0.0.1 only.
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
services=0
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$services" = 1 ]; then bash "$root/tools/services.sh" stop "$work/services" || true; fi
  if [ "${MS_DEMO_KEEP:-0}" = 1 ]; then echo "demo data kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# the system bus and a loopback-only avahi-daemon for part 2 (mDNS)
bash tools/services.sh start "$work/services"
services=1

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

say "2. Three nodes on loopback that find each other by mDNS (no --peer)"
port=${MS_DEMO_PORT:-7701}
a="$work/node-a" b="$work/node-b" c="$work/node-c"
step meshsync-node init --data "$a"
printf '\n$ meshsync-node network-key --data %s > net.key\n' "$a"
meshsync-node network-key --data "$a" > "$work/net.key"
step meshsync-node init --data "$b" --network-key "$work/net.key"
step meshsync-node init --data "$c" --network-key "$work/net.key"

start() { # start NAME DIR PORT
  local name=$1 dir=$2 p=$3
  local args=(run --data "$dir" --listen "tcp://127.0.0.1:$p")
  printf '\n$ meshsync-node %s 2> %s.log &\n' "${args[*]}" "$name"
  meshsync-node "${args[@]}" 2>"$work/$name.log" &
  pids+=($!)
  wait_for "node $name to listen" test -s "$dir/node.endpoints"
}
start a "$a" "$port"
start b "$b" $((port + 1))
start c "$c" $((port + 2))

# peers_live DIR N — node-inspect lists N peers found by mDNS with a live link
peers_live() {
  [ "$(node-inspect --data "$1" --json peers | grep -c '"link": "live"')" -ge "$2" ]
}
for n in a b c; do
  wait_for "node $n to find and link the other two" peers_live "$work/node-$n" 2
done
say "What avahi-daemon announces: one _meshsync._tcp service per node, TXT v, id, net"
step avahi-browse -rpt _meshsync._tcp

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
for n in a b c; do step node-inspect --data "$work/node-$n" peers; done
step node-inspect --data "$c" state
say "Which peers A knows to hold its greeting, and the mesh as A sees it (Graphviz DOT)"
step node-inspect --data "$a" delivery greeting
step node-inspect --data "$a" graph

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
