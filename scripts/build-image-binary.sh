#!/usr/bin/env bash
# build-image-binary.sh — the Go build of the container images, in one place:
# Dockerfile (CPU) and Dockerfile.cuda run it, and so does a test in CI, where
# no Docker engine exists (cmd/ultra TestImageBuilds).
#
#   bash scripts/build-image-binary.sh OUTDIR [TAGS]
#
# Builds OUTDIR/ultra with cgo (MuJoCo, OpenBLAS) and the given build tags
# (ultracuda for the CUDA image), then checks that the binary starts.
set -euo pipefail
out=${1:?usage: build-image-binary.sh OUTDIR [TAGS]}
tags=${2:-}
cd "$(dirname "$0")/.."
mkdir -p "$out"
CGO_ENABLED=1 go build -trimpath -tags "$tags" -o "$out/ultra" ./cmd/ultra
"$out/ultra" envs >/dev/null
echo "built $out/ultra (tags: ${tags:-none})"
