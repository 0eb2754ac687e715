#!/usr/bin/env bash
# The seeds' example flows (examples/flows/) end to end: sluice emulate as Stripe, sluice serve
# with the flows, a real SMTP server (aiosmtpd) and an HTTP receiver on loopback. Events come
# from `sluice trigger` fixtures; each flow's effect is checked where it lands.
# Usage: flows.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_flows_e2e_00000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
PY=${SLUICE_PYTHON:-}
for p in "$PY" python3 /usr/bin/python3; do
    [ -n "$p" ] && "$p" -c 'import aiosmtpd' 2>/dev/null && PY=$p && break
done
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
"$PY" "$here/../support/smtp_sink.py" 0 "$tmp/mail.jsonl" >"$tmp/smtp.port" &
pids+=($!)
"$PY" "$here/../support/http_sink.py" "$tmp/http.jsonl" >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do
    grep -q '"url"' "$tmp/emu.log" && [ -s "$tmp/smtp.port" ] && [ -s "$tmp/http.port" ] && break
    sleep 0.05
done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
SMTP_PORT=$(head -1 "$tmp/smtp.port")
HTTP_PORT=$(head -1 "$tmp/http.port")
SERVE_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADMIN_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$tmp/flows
export SLUICE_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT SLUICE_SMTP_FROM="Shop <shop@example.com>"
export SLUICE_FLOW_CRM_URL=http://127.0.0.1:$HTTP_PORT/crm
export SLUICE_FLOW_CATALOG_URL=http://127.0.0.1:$HTTP_PORT/catalog
export SLUICE_FLOW_EVENTS_URL=http://127.0.0.1:$HTTP_PORT/events
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
mkdir -p "$SLUICE_FLOWS"
cp "$here/../../examples/flows/"*.yaml "$SLUICE_FLOWS/"
api() { curl -s -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "http://127.0.0.1:$ADMIN_PORT/api/$1" "${@:2}"; }
stripe() { "$SLUICE" call "$@" --api-key "$KEY" --base-url "$EMU"; }
# Waits until every run has finished (none queued or running).
settle() {
    for _ in $(seq 200); do
        sleep 0.1
        n=$(api "runs?limit=500" | jq '[.runs[] | select(.status == "queued" or .status == "running")] | length')
        [ "$n" = 0 ] && return 0
    done
    return 1
}
mails() { jq -s "$1" "$tmp/mail.jsonl" 2>/dev/null; }
requests() { jq -s "$1" "$tmp/http.jsonl" 2>/dev/null; }

begin "the example flows load and validate"
run flows validate "$SLUICE_FLOWS"
expect_rc 0
expect_out "9 flows OK (connections not checked: no store yet)"
end

begin "validate refuses the billion laughs at once, naming the file and line"
{
    printf 'name: lol\ntrigger: manual\nx:\n  a: &a [x,x,x,x,x,x,x,x,x]\n'
    prev=a
    for n in b c d e f g h i; do
        printf '  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' $n $n $prev $prev $prev $prev $prev $prev $prev $prev $prev
        prev=$n
    done
    printf 'steps:\n  - {id: s, set: 1}\n'
} >"$tmp/lol.yaml"
start=$(date +%s%N)
"$SLUICE" flows validate "$tmp/lol.yaml" >"$tmp/out" 2>"$tmp/err" &
lol=$!
# a bounded wait: before the fix this took gigabytes
for _ in $(seq 50); do kill -0 $lol 2>/dev/null || break; sleep 0.1; done
if kill -0 $lol 2>/dev/null; then kill $lol; fail "still running after 5 s"; fi
wait $lol
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_rc 2
expect_err "$tmp/lol.yaml:9:10: aliases expand to more than 100000 nodes"
[ "$ms" -lt 2000 ] || fail "took $ms ms"
end

run connect add shop --key "$KEY" --base-url "$EMU"

begin "validate checks what would fail at run time: the connection, Stripe parameters, step reads"
mkdir -p "$tmp/bad"
cat >"$tmp/bad/bad.yaml" <<'YAML'
name: bad
connection: shpo
trigger: invoice.paid
steps:
  - id: list-invoices
    stripe: invoices.list
    with: {status: opn, limit: "{{ $.input.limit ?? 10 }}"}
  - id: remind
    email:
      to: "{{ $.steps.list-invoice.data[0].customer_email }}"
      subject: "{{ $.steps.later.subject }}"
      text: hi
  - id: later
    set: {subject: Reminder}
YAML
run flows validate "$tmp/bad"
expect_rc 2
expect_err "$tmp/bad/bad.yaml:2:13: connection: there is no connection \`shpo\` in the store; did you mean \`shop\`?"
expect_err "$tmp/bad/bad.yaml:7:20: step \`list-invoices\`, with.status: invoices.list: \`status\` must be one of draft, open, paid, uncollectible, void; not \`opn\`"
expect_err "$tmp/bad/bad.yaml:10:11: step \`remind\`, email.to: there is no step \`list-invoice\` (\$.steps.list-invoice); did you mean \`list-invoices\`?"
expect_err "$tmp/bad/bad.yaml:11:16: step \`remind\`, email.subject: step \`later\` comes later (line 13:9)"
expect_err "4 problems"
run flows validate "$SLUICE_FLOWS"
expect_rc 0
expect_out "9 flows OK"
grep -q "not checked" "$tmp/out" && fail "connections not checked with a store"
end
"$SLUICE" serve --listen 127.0.0.1:$SERVE_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --public-url http://127.0.0.1:$SERVE_PORT 2>"$tmp/serve.log" &
serve_pid=$!
pids+=($serve_pid)
for _ in $(seq 400); do grep -q '"listening"' "$tmp/serve.log" && break; sleep 0.05; done

begin "the REST API needs the admin token and lists the flows"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/api/flows")
[ "$code" = 401 ] || fail "no token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "http://127.0.0.1:$SERVE_PORT/api/flows")
[ "$code" = 404 ] || fail "the webhook port serves /api/: HTTP $code"
[ "$(api flows | jq '.flows | length')" = 9 ] || fail "flows: $(api flows)"
end

trig() { "$SLUICE" trigger "$1" --connection shop >>"$tmp/trigger.out" 2>&1 || fail "trigger $1: $(tail -3 "$tmp/trigger.out")"; }

begin "customer created/updated: contact upserted, CRM called, event emitted"
trig customer.updated
settle || fail "runs did not finish"
c=$(api contacts | jq -c '.contacts[] | select(.email == "jenny.rosen@example.com") | [.first_name, .last_name]')
[ "$c" = '["Jenny","Rosen"]' ] || fail "contact: $(api contacts)"
[ "$(requests '[.[] | select(.path == "/crm")] | length')" = 1 ] || fail "CRM calls: $(cat "$tmp/http.jsonl")"
[ "$(requests '[.[] | select(.path == "/crm")][0].body.email')" = '"jenny.rosen@example.com"' ] || fail "CRM body"
[ "$(requests '[.[] | select(.path == "/events" and .body.event == "customer_created")] | length')" = 1 ] || fail "customer_created event"
end

begin "invoice created: finalized by the flow"
trig invoice.created
settle || fail "runs did not finish"
inv=$(grep -o 'in_[A-Za-z0-9]*' "$tmp/trigger.out" | tail -1)
[ "$(stripe invoices.retrieve "$inv" | jq -r .status)" = open ] || fail "invoice $inv not finalized"
end

begin "payment intent created: tagged; product updated: pushed to the catalog"
trig payment_intent.created
trig product.updated
settle || fail "runs did not finish"
pi=$(grep -o 'pi_[A-Za-z0-9]*' "$tmp/trigger.out" | tail -1)
[ "$(stripe payment_intents.retrieve "$pi" | jq -r .metadata.seen_by)" = sluice ] || fail "PI $pi not tagged"
[ "$(requests '[.[] | select(.method == "PUT" and (.path | startswith("/catalog/prod_")))] | length')" = 1 ] || fail "catalog PUT"
end

begin "checkout completed: event emitted with the buyer's email"
trig checkout.session.completed
settle || fail "runs did not finish"
[ "$(requests '[.[] | select(.body.event == "checkout_completed")][0].body.payload.email')" = '"jenny.rosen@example.com"' ] || fail "checkout event: $(tail -2 "$tmp/http.jsonl")"
end

begin "invoice paid / payment failed: a receipt and a failure email over SMTP"
run flows disable konnectify-invoice-created-finalize
expect_rc 0
sleep 1.5 # serve rereads the settings every second
trig invoice.paid
trig invoice.payment_failed
settle || fail "runs did not finish"
[ "$(mails '[.[] | select(.headers.subject | startswith("Payment received"))] | length')" = 1 ] || fail "receipt: $(mails '[.[].headers.subject]')"
[ "$(mails '[.[] | select(.headers.subject == "Your payment failed")] | length')" = 1 ] || fail "failure mail"
[ "$(mails '[.[] | select(.headers.subject == "Your payment failed")][0].rcpt_tos[0]')" = '"jenny.rosen@example.com"' ] || fail "failure mail recipient: $(mails '.[-1].rcpt_tos')"
end

begin "Tray's invoice reminder, run by hand: one email per open invoice"
before=$(mails 'length')
open=$(stripe invoices.list status=open limit=100 | jq '.data | length')
run flows run tray-invoice-reminder --input '{"limit": 50}'
expect_rc 0
expect_out "succeeded"
expect_out "each-invoice[0].get-customer"
after=$(mails 'length')
[ $((after - before)) = "$open" ] || fail "$((after - before)) reminders for $open open invoices"
mails '[.[] | select(.headers.subject | startswith("Reminder"))][0].parts[0].body' | grep -q "is still open" || fail "reminder text"
end

begin "runs: list and the debug view"
run runs list --flow loops-payment-emails
expect_rc 0
expect_out "succeeded"
id=$(api "runs?flow=loops-payment-emails&limit=1" | jq -r '.runs[0].id')
run runs show "$id"
expect_rc 0
expect_out "trigger  event evt_"
expect_out "input"
expect_out "output"
end

begin "/metrics: finished runs by flow and status, step latencies by kind, the queue"
curl -s "http://127.0.0.1:$SERVE_PORT/metrics" >"$tmp/metrics"
grep -Eq '^sluice_runs_finished_total\{flow="loops-payment-emails",status="succeeded"\} [1-9]' "$tmp/metrics" ||
    fail "no finished runs of loops-payment-emails: $(grep runs_finished "$tmp/metrics" | head -3)"
grep -Eq '^sluice_step_seconds_count\{kind="email"\} [1-9]' "$tmp/metrics" || fail "no email step latencies"
grep -Eq '^sluice_step_seconds_bucket\{kind="stripe",le="\+Inf"\} [1-9]' "$tmp/metrics" || fail "no stripe step histogram"
grep -Eq '^sluice_runs_queued [0-9]+$' "$tmp/metrics" || fail "no queue depth"
grep -Eq '^sluice_runs_oldest_queued_seconds [0-9.]+$' "$tmp/metrics" || fail "no oldest queued age"
end

begin "disabled flows start nothing; events no flow wants start nothing"
n1=$(api "runs?flow=konnectify-invoice-created-finalize&limit=500" | jq '.runs | length')
trig invoice.created
settle
n2=$(api "runs?flow=konnectify-invoice-created-finalize&limit=500" | jq '.runs | length')
[ "$n1" = "$n2" ] || fail "a disabled flow ran"
end

begin "replay an event into its flows"
evt=$(api "events?type=customer.updated&limit=1" | jq -r '.events[0].id')
crm_before=$(requests '[.[] | select(.path == "/crm")] | length')
r=$(api "events/$evt/replay" -X POST)
echo "$r" | jq -e '[.runs[].flow] | index("konnectify-customer-updated-to-crm") != null' >/dev/null || fail "replay: $r"
settle
[ "$(requests '[.[] | select(.path == "/crm")] | length')" = $((crm_before + 1)) ] || fail "replay did not run the CRM flow"
end

begin "REST API: run a flow with input, read the run with its steps; bad input is named"
r=$(api flows/tray-invoice-reminder/run -X POST -d '{"limit": 1}')
rid=$(echo "$r" | jq -r .run)
[ "${rid#run_}" != "$rid" ] || fail "run: $r"
settle
got=$(api "runs/$rid" | jq -c '[.status, .input.limit, (.steps[0].path)]')
[ "$got" = '["succeeded",1,"list-invoices"]' ] || fail "run $rid: $got"
code=$(api flows/tray-invoice-reminder/run -X POST -d '{"limit":' -o /dev/null -w '%{http_code}')
[ "$code" = 400 ] || fail "bad JSON body: HTTP $code"
code=$(api runs/run_nope -o /dev/null -w '%{http_code}')
[ "$code" = 404 ] || fail "unknown run: HTTP $code"
code=$(api "runs/$rid/retry" -X POST -o /dev/null -w '%{http_code}')
[ "$code" = 409 ] || fail "retry of a succeeded run: HTTP $code"
end

kill "$serve_pid"; wait "$serve_pid" 2>/dev/null
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
