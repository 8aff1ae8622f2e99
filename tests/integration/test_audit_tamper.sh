#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Audit log tamper and crash tests: build a real log with signed records
# and embedded envelopes, tamper with copies of it in every way an
# attacker might, and require `signetctl audit verify` to name the first
# bad line and why. Then kill a writer mid-append and check the chain.
# With --jobs 2 the output must be the one of --jobs 1, byte for byte.
. "$(dirname "$0")/lib.sh"
TOOL="$SIGNET_BUILD_DIR/tests/audit_tool"
cd "$T_DIR" || exit 1

"$SIGNETCTL" keygen --raw audit >/dev/null
"$SIGNETCTL" keygen --raw action >/dev/null
"$SIGNETCTL" keygen --raw other >/dev/null
mkdir agents && (cd agents && "$SIGNETCTL" keygen --raw web-01 >/dev/null)

verify() { "$SIGNETCTL" audit verify "$@" --key audit.pub; }

check "write 300 records with envelopes" \
	"$TOOL" append log audit.key 300 action.key agents/web-01.key web-01
out=$(verify log --action-key action.pub --agent-keys agents)
check "untouched log verifies" test $? -eq 0
check "all 300 records counted" grep -q '^ok: log: 300 records' <<<"$out"
check "30 embedded actions verified" grep -q '^actions: 30 verified' <<<"$out"
check "30 embedded results verified" grep -q '^results: 30 verified' <<<"$out"
head=$(sed -n 's/^head: //p' <<<"$out")
check "head is SEQ:HASH" grep -Eq '^299:[0-9a-f]{64}$' <<<"$head"
check "expect-head of the untouched log passes" verify log --expect-head "$head"

# One byte changed inside a record (its ts digit).
cp log t1
sed -i '100s/"ts":1/"ts":2/' t1
check "the byte change took" test "$(cmp log t1 | wc -l)" -eq 1
check_fails_with "one byte changed: line 100, signature" \
	't1:100: signature does not verify' verify t1
# One byte changed in the data of a record.
cp log t1b
sed -i '57s/"i":56/"i":65/' t1b
check_fails_with "data changed: line 57, signature" \
	't1b:57: signature does not verify' verify t1b

cp log t2 && sed -i '150d' t2
check_fails_with "record deleted: line 150, seq" \
	't2:150: seq is 150 where 149 was expected' verify t2

cp log t3 && sed -i '120{h;d};121{G}' t3
check_fails_with "two records swapped: line 120, seq" \
	't3:120: seq is 120 where 119 was expected' verify t3

cp log t4 && sed -i '50p' t4
check_fails_with "record inserted (a replayed copy): line 51" \
	't4:51: seq is 49 where 50 was expected' verify t4

cp log t5 && "$TOOL" resign t5 200 other.key
check_fails_with "record re-signed with another key: line 200" \
	't5:200: signature does not verify' verify t5

cp log t6 && head -n 280 log >t6
check "truncated log alone still verifies (a prefix)" verify t6
check_fails_with "truncation caught by --expect-head" \
	'ends before the expected head 299' verify t6 --expect-head "$head"

# Rewritten tail by someone holding the audit key: same length, new hash.
cp t6 t7 && "$TOOL" append t7 audit.key 20
check_fails_with "rewritten tail caught by --expect-head" \
	'record 299 is not the expected head' verify t7 --expect-head "$head"

# Flip the first hex digit of prev on line 10 (f becomes 0, others f).
cp log t8 && sed -i '10s/"prev":"f/"prev":"X/; 10s/"prev":"[0-9a-e]/"prev":"f/; 10s/"prev":"X/"prev":"0/' t8
check "the prev change took" test "$(cmp log t8 | wc -l)" -eq 1
check_fails_with "prev changed: line 10" 't8:10: ' verify t8

# Embedded action signed by a key that is not pinned.
mkdir wrongkeys && cp other.pub wrongkeys/action.pub
check_fails_with "embedded action under an unpinned key: line 1" \
	'log:1: embedded action: .*not pinned' \
	verify log --action-key other.pub
mkdir agents2 && cp other.pub agents2/web-01.pub
check_fails_with "embedded result under the wrong agent key: line 2" \
	'log:2: embedded result from host web-01: .*does not verify' \
	verify log --agent-keys agents2
check_fails_with "embedded result with no key for its host" \
	'log:2: embedded result from host web-01: .*no such file' \
	verify log --agent-keys wrongkeys
check_fails_with "whole log verified under the wrong audit key" \
	'log:1: signature does not verify' \
	"$SIGNETCTL" audit verify log --key other.pub
printf 'garbage\n' >t9 && cat log >>t9
check_fails_with "garbage first line" "t9:1: record does not end" verify t9
check_fails_with "--expect-head malformed" 'SEQ:HASH' \
	verify log --expect-head 12:zz
check_fails_with "missing log file" 'cannot open' verify nonexistent

# ---- crashes ----
# A writer killed mid-append (SIGKILL), several times; each restart must
# continue the chain, and a torn line must be kept and recorded.
for i in 1 2 3 4 5; do
	"$TOOL" loop crash audit.key & pid=$!
	sleep 0.$((RANDOM % 5 + 2))
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	"$TOOL" append crash audit.key 3 || not_ok "restart after kill $i"
done
check "log verifies after 5 SIGKILLs and restarts" verify crash
# A torn write made by hand: the bytes of half a record, no newline.
before=$(wc -l <crash)
printf '{"seq":99999,"ts":1,"prev":"00' >>crash
check_fails_with "torn tail is reported before restart" \
	'incomplete last line' verify crash
check "writer restarts over a torn tail" "$TOOL" append crash audit.key 1
out=$(verify crash); rc=$?
check "log verifies after the torn tail is recorded" test $rc -eq 0
check "torn write reported by verify" grep -q 'torn writes recorded: [1-9]' <<<"$out"
side=$(find . -maxdepth 1 -name 'crash.torn-*' | head -n 1)
check "torn bytes kept in a side file" test -n "$side"
check "side file holds exactly the torn bytes" \
	test "$(cat "$side" 2>/dev/null)" = '{"seq":99999,"ts":1,"prev":"00'
check "torn record and the new record appended" test "$(wc -l <crash)" -eq $((before + 2))
check "torn record names the side file" grep -q "\"saved_as\":\"$(basename "$side")\"" crash

# Concurrent writers sharing syncs.
check "8 threads x 200 records" "$TOOL" threads conc audit.key 8 200
out=$(verify conc)
check "concurrent log verifies with 1600 records" grep -q '^ok: conc: 1600 records' <<<"$out"

# --jobs N checks signatures on N threads: the output and the exit code
# are those of one thread, on good and bad logs alike.
same_jobs() {
	local what=$1 one many rc1 rcn
	shift
	one=$(verify "$@" --jobs 1 2>&1); rc1=$?
	many=$(verify "$@" --jobs 2 2>&1); rcn=$?
	if [ "$one" = "$many" ] && [ "$rc1" -eq "$rcn" ]; then
		ok "--jobs 2 prints what --jobs 1 does: $what"
	else
		not_ok "--jobs 2 prints what --jobs 1 does: $what"
		diff <(echo "$one"; echo "exit $rc1") <(echo "$many"; echo "exit $rcn")
	fi
}
same_jobs "1600 records" conc
same_jobs "1600 records, JSON" conc -o json
cp conc conc_bad && sed -i '1025s/"event":"test/"event":"tesT/' conc_bad
check "the change in line 1025 took" test "$(cmp conc conc_bad | wc -l)" -eq 1
same_jobs "1600 records, line 1025 changed" conc_bad
check_fails_with "line 1025 changed: named with --jobs 2" \
	'conc_bad:1025: signature does not verify' verify conc_bad --jobs 2
same_jobs "envelopes" log --action-key action.pub --agent-keys agents
same_jobs "envelopes, JSON" log --action-key action.pub --agent-keys agents -o json
same_jobs "a byte changed" t1 --action-key action.pub --agent-keys agents
same_jobs "a record deleted" t2
same_jobs "re-signed by another key" t5
same_jobs "prev changed" t8
same_jobs "truncated, --expect-head" t6 --expect-head "$head"
same_jobs "rewritten tail, --expect-head" t7 --expect-head "$head"
same_jobs "embedded result under the wrong key" log --agent-keys agents2
same_jobs "torn writes recorded" crash
same_jobs "a missing file" nonexistent
check_fails_with "--jobs 0 refused" 'give 1 to 64' verify log --jobs 0
check_fails_with "--jobs x refused" 'give 1 to 64' verify log --jobs x

# A second process cannot write the same log.
"$TOOL" loop busy audit.key & pid=$!
# The writer holds its lock once it has written: wait for that, not a time.
for _ in $(seq 1 100); do [ -s busy ] && break; sleep 0.1; done
check_fails_with "second writer refused" 'another writer' "$TOOL" append busy audit.key 1
kill -9 "$pid"; wait "$pid" 2>/dev/null

# Logs writable by others, or continued with another key, are refused.
cp log loose && chmod 0666 loose
check_fails_with "group/other-writable log refused" 'not writable by group' \
	"$TOOL" append loose audit.key 1
cp log other_chain && chmod 0600 other_chain
check_fails_with "continuing a chain with another key refused" \
	'not signed by this writer' "$TOOL" append other_chain other.key 1

finish
