#!/usr/bin/env bash
# bench/cnn.sh — the Nature-CNN PPO minibatch step (pong-pixels), ultra's
# native and gorgonia backends vs PyTorch eager on this machine, in one run: Grad + Step on
# 256 samples of 4×84×84 (CleanRL ppo_atari). Rounds are interleaved; each
# figure is the median over rounds.
#
#   bash bench/cnn.sh [ROUNDS]
#
# Needs Debian's python3-torch (run with /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "bench/cnn.sh: PyTorch not found for $py; install it with: sudo apt-get install -y python3-torch" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -c -o bin/nn.test ./engine/nn
for r in $(seq "$rounds"); do
  bin/nn.test -test.run '^$' -test.bench 'CNNUpdate(Native)?$' -test.benchtime 3x |
    awk '/samples\/s/ { impl = ($1 ~ /Native/) ? "ultra-native" : "ultra-gorgonia"
      for (i = 1; i <= NF; i++) if ($(i+1) == "samples/s") printf "{\"impl\": \"%s\", \"samples_per_second\": %s}\n", impl, $i }' >>"$out"
  "$py" bench/cnn_update_torch.py --threads 1 >>"$out"
  "$py" bench/cnn_update_torch.py --threads 2 >>"$out"
done
python3 bench/ratios.py "$out" -2thread
