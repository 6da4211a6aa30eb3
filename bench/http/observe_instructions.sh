#!/usr/bin/env bash
# bench/http/observe_instructions.sh — user-space instructions per request of hello_http
# without and with --observe (and a --baseline binary), counted by valgrind's cachegrind.
# Unlike CPU time, an instruction count does not depend on what else runs on the machine,
# so small differences are visible on a busy shared VM (which has no hardware counters
# for `perf stat`). Kernel work (syscalls) is not counted; it is the same in all arms
# except a clock read before each blocking poll, which is a vDSO call (counted).
#
#   bench/http/observe_instructions.sh [--duration 5s] [--conns 50] [--baseline BIN]
#
# Per arm: one run started and stopped at once (startup + shutdown instructions), one run
# driven by `wrk -t1 -c50` for the duration; Ir/request = (loaded - startup) / requests.
# Under valgrind the server handles a few thousand requests/s, so periodic work (the
# --observe arm's 10 ms lag timer and its 1 s window) weighs ~20x more per request
# than at native speed: the "on" figure is an upper bound.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=5s
CONNS=50
BASELINE=
PORT=27390
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
HELLO="$ROOT/build/release/bin/hello_http"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ir BIN OUTFILE LOAD(0/1) ARGS... -> prints "Ir requests"
ir() {
  local bin=$1 out=$2 load=$3; shift 3
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
    "$bin" --port "$PORT" --host 127.0.0.1 --keep-alive-timeout 60 "$@" >/dev/null 2>&1 &
  local pid=$! reqs=0
  for _ in $(seq 400); do port_open "$PORT" && break; sleep 0.05; done
  if [[ $load -eq 1 ]]; then
    reqs=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PORT/plaintext" | awk '/requests in/ {print $1}')
  fi
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  echo "$(awk '/^summary:/ {print $2}' "$out") $reqs"
}

echo "| arm | requests | Ir startup | Ir loaded | Ir / request |"
echo "|---|---:|---:|---:|---:|"
for arm in base off on; do
  bin=$HELLO; args=()
  [[ $arm == base ]] && { [[ -n $BASELINE ]] || continue; bin=$BASELINE; }
  [[ $arm == on ]] && args=(--observe)
  read -r idle _ < <(ir "$bin" "$TMP/$arm.idle" 0 "${args[@]}")
  read -r loaded reqs < <(ir "$bin" "$TMP/$arm.load" 1 "${args[@]}")
  awk -v a=$arm -v r="$reqs" -v i="$idle" -v l="$loaded" \
    'BEGIN {printf "| %s | %d | %d | %d | %.0f |\n", a, r, i, l, (l - i) / r}'
done
