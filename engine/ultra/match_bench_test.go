package ultra

import (
	"math/rand/v2"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
)

// BenchmarkModulate is the per-env-step cost of ultra-ra on a walker2d-
// sized table (80 critical states, 17 values) in each match space, and of
// ultra-ra+rice, whose restart check adds a lock per step. It must not
// allocate.
func BenchmarkModulate(b *testing.B) {
	const dim, entries = 17, 80
	rng := rand.New(rand.NewPCG(1, 2))
	mean, std, task := make([]float64, dim), make([]float64, dim), make([]float64, dim)
	scaled := make([]float64, dim)
	for j := range std {
		std[j], task[j], scaled[j] = 1, 1, 0.5+rng.Float64()
	}
	task[8] = 0
	var anns []advisor.Annotation
	for i := 0; i < entries; i++ {
		obs := make([]float32, dim)
		for j := range obs {
			obs[j] = float32(rng.NormFloat64())
		}
		sr := 0.5
		anns = append(anns, advisor.Annotation{Episode: "e", Step: i, Obs: obs, Action: make([]float32, 6), Taken: make([]float32, 6),
			Reward: -0.5, SuggestedReward: &sr, Snapshot: []float64{1}})
	}
	states := make([][]float32, 1024)
	for i := range states {
		states[i] = make([]float32, dim)
		for j := range states[i] {
			states[i][j] = float32(rng.NormFloat64())
		}
	}
	for _, bc := range []struct {
		name    string
		weights []float64
		v       Variant
	}{{"full", nil, UltraRA}, {"task", task, UltraRA}, {"scaled", scaled, UltraRA}, {"full/ultra-ra+rice", nil, UltraRARICE}} {
		b.Run(bc.name, func(b *testing.B) {
			tb, err := NewWeightedTable(mean, std, bc.weights, 2.5)
			if err != nil {
				b.Fatal(err)
			}
			tb.Add(anns...)
			m, err := NewModulator(tb, ModulatorConfig{Variant: bc.v, Settings: with(Settings{Alpha: 0.1, OverrideProb: 1})})
			if err != nil {
				b.Fatal(err)
			}
			if bc.v.Behaviour().Resets {
				m.resets, _ = NewResetter(tb, 1, 1)
				m.resets.Restored(0, true)
			}
			act := make([]float32, 6)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Modulate(i%8, states[i%len(states)], act)
			}
		})
	}
}
