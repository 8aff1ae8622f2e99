# SPDX-License-Identifier: ISC
# signet-pki's certificate requests, sourced by pki/signet-pki: csr_check
# (a CSR made where its key lives, checked down to its bytes: one PEM
# block, DER as openssl writes it, signed by the key it carries, subject
# exactly /CN=NAME/OU=ROLE, an EC P-256 key, no attributes and so no
# requested extension) and sign-req (a certificate for that CSR with the
# role's extensions chosen by the CA, as issue makes them, and for an agent
# its result public key, registered or rotated; the PKI gets no private
# key). A live name of the same role is renewed through renew_from_csr
# (lib/renew.sh). Each command works under the lock and the undo of
# lib/common.sh.
#
# Not a program: it uses the variables and functions of signet-pki (PROG,
# NL, the OPT_* options, die, quote, say...) and of the other lib/*.sh.
# shellcheck shell=sh

# The largest CSR file accepted; a P-256 CSR in PEM is under 600 bytes.
CSR_MAX=16384

# The DER of an EC P-256 SubjectPublicKeyInfo (named curve, uncompressed
# point) up to the point itself: SEQUENCE { SEQUENCE { id-ecPublicKey,
# prime256v1 }, BIT STRING 04 || X || Y }, 91 bytes in all.
CSR_P256_SPKI=3059301306072a8648ce3d020106082a8648ce3d03010703420004

# csr_hex FILE: the bytes of FILE as one line of lower-case hex.
csr_hex() {
	od -An -tx1 -v <"$1" | tr -d ' \n'
}

# csr_check ROLE NAME FILE OUT: FILE is a certificate request that ROLE
# NAME may be signed from; copy it (PEM, as openssl writes it) to OUT, or
# die naming the check that failed. Works in $TMP/csr/ (the caller's TMP).
csr_check() {
	cc_role=$1
	cc_name=$2
	cc_file=$3
	cc_out=$4
	cc_q="CSR $(quote "$cc_file")"
	cc_d=$TMP/csr
	rm -rf -- "$cc_d"
	mkdir -- "$cc_d"

	# Check "file": a regular file, not empty, bounded.
	if [ ! -f "$cc_file" ]; then
		die "$cc_q: no such file (check: file)"
	fi
	if [ ! -r "$cc_file" ]; then
		die "$cc_q: cannot read it (check: file)"
	fi
	cc_size=$(wc -c <"$cc_file" | tr -d ' ')
	if [ "$cc_size" -eq 0 ]; then
		die "$cc_q: the file is empty (check: file)"
	fi
	if [ "$cc_size" -gt "$CSR_MAX" ]; then
		die "$cc_q: larger than $CSR_MAX bytes (check: file)"
	fi

	# Check "pem": one PEM block and nothing else. No other bytes than
	# those of PEM text (so neither DER nor a NUL), then the lines: the
	# BEGIN line, base64 lines, the END line, blank lines around.
	cc_pem="the file must hold one -----BEGIN CERTIFICATE REQUEST-----"
	cc_pem="$cc_pem block and nothing else; a DER request can be"
	cc_pem="$cc_pem converted with \"openssl req -inform DER -in FILE"
	cc_pem="$cc_pem -out FILE.pem\""
	if [ "$(tr -d 'A-Za-z0-9+/= \r\n-' <"$cc_file" | wc -c |
	    tr -d ' ')" -ne 0 ]; then
		die "$cc_q: not a PEM certificate request: it holds bytes" \
		    "that are not PEM text (check: pem); $cc_pem"
	fi
	if ! awk '
	BEGIN { st = 0; n = 0 }
	{ sub(/\r$/, "") }
	$0 == "" && st != 1 { next }
	st == 0 && $0 == "-----BEGIN CERTIFICATE REQUEST-----" { st = 1; next }
	st == 1 && $0 == "-----END CERTIFICATE REQUEST-----" && n > 0 {
		st = 2
		next
	}
	st == 1 && /^[A-Za-z0-9+\/=]+$/ && length($0) <= 76 { n++; print; next }
	{ bad = 1; exit }
	END { exit (bad || st != 2) }' "$cc_file" >"$cc_d/body.b64"; then
		die "$cc_q: not a PEM certificate request (check: pem);" \
		    "$cc_pem"
	fi
	if ! openssl base64 -d -in "$cc_d/body.b64" -out "$cc_d/body.der" \
	    2>/dev/null ||
	    ! openssl req -inform DER -in "$cc_d/body.der" -outform DER \
	    -out "$cc_d/csr.der" >/dev/null 2>&1; then
		die "$cc_q: not a certificate request: openssl cannot parse" \
		    "it (check: pem)"
	fi
	# The bytes are the DER openssl writes: nothing after the request,
	# no other encoding of it.
	if ! cmp -s "$cc_d/body.der" "$cc_d/csr.der"; then
		die "$cc_q: not a certificate request as openssl writes it" \
		    "(trailing bytes or a non-DER encoding) (check: der)"
	fi

	# Check "structure": CertificationRequestInfo is version 0, subject,
	# key, and an empty [0] attributes; then the signature algorithm.
	if ! openssl asn1parse -inform DER -in "$cc_d/csr.der" \
	    >"$cc_d/asn1" 2>/dev/null; then
		die "$cc_q: openssl cannot parse its ASN.1 (check: der)"
	fi
	# The lines at depth 1 and 2, "DEPTH LENGTH TYPE[ :VALUE]".
	cc_shape=$(awk '
	{
		d = $1; sub(/^[0-9]*:d=/, "", d)
		t = $0; sub(/^[^:]*: */, "", t); sub(/^[^:]*: */, "", t)
		sub(/ *$/, "", t); gsub(/  +/, " ", t)
		l = $0; sub(/^.* l= */, "", l); sub(/ .*$/, "", l)
		if (d == 1 || d == 2) print d, l, t
	}' "$cc_d/asn1")
	case $(printf '%s\n' "$cc_shape" | sed -n '5p') in
	"2 0 cont [ 0 ]") ;;
	"2 "*" cont [ 0 ]")
		# Check "extensions": no attribute, so no extensionRequest.
		if grep -q ':Extension Request *$' "$cc_d/asn1"; then
			cc_ext=$(awk '$1 ~ /:d=7$/ && / prim: OBJECT / {
				sub(/^[^:]*:[^:]*: *OBJECT *:/, "")
				sub(/ *$/, ""); printf "%s%s", s, $0; s = ", "
			}' "$cc_d/asn1")
			die "$cc_q: requests extensions: ${cc_ext:-?}" \
			    "(check: extensions); the CA decides every" \
			    "extension: make the request without any"
		fi
		die "$cc_q: carries attributes (check: extensions); the" \
		    "request must carry none: the CA decides every extension"
		;;
	*)
		die "$cc_q: not a request of the expected shape: no empty" \
		    "attribute set after the key (check: der)"
		;;
	esac
	# Check "key": an EC P-256 key on the named curve.
	if ! openssl req -inform DER -in "$cc_d/csr.der" -noout -pubkey \
	    -out "$cc_d/pub.pem" 2>/dev/null ||
	    ! openssl pkey -pubin -in "$cc_d/pub.pem" -outform DER \
	    -out "$cc_d/pub.der" 2>/dev/null; then
		die "$cc_q: openssl cannot read its public key (check: key)"
	fi
	cc_spki=$(csr_hex "$cc_d/pub.der")
	case $cc_spki in
	"$CSR_P256_SPKI"*) ;;
	*)
		cc_alg=$(openssl pkey -pubin -in "$cc_d/pub.pem" -noout -text \
		    2>/dev/null | sed -n '1p')
		die "$cc_q: the key is not EC P-256 on the named curve" \
		    "prime256v1 (it is: ${cc_alg:-unknown}) (check: key)"
		;;
	esac
	if [ "${#cc_spki}" -ne 182 ]; then
		die "$cc_q: the key is not an uncompressed P-256 point" \
		    "(check: key)"
	fi

	# Check "signature": made by the key the request carries, with
	# ECDSA and SHA-2. openssl req -verify exits 0 even when the
	# signature is wrong (OpenSSL 3.0), so its words are read, and the
	# signature is also checked on the exact bytes with openssl dgst.
	cc_sigalg=$(sed -n '/^ *[0-9]*:d=1 .*cons: SEQUENCE/{
		n
		s/^.*prim: OBJECT *:\(ecdsa-with-SHA[0-9]*\) *$/\1/p
	}' "$cc_d/asn1" | sed -n '1p')
	case $cc_sigalg in
	ecdsa-with-SHA256) cc_md=sha256 ;;
	ecdsa-with-SHA384) cc_md=sha384 ;;
	ecdsa-with-SHA512) cc_md=sha512 ;;
	*)
		die "$cc_q: not signed with ECDSA and SHA-256, SHA-384 or" \
		    "SHA-512 (check: signature)"
		;;
	esac
	openssl req -inform DER -in "$cc_d/csr.der" -noout -verify \
	    >"$cc_d/verify" 2>&1 || true
	if ! grep -qx 'Certificate request self-signature verify OK' \
	    "$cc_d/verify"; then
		die "$cc_q: the signature does not verify with the key the" \
		    "request carries (check: signature)"
	fi
	# The signed bytes: the CertificationRequestInfo (second line of
	# asn1parse, header and body); the signature: the last BIT STRING.
	cc_info=$(awk 'NR == 2 {
		o = $1; sub(/:.*/, "", o)
		h = $0; sub(/^.*hl=/, "", h); sub(/ .*$/, "", h)
		l = $0; sub(/^.* l= */, "", l); sub(/ .*$/, "", l)
		print o, h + l
	}' "$cc_d/asn1")
	cc_bits=$(awk '/prim: BIT STRING/ { last = $0 } END {
		o = last; sub(/:.*/, "", o); sub(/^ */, "", o)
		h = last; sub(/^.*hl=/, "", h); sub(/ .*$/, "", h)
		l = last; sub(/^.* l= */, "", l); sub(/ .*$/, "", l)
		print o + h + 1, l - 1
	}' "$cc_d/asn1")
	if ! dd if="$cc_d/csr.der" of="$cc_d/info.der" bs=1 \
	    skip="${cc_info% *}" count="${cc_info#* }" 2>/dev/null ||
	    ! dd if="$cc_d/csr.der" of="$cc_d/sig.der" bs=1 \
	    skip="${cc_bits% *}" count="${cc_bits#* }" 2>/dev/null ||
	    ! openssl dgst "-$cc_md" -verify "$cc_d/pub.pem" \
	    -signature "$cc_d/sig.der" "$cc_d/info.der" >/dev/null 2>&1; then
		die "$cc_q: the signature does not verify with the key the" \
		    "request carries (check: signature)"
	fi

	# The rest of the shape: version 0, subject, key, attributes, then
	# one signature algorithm and the signature.
	if ! printf '%s\n' "$cc_shape" | awk '
	{ n++ }
	n == 1 && !/^1 [0-9]+ SEQUENCE$/ { bad = 1 }
	n == 2 && $0 != "2 1 INTEGER :00" { bad = 1 }
	(n == 3 || n == 4) && !/^2 [0-9]+ SEQUENCE$/ { bad = 1 }
	n == 6 && !/^1 [0-9]+ SEQUENCE$/ { bad = 1 }
	n == 7 && !/^2 [0-9]+ OBJECT :/ { bad = 1 }
	n == 8 && !/^1 [0-9]+ BIT STRING$/ { bad = 1 }
	END { exit (bad || n != 8) }'; then
		die "$cc_q: not a version 1 request of the expected shape" \
		    "(check: der)"
	fi

	# Check "subject": exactly CN=NAME then OU=ROLE, nothing else.
	cc_subj=$(openssl req -inform DER -in "$cc_d/csr.der" -noout -subject \
	    -nameopt RFC2253 2>/dev/null) || cc_subj=""
	cc_subj=${cc_subj#subject=}
	if [ "$cc_subj" != "OU=$cc_role,CN=$cc_name" ]; then
		die "$cc_q: the subject is $(quote "$cc_subj") (RFC 2253)," \
		    "not /CN=$cc_name/OU=$cc_role (check: subject)"
	fi
	if [ "$(grep -c 'prim: OBJECT' "$cc_d/asn1")" -ne 5 ]; then
		die "$cc_q: the subject holds more than CN and OU" \
		    "(check: subject)"
	fi
	# Its values as text (UTF8String or PrintableString), so that they
	# read the same in every tool: openssl shows a BMPString as the
	# same characters above, but the database and the server see others.
	cc_vals=$(awk '$1 ~ /:d=5$/ && / prim: / && !/ prim: OBJECT / {
		t = $0; sub(/^.* prim: */, "", t); sub(/ *$/, "", t)
		gsub(/  +/, " ", t); print t
	}' "$cc_d/asn1" | sed 's/^PRINTABLESTRING /UTF8STRING /')
	if [ "$cc_vals" != "UTF8STRING :$cc_name${NL}UTF8STRING :$cc_role" ]
	then
		die "$cc_q: the subject's values are not plain text" \
		    "(UTF8String or PrintableString) (check: subject)"
	fi

	if ! openssl req -inform DER -in "$cc_d/csr.der" -outform PEM \
	    -out "$cc_out" 2>/dev/null; then
		die "$cc_q: cannot write it out as PEM"
	fi
	chmod 644 -- "$cc_out"
	rm -rf -- "$cc_d"
}

# sreq_live_roles NAME: the roles of NAME's live certificates (index status
# V, expiry in the future), one a line.
sreq_live_roles() {
	awk -F '\t' -v cn="$1" -v now="$(now_stamp)" '
	$1 == "V" {
		n = split($6, rdn, "/"); hit = 0; ou = "?"
		for (i = 1; i <= n; i++) {
			if (rdn[i] == "CN=" cn) hit = 1
			if (rdn[i] ~ /^OU=/) ou = substr(rdn[i], 4)
		}
		if (!hit) next
		e = $2; sub(/Z$/, "", e)
		if (length(e) == 12) e = (substr(e, 1, 2) < 50 ? "20" : "19") e
		if (e > now) print ou
	}' "$PKI/index.txt" | sort -u
}

# sreq_pub_check FILE: FILE is one Ed25519 public key (one_pub), at most
# 1 KiB; the key in SREQ_PUB.
sreq_pub_check() {
	sp_q="--result-pub $(quote "$1")"
	if [ -f "$1" ] && [ "$(wc -c <"$1" | tr -d ' ')" -gt 1024 ]; then
		die "$sp_q: not an Ed25519 public key (a .pub file, never" \
		    "a .key): too large"
	fi
	one_pub "$sp_q" "$1"
	SREQ_PUB=$ONE_PUB
}

# sign-req ROLE NAME FILE: a certificate for the request FILE, made where
# NAME's key lives; the PKI keeps no private key of NAME.
cmd_sign_req() {
	sr_role=$1
	sr_name=$2
	sr_file=$3
	case $sr_role in
	server | agent | operator | auditor | database | replica) ;;
	*)
		usage_die "sign-req $(quote "$sr_role"): the role must be server," \
		    "agent, operator, auditor, database or replica"
		;;
	esac
	check_name "sign-req $sr_role" "$sr_name"
	sr_days=${OPT_DAYS:-$LEAF_DAYS_DEFAULT}
	check_days --days "$sr_days" "$LEAF_DAYS_MAX"
	if [ "$sr_role" = server ] || [ "$sr_role" = database ]; then
		check_sans "sign-req $sr_role $sr_name"
	elif [ -n "$OPT_DNS$OPT_IP" ]; then
		usage_die "sign-req $sr_role $sr_name: --dns and --ip are for a" \
		    "server's certificate"
	fi
	if [ -n "$OPT_RESULT_PUB" ] && [ "$sr_role" != agent ]; then
		usage_die "sign-req $sr_role $sr_name: --result-pub is for an agent"
	fi
	case $sr_file in
	"") usage_die "sign-req $sr_role $sr_name: missing FILE, the request" ;;
	esac
	open_pki
	need_ca_key
	lock_pki

	# A live name is renewed if the role is the same, else refused.
	sr_live=$(sreq_live_roles "$sr_name")
	sr_renewal=no
	if [ -n "$sr_live" ]; then
		if [ "$sr_live" != "$sr_role" ]; then
			die "sign-req $sr_role $sr_name: $sr_name holds a valid" \
			    "certificate of role $(printf '%s' "$sr_live" |
			    tr '\n' ' ' | sed 's/ $//'); names are unique" \
			    "across roles"
		fi
		if ! command -v renew_from_csr >/dev/null 2>&1; then
			die "sign-req $sr_role $sr_name: $sr_name holds a valid" \
			    "certificate, so this is a renewal; renewal by CSR" \
			    "needs lib/renew.sh"
		fi
		sr_renewal=yes
	else
		for f in "issued/$sr_name.pem" "private/$sr_name.key" \
		    "reqs/$sr_name.req"; do
			if [ -e "$PKI/$f" ] || [ -L "$PKI/$f" ]; then
				die "sign-req $sr_role $sr_name: $PKI/$f already" \
				    "exists though $sr_name holds no valid" \
				    "certificate; refusing to overwrite it" \
				    "(revoke archives a name's files)"
			fi
		done
	fi

	# The agent's result key: registered the first time, rotated when a
	# different one is given later.
	sr_rpub=$PKI/keys/agents/$sr_name.pub
	sr_rotate=no
	sr_newpub=no
	if [ "$sr_role" = agent ]; then
		if [ -n "$OPT_RESULT_PUB" ]; then
			sreq_pub_check "$OPT_RESULT_PUB"
			if [ -e "$sr_rpub" ] || [ -L "$sr_rpub" ]; then
				if [ ! -f "$sr_rpub" ]; then
					die "sign-req agent $sr_name: $sr_rpub is not" \
					    "a file"
				fi
				sr_cur=$(grep -v -e '^$' -e '^#' -- "$sr_rpub" ||
				    true)
				if [ "$sr_cur" != "$SREQ_PUB" ]; then
					sr_rotate=yes
				fi
			else
				sr_newpub=yes
			fi
		elif [ ! -f "$sr_rpub" ]; then
			usage_die "sign-req agent $sr_name: give --result-pub" \
			    "FILE, the agent's result public key (result.pub" \
			    "from signet-agent enroll): the PKI holds no" \
			    "keys/agents/$sr_name.pub"
		fi
	fi
	sr_stamp=$(date -u +%Y%m%dT%H%M%SZ)
	sr_rdir=$PKI/keys/agents/retired
	sr_rold=$sr_rdir/$sr_name.$sr_stamp.pub
	sr_rkey=$PKI/keys/agents/$sr_name.key
	sr_rkold=$sr_rdir/$sr_name.$sr_stamp.key
	if [ "$sr_rotate" = yes ]; then
		for f in "$sr_rold" "$sr_rkold"; do
			if [ -e "$f" ] || [ -L "$f" ]; then
				die "sign-req agent $sr_name: $f already exists;" \
				    "refusing to overwrite it (retry in a" \
				    "second)"
			fi
		done
	fi

	make_tmp "$PKI"
	csr_check "$sr_role" "$sr_name" "$sr_file" "$TMP/$sr_name.req"
	if [ "$sr_newpub" = yes ] || [ "$sr_rotate" = yes ]; then
		printf '%s\n' "$SREQ_PUB" >"$TMP/$sr_name.pub"
		chmod 644 -- "$TMP/$sr_name.pub"
	fi
	if [ ! -d "$PKI/reqs" ]; then
		# A PKI made before sign-req has no reqs/: made here, and
		# removed on failure (rollback, as roster init's roster/).
		mkdir -- "$PKI/reqs"
		chmod 755 -- "$PKI/reqs"
		# shellcheck disable=SC2034 # read by rollback (lib/common.sh)
		INIT_DIR=$PKI/reqs
		# shellcheck disable=SC2034 # read by rollback (lib/common.sh)
		INIT_MADE=yes
	fi

	db_save
	if [ "$sr_renewal" = yes ]; then
		renew_from_csr "$sr_role" "$sr_name" "$TMP/$sr_name.req" "$sr_days"
		sr_serial=$RENEW_SERIAL
		if [ ! -f "$PKI/issued/$sr_name.pem" ]; then
			die "sign-req $sr_role $sr_name: the renewal left no" \
			    "$PKI/issued/$sr_name.pem"
		fi
		sr_cert=$PKI/issued/$sr_name.pem
	else
		write_ext "$sr_role" >"$TMP/ext.cnf"
		new_serial
		ca_run "sign-req $sr_role $sr_name: signing" ca -batch -config "$CNF" \
		    -in "$TMP/$sr_name.req" -out "$TMP/$sr_name.pem" -outdir "$TMP" \
		    -days "$sr_days" -extfile "$TMP/ext.cnf" -extensions ext -notext
		sr_serial=$(openssl x509 -in "$TMP/$sr_name.pem" -noout -serial)
		sr_serial=${sr_serial#serial=}
		sr_cert=$TMP/$sr_name.pem
	fi
	# What was signed is what was asked: the subject and the key.
	sr_subj=$(openssl x509 -in "$sr_cert" -noout -subject -nameopt RFC2253)
	if [ "$sr_subj" != "subject=OU=$sr_role,CN=$sr_name" ]; then
		die "sign-req $sr_role $sr_name: the certificate's subject is" \
		    "$(quote "${sr_subj#subject=}"), not /CN=$sr_name/OU=$sr_role"
	fi
	openssl x509 -in "$sr_cert" -noout -pubkey >"$TMP/p1"
	openssl req -in "$TMP/$sr_name.req" -noout -pubkey >"$TMP/p2"
	if ! cmp -s "$TMP/p1" "$TMP/p2"; then
		die "sign-req $sr_role $sr_name: the certificate's key is not" \
		    "the request's"
	fi
	sr_enddate=$(openssl x509 -in "$sr_cert" -noout -enddate)
	if ! openssl x509 -in "$PKI/ca.pem" -noout \
	    -checkend $((sr_days * 86400)) >/dev/null; then
		printf '%s: warning: the CA expires before this certificate\n' \
		    "$PROG" >&2
	fi

	if [ "$sr_renewal" = no ]; then
		place "$TMP/$sr_name.pem" "$PKI/issued/$sr_name.pem" 644
		place "$TMP/$sr_serial.pem" "$PKI/certs_by_serial/$sr_serial.pem" 644
		place "$TMP/$sr_name.req" "$PKI/reqs/$sr_name.req" 644
	fi
	if [ "$sr_newpub" = yes ]; then
		place "$TMP/$sr_name.pub" "$sr_rpub" 644
	fi
	if [ "$sr_rotate" = yes ]; then
		sreq_rotate
	fi
	commit

	if [ "$sr_renewal" = yes ]; then
		say "renewed $sr_name: $PKI/issued/$sr_name.pem ($sr_role certificate," \
		    "serial $sr_serial, ${sr_enddate#notAfter=}) signed from" \
		    "the request $(quote "$sr_file")"
	else
		say "wrote $PKI/issued/$sr_name.pem ($sr_role certificate, serial" \
		    "$sr_serial, ${sr_enddate#notAfter=}) signed from the request" \
		    "$(quote "$sr_file")"
		say "wrote $PKI/reqs/$sr_name.req (the request)"
	fi
	say "no private key of $sr_name is in the PKI: $sr_name keeps its own"
	if [ "$sr_newpub" = yes ]; then
		say "wrote $sr_rpub (result public key, key id" \
		    "$(key_id "$sr_rpub"))"
	elif [ "$sr_rotate" = yes ]; then
		say "rotated the result key of $sr_name: the old one, key id" \
		    "$(key_id "$sr_rold"), is now $sr_rold; the new one, key id" \
		    "$(key_id "$sr_rpub"), is $sr_rpub"
		if [ -f "$sr_rkold" ]; then
			say "moved the old result secret key $sr_rkey (made" \
			    "in the PKI) to $sr_rkold"
		fi
		say "next: on the server, move agents_dir/$sr_name.pub to" \
		    "agents_dir/retired/$sr_name.$sr_stamp.pub (old results keep" \
		    "verifying) and install keys/agents/$sr_name.pub as" \
		    "agents_dir/$sr_name.pub"
	elif [ "$sr_role" = agent ]; then
		say "kept the result key $sr_rpub (key id $(key_id "$sr_rpub"))"
	fi
	case $sr_role in
	agent)
		say "next: \"$PROG bundle $sr_name --server wss://HOST:8444\"" \
		    "(a bundle without private keys);" \
		    "install keys/agents/$sr_name.pub in the server's agents_dir"
		;;
	server)
		say "next: install issued/$sr_name.pem as the server's [tls]" \
		    "cert, beside the key the request was made with"
		;;
	*)
		say "next: give issued/$sr_name.pem back to $sr_name (it is" \
		    "public): it goes as $sr_name.pem beside $sr_name.key in the" \
		    "DIR of \"signetctl enroll $sr_name --role $sr_role --out" \
		    "DIR\""
		;;
	esac
}

# sreq_rotate: keys/agents/NAME.pub becomes keys/agents/retired/NAME.
# STAMP.pub (and a secret key made in the PKI goes with it), then the new
# pub takes its place: the only overwrite, a move of the old and a place
# of the new. The last step before commit; signals are held off while the
# two are done, and a failure moves the old ones back.
sreq_rotate() {
	sr_rdir_made=no
	if [ ! -d "$sr_rdir" ]; then
		mkdir -- "$sr_rdir"
		chmod 700 -- "$sr_rdir"
		sr_rdir_made=yes
	fi
	trap '' HUP INT TERM
	if ! mv -- "$sr_rpub" "$sr_rold"; then
		sreq_rotate_undo
		die "sign-req agent $sr_name: cannot move $sr_rpub to $sr_rold"
	fi
	if [ -f "$sr_rkey" ] && ! mv -- "$sr_rkey" "$sr_rkold"; then
		sreq_rotate_undo
		die "sign-req agent $sr_name: cannot move $sr_rkey to $sr_rkold"
	fi
	chmod 644 -- "$TMP/$sr_name.pub"
	if [ -e "$sr_rpub" ] || ! ln -- "$TMP/$sr_name.pub" "$sr_rpub" 2>/dev/null; then
		sreq_rotate_undo
		die "sign-req agent $sr_name: cannot place $sr_rpub"
	fi
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

sreq_rotate_undo() {
	if [ -f "$sr_rkold" ] && [ ! -e "$sr_rkey" ]; then
		mv -- "$sr_rkold" "$sr_rkey" || true
	fi
	if [ -f "$sr_rold" ] && [ ! -e "$sr_rpub" ]; then
		mv -- "$sr_rold" "$sr_rpub" || true
	fi
	if [ "$sr_rdir_made" = yes ]; then
		rmdir -- "$sr_rdir" 2>/dev/null || true
	fi
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
