#!/usr/bin/env bash
# examples/notes driven with curl as a user would: health, CRUD + search, JSON errors,
# /report, a static file under /static, CORS preflight, compression, the access log,
# and a graceful stop on SIGTERM. Usage: notes_curl_test.sh <notes binary>
set -euo pipefail
bin=${1:?usage: notes_curl_test.sh <notes binary>}
dir=$(mktemp -d /tmp/weft-notes-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- server output:"; cat "$dir/out" || true; exit 1; }

mkdir -p "$dir/public"
echo 'body { color: red }' > "$dir/public/site.css"
"$bin" --port 0 --db "$dir/notes.db" --public "$dir/public" > "$dir/out" 2>&1 &
pid=$!
port=
for _ in $(seq 300); do
  port=$(sed -nE 's/^notes: listening \(port ([0-9]+)\)$/\1/p' "$dir/out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "notes did not start within 15 s"
url="http://127.0.0.1:$port"
c() { curl -q --silent --show-error --noproxy '*' --max-time 10 "$@"; }
expect() {  # expect <what> <expected> <actual>
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

expect health '{"status":"ok"}' "$(c "$url/health")"
expect create '{"id":1,"text":"buy milk"}' \
  "$(c -H 'Content-Type: application/json' -d '{"text":"buy milk"}' "$url/notes")"
expect create2 201 "$(c -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"text":"walk the dog"}' "$url/notes")"
expect read '{"id":2,"text":"walk the dog"}' "$(c "$url/notes/2")"
expect search '[{"id":1,"text":"buy milk"}]' "$(c "$url/notes?q=milk")"
expect update '{"id":1,"text":"buy oat milk"}' \
  "$(c -X PUT -H 'Content-Type: application/json' -d '{"text":"buy oat milk"}' "$url/notes/1")"
expect report '{"buy":1,"dog":1,"milk":1,"oat":1,"the":1,"walk":1}' "$(c "$url/report")"
expect delete 204 "$(c -o /dev/null -w '%{http_code}' -X DELETE "$url/notes/2")"
expect gone '{"error":"no such note","status":404}' "$(c "$url/notes/2")"
expect no-route '{"error":"Not Found","status":404}' "$(c "$url/nowhere")"
expect bad-json 400 "$(c -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"text":' "$url/notes")"
expect not-json 415 "$(c -o /dev/null -w '%{http_code}' -d 'text=x' "$url/notes")"
expect static 'body { color: red }' "$(c "$url/static/site.css")"
preflight=$(c -i -X OPTIONS -H 'Origin: https://a.example' \
  -H 'Access-Control-Request-Method: DELETE' "$url/notes/1" | tr -d '\r')
grep -q '^HTTP/1.1 204' <<<"$preflight" || fail "preflight: $preflight"
grep -qi '^access-control-allow-origin: \*' <<<"$preflight" || fail "preflight: $preflight"
for i in $(seq 60); do
  c -o /dev/null -H 'Content-Type: application/json' -d "{\"text\":\"note number $i\"}" "$url/notes"
done
gz=$(c -H 'Accept-Encoding: gzip' -D - -o "$dir/list.gz" "$url/notes" | tr -d '\r')
grep -qi '^content-encoding: gzip' <<<"$gz" || fail "compression: $gz"
expect gunzip 61 "$(gzip -dc "$dir/list.gz" | grep -o '"id"' | wc -l)"

kill -TERM "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "notes did not stop on SIGTERM"
wait "$pid" || fail "notes exited with $?"
pid=
grep -q '"method":"GET","target":"/health","status":200' "$dir/out" || fail "no access log line"
echo "notes: every check passed"
