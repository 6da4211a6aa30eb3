#!/usr/bin/env bash
# bench/http/run.sh — weft vs Node.js (core http) vs nginx, driven by wrk.
#
#   bench/http/run.sh [--suite http|static|all] [--duration 10s] [--warmup 2s]
#                     [--idle-conns 10000] [--servers weft,node,nginx] [--allow-missing]
#                     [--no-build]
#
# Suite "http" (the default): weft's hello_http vs node_hello.js vs nginx `return 200`.
# Suite "static": weft's static_server vs node_static.js (core http + fs.createReadStream)
# vs nginx (one worker, sendfile on, open_file_cache), serving files the script generates
# in a temp dir: 4k.bin with 50 connections, 64k.bin with 50, 1m.bin with 16.
# Suite "all": both, in one run (one report with a table per suite).
#
# One run: builds the release preset, then for each server and each scenario starts a
# fresh server pinned to CPU 0 (taskset -c 0), warms it up, and drives it with
# `wrk -t1` pinned to CPU 1. Everything listens on and connects to 127.0.0.1 only.
#
# http scenarios: keep-alive with 50 and 256 connections, and HTTP/1.1 pipelining (16 requests
# per write, pipeline.lua) with 256 connections. Per server x scenario: requests/s, p50
# and p99 latency (wrk --latency), server CPU time per request (utime+stime of the server
# process, all its threads, from /proc/PID/stat before/after the measured wrk run, divided
# by the requests wrk completed), peak RSS (VmHWM), and how busy each core was.
# Static scenarios report the same, plus body throughput (req/s x file size, MiB/s) and which
# side was the bottleneck (the larger CPU µs/req of server and wrk).
# Then (http suite) RSS per idle keep-alive connection: idle_conns.c opens --idle-conns connections,
# one request each, and holds them; (VmRSS after - VmRSS before) / connections.
#
# Output: a Markdown table on stdout and in bench/http/results-latest.md (not committed).
#
# Options:
#   --suite S         http (default), static, or all.
#   --duration D      measured wrk run per scenario (wrk syntax: 10s, 1m). Default 10s.
#   --warmup D        un-measured wrk run before each scenario. Default 2s.
#   --idle-conns N    connections for the idle-RSS measurement. Default 10000; 0 skips it.
#   --servers LIST    comma-separated subset of weft,node,nginx. Default all three.
#   --allow-missing   skip weft (with a message) if build/release/bin/hello_http (http suite)
#                     or static_server (static suite) is missing; without it a missing
#                     binary is an error.
#   --no-build        do not run the release build (use what is in build/release). The build
#                     is the whole release preset, or only the static_server target for
#                     --suite static.
#   --quiet-wait S    before each scenario wait up to S seconds for both cores to be < 15%
#                     busy with other work (then measure anyway). Default 20; 0 = don't wait.
#   --out FILE        where to write the Markdown. Default bench/http/results-latest.md.
#   --port-base P     servers listen on the first free 127.0.0.1 port from P. Default 27080.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

SUITE=http
DURATION=10s
WARMUP=2s
IDLE_CONNS=10000
SERVERS=weft,node,nginx
ALLOW_MISSING=0
BUILD=1
QUIET_WAIT=20
OUT="$HERE/results-latest.md"
PORT_BASE=27080   # first port tried; a port already in use is skipped
SERVER_CPU=0
CLIENT_CPU=1

die() { echo "run.sh: error: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --suite) SUITE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --idle-conns) IDLE_CONNS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --allow-missing) ALLOW_MISSING=1; shift ;;
    --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

case "$SUITE" in
  http|static|all) ;;
  *) die "bad --suite '$SUITE' (http, static or all)" ;;
esac
suite_has() { [[ $SUITE == all || $SUITE == "$1" ]]; }
suite_has http || IDLE_CONNS=0   # the idle-connection measurement belongs to the http suite
DUR_S=$(to_seconds "$DURATION")
WARM_S=$(to_seconds "$WARMUP")
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -ge 1 ]] || die "bad --duration '$DURATION'"
[[ $WARM_S =~ ^[0-9]+$ ]] || die "bad --warmup '$WARMUP'"

# ---------------------------------------------------------------- preconditions
for tool in wrk taskset nginx node cc getconf awk curl; do
  command -v "$tool" >/dev/null || die "'$tool' not found (scripts/install-deps?)"
done
NPROC=$(nproc)
[[ $NPROC -eq 2 ]] || log "warning: nproc is $NPROC, expected 2; pinning server to CPU $SERVER_CPU and wrk to CPU $CLIENT_CPU anyway"
CLK_TCK=$(getconf CLK_TCK)

# Raise the fd limit for this shell, hence for every server and client started below.
raise_nofile >/dev/null
NOFILE=$(ulimit -n)
if [[ $IDLE_CONNS -gt 0 && $NOFILE != unlimited && $NOFILE -lt $((IDLE_CONNS + 200)) ]]; then
  die "fd limit is $NOFILE (hard $(ulimit -Hn)); need > $((IDLE_CONNS + 200)) for --idle-conns $IDLE_CONNS"
fi
log "fd limit $NOFILE, CLK_TCK $CLK_TCK, duration $DURATION (+$WARMUP warm-up) per scenario"

want() { [[ ",$SERVERS," == *",$1,"* ]]; }

# ---------------------------------------------------------------- build
if [[ $BUILD -eq 1 ]]; then
  BUILD_TARGET=()
  [[ $SUITE == static ]] && BUILD_TARGET=(--target static_server)
  log "building the release preset ${BUILD_TARGET[*]}"
  (cd "$ROOT" && cmake --preset release >&2 && cmake --build --preset release "${BUILD_TARGET[@]}" >&2) \
    || die "release build failed"
fi
HELLO_HTTP="$ROOT/build/release/bin/hello_http"
STATIC_SERVER="$ROOT/build/release/bin/static_server"
SKIPPED_NOTE=
WEFT_BINS=()
suite_has http && WEFT_BINS+=("$HELLO_HTTP")
suite_has static && WEFT_BINS+=("$STATIC_SERVER")
for bin in "${WEFT_BINS[@]}"; do
  want weft || break
  [[ -x $bin ]] && continue
  if [[ $ALLOW_MISSING -eq 1 ]]; then
    log "SKIPPING weft: $bin does not exist (--allow-missing)"
    SKIPPED_NOTE="weft skipped: build/release/bin/${bin##*/} does not exist (--allow-missing)."
    SERVERS=$(echo ",$SERVERS," | sed 's/,weft,/,/; s/^,//; s/,$//')
  else
    die "$bin does not exist (build the release preset, or pass --allow-missing to skip weft)"
  fi
done
[[ -n $SERVERS ]] || die "no servers to run"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-http.XXXXXX")
SERVER_PID=
CLIENT_PID=
cleanup() {
  local rc=$?
  [[ -n $CLIENT_PID ]] && kill "$CLIENT_PID" 2>/dev/null && wait "$CLIENT_PID" 2>/dev/null
  stop_server
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- servers
# MODE (http or static) selects what start_server / write_nginx_conf serve.
MODE=http
STATIC_DIR="$TMP/static"

write_nginx_conf() {
  local port=$1 dir="$TMP/nginx" body
  mkdir -p "$dir/logs"
  if [[ $MODE == static ]]; then
    # Static files the way nginx is deployed for them: sendfile + tcp_nopush, and
    # open_file_cache (nginx's cache of open fds + stat results, the counterpart of
    # static_server's fd table; without it nginx does open/fstat/close per request).
    body="        root $STATIC_DIR;
        sendfile on;
        tcp_nopush on;
        open_file_cache max=1000 inactive=60s;
        open_file_cache_valid 60s;
        location / {
        }"
  else
    body="        location = /plaintext {
            default_type text/plain;
            return 200 'Hello, World!';
        }
        location = / {
            default_type text/plain;
            return 200 'OK';
        }"
  fi
  # master_process off: the single nginx process is the worker, so its /proc stats are
  # the whole server. keepalive_requests is raised from the default 1000 so nginx does
  # not close every keep-alive connection after 1000 requests (weft and Node don't).
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_rlimit_nofile $NOFILE;
events {
    worker_connections $((NOFILE - 100));
    use epoll;
}
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    types { application/octet-stream bin; text/html html; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        server_name _;
$body
    }
}
EOF
  echo "$dir"
}

WEFT_KA_FLAG=1   # pass --keep-alive-timeout 60 to weft's binary until it proves unsupported
SERVER_NOTE=()

# start_server NAME: starts NAME pinned to CPU 0 and waits until its port accepts.
SERVER_PORT=
start_server() {
  local name=$1 port
  port=$(free_port)
  SERVER_PORT=$port
  local logf="$TMP/$name.log"
  case "$name" in
    weft)
      local args=(--port "$port" --host 127.0.0.1) bin=$HELLO_HTTP
      [[ $MODE == static ]] && { bin=$STATIC_SERVER; args+=(--root "$STATIC_DIR"); }
      [[ $WEFT_KA_FLAG -eq 1 ]] && args+=(--keep-alive-timeout 60)
      taskset -c $SERVER_CPU "$bin" "${args[@]}" >"$logf" 2>&1 &
      ;;
    node)
      if [[ $MODE == static ]]; then
        taskset -c $SERVER_CPU node "$HERE/node_static.js" --root "$STATIC_DIR" --port "$port" --host 127.0.0.1 >"$logf" 2>&1 &
      else
        taskset -c $SERVER_CPU node "$HERE/node_hello.js" --port "$port" --host 127.0.0.1 >"$logf" 2>&1 &
      fi
      ;;
    nginx)
      local dir
      dir=$(write_nginx_conf "$port")
      taskset -c $SERVER_CPU nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$logf" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      # (a port taken by someone else between free_port and bind also lands here)
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=
      if [[ $name == weft && $WEFT_KA_FLAG -eq 1 ]]; then
        log "weft exited at start with --keep-alive-timeout 60; retrying without it"
        sed 's/^/    /' "$logf" >&2
        WEFT_KA_FLAG=0
        SERVER_NOTE+=("weft: the server binary rejected \`--keep-alive-timeout 60\`; ran with its default keep-alive timeout.")
        start_server weft
        return
      fi
      echo "---- $name log:" >&2; cat "$logf" >&2
      die "$name exited before accepting connections on port $port"
    fi
    port_open "$port" && return 0
    sleep 0.1
  done
  die "$name did not accept connections on 127.0.0.1:$port within 10 s"
}

# ---------------------------------------------------------------- wrk
RESULTS="$TMP/results.tsv"   # server scenario rps p50us p99us cpu_us/req hwm_kb cpu0_busy% cpu1_busy% requests server_cpu% wrk_cpu% wrk_us/req body_bytes
: >"$RESULTS"
NOTES=()

# run_scenario SERVER SCENARIO CONNS PIPELINE_DEPTH(0 = none) PATH BODY_BYTES
# (MODE must already name the suite the scenario belongs to)
run_scenario() {
  local name=$1 scen=$2 conns=$3 depth=$4 path=$5 bytes=$6 url
  local script=()
  [[ $depth -gt 0 ]] && script=(-s "$HERE/pipeline.lua")
  local extra=()
  [[ $depth -gt 0 ]] && extra=(-- "$depth")

  wait_quiet "$name / $scen"
  start_server "$name"
  url="http://127.0.0.1:$SERVER_PORT$path"
  # the response must be a 200 with the whole body, or the figures mean nothing
  local probe
  probe=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url") || true
  [[ $probe == "200 $bytes" ]] || die "$name / $scen: GET $path gave '$probe', expected '200 $bytes'"
  log "$name / $scen: warm-up $WARMUP"
  if [[ $WARM_S -gt 0 ]]; then
    timeout $((WARM_S + 30)) taskset -c $CLIENT_CPU wrk -t1 -c"$conns" -d"$WARMUP" "${script[@]}" "$url" "${extra[@]}" >/dev/null \
      || die "wrk warm-up failed for $name / $scen"
    check_alive "$name" "$scen warm-up"
  fi

  local t0 t1 c0 c1 s0 s1 out="$TMP/wrk-$name-$scen.txt"
  local w0 w1 ws0 ws1
  times >"$TMP/times0"; ws0=$(date +%s.%N)
  t0=$(cpu_ticks "$SERVER_PID")
  c0=($(cpu_jiffies $SERVER_CPU)); s0=($(cpu_jiffies $CLIENT_CPU))
  log "$name / $scen: measuring $DURATION, $conns connections, pipeline depth $((depth > 0 ? depth : 1))"
  timeout $((DUR_S + 30)) taskset -c $CLIENT_CPU wrk -t1 -c"$conns" -d"$DURATION" --latency "${script[@]}" "$url" "${extra[@]}" >"$out" \
    || { cat "$out" >&2; die "wrk failed for $name / $scen"; }
  c1=($(cpu_jiffies $SERVER_CPU)); s1=($(cpu_jiffies $CLIENT_CPU))
  check_alive "$name" "$scen"
  t1=$(cpu_ticks "$SERVER_PID")
  ws1=$(date +%s.%N); times >"$TMP/times1"
  w0=$(children_cpu_s "$TMP/times0"); w1=$(children_cpu_s "$TMP/times1")
  local hwm
  hwm=$(status_kb "$SERVER_PID" VmHWM)
  stop_server
  cat "$out" >&2

  local requests rps p50 p99 errors non2xx
  requests=$(wrk_requests "$out")
  rps=$(wrk_rps "$out")
  p50=$(wrk_pct_us "$out" 50)
  p99=$(wrk_pct_us "$out" 99)
  errors=$(wrk_errors "$out")
  non2xx=$(wrk_non2xx "$out")
  [[ -n $requests && $requests -gt 0 ]] || die "wrk reported no requests for $name / $scen"
  [[ $depth -eq 0 ]] && [[ $p50 -le 0 || $p99 -le 0 ]] && NOTES+=("$name / $scen: wrk printed a 0 latency percentile; shown as n/a")
  [[ -n $errors ]] && NOTES+=("$name / $scen: wrk socket errors: $errors")
  [[ -n $non2xx ]] && NOTES+=("$name / $scen: $non2xx non-2xx/3xx responses")

  local cpu_us srv_busy wrk_busy srv_pct wrk_pct
  # share of the wall time the server process (all threads) and wrk spent on a CPU
  srv_pct=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v w0="$ws0" -v w1="$ws1" 'BEGIN {printf "%.0f", 100 * (b - a) / hz / (w1 - w0)}')
  wrk_pct=$(awk -v a="$w0" -v b="$w1" -v w0="$ws0" -v w1="$ws1" 'BEGIN {printf "%.0f", 100 * (b - a) / (w1 - w0)}')
  # wrk's own CPU per request: if it exceeds the server's, wrk is the bottleneck on a quiet machine
  local wrk_us
  wrk_us=$(awk -v a="$w0" -v b="$w1" -v n="$requests" 'BEGIN {printf "%.3f", (b - a) * 1e6 / n}')
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$requests" 'BEGIN {printf "%.3f", (b - a) * 1e6 / hz / n}')
  srv_busy=$(awk -v b0="${c0[0]}" -v t0="${c0[1]}" -v b1="${c1[0]}" -v t1="${c1[1]}" 'BEGIN {d = t1 - t0; printf "%.0f", (d > 0 ? 100 * (b1 - b0) / d : 0)}')
  wrk_busy=$(awk -v b0="${s0[0]}" -v t0="${s0[1]}" -v b1="${s1[0]}" -v t1="${s1[1]}" 'BEGIN {d = t1 - t0; printf "%.0f", (d > 0 ? 100 * (b1 - b0) / d : 0)}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$name" "$scen" "$rps" "$p50" "$p99" "$cpu_us" "$hwm" "$srv_busy" "$wrk_busy" "$requests" "$srv_pct" "$wrk_pct" "$wrk_us" "$bytes" >>"$RESULTS"
}

IDLE="$TMP/idle.tsv"   # server conns_ok rss_before_kb rss_after_kb bytes_per_conn still_open
: >"$IDLE"

run_idle() {
  local name=$1 port
  MODE=http
  start_server "$name"
  port=$SERVER_PORT
  # Touch the request path first so one-time allocations are not charged to connections.
  timeout 30 taskset -c $CLIENT_CPU wrk -t1 -c50 -d1s "http://127.0.0.1:$port/plaintext" >/dev/null \
    || die "wrk warm-up failed for $name / idle"
  sleep 1
  local before after line out="$TMP/idle-$name.txt"
  before=$(status_kb "$SERVER_PID" VmRSS)
  log "$name / idle: opening $IDLE_CONNS keep-alive connections (RSS before: $before kB)"
  taskset -c $CLIENT_CPU "$TMP/idle_conns" "$port" "$IDLE_CONNS" /plaintext >"$out" 2>"$out.err" &
  CLIENT_PID=$!
  local i
  for ((i = 0; i < 900; i++)); do
    grep -q '^READY' "$out" 2>/dev/null && break
    kill -0 "$CLIENT_PID" 2>/dev/null || { cat "$out.err" >&2; die "idle_conns exited early for $name"; }
    sleep 0.1
  done
  grep -q '^READY' "$out" || die "idle_conns did not finish connecting to $name within 90 s"
  sleep 2   # let the server settle (lazy frees, GC) before reading RSS
  check_alive "$name" idle
  after=$(status_kb "$SERVER_PID" VmRSS)
  kill -USR1 "$CLIENT_PID"
  wait "$CLIENT_PID" || true
  CLIENT_PID=
  stop_server
  line=$(grep '^READY' "$out")
  local ok open
  ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
  open=$(awk '/^OPEN/ {print $2}' "$out")
  log "$name / idle: $line, still open at measurement end: ${open:-?}, RSS after: $after kB"
  [[ $ok -gt 0 ]] || die "no idle connection to $name completed"
  [[ $ok -lt $IDLE_CONNS ]] && NOTES+=("$name / idle: only $ok of $IDLE_CONNS connections completed; per-connection figure uses $ok")
  [[ -n $open && $open -lt $ok ]] && NOTES+=("$name / idle: the server closed $((ok - open)) of $ok idle connections before the client let go")
  local per
  per=$(awk -v a="$before" -v b="$after" -v n="$ok" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$ok" "$before" "$after" "$per" "${open:-?}" >>"$IDLE"
}

# ---------------------------------------------------------------- run
cc -O2 -Wall -o "$TMP/idle_conns" "$HERE/idle_conns.c" || die "cannot compile idle_conns.c"

# "id connections pipeline-depth path body-bytes"
HTTP_SCENARIOS=("ka-c50 50 0 /plaintext 13" "ka-c256 256 0 /plaintext 13" "pipe16-c256 256 16 /plaintext 13")
STATIC_SCENARIOS=("static-4k-c50 50 0 /4k.bin 4096" "static-64k-c50 50 0 /64k.bin 65536" "static-1m-c16 16 0 /1m.bin 1048576")
ORDER=()
for s in weft node nginx; do want "$s" && ORDER+=("$s"); done

if suite_has static; then
  mkdir -p "$STATIC_DIR"
  head -c 4096 /dev/urandom >"$STATIC_DIR/4k.bin"
  head -c 65536 /dev/urandom >"$STATIC_DIR/64k.bin"
  head -c 1048576 /dev/urandom >"$STATIC_DIR/1m.bin"
  cat "$STATIC_DIR"/*.bin >/dev/null   # in the page cache before anyone is measured
fi

START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
run_suite() {
  MODE=$1; shift
  local name s scens=("$@")
  for name in "${ORDER[@]}"; do
    for s in "${scens[@]}"; do
      set -- $s
      run_scenario "$name" "$1" "$2" "$3" "$4" "$5"
    done
  done
}
suite_has http && run_suite http "${HTTP_SCENARIOS[@]}"
suite_has static && run_suite static "${STATIC_SCENARIOS[@]}"
if [[ $IDLE_CONNS -gt 0 ]]; then
  for name in "${ORDER[@]}"; do run_idle "$name"; done
fi

# ---------------------------------------------------------------- report
scen_label() {
  case "$1" in
    ka-c50) echo "keep-alive, 50 conns" ;;
    ka-c256) echo "keep-alive, 256 conns" ;;
    pipe16-c256) echo "pipelined x16, 256 conns" ;;
    static-4k-c50) echo "4 KiB file, 50 conns" ;;
    static-64k-c50) echo "64 KiB file, 50 conns" ;;
    static-1m-c16) echo "1 MiB file, 16 conns" ;;
  esac
}

report() {
  local cpu_model kernel
  cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  kernel=$(uname -r)
  echo "### Run of $START_DATE"
  echo
  echo "\`bench/http/run.sh --suite $SUITE --duration $DURATION --warmup $WARMUP --idle-conns $IDLE_CONNS --quiet-wait $QUIET_WAIT\`;" \
       "$NPROC CPUs ($cpu_model), Linux $kernel; server on CPU $SERVER_CPU, \`wrk -t1\` on CPU $CLIENT_CPU," \
       "127.0.0.1. Versions: $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}'), node $(node --version)," \
       "$(nginx -v 2>&1 | sed 's/.*: //'). Load average at start: $LOAD_AT_START."
  suite_has http && report_http
  suite_has static && report_static
  [[ -n $SKIPPED_NOTE ]] && SERVER_NOTE+=("$SKIPPED_NOTE")
  if [[ ${#NOTES[@]} -gt 0 || ${#SERVER_NOTE[@]} -gt 0 ]]; then
    echo
    local n
    for n in "${SERVER_NOTE[@]}" "${NOTES[@]}"; do echo "- $n"; done
  fi
}

report_http() {
  echo
  suite_has static && { echo "#### Suite http (GET /plaintext)"; echo; }
  echo "| server | scenario | req/s | p50 | p99 | CPU µs/req | peak RSS MiB | wrk CPU µs/req | server CPU | wrk CPU | others on CPU 0 / 1 |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local scen name
  for s in "${HTTP_SCENARIOS[@]}"; do
    scen=${s%% *}
    for name in "${ORDER[@]}"; do
      awk -F'\t' -v n="$name" -v s="$scen" -v label="$(scen_label "$scen")" \
          -v pipe="$([[ $scen == pipe* ]] && echo 1 || echo 0)" \
          -v p50="$(fmt_lat "$(awk -F'\t' -v n="$name" -v s="$scen" '$1 == n && $2 == s {print $4}' "$RESULTS")")" \
          -v p99="$(fmt_lat "$(awk -F'\t' -v n="$name" -v s="$scen" '$1 == n && $2 == s {print $5}' "$RESULTS")")" \
          '$1 == n && $2 == s {o0 = $8 - $11; o1 = $9 - $12; if (o0 < 0) o0 = 0; if (o1 < 0) o1 = 0
            if (pipe) {p50 = "n/a†"; p99 = "n/a†"}
            printf "| %s | %s | %.0f | %s | %s | %.2f | %.1f | %.2f | %d%% | %d%% | %d%% / %d%% |\n", n, label, $3, p50, p99, $6, $7 / 1024, $13, $11, $12, o0, o1}' "$RESULTS"
    done
    for peer in nginx node; do
      want weft && want "$peer" || continue
      awk -F'\t' -v s="$scen" -v p="$peer" -v label="$(scen_label "$scen")" '
        $2 == s && $1 == "weft" {wr = $3; wc = $6}
        $2 == s && $1 == p {pr = $3; pc = $6}
        END {if (pr > 0 && pc > 0) printf "| **weft/%s** | %s | **%.2f×** | | | **%.2f×** | | | | | |\n", p, label, wr / pr, wc / pc}' "$RESULTS"
    done
  done
  echo
  echo "CPU µs/req: utime+stime of the server process (all its threads) during the measured run, divided by the responses wrk counted." \
       "wrk CPU µs/req: the same for wrk; whichever of the two is larger is the bottleneck when each has a whole core." \
       "server CPU / wrk CPU: CPU time of that process over wall time (100% = one full core)." \
       "others on CPU 0 / 1: how busy each core was with anything but the server / wrk (other processes, interrupts); non-zero means the machine was not quiet." \
       "Ratio rows: weft's figure divided by the peer's (req/s: higher is better for weft; CPU µs/req: lower is better for weft)."
  if grep -q $'\tpipe16-c256\t' "$RESULTS"; then
    echo
    echo "† wrk's latency percentiles are not meaningful with pipelining: it records one sample per 16-response batch, and its" \
         "coordinated-omission correction, which assumes one response per round trip, then adds synthetic samples below the" \
         "recorded minimum (so p99 often prints as 0). Mean batch round trip instead, by Little's law (256 connections × 16 / req/s):" \
         "$(awk -F'\t' '$2 == "pipe16-c256" {printf "%s%s %.1f ms", sep, $1, 256 * 16 * 1000 / $3; sep = ", "}' "$RESULTS")."
  fi
  if [[ -s $IDLE ]]; then
    echo
    echo "RSS per idle keep-alive connection (each connection sent one request, read the response, then stayed open):"
    echo
    echo "| server | connections | RSS before MiB | RSS after MiB | bytes/conn | still open at end |"
    echo "|---|---:|---:|---:|---:|---:|"
    awk -F'\t' '{printf "| %s | %d | %.1f | %.1f | %d | %s |\n", $1, $2, $3 / 1024, $4 / 1024, $5, $6}' "$IDLE"
  fi
}

report_static() {
  echo
  suite_has http && { echo "#### Suite static (files generated by the script, random bytes)"; echo; }
  echo "| server | scenario | req/s | MiB/s | p50 | p99 | CPU µs/req | wrk CPU µs/req | bound by | peak RSS MiB | server CPU | wrk CPU | others on CPU 0 / 1 |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
  local s scen name
  for s in "${STATIC_SCENARIOS[@]}"; do
    scen=${s%% *}
    for name in "${ORDER[@]}"; do
      awk -F'\t' -v n="$name" -v s="$scen" -v label="$(scen_label "$scen")" \
          -v p50="$(fmt_lat "$(awk -F'\t' -v n="$name" -v s="$scen" '$1 == n && $2 == s {print $4}' "$RESULTS")")" \
          -v p99="$(fmt_lat "$(awk -F'\t' -v n="$name" -v s="$scen" '$1 == n && $2 == s {print $5}' "$RESULTS")")" \
          '$1 == n && $2 == s {o0 = $8 - $11; o1 = $9 - $12; if (o0 < 0) o0 = 0; if (o1 < 0) o1 = 0
            bound = ($13 > $6 ? "wrk" : "server")
            printf "| %s | %s | %.0f | %.0f | %s | %s | %.2f | %.2f | %s | %.1f | %d%% | %d%% | %d%% / %d%% |\n", n, label, $3, $3 * $14 / 1048576, p50, p99, $6, $13, bound, $7 / 1024, $11, $12, o0, o1}' "$RESULTS"
    done
    for peer in nginx node; do
      want weft && want "$peer" || continue
      awk -F'\t' -v s="$scen" -v p="$peer" -v label="$(scen_label "$scen")" '
        $2 == s && $1 == "weft" {wr = $3; wc = $6}
        $2 == s && $1 == p {pr = $3; pc = $6}
        END {if (pr > 0 && pc > 0) printf "| **weft/%s** | %s | **%.2f×** | **%.2f×** | | | **%.2f×** | | | | | | |\n", p, label, wr / pr, wr / pr, wc / pc}' "$RESULTS"
    done
  done
  echo
  echo "MiB/s: response bodies only (req/s × file size). bound by: whichever of server and wrk spent more CPU per response" \
       "(with a whole core each, that side saturates first). Other columns as in the http suite: CPU µs/req is utime+stime" \
       "of the server process (all its threads) per response wrk counted; ratio rows are weft's figure over the peer's."
}

report | tee "$OUT"
log "written to $OUT"
