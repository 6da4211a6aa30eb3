#!/usr/bin/env bash
# bench/net/run.sh — TCP echo round trips: 64-byte messages over 50 connections, one
# message in flight per connection. Server pinned to CPU 0, client (build/release's
# echo_client, coroutine style) to CPU 1. Servers: weft coroutines (echo_server), weft
# callbacks (echo_server --callbacks), Node's net, and a minimal epoll echo in C (the
# floor). Reports messages/s and the server's CPU µs per message (utime+stime from
# /proc/PID/stat over the measured run), the number the goal is stated in.
#
#   bench/net/run.sh [--messages M] [--connections C] [--size S] [--reps R]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/build/release/bin}
MESSAGES=20000 CONNS=50 SIZE=64 REPS=3
SERVER_CPU=0 CLIENT_CPU=1 PORT_BASE=19300 QUIET_WAIT=0
die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }
source "$ROOT/bench/lib.sh"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) MESSAGES=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    *) die "unknown flag $1" ;;
  esac
done
[[ -x $BIN/echo_server && -x $BIN/echo_client ]] || die "build first: cmake --preset release && cmake --build --preset release --target echo_server echo_client"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/epoll_echo" "$HERE/epoll_echo.c" || die "cc failed"
TICK=$(getconf CLK_TCK)

# run_one NAME COMMAND...: starts the server (with PORT substituted), drives it, prints a row
run_one() {
  local name=$1; shift
  local port; port=$(free_port)
  local args=("${@//PORT/$port}")
  taskset -c $SERVER_CPU "${args[@]}" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do port_open "$port" && break; sleep 0.05; done
  port_open "$port" || die "$name did not listen on $port"
  # warm-up: a tenth of the run
  taskset -c $CLIENT_CPU "$BIN/echo_client" --port "$port" --connections "$CONNS" \
    --messages $((MESSAGES / 10 + 1)) --size "$SIZE" >/dev/null
  local t0 t1 out
  t0=$(cpu_ticks $pid)
  out=$(taskset -c $CLIENT_CPU "$BIN/echo_client" --port "$port" --connections "$CONNS" \
    --messages "$MESSAGES" --size "$SIZE")
  t1=$(cpu_ticks $pid)
  kill $pid; wait $pid 2>/dev/null || true
  local total=$((MESSAGES * CONNS))
  local mps cli
  mps=$(awk '/^messages\/s:/ {print $2}' <<<"$out")
  cli=$(awk '/client CPU us\/message:/ {print $4}' <<<"$out")
  awk -v n="$name" -v m="$mps" -v c="$cli" -v d="$((t1 - t0))" -v tick="$TICK" -v tot="$total" \
    'BEGIN {printf "%-16s %10s msg/s   server %.3f us/msg   client %s us/msg\n", n, m, d / tick * 1e6 / tot, c}'
}

echo "# $CONNS connections x $MESSAGES messages of $SIZE bytes, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
for ((r = 1; r <= REPS; r++)); do
  run_one weft-coroutine "$BIN/echo_server" --port PORT
  run_one weft-callback "$BIN/echo_server" --port PORT --callbacks
  run_one node-net node "$HERE/node_echo.js" --port PORT
  run_one epoll-c "$WORK/epoll_echo" PORT
done
