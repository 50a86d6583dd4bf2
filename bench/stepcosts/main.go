// Command stepcosts asks how much of a synchronous VecEnv Step the step
// barrier must waste, whatever the machine. It steps N instances of a task
// one after another on one thread with uniform random actions, records
// what each instance step cost (resets included), and replays those costs
// through three schedules of W workers:
//
//   - pool: env.Pool's — each worker steps its own contiguous block in
//     order, then steals the others' unclaimed instances one at a time;
//   - longest first: instances dealt to workers longest first by the cost
//     they had in the previous Step (a predictor a pool could use);
//   - foresight: the same with this Step's own costs (the best any order
//     of whole instance steps can do).
//
// For each it prints "busy", the share of the workers' time spent stepping
// (the rest waits for the Step's last instance): the ceiling the barrier
// puts on W workers' speed-up, W × busy, with free physics scaling.
//
//	go run ./bench/stepcosts [-env hopper] [-envs 8] [-workers 2] [-steps 3000]
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func main() {
	id := flag.String("env", "hopper", "MuJoCo task")
	n := flag.Int("envs", 8, "instances")
	w := flag.Int("workers", 2, "workers of the simulated schedules")
	steps := flag.Int("steps", 3000, "Steps recorded (after 100 not recorded)")
	flag.Parse()
	if err := run(*id, *n, *w, *steps); err != nil {
		fmt.Fprintln(os.Stderr, "stepcosts:", err)
		os.Exit(1)
	}
}

func run(id string, n, w, steps int) error {
	if n < 1 || w < 1 || w > n || steps < 1 {
		return fmt.Errorf("want envs ≥ 1, 1 ≤ workers ≤ envs, steps ≥ 1 (got %d, %d, %d)", n, w, steps)
	}
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup(id)
	if err != nil {
		return err
	}
	costs, err := record(spec, n, steps)
	if err != nil {
		return err
	}
	var all []float64
	for _, row := range costs {
		all = append(all, row...)
	}
	mean, sd := meanSD(all)
	slices.Sort(all)
	fmt.Printf("%s: %d instances, %d Steps; an instance step costs %.1f µs on average (sd %.1f, cv %.2f; median %.1f, p90 %.1f, max %.0f)\n",
		id, n, steps, mean/1e3, sd/1e3, sd/mean, all[len(all)/2]/1e3, all[len(all)*9/10]/1e3, all[len(all)-1]/1e3)
	fmt.Printf("simulated on %d workers, busy share (speed-up ceiling = workers × busy):\n", w)
	for _, s := range []struct {
		name  string
		order func(k int) [][]int
	}{
		{"pool (own block, then steal)", func(int) [][]int { return blocks(n, w) }},
		{"longest first by the previous Step", func(k int) [][]int {
			if k == 0 {
				return blocks(n, w)
			}
			return longestFirst(costs[k-1], w)
		}},
		{"foresight (this Step's own costs)", func(k int) [][]int { return longestFirst(costs[k], w) }},
	} {
		b := busy(costs, s.order)
		fmt.Printf("  %-36s busy %.3f  ceiling %.2f×\n", s.name, b, float64(w)*b)
	}
	return nil
}

// record steps n instances in turn and returns each instance step's cost
// in ns, per Step.
func record(spec env.Spec, n, steps int) ([][]float64, error) {
	es := make([]env.Env, n)
	obs := make([][]float32, n)
	lens := make([]int, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range es {
		e, err := spec.New(env.DefaultOptions())
		if err != nil {
			return nil, err
		}
		defer e.Close()
		es[i], obs[i] = e, make([]float32, spec.Observation.Dim)
		e.Reset(rng, obs[i])
	}
	act := make([]float32, spec.Action.Dim)
	policy := eval.Random{Space: spec.Action, Rng: rng}
	var costs [][]float64
	for k := -100; k < steps; k++ {
		row := make([]float64, n)
		for i, e := range es {
			policy.Act(nil, 1, act)
			t0 := time.Now()
			_, done, err := e.Step(act, obs[i])
			lens[i]++
			if done || err != nil || lens[i] >= spec.MaxEpisodeSteps {
				e.Reset(rng, obs[i])
				lens[i] = 0
			}
			row[i] = float64(time.Since(t0).Nanoseconds())
		}
		if k >= 0 {
			costs = append(costs, row)
		}
	}
	return costs, nil
}

// blocks is the pool's split: worker j owns a contiguous run.
func blocks(n, w int) [][]int {
	out := make([][]int, w)
	for j := range out {
		for i := j * n / w; i < (j+1)*n/w; i++ {
			out[j] = append(out[j], i)
		}
	}
	return out
}

// longestFirst deals instances, costliest first by cost, each to the
// worker with the least so far; each worker's list is in dealing order.
func longestFirst(cost []float64, w int) [][]int {
	idx := make([]int, len(cost))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case cost[a] > cost[b]:
			return -1
		case cost[a] < cost[b]:
			return 1
		}
		return 0
	})
	out, sum := make([][]int, w), make([]float64, w)
	for _, i := range idx {
		j := slices.Index(sum, slices.Min(sum))
		out[j], sum[j] = append(out[j], i), sum[j]+cost[i]
	}
	return out
}

// busy replays the Steps: the free worker (ties to the lower index) takes
// the next instance of its own list, else the next unclaimed one of
// another's; a Step ends when its last instance does.
func busy(costs [][]float64, order func(k int) [][]int) float64 {
	var work, span float64
	for k, row := range costs {
		lists := order(k)
		w := len(lists)
		t := make([]float64, w)
		next := make([]int, w)
		for left := len(row); left > 0; left-- {
			j := slices.Index(t, slices.Min(t))
			src := j
			for d := 0; next[src] >= len(lists[src]); d++ {
				src = (j + d + 1) % w
			}
			t[j] += row[lists[src][next[src]]]
			next[src]++
		}
		end := slices.Max(t)
		for _, x := range t {
			work += x
		}
		span += float64(w) * end
	}
	return work / span
}

func meanSD(x []float64) (float64, float64) {
	var s, ss float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)))
}
