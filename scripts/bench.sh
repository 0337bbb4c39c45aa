#!/usr/bin/env bash
# scripts/bench.sh: `make bench`: runs the same chorus-bench scenarios against Chorus, the ws
# peer and the Socket.IO peer (bench/peers), one server at a time on 127.0.0.1, and prints
# the comparison table (docs/benchmarks.md). Usage: scripts/bench.sh [BUILD_DIR]
# Environment: BENCH_DURATION (5 s a scenario), BENCH_CONNECTIONS (idle connections, 10000),
# BENCH_PORT (18290; the peers use +1 and +2; the cluster section +10 to +16), BENCH_TARGETS
# ("chorus ws socketio"; empty: the cluster section only), BENCH_CLUSTER (1: the cluster
# section after the rest, BENCH_CLUSTER_CONNECTIONS 100000 over BENCH_CLUSTER_NODES 6; 0: not),
# BENCH_OUT (where the JSON results go; BUILD_DIR/bench), BENCH_PG (1: also the rooms scenario
# with Chorus on a throwaway PostgreSQL, scripts/pg-test.sh; 0: not), BENCH_PROCS (generator
# processes for echo, rooms, join-storm and connections, chorus-bench --procs: 2, for every
# server alike; fanout runs in one). With chorus among the
# targets, echo and fanout also run against Chorus's /socket.io/ (target chorus-sio, on the
# same server) for the table's Socket.IO rows.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BENCH=$BUILD/chorus-bench
CHORUS=$BUILD/chorus
DURATION=${BENCH_DURATION:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-10000}
PORT=${BENCH_PORT:-18290}
TARGETS=${BENCH_TARGETS-chorus ws socketio} # empty: the cluster section only
OUT=${BENCH_OUT:-$BUILD/bench}
PG=${BENCH_PG:-1}
PROCS=${BENCH_PROCS:-2}
SECRET=bench-secret-bench-secret-bench-secret-0123
T0=$(date +%s)

for f in "$BENCH" "$CHORUS"; do
  [ -x "$f" ] || { echo "bench: $f is missing (make build)" >&2; exit 2; }
done
[ -d node_modules/ws ] && [ -d node_modules/socket.io ] || { echo "bench: node_modules is missing (npm ci)" >&2; exit 2; }

# Every connection is a descriptor in the generator and one in the server: raise the soft
# limit to the hard one for both (raising the hard limit needs root: docs/benchmarks.md).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
MAXFD=$(ulimit -n)
if [ "$MAXFD" != unlimited ] && [ "$CONNECTIONS" -gt $((MAXFD - 200)) ]; then
  echo "bench: the descriptor limit is $MAXFD: connections scenario lowered to $((MAXFD - 200)) (BENCH_CONNECTIONS)" >&2
  CONNECTIONS=$((MAXFD - 200))
fi

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/*.metrics[01]
DATA=$(mktemp -d /tmp/chorus-bench-data.XXXXXX)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
  fi
}
stop_pg() { [ -d "$DATA/pg" ] && scripts/pg-test.sh stop "$DATA/pg"; }
trap 'stop_server; stop_pg; rm -rf "$DATA"' EXIT
trap 'exit 130' INT TERM

wait_port() { # port: up to 10 s for something to listen on 127.0.0.1:port
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Chorus's /metrics page (docs/operations.md) into file, or an empty file when there is none
# (the peers). HTTP/1.0: the server closes when it has answered. Usage: scrape PORT FILE
scrape() {
  : >"$2"
  { exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 &&
    cat <&3 >"$2"; exec 3<&-; } 2>/dev/null
  grep -q '^HTTP/1\.[01] 200' "$2" || : >"$2"
}
# After a scenario: its aftermath (the connections closing) is over once the scrape's own
# connection is the only one left (up to 10 s), then scrape. Usage: settle PORT FILE
settle() {
  for _ in $(seq 100); do
    scrape "$1" "$2"
    [ -s "$2" ] || return 0
    grep -q '^chorus_connections 1$' "$2" && return 0
    sleep 0.1
  done
}

# name | chorus-bench arguments. The same list runs against every server, in this order.
SCENARIOS=(
  "connections|connections --connections $CONNECTIONS --room-size 100 --duration 2 --procs $PROCS"
  "echo|echo --connections 50 --procs $PROCS"
  "fanout|fanout --subscribers 100 --publishers 1 --window 16"
  "fanout-100k|fanout --subscribers 100 --publishers 1 --rate 1000"
  "rooms|rooms --rooms 10 --room-size 10 --window 4 --procs $PROCS"
  "join-storm|join-storm --connections 50 --procs $PROCS"
)

# name | chorus-bench arguments: the scenarios run on Chorus's server once more with
# --target chorus-sio (a Socket.IO client, as the Socket.IO peer's), for the same rows.
SIO_SCENARIOS=(
  "echo|echo --connections 50 --procs $PROCS"
  "fanout|fanout --subscribers 100 --publishers 1 --window 16"
)

is_chorus() { [ "$1" = chorus ] || [ "$1" = chorus-sio ]; }

# One scenario against the server on $port (SERVER_PID): its JSON into $OUT/TARGET-NAME.json.
# Usage: run_scenario TARGET NAME CHORUS-BENCH-ARGUMENTS...
run_scenario() {
  local target=$1 name=$2 rc
  shift 2
  printf 'bench: %-9s %-12s ' "$target" "$name" >&2
  # The loop's longest iteration during the run and its aftermath (bench-table.mjs).
  is_chorus "$target" && scrape "$port" "$OUT/$target-$name.metrics0"
  "$BENCH" "$@" --target "$target" --port "$port" --secret "$SECRET" \
    --server-pid "$SERVER_PID" --json $( [ "$name" = connections ] || echo --duration "$DURATION" ) \
    >"$OUT/$target-$name.json" 2>"$OUT/$target-$name.log"
  rc=$?
  is_chorus "$target" && settle "$port" "$OUT/$target-$name.metrics1"
  if [ $rc -ne 0 ]; then
    FAILED=1
    echo "FAILED (exit $rc; $OUT/$target-$name.log)" >&2
    tail -n 3 "$OUT/$target-$name.log" >&2
  else
    echo ok >&2
  fi
}

FAILED=0
# How often this machine takes a core away: a floor under every p99 below.
printf 'bench: %-9s %-12s ' machine jitter >&2
if "$BENCH" jitter --duration 2 --json >"$OUT/jitter.json" 2>"$OUT/jitter.log"; then
  echo ok >&2
else
  echo "FAILED ($OUT/jitter.log)" >&2
  FAILED=1
fi

port=$PORT
for target in $TARGETS; do
  case $target in
    chorus)
      "$CHORUS" serve --listen "127.0.0.1:$port" --data "$DATA/chorus" --web /nonexistent \
        --jwt-secret "$SECRET" --log-level warn --max-connections 1000000 --max-connections-per-ip 0 \
        --room-max-capacity 100000 --ws-rate 1000000 --ws-burst 1000000 \
        --rate-api-ip 1000000/1m --rate-api-user 1000000/1m >"$OUT/chorus-server.log" 2>&1 &
      ;;
    ws) node bench/peers/ws_peer.mjs "$port" >"$OUT/ws-server.log" 2>&1 & ;;
    socketio) node bench/peers/socketio_peer.mjs "$port" >"$OUT/socketio-server.log" 2>&1 & ;;
    *) echo "bench: unknown target $target" >&2; exit 2 ;;
  esac
  SERVER_PID=$!
  if ! wait_port "$port"; then
    echo "bench: $target did not start (see $OUT/$target-server.log)" >&2
    FAILED=1; stop_server; port=$((port + 1)); continue
  fi
  for s in "${SCENARIOS[@]}"; do
    if [ "${s%%|*}" = echo ]; then
      # Warm up (the peers' JIT, the server's caches); not measured. After connections,
      # which measures memory growth and so wants a fresh server whose heap has no holes.
      "$BENCH" fanout --target "$target" --port "$port" --secret "$SECRET" --duration 1 \
        >"$OUT/$target-warmup.log" 2>&1 || true
    fi
    # shellcheck disable=SC2086 # the arguments are words
    run_scenario "$target" "${s%%|*}" ${s#*|}
  done
  if [ "$target" = chorus ]; then
    # The same server (warm) through its /socket.io/ endpoint: the Socket.IO rows.
    for s in "${SIO_SCENARIOS[@]}"; do
      # shellcheck disable=SC2086 # the arguments are words
      run_scenario chorus-sio "${s%%|*}" ${s#*|}
    done
  fi
  stop_server
  if [ "$target" = chorus ]; then
    # The fanout row again over wss:// (table row fanout-tls): the same server with TLS on
    # its listener and a certificate made here; chorus-bench --tls speaks TLS 1.3.
    mkdir -p "$DATA/tls"
    if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -subj /CN=127.0.0.1 -keyout "$DATA/tls/key.pem" -out "$DATA/tls/cert.pem" >"$OUT/chorus-tls.log" 2>&1; then
      "$CHORUS" serve --listen "127.0.0.1:$port" --data "$DATA/chorus-tls" --web /nonexistent \
        --jwt-secret "$SECRET" --log-level warn --max-connections 1000000 --max-connections-per-ip 0 \
        --room-max-capacity 100000 --ws-rate 1000000 --ws-burst 1000000 \
        --rate-api-ip 1000000/1m --rate-api-user 1000000/1m \
        --tls-cert "$DATA/tls/cert.pem" --tls-key "$DATA/tls/key.pem" >"$OUT/chorus-tls-server.log" 2>&1 &
      SERVER_PID=$!
      if wait_port "$port"; then
        "$BENCH" fanout --target chorus --port "$port" --secret "$SECRET" --tls --duration 1 \
          >"$OUT/chorus-tls-warmup.log" 2>&1 || true
        run_scenario chorus fanout-tls fanout --subscribers 100 --publishers 1 --window 16 --tls
      else
        echo "bench: chorus with TLS did not start (see $OUT/chorus-tls-server.log)" >&2
        FAILED=1
      fi
      stop_server
    else
      echo "bench: openssl could not make a certificate ($OUT/chorus-tls.log)" >&2
      FAILED=1
    fi
  fi
  if [ "$target" = chorus ] && [ "$PG" = 1 ]; then
    # Stored messages again with the PostgreSQL store (table row rooms-pg). The cluster
    # runs with fsync off, and this database with synchronous_commit on: a commit waits
    # for its WAL write, not for the disk, which is what SQLite's synchronous=NORMAL does.
    printf 'bench: %-9s %-12s ' chorus rooms-pg >&2
    if url=$(scripts/pg-test.sh start "$DATA/pg" 2>"$OUT/chorus-pg.log") &&
      psql -X -q -d "$url" -c "CREATE DATABASE bench" -c "ALTER DATABASE bench SET synchronous_commit = on" \
        >>"$OUT/chorus-pg.log" 2>&1; then
      "$CHORUS" serve --listen "127.0.0.1:$port" --data "$DATA/chorus-pg" --store "${url/\/postgres\?/\/bench?}" \
        --web /nonexistent --jwt-secret "$SECRET" --log-level warn --max-connections 1000000 \
        --max-connections-per-ip 0 --room-max-capacity 100000 --ws-rate 1000000 --ws-burst 1000000 \
        --rate-api-ip 1000000/1m --rate-api-user 1000000/1m >"$OUT/chorus-pg-server.log" 2>&1 &
      SERVER_PID=$!
      if wait_port "$port" && "$BENCH" rooms --rooms 10 --room-size 10 --window 4 --procs "$PROCS" --target chorus \
        --port "$port" --secret "$SECRET" --server-pid "$SERVER_PID" --json --duration "$DURATION" \
        >"$OUT/chorus-rooms-pg.json" 2>"$OUT/chorus-rooms-pg.log"; then
        echo ok >&2
      else
        echo "FAILED ($OUT/chorus-rooms-pg.log, $OUT/chorus-pg-server.log)" >&2
        FAILED=1
      fi
      stop_server
    else
      echo "FAILED (PostgreSQL did not start: $OUT/chorus-pg.log; BENCH_PG=0 skips it)" >&2
      FAILED=1
    fi
    stop_pg
  fi
  port=$((port + 1))
done

# ---- The cluster section (issue 19; docs/benchmarks.md "Cluster"). ----
# One node's fan-out to 300 subscribers (the baseline of the three-node run), and
# BENCH_CLUSTER_CONNECTIONS (100,000) idle authenticated joined connections over
# BENCH_CLUSTER_NODES (6) node processes, each under the 20,000-descriptor limit, with a
# generator per node (--procs 2: two processes, which joined faster than one here), all held at once: memory per connection from each node's
# RSS and the join rate (BENCH_CLUSTER_SETUP_LIMIT, 600 s: how long each generator may
# take to open and join its connections). What needs the cluster bus (subscribers spread
# over three nodes, Redis commands per delivered event) says so until the binary has
# --cluster.
# BENCH_CLUSTER=0 skips the section.
if [ "${BENCH_CLUSTER:-1}" = 1 ]; then
  CL_CONNS=${BENCH_CLUSTER_CONNECTIONS:-100000}
  CL_NODES=${BENCH_CLUSTER_NODES:-6}
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "bench: cluster   skipped: redis-server is not installed (scripts/deps.sh)" >&2
  else
    CL_PIDS=()
    # Starts a node on 127.0.0.1:$1 with data directory $2 (pid in CL_PIDS).
    cl_node() {
      "$CHORUS" serve --listen "127.0.0.1:$1" --data "$2" --web /nonexistent \
        --jwt-secret "$SECRET" --log-level warn --max-connections 1000000 --max-connections-per-ip 0 \
        --room-max-capacity 100000 --ws-rate 1000000 --ws-burst 1000000 \
        --rate-api-ip 1000000/1m --rate-api-user 1000000/1m >"$2.log" 2>&1 &
      CL_PIDS+=($!)
    }
    cl_stop() {
      for p in "${CL_PIDS[@]}"; do kill "$p" 2>/dev/null; done
      for p in "${CL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
      CL_PIDS=()
    }
    trap 'cl_stop; stop_server; stop_pg; rm -rf "$DATA"' EXIT
    cport=$((PORT + 10))

    # One node, 300 subscribers: the figure the three-node run is read beside.
    cl_node "$cport" "$DATA/cl-one"
    SERVER_PID=${CL_PIDS[0]}
    if wait_port "$cport"; then
      "$BENCH" fanout --target chorus --port "$cport" --secret "$SECRET" --duration 1 \
        >"$OUT/cluster-warmup.log" 2>&1 || true
      printf 'bench: %-9s %-12s ' cluster fanout-1n >&2
      if "$BENCH" fanout --subscribers 300 --publishers 1 --window 16 --target chorus --port "$cport" \
        --secret "$SECRET" --server-pid "$SERVER_PID" --json --duration "$DURATION" \
        >"$OUT/cluster-fanout-1n.json" 2>"$OUT/cluster-fanout-1n.log"; then
        echo ok >&2
      else
        echo "FAILED ($OUT/cluster-fanout-1n.log)" >&2
        FAILED=1
      fi
    else
      echo "bench: cluster node did not start ($DATA/cl-one.log)" >&2
      FAILED=1
    fi
    cl_stop
    SERVER_PID=

    # Subscribers spread over three --cluster nodes (bench/cluster_fanout.mjs: a throwaway
    # PostgreSQL and redis-server, chorus-bench fanout --ports over the three), and Redis's
    # commands per delivered event (bench/cluster_redis.mjs: rooms of 2 and 20 members over
    # three nodes, INFO commandstats around 300 messages), once the binary gives rooms one
    # home (--cluster-lease).
    help=$("$CHORUS" serve --help 2>&1 || true)
    printf 'bench: %-9s %-12s ' cluster fanout-3n >&2
    if ! grep -q -- '--cluster-lease' <<<"$help"; then
      echo "needs room homes in the cluster (--cluster-lease; the binary has none yet)" >&2
    elif CHORUS_BIN="$CHORUS" node bench/cluster_fanout.mjs "$BENCH" 300 "$DURATION" \
      >"$OUT/cluster-fanout-3n.json" 2>"$OUT/cluster-fanout-3n.log"; then
      echo ok >&2
    else
      echo "FAILED ($OUT/cluster-fanout-3n.log)" >&2
      FAILED=1
    fi
    printf 'bench: %-9s %-12s ' cluster redis-per-ev >&2
    if ! grep -q -- '--cluster-lease' <<<"$help"; then
      echo "needs room homes in the cluster (--cluster-lease; the binary has none yet)" >&2
    elif CHORUS_BIN="$CHORUS" node bench/cluster_redis.mjs 300 2,20 >"$OUT/cluster-redis.json" \
      2>"$OUT/cluster-redis.log"; then
      echo ok >&2
    else
      echo "FAILED ($OUT/cluster-redis.log)" >&2
      FAILED=1
    fi

    # Idle connections over several processes, each with its own generator, all at once.
    # Without --cluster the nodes run side by side (each its own rooms and SQLite file):
    # what a connection costs a process does not depend on the bus.
    per=$((CL_CONNS / CL_NODES))
    printf 'bench: %-9s %-12s ' cluster "conns-${CL_NODES}n" >&2
    for i in $(seq 1 "$CL_NODES"); do cl_node $((cport + i)) "$DATA/cl-node$i"; done
    ok=1
    for i in $(seq 1 "$CL_NODES"); do wait_port $((cport + i)) || ok=0; done
    GEN=()
    if [ $ok = 1 ]; then
      # Held long enough that every generator's connections are open at once on a slow
      # machine (each reports when its own setup ended).
      for i in $(seq 1 "$CL_NODES"); do
        "$BENCH" connections --connections "$per" --room-size 100 --procs 2 --duration 20 \
          --setup-limit "${BENCH_CLUSTER_SETUP_LIMIT:-600}" \
          --target chorus --port $((cport + i)) --secret "$SECRET" --server-pid "${CL_PIDS[$((i - 1))]}" \
          --json >"$OUT/cluster-conns-$i.json" 2>"$OUT/cluster-conns-$i.log" &
        GEN+=($!)
      done
      for g in "${GEN[@]}"; do wait "$g" || ok=0; done
    fi
    cl_stop
    if [ $ok = 1 ]; then echo ok >&2; else echo "FAILED ($OUT/cluster-conns-*.log)" >&2; FAILED=1; fi
  fi
fi

[ -n "$TARGETS" ] && node scripts/bench-table.mjs "$OUT" $TARGETS
[ -f "$OUT/cluster-conns-1.json" ] || [ -f "$OUT/cluster-fanout-1n.json" ] && node scripts/bench-cluster.mjs "$OUT"
echo "make bench: $(( $(date +%s) - T0 )) s, JSON results in $OUT"
exit $FAILED
