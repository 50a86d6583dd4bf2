package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// legacyTuning is how refine.json (version 1), experiment.json and
// plan.json recorded the ULTRA knobs before ultra.Settings: -1 meant "the
// task's alpha" and "the first half of the refinement", and a missing
// reward-on meant state (what runs did before the field existed), while an
// empty one meant action (what ParseRewardOn made of it when those runs
// started). It is read, never written.
type legacyTuning struct {
	Alpha                     float64
	Radius, RadiusQuantile    float64
	TargetHitRate             float64
	MatchSpace                ultra.MatchSpace
	OverrideProb, OverrideEnd float64
	AnnealSteps               int64
	ResetProb                 float64
	RewardOn                  *ultra.RewardOn
	ActionTolerance           float64
}

// settings resolves a legacy record for spec and a refinement of steps.
func (t legacyTuning) settings(spec env.Spec, steps int64) ultra.Settings {
	s := ultra.Settings{Alpha: t.Alpha, Radius: t.Radius, RadiusQuantile: t.RadiusQuantile, TargetHitRate: t.TargetHitRate,
		MatchSpace: t.MatchSpace, OverrideProb: t.OverrideProb, OverrideEnd: t.OverrideEnd, AnnealSteps: t.AnnealSteps,
		ResetProb: t.ResetProb, RewardOn: ultra.RewardOnState, ActionTolerance: t.ActionTolerance, Imitation: ultra.DefaultImitation}
	if t.RewardOn != nil {
		s.RewardOn = *t.RewardOn
		if s.RewardOn == "" {
			s.RewardOn = ultra.RewardOnAction
		}
	}
	if s.Alpha < 0 {
		s.Alpha = ultra.DefaultAlpha(spec)
	}
	if s.AnnealSteps < 0 {
		s.AnnealSteps = steps / 2
	}
	if s.ActionTolerance == 0 {
		s.ActionTolerance = ultra.DefaultActionTolerance
	}
	if s.MatchSpace == "" {
		s.MatchSpace = ultra.MatchFull
	}
	return s
}

// Refinement is one refinement run: a checkpoint continued under one ULTRA
// variant, in its own run directory.
type Refinement struct {
	Checkpoint string        // the sub-optimal agent
	Out        string        // the run directory
	Variant    ultra.Variant // one of ultra.Variants
	Steps      int           // env steps of refinement
	Seed       uint64
	Envs       int    // parallel envs (0: the checkpoint's)
	Workers    int    // env worker goroutines (0: automatic)
	Device     string // cpu or cuda ("": the checkpoint's)
	TF32       bool
	// Settings are the ULTRA knobs, resolved: ultra.DefaultSettings for the
	// checkpoint's task (CheckpointSpec) and Steps, then what the caller
	// changed.
	Settings ultra.Settings
	// Annotations and Trajectories are JSONL files (either may be empty):
	// the critical states, and the episodes they came from (for the radius).
	Annotations, Trajectories string
	// Live, when set, annotates the run's own episodes while it trains.
	Live *AdvisorConfig
	// Every is the checkpoint period in iterations (default 10); Shutdown
	// bounds how long a stop waits for the running iteration.
	Every    int
	Shutdown time.Duration
	// Video, when set, records clips of the policy as it refines.
	Video *run.Capture
	// Logger receives the run's log; AdvisorLog an llm advisor's warnings.
	Logger     *slog.Logger
	AdvisorLog io.Writer
	// Quiet and OnIteration replace the per-iteration log line by a
	// progress display (see run.Options).
	Quiet       bool
	OnIteration func(st ppo.IterStats, lastReturn float64, planned int64)
	// Metrics, when set, receives the run's Prometheus series.
	Metrics *prometheus.Registry
	// Registry resolves the checkpoint's task id.
	Registry *env.Registry
	// Resume continues the interrupted refinement in Out with the settings
	// it started with (recorded in refine.json); only Steps (when > 0),
	// Device, TF32 and the run-loop fields above may differ.
	Resume bool
}

// refineState is refine.json: what resuming a refinement needs, resolved.
// Version 2 records ultra.Settings; version 1 recorded the legacy tuning.
type refineState struct {
	Version    int            `json:"version"`
	Checkpoint string         `json:"checkpoint"` // the agent it refines
	Variant    ultra.Variant  `json:"variant"`
	Seed       uint64         `json:"seed"`
	Settings   ultra.Settings `json:"settings"`
	Radius     float64        `json:"radius"` // the table's, resolved
	// Calibration is how Radius was fitted to Settings.TargetHitRate, if it was.
	Calibration  *ultra.Calibration `json:"calibration,omitempty"`
	Obs          ppo.RMSState       `json:"obs_normaliser"`
	Annotations  string             `json:"annotations,omitempty"`
	Trajectories string             `json:"trajectories,omitempty"`
	Live         *AdvisorConfig     `json:"live,omitempty"`
	// Tuning is version 1's record of the knobs.
	Tuning *legacyTuning `json:"tuning,omitempty"`
}

// refineVersion is the refine.json version this build writes.
const refineVersion = 2

// CheckpointSpec is the task the checkpoint at path was trained on (for
// ultra.DefaultSettings before a refinement is prepared).
func CheckpointSpec(path string, reg *env.Registry) (env.Spec, error) {
	ck, err := ppo.LoadCheckpoint(path)
	if err != nil {
		return env.Spec{}, err
	}
	return reg.Lookup(ck.Config.Env)
}

// RefineResult is a finished refinement.
type RefineResult struct {
	Env     string // the task id
	Loop    run.Result
	Summary ultra.Summary // also written to the run's modulator.json
}

// Refine prepares and runs one refinement (see Prepare and Job.Run).
func Refine(ctx context.Context, r Refinement) (RefineResult, error) {
	j, err := r.Prepare()
	if err != nil {
		return RefineResult{}, err
	}
	return j.Run(ctx)
}

// Job is a checked refinement, ready to run.
type Job struct {
	r     Refinement
	ck    *ppo.Checkpoint // the agent refined, or the run's own checkpoint when resuming
	spec  env.Spec
	cfg   ppo.Config
	state refineState
}

// Prepare checks a refinement without side effects: the checkpoint and its
// task, the run directory (it must not hold a run, unless resuming), the
// configuration and the device. Set Metrics on the job afterwards, if
// wanted.
func (r Refinement) Prepare() (*Job, error) {
	if r.Out == "" || (r.Checkpoint == "" && !r.Resume) {
		return nil, fmt.Errorf("refine: a checkpoint and a run directory are required (got %q and %q)", r.Checkpoint, r.Out)
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Every == 0 {
		r.Every = 10
	}
	if r.Resume {
		return r.prepareResume()
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	ck, err := ppo.LoadCheckpoint(r.Checkpoint)
	if err != nil {
		return nil, err
	}
	spec, err := r.Registry.Lookup(ck.Config.Env)
	if err != nil {
		return nil, err
	}
	if err := r.Video.Check(spec); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(r.Out, run.CheckpointFile)); err == nil {
		return nil, run.HoldsRunError(r.Out)
	}
	cfg := ck.Config
	cfg.Seed, cfg.TotalSteps = r.Seed, r.Steps
	if r.Envs > 0 {
		cfg.NumEnvs = r.Envs
	}
	cfg.Workers = r.Workers
	if r.Device != "" {
		cfg.Device, cfg.TF32 = r.Device, r.TF32
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TotalSteps < cfg.BatchSize() {
		return nil, fmt.Errorf("refine: %d steps is less than one iteration (%d)", r.Steps, cfg.BatchSize())
	}
	if err := ppo.CheckDevice(cfg.Device, cfg.TF32); err != nil {
		return nil, err
	}
	if r.Variant.Behaviour().Imitates && cfg.Device == "cuda" {
		return nil, fmt.Errorf("refine: variant %s adds an imitation term that only the CPU networks have: run it with --device cpu", r.Variant)
	}
	st := refineState{Version: refineVersion, Checkpoint: r.Checkpoint, Variant: r.Variant, Seed: r.Seed, Settings: r.Settings,
		Radius: r.Settings.Radius, Obs: ck.ObsRMS, Annotations: r.Annotations, Trajectories: r.Trajectories, Live: r.Live}
	return &Job{r: r, ck: ck, spec: spec, cfg: cfg, state: st}, nil
}

// prepareResume loads the refinement recorded in r.Out.
func (r Refinement) prepareResume() (*Job, error) {
	b, err := os.ReadFile(filepath.Join(r.Out, run.RefineFile))
	if err != nil {
		return nil, fmt.Errorf("refine: %s is not a refinement run that can be resumed: %w", r.Out, err)
	}
	var st refineState
	if err := json.Unmarshal(b, &st); err != nil || st.Version < 1 || st.Version > refineVersion || (st.Version == 1) != (st.Tuning != nil) {
		return nil, fmt.Errorf("refine: %s: unreadable refinement record (version %d, this build reads 1 to %d): %v",
			filepath.Join(r.Out, run.RefineFile), st.Version, refineVersion, err)
	}
	ck, err := run.LoadCheckpoint(r.Out)
	if err != nil {
		return nil, err
	}
	spec, err := r.Registry.Lookup(ck.Config.Env)
	if err != nil {
		return nil, err
	}
	if err := r.Video.Check(spec); err != nil {
		return nil, err
	}
	cfg := ck.Config
	if r.Steps > 0 {
		cfg.TotalSteps = r.Steps
	}
	if r.Device != "" {
		cfg.Device, cfg.TF32 = r.Device, r.TF32
	}
	ck.Config.TotalSteps, ck.Config.Device, ck.Config.TF32 = cfg.TotalSteps, cfg.Device, cfg.TF32
	if st.Version == 1 {
		// The knobs as the run used them: its length decided the anneal.
		st.Settings = st.Tuning.settings(spec, int64(ck.Config.TotalSteps))
	}
	r.Checkpoint, r.Variant, r.Seed, r.Settings = st.Checkpoint, st.Variant, st.Seed, st.Settings
	r.Annotations, r.Trajectories, r.Live, r.Steps = st.Annotations, st.Trajectories, st.Live, cfg.TotalSteps
	if err := r.validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ppo.CheckDevice(cfg.Device, cfg.TF32); err != nil {
		return nil, err
	}
	return &Job{r: r, ck: ck, spec: spec, cfg: cfg, state: st}, nil
}

// validate checks what can be checked without the checkpoint.
func (r Refinement) validate() error {
	var errs []error
	if _, err := ultra.ParseVariant(string(r.Variant)); err != nil {
		errs = append(errs, err)
	}
	if r.Steps < 1 {
		errs = append(errs, fmt.Errorf("steps = %d, want ≥ 1", r.Steps))
	}
	if r.Every < 1 {
		errs = append(errs, fmt.Errorf("checkpoint period = %d iterations, want ≥ 1", r.Every))
	}
	if r.Envs < 0 || r.Workers < 0 {
		errs = append(errs, fmt.Errorf("envs = %d and workers = %d, want ≥ 0 (0: the checkpoint's, automatic)", r.Envs, r.Workers))
	}
	if err := r.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	if r.Live != nil {
		if err := r.Live.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("refine: %w", err)
	}
	return nil
}

// SetMetrics makes the job report its series to reg.
func (j *Job) SetMetrics(reg *prometheus.Registry) { j.r.Metrics = reg }

// Run runs (or resumes) the prepared refinement. A new run's directory is
// made only once the trainer stands, so a refinement that cannot start
// leaves nothing behind. Cancelling ctx stops it after the current
// iteration with a checkpoint and run.ErrInterrupted.
func (j *Job) Run(ctx context.Context) (res RefineResult, err error) {
	r, st, spec := j.r, j.state, j.spec
	t := st.Settings
	res.Env = spec.ID
	opts := ultra.Options{Variant: r.Variant, Settings: t, Seed: r.Seed, RadiusSeed: j.ck.Config.Seed, Logger: r.Logger}
	if r.Resume {
		// The radius it matched at; one recalibrated during the run starts
		// again from it and is fitted anew at the next recalibration.
		opts.StartStep, opts.ResumeRadius = j.ck.GlobalStep, st.Radius
	}
	if r.Trajectories != "" {
		if opts.Trajectories, err = traj.ReadFor(r.Trajectories, spec); err != nil {
			return res, err
		}
	}
	if r.Annotations != "" {
		if opts.Annotations, err = traj.ReadJSONL[advisor.Annotation](r.Annotations); err != nil {
			return res, err
		}
		if len(opts.Annotations) == 0 && r.Variant != ultra.PPO && r.Live == nil {
			return res, fmt.Errorf("refine: %s holds no annotations, and variant %s needs critical states", r.Annotations, r.Variant)
		}
		// Annotations of this task only, and of the given episodes when
		// they are given (the radius and the restarts come from them).
		fp := ""
		if opts.Trajectories != nil {
			fp = traj.Fingerprint(opts.Trajectories)
		}
		if err := advisor.CheckProvenance(opts.Annotations, r.Annotations, spec.ID, fp, ""); err != nil {
			return res, fmt.Errorf("refine: %w", err)
		}
	}
	if t.MatchSpace == ultra.MatchScaled && len(opts.Trajectories) == 0 && r.Variant.NeedsStates() {
		return res, fmt.Errorf("refine: match space %s learns its scale from the collected states: give the trajectories the annotations came from", ultra.MatchScaled)
	}
	if opts.ResumeRadius == 0 && t.Radius == 0 && t.TargetHitRate > 0 && r.Variant.NeedsStates() {
		// A new run (a resumed one has its radius): j.ck is the checkpoint
		// refined from, and its seed the pretraining seed, so every variant
		// and refinement seed calibrates on the same rollout.
		ro, err := RolloutPolicy(j.ck, spec, DefaultCalibrationSteps, j.ck.Config.Seed+calibrationSeedOffset)
		if err != nil {
			return res, fmt.Errorf("refine: calibration rollout: %w", err)
		}
		opts.CalibrationObs = ro.Obs
	}
	var met *metrics.Metrics
	if r.Metrics != nil {
		if met, err = metrics.New(r.Metrics, metrics.Labels{Run: filepath.Base(r.Out), Env: spec.ID, Variant: string(r.Variant)}); err != nil {
			return res, err
		}
	}
	if r.Live != nil && r.Variant != ultra.PPO {
		if opts.Live, err = NewAdvisor(*r.Live, spec, "", "", logTo(r.AdvisorLog), met); err != nil {
			return res, err
		}
	}
	setup, err := ultra.NewSetup(st.Obs, spec, opts)
	if err != nil {
		return res, err
	}
	defer setup.Close()
	if setup.Calibration == nil {
		setup.Calibration = st.Calibration // a resumed run's
	}
	if r.Resume {
		// The machinery's state saved in the checkpoint, at its iteration:
		// the resumed run computes what the uninterrupted one does.
		if len(j.ck.Extension) > 0 {
			if err := setup.RestoreState(j.ck.Extension); err != nil {
				return res, fmt.Errorf("refine: %s: %w", r.Out, err)
			}
		} else {
			r.Logger.Warn("the checkpoint holds no state of the ULTRA machinery (written by an older build): the refinement resumes "+
				"with fresh random streams, an untrained RND predictor and counters from zero, so it will not be the run an uninterrupted one is, "+
				"and modulator.json will count only the resumed part", "checkpoint", filepath.Join(r.Out, run.CheckpointFile), "step", j.ck.GlobalStep)
		}
	}
	hooks := setup.Hooks
	setup.AdvisorObserved = r.Live != nil && r.Live.Name == "llm"
	var rr *run.Run
	if r.Resume {
		rr, err = run.ResumeWith(r.Out, j.ck, spec, hooks, ppo.Resume)
		if err != nil {
			return res, err
		}
	} else {
		tr, err := ppo.Continue(j.ck, j.cfg, spec, hooks)
		if err != nil {
			return res, err
		}
		lock, err := run.Create(r.Out, j.cfg)
		if err != nil {
			tr.Close()
			return res, err
		}
		rr = run.Adopt(r.Out, tr, lock)
		st.Radius, st.Calibration = setup.Radius, setup.Calibration
		b, err := json.MarshalIndent(st, "", "  ")
		if err == nil {
			err = atomicfile.Write(filepath.Join(r.Out, run.RefineFile), b)
		}
		if err != nil {
			rr.Close()
			return res, fmt.Errorf("refine: recording the refinement: %w", err)
		}
	}
	defer rr.Close()
	fields := []any{"variant", r.Variant, "checkpoint", r.Checkpoint, "table", setup.Table.Len(), "match_space", setup.Space,
		"radius", roundTo(setup.Radius, 4), "alpha", r.Variant.Behaviour().AlphaOf(t), "steps", r.Steps, "seed", r.Seed, "resumed_at", rr.Trainer.GlobalStep()}
	if c := setup.Calibration; c != nil {
		fields = append(fields, "target_hit_rate", c.Target, "calibrated_hit_rate", roundTo(c.HitRate, 5), "calibration_states", c.States)
	}
	r.Logger.Info("refining", fields...)
	res.Loop, err = run.Loop(ctx, rr.Trainer, run.Options{Dir: r.Out, Every: r.Every, Shutdown: r.Shutdown, Logger: r.Logger,
		Quiet: r.Quiet, OnIteration: r.OnIteration, Metrics: met, Extension: setup, Video: markedCapture(r.Video, setup)})
	res.Summary = setup.Summary()
	if werr := ultra.WriteSummary(filepath.Join(r.Out, ultra.SummaryFile), res.Summary); werr != nil {
		err = errors.Join(err, fmt.Errorf("refine: %w", werr))
	}
	return res, err
}

// The ULTRA machinery's state goes into every checkpoint of a refinement.
var _ run.Stateful = (*ultra.Setup)(nil)

// logTo is w, or io.Discard when w is nil.
func logTo(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// markedCapture is the refinement's clip settings with each frame's state
// labelled by the ULTRA table (Setup.Mark); nil stays nil.
func markedCapture(c *run.Capture, setup *ultra.Setup) *run.Capture {
	if c == nil {
		return nil
	}
	m := *c
	m.Mark = setup.Mark
	return &m
}
