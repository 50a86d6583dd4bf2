package ultra

import (
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// TestMark: a clip's frame at an annotated state says the table matched,
// with the override probability for a variant that overrides (annealed:
// 1 at the start); a state far from every annotation gets no label.
func TestMark(t *testing.T) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	od := spec.Observation.Dim
	obs0 := make([]float32, od)
	for j := range obs0 {
		obs0[j] = float32(j) / 10
	}
	anns := []advisor.Annotation{{Episode: "e", Step: 3, Obs: obs0, Action: []float32{0.1, 0.2, 0.3}, Taken: []float32{-0.5, 0, 0.5}, Reward: -0.5}}
	rms := ppo.RMSState{Mean: make([]float64, od), Var: ones(od), Count: 1}
	for _, tc := range []struct {
		v    Variant
		want string
	}{
		{UltraRA, "table match, override p 1.00"},
		{UltraR, "table match"},
	} {
		t.Run(string(tc.v), func(t *testing.T) {
			s, err := NewSetup(rms, spec, Options{Variant: tc.v, Settings: with(Settings{Alpha: 0.1, Radius: 0.5, OverrideProb: 1}), Seed: 1, Annotations: anns})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Table.Len() != 1 {
				t.Fatalf("table of %d entries, want the one annotation (dropped: %s)", s.Table.Len(), s.Table.Dropped())
			}
			e := s.Table.Entries()[0]
			obs := make([]float32, od)
			copy(obs, e.Key) // mean 0, std 1: the key is the observation
			if got := s.Mark(obs); got != tc.want {
				t.Errorf("at an annotated state: %q, want %q", got, tc.want)
			}
			for j := range obs {
				obs[j] = 1e3
			}
			if got := s.Mark(obs); got != "" {
				t.Errorf("far from every annotation: %q, want none", got)
			}
			if hits, lookups := s.Table.HitRate(); hits != 0 || lookups != 0 {
				t.Errorf("labelling counted %d hits of %d lookups in the table's hit rate, want none", hits, lookups)
			}
		})
	}
}
