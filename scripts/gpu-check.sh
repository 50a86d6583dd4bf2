#!/usr/bin/env bash
# gpu-check.sh — every GPU check of the CUDA backend in one call (make gpu-check), for a
# machine lent for minutes: an NVIDIA GPU, a C compiler, and Go and MuJoCo or the bundle of
# ../shared/tools/gpu-bundle.sh (.gpubundle/setup.sh is sourced when present). On a lent
# machine whose tool copies back a folder $OUT:
#
#   source .gpubundle/setup.sh && GPU_CHECK_OUT=$OUT make gpu-check
#
# scripts/gpucheck runs the checks, each under its own limit within a total budget (default
# 420 s), cheapest and most telling first and bench/gpu.sh last: build, device, prototypes,
# kernels, agreement, hopper, env-scaling (when bench/env-scaling.sh exists), bench. It prints
# one JSON summary at the end (stdout; progress goes to stderr) and writes it, as
# summary.json, with every check's log into GPU_CHECK_OUT (default: a new temporary folder,
# printed). The exit status is 1 if a check failed.
#
#   GPU_CHECK_EMULATOR=1  rehearse without a GPU: the checks run on the CPU emulator of the
#                         driver and bench/gpu.sh is skipped (also chosen when nvidia-smi lists
#                         no GPU; GPU_CHECK_EMULATOR=0 refuses to run without one)
#   GPU_CHECK_BUDGET=420  seconds for all the checks;  GPU_CHECK_BENCH_ROUNDS=2  bench/gpu.sh's rounds
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .gpubundle/setup.sh ] && ! command -v go >/dev/null; then
  # shellcheck disable=SC1091
  source .gpubundle/setup.sh >/dev/null
fi
command -v go >/dev/null || { echo "gpu-check: Go is not installed: install it, or pack it here with  bash ../shared/tools/gpu-bundle.sh  and  source .gpubundle/setup.sh  there" >&2; exit 2; }
# Built, not `go run`: a signal to this script then reaches gpucheck, which stops the running
# check and still writes the summary.
go build -o bin/gpucheck ./scripts/gpucheck
exec bin/gpucheck
