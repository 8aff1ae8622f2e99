#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The operator API over real TLS with real certificates (signet-pki), served
# by tests/tools/api_harness (the real API and server context; the registry
# is filled from a file instead of by agents): every route, the role table,
# refusals (no cert, other CA, revoked, agent), hostile requests (methods,
# bodies, traversal, long and malformed targets, slow clients), and
# signetctl hosts/containers.
. "$(dirname "$0")/lib.sh"
PKI="$SIGNET_SOURCE_DIR/pki/signet-pki"
HARNESS="$SIGNET_BUILD_DIR/tests/api_harness"
for tool in openssl curl python3 timeout; do
	command -v "$tool" >/dev/null || { echo "$tool missing"; exit 77; }
done
cd "$T_DIR" || exit 1
export SIGNET_PKI="$T_DIR/pki"

"$PKI" init "$SIGNET_PKI" --nopass >/dev/null || { not_ok "pki init"; finish; exit 1; }
if ! { "$PKI" server relay --dns localhost --ip 127.0.0.1 >/dev/null &&
	"$PKI" operator alice >/dev/null &&
	"$PKI" auditor carol >/dev/null &&
	"$PKI" agent web-01 >/dev/null &&
	"$PKI" operator mallory >/dev/null &&
	"$PKI" operator dave >/dev/null &&
	pki_revoke_keep "$PKI" mallory >/dev/null &&
	"$PKI" init "$T_DIR/other" --nopass >/dev/null &&
	SIGNET_PKI="$T_DIR/other" "$PKI" operator eve >/dev/null; }; then
	not_ok "pki setup"; finish; exit 1
fi
CA=$SIGNET_PKI/ca.pem

# Two hosts from a file (one offline; two ids sharing a 12-digit prefix;
# a non-ASCII status), and 1,000 generated containers on bulk-01.
ID_A=aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111
ID_B=aaaaaaaaaaaa2222222222222222222222222222222222222222222222222222
ID_C=cccccccccccc3333333333333333333333333333333333333333333333333333
ID_D=dddddddddddd4444444444444444444444444444444444444444444444444444
ID_E=eeeeeeeeeeee5555555555555555555555555555555555555555555555555555
row() { # id name image state status
	printf '{"id":"%s","names":["/%s"],"image":"%s","state":"%s","status":"%s","labels":{"tier":"web"},"created":1700000000}' \
		"$1" "$2" "$3" "$4" "$5"
}
cat >inventory.json <<EOF
{"hosts":[
 {"host_id":"web-01","connected":true,"agent_version":"0.1.0","docker_version":"20.10.24","cert_not_after":1900000000,
  "containers":[$(row $ID_A web-a nginx:1 running "Up 2 hours"),
                $(row $ID_B web-b nginx:1 exited "Exited (0) 3 hours ago"),
                $(row $ID_C db-c postgres:15 running "Up 3 days (h\u00e9althy)")]},
 {"host_id":"web-02","connected":false,"agent_version":"0.1.0","docker_version":"20.10.24","cert_not_after":1900000000,
  "containers":[$(row $ID_D cache-d redis:7 paused "Up 1 hour (Paused)"),
                $(row $ID_E job-e busybox:1 created "Created")]}
]}
EOF

HPID=
stop_harness() {
	if [ -n "$HPID" ]; then
		kill -TERM "$HPID" 2>/dev/null
		wait "$HPID"
		HRC=$?
		HPID=
	fi
}
trap 'stop_harness; t_cleanup' EXIT

"$HARNESS" --ca "$CA" --crl "$SIGNET_PKI/crl.pem" \
	--cert "$SIGNET_PKI/issued/relay.pem" --key "$SIGNET_PKI/private/relay.key" \
	--audit-key "$SIGNET_PKI/keys/audit.key" --audit-log "$T_DIR/audit.log" \
	--inventory inventory.json --generate bulk-01:1000 --audit-records 250 \
	>harness.out 2>harness.err &
HPID=$!
for _ in $(seq 1 100); do
	grep -q '^ready ' harness.out 2>/dev/null && break
	sleep 0.1
done
PORT=$(awk '/^ready /{print $2}' harness.out)
if [ -z "$PORT" ]; then
	not_ok "harness started: $(tail -5 harness.err)"
	finish
	exit 1
fi
U="https://localhost:$PORT"

# req WHO PATH [curl args]: body in $T_DIR/body, headers in $T_DIR/hdr,
# prints the status. WHO: a PKI name, "eve" (other CA) or "none".
req() {
	local who=$1 path=$2 certs=(); shift 2
	case $who in
	none) ;;
	eve) certs=(--cert "$T_DIR/other/issued/eve.pem" --key "$T_DIR/other/private/eve.key") ;;
	*) certs=(--cert "$SIGNET_PKI/issued/$who.pem" --key "$SIGNET_PKI/private/$who.key") ;;
	esac
	curl -sS --max-time 30 --cacert "$CA" "${certs[@]}" -D "$T_DIR/hdr" \
		-o "$T_DIR/body" -w '%{http_code}' "$@" "$U$path" 2>"$T_DIR/curl.err"
}
body() { cat "$T_DIR/body"; }
# jsonq EXPR [FILE]: the Python expression EXPR over d, the JSON document
# in FILE (or stdin); prints strings as they are, the rest as JSON.
jsonq() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$@"
}
# expect NAME STATUS WHO PATH [curl args]: status and a JSON body.
expect() {
	local name=$1 want=$2 got; shift 2
	got=$(req "$@")
	if [ "$got" = "$want" ] && { [ "$2" = /metrics ] ||
	    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
	    "$T_DIR/body" 2>/dev/null; }; then
		ok "$name"
	else
		not_ok "$name (status $got, wanted $want: $(head -c 300 "$T_DIR/body") $(cat "$T_DIR/curl.err"))"
	fi
}
# jscheck NAME EXPR: EXPR (Python, d = the last body) is true.
jscheck() {
	local name=$1 expr=$2
	if [ "$(jsonq "$expr" "$T_DIR/body" 2>&1)" = true ]; then ok "$name"
	else not_ok "$name ($expr on $(head -c 300 "$T_DIR/body"))"; fi
}

# ---- routes ----
expect "GET /api/hosts as operator" 200 alice /api/hosts
jscheck "hosts list shape" '[h["host_id"] for h in d["hosts"]] == ["bulk-01", "web-01", "web-02"]'
jscheck "hosts carry every field" 'all(set(h) == {"host_id", "connected", "connected_at", "last_seen", "agent_version", "docker_version", "container_count", "cert_not_after", "cert_days_left", "replica"} and h["replica"] == "" for h in d["hosts"])'
jscheck "cert_days_left: whole days to cert_not_after (2030-03-17T17:46:40Z)" 'all(h["cert_not_after"] == "2030-03-17T17:46:40.000Z" and h["cert_days_left"] in ((1900000000 - int(__import__("time").time())) // 86400, (1900000000 - int(__import__("time").time())) // 86400 + 1) for h in d["hosts"] if h["host_id"].startswith("web-"))'
jscheck "offline host shown as such" 'd["hosts"][2]["connected"] is False and d["hosts"][1]["connected"] is True and d["hosts"][1]["container_count"] == 3'
check "JSON content type" grep -qi '^content-type: application/json' "$T_DIR/hdr"

expect "GET /api/containers" 200 alice /api/containers
jscheck "all 1,005 containers returned" 'len(d["containers"]) == 1005'
jscheck "all 1,000 generated containers returned" 'len({c["id"] for c in d["containers"] if c["host_id"] == "bulk-01"}) == 1000'
jscheck "container rows carry id, host_id, names, image, state, status, labels" 'all({"id", "host_id", "names", "image", "state", "status", "labels"} <= set(c) for c in d["containers"])'
expect "containers ?host=web-01" 200 alice '/api/containers?host=web-01'
jscheck "host filter" 'len(d["containers"]) == 3 and all(c["host_id"] == "web-01" for c in d["containers"])'
expect "containers ?state=exited" 200 alice '/api/containers?state=exited'
jscheck "state filter" 'len(d["containers"]) == 334 and all(c["state"] == "exited" for c in d["containers"])'
expect "containers ?host=&state=" 200 carol '/api/containers?host=web-01&state=running'
jscheck "both filters" '[c["id"] for c in d["containers"]] == ["'$ID_C'", "'$ID_A'"]'
expect "unknown host filters to nothing" 200 alice '/api/containers?host=nosuch'
jscheck "empty list" 'd == {"containers": []}'
expect "bad host parameter" 400 alice '/api/containers?host=Web_01!'
expect "unknown state" 400 alice '/api/containers?state=sleeping'
expect "unknown query parameter" 400 alice '/api/containers?hots=web-01'
expect "parameter given twice" 400 alice '/api/containers?host=web-01&host=web-02'
expect "empty query item" 400 alice '/api/containers?host=web-01&'

expect "container by full id" 200 alice "/api/containers/$ID_C"
jscheck "container object" 'd["id"] == "'$ID_C'" and d["host_id"] == "web-01" and d["names"] == ["/db-c"] and d["labels"] == {"tier": "web"}'
expect "container by unique prefix" 200 alice "/api/containers/aaaaaaaaaaaa1"
jscheck "prefix found the right one" 'd["id"] == "'$ID_A'"'
expect "container on an offline host" 200 carol "/api/containers/dddddddddddd"
expect "ambiguous prefix" 409 alice /api/containers/aaaaaaaaaaaa
jscheck "ambiguous prefix says so" '"more than one" in d["error"]'
expect "unknown container" 404 alice /api/containers/bbbbbbbbbbbb
expect "prefix too short" 400 alice /api/containers/aaaaaaaaaaa
expect "upper-case id" 400 alice /api/containers/AAAAAAAAAAAA
expect "not hex" 400 alice /api/containers/zzzzzzzzzzzz
expect "id too long" 400 alice "/api/containers/${ID_A}0"

expect "audit first page" 200 alice /api/audit
jscheck "default limit 100 from seq 0" '[r["seq"] for r in d["records"]] == list(range(100)) and d["records"][0]["event"] == "server.started"'
jscheck "records are parsed objects" 'all(list(r) == ["seq", "ts", "prev", "event", "actor", "data", "sig"] and isinstance(r["data"], dict) for r in d["records"])'
expect "audit next page" 200 carol '/api/audit?after=99&limit=1000'
jscheck "rest of the log" '[r["seq"] for r in d["records"]] == list(range(100, 251))'
expect "audit after the head" 200 alice '/api/audit?after=250'
jscheck "nothing after the head" 'd == {"records": []}'
expect "audit small page" 200 alice '/api/audit?after=17&limit=3'
jscheck "three records after 17" '[r["seq"] for r in d["records"]] == [18, 19, 20]'
expect "audit limit 0" 400 alice '/api/audit?limit=0'
expect "audit limit over 1000" 400 alice '/api/audit?limit=1001'
expect "audit after negative" 400 alice '/api/audit?after=-1'
expect "audit after not a number" 400 alice '/api/audit?after=12abc'
expect "audit after huge" 400 alice '/api/audit?after=99999999999999999999'
expect "audit unknown parameter" 400 alice '/api/audit?from=3'

expect "healthz" 200 alice /healthz
jscheck "healthz body" 'd == {"status": "ok"}'
expect "healthz with query" 400 alice '/healthz?x=1'
expect "metrics" 200 carol /metrics
check "metrics is Prometheus text" grep -qi '^content-type: text/plain; version=0.0.4' "$T_DIR/hdr"
for fam in signet_api_requests_total signet_api_auth_failures_total \
    signet_api_errors_total signet_hosts_known signet_agents_connected \
    signet_inventory_containers signet_crl_next_update_timestamp_seconds; do
	check "metrics has $fam" grep -q "^# TYPE $fam " "$T_DIR/body"
done
check "metrics counts 1,005 containers" grep -q '^signet_inventory_containers 1005$' "$T_DIR/body"
expect "unknown path" 404 alice /api/nothing
expect "root" 404 alice /

# ---- identities and roles ----
expect "no client certificate" 401 none /api/hosts
expect "no client certificate on healthz" 401 none /healthz
expect "certificate of another CA" 403 eve /api/hosts
jscheck "other CA named" '"not issued by the signet CA" in d["error"]'
expect "revoked operator" 403 mallory /api/hosts
jscheck "revocation named" '"revoked" in d["error"]'
expect "agent on /api/hosts" 403 web-01 /api/hosts
jscheck "agent refusal says why" '"role agent" in d["error"]'
expect "agent on /api/containers" 403 web-01 /api/containers
expect "agent on /api/audit" 403 web-01 /api/audit
expect "agent on an unknown path" 403 web-01 /api/nothing
expect "agent on /healthz" 200 web-01 /healthz
expect "agent on /metrics" 200 web-01 /metrics
for p in /api/hosts /api/containers "/api/containers/$ID_A" /api/audit /healthz /metrics; do
	expect "auditor may GET $p" 200 carol "$p"
done
req alice /metrics >/dev/null
check "refusals counted: no cert" grep -q '^signet_api_auth_failures_total{reason="no_cert"} 2$' "$T_DIR/body"
check "refusals counted: certificate" grep -q '^signet_api_auth_failures_total{reason="cert_refused"} 2$' "$T_DIR/body"
check "refusals counted: role" grep -q '^signet_api_auth_failures_total{reason="forbidden"} 4$' "$T_DIR/body"
# ... and audited, each with who and why (auth.rejected, listener api).
if python3 - "$T_DIR/audit.log" <<'EOF'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rej = [r["data"] for r in recs if r["event"] == "auth.rejected"]
assert all(d["listener"] == "api" and d["peer"] and d["target"] for d in rej), rej
# "peer" is ADDR:PORT, as the agent hub writes it (common/netaddr).
assert all(re.fullmatch(r"127\.0\.0\.1:[0-9]{1,5}", d["peer"]) for d in rej), rej
by = lambda why: [d for d in rej if d["reason"] == why]
assert len(by("no_cert")) == 2 and all(d["status"] == 401 and "name" not in d for d in by("no_cert")), rej
cert = by("cert_refused")
assert len(cert) == 2 and all(d["status"] == 403 for d in cert), cert
assert any("not issued by the signet CA" in d["error"] for d in cert), cert
assert any("revoked" in d["error"] for d in cert), cert
role = by("forbidden")
assert len(role) == 4 and all(d["name"] == "web-01" and d["role"] == "agent" and "role agent" in d["error"] for d in role), role
assert {d["target"] for d in role} == {"/api/hosts", "/api/containers", "/api/audit", "/api/nothing"}, role
EOF
then ok "refusals audited: no cert, certificate, role"; else not_ok "refusals audited"; fi

# ---- hostile requests ----
for m in POST PUT DELETE PATCH; do
	expect "$m /api/hosts refused" 405 alice /api/hosts -X "$m"
	check "$m answer names GET in Allow" grep -qi '^allow: GET' "$T_DIR/hdr"
done
expect "POST with a body refused" 405 alice /api/containers -X POST -d '{"a":1}'
got=$(req alice /api/hosts -I)
check "HEAD refused (status $got)" test "$got" = 405
expect "unauthenticated POST gets 401 first" 401 none /api/hosts -X POST
expect "GET with a body" 400 alice /api/hosts -X GET -d 'hello'
expect "GET with a chunked body" 400 alice /api/hosts -X GET -H 'Transfer-Encoding: chunked' -d 'hello'
head -c 4000000 /dev/zero >big.bin
got=$(req alice /api/containers -X GET --data-binary @big.bin)
check "GET with a 4 MB body refused, not buffered (status $got)" test "$got" = 400 -o "$got" = 000
expect "server still fine after the big body" 200 alice /healthz

expect "dot-dot path" 400 alice /api/../api/hosts --path-as-is
expect "encoded dot-dot path" 400 alice /api/%2e%2e/etc/passwd --path-as-is
expect "encoded dot-dot, upper case" 400 alice /api/%2E%2E/%2E%2E/etc/passwd --path-as-is
expect "dot segment" 400 alice /api/./hosts --path-as-is
expect "double slash" 400 alice //api/hosts --path-as-is
expect "encoded slash" 400 alice /api/containers/..%2f..%2fetc --path-as-is
expect "trailing slash" 400 alice /api/hosts/ --path-as-is
expect "malformed escape in path" 400 alice '/api/ho%zzsts'
expect "truncated escape in query" 400 alice '/api/containers?host=web%2'
expect "encoded NUL in query" 400 alice '/api/containers?host=web-01%00x'
expect "query item without =" 400 alice '/api/containers?host'
long=$(head -c 1100 /dev/zero | tr '\0' a)
expect "path over 1024 bytes" 414 alice "/api/$long"
expect "query over 1024 bytes" 414 alice "/api/containers?host=$long"
huge=$(head -c 100000 /dev/zero | tr '\0' a)
got=$(req alice "/api/$huge")
check "100 kB target refused by the server (status $got)" test "$got" = 414 -o "$got" = 431 -o "$got" = 400
expect "percent-encoded unreserved letters are fine" 200 alice '/api/%68osts'

# Requests that are not HTTP as RFC 9112 has it: the HTTP layer answers
# them itself (docs/http-api.md, "Requests the HTTP layer refuses"), with
# the status that table gives, and closes the connection; every such row
# of the table is tried here, and the table must list what was seen.
# raw NAME STATUS REQUEST: REQUEST (printf escapes) sent as it is.
doc_refusals=$(sed -n '/^### Requests the HTTP layer refuses/,/^## /p' "$SIGNET_SOURCE_DIR/docs/http-api.md")
raw() {
	local name=$1 want=$2 got
	got=$(python3 - "$PORT" "$CA" "$SIGNET_PKI/issued/alice.pem" "$SIGNET_PKI/private/alice.key" "$3" <<'PY'
import socket, ssl, sys
port, ca, cert, key, req = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=30),
                    server_hostname="localhost")
s.sendall(req.encode().decode("unicode_escape").encode("latin1"))
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
head = out.split(b"\r\n", 1)[0].decode("latin1")
print(head.split(" ")[1] if head.startswith("HTTP/1.1 ") else "none:" + head[:40])
PY
)
	check "HTTP layer: $name answers $want and closes (got $got)" test "$got" = "$want"
	check "HTTP layer: $name is in docs/http-api.md" \
		grep -Fq "| $name | " <<<"$(grep -E "(\| | or )$want( or [0-9]+)? \|\$" <<<"$doc_refusals")"
}
# shellcheck disable=SC2016 # the names hold the table's backquotes
{
	raw 'HTTP/1.1 without a `Host` header' 400 'GET /healthz HTTP/1.1\r\n\r\n'
	raw 'a header line that is not `name: value`' 400 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'
	raw '`Content-Length` that is not a decimal number' 400 'POST /api/containers/x/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n'
	raw 'chunked body whose chunk size is not hexadecimal' 400 'POST /api/containers/x/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
	raw '`Content-Length` over 2^64 - 1' 413 'POST /api/containers/x/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n'
	raw 'request line or headers over 64 KiB in all' 431 "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: $(head -c 70000 /dev/zero | tr '\0' a)\r\n\r\n"
	raw 'an HTTP version other than 1.0 and 1.1' 505 'GET /healthz HTTP/9.1\r\nHost: x\r\n\r\n'
}
expect "healthy after the malformed requests" 200 alice /healthz

# A client that completes TLS and sends nothing, and one that trickles
# header lines: both cut after ~10 s while others are served meanwhile.
mkfifo idle.fifo trickle.fifo
t0=$(date +%s)
timeout 60 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" -quiet \
	<idle.fifo >idle.out 2>&1 &
idle_pid=$!
exec 4>idle.fifo                             # held open, never written
(
	printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n'
	for i in $(seq 1 12); do sleep 2; printf 'X-Slow-%d: 1\r\n' "$i"; done
	printf '\r\n'; sleep 5
) >trickle.fifo 2>/dev/null &
timeout 60 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" -quiet \
	-cert "$SIGNET_PKI/issued/alice.pem" -key "$SIGNET_PKI/private/alice.key" \
	<trickle.fifo >trickle.out 2>&1 &
trickle_pid=$!
exec 3<>"/dev/tcp/127.0.0.1/$PORT"          # plain TCP, not even TLS
sleep 2
served=0
for _ in 1 2 3; do
	[ "$(req carol /healthz)" = 200 ] && served=$((served + 1))
	sleep 1
done
check "others served while slow clients hold connections" test "$served" = 3
# The server, not the test's 60 s guard (status 124), ends them; never
# before the 10 s deadline (a lower bound only: load can but delay).
wait "$idle_pid"; idle_rc=$?
t_idle=$(( $(date +%s) - t0 ))
check "idle TLS client dropped by the server (${t_idle}s, rc $idle_rc)" test "$t_idle" -ge 8 -a "$idle_rc" != 124
wait "$trickle_pid"; trickle_rc=$?
t_trickle=$(( $(date +%s) - t0 ))
check "trickling client cut by the header deadline (${t_trickle}s, rc $trickle_rc)" test "$t_trickle" -ge 8 -a "$trickle_rc" != 124
check "trickling client got no answer" sh -c '! grep -q "HTTP/1.1 200" trickle.out'
timeout 60 cat <&3 >/dev/null; tcp_rc=$?
exec 3<&-
check "silent TCP client dropped by the server (rc $tcp_rc)" test "$tcp_rc" != 124
exec 4>&-
expect "healthy after the slow clients" 200 alice /healthz

# ---- signetctl ----
S() { "$SIGNETCTL" "$@"; }
export SIGNET_SERVER="$U" SIGNET_CA="$CA" \
	SIGNET_CERT="$SIGNET_PKI/issued/alice.pem" SIGNET_KEY="$SIGNET_PKI/private/alice.key"
out=$(S hosts); rc=$?
check "signetctl hosts exits 0" test "$rc" = 0
check "hosts table header" grep -Eq '^HOST +CONNECTED +LAST SEEN +AGENT +DOCKER +CONTAINERS +CERT EXPIRES +DAYS$' <<<"$out"
check "hosts table rows" grep -Eq '^web-02 +no +[0-9T:-]+Z +0\.1\.0 +20\.10\.24 +2 +2030-' <<<"$out"
check "hosts table has 4 lines" test "$(wc -l <<<"$out")" = 4
req alice /api/hosts >/dev/null
check "hosts --json is the server's JSON" test "$(S hosts --json)" = "$(body)"
out=$(S containers --host web-01)
check "containers table" grep -Eq '^cccccccccccc +web-01 +db-c +postgres:15 +running +Up 3 days' <<<"$out"
check "non-ASCII from the server escaped in the table" grep -q 'Up 3 days (h\\xc3\\xa9althy)' <<<"$out"
check "containers table is sorted by name" test "$(awk 'NR>1{print $3}' <<<"$out" | tr '\n' ' ')" = "db-c web-a web-b "
out=$(S containers --json); rc=$?
check "containers --json lists all 1,005" test "$rc" = 0 -a "$(jsonq 'len(d["containers"])' <<<"$out")" = 1005
check "containers table lists all 1,005" test "$(S containers | wc -l)" = 1006
out=$(S --state paused --json containers)
check "options before the command" test "$(jsonq 'd["containers"][0]["id"]' <<<"$out")" = "$ID_D"
out=$(S --server "$U" --ca "$CA" --cert="$SIGNET_PKI/issued/carol.pem" --key "$SIGNET_PKI/private/carol.key" containers --state=x 2>&1)
check "--state=x is --state x" grep -q 'server answered 400: state "x" is not one of' <<<"$out"
check_fails_with "non-2xx exits non-zero with the server's message" \
	'server answered 400: state "sleeping" is not one of' S containers --state sleeping
check_fails_with "agent certificate refused by the server" 'server answered 403: role agent' \
	S hosts --cert "$SIGNET_PKI/issued/web-01.pem" --key "$SIGNET_PKI/private/web-01.key"
check_fails_with "revoked certificate refused by the server" 'server answered 403: .*revoked' \
	S hosts --cert "$SIGNET_PKI/issued/mallory.pem" --key "$SIGNET_PKI/private/mallory.key"
check_fails_with "wrong CA for the server" "server's certificate .* is not trusted" \
	S hosts --ca "$T_DIR/other/ca.pem"
check_fails_with "nothing listening" 'cannot connect to' S hosts --server https://127.0.0.1:1
check_fails_with "plain http refused" 'is not https://' S hosts --server "http://localhost:$PORT"
check_fails_with "server URL with a path refused" 'is not https://' S hosts --server "$U/api"
cp "$SIGNET_PKI/private/alice.key" loose.key && chmod 644 loose.key
check_fails_with "client key readable by others refused" 'mode 0644' S hosts --key loose.key
out=$(env -u SIGNET_SERVER "$SIGNETCTL" hosts 2>&1); rc=$?
check "missing server is a usage error (rc $rc)" test "$rc" = 2
check "missing server named" grep -q 'give --server or set SIGNET_SERVER' <<<"$out"
out=$(env -u SIGNET_SERVER -u SIGNET_CA -u SIGNET_CERT -u SIGNET_KEY "$SIGNETCTL" \
	hosts --server "$U" --ca "$CA" --cert "$SIGNET_PKI/issued/carol.pem" \
	--key "$SIGNET_PKI/private/carol.key" --json)
check "options instead of the environment" test "$(jsonq 'len(d["hosts"])' <<<"$out")" = 3

# ---- CRL reload: a certificate revoked while the server runs ----
# dave also holds a keep-alive connection open across the reload: the
# verdict the API keeps per connection must not outlive the CRL it used.
rm -f "$T_DIR/ka.go"
python3 - "$PORT" "$CA" "$SIGNET_PKI/issued/dave.pem" "$SIGNET_PKI/private/dave.key" "$T_DIR/ka.go" >"$T_DIR/ka.out" 2>&1 <<'PY' &
import http.client, os, ssl, sys, time
port, ca, cert, key, go = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
c = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=20)
first = None
for i in range(2):
    c.request("GET", "/api/hosts"); r = c.getresponse(); r.read()
    first = first or c.sock
    print("request", i + 1, r.status, "same-connection", c.sock is first, flush=True)
for _ in range(200):
    if os.path.exists(go): break
    time.sleep(0.05)
sock = c.sock
c.request("GET", "/api/hosts"); r = c.getresponse(); r.read()
print("request 3", r.status, "same-connection", c.sock is sock, flush=True)
PY
KAPID=$!
for _ in $(seq 1 100); do grep -q '^request 2' "$T_DIR/ka.out" && break; sleep 0.1; done
check "keep-alive: dave accepted twice on one connection" grep -q '^request 2 200 same-connection True' "$T_DIR/ka.out"
pki_revoke_keep "$PKI" dave >/dev/null
expect "dave still accepted before the reload" 200 dave /api/hosts
kill -HUP "$HPID"
for _ in $(seq 1 50); do grep -q '^reloaded' harness.out && break; sleep 0.1; done
check "harness reloaded the CRL" grep -q '^reloaded' harness.out
touch "$T_DIR/ka.go"
wait "$KAPID" || true
check "keep-alive: dave refused after the reload on the connection opened before it" \
	grep -q '^request 3 403 same-connection True' "$T_DIR/ka.out"
expect "dave refused after the reload" 403 dave /api/hosts
expect "others still accepted after the reload" 200 alice /api/hosts

stop_harness
check "harness stopped cleanly (rc $HRC)" test "$HRC" = 0
check "harness log names refusals" grep -q 'reason=no_client_certificate' harness.err
finish
