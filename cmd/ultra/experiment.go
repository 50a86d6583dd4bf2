package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/ultra"
)

// experiment holds the options of 'ultra experiment'.
type experiment struct {
	env, out, checkpoint, variants, advisorName string
	pretrainSteps, collectEpisodes, seeds       int
	refineSteps, evalEpisodes, jobs             int
	pretrainSeed, evalSeed                      uint64
	refine                                      refineFlags // tuning shared by every refinement
	logger                                      *slog.Logger
	stdout, stderr                              io.Writer
}

func cmdExperiment(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("experiment", stderr)
	x := experiment{stdout: stdout, stderr: stderr}
	fs.StringVar(&x.env, "env", "hopper", "task id")
	fs.StringVar(&x.out, "out", "", "experiment directory (required); rerunning with the same directory skips finished stages")
	fs.StringVar(&x.checkpoint, "checkpoint", "", "start from this sub-optimal agent instead of pretraining one")
	fs.IntVar(&x.pretrainSteps, "pretrain-steps", 100000, "PPO steps of the sub-optimal agent")
	fs.Uint64Var(&x.pretrainSeed, "pretrain-seed", 1, "seed of the pretraining run")
	fs.IntVar(&x.collectEpisodes, "collect-episodes", 16, "episodes of the sub-optimal agent to annotate")
	defaultAdv := "scripted"
	if os.Getenv("ULTRA_LLM_URL") != "" {
		defaultAdv = "llm"
	}
	fs.StringVar(&x.advisorName, "advisor", defaultAdv, "advisor for the ultra-* and rice variants: "+strings.Join(advisorNames(), ", ")+" (llm when $ULTRA_LLM_URL is set)")
	fs.StringVar(&x.variants, "variants", "ppo,ultra-a,ultra-r,ultra-ra,random,rice", "comma-separated variants")
	fs.IntVar(&x.seeds, "seeds", 3, "refinement seeds per variant (1..N)")
	fs.IntVar(&x.refineSteps, "refine-steps", 200000, "env steps of each refinement")
	fs.IntVar(&x.evalEpisodes, "eval-episodes", 10, "evaluation episodes of each final policy (mean action)")
	fs.Uint64Var(&x.evalSeed, "eval-seed", 1000, "seed of the evaluation episodes (the same for every run)")
	fs.IntVar(&x.jobs, "jobs", runtime.GOMAXPROCS(0), "refinement runs executed in parallel")
	addTuningFlags(fs, &x.refine, "--refine-steps")
	fs.IntVar(&x.refine.adv.perEpisode, "critical", 5, "critical steps per episode at most (scripted, random)")
	fs.StringVar(&x.refine.adv.llmURL, "llm-url", os.Getenv("ULTRA_LLM_URL"), "OpenAI-compatible base URL for --advisor llm")
	fs.StringVar(&x.refine.adv.model, "model", os.Getenv("ULTRA_LLM_MODEL"), "model for --advisor llm")
	fs.StringVar(&x.refine.adv.llmConfig, "llm-config", "", "YAML settings of the llm advisor")
	logFormat := fs.String("log-format", "text", "text or json")
	metricsAddr := fs.String("metrics-addr", defaultMetricsAddr(), metricsAddrDoc+" (one endpoint for every run)")
	fs.DurationVar(&x.refine.shutdown, "shutdown-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long to let running iterations finish")
	if err := parse(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { x.refine.alphaSet = x.refine.alphaSet || fl.Name == "alpha" })
	if !x.refine.alphaSet {
		spec, err := registry().Lookup(x.env)
		if err != nil {
			return fmt.Errorf("experiment: %w", err)
		}
		x.refine.alpha, x.refine.alphaSet = ultra.DefaultAlpha(spec), true
	}
	var err error
	if x.logger, err = newLogger(*logFormat, stderr); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg, stopMetrics, err := serveMetrics(*metricsAddr, x.logger)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	defer stopMetrics()
	x.refine.reg = reg
	err = x.run(ctx, fs)
	if errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil) {
		x.logger.Info("experiment interrupted; rerun the same command to resume", "out", x.out)
		return nil
	}
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return nil
}

func (x *experiment) run(ctx context.Context, fs *flag.FlagSet) error {
	if x.out == "" {
		return errors.New("--out DIR is required")
	}
	if x.seeds < 1 || x.jobs < 1 || x.evalEpisodes < 1 || x.collectEpisodes < 2 {
		return fmt.Errorf("want --seeds, --jobs, --eval-episodes ≥ 1 and --collect-episodes ≥ 2")
	}
	var variants []ultra.Variant
	for _, s := range strings.Split(x.variants, ",") {
		v, err := ultra.ParseVariant(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		variants = append(variants, v)
	}
	spec, err := registry().Lookup(x.env)
	if err != nil {
		return err
	}
	if spec.Image != [3]int{} {
		// Collected trajectories keep every observation (and a snapshot per
		// step): gigabytes per batch of Atari episodes, and no advisor
		// reads pixels.
		return fmt.Errorf("env %q observes pixels, which the advisors cannot read and the trajectories cannot hold "+
			"(%d KB per step): run the experiment on a features env (pong, ale:pong) or a MuJoCo task", spec.ID, spec.Observation.Dim*4/1000)
	}
	if x.refine.device == "" {
		x.refine.device = "cpu"
	}
	probe := ppo.DefaultsFor(spec)
	probe.Device, probe.TF32 = x.refine.device, x.refine.tf32
	if err := probe.Validate(); err != nil {
		return err
	}
	if err := ppo.CheckDevice(probe.Device, probe.TF32); err != nil {
		return err
	}
	if err := os.MkdirAll(x.out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	ckPath, err := x.pretrain(ctx, spec)
	if err != nil {
		return fmt.Errorf("pretrain: %w", err)
	}
	trajPath, err := x.collect(ckPath, spec)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	annPaths := map[string]string{}
	for _, v := range variants {
		name := x.advisorName
		if v == ultra.Random {
			name = "random"
		}
		if v == ultra.PPO || annPaths[name] != "" {
			continue
		}
		if annPaths[name], err = x.annotate(ctx, name, trajPath, spec); err != nil {
			return fmt.Errorf("annotate with %s: %w", name, err)
		}
	}
	runs, err := x.refineAll(ctx, variants, ckPath, trajPath, annPaths)
	if err != nil {
		return err
	}
	return x.report(runs, variants, time.Since(start))
}

// pretrain trains (or resumes, or skips) the sub-optimal agent.
func (x *experiment) pretrain(ctx context.Context, spec env.Spec) (string, error) {
	if x.checkpoint != "" {
		return x.checkpoint, nil
	}
	dir := filepath.Join(x.out, "pretrain")
	path := filepath.Join(dir, ckptFile)
	var tr *ppo.Trainer
	if ck, err := ppo.LoadCheckpoint(path); err == nil {
		if ck.Iteration >= ck.Config.Iterations() {
			x.logger.Info("stage done, skipping", "stage", "pretrain", "checkpoint", path)
			return path, nil
		}
		x.logger.Info("resuming pretraining", "step", ck.GlobalStep)
		ck.Config.Device, ck.Config.TF32 = x.refine.device, x.refine.tf32
		if tr, err = ppo.Resume(ck, spec, ppo.Hooks{}); err != nil {
			return "", err
		}
		if err := trimMetrics(dir, ck.Iteration); err != nil {
			return "", err
		}
	} else {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		cfg := ppo.DefaultsFor(spec)
		cfg.Seed, cfg.TotalSteps = x.pretrainSeed, x.pretrainSteps
		cfg.Device, cfg.TF32 = x.refine.device, x.refine.tf32
		if tr, err = ppo.New(cfg, spec, ppo.Hooks{}); err != nil {
			return "", err
		}
	}
	defer tr.Close()
	x.logger.Info("stage", "stage", "pretrain", "steps", tr.Config().TotalSteps, "out", dir)
	logf, err := os.OpenFile(filepath.Join(dir, "train.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	met, err := runMetrics(x.refine.reg, metrics.Labels{Run: filepath.Base(x.out) + "/pretrain", Env: spec.ID, Variant: "pretrain"})
	if err != nil {
		return "", err
	}
	err = trainLoop(tr, loopOptions{out: dir, every: 10, progress: "log", logger: slog.New(slog.NewTextHandler(logf, nil)),
		stdout: io.Discard, stderr: logf, ctx: ctx, shutdown: x.refine.shutdown, met: met})
	return path, err
}

// collect records the sub-optimal agent's episodes, with snapshots for rice.
func (x *experiment) collect(ckPath string, spec env.Spec) (string, error) {
	path := filepath.Join(x.out, "collect", "traj.jsonl")
	if t, err := traj.ReadJSONL[traj.Trajectory](path); err == nil && len(t) == x.collectEpisodes {
		x.logger.Info("stage done, skipping", "stage", "collect", "file", path)
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	ck, err := ppo.LoadCheckpoint(ckPath)
	if err != nil {
		return "", err
	}
	p, err := ppo.NewPolicy(ck, spec, false, x.pretrainSeed)
	if err != nil {
		return "", err
	}
	defer p.Close()
	v, err := env.New(spec, env.Config{NumEnvs: min(x.collectEpisodes, runtime.GOMAXPROCS(0))})
	if err != nil {
		return "", err
	}
	defer v.Close()
	trajs, err := eval.Collect(v, p, x.collectEpisodes, x.pretrainSeed+100, "c-", true)
	if err != nil {
		return "", err
	}
	x.logger.Info("stage", "stage", "collect", "episodes", len(trajs), "file", path)
	return path, writeJSONLFile(path, trajs)
}

// annotate runs one advisor over the collected trajectories.
func (x *experiment) annotate(ctx context.Context, name, trajPath string, spec env.Spec) (string, error) {
	path := filepath.Join(x.out, "annotate", name+".jsonl")
	if _, err := traj.ReadJSONL[advisor.Annotation](path); err == nil {
		x.logger.Info("stage done, skipping", "stage", "annotate", "advisor", name, "file", path)
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	trajs, err := traj.ReadJSONL[traj.Trajectory](trajPath)
	if err != nil {
		return "", err
	}
	af := x.refine.adv
	af.name, af.seed = name, x.pretrainSeed
	af.audit = filepath.Join(x.out, "annotate", name+".audit.jsonl")
	af.cache = filepath.Join(x.out, "annotate", "llm-cache")
	adv, closeAdv, err := newAdvisor(af, spec, x.stderr)
	if err != nil {
		return "", err
	}
	defer closeAdv()
	anns, rep, err := adv.Annotate(ctx, trajs)
	if err != nil && !errors.Is(err, advisor.ErrBudget) {
		return "", err
	}
	if anns == nil {
		anns = []advisor.Annotation{}
	}
	x.logger.Info("stage", "stage", "annotate", "advisor", name, "critical_states", len(anns),
		"requests", rep.Requests, "tokens", rep.PromptTokens+rep.CompletionTokens, "rejected", rep.Rejected)
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		ppo.WriteFileAtomic(strings.TrimSuffix(path, ".jsonl")+".report.json", b)
	}
	return path, writeJSONLFile(path, anns)
}

// evalResult is a finished run's evaluation, stored as eval.json.
type evalResult struct {
	Variant string    `json:"variant"`
	Seed    uint64    `json:"seed"`
	Returns []float64 `json:"returns"`
}

// refineAll runs every variant × seed (skipping finished ones) on --jobs
// workers, then evaluates each final policy.
func (x *experiment) refineAll(ctx context.Context, variants []ultra.Variant, ckPath, trajPath string, annPaths map[string]string) ([]report.Run, error) {
	type job struct {
		v    ultra.Variant
		seed uint64
	}
	var jobs []job
	for _, v := range variants {
		for s := 1; s <= x.seeds; s++ {
			jobs = append(jobs, job{v, uint64(s)})
		}
	}
	runs := make([]report.Run, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(x.jobs, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				runs[i], errs[i] = x.refineOne(ctx, jobs[i].v, jobs[i].seed, ckPath, trajPath, annPaths)
			}
		}()
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, errInterrupted
	}
	return runs, errors.Join(errs...)
}

func (x *experiment) refineOne(ctx context.Context, v ultra.Variant, seed uint64, ckPath, trajPath string, annPaths map[string]string) (report.Run, error) {
	name := fmt.Sprintf("%s-s%d", v, seed)
	dir := filepath.Join(x.out, "refine", name)
	run := report.Run{Variant: string(v), Seed: seed}
	evalPath := filepath.Join(dir, "eval.json")
	var ev evalResult
	if b, err := os.ReadFile(evalPath); err == nil && json.Unmarshal(b, &ev) == nil && len(ev.Returns) == x.evalEpisodes {
		run.Eval = ev.Returns
		run.Curve, err = report.LoadCurve(filepath.Join(dir, jsonlFile))
		x.logger.Info("run done, skipping", "run", name)
		return run, err
	}
	ck, err := ppo.LoadCheckpoint(filepath.Join(dir, ckptFile))
	done := err == nil && ck.Iteration >= ck.Config.Iterations()
	if !done {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return run, err
		}
		logf, err := os.Create(filepath.Join(dir, "refine.log"))
		if err != nil {
			return run, err
		}
		f := x.refine
		f.ckpt, f.variant, f.out, f.seed, f.steps, f.traj = ckPath, string(v), dir, seed, x.refineSteps, trajPath
		f.progress, f.logFormat, f.every = "log", "text", 10
		f.workers = max(1, runtime.GOMAXPROCS(0)/x.jobs)
		if v != ultra.PPO {
			key := x.advisorName
			if v == ultra.Random {
				key = "random"
			}
			f.annotations = annPaths[key]
		}
		x.logger.Info("refining", "run", name)
		err = refine(ctx, f, false, io.Discard, logf)
		logf.Close()
		if err != nil {
			return run, fmt.Errorf("%s: %w (log: %s)", name, err, filepath.Join(dir, "refine.log"))
		}
		if ck, err = ppo.LoadCheckpoint(filepath.Join(dir, ckptFile)); err != nil {
			return run, err
		}
	}
	spec, _ := registry().Lookup(ck.Config.Env)
	p, err := ppo.NewPolicy(ck, spec, true, x.evalSeed)
	if err != nil {
		return run, err
	}
	defer p.Close()
	venv, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		return run, err
	}
	defer venv.Close()
	eps, err := eval.Run(venv, p, x.evalEpisodes, x.evalSeed)
	if err != nil {
		return run, err
	}
	for _, e := range eps {
		run.Eval = append(run.Eval, e.Return)
	}
	b, _ := json.MarshalIndent(evalResult{Variant: string(v), Seed: seed, Returns: run.Eval}, "", "  ")
	if err := ppo.WriteFileAtomic(evalPath, b); err != nil {
		return run, err
	}
	run.Curve, err = report.LoadCurve(filepath.Join(dir, jsonlFile))
	x.logger.Info("run finished", "run", name, "eval_mean", round(eval.Summarise(eps).MeanReturn, 1))
	return run, err
}

// report writes results.md/csv, the plots and report.html, then prints the table.
func (x *experiment) report(runs []report.Run, variants []ultra.Variant, wall time.Duration) error {
	baseline := ""
	for _, v := range variants {
		if v == ultra.PPO {
			baseline = string(ultra.PPO)
		}
	}
	rows, err := report.Summarize(runs, baseline, 1)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("ULTRA on %s: refinement from one sub-optimal agent", x.env)
	notes := []string{
		fmt.Sprintf("Sub-optimal agent: %s; %d collected episodes annotated by the %s advisor.", x.describeStart(), x.collectEpisodes, x.advisorName),
		fmt.Sprintf("Each variant × seed (1..%d) refines for %d env steps; each final policy is evaluated on %d episodes (mean action, eval seed %d). Mean ± std are over seeds; intervals are 95%% bootstrap over seeds.", x.seeds, x.refineSteps, x.evalEpisodes, x.evalSeed),
		fmt.Sprintf("alpha %.3g, radius %s, override probability %s, rice reset probability %.2f. Wall time %s.",
			x.refine.alpha, radiusNote(x.refine.radius, x.refine.radiusQ), x.overrideNote(), x.refine.resetP, wall.Round(time.Second)),
		"Training curves of rice include episodes restarted at critical states, so they read lower than the others; the evaluation above starts every policy alike.",
	}
	var md, csvb strings.Builder
	if err := report.WriteMarkdown(&md, title, rows, notes); err != nil {
		return err
	}
	if err := report.WriteCSV(&csvb, rows); err != nil {
		return err
	}
	files := map[string]string{"results.md": md.String(), "results.csv": csvb.String()}
	for name, content := range files {
		if err := ppo.WriteFileAtomic(filepath.Join(x.out, name), []byte(content)); err != nil {
			return err
		}
	}
	// The table stands on the evaluations; the curves need finished
	// training episodes, which a short refinement of long episodes may not
	// have. A curve that cannot be drawn costs the plot, not the report.
	png, svg := filepath.Join(x.out, "curves.png"), filepath.Join(x.out, "curves.svg")
	images := []string{"curves.svg", "curves.png"}
	plotErr := report.PlotCurves(runs, title, png, svg)
	if plotErr != nil {
		images = nil
		x.logger.Warn("no learning-curve plot", "err", plotErr, "fix", "refine for more steps, so every run finishes training episodes")
	}
	var html strings.Builder
	if err := report.WriteHTML(&html, title, rows, notes, images); err != nil {
		return err
	}
	if err := ppo.WriteFileAtomic(filepath.Join(x.out, "report.html"), []byte(html.String())); err != nil {
		return err
	}
	fmt.Fprint(x.stdout, md.String())
	if plotErr != nil {
		fmt.Fprintf(x.stdout, "\nno plots (%v: refine longer)\nreport: %s\n", plotErr, filepath.Join(x.out, "report.html"))
		return nil
	}
	fmt.Fprintf(x.stdout, "\nplots: %s, %s\nreport: %s\n", png, svg, filepath.Join(x.out, "report.html"))
	return nil
}

func (x *experiment) describeStart() string {
	if x.checkpoint != "" {
		return "checkpoint " + x.checkpoint
	}
	return fmt.Sprintf("PPO for %d steps (seed %d)", x.pretrainSteps, x.pretrainSeed)
}

func (x *experiment) overrideNote() string {
	if x.refine.annealSteps < 0 {
		return fmt.Sprintf("%.2f → %.2f over the first half of refinement", x.refine.overrideProb, x.refine.overrideEnd)
	}
	if x.refine.annealSteps == 0 {
		return fmt.Sprintf("%.2f (constant)", x.refine.overrideProb)
	}
	return fmt.Sprintf("%.2f → %.2f over %d steps", x.refine.overrideProb, x.refine.overrideEnd, x.refine.annealSteps)
}

func radiusNote(r, q float64) string {
	if r > 0 {
		return fmt.Sprintf("%.3g", r)
	}
	return fmt.Sprintf("the %.2f-quantile of cross-episode nearest-neighbour distances", q)
}
