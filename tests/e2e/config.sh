#!/usr/bin/env bash
# sluice.yaml: options users repeat, as defaults for each command; the command line wins.
# Usage: config.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_config_0000000000000000000000
source "$(dirname "$0")/lib.sh"
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export HOME=$tmp/home
unset SLUICE_DATA SLUICE_STORE SLUICE_CONFIG
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/sluice.yaml" <<YAML
data: $tmp/data
serve:
  listen: 127.0.0.1:$port
  workers: 3
  log-format: json
YAML

begin "a config file's options reach the commands that take them"
run --config "$tmp/sluice.yaml" events list
expect_rc 0
[ -f "$tmp/data/sluice.db" ] || fail "events list did not use the file's data directory"
timeout 3 "$SLUICE" --config "$tmp/sluice.yaml" serve 2>"$tmp/serve.log"
grep -q "\"url\":\"http://127.0.0.1:$port\"" "$tmp/serve.log" || fail "serve did not listen where the file says: $(head -2 "$tmp/serve.log")"
# The command line wins over the file.
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 3 "$SLUICE" --config "$tmp/sluice.yaml" serve --listen "127.0.0.1:$port2" 2>"$tmp/serve2.log"
grep -q "\"url\":\"http://127.0.0.1:$port2\"" "$tmp/serve2.log" || fail "the command line did not win"
# $SLUICE_CONFIG, and the user's ~/.config/sluice/sluice.yaml.
SLUICE_CONFIG=$tmp/sluice.yaml run runs list
expect_rc 0
mkdir -p "$HOME/.config/sluice"
cp "$tmp/sluice.yaml" "$HOME/.config/sluice/sluice.yaml"
rm -rf "$tmp/data"
run runs list
expect_rc 0
[ -f "$tmp/data/sluice.db" ] || fail "the user's config file was not read"
end

begin "a broken config file is named, with what is wrong"
printf 'serve:\n  listn: 127.0.0.1:1\n' >"$tmp/bad.yaml"
run --config "$tmp/bad.yaml" serve
expect_rc 2
expect_err "serve.listn"
expect_err "has no --listn"
printf 'serve: [unclosed\n' >"$tmp/worse.yaml"
run --config "$tmp/worse.yaml" serve
expect_rc 2
expect_err "worse.yaml:"
run --config "$tmp/missing.yaml" runs list
expect_rc 2
expect_err "cannot read the config file"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
