#!/usr/bin/env bash
# deps.sh [build|test] — make sure what ultra needs to build (default) or to
# build and test is installed.
#
# Build: Go ≥ 1.24 and a C compiler (cgo), MuJoCo's C library and headers
# (Debian/Ubuntu: libmujoco-dev) and OpenBLAS (libopenblas-dev). Test, in
# addition: promtool (Debian package prometheus), which the tests run on the
# /metrics exposition and the dashboard's queries; protoc, python3-protobuf
# python3-numpy and python3-onnx, the independent readers of the TensorBoard
# files and the exported policies. Optional extras are named with the feature that wants
# them: OSMesa (libosmesa6-dev) for the offscreen renderer, and for its tests
# Mesa's EGL (libegl1 libegl-mesa0, for MUJOCO_GL=egl); ffmpeg lets
# `ultra video` write MP4 instead of GIF. As root on Debian/Ubuntu the missing
# packages are installed with apt-get (running 'apt-get update' first);
# otherwise the exact command to run is printed and the script fails.
set -euo pipefail

mode=${1:-build}
case "$mode" in
  build|test) ;;
  *) echo "deps: unknown mode '$mode': use build (the default) or test" >&2; exit 2 ;;
esac

missing=()
have_header() { printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }
# The linker cache, read once: 'ldconfig -p | grep -q' would fail under
# pipefail whenever grep quits before ldconfig has written everything.
libs=$(ldconfig -p 2>/dev/null || true)
have_lib() { grep -q "$1" <<<"$libs"; }

command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || missing+=(make)
if ! have_header mujoco/mujoco.h || ! have_lib 'libmujoco\.so'; then
  missing+=(libmujoco-dev)
fi
# OpenBLAS is the native networks' matrix kernel (bindings/blas; a build
# with -tags noblas does without it).
if ! have_header cblas.h || ! have_lib 'libopenblas\.so'; then
  missing+=(libopenblas-dev)
fi
# promtool checks the /metrics exposition in the tests (prometheus package);
# building and running ultra do not need it.
# protoc and python3-protobuf read the TensorBoard event files back in the
# tests, independently of the writer (internal/tfevents/testdata).
if [ "$mode" = test ]; then
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
  /usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || missing+=(python3-protobuf)
  /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || missing+=(python3-numpy) # python/ultra_policy.py's test
  /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || missing+=(python3-onnx) # the ONNX export's checker
  # headless Chromium opens the report pages (engine/report, and with -tags render
  # engine/experiment's pictures and clips) and checks every image loads
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
fi
# OSMesa is the OpenGL of MuJoCo's offscreen renderer (build tag render:
# `ultra video`, make build-render, make test-render). Optional: the default
# build does without it. Installed when we can; otherwise named below.
optional=()
if ! have_header GL/osmesa.h || ! have_lib 'libOSMesa\.so'; then
  optional+=(libosmesa6-dev)
fi
# EGL (MUJOCO_GL=egl) is opened at run time, so no build needs it; the
# tests draw through Mesa's EGL (its software device) to check that path.
if [ "$mode" = test ] && { ! have_lib 'libEGL\.so\.1' || ! have_lib 'libEGL_mesa\.so\.0'; }; then
  optional+=(libegl1 libegl-mesa0)
fi

if [ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${missing[*]} ${optional[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" "${optional[@]}" >/dev/null
  elif [ ${#missing[@]} -eq 0 ]; then
    echo "deps: optional ${optional[*]} missing (MuJoCo's offscreen renderer for 'ultra video', build tag render); install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${optional[*]}" >&2
  else
    echo "deps: missing ${missing[*]}; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed. Install Go 1.24 or newer from https://go.dev/dl/ and put it on PATH" >&2
  echo "  (Debian's golang-go is too old for this module)." >&2
  exit 1
fi
gov=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n1.24\n' "$gov" | sort -V | head -1)" != "1.24" ]; then
  echo "deps: Go $gov is too old; ultra needs Go 1.24 or newer (https://go.dev/dl/)" >&2
  exit 1
fi
extra=""
[ "$mode" = test ] && extra=", promtool, protoc, python3-protobuf, python3-numpy, python3-onnx and chromium"
echo "deps: ok for $mode (go $gov, MuJoCo and OpenBLAS headers and libraries$extra found)" >&2
