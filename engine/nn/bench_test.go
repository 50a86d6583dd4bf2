package nn

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPPOUpdate measures one epoch-equivalent of CleanRL's MuJoCo
// defaults on a Hopper-sized net (obs 11, act 3, hidden 64-64): a 2048-sample
// batch split into 32 minibatches of 64, each followed by Grad and Step
// (lr 3e-4, max_grad_norm 0.5, clip 0.2, vf 0.5, ent 0, clip_vloss on).
// One op is the whole epoch.
func BenchmarkPPOUpdate(b *testing.B) {
	const (
		total = 2048
		mb    = 64
	)
	nb, err := NewGorgonia(Spec{ObsDim: 11, ActDim: 3}, 1, AdamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	full := makeBatch(nb, rand.New(rand.NewPCG(1, 2)), total, 0.1, 0.1)
	s := nb.Spec()
	var batches []Batch
	for i := 0; i < total; i += mb {
		batches = append(batches, Batch{
			N:          mb,
			Obs:        full.Obs[i*s.ObsDim : (i+mb)*s.ObsDim],
			Actions:    full.Actions[i*s.ActDim : (i+mb)*s.ActDim],
			LogProbs:   full.LogProbs[i : i+mb],
			Advantages: full.Advantages[i : i+mb],
			Returns:    full.Returns[i : i+mb],
			Values:     full.Values[i : i+mb],
		})
	}
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, bt := range batches {
			if _, err := nb.Grad(bt, cfg); err != nil {
				b.Fatal(err)
			}
			if _, err := nb.Step(3e-4, 0.5); err != nil {
				b.Fatal(err)
			}
		}
	}
}
