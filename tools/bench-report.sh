#!/usr/bin/env bash
# bench-report.sh — meshbench's JSON as the markdown results of
# docs/benchmarks.md: the machine, the raw limits beside meshsync's
# figures with their ratios, and the verdict on each target of issue 10.
#
#   tools/bench-report.sh RESULT.json                  markdown on stdout
#   tools/bench-report.sh RESULT.json --update FILE    replace FILE's part
#       between <!-- results:begin --> and <!-- results:end -->
#   meshbench | tools/bench-report.sh -                read stdin
set -euo pipefail

usage() {
	echo "usage: tools/bench-report.sh RESULT.json|- [--update FILE.md]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
src=$1
shift
update=
if [ $# -gt 0 ]; then
	if [ "$1" != --update ] || [ $# -ne 2 ]; then usage; fi
	update=$2
fi
command -v jq >/dev/null || {
	echo "bench-report.sh: jq is missing (tools/deps.sh installs it)" >&2
	exit 1
}
if [ "$src" = - ]; then
	json=$(cat)
else
	[ -r "$src" ] || { echo "bench-report.sh: cannot read $src" >&2; exit 1; }
	json=$(cat "$src")
fi
jq -e '.meshbench.schema == 1' >/dev/null <<<"$json" || {
	echo "bench-report.sh: $src is not meshbench output (schema 1)" >&2
	exit 1
}

report() {
	jq -r '
	def r(p): if . == null then "–" else (. * pow(10; p) | round) / pow(10; p) | tostring end;
	def n: if . == null then "–" else (round | tostring) end;
	def ms: r(3) + " ms";
	def yes: if . == null then "–" elif . then "**met**" else "not met" end;
	. as $d |
	.raw as $raw |
	(.meshbench.n | tostring) as $N |
	.workloads as $w |
	([$raw.ed25519.sign_per_s_2t, $raw.ed25519.sign_per_s_1t, (.workloads[]? | objects | .limits_rechecked.sign_per_s_2t? // empty)] | max) as $sign2 |
	([$raw.ed25519.verify_per_s_2t, $raw.ed25519.verify_per_s_1t, (.workloads[]? | objects | .limits_rechecked.verify_per_s_2t? // empty)] | max) as $verify2 |
	"Run of \(.meshbench.started) (mode `\(.meshbench.mode)`, N = \($N), \(.meshbench.seconds | r(0)) s in all) on \(.machine.cpus) × \(.machine.cpu_model), Linux \(.machine.kernel), scratch on \(.machine.disk.fs) (\(.machine.disk.device)).",
	"",
	"### Raw limits (same run)",
	"",
	"| limit | figure |",
	"|---|---|",
	"| Ed25519 sign, 1 / 2 threads (\($raw.ed25519.message_bytes)-byte messages) | \($raw.ed25519.sign_per_s_1t | n) / \($raw.ed25519.sign_per_s_2t | n) per s |",
	"| Ed25519 verify, 1 / 2 threads | \($raw.ed25519.verify_per_s_1t | n) / \($raw.ed25519.verify_per_s_2t | n) per s |",
	"| Ed25519 sign / verify, 2 threads, best in the run (also measured again before batch, ingest and catchup, and never below the 1-thread rate: the limit the ratios use) | \($sign2 | n) / \($verify2 | n) per s |",
	"| LMDB, \($raw.lmdb_batched.puts_per_txn) puts per durable txn (\($raw.lmdb_batched.value_bytes)-byte values) | \($raw.lmdb_batched.puts_per_s | n) puts/s |",
	($raw.lmdb_durable_single_put | to_entries[] |
	 "| LMDB durable single put, \(if .key == "small" then "empty store" else "\(.key) records" end): p50 / p99 / max | \(.value.p50_ms | ms) / \(.value.p99_ms | ms) / \(.value.max_ms | ms) |"),
	"",
	"### meshsync beside the limits",
	"",
	"| workload | meshsync | limit | ratio |",
	"|---|---|---|---|",
	($w.put // empty | to_entries[] | select(.value | type == "object" and has("api")) |
	 "| put, \(if .key == "small" then "small store" else "\(.value.store_ops) ops" end), API: p50 / p99 / max | \(.value.api.p50_ms | ms) / \(.value.api.p99_ms | ms) / \(.value.api.max_ms | ms) (\(.value.api.writes_per_s | n)/s) | raw LMDB \(.value.raw_lmdb.p50_ms | ms) / \(.value.raw_lmdb.p99_ms | ms) | p50 \(.value.ratios.p50_vs_raw_lmdb | r(2)) ×, p99 \(.value.ratios.p99_vs_raw_lmdb | r(2)) × |",
	 "| put, \(if .key == "small" then "small store" else "\(.value.store_ops) ops" end), `meshsync-node put` process: p50 / p99 | \(.value.cli.p50_ms | ms) / \(.value.cli.p99_ms | ms) | – | – |"),
	($w.batch // empty | select(type == "object") |
	 "| batch, \(.params.writes_per_call) writes a call, durable | \(.ops_per_s | n) ops/s | sign 2 threads \(.limits_rechecked.sign_limit_used // $raw.ed25519.sign_per_s_2t | n)/s | \(.ratios.vs_sign_2t | r(3)) × |"),
	($w.ingest // empty | select(type == "object") |
	 "| ingest, \(.params.ops) ops of \(.params.authors) authors, \(.params.ops_per_call) a call | \(.ops_per_s | n) ops/s | verify 2 threads \(.limits_rechecked.verify_limit_used // $raw.ed25519.verify_per_s_2t | n)/s | \(.ratios.vs_verify_2t | r(3)) × |"),
	($w.catchup // empty | select(type == "object") |
	 "| catchup of \(.params.ops) ops | \(.ops_per_s | n) ops/s (\(.seconds | r(2)) s) | verify 2 threads \(.limits_rechecked.verify_limit_used // $raw.ed25519.verify_per_s_2t | n)/s | \(.ratios.vs_verify_2t | r(3)) × |",
	 "| catchup, bytes per op: wire / protocol | \(.wire_bytes_per_op | r(0)) / \(.protocol_bytes_per_op | r(0)) B | encoded op \(.encoded_bytes_per_op | r(0)) B | \(.ratios.wire_vs_encoded | r(3)) × / \(.ratios.protocol_vs_encoded | r(3)) × |",
	 "| catchup, peak anonymous RSS: sender / receiver | \(.peak_rss_anon_mib.sender | r(1)) / \(.peak_rss_anon_mib.receiver | r(1)) MiB | – | – |"),
	($w.insync // empty | select(type == "object") |
	 "| insync reconnect (\(.params.ops) ops each): round trips; protocol / wire bytes | \(.round_trips // "–"); \(.protocol_bytes) / \(.wire_bytes // "–") B | – | – |"),
	($w.propagate // empty | select(type == "object") |
	 "| propagate, \(.params.hops) hops, write by another process: p50 / p99 | \(.far_end.p50_ms | ms) / \(.far_end.p99_ms | ms) (first hop p50 \(.first_hop.p50_ms | ms)) | – | – |"),
	($w.footprint // empty | select(type == "object") |
	 "| footprint, idle node of \(.params.ops) ops: RssAnon, ready | \(.rss_anon_idle_mib | r(2)) MiB, \(.ready_ms | r(1)) ms | – | – |",
	 "| store bytes per op | \(.store_bytes_per_op | r(0)) B (ops db \(.databases.ops.bytes_per_op // null | r(0)) B) | encoded op \(.encoded_bytes_per_op | r(0)) B | \(.ratios.store_vs_encoded | r(2)) × |"),
	($w.mesh // empty | select(type == "object") |
	 "| mesh, \(.params.nodes) nodes random degree \(.params.degree), \(.params.writes) writes | converged \(.converged) in \(.seconds_to_converge | r(1)) s; \(.op_transfers) op transfers | minimum \(.min_transfers) | amplification \(.amplification | r(3)) |",
	 (.failed_runs // [] | .[] | "| mesh, \(.nodes) nodes: **failed** | \(.error | split(": see ")[0] | gsub("\\|"; "/")) | – | – |")),
	"",
	"### Targets (issue 10)",
	"",
	"| workload | target | value | threshold | verdict |",
	"|---|---|---|---|---|",
	(.targets[] | "| \(.workload) | `\(.target)` | \(.value | r(3)) | \(.op) \(.threshold) | \(.met | yes) |"),
	"",
	"\([.targets[] | select(.met)] | length) of \(.targets | length) targets met."
	' <<<"$json"
}

if [ -z "$update" ]; then
	report
	exit 0
fi
[ -w "$update" ] || { echo "bench-report.sh: cannot write $update" >&2; exit 1; }
if ! grep -q '^<!-- results:begin -->$' "$update" ||
	! grep -q '^<!-- results:end -->$' "$update"; then
	echo "bench-report.sh: $update has no <!-- results:begin --> / <!-- results:end --> lines" >&2
	exit 1
fi
body=$(report)
tmp=$(mktemp "$update.XXXXXX")
# through the environment: awk -v would interpret backslashes
BODY=$body awk '
	/^<!-- results:begin -->$/ { print; print ENVIRON["BODY"]; skip = 1; next }
	/^<!-- results:end -->$/ { skip = 0 }
	!skip { print }
' "$update" >"$tmp"
mv "$tmp" "$update"
echo "bench-report.sh: $update updated" >&2
