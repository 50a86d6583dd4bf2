package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func cmdBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "env" {
		return fmt.Errorf("bench: want a target: 'ultra bench env [flags]'")
	}
	return benchEnv(args[1:], stdout, stderr)
}

// envBench is the result of 'ultra bench env'. Every figure comes from one
// process, measured in interleaved rounds so machine noise hits all alike;
// each figure is the median over rounds.
type envBench struct {
	Env          string  `json:"env"`
	Envs         int     `json:"envs"`
	Workers      int     `json:"workers"`
	Steps        int     `json:"steps_per_round"`
	Rounds       int     `json:"rounds"`
	CLoopSPS     float64 `json:"c_loop_sps"`      // plain C mj_step loop, one core
	SingleSPS    float64 `json:"vecenv_1_sps"`    // VecEnv with one instance
	BatchSPS     float64 `json:"vecenv_n_sps"`    // VecEnv with Envs instances
	SingleVsC    float64 `json:"single_vs_c"`     // SingleSPS / CLoopSPS
	BatchVsSingl float64 `json:"batch_vs_single"` // BatchSPS / SingleSPS
	Mujoco       string  `json:"mujoco_version"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
}

func benchEnv(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench env", stderr)
	envID := fs.String("env", "hopper", "MuJoCo task id")
	n := fs.Int("envs", 1, "instances in the batched VecEnv, ≥ 1")
	workers := fs.Int("workers", 0, "worker goroutines; 0 = min(envs, cores)")
	steps := fs.Int("steps", 20000, "env steps per measurement (summed over instances), ≥ 1000")
	rounds := fs.Int("rounds", 3, "interleaved measurement rounds, ≥ 1")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *steps < 1000 || *rounds < 1 {
		return fmt.Errorf("bench env: want --envs ≥ 1, --steps ≥ 1000, --rounds ≥ 1 (got %d, %d, %d)", *n, *steps, *rounds)
	}
	spec, err := registry().Lookup(*envID)
	if err != nil {
		return fmt.Errorf("bench env: %w", err)
	}
	model, skip, err := tasks.Physics(spec.ID)
	if err != nil {
		return fmt.Errorf("bench env: %w", err)
	}
	data, err := mujoco.NewData(model)
	if err != nil {
		return err
	}
	defer data.Close()

	single, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		return err
	}
	defer single.Close()
	batch, err := env.New(spec, env.Config{NumEnvs: *n, Workers: *workers})
	if err != nil {
		return err
	}
	defer batch.Close()

	cloop := func(k int) float64 {
		t0 := time.Now()
		data.CLoop(k, skip, spec.MaxEpisodeSteps, 12345)
		return float64(k) / time.Since(t0).Seconds()
	}
	var c, s, b []float64
	cloop(*steps / 10) // warm caches
	vecSPS(single, *steps/10)
	vecSPS(batch, *steps/10)
	for r := 0; r < *rounds; r++ {
		c = append(c, cloop(*steps))
		s = append(s, vecSPS(single, *steps))
		b = append(b, vecSPS(batch, *steps))
	}
	w := *workers
	if w == 0 {
		w = min(*n, runtime.GOMAXPROCS(0))
	}
	res := envBench{Env: spec.ID, Envs: *n, Workers: w, Steps: *steps, Rounds: *rounds,
		CLoopSPS: median(c), SingleSPS: median(s), BatchSPS: median(b),
		Mujoco: mujoco.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	res.SingleVsC = res.SingleSPS / res.CLoopSPS
	res.BatchVsSingl = res.BatchSPS / res.SingleSPS
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%s: MuJoCo %s, GOMAXPROCS %d, %d steps × %d rounds (median)\n", res.Env, res.Mujoco, res.GOMAXPROCS, res.Steps, res.Rounds)
	fmt.Fprintf(stdout, "  plain C loop (mj_step ×%d, random ctrl)  %10.0f steps/s\n", skip, res.CLoopSPS)
	fmt.Fprintf(stdout, "  VecEnv, 1 env                         %10.0f steps/s  = %.3f× C loop\n", res.SingleSPS, res.SingleVsC)
	fmt.Fprintf(stdout, "  VecEnv, %d envs, %d workers            %10.0f steps/s  = %.3f× 1 env\n", res.Envs, res.Workers, res.BatchSPS, res.BatchVsSingl)
	return nil
}

// vecSPS steps v with uniform random actions (drawn before timing) for about
// `steps` instance steps and returns instance steps per second.
func vecSPS(v env.VecEnv, steps int) float64 {
	n, ad := v.NumEnvs(), v.Spec().Action.Dim
	const pool = 16
	acts := make([][]float32, pool)
	p := eval.Random{Space: v.Spec().Action, Rng: rand.New(rand.NewPCG(1, 2))}
	for i := range acts {
		acts[i] = make([]float32, n*ad)
		p.Act(nil, n, acts[i])
	}
	if _, err := v.Reset(3); err != nil {
		panic(err)
	}
	calls := max(1, steps/n)
	t0 := time.Now()
	for k := 0; k < calls; k++ {
		if _, err := v.Step(acts[k%pool]); err != nil {
			panic(err) // actions are drawn in-space; an error here is a bug
		}
	}
	return float64(calls*n) / time.Since(t0).Seconds()
}

func median(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	if len(y)%2 == 1 {
		return y[len(y)/2]
	}
	return (y[len(y)/2-1] + y[len(y)/2]) / 2
}
