#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: dockerd
# Issue 4 end to end, with the real parts: a PKI from signet-pki, the real
# signet-server and signet-agent over TLS on loopback, the private dockerd
# with busybox containers. The agent shows as connected with its versions;
# containers created, started, stopped and removed show in the API within
# 2 s; a killed agent shows disconnected and comes back; the agent returns
# after a server restart; 1,000 containers are reported whole; the auditor
# reads everything; both audit logs verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
need_docker
cd "$T_DIR" || exit 1

make_pki || { not_ok "PKI"; finish; exit 1; }
write_server_conf
cat >"$T_DIR/policy.json" <<'JSON'
{ "host_id": "web-01",
  "rules": [ { "match": { "name": "e2e-*" }, "actions": ["RESTART"], "accept_relay_signed": true } ] }
JSON
chmod 0644 "$T_DIR/policy.json"
write_agent_conf web-01 "$T_DIR/policy.json"
check "server starts" start_server
start_agent web-01

connected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["host_id"]=="web-01" and h["connected"]]' | grep -q web-01; }
check "agent web-01 connects within 10 s" wait_for 10 connected
hosts=$(api_get /api/hosts)
check "hosts shows the agent version" test -n "$(pyq '[h["agent_version"] for h in d["hosts"]][0]' <<<"$hosts")"
dv=$(docker version --format '{{.Server.Version}}')
check "hosts shows dockerd's version $dv" test "$(pyq '[h["docker_version"] for h in d["hosts"]][0]' <<<"$hosts")" = "$dv"
check "hosts shows the certificate expiry" grep -q '"cert_not_after": *"20' <<<"$(pyq 'd["hosts"][0]' <<<"$hosts")"

# Lifecycle of a real container, seen through the API within 2 s each.
state_of() { api_get "/api/containers?host=web-01" | pyq "[c['state'] for c in d['containers'] if '/$1' in c['names']]"; }
has_state() { [ "$(state_of "$1")" = "[\"$2\"]" ]; }
gone() { [ "$(state_of "$1")" = "[]" ]; }
cid=$(docker create --network none --stop-timeout 1 --name e2e-web \
	--label tier=frontend --label team=blue "$SIGNET_TEST_IMAGE" sleep 100000)
check "created container appears within 2 s" wait_for 2 has_state e2e-web created
row=$(api_get "/api/containers/${cid:0:12}")
check "row by 12-hex prefix has the full id" test "$(pyq 'd["id"]' <<<"$row")" = "$cid"
check "row has host_id" test "$(pyq 'd["host_id"]' <<<"$row")" = web-01
check "row has the image" test "$(pyq 'd["image"]' <<<"$row")" = "$SIGNET_TEST_IMAGE"
check "row has the labels" test "$(pyq 'd["labels"]["tier"]+","+d["labels"]["team"]' <<<"$row")" = frontend,blue
docker start "$cid" >/dev/null
check "started container shows running within 2 s" wait_for 2 has_state e2e-web running
check "state filter finds it" bash -c "curl -sS --fail --cacert $SIGNET_PKI/ca.pem --cert $SIGNET_PKI/issued/alice.pem --key $SIGNET_PKI/private/alice.key 'https://localhost:$API_PORT/api/containers?state=running' | grep -q $cid"
docker stop "$cid" >/dev/null
check "stopped container shows exited within 2 s" wait_for 2 has_state e2e-web exited
docker rm "$cid" >/dev/null
check "removed container disappears within 2 s" wait_for 2 gone e2e-web

# The auditor reads everything.
check "auditor reads hosts" quiet api_get /api/hosts carol
check "auditor reads containers" quiet api_get /api/containers carol
check "auditor reads the audit log" quiet api_get "/api/audit?after=0&limit=5" carol
out=$(SIGNET_SERVER="https://localhost:$API_PORT" SIGNET_CA="$SIGNET_PKI/ca.pem" \
	SIGNET_CERT="$SIGNET_PKI/issued/carol.pem" SIGNET_KEY="$SIGNET_PKI/private/carol.key" \
	"$SIGNETCTL" hosts)
check "signetctl hosts shows web-01 connected" grep -Eq '^web-01 +yes ' <<<"$out"

# A killed agent shows disconnected, and reconnects after a restart.
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
disconnected() { api_get /api/hosts | pyq '[h for h in d["hosts"] if h["host_id"]=="web-01" and not h["connected"]]' | grep -q web-01; }
check "killed agent shows disconnected within 10 s" wait_for 10 disconnected
start_agent web-01
check "restarted agent reconnects within 10 s" wait_for 10 connected

# The agent comes back after the server restarts (backoff starts at 1 s).
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "server restarts" start_server
check "agent reconnects to the restarted server within 15 s" wait_for 15 connected

# 1,000 containers, reported whole.
seq 1 1000 | xargs -P 8 -I{} docker create --network none --name "e2e-bulk-{}" \
	--label bulk=yes "$SIGNET_TEST_IMAGE" sleep 1 >/dev/null
count_bulk() { api_get "/api/containers?host=web-01" | pyq 'len([c for c in d["containers"] if c["labels"].get("bulk")=="yes"])'; }
all_there() { [ "$(count_bulk)" = 1000 ]; }
check "1,000 containers reported whole within 30 s" wait_for 30 all_there
check "host container_count is 1000+" test "$(api_get /api/hosts | pyq 'd["hosts"][0]["container_count"]')" -ge 1000
docker ps -aq --filter label=bulk=yes | xargs -r -n 100 docker rm -f >/dev/null

# Both audit logs verify; the server's holds the connections.
kill "$AGENT_PID" "$SERVER_PID"; wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null
out=$("$SIGNETCTL" audit verify "$T_DIR/server-audit.log" --key "$SIGNET_PKI/keys/audit.pub")
check "server audit log verifies" test $? -eq 0
check "server audit log records agent.connected" grep -q '"event":"agent.connected"' "$T_DIR/server-audit.log"
check "server audit log records agent.disconnected" grep -q '"event":"agent.disconnected"' "$T_DIR/server-audit.log"
out=$("$SIGNETCTL" audit verify "$T_DIR/agent-web-01-audit.log" --key "$SIGNET_PKI/keys/agents/web-01.pub")
check "agent audit log verifies" test $? -eq 0
check "agent audit log records agent.started" grep -q '"event":"agent.started"' "$T_DIR/agent-web-01-audit.log"
finish
