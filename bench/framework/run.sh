#!/usr/bin/env bash
# bench/framework/run.sh — weft vs Express 4 vs Fastify 4, each behind an access log (to a
# file), CORS and compression, serving a 3.6 KB JSON array; driven by wrk.
#
#   bench/framework/run.sh [--duration 10s] [--warmup 3s] [--runs 3] [--connections 50]
#                          [--servers weft,express,fastify] [--scenarios json,plaintext]
#                          [--no-build] [--quiet-wait 20] [--port-base 27180] [--out FILE]
#
# Servers (bench/framework/; the npm peers pinned by package-lock.json, installed with npm ci):
#   weft     build/release/bin/framework_server: http::access_log(log_to_file, common format),
#            http::cors(), http::compression() — defaults, added in that order
#   express  express.mjs: morgan('combined') to a file, cors(), compression() — defaults
#   fastify  fastify.mjs: Fastify's logger (pino, level info) to a file, @fastify/cors,
#            @fastify/compress — defaults (pino writes two lines per request: incoming, completed)
# All three build the same 50 objects (items.mjs / framework_server.cpp) and serialize them per
# request: byte-identical 3742-byte JSON bodies, gzip level 6 (every one's default).
#
# Scenarios (wrk -t1 with `Accept-Encoding: gzip` and an Origin header on every request):
#   json       GET /api/items: the body is gzipped and carries Access-Control-Allow-Origin
#   plaintext  GET /plaintext, same layers (13 bytes: under every threshold, not compressed)
# Before measuring, each server's response is checked with curl: 200, Content-Encoding gzip
# (json), Access-Control-Allow-Origin present, and the decoded body equal to the expected one.
#
# Each run: for each scenario and each server (the order rotates from run to run), a fresh
# server pinned to CPU 0 (taskset), an un-measured warm-up, then the measured `wrk -t1
# -c<connections>` pinned to CPU 1. Per row: requests/s, p50/p99, server CPU µs per request
# (utime+stime of the server process, all threads, from /proc/PID/stat over the measured run,
# divided by the responses wrk counted), access-log lines written per response, and how busy
# each core was with other work. Every run is reported, with weft/express and weft/fastify
# ratios of CPU µs per request (the issue's goal: ≤ 0.2× Express, ≤ 0.5× Fastify).
#
# Output: Markdown on stdout and in bench/framework/results-latest.md (not committed).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

DURATION=10s
WARMUP=3s
RUNS=3
CONNS=50
SERVERS=weft,express,fastify
SCENARIOS=json,plaintext
BUILD=1
QUIET_WAIT=20
OUT="$HERE/results-latest.md"
PORT_BASE=27180
SERVER_CPU=0
CLIENT_CPU=1
ORIGIN=http://app.example

die() { echo "run.sh: error: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
DUR_S=$(to_seconds "$DURATION")
WARM_S=$(to_seconds "$WARMUP")
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -ge 1 ]] || die "bad --duration '$DURATION'"
[[ $WARM_S =~ ^[0-9]+$ ]] || die "bad --warmup '$WARMUP'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "bad --runs '$RUNS'"
IFS=, read -r -a ORDER <<<"$SERVERS"
IFS=, read -r -a SCENS <<<"$SCENARIOS"
for s in "${ORDER[@]}"; do [[ $s == weft || $s == express || $s == fastify ]] || die "unknown server '$s'"; done
for s in "${SCENS[@]}"; do [[ $s == json || $s == plaintext ]] || die "unknown scenario '$s'"; done

for tool in wrk taskset node npm getconf awk curl gzip; do
  command -v "$tool" >/dev/null || die "'$tool' not found (scripts/install-deps?)"
done
[[ $(nproc) -eq 2 ]] || log "warning: nproc is $(nproc), expected 2; pinning anyway"
CLK_TCK=$(getconf CLK_TCK)
raise_nofile >/dev/null

# ---------------------------------------------------------------- npm peers, weft build
peers_ok() {
  (cd "$HERE" && node -e "for (const p of ['express','cors','morgan','compression','fastify','@fastify/cors','@fastify/compress']) require.resolve(p)") 2>/dev/null
}
if ! peers_ok; then
  log "installing the npm peers (npm ci from bench/framework/package-lock.json)"
  (cd "$HERE" && npm ci --no-audit --no-fund >&2) || die "npm ci in bench/framework failed"
  peers_ok || die "npm peers still missing after npm ci"
fi
peer_version() { node -p "require('$HERE/node_modules/$1/package.json').version"; }

WEFT_BIN="$ROOT/build/release/bin/framework_server"
if [[ $BUILD -eq 1 ]]; then
  log "building framework_server (release preset)"
  (cd "$ROOT" && cmake --preset release >&2 && cmake --build build/release --target framework_server >&2) \
    || die "release build failed"
fi
[[ -x $WEFT_BIN ]] || die "$WEFT_BIN does not exist (drop --no-build)"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-framework.XXXXXX")
SERVER_PID=
cleanup() {
  local rc=$?
  stop_server
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The JSON every server must send (decoded), from the same generator the Node servers use.
(cd "$HERE" && node --input-type=module -e \
  "import {makeItems} from './items.mjs'; process.stdout.write(JSON.stringify(makeItems()))") >"$TMP/expected.json"
printf 'Hello, World!' >"$TMP/expected.txt"

# start_server NAME: NAME pinned to CPU 0, logging to $TMP/NAME.access.log; waits for its port.
SERVER_PORT=
ACCESS_LOG=
start_server() {
  local name=$1 port i
  port=$(free_port)
  SERVER_PORT=$port
  ACCESS_LOG="$TMP/$name.access.log"
  rm -f "$ACCESS_LOG"
  local args=(--port "$port" --host 127.0.0.1 --access-log "$ACCESS_LOG")
  case "$name" in
    weft) taskset -c $SERVER_CPU "$WEFT_BIN" "${args[@]}" --keep-alive-timeout 60 >"$TMP/$name.log" 2>&1 & ;;
    express) taskset -c $SERVER_CPU node "$HERE/express.mjs" "${args[@]}" >"$TMP/$name.log" 2>&1 & ;;
    fastify) taskset -c $SERVER_CPU node "$HERE/fastify.mjs" "${args[@]}" >"$TMP/$name.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/$name.log" >&2; die "$name exited at start"; }
    port_open "$port" && return 0
    sleep 0.1
  done
  die "$name did not accept connections on 127.0.0.1:$port within 10 s"
}

# check_response NAME SCENARIO URL: the response is what the layers should make of it.
# Prints the bytes on the wire (the compressed size for json).
check_response() {
  local name=$1 scen=$2 url=$3 hdr="$TMP/probe.hdr" body="$TMP/probe.body" code size
  read -r code size < <(curl -s -D "$hdr" -o "$body" -w '%{http_code} %{size_download}\n' \
    -H 'Accept-Encoding: gzip' -H "Origin: $ORIGIN" "$url") || true
  [[ $code == 200 ]] || die "$name / $scen: GET $url gave HTTP '$code'"
  grep -qi '^access-control-allow-origin: ' "$hdr" || die "$name / $scen: no Access-Control-Allow-Origin"
  if [[ $scen == json ]]; then
    grep -qi '^content-encoding: gzip' "$hdr" || die "$name / $scen: the response is not gzip"
    gzip -dc <"$body" | cmp -s - "$TMP/expected.json" || die "$name / $scen: the decoded body differs from items.mjs's"
  else
    cmp -s "$body" "$TMP/expected.txt" || die "$name / $scen: the body is not 'Hello, World!'"
  fi
  echo "$size"
}

# ---------------------------------------------------------------- measure
RESULTS="$TMP/results.tsv"  # run scen server rps p50us p99us cpu_us log_lines_per_resp other0% other1% wire_bytes
: >"$RESULTS"
NOTES=()

run_one() {
  local run=$1 scen=$2 name=$3 path url wire
  [[ $scen == json ]] && path=/api/items || path=/plaintext
  wait_quiet "run $run / $scen / $name"
  start_server "$name"
  url="http://127.0.0.1:$SERVER_PORT$path"
  wire=$(check_response "$name" "$scen" "$url")
  local wrk_args=(-t1 -c"$CONNS" -H 'Accept-Encoding: gzip' -H "Origin: $ORIGIN")
  if [[ $WARM_S -gt 0 ]]; then
    timeout $((WARM_S + 30)) taskset -c $CLIENT_CPU wrk "${wrk_args[@]}" -d"$WARMUP" "$url" >/dev/null \
      || die "wrk warm-up failed for $name / $scen"
    check_alive "$name" "$scen warm-up"
  fi
  local lines0 t0 t1 c0 c1 s0 s1 out="$TMP/wrk-$run-$scen-$name.txt"
  sleep 0.5  # the log writers catch up with the warm-up
  lines0=$(wc -l <"$ACCESS_LOG" 2>/dev/null || echo 0)
  t0=$(cpu_ticks "$SERVER_PID")
  c0=($(cpu_jiffies $SERVER_CPU)); s0=($(cpu_jiffies $CLIENT_CPU))
  log "run $run / $scen / $name: measuring $DURATION, $CONNS connections"
  timeout $((DUR_S + 30)) taskset -c $CLIENT_CPU wrk "${wrk_args[@]}" -d"$DURATION" --latency "$url" >"$out" \
    || { cat "$out" >&2; die "wrk failed for $name / $scen"; }
  c1=($(cpu_jiffies $SERVER_CPU)); s1=($(cpu_jiffies $CLIENT_CPU))
  check_alive "$name" "$scen"
  t1=$(cpu_ticks "$SERVER_PID")
  sleep 0.5
  local lines1
  lines1=$(wc -l <"$ACCESS_LOG" 2>/dev/null || echo 0)
  stop_server
  local requests rps p50 p99 errors non2xx
  requests=$(wrk_requests "$out"); rps=$(wrk_rps "$out")
  p50=$(wrk_pct_us "$out" 50); p99=$(wrk_pct_us "$out" 99)
  errors=$(wrk_errors "$out"); non2xx=$(wrk_non2xx "$out")
  [[ -n $requests && $requests -gt 0 ]] || die "wrk reported no requests for $name / $scen"
  [[ -n $errors ]] && NOTES+=("run $run / $scen / $name: wrk socket errors: $errors")
  [[ -n $non2xx ]] && NOTES+=("run $run / $scen / $name: $non2xx non-2xx/3xx responses")
  local wall=$((DUR_S))
  awk -v OFS='\t' -v run="$run" -v scen="$scen" -v name="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
      -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v n="$requests" -v l0="$lines0" -v l1="$lines1" \
      -v b0="${c0[0]}" -v a0="${c0[1]}" -v b1="${c1[0]}" -v a1="${c1[1]}" \
      -v d0="${s0[0]}" -v e0="${s0[1]}" -v d1="${s1[0]}" -v e1="${s1[1]}" -v wall="$wall" -v wire="$wire" '
    BEGIN {
      srv = (t1 - t0) / hz                      # server CPU seconds
      busy0 = (a1 > a0 ? 100 * (b1 - b0) / (a1 - a0) : 0)
      busy1 = (e1 > e0 ? 100 * (d1 - d0) / (e1 - e0) : 0)
      o0 = busy0 - 100 * srv / wall; if (o0 < 0) o0 = 0
      print run, scen, name, rps, p50, p99, srv * 1e6 / n, (l1 - l0) / n, o0, busy1, wire
    }' >>"$RESULTS"
}

START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((run = 1; run <= RUNS; run++)); do
  # rotate the server order from run to run (weft first, then second, ...)
  rot=()
  for ((i = 0; i < ${#ORDER[@]}; i++)); do rot+=("${ORDER[$(((i + run - 1) % ${#ORDER[@]}))]}"); done
  for scen in "${SCENS[@]}"; do
    for name in "${rot[@]}"; do run_one "$run" "$scen" "$name"; done
  done
done

# ---------------------------------------------------------------- report
report() {
  echo "### Run of $START_DATE"
  echo
  echo "\`bench/framework/run.sh --duration $DURATION --warmup $WARMUP --runs $RUNS --connections $CONNS" \
       "--servers $SERVERS --scenarios $SCENARIOS\`; $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))," \
       "Linux $(uname -r); server on CPU $SERVER_CPU, \`wrk -t1\` on CPU $CLIENT_CPU, 127.0.0.1; every request with" \
       "\`Accept-Encoding: gzip\` and \`Origin: $ORIGIN\`. Node $(node --version), express $(peer_version express)" \
       "(cors $(peer_version cors), morgan $(peer_version morgan), compression $(peer_version compression))," \
       "fastify $(peer_version fastify) (@fastify/cors $(peer_version @fastify/cors), @fastify/compress" \
       "$(peer_version @fastify/compress)); weft at $(cd "$ROOT" && git rev-parse --short HEAD)." \
       "Load average at start: $LOAD_AT_START."
  local scen
  for scen in "${SCENS[@]}"; do
    echo
    if [[ $scen == json ]]; then
      echo "#### GET /api/items (3742 B of JSON, gzipped), access log + CORS + compression, $CONNS connections"
    else
      echo "#### GET /plaintext (13 B, not compressed), access log + CORS + compression, $CONNS connections"
    fi
    echo
    echo "| run | server | req/s | p50 | p99 | CPU µs/req | log lines/resp | bytes on the wire | others on CPU 0 / CPU 1 busy |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v s="$scen" '$2 == s {
        printf "| %d | %s | %.0f | %s | %s | %.2f | %.2f | %d | %.0f%% / %.0f%% |\n", $1, $3, $4,
          ($5 < 1000 ? $5 " µs" : sprintf("%.2f ms", $5 / 1000)), ($6 < 1000 ? $6 " µs" : sprintf("%.2f ms", $6 / 1000)),
          $7, $8, $11, $9, $10 }' "$RESULTS"
    echo
    echo "| run | weft/express CPU µs/req | weft/fastify CPU µs/req | weft/express req/s | weft/fastify req/s |"
    echo "|---:|---:|---:|---:|---:|"
    awk -F'\t' -v s="$scen" '$2 == s {cpu[$1, $3] = $7; rps[$1, $3] = $4; if ($1 > n) n = $1}
      function r(a, b) { return (b > 0 ? sprintf("**%.3f×**", a / b) : "n/a") }
      function q(a, b) { return (b > 0 ? sprintf("%.2f×", a / b) : "n/a") }
      END { for (i = 1; i <= n; i++)
        printf "| %d | %s | %s | %s | %s |\n", i, r(cpu[i, "weft"], cpu[i, "express"]), r(cpu[i, "weft"], cpu[i, "fastify"]),
          q(rps[i, "weft"], rps[i, "express"]), q(rps[i, "weft"], rps[i, "fastify"]) }' "$RESULTS"
  done
  echo
  echo "CPU µs/req: utime+stime of the server process (all threads: weft's access-log writer included) over the" \
       "measured run, divided by the responses wrk counted. log lines/resp: lines the server appended to its access" \
       "log per response (Fastify's logger writes two: incoming, completed). bytes on the wire: the body of one" \
       "curl probe as sent (gzip for json). others on CPU 0: how busy CPU 0 was with anything but the server;" \
       "CPU 1 busy: wrk plus anything else. Goal (issue 17): weft ≤ 0.2× Express's and ≤ 0.5× Fastify's CPU µs/req."
  if [[ ${#NOTES[@]} -gt 0 ]]; then
    echo
    local n
    for n in "${NOTES[@]}"; do echo "- $n"; done
  fi
}
report | tee "$OUT"
log "written to $OUT"
