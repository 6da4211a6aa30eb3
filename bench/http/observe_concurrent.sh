#!/usr/bin/env bash
# bench/http/observe_concurrent.sh — CPU per request of several hello_http arms measured
# side by side: all arms' servers run at once on CPU 0, each driven by its own
# `wrk -t1 -c50` on CPU 1 over the same interval, so the machine's speed at that moment
# (on a shared VM it drifts by 10–25 % between runs of a few seconds) is the same for
# every arm, and each round's ratios cancel it. Ratios are against the first arm.
#
#   bench/http/observe_concurrent.sh [--rounds 8] [--duration 8] [--raw FILE] \
#       'pre|/tmp/pre/hello_http' 'off|build/release/bin/hello_http' \
#       'on|build/release/bin/hello_http --observe'
#
# Each arm is "NAME|COMMAND ARGS" (the script adds --port, --host, --keep-alive-timeout).
# The order of the arms rotates every round. A server's CPU time is utime+stime of all
# its threads from /proc/PID/stat over the measured interval; requests are wrk's count.
# Caveat: with the arms sharing one core, each server runs at about 1/N of a core and
# handles fewer requests per loop iteration than alone, so per-iteration costs weigh
# more than in bench/http/run.sh's plaintext figures: read the ratios, not the µs.
set -euo pipefail
ROUNDS=8
DURATION=8
RAW=
PORT0=27600
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=${2%s}; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --port) PORT0=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "observe_concurrent.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 2 ]] || { echo "observe_concurrent.sh: give at least two arms (see --help)" >&2; exit 2; }
NAMES=(); CMDS=()
for a in "$@"; do NAMES+=("${a%%|*}"); CMDS+=("${a#*|}"); done
N=${#NAMES[@]}
TMP=$(mktemp -d)
PIDS=()
cleanup() { [[ ${#PIDS[@]} -gt 0 ]] && kill "${PIDS[@]}" 2>/dev/null; rm -rf "$TMP"; true; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
HZ=$(getconf CLK_TCK)

# one_round ORDER...: prints "name us_per_req" for each arm
one_round() {
  local k port wrks=() t0=() t1=()
  PIDS=()
  for k in "$@"; do
    # shellcheck disable=SC2086  # the arm's command line is split on purpose
    taskset -c 0 ${CMDS[$k]} --port $((PORT0 + k)) --host 127.0.0.1 --keep-alive-timeout 60 >/dev/null 2>&1 &
    PIDS+=($!)
  done
  for k in "$@"; do
    for _ in $(seq 100); do port_open $((PORT0 + k)) && break; sleep 0.05; done
  done
  for k in "$@"; do taskset -c 1 wrk -t1 -c50 -d1s "http://127.0.0.1:$((PORT0 + k))/plaintext" >/dev/null & wrks+=($!); done
  wait "${wrks[@]}"; wrks=()
  for i in "${!PIDS[@]}"; do t0+=("$(cpu_ticks "${PIDS[$i]}")"); done
  for k in "$@"; do
    taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" "http://127.0.0.1:$((PORT0 + k))/plaintext" >"$TMP/wrk-$k.txt" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  for i in "${!PIDS[@]}"; do t1+=("$(cpu_ticks "${PIDS[$i]}")"); done
  kill "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  local i=0
  for k in "$@"; do
    local reqs
    reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk-$k.txt")
    awk -v n="${NAMES[$k]}" -v t=$((t1[i] - t0[i])) -v r="$reqs" -v hz="$HZ" \
      'BEGIN {printf "%s %.3f %d\n", n, t / hz * 1e6 / r, r}'
    i=$((i + 1))
  done
}

: >"$TMP/results"
for ((round = 0; round < ROUNDS; round++)); do
  order=()
  for ((j = 0; j < N; j++)); do order+=($(((round + j) % N))); done
  one_round "${order[@]}" | sed "s/^/$round /" | tee -a "$TMP/results"
done
[[ -n $RAW ]] && cp "$TMP/results" "$RAW"

echo
echo "| arm | CPU µs/req per round | ÷ ${NAMES[0]} per round | mean ÷ ${NAMES[0]} ± 2 SE |"
echo "|---|---|---|---:|"
for ((k = 0; k < N; k++)); do
  awk -v ref="${NAMES[0]}" -v arm="${NAMES[$k]}" '
    $2 == ref {r[$1] = $3} $2 == arm {a[$1] = $3}
    END {
      for (i in a) n++
      for (i = 0; i < n; i++) { x = a[i] / r[i]; s += x; ss += x * x; us = us sprintf("%.2f ", a[i]); rs = rs sprintf("%.3f ", x) }
      m = s / n; sd = n > 1 ? sqrt((ss - n * m * m) / (n - 1)) : 0
      printf "| %s | %s| %s| %.3f ± %.3f (%+.1f %%) |\n", arm, us, rs, m, 2 * sd / sqrt(n), (m - 1) * 100
    }' "$TMP/results"
done
