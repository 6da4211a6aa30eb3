#!/usr/bin/env bash
# bench/http/observe_overhead.sh — what observability costs per request in the plaintext
# benchmark: hello_http without and with --observe (lag sampler, watchdog thread, metrics
# endpoints mounted; the HTTP counters and loop probe are always compiled in), and, with
# --baseline DIR, a hello_http built from another tree (e.g. the commit before observe).
#
#   bench/http/observe_overhead.sh [--rounds 5] [--duration 10s] [--warmup 2s] [--conns 50]
#                                  [--baseline /path/to/hello_http] [--no-build] [--raw FILE]
#
# Method (as bench/http/run.sh): a fresh server per run pinned to CPU 0, `wrk -t1` pinned
# to CPU 1, 127.0.0.1 only; server CPU time (utime+stime of all threads, /proc/PID/stat)
# over the measured run divided by the requests wrk completed. The arms alternate round by
# round by round, the order rotating each round (base off on, off on base, ...), so
# drifting load on a shared machine hits all alike. Prints each run, the median CPU µs/req
# per arm, and the per-round ratios (on/off, on/base) with their mean ± 2 standard errors;
# --raw FILE keeps the runs ("arm µs/req requests" lines).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=5
DURATION=10s
WARMUP=2s
CONNS=50
BASELINE=
BUILD=1
PORT=27380
RAW=

while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --port) PORT=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "observe_overhead.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >&2 && cmake --build --preset release --target hello_http >&2)
fi
HELLO="$ROOT/build/release/bin/hello_http"
[[ -x $HELLO ]] || { echo "missing $HELLO" >&2; exit 1; }
[[ -z $BASELINE || -x $BASELINE ]] || { echo "missing baseline $BASELINE" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; true; }
trap cleanup EXIT

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# run_arm NAME BINARY [ARGS...] -> prints "NAME us_per_req requests"
run_arm() {
  local name=$1 bin=$2; shift 2
  taskset -c 0 "$bin" --port "$PORT" --host 127.0.0.1 --keep-alive-timeout 60 "$@" >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do port_open "$PORT" && break; sleep 0.05; done
  local url="http://127.0.0.1:$PORT/plaintext"
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$WARMUP" "$url" >/dev/null
  local t0 t1 out reqs
  t0=$(cpu_ticks "$SERVER_PID")
  out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" "$url")
  t1=$(cpu_ticks "$SERVER_PID")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  if [[ $name == on ]]; then  # the endpoints answer while measured: not part of the timing
    curl -sf "http://127.0.0.1:$PORT/_weft/stats" >/dev/null || echo "warning: /_weft/stats failed" >&2
  fi
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  awk -v n="$name" -v t=$((t1 - t0)) -v r="$reqs" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%s %.3f %d\n", n, t / hz * 1e6 / r, r}'
}

RESULTS=$(mktemp)
ARMS=(off on)
[[ -n $BASELINE ]] && ARMS=(base off on)
run_named() {
  case "$1" in
    base) run_arm base "$BASELINE" ;;
    off) run_arm off "$HELLO" ;;
    on) run_arm on "$HELLO" --observe ;;
  esac
}
for ((i = 0; i < ROUNDS; i++)); do
  # the order rotates every round, so no arm always runs first or last
  for ((k = 0; k < ${#ARMS[@]}; k++)); do
    run_named "${ARMS[$(((i + k) % ${#ARMS[@]}))]}" | tee -a "$RESULTS"
  done
done

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
echo
echo "| arm | runs (CPU µs/req) | median | req/s median |"
echo "|---|---|---:|---:|"
for arm in base off on; do
  grep -q "^$arm " "$RESULTS" || continue
  runs=$(awk -v a=$arm '$1 == a {printf "%s ", $2}' "$RESULTS")
  med=$(awk -v a=$arm '$1 == a {print $2}' "$RESULTS" | median)
  rps=$(awk -v a=$arm -v d="${DURATION%s}" '$1 == a {print $3 / d}' "$RESULTS" | median)
  echo "| $arm | $runs | $med | $rps |"
done
off=$(awk '$1 == "off" {print $2}' "$RESULTS" | median)
on=$(awk '$1 == "on" {print $2}' "$RESULTS" | median)
awk -v a="$off" -v b="$on" 'BEGIN {printf "\non/off CPU per request: %.3f (%+.1f %%)\n", b / a, (b / a - 1) * 100}'
if grep -q "^base " "$RESULTS"; then
  base=$(awk '$1 == "base" {print $2}' "$RESULTS" | median)
  awk -v a="$base" -v b="$on" 'BEGIN {printf "on/base CPU per request: %.3f (%+.1f %%)\n", b / a, (b / a - 1) * 100}'
  awk -v a="$base" -v b="$off" 'BEGIN {printf "off/base CPU per request: %.3f (%+.1f %%)\n", b / a, (b / a - 1) * 100}'
fi

# Paired by round (the arms of one round ran back to back): the spread of these ratios is
# what says whether a difference of a few percent is resolved; mean ± 2 standard errors.
paired() {  # paired A B: the per-round ratios B/A
  awk -v a="$1" -v b="$2" '$1 == a {x[++na] = $2} $1 == b {y[++nb] = $2}
    END {
      n = na < nb ? na : nb
      for (i = 1; i <= n; i++) { r = y[i] / x[i]; s += r; ss += r * r; printf "%.3f ", r }
      m = s / n; sd = n > 1 ? sqrt((ss - n * m * m) / (n - 1)) : 0
      printf "| mean %.3f ± %.3f (%+.1f %% ± %.1f)\n", m, 2 * sd / sqrt(n), (m - 1) * 100, 200 * sd / sqrt(n)
    }' "$RESULTS"
}
echo
echo "per-round on/off: $(paired off on)"
grep -q "^base " "$RESULTS" && echo "per-round on/base: $(paired base on)"
grep -q "^base " "$RESULTS" && echo "per-round off/base: $(paired base off)"
[[ -n $RAW ]] && cp "$RESULTS" "$RAW"
rm -f "$RESULTS"
