#!/usr/bin/env bash
# Starts (or stops) a throwaway Redis Cluster (Redis >= 7: sharded pub/sub) on loopback, for the
# cluster-mode tests and `npm run bench -- cluster`. Beside test-services.sh, same conventions.
#
#   scripts/dev/redis-cluster.sh start [MASTERS] [REPLICAS_PER_MASTER]   (default 3 0)
#       → prints KEY=VALUE lines to eval/export:
#         TEST_REDIS_CLUSTER_NODES   host:port of every node, comma-separated (the REDIS_CLUSTER_NODES form)
#         SESAME_TEST_REDIS_CLUSTER_DIR   the cluster's directory (DIR/<port>.pid per node)
#   scripts/dev/redis-cluster.sh stop DIR
#
# cluster-node-timeout is 1 s so that a killed master's replica is promoted within a few
# seconds (the failover test); production keeps Redis's default of 15 s or its provider's.
set -euo pipefail

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local masters=${1:-3} replicas=${2:-0}
  command -v redis-server >/dev/null || { echo "redis-cluster: redis-server not found (apt-get install -y redis-server)" >&2; exit 1; }
  local version
  version=$(redis-server --version | sed -E 's/.*v=([0-9]+).*/\1/')
  [ "$version" -ge 7 ] || { echo "redis-cluster: Redis >= 7 needed for sharded pub/sub (found $(redis-server --version))" >&2; exit 1; }
  local dir count ports=() port
  dir=$(mktemp -d /tmp/sesame-redis-cluster.XXXXXX)
  count=$((masters * (replicas + 1)))
  for _ in $(seq 1 "$count"); do
    # Cluster nodes also listen on port + 10000 (the cluster bus): keep both free and in range.
    for _ in $(seq 1 50); do
      port=$(free_port)
      [ "$port" -lt 55535 ] && ! (echo >"/dev/tcp/127.0.0.1/$((port + 10000))") 2>/dev/null && break
    done
    ports+=("$port")
    mkdir -p "$dir/$port"
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
      --cluster-node-timeout 1000 --save '' --appendonly no --daemonize yes \
      --pidfile "$dir/$port.pid" --logfile "$dir/$port/redis.log" --dir "$dir/$port" >/dev/null
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  local nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; stop "$dir"; exit 1; }
  # Ready when every node agrees the cluster is ok and every slot is covered.
  for _ in $(seq 1 100); do
    local ok=1
    for port in "${ports[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "redis-cluster: cluster did not reach state ok" >&2; stop "$dir"; exit 1; }
  echo "TEST_REDIS_CLUSTER_NODES=$(IFS=,; echo "${nodes[*]}")"
  echo "SESAME_TEST_REDIS_CLUSTER_DIR=$dir"
}

stop() {
  local dir=${1:?usage: redis-cluster.sh stop DIR}
  local pidfile pids=() pid
  for pidfile in "$dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
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
  *) echo "usage: $0 start [MASTERS] [REPLICAS_PER_MASTER] | stop DIR" >&2; exit 2 ;;
esac
