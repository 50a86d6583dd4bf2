package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// ScalingOptions sizes an env-scaling sweep: every combination of a worker
// count and a number of instances per worker.
type ScalingOptions struct {
	Workers   []int         // worker counts; nil: 1, 2, 4, … up to GOMAXPROCS, and GOMAXPROCS
	PerWorker []int         // instances per worker; nil: 1, 2, 4, 8
	Rounds    int           // interleaved rounds, ≥ 1
	Time      time.Duration // stepping time per point and round, ≥ 10 ms
}

// ScalingPoint is one point of the curve.
type ScalingPoint struct {
	Workers int     `json:"workers"`
	Envs    int     `json:"envs"`          // instances, Workers × instances per worker
	SPS     float64 `json:"steps_per_s"`   // instance steps per second, median over rounds
	Ratio   float64 `json:"ratio_to_1env"` // median over rounds of SPS / the reference's SPS in that round
}

// ScalingResult is the result of 'ultra bench env-scaling'.
type ScalingResult struct {
	Env        string         `json:"env"`
	Mujoco     string         `json:"mujoco_version,omitempty"`
	GOMAXPROCS int            `json:"gomaxprocs"`
	Rounds     int            `json:"rounds"`
	Seconds    float64        `json:"seconds_per_point"`
	RefSPS     float64        `json:"ref_sps"` // 1 instance, 1 worker, median over rounds
	Points     []ScalingPoint `json:"points"`  // in the order of the sweep, workers first; the reference too if swept
}

// DefaultWorkers returns 1, 2, 4, … below n, and n.
func DefaultWorkers(n int) []int {
	var ws []int
	for w := 1; w < n; w *= 2 {
		ws = append(ws, w)
	}
	return append(ws, n)
}

// Scaling measures spec's VecEnv throughput for every (workers, instances
// per worker) pair of o, against one instance on one worker. In each round
// the reference and every point are measured in turn, for o.Time each, so
// that machine noise hits them alike; figures are medians over rounds.
func Scaling(spec env.Spec, o ScalingOptions) (ScalingResult, error) {
	if o.Workers == nil {
		o.Workers = DefaultWorkers(runtime.GOMAXPROCS(0))
	}
	if o.PerWorker == nil {
		o.PerWorker = []int{1, 2, 4, 8}
	}
	if o.Rounds < 1 || o.Time < 10*time.Millisecond {
		return ScalingResult{}, fmt.Errorf("bench: want rounds ≥ 1 and time ≥ 10ms (got %d, %v)", o.Rounds, o.Time)
	}
	type point struct {
		w, n int
		v    *env.Pool
		sps  []float64
	}
	ref := &point{w: 1, n: 1}
	pts, sweep := []*point{ref}, []*point(nil) // measured; reported
	for _, w := range o.Workers {
		for _, e := range o.PerWorker {
			if w < 1 || e < 1 {
				return ScalingResult{}, fmt.Errorf("bench: want workers and instances per worker ≥ 1 (got %d, %d)", w, e)
			}
			p := ref
			if w*e > 1 {
				p = &point{w: w, n: w * e}
				pts = append(pts, p)
			}
			sweep = append(sweep, p)
		}
	}
	for _, p := range pts {
		v, err := env.New(spec, env.Config{NumEnvs: p.n, Workers: p.w})
		if err != nil {
			return ScalingResult{}, err
		}
		defer v.Close()
		p.v = v
	}
	for r := 0; r < o.Rounds; r++ {
		for _, p := range pts {
			if _, err := vecFor(p.v, o.Time/10); err != nil { // wake the helpers, warm the caches
				return ScalingResult{}, err
			}
			sps, err := vecFor(p.v, o.Time)
			if err != nil {
				return ScalingResult{}, err
			}
			p.sps = append(p.sps, sps)
		}
	}
	res := ScalingResult{Env: spec.ID, GOMAXPROCS: runtime.GOMAXPROCS(0), Rounds: o.Rounds,
		Seconds: o.Time.Seconds(), RefSPS: median(ref.sps)}
	if _, _, err := tasks.Physics(spec.ID); err == nil {
		res.Mujoco = mujoco.Version()
	}
	for _, p := range sweep {
		ratios := make([]float64, len(p.sps))
		for r, x := range p.sps {
			ratios[r] = x / ref.sps[r]
		}
		res.Points = append(res.Points, ScalingPoint{Workers: p.w, Envs: p.n, SPS: median(p.sps), Ratio: median(ratios)})
	}
	return res, nil
}

// vecFor steps v with uniform random actions (drawn before timing) for
// about d and returns instance steps per second.
func vecFor(v env.VecEnv, d time.Duration) (float64, error) {
	n, ad := v.NumEnvs(), v.Spec().Action.Dim
	const pool = 16
	acts := make([][]float32, pool)
	p := eval.Random{Space: v.Spec().Action, Rng: rand.New(rand.NewPCG(1, 2))}
	for i := range acts {
		acts[i] = make([]float32, n*ad)
		p.Act(nil, n, acts[i])
	}
	if _, err := v.Reset(3); err != nil {
		return 0, err
	}
	t0 := time.Now()
	k := 0
	for ; k == 0 || time.Since(t0) < d; k++ {
		if _, err := v.Step(acts[k%pool]); err != nil {
			return 0, err
		}
	}
	return float64(k*n) / time.Since(t0).Seconds(), nil
}
