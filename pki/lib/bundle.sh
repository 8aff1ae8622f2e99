# SPDX-License-Identifier: ISC
# signet-pki's key and bundle commands, sourced by pki/signet-pki:
# action-key (a further Ed25519 action key, to rotate the server's) and
# bundle (the tar.gz of what one agent installs under /etc/signet: its
# certificate and key, the CA, its result key, the pinned action keys and
# an agent.conf).
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
	printf 'result = /etc/signet/keys/result.key\n'
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
		    "(run \"$PROG agent $host\" first)"
	fi
	role=$(subject_role "$entry")
	if [ "$role" != agent ]; then
		die "bundle $host: the certificate of $host has role $role," \
		    "not agent"
	fi
	case $entry in
	R*) die "bundle $host: the certificate of $host is revoked;" \
	    "issue a new one under a new host id" ;;
	esac
	for f in "private/$host.key" "keys/agents/$host.key" crl.pem; do
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
	openssl x509 -in "$PKI/issued/$host.pem" -noout -pubkey >"$TMP/p1"
	openssl pkey -in "$PKI/private/$host.key" -pubout >"$TMP/p2"
	if ! cmp -s "$TMP/p1" "$TMP/p2"; then
		die "bundle $host: private/$host.key does not match" \
		    "issued/$host.pem"
	fi

	st=$TMP/stage
	mkdir -- "$st" "$st/keys"
	cp -- "$PKI/ca.pem" "$st/ca.pem"
	cp -- "$PKI/issued/$host.pem" "$st/agent.pem"
	cp -- "$PKI/private/$host.key" "$st/agent.key"
	cp -- "$pinned" "$st/keys/action.pub"
	cp -- "$PKI/keys/agents/$host.key" "$st/keys/result.key"
	write_agent_conf "$host" "$url" >"$st/agent.conf"
	chmod 755 -- "$st/keys"
	chmod 644 -- "$st/ca.pem" "$st/agent.pem" "$st/agent.conf" \
	    "$st/keys/action.pub"
	chmod 600 -- "$st/agent.key" "$st/keys/result.key"

	# GNU tar: files owned by root in the archive, fixed order, no others.
	if ! tar -C "$st" --owner=0 --group=0 --numeric-owner --no-recursion \
	    -czf "$TMP/bundle.tar.gz" ca.pem agent.pem agent.key agent.conf \
	    keys keys/action.pub keys/result.key 2>"$TMP/log"; then
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

	say "wrote $out (mode 0600; holds agent $host's secret keys):"
	say "  ca.pem agent.pem agent.key(0600) agent.conf keys/action.pub" \
	    "keys/result.key(0600)"
	if [ -z "$url" ]; then
		say "note: agent.conf says server = wss://CHANGE-ME:8444;" \
		    "edit it, or rebuild with --server"
	fi
	say "install: on $host, as pki/README.md (The agent bundle) says:" \
	    "with the signet-agent package, install each file with its" \
	    "owner, never untar into /etc/signet; then write" \
	    "/etc/signet/policy.json"
}
