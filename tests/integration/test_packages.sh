#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The Debian packages: scripts/package.sh makes signet-server, signet-agent
# and signet-tools; lintian reports no error (and no warning that
# packaging/README.md does not explain); each package holds exactly the
# expected files with the expected modes and owners, the expected
# conffiles, no key material, maintainer scripts that parse, and a Depends
# line that covers every shared library its binaries need.
# The checks run small "sh -c '...' sh ARG" scripts that get their values
# as $1 and expand them themselves: single quotes on purpose.
# shellcheck disable=SC2016
. "$SIGNET_SOURCE_DIR/tests/integration/lib.sh"
. "$SIGNET_SOURCE_DIR/tests/integration/pkg.sh"

pkg_need_plain_build
for tool in dpkg-deb lintian objdump flock; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found (scripts/deps.sh installs it)"
		exit 77
	fi
done

start=$(date +%s)
if ! pkg_build; then not_ok "scripts/package.sh builds the packages"; finish; exit 1; fi
ok "scripts/package.sh builds the packages ($(($(date +%s) - start)) s)"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$SIGNET_BUILD_DIR/pkg-build/CMakeCache.txt")

SERVER_DEB=$(pkg_deb signet-server) || SERVER_DEB=/missing/signet-server.deb
AGENT_DEB=$(pkg_deb signet-agent) || AGENT_DEB=/missing/signet-agent.deb
TOOLS_DEB=$(pkg_deb signet-tools) || TOOLS_DEB=/missing/signet-tools.deb
for deb in "$SERVER_DEB" "$AGENT_DEB" "$TOOLS_DEB"; do
	check "$(basename "$deb") exists" test -s "$deb"
done

# --- lintian: no error; every warning explained in packaging/README.md.
lintian --pedantic -I "$SERVER_DEB" "$AGENT_DEB" "$TOOLS_DEB" \
	>"$T_DIR/lintian.txt" 2>&1
sed -n 's/^/    lintian: /p' "$T_DIR/lintian.txt" | grep -v 'root privileges'
if grep -q '^E: ' "$T_DIR/lintian.txt"; then
	not_ok "lintian reports errors: $(grep '^E: ' "$T_DIR/lintian.txt" | head -5)"
else
	ok "lintian reports no error"
fi
unexplained=""
while IFS= read -r tag; do
	grep -q -- "$tag" "$SIGNET_SOURCE_DIR/packaging/README.md" ||
		unexplained="$unexplained $tag"
done < <(sed -n 's/^W: [^:]*: \([a-z0-9-]*\).*/\1/p' "$T_DIR/lintian.txt" | sort -u)
if [ -z "$unexplained" ]; then
	ok "every lintian warning is explained in packaging/README.md"
else
	not_ok "lintian warnings not explained in packaging/README.md:$unexplained"
fi

# --- contents: "MODE OWNER PATH" of every entry, exactly.
# listing DEB: one line per entry, e.g. "-rw-r----- root/root ./etc/x".
listing() {
	dpkg-deb -c "$1" | awk '{ print $1, $2, $6 }' | sort
}
# expect_files NAME DEB LINES: the package's listing equals LINES (plus the
# directories leading to them, which are checked for mode 0755 root).
expect_files() {
	local name=$1 deb=$2 want=$3 got
	got=$(listing "$deb" | grep -v '^d')
	if [ "$got" = "$(printf '%s\n' "$want" | sort)" ]; then
		ok "$name: files, modes and owners"
	else
		not_ok "$name: files differ (- expected, + packaged):"
		diff <(printf '%s\n' "$want" | sort) <(printf '%s\n' "$got") | sed 's/^/    /'
	fi
	got=$(listing "$deb" | grep '^d' | grep -v -e '^drwxr-xr-x root/root ' \
		-e '^drwxr-x--- root/root \./etc/signet/$')
	if [ -z "$got" ]; then
		ok "$name: directories 0755 root (/etc/signet 0750)"
	else
		not_ok "$name: unexpected directories: $got"
	fi
}
man_or_none() {	# the man pages, when man/ exists in this tree
	[ -d "$SIGNET_SOURCE_DIR/man" ] || return 0
	local p
	for p in "$@"; do echo "-rw-r--r-- root/root ./usr/share/man/$p.gz"; done
}
R='-rw-r--r-- root/root'
C='-rw-r----- root/root'
X='-rwxr-xr-x root/root'
crl=""
if [ -f "$SIGNET_SOURCE_DIR/packaging/systemd/signet-crl-renew.timer" ]; then
	crl="$R ./lib/systemd/system/signet-crl-renew.service
$R ./lib/systemd/system/signet-crl-renew.timer"
fi
if [ -f "$SIGNET_SOURCE_DIR/packaging/signet-crl-renew.default" ]; then
	crl="$crl
$R ./etc/default/signet-crl-renew"
fi
expect_files signet-server "$SERVER_DEB" "$(grep -v '^$' <<EOF
$X ./usr/sbin/signet-server
$C ./etc/signet/server.conf
$R ./lib/systemd/system/signet-server.service
$crl
$R ./usr/share/doc/signet-server/changelog.gz
$R ./usr/share/doc/signet-server/copyright
$R ./usr/share/lintian/overrides/signet-server
$(man_or_none man8/signet-server.8 man5/signet.conf.5)
EOF
)"
expect_files signet-agent "$AGENT_DEB" "$(grep -v '^$' <<EOF
$X ./usr/sbin/signet-agent
$C ./etc/signet/agent.conf
$C ./etc/signet/policy.json
$R ./lib/systemd/system/signet-agent.service
$R ./usr/share/doc/signet-agent/changelog.gz
$R ./usr/share/doc/signet-agent/copyright
$R ./usr/share/doc/signet-agent/examples/database.json
$R ./usr/share/doc/signet-agent/examples/locked-down.json
$R ./usr/share/doc/signet-agent/examples/signet-policy.schema.json
$R ./usr/share/doc/signet-agent/examples/web-tier.json
$R ./usr/share/lintian/overrides/signet-agent
$(man_or_none man8/signet-agent.8 man5/signet-policy.5)
EOF
)"
expect_files signet-tools "$TOOLS_DEB" "$(grep -v '^$' <<EOF
$X ./usr/bin/signetctl
$X ./usr/bin/signet-pki
$R ./usr/share/bash-completion/completions/signetctl
$R ./usr/share/signet/pki/bundle.sh
$R ./usr/share/signet/pki/certs.sh
$R ./usr/share/signet/pki/common.sh
$R ./usr/share/signet/pki/protect.sh
$R ./usr/share/doc/signet-tools/changelog.gz
$R ./usr/share/doc/signet-tools/copyright
$(man_or_none man1/signetctl.1 man8/signet-pki.8)
EOF
)"

# conffiles: every file under /etc, and nothing else.
expect_conffiles() {
	local name=$1 deb=$2 want=$3 got
	got=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null | sort)
	if [ "$got" = "$(printf '%s\n' "$want" | grep -v '^$' | sort)" ]; then
		ok "$name: conffiles"
	else
		not_ok "$name: conffiles are [$got], wanted [$want]"
	fi
}
crl_conf=""
[ -f "$SIGNET_SOURCE_DIR/packaging/signet-crl-renew.default" ] &&
	crl_conf=/etc/default/signet-crl-renew
expect_conffiles signet-server "$SERVER_DEB" "/etc/signet/server.conf
$crl_conf"
expect_conffiles signet-agent "$AGENT_DEB" "/etc/signet/agent.conf
/etc/signet/policy.json"
expect_conffiles signet-tools "$TOOLS_DEB" ""

# Shipped files are the sources: samples, policy, units.
for deb in "$SERVER_DEB" "$AGENT_DEB" "$TOOLS_DEB"; do
	n=$(basename "$deb" .deb); n=${n%%_*}
	mkdir -p "$T_DIR/x/$n" "$T_DIR/c/$n"
	dpkg-deb -x "$deb" "$T_DIR/x/$n"
	dpkg-deb -e "$deb" "$T_DIR/c/$n"
done
X_S=$T_DIR/x/signet-server X_A=$T_DIR/x/signet-agent X_T=$T_DIR/x/signet-tools
P=$SIGNET_SOURCE_DIR/packaging
check "server.conf is packaging/server.conf" cmp -s "$X_S/etc/signet/server.conf" "$P/server.conf"
check "agent.conf is packaging/agent.conf" cmp -s "$X_A/etc/signet/agent.conf" "$P/agent.conf"
check "policy.json is policy/examples/locked-down.json" \
	cmp -s "$X_A/etc/signet/policy.json" "$SIGNET_SOURCE_DIR/policy/examples/locked-down.json"
check "signet-server.service is the source unit" \
	cmp -s "$X_S/lib/systemd/system/signet-server.service" "$P/systemd/signet-server.service"
check "signet-agent.service is the source unit" \
	cmp -s "$X_A/lib/systemd/system/signet-agent.service" "$P/systemd/signet-agent.service"
check "the packaged signet-pki is pki/signet-pki" cmp -s "$X_T/usr/bin/signet-pki" \
	"$SIGNET_SOURCE_DIR/pki/signet-pki"
for f in common.sh certs.sh bundle.sh protect.sh; do
	check "the packaged signet-pki library $f is pki/lib/$f" \
		cmp -s "$X_T/usr/share/signet/pki/$f" "$SIGNET_SOURCE_DIR/pki/lib/$f"
done
# Unpacked anywhere, it finds its library in share/ beside bin/.
check "the packaged signet-pki runs: --version" \
	test "$("$X_T/usr/bin/signet-pki" --version)" = "signet-pki $version"
check "the packaged bash completion is cli/completion/signetctl.bash" \
	cmp -s "$X_T/usr/share/bash-completion/completions/signetctl" \
	"$SIGNET_SOURCE_DIR/cli/completion/signetctl.bash"
check "the packaged bash completion loads and completes signetctl" \
	bash -c '. "$1" && COMP_WORDS=(signetctl hos) COMP_CWORD=1 && _signetctl &&
	    [ "${COMPREPLY[*]}" = hosts ]' _ \
	"$X_T/usr/share/bash-completion/completions/signetctl"
check "the server unit runs the packaged binary with the packaged config" \
	grep -qx 'ExecStart=/usr/sbin/signet-server --config /etc/signet/server.conf' \
	"$X_S/lib/systemd/system/signet-server.service"
check "the agent unit runs the packaged binary with the packaged config" \
	grep -qx 'ExecStart=/usr/sbin/signet-agent --config /etc/signet/agent.conf' \
	"$X_A/lib/systemd/system/signet-agent.service"
check "the agent's config names the shipped policy" \
	grep -Eq '^policy *= */etc/signet/policy.json' "$X_A/etc/signet/agent.conf"
check "server audit log under /var/lib/signet" \
	grep -Eq '^path *= */var/lib/signet/' "$X_S/etc/signet/server.conf"
check "agent audit log under /var/lib/signet-agent" \
	grep -Eq '^path *= */var/lib/signet-agent/' "$X_A/etc/signet/agent.conf"

# --- no key material, by name or by content.
bad=$(find "$T_DIR/x" \( -name '*.key' -o -name '*.pem' -o -name '*.crt' \
	-o -name '*.p12' -o -name '*.pfx' -o -name '*.der' -o -name '*.pub' \
	-o -name '*.csr' -o -name 'private' \) -print)
if [ -z "$bad" ]; then ok "no key, certificate or CRL file by name"
else not_ok "key material by name: $bad"; fi
bad=$(grep -rlE -e '-----BEGIN ([A-Z ]*PRIVATE KEY|CERTIFICATE|X509 CRL)-----' "$T_DIR/x" || true)
if [ -z "$bad" ]; then ok "no PEM key, certificate or CRL inside any file"
else not_ok "PEM material inside: $bad"; fi
# An Ed25519 key file is one line of base64 (44 or 88 characters).
bad=$(find "$T_DIR/x" -type f -size -200c -exec grep -lxE '[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{86}==' {} + || true)
if [ -z "$bad" ]; then ok "no file that looks like an Ed25519 key"
else not_ok "Ed25519-like key files: $bad"; fi
bad=$(find "$T_DIR/x" -perm /6000 -print)
if [ -z "$bad" ]; then ok "no setuid or setgid file"; else not_ok "setuid/setgid: $bad"; fi

# --- control: names, version, maintainer scripts.
for n in signet-server signet-agent signet-tools; do
	f=$T_DIR/c/$n/control
	check "$n: Package field" grep -qx "Package: $n" "$f"
	check "$n: Version $version" grep -qx "Version: $version" "$f"
done
for s in signet-server/postinst signet-server/prerm signet-server/postrm \
	signet-agent/postinst signet-agent/prerm signet-agent/postrm; do
	check "$s is 0755 and parses" sh -c \
		'[ "$(stat -c %a "$1")" = 755 ] && sh -n "$1"' sh "$T_DIR/c/$s"
done
check "signet-tools has no maintainer script" \
	sh -c '! ls "$1"/postinst "$1"/prerm "$1"/postrm 2>/dev/null' sh "$T_DIR/c/signet-tools"
check "postrm purge never removes /var/lib" sh -c \
	'! grep -hE "rm .*(/var/lib|STATEDIR)" "$@"' sh "$T_DIR"/c/signet-*/postrm
check "the server's postinst makes user signet, /etc/signet 0750 root:signet" sh -c \
	'grep -q "adduser --system" "$1" && grep -q "override \"\$CONFDIR\" root signet 0750" "$1"' \
	sh "$T_DIR/c/signet-server/postinst"

# --- Depends: each shared library a binary needs is provided by a package
# named in Depends (found with dpkg -S on this build machine).
depends_of() {
	sed -n 's/^Depends: //p' "$T_DIR/c/$1/control" | tr ',' '\n' |
		sed 's/^ *//; s/[ (].*//; s/|.*//' | grep -v '^$'
}
check_shlibs() {
	local n=$1 bin=$2 lib path pkg missing=""
	for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }'); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit|libc6,/ { print $NF; exit }')
		[ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
		[ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
		if [ -z "$pkg" ] || ! depends_of "$n" | grep -qx "$pkg"; then
			missing="$missing $lib(${pkg:-?})"
		fi
	done
	if [ -z "$missing" ]; then ok "$n: Depends covers every library of $(basename "$bin")"
	else not_ok "$n: Depends misses$missing: $(grep '^Depends' "$T_DIR/c/$n/control")"; fi
}
check_shlibs signet-server "$X_S/usr/sbin/signet-server"
check_shlibs signet-agent "$X_A/usr/sbin/signet-agent"
check_shlibs signet-tools "$X_T/usr/bin/signetctl"
check "signet-server depends on adduser" grep -q "^Depends:.*adduser" "$T_DIR/c/signet-server/control"
check "signet-agent depends on adduser" grep -q '^Depends:.*adduser' "$T_DIR/c/signet-agent/control"
check "signet-tools depends on openssl (signet-pki)" grep -Eq '^Depends:(.*[ ,])?openssl(,|$| )' "$T_DIR/c/signet-tools/control"
grep '^Depends' "$T_DIR"/c/*/control | sed 's/^/    /'
# What is loaded without being linked: the libev plugin of libwebsockets.
if objdump -p "$X_S/usr/sbin/signet-server" | grep -q 'NEEDED.*libev\.so'; then
	check "signet-server depends on libwebsockets-evlib-ev (dlopen'ed)" \
		grep -q '^Depends:.*libwebsockets-evlib-ev' "$T_DIR/c/signet-server/control"
fi

echo "test_packages: $(($(date +%s) - start)) s"
finish
