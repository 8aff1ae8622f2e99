#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The reviewer's HTML report (signetctl audit reconcile's, rendered by
# reconcile_html_tool from a reconcile document, and by signetctl itself
# from logs with a tampered agent log) opened in headless
# Chromium: the page's text shows the actions with problems first, each
# problem's kind and its sentence, and hostile strings from the logs as
# text (a <script> in a reason is shown, not run; no element or attribute
# the report does not write exists); the screenshot is kept as a PNG.
# RECONCILE_JSON names another document to render (an engine's output);
# the default is tests/integration/reconcile_report.json, with actions in
# agreement, actions with problems and hostile strings. The screenshot and
# the HTML are kept in $SIGNET_BUILD_DIR/artefacts/reconcile_report/.
# Skips (77) when Chromium is not installed (scripts/deps.sh installs it)
# or cannot start here.
. "$(dirname "$0")/lib.sh"

TOOL="$SIGNET_BUILD_DIR/tests/reconcile_html_tool"
CHECK="$SIGNET_SOURCE_DIR/tests/integration/report_check.py"
DOC=${RECONCILE_JSON:-"$SIGNET_SOURCE_DIR/tests/integration/reconcile_report.json"}
ART="$SIGNET_BUILD_DIR/artefacts/reconcile_report"
SIZE=1200,1600

[ -x "$TOOL" ] || { echo "FAIL: $TOOL not built"; exit 1; }

CHROMIUM=
for cand in chromium chromium-browser; do
	if command -v "$cand" >/dev/null 2>&1; then
		CHROMIUM=$cand
		break
	fi
done
if [ -z "$CHROMIUM" ]; then
	echo "skip: chromium is not installed (scripts/deps.sh installs it)"
	exit 77
fi

# chrome FILE ARGS...: FILE in headless Chromium with its own profile;
# its chatter (D-Bus, GPU) goes to chrome.log.
chrome() {
	local file=$1; shift
	# The hang guard only: a healthy run takes a few seconds.
	timeout 300 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-dev-shm-usage --no-first-run --disable-extensions \
	    --disable-background-networking --user-data-dir="$T_DIR/profile" \
	    "$@" "file://$file" 2>>"$T_DIR/chrome.log"
}

# Can Chromium run here at all? A page of our own, dumped.
printf '<!DOCTYPE html><title>probe</title><p>probe-ok</p>\n' >"$T_DIR/probe.html"
if ! chrome "$T_DIR/probe.html" --dump-dom >"$T_DIR/probe.dom" ||
    ! grep -q probe-ok "$T_DIR/probe.dom"; then
	echo "skip: $CHROMIUM cannot run headless here:"
	tail -n 5 "$T_DIR/chrome.log"
	exit 77
fi

check "the tool renders $(basename "$DOC")" \
    "$TOOL" "$DOC" "$T_DIR/report.html"
# No tag loads anything or runs anything (a log's "<" is "&lt;", so every
# "<" opens the report's own markup), nor does the style.
no_external() {
	! grep -Eiq '<(script|img|link|iframe|object|embed|svg|base|form)|<[^>]*[[:space:]](src|href|action|formaction|on[a-z]+)[[:space:]]*=' "$1" &&
	    ! sed -n '/<style>/,/<\/style>/p' "$1" | grep -Eiq 'url\(|@import'
}
check "the report is one file that loads and runs nothing" \
    no_external "$T_DIR/report.html"

rm -f "$T_DIR/report.png"
dump() { chrome "$1" --dump-dom >"$2"; }
check "chromium dumps the page" dump "$T_DIR/report.html" "$T_DIR/report.dom"
check "chromium takes the screenshot" \
    chrome "$T_DIR/report.html" --screenshot="$T_DIR/report.png" \
    --window-size="$SIZE" --hide-scrollbars
# is_png FILE: non-empty and opens with the PNG signature.
is_png() {
	[ -s "$1" ] &&
	    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}
check "the screenshot is a non-empty PNG" is_png "$T_DIR/report.png"

expect=()
if [ -z "${RECONCILE_JSON:-}" ]; then
	# What the fixture's problem action must show, in plain words.
	expect=(
	    --expect "The result in the server's log differs from the one the host signed."
	    --expect "5f1c2a9e0b7d4c3a8e6f1b2d3c4a5e6f"
	    --expect "A problem of a kind this version of signetctl does not describe"
	    --expect "<script>document.title='pwned'</script>"
	    --expect "onmouseover=\"alert(2)\""
	    --expect "2025-12-05T07:00:01.000Z"
	    --expect "PROBLEMS FOUND"
	)
fi
echo "# page checks"
check "the page reads as the report" \
    python3 "$CHECK" "$DOC" "$T_DIR/report.dom" \
    --screenshot "$T_DIR/report.png" --size "$SIZE" "${expect[@]}"

# The real engine's report: logs audit_tool gen writes, one agent log
# re-signed without an action.executed (a stolen agent key), reconciled by
# signetctl; its own HTML, opened in Chromium, shows that action first.
if [ -z "${RECONCILE_JSON:-}" ]; then
	AT="$SIGNET_BUILD_DIR/tests/audit_tool"
	( cd "$T_DIR" && "$AT" gen g 2 12 >/dev/null ) &&
	    n=$(grep -n '"event":"action.executed"' "$T_DIR/g/logs/host-000.log" | sed -n 2p | cut -d: -f1) &&
	    sed -i "${n}d" "$T_DIR/g/logs/host-000.log" &&
	    "$AT" rechain "$T_DIR/g/logs/host-000.log" "$T_DIR/g/agents/host-000.key" "$n" >/dev/null
	check "logs generated and one agent log re-signed" test $? -eq 0
	rec() {
		( cd "$T_DIR/g" && "$SIGNETCTL" audit reconcile --server server.log \
		    --agent logs/host-000.log --agent logs/host-001.log \
		    --key keys/audit.pub --agent-keys agents \
		    --action-key keys/action.pub "$@" )
	}
	rec -o json >"$T_DIR/engine.json"
	check "the engine finds the problem (exit 1)" test $? -eq 1
	rec -o html --out "$T_DIR/engine.html"
	check "... and writes its HTML report (exit 1)" test $? -eq 1
	check "the engine's report loads and runs nothing" \
	    no_external "$T_DIR/engine.html"
	check "chromium dumps the engine's page" \
	    dump "$T_DIR/engine.html" "$T_DIR/engine.dom"
	chrome "$T_DIR/engine.html" --screenshot="$T_DIR/engine.png" \
	    --window-size="$SIZE" --hide-scrollbars
	check "its screenshot is a non-empty PNG" is_png "$T_DIR/engine.png"
	bad=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print([a["action_id"] for a in d["actions"] if a.get("problems")][0])' "$T_DIR/engine.json")
	check "the page reads as the engine's report, its problem first" \
	    python3 "$CHECK" "$T_DIR/engine.json" "$T_DIR/engine.dom" \
	    --screenshot "$T_DIR/engine.png" --size "$SIZE" \
	    --expect "$bad" --expect "PROBLEMS FOUND"
	cp "$T_DIR/engine.html" "$T_DIR/engine.png" "$ART/" 2>/dev/null || mkdir -p "$ART"
	cp "$T_DIR/engine.html" "$T_DIR/engine.png" "$ART/" 2>/dev/null
fi

mkdir -p "$ART" &&
    cp "$T_DIR/report.html" "$T_DIR/report.dom" "$ART/" 2>/dev/null &&
    cp "$T_DIR/report.png" "$ART/" 2>/dev/null &&
    echo "artefacts: $ART/report.png, report.html, report.dom"

finish
