package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// publishedDir writes what a published results directory holds for the
// aggregate: experiment.json and results.csv.
func publishedDir(t *testing.T, dir, task string, ppo, ultraA []float64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	js := fmt.Sprintf(`{"env": %q, "pretrain_steps": 1000, "collect_episodes": 2, "advisor": "scripted", "refine_steps": 1000, "eval_episodes": 2, "eval_seed": 1000, "variants": ["ppo", "ultra-a"], "seeds": 5}`, task)
	join := func(xs []float64) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = fmt.Sprint(x)
		}
		return strings.Join(s, ";")
	}
	csv := "variant,seeds,per_seed,mean\nppo,5," + join(ppo) + ",0\nultra-a,5," + join(ultraA) + ",0\n"
	for name, text := range map[string]string{"experiment.json": js, "results.csv": csv} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportAcrossTasks(t *testing.T) {
	dir := t.TempDir()
	hopper, pong, out := filepath.Join(dir, "hopper"), filepath.Join(dir, "pong"), filepath.Join(dir, "agg")
	publishedDir(t, hopper, "hopper", []float64{900, 1100, 1000, 1300, 700}, []float64{1000, 1200, 1100, 1400, 800})
	publishedDir(t, pong, "pong", []float64{-10, -12, -8, -11, -9}, []float64{-9, -11, -7, -10, -8})
	// Operands and flags in any order.
	got, err := runCLI(t, "report", hopper, "--out", out, "--random-episodes", "5", pong)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, want := range []string{"| variant | runs | IQM [95% CI] | mean [95% CI] | P(improve) [95% CI] | hopper | pong |", "| ppo | 10 |", "| ultra-a | 10 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"aggregate.png", "aggregate.svg", "aggregate.md", "aggregate.csv", "aggregate.html", "profile.png", "profile.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no directories", []string{"report", "--out", out}, "name the experiment directories"},
		{"same task twice", []string{"report", "--out", out, hopper, hopper}, "are both hopper experiments"},
		{"not an experiment", []string{"report", "--out", out, dir}, "is " + dir + " an experiment directory?"},
		{"bad episodes", []string{"report", "--out", out, "--random-episodes", "0", hopper}, "random-policy episodes must be ≥ 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := runCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to contain %q\n%s", err, tc.want, got)
			}
		})
	}
}

// TestReportTooFewSeeds: ultra report over 2-seed experiments prints no
// intervals, as ultra experiment compares nothing below 5 seeds (issue 30,
// rough edge 16).
func TestReportTooFewSeeds(t *testing.T) {
	dir := t.TempDir()
	hopper, out := filepath.Join(dir, "hopper"), filepath.Join(dir, "agg")
	publishedDir(t, hopper, "hopper", []float64{900, 1100}, []float64{1000, 1200})
	got, err := runCLI(t, "report", hopper, "--out", out, "--random-episodes", "5")
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, want := range []string{"| ultra-a | 2 | ", "| too few seeds to compare |", "ppo, ultra-a: fewer than 5 seeds on some task"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if regexp.MustCompile(`\| ultra-a \| 2 \| [^|]*\[`).MatchString(got) {
		t.Errorf("an interval with 2 seeds:\n%s", got)
	}
}
