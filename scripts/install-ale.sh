#!/usr/bin/env bash
# Builds the Arcade Learning Environment's C++ library from source and
# installs it (static libale.a and headers) for `go build -tags ale`.
# ultra's binding is written and tested against ALE v0.12.1.
#
#   scripts/install-ale.sh [--version v0.12.1] [--prefix /usr/local] [--src DIR]
#
# --src uses an existing checkout instead of cloning from GitHub. The test
# ROM ALE ships in its sources (tetris.bin, a freely distributable homebrew)
# is copied to PREFIX/share/ultra/roms; commercial ROMs such as pong.bin
# come from elsewhere (see the README).
set -euo pipefail

version=v0.12.1
prefix=/usr/local
src=
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install-ale: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v git >/dev/null || [ -n "$src" ] || missing+=(git)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update && apt-get install -y "${missing[@]}"
  else
    echo "install-ale: missing ${missing[*]}: run  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [ -z "$src" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  src=$tmp/ale
  git clone --depth 1 --branch "$version" https://github.com/Farama-Foundation/Arcade-Learning-Environment "$src"
fi
[ -f "$src/src/ale/ale_interface.hpp" ] || { echo "install-ale: $src is not an ALE source tree" >&2; exit 1; }

build=$src/build-ultra
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DBUILD_CPP_LIB=ON -DBUILD_PYTHON_LIB=OFF -DSDL_SUPPORT=OFF
cmake --build "$build" -j "$(nproc)"
cmake --install "$build"

roms=$prefix/share/ultra/roms
mkdir -p "$roms"
[ -f "$src/src/ale/python/roms/tetris.bin" ] && cp "$src/src/ale/python/roms/tetris.bin" "$roms/"
echo "install-ale: ALE $(cat "$src/version.txt" 2>/dev/null || echo "$version") installed to $prefix; ROMs go in $roms"
echo "install-ale: now  make test-ale ALE_PREFIX=$prefix"
