"""Summarises a benchmark script's JSON lines ({"impl": ..., "samples_per_second": ...},
several rounds each): the median per implementation and its ratio to the reference
implementation, named exactly or by the end of its name.

    python3 bench/ratios.py FILE REFERENCE
"""
import json
import statistics
import sys

path, ref_name = sys.argv[1], sys.argv[2]
by = {}
for line in open(path):
    if line.strip():
        r = json.loads(line)
        by.setdefault(r["impl"], []).append(r["samples_per_second"])
ref = next((k for k in by if k == ref_name), None) or next(k for k in by if k.endswith(ref_name))
m_ref = statistics.median(by[ref])
print(f"{'implementation':30} {'samples/s':>12} {'vs ' + ref:>34}")
for impl, v in by.items():
    m = statistics.median(v)
    print(f"{impl:30} {m:12.1f} {m / m_ref:33.2f}x")
