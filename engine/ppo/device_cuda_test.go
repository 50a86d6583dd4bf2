//go:build ultracuda

package ppo

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/cuda/cudatest"
)

// TestCUDATracksCPU trains hopper with the default configuration on the
// CPU (native backend) and on the CUDA backend side by side, and compares
// every iteration's losses and returns. Without ULTRA_TEST_GPU the CUDA
// backend runs on the driver emulator for 5 iterations, where both must
// agree to 1e-3 (they do to about 1e-6); with ULTRA_TEST_GPU=1 (make
// gpu-check) it runs on the GPU for 20 iterations. There cuBLAS sums in
// another order, and hopper's contacts amplify float32 rounding in the
// actions until the runs part (on the emulator, with differences of 1e-7,
// they part at iteration 8 and end at returns 325 and 334): so the first
// iteration is held to 1e-3, the GPU run must learn (final return over 3×
// the first) and end within a factor 2 of the CPU run, and every
// iteration is printed for the record.
func TestCUDATracksCPU(t *testing.T) {
	iters, gpu := 5, os.Getenv("ULTRA_TEST_GPU") != ""
	if gpu {
		iters = 20
	} else {
		o := cudatest.Emulator(t)
		t.Setenv("ULTRA_CUDA_DRIVER", o.Driver)
		t.Setenv("ULTRA_CUDA_CUBLAS", o.Cublas)
	}
	c := Defaults()
	c.TotalSteps, c.Seed = c.BatchSize()*iters, 1
	trainers := [2]*Trainer{}
	for i, dev := range []string{"cpu", "cuda"} {
		cfg := c
		cfg.Device = dev
		tr, err := New(cfg, hopper(t), Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		trainers[i] = tr
	}
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-3) }
	var worst float64
	var first, last [2]float64
	for it := 1; it <= iters; it++ {
		var st [2]IterStats
		for i, tr := range trainers {
			var err error
			if st[i], err = tr.Iterate(); err != nil {
				t.Fatal(err)
			}
		}
		for i := range st {
			if it == 1 {
				first[i] = st[i].ReturnMean
			}
			last[i] = st[i].Return10
		}
		d := max(rel(st[1].PolicyLoss, st[0].PolicyLoss), rel(st[1].ValueLoss, st[0].ValueLoss),
			rel(st[1].ApproxKL, st[0].ApproxKL), rel(st[1].ReturnMean, st[0].ReturnMean))
		worst = max(worst, d)
		t.Logf("iteration %2d: pg_loss %.6f / %.6f, v_loss %.5f / %.5f, return %.2f / %.2f (cpu / cuda); worst rel diff %.2g",
			it, st[0].PolicyLoss, st[1].PolicyLoss, st[0].ValueLoss, st[1].ValueLoss, st[0].ReturnMean, st[1].ReturnMean, d)
		if (!gpu || it == 1) && d > 1e-3 {
			t.Errorf("iteration %d: the CUDA run left the CPU run (relative difference %.3g)", it, d)
		}
	}
	t.Logf("worst relative difference over %d iterations: %.3g; return of the last 10 episodes %.1f (cpu), %.1f (cuda)",
		iters, worst, last[0], last[1])
	if gpu && !(last[1] > 3*first[1] && last[1] > last[0]/2 && last[1] < 2*last[0]) {
		t.Errorf("the GPU run did not learn like the CPU run: returns %.1f -> %.1f (cpu %.1f -> %.1f)", first[1], last[1], first[0], last[0])
	}
}

// TestLazyCheckpointOnCUDA: a lazy checkpoint taken on the CUDA backend
// (the networks' state set aside on the device) and read back after the
// next iteration is, byte for byte, the checkpoint taken eagerly at the
// same point; a later CheckpointLazy makes it unreadable rather than wrong.
func TestLazyCheckpointOnCUDA(t *testing.T) {
	o := cudatest.Emulator(t)
	t.Setenv("ULTRA_CUDA_DRIVER", o.Driver)
	t.Setenv("ULTRA_CUDA_CUBLAS", o.Cublas)
	c := small()
	c.Device = "cuda"
	tr, err := New(c, hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Iterate(); err != nil {
		t.Fatal(err)
	}
	eager, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := tr.CheckpointLazy()
	if err != nil {
		t.Fatal(err)
	}
	before := cudatest.ReadCounters(t)
	if _, err := tr.Iterate(); err != nil {
		t.Fatal(err)
	}
	ck, err := lazy.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if n := cudatest.ReadCounters(t).Sub(before).DtoH; n == 0 {
		t.Error("reading the lazy checkpoint downloaded nothing")
	}
	var want, got bytes.Buffer
	if err := errors.Join(eager.Encode(&want), ck.Encode(&got)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("the lazy checkpoint (%d bytes) differs from the eager one (%d bytes)", got.Len(), want.Len())
	}
	stale, err := tr.CheckpointLazy()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.CheckpointLazy(); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Checkpoint(); err == nil || !strings.Contains(err.Error(), "a later CheckpointLazy replaced") {
		t.Errorf("a lazy checkpoint replaced by a later one: %v", err)
	}
}
