#!/usr/bin/env bash
# layering.sh — the include rules of docs/architecture.md, checked on the
# `#include "..."` lines of the sources:
#   crypto/ includes only crypto/;  store/ only store/ and crypto/;
#   net/ only net/ and crypto/ (store and net never see each other);
#   inside node/, the session (session*, sendq, idset) includes neither the
#   transport, the peer table, peer exchange, discovery nor the daemon; the
#   peer table and peer exchange include neither the transport, a session
#   nor the daemon; only daemon.c includes the transport together with the
#   session.
# Prints one line per broken rule; exits 1 if any.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
bad=0

# module_of HEADER: the top-level folder whose tree holds it ("" if none).
module_of() {
	local h=$1 d
	for d in crypto store net node; do
		[ -e "$d/$h" ] && { echo "$d"; return; }
	done
	echo ""
}

# allowed MODULE INCLUDED_MODULE -> 0 when MODULE may include from it.
allowed() {
	case "$1:$2" in
	crypto:crypto) return 0 ;;
	store:store | store:crypto) return 0 ;;
	net:net | net:crypto) return 0 ;;
	node:*) return 0 ;;
	esac
	return 1
}

for f in crypto/*.[ch] store/*.[ch] net/*.[ch] node/*.[ch]; do
	mod=${f%%/*}
	while IFS= read -r h; do
		m=$(module_of "$h")
		[ -z "$m" ] && continue # a test or system header: not ours
		if ! allowed "$mod" "$m"; then
			echo "layering: $f includes $m/$h ($mod/ may not include $m/)"
			bad=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done

# node/: the parts do not include each other's headers.
check_part() { # FILES... -- FORBIDDEN HEADERS...
	local files=() forb=() seen=0 x
	for x in "$@"; do
		if [ "$x" = "--" ]; then seen=1; continue; fi
		if [ $seen = 0 ]; then files+=("$x"); else forb+=("$x"); fi
	done
	for x in "${files[@]}"; do
		[ -e "$x" ] || continue
		for h in "${forb[@]}"; do
			if grep -q "^#include \"$h\"" "$x"; then
				echo "layering: $x includes $h (see docs/architecture.md: only node/daemon.c wires the parts)"
				bad=1
			fi
		done
	done
}
check_part node/session*.[ch] node/sendq.[ch] node/idset.[ch] -- \
	transport.h peertab.h pex.h daemon.h discovery.h linkmon.h
check_part node/peertab.[ch] node/pex.[ch] -- \
	transport.h session.h daemon.h discovery.h linkmon.h
for f in node/*.c; do
	[ "$f" = node/daemon.c ] && continue
	if grep -q '^#include "transport.h"' "$f" && grep -q '^#include "session.h"' "$f"; then
		echo "layering: $f includes both transport.h and session.h (only node/daemon.c wires them)"
		bad=1
	fi
done

[ $bad = 0 ] && echo "layering: ok"
exit $bad
