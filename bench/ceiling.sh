#!/usr/bin/env bash
# bench/ceiling.sh — the ceiling of policy modulation (issue 25):
#
#   bash bench/ceiling.sh TASK ADVISOR [VARIANTS]   # TASK hopper|walker2d, ADVISOR expert|scripted
#
# refines the tables' sub-optimal agent (runs/results/pre/TASK, made by
# bench/expert.sh) under ADVISOR's annotations into runs/ceiling/TASK-ADVISOR
# and copies the table into docs/results/ceiling/TASK-ADVISOR/ with the
# command, commit and wall time in RUN.md. The expert advisor's policy is
# runs/results/expert/TASK (the same agent continued to 1 M steps).
#
# Every setting was fixed before the first run, not tuned on the results:
# the tables' budget (16 collected episodes, 100 000 refinement steps, 10
# evaluation episodes, eval seed 1000), 20 seeds, at most 5 critical states
# per episode for both advisors, every ULTRA knob at its default (calibrated
# matching at 2%, alpha 0.1, the implicit reward on the executed action,
# override 1 → 0 over the first half, imitation weight β 1), and the
# variants ppo, ultra-a, ultra-r, ultra-ra, ultra-i, ultra-ia and placebo.
# VARIANTS runs a subset first (ultra-i with the expert answers the
# question fastest); rerunning with the full list adds the rest to the same
# directory (variants may be added; the seeds are fixed at 20).
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:?usage: bash bench/ceiling.sh TASK ADVISOR [VARIANTS]}
adv=${2:?usage: bash bench/ceiling.sh TASK ADVISOR [VARIANTS]}
variants=${3:-ppo,ultra-a,ultra-r,ultra-ra,ultra-i,ultra-ia,placebo}
case $task in hopper | walker2d) ;; *) echo "unknown task $task: hopper or walker2d" >&2; exit 2 ;; esac
ck=runs/results/pre/$task/checkpoint.bin
[ -f "$ck" ] || bash bench/expert.sh "$task"
extra=()
case $adv in
expert) extra=(--expert runs/results/expert/$task/checkpoint.bin); [ -f "${extra[1]}" ] || bash bench/expert.sh "$task" ;;
scripted) ;;
*) echo "unknown advisor $adv: expert or scripted" >&2; exit 2 ;;
esac
out=runs/ceiling/$task-$adv
docs=docs/results/ceiling/$task-$adv
go build -o bin/ultra ./cmd/ultra
# The commit the binary is built from (recorded in RUN.md: the tree may move on while it runs).
built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' with uncommitted changes')"
mkdir -p "$docs" runs/ceiling
note="fixed in bench/ceiling.sh before the first run: the tables' budget, 20 seeds, every ULTRA knob at its default"
cmd=(bin/ultra experiment --env "$task" --checkpoint "$ck" --out "$out" --collect-episodes 16 --variants "$variants"
  --seeds 20 --refine-steps 100000 --eval-episodes 10 --jobs 2 --advisor "$adv" "${extra[@]}" --metrics-addr "")
t0=$(date +%s)
"${cmd[@]}" --note "$note" >>"$out.log" 2>&1
wall=$(( $(date +%s) - t0 ))
for f in results.md results.csv eval.svg curves.svg report.html experiment.json; do
  [ -f "$out/$f" ] && cp "$out/$f" "$docs/"
done
{
  echo "- \`${cmd[*]}\` (variants $variants): commit $built, wall time $wall s on $(nproc) cores, $(date -u +%Y-%m-%d)."
} >>"$docs/RUN.md"
echo "$task $adv ($variants): $wall s → $docs"
