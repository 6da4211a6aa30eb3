#!/usr/bin/env bash
# bench/ws/callgrind.sh — the server's instructions per echoed WebSocket message, counted by
# callgrind: steadier than CPU time on a machine others are using.
#
#   bench/ws/callgrind.sh [--conns 10] [--duration 5] [--server PATH] [--keep FILE]
#
# hello_http (default: the release build; --server: another binary, e.g. a baseline) runs
# under valgrind --tool=callgrind with instrumentation off; it is switched on just before
# echo_client.mjs (--conns connections, one 32-byte text message in flight each, for
# --duration seconds) connects and off after it finished. Reported: instructions counted
# (handshakes and closes of the few connections included) / round trips the client counted.
# Needs valgrind, node and tests/ws-interop/node_modules. 127.0.0.1 only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONNS=10
DURATION=5
HELLO="$ROOT/build/release/bin/hello_http"
PORT=27196
KEEP=
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --server) HELLO=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;  # the callgrind output, for callgrind_annotate
    *) echo "usage: $0 [--conns N] [--duration S] [--server PATH] [--keep FILE]" >&2; exit 2 ;;
  esac
done
command -v callgrind_control >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -d "$ROOT/tests/ws-interop/node_modules/ws" ] || { echo "run scripts/install-deps first" >&2; exit 1; }
[ -x "$HELLO" ] || { echo "no server binary at $HELLO" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
  "$HELLO" --port "$PORT" --host 127.0.0.1 >/dev/null 2>"$work/valgrind.log" &
pid=$!
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
callgrind_control -i on "$pid" >/dev/null
result=$(node "$HERE/echo_client.mjs" "ws://127.0.0.1:$PORT/ws" "$CONNS" "$DURATION" 2>/dev/null)
sleep 1  # the server sees the clients' closes
callgrind_control -i off "$pid" >/dev/null
kill -INT "$pid"
wait "$pid" 2>/dev/null || true
[ -z "$KEEP" ] || cp "$work/cg.out" "$KEEP"
instructions=$(awk '/^totals:/ {t = $2} END {print t}' "$work/cg.out")
node -e '
  const r = JSON.parse(process.argv[1]);
  const ir = Number(process.argv[2]);
  console.log("| server | round trips | instructions | instructions per message |");
  console.log("|---|---:|---:|---:|");
  console.log(`| ${process.argv[3]} | ${r.messages} | ${ir} | ${Math.round(ir / r.messages)} |`);
' "$result" "$instructions" "$HELLO"
