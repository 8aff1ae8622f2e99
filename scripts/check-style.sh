#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The house-style checks CI keeps (STYLE.md, after curl's checksrc): no
# banned C function is called in any .c/.h of the tree, and every .c/.h
# opens with the SPDX line followed by a non-empty comment saying what the
# file is for. Prints each offence as FILE:LINE: reason and exits 1 if
# there is any. Usage: check-style.sh [SOURCE_DIR] (default: this tree).
set -euo pipefail

. "$(dirname "$0")/c-sources.sh"
root=${1:-"$(dirname "$0")/.."}
cd "$root"

c_sources check-style || exit 1

# The functions STYLE.md bans (what to use instead is in the awk below).
banned='strcpy|strcat|sprintf|vsprintf|atoi|atol|strtok|gets'
bad=0

for f in "${files[@]}"; do
	if [ ! -r "$f" ]; then
		# Tracked but deleted or unreadable: say so rather than skip it.
		echo "$f:0: cannot read the file"
		bad=1
		continue
	fi

	# (a) Banned calls: the name as a whole word followed by "(". The
	# awk strips /* */ and // comments and string literals first so that
	# prose ("never atoi") does not count; line numbers are kept.
	while IFS= read -r hit; do
		echo "$hit"
		bad=1
	done < <(awk -v file="$f" -v re="(^|[^A-Za-z0-9_])($banned)[ \t]*[(]" '
		BEGIN {
			instead["strcpy"] = instead["strcat"] = \
			    "use snprintf or a length-checked memcpy"
			instead["sprintf"] = instead["vsprintf"] = \
			    "use snprintf/vsnprintf and check the result"
			instead["atoi"] = instead["atol"] = \
			    "use a range-checked strtonum-like helper"
			instead["strtok"] = "use strtok_r or strsep"
			instead["gets"] = "use fgets"
		}
		{
			line = $0
			out = ""
			i = 1
			while (i <= length(line)) {
				c = substr(line, i, 1)
				two = substr(line, i, 2)
				if (incomment) {
					if (two == "*/") { incomment = 0; i += 2 }
					else i++
					continue
				}
				if (two == "/*") { incomment = 1; i += 2; continue }
				if (two == "//") break
				if (c == "\"" || c == "\047") {
					q = c; i++
					while (i <= length(line) && substr(line, i, 1) != q) {
						if (substr(line, i, 1) == "\\") i++
						i++
					}
					i++
					out = out q q
					continue
				}
				out = out c
				i++
			}
			while (match(out, re)) {
				name = substr(out, RSTART, RLENGTH)
				out = substr(out, RSTART + RLENGTH)
				sub(/^[^A-Za-z_]/, "", name)
				sub(/[ \t]*[(]$/, "", name)
				printf "%s:%d: banned function %s(): %s\n", file, NR,
				    name, instead[name]
			}
		}' "$f")

	# (b) Line 1 is exactly the SPDX line; line 2 opens a comment whose
	# text is not empty (a purpose paragraph, not a bare "/*" "*/").
	first=$(sed -n 1p "$f")
	if [ "$first" != "/* SPDX-License-Identifier: ISC */" ]; then
		echo "$f:1: first line is not \"/* SPDX-License-Identifier: ISC */\""
		bad=1
		continue
	fi
	if ! awk '
		NR == 1 { next }
		NR == 2 {
			if ($0 !~ /^\/\*/) exit 1
			incomment = 1
			sub(/^\/\*/, "")
		}
		incomment {
			end = index($0, "*/")
			text = end ? substr($0, 1, end - 1) : $0
			gsub(/^[ \t]*\*?[ \t]*/, "", text)
			if (text ~ /[A-Za-z0-9]/) found = 1
			if (end) exit(found ? 0 : 1)
		}
		END { if (!found) exit 1 }' "$f"; then
		echo "$f:2: no comment paragraph after the SPDX line saying what the file is for"
		bad=1
	fi
done

if [ "$bad" -ne 0 ]; then
	echo "check-style: offences found (see above)" >&2
	exit 1
fi
echo "check-style: ${#files[@]} files clean"
