#!/usr/bin/env bash
# The official Stripe SDKs' own test suites, written for Stripe's stateless mock, run against a
# fresh `sluice emulate` (a release build of this tree), and, given its binary, against the mock
# itself in the same run. Prints each suite's pass count and sorts the failures into those that
# only a stateless server can pass (a placeholder id such as cus_123 or cus_xxxxxxxxxxxxx, which
# real Stripe answers 404 too; a list or search that expects an object a fresh account does not
# have) and the rest. Loopback only; not run in CI.
#
# Usage: bench/sdk_suites.sh SDK_DIR...
#   SDK_DIR: a checkout of stripe-go (v75.x, API 2023-08-16) or stripe-python (v6.x); fetch it
#   yourself (git clone, then git checkout v75.4.0 / v6.4.0). The checkout is not changed: Go's
#   suite runs in a copy with its dependencies vendored from Debian's golang-*-dev packages.
#   STRIPE_MOCK=/path/to/stripe-mock also runs each suite against the mock.
#   SDK_FAILURES=DIR keeps each run's failures (one line each, with the message) in DIR.
# Needs (installed with apt-get when missing): golang-go, golang-github-stretchr-testify-dev,
# golang-golang-x-net-dev, socat and openssl for Go (its suite speaks HTTPS only);
# python3-pytest, python3-pytest-mock, python3-requests, python3-typing-extensions for Python.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/sdk_suites.sh SDK_DIR..." >&2; exit 2; }
root=$PWD
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice-cli >/dev/null
tmp=$(mktemp -d /tmp/sdk-suites.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
need() { # need COMMAND-OR-FILE PACKAGE...
    [ -e "$1" ] || command -v "$1" >/dev/null 2>&1 && return 0
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    shift
    $sudo apt-get install -y "$@" >/dev/null
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# start_peer KIND: a fresh peer on a free loopback port; sets $port (plain HTTP) and $tls_port.
start_peer() {
    port=$(free_port)
    if [ "$1" = emulator ]; then
        build/sluice emulate --listen "127.0.0.1:$port" 2>"$tmp/peer.log" &
        pids+=($!)
        wait_port "$port"
        tls_port=
        if [ "$suite" = go ]; then # a TLS front, as stripe-go's suite connects with HTTPS only
            tls_port=$(free_port)
            socat "openssl-listen:$tls_port,bind=127.0.0.1,reuseaddr,fork,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0" \
                "tcp:127.0.0.1:$port" 2>/dev/null &
            pids+=($!)
            wait_port "$tls_port"
        fi
    else
        tls_port=$(free_port)
        "$STRIPE_MOCK" -http-addr "127.0.0.1:$port" -https-addr "127.0.0.1:$tls_port" >"$tmp/peer.log" 2>&1 &
        pids+=($!)
        wait_port "$port" && wait_port "$tls_port"
    fi
}
stop_peers() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

# The Go suite in a copy of the checkout, its two requirements vendored from Debian's sources.
prepare_go() {
    need go golang-go
    need /usr/share/gocode/src/github.com/stretchr/testify golang-github-stretchr-testify-dev
    need /usr/share/gocode/src/golang.org/x/net golang-golang-x-net-dev
    need socat socat
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
        -days 1 -subj /CN=localhost 2>/dev/null
    cp -a "$1" "$tmp/go"
    local src=/usr/share/gocode/src
    local testify net
    testify=$(awk '$1 == "github.com/stretchr/testify" {print $2}' "$1/go.mod")
    net=$(awk '$1 == "golang.org/x/net" {print $2}' "$1/go.mod")
    rm -rf "$tmp/go/vendor"
    mkdir -p "$tmp/go/vendor"
    {
        for m in "github.com/stretchr/testify $testify explicit" "golang.org/x/net $net explicit" \
            "github.com/davecgh/go-spew v0" "github.com/pmezard/go-difflib v0" \
            "github.com/stretchr/objx v0" "gopkg.in/yaml.v3 v0" "golang.org/x/text v0" \
            "golang.org/x/sys v0"; do
            set -- $m
            [ -d "$src/$1" ] || continue
            mkdir -p "$tmp/go/vendor/$(dirname "$1")"
            cp -rL "$src/$1" "$tmp/go/vendor/$1"
            echo "# $1 $2"
            [ "${3:-}" = explicit ] && echo "## explicit"
            (cd "$tmp/go/vendor" && find "$1" -name '*.go' ! -name '*_test.go' -printf '%h\n' |
                grep -v '/testdata' | sort -u)
        done
    } >"$tmp/modules.txt"
    mv "$tmp/modules.txt" "$tmp/go/vendor/modules.txt"
}

# run_suite KIND LABEL: runs the suite against the peer started last; prints its counts.
run_suite() {
    local out="$tmp/$1-$2.out"
    if [ "$1" = go ]; then
        (cd "$tmp/go" && STRIPE_MOCK_PORT=$tls_port GOFLAGS=-mod=vendor GOPROXY=off \
            GOCACHE="$tmp/gocache" go test -count=1 -p 2 -json ./... >"$out" 2>/dev/null) || true
    else
        (cd "$sdk" && PYTHONDONTWRITEBYTECODE=1 STRIPE_MOCK_PORT=$port COLUMNS=1000 \
            /usr/bin/python3 -m pytest tests -q -p no:cacheprovider -rf --tb=no >"$out" 2>&1) || true
    fi
    python3 "$root/bench/sdk_count.py" "$1" "$2" "$out" "${SDK_FAILURES:-}"
}

for sdk in "$@"; do
    sdk=$(cd "$sdk" && pwd)
    if [ -f "$sdk/go.mod" ] && grep -q 'stripe/stripe-go' "$sdk/go.mod"; then
        suite=go
        prepare_go "$sdk"
    elif [ -f "$sdk/setup.py" ] && [ -d "$sdk/stripe" ] && [ -d "$sdk/tests" ]; then
        suite=python
        need /usr/lib/python3/dist-packages/pytest python3-pytest
        need /usr/lib/python3/dist-packages/pytest_mock python3-pytest-mock
        need /usr/lib/python3/dist-packages/requests python3-requests
        need /usr/lib/python3/dist-packages/typing_extensions.py python3-typing-extensions
    else
        echo "$sdk: neither a stripe-go nor a stripe-python checkout" >&2
        exit 2
    fi
    echo "== $suite suite ($sdk)"
    if [ -n "${STRIPE_MOCK:-}" ]; then
        start_peer mock
        run_suite "$suite" stripe-mock
        stop_peers
    fi
    start_peer emulator
    run_suite "$suite" emulator
    stop_peers
done
