# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# The cluster tests' shared setup (docs/cluster.md): a fresh database on
# the test suite's PostgreSQL, a PKI, and replicas of signet-server on it
# over real TLS on loopback, with the helpers to reach them. Source lib.sh,
# relay.sh and pg_lib.sh first, then call cluster_init NAME; conf REPLICA
# [KEY = VALUE...] writes a replica's configuration (extra [cluster] keys
# after the common ones), start/stop run it; cluster_policy and
# cluster_agent_conf write web-01's policy and agent configuration.
declare -A APORT HPORT SPID

# cluster_init NAME: DB (a fresh database), DB_INFO, the PKI in P (keys K).
cluster_init() {
	DB=$(pg_new_db "$1") || return 1
	DB_INFO="host=127.0.0.1 port=$SIGNET_PG_PORT dbname=$DB user=signet sslmode=verify-full connect_timeout=2"
	make_pki || return 1
	P=$SIGNET_PKI
	K=$P/keys
}

# conf NAME [LINE...]: $T_DIR/NAME.conf, replica NAME of the cluster on DB;
# each LINE (e.g. "claim_ttl_ms = 1500") replaces or adds a [cluster] key.
conf() {
	local name=$1 line key extra="" ttl="claim_ttl_ms = 3000"
	shift
	for line in "$@"; do
		key=${line%% *}
		if [ "$key" = claim_ttl_ms ]; then ttl=$line; else extra="$extra$line
"; fi
	done
	HPORT[$name]=$(free_port)
	APORT[$name]=$(free_port)
	cat >"$T_DIR/$name.conf" <<CONF
[server]
agent_listen = 127.0.0.1:${HPORT[$name]}
api_listen   = 127.0.0.1:${APORT[$name]}
[tls]
ca   = $P/ca.pem
crl  = $P/crl.pem
cert = $P/issued/localhost.pem
key  = $P/private/localhost.key
[keys]
action     = $K/action.key
audit      = $K/audit.key
agents_dir = $K/agents
[audit]
path = $T_DIR/$name-audit.log
[cluster]
database = $DB_INFO
replica = $name
sslrootcert = $SIGNET_PG_PKI/ca.pem
sslcert = $SIGNET_PG_PKI/issued/$name.pem
sslkey = $SIGNET_PG_PKI/private/$name.key
$ttl
db_timeout_ms = 1000
CONF
	printf '%s' "$extra" >>"$T_DIR/$name.conf"
}

# rget NAME PATH: GET on replica NAME's API as alice; the body.
rget() {
	curl -sS --fail --max-time 10 --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" "https://localhost:${APORT[$1]}$2"
}
# rpost NAME PATH BODY: POST on replica NAME; prints the status, the body
# in $T_DIR/body.
rpost() {
	curl -sS --max-time 130 --cacert "$P/ca.pem" --cert "$P/issued/alice.pem" \
		--key "$P/private/alice.key" -o "$T_DIR/body" -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "$3" \
		"https://localhost:${APORT[$1]}$2" 2>"$T_DIR/curl.err"
}
# start NAME: replica NAME in the background; waits for /healthz.
start() {
	"$SERVER_BIN" --config "$T_DIR/$1.conf" >>"$T_DIR/$1.log" 2>&1 &
	SPID[$1]=$!
	R_PIDS+=("${SPID[$1]}")
	wait_for 60 quiet rget "$1" /healthz && return 0
	echo "replica $1 did not come up:"; tail -n 20 "$T_DIR/$1.log"
	return 1
}
stop() { kill "${SPID[$1]}" 2>/dev/null; wait "${SPID[$1]}" 2>/dev/null; }
metric_of() {
	rget "$1" /metrics 2>/dev/null | awk -v k="$2" '$1 == k {print $2}'
}
metric_is() { [ "$(metric_of "$1" "$2")" = "$3" ]; }
body() { pyq "$1" <"$T_DIR/body"; }
running() { docker inspect -f '{{.State.Running}}' "$1"; }
status_on() { rget "$1" "/api/actions/$2" 2>/dev/null | pyq 'd["status"]'; }
status_is() { [ "$(status_on "$1" "$2")" = "$3" ]; }
# sql_is WANT SQL: the database answers SQL with WANT (asked again at each
# try of wait_for, unlike a $(...) in its arguments, evaluated once).
sql_is() { [ "$(pg_sql "$DB" "$2" 2>/dev/null)" = "$1" ]; }
# holder: the replica of web-01's live claim (empty when none).
holder() {
	pg_sql "$DB" "SELECT replica FROM signet_claims WHERE host_id='web-01' AND expires_at > now()"
}
holder_is() { [ "$(holder)" = "$1" ]; }
# event_of LOG EVENT ID: LOG holds an EVENT record of action ID.
event_of() { grep "\"event\":\"$2\"" "$T_DIR/$1-audit.log" | grep -q "\"action_id\":\"$3\""; }

# cluster_policy PATTERN: $T_DIR/policy.json, web-01's policy: START,
# STOP and RESTART of the containers named PATTERN, relay-signed accepted.
cluster_policy() {
	cat >"$T_DIR/policy.json" <<JSON
{
  "host_id": "web-01",
  "rules": [
    { "match": { "name": "$1" },
      "actions": ["START", "STOP", "RESTART"], "accept_relay_signed": true }
  ]
}
JSON
	chmod 0644 "$T_DIR/policy.json"
}

# cluster_agent_conf REPLICA...: $T_DIR/agent-web-01.conf, web-01's agent
# serving those replicas (it starts at a random one of them), redialling
# fast; docker gets 60 s before it kills (the tests' slow STOPs).
cluster_agent_conf() {
	local r urls=""
	for r in "$@"; do urls="$urls wss://localhost:${HPORT[$r]}"; done
	cat >"$T_DIR/agent-web-01.conf" <<CONF
[agent]
server        =$urls
docker_socket = ${DOCKER_HOST#unix://}
policy        = $T_DIR/policy.json
stop_timeout  = 60
reconnect_min_ms = 100
reconnect_max_ms = 1000
[tls]
ca   = $P/ca.pem
cert = $P/issued/web-01.pem
key  = $P/private/web-01.key
[keys]
action_pub = $K/action.pub
result     = $K/agents/web-01.key
[audit]
path = $T_DIR/agent-web-01-audit.log
CONF
}
