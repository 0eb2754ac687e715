#!/usr/bin/env bash
# `sluice serve` restarts on its port at once after a stop under traffic (the closed
# connections' TIME_WAIT does not block the port), and a second serve on a port in use fails.
# Usage: serve_restart.sh SLUICE_BIN FAKE_STRIPE_BIN
set -uo pipefail
SLUICE=$1
FAKE=$2
KEY=sk_test_51HsecretsecretsecretsecretXYZ4f2a
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

add_shop
port=$(free_port)

begin "restart on the same port right after a stop under traffic"
start_serve "127.0.0.1:$port"
[ -n "$SURL" ] || fail "serve did not start: $(cat "$tmp/serve.log")"
# Connections the server closes first (Connection: close) leave TIME_WAIT on its own port, as
# a stop with clients connected does; traffic goes on while it stops.
for i in $(seq 30); do
    curl -s -o /dev/null -H 'Connection: close' "$SURL/healthz"
    post "evt_before_$i" -H 'Connection: close'
done
(for i in $(seq 200); do curl -s -o /dev/null -H 'Connection: close' "$SURL/healthz" || break; done) &
load=$!
sleep 0.3
tw=$(ss -Htan state time-wait "( sport = :$port )" | wc -l)
[ "$tw" -gt 0 ] || fail "the load left no TIME_WAIT socket on port $port"
stop_serve
wait "$load"
[ "$serve_rc" = 0 ] || fail "serve exited $serve_rc on SIGTERM"
tw=$(ss -Htan state time-wait "( sport = :$port )" | wc -l)
[ "$tw" -gt 0 ] || fail "no TIME_WAIT socket left on port $port at the restart"
echo "  ($tw sockets in TIME_WAIT on port $port at the restart)"
start_serve "127.0.0.1:$port"
if [ -z "$SURL" ]; then
    fail "serve did not listen again on port $port: $(head -c 400 "$tmp/serve.log")"
else
    post evt_after_restart
    expect_code 200
fi
end

begin "a second serve on a port in use fails, saying so"
run serve --listen "127.0.0.1:$port"
[ "$rc" != 0 ] || fail "a second serve started on port $port"
expect_err "cannot listen on 127.0.0.1:$port"
expect_err "in use"
post evt_still_first
expect_code 200
kill -0 "$serve_pid" 2>/dev/null || fail "the first serve died"
stop_serve
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
