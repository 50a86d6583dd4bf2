#!/usr/bin/env bash
# bench/expert.sh — the sub-optimal agent of the published tables and its
# expert, once per task (issue 25):
#
#   bash bench/expert.sh TASK      # hopper, walker2d, ant, halfcheetah or pong
#
# 1. the sub-optimal agent: `ultra train --env TASK --seed 1` for the
#    tables' budget (100 000 steps; pong 1 000 000) into runs/results/pre/TASK
#    — the checkpoint bench/results.sh and bench/ceiling.sh refine;
# 2. the expert (MuJoCo tasks): that checkpoint continued with plain PPO
#    (`ultra refine --variant ppo --seed 1`) for 900 000 more steps, 1 M in
#    all, into runs/results/expert/TASK — one lineage, so that its actions
#    fit the agent's gait (an expert trained from another seed may walk
#    differently). The seed (1) and length (900 000) were fixed before any
#    expert was trained; neither is tuned.
#
# Each step is skipped when its checkpoint exists. The commands, wall times
# and final training returns are appended to runs/results/expert/RUN.md.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:?usage: bash bench/expert.sh TASK}
case $task in
hopper | walker2d | ant | halfcheetah) pre=100000 ;;
pong) pre=1000000 ;;
*) echo "unknown task $task: hopper, walker2d, ant, halfcheetah or pong" >&2; exit 2 ;;
esac
go build -o bin/ultra ./cmd/ultra
# The commit the binary is built from (recorded in RUN.md: the tree may move on while it runs).
built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' with uncommitted changes')"
mkdir -p runs/results/pre runs/results/expert
log=runs/results/expert/RUN.md
run() { # name, output dir, command...
  local name=$1 dir=$2; shift 2
  [ -f "$dir/checkpoint.bin" ] && { echo "$name: $dir/checkpoint.bin exists, skipped"; return; }
  local t0; t0=$(date +%s)
  "$@" --metrics-addr '' --progress log >"$dir.log" 2>&1
  echo "- $name ($built): \`$*\`, $(( $(date +%s) - t0 )) s; $(tail -1 "$dir.log")" | tee -a "$log"
}
run "$task sub-optimal agent" runs/results/pre/$task bin/ultra train --env "$task" --steps "$pre" --seed 1 --out runs/results/pre/$task
[ "$task" = pong ] && exit 0
run "$task expert" runs/results/expert/$task bin/ultra refine --checkpoint runs/results/pre/$task/checkpoint.bin \
  --variant ppo --steps 900000 --seed 1 --out runs/results/expert/$task
