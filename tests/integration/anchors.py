#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Checks the cross-anchored heads between one server log and one agent
log (docs/protocol.md#cross-anchored-heads), independently of signetctl:
every server_head inside an action the agent recorded names a line of the
server log, and every agent_head (in a result the server recorded, or in
agent.connected) a line of the agent log. Prints the counts; exits 1 when
a head names no such line or when none of either kind was found."""
import base64
import hashlib
import json
import sys


def lines_by_seq(path):
    """{seq: sha256 hex of the line without its newline}."""
    out = {}
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\n")
            rec = json.loads(line)
            out[rec["seq"]] = hashlib.sha256(line).hexdigest()
    return out


def records(path):
    with open(path, "rb") as f:
        for raw in f:
            yield json.loads(raw)


def payload(env):
    return json.loads(base64.b64decode(env["payload"]))


def check(head, other, what, bad):
    seq, _, want = head.partition(":")
    got = other.get(int(seq))
    if got != want:
        bad.append(f"{what}: {head} but the line at {seq} hashes to {got}")


def main():
    server_log, agent_log = sys.argv[1], sys.argv[2]
    server, agent = lines_by_seq(server_log), lines_by_seq(agent_log)
    bad, n_server, n_agent = [], 0, 0
    for rec in records(agent_log):
        env = rec["data"].get("action")
        if isinstance(env, dict) and "server_head" in payload(env):
            n_server += 1
            check(payload(env)["server_head"], server,
                  f"agent seq {rec['seq']} {rec['event']}", bad)
    for rec in records(server_log):
        heads = []
        if rec["event"] == "agent.connected" and "agent_head" in rec["data"]:
            heads.append(rec["data"]["agent_head"])
        env = rec["data"].get("result")
        if isinstance(env, dict) and "agent_head" in payload(env):
            heads.append(payload(env)["agent_head"])
        for h in heads:
            n_agent += 1
            check(h, agent, f"server seq {rec['seq']} {rec['event']}", bad)
    print(f"server heads in the agent log: {n_server}; "
          f"agent heads in the server log: {n_agent}")
    for b in bad:
        print("MISMATCH " + b)
    return 1 if bad or n_server == 0 or n_agent == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
