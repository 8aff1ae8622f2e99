# SPDX-License-Identifier: ISC
# signet-pki's key and bundle commands, sourced by pki/signet-pki:
# action-key (a further Ed25519 action key, to rotate the server's),
# bundle (the tar.gz of what one agent installs under /etc/signet: its
# certificate, the CA, the pinned action and roster keys, the signed
# operator roster and an agent.conf, and for a lab host whose keys were
# made in the PKI its TLS key and result key; a host enrolled by CSR
# keeps its own) and the roster commands (init, add, remove, list, sign,
# pin).
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# action-key NAME: a further action key pair, for rotating the server's.
cmd_action_key() {
	name=$1
	check_name action-key "$name"
	open_pki
	find_signetctl
	lock_pki
	for f in "keys/$name.key" "keys/$name.pub"; do
		if [ -e "$PKI/$f" ] || [ -L "$PKI/$f" ]; then
			die "action-key $name: $PKI/$f already exists;" \
			    "refusing to overwrite it"
		fi
	done
	make_tmp "$PKI"
	mkdir -- "$TMP/ed"
	keygen "$TMP/ed" "$name"
	place "$TMP/ed/$name.key" "$PKI/keys/$name.key" 600
	place "$TMP/ed/$name.pub" "$PKI/keys/$name.pub" 644
	commit
	say "wrote $PKI/keys/$name.key (action signing key, secret, mode" \
	    "0600) and $name.pub, key id $(key_id "$PKI/keys/$name.pub")"
	say "next: add keys/$name.pub as a line of every agent's pinned" \
	    "action_pub file and restart the agents; then make" \
	    "keys/$name.key the server's [keys] action and restart it;" \
	    "then remove the old key's line from the agents (pki/README.md)"
}

# check_pubset FILE: FILE holds 1 to 8 Ed25519 public keys, one a line
# (blank and '#' lines aside), as the agent's action_pub wants; above all
# never a secret key, which is 64 bytes, not 32.
check_pubset() {
	ps_q=$(quote "$1")
	if [ ! -f "$1" ]; then
		die "--action-pub $ps_q: no such file"
	fi
	ps_n=0
	ps_line=0
	while IFS= read -r ps_key || [ -n "$ps_key" ]; do
		ps_line=$((ps_line + 1))
		case $ps_key in
		"" | "#"*) continue ;;
		*[!A-Za-z0-9+/=]*)
			die "--action-pub $ps_q: line $ps_line is not" \
			    "a base64 public key"
			;;
		esac
		ps_len=$(printf '%s' "$ps_key" | openssl base64 -d -A | wc -c)
		if [ "${#ps_key}" -ne 44 ] || [ "$ps_len" -ne 32 ]; then
			die "--action-pub $ps_q: line $ps_line is not" \
			    "an Ed25519 public key (a .pub file, never a .key)"
		fi
		ps_n=$((ps_n + 1))
	done <"$1"
	if [ "$ps_n" -lt 1 ] || [ "$ps_n" -gt 8 ]; then
		die "--action-pub $ps_q: holds $ps_n keys; the agent" \
		    "pins 1 to 8"
	fi
	if [ "$(grep -v -e '^$' -e '^#' "$1" | sort | uniq -d)" != "" ]; then
		die "--action-pub $ps_q: a key is listed twice"
	fi
}

# write_agent_conf HOST-ID URL ROSTER KEYLESS: the bundle's agent.conf; with
# ROSTER "yes" (the bundle holds keys/roster.pub) a [roster] section
# pinning it. With KEYLESS "yes" (a host enrolled by CSR) the result key
# is where "signet-agent enroll --out /etc/signet" writes it,
# /etc/signet/result.key, beside its agent.key; a lab bundle carries it
# as keys/result.key.
write_agent_conf() {
	printf '# signet agent configuration for %s (signet.conf(5)),\n' "$1"
	printf '# made by signet-pki bundle; goes to /etc/signet/agent.conf.\n'
	printf '[agent]\n'
	if [ -z "$2" ]; then
		printf '# CHANGE-ME: the server'"'"'s agent listener, e.g.\n'
		printf '# wss://relay.example.org:8444 (or bundle --server).\n'
		printf 'server = wss://CHANGE-ME:8444\n'
	else
		printf 'server = %s\n' "$2"
	fi
	printf 'docker_socket = /var/run/docker.sock\n'
	printf '# The host'"'"'s allowlist; write it yourself (default deny).\n'
	printf 'policy = /etc/signet/policy.json\n'
	printf '\n[tls]\n'
	printf 'ca = /etc/signet/ca.pem\n'
	printf 'cert = /etc/signet/agent.pem\n'
	printf 'key = /etc/signet/agent.key\n'
	printf '\n[keys]\n'
	printf 'action_pub = /etc/signet/keys/action.pub\n'
	if [ "$4" = yes ]; then
		printf '# Made on this host by signet-agent enroll --out /etc/signet.\n'
		printf 'result = /etc/signet/result.key\n'
	else
		printf 'result = /etc/signet/keys/result.key\n'
	fi
	if [ "$3" = yes ]; then
		printf '\n[roster]\n'
		printf '# The pinned roster keys (root-owned, 0644) and how many\n'
		printf '# of them must sign a roster; the roster the agent holds\n'
		printf '# is kept in its state directory.\n'
		printf 'keys = /etc/signet/keys/roster.pub\n'
		printf 'threshold = 1\n'
		printf 'file = /var/lib/signet-agent/roster.json\n'
	fi
	printf '\n[audit]\n'
	printf 'path = /var/lib/signet-agent/audit.log\n'
}

cmd_bundle() {
	host=$1
	check_name bundle "$host"
	url=${OPT_SERVER:-}
	if [ -n "$url" ]; then
		check_url "$url"
	fi
	out=${OPT_OUT:-./$host-bundle.tar.gz}
	case $out in
	*"$NL"*) usage_die "--out: the file name holds a newline" ;;
	esac
	open_pki
	entry=$(index_entry "$host")
	if [ -z "$entry" ] || [ ! -f "$PKI/issued/$host.pem" ]; then
		die "bundle $host: no certificate issued to $host" \
		    "(run \"$PROG sign-req agent $host FILE\" or, in a lab," \
		    "\"$PROG agent $host\" first)"
	fi
	# The database may hold several certificates of a name (renewals,
	# a name issued again after revoke): the valid one counts
	# (sreq_live_roles, lib/request.sh).
	role=$(sreq_live_roles "$host")
	if [ -z "$role" ]; then
		role=$(subject_role "$entry")
	fi
	if [ "$role" != agent ]; then
		die "bundle $host: the certificate of $host has role" \
		    "$(printf '%s' "$role" | tr '\n' ' ' | sed 's/ $//')," \
		    "not agent"
	fi
	if [ -z "$(sreq_live_roles "$host")" ]; then
		die "bundle $host: $host holds no valid certificate (revoked" \
		    "or expired); sign a new request for it with \"$PROG" \
		    "sign-req agent $host FILE\""
	fi
	# A host enrolled by CSR (sign-req) has no key in the PKI: its
	# bundle carries none, the host keeps its own.
	keyless=no
	need="private/$host.key keys/agents/$host.key crl.pem"
	if [ ! -e "$PKI/private/$host.key" ]; then
		keyless=yes
		need="keys/agents/$host.pub crl.pem"
	fi
	for f in $need; do
		if [ ! -f "$PKI/$f" ]; then
			die "bundle $host: $PKI/$f is missing"
		fi
	done
	pinned=${OPT_ACTION_PUB:-$PKI/keys/action.pub}
	if [ -z "$OPT_ACTION_PUB" ] && [ ! -f "$pinned" ]; then
		die "bundle $host: $pinned is missing"
	fi
	check_pubset "$pinned"
	if [ -e "$out" ] || [ -L "$out" ]; then
		die "bundle $host: $(quote "$out") already exists;" \
		    "refusing to overwrite it"
	fi
	outdir=$(dirname -- "$out")
	if [ ! -d "$outdir" ]; then
		die "bundle $host: no directory $(quote "$outdir")" \
		    "for the output"
	fi
	make_tmp "$PKI"

	# The certificate must verify now: dates, chain and the current CRL.
	if ! openssl verify -CAfile "$PKI/ca.pem" -crl_check \
	    -CRLfile "$PKI/crl.pem" -purpose sslclient \
	    "$PKI/issued/$host.pem" >"$TMP/log" 2>&1; then
		sed 's/^/  /' "$TMP/log" >&2
		die "bundle $host: the certificate does not verify (expired," \
		    "revoked, or crl.pem out of date: try \"$PROG crl\")"
	fi
	if [ "$keyless" = no ]; then
		openssl x509 -in "$PKI/issued/$host.pem" -noout -pubkey \
		    >"$TMP/p1"
		openssl pkey -in "$PKI/private/$host.key" -pubout >"$TMP/p2"
		if ! cmp -s "$TMP/p1" "$TMP/p2"; then
			die "bundle $host: private/$host.key does not match" \
			    "issued/$host.pem"
		fi
	fi

	st=$TMP/stage
	mkdir -- "$st" "$st/keys"
	cp -- "$PKI/ca.pem" "$st/ca.pem"
	cp -- "$PKI/issued/$host.pem" "$st/agent.pem"
	cp -- "$pinned" "$st/keys/action.pub"
	b_keys=""
	if [ "$keyless" = no ]; then
		cp -- "$PKI/private/$host.key" "$st/agent.key"
		cp -- "$PKI/keys/agents/$host.key" "$st/keys/result.key"
		chmod 600 -- "$st/agent.key" "$st/keys/result.key"
		b_keys="agent.key keys/result.key"
	fi
	# The pinned roster keys, and the signed roster once published.
	roster_paths
	b_pinned=no
	if [ -f "$R_PINNED" ]; then
		b_pinned=yes
	fi
	write_agent_conf "$host" "$url" "$b_pinned" "$keyless" \
	    >"$st/agent.conf"
	chmod 755 -- "$st/keys"
	chmod 644 -- "$st/ca.pem" "$st/agent.pem" "$st/agent.conf" \
	    "$st/keys/action.pub"
	b_roster=""
	if [ "$b_pinned" = yes ]; then
		cp -- "$R_PINNED" "$st/keys/roster.pub"
		chmod 644 -- "$st/keys/roster.pub"
		b_roster="keys/roster.pub"
		if [ -f "$R_SIGNED" ]; then
			cp -- "$R_SIGNED" "$st/roster.json"
			chmod 644 -- "$st/roster.json"
			b_roster="$b_roster roster.json"
		fi
	fi

	# GNU tar: files owned by root in the archive, fixed order, no others.
	# shellcheck disable=SC2086 # b_keys, b_roster: words
	if ! tar -C "$st" --owner=0 --group=0 --numeric-owner --no-recursion \
	    -czf "$TMP/bundle.tar.gz" ca.pem agent.pem agent.conf keys \
	    keys/action.pub $b_keys $b_roster 2>"$TMP/log"; then
		sed 's/^/  /' "$TMP/log" >&2
		die "bundle $host: tar failed (output above)"
	fi
	chmod 600 -- "$TMP/bundle.tar.gz"
	# Copy next to the target, then link: never overwrites, never partial.
	PART=$(mktemp "$outdir/.signet-bundle.XXXXXXXX") ||
	    die "bundle $host: cannot write in $(quote "$outdir")"
	if ! cp -- "$TMP/bundle.tar.gz" "$PART" || ! ln -- "$PART" "$out"; then
		die "bundle $host: cannot write $(quote "$out")" \
		    "(it may exist now; refusing to overwrite)"
	fi
	rm -f -- "$PART"
	PART=""

	if [ "$keyless" = no ]; then
		say "wrote $out (mode 0600; a lab bundle: it carries agent" \
		    "$host's private keys, made in the PKI; for production" \
		    "hosts make the keys on the host with \"signet-agent" \
		    "enroll\" and sign its request with \"$PROG sign-req\"):"
		say "  ca.pem agent.pem agent.key(0600) agent.conf" \
		    "keys/action.pub keys/result.key(0600)${b_roster:+ $b_roster}"
	else
		say "wrote $out (mode 0600; no private key: $host keeps its" \
		    "own keys, /etc/signet/agent.key and" \
		    "/etc/signet/result.key made by \"signet-agent enroll" \
		    "--host-id $host --out /etc/signet\"):"
		say "  ca.pem agent.pem agent.conf" \
		    "keys/action.pub${b_roster:+ $b_roster}"
		say "note: its result key registered here is" \
		    "keys/agents/$host.pub, key id" \
		    "$(key_id "$PKI/keys/agents/$host.pub"): the host's" \
		    "/etc/signet/result.pub must be the same"
	fi
	if [ "$b_pinned" != yes ]; then
		say "note: no roster keys in this PKI: the bundle holds no" \
		    "keys/roster.pub and agent.conf no [roster]; the agent" \
		    "will reject operator-signed requests (\"$PROG roster" \
		    "init\" makes the keys; then rebuild the bundle)"
	elif [ ! -f "$R_SIGNED" ]; then
		say "note: no roster published yet: the bundle holds no" \
		    "roster.json (\"$PROG roster sign\")"
	fi
	if [ -z "$url" ]; then
		say "note: agent.conf says server = wss://CHANGE-ME:8444;" \
		    "edit it, or rebuild with --server"
	fi
	say "install: on $host, as pki/README.md (The agent bundle) says:" \
	    "with the signet-agent package, install each file with its" \
	    "owner, never untar into /etc/signet; then write" \
	    "/etc/signet/policy.json"
}

# ---------------------------------------------------------------------------
# The signed operator roster (docs/operators.md)
#
# roster/ in the PKI holds what agents pin and what they are given:
#   pinned.pub   the roster public keys every agent pins (1 to 8, one a
#                line); roster init puts keys/roster.pub in it, roster pin
#                adds further admins' keys
#   draft.json   the next roster, unsigned: the payload exactly as it will
#                be signed (roster add and remove rewrite it)
#   roster.json  the published signed roster (roster sign)
# The signing itself is signetctl roster edit|sign|show (offline, files
# only); the commands below run them on copies in $TMP under the lock and
# move the results into place, so a failed command changes nothing.

ROSTER_DAYS_MAX=400

# roster_paths: set RD (the roster directory) and its files.
roster_paths() {
	RD=$PKI/roster
	R_PINNED=$RD/pinned.pub
	R_DRAFT=$RD/draft.json
	R_SIGNED=$RD/roster.json
}

need_roster() {
	roster_paths
	if [ ! -f "$R_PINNED" ]; then
		die "roster: $R_PINNED is missing; run \"$PROG roster init\"" \
		    "first"
	fi
}

# roster_keygen DIR: the first roster key into DIR/keys/roster.key and
# .pub and the pinned set DIR/roster/pinned.pub (both new; the caller
# holds the undo). The key is made by roster_key_make (lib/protect.sh):
# sealed with the CA key's passphrase when the CA key is encrypted, else
# raw as the daemons' keys are (`signetctl keygen --raw`); roster sign
# reads either.
roster_keygen() {
	roster_key_make "$TMP/ed"
	mkdir -- "$1/roster"
	chmod 755 -- "$1/roster"
	cp -- "$TMP/ed/roster.pub" "$TMP/ed/pinned.pub"
	place "$TMP/ed/roster.key" "$1/keys/roster.key" 600
	place "$TMP/ed/roster.pub" "$1/keys/roster.pub" 644
	place "$TMP/ed/pinned.pub" "$1/roster/pinned.pub" 644
}

# untmp: stdin with the copies' names in $TMP/ made the roster's own.
untmp() {
	awk -v t="$TMP/" -v r="$RD/" '{
		out = ""
		while ((i = index($0, t)) > 0) {
			out = out substr($0, 1, i - 1) r
			$0 = substr($0, i + length(t))
		}
		print out $0
	}'
}

# sctl_fail WHAT: die with signetctl's own reason (from $TMP/log).
sctl_fail() {
	sf_why=$(sed -n '1s/^signetctl [a-z]* [a-z]*: //p' "$TMP/log" | untmp)
	if [ -z "$sf_why" ]; then
		sed 's/^/  /' "$TMP/log" >&2
		sf_why="signetctl failed (output above)"
	fi
	die "$1: $sf_why"
}

# roster_init_absent: none of the roster's key files and directory exist.
roster_init_absent() {
	for f in "$PKI/keys/roster.key" "$PKI/keys/roster.pub" "$RD"; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			die "roster init: $f already exists; refusing to" \
			    "overwrite it"
		fi
	done
}

cmd_roster_init() {
	open_pki
	find_signetctl
	roster_paths
	# Checked before asking the CA key's passphrase (roster_init_key),
	# and again under the lock.
	roster_init_absent
	roster_init_key
	lock_pki
	roster_init_absent
	make_tmp "$PKI"
	mkdir -- "$TMP/ed"
	# rm of roster/ on failure: PLACED removes files only.
	# shellcheck disable=SC2034 # read by rollback (lib/common.sh)
	INIT_DIR=$RD
	# shellcheck disable=SC2034 # read by rollback (lib/common.sh)
	INIT_MADE=yes
	roster_keygen "$PKI"
	commit
	roster_init_said
}

roster_init_said() {
	say "wrote $PKI/keys/roster.key (roster signing key, secret, mode" \
	    "0600: keep it offline like the CA key) and roster.pub, key id" \
	    "$(key_id "$PKI/keys/roster.pub")"
	say "wrote $PKI/roster/pinned.pub (the roster keys agents pin;" \
	    "bundles carry it as keys/roster.pub)"
	roster_key_said
}

# roster_edit add|remove NAME: signetctl roster edit on a copy of the
# draft, moved into place.
roster_edit() {
	re_verb=$1
	re_name=$2
	check_name "roster $re_verb" "$re_name"
	if [ -n "$OPT_DAYS" ]; then
		check_days --days "$OPT_DAYS" "$ROSTER_DAYS_MAX"
	fi
	open_pki
	find_signetctl
	need_roster
	if [ "$re_verb" = add ]; then
		if [ -z "$OPT_KEY" ]; then
			usage_die "roster add $re_name: give --key FILE, the" \
			    "operator's public key"
		fi
		if [ ! -f "$OPT_KEY" ]; then
			die "roster add $re_name: --key $(quote "$OPT_KEY"):" \
			    "no such file"
		fi
	fi
	lock_pki
	make_tmp "$PKI"
	if [ -f "$R_DRAFT" ]; then
		cp -p -- "$R_DRAFT" "$TMP/draft.json"
	fi
	set -- roster edit "$TMP/draft.json" "$re_verb" "$re_name"
	if [ -f "$R_SIGNED" ]; then
		set -- "$@" --signed "$R_SIGNED"
	fi
	if [ "$re_verb" = add ]; then
		set -- "$@" --key "$OPT_KEY"
		if [ -n "$OPT_GROUPS" ]; then
			set -- "$@" --groups "$OPT_GROUPS"
		fi
	fi
	if [ -n "$OPT_DAYS" ]; then
		set -- "$@" --days "$OPT_DAYS"
	fi
	if ! "$SCTL" "$@" >"$TMP/out" 2>"$TMP/log"; then
		sctl_fail "roster $re_verb $re_name"
	fi
	chmod 644 -- "$TMP/draft.json"
	mv -f -- "$TMP/draft.json" "$R_DRAFT"
	commit
	untmp <"$TMP/out"
	say "next: \"$PROG roster sign\" publishes it as $R_SIGNED"
}

cmd_roster_add() {
	roster_edit add "$1"
}

cmd_roster_remove() {
	roster_edit remove "$1"
}

# roster_sha FILE: the payload sha256 signetctl roster show finds in FILE.
roster_sha() {
	"$SCTL" roster show "$1" -o json 2>/dev/null |
	    sed -n 's/.*"payload_sha256":"\([0-9a-f]*\)".*/\1/p'
}

cmd_roster_list() {
	open_pki
	find_signetctl
	need_roster
	if [ ! -f "$R_SIGNED" ] && [ ! -f "$R_DRAFT" ]; then
		say "no roster yet: add operators with \"$PROG roster add" \
		    "NAME --key FILE\", then \"$PROG roster sign\""
		return 0
	fi
	rl_rc=0
	if [ -f "$R_SIGNED" ]; then
		"$SCTL" roster show "$R_SIGNED" --keys "$R_PINNED" || rl_rc=$?
	else
		say "not published yet ($R_SIGNED does not exist)"
	fi
	if [ -f "$R_DRAFT" ] && { [ ! -f "$R_SIGNED" ] ||
	    [ "$(roster_sha "$R_DRAFT")" != "$(roster_sha "$R_SIGNED")" ]; }
	then
		say ""
		say "unsigned changes in the draft (\"$PROG roster sign\"" \
		    "publishes them):"
		"$SCTL" roster show "$R_DRAFT" || rl_rc=$?
	fi
	if [ "$rl_rc" -ne 0 ]; then
		die "roster list: the roster does not verify (above)"
	fi
}

cmd_roster_sign() {
	if [ -n "$OPT_DAYS" ]; then
		check_days --days "$OPT_DAYS" "$ROSTER_DAYS_MAX"
	fi
	open_pki
	find_signetctl
	need_roster
	rs_key=${OPT_KEY:-$PKI/keys/roster.key}
	if [ ! -f "$rs_key" ]; then
		die "roster sign: $(quote "$rs_key") is missing (kept" \
		    "offline?); put the roster key back or give --key FILE"
	fi
	if [ ! -f "$R_DRAFT" ]; then
		die "roster sign: no draft $R_DRAFT; add operators with" \
		    "\"$PROG roster add NAME --key FILE\" first"
	fi
	# A sealed key's passphrase (lib/protect.sh), before the lock.
	roster_sign_key "$rs_key"
	lock_pki
	make_tmp "$PKI"
	cp -p -- "$R_DRAFT" "$TMP/draft.json"
	if [ -f "$R_SIGNED" ]; then
		cp -p -- "$R_SIGNED" "$TMP/roster.json"
	fi
	set -- roster sign "$TMP/draft.json" --key "$rs_key" \
	    --out "$TMP/roster.json" --keys "$R_PINNED"
	if [ -n "$OPT_DAYS" ]; then
		set -- "$@" --days "$OPT_DAYS"
	fi
	if [ -n "$RS_PASS" ]; then
		# Into a pipe by the builtin printf: never in argv. signetctl
		# checks it before it writes anything.
		if ! printf '%s\n' "$RS_PASS" |
		    "$SCTL" "$@" --passphrase-fd 0 >"$TMP/out" 2>"$TMP/log"; then
			RS_PASS=""
			sctl_fail "roster sign"
		fi
		RS_PASS=""
	elif ! "$SCTL" "$@" </dev/null >"$TMP/out" 2>"$TMP/log"; then
		sctl_fail "roster sign"
	fi
	chmod 644 -- "$TMP/draft.json" "$TMP/roster.json"
	# Two renames: the draft first (restamped by --days), then the
	# roster signed over it.
	mv -f -- "$TMP/draft.json" "$R_DRAFT"
	mv -f -- "$TMP/roster.json" "$R_SIGNED"
	commit
	untmp <"$TMP/out"
	say "next: rebuild the agents' bundles, or have the server" \
	    "distribute $R_SIGNED"
}

# roster pin FILE: a further admin's roster public key joins the pinned
# set (k-of-n signing: each admin signs with their own key).
cmd_roster_pin() {
	rp_file=$1
	open_pki
	need_roster
	rp_q=$(quote "$rp_file")
	one_pub "roster pin $rp_q" "$rp_file"
	rp_key=$ONE_PUB
	lock_pki
	if grep -qxF -- "$rp_key" "$R_PINNED"; then
		die "roster pin $rp_q: the key is pinned already"
	fi
	rp_n=$(grep -c -v -e '^$' -e '^#' -- "$R_PINNED" || true)
	if [ "$rp_n" -ge 8 ]; then
		die "roster pin $rp_q: $R_PINNED holds 8 keys, the most" \
		    "agents pin"
	fi
	make_tmp "$PKI"
	cp -p -- "$R_PINNED" "$TMP/pinned.pub"
	printf '%s\n' "$rp_key" >>"$TMP/pinned.pub"
	chmod 644 -- "$TMP/pinned.pub"
	mv -f -- "$TMP/pinned.pub" "$R_PINNED"
	commit
	say "pinned roster key $(printf '%s' "$rp_key" | openssl base64 -d -A |
	    openssl dgst -sha256 -r | cut -c1-16) in $R_PINNED ($((rp_n + 1))" \
	    "keys); rebuild the agents' bundles so that they pin it"
}
