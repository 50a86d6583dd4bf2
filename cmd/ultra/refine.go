package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/ultra"
)

// refineFlags are the options of one refinement run.
type refineFlags struct {
	ckpt, variant, annotations, traj, out, progress, logFormat string
	device                                                     string // "" keeps the checkpoint's
	tf32                                                       bool
	steps, envs, every, workers                                int
	seed                                                       uint64
	alpha, radius, radiusQ, overrideProb, overrideEnd, resetP  float64
	alphaSet                                                   bool // --alpha given; else refine uses ultra.DefaultAlpha
	annealSteps                                                int64
	adv                                                        advisorFlags
	metricsAddr                                                string
	shutdown                                                   time.Duration
	// reg, when set, is a shared metrics registry (experiment); otherwise
	// refine serves its own on metricsAddr.
	reg *prometheus.Registry
}

func cmdRefine(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("refine", stderr)
	var f refineFlags
	fs.StringVar(&f.ckpt, "checkpoint", "", "the sub-optimal agent to refine (required)")
	fs.StringVar(&f.variant, "variant", "ultra-ra", "ppo, ultra-a, ultra-r, ultra-ra, random or rice")
	fs.StringVar(&f.annotations, "annotations", "", "annotations JSONL from 'ultra annotate' (or use --advisor for live annotation)")
	fs.StringVar(&f.traj, "traj", "", "trajectories JSONL the annotations came from, to derive the match radius from data")
	fs.IntVar(&f.steps, "steps", 200000, "env steps of refinement")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of this refinement run")
	fs.IntVar(&f.envs, "envs", 0, "parallel envs (0: the checkpoint's)")
	fs.StringVar(&f.out, "out", "", "run directory (required)")
	addTuningFlags(fs, &f, "--steps")
	fs.IntVar(&f.every, "checkpoint-every", 10, "checkpoint every N iterations")
	fs.StringVar(&f.progress, "progress", "auto", "bar, log or auto")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.metricsAddr, "metrics-addr", defaultMetricsAddr(), metricsAddrDoc)
	fs.DurationVar(&f.shutdown, "shutdown-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long to let the running iteration finish")
	addAdvisorFlags(fs, &f.adv)
	adviserSet := false
	if err := parse(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) {
		adviserSet = adviserSet || fl.Name == "advisor"
		f.alphaSet = f.alphaSet || fl.Name == "alpha"
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := refine(ctx, f, adviserSet, stdout, stderr)
	if errors.Is(err, errInterrupted) {
		return nil // the checkpoint is written; the note was logged
	}
	if err != nil {
		return fmt.Errorf("refine: %w", err)
	}
	return nil
}

// addTuningFlags registers the refinement knobs refine and experiment share;
// stepsFlag names the flag holding the refinement length.
func addTuningFlags(fs *flag.FlagSet, f *refineFlags, stepsFlag string) {
	fs.Float64Var(&f.alpha, "alpha", 0, "weight of the implicit reward (default: 0.5 for pong and pong-pixels, 0.1 otherwise, as in the paper)")
	fs.Float64Var(&f.radius, "radius", 0, "match radius in normalised observation units (0: derive from the collected states, else 0.5)")
	fs.Float64Var(&f.radiusQ, "radius-quantile", 0.5, "quantile of cross-episode nearest-neighbour distances used as the radius")
	fs.Float64Var(&f.overrideProb, "override-prob", 1, "probability of taking the suggested action at a matched state, at the start")
	fs.Float64Var(&f.overrideEnd, "override-end", 0, "that probability at the end of --anneal-steps")
	fs.Int64Var(&f.annealSteps, "anneal-steps", -1, "env steps over which the override probability decays to --override-end (-1: the first half of "+stepsFlag+"; 0: constant)")
	fs.Float64Var(&f.resetP, "reset-prob", 0.5, "rice: fraction of episodes restarted at a critical state")
	fs.StringVar(&f.device, "device", "", "where the networks run: cpu, or cuda (needs a binary built with -tags ultracuda); default: the checkpoint's for refine, cpu for experiment")
	fs.BoolVar(&f.tf32, "tf32", false, "with --device cuda: TF32 tensor cores for matrix products (faster, 10-bit mantissas)")
}

// refine runs one refinement; cancelling ctx stops it after the current
// iteration with a checkpoint and errInterrupted.
func refine(ctx context.Context, f refineFlags, live bool, stdout, stderr io.Writer) error {
	if f.ckpt == "" || f.out == "" {
		return errors.New("--checkpoint C and --out DIR are required")
	}
	v, err := ultra.ParseVariant(f.variant)
	if err != nil {
		return err
	}
	logger, err := newLogger(f.logFormat, stderr)
	if err != nil {
		return err
	}
	ck, err := ppo.LoadCheckpoint(f.ckpt)
	if err != nil {
		return err
	}
	spec, err := registry().Lookup(ck.Config.Env)
	if err != nil {
		return err
	}
	if !f.alphaSet {
		f.alpha = ultra.DefaultAlpha(spec)
	}
	if _, err := os.Stat(filepath.Join(f.out, ckptFile)); err == nil {
		return fmt.Errorf("%s already holds a run; choose another --out", f.out)
	}
	if f.annealSteps < 0 {
		// Default: hand control back to the policy over the first half.
		// On hopper a constant override gave +36% over ppo inside the seed
		// noise, annealing over the first half +85% outside it (README).
		f.annealSteps = int64(f.steps / 2)
	}
	cfg := ck.Config
	cfg.Seed, cfg.TotalSteps = f.seed, f.steps
	if f.envs > 0 {
		cfg.NumEnvs = f.envs
	}
	cfg.Workers = f.workers
	if f.device != "" {
		cfg.Device, cfg.TF32 = f.device, f.tf32
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.TotalSteps < cfg.BatchSize() {
		return fmt.Errorf("--steps %d is less than one iteration (%d)", f.steps, cfg.BatchSize())
	}
	if err := ppo.CheckDevice(cfg.Device, cfg.TF32); err != nil {
		return err
	}

	// The table normalises states like the policy does.
	std := make([]float64, len(ck.ObsRMS.Var))
	for i, x := range ck.ObsRMS.Var {
		std[i] = math.Sqrt(x + 1e-8)
	}
	radius := f.radius
	var anns []advisor.Annotation
	if f.annotations != "" {
		if anns, err = traj.ReadJSONL[advisor.Annotation](f.annotations); err != nil {
			return err
		}
	}
	if radius == 0 {
		radius = 0.5
		if f.traj != "" {
			trajs, err := traj.ReadJSONL[traj.Trajectory](f.traj)
			if err != nil {
				return err
			}
			probe, _ := ultra.NewTable(ck.ObsRMS.Mean, std, 1)
			if radius, err = ultra.SuggestRadius(trajs, probe, f.radiusQ, f.seed); err != nil {
				return err
			}
		}
	}
	table, err := ultra.NewTable(ck.ObsRMS.Mean, std, radius)
	if err != nil {
		return err
	}
	table.Add(anns...)
	needTable := v != ultra.PPO
	if needTable && table.Len() == 0 && !live {
		return fmt.Errorf("variant %s needs critical states: give --annotations FILE or --advisor NAME", v)
	}

	var hooks ppo.Hooks
	var mod *ultra.Modulator
	var resetter *ultra.Resetter
	switch v {
	case ultra.RICE:
		rs, err := ultra.NewResetter(table, f.resetP, f.seed)
		if err != nil {
			return err
		}
		snaps := 0
		for _, e := range table.Entries() {
			if e.Snapshot != nil {
				snaps++
			}
		}
		if snaps == 0 && !live {
			return errors.New("rice needs annotations with simulator snapshots: collect with 'ultra collect --snapshots'")
		}
		hooks.ResetState = rs.Reset
		// Live annotations must carry the simulator states to restart at.
		hooks.Snapshots = live
		resetter = rs
	case ultra.PPO:
	default:
		mod, err = ultra.NewModulator(table, ultra.ModulatorConfig{Variant: v, Alpha: f.alpha, Action: spec.Action, OverrideProb: f.overrideProb,
			OverrideEnd: f.overrideEnd, AnnealSteps: f.annealSteps, Seed: f.seed})
		if err != nil {
			return err
		}
		hooks.Modulator = mod
	}
	reg := f.reg
	if reg == nil {
		var stop func()
		if reg, stop, err = serveMetrics(f.metricsAddr, logger); err != nil {
			return err
		}
		defer stop()
	}
	met, err := runMetrics(reg, metrics.Labels{Run: filepath.Base(f.out), Env: spec.ID, Variant: string(v)})
	if err != nil {
		return err
	}
	if met != nil {
		hooks.EpisodeEnd = met.Episode
	}
	var stage *ultra.Stage
	if live && v != ultra.PPO {
		f.adv.met = met
		adv, closeAdv, err := newAdvisor(f.adv, spec, stderr)
		if err != nil {
			return err
		}
		defer closeAdv()
		stage, err = ultra.NewStage(adv, table, ultra.StageConfig{Env: spec.ID, RunID: fmt.Sprintf("r%d-", f.seed)}, logger)
		if err != nil {
			return err
		}
		defer stage.Close()
		hooks.OnEpisode = stage.Submit
	}
	tr, err := ppo.Continue(ck, cfg, spec, hooks)
	if err != nil {
		return err
	}
	defer tr.Close()
	// The run directory is made only now, so a refinement that cannot
	// start leaves nothing behind.
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	logger.Info("refining", "variant", v, "checkpoint", f.ckpt, "table", table.Len(), "radius", round(radius, 4),
		"alpha", f.alpha, "steps", f.steps, "seed", f.seed)
	extra := func() []any {
		h, l := table.HitRate()
		fields := []any{"table", table.Len(), "hits", h, "lookups", l}
		if stage != nil {
			st := stage.Stats()
			fields = append(fields, "annotated_batches", st.Annotated, "dropped_batches", st.Dropped)
		}
		return fields
	}
	err = trainLoop(tr, loopOptions{out: f.out, every: f.every, progress: f.progress, logger: logger, stdout: stdout,
		stderr: stderr, extra: extra, ctx: ctx, shutdown: f.shutdown, met: met, stage: stage, table: table,
		advisorObserved: live && f.adv.name == "llm"})
	h, l := table.HitRate()
	summary := map[string]any{"variant": v, "radius": radius, "table_entries": table.Len(), "lookups": l, "hits": h}
	if mod != nil {
		summary["overrides"], summary["bonuses"] = mod.Overrides.Load(), mod.Bonuses.Load()
	}
	if resetter != nil {
		summary["resets"] = resetter.Resets.Load()
	}
	if b, jerr := jsonMarshal(summary); jerr == nil {
		ppo.WriteFileAtomic(filepath.Join(f.out, "modulator.json"), b)
	}
	return err
}
