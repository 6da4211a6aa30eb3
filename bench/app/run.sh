#!/usr/bin/env bash
# bench/app/run.sh — weft-serve vs json-server 0.17 vs small Node.js servers on SQLite, driven by wrk.
#
#   bench/app/run.sh [--duration 5s] [--warmup 2s] [--connections 50] [--rounds 2]
#                    [--servers weft,weft-nogroup,json-server,sqlite3,better-sqlite3] [--mixed-servers weft,better-sqlite3]
#                    [--items 100000] [--allow-missing] [--no-build] [--nice N]
#
# One run, one seed (gen_seed.js: 100,000 items, deterministic), the same items API on every server:
#   weft           build/release/bin/weft-serve --db sqlite:FILE --root DIR (seeded once with
#                  --seed db.json into a template database, copied fresh for every server start)
#   weft-nogroup   the same with --no-group-commit: every write its own commit (and fsync), for
#                  the group commit comparison (not in the default --servers)
#   json-server    json-server 0.17.4 (npm) on a fresh copy of db.json, routes.json mapping
#                  /api/* to /*, --quiet (no request log)
#   sqlite3        node_sqlite3.js: Node 20 core http + the `sqlite3` package (queries on libuv's pool)
#   better-sqlite3 node_better_sqlite3.js: the same on better-sqlite3 12 (queries on the loop thread)
# The Node servers serve a SQLite file (items(id INTEGER PRIMARY KEY, doc TEXT), load_sqlite.js)
# with weft-serve's defaults: journal_mode=WAL, synchronous=FULL.
#
# Scenarios (each on a freshly started server pinned to CPU 0, `wrk -t1` pinned to CPU 1,
# 127.0.0.1 only; an un-measured warm-up first):
#   get    GET /api/items/:id, ids uniformly random in 1..items (get_random.lua)
#   post   POST /api/items, a small new item as application/json (post_item.lua)
#   mixed  (--mixed-servers only) p99 latency of GET /static4k.bin (a 4 KiB file), paced by
#          paced.lua (--static-conns connections, --static-delay-ms pause after each response),
#          first alone, then while a second wrk (--slow-conns connections, also on CPU 1) keeps
#          the database busy with GET /api/items?category=none-such: a filter on a non-indexed
#          JSON field, i.e. a full scan of every row, matching none.
# Per server x scenario x round: requests/s, p50/p99 (wrk --latency), server CPU time per
# request (utime+stime of the server process, all its threads, from /proc/PID/stat over the
# measured run / responses), wrk's CPU per request, and how busy each core was with other work.
# --rounds N repeats everything, alternating the order of the servers; the tables show means
# over rounds and ratios vs weft (per round too).
#
# Output: Markdown on stdout and in bench/app/results-latest.md (not committed).
#
# Options:
#   --duration D        measured wrk run per scenario (wrk syntax). Default 5s.
#   --warmup D          un-measured wrk run before each measurement. Default 2s.
#   --mixed-duration D  each of the two measured static runs of the mixed scenario. Default 5s.
#   --connections N     wrk connections for get and post. Default 50.
#   --rounds N          repetitions, alternating server order. Default 2.
#   --servers LIST      for get/post: subset of weft,weft-nogroup,json-server,sqlite3,better-sqlite3.
#                       Default all but weft-nogroup.
#   --mixed-servers L   for the mixed run: subset of weft,sqlite3,better-sqlite3 (or none). Default
#                       weft,better-sqlite3.
#   --scenarios LIST    subset of get,post,mixed. Default all three.
#   --static-conns N    connections of the paced static wrk. Default 8.
#   --static-delay-ms M pause after each static response per connection (0 = closed loop,
#                       saturating). Default 1.
#   --slow-conns N      connections hammering the slow query. Default 2.
#   --items N           rows in the seed. Default 100000.
#   --timeout D         wrk --timeout (a slower response counts as a timeout error). Default 10s.
#   --allow-missing     skip weft (with a note) if build/release/bin/weft-serve is missing.
#   --no-build          do not build (use build/release as it is).
#   --nice N            run servers and wrk under `nice -n N` (negative = ahead of other work on
#                       a shared machine; needs root). Default 0 = not used.
#   --pool-nice N       mixed run only: after the warm-ups, renice every thread of the server but
#                       its main (loop) thread by N (e.g. 19), so the database threads, which share
#                       CPU 0 with the loop, cannot delay the loop's wake-ups. Default 0 = off.
#   --quiet-wait S      before each measurement wait up to S s for both cores to be < 15% busy
#                       with other work (then measure anyway). Default 3; 0 = don't wait.
#   --out FILE          where to write the Markdown. Default bench/app/results-latest.md.
#   --port-base P       servers listen on the first free 127.0.0.1 port from P. Default 27180.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

DURATION=5s
WARMUP=2s
MIXED_DURATION=5s
CONNS=50
ROUNDS=2
SERVERS=weft,json-server,sqlite3,better-sqlite3
MIXED_SERVERS=weft,better-sqlite3
SCENARIOS=get,post,mixed
STATIC_CONNS=8
STATIC_DELAY_MS=1
SLOW_CONNS=2
ITEMS=100000
WRK_TIMEOUT=10s
ALLOW_MISSING=0
BUILD=1
NICE=0
POOL_NICE=0
QUIET_WAIT=3
OUT="$HERE/results-latest.md"
PORT_BASE=27180
SERVER_CPU=0
CLIENT_CPU=1
ARGS_GIVEN="$*"

die() { echo "app/run.sh: error: $*" >&2; exit 1; }
log() { echo "app/run.sh: $*" >&2; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --mixed-duration) MIXED_DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --mixed-servers) MIXED_SERVERS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --static-conns) STATIC_CONNS=$2; shift 2 ;;
    --static-delay-ms) STATIC_DELAY_MS=$2; shift 2 ;;
    --slow-conns) SLOW_CONNS=$2; shift 2 ;;
    --items) ITEMS=$2; shift 2 ;;
    --timeout) WRK_TIMEOUT=$2; shift 2 ;;
    --allow-missing) ALLOW_MISSING=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --nice) NICE=$2; shift 2 ;;
    --pool-nice) POOL_NICE=$2; shift 2 ;;
    --quiet-wait) QUIET_WAIT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --port-base) PORT_BASE=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

DUR_S=$(to_seconds "$DURATION")
WARM_S=$(to_seconds "$WARMUP")
MIX_S=$(to_seconds "$MIXED_DURATION")
for v in "$DUR_S" "$MIX_S" "$ROUNDS" "$CONNS" "$STATIC_CONNS" "$SLOW_CONNS" "$ITEMS"; do
  [[ $v =~ ^[0-9]+$ && $v -ge 1 ]] || die "bad numeric option '$v'"
done
[[ $WARM_S =~ ^[0-9]+$ && $STATIC_DELAY_MS =~ ^[0-9]+$ && $NICE =~ ^-?[0-9]+$ && $POOL_NICE =~ ^[0-9]+$ ]] || die "bad option value"
[[ $MIXED_SERVERS == none ]] && MIXED_SERVERS=
in_list() { [[ ",$2," == *",$1,"* ]]; }
for s in ${SERVERS//,/ }; do in_list "$s" weft,weft-nogroup,json-server,sqlite3,better-sqlite3 || die "unknown server '$s'"; done
for s in ${MIXED_SERVERS//,/ }; do in_list "$s" weft,sqlite3,better-sqlite3 || die "unknown mixed server '$s'"; done
for s in ${SCENARIOS//,/ }; do in_list "$s" get,post,mixed || die "unknown scenario '$s'"; done
in_list mixed "$SCENARIOS" || MIXED_SERVERS=

# ---------------------------------------------------------------- preconditions
for tool in wrk taskset node npm getconf awk curl cmp; do
  command -v "$tool" >/dev/null || die "'$tool' not found (scripts/install-deps?)"
done
[[ $(nproc) -eq 2 ]] || log "warning: nproc is $(nproc), expected 2; pinning anyway"
CLK_TCK=$(getconf CLK_TCK)
NOFILE=$(raise_nofile)
[[ $NICE -ne 0 ]] && { nice -n "$NICE" true 2>/dev/null || die "nice -n $NICE not permitted"; }
# command prefixes: the server on CPU 0, wrk on CPU 1 (under nice with --nice)
SRV=(taskset -c "$SERVER_CPU"); CLI=(taskset -c "$CLIENT_CPU")
[[ $NICE -ne 0 ]] && { SRV=(nice -n "$NICE" "${SRV[@]}"); CLI=(nice -n "$NICE" "${CLI[@]}"); }

# ---------------------------------------------------------------- npm peers
# better-sqlite3 and sqlite3 are native addons: their install scripts try to download a
# prebuilt binary first, which cannot work without access beyond the npm registry, then
# compile with node-gyp. build_from_source skips the doomed download; nodedir points node-gyp
# at the headers of the installed node (Debian/NodeSource nodejs ships them in
# /usr/include/node) instead of downloading them. Needs python3, make and g++.
npm_peers_ok() {
  (cd "$HERE" && node -e "require('sqlite3'); require('better-sqlite3'); require.resolve('json-server/lib/cli/bin.js')") 2>/dev/null
}
if ! npm_peers_ok; then
  log "installing the npm peers into bench/app/node_modules (native addons build from source; a few minutes)"
  npm_env=(npm_config_build_from_source=true)
  [[ -f /usr/include/node/node.h ]] && npm_env+=(npm_config_nodedir=/usr)
  (cd "$HERE" && env "${npm_env[@]}" npm ci --no-audit --no-fund >&2) || die "npm ci in bench/app failed"
  npm_peers_ok || die "npm peers still do not load after npm ci"
fi
JSON_SERVER="$HERE/node_modules/json-server/lib/cli/bin.js"
peer_version() { node -p "require('$HERE/node_modules/$1/package.json').version"; }

# ---------------------------------------------------------------- build weft-serve
WEFT="$ROOT/build/release/bin/weft-serve"
SKIPPED_NOTE=
if in_list weft "$SERVERS,$MIXED_SERVERS" || in_list weft-nogroup "$SERVERS"; then
  if [[ $BUILD -eq 1 ]]; then
    log "building weft-serve (release preset)"
    if ! (cd "$ROOT" && cmake --preset release >&2 && cmake --build --preset release --target weft-serve >&2); then
      [[ $ALLOW_MISSING -eq 1 ]] || die "release build of weft-serve failed"
      log "release build of weft-serve failed (--allow-missing: going on without it if the binary is missing)"
    fi
  fi
  if [[ ! -x $WEFT ]]; then
    [[ $ALLOW_MISSING -eq 1 ]] || die "$WEFT does not exist (or pass --allow-missing to skip weft)"
    SKIPPED_NOTE="weft skipped: build/release/bin/weft-serve does not exist (--allow-missing)."
    log "SKIPPING weft: $SKIPPED_NOTE"
    SERVERS=$(echo ",$SERVERS," | sed 's/,weft,/,/; s/^,//; s/,$//')
    MIXED_SERVERS=$(echo ",$MIXED_SERVERS," | sed 's/,weft,/,/; s/^,//; s/,$//')
  fi
fi
[[ -n $SERVERS || -n $MIXED_SERVERS ]] || die "no servers to run"

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-app.XXXXXX")
SERVER_PID=
BG_PID=
cleanup() {
  local rc=$?
  if [[ -n $BG_PID ]]; then kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null || true; fi
  stop_server
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- data
STATIC_DIR="$TMP/root"
mkdir -p "$STATIC_DIR"
head -c 4096 /dev/urandom >"$STATIC_DIR/static4k.bin"
log "generating the seed: $ITEMS items"
node "$HERE/gen_seed.js" --count "$ITEMS" --out "$TMP/db.json"
SEED_BYTES=$(stat -c %s "$TMP/db.json")
echo '{"/api/*": "/$1"}' >"$TMP/routes.json"
NODE_DB_TEMPLATE="$TMP/items.sqlite"
if in_list sqlite3 "$SERVERS,$MIXED_SERVERS" || in_list better-sqlite3 "$SERVERS,$MIXED_SERVERS"; then
  (cd "$HERE" && node load_sqlite.js "$TMP/db.json" "$NODE_DB_TEMPLATE") >&2
fi

# ---------------------------------------------------------------- servers
label() {
  case "$1" in
    weft) echo "weft-serve" ;;
    weft-nogroup) echo "weft-serve --no-group-commit" ;;
    json-server) echo "json-server $(peer_version json-server)" ;;
    sqlite3) echo "node + sqlite3 $(peer_version sqlite3)" ;;
    better-sqlite3) echo "node + better-sqlite3 $(peer_version better-sqlite3)" ;;
  esac
}

WEFT_ARGS=()     # extra flags weft-serve accepts (from its --help)
WEFT_TEMPLATE="$TMP/weft-template.db"
WEFT_SEED_S=
SERVER_PORT=
STARTS=0

wait_port() {  # wait_port NAME PORT SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=
      echo "---- $1 log:" >&2; cat "$TMP/$1.log" >&2
      die "$1 exited before accepting connections on port $2"
    fi
    port_open "$2" && return 0
    sleep 0.1
  done
  die "$1 did not accept connections on 127.0.0.1:$2 within $3 s"
}

# The weft template: one start with --seed into an empty database, stopped once it answers
# for the last item; every measured start then gets a copy (same rows, no import time).
make_weft_template() {
  local port t0 code
  "$WEFT" --help 2>&1 | grep -q -- '--workers' && WEFT_ARGS+=(--workers 1)
  port=$(free_port)
  t0=$(date +%s.%N)
  "${SRV[@]}" "$WEFT" --port "$port" --host 127.0.0.1 --db "sqlite:$WEFT_TEMPLATE" --root "$STATIC_DIR" \
    --seed "$TMP/db.json" "${WEFT_ARGS[@]}" >"$TMP/weft.log" 2>&1 &
  SERVER_PID=$!
  wait_port weft "$port" 300
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/items/$ITEMS") || true
  [[ $code == 200 ]] || die "weft-serve after --seed: GET /api/items/$ITEMS gave '$code'"
  WEFT_SEED_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  stop_server
  log "weft-serve seeded $ITEMS items and answered in ${WEFT_SEED_S} s"
}

# start_server NAME: a fresh data copy, the server pinned to CPU 0, waits for its port.
start_server() {
  local name=$1 port logf="$TMP/$1.log"
  port=$(free_port)
  SERVER_PORT=$port
  STARTS=$((STARTS + 1))
  local data="$TMP/run-$STARTS"
  case "$name" in
    weft|weft-nogroup)
      local extra=()
      [[ $name == weft-nogroup ]] && extra=(--no-group-commit)
      cp "$WEFT_TEMPLATE" "$data.db"
      # (a WAL left by the template's server is part of the data; -shm is rebuilt from it)
      if [[ -f $WEFT_TEMPLATE-wal ]]; then cp "$WEFT_TEMPLATE-wal" "$data.db-wal"; fi
      "${SRV[@]}" "$WEFT" --port "$port" --host 127.0.0.1 --db "sqlite:$data.db" --root "$STATIC_DIR" \
        "${WEFT_ARGS[@]}" "${extra[@]}" >"$logf" 2>&1 &
      ;;
    json-server)
      cp "$TMP/db.json" "$data.json"
      "${SRV[@]}" node "$JSON_SERVER" --port "$port" --host 127.0.0.1 --quiet --static "$STATIC_DIR" \
        --routes "$TMP/routes.json" "$data.json" >"$logf" 2>&1 &
      ;;
    sqlite3|better-sqlite3)
      cp "$NODE_DB_TEMPLATE" "$data.sqlite"
      "${SRV[@]}" node "$HERE/node_${name//-/_}.js" --db "$data.sqlite" --port "$port" --host 127.0.0.1 \
        --root "$STATIC_DIR" >"$logf" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  wait_port "$name" "$port" 60
}

url() { echo "http://127.0.0.1:$SERVER_PORT$1"; }

# probe NAME SCENARIO: the server answers the scenario's request correctly, or the figures
# mean nothing.
probe() {
  local name=$1 scen=$2 out="$TMP/probe.txt" code
  case "$scen" in
    get)
      code=$(curl -s -o "$out" -w '%{http_code}' "$(url /api/items/$ITEMS)") || true
      [[ $code == 200 ]] && grep -Eq "\"id\" *: *$ITEMS *([,}]|$)" "$out" \
        || die "$name: GET /api/items/$ITEMS gave $code: $(head -c 300 "$out")"
      ;;
    post)
      code=$(curl -s -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d '{"title":"probe","category":"c-probe","price":1,"body":"probe"}' "$(url /api/items)") || true
      [[ $code == 201 ]] && grep -Eq "\"id\" *: *$((ITEMS + 1)) *([,}]|$)" "$out" \
        || die "$name: POST /api/items gave $code: $(head -c 300 "$out") (expected 201 with id $((ITEMS + 1)))"
      ;;
    mixed)
      code=$(curl -s -o "$out" -w '%{http_code}' "$(url /static4k.bin)") || true
      [[ $code == 200 ]] && cmp -s "$out" "$STATIC_DIR/static4k.bin" || die "$name: GET /static4k.bin gave $code"
      code=$(curl -s -D "$out.h" -o "$out" -w '%{http_code}' "$(url '/api/items?category=none-such')") || true
      [[ $code == 200 ]] && grep -iq '^x-total-count: *0' "$out.h" && grep -q '^ *\[ *\] *$' "$out" \
        || die "$name: GET /api/items?category=none-such gave $code: $(head -c 300 "$out")"
      ;;
  esac
}

# ---------------------------------------------------------------- one measured wrk run
RESULTS="$TMP/results.tsv"
# round server scen rps p50us p99us cpu_us/req server_cpu% wrk_us/req others0% others1% requests
: >"$RESULTS"
NOTES=()

# measure ROUND NAME SCEN CONNS OUT WRK-ARGS...: one wrk run on CPU 1 with the server's and
# wrk's CPU accounting around it; appends a row to RESULTS.
measure() {
  local round=$1 name=$2 scen=$3 conns=$4 out=$5; shift 5
  local t0 t1 c0 c1 s0 s1 ws0 ws1 w0 w1
  times >"$TMP/times0"; ws0=$(date +%s.%N)
  t0=$(cpu_ticks "$SERVER_PID"); c0=($(cpu_jiffies $SERVER_CPU)); s0=($(cpu_jiffies $CLIENT_CPU))
  timeout $((DUR_S + MIX_S + 60)) "${CLI[@]}" wrk -t1 -c"$conns" --timeout "$WRK_TIMEOUT" --latency "$@" >"$out" \
    || { cat "$out" >&2; die "wrk failed for $name / $scen"; }
  c1=($(cpu_jiffies $SERVER_CPU)); s1=($(cpu_jiffies $CLIENT_CPU))
  check_alive "$name" "$scen"
  t1=$(cpu_ticks "$SERVER_PID"); ws1=$(date +%s.%N); times >"$TMP/times1"
  w0=$(children_cpu_s "$TMP/times0"); w1=$(children_cpu_s "$TMP/times1")
  local requests errors non2xx
  requests=$(wrk_requests "$out"); errors=$(wrk_errors "$out"); non2xx=$(wrk_non2xx "$out")
  [[ -n $requests && $requests -gt 0 ]] || { cat "$out" >&2; die "wrk reported no responses for $name / $scen"; }
  [[ -n $errors ]] && NOTES+=("round $round, $name / $scen: wrk socket errors: $errors")
  [[ -n $non2xx ]] && NOTES+=("round $round, $name / $scen: $non2xx non-2xx/3xx responses")
  awk -v round="$round" -v n="$name" -v s="$scen" -v rps="$(wrk_rps "$out")" \
      -v p50="$(wrk_pct_us "$out" 50)" -v p99="$(wrk_pct_us "$out" 99)" -v req="$requests" \
      -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v ws0="$ws0" -v ws1="$ws1" -v w0="$w0" -v w1="$w1" \
      -v a0="${c0[0]}" -v at0="${c0[1]}" -v a1="${c1[0]}" -v at1="${c1[1]}" \
      -v b0="${s0[0]}" -v bt0="${s0[1]}" -v b1="${s1[0]}" -v bt1="${s1[1]}" 'BEGIN {
    wall = ws1 - ws0; srv = (t1 - t0) / hz; wrk = w1 - w0
    busy0 = (at1 > at0 ? 100 * (a1 - a0) / (at1 - at0) : 0); busy1 = (bt1 > bt0 ? 100 * (b1 - b0) / (bt1 - bt0) : 0)
    o0 = busy0 - 100 * srv / wall; o1 = busy1 - 100 * wrk / wall; if (o0 < 0) o0 = 0; if (o1 < 0) o1 = 0
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.0f\t%.2f\t%.0f\t%.0f\t%s\n", round, n, s, rps, p50, p99,
      srv * 1e6 / req, 100 * srv / wall, wrk * 1e6 / req, o0, o1, req}' >>"$RESULTS"
}

# settle: after a warm-up, wait (at most 15 s) until the server has used no CPU for 0.2 s,
# so requests still queued from the warm-up (json-server takes ms each) are not in the
# measured run.
settle() {
  local i a b
  for ((i = 0; i < 75; i++)); do
    a=$(cpu_ticks "$SERVER_PID"); sleep 0.2; b=$(cpu_ticks "$SERVER_PID")
    [[ $((b - a)) -le 1 ]] && return 0
  done
  log "server still busy 15 s after the warm-up; measuring anyway"
}

warm() {  # warm NAME SCEN CONNS WRK-ARGS...
  local name=$1 scen=$2 conns=$3; shift 3
  [[ $WARM_S -gt 0 ]] || return 0
  timeout $((WARM_S + 60)) "${CLI[@]}" wrk -t1 -c"$conns" -d"$WARMUP" --timeout "$WRK_TIMEOUT" "$@" >/dev/null \
    || die "wrk warm-up failed for $name / $scen"
  check_alive "$name" "$scen warm-up"
  settle
}

run_load() {  # run_load ROUND NAME SCEN
  local round=$1 name=$2 scen=$3 args
  case "$scen" in
    get) args=(-s "$HERE/get_random.lua") ;;
    post) args=(-s "$HERE/post_item.lua") ;;
  esac
  wait_quiet "$name / $scen"
  start_server "$name"
  probe "$name" "$scen"
  log "round $round, $name / $scen: warm-up $WARMUP, then $DURATION with $CONNS connections"
  local tail=()
  [[ $scen == get ]] && tail=(-- "$ITEMS")
  if [[ $name == json-server && $scen == post ]]; then
    # json-server rewrites its whole db.json on every write (~1 s per POST at 100k items):
    # a warm-up would leave tens of seconds of queued POSTs behind.
    [[ $round -eq 1 ]] && NOTES+=("json-server / post: no warm-up (every POST rewrites the whole db.json, about a second each here; a warm-up's queued requests would run into the measurement).")
  else
    warm "$name" "$scen" "$CONNS" "${args[@]}" "$(url /)" "${tail[@]}"
  fi
  measure "$round" "$name" "$scen" "$CONNS" "$TMP/wrk-$round-$name-$scen.txt" -d"$DURATION" "${args[@]}" "$(url /)" "${tail[@]}"
  stop_server
}

# renice_helpers NAME: every thread of the server except its main one gets nice +POOL_NICE
# (relative to the process's); threads created later inherit the main thread's value.
renice_helpers() {
  local tid n=0 base
  base=$(sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{print $17}')
  for tid in $(ls "/proc/$SERVER_PID/task"); do
    [[ $tid == "$SERVER_PID" ]] && continue
    renice -n $((base + POOL_NICE)) -p "$tid" >/dev/null && n=$((n + 1))
  done
  log "$1: reniced $n helper threads to nice $((base + POOL_NICE))"
}

# The mixed run: static p99 alone, then under the slow-query load (started first, stopped
# after the static run), on one server instance.
run_mixed() {
  local round=$1 name=$2 slow_out="$TMP/wrk-$round-$name-slow.txt"
  local static
  wait_quiet "$name / mixed"
  start_server "$name"
  static=(-s "$HERE/paced.lua" "$(url /static4k.bin)" -- "$STATIC_DELAY_MS")
  probe "$name" mixed
  log "round $round, $name / mixed: warm-up, static alone $MIXED_DURATION, then with $SLOW_CONNS connections of slow queries"
  warm "$name" static "$STATIC_CONNS" "${static[@]}"
  warm "$name" slow "$SLOW_CONNS" "$(url '/api/items?category=none-such')"
  [[ $POOL_NICE -gt 0 ]] && renice_helpers "$name"
  measure "$round" "$name" static-alone "$STATIC_CONNS" "$TMP/wrk-$round-$name-static-alone.txt" -d"$MIXED_DURATION" "${static[@]}"
  "${CLI[@]}" wrk -t1 -c"$SLOW_CONNS" -d$((MIX_S + 2))s --timeout "$WRK_TIMEOUT" --latency \
    "$(url '/api/items?category=none-such')" >"$slow_out" 2>&1 &
  BG_PID=$!
  sleep 1
  measure "$round" "$name" static-loaded "$STATIC_CONNS" "$TMP/wrk-$round-$name-static-loaded.txt" -d"$MIXED_DURATION" "${static[@]}"
  wait "$BG_PID" || { cat "$slow_out" >&2; die "slow-query wrk failed for $name"; }
  BG_PID=
  local slow_rps slow_p50
  slow_rps=$(wrk_rps "$slow_out"); slow_p50=$(wrk_pct_us "$slow_out" 50)
  [[ -n $(wrk_errors "$slow_out") ]] && NOTES+=("round $round, $name / slow queries: wrk socket errors: $(wrk_errors "$slow_out")")
  [[ -n $(wrk_non2xx "$slow_out") ]] && NOTES+=("round $round, $name / slow queries: $(wrk_non2xx "$slow_out") non-2xx responses")
  printf '%s\t%s\tslow\t%s\t%s\t0\t0\t0\t0\t0\t0\t%s\n' "$round" "$name" "$slow_rps" "$slow_p50" "$(wrk_requests "$slow_out")" >>"$RESULTS"
  stop_server
}

# ---------------------------------------------------------------- run
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS
{ in_list weft "$SERVERS,$MIXED_SERVERS" || in_list weft-nogroup "$SERVERS"; } && make_weft_template

ORDER=(); for s in weft weft-nogroup json-server sqlite3 better-sqlite3; do in_list "$s" "$SERVERS" && ORDER+=("$s"); done
MORDER=(); for s in weft sqlite3 better-sqlite3; do in_list "$s" "$MIXED_SERVERS" && MORDER+=("$s"); done
reversed() { local i; for ((i = $# ; i >= 1; i--)); do echo "${!i}"; done; }
for ((round = 1; round <= ROUNDS; round++)); do
  order=("${ORDER[@]}"); morder=("${MORDER[@]}")
  if ((round % 2 == 0)); then
    mapfile -t order < <(reversed "${ORDER[@]}"); mapfile -t morder < <(reversed "${MORDER[@]}")
  fi
  for scen in get post; do
    in_list "$scen" "$SCENARIOS" || continue
    for name in "${order[@]}"; do run_load "$round" "$name" "$scen"; done
  done
  for name in "${morder[@]}"; do run_mixed "$round" "$name"; done
done
ELAPSED=$((SECONDS - T_START))

# ---------------------------------------------------------------- report
# mean NAME SCEN COLUMN -> mean over rounds
mean() { awk -F'\t' -v n="$1" -v s="$2" -v c="$3" '$2 == n && $3 == s {t += $c; k++} END {if (k) printf "%.6g", t / k}' "$RESULTS"; }
range() { awk -F'\t' -v n="$1" -v s="$2" -v c="$3" '$2 == n && $3 == s {if (k == 0 || $c < lo) lo = $c; if (k == 0 || $c > hi) hi = $c; k++}
  END {if (k > 1) printf "%.0f–%.0f", lo, hi; else printf "–"}' "$RESULTS"; }
per_round() {  # per_round SCEN PEER COLUMN MODE(div: weft/peer, inv: peer/weft)
  awk -F'\t' -v s="$1" -v p="$2" -v c="$3" -v m="$4" '$3 == s && $2 == "weft" {w[$1] = $c} $3 == s && $2 == p {q[$1] = $c}
    END {for (r = 1; r in w; r++) if (r in q && w[r] > 0 && q[r] > 0) {printf "%s%.1f×", sep, (m == "div" ? w[r] / q[r] : q[r] / w[r]); sep = ", "}}' "$RESULTS"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2f×", a / b; else printf "n/a"}'; }

report_load() {
  local scen=$1 title=$2 name peer
  echo
  echo "#### $title"
  echo
  echo "| server | req/s (mean) | req/s per round | p99 (mean) | CPU µs/req | server CPU | wrk CPU µs/req | others on CPU 0 / 1 |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${ORDER[@]}"; do
    [[ -n $(mean "$name" "$scen" 4) ]] || continue
    printf '| %s | %.0f | %s | %s | %.1f | %.0f%% | %.1f | %.0f%% / %.0f%% |\n' "$(label "$name")" "$(mean "$name" "$scen" 4)" \
      "$(range "$name" "$scen" 4)" "$(fmt_lat "$(mean "$name" "$scen" 6)")" "$(mean "$name" "$scen" 7)" \
      "$(mean "$name" "$scen" 8)" "$(mean "$name" "$scen" 9)" "$(mean "$name" "$scen" 10)" "$(mean "$name" "$scen" 11)"
  done
  in_list weft "$SERVERS" || return 0
  echo
  echo "| weft-serve vs | req/s: weft ÷ peer | per round | CPU µs/req: peer ÷ weft | per round |"
  echo "|---|---:|---:|---:|---:|"
  for peer in "${ORDER[@]}"; do
    [[ $peer == weft ]] && continue
    printf '| %s | **%s** | %s | **%s** | %s |\n' "$(label "$peer")" \
      "$(ratio "$(mean weft "$scen" 4)" "$(mean "$peer" "$scen" 4)")" "$(per_round "$scen" "$peer" 4 div)" \
      "$(ratio "$(mean "$peer" "$scen" 7)" "$(mean weft "$scen" 7)")" "$(per_round "$scen" "$peer" 7 inv)"
  done
}

report_mixed() {
  echo
  echo "#### Mixed: p99 of GET /static4k.bin ($STATIC_CONNS connections, ${STATIC_DELAY_MS} ms pause after each response) alone and while $SLOW_CONNS connections run GET /api/items?category=none-such (full scan of $ITEMS rows)${POOL_NICE:+$([[ $POOL_NICE -gt 0 ]] && echo ", server threads but the loop at nice +$POOL_NICE")}"
  echo
  echo "| server | static p99 alone | static p99 loaded | loaded ÷ alone | per round | static p50 alone / loaded | static req/s alone / loaded | slow queries/s | slow query p50 | server CPU alone / loaded |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local name
  for name in "${MORDER[@]}"; do
    printf '| %s | %s | %s | **%s** | %s | %s / %s | %.0f / %.0f | %.1f | %s | %.0f%% / %.0f%% |\n' "$(label "$name")" \
      "$(fmt_lat "$(mean "$name" static-alone 6)")" "$(fmt_lat "$(mean "$name" static-loaded 6)")" \
      "$(ratio "$(mean "$name" static-loaded 6)" "$(mean "$name" static-alone 6)")" \
      "$(awk -F'\t' -v n="$name" '$2 == n && $3 == "static-alone" {a[$1] = $6} $2 == n && $3 == "static-loaded" {b[$1] = $6}
          END {for (r = 1; r in a; r++) if (a[r] > 0) {printf "%s%.1f×", sep, b[r] / a[r]; sep = ", "}}' "$RESULTS")" \
      "$(fmt_lat "$(mean "$name" static-alone 5)")" "$(fmt_lat "$(mean "$name" static-loaded 5)")" \
      "$(mean "$name" static-alone 4)" "$(mean "$name" static-loaded 4)" "$(mean "$name" slow 4)" \
      "$(fmt_lat "$(mean "$name" slow 5)")" "$(mean "$name" static-alone 8)" "$(mean "$name" static-loaded 8)"
  done
}

report() {
  local cpu_model
  cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  echo "### Run of $START_DATE"
  echo
  echo "\`bench/app/run.sh${ARGS_GIVEN:+ $ARGS_GIVEN}\` (duration $DURATION, warm-up $WARMUP, $CONNS connections, $ROUNDS rounds, mixed $MIXED_DURATION);" \
       "$(nproc) CPUs ($cpu_model), Linux $(uname -r); servers on CPU $SERVER_CPU, \`wrk -t1\` on CPU $CLIENT_CPU, 127.0.0.1." \
       "$ITEMS items ($((SEED_BYTES / 1024)) KiB of db.json). node $(node --version), $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}')." \
       "Load average at start: $LOAD_AT_START; measuring took ${ELAPSED} s.${WEFT_SEED_S:+ weft-serve --seed of $ITEMS items: ${WEFT_SEED_S} s to the first answer${WEFT_ARGS[*]:+; weft-serve run with ${WEFT_ARGS[*]}}.}"
  in_list get "$SCENARIOS" && [[ ${#ORDER[@]} -gt 0 ]] && report_load get "GET /api/items/:id, random ids in 1..$ITEMS, $CONNS connections"
  in_list post "$SCENARIOS" && [[ ${#ORDER[@]} -gt 0 ]] && report_load post "POST /api/items (new small item, application/json), $CONNS connections"
  [[ ${#MORDER[@]} -gt 0 ]] && report_mixed
  echo
  echo "CPU µs/req: utime+stime of the server process (all threads) over the measured run ÷ responses." \
       "server CPU: that time over wall time (100% = one core). wrk CPU µs/req: the same for wrk (if it is near the server's," \
       "wrk limits req/s). others on CPU 0 / 1: how busy each core was with anything but the server / wrk (a noisy machine)."
  [[ -n $SKIPPED_NOTE ]] && NOTES=("$SKIPPED_NOTE" "${NOTES[@]}")
  if [[ ${#NOTES[@]} -gt 0 ]]; then
    echo
    local n
    for n in "${NOTES[@]}"; do echo "- $n"; done
  fi
  return 0
}

report | tee "$OUT"
cp "$RESULTS" "${OUT%.md}.tsv"
log "written to $OUT (raw rows: ${OUT%.md}.tsv)"
