# SPDX-License-Identifier: ISC
# signet-pki's commands for certificates through the years, sourced by
# pki/signet-pki: renew (a new certificate for a live name: new serial,
# same name and role, same or new key, or a host's CSR; renew_from_csr is
# the signing core the sign-req command shares), revoke (every valid
# certificate of a name, or one older serial, archiving the name's files
# under revoked/ so that the name can be issued again), list (text or
# JSON, every serial of every name) and expiring (what expires within N
# days, as an exit code). Each one that changes the PKI works under the
# lock, the journal and the undo of lib/common.sh and lib/journal.sh.
#
# Layout (see pki/README.md): issued/NAME.pem is NAME's newest
# certificate, certs_by_serial/SERIAL.pem every certificate ever issued;
# a renewal moves the old issued/NAME.pem to renewed/certs_by_serial/
# OLD.crt, the old reqs/NAME.req to renewed/reqs_by_serial/OLD.req and a
# replaced key to renewed/private_by_serial/OLD.key; revoke moves
# issued/NAME.pem, private/NAME.key, reqs/NAME.req and an agent's result
# key keys/agents/NAME.{key,pub} to revoked/{certs,private,reqs,keys}_
# by_serial/SERIAL.{crt,key,req,result.key,result.pub}.
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

TAB='	'


# name_index NAME: NAME's index lines, oldest first, each after its state
# and a tab: "live" (V and not expired), "revoked" or "expired".
name_index() {
	awk -F '\t' -v cn="$1" -v now="$(now_stamp)" "$AWK_LIB"'
	{
		n = split($6, rdn, "/")
		hit = 0
		for (i = 1; i <= n; i++)
			if (rdn[i] == "CN=" cn)
				hit = 1
		if (!hit)
			next
		if ($1 == "R")
			st = "revoked"
		else if ($1 == "E" || st_norm($2) <= now)
			st = "expired"
		else
			st = "live"
		print st "\t" $0
	}' "$PKI/index.txt"
}

# cert_serial FILE: the serial of certificate FILE (upper-case hex).
cert_serial() {
	cs=$(openssl x509 -in "$1" -noout -serial 2>/dev/null) ||
	    die "reading the serial of $1: not a certificate"
	printf '%s\n' "${cs#serial=}"
}

# check_serial VALUE: a serial as the index writes it; sets SERIAL.
check_serial() {
	SERIAL=$(printf '%s' "$1" | tr 'a-f' 'A-F')
	case $SERIAL in
	"" | *[!0-9A-F]*)
		usage_die "--serial $(quote "$1"): not a serial" \
		    "(hexadecimal, as \"$PROG list\" shows)"
		;;
	esac
	if [ "${#SERIAL}" -gt 64 ]; then
		usage_die "--serial $(quote "$1"): too long for a serial"
	fi
}

# renew_sans CERT: OPT_DNS and OPT_IP from CERT's subjectAltName.
renew_sans() {
	rs_ext=$(openssl x509 -in "$1" -noout -ext subjectAltName \
	    2>/dev/null | sed -n '2,$p' | tr -d ' ') || rs_ext=""
	if [ -z "$rs_ext" ]; then
		die "renew: $1 has no subjectAltName to carry over"
	fi
	OPT_DNS=""
	OPT_IP=""
	old_ifs=$IFS
	IFS=,
	for rs_v in $rs_ext; do
		case $rs_v in
		DNS:*) OPT_DNS="$OPT_DNS${rs_v#DNS:}$NL" ;;
		IPAddress:*) OPT_IP="$OPT_IP${rs_v#IPAddress:}$NL" ;;
		*)
			IFS=$old_ifs
			die "renew: $1 has a subjectAltName entry" \
			    "$(quote "$rs_v") that $PROG does not issue"
			;;
		esac
	done
	IFS=$NL
	for d in $OPT_DNS; do check_dns "$d"; done
	for i in $OPT_IP; do check_ip "$i"; done
	IFS=$old_ifs
}

# renew_live NAME WHAT: NAME must be live; sets RN_ROLE and RN_OLD (the
# serial of issued/NAME.pem, NAME's newest certificate), else dies saying
# why (unknown, revoked, expired) and what to do instead.
renew_live() {
	rl_lines=$(name_index "$1")
	if [ -z "$rl_lines" ]; then
		die "$2 $1: no certificate was ever issued to $1 (see" \
		    "\"$PROG list\"); issue one with" \
		    "\"$PROG agent|operator|auditor|server|database|replica $1\""
	fi
	rl_last=$(printf '%s\n' "$rl_lines" | tail -n 1)
	rl_live=$(printf '%s\n' "$rl_lines" | grep '^live' | tail -n 1) ||
	    rl_live=""
	rl_serial=$(printf '%s\n' "$rl_last" | cut -f5)
	if [ -z "$rl_live" ]; then
		case $rl_last in
		revoked*)
			die "$2 $1: $1's certificate (serial $rl_serial) is" \
			    "revoked; a revoked name is not renewed: issue it" \
			    "anew with \"$PROG $(subject_role "${rl_last#*	}")" \
			    "$1\" (after \"$PROG revoke $1\" if its files" \
			    "are still in issued/)"
			;;
		*)
			die "$2 $1: $1's certificate (serial $rl_serial)" \
			    "has expired; only a valid certificate is" \
			    "renewed: \"$PROG revoke $1\" archives it, then" \
			    "issue the name anew"
			;;
		esac
	fi
	RN_ROLE=$(subject_role "${rl_live#*	}")
	case $RN_ROLE in
	server | agent | operator | auditor | database | replica) ;;
	*) die "$2 $1: role $(quote "$RN_ROLE") is not renewed" ;;
	esac
	if [ ! -f "$PKI/issued/$1.pem" ]; then
		die "$2 $1: $PKI/issued/$1.pem is missing"
	fi
	RN_OLD=$(cert_serial "$PKI/issued/$1.pem")
	if ! printf '%s\n' "$rl_lines" | cut -f1,5 |
	    grep -qx "live	$RN_OLD"; then
		die "$2 $1: $PKI/issued/$1.pem (serial $RN_OLD) is not" \
		    "$1's valid certificate in index.txt"
	fi
}

# renew_from_csr ROLE NAME CSR DAYS: sign the checked request CSR as a
# renewal of the live name NAME (the contract with sign-req, lib/
# request.sh): a new serial, the old certificate left valid (unless
# OPT_REVOKE_OLD=yes: then NAME's other valid certificates are revoked and
# the CRL regenerated), the old issued/NAME.pem and reqs/NAME.req, and
# private/NAME.key when CSR carries another key, moved to renewed/. Runs
# under the caller's lock, TMP and db_save; sets RENEW_SERIAL, RENEW_OLD,
# RENEW_REVOKED (the serials it revoked) and RENEW_KEY_MOVED (yes/"").
renew_from_csr() {
	rf_role=$1
	rf_name=$2
	RENEW_OLD=$(cert_serial "$PKI/issued/$rf_name.pem")
	RENEW_REVOKED=""
	RENEW_KEY_MOVED=""
	if [ "$rf_role" = server ] || [ "$rf_role" = database ]; then
		renew_sans "$PKI/issued/$rf_name.pem"
	fi
	write_ext "$rf_role" >"$TMP/renew-ext.cnf"
	mkdir -- "$TMP/renew-out"
	new_serial
	ca_run "renew $rf_name: signing" ca -batch -config "$CNF" \
	    -in "$3" -out "$TMP/renew-$rf_name.pem" -outdir "$TMP/renew-out" \
	    -days "$4" -extfile "$TMP/renew-ext.cnf" -extensions ext -notext
	RENEW_SERIAL=$(cert_serial "$TMP/renew-$rf_name.pem")
	test_hook after-db
	if ! openssl x509 -in "$PKI/ca.pem" -noout \
	    -checkend $(($4 * 86400)) >/dev/null; then
		printf '%s: warning: the CA expires before this certificate\n' \
		    "$PROG" >&2
	fi
	if [ "${OPT_REVOKE_OLD:-}" = yes ]; then
		for rf_s in $(name_index "$rf_name" | grep '^live' | cut -f5); do
			if [ "$rf_s" = "$RENEW_SERIAL" ]; then
				continue
			fi
			ca_run "renew $rf_name: revoking the old serial $rf_s" \
			    ca -batch -config "$CNF" \
			    -revoke "$PKI/certs_by_serial/$rf_s.pem" \
			    -crl_reason superseded
			RENEW_REVOKED="$RENEW_REVOKED $rf_s"
		done
		gen_crl "${OPT_CRL_DAYS:-$CRL_DAYS_DEFAULT}"
		install_crl
	fi

	# The old files to renewed/; a key the CSR does not carry with them.
	mkdir_pki "$PKI/renewed" 700
	mkdir_pki "$PKI/renewed/certs_by_serial" 700
	move "$PKI/issued/$rf_name.pem" \
	    "$PKI/renewed/certs_by_serial/$RENEW_OLD.crt"
	if [ -f "$PKI/reqs/$rf_name.req" ]; then
		mkdir_pki "$PKI/renewed/reqs_by_serial" 700
		move "$PKI/reqs/$rf_name.req" \
		    "$PKI/renewed/reqs_by_serial/$RENEW_OLD.req"
	fi
	if [ -f "$PKI/private/$rf_name.key" ]; then
		openssl req -in "$3" -noout -pubkey >"$TMP/renew-p1" 2>&1 ||
		    die "renew $rf_name: reading the request's key failed"
		openssl pkey -in "$PKI/private/$rf_name.key" -pubout \
		    >"$TMP/renew-p2" 2>&1 ||
		    die "renew $rf_name: reading $PKI/private/$rf_name.key" \
		    "failed"
		if ! cmp -s "$TMP/renew-p1" "$TMP/renew-p2"; then
			mkdir_pki "$PKI/renewed/private_by_serial" 700
			move "$PKI/private/$rf_name.key" \
			    "$PKI/renewed/private_by_serial/$RENEW_OLD.key"
			RENEW_KEY_MOVED=yes
		fi
	fi
	test_hook after-move

	mkdir_pki "$PKI/reqs" 755
	cp -- "$3" "$TMP/renew-req.pem"
	place "$TMP/renew-$rf_name.pem" "$PKI/issued/$rf_name.pem" 644
	place "$TMP/renew-out/$RENEW_SERIAL.pem" \
	    "$PKI/certs_by_serial/$RENEW_SERIAL.pem" 644
	place "$TMP/renew-req.pem" "$PKI/reqs/$rf_name.req" 644
}

cmd_renew() {
	name=$1
	check_name renew "$name"
	days=${OPT_DAYS:-$LEAF_DAYS_DEFAULT}
	check_days --days "$days" "$LEAF_DAYS_MAX"
	if [ -n "$OPT_CRL_DAYS" ]; then
		check_days --crl-days "$OPT_CRL_DAYS" "$CRL_DAYS_MAX"
		if [ "$OPT_REVOKE_OLD" != yes ]; then
			usage_die "renew $name: --crl-days goes with" \
			    "--revoke-old (the only case renew writes the CRL)"
		fi
	fi
	if [ -n "$OPT_CSR" ] && [ "$OPT_NEW_KEY" = yes ]; then
		usage_die "renew $name: give --csr FILE or --new-key, not" \
		    "both (the request carries the host's new key)"
	fi
	if [ -n "$OPT_CSR" ] && [ ! -f "$OPT_CSR" ]; then
		die "renew $name: --csr $(quote "$OPT_CSR"): no such file"
	fi
	open_pki
	need_ca_key
	lock_pki
	test_hook locked
	renew_live "$name" renew
	role=$RN_ROLE
	make_tmp "$PKI"

	if [ -n "$OPT_CSR" ]; then
		if ! command -v csr_check >/dev/null 2>&1; then
			die "renew $name --csr: this $PROG cannot check a" \
			    "request (no csr_check: lib/request.sh is missing)"
		fi
		csr_check "$role" "$name" "$OPT_CSR" "$TMP/renew.csr"
		how="signed from the request $OPT_CSR"
	elif [ "$OPT_NEW_KEY" = yes ]; then
		run "renew $name: making the new key" openssl genpkey \
		    -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -pkeyopt ec_param_enc:named_curve -out "$TMP/renew.key"
		run "renew $name: making the request" openssl req -new \
		    -config "$CNF" -key "$TMP/renew.key" -sha256 \
		    -subj "/CN=$name/OU=$role" -out "$TMP/renew.csr"
		how="with a new key"
	else
		if [ ! -f "$PKI/private/$name.key" ]; then
			die "renew $name: $PKI/private/$name.key is missing" \
			    "($name was enrolled by a request, so its key is" \
			    "on its host); renew with --csr FILE, a new" \
			    "request from the host, or with --new-key"
		fi
		run "renew $name: making the request from $PKI/private/$name.key" \
		    openssl req -new -config "$CNF" \
		    -key "$PKI/private/$name.key" -sha256 \
		    -subj "/CN=$name/OU=$role" -out "$TMP/renew.csr"
		how="with the same key"
	fi

	db_save
	test_hook after-backup
	renew_from_csr "$role" "$name" "$TMP/renew.csr" "$days"
	if [ "$OPT_NEW_KEY" = yes ]; then
		place "$TMP/renew.key" "$PKI/private/$name.key" 600
	fi
	test_hook after-place
	commit

	enddate=$(openssl x509 -in "$PKI/issued/$name.pem" -noout -enddate)
	say "renewed $name (role $role) $how: serial $RENEW_SERIAL," \
	    "${enddate#notAfter=}"
	say "wrote $PKI/issued/$name.pem, certs_by_serial/$RENEW_SERIAL.pem" \
	    "and reqs/$name.req"
	say "moved the old issued/$name.pem to" \
	    "$PKI/renewed/certs_by_serial/$RENEW_OLD.crt"
	if [ "$OPT_NEW_KEY" = yes ]; then
		say "wrote $PKI/private/$name.key (the new key, mode 0600)"
	fi
	if [ -n "$RENEW_KEY_MOVED" ]; then
		say "moved the old private/$name.key to" \
		    "$PKI/renewed/private_by_serial/$RENEW_OLD.key"
	fi
	if [ -n "$RENEW_REVOKED" ]; then
		say "revoked the old serial(s)$RENEW_REVOKED"
		crl_written
		say "next: copy crl.pem to the server and send it SIGHUP"
	else
		say "the old certificate $RENEW_OLD stays valid until it" \
		    "expires (\"$PROG revoke $name --serial $RENEW_OLD\"" \
		    "revokes it)"
	fi
	case $role in
	server)
		say "next: install issued/$name.pem${OPT_NEW_KEY:+ and private/$name.key}" \
		    "as the server's [tls] cert and key, then" \
		    "systemctl reload signet-server"
		;;
	database)
		say "next: install issued/$name.pem${OPT_NEW_KEY:+ and private/$name.key}" \
		    "as PostgreSQL's ssl_cert_file${OPT_NEW_KEY:+ and ssl_key_file}," \
		    "then reload PostgreSQL"
		;;
	replica)
		say "next: install issued/$name.pem${OPT_NEW_KEY:+ and private/$name.key}" \
		    "as the sslcert${OPT_NEW_KEY:+ and sslkey} of $name's [cluster]" \
		    "database; it is read at each new connection to the database"
		;;
	agent)
		say "next: install issued/$name.pem as the host's" \
		    "/etc/signet/agent.pem${OPT_NEW_KEY:+ and private/$name.key as agent.key}" \
		    "and restart signet-agent; its result key" \
		    "keys/agents/$name.pub is unchanged"
		;;
	*)
		say "next: give $name issued/$name.pem" \
		    "${OPT_NEW_KEY:+and private/$name.key }for its client"
		;;
	esac
}

# ---------------------------------------------------------------------------
# revoke

cmd_revoke() {
	name=$1
	check_name revoke "$name"
	crldays=${OPT_CRL_DAYS:-$CRL_DAYS_DEFAULT}
	check_days --crl-days "$crldays" "$CRL_DAYS_MAX"
	SERIAL=""
	if [ -n "$OPT_SERIAL" ]; then
		check_serial "$OPT_SERIAL"
	fi
	open_pki
	need_ca_key
	lock_pki
	lines=$(name_index "$name")
	if [ -z "$lines" ]; then
		die "revoke $name: no certificate was ever issued to $name"
	fi
	live=$(printf '%s\n' "$lines" | grep '^live' | cut -f5) || live=""
	newest=""
	if [ -f "$PKI/issued/$name.pem" ]; then
		newest=$(cert_serial "$PKI/issued/$name.pem")
	fi
	if [ -n "$SERIAL" ]; then
		rv_line=$(printf '%s\n' "$lines" | awk -F '\t' -v s="$SERIAL" \
		    '$5 == s')
		if [ -z "$rv_line" ]; then
			die "revoke $name --serial $SERIAL: $name has no" \
			    "certificate with serial $SERIAL (see \"$PROG list\")"
		fi
		case $rv_line in
		revoked*) die "revoke $name --serial $SERIAL: already revoked" ;;
		expired*) die "revoke $name --serial $SERIAL: expired already" ;;
		esac
		if [ "$SERIAL" = "$newest" ]; then
			die "revoke $name --serial $SERIAL: that is $name's" \
			    "newest certificate; \"$PROG revoke $name\"" \
			    "revokes it with every other one and archives" \
			    "$name's files"
		fi
		live=$SERIAL
	elif [ -z "$live" ] && [ -z "$newest" ]; then
		die "revoke $name: $name has no valid certificate and its" \
		    "files are archived already (revoked or expired," \
		    "see \"$PROG list\"); nothing to do"
	fi
	make_tmp "$PKI"
	db_save
	for s in $live; do
		ca_run "revoke $name: serial $s" ca -batch -config "$CNF" \
		    -revoke "$PKI/certs_by_serial/$s.pem"
	done
	test_hook after-db
	if [ -z "$SERIAL" ] && [ -n "$newest" ]; then
		revoke_archive "$name" "$newest"
	fi
	test_hook after-move
	if [ -n "$live" ]; then
		gen_crl "$crldays"
		install_crl
	fi
	commit
	# shellcheck disable=SC2086 # a list of serials
	if [ -n "$live" ]; then
		say "revoked $name, serial(s)" $live "in $PKI/index.txt"
	else
		say "$name had no valid certificate left (expired or revoked)"
	fi
	if [ -z "$SERIAL" ] && [ -n "$newest" ]; then
		say "archived $name's files under $PKI/revoked/ (serial" \
		    "$newest): the name can be issued again"
		if [ -n "$RV_RESULT" ]; then
			say "moved its result key to" \
			    "revoked/keys_by_serial/$newest.result.pub;" \
			    "keep the server's agents_dir/$name.pub (or move" \
			    "it to agents_dir/retired/) while old results are" \
			    "verified"
		fi
	fi
	if [ -n "$live" ]; then
		crl_written
		say "next: copy crl.pem to the server and send it SIGHUP"
	fi
}

# revoke_archive NAME SERIAL: move NAME's files to revoked/*_by_serial/
# under its newest SERIAL (easy-rsa 3's layout); sets RV_RESULT when an
# agent's result key moved.
revoke_archive() {
	RV_RESULT=""
	mkdir_pki "$PKI/revoked" 700
	mkdir_pki "$PKI/revoked/certs_by_serial" 700
	move "$PKI/issued/$1.pem" "$PKI/revoked/certs_by_serial/$2.crt"
	if [ -f "$PKI/private/$1.key" ]; then
		mkdir_pki "$PKI/revoked/private_by_serial" 700
		move "$PKI/private/$1.key" "$PKI/revoked/private_by_serial/$2.key"
	fi
	if [ -f "$PKI/reqs/$1.req" ]; then
		mkdir_pki "$PKI/revoked/reqs_by_serial" 700
		move "$PKI/reqs/$1.req" "$PKI/revoked/reqs_by_serial/$2.req"
	fi
	for rv_x in key pub; do
		if [ -f "$PKI/keys/agents/$1.$rv_x" ]; then
			mkdir_pki "$PKI/revoked/keys_by_serial" 700
			move "$PKI/keys/agents/$1.$rv_x" \
			    "$PKI/revoked/keys_by_serial/$2.result.$rv_x"
			RV_RESULT=yes
		fi
	done
}

# ---------------------------------------------------------------------------
# list and expiring

# cert_rows: one line per index line, sorted by name then age: NAME, the
# line number, ROLE, SERIAL, expiry (YYYYMMDDHHMMSS), STATUS (valid,
# superseded, revoked, expired) and NEWEST (true when it is the name's
# last line), tab-separated.
cert_rows() {
	awk -F '\t' -v now="$(now_stamp)" "$AWK_LIB"'
	{
		n = split($6, rdn, "/")
		cn = "?"
		ou = "?"
		for (i = 1; i <= n; i++) {
			if (rdn[i] ~ /^CN=/) cn = substr(rdn[i], 4)
			if (rdn[i] ~ /^OU=/) ou = substr(rdn[i], 4)
		}
		gsub(/[\001-\037]/, "?", cn)
		gsub(/[\001-\037]/, "?", ou)
		c[NR] = cn; o[NR] = ou; s[NR] = $4; f[NR] = $1
		e[NR] = st_norm($2)
		last[cn] = NR
	}
	END {
		for (i = 1; i <= NR; i++) {
			if (f[i] == "R") st = "revoked"
			else if (f[i] == "E" || e[i] <= now) st = "expired"
			else if (last[c[i]] != i) st = "superseded"
			else st = "valid"
			printf "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c[i], i, o[i], \
			    s[i], e[i], st, (last[c[i]] == i ? "true" : "false")
		}
	}' "$PKI/index.txt" | sort -t "$TAB" -k1,1 -k2,2n
}

# ossl_date FILE WHAT: WHAT (startdate, enddate of a certificate;
# nextupdate, lastupdate of a CRL) as YYYYMMDDHHMMSS, or nothing.
ossl_date() {
	case $2 in
	*update) od_cmd=crl ;;
	*) od_cmd=x509 ;;
	esac
	openssl "$od_cmd" -in "$1" -noout "-$2" 2>/dev/null |
	    awk "$AWK_LIB"'{ sub(/^[A-Za-z]*=/, ""); print os_stamp($0) }'
}

# The CA's and the CRL's rows, as cert_rows': "ca" and "crl" for name and
# role, the CRL's number as its serial, nextUpdate as its expiry, and an
# eighth field: the CA's notBefore, the CRL's lastUpdate.
ca_crl_rows() {
	now=$(now_stamp)
	ca_serial=$(cert_serial "$PKI/ca.pem")
	ca_to=$(ossl_date "$PKI/ca.pem" enddate)
	ca_from=$(ossl_date "$PKI/ca.pem" startdate)
	crl_no=$(openssl crl -in "$PKI/crl.pem" -noout -crlnumber \
	    2>/dev/null) || crl_no=""
	crl_no=${crl_no#crlNumber=}
	crl_no=${crl_no#0x}
	crl_to=$(ossl_date "$PKI/crl.pem" nextupdate)
	crl_from=$(ossl_date "$PKI/crl.pem" lastupdate)
	ca_st=valid
	if [ -z "$ca_to" ] || [ "$ca_to" -le "$now" ]; then
		ca_st=expired
	fi
	crl_st=valid
	if [ -z "$crl_to" ] || [ "$crl_to" -le "$now" ]; then
		crl_st=expired
	fi
	printf 'ca\t0\tca\t%s\t%s\t%s\ttrue\t%s\n' "$ca_serial" "$ca_to" \
	    "$ca_st" "$ca_from"
	printf 'crl\t0\tcrl\t%s\t%s\t%s\ttrue\t%s\n' "${crl_no:-?}" \
	    "$crl_to" "$crl_st" "$crl_from"
}

cmd_list() {
	case $OPT_FORMAT in
	"" | text | json) ;;
	*) usage_die "list -o $(quote "$OPT_FORMAT"): give text or json" ;;
	esac
	open_pki
	recover_if_stale
	crl_expiry_warn
	if [ "$OPT_FORMAT" = json ]; then
		list_json
		return 0
	fi
	printf '%-24s %-9s %-40s %-20s %s\n' NAME ROLE SERIAL EXPIRES STATUS
	{ ca_crl_rows; cert_rows; } | awk -F '\t' "$AWK_LIB"'
	{
		printf "%-24s %-9s %-40s %-20s %s\n", $1, $3, $4, \
		    ($5 == "" ? "?" : st_iso($5)), $6
	}'
}

# cert_starts: "SERIAL<TAB>YYYYMMDDHHMMSS" (notBefore) of every certificate
# in certs_by_serial/, from one openssl run over all of them (a PKCS#7
# bundle printed as text), not one per certificate: a PKI of 10,000 hosts
# is listed in seconds. SERIAL as index.txt writes it (upper case hex).
cert_starts() {
	find "$PKI/certs_by_serial" -maxdepth 1 -type f -name '*.pem' \
	    -exec cat -- {} + 2>/dev/null |
	    openssl crl2pkcs7 -nocrl -certfile /dev/stdin 2>/dev/null |
	    openssl pkcs7 -print_certs -text -noout 2>/dev/null |
	    awk "$AWK_LIB"'
	# "Serial Number: 1 (0x1)" for a small serial, else the hex bytes on
	# the next line ("a5:0f:..."): both to upper case hex without colons.
	/^ *Serial Number:/ {
		v = $0
		sub(/^ *Serial Number: */, "", v)
		if (v == "") {
			want = 1
			next
		}
		if (match(v, /\(0x[0-9a-fA-F]+\)/))
			v = substr(v, RSTART + 3, RLENGTH - 4)
		serial = toupper(v)
		if (length(serial) % 2)
			serial = "0" serial
		next
	}
	want {
		v = $0
		gsub(/[ :]/, "", v)
		serial = toupper(v)
		want = 0
		next
	}
	/^ *Not Before *:/ {
		v = $0
		sub(/^ *Not Before *: */, "", v)
		st = os_stamp(v)
		if (serial != "" && st != "")
			printf "%s\t%s\n", serial, st
		serial = ""
	}'
}

# list_json: the rows of list as one JSON array of objects: name, role,
# serial, not_before (when the certificate can be read), not_after (ISO
# 8601 UTC), status, newest.
list_json() {
	{
		cert_starts | sed 's/^/S	/'
		{ ca_crl_rows; cert_rows; } | sed 's/^/R	/'
	} | awk -F '\t' "$AWK_LIB"'
	BEGIN { printf "[" }
	$1 == "S" { from[$2] = $3; next }
	{
		n++
		# ca_crl_rows carry their own eighth field; the notBefore of a
		# certificate comes from cert_starts.
		f = NF >= 9 ? $9 : from[$5]
		printf "%s\n  {\"name\": %s, \"role\": %s, \"serial\": %s", \
		    (n > 1 ? "," : ""), js($2), js($4), js($5)
		if (f ~ /^[0-9]+$/ && length(f) == 14)
			printf ", \"not_before\": %s", js(st_iso(f))
		printf ", \"not_after\": %s, \"status\": %s, \"newest\": %s}", \
		    ($6 ~ /^[0-9]+$/ && length($6) == 14 ? js(st_iso($6)) : \
		    "null"), js($7), ($8 == "true" ? "true" : "false")
	}
	END { printf "%s]\n", (n > 0 ? "\n" : "") }'
}

# expiring: the CA and each name's newest certificate (unless revoked or
# archived) that expires within --days N (default 30) or has expired, and
# the CRL when it expires within 7 days (or N when less); exit 1 when any.
cmd_expiring() {
	days=${OPT_DAYS:-30}
	check_days --days "$days" "$CA_DAYS_MAX"
	open_pki
	recover_if_stale
	now=$(date -u +%s)
	# The CA, the CRL, and each name's newest certificate unless it is
	# revoked or archived.
	{ ca_crl_rows; cert_rows; } | while IFS=$TAB read -r ex_n ex_i ex_r \
	    ex_s ex_e ex_st ex_new ex_rest; do
		: "$ex_i$ex_rest"
		if [ "$ex_new" != true ] || [ "$ex_st" = revoked ]; then
			continue
		fi
		case $ex_r in
		ca | crl) ;;
		*)
			if [ ! -f "$PKI/issued/$ex_n.pem" ]; then
				continue
			fi
			;;
		esac
		printf '%s\t%s\t%s\t%s\n' "$ex_n" "$ex_r" "$ex_s" "$ex_e"
	done | awk -F '\t' -v now="$now" -v days="$days" "$AWK_LIB"'
	{
		t = ($4 ~ /^[0-9]+$/ && length($4) == 14) ? st_epoch($4) : 0
		# The CRL is renewed often (30 days by default): it counts
		# from 7 days before its nextUpdate, as the server warns.
		lim = (FNR <= 2 && $2 == "crl" && days > 7) ? 7 : days
		if (t > now + lim * 86400)
			next
		d = (t - now) / 86400
		dl = int(d)
		if (d < 0 && dl != d)
			dl--
		if (!hit)
			printf "%-24s %-9s %-40s %-20s %5s %s\n", "NAME", \
			    "ROLE", "SERIAL", "EXPIRES", "DAYS", "STATUS"
		hit = 1
		printf "%-24s %-9s %-40s %-20s %5d %s\n", $1, $2, $3, \
		    (t ? st_iso($4) : "?"), dl, (t <= now ? "EXPIRED" : \
		    "expiring")
	}
	END { exit hit ? 1 : 0 }' || {
		say "renew what is listed: \"$PROG renew NAME\", \"$PROG crl\";" \
		    "the CA: see pki/README.md"
		exit 1
	}
	say "nothing expires within $days days"
}
