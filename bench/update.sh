#!/usr/bin/env bash
# bench/update.sh — the PPO update alone, ultra vs PyTorch on this machine, in
# one run: 10 epochs × 32 minibatches of 64 over a 2048-sample batch, 64-64
# tanh MLPs (obs 11, act 3). Rounds are interleaved so machine noise hits all
# implementations alike; each figure is the median of the per-round medians.
#
#   bash bench/update.sh [ROUNDS] [BACKENDS]      e.g. bash bench/update.sh 3 "gorgonia native"
#
# Needs Debian's python3-torch (run with /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
backends=${2:-"gorgonia native"}
py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "bench/update.sh: PyTorch not found for $py; install it with: sudo apt-get install -y python3-torch" >&2
  exit 1
fi
go build -o bin/ultra ./cmd/ultra
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for b in $backends; do
    bin/ultra bench update --backend "$b" --rounds 3 --json >>"$out"
  done
  "$py" bench/ppo_update_torch.py --rounds 3 >>"$out"
  "$py" bench/ppo_update_torch.py --rounds 3 --threads 2 | sed 's/pytorch-eager/pytorch-eager-2threads/' >>"$out"
done
python3 bench/ratios.py "$out" pytorch-eager
