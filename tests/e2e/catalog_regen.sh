#!/usr/bin/env bash
# Regenerates the catalog from Stripe's OpenAPI description and checks that the committed files
# are exactly what the generator makes. The spec is found at $SLUICE_STRIPE_SPEC, else in
# ../shared/stripe-openapi/ beside the project; without it the test is skipped (exit 77).
set -euo pipefail
src=$1
spec=${SLUICE_STRIPE_SPEC:-$src/../shared/stripe-openapi/spec3.json}
if [ ! -f "$spec" ]; then
    echo "skipped: Stripe's spec3.json is not at $spec (set SLUICE_STRIPE_SPEC)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$src/tools/gen_catalog.py" "$spec" "$tmp/catalog_data.c" "$tmp/catalog_examples.json" "$tmp/fixtures_data.c"
cmp "$tmp/catalog_data.c" "$src/src/stripe/catalog_data.c"
cmp "$tmp/catalog_examples.json" "$src/tests/data/catalog_examples.json"
cmp "$tmp/fixtures_data.c" "$src/src/emulator/fixtures_data.c"
python3 "$src/tools/gen_sync.py" "$spec" "$tmp/tables_data.c"
cmp "$tmp/tables_data.c" "$src/src/sync/tables_data.c"
echo "the committed catalog matches the generator's output"
