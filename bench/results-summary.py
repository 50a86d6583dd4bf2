#!/usr/bin/env python3
"""bench/results-summary.py — the README's summary of the published tables.

Reads docs/results/<task>/results.csv for each task (written by
bench/results.sh) and prints a Markdown table: per task, ppo's mean, each
variant's difference from ppo with its Holm-adjusted p-values (Welch,
Mann-Whitney), and where ULTRA-RA ranks, beside the paper's claim. Run it
after bench/results.sh; it only reads files.

    /usr/bin/python3 bench/results-summary.py [TASK ...]
"""
import csv
import os
import sys

TASKS = sys.argv[1:] or ["pong", "hopper", "walker2d", "ant", "halfcheetah"]
VARIANTS = ["ultra-a", "ultra-r", "ultra-ra", "ultra-i", "ultra-ia", "random", "rice", "llm-rnd", "rnd", "placebo"]
PAPER = {"pong": "ULTRA-RA above each single signal and the baselines",
         "hopper": "ULTRA-RA above each single signal and the baselines",
         "walker2d": "ULTRA-RA above each single signal and the baselines",
         "ant": "ULTRA-RA above each single signal and the baselines",
         "halfcheetah": "not in the paper"}


def cell(r):
    if r["too_few_seeds"] == "true":
        return "%+.1f%% (too few seeds)" % float(r["delta_pct"])
    s = "%+.1f%% (%s / %s)" % (float(r["delta_pct"]), p(r["welch_p_holm"]), p(r["mannwhitney_p_holm"]))
    return "**" + s + "**" if r["significant"] == "true" else s


def p(x):
    x = float(x)
    if x < 0.001:
        return "<0.001"
    return "%.3f" % x if x < 0.01 else "%.2f" % x


print("| task | ppo mean | " + " | ".join(VARIANTS) + " | ULTRA-RA's rank by IQM | paper's claim |")
print("|---|---:|" + "---:|" * len(VARIANTS) + "---|---|")
for t in TASKS:
    path = os.path.join("docs/results", t, "results.csv")
    if not os.path.exists(path):
        print(f"| {t} | not run |" + " — |" * len(VARIANTS) + f" — | {PAPER.get(t, '')} |")
        continue
    with open(path) as f:
        rows = {r["variant"]: r for r in csv.DictReader(f)}
    ranked = sorted(rows, key=lambda v: -float(rows[v]["iqm"]))
    rank = ranked.index("ultra-ra") + 1 if "ultra-ra" in rows else "—"
    cells = [cell(rows[v]) if v in rows else "—" for v in VARIANTS]
    print(f"| {t} | {float(rows['ppo']['mean']):.1f} | " + " | ".join(cells) + f" | {rank} of {len(rows)} | {PAPER.get(t, '')} |")
