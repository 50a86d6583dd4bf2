#!/usr/bin/env bash
# Regenerates the real-file seeds of the fuzz targets (issue 14): a small
# hopper run's checkpoint and config, a collected trajectory with snapshots
# and the scripted advisor's annotations of it. The targets' f.Add seeds
# add live data (env states, MuJoCo snapshots) and answer shapes.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ultra" ./cmd/ultra
u="$tmp/ultra"
"$u" train --env hopper --steps 128 --num-steps 64 --num-minibatches 2 --update-epochs 1 --hidden 4 \
	--out "$tmp/run" --progress log --metrics-addr "" >/dev/null 2>&1
"$u" collect --checkpoint "$tmp/run/checkpoint.bin" --episodes 1 --snapshots --out "$tmp/t.jsonl" >/dev/null
"$u" annotate --traj "$tmp/t.jsonl" --advisor scripted --out "$tmp/a.jsonl" >/dev/null
c="go run ./scripts/fuzzcorpus"
$c engine/ppo/testdata/fuzz/FuzzDecodeCheckpoint real-checkpoint="$tmp/run/checkpoint.bin"
$c engine/ultra/testdata/fuzz/FuzzTrajectoriesJSONL real-trajectory="$tmp/t.jsonl"
$c engine/ultra/testdata/fuzz/FuzzAnnotationsJSONL real-annotations="$tmp/a.jsonl"
$c internal/configflags/testdata/fuzz/FuzzDecode real-run-config="$tmp/run/config.yaml"
echo "fuzz seeds written"
