package experiment

import (
	"math"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/ultra"
)

// TestNotesDescribeWhatRan: the report's notes and captions describe the
// variants that ran, not the placebo's alpha, rice's resets or the
// placebo's band when those did not run (issue 30, rough edge 17).
func TestNotesDescribeWhatRan(t *testing.T) {
	runsOf := func(vs ...string) []report.Run {
		var runs []report.Run
		for _, v := range vs {
			runs = append(runs, report.Run{Variant: v, Seed: 1}, report.Run{Variant: v, Seed: 2})
		}
		return runs
	}
	settings := ultra.Settings{Alpha: 0.3, Radius: 0.5, OverrideProb: 0.9, ResetProb: 0.25, ActionTolerance: 0.1}
	for _, tc := range []struct {
		name      string
		runs      []report.Run
		want, not []string
		restarted string
	}{
		{"ppo and ultra-r", runsOf("ppo", "ultra-r"), []string{"alpha 0.3"}, []string{"placebo", "reset probability", "override probability"}, ""},
		{"with the placebo", runsOf("ppo", "ultra-r", "placebo"), []string{"alpha 0.3 (placebo 1e-06)"}, []string{"reset probability"}, ""},
		{"with rice", runsOf("ppo", "ultra-a", "rice"), []string{"reset probability 0.25", "override probability 0.90"}, []string{"placebo"}, "rice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note := settingsNote(settings, ranVariants(tc.runs), tc.runs)
			for _, w := range tc.want {
				if !strings.Contains(note, w) {
					t.Errorf("note %q lacks %q", note, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(note, n) {
					t.Errorf("note %q describes %q, which did not run", note, n)
				}
			}
			if got := restartedVariants(tc.runs); got != tc.restarted {
				t.Errorf("restarted %q, want %q", got, tc.restarted)
			}
		})
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		rows []report.Row
		want string
	}{
		{"ppo and placebo with intervals", []report.Row{{Variant: "ppo", IQMLow: 1, IQMHigh: 2}, {Variant: "placebo", IQMLow: 1, IQMHigh: 2}, {Variant: "ultra-a", IQMLow: 1, IQMHigh: 2}},
			"Each seed's final evaluation (points), each variant's IQM (bar) with its 95% interval; the shaded bands are ppo's and the placebo's intervals."},
		{"no placebo", []report.Row{{Variant: "ppo", IQMLow: 1, IQMHigh: 2}, {Variant: "ultra-a", IQMLow: 1, IQMHigh: 2}},
			"Each seed's final evaluation (points), each variant's IQM (bar) with its 95% interval; the shaded band is ppo's interval."},
		{"two seeds", []report.Row{{Variant: "ppo", IQMLow: nan, IQMHigh: nan}, {Variant: "placebo", IQMLow: nan, IQMHigh: nan}},
			"Each seed's final evaluation (points), each variant's IQM (bar); no intervals with fewer than 5 seeds."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalCaption(tc.rows); got != tc.want {
				t.Errorf("caption\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}

// TestValidateRecordsTheTaskID: an experiment named by a Gymnasium alias
// records the task's own id, so that a rerun by either name matches the
// directory's record (issue 30, Gymnasium names).
func TestValidateRecordsTheTaskID(t *testing.T) {
	var log strings.Builder
	for _, id := range []string{"hopper", "Hopper-v4", "HOPPER-V4"} {
		t.Run(id, func(t *testing.T) {
			c := tiny(t, t.TempDir(), &log)
			c.Env = id
			spec, err := c.Validate()
			if err != nil || c.Env != "hopper" || spec.ID != "hopper" || c.settings().Env != "hopper" {
				t.Errorf("env %q, spec %q, err %v", c.Env, spec.ID, err)
			}
		})
	}
}
