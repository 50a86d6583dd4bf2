package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMatchingFlagErrors: conflicting or malformed matching and dose flags
// are refused up front with a message naming the fix.
func TestMatchingFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"target and radius", []string{"refine", "--checkpoint", "x", "--out", dir, "--target-hit-rate", "2%", "--radius", "0.3"}, "give one of them"},
		{"target and quantile", []string{"experiment", "--out", dir, "--target-hit-rate", "2%", "--radius-quantile", "0.3"}, "give one of them"},
		{"bad share", []string{"experiment", "--out", dir, "--target-hit-rate", "150%"}, "outside"},
		{"bad space", []string{"experiment", "--out", dir, "--match-space", "cosine"}, "match space"},
		{"dose of another knob", []string{"experiment", "--out", dir, "--dose", "radius=1,2"}, "the only knob"},
		{"dose of rice", []string{"experiment", "--out", dir, "--variants", "ultra-ra,rice", "--dose", "target-hit-rate=1%"}, "do not act on the table"},
		{"dose with a radius", []string{"experiment", "--out", dir, "--radius", "0.5", "--dose", "target-hit-rate=1%"}, "leave the radius unset"},
		{"dose in a sweep", []string{"sweep", "plan", "--out", dir, "--dose", "target-hit-rate=1%"}, "ultra experiment --dose"},
		{"match without files", []string{"match"}, "required"},
		{"expert without a checkpoint", []string{"experiment", "--out", dir, "--advisor", "expert"}, "--expert CHECKPOINT"},
		{"expert missing", []string{"experiment", "--out", dir, "--advisor", "expert", "--expert", filepath.Join(dir, "none.bin")}, "expert advisor's checkpoint"},
		{"imitation on the GPU", []string{"experiment", "--out", dir, "--variants", "ppo,ultra-i", "--device", "cuda"}, "only the CPU networks have"},
		{"negative imitation", []string{"experiment", "--out", dir, "--imitation", "-1"}, "imitation weight β = -1"},
		{"recalibrate without target", []string{"experiment", "--out", dir, "--radius", "0.3", "--recalibrate-every", "2"}, "target hit rate to hold"},
		{"anneal sentinel", []string{"experiment", "--out", dir, "--anneal-steps", "-1"}, "anneal steps = -1"},
		// Issue 27, item 7: a bare 1 meant 100%, a bare 2 was refused.
		{"a bare 1", []string{"experiment", "--out", dir, "--target-hit-rate", "1"}, "ambiguous: write a percentage (1% or 100%)"},
		{"a bare 2", []string{"experiment", "--out", dir, "--target-hit-rate", "2"}, "ambiguous"},
		// Item 6: with --dose, --radius-quantile was ignored.
		{"dose with a quantile", []string{"experiment", "--out", dir, "--radius-quantile", "0.3", "--dose", "target-hit-rate=1%"}, "calibration is off"},
		// Item 17: two doses sharing a directory failed late.
		{"doses equal to 4 digits", []string{"experiment", "--out", dir, "--dose", "target-hit-rate=1.00001%,1.00002%"}, "same dose to 4 significant digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q\n%s", err, tc.want, out)
			}
		})
	}
}

// TestDoseExperiment runs a tiny dose–response experiment: every dose
// directory refines from the shared checkpoint with its radius calibrated
// to its target, the bands run once, and the report names every row; a
// rerun skips everything and writes the same table.
func TestDoseExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("dose experiment skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "dose")
	args := []string{"experiment", "--env", "hopper", "--out", dir, "--pretrain-steps", "2048", "--collect-episodes", "3",
		"--variants", "ppo,ultra-ra,ultra-ra+rice,placebo", "--seeds", "1", "--refine-steps", "2048", "--eval-episodes", "1", "--jobs", "2",
		"--dose", "target-hit-rate=1%,5%", "--metrics-addr", ""}
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatal(err, out)
	}
	for _, want := range []string{"ultra-ra @ 1%", "ultra-ra+rice @ 5%", "| ppo |", "| placebo |", "Largest dose (5%) against smallest (1%)", "too few seeds to compare", "scripted (a rule-based expert", "first step of each restarted episode"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"dose.md", "dose.csv", "dose.png", "dose.svg", "dose.json", "dose/bands/results.md", "dose/target-1pct/results.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dose", "target-1pct", "pretrain")); err == nil {
		t.Error("a dose directory pretrained its own agent instead of using the shared one")
	}
	for _, tc := range []struct {
		run    string
		target float64
	}{{"target-1pct/refine/ultra-ra-s1", 0.01}, {"target-5pct/refine/ultra-ra-s1", 0.05}, {"bands/refine/placebo-s1", 0.05}} {
		b, err := os.ReadFile(filepath.Join(dir, "dose", tc.run, "modulator.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Calibration struct {
				Target  float64 `json:"target_hit_rate"`
				HitRate float64 `json:"hit_rate"`
			} `json:"calibration"`
			Windows []struct{ Lookups int64 } `json:"hit_windows"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Calibration.Target != tc.target || m.Calibration.HitRate < tc.target || m.Calibration.HitRate > tc.target+0.002 || len(m.Windows) == 0 {
			t.Errorf("%s: calibration %+v, %d hit-rate windows", tc.run, m.Calibration, len(m.Windows))
		}
	}
	first, _ := os.ReadFile(filepath.Join(dir, "dose.md"))
	if out, err := runCLI(t, args...); err != nil {
		t.Fatal(err, out)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "dose.md"))
	strip := func(b []byte) string { // the wall time differs
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, "Wall time") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(first) != strip(again) {
		t.Error("the rerun wrote another table")
	}
	// A dose cut short is left out of the report, not compared on fewer seeds.
	if err := os.Remove(filepath.Join(dir, "dose", "target-5pct", "refine", "ultra-ra+rice-s1", "eval.json")); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, append(args, "--report-only")...)
	if err != nil || !strings.Contains(out, "Not finished, left out: doses 5%") || strings.Contains(out, "@ 5%") {
		t.Errorf("report-only with a dose cut short: %v\n%s", err, out)
	}
	bad := append([]string(nil), args...)
	bad[len(bad)-3] = "target-hit-rate=1%,2%"
	if out, err := runCLI(t, bad...); err == nil || !strings.Contains(err.Error(), "was started with doses") {
		t.Errorf("other doses in the same directory: %v\n%s", err, out)
	}
}

// TestMatchOutAndMemory: ultra match --out refuses to overwrite its inputs
// or an existing file (unless --force), and a rollout larger than the
// memory limit is refused up front (issue 27, items 4 and 9).
func TestMatchOutAndMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("match test skipped in -short mode")
	}
	dir := t.TempDir()
	exp := filepath.Join(dir, "exp")
	if out, err := runCLI(t, "experiment", "--env", "hopper", "--out", exp, "--pretrain-steps", "2048", "--collect-episodes", "2",
		"--variants", "ppo,ultra-a", "--seeds", "1", "--refine-steps", "2048", "--eval-episodes", "1", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	anns, trajs, ck := filepath.Join(exp, "annotate", "scripted.jsonl"), filepath.Join(exp, "collect", "episodes.jsonl"), filepath.Join(exp, "pretrain", "checkpoint.bin")
	before, _ := os.ReadFile(anns)
	base := []string{"match", "--checkpoint", ck, "--annotations", anns, "--traj", trajs, "--steps", "200"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"its own input", []string{"--out", anns}, "is the input"},
		{"an existing file", []string{"--out", filepath.Join(exp, "results.md")}, "exists: choose another file, or pass --force"},
		{"a rollout over the limit", []string{"--steps", "2000000000", "--memory-limit", "1GiB"}, "more than the limit of 1.0 GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := runCLI(t, append(base, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q\n%s", err, tc.want, out)
			}
		})
	}
	if after, _ := os.ReadFile(anns); string(after) != string(before) {
		t.Error("match overwrote its annotations")
	}
	if out, err := runCLI(t, append(base, "--out", filepath.Join(exp, "results.md"), "--force")...); err != nil {
		t.Errorf("--force: %v\n%s", err, out)
	}
}
