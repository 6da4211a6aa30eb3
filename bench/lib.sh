# bench/lib.sh — shell helpers shared by bench/http/run.sh and bench/app/run.sh. Sourced, not
# run. The sourcing script defines die() and log(), and sets SERVER_CPU, CLIENT_CPU,
# PORT_BASE and QUIET_WAIT before calling the helpers that read them.

# wrk duration syntax -> whole seconds (for time bounds)
to_seconds() {
  local d=$1
  case "$d" in
    *ms) echo 1 ;;
    *s) echo "${d%s}" ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *h) echo $(( ${d%h} * 3600 )) ;;
    *) echo "$d" ;;
  esac
}

# Raise this shell's fd limit (hence every server's and client's started from it) as far as
# allowed; prints the limit in force.
raise_nofile() {
  if ! ulimit -n 65536 2>/dev/null; then
    ulimit -n "$(ulimit -Hn)" || true
  fi
  ulimit -n
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# first port from PORT_BASE that nothing on 127.0.0.1 accepts on (other work on this
# machine may hold some)
free_port() {
  local p
  for ((p = PORT_BASE; p < PORT_BASE + 100; p++)); do
    port_open "$p" || { echo "$p"; return 0; }
  done
  die "no free port in $PORT_BASE..$((PORT_BASE + 99)) on 127.0.0.1"
}

# ---------------------------------------------------------------- /proc readers
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }  # utime+stime, all threads
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# "busy total" jiffies of one CPU from /proc/stat
cpu_jiffies() {
  awk -v c="cpu$1" '$1 == c {busy = $2+$3+$4+$7+$8+$9; print busy, busy + $5 + $6}' /proc/stat
}

# CPU seconds (user+sys) of this shell's waited-for children, from a `times` dump
children_cpu_s() {
  awk 'NR == 2 {t = 0; for (i = 1; i <= 2; i++) {split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2]}; printf "%.3f", t}' "$1"
}

# wait_quiet WHAT: other work on this machine skews req/s. Wait (at most QUIET_WAIT
# seconds) until both cores are under 15% busy over one second, then go on regardless.
wait_quiet() {
  [[ $QUIET_WAIT -gt 0 ]] || return 0
  local deadline=$((SECONDS + QUIET_WAIT)) a0 a1 b0 b1 worst
  while true; do
    a0=($(cpu_jiffies $SERVER_CPU)); b0=($(cpu_jiffies $CLIENT_CPU))
    sleep 1
    a1=($(cpu_jiffies $SERVER_CPU)); b1=($(cpu_jiffies $CLIENT_CPU))
    worst=$(awk -v a="$((a1[0] - a0[0]))" -v at="$((a1[1] - a0[1]))" -v b="$((b1[0] - b0[0]))" -v bt="$((b1[1] - b0[1]))" \
      'BEGIN {x = (at > 0 ? 100 * a / at : 0); y = (bt > 0 ? 100 * b / bt : 0); printf "%.0f", (x > y ? x : y)}')
    [[ $worst -lt 15 ]] && return 0
    if [[ $SECONDS -ge $deadline ]]; then
      log "$1: machine still busy (a core ${worst}% busy with other work) after ${QUIET_WAIT}s; measuring anyway"
      return 0
    fi
  done
}

# ---------------------------------------------------------------- wrk output
# to_us "1.23ms" -> 1230
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1e6;
    else if (u == "m") f = 6e7; else f = -1
    printf "%.0f", (f < 0 ? -1 : n * f) }'
}

# microseconds -> "812 µs" / "1.23 ms"; n/a for <= 0
fmt_lat() { awk -v u="$1" 'BEGIN { if (u <= 0) print "n/a"; else if (u < 1000) printf "%d µs\n", u; else printf "%.2f ms\n", u / 1000 }'; }

# wrk_requests / wrk_rps / wrk_pct_us FILE [PCT] / wrk_errors / wrk_non2xx: fields of a
# `wrk --latency` report
wrk_requests() { awk '/requests in/ {print $1; exit}' "$1"; }
wrk_rps() { awk '/^Requests\/sec:/ {print $2; exit}' "$1"; }
wrk_pct_us() { to_us "$(awk -v p="$2%" '$1 == p {print $2; exit}' "$1")"; }
wrk_errors() {
  awk '/Socket errors:/ {gsub(",", ""); print "connect " $4 ", read " $6 ", write " $8 ", timeout " $10; exit}' "$1"
}
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF; exit}' "$1"; }

# The server the caller started last, in SERVER_PID (its log in $TMP/NAME.log).
# stop_server: SIGTERM, then SIGKILL after 5 s. check_alive NAME WHAT: die if it has exited.
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

check_alive() {
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  echo "---- $1 log:" >&2; cat "$TMP/$1.log" >&2
  die "$1 (pid $SERVER_PID) died during '$2'"
}
