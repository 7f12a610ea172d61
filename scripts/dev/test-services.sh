#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL 15 and Redis on loopback for tests and benchmarks.
#
#   scripts/dev/test-services.sh start [--owner PID]   → prints KEY=VALUE lines to eval/export:
#       TEST_DATABASE_URL, TEST_REDIS_URL, SESAME_TEST_SERVICES_DIR
#       --owner PID   stop the services when process PID exits, however it exits (a test runner
#                     killed by a signal included): a watchdog polls it every second
#   scripts/dev/test-services.sh stop DIR
#
# Postgres refuses to run as root, so as root it runs as the `postgres` user.
set -euo pipefail

SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/dev/watchdog.sh
. "$(dirname "$SCRIPT")/watchdog.sh"

find_pg_bin() {
  if [ -n "${PG_BIN_DIR:-}" ]; then echo "$PG_BIN_DIR"; return; fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ]; then echo "$dir"; return; fi
  dirname "$(command -v pg_ctl)"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local pg_bin dir pg_port redis_port owner=''
  case "${1:-}" in
    '') ;;
    --owner) owner=${2:?--owner needs a pid} ;;
    *) echo "test-services: unknown option $1" >&2; exit 2 ;;
  esac
  pg_bin=$(find_pg_bin)
  [ -x "$pg_bin/initdb" ] || { echo "test-services: PostgreSQL server binaries not found (install postgresql)" >&2; exit 1; }
  command -v redis-server >/dev/null || { echo "test-services: redis-server not found (apt-get install -y redis-server)" >&2; exit 1; }
  dir=$(mktemp -d /tmp/sesame-services.XXXXXX)
  chmod 755 "$dir"
  mkdir -p "$dir/pg"
  [ "$(id -u)" = "0" ] && chown postgres "$dir/pg"
  # A start that fails (or is interrupted) half way stops what it started.
  STARTING_DIR=$dir
  trap '[ -z "${STARTING_DIR:-}" ] || stop "$STARTING_DIR"' EXIT
  trap 'exit 130' INT TERM HUP
  [ -z "$owner" ] || start_watchdog "$SCRIPT" "$owner" "$dir" >/dev/null
  pg_port=$(free_port)
  redis_port=$(free_port)
  as_pg "$pg_bin/initdb" -D "$dir/pg/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  # fsync off: throwaway data, faster tests. max_connections: one pool per test file and process.
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null || { cat "$dir/pg/postgres.log" >&2; exit 1; }
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  STARTING_DIR=''
  echo "TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "SESAME_TEST_SERVICES_DIR=$dir"
}

stop() {
  local dir=${1:?usage: test-services.sh stop DIR}
  local pg_bin
  pg_bin=$(find_pg_bin)
  [ -d "$dir/pg/data" ] && as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  rm -rf "$dir" 2>/dev/null || true
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start [--owner PID] | stop DIR" >&2; exit 2 ;;
esac
