#!/usr/bin/env bash
# bench/judge.sh — is the advice good? `ultra judge` on the published
# tables' annotations (issue 31):
#
#   bash bench/judge.sh RESULTS OUT TASK...   # e.g. runs/results docs/results/judge hopper walker2d ant
#
# For each task, judges RESULTS/TASK/annotate/*.jsonl (every advisor the
# experiment annotated with) against the sub-optimal agent they were made
# for, RESULTS/pre/TASK/checkpoint.bin, with the episodes they came from
# (RESULTS/TASK/collect/episodes.jsonl), at the judge's defaults (8
# rollouts of each arm to 200 steps, the suggestion held 1 step, seed 1).
# The random advisor (OUT/TASK/random.jsonl) and, where
# RESULTS/expert/TASK/checkpoint.bin exists, the expert advisor
# (OUT/TASK/expert.jsonl) annotate the same episodes first and are judged
# beside them. Writes OUT/TASK/judge.{md,json} and appends the
# commands and wall times to OUT/RUN.md. $JUDGE_ARGS adds flags to every
# judge command (e.g. JUDGE_ARGS="--follow 10").
set -euo pipefail
results=${1:?usage: bash bench/judge.sh RESULTS OUT TASK...}
out=${2:?usage: bash bench/judge.sh RESULTS OUT TASK...}
shift 2
cd "$(dirname "$0")/.."
go build -o bin/ultra ./cmd/ultra
built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' with uncommitted changes')"
mkdir -p "$out"
for task in "$@"; do
	mkdir -p "$out/$task"
	anns=$(ls "$results/$task"/annotate/*.jsonl | paste -sd, -)
	# The random advisor (random steps, in-space actions and rewards, seed 1): advice of no quality.
	bin/ultra annotate --traj "$results/$task/collect/episodes.jsonl" --advisor random --advisor-seed 1 \
		--out "$out/$task/random.jsonl" --force >/dev/null
	anns="$anns,$out/$task/random.jsonl"
	if [ -f "$results/expert/$task/checkpoint.bin" ]; then
		bin/ultra annotate --traj "$results/$task/collect/episodes.jsonl" --advisor expert \
			--expert "$results/expert/$task/checkpoint.bin" --out "$out/$task/expert.jsonl" --force >/dev/null
		anns="$anns,$out/$task/expert.jsonl"
	fi
	cmd=(bin/ultra judge --checkpoint "$results/pre/$task/checkpoint.bin" --annotations "$anns"
		--traj "$results/$task/collect/episodes.jsonl" --progress log --out "$out/$task" --force ${JUDGE_ARGS:-})
	start=$(date +%s.%N)
	"${cmd[@]}" | tee "$out/$task/summary.txt"
	wall=$(echo "$(date +%s.%N) - $start" | bc)
	{
		echo "- $(date -u +%FT%TZ) commit $built, $(nproc) cores: \`${cmd[*]}\` — wall ${wall%????} s"
	} >>"$out/RUN.md"
done
