#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The man pages (man/*.scd, rendered by the build) against the programs:
# every option a program's --help names is documented in its page and every
# option the page documents is in --help (signetctl and signet-pki command by
# command); every option the code accepts is in --help; every key of the
# configuration schema is in signet.conf(5) and nothing else is; each page
# renders without a warning (man as lintian runs it, groff -ww, mandoc
# -Tlint when installed); each is installed by its package's component.
#
# Options are the tokens -x and --long-name wherever they stand (so the
# layout of --help and of the pages may change freely); in a man page only
# the SYNOPSIS, OPTIONS, CONNECTION OPTIONS and COMMANDS sections count,
# so prose and examples elsewhere may mention other programs' options.
set -u
. "$(dirname "$0")/lib.sh"

SRC=$SIGNET_SOURCE_DIR
B=$SIGNET_BUILD_DIR
MAN=$B/man
SERVER=$B/server/signet-server
AGENT=$B/agent/signet-agent
CTL=$B/cli/signetctl
PKI=$SRC/pki/signet-pki
CONFIG_CHECK=$B/tests/config_check
PAGES="signet-server.8 signet.conf.5 signet-agent.8 signet-policy.5
signetctl.1 signet-pki.8"

for f in "$SERVER" "$AGENT" "$CTL" "$CONFIG_CHECK"; do
	if [ ! -x "$f" ]; then
		echo "FAIL: $f is not built"
		exit 1
	fi
done
for p in $PAGES; do
	if [ ! -f "$MAN/$p" ] || [ ! -f "$MAN/$p.gz" ]; then
		echo "FAIL: $MAN/$p(.gz) is not built (target \"man\")"
		exit 1
	fi
done
for tool in groff col man lexgrog gzip; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL: $tool is needed (scripts/deps.sh: man-db," \
		    "groff-base, bsdextrautils, gzip)"
		exit 1
	fi
done

# opts: the option tokens of stdin, sorted, one a line. A token starts after
# a character that cannot be part of a word, so "signet-agent", "non-2xx"
# and "HOST-ID" are not options; "--config=FILE" gives --config.
opts() {
	grep -oE -- '(^|[^A-Za-z0-9_-])--?[a-z][a-z0-9]*(-[a-z0-9]+)*' |
	    sed -E 's/^[^-]+//' | LC_ALL=C sort -u
}

# render PAGE: the page as plain text, one paragraph a line as far as
# possible (a wide line cannot break inside an option).
render() {
	groff -man -Tascii -rLL=400n "$MAN/$1" 2>/dev/null | col -bx
}

# part PAGE SECTIONS [SUBSECTION]: the lines of the sections whose heading
# matches the extended regex SECTIONS (anchored), or of one subsection of
# them. Headings start in column 0, subsection headings in column 3.
part() {
	render "$1" | awk -v re="^($2)\$" -v want="${3-}" '
	/^[^ ]/ { insec = ($0 ~ re); sub_ = ""; next }
	/^   [^ ]/ { sub_ = substr($0, 4); sub(/ +$/, "", sub_); next }
	insec && (want == "" || sub_ == want) { print }'
}

# subsections PAGE SECTION: the subsection headings of one section.
subsections() {
	render "$1" | awk -v sec="$2" '
	/^[^ ]/ { insec = ($0 == sec); next }
	insec && /^   [^ ]/ { s = substr($0, 4); sub(/ +$/, "", s); print s }'
}

# without FILE WORDS...: FILE's lines minus the given words.
without() {
	local f=$1 w
	shift
	for w in "$@"; do
		printf '%s\n' "$w"
	done >"$T_DIR/without"
	grep -vxF -f "$T_DIR/without" "$f" || true
}

# same NAME LEFT-LABEL LEFT RIGHT-LABEL RIGHT: the two sorted lists must be
# equal; otherwise says what each has that the other lacks.
same() {
	local name=$1 ll=$2 l=$3 rl=$4 r=$5 only_l only_r
	only_l=$(LC_ALL=C comm -23 "$l" "$r" | tr '\n' ' ')
	only_r=$(LC_ALL=C comm -13 "$l" "$r" | tr '\n' ' ')
	if [ -z "$only_l$only_r" ]; then
		ok "$name"
		return 0
	fi
	not_ok "$name: in $ll but not in $rl: [${only_l% }]; in $rl but not" \
	    "in $ll: [${only_r% }]"
	return 1
}

# subset NAME SMALL-LABEL SMALL BIG-LABEL BIG: every line of SMALL in BIG.
subset() {
	local name=$1 sl=$2 s=$3 bl=$4 b=$5 missing
	missing=$(LC_ALL=C comm -23 "$s" "$b" | tr '\n' ' ')
	if [ -z "$missing" ]; then
		ok "$name"
		return 0
	fi
	not_ok "$name: in $sl but not in $bl: [${missing% }]"
	return 1
}

# code_opts FILE...: the options C code compares argv with: string
# literals that are exactly an option ("--config", "--config=", "-h"), and
# the long options of getopt_long tables ({ "config", required_argument,
# ... } gives --config).
code_opts() {
	{
		grep -ohE -- '"--?[a-z][a-z0-9]*(-[a-z0-9]+)*=?"' "$@" |
		    tr -d '"='
		grep -ohE -- '\{ *"[a-z][a-z0-9]*(-[a-z0-9]+)*", *(no|required|optional)_argument' "$@" |
		    sed -E 's/^\{ *"([^"]*)".*/--\1/'
	} | LC_ALL=C sort -u
}

# help_of CMD...: CMD's --help must succeed and print on stdout.
help_of() {
	local out=$1 rc
	shift
	"$@" >"$out" 2>"$T_DIR/help.err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$out" ]; then
		not_ok "$* exits 0 with its usage on stdout (rc=$rc:" \
		    "$(head -c 300 "$T_DIR/help.err"))"
		return 1
	fi
	return 0
}

D=$T_DIR
OPT_SECTIONS="SYNOPSIS|OPTIONS|CONNECTION OPTIONS|COMMANDS"

# ------------------------------------------------------ the checker itself
# The comparison must be able to fail: a help text that lost an option and
# a page that gained one are both reported, by name.
help_of "$D/srv.help" "$SERVER" --help
opts <"$D/srv.help" >"$D/srv.h"
part signet-server.8 "$OPT_SECTIONS" | opts >"$D/srv.m"
grep -vxF -- --version "$D/srv.h" >"$D/neg.h"
printf '%s\n' --bogus-option | cat - "$D/srv.m" | LC_ALL=C sort >"$D/neg.m"
# (in a subshell: its verdict does not count, only its words)
neg=$(same neg help "$D/neg.h" page "$D/neg.m")
if printf '%s' "$neg" | grep -q -- 'in page but not in help: \[--bogus-option --version\]'
then
	ok "the comparison reports a missing and an extra option"
else
	not_ok "the comparison did not report --version and --bogus-option:" \
	    "$neg"
fi
if [ "$(wc -l <"$D/srv.h")" -ge 3 ] && [ "$(wc -l <"$D/srv.m")" -ge 3 ]; then
	ok "options are found in signet-server --help and its page"
else
	not_ok "too few options found: help [$(tr '\n' ' ' <"$D/srv.h")]," \
	    "page [$(tr '\n' ' ' <"$D/srv.m")]"
fi

# ------------------------------------------------------------ signet-server
same "signet-server: --help and signet-server(8) agree" \
    "signet-server --help" "$D/srv.h" "signet-server(8)" "$D/srv.m"
code_opts "$SRC/server/main.c" >"$D/srv.c"
subset "signet-server: every option it accepts is in --help" \
    "server/main.c" "$D/srv.c" "--help" "$D/srv.h"

# ------------------------------------------------------------- signet-agent
help_of "$D/agent.help" "$AGENT" --help
opts <"$D/agent.help" >"$D/agent.h"
part signet-agent.8 "$OPT_SECTIONS" | opts >"$D/agent.m"
same "signet-agent: --help and signet-agent(8) agree" \
    "signet-agent --help" "$D/agent.h" "signet-agent(8)" "$D/agent.m"
code_opts "$SRC"/agent/main.c "$SRC"/agent/policy_cli.c \
    "$SRC"/agent/enroll.c >"$D/agent.c"
subset "signet-agent: every option it accepts is in --help" \
    "agent/main.c, policy_cli.c, enroll.c" "$D/agent.c" "--help" "$D/agent.h"

# ---------------------------------------------------------------- signetctl
# Options every command takes, documented once: help and the connection.
CTL_COMMON=(-h --help --server --cert --key --ca)
help_of "$D/ctl.help" "$CTL" --help
# The commands: the leading lower-case words of the indented lines of
# "commands:" in --help ("audit verify FILE ..." is "audit verify").
awk '/^commands:/ { on = 1; next } on && /^$/ { exit }
    on && /^  [a-z]/ {
	if (match($0, /^  [a-z][a-z-]*( [a-z][a-z-]*)*/))
		print substr($0, 3, RLENGTH - 2)
    }' "$D/ctl.help" | LC_ALL=C sort -u >"$D/ctl.cmds.h"
subsections signetctl.1 COMMANDS | LC_ALL=C sort -u >"$D/ctl.cmds.m"
same "signetctl: the commands of --help are those of signetctl(1)" \
    "signetctl --help" "$D/ctl.cmds.h" "signetctl(1) COMMANDS" \
    "$D/ctl.cmds.m"
cp "$D/ctl.help" "$D/ctl.all"
while IFS= read -r cmd; do
	[ "$cmd" = help ] && continue
	# shellcheck disable=SC2086 # "audit verify" is two words
	help_of "$D/sub.help" "$CTL" $cmd --help || continue
	cat "$D/sub.help" >>"$D/ctl.all"
	opts <"$D/sub.help" >"$D/sub.h0"
	without "$D/sub.h0" "${CTL_COMMON[@]}" >"$D/sub.h"
	part signetctl.1 COMMANDS "$cmd" | opts >"$D/sub.m0"
	without "$D/sub.m0" "${CTL_COMMON[@]}" >"$D/sub.m"
	same "signetctl $cmd: --help and signetctl(1) agree" \
	    "signetctl $cmd --help" "$D/sub.h" "signetctl(1) \"$cmd\"" \
	    "$D/sub.m"
done <"$D/ctl.cmds.h"
opts <"$D/ctl.all" >"$D/ctl.h"
part signetctl.1 "$OPT_SECTIONS" | opts >"$D/ctl.m"
same "signetctl: all --help texts and signetctl(1) agree" \
    "signetctl --help texts" "$D/ctl.h" "signetctl(1)" "$D/ctl.m"
code_opts "$SRC"/cli/*.c >"$D/ctl.c"
subset "signetctl: every option it accepts is in a --help" \
    "cli/*.c" "$D/ctl.c" "the --help texts" "$D/ctl.h"

# --------------------------------------------------------------- signet-pki
# What each command accepts is its "allow" line in the script's final
# "case $CMD in"; the usage lists the commands indented under "Commands:"
# (continuation lines indented further belong to the command above).
if ! "$PKI" --help >"$D/pki.help" 2>"$D/help.err" ||
    [ ! -s "$D/pki.help" ]; then
	not_ok "signet-pki --help exits 0 with its usage on stdout"
fi
awk '/^case \$CMD in/ { on = 1; next } on && /^esac/ { exit }
    on && /^[a-z][a-z-]*( \| [a-z][a-z-]*)*\)$/ {
	n = split(substr($0, 1, length($0) - 1), c, / \| /)
	for (i = 1; i <= n; i++) print c[i] ":"
	next
    }
    on && /^[ \t]+allow / {
	for (i = 1; i <= n; i++) print c[i] ":" substr($0, index($0, "allow") + 5)
    }' "$PKI" >"$D/pki.allow.raw"
awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
    on && /^  [a-z]/ {
	cmd = $1; sub(/,$/, "", cmd); print cmd ":" substr($0, length($1) + 3)
	next
    }
    on && /^   / { print cmd ":" $0 }' "$D/pki.help" >"$D/pki.usage.raw"
cut -d: -f1 "$D/pki.allow.raw" | LC_ALL=C sort -u >"$D/pki.cmds.c"
cut -d: -f1 "$D/pki.usage.raw" | LC_ALL=C sort -u >"$D/pki.cmds.h"
subsections signet-pki.8 COMMANDS | LC_ALL=C sort -u >"$D/pki.cmds.m"
same "signet-pki: the commands it runs are those of its usage" \
    "the script" "$D/pki.cmds.c" "signet-pki --help" "$D/pki.cmds.h"
same "signet-pki: the commands of its usage are those of signet-pki(8)" \
    "signet-pki --help" "$D/pki.cmds.h" "signet-pki(8) COMMANDS" \
    "$D/pki.cmds.m"
while IFS= read -r cmd; do
	grep "^$cmd:" "$D/pki.allow.raw" | cut -d: -f2- | opts >"$D/c0"
	without "$D/c0" --pki >"$D/c"
	grep "^$cmd:" "$D/pki.usage.raw" | cut -d: -f2- | opts >"$D/h0"
	without "$D/h0" -h --help --pki >"$D/h"
	part signet-pki.8 COMMANDS "$cmd" | opts >"$D/m0"
	without "$D/m0" -h --help --pki >"$D/m"
	same "signet-pki $cmd: the options it accepts are in its usage" \
	    "the script" "$D/c" "signet-pki --help" "$D/h"
	same "signet-pki $cmd: its usage and signet-pki(8) agree" \
	    "signet-pki --help" "$D/h" "signet-pki(8) \"$cmd\"" "$D/m"
done <"$D/pki.cmds.c"
opts <"$D/pki.help" >"$D/pki.h"
part signet-pki.8 "$OPT_SECTIONS" | opts >"$D/pki.m"
same "signet-pki: its usage and signet-pki(8) agree" \
    "signet-pki --help" "$D/pki.h" "signet-pki(8)" "$D/pki.m"
# The option parser: the case patterns of the argument loop.
sed -n '/^while \[ \$# -gt 0 \]; do/,/^done/p' "$PKI" |
    grep -E '^[[:space:]]*-.*(\)|\\)$' | opts >"$D/pki.c"
subset "signet-pki: every option it parses is in its usage" \
    "the script's option parser" "$D/pki.c" "--help" "$D/pki.h"

# ------------------------------------------------------------- signet.conf
# Keys are "key = TYPE" items (column 7) under "[section]" subsections of
# SERVER CONFIGURATION and AGENT CONFIGURATION.
for prog in server agent; do
	up=$(printf '%s' "$prog" | tr '[:lower:]' '[:upper:]')
	if ! "$CONFIG_CHECK" keys "$prog" | LC_ALL=C sort -u >"$D/keys.$prog.s"
	then
		not_ok "config_check keys $prog"
		continue
	fi
	render signet.conf.5 | awk -v sec="$up CONFIGURATION" '
	/^[^ ]/ { on = ($0 == sec); s = ""; next }
	on && /^   \[[a-z_]+\]/ { s = $1; gsub(/[][]/, "", s); next }
	on && s != "" && /^       [a-z_0-9]+ = / { print s " " $1 }' |
	    LC_ALL=C sort -u >"$D/keys.$prog.m"
	if [ ! -s "$D/keys.$prog.s" ]; then
		not_ok "the $prog schema lists no key"
	fi
	same "signet.conf(5) documents exactly the $prog's keys" \
	    "the $prog schema" "$D/keys.$prog.s" \
	    "signet.conf(5) $up CONFIGURATION" "$D/keys.$prog.m"
done

# --------------------------------------------------------- policy examples
# Every JSON document shown in signet-policy(5) is a policy the agent takes.
awk -v dir="$D" '
    /^```$/ { if (inblk) { inblk = 0; close(f) } else { inblk = 1; first = 1 }
	      next }
    inblk && first { first = 0; if ($0 == "{") { n++; f = dir "/pol" n ".json"
	      json = 1 } else json = 0 }
    inblk && json { print > f }' "$SRC/man/signet-policy.5.scd"
npol=0
for f in "$D"/pol*.json; do
	[ -f "$f" ] || continue
	npol=$((npol + 1))
	chmod 0644 "$f"
	if out=$("$AGENT" --check-policy "$f" 2>&1); then
		ok "signet-policy(5) example $(basename "$f") is valid"
	else
		not_ok "signet-policy(5) example $(basename "$f"): $out"
	fi
done
if [ "$npol" -lt 2 ]; then
	not_ok "signet-policy(5): $npol JSON examples found, want 2 or more"
fi

# ---------------------------------------------------------------- rendering
# As lintian runs man (documentation/manual: groff-message), at 80 and 120
# columns; groff with every warning; mandoc's linter when installed, less
# the empty-paragraph notes every scdoc page has (scdoc writes .P before
# and after each heading).
for p in $PAGES; do
	w=""
	for cols in 80 120; do
		w="$w$(env -i PATH="$PATH" LC_ALL=C.UTF-8 MANROFFSEQ= \
		    MANWIDTH=$cols man --warnings -E UTF-8 -l -Tutf8 -Z \
		    "$MAN/$p.gz" 2>&1 >/dev/null)"
	done
	w="$w$(groff -man -Tutf8 -ww -z "$MAN/$p" 2>&1)"
	if command -v mandoc >/dev/null; then
		w="$w$(mandoc -Tlint -Wwarning "$MAN/$p" 2>&1 |
		    grep -v 'WARNING: skipping paragraph macro: PP')"
	fi
	if [ -z "$w" ]; then
		ok "$p renders without warnings"
	else
		not_ok "$p renders with warnings: $w"
	fi
	name=${p%.*}
	if lexgrog "$MAN/$p.gz" 2>/dev/null | grep -q ": \"$name - ."; then
		ok "$p has a NAME line for whatis"
	else
		not_ok "$p: lexgrog finds no \"$name - ...\" NAME line"
	fi
	if cmp -s "$MAN/$p" <(gzip -dc "$MAN/$p.gz"); then
		ok "$p.gz holds $p"
	else
		not_ok "$p.gz does not hold the current $p"
	fi
done
if ! command -v mandoc >/dev/null; then
	echo "note: mandoc not installed; its linter was not run"
fi

# ------------------------------------------------------------- installation
# Each package's component installs exactly its pages, compressed.
declare -A WANT=(
	[server]="man5/signet.conf.5.gz man8/signet-server.8.gz"
	[agent]="man5/signet-policy.5.gz man8/signet-agent.8.gz"
	[tools]="man1/signetctl.1.gz man8/signet-pki.8.gz")
for comp in server agent tools; do
	dest=$D/inst-$comp
	if ! DESTDIR=$dest cmake --install "$B" --component "$comp" \
	    --prefix /usr >"$D/inst.log" 2>&1; then
		not_ok "cmake --install --component $comp: $(tail -3 "$D/inst.log")"
		continue
	fi
	got=$(cd "$dest/usr/share/man" 2>/dev/null && find . -type f |
	    sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')
	if [ "${got% }" = "${WANT[$comp]}" ]; then
		ok "component $comp installs ${WANT[$comp]}"
	else
		not_ok "component $comp installs [${got% }], want" \
		    "[${WANT[$comp]}]"
	fi
done

finish
