#!/bin/sh
# check_examples.sh — the acceptance check for app developers (issue 11):
# install the build into a scratch prefix as a new user would
# (`cmake --install BUILD --prefix OUT/stage`), check that the programs,
# the headers, the pkg-config file, the man pages and the examples'
# sources are there, then build examples/ as a separate CMake project that
# finds meshsync only through the installed meshsync.pc, and run both
# examples against the installed meshsync-node (each checks its own
# results and exits non-zero on a mismatch).  About 15 s.
#
# usage: check_examples.sh SRC_DIR BUILD_DIR OUT_DIR LIBDIR MANDIR DOCDIR CC [FLAGS]
#   LIBDIR, MANDIR, DOCDIR  the build's CMAKE_INSTALL_* (relative to the
#                           prefix: lib or lib/x86_64-linux-gnu, ...)
#   FLAGS                   compiler and linker flags for the examples (the
#                           sanitizer flags of a sanitizer build, whose
#                           installed library needs their runtime)
set -u
[ $# -ge 7 ] || { echo "usage: check_examples.sh SRC BUILD OUT LIBDIR MANDIR DOCDIR CC [FLAGS]" >&2; exit 2; }
src=$1 build=$2 out=$3 libdir=$4 mandir=$5 docdir=$6 cc=$7 flags=${8:-}
stage=$out/stage

fail() {
  echo "check_examples: $*" >&2
  exit 1
}

# Stop a daemon full_integration left behind (it was killed by the
# timeout, say): by the pid in its node.pid, if that process is still a
# meshsync-node.
stop_leftover() {
  for d in "$out/mesh/a" "$out/mesh/b"; do
    [ -s "$d/node.pid" ] || continue
    pid=$(cat "$d/node.pid")
    if grep -q meshsync-node "/proc/$pid/cmdline" 2>/dev/null; then
      echo "check_examples: stopping leftover daemon $pid ($d)" >&2
      kill -TERM "$pid" 2>/dev/null
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
      done
      kill -KILL "$pid" 2>/dev/null
    fi
  done
}

rm -rf "$out"
mkdir -p "$out" || fail "mkdir $out"

# 1. What `cmake --install` gives a user.
cmake --install "$build" --prefix "$stage" >"$out/install.log" 2>&1 ||
  { cat "$out/install.log" >&2; fail "cmake --install $build --prefix $stage failed"; }
for f in bin/meshsync-node bin/node-inspect; do
  [ -x "$stage/$f" ] || fail "not installed: $f"
done
for f in include/meshsync/meshsync.h include/meshsync/ms_err.h \
         "$libdir/pkgconfig/meshsync.pc" \
         "$mandir/man1/meshsync-node.1" "$mandir/man1/node-inspect.1" \
         "$mandir/man5/meshsync.conf.5"; do
  [ -f "$stage/$f" ] || fail "not installed: $f"
done
for f in basic.c full_integration.c CMakeLists.txt; do
  cmp -s "$src/examples/$f" "$stage/$docdir/examples/$f" ||
    fail "$docdir/examples/$f is not installed, or differs from examples/$f"
done

# 2. The examples, built as their own project against the installed .pc.
PKG_CONFIG_PATH="$stage/$libdir/pkgconfig" \
  cmake -S "$src/examples" -B "$out/build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="-Werror $flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    >"$out/configure.log" 2>&1 ||
  { cat "$out/configure.log" >&2; fail "configuring examples/ failed"; }
grep -q "meshsync-node expected in $stage/bin\$" "$out/configure.log" ||
  { cat "$out/configure.log" >&2; fail "examples/ did not find the meshsync installed in $stage"; }
cmake --build "$out/build" -j2 >"$out/build.log" 2>&1 ||
  { cat "$out/build.log" >&2; fail "building examples/ failed"; }

# 3. Run them.  basic twice: creating the node, then opening it again.
t0=$(date +%s)
for run in 1 2; do
  timeout 60 "$out/build/basic" "$out/node-basic" >"$out/basic.$run.log" 2>&1
  rc=$?
  cat "$out/basic.$run.log"
  [ $rc -eq 0 ] || fail "basic (run $run) exited $rc"
done
MESHSYNC_NODE="$stage/bin/meshsync-node" timeout 150 \
  "$out/build/full_integration" "$out/mesh" >"$out/full_integration.log" 2>&1
rc=$?
cat "$out/full_integration.log"
stop_leftover
[ $rc -eq 0 ] || fail "full_integration exited $rc (daemon logs: $out/mesh/a.log, $out/mesh/b.log)"
echo "check_examples: installed into $stage; both examples built against it and passed ($(($(date +%s) - t0)) s)"
