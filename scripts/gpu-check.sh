#!/usr/bin/env bash
# gpu-check.sh — every GPU check of the CUDA backend in one command (make gpu-check),
# for a machine with an NVIDIA GPU, Go, a C compiler and MuJoCo (or the bundle of
# ../shared/tools/gpu-bundle.sh: .gpubundle/setup.sh is sourced when present).
# Prints one summary line per check at the end; the exit status is 1 if any failed.
#
#   1. ucuda.h's own prototypes against the CUDA headers installed there
#   2. the kernels on the GPU (go test ./cuda/ with ULTRA_TEST_GPU=1)
#   3. agreement with the native (MLP) and gorgonia (CNN) backends at 1e-4:
#      forward, every gradient, 20 Adam steps
#   4. a 20-iteration hopper run on the GPU whose losses and returns track the CPU run
#   5. bench/gpu.sh: update throughput against PyTorch eager, pong-pixels end to end
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -f .gpubundle/setup.sh ]; then
  # shellcheck disable=SC1091
  source .gpubundle/setup.sh >/dev/null
fi
command -v go >/dev/null || { echo "gpu-check: Go is not installed (or source .gpubundle/setup.sh)" >&2; exit 1; }
nvidia-smi -L 2>/dev/null || echo "gpu-check: nvidia-smi not found; the checks will say whether the driver sees a GPU" >&2
logs=${GPU_CHECK_LOGS:-$(mktemp -d)}
summary=()
# check NAME FIGURE-REGEX COMMAND...: runs COMMAND, keeps its log, and records PASS/FAIL with
# the log lines matching FIGURE-REGEX (the figures the check measured).
check() {
  local name=$1 figures=$2
  shift 2
  local log="$logs/check$((${#summary[@]} + 1)).log"
  echo "== $name" >&2
  if "$@" >"$log" 2>&1; then status=PASS; else status=FAIL; tail -40 "$log" >&2; fi
  local figs
  figs=$(grep -E "$figures" "$log" | sed 's/^ *//; s/^[a-z_]*_test.go:[0-9]*: //' | tr '\n' ';' | sed 's/;$//')
  summary+=("$status  $name${figs:+ — $figs}  [$log]")
}
check "prototypes (ucuda.h vs the installed cuda.h, cublas_api.h)" "prototypes match|SKIP" \
  go test -tags ultracuda -count=1 -run 'TestPrototypes' -v ./cuda/
export ULTRA_TEST_GPU=1
check "kernels, gemm, reductions, im2col on the GPU" "^ok|FAIL" \
  go test -tags ultracuda -count=1 ./cuda/
check "agreement with native/gorgonia at 1e-4 (forward, gradients, 20 Adam steps; MLP and CNN)" "after 20 steps|gradients: worst" \
  go test -tags ultracuda -count=1 -v -run 'TestCUDAInit|TestCUDAMatchesNative|TestCUDATraining|TestCUDACNN|TestCUDAKernels|TestCUDAHostMirrors' ./engine/nn/
check "20-iteration hopper run on the GPU tracks the CPU run" "iteration 20|worst relative" \
  go test -tags ultracuda -count=1 -v -run 'TestCUDATracksCPU' ./engine/ppo/
check "bench/gpu.sh (update vs PyTorch eager; pong-pixels end to end)" "^(GPU|ultra-cuda|pytorch|pong-pixels)" \
  bash bench/gpu.sh
echo
echo "gpu-check summary (logs in $logs):"
failed=0
for line in "${summary[@]}"; do
  echo "$line"
  case $line in FAIL*) failed=1 ;; esac
done
exit $failed
