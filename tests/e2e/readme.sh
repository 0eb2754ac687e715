#!/usr/bin/env bash
# The README's command blocks run as shown against the emulator (tests/support/readme_run.py).
# Usage: readme.sh SLUICE_BIN
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=${SLUICE_PYTHON:-}
for p in "$PY" python3 /usr/bin/python3; do # the one with aiosmtpd, for the SMTP sink
    [ -n "$p" ] && "$p" -c 'import aiosmtpd' 2>/dev/null && PY=$p && break
done
exec "$PY" "$here/../support/readme_run.py" "$1" "$here/../../README.md" --python "$PY"
