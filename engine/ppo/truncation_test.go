package ppo

import (
	"math/rand/v2"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

// coinEnv ends an episode at random (terminated) or at the time limit
// (truncated, by the VecEnv), so that in a batch some instances are
// truncated at a step and others are not.
type coinEnv struct{ rng *rand.Rand }

func (c *coinEnv) Reset(rng *rand.Rand, obs []float32) { c.rng = rng; obs[0] = 0 }
func (c *coinEnv) Step(a, obs []float32) (float64, bool, error) {
	obs[0] = a[0]
	return float64(a[0]), c.rng.Float64() < 0.1, nil
}
func (c *coinEnv) Snapshot(dst []float64) []float64         { return dst[:0] }
func (c *coinEnv) Restore(s []float64, obs []float32) error { return nil }
func (c *coinEnv) Close() error                             { return nil }

// TestSomeEnvsTruncated: when some instances of a batch are truncated at a
// step and others are not, the trainer bootstraps the truncated ones'
// values (its Forward over them alone used to be handed the whole batch's
// buffers, which the networks refuse), for a one-dimensional and a
// two-dimensional action.
func TestSomeEnvsTruncated(t *testing.T) {
	for _, dim := range []int{1, 2} {
		lo, hi := make([]float32, dim), make([]float32, dim)
		for i := range lo {
			lo[i], hi[i] = -1, 1
		}
		spec := env.Spec{ID: "coin", Observation: env.UnboundedBox(1), Action: env.Box(lo, hi),
			ObsLayout: []env.Field{{Name: "last action"}}, MaxEpisodeSteps: 8, Family: env.FamilyMuJoCo,
			New: func(env.Options) (env.Env, error) { return &coinEnv{}, nil }}
		c := small()
		c.Env, c.NumEnvs, c.NumSteps, c.NumMinibatches, c.TotalSteps = "coin", 4, 64, 4, 4*64*3
		tr, err := New(c, spec, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		for !tr.Done() {
			if _, err := tr.Iterate(); err != nil {
				t.Fatalf("action dim %d: %v", dim, err)
			}
		}
		tr.Close()
	}
}
