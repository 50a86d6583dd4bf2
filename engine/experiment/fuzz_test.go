package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadPlan feeds arbitrary plan.json files to LoadPlan (issue 27):
// nothing in a plan is trusted, so whatever it holds, loading must not
// panic, and a plan it accepts must hold valid settings, the very units
// those settings plan, and unit names that are plain directory names.
func FuzzLoadPlan(f *testing.F) {
	dir := f.TempDir()
	var log strings.Builder
	c := tinyTB(f, dir, &log)
	if _, err := Plan(c); err != nil {
		f.Fatal(err)
	}
	plan, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plan)
	f.Add([]byte(strings.Replace(string(plan), `"variant": "ppo"`, `"variant": "../../victim"`, 1)))
	f.Add([]byte(strings.Replace(string(plan), `"eval_episodes": 1`, `"eval_episodes": 0`, 1)))
	f.Add([]byte(`{"version": 2, "config": {"env": "hopper"}, "units": [{"index": 0, "variant": "/", "seed": 1}]}`))
	f.Add([]byte(`{"version": 1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, PlanFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, units, err := LoadPlan(dir, c.Registry)
		if err != nil {
			return
		}
		if err := got.Settings.Validate(); err != nil || got.EvalEpisodes < 1 {
			t.Fatalf("an accepted plan has settings %+v (%v), %d eval episodes", got.Settings, err, got.EvalEpisodes)
		}
		want := got.Units()
		if len(units) != len(want) {
			t.Fatalf("%d units accepted, the settings make %d", len(units), len(want))
		}
		for i, u := range units {
			if u != want[i] || filepath.Base(u.Name()) != u.Name() || strings.Contains(u.Name(), "..") {
				t.Fatalf("unit %d accepted: %+v", i, u)
			}
		}
	})
}
