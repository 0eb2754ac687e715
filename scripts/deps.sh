#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build (and, with --test, to run its tests) when
# any is missing. Sourced by scripts/demo.sh and scripts/test.sh.
sluice_install_deps() {
    local pkgs=(build-essential cmake pkg-config libcurl4-openssl-dev libjansson-dev libssl-dev libmicrohttpd-dev libsqlite3-dev libyaml-dev libpq-dev openssl curl)
    if [ "${1:-}" = "--test" ]; then
        pkgs+=(libcmocka-dev jq nodejs npm python3 python3-aiosmtpd postgresql sqlite3 chromium)
    fi
    local missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # Node may come from outside Debian (nvm, NodeSource): a working node and npm will do.
    if command -v node >/dev/null && command -v npm >/dev/null; then
        local kept=()
        for p in "${missing[@]}"; do
            [ "$p" = nodejs ] || [ "$p" = npm ] || kept+=("$p")
        done
        missing=("${kept[@]}")
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing missing Debian packages: ${missing[*]}"
    local sudo=
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}
