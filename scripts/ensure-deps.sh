#!/usr/bin/env bash
# Installs the machine packages TenantAtlas's tests and local default need, if missing:
# PostgreSQL server binaries (initdb, postgres), tmux, the OpenSSH client and promtool (Debian's
# prometheus package: the metrics and alert-rule tests run it). Debian/Ubuntu only.
set -euo pipefail
missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	missing+=(postgresql)
fi
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
