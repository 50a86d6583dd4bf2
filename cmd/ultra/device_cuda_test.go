//go:build ultracuda

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/cuda/cudatest"
	"github.com/ultra-rl/ultra/engine/run"
)

// noCUDAWant is what --device cuda answers on a machine without a GPU (the
// NVIDIA driver installed, or not).
const noCUDAWant = "run with --device cpu"

// TestDeviceCUDAWithoutGPU checks train, refine and experiment with
// --device cuda where the driver finds no device: the driver's error with
// the way out, a failure exit, and no run directory left behind.
func TestDeviceCUDAWithoutGPU(t *testing.T) {
	o := cudatest.Emulator(t)
	t.Setenv("ULTRA_CUDA_DRIVER", o.Driver)
	t.Setenv("ULTRA_CUDA_CUBLAS", o.Cublas)
	t.Setenv("ULTRA_FAKE_CUDA", "nodevice")
	dir := t.TempDir()
	ck := trainSmall(t, filepath.Join(dir, "pre"), "cpu")
	const want = "no CUDA device: CUDA_ERROR_NO_DEVICE (cuInit); run with --device cpu"
	for _, tc := range []struct {
		name string
		args []string
		out  string
	}{
		{"train", []string{"train", "--env", "hopper", "--device", "cuda", "--out", filepath.Join(dir, "t")}, filepath.Join(dir, "t")},
		{"refine", []string{"refine", "--checkpoint", ck, "--variant", "ppo", "--device", "cuda", "--steps", "2048", "--out", filepath.Join(dir, "r")}, filepath.Join(dir, "r")},
		{"experiment", []string{"experiment", "--env", "hopper", "--device", "cuda", "--out", filepath.Join(dir, "x")}, filepath.Join(dir, "x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, append(tc.args, "--metrics-addr", "")...)
			if err == nil || err.Error() != tc.name+": "+want {
				t.Errorf("error %q, want %q\n%s", err, tc.name+": "+want, out)
			}
			if _, err := os.Stat(tc.out); !os.IsNotExist(err) {
				t.Errorf("%s was left behind (%v)", tc.out, err)
			}
		})
	}
}

// trainSmall trains hopper for two short iterations on device, at a fixed
// learning rate (so that the run can be extended on resume), and returns
// the checkpoint.
func trainSmall(t *testing.T, out, device string) string {
	t.Helper()
	if o, err := runCLI(t, "train", "--env", "hopper", "--steps", "256", "--num-steps", "128", "--num-minibatches", "2",
		"--update-epochs", "2", "--anneal-lr=false", "--device", device, "--out", out, "--metrics-addr", "", "--progress", "log"); err != nil {
		t.Fatalf("train on %s: %v\n%s", device, err, o)
	}
	return filepath.Join(out, run.CheckpointFile)
}

// TestTrainOnEmulatedGPU trains on the emulated GPU, resumes the run on
// the CPU (--device may change on resume) and evaluates the checkpoint.
func TestTrainOnEmulatedGPU(t *testing.T) {
	o := cudatest.Emulator(t)
	t.Setenv("ULTRA_CUDA_DRIVER", o.Driver)
	t.Setenv("ULTRA_CUDA_CUBLAS", o.Cublas)
	out := filepath.Join(t.TempDir(), "run")
	ck := trainSmall(t, out, "cuda")
	if o, err := runCLI(t, "train", "--out", out, "--resume", "--steps", "512", "--device", "cpu", "--metrics-addr", "", "--progress", "log"); err != nil {
		t.Fatalf("resume on the CPU: %v\n%s", err, o)
	}
	if o, err := runCLI(t, "eval", "--checkpoint", ck, "--episodes", "1"); err != nil || !strings.Contains(o, "return") {
		t.Fatalf("eval of a GPU-trained checkpoint: %v\n%s", err, o)
	}
}
