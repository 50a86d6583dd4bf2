//go:build !ultracuda

package ppo

import (
	"errors"

	"github.com/ultra-rl/ultra/engine/nn"
)

// newCUDABackend reports why this build cannot train on a GPU.
func newCUDABackend(nn.Spec, uint64) (nn.Backend, error) {
	return nil, errors.New("--device cuda: this ultra binary was built without the CUDA backend; " +
		"build it with `go build -tags cuda ./cmd/ultra` on a machine with the CUDA toolkit (nvcc, cuBLAS), " +
		"or use the image from `docker build -f Dockerfile.cuda .` — or train with --device cpu")
}
