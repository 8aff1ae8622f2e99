# SPDX-License-Identifier: ISC
# signet-pki's certificate commands, sourced by pki/signet-pki: init (the
# CA, its openssl.cnf, the server's keys and the roster key), issuing
# server, agent,
# operator and auditor certificates, revoke, the CRL (making it, and
# warning before it expires) and list. Each one works under the lock and
# the undo of lib/common.sh.
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# gen_crl DAYS: write a fresh CRL to $TMP/crl.pem (database must be saved).
gen_crl() {
	ca_run "making the CRL" ca -batch -config "$CNF" -gencrl \
	    -crldays "$1" -out "$TMP/crl.pem"
	chmod 644 -- "$TMP/crl.pem"
}

# The CRL replaces the old one in one rename; crl.pem is the one file that
# is meant to be rewritten.
install_crl() {
	if [ -f "$TMP/db/crl.pem" ]; then
		journal_add "crl $(rel "$TMP/db/crl.pem")"
	fi
	mv -f -- "$TMP/crl.pem" "$PKI/crl.pem"
}

crl_written() {
	crl_next=$(openssl crl -in "$PKI/crl.pem" -noout -nextupdate)
	say "wrote $PKI/crl.pem (next update ${crl_next#nextUpdate=}; run" \
	    "\"$PROG crl\" before then and copy it to the server)"
	crl_expiry_warn
}

# The CRL counts as expiring this many seconds before its nextUpdate (as
# the server's warning, IDENTITY_CRL_WARN_SECS).
CRL_WARN_SECS=604800

# crl_next_update: "EPOCH ISO-DATE" of crl.pem's nextUpdate, or nothing
# when it has none or cannot be read. openssl prints it as
# "nextUpdate=Mar  7 17:46:40 2030 GMT" (AWK_LIB's os_stamp).
crl_next_update() {
	openssl crl -in "$PKI/crl.pem" -noout -nextupdate 2>/dev/null |
	    awk "$AWK_LIB"'
	/^nextUpdate=/ {
		s = os_stamp(substr($0, 12))
		if (s == "")
			exit
		printf "%.0f %s\n", st_epoch(s), st_iso(s)
	}'
}

# crl_expiry_warn: a warning on stderr when crl.pem has expired or expires
# within 7 days: an expired CRL makes the server refuse every client.
crl_expiry_warn() {
	renew="renew it with \"$PROG --pki $PKI crl\", copy crl.pem to the"
	renew="$renew server's [tls] crl and reload the server"
	renew="$renew (systemctl reload signet-server)"
	info=$(crl_next_update)
	if [ -z "$info" ]; then
		printf '%s: warning: %s has no readable nextUpdate; %s\n' \
		    "$PROG" "$PKI/crl.pem" "$renew" >&2
		return 0
	fi
	next=${info%% *}
	date=${info#* }
	now=$(date -u +%s)
	if [ "$now" -ge "$next" ]; then
		printf '%s: warning: the CRL %s EXPIRED at %s: the server %s;' \
		    "$PROG" "$PKI/crl.pem" "$date" \
		    "refuses every agent, operator and auditor until it is renewed" >&2
		printf ' %s\n' "$renew" >&2
	elif [ $((next - now)) -le "$CRL_WARN_SECS" ]; then
		left=$((next - now))
		printf '%s: warning: the CRL %s expires at %s (in %d days %d' \
		    "$PROG" "$PKI/crl.pem" "$date" $((left / 86400)) \
		    $((left % 86400 / 3600)) >&2
		printf ' hours), then the server refuses every agent, operator' >&2
		printf ' and auditor; %s\n' "$renew" >&2
	fi
	return 0
}

# ---------------------------------------------------------------------------
# Commands

cmd_init() {
	dir=$1
	days=${OPT_DAYS:-$CA_DAYS_DEFAULT}
	crldays=${OPT_CRL_DAYS:-$CRL_DAYS_DEFAULT}
	check_days --days "$days" "$CA_DAYS_MAX"
	check_days --crl-days "$crldays" "$CRL_DAYS_MAX"
	if [ -z "$dir" ]; then
		usage_die "init: missing DIR"
	fi
	if [ -n "$OPT_NOPASS" ] && [ -n "$OPT_PKCS11$OPT_PASS_FD" ]; then
		usage_die "init: --nopass excludes --pkcs11 and --pass-fd"
	fi
	if [ -n "$OPT_PKCS11" ]; then
		check_pkcs11_uri --pkcs11 "$OPT_PKCS11"
	fi
	case $dir in
	*"$NL"*) usage_die "init $(quote "$dir"): the name holds a newline" ;;
	esac
	find_signetctl

	if [ -e "$dir" ] || [ -L "$dir" ]; then
		if [ ! -d "$dir" ]; then
			die "init $(quote "$dir"): exists and is not" \
			    "a directory"
		fi
		if [ -f "$dir/openssl.cnf" ] || [ -f "$dir/ca.pem" ]; then
			die "init $(quote "$dir"): already holds a PKI;" \
			    "refusing to overwrite it"
		fi
		if [ -n "$(ls -A -- "$dir")" ]; then
			die "init $(quote "$dir"): directory is not empty;" \
			    "refusing to overwrite anything in it"
		fi
		PKI=$(cd -- "$dir" && pwd -P)
		INIT_DIR=$PKI
		INIT_MADE=no
	else
		parent=$(dirname -- "$dir")
		mkdir -p -- "$parent" ||
		    die "init $(quote "$dir"): cannot create $(quote "$parent")"
		if ! mkdir -- "$dir" 2>/dev/null; then
			die "init $(quote "$dir"): cannot create the directory"
		fi
		PKI=$(cd -- "$dir" && pwd -P)
		# shellcheck disable=SC2034 # read by rollback (lib/common.sh)
		INIT_DIR=$PKI
		# shellcheck disable=SC2034 # read by rollback (lib/common.sh)
		INIT_MADE=yes
	fi
	chmod 700 -- "$PKI"
	SIGNET_PKI_DIR=$PKI
	export SIGNET_PKI_DIR
	CNF=$PKI/openssl.cnf
	make_tmp "$PKI"

	mkdir -- "$PKI/issued" "$PKI/private" "$PKI/keys" "$PKI/keys/agents" \
	    "$PKI/certs_by_serial"
	chmod 755 -- "$PKI/issued" "$PKI/certs_by_serial"
	chmod 700 -- "$PKI/private" "$PKI/keys" "$PKI/keys/agents"
	: >"$PKI/index.txt"
	printf 'unique_subject = no\n' >"$PKI/index.txt.attr"
	printf '01\n' >"$PKI/crlnumber"
	new_serial
	write_cnf >"$CNF"
	chmod 644 -- "$CNF"

	# The CA key (lib/protect.sh): encrypted with a new passphrase, or
	# unencrypted (--nopass), or a PKCS#11 token's (--pkcs11 URI).
	init_ca_key
	ca_run "making the CA certificate" req -new -x509 -config "$CNF" \
	    -sha256 -days "$days" \
	    -subj "/CN=signet CA/OU=ca" -extensions ext_ca -out "$PKI/ca.pem"
	chmod 644 -- "$PKI/ca.pem"
	init_pkcs11_check
	ca_run "making the CRL" ca -batch -config "$CNF" -gencrl \
	    -crldays "$crldays" -out "$PKI/crl.pem"
	chmod 644 -- "$PKI/crl.pem"
	keygen "$PKI/keys" action
	keygen "$PKI/keys" audit
	# The roster key, as roster init makes it (lib/bundle.sh), sealed
	# with the CA key's passphrase when the CA key is encrypted
	# (lib/protect.sh).
	roster_key_make "$PKI/keys"
	mkdir -- "$PKI/roster"
	chmod 755 -- "$PKI/roster"
	cp -- "$PKI/keys/roster.pub" "$PKI/roster/pinned.pub"
	chmod 644 -- "$PKI/roster/pinned.pub"
	rm -f -- "$PKI/index.txt.attr.old" "$PKI/crlnumber.old"
	commit

	ca_end=$(openssl x509 -in "$PKI/ca.pem" -noout -enddate)
	init_ca_said
	say "wrote $PKI/ca.pem (CA certificate, ${ca_end#notAfter=})"
	say "wrote $PKI/crl.pem (empty CRL, $crldays days)"
	crl_expiry_warn
	say "wrote $PKI/keys/action.key (secret, mode 0600) and action.pub," \
	    "key id $(key_id "$PKI/keys/action.pub")"
	say "wrote $PKI/keys/audit.key (secret, mode 0600) and audit.pub," \
	    "key id $(key_id "$PKI/keys/audit.pub")"
	roster_init_said
	say "wrote $PKI/openssl.cnf, index.txt, index.txt.attr, serial," \
	    "crlnumber"
}

write_cnf() {
	cat <<'EOF'
# signet-pki openssl configuration, generated by `signet-pki init`.
# $dir comes from the environment so the PKI can be moved; to run openssl
# by hand: SIGNET_PKI_DIR=$PWD openssl ca -config openssl.cnf ...
# Certificate extensions are chosen by signet-pki per role (-extfile).

[ ca ]
default_ca = signet_ca

[ signet_ca ]
dir              = $ENV::SIGNET_PKI_DIR
database         = $dir/index.txt
serial           = $dir/serial
crlnumber        = $dir/crlnumber
new_certs_dir    = $dir/certs_by_serial
certificate      = $dir/ca.pem
private_key      = $dir/private/ca.key
default_md       = sha256
default_days     = 365
default_crl_days = 30
policy           = signet_policy
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
preserve         = no
name_opt         = ca_default
cert_opt         = ca_default
crl_extensions   = ext_crl

# Subject order: CN, then OU (the role).
[ signet_policy ]
commonName             = supplied
organizationalUnitName = supplied

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
prompt             = no

[ req_dn ]
commonName = signet

[ ext_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ ext_crl ]
authorityKeyIdentifier = keyid:always
EOF
}

# write_ext ROLE: the extensions of a leaf certificate of ROLE.
write_ext() {
	printf '[ ext ]\n'
	printf 'basicConstraints = critical, CA:FALSE\n'
	printf 'keyUsage = critical, digitalSignature\n'
	printf 'subjectKeyIdentifier = hash\n'
	printf 'authorityKeyIdentifier = keyid, issuer\n'
	if [ "$1" = server ] || [ "$1" = database ]; then
		printf 'extendedKeyUsage = serverAuth\n'
		printf 'subjectAltName = @san\n'
		printf '[ san ]\n'
		n=0
		old_ifs=$IFS
		IFS=$NL
		for d in $OPT_DNS; do
			n=$((n + 1))
			printf 'DNS.%d = %s\n' "$n" "$d"
		done
		n=0
		for i in $OPT_IP; do
			n=$((n + 1))
			printf 'IP.%d = %s\n' "$n" "$i"
		done
		IFS=$old_ifs
	else
		printf 'extendedKeyUsage = clientAuth\n'
	fi
}

# issue ROLE NAME: key, certificate (and for agents the result key).
cmd_issue() {
	role=$1
	name=$2
	check_name "$role" "$name"
	days=${OPT_DAYS:-$LEAF_DAYS_DEFAULT}
	check_days --days "$days" "$LEAF_DAYS_MAX"
	if [ "$role" = server ] || [ "$role" = database ]; then
		check_sans "$role $name"
	fi
	open_pki
	need_ca_key
	if [ "$role" = agent ]; then
		find_signetctl
	fi
	lock_pki

	# A live CN is unique across roles: renew it, or revoke it first.
	existing=$(name_index "$name" | grep '^live' | tail -n 1) || true
	if [ -n "$existing" ]; then
		die "$role $name: $name already has a valid certificate" \
		    "(role $(subject_role "${existing#live	}"), serial" \
		    "$(printf '%s\n' "$existing" | cut -f5)); renew it with" \
		    "\"$PROG renew $name\", or revoke it first with" \
		    "\"$PROG revoke $name\" to issue the name anew"
	fi
	for f in "issued/$name.pem" "private/$name.key" "reqs/$name.req" \
	    "keys/agents/$name.key" "keys/agents/$name.pub"; do
		if [ -e "$PKI/$f" ] || [ -L "$PKI/$f" ]; then
			die "$role $name: $PKI/$f already exists (left by" \
			    "$name's expired or revoked certificate);" \
			    "refusing to overwrite it: \"$PROG revoke $name\"" \
			    "archives it under revoked/"
		fi
	done

	make_tmp "$PKI"
	run "$role $name: making the key" openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
	    -out "$TMP/$name.key"
	run "$role $name: making the request" openssl req -new -config "$CNF" \
	    -key "$TMP/$name.key" -sha256 -subj "/CN=$name/OU=$role" \
	    -out "$TMP/$name.csr"
	write_ext "$role" >"$TMP/ext.cnf"
	if [ "$role" = agent ]; then
		mkdir -- "$TMP/ed"
		keygen "$TMP/ed" "$name"
	fi

	db_save
	new_serial
	ca_run "$role $name: signing" ca -batch -config "$CNF" \
	    -in "$TMP/$name.csr" -out "$TMP/$name.pem" -outdir "$TMP" \
	    -days "$days" -extfile "$TMP/ext.cnf" -extensions ext -notext
	serial=$(openssl x509 -in "$TMP/$name.pem" -noout -serial)
	serial=${serial#serial=}
	enddate=$(openssl x509 -in "$TMP/$name.pem" -noout -enddate)
	if ! openssl x509 -in "$PKI/ca.pem" -noout \
	    -checkend $((days * 86400)) >/dev/null; then
		printf '%s: warning: the CA expires before this certificate\n' \
		    "$PROG" >&2
	fi

	place "$TMP/$name.key" "$PKI/private/$name.key" 600
	place "$TMP/$name.pem" "$PKI/issued/$name.pem" 644
	place "$TMP/$serial.pem" "$PKI/certs_by_serial/$serial.pem" 644
	if [ "$role" = agent ]; then
		place "$TMP/ed/$name.key" "$PKI/keys/agents/$name.key" 600
		place "$TMP/ed/$name.pub" "$PKI/keys/agents/$name.pub" 644
	fi
	commit

	say "wrote $PKI/private/$name.key (secret, mode 0600)"
	say "wrote $PKI/issued/$name.pem ($role certificate, serial $serial," \
	    "${enddate#notAfter=})"
	if [ "$role" = agent ]; then
		say "wrote $PKI/keys/agents/$name.key (result key, secret," \
		    "mode 0600) and $name.pub, key id" \
		    "$(key_id "$PKI/keys/agents/$name.pub")"
		say "next: \"$PROG bundle $name --server wss://HOST:8444\";" \
		    "install keys/agents/$name.pub in the server's agents_dir"
	fi
	case $role in
	database)
		say "next: install issued/$name.pem, private/$name.key and" \
		    "ca.pem as PostgreSQL's ssl_cert_file, ssl_key_file and" \
		    "ssl_ca_file (docs/cluster.md)"
		;;
	replica)
		say "next: give the replica $name issued/$name.pem," \
		    "private/$name.key and ca.pem for the sslcert, sslkey and" \
		    "sslrootcert of its [cluster] database (docs/cluster.md)"
		;;
	esac
}

# cmd_revoke, the revocation and its archive: lib/renew.sh.

cmd_crl() {
	crldays=${OPT_DAYS:-${OPT_CRL_DAYS:-$CRL_DAYS_DEFAULT}}
	check_days --days "$crldays" "$CRL_DAYS_MAX"
	open_pki
	need_ca_key
	lock_pki
	make_tmp "$PKI"
	db_save
	gen_crl "$crldays"
	install_crl
	commit
	crl_written
}

# cmd_list and cmd_expiring: lib/renew.sh.
