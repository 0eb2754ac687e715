#!/usr/bin/env bash
# Runs a command against a private, throw-away PostgreSQL server (see pg.sh):
#
#     bash tests/support/with-pg.sh COMMAND ARGS...
#
# The command sees SLUICE_TEST_PG (postgres://postgres@127.0.0.1:PORT/sluice) and
# SLUICE_TEST_PG_DIR, for more databases: bash tests/support/pg.sh createdb "$SLUICE_TEST_PG_DIR" NAME.
# However the command ends, the server is stopped by its PID and its directory deleted; the exit
# status is the command's (2 when PostgreSQL is not installed).
set -euo pipefail
if [ $# -eq 0 ]; then
    echo "usage: with-pg.sh COMMAND ARGS..." >&2
    exit 2
fi
# shellcheck source=pg.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"

dir=$(sl_pg_tmpdir)
# shellcheck disable=SC2317 # called by the trap
cleanup() { sl_pg_stop "$dir"; }
trap cleanup EXIT
# Interrupted while the server starts: exit, and so run the EXIT trap, which stops it.
trap 'exit 130' INT
trap 'exit 143' TERM
# From this shell, not a $(...) subshell: the server stays a child of this script, so killing
# the script's process tree (a CTest timeout) does not leave it behind.
sl_pg_start "$dir" >/dev/null
export SLUICE_TEST_PG SLUICE_TEST_PG_DIR=$dir
SLUICE_TEST_PG=$(cat "$dir/url")
# The command runs in the background so that a TERM or INT sent to this script alone reaches it
# now rather than after it ends. Unlike bash's default for background commands, it keeps its
# stdin and Ctrl-C.
(
    trap - INT QUIT
    exec "$@"
) 0<&0 &
child=$!
# shellcheck disable=SC2317 # called by the traps
forward() {
    kill -"$1" "$child" 2>/dev/null || true
    wait "$child" || true
    exit "$2"
}
trap 'forward INT 130' INT
trap 'forward TERM 143' TERM
rc=0
wait "$child" || rc=$?
exit "$rc"
