package ppo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStepsNote: --steps that is not a multiple of the batch trains the
// whole iterations below it, and the note says so with the multiples on
// either side (issue 30, rough edge 5).
func TestStepsNote(t *testing.T) {
	for _, tc := range []struct {
		steps, envs, numSteps int
		planned               int
		want                  string
	}{
		{10000, 1, 2048, 8192, "--steps 10000 is not a multiple of the batch (envs × num-steps = 2048): training 4 whole iterations, 8192 steps, as CleanRL does (--steps 10240 trains 5 iterations)"},
		{40000, 1, 2048, 38912, "training 19 whole iterations, 38912 steps"},
		{8192, 1, 2048, 8192, ""},
		{1300, 2, 256, 1024, "(envs × num-steps = 512): training 2 whole iterations, 1024 steps"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			c := Defaults()
			c.TotalSteps, c.NumEnvs, c.NumSteps = tc.steps, tc.envs, tc.numSteps
			if got := c.PlannedSteps(); got != tc.planned {
				t.Errorf("PlannedSteps %d, want %d", got, tc.planned)
			}
			got := c.StepsNote()
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("StepsNote %q, want %q", got, tc.want)
			}
		})
	}
}

// TestExtend: how a resume may change a run's steps (issue 30, rough
// edges 9 and 10): an unfinished run takes a new total; a finished one
// has nothing to train at its own total, and refuses a longer plan when
// its rate annealed to 0; fewer steps than trained is an error.
func TestExtend(t *testing.T) {
	mk := func(iter int, anneal bool) *Checkpoint {
		c := Defaults()
		c.TotalSteps, c.NumEnvs, c.NumSteps, c.AnnealLR = 40000, 1, 2048, anneal // 19 iterations
		return &Checkpoint{Config: c, Iteration: iter, GlobalStep: int64(iter * 2048)}
	}
	var ext *ExtensionError
	for _, tc := range []struct {
		name  string
		ck    *Checkpoint
		steps int
		check func(error) bool
		want  string
	}{
		{"unfinished, longer", mk(10, true), 60000, func(err error) bool { return err == nil }, ""},
		{"unfinished, shorter but past the step", mk(10, true), 30000, func(err error) bool { return err == nil }, ""},
		{"unfinished, same", mk(10, true), 40000, func(err error) bool { return err == nil }, ""},
		{"finished, same", mk(19, true), 40000, func(err error) bool { return errors.Is(err, ErrNothingToTrain) }, "every step of its plan"},
		{"finished, a few steps more that add no iteration", mk(19, true), 40959, func(err error) bool { return errors.Is(err, ErrNothingToTrain) }, ""},
		{"finished and annealed, longer", mk(19, true), 60000, func(err error) bool { return errors.As(err, &ext) && ext.Done == 38912 && ext.Steps == 60000 },
			"finished its 38912 steps with the learning rate annealed to 0; resuming it with --steps 60000 would restart the annealing at 0.000103"},
		{"finished without annealing, longer", mk(19, false), 60000, func(err error) bool { return err == nil }, ""},
		{"fewer than trained", mk(10, true), 10000, func(err error) bool { return err != nil && !errors.Is(err, ErrNothingToTrain) },
			"--steps 10000 is less than the 20480 steps the run has trained: give --steps 22528 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.ck.Extend(tc.steps)
			if !tc.check(err) || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Extend(%d): %v, want %q", tc.steps, err, tc.want)
			}
			if c.TotalSteps != tc.steps || tc.ck.Config.TotalSteps != 40000 {
				t.Errorf("config steps %d (checkpoint's %d)", c.TotalSteps, tc.ck.Config.TotalSteps)
			}
		})
	}
}

// TestLoadCheckpointPaths: a run directory stands for its checkpoint.bin;
// an exported policy is refused naming the checkpoint to give (issue 30,
// rough edge 15).
func TestLoadCheckpointPaths(t *testing.T) {
	tr, err := New(small(), hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ck, _ := tr.Checkpoint()
	dir := t.TempDir()
	if err := ck.Save(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	var st bytes.Buffer
	if err := ck.ExportSafetensors(&st, tr.Spec().Action); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.safetensors")
	os.WriteFile(policy, st.Bytes(), 0o644)
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, bytes.Repeat([]byte("0123456789abcdef"), 8), 0o644)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"the file", filepath.Join(dir, CheckpointFile), ""},
		{"the run directory", dir, ""},
		{"the exported policy", policy, "it is an exported policy (safetensors: weights and normaliser only), not a checkpoint: give the run's checkpoint.bin, or its directory (" + filepath.Join(dir, CheckpointFile) + ")"},
		{"anything else", junk, "bad magic"},
		{"a directory without one", t.TempDir(), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadCheckpoint(tc.path)
			if tc.want == "" {
				if err != nil || got.Config.Env != ck.Config.Env {
					t.Fatalf("%v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
