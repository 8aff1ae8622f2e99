#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Installs the Debian packages signet needs to build and test, only those
# that are missing (apt-get update runs only then). Needs root, or sudo.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang
	libsodium-dev libcjson-dev libinih-dev libssl-dev libcurl4-openssl-dev
	libwebsockets-dev libwebsockets-evlib-ev libev-dev libmicrohttpd-dev
	libsystemd-dev libpq-dev
	# tests and tools
	openssl ca-certificates curl python3 python3-jsonschema tar gzip procps
	docker.io busybox-static iproute2
	# the cluster's database (tests/integration/postgres.sh)
	postgresql-15 postgresql-client-15
	# the CA key in a PKCS#11 token (signet-pki init --pkcs11), tested
	# with a software token
	libengine-pkcs11-openssl softhsm2 opensc
	# the reviewer's HTML report opened headless (test_reconcile_report)
	chromium
	# style checks (scripts/shellcheck.sh, scripts/format.sh)
	shellcheck clang-format
	# packaging: Debian packages, man pages, systemd units, install test
	scdoc mandoc man-db groff-base bsdextrautils dpkg-dev fakeroot lintian
	debootstrap systemd file
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
