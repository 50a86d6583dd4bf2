// Package eval runs a policy over a VecEnv for a fixed number of episodes and
// summarises the returns.
package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/internal/memlimit"
)

// Policy maps a batch of n observations (n × obs dim) to n actions.
type Policy interface {
	Act(obs []float32, n int, actions []float32)
}

// Zero always takes the all-zero action (action 0 in a discrete space).
type Zero struct{}

// Act implements Policy.
func (Zero) Act(_ []float32, _ int, actions []float32) { clear(actions) }

// Random samples uniformly from the action space.
type Random struct {
	Space env.Space
	Rng   *rand.Rand
}

// Act implements Policy. Unbounded dimensions draw from a standard normal.
func (r Random) Act(_ []float32, n int, actions []float32) {
	d := r.Space.Dim
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			a := &actions[i*d+j]
			switch {
			case r.Space.IsDiscrete():
				*a = float32(r.Rng.IntN(r.Space.N))
			case math.IsInf(float64(r.Space.Low[j]), 0) || math.IsInf(float64(r.Space.High[j]), 0):
				*a = float32(r.Rng.NormFloat64())
			default:
				lo, hi := float64(r.Space.Low[j]), float64(r.Space.High[j])
				*a = float32(lo + r.Rng.Float64()*(hi-lo))
			}
		}
	}
}

// Baseline returns the named baseline policy for an action space: "zero"
// or "random" (seeded).
func Baseline(name string, space env.Space, seed uint64) (Policy, error) {
	switch name {
	case "zero":
		return Zero{}, nil
	case "random":
		return Random{Space: space, Rng: rand.New(rand.NewPCG(seed, 0x5eed))}, nil
	}
	return nil, fmt.Errorf("unknown policy %q: valid policies are zero, random", name)
}

// Quota assigns episodes to n instances round-robin: instance i runs
// episodes i, i+n, …, so short episodes are not over-represented.
func Quota(episodes, n int) []int {
	q := make([]int, n)
	for k := 0; k < episodes; k++ {
		q[k%n]++
	}
	return q
}

// Episode is one finished evaluation episode.
type Episode struct {
	Index  int     `json:"index"`  // 0-based, in the order of the per-env schedule
	Env    int     `json:"env"`    // the VecEnv instance that ran it
	Return float64 `json:"return"` // undiscounted sum of rewards
	Length int     `json:"length"` // steps
}

// Run resets v with seed and steps it under p until `episodes` episodes have
// finished. Episodes are assigned to instances round-robin (instance i runs
// episodes i, i+N, …) so short episodes are not over-represented, and the
// result is the same for a given seed whatever the instance count's timing.
func Run(v env.VecEnv, p Policy, episodes int, seed uint64) ([]Episode, error) {
	if episodes < 1 {
		return nil, fmt.Errorf("eval: episodes must be ≥ 1, got %d", episodes)
	}
	per := int64(unsafe.Sizeof(Episode{}))
	if err := memlimit.Check(memlimit.Estimate{Bytes: memlimit.SatMul(int64(episodes), per),
		What: fmt.Sprintf("the results of %d episodes", episodes)}); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	n := v.NumEnvs()
	obs, err := v.Reset(seed)
	if err != nil {
		return nil, err
	}
	quota := Quota(episodes, n)
	done := make([]int, n)
	out := make([]Episode, episodes)
	actions := make([]float32, n*v.Spec().Action.Dim)
	for finished := 0; finished < episodes; {
		p.Act(obs, n, actions)
		res, err := v.Step(actions)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if res.Done(i) && done[i] < quota[i] {
				k := i + done[i]*n
				out[k] = Episode{Index: k, Env: i, Return: res.EpisodeReturn[i], Length: res.EpisodeLength[i]}
				done[i]++
				finished++
			}
		}
		obs = res.Obs
	}
	return out, nil
}

// Summary holds statistics over episodes.
type Summary struct {
	Episodes   int     `json:"episodes"`
	MeanReturn float64 `json:"mean_return"`
	StdReturn  float64 `json:"std_return"` // population standard deviation
	MinReturn  float64 `json:"min_return"`
	MaxReturn  float64 `json:"max_return"`
	MeanLength float64 `json:"mean_length"`
}

// Summarize computes a Summary of eps.
func Summarize(eps []Episode) Summary {
	s := Summary{Episodes: len(eps), MinReturn: math.Inf(1), MaxReturn: math.Inf(-1)}
	if len(eps) == 0 {
		return Summary{}
	}
	for _, e := range eps {
		s.MeanReturn += e.Return
		s.MeanLength += float64(e.Length)
		s.MinReturn = math.Min(s.MinReturn, e.Return)
		s.MaxReturn = math.Max(s.MaxReturn, e.Return)
	}
	s.MeanReturn /= float64(len(eps))
	s.MeanLength /= float64(len(eps))
	for _, e := range eps {
		s.StdReturn += (e.Return - s.MeanReturn) * (e.Return - s.MeanReturn)
	}
	s.StdReturn = math.Sqrt(s.StdReturn / float64(len(eps)))
	return s
}
