#!/bin/sh
# check_events.sh — the operator docs keep up with the code's log events:
# every event id `MS-<AREA>-<EVENT>` the sources can log (node/, net/,
# store/, crypto/, tools/) must be in docs/troubleshooting.md (what it
# means and what to do) and in docs/operations.md (its Logs table), and
# every id the two pages name must still exist in the sources.  A new or
# renamed event fails this test until both pages say what it means.
# usage: check_events.sh SRCDIR
# exit 0 ok, 1 failed
set -eu
src=$1
fail=0
no() { echo "check_events: $*" >&2; fail=1; }

# An id: MS-, then two or more upper-case words (digits allowed after the
# first letter: MS-SYNC-VV2).  Placeholders such as MS-<AREA>-<EVENT> do
# not match.
re='MS-[A-Z][A-Z0-9]*(-[A-Z][A-Z0-9]*)+'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

find "$src/node" "$src/net" "$src/store" "$src/crypto" "$src/tools" \
	-type f \( -name '*.c' -o -name '*.h' \) -print |
	LC_ALL=C sort | while read -r f; do
		grep -oE "$re" "$f" || true
	done | LC_ALL=C sort -u >"$tmp/code"
[ -s "$tmp/code" ] || no "no event ids found under $src (wrong SRCDIR?)"

for page in troubleshooting operations; do
	doc=$src/docs/$page.md
	if [ ! -f "$doc" ]; then
		no "missing $doc"
		continue
	fi
	grep -oE "$re" "$doc" | LC_ALL=C sort -u >"$tmp/$page"
	# in the code, not on the page (comm: both inputs sorted alike)
	for id in $(LC_ALL=C comm -23 "$tmp/code" "$tmp/$page"); do
		no "$id is logged by the code but not in docs/$page.md"
	done
	# on the page, gone from the code
	for id in $(LC_ALL=C comm -13 "$tmp/code" "$tmp/$page"); do
		no "docs/$page.md names $id, which no source logs any more"
	done
done

if [ "$fail" -eq 0 ]; then
	echo "check_events: $(wc -l <"$tmp/code") event ids, all in docs/troubleshooting.md and docs/operations.md"
fi
exit "$fail"
