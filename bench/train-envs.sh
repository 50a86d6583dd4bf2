#!/usr/bin/env bash
# bench/train-envs.sh — end to end, how training speeds up with more envs:
# `ultra train --env TASK --envs E` for each E, in interleaved rounds (each
# E once per round, in turn), with CleanRL's defaults otherwise (2048 steps
# per env per iteration, 10 epochs of 32 minibatches). A run's figure is its
# steps over the summed rollout and update seconds of its iterations
# (metrics.csv; process start and checkpoint writing left out); each E's is
# the median over rounds, with its ratio to the first E's.
#
#   bash bench/train-envs.sh [TASK] [ROUNDS] [STEPS] [ENVS]   e.g. bash bench/train-envs.sh hopper 3 65536 "1 8"
#
# Writes to runs/train-envs/. ULTRA_BIN names a built ultra binary to use
# instead of building bin/ultra.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:-hopper}
rounds=${2:-3}
steps=${3:-65536}
envs=${4:-"1 8"}
out=runs/train-envs
mkdir -p "$out" bin
bin=${ULTRA_BIN:-}
if [[ -z $bin ]]; then
  go build -o bin/ultra ./cmd/ultra
  bin=bin/ultra
fi
echo "train-envs: $task, $steps steps per run, $rounds interleaved rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$out/runs.txt"
for r in $(seq "$rounds"); do
  for e in $envs; do
    rm -rf "$out/$task-$e"
    "$bin" train --env "$task" --envs "$e" --steps "$steps" --out "$out/$task-$e" --metrics-addr '' --progress log >"$out/$task-$e.log" 2>&1
    python3 - "$out/$task-$e/metrics.csv" "$e" "$r" >>"$out/runs.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
steps = int(rows[-1]["global_step"])
secs = sum(float(x["rollout_seconds"]) + float(x["update_seconds"]) for x in rows)
roll = sum(float(x["rollout_seconds"]) for x in rows)
print(sys.argv[2], sys.argv[3], steps / secs, roll / secs)
PY
  done
done
python3 - "$out/runs.txt" "$envs" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
envs = sys.argv[2].split()
med = {e: statistics.median(float(r[2]) for r in runs if r[0] == e) for e in envs}
for e in envs:
    share = statistics.median(float(r[3]) for r in runs if r[0] == e)
    per = ", ".join(f"{float(r[2]):.0f}" for r in runs if r[0] == e)
    print(f"train-envs {e:>3} envs: {med[e]:8.0f} steps/s = {med[e] / med[envs[0]]:.2f}x the {envs[0]}-env run  (rounds: {per}; rollout {100 * share:.0f}% of the time)")
PY
