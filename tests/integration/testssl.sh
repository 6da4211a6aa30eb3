#!/usr/bin/env bash
# testssl.sh (Debian's `testssl`) against hello_http --tls-cert/--tls-key: fails on any
# finding of severity MEDIUM or higher, except the two a self-signed test certificate
# cannot avoid (cert_chain_of_trust: not issued by a trusted CA; cert_revocation: no CRL or
# OCSP URI). Bounded: protocols, cipher categories, forward secrecy, server preferences,
# server defaults, HTTP headers and vulnerabilities (-p -s -f -P -S -h -U --fast; no client
# simulation, no per-cipher enumeration), about 80 s here, killed at 170 s.
# The report is kept: OUT_DIR/testssl.json and OUT_DIR/testssl.txt.
# Usage: testssl.sh HELLO_HTTP MAKE_CERT OUT_DIR
set -euo pipefail
hello=${1:?hello_http}
make_cert=${2:?make-cert}
out=${3:?out dir}
command -v testssl >/dev/null || { echo "testssl.sh is not installed (scripts/install-deps)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
DAYS=365 "$make_cert" "$tmp" localhost 127.0.0.1 >/dev/null
"$hello" --port 0 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" >"$tmp/server.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "hello_http did not start:"; cat "$tmp/server.log"; exit 1; }
rm -f "$out/testssl.json"
timeout 170 testssl --quiet --color 0 --warnings off --fast -p -s -f -P -S -h -U \
  --jsonfile "$out/testssl.json" "127.0.0.1:$port" >"$out/testssl.txt" 2>&1 || true
kill -0 "$pid" || { echo "hello_http died during the scan"; exit 1; }
python3 - "$out/testssl.json" <<'PY'
import json, sys
allowed = {"cert_chain_of_trust", "cert_revocation"}
findings = json.load(open(sys.argv[1]))
bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL") and f["id"] not in allowed]
for f in bad:
    print(f"{f['severity']} {f['id']}: {f['finding']}")
print(f"testssl: {len(findings)} results, {len(bad)} at MEDIUM or above (report: {sys.argv[1]})")
sys.exit(1 if bad or not findings else 0)
PY
