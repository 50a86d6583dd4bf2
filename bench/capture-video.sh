#!/usr/bin/env bash
# bench/capture-video.sh — the cost of --capture-video at its default cadence:
# `ultra train --env ENV` (built with -tags render) with and without
# --capture-video, same run length and seed, alternating for ROUNDS rounds;
# prints each run's end-to-end steps per second (steps / wall time of the
# command, clips included), the seconds each clip took, and the ratio of
# medians. STEPS defaults to 409600 (hopper: 200 iterations, clips after 100
# and 200).
#
#   bash bench/capture-video.sh [ROUNDS] [STEPS] [ENV]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-409600}
envid=${3:-hopper}
go build -tags render -o bin/ultra-render ./cmd/ultra
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # name extra-flags...
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  bin/ultra-render train --env "$envid" --steps "$steps" --seed 1 --out "$tmp/$name" --progress log --metrics-addr "" "$@" 2>"$tmp/$name.log" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$steps/($t1-$t0):.1f}')"
}
for r in $(seq "$rounds"); do
  off=$(run "off$r")
  on=$(run "on$r" --capture-video)
  clips=$(grep -o 'msg=video .*seconds=[0-9.]*' "$tmp/on$r.log" | sed 's/.*seconds=//' | xargs printf '%.2f ' || true)
  echo "round $r: off $off steps/s, capture $on steps/s (clips: ${clips}s)"
done | tee "$tmp/out"
python3 - "$tmp/out" <<'PY'
import re, statistics, sys
off, on = [], []
for l in open(sys.argv[1]):
    m = re.search(r"off ([\d.]+) steps/s, capture ([\d.]+)", l)
    off.append(float(m.group(1))); on.append(float(m.group(2)))
print(f"median steps/s end to end: without {statistics.median(off):.0f}, with --capture-video {statistics.median(on):.0f}, ratio {statistics.median(on)/statistics.median(off):.3f}")
PY
