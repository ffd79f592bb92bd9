#!/bin/sh
# check_man.sh — the manual pages: each renders with `man -l` without a
# warning, and each program's help agrees with its page: every command its
# --help lists, and every option any command's --help names, is in the page.
# meshsync.conf(5) is generated from docs/config.md (tools/man-conf.awk):
# every option of the document's tables must be in it.
# usage: check_man.sh SRCDIR BUILDDIR NODE_BIN INSPECT_BIN
# exit 0 ok, 1 failed, 77 skipped
set -eu
src=$1
build=$2
node=$3
inspect=$4
fail=0
no() { echo "check_man: $*" >&2; fail=1; }

if ! command -v man >/dev/null 2>&1; then
	echo "check_man: SKIPPED: man is not installed (tools/deps.sh installs man-db)"
	exit 77
fi
pages="$src/docs/man/meshsync-node.1 $src/docs/man/node-inspect.1 $build/man/meshsync.conf.5"
for p in $pages; do
	[ -f "$p" ] || { no "missing page $p"; continue; }
	err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null) ||
		no "man -l $p failed"
	[ -z "$err" ] || no "man -l $p warns: $err"
done

# The page's words, with roff's escapes and fonts taken out.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$1"
}

# help_agrees PROGRAM PAGE: the commands of PROGRAM --help, and every
# --option of each command's --help, appear in PAGE.
help_agrees() {
	prog=$1
	page=$2
	text=$(plain "$page")
	cmds=$("$prog" --help 2>&1 | sed -n '/^Commands:/,/^$/p' |
		sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
	[ -n "$cmds" ] || no "$prog --help lists no commands"
	for c in $cmds; do
		echo "$text" | grep -q "^\.B $c\( \|$\)" ||
			no "$page: no entry for the command '$c' of $prog --help"
		for o in $("$prog" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			echo "$text" | grep -q -- "$o" ||
				no "$page: no '$o' (from $prog $c --help)"
		done
	done
	for o in $("$prog" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		echo "$text" | grep -q -- "$o" || no "$page: no '$o' (from $prog --help)"
	done
}
help_agrees "$node" "$src/docs/man/meshsync-node.1"
help_agrees "$inspect" "$src/docs/man/node-inspect.1"

conf=$(plain "$build/man/meshsync.conf.5")
# shellcheck disable=SC2013,SC2016 # option names are single words; the
# backquotes are markdown, not shell
for k in $(sed -n 's/^| `\([a-z_]*\)` | .*/\1/p' "$src/docs/config.md"); do
	echo "$conf" | grep -q "^$k\$" || no "meshsync.conf.5 lacks the option $k of docs/config.md"
done
[ "$fail" -eq 0 ] && echo "check_man: ok"
exit "$fail"
