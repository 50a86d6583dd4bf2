#!/usr/bin/env bash
# install-cuda-toolkit.sh — get nvcc and the cuBLAS headers on Debian 12 (bookworm), as root.
#
# Only `make cuda-kernels` needs this: it recompiles cuda/kernels/*.cu into the committed
# fatbin. Building or running `go build -tags cuda` needs no CUDA package at all (the driver
# and cuBLAS are loaded at run time), and neither do the tests.
#
# Debian ships the CUDA 11.8 toolkit in the `non-free` component, which the default sources
# leave out. This script adds a sources file for bookworm with `contrib non-free` (signed by
# the Debian archive keyring), runs apt-get update and installs nvidia-cuda-toolkit and
# nvidia-cuda-dev without recommends (about 1.6 GB, ~3 minutes). nvcc 11.8 compiles host code
# with the toolkit's own gcc-11 wrapper (it refuses gcc 12): keep nvcc's default host compiler.
set -euo pipefail

if command -v nvcc >/dev/null 2>&1; then
  echo "install-cuda-toolkit: nvcc is already installed: $(nvcc --version | tail -1)" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-cuda-toolkit: must run as root (it adds an apt source and installs packages); run" >&2
  echo "  sudo bash $0" >&2
  exit 1
fi
if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  echo "install-cuda-toolkit: this script is for Debian 12 (bookworm); on other systems install" >&2
  echo "  NVIDIA's CUDA toolkit (nvcc) from https://developer.nvidia.com/cuda-downloads" >&2
  exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -f "$keyring" ]; then
  echo "install-cuda-toolkit: $keyring is missing; install it with: apt-get install debian-archive-keyring" >&2
  exit 1
fi
src=/etc/apt/sources.list.d/ultra-nonfree.sources
cat >"$src" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: $keyring
SRC
echo "install-cuda-toolkit: wrote $src; installing nvidia-cuda-toolkit nvidia-cuda-dev (~1.6 GB)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit nvidia-cuda-dev >/dev/null
echo "install-cuda-toolkit: $(nvcc --version | tail -1)" >&2
