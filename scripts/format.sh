#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Formats every .c/.h of the tree in place with clang-format and the
# tree's .clang-format; with --check changes nothing and lists the files
# that are not formatted (exit 1 if any). Files are the tracked ones (and
# new ones not ignored) in a git tree, else all outside build directories.
#   scripts/format.sh [--check] [SOURCE_DIR]
# CLANG_FORMAT names the binary (default: clang-format, which in Debian 12
# is clang-format-14, the version .clang-format was tuned with).
set -euo pipefail

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
case "${1:-}" in
-*) echo "usage: scripts/format.sh [--check] [SOURCE_DIR]" >&2; exit 2 ;;
esac
. "$(dirname "$0")/c-sources.sh"
root=${1:-"$(dirname "$0")/.."}
cd "$root"

cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null; then
	echo "format.sh: $cf is not installed (scripts/deps.sh installs clang-format)" >&2
	exit 1
fi
if [ ! -f .clang-format ]; then
	echo "format.sh: no .clang-format in $(pwd)" >&2
	exit 1
fi

c_sources format.sh || exit 1

if [ "$check" -eq 0 ]; then
	"$cf" -i --style=file "${files[@]}"
	echo "format.sh: formatted ${#files[@]} files"
	exit 0
fi

# One file at a time, so that each offending file is named once, at the
# first place clang-format would change.
bad=()
for f in "${files[@]}"; do
	if ! out=$("$cf" --dry-run -Werror --style=file "$f" 2>&1); then
		bad+=("$f")
		where=$(grep -m 1 -oE '^[^ ]+:[0-9]+:[0-9]+' <<<"$out") ||
			where="$f: clang-format failed: $(head -n 1 <<<"$out")"
		printf '%s: not formatted\n' "$where"
	fi
done
if [ ${#bad[@]} -ne 0 ]; then
	echo "format.sh: ${#bad[@]} of ${#files[@]} files not formatted; run scripts/format.sh" >&2
	exit 1
fi
echo "format.sh: ${#files[@]} files formatted"
