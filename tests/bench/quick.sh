#!/bin/bash
# tests/bench/quick.sh — meshbench --quick, checked as a user reads it:
# exit 0, one JSON document on stdout with the raw limits, every workload
# and every target, values that can be true (counts > 0, finite ratios),
# and nothing left in its scratch directory.  Then its usage errors.
# Never a timing: how fast is meshbench's to say, not a test's.
set -u
meshbench=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq missing (tools/deps.sh installs it)" >&2; exit 77; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/meshbench-test.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT

timeout 100 "$meshbench" --quick --dir "$scratch" >"$scratch/out.json" \
	2>"$scratch/err.txt"
rc=$?
cat "$scratch/err.txt" >&2
[ $rc -eq 0 ] || fail "meshbench --quick exited $rc"
jq -e . "$scratch/out.json" >/dev/null || fail "stdout is not one JSON document"
left=("$scratch"/meshbench-*)
[ ! -e "${left[0]}" ] || fail "scratch directory left behind without --keep"

# check EXPR WHAT: the jq expression must be true on the result
check() {
	jq -e "$1" "$scratch/out.json" >/dev/null || fail "$2 ($1)"
}
check '.meshbench.mode == "quick" and .meshbench.n > 0' "header"
check '.machine.cpus > 0' "machine"
check '.raw.ed25519 | .sign_per_s_1t > 0 and .sign_per_s_2t > 0 and
       .verify_per_s_1t > 0 and .verify_per_s_2t > 0' "ed25519 limits"
check '.raw.lmdb_batched.puts_per_s > 0' "LMDB batched limit"
check '[.raw.lmdb_durable_single_put[] | .samples > 0 and .p99_ms > 0]
       | length == 2 and all' "LMDB single-put limits"
for w in put batch ingest catchup insync propagate footprint mesh; do
	check ".workloads.$w | type == \"object\" and (.targets | type == \"object\")" \
		"workload $w present with targets"
	check ".workloads.$w.wall_seconds > 0" "workload $w ran"
done
check '[.workloads.put | .small, .["\(.params.big_store_ops | tostring)"] // empty]
       | length >= 1' "put sizes"
check '.workloads.put.small | .api.samples > 0 and .cli.samples > 0 and
       .raw_lmdb.samples == .api.samples' "put samples, raw LMDB beside"
check '[.workloads.batch, .workloads.ingest, .workloads.catchup |
        .limits_rechecked.verify_per_s_2t > 0] | all' "limits measured again"
check '.workloads.put.params.big_store_ops > 0' "put big store"
check '.workloads.batch.ops_per_s > 0 and .workloads.batch.call.samples > 0' "batch"
check '.workloads.ingest | .ops_per_s > 0 and .applied == .params.ops and
       .rejected == 0' "ingest applied every op"
check '.workloads.catchup | .ops_per_s > 0 and .params.ops > 0 and
       .ops_sent >= .params.ops and .encoded_bytes_per_op > 0 and
       .wire_bytes_per_op > .encoded_bytes_per_op * 0.5 and
       .peak_rss_anon_mib.sender > 0 and .peak_rss_anon_mib.receiver > 0' \
	"catchup"
check '.workloads.insync | .digest_equal == true and .round_trips >= 1 and
       .protocol_bytes > 0 and .wire_bytes > .protocol_bytes' "insync"
check '.workloads.propagate | .far_end.samples == .params.writes and
       .first_hop.samples == .params.writes and .put_process.p50_ms > 0' \
	"propagate"
check '.workloads.footprint | .params.ops > 0 and .store_bytes_per_op > 0 and
       .rss_anon_idle_mib > 0 and .ready_ms > 0 and
       (.databases.ops.entries == .params.ops)' "footprint"
check '.workloads.mesh | .converged == true and .missing == 0 and
       .amplification >= 1' "mesh converged"
# every ratio a finite number, every target a verdict
check '[.workloads[] | .ratios // {} | .[]] | length > 0 and
       all(type == "number" and . == . and . < 1e300)' "ratios finite"
check '[.workloads[] | .targets[]] | length >= 14 and
       all((.value | type == "number") and (.threshold | type == "number")
           and (.met | type == "boolean") and (.op == "<=" or .op == ">="))' \
	"targets"
check '(.targets | length) == ([.workloads[] | .targets[]] | length)' \
	"the target list"

# usage errors: exit 2 and a message naming the problem
usage() {
	local want=$1
	shift
	"$meshbench" "$@" >"$scratch/u.out" 2>"$scratch/u.err"
	local rc=$?
	[ $rc -eq 2 ] || fail "meshbench $* exited $rc, not 2"
	grep -q "$want" "$scratch/u.err" || fail "meshbench $*: no '$want' in: $(cat "$scratch/u.err")"
	[ ! -s "$scratch/u.out" ] || fail "meshbench $*: printed on stdout"
}
usage "unknown option --fast" --fast
usage "needs a value" --ops
usage "whole number" --ops 0
usage "whole number" --ops 12x
usage "unknown workload" --only put,nosuch
usage "exclude each other" --quick --big
"$meshbench" --help | grep -q -- "--only" || fail "--help"
echo "meshbench_quick: ok"
