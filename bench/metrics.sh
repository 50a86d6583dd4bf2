#!/usr/bin/env bash
# bench/metrics.sh — the cost of Prometheus metrics: `ultra train` with
# --metrics-addr set and scraped every second vs with metrics disabled, same
# run length, alternating for ROUNDS rounds; prints the SPS of each and the
# ratio of medians.
#
#   bash bench/metrics.sh [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-102400}
go build -o bin/ultra ./cmd/ultra
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
port=19464
sps() { # run dir
  python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(x["global_step"]-p for x,p in zip(r,[0]+[y["global_step"] for y in r[:-1]]))/sum(x["rollout_seconds"]+x["update_seconds"] for x in r))' "$1/metrics.jsonl"
}
for r in $(seq "$rounds"); do
  bin/ultra train --env hopper --steps "$steps" --seed "$r" --out "$tmp/off$r" --progress log --metrics-addr "" 2>/dev/null >/dev/null
  ( while sleep 1; do curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true; done ) &
  scraper=$!
  bin/ultra train --env hopper --steps "$steps" --seed "$r" --out "$tmp/on$r" --progress log --metrics-addr "127.0.0.1:$port" 2>/dev/null >/dev/null
  kill $scraper
  echo "round $r: off $(sps "$tmp/off$r") SPS, on+scraped $(sps "$tmp/on$r") SPS"
done | tee "$tmp/out"
python3 - "$tmp/out" <<'PY'
import re, statistics, sys
off, on = [], []
for l in open(sys.argv[1]):
    m = re.search(r"off ([\d.]+) SPS, on\+scraped ([\d.]+)", l)
    off.append(float(m.group(1))); on.append(float(m.group(2)))
print(f"median SPS: disabled {statistics.median(off):.0f}, enabled and scraped every second {statistics.median(on):.0f}, ratio {statistics.median(on)/statistics.median(off):.3f}")
PY
