#!/bin/bash
# tests/meshsim/run.sh — meshsim on real processes, as a user runs it.
#   run.sh scenario MESHSIM FILE [ARGS...]  converges, nothing missing
#   run.sh replay MESHSIM FILE FAULTS       one seed gives one set of node
#                                           configs (FAULTS=1: with [faults])
#   run.sh usage MESHSIM SCRATCH            help, bad flags, bad scenarios
# Every run has meshsim's own deadline (the scenario's) and this script's
# `timeout`; meshsim stops every node it started by PID before it exits.
set -u
mode=$1 meshsim=$2
shift 2
fail() { echo "FAIL: $*" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/meshsim-test.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT

case $mode in
scenario)
	file=$1
	shift
	timeout 80 "$meshsim" -v --workdir "$scratch" "$@" "$file" \
		>"$scratch/out.json" 2>"$scratch/err.txt"
	rc=$?
	cat "$scratch/err.txt" >&2
	cat "$scratch/out.json"
	[ $rc -eq 0 ] || fail "meshsim exited $rc"
	grep -q '"converged": true' "$scratch/out.json" || fail "not converged"
	grep -q '"missing": 0,' "$scratch/out.json" || fail "ops missing"
	grep -q '"mode": "real"' "$scratch/out.json" || fail "no mode"
	# with a fault layer in the nodes, the scenario's faults must show
	if [ -n "${MSIM_EXPECT_FAULT:-}" ]; then
		grep -Eq "\"$MSIM_EXPECT_FAULT\": [1-9]" "$scratch/out.json" ||
			fail "no $MSIM_EXPECT_FAULT fault counted"
	fi
	# a passing run leaves nothing behind without --keep
	[ -z "$(ls -A "$scratch" | grep meshsim-)" ] ||
		fail "run directory left behind"
	;;
replay)
	file=$1 faults=$2
	# small: only the generated configs are compared
	for run in a b c; do
		seed=7
		[ $run = c ] && seed=8
		mkdir -p "$scratch/$run"
		timeout 80 "$meshsim" --keep --workdir "$scratch/$run" \
			--seed $seed --set writes.count=10 --set writes.rate=100 \
			"$file" >"$scratch/$run.json" || fail "run $run failed"
		grep -q "\"seed\": $seed," "$scratch/$run.json" ||
			fail "run $run does not report seed $seed"
		dir=$(ls -d "$scratch/$run"/meshsim-*) || fail "no run directory"
		# node ids, ports and the epoch differ from run to run: they
		# become marks; the rest (topology, schedules, seeds) must not
		[ -s "$dir/nodes.txt" ] || fail "no nodes.txt in $dir"
		sedargs=(-E -e 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/'
			-e 's/^epoch = [0-9]+/epoch = EPOCH/')
		while read -r i id port; do
			sedargs+=(-e "s/$id/node$i/g")
		done <"$dir/nodes.txt"
		for n in "$dir"/node*/; do
			n=${n%/}
			i=${n##*/node}
			sed "${sedargs[@]}" "$n/meshsync.conf" \
				>"$scratch/$run.node$i.conf"
		done
		grep -q 'node[0-9]' "$scratch/$run.node0.conf" ||
			fail "node0's config names no other node"
		grep -Eq '[0-9a-f]{64}' "$scratch/$run.node0.conf" &&
			fail "node0's config names an id of no node"

		if [ "$faults" = 1 ]; then
			grep -q '^\[faults\]' "$dir/node0/meshsync.conf" ||
				fail "no [faults] section in node0's config"
			grep -q "^seed = ${seed}001\$" "$dir/node0/meshsync.conf" ||
				fail "node0's fault seed is not ${seed}001"
			grep -q "seed=${seed}001" "$dir/node0/node.log" ||
				fail "node0 does not log its fault seed ${seed}001"
		fi
	done
	for c in "$scratch"/a.node*.conf; do
		b=${c/\/a.node/\/b.node}
		cmp -s "$c" "$b" || { diff "$c" "$b"; fail "seed 7 gave two configs"; }
	done
	if [ "$faults" = 1 ]; then
		cmp -s "$scratch/a.node0.conf" "$scratch/c.node0.conf" &&
			fail "seeds 7 and 8 gave the same config"
	fi
	;;
usage)
	"$meshsim" --help | grep -q '^usage: meshsim' || fail "--help"
	"$meshsim" 2>"$scratch/e"; [ $? -eq 2 ] || fail "no scenario: exit 2"
	grep -q 'no scenario file given' "$scratch/e" || fail "no scenario msg"
	"$meshsim" --bogus x.ini 2>"$scratch/e"; [ $? -eq 2 ] || fail "bogus"
	grep -q 'unknown option --bogus' "$scratch/e" || fail "bogus msg"
	"$meshsim" --seeds 0 x.ini 2>/dev/null; [ $? -eq 2 ] || fail "seeds 0"
	printf '[mesh]\nnodes = 4\ntopology = star\n' >"$scratch/bad.ini"
	"$meshsim" "$scratch/bad.ini" 2>"$scratch/e"; [ $? -eq 2 ] || fail "bad"
	grep -q "bad.ini:3: bad value 'star' for topology" "$scratch/e" ||
		fail "bad topology message: $(cat "$scratch/e")"
	printf '[mesh]\nnodes = 4\n[events]\nkill = 2s 3\n' >"$scratch/k.ini"
	"$meshsim" "$scratch/k.ini" 2>"$scratch/e"; [ $? -eq 2 ] || fail "kill"
	grep -q 'node 3 is stopped and never restarted' "$scratch/e" ||
		fail "kill message: $(cat "$scratch/e")"
	"$meshsim" "$scratch/none.ini" 2>"$scratch/e"; [ $? -eq 2 ] || fail "none"
	grep -q 'none.ini: No such file' "$scratch/e" || fail "none message"
	# a run that cannot converge in time says so and exits 1: a line
	# of six cannot carry 300 ops end to end within 1 ms of the last write
	printf '[mesh]\nnodes = 6\ntopology = line\ndeadline = 1ms\n[writes]\ncount = 300\nrate = 0\n' \
		>"$scratch/slow.ini"
	timeout 60 "$meshsim" --workdir "$scratch/w" "$scratch/slow.ini" \
		>"$scratch/slow.json" 2>"$scratch/e"
	[ $? -eq 1 ] || fail "unconverged run: exit $? ($(cat "$scratch/e"))"
	grep -q '"converged": false' "$scratch/slow.json" ||
		fail "unconverged run reports converged"
	grep -q '"seconds_to_converge": null' "$scratch/slow.json" ||
		fail "unconverged run has a convergence time"
	grep -q 'run directory kept' "$scratch/e" ||
		fail "a failing run's directory is not kept"
	;;
*)
	fail "unknown mode $mode"
	;;
esac
exit 0
