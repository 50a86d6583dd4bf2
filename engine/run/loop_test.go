package run

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// counting is a Stateful extension whose state is the iterations it saw.
type counting struct{ seen int }

func (c *counting) Observe(ppo.IterStats) error   { c.seen++; return nil }
func (c *counting) LogFields() []any              { return nil }
func (c *counting) Export(*metrics.Metrics)       {}
func (c *counting) MarshalState() ([]byte, error) { return []byte(strconv.Itoa(c.seen)), nil }

// TestCheckpointsCarryTheExtensionsState: every checkpoint Loop writes holds
// the extension's state of its own iteration — the periodic ones, the one
// kept as checkpoint.prev.bin, and the one a stop writes, whether it lets
// the iteration finish or abandons it (then the state saved before it).
func TestCheckpointsCarryTheExtensionsState(t *testing.T) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	c := ppo.Defaults()
	c.NumEnvs, c.NumSteps, c.NumMinibatches, c.UpdateEpochs = 1, 64, 2, 1
	c.TotalSteps = 3 * c.BatchSize()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	check := func(t *testing.T, path string) {
		t.Helper()
		ck, err := ppo.LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(ck.Extension), strconv.Itoa(ck.Iteration); got != want {
			t.Errorf("%s at iteration %d holds the extension's state of iteration %s", filepath.Base(path), ck.Iteration, got)
		}
	}
	t.Run("periodic", func(t *testing.T) {
		tr, err := ppo.New(c, spec, ppo.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		dir := t.TempDir()
		if _, err := Loop(t.Context(), tr, Options{Dir: dir, Every: 1, Logger: quiet, Extension: &counting{}}); err != nil {
			t.Fatal(err)
		}
		check(t, filepath.Join(dir, CheckpointFile))
		check(t, filepath.Join(dir, PrevCheckpoint))
	})
	t.Run("stopped", func(t *testing.T) {
		tr, err := ppo.New(c, spec, ppo.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // the stop outlasts a 1 ns timeout: the first iteration is (most likely) abandoned
		if _, err := Loop(ctx, tr, Options{Dir: dir, Every: 100, Shutdown: time.Nanosecond, Logger: quiet, Extension: &counting{}}); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("a stopped loop returned %v", err)
		}
		check(t, filepath.Join(dir, CheckpointFile))
	})
}
