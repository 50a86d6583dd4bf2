#!/usr/bin/env bash
# bench/prompt-coverage.sh — what the LLM advisor is shown, before and after
# the multi-resolution summaries (issue 19), per task, with no LLM at all:
#
#   bash bench/prompt-coverage.sh [DIR]      (default runs/prompt-coverage)
#
# For each task (hopper, walker2d, ant, halfcheetah, pong) it trains 100 000
# steps (seed 1) and collects 16 episodes, unless DIR/TASK/traj.jsonl exists;
# then it writes the prompts three times with `ultra annotate --advisor llm
# --print-prompts` (nothing is sent):
#   before: summary stride, 1200 tokens per episode, no contrast (the
#           defaults before issue 19);
#   stride: summary stride at the new default budget, no contrast (what the
#           budget alone buys);
#   after:  the defaults.
# It prints the README's before/after table (coverage of the last 60 steps of
# each failed episode, share of the scripted expert's critical steps the
# prompt lets the LLM cite, prompt tokens) and the cost table of the summary
# budget (hopper and pong, 16 episodes per annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/prompt-coverage}
mkdir -p "$out" bin
go build -o bin/ultra ./cmd/ultra
u=bin/ultra
printf 'summary: stride\nsummary_tokens: 1200\ncontrast: false\n' > "$out/before.yaml"
printf 'summary: stride\ncontrast: false\n' > "$out/stride.yaml"

for task in hopper walker2d ant halfcheetah pong; do
  d=$out/$task
  if [ ! -f "$d/traj.jsonl" ]; then
    $u train --env "$task" --steps 100000 --seed 1 --out "$d/run" --metrics-addr '' >"$d.train.log" 2>&1
    $u collect --checkpoint "$d/run/checkpoint.bin" --episodes 16 --seed 1 --out "$d/traj.jsonl" >"$d.collect.log"
  fi
  rm -rf "$d/before" "$d/stride" "$d/after"
  $u annotate --traj "$d/traj.jsonl" --advisor llm --print-prompts "$d/before" --llm-config "$out/before.yaml" --json | jq -c .coverage >"$d/before.json"
  $u annotate --traj "$d/traj.jsonl" --advisor llm --print-prompts "$d/stride" --llm-config "$out/stride.yaml" --json | jq -c .coverage >"$d/stride.json"
  $u annotate --traj "$d/traj.jsonl" --advisor llm --print-prompts "$d/after" --json | jq -c .coverage >"$d/after.json"
done

pct() { jq -r "$1" "$2" | awk '{printf "%.1f%%", 100*$1}'; }
echo "| task | failed episodes | last 60 steps shown: before → after (stride at the new budget) | scripted critical steps citable: before → after (stride at the new budget) | prompt tokens per request, before → after | prompt tokens per annotate of 16 episodes, before → after |"
echo "| --- | --- | --- | --- | --- | --- |"
for task in hopper walker2d ant halfcheetah pong; do
  b=$out/$task/before.json a=$out/$task/after.json st=$out/$task/stride.json
  failed=$(jq -r '"\(.failed) of \(.episodes)"' "$a")
  if [ "$(jq -r .failed "$a")" = 0 ]; then cov="— (none failed)"; else cov="$(pct .last_window_coverage "$b") → $(pct .last_window_coverage "$a") ($(pct .last_window_coverage "$st"))"; fi
  frac='"\(.scripted_critical_citable)/\(.scripted_critical)"'
  crit="$(jq -r "$frac" "$b") → $(jq -r "$frac" "$a") ($(jq -r "$frac" "$st"))"
  tpr="$(jq -r '.tokens_per_request|round' "$b") → $(jq -r '.tokens_per_request|round' "$a")"
  tot="$(jq -r .tokens_total "$b") → $(jq -r .tokens_total "$a")"
  echo "| $task | $failed | $cov | $crit | $tpr | $tot |"
done

# The cost of the summary budget. List prices (US$ per million tokens,
# input/output) as assumptions: gpt-4o 2.50/10.00, gpt-4o-mini 0.15/0.60
# (OpenAI's pricing page as of 2024-10; check the current page). Completion
# is counted at its cap: 4 requests × max_tokens 1500 = 6000 tokens.
echo
echo "| task | summary_tokens | last 60 steps shown | prompt tokens per annotate of 16 episodes | largest request | gpt-4o (US\$) | gpt-4o-mini (US\$) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for task in hopper pong; do
  for tok in 1200 3000 6000 12000; do
    d=$out/$task/budget-$tok
    rm -rf "$d"
    printf 'summary_tokens: %d\n' "$tok" > "$out/budget-$tok.yaml"
    c=$($u annotate --traj "$out/$task/traj.jsonl" --advisor llm --print-prompts "$d" --llm-config "$out/budget-$tok.yaml" --json | jq -c .coverage)
    in=$(jq -r .tokens_total <<<"$c")
    comp=$(( $(jq -r .requests <<<"$c") * 1500 ))
    awk -v t="$task" -v k="$tok" -v cov="$(jq -r .last_window_coverage <<<"$c")" -v inp="$in" -v mx="$(jq -r .tokens_max <<<"$c")" -v comp="$comp" \
      'BEGIN { printf "| %s | %d | %.1f%% | %d | %d | %.3f | %.4f |\n", t, k, 100*cov, inp, mx, (inp*2.50+comp*10.00)/1e6, (inp*0.15+comp*0.60)/1e6 }'
  done
done
