#!/usr/bin/env bash
# bench/tls/callgrind.sh — user-space instructions per keep-alive HTTPS request, weft vs
# nginx, under valgrind's callgrind: a count the machine's load does not change (unlike
# CPU time), for comparing where each server spends its instructions.
#
#   bench/tls/callgrind.sh [--servers weft,nginx] [--requests-time 10] [--warm-up 25]
#                          [--weft-bin PATH] [--keep DIR]
#
# Each server runs alone under `valgrind --tool=callgrind` (nginx: one process,
# master_process off, daemon off, the same TLS settings as peers.sh), ECDSA P-256
# certificate, TLS 1.3. One wrk -t1 -c50 run: after --warm-up seconds (its 50 handshakes
# take seconds under valgrind) the counters are zeroed (callgrind_control -z), after
# --requests-time more they are dumped (callgrind_control -d); the requests in between are
# the SSL_write calls callgrind counted (one per response, for both servers). weft runs
# with --tls-inline-handshakes: under valgrind (which runs one thread at a time) the first
# handshakes on the cpu pool fail (seen as handshakes_failed in /_weft/stats; later ones
# succeed), and the counted window has no handshakes anyway. Output: instructions per
# request in total and for the top functions (self cost).
# --keep DIR keeps the callgrind files there (callgrind_annotate them for functions).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVERS=weft,nginx
SECONDS_LOAD=10
WARM=25
HELLO=$ROOT/build/release/bin/hello_http
KEEP=
PORT_BASE=28743
die() { echo "callgrind.sh: error: $*" >&2; exit 1; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --servers) SERVERS=$2; shift 2 ;;
    --requests-time) SECONDS_LOAD=$2; shift 2 ;;
    --warm-up) WARM=$2; shift 2 ;;
    --weft-bin) HELLO=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for tool in valgrind callgrind_control callgrind_annotate wrk nginx curl; do
  command -v "$tool" >/dev/null || die "'$tool' not found"
done
[[ -x $HELLO ]] || die "$HELLO missing (build the release preset)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-callgrind-tls.XXXXXX")
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ -n $KEEP ]] && { mkdir -p "$KEEP"; cp "$TMP"/*.out* "$KEEP"/ 2>/dev/null || true; }
  rm -rf "$TMP"
}
trap cleanup EXIT
KEY_TYPE=ec "$ROOT/scripts/make-cert" "$TMP/ec" localhost 127.0.0.1 >/dev/null
CIPHERS=$(sed -n '/intermediate_ciphers =/,/;/p' "$ROOT/include/weft/tls/context.hpp" | grep -o '"[^"]*"' | tr -d '"\n')

nginx_conf() {  # port
  mkdir -p "$TMP/nginx/logs"
  cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; use epoll; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $TMP/ec/cert.pem;
        ssl_certificate_key $TMP/ec/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $CIPHERS;
        ssl_prefer_server_ciphers on;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        ssl_session_cache shared:SSL:10m;
        ssl_session_tickets on;
        location = /plaintext { default_type text/plain; return 200 'Hello, World!'; }
    }
}
EOF
}

IFS=, read -r -a LIST <<<"$SERVERS"
for name in "${LIST[@]}"; do
  port=$(free_port)
  out="$TMP/$name.out"
  case "$name" in
    weft) valgrind --tool=callgrind --callgrind-out-file="$out" "$HELLO" --port "$port" --keep-alive-timeout 60 --tls-inline-handshakes \
            --tls-cert "$TMP/ec/cert.pem" --tls-key "$TMP/ec/key.pem" >"$TMP/$name.log" 2>&1 & ;;
    nginx) nginx_conf "$port"
           valgrind --tool=callgrind --callgrind-out-file="$out" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
             >"$TMP/$name.log" 2>&1 & ;;
    *) die "unknown server '$name'" ;;
  esac
  PID=$!
  for ((i = 0; i < 300; i++)); do
    curl -sk -o /dev/null "https://127.0.0.1:$port/plaintext" && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/$name.log" >&2; die "$name exited"; }
    sleep 0.1
  done
  # one wrk run: its 50 handshakes are slow under valgrind; count only after they are done
  timeout $((WARM + SECONDS_LOAD + 120)) wrk -t1 -c50 -d$((WARM + SECONDS_LOAD + 10))s --timeout 60s \
    "https://127.0.0.1:$port/plaintext" >"$TMP/wrk.txt" &
  WRK=$!
  sleep "$WARM"
  callgrind_control -z "$PID" >/dev/null
  sleep "$SECONDS_LOAD"
  callgrind_control -d "$PID" >/dev/null
  wait "$WRK" || true
  dump=$(ls -t "$out".* 2>/dev/null | head -1)
  [[ -n $dump ]] || die "no callgrind dump for $name"
  # requests in the window = SSL_write calls (one per response for both servers)
  read -r total writes reads < <(python3 "$HERE/callgrind_calls.py" "$dump" SSL_write SSL_read)
  [[ $writes -gt 0 ]] || die "$name: no SSL_write in the counted window"
  echo "## $name: $writes responses (SSL_write calls), $reads SSL_read calls"
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  awk -v t="$total" -v n="$writes" 'BEGIN {printf "total: %.0f instructions/request\n", t / n}'
  callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null | awk -v n="$writes" '
    /^ *[0-9,]+ \(/ && $0 !~ /main|PROGRAM TOTALS|below main|ld-linux/ && shown < 30 {
      v = $1; gsub(",", "", v); $1 = ""; $2 = ""; printf "  %7.0f %s\n", v / n, substr($0, 1, 130); shown++ }'
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
done
