#!/usr/bin/env bash
# Shell completion and the manual page come from the commands' own help.
# Usage: shell.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_shell_00000000000000000000000
source "$(dirname "$0")/lib.sh"
bindir=$(cd "$(dirname "$SLUICE")" && pwd)

begin "bash completion: commands, subcommands, each command's options"
run completion bash
expect_rc 0
cp "$tmp/out" "$tmp/complete.bash"
got=$(PATH=$bindir:$PATH bash -c "source '$tmp/complete.bash'
    COMP_WORDS=(sluice ru); COMP_CWORD=1; _sluice; echo \"\${COMPREPLY[*]}\"
    COMP_WORDS=(sluice runs re); COMP_CWORD=2; _sluice; echo \"\${COMPREPLY[*]}\"
    COMP_WORDS=(sluice serve --lea); COMP_CWORD=2; _sluice; echo \"\${COMPREPLY[*]}\"
    COMP_WORDS=(sluice trigger invoice.pa); COMP_CWORD=2; _sluice; echo \"\${COMPREPLY[*]}\"")
[ "$(sed -n 1p <<<"$got")" = runs ] || fail "command: $(sed -n 1p <<<"$got")"
[ "$(sed -n 2p <<<"$got")" = retry ] || fail "subcommand: $(sed -n 2p <<<"$got")"
[ "$(sed -n 3p <<<"$got")" = --lease ] || fail "option: $(sed -n 3p <<<"$got")"
grep -q invoice.paid <<<"$(sed -n 4p <<<"$got")" || fail "trigger's event types: $(sed -n 4p <<<"$got")"
run completion fish
expect_rc 2
end

begin "sluice man: a manual page with every command"
run man
expect_rc 0
grep -q '^\.TH SLUICE 1' "$tmp/out" || fail "no .TH"
for c in call ops connect serve demo emulate trigger flows runs events completion man; do
    grep -q "^\.SS $c\$" "$tmp/out" || fail "no section for $c"
done
if command -v groff >/dev/null; then
    groff -man -Tutf8 "$tmp/out" 2>"$tmp/groff.err" | grep -q 'sluice serve' || fail "groff did not render it"
    [ -s "$tmp/groff.err" ] && fail "groff warns: $(head -3 "$tmp/groff.err")"
fi
end

begin "the README's call examples run as shown against the emulator, and help help helps"
"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
emu=$!
for _ in $(seq 400); do grep -q '"url"' "$tmp/emu.log" && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
cus=$("$SLUICE" call customers.create email=jenny@example.com description=vip --api-key "$KEY" --base-url "$EMU" | jq -r .id)
run call customers.retrieve "$cus" 'expand[]=default_source' --api-key "$KEY" --base-url "$EMU"
expect_rc 0
[ "$(jq -r .id "$tmp/out")" = "$cus" ] || fail "expand[]=default_source: $(head -c 200 "$tmp/err")"
run call customers.update "id=$cus" description= --api-key "$KEY" --base-url "$EMU"
expect_rc 0
[ "$(jq -r .description "$tmp/out")" = null ] || fail "an empty value did not unset: $(jq -c .description "$tmp/out")"
kill "$emu"; wait "$emu" 2>/dev/null
run help help
expect_rc 0
expect_out "Usage: sluice"
end

begin "--json on the commands that print data: trigger --list, flows validate"
run trigger --list --json
expect_rc 0
jq -e 'length > 20 and (map(type) | unique == ["string"])' "$tmp/out" >/dev/null || fail "trigger --list --json"
printf 'name: x\ntrigger: [bad\n' >"$tmp/bad.yaml"
SLUICE_DATA=$tmp/nodata run flows validate "$tmp/bad.yaml" --json
expect_rc 2
jq -e '.problems[0] | test("bad.yaml:3:")' "$tmp/out" >/dev/null || fail "flows validate --json: $(head -c 200 "$tmp/out")"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
