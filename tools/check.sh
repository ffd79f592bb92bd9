#!/usr/bin/env bash
# check.sh — the static quality gates, in this order:
#   format    tools/format.sh --check (the checked-in .clang-format)
#   cppcheck  cppcheck over every compiled source
#   tidy      clang-tidy with the checks of .clang-tidy (tests/.clang-tidy)
#   banned    a grep for calls the project does not use (list below)
#   layering  the include rules of docs/architecture.md (tools/layering.sh)
# Each finding is printed as "path:line: gate: message [id]"; the last line
# sums them up.  Exit status: 0 clean, 1 findings, 2 a gate could not run.
#   tools/check.sh                  all gates
#   tools/check.sh cppcheck banned  only those gates (any of the five names)
# docs/quality.md says what each gate checks and how to suppress a finding
# with a justification in the code (there is no list of tolerated findings).
# Environment: MS_JOBS (parallel clang-tidy/cppcheck jobs, default nproc),
# MS_CHECK_BUILD (the CMake tree whose compile_commands.json is used, default
# build-check; configured here with clang).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
jobs=${MS_JOBS:-$(nproc)}
bdir=${MS_CHECK_BUILD:-$root/build-check}
start=$SECONDS

gates=("$@")
[ ${#gates[@]} -eq 0 ] && gates=(format cppcheck tidy banned layering)
for g in "${gates[@]}"; do
  case "$g" in
  format | cppcheck | tidy | banned | layering) ;;
  *) echo "usage: tools/check.sh [format|cppcheck|tidy|banned|layering]..." >&2; exit 2 ;;
  esac
done
want() { local g; for g in "${gates[@]}"; do [ "$g" = "$1" ] && return 0; done; return 1; }

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/findings" # "path:line: gate: message [id]" lines, relative paths
declare -A count=()
broken=() # gates that could not run: a failure, not a finding

# The compile database: configured (not built) with clang, so clang-tidy
# reads flags it knows, and with the fuzz targets so they are checked too.
compdb() {
  [ -s "$tmp/sources" ] && return 0
  mkdir -p "$bdir"
  if ! CC=clang cmake -S "$root" -B "$bdir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
      -DMS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >"$bdir/check-configure.log" 2>&1; then
    cat "$bdir/check-configure.log" >&2
    return 1
  fi
  # Every project source the database names, once (some are in two targets).
  sed -nE 's/^ *"file": "(.*)",?$/\1/p' "$bdir/compile_commands.json" |
    sort -u >"$tmp/sources"
  [ -s "$tmp/sources" ]
}

# ---------------------------------------------------------------- format
if want format; then
  echo "=== check.sh: format ==="
  bash tools/format.sh --check >"$tmp/format.out" 2>&1
  rc=$?
  grep ': layout differs' "$tmp/format.out" |
    sed -E 's/^([^:]+): layout differs.*/\1:1: format: layout differs from .clang-format (run tools\/format.sh) [format]/' \
      >>"$tmp/findings"
  if [ $rc -ne 0 ] && ! grep -q ': layout differs' "$tmp/format.out"; then
    cat "$tmp/format.out" >&2
    broken+=(format)
  fi
fi

# ---------------------------------------------------------------- cppcheck
# Every class of check but three that are noise here: variableScope (a
# declaration at the top of its block is the house style),
# unusedStructMember (false positives on anonymous structs of test tables)
# and ctuuninitvar (the whole-program pass takes passing the address of an
# out-parameter for a read of it; every hit was one).
if want cppcheck; then
  echo "=== check.sh: cppcheck ==="
  if compdb; then
    mkdir -p "$bdir/cppcheck"
    if cppcheck --project="$bdir/compile_commands.json" \
        --cppcheck-build-dir="$bdir/cppcheck" -j "$jobs" --quiet \
        --enable=warning,style,performance,portability \
        --library=posix --library=gnu --inline-suppr \
        --suppress=variableScope --suppress=unusedStructMember \
        --suppress=ctuuninitvar \
        --suppress=missingIncludeSystem \
        --template='{file}:{line}: cppcheck: {severity}: {message} [{id}]' \
        >"$tmp/cppcheck.out" 2>&1; then
      sed -E "s|^$root/||" "$tmp/cppcheck.out" |
        grep -E '^[^ :]+:[0-9]+: cppcheck: ' >>"$tmp/findings"
      grep -vE '^[^ :]+:[0-9]+: cppcheck: |^$' "$tmp/cppcheck.out" >&2
    else
      cat "$tmp/cppcheck.out" >&2
      broken+=(cppcheck)
    fi
  else
    broken+=(cppcheck)
  fi
fi

# ---------------------------------------------------------------- clang-tidy
# One clang-tidy per source, MS_JOBS at a time; warnings in our own headers
# are reported (once), those in system and library headers are not.
if want tidy; then
  echo "=== check.sh: clang-tidy ==="
  if compdb; then
    mkdir -p "$tmp/tidy"
    hf="^$(sed 's/[.[\*^$()+?{|]/\\&/g' <<<"$root")/(crypto|store|net|node|tools|tests)/"
    # shellcheck disable=SC2016
    xargs -P "$jobs" -I{} sh -c \
      'clang-tidy -p "$1" --quiet --header-filter="$2" "$3" \
         >"$4/$(printf %s "$3" | tr / _).out" 2>&1; echo $? >"$4/$(printf %s "$3" | tr / _).rc"' \
      _ "$bdir" "$hf" {} "$tmp/tidy" <"$tmp/sources"
    cat "$tmp/tidy"/*.out >"$tmp/tidy.out" 2>/dev/null
    sed -nE "s#^$root/([^:]+):([0-9]+):[0-9]+: (warning|error): (.*) \[([^]]+)\]\$#\1:\2: clang-tidy: \4 [\5]#p" \
      "$tmp/tidy.out" | sort -u >"$tmp/tidy.findings"
    cat "$tmp/tidy.findings" >>"$tmp/findings"
    # Diagnostics that were not understood must not pass as a clean run.
    if grep -qE ': (warning|error): ' "$tmp/tidy.out" && [ ! -s "$tmp/tidy.findings" ]; then
      grep -E ': (warning|error): ' "$tmp/tidy.out" >&2
      broken+=(tidy)
    fi
    # A run that failed without a diagnostic of ours (a crash, a bad flag)
    # is a broken gate, not a clean one.
    for rc in "$tmp/tidy"/*.rc; do
      if [ "$(cat "$rc")" != 0 ] && ! grep -qE '\[[^]]+\]$' "${rc%.rc}.out"; then
        cat "${rc%.rc}.out" >&2
        broken+=(tidy)
        break
      fi
    done
  else
    broken+=(tidy)
  fi
fi

# ---------------------------------------------------------------- banned
# Calls the project does not use, and what to use instead:
#   sprintf vsprintf          no bound on the output: snprintf, vsnprintf
#   strcpy strcat stpcpy      no bound: snprintf, or memcpy of a checked length
#   strncpy                   leaves no terminator when it truncates: snprintf
#   strncat                   its size is the space left, an easy off-by-one
#   strtok                    hidden global state, not thread-safe: strtok_r,
#                             strcspn/strspn
#   gets                      no bound at all (removed in C11): fgets
#   atoi atol atoll atof      no error: strtol/strtoull/strtod with an end check
#   tmpnam tempnam mktemp     name and file are made apart (a race): mkstemp,
#                             mkdtemp
#   rand srand random srandom rand_r
#                             weak and global: ms_rng (net/rng.h) for seeded
#                             simulation, randombytes_* (libsodium) for secrets
#   asctime ctime gmtime localtime
#                             return a static buffer: the *_r forms
#   inet_ntoa gethostbyname   static results, IPv4 only: inet_ntop, getaddrinfo
#   alloca                    unbounded stack use, no failure report
# Comments and string literals are not searched.  A line that must keep one
# says why in a comment containing "banned-ok:" and a reason.
if want banned; then
  echo "=== check.sh: banned calls ==="
  git ls-files -- '*.c' '*.h' | perl -e '
    my $re = qr/\b(sprintf|vsprintf|strcpy|strcat|stpcpy|strncpy|strncat|strtok|gets|atoi|atol|atoll|atof|tmpnam|tempnam|mktemp|rand|srand|random|srandom|rand_r|asctime|ctime|gmtime|localtime|inet_ntoa|gethostbyname|alloca)\s*\(/;
    while (my $f = <STDIN>) {
      chomp $f;
      open(my $fh, "<", $f) or die "$f: $!";
      local $/; my $src = <$fh>; close $fh;
      my @orig = split /\n/, $src, -1;
      # Blank out comments, string and character literals, keeping newlines
      # so line numbers stay right.
      $src =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'"'"'(?:\\.|[^'"'"'\\\n])*'"'"')}
               { (my $m = $1) =~ s/[^\n]/ /g; $m }gse;
      my @lines = split /\n/, $src, -1;
      for my $i (0 .. $#lines) {
        while ($lines[$i] =~ /$re/g) {
          next if $orig[$i] =~ /banned-ok:\s*\S/;
          # a member or a declaration of our own (x.rand(, ms_atoi() is fine
          my $pre = substr($lines[$i], 0, $-[0]);
          next if $pre =~ /(\.|->)\s*$/;
          printf "%s:%d: banned: call to %s() [banned-%s]\n", $f, $i + 1, $1, $1;
        }
      }
    }' >"$tmp/banned.out"
  if [ $? -ne 0 ]; then
    broken+=(banned)
  fi
  cat "$tmp/banned.out" >>"$tmp/findings"
fi

# ---------------------------------------------------------------- layering
# Which module may include which, and that only node/daemon.c wires the
# parts of a running node together (tools/layering.sh says the rules).
if want layering; then
  echo "=== check.sh: layering ==="
  bash "$root/tools/layering.sh" >"$tmp/layering.out"
  case $? in
  0) ;;
  1) grep -E '^layering: [^ ]+ includes' "$tmp/layering.out" |
       sed -E 's/^layering: ([^ ]+) (.*)$/\1:1: layering: \2 [layering]/' >>"$tmp/findings" ;;
  *) broken+=(layering) ;;
  esac
fi

# ---------------------------------------------------------------- summary
total=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  gate=$(sed -nE 's/^[^:]+:[0-9]+: ([a-z-]+):.*/\1/p' <<<"$line")
  echo "$line"
  count[$gate]=$((${count[$gate]:-0} + 1))
  total=$((total + 1))
done <"$tmp/findings"

parts=()
for g in format cppcheck clang-tidy banned layering; do
  parts+=("$g ${count[$g]:-0}")
done
summary="check.sh: $total findings ($(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')); $((SECONDS - start)) s"
if [ ${#broken[@]} -ne 0 ]; then
  summary="$summary; could not run: ${broken[*]}"
fi
echo "$summary"
[ ${#broken[@]} -eq 0 ] || exit 2
[ $total -eq 0 ]
