#!/usr/bin/env bash
# cluster.sh: a whole Chorus cluster on 127.0.0.1 for trying it (docs/operations.md
# "Scaling out"): redis-server, a throwaway PostgreSQL (scripts/pg-test.sh), three Chorus
# nodes (--cluster, --store) and HAProxy in front with health checks on /healthz, serving
# the web app. Everything lives under CLUSTER_DIR and listens on 127.0.0.1 only.
# Usage: scripts/cluster.sh start    start, stay in the foreground; Ctrl-C stops everything
#        scripts/cluster.sh start -d start, return once it is up (scripts/cluster.sh stop)
#        scripts/cluster.sh status   what runs, each node's /healthz
#        scripts/cluster.sh stop     stop what `start -d` started
# Environment (defaults):
#   CLUSTER_DIR=./var/cluster   data, logs, configuration (rm -rf it to start afresh)
#   CLUSTER_PORT=8080           HAProxy's port: open http://127.0.0.1:8080
#   CLUSTER_NODE_PORTS="8081 8082 8083"  one Chorus node per port
#   CLUSTER_REDIS_PORT=6390     redis-server's port
#   CHORUS_BIN=./build/chorus   the binary; CHORUS_* variables reach the nodes (e.g. CHORUS_JWT_SECRET)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

cmd=${1:-start}
detach=0
[ "${2:-}" = "-d" ] && detach=1
dir=${CLUSTER_DIR:-./var/cluster}
front=${CLUSTER_PORT:-8080}
read -r -a node_ports <<< "${CLUSTER_NODE_PORTS:-8081 8082 8083}"
redis_port=${CLUSTER_REDIS_PORT:-6390}
bin=${CHORUS_BIN:-./build/chorus}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pids=$dir/pids # "name pid" per line

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

# Polls url until it answers 200 (curl), or gives up after $2 seconds.
wait_ok() {
    local url=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_all() {
    trap - INT TERM EXIT
    if [ -f "$pids" ]; then
        # Front door first, then the nodes (SIGTERM: they drain), then Redis.
        tac "$pids" | while read -r name pid; do
            kill -TERM "$pid" 2>/dev/null || true
        done
        tac "$pids" | while read -r name pid; do
            for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        done
        rm -f "$pids"
    fi
    if [ -f "$dir/pg/data/PG_VERSION" ]; then
        as_pg_owner "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    say "stopped"
}

# Succeeds when a process of the pids file still runs.
running() {
    [ -f "$pids" ] || return 1
    local name pid
    while read -r name pid; do
        kill -0 "$pid" 2>/dev/null && return 0
    done < "$pids"
    return 1
}

status() {
    [ -f "$pids" ] || { say "not running"; return 1; }
    while read -r name pid; do
        if kill -0 "$pid" 2>/dev/null; then state=running; else state=gone; fi
        echo "$name pid $pid $state"
    done < "$pids"
    for p in "${node_ports[@]}"; do
        echo "node 127.0.0.1:$p /healthz: $(curl -sS --max-time 2 "http://127.0.0.1:$p/healthz" 2>&1 || true)"
    done
    echo "front 127.0.0.1:$front /healthz: $(curl -sS --max-time 2 "http://127.0.0.1:$front/healthz" 2>&1 || true)"
}

start() {
    if running; then die "already running (scripts/cluster.sh stop)"; fi
    command -v redis-server >/dev/null || die "redis-server is missing: run scripts/deps.sh"
    command -v haproxy >/dev/null || die "haproxy is missing: run scripts/deps.sh"
    [ -x "$bin" ] || die "$bin is missing: make build"
    # Read whole, then searched: with pipefail, grep -q quitting at its first match could
    # end the pipeline with the binary's SIGPIPE while it still writes the rest of the help.
    local help
    help=$("$bin" serve --help 2>&1 || true)
    grep -q -- '--cluster' <<<"$help" ||
        die "$bin has no --cluster (issue 19's cluster bus): the nodes would not be one server"
    : > "$pids"
    trap 'stop_all; exit 130' INT TERM
    trap 'stop_all' EXIT

    mkdir -p "$dir/redis" "$dir/data"
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" --save '' \
        --appendonly no > "$dir/redis.log" 2>&1 &
    echo "redis $!" >> "$pids"
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG || die "redis-server did not start: $dir/redis.log"

    # As root, PostgreSQL runs as postgres (pg-test.sh), which must be able to reach its
    # folder: search permission (not read) on the folders above it that may be 0700.
    if [ "$(id -u)" -eq 0 ]; then chmod o+x "$dir" "$(dirname "$dir")"; fi
    local url
    url=$(scripts/pg-test.sh start "$dir/pg") || die "PostgreSQL did not start"

    # One data directory for all nodes, as a shared volume would be: the JWT secret, the
    # asset URL key and the blobs are the cluster's, not a node's. The first node makes them.
    local n=0 p
    for p in "${node_ports[@]}"; do
        n=$((n + 1))
        "$bin" serve --listen "127.0.0.1:$p" --data "$dir/data" --web "$root/web" \
            --store "$url" --cluster "redis://127.0.0.1:$redis_port" \
            --public-url "http://127.0.0.1:$front" --trusted-proxies 127.0.0.1 \
            > "$dir/node$n.log" 2>&1 &
        echo "node$n $!" >> "$pids"
        if [ $n -eq 1 ]; then
            wait_ok "http://127.0.0.1:$p/healthz" 60 || die "node1 did not start: $dir/node1.log"
        fi
    done
    n=0
    for p in "${node_ports[@]}"; do
        n=$((n + 1))
        wait_ok "http://127.0.0.1:$p/healthz" 60 || die "node$n is not ready: $dir/node$n.log"
    done

    {
        cat <<EOF
# Written by scripts/cluster.sh (docs/operations.md "Scaling out").
global
    maxconn 9000  # two descriptors a connection under a 20,000-descriptor limit

defaults
    mode http
    option forwardfor  # the nodes trust 127.0.0.1 (--trusted-proxies) for the client address
    option redispatch  # a request whose node is down goes to another one
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    timeout tunnel 1h  # an upgraded WebSocket: the nodes ping every 30 s anyway

frontend chorus
    bind 127.0.0.1:$front
    default_backend nodes

backend nodes
    # WebSockets need no stickiness (a reconnect may land anywhere and resumes there);
    # Socket.IO long-polling does: the cookie keeps a browser on its node.
    balance leastconn
    cookie CHORUS_NODE insert indirect nocache httponly
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
EOF
        n=0
        for p in "${node_ports[@]}"; do
            n=$((n + 1))
            echo "    server node$n 127.0.0.1:$p check cookie node$n"
        done
    } > "$dir/haproxy.cfg"
    haproxy -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
    echo "haproxy $!" >> "$pids"
    wait_ok "http://127.0.0.1:$front/healthz" 30 || die "haproxy did not start: $dir/haproxy.log"

    say "ready: http://127.0.0.1:$front (HAProxy) -> nodes on ${node_ports[*]}," \
        "redis on $redis_port, PostgreSQL in $dir/pg; logs in $dir"
    if [ $detach -eq 1 ]; then
        trap - INT TERM EXIT
        return 0
    fi
    say "Ctrl-C stops everything"
    # Foreground: until a signal (the trap stops everything) or HAProxy exits.
    local hp
    hp=$(awk '$1 == "haproxy" { print $2 }' "$pids")
    while kill -0 "$hp" 2>/dev/null; do
        sleep 1 &
        wait $! || true
    done
    say "haproxy exited: $dir/haproxy.log"
}

case "$cmd" in
start) start ;;
stop) stop_all ;;
status) status ;;
*) echo "usage: $0 start [-d]|stop|status" >&2; exit 2 ;;
esac
