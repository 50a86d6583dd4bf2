#!/usr/bin/env bash
# bench/reward-on.sh — the measurement that chose `--reward-on`'s default
# (issue 15). Settings and the decision rule were fixed before the run:
#
#   hopper, the results tables' settings (pretrain 100 000 steps, 16
#   collected episodes, scripted advisor, refine 100 000 steps, 10 eval
#   episodes, seeds 1-10); ultra-r, ultra-ra and placebo once with
#   --reward-on state and once with --reward-on action, from the same
#   checkpoint and annotations.
#
#   Rule: the default is action (the paper's definition: r_LLM judges the
#   action taken) unless, for ultra-r or ultra-ra, state is better by both
#   Welch's t-test and the Mann–Whitney U test at p < 0.05, Holm-adjusted
#   over the two comparisons.
#
#   bash bench/reward-on.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/reward-on}
mkdir -p "$out"
go build -o bin/ultra ./cmd/ultra
common=(--env hopper --collect-episodes 16 --refine-steps 100000 --eval-episodes 10 --seeds 10 --jobs 2
  --advisor scripted --metrics-addr "")
t0=$(date +%s)
bin/ultra experiment "${common[@]}" --out "$out/state" --pretrain-steps 100000 --variants ppo,ultra-r,ultra-ra,placebo \
  --reward-on state >"$out-state.log" 2>&1
bin/ultra experiment "${common[@]}" --out "$out/action" --checkpoint "$out/state/pretrain/checkpoint.bin" \
  --variants ultra-r,ultra-ra,placebo --reward-on action >"$out-action.log" 2>&1
echo "wall time $(( $(date +%s) - t0 )) s"
/usr/bin/python3 - "$out" <<'PY'
import csv, sys
from scipy import stats
out = sys.argv[1]
def load(mode):
    with open(f"{out}/{mode}/results.csv") as f:
        return {r["variant"]: [float(x) for x in r["per_seed"].split(";")] for r in csv.DictReader(f)}
s, a = load("state"), load("action")
ps = []
for v in ["ultra-r", "ultra-ra", "placebo"]:
    w = stats.ttest_ind(a[v], s[v], equal_var=False).pvalue
    m = stats.mannwhitneyu(a[v], s[v], alternative="two-sided").pvalue
    ma, ms = sum(a[v]) / len(a[v]), sum(s[v]) / len(s[v])
    print(f"{v:9s} state {ms:8.1f}  action {ma:8.1f}  action-state {ma-ms:+8.1f}  Welch p {w:.3f}  Mann-Whitney p {m:.3f}")
    if v != "placebo":
        ps.append((v, ms - ma, w, m))
# Holm over the two comparisons.
state_wins = []
for test in (2, 3):
    order = sorted(ps, key=lambda x: x[test])
    for i, row in enumerate(order):
        adj = min(1, (len(order) - i) * row[test])
        if adj < 0.05 and row[1] > 0:
            state_wins.append((row[0], test))
wins = {v for v, _ in state_wins if sum(1 for w, _ in state_wins if w == v) == 2}
print("default:", "state (better for " + ", ".join(sorted(wins)) + ")" if wins else "action (state is not better by both tests)")
PY
