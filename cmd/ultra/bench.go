package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/bench"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/internal/configflags"
)

// benchUsage lists bench's targets.
const benchUsage = `ultra bench: measure the engine's speed

  ultra bench env [flags]          env steps per second (MuJoCo tasks against a plain C loop)
  ultra bench env-scaling [flags]  env steps per second over workers × envs per worker
  ultra bench update [flags]       the PPO update's samples per second on one backend and device

Run 'ultra bench TARGET -h' for its flags.
`

func cmdBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stderr, benchUsage)
		return flag.ErrHelp
	}
	if len(args) > 0 {
		switch args[0] {
		case "env":
			return benchEnv(args[1:], stdout, stderr)
		case "env-scaling":
			return benchEnvScaling(args[1:], stdout, stderr)
		case "update":
			return benchUpdate(args[1:], stdout, stderr)
		}
	}
	return fmt.Errorf("bench: want a target: 'ultra bench env [flags]', 'ultra bench env-scaling [flags]' or 'ultra bench update [flags]'")
}

func benchEnv(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench env", stderr)
	envID := fs.String("env", "hopper", "env id (MuJoCo tasks are also compared with a plain C loop)")
	var o bench.EnvOptions
	fs.IntVar(&o.Envs, "envs", 1, "instances in the batched VecEnv, ≥ 1")
	fs.IntVar(&o.Workers, "workers", 0, "worker goroutines; 0 = min(envs, cores)")
	fs.IntVar(&o.Steps, "steps", 20000, "env steps per measurement (summed over instances), ≥ 1000")
	fs.IntVar(&o.Rounds, "rounds", 3, "interleaved measurement rounds, ≥ 1")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Envs < 1 || o.Steps < 1000 || o.Rounds < 1 {
		return fmt.Errorf("bench env: want --envs ≥ 1, --steps ≥ 1000, --rounds ≥ 1 (got %d, %d, %d)", o.Envs, o.Steps, o.Rounds)
	}
	spec, err := registry().Lookup(*envID)
	if err != nil {
		return fmt.Errorf("bench env: %w", err)
	}
	res, err := bench.Env(spec, o)
	if err != nil {
		return fmt.Errorf("bench env: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if res.Mujoco == "" {
		fmt.Fprintf(stdout, "%s: GOMAXPROCS %d, %d steps × %d rounds (median); no C reference loop for a non-MuJoCo env\n", res.Env, res.GOMAXPROCS, res.Steps, res.Rounds)
		fmt.Fprintf(stdout, "  VecEnv, 1 env                         %10.0f steps/s\n", res.SingleSPS)
	} else {
		fmt.Fprintf(stdout, "%s: MuJoCo %s, GOMAXPROCS %d, %d steps × %d rounds (median)\n", res.Env, res.Mujoco, res.GOMAXPROCS, res.Steps, res.Rounds)
		fmt.Fprintf(stdout, "  plain C loop (mj_step ×%d, random ctrl)  %10.0f steps/s\n", res.FrameSkip, res.CLoopSPS)
		fmt.Fprintf(stdout, "  VecEnv, 1 env                         %10.0f steps/s  = %.3f× C loop\n", res.SingleSPS, res.SingleVsC)
	}
	fmt.Fprintf(stdout, "  VecEnv, %d envs, %d workers            %10.0f steps/s  = %.3f× 1 env\n", res.Envs, res.Workers, res.BatchSPS, res.BatchVsSingl)
	return nil
}

func benchEnvScaling(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench env-scaling", stderr)
	envID := fs.String("env", "hopper", "env id")
	workers := fs.String("workers", "", "worker counts, e.g. 1,2,4 or 1-16 (default 1, 2, 4, … up to the cores, and the cores)")
	perWorker := fs.String("envs-per-worker", "1,2,4,8", "instances per worker, e.g. 1,2,4,8")
	var o bench.ScalingOptions
	fs.IntVar(&o.Rounds, "rounds", 3, "interleaved measurement rounds, ≥ 1")
	fs.DurationVar(&o.Time, "time", 300*time.Millisecond, "stepping time per point and round, ≥ 10ms")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if *workers != "" {
		if o.Workers, err = intList(*workers); err != nil {
			return fmt.Errorf("bench env-scaling: --workers: %w", err)
		}
	}
	if o.PerWorker, err = intList(*perWorker); err != nil {
		return fmt.Errorf("bench env-scaling: --envs-per-worker: %w", err)
	}
	spec, err := registry().Lookup(*envID)
	if err != nil {
		return fmt.Errorf("bench env-scaling: %w", err)
	}
	res, err := bench.Scaling(spec, o)
	if err != nil {
		return fmt.Errorf("bench env-scaling: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	mj := ""
	if res.Mujoco != "" {
		mj = ", MuJoCo " + res.Mujoco
	}
	fmt.Fprintf(stdout, "env-scaling: %s%s, GOMAXPROCS %d, %d interleaved rounds × %.2f s per point, medians\n",
		res.Env, mj, res.GOMAXPROCS, res.Rounds, res.Seconds)
	// Table rows end in "N steps/s", which is what scripts/gpucheck reads.
	// "C loops" is the machine's ceiling for that many workers (as many
	// plain C loops at once, against one), "of C loops" the share of it the
	// VecEnv reaches; both are blank for envs without MuJoCo physics.
	// "busy" and "step cost" say where the rest goes: the workers' share of
	// time stepping instances (the rest waits at the step barrier) and an
	// instance step's cost against one env's (caches, contending cores).
	fmt.Fprintf(stdout, "%7s %12s %6s %10s %9s %11s %6s %10s %20s\n", "workers", "envs/worker", "envs", "× 1 env", "C loops", "of C loops", "busy", "step cost", "steps/s")
	row := func(p bench.ScalingPoint) {
		c, of := "", ""
		if p.CLoops > 0 {
			c, of = fmt.Sprintf("%.2f×", p.CLoops), fmt.Sprintf("%.0f%%", 100*p.OfCLoops)
		}
		fmt.Fprintf(stdout, "%7d %12d %6d %9.2f× %9s %11s %5.0f%% %9.3f× %12.0f steps/s\n",
			p.Workers, p.Envs/p.Workers, p.Envs, p.Ratio, c, of, 100*p.Busy, p.StepCost, p.SPS)
	}
	if len(res.Points) == 0 || res.Points[0].Envs > 1 {
		row(bench.ScalingPoint{Workers: 1, Envs: 1, Ratio: 1, SPS: res.RefSPS, Busy: res.RefBusy, StepCost: 1})
	}
	for _, p := range res.Points {
		row(p)
	}
	for _, p := range res.Points {
		fmt.Fprintf(stdout, "env-scaling %s workers=%d envs=%d steps_per_s=%.0f ratio=%.2f busy=%.3f step_cost=%.3f",
			res.Env, p.Workers, p.Envs, p.SPS, p.Ratio, p.Busy, p.StepCost)
		if p.CLoops > 0 {
			fmt.Fprintf(stdout, " c_loops_ratio=%.2f of_c_loops=%.2f", p.CLoops, p.OfCLoops)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// intList parses "1,2,4" or a range "1-16" (or a mix, "1-4,8,16") into
// positive integers.
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(f), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 1 {
			return nil, fmt.Errorf("%q: want positive integers, e.g. 1,2,4 or 1-16", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q: want ranges low-high with low ≤ high", s)
			}
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}

func benchUpdate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench update", stderr)
	var o bench.UpdateOptions
	dev := ppo.Defaults() // --backend, --device and --tf32 as train has them
	devFlags := configflags.New(fs, &dev, "backend", "device", "tf32")
	fs.StringVar(&o.Net, "net", "mlp", "mlp (two tanh MLPs, Gaussian head) or cnn (Nature-CNN, categorical head)")
	fs.IntVar(&o.Obs, "obs", 11, "observation size (mlp)")
	fs.IntVar(&o.Act, "act", 3, "action size (mlp)")
	fs.IntVar(&o.Hidden, "hidden", 64, "hidden layer width (mlp, two layers)")
	fs.IntVar(&o.Batch, "batch", 0, "samples per update (0: 2048 mlp, 1024 cnn)")
	fs.IntVar(&o.Minibatch, "minibatch", 0, "samples per minibatch (0: 64 mlp, 256 cnn)")
	fs.IntVar(&o.Epochs, "epochs", 0, "epochs per update (0: 10 mlp, 4 cnn)")
	fs.IntVar(&o.Rounds, "rounds", 3, "timed updates (median reported)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := devFlags.Apply(""); err != nil {
		return fmt.Errorf("bench update: %w", err)
	}
	o.Backend, o.Device, o.TF32 = dev.Backend, dev.Device, dev.TF32
	res, err := bench.Update(o)
	if err != nil {
		return fmt.Errorf("bench update: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	what := fmt.Sprintf("%d×%d-%d MLP", o.Obs, o.Hidden, o.Hidden)
	if o.Net == "cnn" {
		what = "Nature-CNN on 4×84×84"
	}
	fmt.Fprintf(stdout, "PPO update, %s on %s: %s, batch %d, minibatch %d, %d epochs: %.3f s/update, %.0f samples/s\n",
		res.Impl, res.Device, what, res.Batch, res.Minibatch, res.Epochs, res.UpdateSeconds, res.SamplesPerSec)
	if res.Kernels != "" {
		fmt.Fprintf(stdout, "kernels: %s\n", res.Kernels)
	}
	return nil
}
