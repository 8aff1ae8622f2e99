#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Runs shellcheck on every shell script of the tree: each file named *.sh
# or *.bash, and each file whose first line is a sh/bash/dash shebang
# (.ci/run, pki/signet-pki, the Debian maintainer scripts...), so that a
# new script is checked without being listed here. Sourced files follow
# .shellcheckrc (source-path=SCRIPTDIR). Exits 1 on any finding.
# Usage: shellcheck.sh [SOURCE_DIR] (default: this tree).
set -euo pipefail

root=${1:-"$(dirname "$0")/.."}
cd "$root"

if ! command -v shellcheck >/dev/null; then
	echo "shellcheck.sh: shellcheck is not installed (scripts/deps.sh installs it)" >&2
	exit 1
fi

# Candidates: in a git tree the tracked files and new ones not ignored;
# else every file outside build directories.
candidates=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	while IFS= read -r -d '' f; do
		candidates+=("$f")
	done < <(git ls-files -z --cached --others --exclude-standard | sort -zu)
else
	while IFS= read -r -d '' f; do
		candidates+=("${f#./}")
	done < <(find . \( -path './build*' -o -path './.git' \) -prune -o \
		-type f -print0 | sort -z)
fi

scripts=()
for f in "${candidates[@]}"; do
	[ -f "$f" ] || continue
	case "$f" in
	*.sh | *.bash) scripts+=("$f"); continue ;;
	esac
	# Read only the first line: binary files have no shebang to find.
	first=$(head -n 1 -- "$f" 2>/dev/null | tr -d '\0') || first=""
	if [[ $first =~ ^#!.*(/|[[:space:]])(sh|bash|dash)([[:space:]]|$) ]]; then
		scripts+=("$f")
	fi
done
if [ ${#scripts[@]} -eq 0 ]; then
	echo "shellcheck.sh: no shell scripts found under $(pwd)" >&2
	exit 1
fi

echo "shellcheck.sh: checking ${#scripts[@]} scripts"
shellcheck --format=gcc --external-sources "${scripts[@]}"
echo "shellcheck.sh: ${#scripts[@]} scripts clean"
