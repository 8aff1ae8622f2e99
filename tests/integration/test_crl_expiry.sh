#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# CRL expiry with the real parts: a PKI from signet-pki and a real
# signet-server (no agent, no dockerd). A CRL valid 3 days makes
# `signet-pki list` warn on stderr (date and command) and the server warn
# at startup; /metrics shows its nextUpdate exactly as openssl reads it.
# `signet-pki crl --days 30` and SIGHUP move the metric and the warning
# stops. A CRL that expires while the server runs (openssl ca -crlsec):
# warned at SIGHUP, an error logged the moment it expires, and from then
# on every operator and auditor is refused with the reason, until the
# renewal service's own script (packaging/systemd/signet-crl-renew.service,
# systemctl stubbed to SIGHUP) renews the CRL and lets them in again
# without a restart: with the CA key encrypted, the passphrase from the
# systemd credential signet-ca-pass (a credentials directory given as
# $CREDENTIALS_DIRECTORY); without it the service fails and says where the
# passphrase goes; an unencrypted key needs none. alice's PKCS#12 from
# export lets curl in with its passphrase only. A server started with an
# expired CRL (openssl ca -crl_nextupdate in the past) refuses to start
# and says why. Bounds of
# `crl --days`; the renewal units pass systemd-analyze verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
for tool in openssl curl python3 setsid; do
	command -v "$tool" >/dev/null || { echo "$tool missing"; exit 77; }
done
[ -x "$SERVER_BIN" ] || { echo "signet-server not built"; exit 1; }
cd "$T_DIR" || exit 1
LOG=$T_DIR/server.log

make_pki || { not_ok "pki setup"; finish; exit 1; }
P=$SIGNET_PKI

# next_epoch FILE / next_iso FILE: a CRL's nextUpdate as openssl reads it.
next_of() { openssl crl -in "$1" -noout -nextupdate | sed 's/^nextUpdate=//'; }
next_epoch() { date -u -d "$(next_of "$1")" +%s; }
next_iso() { date -u -d "$(next_of "$1")" +%Y-%m-%dT%H:%M:%SZ; }
# metric NAME: its value in the server's /metrics (as operator alice).
metric() { api_get /metrics | awk -v n="$1" '$1 == n { print $2 }'; }
# log_since N: the server log after its first N lines.
log_since() { tail -n +"$(($1 + 1))" "$LOG"; }
log_lines() { wc -l <"$LOG"; }
# status USER PATH: the HTTP status of a GET as USER (body in $T_DIR/body).
status() {
	curl -sS --max-time 10 --cacert "$P/ca.pem" --cert "$P/issued/$1.pem" \
		--key "$P/private/$1.key" -o "$T_DIR/body" -w '%{http_code}' \
		"https://localhost:$API_PORT$2" 2>"$T_DIR/curl.err"
}
# gencrl ARGS...: a CRL from openssl ca itself, into $T_DIR/crl-made.pem.
gencrl() {
	SIGNET_PKI_DIR=$P openssl ca -batch -config "$P/openssl.cnf" -gencrl \
		-out "$T_DIR/crl-made.pem" "$@" >"$T_DIR/gencrl.log" 2>&1
}

# ---- the CRL renewal units (packaging/systemd) ----
UNITS=$SIGNET_SOURCE_DIR/packaging/systemd
if command -v systemd-analyze >/dev/null; then
	mkdir units && cp "$UNITS"/signet-crl-renew.service "$UNITS"/signet-crl-renew.timer units/
	check "systemd-analyze verify: signet-crl-renew.service and .timer" \
		systemd-analyze verify --man=no units/signet-crl-renew.service units/signet-crl-renew.timer
else
	echo "# systemd-analyze missing: units not verified"
fi
check "the timer is daily and persistent" grep -qx 'OnCalendar=daily' "$UNITS/signet-crl-renew.timer"
check "the timer installs into timers.target (enabled only by the admin)" \
	grep -qx 'WantedBy=timers.target' "$UNITS/signet-crl-renew.timer"
check "the default file sets no PKI (the admin must)" \
	env -u SIGNET_PKI sh -c ". '$SIGNET_SOURCE_DIR/packaging/signet-crl-renew.default' && [ -z \"\${SIGNET_PKI:-}\" ] && [ \"\$SIGNET_CRL_DAYS\" = 30 ] && [ \"\$SIGNET_CRL_DEST\" = /etc/signet/crl.pem ]"
# renew.sh: the service's ExecStart script as systemd hands it to sh
# (continuations joined, $$ as $), signet-pki from the source tree.
python3 - "$UNITS/signet-crl-renew.service" "$PKI_SCRIPT" >renew.sh <<'PY'
import re, sys
s = open(sys.argv[1]).read()
m = re.search(r"^ExecStart=/bin/sh -euc '(.*?)'$", s, re.S | re.M)
print(m.group(1).replace("\\\n", " ").replace("$$", "$")
      .replace("/usr/bin/signet-pki", sys.argv[2]))
PY
check "the service's script was found" grep -q 'crl --days' renew.sh
check_fails_with "the service without SIGNET_PKI fails and says why" \
	'set SIGNET_PKI .* in /etc/default/signet-crl-renew' \
	env -i PATH="$PATH" sh -euc "$(cat renew.sh)"

# ---- signet-pki: --days, list warns ----
check_fails_with "crl --days 0 refused" 'not a positive whole number' \
	"$PKI_SCRIPT" crl --days 0
check_fails_with "crl --days 366 refused (at most 365)" 'at most 365 days' \
	"$PKI_SCRIPT" crl --days 366
check "crl --days 365 accepted" quiet "$PKI_SCRIPT" crl --days 365
"$PKI_SCRIPT" list >list.out 2>list.err
check "list of a fresh 365-day CRL does not warn" [ ! -s list.err ]

"$PKI_SCRIPT" crl --days 3 >crl.out 2>crl.err
check "crl --days 3 says it expires soon" grep -q 'warning: the CRL .* expires at' crl.err
NEXT=$(next_epoch "$P/crl.pem")
ISO=$(next_iso "$P/crl.pem")
now=$(date -u +%s)
check "the CRL is valid 3 days" [ $((NEXT - now)) -gt $((3 * 86400 - 120)) \
	-a $((NEXT - now)) -le $((3 * 86400)) ]
"$PKI_SCRIPT" list >list.out 2>list.err; rc=$?
check "list exits 0 with a warning" [ "$rc" -eq 0 ]
check "list warns with the CRL's date" grep -q "warning: the CRL $P/crl.pem expires at $ISO (in [23] days" list.err
check "the warning names the command to run" grep -q "signet-pki --pki $P crl" list.err
check "the warning says what happens" grep -q 'the server refuses every agent, operator and auditor' list.err
check "the warning is on stderr only" grep -q '^NAME' list.out
check "stdout holds no warning" bash -c "! grep -q warning list.out"

# ---- the server: startup warning, metrics ----
write_server_conf
start_server || { not_ok "server started"; finish; exit 1; }
check "startup warns the CRL expires within 7 days" \
	grep -Eq " warn signet-server: crl_watch_check: startup: CRL $P/crl.pem expires at $ISO \(in (2 days 23 hours|3 days 0 hours)\): renew it before then \(signet-pki crl" "$LOG"
check "the warning says everyone would be refused" \
	grep -q 'or every agent, operator and auditor will be refused' "$LOG"
check "metrics: next update is openssl's nextUpdate ($NEXT)" [ "$(metric signet_crl_next_update_timestamp_seconds)" = "$NEXT" ]
check "metrics: expiring 1" [ "$(metric signet_crl_expiring)" = 1 ]
api_get /metrics >metrics.txt
check "metrics: HELP and TYPE of the CRL gauges" grep -qx \
	'# TYPE signet_crl_next_update_timestamp_seconds gauge' metrics.txt
check "metrics: signet_crl_expiring is a gauge with HELP" \
	bash -c "grep -qx '# TYPE signet_crl_expiring gauge' metrics.txt && grep -q '^# HELP signet_crl_expiring ' metrics.txt"

# ---- renewed: the metric moves, the warning stops ----
"$PKI_SCRIPT" crl --days 30 >crl.out 2>crl.err
check "crl --days 30 does not warn" [ ! -s crl.err ]
NEXT2=$(next_epoch "$P/crl.pem")
ISO2=$(next_iso "$P/crl.pem")
n0=$(log_lines)
kill -HUP "$SERVER_PID"
check "SIGHUP: the renewed CRL is reported valid" wait_for 10 \
	grep -Eq "info signet-server: crl_watch_check: SIGHUP: CRL $P/crl.pem valid until $ISO2 \\(in (29 days 23 hours|30 days 0 hours)\\)" "$LOG"
check "metrics: next update moved to $NEXT2" [ "$(metric signet_crl_next_update_timestamp_seconds)" = "$NEXT2" ]
check "metrics: expiring 0" [ "$(metric signet_crl_expiring)" = 0 ]
sleep 1
check "no CRL warning after the renewal" bash -c "! tail -n +$((n0 + 1)) '$LOG' | grep -E ' (warn|error) .*CRL'"

# ---- a CRL that expires while the server runs ----
if gencrl -crlsec 20; then
	cp "$T_DIR/crl-made.pem" "$P/crl.pem"
	ISO3=$(next_iso "$P/crl.pem")
	n0=$(log_lines)
	kill -HUP "$SERVER_PID"
	check "SIGHUP: a CRL with seconds left is warned about" wait_for 10 \
		bash -c "tail -n +$((n0 + 1)) '$LOG' | grep -Eq 'warn .*SIGHUP: CRL .* expires at $ISO3 \(in [0-9]+ seconds\)'"
	check "operator allowed before nextUpdate" [ "$(status alice /api/hosts)" = 200 ]
	check "the expiry is logged as an error when it happens" wait_for 40 \
		grep -q "error signet-server: crl_watch_check: check: CRL $P/crl.pem expired at $ISO3: every agent, operator and auditor is refused until it is renewed (signet-pki crl" "$LOG"
	check "operator refused once the CRL expired" [ "$(status alice /api/hosts)" = 403 ]
	check "the refusal says why" grep -q "cannot be checked: the CRL expired at $ISO3" "$T_DIR/body"
	check "auditor refused too" [ "$(status carol /api/hosts)" = 403 ]
	check "operator refused on POST too" [ "$(curl -sS --max-time 10 --cacert "$P/ca.pem" \
		--cert "$P/issued/alice.pem" --key "$P/private/alice.key" -o /dev/null \
		-w '%{http_code}' -H 'Content-Type: application/json' --data '{}' \
		"https://localhost:$API_PORT/api/containers/abc/actions")" = 403 ]
	check "the server logs each refusal with the reason" grep -q \
		"api: refused .* cannot be checked: the CRL expired at $ISO3" "$LOG"
	check "server still running" kill -0 "$SERVER_PID"

	# A SIGHUP with the same expired file keeps it: still refused.
	kill -HUP "$SERVER_PID"
	check "SIGHUP with the expired CRL: reload refused, error repeated" wait_for 10 \
		grep -q "SIGHUP: CRL $P/crl.pem expired at $ISO3: every agent" "$LOG"
	check "still refused after that SIGHUP" [ "$(status alice /api/hosts)" = 403 ]

	# The CA key encrypted (set-pass adds a passphrase), as init makes
	# it by default: the service unlocks it with the credential
	# signet-ca-pass, here in a credentials directory of our own.
	printf 'crl timer passphrase\n' >"$T_DIR/ca-pass"
	check "set-pass: the CA key encrypted" quiet "$PKI_SCRIPT" set-pass \
		--new-pass-fd 3 3<"$T_DIR/ca-pass"
	check "the CA key is encrypted" grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' \
		"$P/private/ca.key"
	check "the unit loads the credential signet-ca-pass" \
		grep -qx 'LoadCredential=signet-ca-pass' "$UNITS/signet-crl-renew.service"
	mkdir -m 0700 "$T_DIR/creds"
	install -m 0400 "$T_DIR/ca-pass" "$T_DIR/creds/signet-ca-pass"
	EXPIRED_NEXT=$(next_epoch "$P/crl.pem")
	crl_sum=$(sha256sum <"$P/crl.pem")

	# Renewal by the timer's service lets everyone back in without a
	# restart: its script, with systemctl a function that SIGHUPs.
	RENEW_ENV=(env -i PATH="$PATH" SIGNET_PKI="$P" SIGNET_CRL_DEST="$P/crl.pem"
		SIGNETCTL="$SIGNETCTL")
	# Without the credential (and no terminal: setsid) it fails and says
	# what to do; the CRL is left as it was.
	"${RENEW_ENV[@]}" setsid -w sh -euc "systemctl() { echo \"systemctl \$*\" >>'$T_DIR/systemctl.calls'; }
$(cat renew.sh)" >renew-nocred.out 2>&1
	rc=$?
	check "without the credential the service fails (rc $rc)" [ "$rc" -ne 0 ]
	check "  and says the key is encrypted" grep -q 'the CA key is encrypted' renew-nocred.out
	check "  and where the passphrase goes" grep -q '/etc/credstore/signet-ca-pass' renew-nocred.out
	check "  the CRL is unchanged, the server not reloaded" bash -c \
		"[ \"\$(sha256sum <'$P/crl.pem')\" = '$crl_sum' ] && [ ! -e '$T_DIR/systemctl.calls' ]"
	"${RENEW_ENV[@]}" CREDENTIALS_DIRECTORY="$T_DIR/creds" sh -euc "systemctl() { echo \"systemctl \$*\" >>'$T_DIR/systemctl.calls'; kill -HUP $SERVER_PID; }
$(cat renew.sh)" >renew.out 2>&1
	check "the renewal service's script succeeds" grep -q "installed $P/crl.pem" renew.out
	check "it unlocked the encrypted key with the credential (nextUpdate moved)" \
		[ "$(next_epoch "$P/crl.pem")" -gt "$EXPIRED_NEXT" ]
	check "the new CRL is signed by the CA" \
		openssl crl -in "$P/crl.pem" -CAfile "$P/ca.pem" -noout
	check "it reloads the server with try-reload-or-restart" grep -qx \
		'systemctl try-reload-or-restart signet-server.service' "$T_DIR/systemctl.calls"
	check "the renewed CRL is valid 30 days" [ $(($(next_epoch "$P/crl.pem") - $(date -u +%s))) -gt $((30 * 86400 - 120)) ]
	check "the installed CRL is mode 0644" [ "$(stat -c %a "$P/crl.pem")" = 644 ]
	check "renewed CRL + SIGHUP: operator allowed again" wait_for 10 \
		bash -c "[ \"\$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert '$P/ca.pem' --cert '$P/issued/alice.pem' --key '$P/private/alice.key' https://localhost:$API_PORT/api/hosts)\" = 200 ]"
	check "metrics after recovery: expiring 0" [ "$(metric signet_crl_expiring)" = 0 ]
	check "metrics: next update is the renewed CRL's" \
		[ "$(metric signet_crl_next_update_timestamp_seconds)" = "$(next_epoch "$P/crl.pem")" ]
	# A browser's certificate: export's PKCS#12 works with the real
	# server (curl as the browser), and only with its passphrase.
	printf 'alice browser pass\n' >"$T_DIR/p12-pass"
	check "export alice --p12" quiet "$PKI_SCRIPT" export alice \
		--p12 "$T_DIR/alice.p12" --pass-fd 3 3<"$T_DIR/p12-pass"
	check "the server takes alice's PKCS#12 (curl --cert-type P12)" [ "$(curl -sS \
		--max-time 10 --cacert "$P/ca.pem" --cert-type P12 \
		--cert "$T_DIR/alice.p12:alice browser pass" -o /dev/null -w '%{http_code}' \
		"https://localhost:$API_PORT/api/hosts")" = 200 ]
	check "not with another passphrase" bash -c "! curl -sS --max-time 10 \
		--cacert '$P/ca.pem' --cert-type P12 --cert '$T_DIR/alice.p12:wrong pass' \
		-o /dev/null https://localhost:$API_PORT/api/hosts"
	# Back to an unencrypted key (set-pass --nopass) for openssl ca below.
	check "set-pass --nopass: the CA key unencrypted again" quiet "$PKI_SCRIPT" \
		set-pass --nopass --pass-fd 3 3<"$T_DIR/ca-pass"
	# And the service with an unencrypted key and no credential.
	"${RENEW_ENV[@]}" sh -euc "systemctl() { :; }
$(cat renew.sh)" >renew-plain.out 2>&1
	check "an unencrypted key needs no credential" grep -q "installed $P/crl.pem" renew-plain.out
else
	not_ok "openssl ca -gencrl -crlsec: $(cat "$T_DIR/gencrl.log")"
fi

# ---- a server started with an expired CRL ----
if gencrl -crl_lastupdate "$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)" \
	-crl_nextupdate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"; then
	cp "$T_DIR/crl-made.pem" "$P/crl.pem"
	ISO4=$(next_iso "$P/crl.pem")
	"$PKI_SCRIPT" list >list.out 2>list.err
	check "list says the CRL EXPIRED" grep -q "warning: the CRL $P/crl.pem EXPIRED at $ISO4: the server refuses every agent, operator and auditor until it is renewed; renew it with \"signet-pki --pki $P crl\"" list.err
	kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
	write_server_conf
	timeout 20 "$SERVER_BIN" --config "$T_DIR/server.conf" >start2.log 2>&1
	rc=$?
	check "server with an expired CRL exits 1 (got $rc)" [ "$rc" -eq 1 ]
	check "startup log says why" grep -q "refusing to start: $P/crl.pem: CRL expired at $ISO4, so every client certificate would be refused; issue a new one (signet-pki crl)" start2.log
	check "nobody is served" bash -c "! curl -s --max-time 3 --cacert '$P/ca.pem' --cert '$P/issued/alice.pem' --key '$P/private/alice.key' https://localhost:$API_PORT/healthz"
else
	not_ok "openssl ca -gencrl -crl_nextupdate: $(cat "$T_DIR/gencrl.log")"
fi

[ "$T_FAIL" -eq 0 ] || { echo "--- server log"; tail -n 40 "$LOG"; }
finish
