#!/usr/bin/env bash
# bench/http/ab.sh — two hello_http binaries side by side on GET /plaintext (no middleware):
# is a change visible in the plaintext benchmark? Interleaved so that both see the same
# machine: round 1 runs A then B, round 2 B then A, and so on (ABBA...).
#
#   bench/http/ab.sh --a BIN [--b BIN] [--rounds 2] [--duration 10s] [--warmup 2s]
#                    [--connections 50] [--pipeline 0] [--quiet-wait 20] [--port-base 27280]
#                    [--path /plaintext] [--header 'Name: value']... [--server-arg ARG]...
#
# --b defaults to --a: an A/A run, which says how far two runs of one binary differ on this
# machine (the noise a real A/B difference must exceed).
# Each measurement: a fresh `BIN --port P --host 127.0.0.1 --keep-alive-timeout 60` pinned
# to CPU 0 (taskset), an un-measured warm-up, then `wrk -t1 -c<connections>` pinned to CPU 1
# (with --pipeline N > 0: bench/http/pipeline.lua, N requests per write). Per row: requests/s,
# server CPU µs per request (utime+stime from /proc/PID/stat over the run / responses), and how
# busy CPU 0 was with other work. Then B/A ratios per round and of the means.
# --path, --header and --server-arg make it usable for other binaries that take --port,
# --host and --keep-alive-timeout, e.g. bench/framework's framework_server on /api/items:
#   bench/http/ab.sh --a OLD --b NEW --path /api/items --header 'Accept-Encoding: gzip' \
#     --server-arg --access-log --server-arg /tmp/access.log
# (only GET /plaintext's body is checked; any other path must answer 200).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
A='' B=''
ROUNDS=2
DURATION=10s
WARMUP=2s
CONNS=50
PIPELINE=0
QUIET_WAIT=20
PORT_BASE=27280
URL_PATH=/plaintext
HEADERS=()
SERVER_ARGS=()
SERVER_CPU=0
CLIENT_CPU=1

die() { echo "ab.sh: error: $*" >&2; exit 1; }
log() { echo "ab.sh: $*" >&2; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --a) A=$2; shift 2 ;;
    --b) B=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --pipeline) PIPELINE=$2; shift 2 ;;
    --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    --path) URL_PATH=$2; shift 2 ;;
    --header) HEADERS+=(-H "$2"); shift 2 ;;
    --server-arg) SERVER_ARGS+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -x $A ]] || die "--a '$A' is not an executable"
B=${B:-$A}
[[ -x $B ]] || die "--b '$B' is not an executable"
DUR_S=$(to_seconds "$DURATION")
WARM_S=$(to_seconds "$WARMUP")
CLK_TCK=$(getconf CLK_TCK)
raise_nofile >/dev/null
script=()
[[ $PIPELINE -gt 0 ]] && script=(-s "$HERE/pipeline.lua")
extra=()
[[ $PIPELINE -gt 0 ]] && extra=(-- "$PIPELINE")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-ab.XXXXXX")
SERVER_PID=
trap 'stop_server; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

RESULTS="$TMP/results.tsv"  # round label rps cpu_us others0%
measure() {
  local round=$1 label=$2 bin=$3 port i url out="$TMP/wrk.txt" t0 t1 c0 c1
  wait_quiet "round $round / $label"
  port=$(free_port)
  taskset -c $SERVER_CPU "$bin" --port "$port" --host 127.0.0.1 --keep-alive-timeout 60 "${SERVER_ARGS[@]}" \
    >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do port_open "$port" && break; sleep 0.1; done
  url="http://127.0.0.1:$port$URL_PATH"
  if [[ $URL_PATH == /plaintext ]]; then
    [[ $(curl -s "$url") == "Hello, World!" ]] || die "$bin: GET /plaintext is not 'Hello, World!'"
  else
    [[ $(curl -s -o /dev/null -w '%{http_code}' "${HEADERS[@]}" "$url") == 200 ]] || die "$bin: GET $URL_PATH is not a 200"
  fi
  [[ $WARM_S -gt 0 ]] && { taskset -c $CLIENT_CPU wrk -t1 -c"$CONNS" -d"$WARMUP" "${HEADERS[@]}" "${script[@]}" "$url" "${extra[@]}" \
    >/dev/null || die "wrk warm-up failed"; }
  t0=$(cpu_ticks "$SERVER_PID"); c0=($(cpu_jiffies $SERVER_CPU))
  taskset -c $CLIENT_CPU wrk -t1 -c"$CONNS" -d"$DURATION" "${HEADERS[@]}" "${script[@]}" "$url" "${extra[@]}" >"$out" \
    || die "wrk failed"
  c1=($(cpu_jiffies $SERVER_CPU)); t1=$(cpu_ticks "$SERVER_PID")
  stop_server
  awk -v OFS='\t' -v r="$round" -v l="$label" -v rps="$(wrk_rps "$out")" -v n="$(wrk_requests "$out")" \
      -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v wall="$DUR_S" \
      -v b0="${c0[0]}" -v a0="${c0[1]}" -v b1="${c1[0]}" -v a1="${c1[1]}" 'BEGIN {
    srv = (t1 - t0) / hz; o = (a1 > a0 ? 100 * (b1 - b0) / (a1 - a0) : 0) - 100 * srv / wall; if (o < 0) o = 0
    print r, l, rps, srv * 1e6 / n, o }' >>"$RESULTS"
  log "round $round / $label: $(tail -1 "$RESULTS" | cut -f3-)"
}

for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2 == 1)); then measure "$round" A "$A"; measure "$round" B "$B"
  else measure "$round" B "$B"; measure "$round" A "$A"; fi
done

echo "A: \`$A\`; B: \`$B\`. \`bench/http/ab.sh --rounds $ROUNDS --duration $DURATION --connections $CONNS" \
     "--pipeline $PIPELINE --path $URL_PATH\`${HEADERS[*]:+ (headers: ${HEADERS[*]})}${SERVER_ARGS[*]:+ (server args: ${SERVER_ARGS[*]})}, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| round | A req/s | B req/s | A CPU µs/req | B CPU µs/req | B/A CPU µs/req | others on CPU 0 (A / B) |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '{rps[$1, $2] = $3; cpu[$1, $2] = $4; oth[$1, $2] = $5; if ($1 > n) n = $1}
  END {
    for (i = 1; i <= n; i++) {
      printf "| %d | %.0f | %.0f | %.3f | %.3f | %.3f× | %.0f%% / %.0f%% |\n", i, rps[i, "A"], rps[i, "B"],
        cpu[i, "A"], cpu[i, "B"], cpu[i, "B"] / cpu[i, "A"], oth[i, "A"], oth[i, "B"]
      sa += cpu[i, "A"]; sb += cpu[i, "B"]; ra += rps[i, "A"]; rb += rps[i, "B"]
    }
    printf "| mean | %.0f | %.0f | %.3f | %.3f | **%.3f×** | |\n", ra / n, rb / n, sa / n, sb / n, sb / sa
  }' "$RESULTS"
