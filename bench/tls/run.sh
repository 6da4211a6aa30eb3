#!/usr/bin/env bash
# bench/tls/run.sh — weft's HTTPS (hello_http --tls-cert/--tls-key) driven by wrk.
# (weft against nginx and Node with the same certificates: bench/tls/peers.sh.)
#
#   bench/tls/run.sh [--duration 10s] [--key ec|rsa] [--no-build]
#
# For each mode (handshakes on the cpu pool, the default; handshakes inline on the loop,
# --tls-inline-handshakes) starts a fresh hello_http --observe pinned to CPU 0 (all its
# threads: the pool shares the loop's core, at nice +10) and drives it from CPU 1:
#   keepalive  wrk -t1 -c50 GET /plaintext over established TLS connections
#   handshake  wrk -t1 -c16 with "Connection: close": a new TCP connection and a full TLS
#              handshake per request (wrk does not resume sessions)
# and reports req/s, wrk's p50/p99, the server's CPU µs per request (utime+stime of all its
# threads from /proc/PID/stat) and the loop lag p99 the server measured itself during the
# run (/_weft/stats, loop.lag_ms.p99; cumulative since start, so one fresh server per
# scenario). Certificates: scripts/make-cert (ECDSA P-256, or RSA-2048 with --key rsa).
# Loopback only. Needs wrk, curl, python3, openssl (scripts/install-deps).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=10s
KEY=ec
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --key) KEY=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ "$BUILD" = 1 ]; then
  (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build/release --target hello_http -j2 >/dev/null)
fi
BIN="$ROOT/build/release/bin/hello_http"
[ -x "$BIN" ] || { echo "run.sh: $BIN missing (build the release preset)" >&2; exit 1; }
TMP=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
KEY_TYPE=$KEY "$ROOT/scripts/make-cert" "$TMP" localhost 127.0.0.1 >/dev/null
PORT=18943

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {  # mode scenario
  local flags=() mode=$1 scenario=$2
  [ "$mode" = inline ] && flags+=(--tls-inline-handshakes)
  taskset -c 0 "$BIN" --port $PORT --observe --keep-alive-timeout 60 \
    --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" "${flags[@]}" >"$TMP/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 50); do curl -sk "https://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
  local wrk_args=(-t1 -c50 -d"$DURATION" --latency)
  [ "$scenario" = handshake ] && wrk_args=(-t1 -c16 -d"$DURATION" --latency -H "Connection: close")
  local before after
  before=$(cpu_ticks $PID)
  taskset -c 1 wrk "${wrk_args[@]}" "https://127.0.0.1:$PORT/plaintext" >"$TMP/wrk.txt"
  after=$(cpu_ticks $PID)
  local stats
  stats=$(curl -sk -H "Host: localhost" "https://127.0.0.1:$PORT/_weft/stats")
  kill $PID; wait $PID 2>/dev/null || true; PID=""
  python3 - "$TMP/wrk.txt" "$before" "$after" "$mode" "$scenario" "$stats" <<'PY'
import re, sys, json, os
wrk = open(sys.argv[1]).read()
reqs = int(re.search(r'(\d+) requests in', wrk).group(1))
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', wrk).group(1))
lat = dict(re.findall(r'\s+(50|99)%\s+(\S+)', wrk))
errs = re.search(r'Socket errors: (.*)', wrk)
hz = os.sysconf('SC_CLK_TCK')
cpu_us = (int(sys.argv[3]) - int(sys.argv[2])) / hz * 1e6 / max(reqs, 1)
lag = json.loads(sys.argv[6])['loop']['lag_ms']['p99']
print(f"| {sys.argv[4]} | {sys.argv[5]} | {rps:,.0f} | {lat.get('50')} | {lat.get('99')} | {cpu_us:.1f} | {lag} |"
      + (f" {errs.group(1)}" if errs else ""))
PY
}

echo "| handshakes | scenario | req/s | p50 | p99 | server CPU µs/req | loop lag p99 (ms) |"
echo "|---|---|---|---|---|---|---|"
for mode in pool inline; do
  for scenario in keepalive handshake; do run $mode $scenario; done
done
