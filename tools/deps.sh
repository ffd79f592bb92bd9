#!/usr/bin/env bash
# deps.sh — install the Debian 12 packages meshsync needs to build, test
# (the static gates of tools/check.sh too) and run its demo.  Idempotent:
# when everything is there it prints nothing and touches nothing; otherwise
# one apt-get update and one apt-get install.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libsodium-dev libzmq3-dev liblmdb-dev libavahi-client-dev
  libjansson-dev libinih-dev libmnl-dev
  check libsubunit-dev lmdb-utils jq
  dpkg-dev file
  dbus avahi-daemon avahi-utils iproute2 nftables busybox man-db graphviz
  clang libclang-rt-14-dev
  clang-format clang-tidy cppcheck
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
