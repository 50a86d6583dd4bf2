// Package bench measures the engine against references taken in the same
// run: environment throughput against a plain C MuJoCo loop (and a batch
// against one instance), and the PPO update against the same workload in
// PyTorch (bench/ppo_update_torch.py). Figures are medians over interleaved
// rounds, so that machine noise hits every measurement alike.
package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// EnvOptions sizes an environment benchmark.
type EnvOptions struct {
	Envs    int // instances in the batched VecEnv
	Workers int // worker goroutines (0: min(Envs, cores))
	Steps   int // env steps per measurement, summed over instances
	Rounds  int // interleaved rounds
}

// EnvResult is the result of 'ultra bench env'. Every figure comes from one
// process, measured in interleaved rounds so machine noise hits all alike;
// each figure is the median over rounds.
type EnvResult struct {
	Env          string  `json:"env"`
	Envs         int     `json:"envs"`
	Workers      int     `json:"workers"`
	Steps        int     `json:"steps_per_round"`
	Rounds       int     `json:"rounds"`
	CLoopSPS     float64 `json:"c_loop_sps"`      // plain C mj_step loop, one core (MuJoCo tasks only)
	SingleSPS    float64 `json:"vecenv_1_sps"`    // VecEnv with one instance
	BatchSPS     float64 `json:"vecenv_n_sps"`    // VecEnv with Envs instances
	SingleVsC    float64 `json:"single_vs_c"`     // median over rounds of the round's VecEnv-1 / C loop steps/s (MuJoCo tasks only)
	BatchVsSingl float64 `json:"batch_vs_single"` // median over rounds of the round's VecEnv-N / VecEnv-1 steps/s
	Mujoco       string  `json:"mujoco_version,omitempty"`
	FrameSkip    int     `json:"frame_skip,omitempty"` // the C loop's physics steps per env step
	GOMAXPROCS   int     `json:"gomaxprocs"`
}

// Env measures spec's throughput: a plain C mj_step loop (MuJoCo tasks),
// one VecEnv instance, and a VecEnv of o.Envs instances.
func Env(spec env.Spec, o EnvOptions) (EnvResult, error) {
	if o.Envs < 1 || o.Steps < 1000 || o.Rounds < 1 {
		return EnvResult{}, fmt.Errorf("bench: want envs ≥ 1, steps ≥ 1000, rounds ≥ 1 (got %d, %d, %d)", o.Envs, o.Steps, o.Rounds)
	}
	// The plain C loop is the reference for MuJoCo tasks; other envs
	// (Pong, ALE games) are measured against their own single instance.
	var data *mujoco.Data
	model, skip, err := tasks.Physics(spec.ID)
	if err == nil {
		if data, err = mujoco.NewData(model); err != nil {
			return EnvResult{}, err
		}
		defer data.Close()
	}

	single, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		return EnvResult{}, err
	}
	defer single.Close()
	batch, err := env.New(spec, env.Config{NumEnvs: o.Envs, Workers: o.Workers})
	if err != nil {
		return EnvResult{}, err
	}
	defer batch.Close()

	cloop := func(k int) (float64, error) {
		if data == nil {
			return 0, nil
		}
		t0 := time.Now()
		if err := data.CLoop(k, skip, spec.MaxEpisodeSteps, 12345); err != nil {
			return 0, fmt.Errorf("bench: C loop: %w", err)
		}
		return float64(k) / time.Since(t0).Seconds(), nil
	}
	var c, s, b []float64
	if _, err := cloop(o.Steps / 10); err != nil { // warm caches
		return EnvResult{}, err
	}
	if _, err := vecSPS(single, o.Steps/10); err != nil {
		return EnvResult{}, err
	}
	if _, err := vecSPS(batch, o.Steps/10); err != nil {
		return EnvResult{}, err
	}
	for r := 0; r < o.Rounds; r++ {
		cs, err := cloop(o.Steps)
		if err != nil {
			return EnvResult{}, err
		}
		c = append(c, cs)
		x, err := vecSPS(single, o.Steps)
		if err != nil {
			return EnvResult{}, err
		}
		y, err := vecSPS(batch, o.Steps)
		if err != nil {
			return EnvResult{}, err
		}
		s, b = append(s, x), append(b, y)
	}
	w := o.Workers
	if w == 0 {
		w = min(o.Envs, runtime.GOMAXPROCS(0))
	}
	res := EnvResult{Env: spec.ID, Envs: o.Envs, Workers: w, Steps: o.Steps, Rounds: o.Rounds,
		CLoopSPS: median(c), SingleSPS: median(s), BatchSPS: median(b), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if data != nil {
		res.Mujoco = mujoco.Version()
		res.SingleVsC = medianRatio(s, c)
	}
	res.BatchVsSingl = medianRatio(b, s)
	res.FrameSkip = skip
	return res, nil
}

// vecSPS steps v for about `steps` instance steps and returns instance
// steps per second.
func vecSPS(v env.VecEnv, steps int) (float64, error) {
	return randomSteps(v, max(1, steps/v.NumEnvs()), 0)
}

// randomSteps resets v, then calls Step at least calls times and for at
// least d, and returns instance steps per second. The actions are uniform
// random, drawn afresh for every instance and step inside the timed loop
// (a few ns per value; every configuration pays the same per instance
// step): actions replayed from a short list would make each instance
// follow a periodic policy, whose states, and so whose step cost, depend
// on the list rather than on the configuration being measured.
func randomSteps(v env.VecEnv, calls int, d time.Duration) (float64, error) {
	n, ad := v.NumEnvs(), v.Spec().Action.Dim
	acts := make([]float32, n*ad)
	p := eval.Random{Space: v.Spec().Action, Rng: rand.New(rand.NewPCG(1, 2))}
	if _, err := v.Reset(3); err != nil {
		return 0, err
	}
	t0 := time.Now()
	k := 0
	for ; k < calls || time.Since(t0) < d; k++ {
		p.Act(nil, n, acts)
		if _, err := v.Step(acts); err != nil {
			return 0, err
		}
	}
	return float64(k*n) / time.Since(t0).Seconds(), nil
}

// medianRatio is the median over rounds of each round's num / den: ratios
// are taken within a round, where the load of a shared machine falls on
// both sides alike.
func medianRatio(num, den []float64) float64 {
	r := make([]float64, len(num))
	for i := range num {
		r[i] = num[i] / den[i]
	}
	return median(r)
}

func median(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	if len(y)%2 == 1 {
		return y[len(y)/2]
	}
	return (y[len(y)/2-1] + y[len(y)/2]) / 2
}
