# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Sourced by the style scripts: c_sources fills the array files with every
# .c/.h of the tree under the current directory, in a git tree the tracked
# ones and the new ones not yet added (not those .gitignore excludes, such
# as build trees), else every one found outside build directories. Returns
# 1, saying so on stderr as PROG, when there is none.
#   c_sources PROG
c_sources() {
	local f
	files=()
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		while IFS= read -r -d '' f; do
			[ -f "$f" ] && files+=("$f")
		done < <(git ls-files -z --cached --others --exclude-standard \
			-- '*.c' '*.h' | sort -zu)
	else
		while IFS= read -r -d '' f; do
			files+=("${f#./}")
		done < <(find . \( -path './build*' -o -path './.git' \) -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
	fi
	if [ ${#files[@]} -eq 0 ]; then
		echo "$1: no .c/.h files found under $(pwd)" >&2
		return 1
	fi
}
