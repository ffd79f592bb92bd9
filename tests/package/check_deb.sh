#!/bin/sh
# check_deb.sh — build the Debian package with CPack from a configured and
# built build directory, into a scratch directory, and check it as dpkg
# would see it: control fields and dependencies, maintainer scripts that
# parse, the expected files and no others (no meshsim/meshbench, nothing
# under /usr/local), the unit naming /usr/bin, and the extracted programs
# running from a scratch root: --help, a node made the way the unit's
# ExecStartPre makes it (and left alone the second time), node-inspect
# reading it, and the .pc file resolving inside the root.
# usage: check_deb.sh CPACK BUILDDIR VERSION
#   exit 0 ok, 1 failed, 77 skipped (a tool is missing)
set -u
cpack=$1
build=$2
version=$3
fail=0

no() {
	echo "check_deb: $*" >&2
	fail=1
}

# dpkg-deb is in dpkg; without dpkg-shlibdeps or file the package gets its
# Depends from a list in cmake/packaging.cmake, checked the same way.
if ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "check_deb: SKIPPED: dpkg-deb is not installed (not a Debian system?)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! (cd "$build" && "$cpack" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1); then
	cat "$tmp/cpack.log" >&2
	echo "check_deb: cpack -G DEB failed" >&2
	exit 1
fi
set -- "$tmp"/out/meshsync_"$version"-1_*.deb
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "check_deb: expected one meshsync_$version-1_ARCH.deb; cpack made:" >&2
	ls "$tmp/out" >&2
	exit 1
fi
deb=$1
echo "check_deb: built $(basename "$deb") ($(wc -c <"$deb") bytes)"

# Control fields.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = meshsync ] || no "Package is '$(field Package)'"
[ "$(field Version)" = "$version-1" ] || no "Version is '$(field Version)'"
[ "$(field Section)" = net ] || no "Section is '$(field Section)'"
[ -n "$(field Maintainer)" ] || no "no Maintainer"
[ -n "$(field Description)" ] || no "no Description"
# the runtime libraries (from dpkg-shlibdeps) and adduser for postinst
deps=$(field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//')
for d in libsodium23 libzmq5 liblmdb0 libavahi-client3 libinih1 libmnl0 \
	libjansson4 libc6 adduser; do
	echo "$deps" | grep -qx "$d" || no "Depends lacks $d: $(field Depends)"
done

# Maintainer scripts: present, executable, parse as sh (and busybox sh
# where it is installed: they use nothing beyond POSIX sh).
dpkg-deb -e "$deb" "$tmp/ctrl" || no "dpkg-deb -e failed"
for s in postinst prerm postrm; do
	f=$tmp/ctrl/$s
	if [ ! -x "$f" ]; then
		no "maintainer script $s missing or not executable"
		continue
	fi
	sh -n "$f" || no "sh -n rejects $s"
	if command -v busybox >/dev/null 2>&1; then
		busybox sh -n "$f" || no "busybox sh -n rejects $s"
	fi
done
grep -q 'adduser --system' "$tmp/ctrl/postinst" || no "postinst does not make the system user"
grep -q '/run/systemd/system' "$tmp/ctrl/postinst" || no "postinst starts the unit without checking for systemd"
grep -q 'userdel meshsync' "$tmp/ctrl/postrm" || no "postrm does not remove the user on purge"

# Files: exactly the expected set of regular files, under /usr only.
dpkg-deb -c "$deb" | awk '$1 ~ /^-/ { print $NF }' | sed 's|^\./||' | sort >"$tmp/files"
pc=$(grep -E '^usr/lib/([^/]+/)?pkgconfig/meshsync\.pc$' "$tmp/files")
lib=$(grep -E '^usr/lib/([^/]+/)?libmeshsync\.(a|so)' "$tmp/files" | head -n 1)
[ -n "$pc" ] || no "no usr/lib/.../pkgconfig/meshsync.pc"
[ -n "$lib" ] || no "no usr/lib/.../libmeshsync"
for f in usr/bin/meshsync-node usr/bin/node-inspect \
	usr/include/meshsync/meshsync.h usr/include/meshsync/ms_err.h \
	usr/lib/systemd/system/meshsync.service \
	usr/share/doc/meshsync/examples/basic.c \
	usr/share/doc/meshsync/examples/full_integration.c \
	usr/share/doc/meshsync/examples/CMakeLists.txt \
	usr/share/doc/meshsync/examples/README.md; do
	grep -qx "$f" "$tmp/files" || no "package lacks $f"
done
for m in man1/meshsync-node.1 man1/node-inspect.1 man5/meshsync.conf.5; do
	grep -qxE "usr/share/man/$m(\.gz)?" "$tmp/files" || no "package lacks usr/share/man/$m"
done
grep -v '^usr/' "$tmp/files" | grep . && no "files outside /usr (above)"
grep '^usr/local/' "$tmp/files" && no "files under /usr/local (above)"
grep -E '^usr/bin/(meshsim|meshbench)$' "$tmp/files" && no "developer tools in the package (above)"
n=$(wc -l <"$tmp/files")
[ "$n" -eq 14 ] || no "expected 14 files, the package has $n:
$(cat "$tmp/files")"

# Extract into a scratch root and run from there.
root=$tmp/root
dpkg-deb -x "$deb" "$root" || no "dpkg-deb -x failed"
unit=$root/usr/lib/systemd/system/meshsync.service
grep -qxF 'ExecStart=/usr/bin/meshsync-node run --data /var/lib/meshsync --syslog' "$unit" ||
	no "the unit's ExecStart is not /usr/bin/meshsync-node: $(grep '^ExecStart=' "$unit")"
grep -q '^User=meshsync$' "$unit" || no "the unit does not run as meshsync"

# libmeshsync is static by default; a shared build needs the root's lib dir
LD_LIBRARY_PATH=$root/$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
node=$root/usr/bin/meshsync-node
inspect=$root/usr/bin/node-inspect
"$node" --help >"$tmp/help" 2>&1 || no "meshsync-node --help from the package failed: $(cat "$tmp/help")"
grep -q 'init' "$tmp/help" || no "meshsync-node --help does not list init"
"$inspect" --help >"$tmp/help" 2>&1 || no "node-inspect --help from the package failed"

# The unit's ExecStartPre, with the data directory and bin directory moved
# into the scratch root: the first start makes a node, a second leaves it.
pre=$(sed -n "s|^ExecStartPre=/bin/sh -c '\\(.*\\)'\$|\\1|p" "$unit")
[ -n "$pre" ] || no "the unit has no ExecStartPre=/bin/sh -c '...' line"
data=$tmp/var/lib/meshsync
pre=$(printf '%s' "$pre" | sed "s|/var/lib/meshsync|$data|g; s|/usr/bin/|$root/usr/bin/|g")
mkdir -p "$tmp/var/lib"
if [ -n "$pre" ]; then
	sh -c "$pre" >"$tmp/pre1" 2>&1 || no "ExecStartPre failed the first time: $(cat "$tmp/pre1")"
	grep -q '^node_id: ' "$tmp/pre1" || no "ExecStartPre did not make a node: $(cat "$tmp/pre1")"
	id1=$(od -An -tx1 "$data/identity.key" 2>/dev/null | tr -d ' \n')
	sh -c "$pre" >"$tmp/pre2" 2>&1 || no "ExecStartPre failed with a node there: $(cat "$tmp/pre2")"
	[ -s "$tmp/pre2" ] && no "ExecStartPre touched an existing node: $(cat "$tmp/pre2")"
	id2=$(od -An -tx1 "$data/identity.key" 2>/dev/null | tr -d ' \n')
	if [ -z "$id1" ] || [ "$id1" != "$id2" ]; then
		no "identity.key changed on the second start"
	fi
	"$node" put --data "$data" greeting hello >/dev/null 2>&1 || no "put into the new node failed"
	"$inspect" --data "$data" --json summary >"$tmp/summary" 2>&1 ||
		no "node-inspect summary of the new node failed: $(cat "$tmp/summary")"
	grep -q '"node_id"' "$tmp/summary" || no "node-inspect summary has no node_id: $(cat "$tmp/summary")"
fi

# The .pc file finds its prefix from where it lies: inside the root.
if command -v pkg-config >/dev/null 2>&1; then
	cflags=$(PKG_CONFIG_PATH=$root/$(dirname "$pc") pkg-config --cflags meshsync 2>&1) ||
		no "pkg-config on the packaged meshsync.pc failed: $cflags"
	inc=$(printf '%s\n' "$cflags" | tr ' ' '\n' | sed -n 's/^-I//p' | head -n 1)
	case "$inc" in
	"$root"/*) [ -f "$inc/meshsync.h" ] || no "meshsync.pc's include dir $inc has no meshsync.h" ;;
	*) no "meshsync.pc does not point into the root: $cflags" ;;
	esac
fi

[ "$fail" -eq 0 ] && echo "check_deb: ok"
exit "$fail"
