#!/usr/bin/env bash
# test.sh — set everything up and run the whole meshsync test suite:
#   1. install missing Debian packages (tools/deps.sh),
#   2. unit: build and run every Check suite under CTest (build/),
#   3. check: the static gates of tools/check.sh (format, cppcheck,
#      clang-tidy, banned calls; build-check/), counted as one test,
#   4. asan: every suite under AddressSanitizer + UndefinedBehaviorSanitizer
#      (build-asan/),
#   5. tsan: the suites that run threads (CTest label tsan: the store's
#      verify worker, the Avahi thread) under ThreadSanitizer (build-tsan/,
#      clang; suppressions in tools/tsan.supp),
#   6. fuzz: every libFuzzer target (tests/fuzz) on its seeds and past
#      crashes, then fuzzing for its share of a fixed budget (build-fuzz/,
#      clang, ASan + UBSan).
# Before the stages it starts the system bus and a loopback-only avahi-daemon
# (tools/services.sh) when none is running, and stops them at the end.
# Exits non-zero if any stage fails; the last line sums up all stages.
# Environment: MS_JOBS (parallel jobs, default nproc), MS_FUZZ_SECONDS
# (seconds of fuzzing in all, split across the targets by weight in
# tests/fuzz/CMakeLists.txt; default 60, which the stage's MS_JOBS run in
# about 36 s on 2 cores), MS_SKIP_CHECK=1 / MS_SKIP_ASAN=1 /
# MS_SKIP_TSAN=1 / MS_SKIP_FUZZ=1 to skip a stage while iterating locally
# (CI never sets them).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
bash tools/deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }

# The discovery tests need the system bus and an avahi-daemon (loopback-only
# config); start them unless running, and stop on exit only what we started.
svc_state="$root/build-services"
if bash tools/services.sh start "$svc_state"; then
  trap 'bash "$root/tools/services.sh" stop "$svc_state"' EXIT
else
  echo "test.sh: could not start dbus/avahi-daemon: discovery tests will report SKIPPED" >&2
fi

jobs=${MS_JOBS:-$(nproc)}
fuzz_seconds=${MS_FUZZ_SECONDS:-60}
total_pass=0
total_fail=0
failed_stages=()

# run_stage NAME BUILD_DIR CTEST_ARGS -- CMAKE_ARGS...
# With build_label=L in its environment, only the tests labelled L (and
# what they depend on) are built; CTEST_ARGS should then select them too.
# With build_targets="T..." only those build targets are built.
run_stage() {
  local name=$1 dir=$2 ctest_args=$3
  local targets=()
  shift 4
  echo "=== test.sh: stage $name ($dir) ==="
  if ! cmake -S "$root" -B "$dir" "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log" >&2
    failed_stages+=("$name:configure"); total_fail=$((total_fail + 1)); return
  fi
  if [ -n "${build_label:-}" ]; then
    # a CTest test is named after its executable (tests/CMakeLists.txt)
    local t
    for t in $(cd "$dir" && ctest -N -L "$build_label" |
               sed -nE 's/^ *Test +#[0-9]+: +([^ ]+).*/\1/p'); do
      targets+=(--target "$t")
    done
  fi
  local t2
  for t2 in ${build_targets:-}; do
    targets+=(--target "$t2")
  done
  if ! cmake --build "$dir" -j "$jobs" "${targets[@]}" >"$dir.build.log" 2>&1; then
    tail -n 60 "$dir.build.log" >&2
    failed_stages+=("$name:build"); total_fail=$((total_fail + 1)); return
  fi
  local out
  # shellcheck disable=SC2086
  out=$(cd "$dir" && ctest --output-on-failure -j "$jobs" $ctest_args 2>&1)
  local rc=$?
  echo "$out"
  local line p f n
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' <<<"$out" | tail -n 1)
  if [ -n "$line" ]; then
    f=$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    n=$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    p=$((n - f))
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  fi
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    failed_stages+=("$name")
    [ -n "$line" ] || total_fail=$((total_fail + 1))
  fi
}

# The static gates (tools/check.sh) pass or fail as one test.
run_check() {
  echo "=== test.sh: stage check (tools/check.sh, build-check) ==="
  if MS_JOBS=$jobs bash "$root/tools/check.sh"; then
    total_pass=$((total_pass + 1))
  else
    failed_stages+=("check"); total_fail=$((total_fail + 1))
  fi
}

# timed NAME COMMAND...: run a stage and say how long it took (CI's whole
# run must stay under 20 minutes).
timed() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  echo "=== test.sh: stage $name took $((SECONDS - t0)) s ==="
}

mkdir -p "$root/build" "$root/build-asan" "$root/build-tsan" "$root/build-fuzz"
timed unit run_stage unit build "" -- -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${MS_SKIP_CHECK:-0}" != 1 ]; then
  timed check run_check
fi
if [ "${MS_SKIP_ASAN:-0}" != 1 ]; then
  ASAN_OPTIONS=detect_leaks=1 timed asan run_stage asan build-asan "" -- \
    -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=ON
fi
if [ "${MS_SKIP_TSAN:-0}" != 1 ]; then
  # TSAN_OPTIONS (halt_on_error, suppressions) come from the tests' CTest
  # environment in a -DMS_TSAN=ON tree (tests/CMakeLists.txt).
  CC=clang build_label=tsan timed tsan run_stage tsan build-tsan "-L tsan" -- \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMS_TSAN=ON
fi
if [ "${MS_SKIP_FUZZ:-0}" != 1 ]; then
  # only the fuzz targets (fuzz_all), not the whole tree again
  CC=clang build_targets=fuzz_all timed fuzz run_stage fuzz build-fuzz "-L fuzz" -- \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMS_FUZZ=ON -DMS_FUZZ_SECONDS="$fuzz_seconds"
fi

echo "=== test.sh: all stages ==="
if [ ${#failed_stages[@]} -ne 0 ]; then
  echo "test.sh: failed: ${failed_stages[*]}" >&2
fi
echo "$total_pass passed, $total_fail failed"
[ ${#failed_stages[@]} -eq 0 ]
