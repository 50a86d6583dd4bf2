package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// backendCtor is the signature shared by NewGorgonia and NewNative.
type backendCtor func(Spec, uint64, AdamConfig) (Backend, error)

// BenchmarkPPOUpdate measures one epoch-equivalent of CleanRL's MuJoCo
// defaults on a Hopper-sized net (obs 11, act 3, hidden 64-64): a 2048-sample
// batch split into 32 minibatches of 64, each followed by Grad and Step
// (lr 3e-4, max_grad_norm 0.5, clip 0.2, vf 0.5, ent 0, clip_vloss on).
// One op is the whole epoch.
func BenchmarkPPOUpdate(b *testing.B) { benchPPOUpdate(b, NewGorgonia) }

// BenchmarkPPOUpdateNative is BenchmarkPPOUpdate on the plain-Go backend.
func BenchmarkPPOUpdateNative(b *testing.B) { benchPPOUpdate(b, NewNative) }

func benchPPOUpdate(b *testing.B, newBackend backendCtor) {
	const (
		total = 2048
		mb    = 64
	)
	nb, err := newBackend(Spec{ObsDim: 11, ActDim: 3}, 1, AdamConfig{})
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
	// Warm-up outside the timer (graph compilation, scratch buffers); Grad
	// without Step leaves the parameters as they were.
	if _, err := nb.Grad(batches[0], cfg); err != nil {
		b.Fatal(err)
	}
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

// BenchmarkForward measures one Forward call of the Hopper-sized net (obs
// 11, act 3, hidden 64-64) on the gorgonia backend for n = 1 (one env
// step), 8 (a small vectorised env) and 2048 (a whole rollout).
func BenchmarkForward(b *testing.B) { benchForward(b, NewGorgonia) }

// BenchmarkForwardNative is BenchmarkForward on the plain-Go backend.
func BenchmarkForwardNative(b *testing.B) { benchForward(b, NewNative) }

func benchForward(b *testing.B, newBackend backendCtor) {
	nb, err := newBackend(Spec{ObsDim: 11, ActDim: 3}, 1, AdamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	s := nb.Spec()
	for _, n := range []int{1, 8, 2048} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			obs := randSlice(rand.New(rand.NewPCG(1, uint64(n))), n*s.ObsDim, -2, 2)
			dist, values := make([]float32, n*s.ActDim), make([]float32, n)
			if err := nb.Forward(obs, n, dist, values); err != nil { // warm-up: graph / scratch
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := nb.Forward(obs, n, dist, values); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
