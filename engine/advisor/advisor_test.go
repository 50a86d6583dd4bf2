package advisor

import (
	"math"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

func TestClampAction(t *testing.T) {
	box := env.Box([]float32{-1, 0}, []float32{1, 2})
	a := []float32{3, -1}
	if !ClampAction(a, box) || a[0] != 1 || a[1] != 0 {
		t.Errorf("clamp %v", a)
	}
	if ClampAction([]float32{float32(math.NaN()), 0}, box) {
		t.Error("NaN accepted")
	}
	d := []float32{7.6}
	if !ClampAction(d, env.Discrete(6)) || d[0] != 5 {
		t.Errorf("discrete %v", d)
	}
}

func TestCheckerFields(t *testing.T) {
	sp := env.Spec{ID: "x", Observation: env.UnboundedBox(2), Action: env.Box([]float32{-1, -1}, []float32{1, 1})}
	c := Checker{Spec: sp, SnapshotLen: 3}
	good := func() Annotation {
		sr := 0.5
		return Annotation{Episode: "e", Obs: []float32{1, 2}, Action: []float32{0, 0}, Reward: 0.2, Taken: []float32{1, -1}, SuggestedReward: &sr, Snapshot: []float64{0, 1, 2}}
	}
	g := good()
	if why := c.Check(&g); why != "" {
		t.Fatalf("good annotation dropped: %s", why)
	}
	bigSR, nanSR := 1.5, math.NaN()
	for _, tc := range []struct {
		name string
		edit func(a *Annotation)
		want string
	}{
		{"obs length", func(a *Annotation) { a.Obs = a.Obs[:1] }, "observation has 1 values"},
		{"reward", func(a *Annotation) { a.Reward = 1e308 }, "reward outside [-1, 1]"},
		{"taken length", func(a *Annotation) { a.Taken = []float32{1} }, "taken action has 1 values"},
		{"taken NaN", func(a *Annotation) { a.Taken = []float32{float32(math.NaN()), 0} }, "taken action not finite"},
		{"suggested reward", func(a *Annotation) { a.SuggestedReward = &bigSR }, "suggested reward outside [-1, 1]"},
		{"suggested reward NaN", func(a *Annotation) { a.SuggestedReward = &nanSR }, "suggested reward outside [-1, 1]"},
		{"snapshot length", func(a *Annotation) { a.Snapshot = []float64{0} }, "snapshot has 1 values"},
		{"snapshot value", func(a *Annotation) { a.Snapshot = []float64{0, 1e300, 0} }, "snapshot value not finite"},
	} {
		a := good()
		tc.edit(&a)
		if why := c.Check(&a); !strings.Contains(why, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, why, tc.want)
		}
	}
}
