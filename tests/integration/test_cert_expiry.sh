#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Certificate expiry watched everywhere, with the real parts: a PKI from
# signet-pki (init --nopass) with a server certificate valid 10 days, an
# agent web-01 valid 5 days and an agent web-02 valid 365 days, a real
# signet-server and two real signet-agents (no dockerd). The server warns
# at startup about its own certificate (date, days left), says the CA is
# valid, warns at web-01's hello and not at web-02's, never again at a
# reconnect the same day, and again at SIGHUP; web-01 is NOT refused. The
# gauges signet_cert_expiry_timestamp_seconds{role,name} carry each
# notAfter exactly as `openssl x509 -enddate` reads it, and
# signet_cert_expiring says which expire; an agent's rows go when it
# disconnects. GET /api/hosts and `signetctl hosts` (DAYS, and -o json)
# show the days left. web-01 warns about its own certificate and shows it
# (role agent_self) on its metrics listener; web-02 does not warn. [tls]
# expiry_warn_days = 3 silences the 4-day and 9-day warnings; values out
# of 1..365 or not numbers are refused at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
for tool in openssl curl python3; do
	command -v "$tool" >/dev/null || { echo "$tool missing"; exit 77; }
done
if [ ! -x "$SERVER_BIN" ] || [ ! -x "$AGENT_BIN" ]; then echo "not built"; exit 1; fi
cd "$T_DIR" || exit 1
LOG=$T_DIR/server.log

export SIGNET_PKI="$T_DIR/pki"
P=$SIGNET_PKI
{ "$PKI_SCRIPT" init "$P" --nopass &&
	"$PKI_SCRIPT" server localhost --dns localhost --ip 127.0.0.1 --days 10 &&
	"$PKI_SCRIPT" agent web-01 --days 5 &&
	"$PKI_SCRIPT" agent web-02 &&
	"$PKI_SCRIPT" operator alice; } >pki.log 2>&1 ||
	{ not_ok "pki setup: $(tail -n 5 pki.log)"; finish; exit 1; }

# end_epoch CERT / end_iso CERT: its notAfter as openssl reads it.
end_of() { openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//'; }
end_epoch() { date -u -d "$(end_of "$1")" +%s; }
end_iso() { date -u -d "$(end_of "$1")" +%Y-%m-%dT%H:%M:%SZ; }
# days_re CERT T0 T1: the whole days left at some second of [T0, T1], as
# an extended regex alternative ("4" or "4|5").
days_re() {
	local na lo hi
	na=$(end_epoch "$1")
	hi=$(((na - $2) / 86400))
	lo=$(((na - $3) / 86400))
	if [ "$lo" = "$hi" ]; then echo "$lo"; else echo "$lo|$hi"; fi
}
CA_CN=$(openssl x509 -in "$P/ca.pem" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
SRV_NA=$(end_epoch "$P/issued/localhost.pem")
SRV_ISO=$(end_iso "$P/issued/localhost.pem")
W1_NA=$(end_epoch "$P/issued/web-01.pem")
W1_ISO=$(end_iso "$P/issued/web-01.pem")
W2_NA=$(end_epoch "$P/issued/web-02.pem")
CA_NA=$(end_epoch "$P/ca.pem")
echo "# CA \"$CA_CN\" until $CA_NA, server until $SRV_ISO, web-01 until $W1_ISO"
check "the server certificate is valid 10 days" [ $((SRV_NA - $(date +%s))) -le $((10 * 86400)) -a $((SRV_NA - $(date +%s))) -gt $((9 * 86400)) ]
check "web-01's certificate is valid 5 days" [ $((W1_NA - $(date +%s))) -le $((5 * 86400)) -a $((W1_NA - $(date +%s))) -gt $((4 * 86400)) ]

# metric NAME LABELS: the value of NAME{LABELS} in the server's /metrics.
# (Labels may hold spaces: the value is the last field.)
metric() { api_get /metrics | awk -v k="$1{$2} " 'index($0, k) == 1 { print $NF }'; }
# connected HOST: the API lists HOST as connected.
connected() { api_get /api/hosts | pyq "any(h['host_id']=='$1' and h['connected'] for h in d['hosts'])" | grep -qx true; }
offline() { api_get /api/hosts | pyq "any(h['host_id']=='$1' and not h['connected'] for h in d['hosts'])" | grep -qx true; }
# count PATTERN FILE: lines matching the extended regex.
count() { grep -Ec -- "$1" "$2"; }
in_log() { grep -Eq -- "$1" "$2"; }

# ---- [tls] expiry_warn_days: bad values refused at start ----
write_server_conf
for v in 0 366 -1 abc 30days ""; do
	cp server.conf bad.conf
	sed -i "s|^\\[tls\\]$|[tls]\\nexpiry_warn_days = $v|" bad.conf
	check_fails_with "server: expiry_warn_days = '$v' refused" 'expiry_warn_days' \
		timeout 30 "$SERVER_BIN" --config bad.conf
done

# ---- the server at startup ----
T0=$(date +%s)
start_server || { not_ok "server started"; finish; exit 1; }
check "startup: a warning naming the server certificate, its date and days left" \
	wait_for 30 in_log " warn signet-server: cert_expiry_check: startup: server certificate localhost expires at $SRV_ISO \\(($(days_re "$P/issued/localhost.pem" "$T0" "$(date +%s)")) days left, within the 30-day warning window\\): renew it before then \\(signet-pki renew" "$LOG"
check "startup: the CA is said valid (info), not warned of" \
	in_log " info signet-server: cert_expiry_check: startup: CA certificate $CA_CN valid until .* \\([0-9]+ days left\\)" "$LOG"
check "no warning about the CA" [ "$(count 'warn .*CA certificate' "$LOG")" = 0 ]
check "/metrics: server notAfter exactly as openssl reads it" \
	[ "$(metric signet_cert_expiry_timestamp_seconds 'role="server",name="localhost"')" = "$SRV_NA" ]
check "/metrics: the CA's notAfter, named by its CN" \
	[ "$(metric signet_cert_expiry_timestamp_seconds "role=\"ca\",name=\"$CA_CN\"")" = "$CA_NA" ]
check "/metrics: the server certificate is expiring" \
	[ "$(metric signet_cert_expiring 'role="server",name="localhost"')" = 1 ]
check "/metrics: the CA is not" \
	[ "$(metric signet_cert_expiring "role=\"ca\",name=\"$CA_CN\"")" = 0 ]
api_get /metrics >m.txt
check "/metrics: HELP and TYPE of both families" \
	grep -qx '# TYPE signet_cert_expiry_timestamp_seconds gauge' m.txt
check "... signet_cert_expiring" grep -qx '# TYPE signet_cert_expiring gauge' m.txt
check "/metrics: no agent rows before any agent" [ "$(grep -c 'role="agent"' m.txt)" = 0 ]

# ---- the agents: web-01 (5 days) warned of, not refused; web-02 not ----
DOCKER_HOST=unix://$T_DIR/no-dockerd.sock
for h in web-01 web-02; do
	echo "{ \"host_id\": \"$h\", \"rules\": [ { \"match\": { \"name\": \"none-*\" }, \"actions\": [\"START\"] } ] }" >"policy-$h.json"
	chmod 0644 "policy-$h.json"
	write_agent_conf "$h" "$T_DIR/policy-$h.json"
done
AM_PORT=$(free_port)
sed -i "s|^\\[agent\\]$|[agent]\\nmetrics_listen = 127.0.0.1:$AM_PORT|" agent-web-01.conf
T1=$(date +%s)
start_agent web-01
W1_PID=$AGENT_PID
check "web-01 (a 5-day certificate) is NOT refused: connected" wait_for 60 connected web-01
connected web-01 || { tail -n 5 agent-web-01.log; finish; exit 1; }
T2=$(date +%s)
W1_DAYS=$(days_re "$P/issued/web-01.pem" "$T1" "$T2")
check "hello: the server warns of web-01's certificate, date and days left" \
	wait_for 30 in_log " warn signet-server: cert_expiry_check: hello: agent certificate web-01 expires at $W1_ISO \\(($W1_DAYS) days left, within the 30-day warning window\\)" "$LOG"
check "the agent warns of its own certificate" \
	wait_for 30 in_log " warn signet-agent: cert_expiry_check: startup: own certificate web-01 expires at $W1_ISO \\(($W1_DAYS) days left, within the 30-day warning window\\)" agent-web-01.log
check "no refusal of web-01 logged" [ "$(count 'web-01.*(refus|reject)|(refus|reject).*web-01' "$LOG")" = 0 ]
check "/metrics: web-01's notAfter exactly" \
	[ "$(metric signet_cert_expiry_timestamp_seconds 'role="agent",name="web-01"')" = "$W1_NA" ]
check "/metrics: web-01 expiring" [ "$(metric signet_cert_expiring 'role="agent",name="web-01"')" = 1 ]
am=$(curl -sS --max-time 10 "http://127.0.0.1:$AM_PORT/metrics")
check "the agent's /metrics: role agent_self with its notAfter" \
	grep -qx "signet_cert_expiry_timestamp_seconds{role=\"agent_self\",name=\"web-01\"} $W1_NA" <<<"$am"
check "the agent's /metrics: expiring" \
	grep -qx 'signet_cert_expiring{role="agent_self",name="web-01"} 1' <<<"$am"

T3=$(date +%s)
start_agent web-02
W2_PID=$AGENT_PID
check "web-02 connected" wait_for 60 connected web-02
W2_DAYS=$(days_re "$P/issued/web-02.pem" "$T3" "$(date +%s)")
echo "# web-02: $W2_DAYS days left"
check "/metrics: web-02's notAfter exactly" \
	wait_for 30 bash -c "[ \"\$(curl -sS --max-time 10 --cacert '$P/ca.pem' --cert '$P/issued/alice.pem' --key '$P/private/alice.key' https://localhost:$API_PORT/metrics | awk '\$1 == \"signet_cert_expiry_timestamp_seconds{role=\\\"agent\\\",name=\\\"web-02\\\"}\" {print \$2}')\" = $W2_NA ]"
check "/metrics: web-02 not expiring" [ "$(metric signet_cert_expiring 'role="agent",name="web-02"')" = 0 ]
check "no warning about web-02's 365-day certificate (server)" [ "$(count 'web-02' "$LOG" | head -1)" -ge 1 -a "$(count 'certificate web-02' "$LOG")" = 0 ]
check "web-02 says its certificate is valid (info)" \
	wait_for 30 in_log " info signet-agent: cert_expiry_check: startup: own certificate web-02 valid until .* \\((364|365) days left\\)" agent-web-02.log
check "web-02 does not warn" [ "$(count ' warn .*certificate' agent-web-02.log)" = 0 ]

# ---- GET /api/hosts and signetctl hosts ----
export SIGNET_SERVER="https://localhost:$API_PORT" SIGNET_CA="$P/ca.pem" \
	SIGNET_CERT="$P/issued/alice.pem" SIGNET_KEY="$P/private/alice.key"
T4=$(date +%s)
api_get /api/hosts >hosts.json
"$SIGNETCTL" hosts -o json >hosts-ctl.json 2>&1
T5=$(date +%s)
left() { pyq "[h['cert_days_left'] for h in d['hosts'] if h['host_id']=='$1'][0]" <"$2"; }
W1_DAYS=$(days_re "$P/issued/web-01.pem" "$T4" "$T5")
W2_DAYS=$(days_re "$P/issued/web-02.pem" "$T4" "$T5")
check "/api/hosts: web-01 cert_not_after is its notAfter" \
	[ "$(pyq '[h["cert_not_after"] for h in d["hosts"] if h["host_id"]=="web-01"][0]' <hosts.json)" = "${W1_ISO%Z}.000Z" ]
W1_LEFT=$(left web-01 hosts.json)
check "/api/hosts: web-01 cert_days_left ($W1_LEFT) is the whole days left" \
	grep -Eqx "$W1_DAYS" <<<"$W1_LEFT"
W2_LEFT=$(left web-02 hosts.json)
check "/api/hosts: web-02 cert_days_left ($W2_LEFT) too" grep -Eqx "$W2_DAYS" <<<"$W2_LEFT"
check "/api/hosts: cert_days_left is an integer" \
	grep -qx true <<<"$(pyq 'all(type(h["cert_days_left"]) is int for h in d["hosts"])' <hosts.json)"
check "signetctl hosts -o json carries cert_days_left" \
	[ "$(left web-02 hosts-ctl.json)" = "$W2_LEFT" ]
out=$("$SIGNETCTL" hosts 2>&1)
while IFS= read -r line; do echo "# $line"; done <<<"$out"
check "signetctl hosts: a DAYS column" grep -Eq '^HOST +CONNECTED +LAST SEEN +AGENT +DOCKER +CONTAINERS +CERT EXPIRES +DAYS$' <<<"$out"
check "signetctl hosts: web-01's days" grep -Eq "^web-01 +yes .* ${W1_ISO} +($W1_DAYS)\$" <<<"$out"
check "signetctl hosts: web-02's days" grep -Eq "^web-02 +yes .* +($W2_DAYS)\$" <<<"$out"

# ---- rate limit: a reconnect the same day is not warned again ----
kill "$W1_PID"; wait "$W1_PID" 2>/dev/null
check "web-01 offline" wait_for 60 offline web-01
check "/metrics: web-01's rows gone once it disconnected" \
	bash -c "! curl -sS --fail --max-time 10 --cacert '$P/ca.pem' --cert '$P/issued/alice.pem' --key '$P/private/alice.key' https://localhost:$API_PORT/metrics | grep -q 'name=\"web-01\"'"
start_agent web-01
W1_PID=$AGENT_PID
check "web-01 reconnected" wait_for 60 connected web-01
check "two hellos of web-01 logged" wait_for 30 bash -c "[ \$(grep -c 'agent connected: host=web-01' '$LOG') = 2 ]"
check "... but one warning only (once a day per certificate)" \
	[ "$(count 'hello: agent certificate web-01 expires' "$LOG")" = 1 ]

# ---- SIGHUP: every warning again ----
kill -HUP "$SERVER_PID"
check "SIGHUP: the server certificate warned of again" \
	wait_for 60 in_log " warn signet-server: cert_expiry_check: SIGHUP: server certificate localhost expires at $SRV_ISO" "$LOG"
check "SIGHUP: web-01 warned of again" \
	wait_for 30 in_log " warn signet-server: cert_expiry_check: SIGHUP: agent certificate web-01 expires at $W1_ISO" "$LOG"
check "SIGHUP: the CA said valid again" \
	in_log " info signet-server: cert_expiry_check: SIGHUP: CA certificate $CA_CN valid until" "$LOG"
check "SIGHUP: nothing about web-02" [ "$(count 'certificate web-02' "$LOG")" = 0 ]
check "web-01 still connected after all that" connected web-01

# ---- expiry_warn_days = 3: 9 and 4 days left are not warned of ----
kill "$W1_PID" "$W2_PID"; wait "$W1_PID" "$W2_PID" 2>/dev/null
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
sed -i "s|^\\[tls\\]$|[tls]\\nexpiry_warn_days = 3|" server.conf agent-web-01.conf
: >"$LOG"
: >agent-web-01.log
start_server || { not_ok "server restarted"; finish; exit 1; }
check "warn_days 3: the server certificate said valid (info)" \
	wait_for 30 in_log " info signet-server: cert_expiry_check: startup: server certificate localhost valid until $SRV_ISO" "$LOG"
start_agent web-01
W1_PID=$AGENT_PID
check "warn_days 3: web-01 connected" wait_for 60 connected web-01
check "warn_days 3: web-01's agent said valid (info)" \
	wait_for 30 in_log " info signet-agent: cert_expiry_check: startup: own certificate web-01 valid until $W1_ISO" agent-web-01.log
check "warn_days 3: no certificate warning from the server" [ "$(count ' warn .*certificate' "$LOG")" = 0 ]
check "warn_days 3: none from the agent" [ "$(count ' warn .*certificate' agent-web-01.log)" = 0 ]
check "warn_days 3: /metrics says web-01 not expiring" \
	[ "$(metric signet_cert_expiring 'role="agent",name="web-01"')" = 0 ]
check "warn_days 3: HELP says the window" grep -q 'expiry_warn_days (3 days here)' <(api_get /metrics)

# Stopped cleanly (under a sanitizer build: nothing reported).
kill "$W1_PID"; wait "$W1_PID"
check "web-01 stopped with exit 0" test $? = 0
kill "$SERVER_PID"; wait "$SERVER_PID"
check "the server stopped with exit 0" test $? = 0
check "no sanitizer report in any log" \
	bash -c "! grep -l 'Sanitizer' '$LOG' '$T_DIR'/agent-web-0[12].log"
finish
