#!/usr/bin/env bash
# bench/app/run_pg.sh — POST /api/items on PostgreSQL: weft-serve vs Node + pg, same server.
#
#   bench/app/run_pg.sh [--runs 3] [--duration 5s] [--warmup 2s] [--connections 50]
#
# Starts one PostgreSQL server (tests/support's weft_pg_test_server from build/debug: initdb
# in a temp dir, default durability: fsync=on, synchronous_commit=on), one database per
# server under test. weft-serve (build/release) is seeded with one item so that the items
# collection exists; node_pg.js (`pg` from bench/app/node_modules, a pool of 10 connections)
# creates its own table. Each run starts both servers fresh (alternating their order), the
# server under test pinned to CPU 0, `wrk -t1` to CPU 1; PostgreSQL itself is not pinned.
# weft-ungrouped is weft-serve with --no-group-commit (every write its own commit).
# Prints one line per server and run: req/s, p50, p99.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=3 DURATION=5s WARMUP=2s CONNS=50
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    *) echo "run_pg.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
PGTOOL="$ROOT/build/debug/bin/weft_pg_test_server"
WEFT="$ROOT/build/release/bin/weft-serve"
[[ -x $PGTOOL && -x $WEFT ]] || { echo "run_pg.sh: needs $PGTOOL and $WEFT" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-pg.XXXXXX")
STATE="$TMP/pg.state"
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }
  "$PGTOOL" stop "$STATE" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$PGTOOL" start "$STATE" >&2
read -r PGDIR PGPORT <"$STATE"
BASE="postgres://postgres@127.0.0.1:$PGPORT"
psql_c() { psql "$BASE/postgres" -qAt -c "$1"; }
echo '{"items":[{"id":1,"title":"seed"}]}' >"$TMP/seed.json"
PORT=27290

start() {  # start NAME DBNAME
  psql_c "DROP DATABASE IF EXISTS $2" && psql_c "CREATE DATABASE $2"
  case "$1" in
    weft|weft-ungrouped)
      local flags=()
      [[ $1 == weft-ungrouped ]] && flags=(--no-group-commit)
      taskset -c 0 "$WEFT" --port $PORT --host 127.0.0.1 --workers 1 --quiet --db "$BASE/$2" \
            --seed "$TMP/seed.json" "${flags[@]}" >"$TMP/$1.log" 2>&1 & ;;
    pg) taskset -c 0 node "$HERE/node_pg.js" --db "$BASE/$2" --port $PORT --host 127.0.0.1 \
            >"$TMP/$1.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/items/1" && return 0; sleep 0.1; done
  cat "$TMP/$1.log" >&2; exit 1
}
stop() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

measure() {  # measure NAME RUN
  start "$1" "bench_${1//-/_}"
  local url="http://127.0.0.1:$PORT/api/items"
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$WARMUP" -s "$HERE/post_item.lua" "$url" >/dev/null
  local out
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$HERE/post_item.lua" "$url")
  stop
  printf '%s\trun %s\t%s req/s\tp50 %s\tp99 %s\t%s\n' "$1" "$2" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(grep -o 'Non-2xx.*' <<<"$out" || true)"
}

echo "# PostgreSQL $(psql_c 'SHOW server_version'), fsync=$(psql_c 'SHOW fsync'), synchronous_commit=$(psql_c 'SHOW synchronous_commit'); $CONNS connections, $DURATION (warm-up $WARMUP)"
for ((r = 1; r <= RUNS; r++)); do
  case $((r % 3)) in
    1) order=(weft weft-ungrouped pg) ;;
    2) order=(pg weft weft-ungrouped) ;;
    *) order=(weft-ungrouped pg weft) ;;
  esac
  for s in "${order[@]}"; do measure "$s" "$r"; done
done
