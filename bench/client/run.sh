#!/usr/bin/env bash
# bench/client/run.sh — HTTP clients against one nginx: weft-fetch --bench vs wrk (the
# floor: a client that does nothing else), Node's fetch (undici) and Node's http.request
# with a keep-alive agent. nginx on SERVER_CPU returns a 13-byte body with keep-alive;
# each client runs alone on CLIENT_CPU with CONNECTIONS concurrent requests for DURATION.
# Prints each client's requests/s and its own CPU µs per request (utime + stime / requests).
#
#   bench/client/run.sh [--duration 10] [--connections 50] [--no-build] [--tls]
#
# --tls: after the plain table, the same four clients over HTTPS against the same nginx
# (`listen ... ssl`, a scripts/make-cert ECDSA certificate, TLS 1.3, keep-alive): wrk
# (which does not verify), weft-fetch --cacert (verifies), Node with NODE_EXTRA_CA_CERTS.
# One handshake per connection, amortized over the run, is part of each figure.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
DURATION=10 CONNECTIONS=50 BUILD=1 TLS=0 SERVER_CPU=0 CLIENT_CPU=1 PORT_BASE=18950 QUIET_WAIT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --tls) TLS=1; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
die() { echo "bench/client: $*" >&2; exit 1; }
log() { echo "bench/client: $*" >&2; }
source "$root/bench/lib.sh"
for tool in nginx wrk node taskset; do command -v "$tool" >/dev/null || die "'$tool' not found"; done
if [ "$BUILD" = 1 ]; then
  cmake --preset release >/dev/null && cmake --build --preset release --target weft_fetch >/dev/null
fi
fetch_bin="$root/build/release/bin/weft-fetch"
[ -x "$fetch_bin" ] || die "$fetch_bin missing (drop --no-build)"

tmp=$(mktemp -d)
trap 'kill "$nginx_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(free_port)
PORT_BASE=$((port + 1)) tls_port=$(free_port)
mkdir -p "$tmp/logs"
"$root/scripts/make-cert" "$tmp" localhost 127.0.0.1 >/dev/null
cat >"$tmp/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000;
  client_body_temp_path $tmp/t1; proxy_temp_path $tmp/t2; fastcgi_temp_path $tmp/t3;
  uwsgi_temp_path $tmp/t4; scgi_temp_path $tmp/t5;
  server { listen 127.0.0.1:$port; listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $tmp/cert.pem; ssl_certificate_key $tmp/key.pem;
    location / { return 200 "Hello, World!"; } } }
CONF
taskset -c $SERVER_CPU nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" &
nginx_pid=$!
for _ in $(seq 100); do port_open "$port" && break; sleep 0.05; done
export NODE_EXTRA_CA_CERTS="$tmp/cert.pem"

# wrk reports requests/s; its CPU comes from the shell's children times.
wrk_row() {
  local out cpu_s reqs
  out=$(taskset -c $CLIENT_CPU /usr/bin/time -f 'cpu_s %U %S' wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$url" 2>&1)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu_s=$(awk '/^cpu_s/ {print $2 + $3}' <<<"$out")
  printf 'requests_per_s: %s\ncpu_us_per_request: %s\n' \
    "$(awk '/Requests\/sec/ {print int($2)}' <<<"$out")" "$(awk -v c="$cpu_s" -v r="$reqs" 'BEGIN {printf "%.2f", c * 1e6 / r}')"
}

row() {  # name, then the key: value lines on stdin
  awk -v n="$1" -F': ' '{v[$1] = $2} END {printf "| %-22s | %10s | %8s |\n", n, v["requests_per_s"], v["cpu_us_per_request"]}'
}

table() {  # url
  url=$1
  echo "| client ($CONNECTIONS concurrent, ${DURATION}s, CPU $CLIENT_CPU, $url) | requests/s | CPU µs/request |"
  echo "|---|---:|---:|"
  wrk_row | row "wrk"
  taskset -c $CLIENT_CPU "$fetch_bin" --bench --cacert "$tmp/cert.pem" -c "$CONNECTIONS" -d "$DURATION" "$url" | row "weft-fetch --bench"
  taskset -c $CLIENT_CPU node "$root/bench/client/node_fetch.mjs" "$url" "$CONNECTIONS" "$DURATION" | row "node fetch (undici)"
  taskset -c $CLIENT_CPU node "$root/bench/client/node_http.mjs" "$url" "$CONNECTIONS" "$DURATION" | row "node http.request"
}
table "http://127.0.0.1:$port/"
if [ "$TLS" = 1 ]; then
  echo
  table "https://localhost:$tls_port/"
fi
