#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The server's audit volume is bounded (issue 12, item 7): the real
# signet-server and a PKI from signet-pki. A burst of certificate-less TLS
# connections to the agent listener writes [audit] limit_burst
# auth.rejected records (default 10) and, when the server stops, one
# audit.suppressed record counting the rest of that window by reason. A
# SIGHUP storm (limit_burst = 3) writes three server.reloaded records and
# a summary of the rest. With a window of 1 s the summary comes while the
# server runs, once the window has closed (the sweep notices). Each log
# verifies and matches docs/schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
command -v jq >/dev/null || { echo "FAIL: jq is required (apt-get install jq)"; exit 1; }

AUDIT="$T_DIR/server-audit.log"
SLOG="$T_DIR/server.log"

# bare_tls N: N TLS connections to the agent listener without a client
# certificate, one after the other (each refused by the server).
bare_tls() {
	python3 - "$AGENT_PORT" "$1" <<'PY'
import socket, ssl, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for _ in range(n):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                t.recv(1)
    except (OSError, ssl.SSLError):
        pass
PY
}

# refusals: how many no_client_cert refusals the server has logged.
refusals() { grep -c 'agent refused: reason=no_client_cert' "$SLOG"; }
# reloads: how many SIGHUPs the server has handled.
reloads() { grep -c 'SIGHUP: CA/CRL' "$SLOG"; }
# records EVENT: how many EVENT records the log holds.
records() { jq -c "select(.event == \"$1\")" "$AUDIT" | wc -l; }
# summary EVENT JQ: the audit.suppressed summary of EVENT's records holds
# for JQ (over its data).
summary() {
	jq -e -s --arg e "$1" "[.[] | select(.event == \"audit.suppressed\" and .data.event == \$e) | .data] | $2" "$AUDIT" >/dev/null
}
# stop_server: SIGTERM, and wait for it.
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; }

verify_log() {
	check "$1: the log verifies" quiet "$SIGNETCTL" audit verify "$AUDIT" \
		--key "$SIGNET_PKI/keys/audit.pub"
	check "$1: every record matches docs/schema" \
		python3 "$SIGNET_SOURCE_DIR/tests/integration/audit_schema.py" "$AUDIT"
}

make_pki || { echo "FAIL: PKI"; exit 1; }

# ---- a burst of certificate-less connections, the default bounds ----
write_server_conf
start_server || exit 1
bare_tls 40
check "the server refused all 40 connections" wait_for 20 sh -c "[ \$(grep -c 'agent refused: reason=no_client_cert' '$SLOG') -ge 40 ]"
n=$(records auth.rejected)
check "burst: 10 auth.rejected records (the default limit_burst), not $n" test "$n" -eq 10
check "burst: no summary while the window is open" test "$(records audit.suppressed)" -eq 0
stop_server
check "stop: one audit.suppressed for auth.rejected" summary auth.rejected 'length == 1'
check "stop: it counts the other $(($(refusals) - 10)) refusals under no_client_cert" \
	summary auth.rejected ".[0].counts == {\"no_client_cert\": $(($(refusals) - 10))} and .[0].limit == 10"
check "stop: its window runs from the first refusal to the stop" \
	summary auth.rejected '.[0].window_end > .[0].window_start'
check "stop: written before server.stopped" sh -c \
	"jq -r .event '$AUDIT' | tail -n 2 | tr '\n' ' ' | grep -qx 'audit.suppressed server.stopped '"
verify_log "burst"

# ---- a SIGHUP storm: limit_burst = 3 ----
rm -f "$AUDIT"
: >"$SLOG"
write_server_conf
printf 'limit_burst = 3\nlimit_window = 3600\n' >>"$T_DIR/server.conf"
start_server || exit 1
for i in $(seq 1 12); do
	kill -HUP "$SERVER_PID"
	wait_for 10 sh -c "[ \$(grep -c 'SIGHUP: CA/CRL' '$SLOG') -ge $i ]" ||
		{ not_ok "SIGHUP $i was not handled"; break; }
done
check "storm: 12 SIGHUPs handled" test "$(reloads)" -eq 12
n=$(records server.reloaded)
check "storm: 3 server.reloaded records, not $n" test "$n" -eq 3
stop_server
check "storm: the summary counts the other 9 reloads as ok" \
	summary server.reloaded 'length == 1 and .[0].counts == {"ok": 9} and .[0].limit == 3'
verify_log "storm"

# ---- a window of 1 s: the summary comes while the server runs ----
rm -f "$AUDIT"
: >"$SLOG"
write_server_conf
printf 'limit_burst = 2\nlimit_window = 1\n' >>"$T_DIR/server.conf"
start_server || exit 1
bare_tls 5
check "short window: the server refused 5 connections" wait_for 20 sh -c "[ \$(grep -c 'agent refused: reason=no_client_cert' '$SLOG') -ge 5 ]"
check "short window: the summary is written once the window closes, the server still running" \
	wait_for 20 summary auth.rejected 'length >= 1'
check "short window: the server still runs" kill -0 "$SERVER_PID"
stop_server
n=$(records auth.rejected)
check "short window: records in full and counted add up to the refusals ($n in full)" \
	summary auth.rejected "([.[].counts.no_client_cert] | add) + $n == $(refusals)"
verify_log "short window"

# ---- a bad bound is refused at start ----
write_server_conf
printf 'limit_burst = 0\n' >>"$T_DIR/server.conf"
check_fails_with "limit_burst = 0 is refused" "limit_burst = \"0\" must be an integer from 1" \
	"$SERVER_BIN" --config "$T_DIR/server.conf"

finish
