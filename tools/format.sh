#!/usr/bin/env bash
# format.sh — apply the checked-in .clang-format to every tracked .c/.h file.
#   tools/format.sh           reformat the files in place
#   tools/format.sh --check   change nothing; list the files whose layout
#                             differs and exit 1 if there is any
# The layout is defined for clang-format 14 (Debian 12): other versions lay
# some constructs out differently, so another major version is refused
# (MS_CLANG_FORMAT names another binary).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
cf=${MS_CLANG_FORMAT:-clang-format}

check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*) echo "usage: tools/format.sh [--check]" >&2; exit 2 ;;
esac

if ! command -v "$cf" >/dev/null 2>&1; then
  echo "format.sh: $cf not found (tools/deps.sh installs clang-format)" >&2
  exit 2
fi
ver=$("$cf" --version | sed -nE 's/.*version ([0-9]+)\..*/\1/p')
if [ "$ver" != 14 ]; then
  echo "format.sh: $cf is version ${ver:-unknown}; the layout is defined for 14" >&2
  exit 2
fi

mapfile -t files < <(git ls-files -- '*.c' '*.h')
if [ $check -eq 0 ]; then
  "$cf" -i --style=file "${files[@]}"
  exit $?
fi

differ=0
for f in "${files[@]}"; do
  if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
    echo "$f: layout differs from .clang-format (run tools/format.sh)"
    differ=$((differ + 1))
  fi
done
echo "format.sh: $differ of ${#files[@]} files differ"
[ $differ -eq 0 ]
