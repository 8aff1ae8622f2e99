#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# [audit] mirror with the real signet-server, in a private mount
# namespace where tests/integration/mirror_sink.py's datagram socket is
# bind-mounted over /run/systemd/journal/socket (mirror = journal) or
# /dev/log (mirror = syslog): every record of the signed log arrives, once
# durable, with its priority and fields; a mirror with nobody listening
# fails no append; a bad mirror value is refused at start with FILE:LINE
# (server and agent); the real agent's records carry SIGNET_HOST_ID.
# With audit_tool: a record of 60,000 bytes goes whole
# to journald and cut with a marker to syslog, an agent's records carry
# SIGNET_HOST_ID, and the audit.torn_tail record audit_open writes is
# mirrored at err.
if [ "${SIGNET_MIRROR_NS:-}" != 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root (a private mount namespace)"; exit 77
	fi
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "SKIP: cannot make a private mount namespace (unshare -m failed)"
		exit 77
	fi
	SIGNET_MIRROR_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay.sh"
SIM="$SIGNET_BUILD_DIR/tests/agent_sim"
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
SINK="$SIGNET_SOURCE_DIR/tests/integration/mirror_sink.py"
for tool in openssl curl python3 mount mknod; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
if [ ! -x "$SERVER_BIN" ] || [ ! -x "$SIM" ] || [ ! -x "$TOOL" ]; then
	echo "signet-server, agent_sim or audit_tool not built"; exit 1
fi
cd "$T_DIR" || exit 1
SIM_PID="" SINK_PID=""
cleanup_all() {
	local p
	for p in "$SIM_PID" "$SINK_PID" "${R_PIDS[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for p in "$SIM_PID" "$SINK_PID" "${R_PIDS[@]}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	t_cleanup
}
trap cleanup_all EXIT

# ---- the namespace's own /run/systemd/journal/socket and /dev/log ----
# Each path is made to exist in this namespace only (a tmpfs over its
# directory), so that a socket can be bind-mounted over it.
JSOCK=/run/systemd/journal/socket
if [ ! -e "$JSOCK" ]; then
	d=/run/systemd; [ -d "$d" ] || d=/run
	if ! { mount -t tmpfs -o mode=0755 signet-test-run "$d" &&
		mkdir -p "${JSOCK%/*}" && : >"$JSOCK"; }; then
		echo "SKIP: cannot make $JSOCK in the namespace"; exit 77
	fi
fi
if [ ! -e /dev/log ]; then
	# A fresh /dev with the nodes the daemons and the shell use.
	if ! { mount -t tmpfs -o mode=0755 signet-test-dev /dev &&
		mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 &&
		mknod -m 666 /dev/full c 1 7 && mknod -m 666 /dev/random c 1 8 &&
		mknod -m 666 /dev/urandom c 1 9 &&
		ln -s /proc/self/fd /dev/fd && : >/dev/log; }; then
		echo "SKIP: cannot make /dev/log in the namespace"; exit 77
	fi
fi

# start_sink KIND TARGET OUT: the sink's socket, bind-mounted over TARGET.
start_sink() {
	local kind=$1 target=$2 out=$3 sock="$T_DIR/$1.sock"
	: >"$out"
	python3 "$SINK" "$kind" "$sock" "$out" &
	SINK_PID=$!
	wait_for 10 test -S "$sock" || return 1
	mount --bind "$sock" "$target"
}
stop_sink() {
	umount "$1" 2>/dev/null
	kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=""
}

make_pki || { not_ok "pki setup"; finish; exit 1; }
P=$SIGNET_PKI
write_server_conf
A=server-audit.log
cp server.conf base.conf

# ---- a bad value is refused at start, naming file and line ----
cp base.conf bad.conf && echo 'mirror = journald' >>bad.conf
line=$(grep -n '^mirror' bad.conf | cut -d: -f1)
check_fails_with "server: mirror = journald refused with FILE:LINE" \
	"bad.conf:$line: mirror: \"journald\" is not none, journal or syslog" \
	"$SERVER_BIN" --config bad.conf
"$SERVER_BIN" --config bad.conf >/dev/null 2>&1
check "... exit 2" test $? -eq 2
check "... no audit log written" test ! -e "$A"
DOCKER_HOST=unix:///nonexistent write_agent_conf web-01 /nonexistent.policy
echo 'mirror = Syslog' >>agent-web-01.conf
line=$(grep -n '^mirror' agent-web-01.conf | cut -d: -f1)
check_fails_with "agent: mirror = Syslog refused with FILE:LINE" \
	"agent-web-01.conf:$line: mirror: \"Syslog\" is not none, journal or syslog" \
	"$AGENT_BIN" --config agent-web-01.conf

# ---- nobody listening: appends go on, the failure is logged once ----
cp base.conf server.conf && echo 'mirror = journal' >>server.conf
t0=$SECONDS
start_server || { not_ok "server with a dead journal socket started"; finish; exit 1; }
for _ in 1 2 3; do api_get /api/hosts >/dev/null; done
curl -s --max-time 5 --cacert "$P/ca.pem" "https://localhost:$API_PORT/api/hosts" >/dev/null
api_get /metrics >m.txt
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "dead journal: failures counted in /metrics (server.started and the refusal)" \
	test "$(sed -n 's/^signet_audit_mirror_failures_total //p' m.txt)" -ge 2
check "dead journal: records still written" \
	grep -q '"event":"server.stopped"' "$A"
check "dead journal: the failure logged" \
	grep -q 'audit mirror to journald failed: seq=0 ' server.log
# Once a minute at most: once, unless this phase took over a minute.
check "dead journal: logged once a minute at most" \
	test "$(grep -c 'audit mirror to journald failed' server.log)" -le \
	$((1 + (SECONDS - t0) / 60))
mv "$A" dead-audit.log

# run_server MODE: a server mirroring to MODE; an agent, three actions, a
# refused client, a rotation, a stop. The log's files in FILES.
ID=cccccccccccc3333333333333333333333333333333333333333333333333333
printf '{"type":"inventory","containers":[{"id":"%s","names":["/db-c"],"image":"busybox:1","state":"running","status":"Up","labels":{},"created":1700000000}]}\n' "$ID" >inv.json
host_up() { api_get /api/hosts 2>/dev/null | grep -q '"connected":true'; }
has_rotated() { ls "$A".[0-9]* >/dev/null 2>&1; }
run_server() {
	rm -f "$A" "$A".[0-9]*
	cp base.conf server.conf && echo "mirror = $1" >>server.conf
	start_server || return 1
	"$SIM" --url "wss://localhost:$AGENT_PORT" --ca "$P/ca.pem" --pki "$P" \
		--name web-01 --inventory inv.json --action-pub "$P/keys/action.pub" \
		--answer SUCCESS >sim.out 2>&1 &
	SIM_PID=$!
	wait_for 10 host_up || return 1
	for i in 1 2 3; do
		api_post "/api/containers/$ID/actions" \
			"{\"action\":\"RESTART\",\"reason\":\"mirror $i\"}" >post.out
	done
	curl -s --max-time 5 --cacert "$P/ca.pem" "https://localhost:$API_PORT/api/hosts" >/dev/null
	kill -USR1 "$SERVER_PID"
	wait_for 5 has_rotated || return 1
	kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=""
	kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
	mapfile -t FILES < <(ls "$A".[0-9]*; echo "$A")
	cat "${FILES[@]}" >all.log
}

# compare KIND OUT: every record of all.log arrived once in OUT with its
# priority (as `signetctl audit export` names it, auth.rejected warning).
compare() {
	"$SIGNETCTL" audit export "${FILES[@]}" --key "$P/keys/audit.pub" >e.jsonl &&
	python3 - "$1" all.log e.jsonl "$2" <<'PY'
import json, re, sys
kind, log, exp, out = sys.argv[1:5]
lines = open(log, encoding="utf-8").read().splitlines()
sev = [json.loads(l)["severity"] for l in open(exp, encoding="utf-8")]
num = {"crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6}
got = [json.loads(l) for l in open(out, encoding="utf-8")]
assert len(got) == len(lines), (len(got), len(lines))
seen = {}
for g in got:
    if kind == "journal":
        f = g["fields"]
        rec = json.loads(f["MESSAGE"])
        assert f["SIGNET_SEQ"] == str(rec["seq"]), f
        assert f["SIGNET_EVENT"] == rec["event"], f
        assert f["SIGNET_ACTOR"] == rec["actor"], f
        assert f["SYSLOG_IDENTIFIER"] == "signet-server", f
        assert f["SYSLOG_FACILITY"] == "10", f
        assert "SIGNET_HOST_ID" not in f, f
        prio = int(f["PRIORITY"])
        seen[rec["seq"]] = (f["MESSAGE"], prio)
    else:
        m = re.match(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d signet-server\[\d+\]: (.*)$",
                     g["text"], re.S)
        assert m, g["text"][:120]
        pri = int(m.group(1))
        assert pri >> 3 == 10, pri  # LOG_AUTHPRIV
        rec = json.loads(m.group(2))
        seen[rec["seq"]] = (m.group(2), pri & 7)
for i, line in enumerate(lines):
    seq = json.loads(line)["seq"]
    assert seq in seen, seq
    assert seen[seq][0] == line, seq
    assert seen[seq][1] == num[sev[i]], (seq, seen[seq][1], sev[i])
events = {json.loads(l)["event"]: num[s] for l, s in zip(lines, sev)}
assert events["auth.rejected"] == 4 and events["server.started"] == 6, events
assert "audit.rotated" in events and "action.requested" in events, events
print("ok %d records" % len(lines))
PY
}

# ---- mirror = journal ----
start_sink journal "$JSOCK" journal.out || { not_ok "journal sink"; finish; exit 1; }
check "journal: server, agent, actions, rotation" run_server journal
out=$(compare journal journal.out 2>&1)
check "journal: every record, whole, with PRIORITY and SIGNET_* fields" \
	grep -q '^ok ' <<<"$out"
grep -q '^ok ' <<<"$out" || echo "$out" | tail -n 5

# The real agent (no dockerd needed to start, reload and stop): its
# records carry its host id. One policy reload (notice) between.
echo '{ "host_id": "web-01", "rules": [ { "match": { "name": "none-*" }, "actions": ["START"] } ] }' >policy.json
chmod 0644 policy.json
DOCKER_HOST=unix://$T_DIR/no-dockerd.sock write_agent_conf web-01 "$T_DIR/policy.json"
echo 'mirror = journal' >>agent-web-01.conf
AL=agent-web-01-audit.log
start_agent web-01
agent_event() { grep -q "\"event\":\"$1\"" "$AL" 2>/dev/null; }
check "agent: started" wait_for 10 agent_event agent.started
# A SIGHUP that comes before the agent's loop runs (after agent.started)
# is not a policy reload: send until one is recorded.
hup_reloaded() {
	kill -HUP "$AGENT_PID"; sleep 0.2; agent_event policy.reloaded
}
check "agent: policy reloaded" wait_for 10 hup_reloaded
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
python3 - journal.out "$AL" <<'PY' >agent.out 2>&1
import json, sys
got = [json.loads(l)["fields"] for l in open(sys.argv[1])]
got = [f for f in got if f.get("SYSLOG_IDENTIFIER") == "signet-agent"]
lines = open(sys.argv[2]).read().splitlines()
assert [f["MESSAGE"] for f in got] == lines, [f.get("SIGNET_EVENT") for f in got]
assert all(f["SIGNET_HOST_ID"] == "web-01" and f["SIGNET_ACTOR"] == "agent"
           for f in got), got
prio = {f["SIGNET_EVENT"]: f["PRIORITY"] for f in got}
assert prio["agent.started"] == "6" and prio["policy.reloaded"] == "5", prio
assert "agent.stopped" in prio, prio
print("ok")
PY
check "agent: every record to journald with SIGNET_HOST_ID and its priority" \
	grep -qx ok agent.out
grep -qx ok agent.out || cat agent.out

# audit_tool as an agent: a long record, and a torn tail.
"$TOOL" mirror agent.log "$P/keys/audit.key" journal web-01 60000
check "journal: a 60,000-byte record appended" test $? -eq 0
printf '{"seq":1,"ts":' >>agent.log
"$TOOL" mirror agent.log "$P/keys/audit.key" journal web-01 10
check "journal: reopened after a torn tail" test $? -eq 0
stop_sink "$JSOCK"
python3 - journal.out agent.log <<'PY' >tool.out 2>&1
import json, sys
got = [json.loads(l)["fields"] for l in open(sys.argv[1])]
got = [f for f in got if f.get("SYSLOG_IDENTIFIER") == "audit_tool"]
lines = open(sys.argv[2]).read().splitlines()
assert [f["MESSAGE"] for f in got] == lines, [f.get("SIGNET_EVENT") for f in got]
assert len(lines[0]) > 60000 and got[0]["SIGNET_EVENT"] == "agent.started"
assert all(f["SIGNET_HOST_ID"] == "web-01" for f in got)
torn = [f for f in got if f["SIGNET_EVENT"] == "audit.torn_tail"]
assert len(torn) == 1 and torn[0]["PRIORITY"] == "3" and torn[0]["SIGNET_ACTOR"] == "audit", torn
print("ok")
PY
check "journal: the long record whole, SIGNET_HOST_ID, audit.torn_tail at err" \
	grep -qx ok tool.out
grep -qx ok tool.out || cat tool.out

# ---- mirror = syslog ----
start_sink syslog /dev/log syslog.out || { not_ok "syslog sink"; finish; exit 1; }
check "syslog: server, agent, actions, rotation" run_server syslog
out=$(compare syslog syslog.out 2>&1)
check "syslog: every record, with its priority, facility authpriv" \
	grep -q '^ok ' <<<"$out"
grep -q '^ok ' <<<"$out" || echo "$out" | tail -n 5
"$TOOL" mirror agent2.log "$P/keys/audit.key" syslog web-01 60000
check "syslog: a 60,000-byte record appended" test $? -eq 0
stop_sink /dev/log
python3 - syslog.out agent2.log <<'PY' >tool.out 2>&1
import json, re, sys
got = [json.loads(l)["text"] for l in open(sys.argv[1])]
got = [t for t in got if " audit_tool[" in t]
line = open(sys.argv[2]).read().splitlines()[0]
assert len(got) == 1, len(got)
msg = got[0].split(": ", 1)[1]
m = re.search(r" \[truncated: (\d+) of (\d+) bytes; the whole record is seq 0 in the signed log\]$", msg)
assert m and int(m.group(2)) == len(line), msg[-120:]
cut = int(m.group(1))
assert msg[:cut] == line[:cut] and len(msg.encode()) < 4096, (cut, len(msg))
assert got[0].startswith("<86>"), got[0][:10]  # authpriv.info
print("ok")
PY
check "syslog: the long record cut at 4096 bytes with the marker" \
	grep -qx ok tool.out
grep -qx ok tool.out || cat tool.out

finish
