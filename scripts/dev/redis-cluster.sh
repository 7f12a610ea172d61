#!/usr/bin/env bash
# Starts (or stops) a throwaway Redis Cluster (Redis >= 7: sharded pub/sub) on loopback, for the
# cluster-mode tests and `npm run bench -- cluster`. Beside test-services.sh, same conventions.
#
#   scripts/dev/redis-cluster.sh start [MASTERS] [REPLICAS_PER_MASTER] [OPTIONS]   (default 3 0)
#       → prints KEY=VALUE lines to eval/export:
#         TEST_REDIS_CLUSTER_NODES   host:port of every node, comma-separated (the REDIS_CLUSTER_NODES form)
#         SESAME_TEST_REDIS_CLUSTER_DIR   the cluster's directory (DIR/<port>.pid per node)
#     OPTIONS
#       --requirepass PASSWORD  every node requires PASSWORD (requirepass + masterauth), as
#                               REDIS_PASSWORD gives it; read from the environment variable
#                               REDIS_CLUSTER_PASSWORD instead when PASSWORD is '-' (keeps it out of ps)
#       --tls CERT_DIR          nodes speak TLS only (clients, replication and the cluster bus), with
#                               CERT_DIR/ca.crt, CERT_DIR/redis.crt, CERT_DIR/redis.key (REDIS_TLS=true,
#                               REDIS_TLS_CA_FILE=CERT_DIR/ca.crt)
#       --owner PID             stop the cluster when process PID exits, however it exits (a test
#                               runner killed by a signal included): a watchdog polls it every second
#   scripts/dev/redis-cluster.sh stop DIR
#
# cluster-node-timeout is 1 s so that a killed master's replica is promoted within a few
# seconds (the failover test); production keeps Redis's default of 15 s or its provider's.
set -euo pipefail

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/dev/watchdog.sh
. "$(dirname "$SCRIPT")/watchdog.sh"

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Whether the server answering on PORT is the node this start launched (its pidfile's pid), and
# up; waits up to 5 s. Uses the caller's cli_args.
node_is_ours() {
  local dir=$1 port=$2 pid answered
  for _ in $(seq 1 50); do
    pid=$(cat "$dir/$port.pid" 2>/dev/null || true)
    answered=$(redis-cli "${cli_args[@]}" -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')
    if [ -n "$answered" ]; then [ "$answered" = "$pid" ] && return 0; [ -n "$pid" ] && return 1; fi
    sleep 0.1
  done
  return 1
}

start() {
  local masters=3 replicas=0 password='' certs='' owner='' positional=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --requirepass) password=${2:?--requirepass needs a password}; shift 2 ;;
      --tls) certs=${2:?--tls needs a directory}; shift 2 ;;
      --owner) owner=${2:?--owner needs a pid}; shift 2 ;;
      *) positional+=("$1"); shift ;;
    esac
  done
  [ "$password" = '-' ] && password=${REDIS_CLUSTER_PASSWORD:?--requirepass - reads REDIS_CLUSTER_PASSWORD}
  masters=${positional[0]:-3}
  replicas=${positional[1]:-0}
  command -v redis-server >/dev/null || { echo "redis-cluster: redis-server not found (apt-get install -y redis-server)" >&2; exit 1; }
  local version
  version=$(redis-server --version | sed -E 's/.*v=([0-9]+).*/\1/')
  [ "$version" -ge 7 ] || { echo "redis-cluster: Redis >= 7 needed for sharded pub/sub (found $(redis-server --version))" >&2; exit 1; }
  local dir count ports=() port node_args=() cli_args=() listen=()
  dir=$(mktemp -d /tmp/sesame-redis-cluster.XXXXXX)
  # Whatever ends this start early (an error, Ctrl-C, a kill) takes the nodes started so far with
  # it (globals: the trap runs after this function has returned).
  STARTING_DIR=$dir
  trap '[ -z "${STARTING_DIR:-}" ] || stop "$STARTING_DIR"' EXIT
  trap 'exit 130' INT TERM HUP
  [ -z "$owner" ] || start_watchdog "$SCRIPT" "$owner" "$dir" >"$dir/watchdog.pid"
  local conf=/dev/null
  if [ -n "$password" ]; then
    # In a file of the cluster's (not on the nodes' command lines, which ps shows).
    conf=$dir/auth.conf
    (umask 077; printf 'requirepass "%s"\nmasterauth "%s"\n' "$password" "$password" >"$conf")
    export REDISCLI_AUTH=$password
  fi
  if [ -n "$certs" ]; then
    node_args+=(--tls-cert-file "$certs/redis.crt" --tls-key-file "$certs/redis.key" --tls-ca-cert-file "$certs/ca.crt"
      --tls-auth-clients no --tls-cluster yes --tls-replication yes)
    cli_args+=(--tls --cacert "$certs/ca.crt")
  fi
  count=$((masters * (replicas + 1)))
  for _ in $(seq 1 "$count"); do
    # A port found free can be taken by another process before this node binds it (tests start
    # Redis servers in parallel): the node is ours only when the server answering on the port
    # reports the pid our pidfile holds; otherwise try another port.
    local started=0
    for _ in $(seq 1 5); do
      # Cluster nodes also listen on port + 10000 (the cluster bus): keep both free and in range.
      for _ in $(seq 1 50); do
        port=$(free_port)
        [ "$port" -lt 55535 ] && ! (echo >"/dev/tcp/127.0.0.1/$((port + 10000))") 2>/dev/null && break
      done
      mkdir -p "$dir/$port"
      if [ -n "$certs" ]; then listen=(--port 0 --tls-port "$port"); else listen=(--port "$port"); fi
      redis-server "$conf" "${listen[@]}" "${node_args[@]}" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
        --cluster-node-timeout 1000 --save '' --appendonly no --daemonize yes \
        --pidfile "$dir/$port.pid" --logfile "$dir/$port/redis.log" --dir "$dir/$port" >/dev/null
      if node_is_ours "$dir" "$port"; then started=1; break; fi
      kill "$(cat "$dir/$port.pid" 2>/dev/null)" 2>/dev/null || true
      rm -rf "${dir:?}/$port" "$dir/$port.pid"
    done
    [ "$started" = 1 ] || { echo "redis-cluster: could not start a node (no free port kept)" >&2; exit 1; }
    ports+=("$port")
  done
  local nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli "${cli_args[@]}" --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; exit 1; }
  # Ready when every node agrees the cluster is ok and every slot is covered.
  for _ in $(seq 1 100); do
    local ok=1
    for port in "${ports[@]}"; do
      redis-cli "${cli_args[@]}" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "redis-cluster: cluster did not reach state ok" >&2; exit 1; }
  STARTING_DIR=''
  echo "TEST_REDIS_CLUSTER_NODES=$(IFS=,; echo "${nodes[*]}")"
  echo "SESAME_TEST_REDIS_CLUSTER_DIR=$dir"
}

stop() {
  local dir=${1:?usage: redis-cluster.sh stop DIR}
  local pidfile pids=() pid
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    [ "$pid" = "$$" ] && continue # the watchdog, stopping the cluster itself
    kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  # Wait for the nodes to exit: they rewrite nodes.conf on the way out.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$dir" 2>/dev/null || true
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start [MASTERS] [REPLICAS_PER_MASTER] [--requirepass PASSWORD] [--tls CERT_DIR] [--owner PID] | stop DIR" >&2; exit 2 ;;
esac
