#!/usr/bin/env bash
# bench/gpu.sh — ultra's CUDA backend against PyTorch eager on the same GPU, in one run.
#
#   bash bench/gpu.sh [ROUNDS]        (make gpu-check runs it; needs python3 with torch+CUDA)
#
# PPO update throughput (samples through forward + backward + Adam per second), the
# rollout on the GPU and minibatches gathered there, statistics read back every
# minibatch on both sides (see bench/ppo_update_torch.py):
#   mlp       hopper MLPs 64-64, rollout 2048, minibatches of 64, 10 epochs
#   mlp4096   the same MLPs, rollout 16384, minibatches of 4096, 10 epochs
#   cnn       Nature-CNN on 256 x 4x84x84 minibatches, rollout 1024, 4 epochs, FP32 on both sides
#   cnn-tf32  the same with TF32 allowed on both sides (PyTorch's default for cuDNN convolutions)
# Rounds are interleaved so that machine noise hits both alike; each figure is the
# median over rounds of each side's median of 3 updates.
#
# End to end: `ultra train --env pong-pixels --device cuda` with 16, 32 and 64 envs
# (CleanRL ppo_atari settings otherwise), steps/s as the median of iterations 3-12.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
py=${PYTHON:-python3}
if ! "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "bench/gpu.sh: $py has no CUDA-enabled PyTorch (or no GPU is visible); set PYTHON to one that has" >&2
  exit 1
fi
mkdir -p bin
go build -tags ultracuda -o bin/ultra-cuda ./cmd/ultra
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A flags=(
  [mlp]=""
  [mlp4096]="--batch 16384 --minibatch 4096"
  [cnn]="--net cnn"
  [cnn-tf32]="--net cnn --tf32"
)
order="mlp mlp4096 cnn cnn-tf32"
for r in $(seq "$rounds"); do
  for w in $order; do
    # shellcheck disable=SC2086
    bin/ultra-cuda bench update --device cuda ${flags[$w]} --rounds 3 --json >>"$tmp/$w"
    # shellcheck disable=SC2086
    "$py" bench/ppo_update_torch.py --device cuda ${flags[$w]} --rounds 3 >>"$tmp/$w"
  done
done
echo "GPU: $(bin/ultra-cuda bench update --device cuda --epochs 1 --rounds 1 | sed 's/^.* on \(.*\): 11×.*/\1/')"
for w in $order; do
  echo "== update: $w"
  python3 bench/ratios.py "$tmp/$w" pytorch-eager
done

echo "== end to end: ultra train --env pong-pixels --device cuda"
for envs in 16 32 64; do
  out="$tmp/pong-$envs"
  bin/ultra-cuda train --env pong-pixels --device cuda --envs "$envs" --steps $((envs * 128 * 12)) \
    --out "$out" --metrics-addr "" --progress log >"$tmp/pong-$envs.log" 2>&1 || { tail -20 "$tmp/pong-$envs.log"; exit 1; }
  python3 - "$out/metrics.jsonl" "$envs" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sps = [r["sps"] for r in rows if r["iteration"] >= 3]
print(f"pong-pixels, {sys.argv[2]:>2} envs: {statistics.median(sps):8.0f} steps/s (median of iterations 3-{rows[-1]['iteration']})")
PY
done
