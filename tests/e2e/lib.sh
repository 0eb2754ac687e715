# Shared by the end-to-end shell tests: a temp directory, a scripted fake Stripe, running the
# binary with its output captured, and assertions that count passes and failures.
# The sourcing script sets SLUICE and FAKE (binaries) and KEY (the API key under test).
tmp=$(mktemp -d)
fake_pid=
emu_pid=
passed=0
failed=0

cleanup() {
    stop_fake
    if [ -n "$emu_pid" ]; then
        kill "$emu_pid" 2>/dev/null
        wait "$emu_pid" 2>/dev/null
    fi
    [ "$(type -t extra_cleanup)" = function ] && extra_cleanup
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $current: $*"
    echo "  stdout: $(head -c 600 "$tmp/out")"
    echo "  stderr: $(head -c 600 "$tmp/err")"
    failed=$((failed + 1))
    ok=0
}

# start_fake ARGS...: (re)starts fake_stripe with a record file; sets $URL.
start_fake() {
    stop_fake
    : >"$tmp/record"
    # The same port every time, so connections saved with --base-url keep reaching it.
    local try got port=${FAKE_PORT:-0}
    for try in 1 2 3 4 5 6 7 8 9 10; do
        # Another process's outgoing connection may hold the port for a moment (tests run side
        # by side); at the last try, any free port.
        [ "$try" = 10 ] && port=0
        "$FAKE" "$@" --record "$tmp/record" --port "$port" >"$tmp/port" 2>"$tmp/fake.err" &
        fake_pid=$!
        for _ in $(seq 400); do # up to 20 s on a loaded machine
            [ -s "$tmp/port" ] && break
            kill -0 "$fake_pid" 2>/dev/null || break
            sleep 0.05
        done
        got=$(head -1 "$tmp/port" 2>/dev/null)
        [[ "$got" =~ ^[1-9][0-9]*$ ]] && break
        # It could not listen (the port it had a moment ago): say why, and try again.
        echo "  (fake_stripe did not start, try $try: port file [$(od -An -c "$tmp/port" | head -c 80)]," \
            "alive $(kill -0 "$fake_pid" 2>/dev/null && echo yes || echo no): $(head -c 300 "$tmp/fake.err"))"
        kill "$fake_pid" 2>/dev/null
        wait "$fake_pid" 2>/dev/null
        fake_pid=
        sleep 0.3
    done
    FAKE_PORT=$got
    URL="http://127.0.0.1:$FAKE_PORT"
}

# start_emulator ARGS...: starts `sluice emulate` on a random loopback port (stopped at exit);
# sets $EMU_URL, empty when it did not start (its log is $tmp/emu.log).
start_emulator() {
    "$SLUICE" emulate --listen 127.0.0.1:0 "$@" 2>"$tmp/emu.log" &
    emu_pid=$!
    for _ in $(seq 400); do grep -qs '"url"' "$tmp/emu.log" && break; sleep 0.05; done
    EMU_URL=$(grep -so '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
}

stop_fake() {
    if [ -n "$fake_pid" ]; then
        kill "$fake_pid" 2>/dev/null
        wait "$fake_pid" 2>/dev/null
        fake_pid=
    fi
}

script() {
    printf '%s' "$1" >"$tmp/script.json"
    start_fake --script "$tmp/script.json"
}

# run ARGS...: runs sluice, capturing stdout, stderr and the exit code in $rc.
run() {
    "$SLUICE" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

begin() {
    current=$1
    ok=1
}

end() {
    [ "$ok" = 1 ] && passed=$((passed + 1)) && echo "ok: $current"
}

expect_rc() { [ "$rc" = "$1" ] || fail "exit code $rc, wanted $1"; }
expect_out() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks: $1"; }
expect_err() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks: $1"; }
requests() { wc -l <"$tmp/record" | tr -d ' '; }
expect_requests() { [ "$(requests)" = "$1" ] || fail "$(requests) requests reached the server, wanted $1"; }
# field N JQ: a field of the Nth recorded request (1-based)
field() { sed -n "${1}p" "$tmp/record" | jq -r "$2"; }
expect_field() {
    local got
    got=$(field "$1" "$2")
    [ "$got" = "$3" ] || fail "request $1 $2 = '$got', wanted '$3'"
}
expect_no_key_anywhere() {
    if grep -qF -- "$KEY" "$tmp/out" "$tmp/err"; then fail "the API key was printed"; fi
}


# signed_post URL SECRET TYPE ID: posts a minimal event of TYPE, signed as Stripe signs, to a
# receiver such as serve's /hooks/NAME; prints the HTTP status.
signed_post() {
    local t body sig
    t=$(date +%s)
    body="{\"id\":\"$4\",\"object\":\"event\",\"type\":\"$3\",\"created\":$t,\"livemode\":false,\"data\":{\"object\":{\"id\":\"obj_$4\"}}}"
    sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$2" | sed 's/^.* //')
    curl -s -o /dev/null -w '%{http_code}' -X POST "$1" \
        -H "Stripe-Signature: t=$t,v1=$sig" -H 'Content-Type: application/json' --data "$body"
}
