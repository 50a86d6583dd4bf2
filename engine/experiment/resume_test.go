package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/ultra"
)

// TestResumedRefinementIsExact: a refinement interrupted after its third
// iteration and resumed — from the checkpoint the interruption wrote, and
// from the one before it (checkpoint.prev.bin, as after a kill during the
// third iteration) — computes exactly what the uninterrupted refinement
// computes, for every variant: the same policy bytes, the same metrics rows
// (timings aside) and the same modulator.json, whose counters and hit-rate
// trace cover the whole run. Before the machinery's state went into the
// checkpoint, ultra-a, ultra-ra and the others that draw random numbers
// diverged after the resume, rnd, llm-rnd and rice restarted their RND
// predictor, and every modulator.json counted only the resumed part.
func TestResumedRefinementIsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("refinements skipped in -short mode")
	}
	dir := t.TempDir()
	var log strings.Builder
	c := tiny(t, dir, &log)
	spec, err := c.Registry.Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	// The agent refined: one short iteration of hopper, so that a
	// refinement's iterations take milliseconds.
	cfg := ppo.DefaultsFor(spec)
	cfg.Seed, cfg.NumEnvs, cfg.NumSteps, cfg.NumMinibatches, cfg.UpdateEpochs, cfg.TotalSteps = 1, 1, 128, 2, 2, 128
	pre := filepath.Join(dir, "pre")
	rr, err := run.Start(pre, cfg, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := run.Loop(t.Context(), rr.Trainer, run.Options{Dir: pre, Every: 1, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	rr.Close()
	c.Checkpoint, c.Variants = filepath.Join(pre, run.CheckpointFile), ultra.Variants
	sh, err := c.sharedStages(t.Context(), spec, 0)
	if err != nil {
		t.Fatal(err, log.String())
	}
	const iters = 4
	// The radius derived from the collected episodes (no calibration
	// rollout: it would cost more than the refinements), and an override
	// probability still annealing when the refinement resumes.
	settings := ultra.DefaultSettings(spec, iters*128)
	settings.TargetHitRate, settings.AnnealSteps = 0, 2*iters*128
	// And one calibrated to a target hit rate and fitted again every two
	// iterations, so that the radius a resume starts from matters too.
	recalibrated := settings
	recalibrated.TargetHitRate, recalibrated.RecalibrateEvery = 0.1, 2
	type tcase struct {
		name     string
		v        ultra.Variant
		settings ultra.Settings
	}
	var cases []tcase
	for _, v := range ultra.Variants {
		cases = append(cases, tcase{string(v), v, settings})
	}
	cases = append(cases, tcase{"ultra-ra recalibrated", ultra.UltraRA, recalibrated})
	for _, tc := range cases {
		if raceEnabled && tc.v != ultra.UltraA && tc.v != ultra.RICE && tc.v != ultra.UltraRA {
			continue // under the race detector, the variants whose state has every part
		}
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			refinement := func(out string) Refinement {
				r := Refinement{Checkpoint: c.Checkpoint, Out: out, Variant: v, Steps: iters * 128, Seed: 3, Envs: 1, Workers: 1,
					Settings: tc.settings, Trajectories: sh.trajPath, Every: 1, Registry: c.Registry, Logger: quiet}
				if adv := v.Behaviour().AdvisorName(c.Advisor.Name); adv != "" {
					r.Annotations = sh.annPaths[adv]
				}
				return r
			}
			base := t.TempDir()
			whole := filepath.Join(base, "whole")
			if _, err := Refine(t.Context(), refinement(whole)); err != nil {
				t.Fatal(err)
			}
			// Interrupted after iteration 3 (the loop checkpoints and stops).
			cut := filepath.Join(base, "cut")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := refinement(cut)
			r.OnIteration = func(st ppo.IterStats, _ float64, _ int64) {
				if st.Iteration == iters-1 {
					cancel()
				}
			}
			if _, err := Refine(ctx, r); !errors.Is(err, run.ErrInterrupted) {
				t.Fatalf("the interrupted refinement returned %v, want run.ErrInterrupted", err)
			}
			// The same, resumed from the checkpoint before the last
			// (iteration 2): what a kill during iteration 3 leaves.
			prev := filepath.Join(base, "prev")
			copyDir(t, cut, prev)
			if err := os.Rename(filepath.Join(prev, run.PrevCheckpoint), filepath.Join(prev, run.CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			if v == ultra.UltraA {
				// A checkpoint written before it held the machinery's state
				// still resumes, saying the resume is not exact.
				legacy := filepath.Join(base, "legacy")
				copyDir(t, cut, legacy)
				ck, err := ppo.LoadCheckpoint(filepath.Join(legacy, run.CheckpointFile))
				if err != nil || len(ck.Extension) == 0 {
					t.Fatalf("the interruption's checkpoint holds no machinery state (%v)", err)
				}
				ck.Extension = nil
				if err := ck.Save(filepath.Join(legacy, run.CheckpointFile)); err != nil {
					t.Fatal(err)
				}
				var log strings.Builder
				if _, err := Refine(t.Context(), Refinement{Out: legacy, Resume: true, Registry: c.Registry,
					Logger: slog.New(slog.NewTextHandler(&log, nil))}); err != nil || !strings.Contains(log.String(), "will not be the run an uninterrupted one is") {
					t.Errorf("resuming a checkpoint without the machinery's state: %v, log:\n%s", err, log.String())
				}
			}
			for _, out := range []string{cut, prev} {
				if _, err := Refine(t.Context(), Refinement{Out: out, Resume: true, Registry: c.Registry, Logger: quiet}); err != nil {
					t.Fatalf("resuming %s: %v", filepath.Base(out), err)
				}
				for _, f := range []string{run.PolicyFile, ultra.SummaryFile} {
					want, got := readFile(t, filepath.Join(whole, f)), readFile(t, filepath.Join(out, f))
					if !bytes.Equal(want, got) {
						if f == ultra.SummaryFile {
							t.Errorf("resumed from %s: %s differs from the uninterrupted run's:\n%s\nwant\n%s", filepath.Base(out), f, got, want)
						} else {
							t.Errorf("resumed from %s: %s differs from the uninterrupted run's", filepath.Base(out), f)
						}
					}
				}
				if want, got := metricRows(t, whole), metricRows(t, out); want != got {
					t.Errorf("resumed from %s: metrics rows differ:\n%s\nwant\n%s", filepath.Base(out), got, want)
				}
			}
		})
	}
}

// metricRows is dir's metrics.jsonl without the timings, one row a line.
func metricRows(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(dir, run.MetricsJSONL)))), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		delete(row, "sps")
		delete(row, "rollout_seconds")
		delete(row, "update_seconds")
		delete(row, "env_busy")
		b, _ := json.Marshal(row)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyDir copies the plain files of from into a new directory to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Type().IsRegular() {
			if err := os.WriteFile(filepath.Join(to, e.Name()), readFile(t, filepath.Join(from, e.Name())), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
