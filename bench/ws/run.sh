#!/usr/bin/env bash
# bench/ws/run.sh — WebSocket echo round trips: weft (hello_http GET /ws) vs Node's ws.
#
#   bench/ws/run.sh [--conns 100] [--duration 10] [--idle 10000] [--idle-settle 3] [--idle-warmup 100]
#                   [--fanout 10000] [--no-build]
#
# Each server is started pinned to CPU 0 (taskset -c 0), the load generator
# (echo_client.mjs, Node + ws, one 32-byte text message in flight per connection) to CPU 1.
# Reported per server: messages/s (round trips) and server CPU µs per message
# (utime+stime of the server from /proc/PID/stat over the measured run / messages).
# The client is one Node process: it is likely the bottleneck for messages/s; the CPU per
# message of the server is the figure to compare. Then memory per idle connection:
# idle_clients.mjs opens --idle connections and holds them; --idle-settle seconds after the
# last one opened (weft parks an idle WebSocket after ServerOptions::park_idle_after, 1 s),
# (server VmRSS after - before) / connections, split into anonymous memory (RssAnon: the
# heap) and file pages (RssFile: code and libraries touched for the first time), and
# (VmHWM - VmRSS before) / connections. "Before" is taken after --idle-warmup connections
# were opened and closed (as bench/http/memory.sh warms up with wrk), so the one-time cost
# of the first upgrade (SHA-1 in libcrypto, the WebSocket code's pages) is not divided
# among the connections; --idle-warmup 0 measures from a cold server.
# Fan-out: fanout_clients.mjs opens --fanout subscribers, asks the server for one publish
# (POST /publish), times until the last one received it; the server's CPU time for the
# publish is the sum of its threads' schedstat run time from just before the request until
# the client saw the last message. 127.0.0.1 only. Needs scripts/install-deps
# (node, tests/ws-interop/node_modules) and the release build of hello_http.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONNS=100
DURATION=10
IDLE=10000
IDLE_SETTLE=3
IDLE_WARMUP=100
FANOUT=10000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --idle-settle) IDLE_SETTLE=$2; shift 2 ;;
    --idle-warmup) IDLE_WARMUP=$2; shift 2 ;;
    --fanout) FANOUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--conns N] [--duration S] [--idle N] [--idle-settle S] [--idle-warmup N] [--fanout N] [--no-build]" >&2; exit 2 ;;
  esac
done
[ -d "$ROOT/tests/ws-interop/node_modules/ws" ] || { echo "run scripts/install-deps first" >&2; exit 1; }
if [ "$BUILD" = 1 ]; then
  cmake --preset release >/dev/null
  cmake --build "$ROOT/build/release" --target hello_http -j2 >/dev/null
fi
HELLO=${WEFT_HELLO_HTTP:-"$ROOT/build/release/bin/hello_http"}  # env: another build
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() {  # name port command...
  local name=$1 port=$2; shift 2
  taskset -c 0 "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 1 node "$HERE/echo_client.mjs" "ws://127.0.0.1:$port/ws" "$CONNS" "$DURATION" 2>/dev/null)
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  node -e '
    const r = JSON.parse(process.argv[1]);
    const cpu_us = (Number(process.argv[3]) * 1e6) / Number(process.argv[4]);
    console.log(`| ${process.argv[2]} | ${r.per_second} | ${(cpu_us / r.messages).toFixed(2)} |`);
  ' "$out" "$name" "$((after - before))" "$TICK"
}

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # pid field
per_conn() { echo $(( ($2 - $1) * 1024 / IDLE )); }  # before_kib after_kib

idle_one() {  # name port command...
  local name=$1 port=$2; shift 2
  taskset -c 0 "$@" >/dev/null 2>&1 &
  local pid=$!
  wait_port "$port"
  if [ "$IDLE_WARMUP" -gt 0 ]; then
    taskset -c 1 node "$HERE/idle_clients.mjs" "ws://127.0.0.1:$port/ws" "$IDLE_WARMUP" \
      </dev/null >/dev/null 2>&1 || true
  fi
  sleep 0.5
  local rss0 anon0 file0 fifo
  rss0=$(status_kib "$pid" VmRSS); anon0=$(status_kib "$pid" RssAnon); file0=$(status_kib "$pid" RssFile)
  fifo=$(mktemp -u); mkfifo "$fifo"
  taskset -c 1 node "$HERE/idle_clients.mjs" "ws://127.0.0.1:$port/ws" "$IDLE" < "$fifo" > "$fifo.out" &
  local client=$!
  exec 4>"$fifo"
  for _ in $(seq 600); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
  sleep "$IDLE_SETTLE"
  local rss anon file hwm
  rss=$(status_kib "$pid" VmRSS); anon=$(status_kib "$pid" RssAnon); file=$(status_kib "$pid" RssFile)
  hwm=$(status_kib "$pid" VmHWM)
  exec 4>&-
  wait "$client" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$fifo" "$fifo.out"
  echo "| $name | $IDLE | $(per_conn "$rss0" "$rss") | $(per_conn "$anon0" "$anon") |" \
    "$(per_conn "$file0" "$file") | $(per_conn "$rss0" "$hwm") |"
}

echo "| server | messages/s | server CPU µs/message |"
echo "|---|---:|---:|"
run_one weft 27190 "$HELLO" --port 27190 --host 127.0.0.1
run_one "node ws" 27191 node "$HERE/ws_echo_server.mjs" 27191
# CPU time of every thread of a process, in ns (schedstat: finer than stat's clock ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

fanout_one() {  # name port command...
  local name=$1 port=$2; shift 2
  taskset -c 0 "$@" >/dev/null 2>&1 &
  local pid=$!
  wait_port "$port"
  local fifo before after out
  fifo=$(mktemp -u); mkfifo "$fifo"
  taskset -c 1 node "$HERE/fanout_clients.mjs" "ws://127.0.0.1:$port/ws" "$FANOUT" \
    "http://127.0.0.1:$port/publish" --wait < "$fifo" > "$fifo.out" 2>/dev/null &
  local client=$!
  exec 5>"$fifo"
  for _ in $(seq 1200); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
  before=$(cpu_ns "$pid")
  echo go >&5
  for _ in $(seq 600); do grep -q ms_to_last "$fifo.out" 2>/dev/null && break; sleep 0.01; done
  after=$(cpu_ns "$pid")
  exec 5>&-
  wait "$client" 2>/dev/null || true
  out=$(grep ms_to_last "$fifo.out")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$fifo" "$fifo.out"
  echo "| $name | $FANOUT | $(node -e 'console.log(JSON.parse(process.argv[1]).ms_to_last)' "$out") | $(( (after - before) / 1000 )) |"
}

if [ "$FANOUT" -gt 0 ]; then
  echo
  echo "| server | subscribers | ms until the last received one publish | server CPU µs for the publish |"
  echo "|---|---:|---:|---:|"
  fanout_one weft 27194 "$HELLO" --port 27194 --host 127.0.0.1
  fanout_one "node ws" 27195 node "$HERE/ws_echo_server.mjs" 27195
fi
if [ "$IDLE" -gt 0 ]; then
  echo
  echo "| server | idle connections | RSS B/conn | of which anon | of which file | VmHWM B/conn |"
  echo "|---|---:|---:|---:|---:|---:|"
  idle_one weft 27192 "$HELLO" --port 27192 --host 127.0.0.1
  idle_one "node ws" 27193 node "$HERE/ws_echo_server.mjs" 27193
fi
