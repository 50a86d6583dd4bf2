#!/usr/bin/env bash
# bench/env-scaling.sh — how a task's VecEnv scales over cores: steps/s for
# every worker count (default 1, 2, 4, … up to nproc, and nproc) times 1, 2,
# 4 and 8 envs per worker, each against 1 env on 1 worker, in interleaved
# rounds (each point and the reference stepped in turn, medians over rounds).
#
#   bash bench/env-scaling.sh [TASK] [ROUNDS] [SECONDS] [WORKERS] [ENVS_PER_WORKER]
#   e.g. bash bench/env-scaling.sh hopper 3 0.3 1-16 1,2,4,8
#
# Defaults: hopper, 3 rounds, 0.3 s per point and round, each point timed
# twice (the VecEnv and its C-loop ceiling): 17 s on a 2-core VM (8 points),
# about 40 s on 16 cores by that arithmetic (20 points), after the build;
# pass fewer rounds or seconds to shorten it. Besides
# the table it prints one line per point for parsers:
#
#   env-scaling hopper workers=2 envs=8 steps_per_s=12345 ratio=1.87 busy=0.920 step_cost=1.050
#
# where envs is the total (workers × envs per worker), ratio is the median
# over rounds of the point's steps/s over the reference's, busy the share of
# the workers' time in Step spent stepping instances (the rest waits at the
# step barrier) and step_cost what one instance step costs there against the
# reference's (ratio ≈ workers × busy / step_cost). The table's
# rows end in "N steps/s" (what scripts/gpucheck reads). ULTRA_BIN names a
# built ultra binary to use instead of building bin/ultra.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:-hopper}
rounds=${2:-3}
seconds=${3:-0.3}
workers=${4:-}
per=${5:-1,2,4,8}
bin=${ULTRA_BIN:-}
if [[ -z $bin ]]; then
  go build -o bin/ultra ./cmd/ultra
  bin=bin/ultra
fi
args=(bench env-scaling --env "$task" --rounds "$rounds" --time "${seconds}s" --envs-per-worker "$per")
if [[ -n $workers ]]; then
  args+=(--workers "$workers")
fi
echo "env-scaling: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" "${args[@]}"
