package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/internal/configflags"
	"github.com/ultra-rl/ultra/internal/interrupt"
)

func cmdTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stderr)
	cfg := ppo.Defaults()
	cf := configflags.New(fs, &cfg)
	configPath := fs.String("config", "", "YAML file of options (keys are the flag names); flags override it")
	out := fs.String("out", "", "run directory for checkpoints, metrics and the exported policy (required)")
	resume := fs.Bool("resume", false, "continue the run in --out from its last checkpoint")
	rf := addRunFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := rf.apply(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if *out == "" {
		return errors.New("train: --out DIR is required")
	}
	bar, err := progressBar(rf.loop.Progress, stderr)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	bw := &barWriter{w: stderr}
	logger, err := newLogger(rf.output.LogFormat, bw)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var rr *run.Run
	var met *metrics.Metrics
	stopMetrics := func() {}
	// startMetrics runs once the config (and so the env) is known, before
	// the run directory is written; it checks --capture-video first.
	startMetrics := func(spec env.Spec) error {
		if err := rf.capture().Check(spec); err != nil {
			return err
		}
		reg, stop, err := serveMetrics(rf.output, fs, logger)
		if err != nil {
			return err
		}
		stopMetrics = stop
		met, err = runMetrics(reg, metrics.Labels{Run: filepath.Base(*out), Env: cfg.Env, Variant: "train"})
		return err
	}
	if *resume {
		rr, err = resumeRun(rf.fixed(fs, nil, cf), *out, &cfg, cf, logger, startMetrics)
	} else {
		rr, err = startRun(*out, &cfg, cf, *configPath, startMetrics)
	}
	defer func() { stopMetrics() }()
	if errors.Is(err, errFinished) {
		fmt.Fprintln(stdout, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer rr.Close()
	tr := rr.Trainer

	ro := run.Options{Dir: *out, Every: rf.loop.Every, Shutdown: rf.output.Shutdown, Logger: logger, Metrics: met, Video: rf.capture()}
	if bar {
		ro.Quiet, ro.OnIteration = true, barFor(bw, tr.GlobalStep())
	}
	ctx, stop := interrupt.Context(stderr)
	defer stop()
	res, err := run.Loop(ctx, tr, ro)
	bw.end()
	if err == nil {
		printTrained(stdout, tr.Config().Env, res)
	}
	if errors.Is(err, errInterrupted) {
		logger.Info("continue the run with: ultra train --out " + *out + " --resume")
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func startRun(out string, cfg *ppo.Config, cf *configflags.Set, configPath string, startMetrics func(env.Spec) error) (*run.Run, error) {
	if _, err := os.Stat(filepath.Join(out, run.CheckpointFile)); err == nil {
		return nil, run.HoldsRunError(out)
	}
	if err := cf.Apply(configPath); err != nil { // learn the env
		return nil, err
	}
	spec, err := registry().Lookup(cfg.Env)
	if err != nil {
		return nil, err
	}
	*cfg = ppo.DefaultsFor(spec) // the env's defaults, then the file and flags again on top
	if err := cf.Apply(configPath); err != nil {
		return nil, err
	}
	cfg.Env = spec.ID // not an alias (Hopper-v4): the run records the task's id
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := startMetrics(spec); err != nil {
		return nil, err
	}
	return run.Start(out, *cfg, spec, ppo.Hooks{})
}

func resumeRun(bad []string, out string, cfg *ppo.Config, cf *configflags.Set, logger *slog.Logger, startMetrics func(env.Spec) error) (*run.Run, error) {
	if len(bad) > 0 {
		return nil, fmt.Errorf("--resume continues the saved configuration; %s cannot change (only --steps can extend the run)", strings.Join(bad, ", "))
	}
	if _, err := os.Stat(filepath.Join(out, run.RefineFile)); err == nil {
		return nil, fmt.Errorf("%s is a refinement run: continue it with  ultra refine --out %s --resume  (train --resume would continue it as plain PPO)", out, out)
	}
	ck, err := run.LoadCheckpoint(out)
	if err != nil {
		return nil, err
	}
	*cfg = ck.Config
	if err := cf.Apply(""); err != nil { // picks up an explicit --steps, --device, --tf32
		return nil, err
	}
	if cfg.TotalSteps != ck.Config.TotalSteps || ck.Iteration >= ck.Config.Iterations() {
		if _, err := ck.Extend(cfg.TotalSteps); err != nil {
			return nil, extendError(out, ck, err)
		}
	}
	if cfg.TotalSteps != ck.Config.TotalSteps {
		logger.Info("--steps changed on resume: the learning rate anneals over the new total from the next iteration on", "was", ck.Config.TotalSteps, "now", cfg.TotalSteps)
	}
	// --device (and --tf32) may change on resume: they choose where the
	// maths runs, not what it computes.
	ck.Config.TotalSteps, ck.Config.Device, ck.Config.TF32 = cfg.TotalSteps, cfg.Device, cfg.TF32
	if err := ck.Config.Validate(); err != nil {
		return nil, err
	}
	spec, err := registry().Lookup(cfg.Env)
	if err != nil {
		return nil, err
	}
	if err := startMetrics(spec); err != nil {
		return nil, err
	}
	return run.Resume(out, ck, spec, ppo.Hooks{})
}

// extendError is ppo.Checkpoint.Extend's refusal with the command that
// does what was asked.
func extendError(out string, ck *ppo.Checkpoint, err error) error {
	var ext *ppo.ExtensionError
	switch {
	case errors.Is(err, ppo.ErrNothingToTrain):
		last := "no episode finished"
		if n := len(ck.Last10); n > 0 {
			sum := 0.0
			for _, r := range ck.Last10 {
				sum += r
			}
			last = fmt.Sprintf("mean return of the last %d episodes %.2f", n, sum/float64(n))
		}
		more := int(ck.GlobalStep) + 2*ck.Config.BatchSize()
		how := fmt.Sprintf("give the new total: ultra train --out %s --resume --steps %d", out, more)
		if ck.Config.AnnealLR { // its rate annealed: a longer plan is refused
			how = fineTune(out, more-int(ck.GlobalStep))
		}
		return fmt.Errorf("%w: %s finished its %d steps (%s); to train longer, %s", errFinished, out, ck.GlobalStep, last, how)
	case errors.As(err, &ext):
		return fmt.Errorf("%w; to train on from it, %s", err, fineTune(out, ext.Steps-ext.Done))
	}
	return err
}

// fineTune is the command that trains on from a finished run's checkpoint
// for steps more, as a new run with a learning-rate schedule of its own.
func fineTune(out string, steps int) string {
	return fmt.Sprintf("fine-tune its checkpoint as a new run with a schedule of its own: ultra refine --checkpoint %s --variant ppo --steps %d --out %s-more",
		filepath.Join(out, run.CheckpointFile), steps, strings.TrimRight(out, "/"))
}

// errFinished reports a resumed run with nothing left to train.
var errFinished = errors.New("nothing to train")

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// drawBar redraws one progress line: steps, SPS, ETA, last mean return.
func drawBar(w io.Writer, step, total, startStep int64, start time.Time, lastReturn float64) {
	frac := float64(step) / float64(total)
	const width = 30
	filled := int(frac * width)
	sps := float64(step-startStep) / time.Since(start).Seconds()
	eta := time.Duration(float64(total-step)/math.Max(sps, 1e-9)) * time.Second
	fmt.Fprintf(w, "\r[%s%s] %5.1f%% %d/%d steps | %6.0f SPS | ETA %s | return %8.2f ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*frac, step, total, sps,
		eta.Round(time.Second), lastReturn)
}
