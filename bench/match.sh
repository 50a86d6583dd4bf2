#!/usr/bin/env bash
# bench/match.sh — the match spaces measured on a published table's agent
# (issue 20):
#
#   bash bench/match.sh TASK [DIR]   # DIR: an experiment directory (default runs/results/TASK, bench/results.sh's)
#
# runs `ultra match` on DIR's pretrained checkpoint, its collected episodes
# and the scripted advisor's annotations, and writes the table to
# docs/results/dose/TASK-match.md with the command in the file.
#
# Nothing is trained: two 4096-step rollouts of the checkpoint (the
# calibration rollout refinement uses, and a held-out one), the table's
# nearest-critical-state distance at each state, for each match space
# (full, task, scaled). Settings fixed before the first measurement, as
# the command's defaults: 4096 steps (DefaultCalibrationSteps), precision
# window k = 20 steps before a failure (0.16 s of hopper or walker2d
# control; the scripted advisor marks states on the way to a fall), target
# hit rates 0.5%, 1%, 2%, 5% (the issue's range), the uncalibrated radius
# at the 0.5-quantile (the default before this issue).
#
# Rule for the default space, fixed with the settings: keep full unless
# another space has a higher precision at every calibrated target on both
# hopper and walker2d.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:?usage: bash bench/match.sh TASK [DIR]}
dir=${2:-runs/results/$task}
go build -o bin/ultra ./cmd/ultra
mkdir -p docs/results/dose
out=docs/results/dose/$task-match.md
cmd=(bin/ultra match --checkpoint "$dir/pretrain/checkpoint.bin" --annotations "$dir/annotate/scripted.jsonl"
  --traj "$dir/collect/episodes.jsonl" --steps 4096 --k 20 --target-hit-rate 0.5%,1%,2%,5%)
"${cmd[@]}" --out "$out"
{
  echo
  echo "Made with \`bash bench/match.sh $task $dir\` at commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d):"
  echo
  echo '```sh'
  echo "${cmd[*]}"
  echo '```'
} >>"$out"
