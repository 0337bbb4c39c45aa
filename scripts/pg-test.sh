#!/usr/bin/env bash
# pg-test.sh: a throwaway PostgreSQL cluster for the tests (the store's conformance suite in
# ctest, the e2e harness): made with initdb in DIR, listening only on a Unix socket in DIR,
# run as the postgres user when started as root (PostgreSQL refuses root), fsync off (the
# cluster is thrown away; durability is PostgreSQL's, not what the tests check).
# Usage: scripts/pg-test.sh start DIR   make and start the cluster (a running one is reused)
#        scripts/pg-test.sh url DIR     print the URL of its "postgres" database
#        scripts/pg-test.sh stop DIR    stop it and remove DIR
# PG_BIN overrides where initdb and pg_ctl are (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|url|stop DIR" >&2
    exit 2
fi
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
port=5432 # only names the socket file in $dir: no TCP port is opened

url() {
    echo "postgresql://postgres@/postgres?host=$dir&port=$port"
}

# Runs a command as the cluster's owner: postgres when we are root, else ourselves.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "pg-test: PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin):" \
        "run scripts/deps.sh (make test installs it) or set PG_BIN" >&2
    exit 1
fi

case "$cmd" in
start)
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "pg-test: running as root needs the postgres user (Debian's postgresql package)" >&2
            exit 1
        fi
        chown postgres "$dir"
    fi
    chmod 0700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        url
        exit 0
    fi
    opts="-c listen_addresses= -k $dir -p $port -c fsync=off -c synchronous_commit=off"
    opts="$opts -c full_page_writes=off -c max_connections=100"
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start \
        >/dev/null; then
        echo "pg-test: the server did not start; its log:" >&2
        cat "$dir/server.log" >&2 || true
        exit 1
    fi
    url
    ;;
url)
    url
    ;;
stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|url|stop DIR" >&2
    exit 2
    ;;
esac
