#!/usr/bin/env bash
# bench/results.sh — one published results table (issue 15):
#
#   bash bench/results.sh TASK      # hopper, walker2d, ant, halfcheetah or pong
#
# runs `ultra experiment` with the settings below into runs/results/TASK and
# copies the table, its CSV, the curves and the report into
# docs/results/TASK/, with the command and the wall time in RUN.md.
#
# Every setting was fixed before the first run, not tuned on the results:
# the sub-optimal agent of bench/expert.sh (PPO seed 1 for 100 000 steps;
# Pong (features) 1 000 000, as 100 000 steps of Pong play fewer than 40
# points), 16 collected episodes, 10 evaluation episodes, seeds 1-10, the
# scripted advisor, refinement for 100 000 steps (Pong 200 000), the
# variants of the issue plus this project's ultra-i and ultra-ia, and every
# ULTRA knob at its default (calibrated matching at a 2% target hit rate,
# alpha 0.1 MuJoCo / 0.5 Pong as in the paper, the implicit reward on the
# executed action, the override annealed over the first half, rice
# restarting half its episodes, imitation weight β 1). The tables of
# 2026-12-01 (an older radius rule and the action judgement before
# issue 25's fix) are in docs/results/earlier/.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:?usage: bash bench/results.sh TASK}
case $task in
hopper | walker2d | ant | halfcheetah) refine=100000 ;;
pong) refine=200000 ;;
*) echo "unknown task $task: hopper, walker2d, ant, halfcheetah or pong" >&2; exit 2 ;;
esac
out=runs/results/$task
docs=docs/results/$task
ck=runs/results/pre/$task/checkpoint.bin
[ -f "$ck" ] || bash bench/expert.sh "$task"
go build -o bin/ultra ./cmd/ultra
# The commit the binary is built from (recorded in RUN.md: the tree may move on while it runs).
built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' with uncommitted changes')"
mkdir -p "$docs" runs/results
cmd=(bin/ultra experiment --env "$task" --checkpoint "$ck" --out "$out" --collect-episodes 16
  --variants ppo,ultra-a,ultra-r,ultra-ra,ultra-i,ultra-ia,random,rice,llm-rnd,rnd,placebo --seeds 10 --refine-steps "$refine"
  --eval-episodes 10 --jobs 2 --advisor scripted --metrics-addr "")
t0=$(date +%s)
"${cmd[@]}" >"$out.log" 2>&1
wall=$(( $(date +%s) - t0 ))
for f in results.md results.csv eval.svg curves.svg report.html experiment.json; do
  [ -f "$out/$f" ] && cp "$out/$f" "$docs/"
done
{
  echo "# $task: how this table was made"
  echo
  echo '```sh'
  line=
  for a in "${cmd[@]}"; do
    case $a in
    '') a="''" ;;
    *[!A-Za-z0-9_./,:=@%+-]*) a=$(printf '%q' "$a") ;;
    esac
    line+="${line:+ }$a"
  done
  echo "$line"
  echo '```'
  echo
  echo "Commit $built. Wall time $wall s on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%d)${resumed:+; $resumed}. Reproduce with \`bash bench/results.sh $task\`."
} >"$docs/RUN.md"
echo "$task: $wall s → $docs"
