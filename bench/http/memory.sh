#!/usr/bin/env bash
# bench/http/memory.sh — memory per keep-alive connection: weft's hello_http vs nginx vs
# Node (core http), three client patterns, several runs, every run reported.
#
#   [WEFT_HELLO_HTTP=path] bench/http/memory.sh [--conns 10000] [--runs 3] [--servers weft,nginx,node]
#                        [--patterns c,py,busy] [--weft-args "..."] [--out FILE]
#
# Patterns (each on a fresh server pinned to CPU 0; clients on CPU 1; 127.0.0.1 only):
#   c     bench/http/idle_conns.c: at most 256 connecting at once, one request each, held.
#   py    bench/http/idle_conns.py: connections started at an even rate over ~1 s, each
#         sending its request as soon as it is connected (accepts, reads and answers
#         interleave with arrivals), held.
#   busy  idle_conns.c's connections opened while wrk keeps 50 other connections busy
#         (GET /plaintext, 8 s), held while wrk still runs.
# Per run: RSS at start (after a 1 s wrk warm-up, before the connections), RSS with the
# connections open (2 s after the last one completed), VmHWM (peak) by then, and RSS 3 s
# after the client closed everything. Reported per connection:
#   rss/conn = (RSS open - RSS start) / connections
#   hwm/conn = (VmHWM - RSS start) / connections   (and the raw VmHWM)
#   after    = RSS after close, as a percentage of RSS at start.
# The order is interleaved (run 1: every server and pattern, then run 2, ...), so drift on
# the machine spreads over all servers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONNS=10000
RUNS=3
SERVERS=weft,nginx,node
PATTERNS=c,py,busy
WEFT_ARGS=""
OUT="$HERE/memory-latest.md"
PORT_BASE=27180
SERVER_CPU=0
CLIENT_CPU=1

die() { echo "memory.sh: error: $*" >&2; exit 1; }
log() { echo "memory.sh: $*" >&2; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

while [[ $# -gt 0 ]]; do
  case $1 in
    --conns) CONNS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --patterns) PATTERNS=$2; shift 2 ;;
    --weft-args) WEFT_ARGS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
done

for tool in wrk taskset nginx node cc python3 curl; do
  command -v "$tool" >/dev/null || die "'$tool' not found (scripts/install-deps?)"
done
raise_nofile >/dev/null
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited || $NOFILE -ge $((CONNS + 200)) ]] \
  || die "fd limit is $NOFILE (hard $(ulimit -Hn)); need > $((CONNS + 200))"
HELLO_HTTP=${WEFT_HELLO_HTTP:-"$ROOT/build/release/bin/hello_http"}  # env: another build
[[ -x $HELLO_HTTP ]] || die "$HELLO_HTTP missing: cmake --preset release && cmake --build --preset release --target hello_http"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-mem.XXXXXX")
SERVER_PID=
CLIENT_PID=
WRK_PID=
cleanup() {
  local rc=$?
  for p in $CLIENT_PID $WRK_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  stop_server
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cc -O2 -Wall -o "$TMP/idle_conns" "$HERE/idle_conns.c" || die "cannot compile idle_conns.c"

write_nginx_conf() {
  local port=$1 dir="$TMP/nginx"
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
        listen 127.0.0.1:$port;
        location = /plaintext { default_type text/plain; return 200 'Hello, World!'; }
    }
}
EOF
  echo "$dir"
}

SERVER_PORT=
SEQ=0
start_server() {
  local name=$1 port dir
  # A different server port each time: the client's 10,000 closed connections sit in
  # TIME_WAIT for 60 s, and against the same server port the next client would run out of
  # ephemeral ports (a TIME_WAIT entry blocks only its own 4-tuple).
  PORT_BASE=$((27180 + SEQ % 50 * 2))
  SEQ=$((SEQ + 1))
  port=$(free_port)
  SERVER_PORT=$port
  case $name in
    # shellcheck disable=SC2086
    weft) taskset -c $SERVER_CPU "$HELLO_HTTP" --port "$port" --host 127.0.0.1 \
            --keep-alive-timeout 60 $WEFT_ARGS >"$TMP/$name.log" 2>&1 & ;;
    node) taskset -c $SERVER_CPU node "$HERE/node_hello.js" --port "$port" --host 127.0.0.1 \
            >"$TMP/$name.log" 2>&1 & ;;
    nginx) dir=$(write_nginx_conf "$port")
           taskset -c $SERVER_CPU nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
             >"$TMP/$name.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/$name.log" >&2; die "$name exited at start"; }
    port_open "$port" && return 0
    sleep 0.1
  done
  die "$name did not listen within 10 s"
}

# The client of a pattern, started in the background; its stdout goes to $1.
start_client() {
  local pattern=$1 out=$2
  case $pattern in
    c|busy) taskset -c $CLIENT_CPU "$TMP/idle_conns" "$SERVER_PORT" "$CONNS" /plaintext >"$out" 2>"$out.err" & ;;
    py) taskset -c $CLIENT_CPU python3 "$HERE/idle_conns.py" "$SERVER_PORT" "$CONNS" /plaintext >"$out" 2>"$out.err" & ;;
  esac
  CLIENT_PID=$!
}

RESULTS="$OUT.tsv"  # run server pattern ok start_kb open_kb hwm_kb after_kb still_open (kept)
: >"$RESULTS"
NOTES=()

measure() {
  local run=$1 name=$2 pattern=$3 out="$TMP/client-$2-$3.txt" i
  start_server "$name"
  timeout 30 taskset -c $CLIENT_CPU wrk -t1 -c50 -d1s "http://127.0.0.1:$SERVER_PORT/plaintext" >/dev/null \
    || die "wrk warm-up failed for $name"
  sleep 1
  local start open hwm after ok open_left
  start=$(status_kb "$SERVER_PID" VmRSS)
  if [[ $pattern == busy ]]; then
    taskset -c $CLIENT_CPU wrk -t1 -c50 -d8s "http://127.0.0.1:$SERVER_PORT/plaintext" >"$TMP/wrk.txt" 2>&1 &
    WRK_PID=$!
    sleep 1
  fi
  start_client "$pattern" "$out"
  for ((i = 0; i < 900; i++)); do
    grep -q '^READY' "$out" 2>/dev/null && break
    kill -0 "$CLIENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^READY' "$out"; then  # reported, and the next measurement goes on
    cat "$out.err" >&2
    log "run $run $name/$pattern: the client did not finish connecting within 90 s; skipped"
    NOTES+=("run $run $name/$pattern: the client did not finish connecting within 90 s (no figures)")
    kill -KILL "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null || true  # TERM is blocked until READY
    CLIENT_PID=
    [[ -n $WRK_PID ]] && { wait "$WRK_PID" 2>/dev/null || true; WRK_PID=; }
    stop_server
    return 0
  fi
  sleep 2
  open=$(status_kb "$SERVER_PID" VmRSS)
  hwm=$(status_kb "$SERVER_PID" VmHWM)
  ok=$(sed -n 's/^READY ok=\([0-9]*\).*/\1/p' "$out")
  if [[ -n $WRK_PID ]]; then
    wait "$WRK_PID" || true
    WRK_PID=
    grep -q "requests in" "$TMP/wrk.txt" || die "wrk failed during $name/busy"
  fi
  kill -USR1 "$CLIENT_PID"
  wait "$CLIENT_PID" || true
  CLIENT_PID=
  open_left=$(sed -n 's/^OPEN //p' "$out")
  sleep 3
  after=$(status_kb "$SERVER_PID" VmRSS)
  stop_server
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$pattern" "$ok" "$start" "$open" "$hwm" "$after" "${open_left:-?}" >>"$RESULTS"
  log "run $run $name/$pattern: ok=$ok start=${start}kB open=${open}kB hwm=${hwm}kB after=${after}kB still-open=${open_left:-?}"
}

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
IFS=, read -r -a PATTERN_LIST <<<"$PATTERNS"
for ((run = 1; run <= RUNS; run++)); do
  for pattern in "${PATTERN_LIST[@]}"; do
    for name in "${SERVER_LIST[@]}"; do measure "$run" "$name" "$pattern"; done
  done
done

{
  echo "# Memory per keep-alive connection ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "\`bench/http/memory.sh --conns $CONNS --runs $RUNS --servers $SERVERS --patterns $PATTERNS${WEFT_ARGS:+ --weft-args \"$WEFT_ARGS\"}\`;" \
       "weft $(git -C "$ROOT" rev-parse --short HEAD), $(nginx -v 2>&1 | sed 's/.*: //'), node $(node --version)."
  echo
  echo "| run | server | pattern | conns | RSS start MiB | RSS open MiB | VmHWM MiB | RSS after close MiB | rss/conn B | hwm/conn B | after/start | still open |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{
    printf "| %s | %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %d | %d | %.0f %% | %s |\n",
      $1, $2, $3, $4, $5/1024, $6/1024, $7/1024, $8/1024,
      ($6-$5)*1024/$4, ($7-$5)*1024/$4, 100*$8/$5, $9 }' "$RESULTS"
  echo
  echo "Medians over the runs (bytes per connection; after/start):"
  echo
  echo "| server | pattern | rss/conn B | hwm/conn B | after/start |"
  echo "|---|---|---|---|---|"
  awk -F'\t' '{ k = $2 "|" $3; n[k]++; r[k, n[k]] = ($6-$5)*1024/$4; h[k, n[k]] = ($7-$5)*1024/$4; a[k, n[k]] = 100*$8/$5 }
    function med(arr, k, c,   i, j, t, v) {
      for (i = 1; i <= c; i++) v[i] = arr[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    }
    END { for (k in n) { split(k, p, "|"); printf "| %s | %s | %d | %d | %.0f %% |\n", p[1], p[2], med(r, k, n[k]), med(h, k, n[k]), med(a, k, n[k]) } }' "$RESULTS" | sort
  for note in "${NOTES[@]}"; do echo; echo "Note: $note"; done
} >"$OUT"
cat "$OUT"
