package ultra

import (
	"math"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// TestCalibrateRadius: one critical state at 0 and calibration states at
// 1..100 (1-D, unit normalisation): the radius matching a share q is the
// q-quantile of the distances, and the reported share is what matches.
func TestCalibrateRadius(t *testing.T) {
	tb, _ := NewTable([]float64{0}, []float64{1}, 1)
	tb.Add(advisor.Annotation{Episode: "e", Obs: []float32{0}})
	obs := make([]float32, 100)
	for i := range obs {
		obs[i] = float32(100 - i) // order must not matter
	}
	for _, tc := range []struct {
		target, radius, hit float64
	}{
		{0.05, 5, 0.05}, {0.02, 2, 0.02}, {0.001, 1, 0.01}, {1, 100, 1}, {0.055, 6, 0.06},
	} {
		c, err := CalibrateRadius(tb, obs, 1, tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if c.Radius != tc.radius || c.HitRate != tc.hit || c.States != 100 || c.Target != tc.target {
			t.Errorf("target %v: %+v, want radius %v hit rate %v", tc.target, c, tc.radius, tc.hit)
		}
	}
	empty, _ := NewTable([]float64{0}, []float64{1}, 1)
	for name, f := range map[string]func() error{
		"target 0":         func() error { _, err := CalibrateRadius(tb, obs, 1, 0); return err },
		"target above 1":   func() error { _, err := CalibrateRadius(tb, obs, 1, 1.5); return err },
		"empty table":      func() error { _, err := CalibrateRadius(empty, obs, 1, 0.1); return err },
		"wrong dimension":  func() error { _, err := CalibrateRadius(tb, obs, 3, 0.1); return err },
		"no states at all": func() error { _, err := CalibrateRadius(tb, nil, 1, 0.1); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if f() == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestWeightedTable: a weight of 0 leaves a dimension out of matching, a
// weight of 2 doubles its distances, and the weighted Lookup allocates
// nothing.
func TestWeightedTable(t *testing.T) {
	tb, err := NewWeightedTable([]float64{0, 0}, []float64{1, 1}, []float64{2, 0}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	tb.Add(advisor.Annotation{Episode: "e", Obs: []float32{1, 5}})
	for _, tc := range []struct {
		obs []float32
		ok  bool
	}{
		{[]float32{1, -100}, true},  // the second dimension does not count
		{[]float32{1.2, 5}, true},   // 0.2 × 2 = 0.4 ≤ 0.5
		{[]float32{1.3, 5}, false},  // 0.3 × 2 = 0.6 > 0.5
		{[]float32{0.8, 77}, true},  // 0.4
		{[]float32{0.7, 5}, false},  // 0.6
		{[]float32{1.25, 0}, true},  // exactly 0.5
		{[]float32{1.26, 0}, false}, // just outside
	} {
		if _, _, ok := tb.Lookup(tc.obs); ok != tc.ok {
			t.Errorf("lookup %v: matched %v, want %v", tc.obs, ok, tc.ok)
		}
	}
	if d := tb.Nearest([]float32{1.5, 9}); math.Abs(d-1) > 1e-9 {
		t.Errorf("nearest distance %v, want 1", d)
	}
	if allocs := testing.AllocsPerRun(100, func() { tb.Lookup([]float32{1.1, 3}) }); allocs != 0 {
		t.Errorf("weighted Lookup allocates %v", allocs)
	}
	for name, w := range map[string][]float64{"all zero": {0, 0}, "negative": {1, -1}, "NaN": {1, math.NaN()}, "short": {1}} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewWeightedTable([]float64{0, 0}, []float64{1, 1}, w, 1); err == nil {
				t.Errorf("weights %v accepted", w)
			}
		})
	}
}

// TestMatchWeights: full weighs nothing, task keeps the spec's subspace
// (hopper: all but the forward velocity), scaled divides by each
// normalised dimension's spread over the collected states.
func TestMatchWeights(t *testing.T) {
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	mean, std := make([]float64, 11), make([]float64, 11)
	for j := range std {
		std[j] = 2
	}
	tr := traj.Trajectory{ID: "a", ObsDim: 11, ActDim: 3}
	for k := 0; k < 4; k++ { // dimension j takes ±(j+1) × 2 raw, so ±(j+1) normalised: spread j+1
		for j := 0; j < 11; j++ {
			v := float32(2 * (j + 1))
			if k%2 == 1 {
				v = -v
			}
			if j == 10 {
				v = 0 // constant: floored spread
			}
			tr.Obs = append(tr.Obs, v)
		}
		tr.Actions, tr.Rewards = append(tr.Actions, 0, 0, 0), append(tr.Rewards, 0)
	}
	t.Run("full", func(t *testing.T) {
		if w, err := MatchWeights(MatchFull, spec, mean, std, nil); err != nil || w != nil {
			t.Errorf("full: %v, %v", w, err)
		}
	})
	t.Run("task", func(t *testing.T) {
		w, err := MatchWeights(MatchTask, spec, mean, std, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j, x := range w {
			want := 1.0
			if spec.ObsLayout[j].Name == "forward velocity" {
				want = 0
			}
			if x != want {
				t.Errorf("task weight %d (%s) = %v, want %v", j, spec.ObsLayout[j].Name, x, want)
			}
		}
	})
	t.Run("scaled", func(t *testing.T) {
		w, err := MatchWeights(MatchScaled, spec, mean, std, []traj.Trajectory{tr})
		if err != nil {
			t.Fatal(err)
		}
		for j, x := range w {
			want := 1 / float64(j+1)
			if j == 10 {
				want = 1 / minScaledSpread
			}
			if math.Abs(x-want) > 1e-6 {
				t.Errorf("scaled weight %d = %v, want %v", j, x, want)
			}
		}
		if _, err := MatchWeights(MatchScaled, spec, mean, std, nil); err == nil {
			t.Error("scaled without collected states accepted")
		}
	})
	t.Run("task without a subspace", func(t *testing.T) {
		s := spec
		s.MatchDims = nil
		if _, err := MatchWeights(MatchTask, s, mean, std, nil); err == nil || !strings.Contains(err.Error(), "names no matching subspace") {
			t.Errorf("got %v", err)
		}
	})
	if _, err := ParseMatchSpace("cosine"); err == nil {
		t.Error("unknown match space accepted")
	}
}

// hopperAnnotations collects two zero-action hopper episodes with
// snapshots and has the scripted advisor annotate them.
func hopperAnnotations(t *testing.T) (env.Spec, []traj.Trajectory, []advisor.Annotation) {
	t.Helper()
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	v, _ := env.New(spec, env.Config{NumEnvs: 1})
	trajs, err := eval.Collect(v, eval.Zero{}, 2, 4, "r", true)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scripted.New(spec, scripted.DefaultConfig())
	anns, _, err := s.Annotate(t.Context(), trajs)
	if err != nil || len(anns) == 0 {
		t.Fatalf("%d annotations, %v", len(anns), err)
	}
	return spec, trajs, anns
}

// TestSetupCalibratesRadius: with a target hit rate the setup's radius is
// the calibrated one and its summary reports the calibration; without
// calibration states, or with live annotation alone, it is an error.
func TestSetupCalibratesRadius(t *testing.T) {
	spec, trajs, anns := hopperAnnotations(t)
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	var calib []float32
	for _, tr := range trajs {
		calib = append(calib, tr.Obs...)
	}
	s, err := NewSetup(rms, spec, Options{Variant: UltraRA, Settings: with(Settings{Alpha: 0.1, OverrideProb: 1, TargetHitRate: 0.3}), Annotations: anns, Trajectories: trajs, CalibrationObs: calib})
	if err != nil {
		t.Fatal(err)
	}
	if s.Calibration == nil || s.Radius != s.Calibration.Radius || s.Table.Radius() != s.Radius || s.Calibration.HitRate < 0.3 {
		t.Fatalf("calibration %+v, radius %v (table %v)", s.Calibration, s.Radius, s.Table.Radius())
	}
	if s.Summary().Calibration == nil {
		t.Error("summary lacks the calibration")
	}
	if _, err := NewSetup(rms, spec, Options{Variant: UltraRA, Settings: with(Settings{TargetHitRate: 0.3}), Annotations: anns}); err == nil {
		t.Error("a target hit rate without calibration states accepted")
	}
	if _, err := NewSetup(rms, spec, Options{Variant: UltraRA, Settings: with(Settings{TargetHitRate: 0.3}), Live: &gate{release: make(chan struct{})}, CalibrationObs: calib}); err == nil ||
		!strings.Contains(err.Error(), "live annotation alone cannot be calibrated") {
		t.Errorf("live-only calibration: %v", err)
	}
	// A fixed radius and a target are two answers to one question.
	if _, err = NewSetup(rms, spec, Options{Variant: UltraRA, Settings: with(Settings{Radius: 0.25, TargetHitRate: 0.3}), Annotations: anns, CalibrationObs: calib}); err == nil ||
		!strings.Contains(err.Error(), "give one") {
		t.Errorf("a fixed radius with a target: %v", err)
	}
	// A resumed run keeps its radius.
	s, err = NewSetup(rms, spec, Options{Variant: UltraRA, Settings: with(Settings{TargetHitRate: 0.3}), Annotations: anns, ResumeRadius: 0.25})
	if err != nil || s.Radius != 0.25 || s.Table.Radius() != 0.25 || s.Calibration != nil {
		t.Errorf("resumed radius: %v, %+v, %v", s.Radius, s.Calibration, err)
	}
}

// TestUltraRARICEActsOnResetVisits: ultra-ra+rice restarts episodes at the
// annotated states, and the first step of every restarted episode matches
// its critical state (distance 0), where the override acts (probability 1
// here) and the advisor's reward of the suggestion is paid.
func TestUltraRARICEActsOnResetVisits(t *testing.T) {
	spec, _, anns := hopperAnnotations(t)
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	s, err := NewSetup(rms, spec, Options{Variant: UltraRARICE, Settings: with(Settings{Alpha: 0.1, Radius: 1e-4, OverrideProb: 1, OverrideEnd: 1, ResetProb: 1}), Annotations: anns, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Resetter == nil || s.Hooks.Resetter == nil || s.Hooks.Modulator == nil {
		t.Fatal("ultra-ra+rice lacks its resets or its modulator")
	}
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 256, 4, 256
	tr, err := ppo.New(c, spec, s.Hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	st, err := tr.Iterate()
	if err != nil {
		t.Fatal(err)
	}
	m := s.Modulator
	visits := m.ResetVisits.Load()
	if visits == 0 || int(visits) > st.Resets || m.ResetVisitHits.Load() != visits || m.ResetVisitOverrides.Load() != visits {
		t.Fatalf("%d restarts; reset visits %d, hits %d, overrides %d", st.Resets, visits, m.ResetVisitHits.Load(), m.ResetVisitOverrides.Load())
	}
	suggested := 0
	for _, a := range anns {
		if a.SuggestedReward != nil && *a.SuggestedReward != 0 {
			suggested++
		}
	}
	if suggested == len(anns) && m.ResetVisitBonuses.Load() != visits {
		t.Errorf("reset visits %d, bonuses paid at them %d", visits, m.ResetVisitBonuses.Load())
	}
	sum := s.Summary()
	if sum.ResetVisits == nil || sum.ResetVisits.Visits != visits || sum.Resets == 0 {
		t.Errorf("summary %+v lacks the reset visits", sum)
	}
}

// TestRICENeedsSnapshotsNamesCollect: annotations without simulator
// snapshots are refused for the variants that restart at them, naming the
// command that records them (issue 30, rough edge 19).
func TestRICENeedsSnapshotsNamesCollect(t *testing.T) {
	spec, _, anns := hopperAnnotations(t)
	for i := range anns {
		anns[i].Snapshot = nil // as collected without --snapshots
	}
	rms := ppo.RMSState{Mean: make([]float64, 11), Var: ones(11), Count: 1}
	for _, v := range []Variant{RICE, UltraRA} {
		t.Run(string(v), func(t *testing.T) {
			_, err := NewSetup(rms, spec, Options{Variant: v, Settings: with(Settings{Alpha: 0.1, Radius: 0.5, OverrideProb: 1, ResetProb: 1}), Seed: 1, Annotations: anns})
			if v.Behaviour().Resets != (err != nil) {
				t.Fatalf("resets %v, err %v", v.Behaviour().Resets, err)
			}
			if err != nil && !strings.Contains(err.Error(), "needs annotations with simulator snapshots: collect the trajectories with them (ultra collect --snapshots)") {
				t.Errorf("err %v", err)
			}
		})
	}
}
