//go:build !ultracuda

package ppo

import (
	"errors"

	"github.com/ultra-rl/ultra/engine/nn"
)

// CUDABuild reports whether this binary was built with the ultracuda tag,
// that is, whether --device cuda can run at all.
const CUDABuild = false

// errNoCUDABuild says why a binary built without the ultracuda tag cannot
// train on a GPU, and how to get one that can.
var errNoCUDABuild = errors.New("--device cuda: this ultra binary was built without the CUDA backend; " +
	"build it with `make build-cuda` (go build -tags ultracuda ./cmd/ultra; no CUDA package is needed to build), " +
	"or use the image from `docker build -f Dockerfile.cuda .` — or train with --device cpu")

// newCUDABackend reports why this build cannot train on a GPU.
func newCUDABackend(nn.Spec, Config) (nn.Backend, error) { return nil, errNoCUDABuild }

// CheckDevice reports whether the networks can run on device ("cpu" or
// "cuda") before anything is written, so that a run that cannot start
// leaves nothing behind.
func CheckDevice(device string, tf32 bool) error {
	if device == "cuda" {
		return errNoCUDABuild
	}
	return nil
}
