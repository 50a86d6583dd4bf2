package ultra

import (
	"math"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func TestModulatorPerVariant(t *testing.T) {
	tb, _ := NewTable([]float64{0}, []float64{1}, 0.1)
	tb.Add(advisor.Annotation{Episode: "e", Step: 0, Obs: []float32{1}, Action: []float32{0.7}, Reward: -0.8})
	for _, tc := range []struct {
		v        Variant
		replaced bool
		bonus    float64
	}{
		{PPO, false, 0}, {UltraA, true, 0}, {UltraR, false, 0.5 * -0.8}, {UltraRA, true, 0.5 * -0.8}, {Random, true, 0.5 * -0.8},
	} {
		m, err := NewModulator(tb, ModulatorConfig{Variant: tc.v, Alpha: 0.5, OverrideProb: 1})
		if err != nil {
			t.Fatal(err)
		}
		act := []float32{-0.2}
		rep, bonus := m.Modulate(0, []float32{1.05}, act)
		if rep != tc.replaced || math.Abs(bonus-tc.bonus) > 1e-12 || (rep && act[0] != 0.7) || (!rep && act[0] != -0.2) {
			t.Errorf("%s at a matched state: replaced %v bonus %v action %v", tc.v, rep, bonus, act)
		}
		act = []float32{-0.2}
		if rep, bonus := m.Modulate(0, []float32{2}, act); rep || bonus != 0 || act[0] != -0.2 {
			t.Errorf("%s away from every critical state: replaced %v bonus %v", tc.v, rep, bonus)
		}
	}
	if _, err := ParseVariant("ultra-x"); err == nil {
		t.Error("bad variant accepted")
	}
}

func TestOverrideAnnealsAway(t *testing.T) {
	tb, _ := NewTable([]float64{0}, []float64{1}, 0.1)
	tb.Add(advisor.Annotation{Episode: "e", Obs: []float32{0}, Action: []float32{1}})
	m, _ := NewModulator(tb, ModulatorConfig{Variant: UltraA, OverrideProb: 1, OverrideEnd: 0, AnnealSteps: 1000, Seed: 3})
	count := func(n int) int {
		c := 0
		for i := 0; i < n; i++ {
			if rep, _ := m.Modulate(0, []float32{0}, []float32{0}); rep {
				c++
			}
		}
		return c
	}
	first, second, after := count(100), count(900), count(500)
	if first < 85 || second < 300 || second > 500 || after != 0 {
		t.Errorf("overrides: first 100 steps %d, next 900 %d, after annealing %d", first, second, after)
	}
}

// TestRICEResetsLandOnSnapshots: with reset probability 1, every episode
// after the first starts exactly at a stored critical state.
func TestRICEResetsLandOnSnapshots(t *testing.T) {
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	v, _ := env.New(spec, env.Config{NumEnvs: 1})
	trajs, err := advisor.Collect(v, eval.Zero{}, 2, 4, "r", true)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := advisor.NewScripted(spec, advisor.DefaultScriptedConfig())
	var anns []advisor.Annotation
	anns, _, _ = s.Annotate(t.Context(), trajs)
	tb, _ := NewTable(make([]float64, 11), make([]float64, 11), 0.1)
	tb.Add(anns...)
	rs, _ := NewResetter(tb, 1, 1)
	starts := map[[11]float32]bool{}
	for _, a := range anns {
		starts[[11]float32(a.Obs)] = true
	}
	var eps []*ppo.Episode
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 256, 4, 256
	tr, err := ppo.New(c, spec, ppo.Hooks{ResetState: rs.Reset, OnEpisode: func(e *ppo.Episode) { eps = append(eps, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	st, err := tr.Iterate()
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) < 3 || st.Restarts != st.Episodes {
		t.Fatalf("%d episodes, %d restarts of %d", len(eps), st.Restarts, st.Episodes)
	}
	for _, e := range eps[1:] {
		if !starts[[11]float32(e.Obs[:11])] {
			t.Fatalf("an episode started at %v, not at a stored critical state", e.Obs[:11])
		}
	}
}
