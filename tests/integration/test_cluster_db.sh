#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# needs: postgres
# The cluster's database layer (server/cluster_db.c) against the real
# PostgreSQL of the fixture: every function with two replicas
# (cluster_db_tool suite: claims and fencing, hosts, the action queue and
# its leases, end rules, notifications, a broken connection and reset),
# replicas creating the schema together, and what it refuses: a conninfo
# asking for less than verify-full with a client certificate, a server
# certificate not under the given CA, a client certificate of another
# CA, a schema of another version, and hostile rows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
pg_need
cd "$T_DIR" || exit 1
TOOL="${CLUSTER_DB_TOOL:-$SIGNET_BUILD_DIR/tests/cluster_db_tool}"
PKI="$SIGNET_SOURCE_DIR/pki/signet-pki"

db=$(pg_new_db clusterdb)
check "a fresh database" test -n "$db"
c1=$(pg_conninfo "$db" r1)
c2=$(pg_conninfo "$db" r2)

# --- every function, two replicas ---------------------------------------
if "$TOOL" suite "$c1" "$c2" >suite.out 2>&1; then
	ok "cluster_db_tool suite ($(grep -c '^ok' suite.out) checks)"
else
	not_ok "cluster_db_tool suite: $(grep -v '^ok' suite.out | head -c 2000)"
fi
check "the schema recorded as version 1" \
	test "$(pg_sql "$db" 'SELECT version FROM signet_schema')" = 1

# --- docs/cluster.md prints the schema the code creates -------------------
dbd=$(pg_new_db clusterdb_docs)
# The one ```sql block of the file, without its fences.
awk '/^```sql$/ { on = 1; next } /^```$/ { on = 0 } on' \
	"$SIGNET_SOURCE_DIR/docs/cluster.md" >docs.sql
check "docs/cluster.md has the schema" test -s docs.sql
pg_sql "$dbd" "$(cat docs.sql)"
"$PG_BIN/pg_dump" -s -O -x -h "$SIGNET_PG_DIR/sock" -p "$SIGNET_PG_PORT" \
	-U postgres "$db" | grep -Ev '^(--|.(un)?restrict )' >code.dump
"$PG_BIN/pg_dump" -s -O -x -h "$SIGNET_PG_DIR/sock" -p "$SIGNET_PG_PORT" \
	-U postgres "$dbd" | grep -Ev '^(--|.(un)?restrict )' >docs.dump
check "the schema in docs/cluster.md is the one created" \
	diff -u code.dump docs.dump

# --- replicas starting together create the schema once -------------------
db2=$(pg_new_db clusterdb_race)
pids=()
for r in r1 r2 r3 r1 r2 r3; do
	"$TOOL" open "$(pg_conninfo "$db2" "$r")" >"race.$r.$RANDOM.out" 2>&1 &
	pids+=($!)
done
race_ok=1
for p in "${pids[@]}"; do wait "$p" || race_ok=0; done
check "six replicas opening at once all succeed" test "$race_ok" = 1
check "one schema row" test "$(pg_sql "$db2" 'SELECT count(*) FROM signet_schema')" = 1

# --- conninfo refusals (before any connection) ---------------------------
check_fails_with "sslmode=require refused" 'must have sslmode=verify-full' \
	"$TOOL" open "${c1/sslmode=verify-full/sslmode=require}"
check_fails_with "no sslmode refused" 'must have sslmode=verify-full' \
	"$TOOL" open "${c1/sslmode=verify-full/}"
check_fails_with "no sslkey refused" 'has no sslkey' \
	"$TOOL" open "$(printf '%s' "$c1" | sed 's/ sslkey=[^ ]*//')"
check_fails_with "no sslcert refused" 'has no sslcert' \
	"$TOOL" open "$(printf '%s' "$c1" | sed 's/ sslcert=[^ ]*//')"
check_fails_with "no sslrootcert refused" 'has no sslrootcert' \
	"$TOOL" open "$(printf '%s' "$c1" | sed 's/ sslrootcert=[^ ]*//')"
check_fails_with "a password refused" 'has a password: .*certificate only' \
	"$TOOL" open "$c1 password=secret"
check_fails_with "a password in a URI refused" 'has a password' \
	"$TOOL" open "postgresql://signet:secret@127.0.0.1:$SIGNET_PG_PORT/$db?sslmode=verify-full"
check_fails_with "an unparsable conninfo refused" 'cannot be parsed' \
	"$TOOL" open "host='unterminated"

check "the conninfo's gssencmode and application_name are overridden" \
	quiet "$TOOL" open "$c1 gssencmode=require application_name=other"

# --- TLS refusals ----------------------------------------------------------
"$PKI" init other --nopass >/dev/null &&
	"$PKI" --pki other replica r1 >/dev/null
check "another CA made" test -f other/ca.pem
check_fails_with "a server certificate not under the given CA: refused" \
	'unavailable: cannot connect.*certificate verify failed' \
	"$TOOL" open "${c1/sslrootcert=$SIGNET_PG_PKI\/ca.pem/sslrootcert=$T_DIR/other/ca.pem}"
check_fails_with "a client certificate of another CA: refused by the server" \
	'unavailable: cannot connect.*(certificate|alert)' \
	"$TOOL" open "host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$db user=signet sslmode=verify-full sslrootcert=$SIGNET_PG_PKI/ca.pem sslcert=$T_DIR/other/issued/r1.pem sslkey=$T_DIR/other/private/r1.key"

# --- a schema of another version -----------------------------------------
db3=$(pg_new_db clusterdb_version)
c3=$(pg_conninfo "$db3" r1)
check "a fresh schema" quiet "$TOOL" open "$c3"
pg_sql "$db3" 'UPDATE signet_schema SET version = 2'
check_fails_with "schema version 2 refused" \
	'holds signet schema version 2; this signet-server uses version 1' \
	"$TOOL" open "$c3"
pg_sql "$db3" 'INSERT INTO signet_schema VALUES (1)'
check_fails_with "two schema rows refused" 'holds 2 rows' "$TOOL" open "$c3"

# --- hostile rows (a compromised database) --------------------------------
db4=$(pg_new_db clusterdb_hostile)
c4=$(pg_conninfo "$db4" r1)
check "a fresh schema" quiet "$TOOL" open "$c4"
pg_sql "$db4" "ALTER TABLE signet_hosts DROP CONSTRAINT signet_hosts_host, DROP CONSTRAINT signet_hosts_inventory;
ALTER TABLE signet_actions DROP CONSTRAINT signet_actions_status, DROP CONSTRAINT signet_actions_id;
INSERT INTO signet_hosts VALUES ('h1', 'r1', 1, '{}', '[]', now())"
check "a good row lists" test "$("$TOOL" hosts "$c4")" = "h1 - 0 0 2 2"
pg_sql "$db4" "UPDATE signet_hosts SET inventory = repeat('x', 4194305)"
check_fails_with "an overlong inventory refused" \
	'host h1: .*inventory of 4194305 bytes \(at most 4194304\)' \
	"$TOOL" hosts "$c4"
pg_sql "$db4" "UPDATE signet_hosts SET inventory = '[]', host_id = E'../bad\\nhost'"
check_fails_with "an invalid host_id refused, escaped" \
	'invalid host_id "\.\./bad\\x0ahost"' "$TOOL" hosts "$c4"
pg_sql "$db4" "DELETE FROM signet_hosts;
INSERT INTO signet_claims VALUES ('h2', 'r1', 5, now(), now() + interval '1 hour');
INSERT INTO signet_hosts VALUES ('h2', 'r1', 5, NULL, NULL, now());
ALTER TABLE signet_claims DROP CONSTRAINT signet_claims_replica;
UPDATE signet_claims SET replica = 'R1!'"
check_fails_with "an invalid holder name refused" 'invalid holder "R1!"' \
	"$TOOL" hosts "$c4"
id=0123456789abcdef0123456789abcdef
pg_sql "$db4" "INSERT INTO signet_actions VALUES ('$id', 'h2', 'r1', 'WHATEVER', '', 1, 2, 3, 0, '{}', '{}', NULL)"
check_fails_with "an unknown action status refused" \
	"action $id: .*unknown action status \"WHATEVER\"" "$TOOL" get "$c4" "$id"
pg_sql "$db4" "UPDATE signet_actions SET status = 'PENDING', requested_at = -5"
check_fails_with "a negative time refused" 'requested_at "-5" out of' \
	"$TOOL" get "$c4" "$id"
pg_sql "$db4" "UPDATE signet_actions SET requested_at = 1, action_id = 'ABC' WHERE action_id = '$id'"
check_fails_with "an action row under another id: not found" 'not_found|not in the cluster' \
	"$TOOL" get "$c4" "$id"
finish
