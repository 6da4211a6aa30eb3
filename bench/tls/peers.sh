#!/usr/bin/env bash
# bench/tls/peers.sh — weft's HTTPS vs nginx vs Node's `https`, same certificates, protocols
# (TLS 1.2 + 1.3) and ciphers (Mozilla "intermediate", server order, X25519:P-256:P-384).
#
#   bench/tls/peers.sh [--duration 5] [--runs 3] [--servers weft,weft-pool,weft-inline,weft-idle,weft-pool-idle,nginx,node]
#                      [--idle-conns 10000] [--flood-conns 32] [--ka-rate 50] [--no-build]
#                      [--scenarios ka,handshakes,flood,idle] [--weft-bin PATH]
#
# Every server runs pinned to CPU 0 (taskset -c 0: all of weft's threads, its cpu pool
# included; nginx one worker, master_process off; node), every load generator on CPU 1,
# loopback only, a fresh server per scenario. "weft" hands handshake steps to the cpu pool
# while a connection is established and on the loop otherwise (the default); "weft-pool"
# sends every signing step to the pool (--tls-pool-handshakes); "weft-inline" runs them on
# the loop (--tls-inline-handshakes). "weft-idle" and "weft-pool-idle" are "weft" and
# "weft-pool" with the cpu pool's threads at SCHED_IDLE (--cpu-pool-scheduling idle).
# Scenarios (certificates from scripts/make-cert: ECDSA P-256, or RSA-2048):
#   ka        wrk -t1 -c50 keep-alive HTTPS GET /plaintext (ECDSA): server CPU µs/request
#   full-ec   tls_load -m full -c 16: a new connection, a full handshake (no session offered,
#   full-rsa  no ticket asked for) and one request per connection: handshakes/s and server
#             CPU µs per handshake, ECDSA and RSA-2048
#   resume    tls_load -m resume -c 16 (RSA-2048): each connection offers the session its
#             slot's previous connection got (SSL_set_session): resumed handshakes/s
#   flood     RSA-2048. First tls_load -m ka -c 100 -r KA_RATE alone (100 keep-alive
#             connections, each sending KA_RATE requests/s: the unloaded p99), then, on a
#             fresh server, the same together with tls_load -m full -c FLOOD_CONNS (new
#             handshakes as fast as one core makes them): keep-alive p99 under the flood,
#             and weft's loop lag p99 from /_weft/stats (loop.lag_ms.p99, since start).
#   idle      tls_load -m idle -c IDLE_CONNS (ECDSA): connections that made one request and
#             stay open; (VmRSS after - VmRSS before) / connections, and VmHWM.
# tls_load (bench/tls/tls_load.c, OpenSSL 3, one epoll thread) is compiled by this script.
# Output: Markdown on stdout and in bench/tls/results-latest.md (not committed).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=5
RUNS=3
SERVERS=weft,weft-inline,nginx,node
IDLE_CONNS=10000
FLOOD_CONNS=32
KA_RATE=50
BUILD=1
HELLO=
SCENARIOS=ka,handshakes,flood,idle
QUIET_WAIT=10
OUT="$HERE/results-latest.md"
PORT_BASE=28443
SERVER_CPU=0
CLIENT_CPU=1
die() { echo "peers.sh: error: $*" >&2; exit 1; }
log() { echo "peers.sh: $*" >&2; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --idle-conns) IDLE_CONNS=$2; shift 2 ;;
    --flood-conns) FLOOD_CONNS=$2; shift 2 ;;
    --ka-rate) KA_RATE=$2; shift 2 ;;
    --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --weft-bin) HELLO=$2; BUILD=0; shift 2 ;;  # another hello_http build (before/after)
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "bad --duration '$DURATION' (whole seconds)"
for tool in wrk taskset nginx node cc curl python3 openssl; do
  command -v "$tool" >/dev/null || die "'$tool' not found (scripts/install-deps?)"
done
raise_nofile >/dev/null
NOFILE=$(ulimit -n)
[[ $IDLE_CONNS -eq 0 || $NOFILE -gt $((IDLE_CONNS + 200)) ]] || die "fd limit $NOFILE too low for --idle-conns $IDLE_CONNS"
CLK_TCK=$(getconf CLK_TCK)
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build/release --target hello_http -j2 >/dev/null) \
    || die "release build failed"
fi
HELLO=${HELLO:-$ROOT/build/release/bin/hello_http}
[[ -x $HELLO ]] || die "$HELLO missing (build the release preset)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-tls.XXXXXX")
SERVER_PID=
CLIENT_PIDS=()
cleanup() {
  local rc=$? p
  for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_server
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cc -O2 -Wall -o "$TMP/tls_load" "$HERE/tls_load.c" -lssl -lcrypto || die "cannot compile tls_load.c"
LOAD="$TMP/tls_load"
for k in ec rsa; do KEY_TYPE=$k "$ROOT/scripts/make-cert" "$TMP/$k" localhost 127.0.0.1 >/dev/null; done
CIPHERS=$(sed -n '/intermediate_ciphers =/,/;/p' "$ROOT/include/weft/tls/context.hpp" | grep -o '"[^"]*"' | tr -d '"\n')
[[ -n $CIPHERS ]] || die "cannot read the cipher list from include/weft/tls/context.hpp"

write_nginx_conf() {  # port key-dir
  local dir="$TMP/nginx"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $((NOFILE - 100)); use epoll; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$1 ssl;
        server_name localhost;
        ssl_certificate $2/cert.pem;
        ssl_certificate_key $2/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $CIPHERS;
        ssl_prefer_server_ciphers on;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 1h;
        ssl_session_tickets on;
        location = /plaintext { default_type text/plain; return 200 'Hello, World!'; }
        location = / { default_type text/plain; return 200 'OK'; }
    }
}
EOF
  echo "$dir"
}

PORT=
start_server() {  # name key(ec|rsa)
  local name=$1 kd="$TMP/$2" logf="$TMP/$1.log"
  PORT=$(free_port)
  case "$name" in
    weft|weft-inline|weft-pool|weft-idle|weft-pool-idle)
      local extra=()
      [[ $name == weft-inline ]] && extra=(--tls-inline-handshakes)
      [[ $name == weft-pool* ]] && extra=(--tls-pool-handshakes)
      [[ $name == *-idle ]] && extra+=(--cpu-pool-scheduling idle)
      taskset -c $SERVER_CPU "$HELLO" --port "$PORT" --observe --keep-alive-timeout 60 \
        --tls-cert "$kd/cert.pem" --tls-key "$kd/key.pem" "${extra[@]}" >"$logf" 2>&1 & ;;
    nginx)
      local dir
      dir=$(write_nginx_conf "$PORT" "$kd")
      taskset -c $SERVER_CPU nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$logf" 2>&1 & ;;
    node)
      taskset -c $SERVER_CPU node "$HERE/node_https.js" --port "$PORT" --cert "$kd/cert.pem" --key "$kd/key.pem" >"$logf" 2>&1 & ;;
  esac
  SERVER_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logf" >&2; die "$name exited at start"; }
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/plaintext" && return 0
    sleep 0.1
  done
  die "$name did not answer HTTPS on port $PORT within 10 s"
}

weft_lag_p99() {  # the running weft's loop lag p99 (ms) since start, or "-"
  [[ $1 == weft* ]] || { echo -; return; }
  curl -sk -H 'Host: localhost' "https://127.0.0.1:$PORT/_weft/stats" >"$TMP/stats.json" || { echo -; return; }
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["loop"]["lag_ms"]["p99"])' "$TMP/stats.json"
}
field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
cpu_us_per() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" -v n="$3" 'BEGIN {printf "%.1f", (n > 0 ? (b - a) * 1e6 / hz / n : 0)}'; }

RES="$TMP/results.tsv"  # run server scenario rate per_s cpu_us p50 p99 extra
: >"$RES"
emit() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES"; }

scenario_ka() {  # run server
  start_server "$2" ec
  timeout 30 taskset -c $CLIENT_CPU wrk -t1 -c50 -d2s "https://127.0.0.1:$PORT/plaintext" >/dev/null
  local t0 t1 out="$TMP/wrk.txt"
  t0=$(cpu_ticks "$SERVER_PID")
  timeout $((DURATION + 30)) taskset -c $CLIENT_CPU wrk -t1 -c50 -d"${DURATION}s" --latency "https://127.0.0.1:$PORT/plaintext" >"$out"
  t1=$(cpu_ticks "$SERVER_PID")
  stop_server
  local n
  n=$(wrk_requests "$out")
  emit "$1" "$2" ka "$(wrk_rps "$out")" "$(cpu_us_per "$t0" "$t1" "$n")" "$(wrk_pct_us "$out" 50)" "$(wrk_pct_us "$out" 99)" "$(wrk_errors "$out")"
}

scenario_hs() {  # run server scenario key mode
  start_server "$2" "$4"
  local t0 t1 out="$TMP/load.txt"
  t0=$(cpu_ticks "$SERVER_PID")
  timeout $((DURATION + 30)) taskset -c $CLIENT_CPU "$LOAD" -p "$PORT" -m "$5" -c 16 -d "$DURATION" >"$out"
  t1=$(cpu_ticks "$SERVER_PID")
  local lag
  lag=$(weft_lag_p99 "$2")
  stop_server
  emit "$1" "$2" "$3" "$(field "$out" per_s)" "$(cpu_us_per "$t0" "$t1" "$(field "$out" handshakes)")" - - \
    "resumed=$(field "$out" resumed)/$(field "$out" handshakes) errors=$(field "$out" errors) lag_p99_ms=$lag"
}

scenario_flood() {  # run server
  local out0="$TMP/ka0.txt" out1="$TMP/ka1.txt" fl="$TMP/flood.txt" lag0 lag1
  start_server "$2" rsa
  taskset -c $CLIENT_CPU "$LOAD" -p "$PORT" -m ka -c 100 -r "$KA_RATE" -d "$DURATION" >"$out0"
  lag0=$(weft_lag_p99 "$2")
  stop_server
  start_server "$2" rsa
  taskset -c $CLIENT_CPU "$LOAD" -p "$PORT" -m full -c "$FLOOD_CONNS" -d $((DURATION + 2)) >"$fl" &
  CLIENT_PIDS=($!)
  sleep 1
  local t0 t1
  t0=$(cpu_ticks "$SERVER_PID")
  taskset -c $CLIENT_CPU "$LOAD" -p "$PORT" -m ka -c 100 -r "$KA_RATE" -d "$DURATION" >"$out1"
  t1=$(cpu_ticks "$SERVER_PID")
  lag1=$(weft_lag_p99 "$2")
  [[ $2 == weft* ]] && cp "$TMP/stats.json" "$TMP/flood-stats-$1-$2.json"
  wait "${CLIENT_PIDS[0]}" || true
  CLIENT_PIDS=()
  stop_server
  emit "$1" "$2" flood-unloaded "$(field "$out0" per_s)" - "$(field "$out0" p50_us)" "$(field "$out0" p99_us)" \
    "max_us=$(field "$out0" max_us) errors=$(field "$out0" errors) lag_p99_ms=$lag0"
  emit "$1" "$2" flood "$(field "$out1" per_s)" - "$(field "$out1" p50_us)" "$(field "$out1" p99_us)" \
    "max_us=$(field "$out1" max_us) errors=$(field "$out1" errors) lag_p99_ms=$lag1 handshakes_per_s=$(field "$fl" per_s)"
}

scenario_idle() {  # run server
  start_server "$2" ec
  timeout 30 taskset -c $CLIENT_CPU "$LOAD" -p "$PORT" -m ka -c 50 -d 1 >/dev/null
  sleep 1
  local before after hwm out="$TMP/idle.txt" i
  before=$(status_kb "$SERVER_PID" VmRSS)
  taskset -c $CLIENT_CPU "$LOAD" -p "$PORT" -m idle -c "$IDLE_CONNS" -d 60 >"$out" 2>"$out.err" &
  CLIENT_PIDS=($!)
  for ((i = 0; i < 3000; i++)); do  # up to 300 s (Node makes ~200 handshakes/s on a busy core)
    grep -q '^READY' "$out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^READY' "$out" || log "$2 / idle: not all $IDLE_CONNS connections made within 300 s; measuring those open"
  cat "$out.err" >&2
  sleep 2
  after=$(status_kb "$SERVER_PID" VmRSS)
  hwm=$(status_kb "$SERVER_PID" VmHWM)
  kill -USR1 "${CLIENT_PIDS[0]}"
  wait "${CLIENT_PIDS[0]}" || true
  CLIENT_PIDS=()
  stop_server
  local ok
  ok=$(sed -n 's/^READY ok=\([0-9]*\).*/\1/p' "$out")
  [[ -n $ok ]] || ok=$(awk '/^OPEN/ {print $2}' "$out")
  [[ -n $ok && $ok -gt 0 ]] || die "$2 / idle: no connection completed ($(cat "$out" "$out.err"))"
  emit "$1" "$2" idle "$ok" "$(awk -v a="$before" -v b="$after" -v n="$ok" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')" \
    "$before" "$after" "hwm_kb=$hwm open=$(awk '/^OPEN/ {print $2}' "$out")"
}

has() { [[ ",$SCENARIOS," == *",$1,"* ]]; }
START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
IFS=, read -r -a ORDER <<<"$SERVERS"
# Servers alternate within each scenario, so the figures compared (one scenario, one run)
# are measured within a minute of each other on a machine whose load drifts.
for ((run = 1; run <= RUNS; run++)); do
  for scen in ka full-ec full-rsa resume flood idle; do
    case $scen in full-*|resume) has handshakes || continue ;; *) has "$scen" || continue ;; esac
    [[ $scen == idle && $IDLE_CONNS -eq 0 ]] && continue
    for s in "${ORDER[@]}"; do
      wait_quiet "run $run / $scen / $s"
      log "run $run / $scen / $s"
      case $scen in
        ka) scenario_ka "$run" "$s" ;;
        full-ec) scenario_hs "$run" "$s" full-ec ec full ;;
        full-rsa) scenario_hs "$run" "$s" full-rsa rsa full ;;
        resume) scenario_hs "$run" "$s" resume rsa resume ;;
        flood) scenario_flood "$run" "$s" ;;
        idle) scenario_idle "$run" "$s" ;;
      esac
    done
  done
done
cp "$RES" "$HERE/results-latest.tsv"
LOADAVG="$LOAD_START → $(cut -d' ' -f1-3 /proc/loadavg)" python3 "$HERE/report.py" "$RES" "$START" "$DURATION" "$FLOOD_CONNS" "$KA_RATE" "$IDLE_CONNS" | tee "$OUT"
