#!/usr/bin/env bash
# bench/micro/ab.sh — two bench_core binaries side by side: did a change move weft's core
# figures? Interleaved so that both see the same machine: round 1 runs A then B, round 2 B
# then A, and so on (ABBA...). Only the BM_*_weft cases (libuv's are the same code in both).
#
#   bench/micro/ab.sh --a BIN [--b BIN] [--rounds 4] [--reps 3] [--min-time 0.3] [--cpu 0]
#
# --b defaults to --a: an A/A run, which says how far two runs of one binary differ on this
# machine (the noise a real A/B difference must exceed). As scripts/bench-core does, the
# single-loop cases (timer_*, idle_*) run under `taskset -c CPU`, the threaded ones
# (pool_roundtrip, post) unpinned. Per case: the mean over rounds of each binary's median
# items/s, and B/A of those means, with the smallest and largest per-round B/A.
set -euo pipefail

A='' B='' ROUNDS=4 REPS=3 MIN_TIME=0.3 CPU=0
die() { echo "ab.sh: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --a) A=$2; shift 2 ;;
    --b) B=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --min-time) MIN_TIME=$2; shift 2 ;;
    --cpu) CPU=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -x $A ]] || die "--a '$A' is not an executable"
B=${B:-$A}
[[ -x $B ]] || die "--b '$B' is not an executable"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-core-ab.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

common=(--benchmark_repetitions="$REPS" --benchmark_min_time="$MIN_TIME"
        --benchmark_report_aggregates_only=true --benchmark_format=json)
run() {  # <round> <label> <bin>
  "$3" "${common[@]}" --benchmark_filter='(pool_roundtrip|post)_weft' >"$TMP/$1-$2-threaded.json"
  taskset -c "$CPU" "$3" "${common[@]}" --benchmark_filter='(timer_|idle_).*_weft' \
    >"$TMP/$1-$2-single.json"
  echo "ab.sh: round $1 / $2 done" >&2
}
for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2 == 1)); then run "$round" A "$A"; run "$round" B "$B"
  else run "$round" B "$B"; run "$round" A "$A"; fi
done

echo "A: \`$A\`; B: \`$B\`. \`bench/micro/ab.sh --rounds $ROUNDS --reps $REPS --min-time $MIN_TIME\`," \
     "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
python3 - "$TMP" "$ROUNDS" <<'PY'
import glob, json, os, statistics, sys

tmp, rounds = sys.argv[1], int(sys.argv[2])
med = {}  # (round, label, case) -> median items/s
order = []
for path in sorted(glob.glob(os.path.join(tmp, "*.json"))):
    rnd, label = os.path.basename(path).split("-")[:2]
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        case = b["run_name"].replace("BM_", "").replace("_weft", "").replace("/real_time", "")
        med[(int(rnd), label, case)] = b["items_per_second"]
        if case not in order:
            order.append(case)

def fmt(v):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.2f}{unit}"
    return f"{v:.0f}"

print("| case | A items/s | B items/s | B/A | per-round B/A (min … max) |")
print("|---|---:|---:|---:|---:|")
for case in order:
    a = [med[(r, "A", case)] for r in range(1, rounds + 1) if (r, "A", case) in med]
    b = [med[(r, "B", case)] for r in range(1, rounds + 1) if (r, "B", case) in med]
    per = [med[(r, "B", case)] / med[(r, "A", case)] for r in range(1, rounds + 1)
           if (r, "A", case) in med and (r, "B", case) in med]
    if not a or not b:
        continue
    ma, mb = statistics.mean(a), statistics.mean(b)
    print(f"| {case} | {fmt(ma)} | {fmt(mb)} | **{mb / ma:.3f}×** | {min(per):.3f} … {max(per):.3f} |")
PY
