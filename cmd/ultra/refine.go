package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/configflags"
	"github.com/ultra-rl/ultra/internal/interrupt"
)

func cmdRefine(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("refine", stderr)
	r := experiment.Refinement{Registry: registry()}
	fs.StringVar(&r.Checkpoint, "checkpoint", "", "the sub-optimal agent to refine (required)")
	variant := fs.String("variant", "ultra-ra", ultra.VariantNames())
	fs.StringVar(&r.Annotations, "annotations", "", "annotations JSONL from 'ultra annotate' (or use --advisor for live annotation)")
	fs.StringVar(&r.Trajectories, "traj", "", "trajectories JSONL the annotations came from, to derive the match radius from data")
	fs.IntVar(&r.Steps, "steps", 200000, "env steps of refinement")
	fs.Uint64Var(&r.Seed, "seed", 1, "seed of this refinement run")
	fs.IntVar(&r.Envs, "envs", 0, "parallel envs (0: the checkpoint's)")
	fs.StringVar(&r.Out, "out", "", "run directory (required)")
	sf := addSettingsFlags(fs)
	dev, devFlags := addDeviceFlags(fs)
	rf := addRunFlags(fs)
	fs.BoolVar(&r.Resume, "resume", false, "continue the interrupted refinement in --out with its settings (only --steps, --device, --tf32 and the run flags may change)")
	var af advisorFlags
	addAdvisorFlags(fs, &af)
	if err := parse(fs, args); err != nil {
		return err
	}
	set := givenFlags(fs)
	live := set["advisor"]
	fixed := rf.fixed(fs, []string{"steps"}, devFlags) // refine's own --steps may extend a resumed run
	err := func() error {
		if err := checkSettingFlags(set); err != nil {
			return err
		}
		if err := errors.Join(rf.apply(), devFlags.Apply(""), af.apply()); err != nil {
			return err
		}
		r.Every, r.Shutdown, r.Video = rf.loop.Every, rf.output.Shutdown, rf.capture()
		if set["device"] || set["tf32"] { // else the checkpoint's
			r.Device, r.TF32 = dev.Device, dev.TF32
		}
		if r.Resume {
			if len(fixed) > 0 {
				return fmt.Errorf("--resume continues the refinement with the settings it started with; %s cannot change", strings.Join(fixed, ", "))
			}
			if !set["steps"] {
				r.Steps = 0 // the recorded length
			}
			live = false
		} else if r.Checkpoint == "" || r.Out == "" {
			return errors.New("--checkpoint C and --out DIR are required")
		}
		if !r.Resume {
			v, err := ultra.ParseVariant(*variant)
			if err != nil {
				return err
			}
			r.Variant = v
		}
		if !r.Resume {
			spec, err := experiment.CheckpointSpec(r.Checkpoint, r.Registry)
			if err != nil {
				return err
			}
			if r.Settings, err = sf.resolve(spec, int64(r.Steps), set); err != nil {
				return err
			}
		}
		if live && r.Annotations == "" && !set["target-hit-rate"] {
			// Live annotation alone leaves nothing to calibrate on: the
			// default target gives way to the radius rule.
			r.Settings.TargetHitRate = 0
		}
		if live {
			ac, err := af.config()
			if err != nil {
				return err
			}
			r.Live = &ac
		}
		bar, err := progressBar(rf.loop.Progress, stderr)
		if err != nil {
			return err
		}
		bw := &barWriter{w: stderr}
		defer bw.end()
		if bar && !r.Resume { // a resumed run's start step is known only once loaded
			r.Quiet, r.OnIteration = true, barFor(bw, 0)
		}
		if r.Out == "" {
			return errors.New("--out DIR is required")
		}
		if r.Logger, err = newLogger(rf.output.LogFormat, bw); err != nil {
			return err
		}
		r.AdvisorLog = stderr
		job, err := r.Prepare()
		if err != nil {
			return err
		}
		reg, stop, err := serveMetrics(rf.output, fs, r.Logger)
		if err != nil {
			return err
		}
		defer stop()
		job.SetMetrics(reg)
		ctx, stopSig := interrupt.Context(stderr)
		defer stopSig()
		res, err := job.Run(ctx)
		bw.end()
		if err != nil {
			return err
		}
		printTrained(stdout, res.Env, res.Loop)
		return nil
	}()
	if errors.Is(err, errInterrupted) {
		return nil // the checkpoint is written; the note was logged
	}
	if err != nil {
		return fmt.Errorf("refine: %w", err)
	}
	return nil
}

// settingsFlags are the flags of ultra.Settings that refine, experiment and
// sweep plan share. Each writes a scratch Settings; resolve copies the
// given ones over the defaults of the task and the refinement length, which
// are known only once the flags are parsed.
type settingsFlags struct {
	scratch ultra.Settings
}

// settingFlags names each knob's flag and copies its value.
var settingFlags = []struct {
	name string
	copy func(dst, src *ultra.Settings)
}{
	{"alpha", func(d, s *ultra.Settings) { d.Alpha = s.Alpha }},
	{"radius", func(d, s *ultra.Settings) { d.Radius = s.Radius }},
	{"radius-quantile", func(d, s *ultra.Settings) { d.RadiusQuantile = s.RadiusQuantile }},
	{"target-hit-rate", func(d, s *ultra.Settings) { d.TargetHitRate = s.TargetHitRate }},
	{"match-space", func(d, s *ultra.Settings) { d.MatchSpace = s.MatchSpace }},
	{"override-prob", func(d, s *ultra.Settings) { d.OverrideProb = s.OverrideProb }},
	{"override-end", func(d, s *ultra.Settings) { d.OverrideEnd = s.OverrideEnd }},
	{"anneal-steps", func(d, s *ultra.Settings) { d.AnnealSteps = s.AnnealSteps }},
	{"reset-prob", func(d, s *ultra.Settings) { d.ResetProb = s.ResetProb }},
	{"reward-on", func(d, s *ultra.Settings) { d.RewardOn = s.RewardOn }},
	{"action-tolerance", func(d, s *ultra.Settings) { d.ActionTolerance = s.ActionTolerance }},
	{"imitation", func(d, s *ultra.Settings) { d.Imitation = s.Imitation }},
	{"recalibrate-every", func(d, s *ultra.Settings) { d.RecalibrateEvery = s.RecalibrateEvery }},
}

// addSettingsFlags registers the knobs of ultra.Settings (documented there).
func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	sf := &settingsFlags{}
	t := &sf.scratch
	fs.Float64Var(&t.Alpha, "alpha", 0, "weight of the implicit reward (default: the task's, as in the paper: 0.5 for Pong, 0.1 for MuJoCo)")
	fs.Float64Var(&t.Radius, "radius", 0, "fixed match radius in normalised observation units (default: calibrated to --target-hit-rate)")
	fs.Float64Var(&t.RadiusQuantile, "radius-quantile", 0, fmt.Sprintf("make the radius this quantile of cross-episode nearest-neighbour distances among the collected states, instead of calibrating it (the rule before calibration; default %v when used)", ultra.DefaultRadiusQuantile))
	fs.Func("target-hit-rate", fmt.Sprintf("calibrate the radius so that this share of the states the checkpoint visits (a %d-step rollout, fixed seed) matches a critical state, e.g. 2%% or 0.02; 0: off (default %s)",
		experiment.DefaultCalibrationSteps, percent(ultra.DefaultTargetHitRate)), func(s string) error {
		v, err := experiment.ParseShare(s)
		t.TargetHitRate = v
		return err
	})
	fs.Func("match-space", "space critical states are matched in: full (all normalised observations), task (the task's subspace: hopper/walker2d without the forward velocity), scaled (each dimension by its spread over the collected states) (default "+string(ultra.DefaultMatchSpace)+")", func(s string) error {
		v, err := ultra.ParseMatchSpace(s)
		t.MatchSpace = v
		return err
	})
	fs.Float64Var(&t.OverrideProb, "override-prob", 0, "probability of taking the suggested action at a matched state, at the start (default 1)")
	fs.Float64Var(&t.OverrideEnd, "override-end", 0, "that probability at the end of --anneal-steps (default 0)")
	fs.Int64Var(&t.AnnealSteps, "anneal-steps", 0, "env steps over which the override probability decays to --override-end; 0: constant (default: the first half of the refinement)")
	fs.Float64Var(&t.ResetProb, "reset-prob", 0, fmt.Sprintf("rice, ultra-ra+rice: fraction of episodes restarted at a critical state (default %v)", ultra.DefaultResetProb))
	fs.Func("reward-on", "what the implicit reward judges: action (alpha·r when the executed action is the one the advisor judged, alpha·its reward of the suggestion when that is executed) or state (alpha·r at every matched state) (default "+string(ultra.DefaultRewardOn)+")", func(s string) error {
		v, err := ultra.ParseRewardOn(s)
		t.RewardOn = v
		return err
	})
	fs.Float64Var(&t.ActionTolerance, "action-tolerance", 0, fmt.Sprintf("with --reward-on action: how near the executed action must be to the judged one, RMS in units of the action range (default %v)", ultra.DefaultActionTolerance))
	fs.Float64Var(&t.Imitation, "imitation", 0, fmt.Sprintf("ultra-i, ultra-ia: weight β of the behaviour-cloning term toward the suggested actions at the annotated states (default %v)", ultra.DefaultImitation))
	fs.IntVar(&t.RecalibrateEvery, "recalibrate-every", 0, "refit the radius to --target-hit-rate every N iterations on the run's own states (default 0: keep the radius fitted to the checkpoint)")
	return sf
}

// resolve returns ultra.DefaultSettings for spec and a refinement of steps
// env steps, changed by the flags given (set: givenFlags). An explicit
// --radius or --radius-quantile turns the default target hit rate off;
// with an explicit --target-hit-rate as well it is an error. The result is
// validated.
func (sf *settingsFlags) resolve(spec env.Spec, steps int64, set map[string]bool) (ultra.Settings, error) {
	return sf.resolveFrom(ultra.DefaultSettings(spec, steps), set)
}

// resolveFrom is resolve over base settings (a directory's recorded ones)
// instead of the task's defaults.
func (sf *settingsFlags) resolveFrom(base ultra.Settings, set map[string]bool) (ultra.Settings, error) {
	if err := checkSettingFlags(set); err != nil {
		return ultra.Settings{}, err
	}
	s := base
	if !set["target-hit-rate"] && (set["radius"] || set["radius-quantile"]) {
		s.TargetHitRate = 0
	}
	for _, f := range settingFlags {
		if set[f.name] {
			f.copy(&s, &sf.scratch)
		}
	}
	return s, s.Validate()
}

// checkSettingFlags refuses flags that contradict each other, before
// anything is loaded.
func checkSettingFlags(set map[string]bool) error {
	if set["target-hit-rate"] && (set["radius"] || set["radius-quantile"]) {
		return errors.New("--target-hit-rate calibrates the radius, --radius and --radius-quantile fix it: give one of them")
	}
	return nil
}

// addDeviceFlags binds --device and --tf32 as ppo.Config declares them (the
// one vocabulary of train, refine, experiment, sweep and bench), with
// ppo.Config's defaults. Refine and sweep unit read them only when given
// (else the checkpoint's or the plan's device).
func addDeviceFlags(fs *flag.FlagSet, only ...string) (*ppo.Config, *configflags.Set) {
	d := ppo.Defaults()
	dev := &d
	if len(only) == 0 {
		only = []string{"device", "tf32"}
	}
	return dev, configflags.New(fs, dev, only...)
}

// givenFlags is the set of the flags given on the command line.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// percent formats a share as a percentage ("off" for 0).
func percent(x float64) string {
	if x == 0 {
		return "off"
	}
	return experiment.DosePercent(x)
}

// printTrained prints the line that ends train and refine.
func printTrained(w io.Writer, what string, res run.Result) {
	summary := fmt.Sprintf("mean return of the last 10 episodes: %.2f", res.LastReturn)
	if math.IsNaN(res.LastReturn) {
		summary = "no episode finished yet (train longer for a return)"
	}
	steps := fmt.Sprintf("%d steps", res.Steps)
	if res.Asked > res.Steps {
		steps += fmt.Sprintf(" (--steps %d rounded down to whole iterations)", res.Asked)
	}
	fmt.Fprintf(w, "trained %s for %s in %s; %s\n", what, steps, res.Wall.Round(time.Second), summary)
}
