#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# The agent's redial backoff resets on proof that the server works, not on
# a connection merely opened (issue 12, item 12). The real signet-agent
# against tests/tools/fake_server: a server that closes right after each
# hello (crash-looping, or refusing agents for want of disk) sees the
# ceiling of the agent's redial delay grow with each attempt (the delay
# itself is drawn below it: full jitter, issue 16); once the server
# acknowledges a result (it made a record durable), the agent says the
# server works and the next close redials after the first step again.
# Checked on the agent's own log (attempt and redial_ms it chose, and the
# order of the lines), never on a clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
OUT="$T_DIR/fake.out"
. "$(dirname "$0")/fake.sh"
ALOG="$T_DIR/agent-web-01.log"

make_pki || { not_ok "pki setup"; finish; exit 1; }
AGENT_PORT=$(free_port)
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >"$T_DIR/policy.json"
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
start_fake || { finish; exit 1; }
start_agent web-01
check "the agent says hello" wait_hello 1 20

# closes: the "channel closed" lines of the agent so far.
closes() { grep -c "channel closed: " "$ALOG"; }
# close_after_hello N: closes the connection of the Nth hello, and waits
# until the agent has logged that close and said hello again.
close_after_hello() {
	local c0
	c0=$(closes)
	send close
	wait_for 20 sh -c "[ \$(grep -c 'channel closed: ' '$ALOG') -gt $c0 ]" &&
		wait_hello "$(($1 + 1))" 30
}
# redial N: the redial_ms of the agent's Nth close; ceiling N: the
# ceiling it was drawn below; attempt N: its attempt.
redial() { grep "channel closed: " "$ALOG" | sed -n "$1p" | sed -n 's/.* redial_ms=\([0-9]*\).*/\1/p'; }
ceiling() { grep "channel closed: " "$ALOG" | sed -n "$1p" | sed -n 's/.* ceiling_ms=\([0-9]*\).*/\1/p'; }
attempt() { grep "channel closed: " "$ALOG" | sed -n "$1p" | sed -n 's/.* attempt=\([0-9]*\).*/\1/p'; }

# A server that closes right after every hello: no proof, the backoff grows.
for n in 1 2 3; do
	check "close $n right after hello $n; the agent comes back" close_after_hello "$n"
done
r1=$(redial 1); r2=$(redial 2); r3=$(redial 3)
c1=$(ceiling 1); c2=$(ceiling 2); c3=$(ceiling 3)
check "the redial ceiling doubles from reconnect_min_ms: ${c1:-?}, ${c2:-?}, ${c3:-?} ms" \
	test "${c1:-}" = 500 -a "${c2:-}" = 1000 -a "${c3:-}" = 2000
check "each redial is drawn below its ceiling: ${r1:-?} ${r2:-?} ${r3:-?}" \
	test -n "$r1" -a -n "$r2" -a -n "$r3" -a "${r1:-9999}" -lt "${c1:-0}" -a "${r2:-9999}" -lt "${c2:-0}" -a "${r3:-9999}" -lt "${c3:-0}"
check "one URL: the next is the same server" \
	test "$(grep "channel closed: " "$ALOG" | grep -c "next=wss://localhost:$AGENT_PORT\$")" -eq 3
check "attempts counted 1, 2, 3" test "$(attempt 1)$(attempt 2)$(attempt 3)" = 123
check "no proof was claimed" test "$(grep -c "the server works" "$ALOG")" -eq 0

# A server that works: it sends an action (the first proof) and
# acknowledges its result (an expired action's REJECTED, made without
# dockerd).
send_action "$(printf 'ab%.0s' $(seq 1 32))" RESTART --expired
id=$(last_id)
acked() { grep -q "^sent ack action_id=$id" "$OUT"; }
check "the agent's result is acknowledged" wait_for 20 acked
proof() { grep -Eq "channel: the server works \((action|result_ack)\); redial backoff reset after 3 attempt\(s\)" "$ALOG"; }
check "the agent takes it as proof, once" wait_for 10 proof
check "...logged once per connection" test "$(grep -c "the server works" "$ALOG")" -eq 1
check "close 4 after the proof; the agent comes back" close_after_hello 4
r4=$(redial 4)
check "the planned redial is the first step again (${r4:-?} ms < $(ceiling 4) = 500)" \
	test -n "$r4" -a "${r4:-99999}" -lt 500 -a "$(ceiling 4)" = 500
check "attempt counted from 1 again" test "$(attempt 4)" = 1
proof_line=$(grep -n "the server works" "$ALOG" | head -n 1 | cut -d: -f1)
close4_line=$(grep -n "channel closed: " "$ALOG" | sed -n 4p | cut -d: -f1)
close3_line=$(grep -n "channel closed: " "$ALOG" | sed -n 3p | cut -d: -f1)
check "in order: close 3, the proof, close 4" \
	test "${close3_line:-0}" -lt "${proof_line:-0}" -a "${proof_line:-0}" -lt "${close4_line:-0}"

# ---- drain frames (issue 16) ----
AUD="$T_DIR/agent-web-01-audit.log"
nrefused() { jq -c 'select(.event == "frame.refused")' "$AUD" | wc -l; }
# bad_drain NAME TEXT: the agent refuses TEXT as a malformed frame,
# audits it, and stays connected.
bad_drain() {
	local n0 c0
	n0=$(nrefused); c0=$(closes)
	printf '%s' "$2" >"$T_DIR/drain.json"
	send raw "$T_DIR/drain.json"
	check "a drain with $1: refused, audited" wait_for 10 sh -c "[ \$(jq -c 'select(.event == \"frame.refused\")' '$AUD' | wc -l) -gt $n0 ]"
	check "...as a malformed drain" sh -c "jq -r 'select(.event == \"frame.refused\") | .data.reason' '$AUD' | tail -n 1 | grep -q '^malformed frame: drain'"
	check "...and the agent stays on" test "$(closes)" -eq "$c0"
}
bad_drain "within_ms negative" '{"type":"drain","within_ms":-1}'
bad_drain "within_ms over ten minutes" '{"type":"drain","within_ms":600001}'
bad_drain "a fraction" '{"type":"drain","within_ms":1.5}'
bad_drain "an extra member" '{"type":"drain","within_ms":10,"to":"wss://elsewhere:1"}'
bad_drain "no within_ms" '{"type":"drain"}'
check "no drain was taken" test "$(grep -c "drains its agents" "$ALOG")" -eq 0
h0=$(hellos); c0=$(closes)
printf '%s' '{"type":"drain","within_ms":0}' >"$T_DIR/drain.json"
send raw "$T_DIR/drain.json"
check "a well-formed drain: the agent leaves by itself" \
	wait_for 10 grep -q "channel: leaving server=wss://localhost:$AGENT_PORT as it asked (drain)" "$ALOG"
check "...and comes back (one URL: the same server)" wait_hello $((h0 + 1)) 30
check "...after the first step of the backoff: a drain is no failure" \
	test "$(attempt $((c0 + 1)))" = 1 -a "$(ceiling $((c0 + 1)))" = 500
check "the fake server saw the agent close" grep -q "^closed" "$OUT"
[ "$T_FAIL" -eq 0 ] || { echo "# agent log:"; grep "channel" "$ALOG" | tail -n 15; echo "# fake:"; tail -n 8 "$OUT"; }
finish
