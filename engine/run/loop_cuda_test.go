//go:build ultracuda

package run

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/cuda/cudatest"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// TestShutdownCheckpointCostsNoTransfer: with a shutdown timeout, Loop
// keeps a checkpoint of the state before each iteration, to write if a
// stop abandons the iteration. On the CUDA backend (the driver emulator
// counts the copies) that checkpoint stays on the device until it is
// written: a run whose iterations write no checkpoint copies exactly what
// the same run without a shutdown timeout copies between host and device,
// and waits as often.
func TestShutdownCheckpointCostsNoTransfer(t *testing.T) {
	o := cudatest.Emulator(t)
	t.Setenv("ULTRA_CUDA_DRIVER", o.Driver)
	t.Setenv("ULTRA_CUDA_CUBLAS", o.Cublas)
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	c := ppo.Defaults()
	c.NumEnvs, c.NumSteps, c.NumMinibatches, c.UpdateEpochs, c.Device = 2, 64, 4, 2, "cuda"
	const iterations = 3
	c.TotalSteps = c.BatchSize() * iterations
	run := func(t *testing.T, shutdown time.Duration) cudatest.Counters {
		tr, err := ppo.New(c, spec, ppo.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		before := cudatest.ReadCounters(t)
		// Every is past the end: only the last iteration writes a checkpoint.
		if _, err := Loop(t.Context(), tr, Options{Dir: t.TempDir(), Every: 100, Shutdown: shutdown,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
			t.Fatal(err)
		}
		return cudatest.ReadCounters(t).Sub(before)
	}
	base := run(t, 0)
	t.Logf("without a shutdown timeout: %+v", base)
	got := run(t, time.Hour)
	t.Logf("with a shutdown timeout:    %+v", got)
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"device-to-host copies", got.DtoH, base.DtoH}, {"device-to-host bytes", got.DtoHBytes, base.DtoHBytes},
		{"host-to-device copies", got.HtoD, base.HtoD}, {"host-to-device bytes", got.HtoDBytes, base.HtoDBytes},
		{"waits", got.Syncs, base.Syncs},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d with a shutdown timeout, %d without", tc.name, tc.got, tc.want)
		}
	}
	// The state before each iteration was set aside on the device: the
	// parameters and Adam's two moments.
	if got.DtoD != 3*iterations {
		t.Errorf("%d device-to-device copies, want %d (3 per iteration)", got.DtoD, 3*iterations)
	}
}
