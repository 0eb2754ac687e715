#!/usr/bin/env bash
# The house's arrows point only downward: each room (a folder of src/) includes headers of the
# rooms below it only, and libsluice (core + stripe) includes nothing above it. Fails naming
# every include that points up or sideways.
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}/src"
declare -A allowed=(
    [core]="core"
    [stripe]="core stripe"
    [store]="core store"
    [net]="core net"
    [conn]="core stripe store conn"
    [ingest]="core stripe store conn ingest"
    [flow]="core stripe store conn net flow"
    [trigger]="core stripe trigger"
    [emulator]="core stripe net emulator"
    [mcp]="core stripe mcp"
    [sync]="core stripe store conn sync"
    [http]="core stripe store conn net ingest flow http"
    [cli]="core stripe store conn net ingest flow sync trigger emulator http mcp cli"
)
bad=0
while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    room=${file%%/*}
    target=${inc%%/*}
    [ "$target" = sluice ] && continue # the public headers
    [ "$inc" = "$target" ] && continue # a header beside the file (generated tables)
    if [ -z "${allowed[$room]:-}" ]; then
        echo "layers: $file is in no known room"; bad=1; continue
    fi
    if ! grep -qw -- "$target" <<<"${allowed[$room]}"; then
        echo "layers: $file includes $inc: $room may use only ${allowed[$room]}"
        bad=1
    fi
done < <(grep -rHn '#include "' --include='*.c' --include='*.h' . | sed 's|^\./||; s|:[0-9]*:|:|')
[ $bad = 0 ] && echo "layers: every include points down"
exit $bad
