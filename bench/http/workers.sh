#!/usr/bin/env bash
# bench/http/workers.sh — weft's hello_http with 1 loop vs N loops (ServerOptions::workers).
#
#   bench/http/workers.sh [--workers 1,2] [--conns 50] [--duration 10s] [--warmup 2s]
#                         [--rounds 2] [--wrk-threads 1] [--no-build] [--port 27180]
#
# --port: the first port tried (127.0.0.1 only); one in use is skipped.
#
# Per configuration: requests/s (wrk, GET /plaintext, keep-alive), server CPU time per
# request (utime+stime of the server process, all threads, from /proc/PID/stat before and
# after the measured run, divided by the requests wrk counted), how busy the server
# process was (% of one core) and how the server's CPU time split over its threads.
#
# Configurations, each with a fresh server:
#   1-pinned  --workers 1, server on CPU 0 (taskset -c 0), wrk on CPU 1: run.sh's setup.
#   W-shared  --workers W for each W in --workers, server and wrk both unpinned on all
#             cores (taskset -c 0-(ncpu-1)): W loops cannot be pinned to one core, so the
#             server and wrk share the machine; wrk runs --wrk-threads threads (default 1)
#             so it takes as little of it as it can.
# The list is run --rounds times, alternating, so a burst of other load on a shared
# machine lands on both sides; every run is printed, then the median per configuration.
#
# Output: Markdown on stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

WORKERS=1,2
CONNS=50
DURATION=10s
WARMUP=2s
ROUNDS=2
WRK_THREADS=1
BUILD=1
PORT=27180
NCPU=$(nproc)

die() { echo "workers.sh: error: $*" >&2; exit 1; }
log() { echo "workers.sh: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --wrk-threads) WRK_THREADS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --port) PORT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

command -v wrk >/dev/null || die "wrk is not installed (scripts/install-deps)"
BIN="$ROOT/build/release/bin/hello_http"
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 --target hello_http >/dev/null) \
    || die "release build failed"
fi
[[ -x $BIN ]] || die "$BIN is missing (build the release preset)"

CLK_TCK=$(getconf CLK_TCK)
ALL_CPUS="0-$((NCPU - 1))"
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill -KILL "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }  # utime+stime, all threads
# "tid ticks" for every thread of a process
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() {  # start_server WORKERS CPUS
  while port_in_use "$PORT"; do PORT=$((PORT + 1)); done  # another program's port: skip it
  "$BIN" --port "$PORT" --workers "$1" --keep-alive-timeout 60 >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  taskset -a -p -c "$2" "$SERVER_PID" >/dev/null
  local i
  for ((i = 0; i < 50; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && break
    sleep 0.1
  done
  # the extra loop threads start in listen(): pin them too (-a covers threads that exist)
  taskset -a -p -c "$2" "$SERVER_PID" >/dev/null
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "server did not start"; }
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

RESULTS="$TMP/results.tsv"  # config round rps cpu_us srv_pct thread_split
: >"$RESULTS"

run_one() {  # run_one CONFIG WORKERS SERVER_CPUS WRK_CPUS ROUND
  local config=$1 workers=$2 scpus=$3 wcpus=$4 round=$5 url out
  start_server "$workers" "$scpus"
  url="http://127.0.0.1:$PORT/plaintext"
  taskset -c "$wcpus" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$WARMUP" "$url" >/dev/null
  out="$TMP/wrk.txt"
  thread_ticks "$SERVER_PID" >"$TMP/th0"
  local t0 t1 w0 w1
  t0=$(cpu_ticks "$SERVER_PID"); w0=$(date +%s.%N)
  taskset -c "$wcpus" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" "$url" >"$out"
  t1=$(cpu_ticks "$SERVER_PID"); w1=$(date +%s.%N)
  thread_ticks "$SERVER_PID" >"$TMP/th1"
  stop_server
  local requests rps cpu_us srv_pct split
  requests=$(awk '/requests in/ {print $1; exit}' "$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2; exit}' "$out")
  [[ -n $requests && $requests -gt 0 ]] || { cat "$out" >&2; die "wrk counted no requests ($config)"; }
  grep -q "Socket errors\|Non-2xx" "$out" && log "$config round $round: $(grep 'Socket errors\|Non-2xx' "$out" | tr '\n' ' ')"
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$requests" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')
  srv_pct=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v w0="$w0" -v w1="$w1" 'BEGIN {printf "%.0f", 100 * (b - a) / hz / (w1 - w0)}')
  # the busiest threads' share of the server's CPU time (loop threads; pool threads idle)
  split=$(join "$TMP/th0" "$TMP/th1" | awk '{d = $3 - $2; if (d > 0) print d}' | sort -rn |
          awk '{d[NR] = $1; t += $1} END {s = ""; for (i = 1; i <= NR && i <= 4; i++) s = s (i > 1 ? "/" : "") sprintf("%.0f", 100 * d[i] / t); print s}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$config" "$round" "$rps" "$cpu_us" "$srv_pct" "$split" >>"$RESULTS"
  log "$config round $round: $rps req/s, $cpu_us µs CPU/req, server ${srv_pct}% of a core, threads $split %"
}

log "$NCPU cores; $CONNS connections, wrk -t$WRK_THREADS, $DURATION per run, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  run_one "1-pinned" 1 0 1 "$r"
  IFS=, read -ra WS <<<"$WORKERS"
  for w in "${WS[@]}"; do run_one "$w-shared" "$w" "$ALL_CPUS" "$ALL_CPUS" "$r"; done
done

echo "| configuration | round | req/s | server CPU µs/req | server busy (% of a core) | CPU split over busiest threads (%) |"
echo "|---|---|---|---|---|---|"
sort -t$'\t' -k1,1 -k2,2n "$RESULTS" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}'
echo
echo "Median over rounds:"
echo
echo "| configuration | req/s | server CPU µs/req |"
echo "|---|---|---|"
for c in $(cut -f1 "$RESULTS" | sort -u); do
  rps=$(awk -F'\t' -v c="$c" '$1 == c {print $3}' "$RESULTS" | sort -n | awk '{a[NR] = $1} END {printf "%.0f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
  cpu=$(awk -F'\t' -v c="$c" '$1 == c {print $4}' "$RESULTS" | sort -n | awk '{a[NR] = $1} END {printf "%.2f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
  echo "| $c | $rps | $cpu |"
done
