//go:build ultracuda

package ppo

import (
	"errors"
	"fmt"

	"github.com/ultra-rl/ultra/cuda"
	"github.com/ultra-rl/ultra/engine/nn"
)

// CUDABuild reports whether this binary was built with the ultracuda tag,
// that is, whether --device cuda can run at all.
const CUDABuild = true

// newCUDABackend builds the networks on GPU 0 (CUDA_VISIBLE_DEVICES picks
// which one that is).
func newCUDABackend(ns nn.Spec, cfg Config) (nn.Backend, error) {
	b, err := nn.NewCUDA(ns, cfg.Seed, nn.AdamConfig{}, cuda.Options{TF32: cfg.TF32})
	if err != nil {
		return nil, deviceError(err)
	}
	return b, nil
}

// CheckDevice reports whether the networks can run on device ("cpu" or
// "cuda") before anything is written, so that a run that cannot start
// leaves nothing behind: for cuda it opens the GPU (driver, kernels,
// cuBLAS) and closes it again.
func CheckDevice(device string, tf32 bool) error {
	if device != "cuda" {
		return nil
	}
	d, err := cuda.Open(cuda.Options{TF32: tf32})
	if err != nil {
		return deviceError(err)
	}
	return d.Close()
}

// deviceError adds the way out to a failure to open the GPU.
func deviceError(err error) error {
	var e *cuda.Error
	var l *cuda.LoadError
	switch {
	case errors.As(err, &e) && cuda.IsNoDevice(err):
		return &noDevice{fmt.Sprintf("no CUDA device: %s (%s); run with --device cpu", e.Name, e.Call), err}
	case errors.As(err, &l) && cuda.IsNoDevice(err):
		return &noDevice{fmt.Sprintf("no CUDA driver: cannot load %s (%v); install the NVIDIA driver "+
			"(in a container: the NVIDIA container toolkit and docker run --gpus all), or run with --device cpu", l.Lib, l.Err), err}
	}
	return fmt.Errorf("--device cuda: %w", err)
}

// noDevice is the short form of a missing GPU or driver; it wraps the
// driver's error.
type noDevice struct {
	msg string
	err error
}

func (e *noDevice) Error() string { return e.msg }
func (e *noDevice) Unwrap() error { return e.err }
