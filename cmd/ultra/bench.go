package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/nn"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func cmdBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "env":
			return benchEnv(args[1:], stdout, stderr)
		case "update":
			return benchUpdate(args[1:], stdout, stderr)
		}
	}
	return fmt.Errorf("bench: want a target: 'ultra bench env [flags]' or 'ultra bench update [flags]'")
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
	CLoopSPS     float64 `json:"c_loop_sps"`      // plain C mj_step loop, one core (MuJoCo tasks only)
	SingleSPS    float64 `json:"vecenv_1_sps"`    // VecEnv with one instance
	BatchSPS     float64 `json:"vecenv_n_sps"`    // VecEnv with Envs instances
	SingleVsC    float64 `json:"single_vs_c"`     // SingleSPS / CLoopSPS (MuJoCo tasks only)
	BatchVsSingl float64 `json:"batch_vs_single"` // BatchSPS / SingleSPS
	Mujoco       string  `json:"mujoco_version,omitempty"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
}

func benchEnv(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench env", stderr)
	envID := fs.String("env", "hopper", "env id (MuJoCo tasks are also compared with a plain C loop)")
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
	// The plain C loop is the reference for MuJoCo tasks; other envs
	// (Pong, ALE games) are measured against their own single instance.
	var data *mujoco.Data
	model, skip, err := tasks.Physics(spec.ID)
	if err == nil {
		if data, err = mujoco.NewData(model); err != nil {
			return err
		}
		defer data.Close()
	}

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
		if data == nil {
			return 0
		}
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
		CLoopSPS: median(c), SingleSPS: median(s), BatchSPS: median(b), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if data != nil {
		res.Mujoco = mujoco.Version()
		res.SingleVsC = res.SingleSPS / res.CLoopSPS
	}
	res.BatchVsSingl = res.BatchSPS / res.SingleSPS
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if data == nil {
		fmt.Fprintf(stdout, "%s: GOMAXPROCS %d, %d steps × %d rounds (median); no C reference loop for a non-MuJoCo env\n", res.Env, res.GOMAXPROCS, res.Steps, res.Rounds)
		fmt.Fprintf(stdout, "  VecEnv, 1 env                         %10.0f steps/s\n", res.SingleSPS)
	} else {
		fmt.Fprintf(stdout, "%s: MuJoCo %s, GOMAXPROCS %d, %d steps × %d rounds (median)\n", res.Env, res.Mujoco, res.GOMAXPROCS, res.Steps, res.Rounds)
		fmt.Fprintf(stdout, "  plain C loop (mj_step ×%d, random ctrl)  %10.0f steps/s\n", skip, res.CLoopSPS)
		fmt.Fprintf(stdout, "  VecEnv, 1 env                         %10.0f steps/s  = %.3f× C loop\n", res.SingleSPS, res.SingleVsC)
	}
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

// benchUpdate times PPO updates (forward + backward + Adam over every
// minibatch of every epoch, the rollout handed over once with SetRollout and
// minibatches named by index) on a synthetic rollout: the workload of
// bench/ppo_update_torch.py. --net mlp is the hopper-sized MLP pair
// (CleanRL ppo_continuous_action's update), --net cnn the Nature-CNN on
// 4×84×84 frames with 6 actions (ppo_atari's update).
func benchUpdate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench update", stderr)
	backend := fs.String("backend", "gorgonia", "network backend: native, gorgonia or cuda (a binary built with -tags ultracuda)")
	netKind := fs.String("net", "mlp", "mlp (two tanh MLPs, Gaussian head) or cnn (Nature-CNN, categorical head)")
	tf32 := fs.Bool("tf32", false, "cuda: TF32 tensor cores for matrix products")
	obsDim := fs.Int("obs", 11, "observation size (mlp)")
	actDim := fs.Int("act", 3, "action size (mlp)")
	hidden := fs.Int("hidden", 64, "hidden layer width (mlp, two layers)")
	batch := fs.Int("batch", 2048, "samples per update (cnn default 1024)")
	mbs := fs.Int("minibatch", 64, "samples per minibatch (cnn default 256)")
	epochs := fs.Int("epochs", 10, "epochs per update (cnn default 4)")
	rounds := fs.Int("rounds", 3, "timed updates (median reported)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cnn := *netKind == "cnn"
	if cnn {
		for name, v := range map[string]*int{"batch": batch, "minibatch": mbs, "epochs": epochs} {
			if !set[name] {
				*v = map[string]int{"batch": 1024, "minibatch": 256, "epochs": 4}[name]
			}
		}
	}
	switch {
	case *netKind != "mlp" && *netKind != "cnn":
		return fmt.Errorf("bench update: --net %q, want mlp or cnn", *netKind)
	case *batch < 1 || *mbs < 1 || *mbs > *batch || *epochs < 1 || *rounds < 1 || *hidden < 1 || *obsDim < 1 || *actDim < 1:
		return fmt.Errorf("bench update: want batch ≥ minibatch ≥ 1 and epochs, rounds, hidden, obs, act ≥ 1")
	}
	cfg := ppo.Defaults()
	cfg.Hidden = []int{*hidden, *hidden}
	cfg.Backend, cfg.TF32 = *backend, *tf32
	if *backend == "cuda" {
		cfg.Backend, cfg.Device = "native", "cuda"
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bench update: %w", err)
	}
	var spec env.Spec
	loss := nn.LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}
	lr := float32(3e-4)
	if cnn {
		img := [3]int{4, 84, 84}
		spec = env.Spec{Observation: env.UnboundedBox(img[0] * img[1] * img[2]), Action: env.Discrete(6), Image: img}
		loss, lr = nn.LossConfig{ClipCoef: 0.1, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 2.5e-4
	} else {
		lo, hi := make([]float32, *actDim), make([]float32, *actDim)
		spec = env.Spec{Observation: env.UnboundedBox(*obsDim), Action: env.Box(lo, hi)}
	}
	net, err := ppo.NewBackend(cfg, spec)
	if err != nil {
		return fmt.Errorf("bench update: %w", err)
	}
	defer net.Close()
	s := net.Spec()
	rng := rand.New(rand.NewPCG(1, 1))
	B, od := *batch, s.ObsDim
	aw := s.ActDim
	if s.Discrete {
		aw = 1
	}
	ro := nn.Batch{N: B, Obs: make([]float32, B*od), Actions: make([]float32, B*aw), LogProbs: make([]float32, B),
		Advantages: make([]float32, B), Returns: make([]float32, B), Values: make([]float32, B)}
	for i := range ro.Obs {
		if cnn {
			ro.Obs[i] = float32(rng.Float64()) // frames in [0, 1]
		} else {
			ro.Obs[i] = float32(rng.NormFloat64())
		}
	}
	for i := range ro.Actions {
		if cnn {
			ro.Actions[i] = float32(rng.IntN(s.ActDim))
		} else {
			ro.Actions[i] = float32(rng.NormFloat64())
		}
	}
	dist := make([]float32, B*s.ActDim)
	if err := net.Forward(ro.Obs, B, dist, ro.Values); err != nil {
		return err
	}
	var logStd []float32
	for _, p := range net.Params() {
		if p.Name == "policy.log_std" {
			logStd = p.Data
		}
	}
	for i := 0; i < B; i++ {
		d := dist[i*s.ActDim : (i+1)*s.ActDim]
		if cnn {
			ro.LogProbs[i] = float32(nn.CategoricalLogProb(d, int(ro.Actions[i])))
		} else {
			ro.LogProbs[i] = float32(nn.GaussianLogProb(d, logStd, ro.Actions[i*aw:(i+1)*aw]))
		}
		ro.Advantages[i] = float32(rng.NormFloat64())
		ro.Returns[i] = ro.Values[i] + float32(rng.NormFloat64())
	}
	n := *mbs
	perm := make([]int, B)
	for i := range perm {
		perm[i] = i
	}
	update := func() error {
		if err := net.SetRollout(ro); err != nil {
			return err
		}
		for e := 0; e < *epochs; e++ {
			rng.Shuffle(B, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			for st := 0; st+n <= B; st += n {
				if _, err := net.GradMinibatch(perm[st:st+n], true, loss); err != nil {
					return err
				}
				if _, err := net.Step(lr, 0.5); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := update(); err != nil { // warm-up
		return err
	}
	var times []float64
	for r := 0; r < *rounds; r++ {
		t0 := time.Now()
		if err := update(); err != nil {
			return err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	sec := median(times)
	impl := "ultra-" + *backend
	if *tf32 {
		impl += "-tf32"
	}
	device := fmt.Sprintf("cpu (GOMAXPROCS %d)", runtime.GOMAXPROCS(0))
	if d, ok := net.(interface{ DeviceName() string }); ok {
		device = d.DeviceName()
	}
	res := map[string]any{"impl": impl, "net": *netKind, "batch": B, "minibatch": n, "hidden": *hidden,
		"epochs": *epochs, "update_seconds": sec, "samples_per_second": float64(B**epochs) / sec,
		"gomaxprocs": runtime.GOMAXPROCS(0), "device": device}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	what := fmt.Sprintf("%d×%d-%d MLP", od, *hidden, *hidden)
	if cnn {
		what = "Nature-CNN on 4×84×84"
	}
	fmt.Fprintf(stdout, "PPO update, %s backend on %s: %s, batch %d, minibatch %d, %d epochs: %.3f s/update, %.0f samples/s\n",
		*backend, device, what, B, n, *epochs, sec, float64(B**epochs)/sec)
	return nil
}
