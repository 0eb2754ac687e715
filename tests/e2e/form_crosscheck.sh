#!/usr/bin/env bash
# Cross-checks sluice's form encoding against the official `stripe` npm package's own encoder.
# Usage: form_crosscheck.sh SOURCE_DIR FORM_CROSSCHECK_BIN
set -euo pipefail
src=$1
bin=$2
node_dir="$src/tests/node"
if [ ! -d "$node_dir/node_modules/stripe" ]; then
    echo "the stripe npm package is not installed in $node_dir: run 'npm ci' there (scripts/test.sh does)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node "$node_dir/encode.js" "$src/tests/data/form_cases.json" >"$tmp/expected.json"
"$bin" "$src/tests/data/form_cases.json" "$tmp/expected.json"
