#!/usr/bin/env bash
# A private, throw-away PostgreSQL server for tests and benchmarks: initdb into a directory,
# serve it on a free loopback port, stop it again by PID. Source this file for the sl_pg_*
# functions, or run it:
#
#     bash tests/support/pg.sh tmpdir              # prints a fresh /tmp/sluice-pg.XXXXXX
#     bash tests/support/pg.sh start DIR           # prints postgres://postgres@127.0.0.1:PORT/sluice
#     bash tests/support/pg.sh createdb DIR NAME   # prints postgres://postgres@127.0.0.1:PORT/NAME
#     bash tests/support/pg.sh stop DIR
#
# The newest /usr/lib/postgresql/*/bin with a server is used (SLUICE_PG_BINDIR overrides it).
# DIR holds data/ (the cluster), the server's socket and log, initdb.log, and the files pid
# (the postmaster's), port and url (the sluice database's). stop removes DIR when the harness
# made it: tmpdir, or start given a DIR that did not exist yet. A failed start stops whatever it
# started and keeps DIR, for its logs.
# Authentication is trust, so the server listens on 127.0.0.1 only. fsync stays on: benchmarks
# measure durable commits (initdb's --no-sync only skips flushing the template files).
# Exit status 2 when no PostgreSQL server is installed.

# Marks a DIR the harness created, and so may delete.
_SL_PG_MARK=.made-by-pg.sh

_sl_pg_err() { echo "pg.sh: $*" >&2; }

# _sl_pg_bindir: prints the directory holding initdb and postgres.
_sl_pg_bindir() {
    local d
    if [ -n "${SLUICE_PG_BINDIR:-}" ]; then
        if [ -x "$SLUICE_PG_BINDIR/initdb" ] && [ -x "$SLUICE_PG_BINDIR/postgres" ]; then
            echo "$SLUICE_PG_BINDIR"
            return 0
        fi
        _sl_pg_err "SLUICE_PG_BINDIR=$SLUICE_PG_BINDIR has no initdb and postgres"
        return 2
    fi
    # Debian installs one directory per major version, and no initdb on PATH: take the newest
    # with a server in it (postgresql-client-N alone makes a bin/ with only psql).
    while read -r d; do
        if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    # Elsewhere (another distribution, a source build): initdb on PATH.
    if d=$(command -v initdb) && [ -x "$(dirname "$d")/postgres" ]; then
        dirname "$d"
        return 0
    fi
    _sl_pg_err "no PostgreSQL server found (no initdb in /usr/lib/postgresql/*/bin or on PATH);" \
        "install the Debian package postgresql: apt-get install postgresql"
    return 2
}

# _sl_pg_as: sets the array as to the command prefix that runs as the cluster's owner. initdb
# refuses to run as root, so root hands the cluster to Debian's postgres user.
_sl_pg_as() {
    as=()
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id postgres >/dev/null 2>&1; then
        _sl_pg_err "running as root, but there is no postgres user to run the server as;" \
            "install the Debian package postgresql (it creates the user): apt-get install postgresql"
        return 2
    fi
    if ! command -v runuser >/dev/null; then
        _sl_pg_err "running as root, but runuser (util-linux) is missing"
        return 2
    fi
    as=(runuser -u postgres --)
}

# _sl_pg_psql BIN URL ARGS...: psql without the caller's ~/.psqlrc, stopping at the first error.
_sl_pg_psql() {
    local psql=$1/psql url=$2
    shift 2
    [ -x "$psql" ] || psql=psql
    "$psql" -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"
}

# _sl_pg_alive PID: the process exists and has not exited. kill -0 alone is not enough: an
# exited postmaster stays a zombie until its parent reaps it, and a container's PID 1 may never.
_sl_pg_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# _sl_pg_is_ours PID DATA: PID is the postmaster of DATA, not an unrelated process that was
# given the PID of one that died without cleaning up.
_sl_pg_is_ours() {
    [ -d /proc/self ] || return 0
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- " -D $2 "
}

# _sl_pg_kill PID: stops the postmaster PID and waits for it to exit.
_sl_pg_kill() {
    local pid=$1 i
    # SIGTERM is PostgreSQL's smart shutdown, which waits for clients to disconnect. A test that
    # left a connection open gets SIGINT (fast shutdown: sessions are ended) after 5 s, and
    # SIGKILL after 20 s.
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 200); do
        _sl_pg_alive "$pid" || return 0
        [ "$i" -ne 50 ] || kill -INT "$pid" 2>/dev/null || true
        sleep 0.1
    done
    _sl_pg_err "postgres $pid did not stop within 20 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        _sl_pg_alive "$pid" || return 0
        sleep 0.1
    done
    _sl_pg_err "postgres $pid survived SIGKILL"
    return 1
}

# _sl_pg_free_port: prints a loopback port nobody listens on, chosen by the kernel. It is free
# again before postgres binds it, so sl_pg_start retries when someone else took it meanwhile.
_sl_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
        2>/dev/null || echo $((20000 + RANDOM % 30000))
}

# _sl_pg_sweep: deletes the harness's directories in /tmp whose server is gone without a stop,
# from runs killed outright (a CTest timeout kills with SIGKILL). A directory without a pid file
# may be starting up: it is kept.
_sl_pg_sweep() {
    local d pid
    for d in /tmp/sluice-pg.*; do
        [ -e "$d/$_SL_PG_MARK" ] || continue
        pid=$(cat "$d/pid" 2>/dev/null) || continue
        # The server was started with the resolved path (sl_pg_start), so compare with that.
        d=$(cd "$d" 2>/dev/null && pwd -P) || continue
        [ -n "$pid" ] || continue
        if ! { _sl_pg_alive "$pid" && _sl_pg_is_ours "$pid" "$d/data"; }; then
            rm -rf "$d" 2>/dev/null || true
        fi
    done
}

# sl_pg_tmpdir: prints a fresh directory for sl_pg_start, which sl_pg_stop deletes.
sl_pg_tmpdir() {
    local dir
    _sl_pg_sweep
    dir=$(mktemp -d /tmp/sluice-pg.XXXXXX) || return 1
    # Searchable by the postgres user when root hands it the cluster (mktemp makes it 0700).
    chmod 755 "$dir" && : >"$dir/$_SL_PG_MARK" || return 1
    echo "$dir"
}

# sl_pg_start DIR: initialises a cluster in DIR/data (unless there is one), starts it, creates
# the database sluice and prints its URL. A DIR that does not exist is created.
sl_pg_start() {
    local dir=${1:?usage: sl_pg_start DIR} bin as attempt port bg pid url ready deadline
    bin=$(_sl_pg_bindir) || return
    _sl_pg_as || return
    if [ ! -e "$dir" ]; then
        mkdir -p "$dir" && chmod 755 "$dir" && : >"$dir/$_SL_PG_MARK" || return 1
    fi
    dir=$(cd "$dir" && pwd -P) || return 1
    if [ -s "$dir/pid" ] && _sl_pg_alive "$(cat "$dir/pid")" && _sl_pg_is_ours "$(cat "$dir/pid")" "$dir/data"; then
        _sl_pg_err "a server is already running in $dir (PID $(cat "$dir/pid"))"
        return 1
    fi
    # The socket DIR/.s.PGSQL.PORT must fit in sockaddr_un's 108 bytes.
    if [ $((${#dir} + 18)) -gt 107 ]; then
        _sl_pg_err "$dir is too long a path for the server's socket; use a shorter one (sl_pg_tmpdir)"
        return 1
    fi
    if [ ${#as[@]} -gt 0 ]; then
        chown -R postgres:postgres "$dir" || return 1
        if ! "${as[@]}" test -w "$dir" -a -x "$dir"; then
            _sl_pg_err "the postgres user cannot write $dir (is a parent directory closed to it?);" \
                "use one under /tmp (sl_pg_tmpdir)"
            return 1
        fi
    fi
    # Commands run from DIR: the owner may not be allowed into the caller's working directory.
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        if ! (cd "$dir" && exec "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres \
            --no-sync -E UTF8 --locale=C) >"$dir/initdb.log" 2>&1; then
            _sl_pg_err "initdb failed:"
            tail -n 20 "$dir/initdb.log" >&2
            return 1
        fi
    fi
    for attempt in 1 2 3 4 5; do
        port=$(_sl_pg_free_port)
        # Started directly rather than through pg_ctl, which detaches the server: as a child it
        # stays in the caller's process tree, so killing that tree (a CTest timeout) ends it too.
        (cd "$dir" && exec "${as[@]}" "$bin/postgres" -D "$dir/data" -c listen_addresses=127.0.0.1 \
            -p "$port" -k "$dir" -c fsync=on -c max_connections=200 -c shared_buffers=128MB) \
            </dev/null >"$dir/log" 2>&1 &
        bg=$!
        ready=0
        deadline=$((SECONDS + 30))
        while [ "$SECONDS" -lt "$deadline" ] && _sl_pg_alive "$bg"; do
            if "$bin/pg_isready" -q -t 2 -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
                ready=1
                break
            fi
            sleep 0.1
        done
        [ "$ready" = 1 ] && break
        if ! _sl_pg_alive "$bg" && grep -q "Address already in use" "$dir/log"; then
            continue # someone took the port between its choice and the bind: pick another
        fi
        if _sl_pg_alive "$bg"; then
            _sl_pg_err "the server was not ready within 30 s; its log ($dir/log) ends:"
        else
            _sl_pg_err "the server did not start; its log ($dir/log) ends:"
        fi
        tail -n 20 "$dir/log" >&2
        pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || pid=$bg
        _sl_pg_kill "$pid"
        return 1
    done
    if [ "$ready" != 1 ]; then
        _sl_pg_err "no free port after $attempt attempts; the server's log ($dir/log) ends:"
        tail -n 20 "$dir/log" >&2
        return 1
    fi
    pid=$(head -n 1 "$dir/data/postmaster.pid") || pid=$bg
    url=postgres://postgres@127.0.0.1:$port
    if ! _sl_pg_finish "$bin" "$dir" "$pid" "$port" "$url"; then
        _sl_pg_kill "$pid"
        return 1
    fi
    echo "$url/sluice"
}

# _sl_pg_finish BIN DIR PID PORT URL: records the running server in DIR and creates the
# database sluice (a restarted cluster already has it).
_sl_pg_finish() {
    local bin=$1 dir=$2 pid=$3 port=$4 url=$5 have
    echo "$pid" >"$dir/pid" && echo "$port" >"$dir/port" || return 1
    have=$(_sl_pg_psql "$bin" "$url/postgres" -tA -c "SELECT 1 FROM pg_database WHERE datname = 'sluice'") || return 1
    if [ -z "$have" ]; then
        _sl_pg_psql "$bin" "$url/postgres" -c "CREATE DATABASE sluice" || return 1
    fi
    echo "$url/sluice" >"$dir/url"
}

# sl_pg_createdb DIR NAME: creates the database NAME in DIR's server and prints its URL.
sl_pg_createdb() {
    local dir=${1:?usage: sl_pg_createdb DIR NAME} name=${2:?usage: sl_pg_createdb DIR NAME} bin port
    # A plain identifier needs no escaping, in SQL or in the URL.
    if ! [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        _sl_pg_err "database name '$name' is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)"
        return 1
    fi
    bin=$(_sl_pg_bindir) || return
    if ! port=$(cat "$dir/port" 2>/dev/null); then
        _sl_pg_err "no server started in $dir"
        return 1
    fi
    _sl_pg_psql "$bin" "postgres://postgres@127.0.0.1:$port/postgres" -c "CREATE DATABASE \"$name\"" || return 1
    echo "postgres://postgres@127.0.0.1:$port/$name"
}

# sl_pg_stop DIR: stops DIR's server, only that PID, and deletes DIR if the harness made it.
sl_pg_stop() {
    local dir=${1:?usage: sl_pg_stop DIR} pid
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd -P) || return 1
    # Without DIR/pid, start was cut short after the server had written its own PID file.
    pid=$(cat "$dir/pid" 2>/dev/null) || pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || pid=
    if [ -n "$pid" ] && _sl_pg_alive "$pid" && _sl_pg_is_ours "$pid" "$dir/data"; then
        _sl_pg_kill "$pid" || return 1
    fi
    rm -f "$dir/pid"
    if [ -e "$dir/$_SL_PG_MARK" ]; then
        rm -rf "$dir"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    usage="usage: pg.sh tmpdir | start DIR | createdb DIR NAME | stop DIR"
    case "${1:-} $#" in
        "tmpdir 1") sl_pg_tmpdir ;;
        "start 2") sl_pg_start "$2" ;;
        "createdb 3") sl_pg_createdb "$2" "$3" ;;
        "stop 2") sl_pg_stop "$2" ;;
        *)
            echo "$usage" >&2
            exit 2
            ;;
    esac
fi
