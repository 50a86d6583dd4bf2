package env_test

import (
	"math"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// FuzzPoolUnmarshalBinary feeds arbitrary bytes to the decoder of a
// checkpoint's env state: per-instance simulator snapshots, RNG states and
// episode progress (issue 14's fuzzing). A state it accepts must step on
// without panicking and with finite observations, rewards and returns.
func FuzzPoolUnmarshalBinary(f *testing.F) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		f.Fatal(err)
	}
	p, err := env.New(spec, env.Config{NumEnvs: 2, Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	act := make([]float32, 2*spec.Action.Dim)
	if _, err := p.Reset(7); err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		for j := range act {
			act[j] = float32(i%3) - 1
		}
		if _, err := p.Step(act); err != nil {
			f.Fatal(err)
		}
		if i%13 == 0 {
			b, err := p.MarshalBinary()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		for i := range act {
			act[i] = 0.5
		}
		for s := 0; s < 3; s++ {
			res, err := p.Step(act)
			if err != nil {
				t.Fatalf("step %d after restoring an accepted state: %v", s, err)
			}
			for i, v := range res.Obs {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("observation value %d is %v", i, v)
				}
			}
			for i := range res.Rewards {
				r, ret := float64(res.Rewards[i]), res.EpisodeReturn[i]
				if math.IsNaN(r) || math.IsInf(r, 0) || math.IsNaN(ret) || math.IsInf(ret, 0) || res.EpisodeLength[i] < 0 {
					t.Fatalf("instance %d: reward %v, return %v, length %d", i, r, ret, res.EpisodeLength[i])
				}
			}
		}
	})
}
