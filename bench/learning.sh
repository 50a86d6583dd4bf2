#!/usr/bin/env bash
# bench/learning.sh — the learning benchmark: `ultra train` for 1M steps with
# CleanRL's defaults on hopper (seeds 1-3) and walker2d (seed 1), two runs at
# a time, then the final return (mean of the last 10 episodes) and wall time
# of each run and the median over hopper seeds.
#
#   bash bench/learning.sh [OUTDIR] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bench-learning}
steps=${2:-1000000}
go build -o bin/ultra ./cmd/ultra
mkdir -p "$out"
run() { # env seed
  local dir="$out/$1-s$2"
  rm -rf "$dir"
  local t0=$(date +%s)
  # No metrics endpoint: two runs at once would both want the default port.
  if ! bin/ultra train --env "$1" --seed "$2" --steps "$steps" --out "$dir" --progress log --checkpoint-every 50 \
    --metrics-addr '' >"$dir.log" 2>&1; then
    echo "bench/learning.sh: $1 seed $2 failed; the end of $dir.log:" >&2
    tail -n 5 "$dir.log" >&2
    return 1
  fi
  echo $(( $(date +%s) - t0 )) >"$dir.wall"
}
pair() { # env seed env seed: two runs at once; fails if either does
  run "$1" "$2" & local a=$!
  run "$3" "$4" & local b=$!
  local rc=0
  wait "$a" || rc=1
  wait "$b" || rc=1
  return "$rc"
}
pair hopper 1 hopper 2
pair hopper 3 walker2d 1
python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = []
for name in sorted(os.listdir(out)):
    p = os.path.join(out, name, "metrics.jsonl")
    if not os.path.exists(p):
        continue
    last = [json.loads(l) for l in open(p) if l.strip()][-1]
    wall = int(open(os.path.join(out, name + ".wall")).read())
    rows.append((name, last["global_step"], last.get("return_last10"), wall))
    print(f"{name:12} steps {last['global_step']:8d}  final return (last 10 episodes) {last.get('return_last10'):8.1f}  wall {wall:5d} s")
hop = [r[2] for r in rows if r[0].startswith("hopper")]
if hop:
    print(f"hopper median final return over {len(hop)} seeds: {statistics.median(hop):.1f}")
PY
