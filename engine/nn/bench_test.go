package nn

import (
	"fmt"
	"math"
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

// natureSpec is CleanRL ppo_atari's network on 4 stacked 84×84 frames with
// Pong's 6 actions.
var natureSpec = Spec{ObsDim: 4 * 84 * 84, ActDim: 6, Discrete: true, Image: [3]int{4, 84, 84}}

// BenchmarkCNNUpdate measures one minibatch step of CleanRL ppo_atari on
// the Nature-CNN (gorgonia): Grad and Step on 256 samples (8 envs × 128
// steps / 4 minibatches, clip 0.1, vf 0.5, ent 0.01). One op is one
// minibatch; samples/s = 256 / (ns/op).
func BenchmarkCNNUpdate(b *testing.B) { benchCNNUpdate(b, NewGorgonia) }

// BenchmarkCNNUpdateNative is BenchmarkCNNUpdate on the native backend.
func BenchmarkCNNUpdateNative(b *testing.B) { benchCNNUpdate(b, NewNative) }

func benchCNNUpdate(b *testing.B, newB func(Spec, uint64, AdamConfig) (Backend, error)) {
	const mb = 256
	nb, err := newB(natureSpec, 1, AdamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	bt := Batch{N: mb, Obs: randSlice(rng, mb*natureSpec.ObsDim, 0, 1), Actions: make([]float32, mb),
		LogProbs: make([]float32, mb), Advantages: randSlice(rng, mb, -1.5, 1.5),
		Returns: randSlice(rng, mb, -1, 1), Values: randSlice(rng, mb, -1, 1)}
	for i := range bt.Actions {
		bt.Actions[i] = float32(rng.IntN(natureSpec.ActDim))
		bt.LogProbs[i] = float32(-math.Log(6) + 0.05*(2*rng.Float64()-1))
	}
	cfg := LossConfig{ClipCoef: 0.1, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}
	if _, err := nb.Grad(bt, cfg); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := nb.Grad(bt, cfg); err != nil {
			b.Fatal(err)
		}
		if _, err := nb.Step(2.5e-4, 0.5); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(mb)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkCNNForward measures one rollout-step Forward of the Nature-CNN
// for 8 envs (CleanRL ppo_atari's batch of observations per env step).
func BenchmarkCNNForward(b *testing.B) { benchCNNForward(b, NewGorgonia) }

// BenchmarkCNNForwardNative is BenchmarkCNNForward on the native backend.
func BenchmarkCNNForwardNative(b *testing.B) { benchCNNForward(b, NewNative) }

func benchCNNForward(b *testing.B, newB func(Spec, uint64, AdamConfig) (Backend, error)) {
	const n = 8
	nb, err := newB(natureSpec, 1, AdamConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	obs := randSlice(rand.New(rand.NewPCG(1, 2)), n*natureSpec.ObsDim, 0, 1)
	dist, values := make([]float32, n*natureSpec.ActDim), make([]float32, n)
	if err := nb.Forward(obs, n, dist, values); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := nb.Forward(obs, n, dist, values); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}
