package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/configflags"
	"github.com/ultra-rl/ultra/internal/interrupt"
)

func cmdExperiment(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("experiment", stderr)
	ef := addExperimentFlags(fs, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := ef.config(fs, stderr)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	var dose *experiment.DoseConfig
	if *ef.dose != "" {
		doses, err := experiment.ParseDose(*ef.dose)
		if err != nil {
			return fmt.Errorf("experiment: --dose: %w", err)
		}
		dose = &experiment.DoseConfig{Base: c, Doses: doses}
	}
	// Everything is checked before the metrics port is bound or a file written.
	if dose != nil {
		if err := dose.Validate(); err != nil {
			return fmt.Errorf("experiment: %w", err)
		}
	} else if *ef.reportOnly {
		return errors.New("experiment: --report-only writes a dose–response report: give --dose as well (an ordinary experiment's report: ultra sweep report)")
	} else if _, err := c.Validate(); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	reg, stopMetrics, err := serveMetrics(ef.output, fs, c.Logger)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	defer stopMetrics()
	c.Metrics = reg
	ctx, stop := interrupt.Context(stderr)
	defer stop()
	if dose != nil {
		dose.Base.Metrics = reg
		run := experiment.RunDose
		if *ef.reportOnly {
			run = func(context.Context, experiment.DoseConfig) (*experiment.DoseResult, error) {
				return experiment.DoseReport(*dose)
			}
		}
		res, err := run(ctx, *dose)
		if errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil) {
			c.Logger.Info("dose–response experiment interrupted; rerun the same command to resume", "out", c.Out)
			return nil
		}
		if err != nil {
			return fmt.Errorf("experiment: %w", err)
		}
		fmt.Fprint(stdout, res.Markdown)
		fmt.Fprintf(stdout, "\nfiles: %s\n", strings.Join(res.Files, ", "))
		return nil
	}
	res, err := experiment.Run(ctx, c)
	if errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil) {
		c.Logger.Info("experiment interrupted; rerun the same command to resume", "out", c.Out)
		return nil
	}
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	printResult(stdout, res)
	return nil
}

// printResult prints an experiment's table and where its files are.
func printResult(stdout io.Writer, res *experiment.Result) {
	fmt.Fprint(stdout, res.Markdown)
	if res.PlotErr != nil {
		fmt.Fprintf(stdout, "\nno plots (%v: refine longer)\nreport: %s\n", res.PlotErr, res.Report)
		return
	}
	fmt.Fprintf(stdout, "\nplots: %s\nreport: %s\n", strings.Join(res.Plots, ", "), res.Report)
}

// experimentFlags are the flags of ultra experiment (and sweep plan).
type experimentFlags struct {
	c                     experiment.Config
	af                    advisorFlags
	variants, dose        *string
	reportOnly            *bool
	settings              *settingsFlags
	dev                   *ppo.Config
	devFlags, outputFlags *configflags.Set
	output                configflags.Output
}

func addExperimentFlags(fs *flag.FlagSet, stderr io.Writer) *experimentFlags {
	ef := &experimentFlags{c: experiment.Config{Registry: registry(), AdvisorLog: stderr}}
	c, af := &ef.c, &ef.af
	fs.StringVar(&c.Env, "env", "hopper", "task id")
	fs.StringVar(&c.Out, "out", "", "experiment directory (required); rerunning with the same directory skips finished stages")
	fs.StringVar(&c.Checkpoint, "checkpoint", "", "start from this sub-optimal agent instead of pretraining one")
	fs.IntVar(&c.PretrainSteps, "pretrain-steps", 100000, "PPO steps of the sub-optimal agent")
	fs.Uint64Var(&c.PretrainSeed, "pretrain-seed", 1, "seed of the pretraining run")
	fs.IntVar(&c.CollectEpisodes, "collect-episodes", 16, "episodes of the sub-optimal agent to annotate")
	addAdvisorFlags(fs, af)
	ef.variants = fs.String("variants", "ppo,ultra-a,ultra-r,ultra-ra,random,rice,placebo", "comma-separated variants: "+ultra.VariantNames())
	fs.IntVar(&c.Seeds, "seeds", 10, "refinement seeds per variant (1..N), fixed when the directory is created: fewer than 5 are reported without comparisons")
	fs.IntVar(&c.RefineSteps, "refine-steps", 200000, "env steps of each refinement")
	fs.IntVar(&c.EvalEpisodes, "eval-episodes", 10, "evaluation episodes of each final policy (mean action)")
	fs.Uint64Var(&c.EvalSeed, "eval-seed", 1000, "seed of the evaluation episodes (the same for every run)")
	fs.IntVar(&c.Jobs, "jobs", runtime.GOMAXPROCS(0), "refinement runs executed in parallel")
	fs.StringVar(&c.Note, "note", "", "how the settings were chosen, in your words: the report shows it with the settings")
	fs.BoolVar(&c.Verified, "verified", false, "refine with verified advice only: the annotations whose judged difference (suggested − taken, in the simulator) has its 95% t interval above 0 (the judge stage's judge/verified-ADVISOR.jsonl)")
	ef.settings = addSettingsFlags(fs)
	ef.dev, ef.devFlags = addDeviceFlags(fs)
	fs.StringVar(&c.LLMAnnotations, "llm-annotations", "", "annotations for the llm stage made elsewhere for this experiment's collect/episodes.jsonl (ultra annotate --batch-import)")
	// Not --sweep: "sweep" names the cluster work units (ultra sweep plan|unit|report).
	ef.dose = fs.String("dose", "", "dose–response: "+experiment.DoseParam+"=LIST (e.g. 0.1%,0.5%,2%,5%) refines the variants at each target hit rate from one checkpoint and one annotation set, runs ppo and the placebo once as bands, and writes dose.md/csv/png/svg (runs in this process, not as sweep units)")
	ef.reportOnly = fs.Bool("report-only", false, "with --dose: write the dose report from the finished runs (doses cut short are left out) and run nothing")
	ef.output = configflags.DefaultOutput()
	ef.outputFlags = configflags.New(fs, &ef.output)
	return ef
}

// recordedFlags are the flags of ultra experiment that set a setting an
// experiment directory records, each with the copy of that setting from
// the directory's previous configuration (experiment.Previous): a rerun
// into the directory takes what it does not give from there.
var recordedFlags = []struct {
	name string
	copy func(dst, src *experiment.Config)
}{
	{"env", func(d, s *experiment.Config) { d.Env = s.Env }},
	{"checkpoint", func(d, s *experiment.Config) { d.Checkpoint = s.Checkpoint }},
	{"pretrain-steps", func(d, s *experiment.Config) { d.PretrainSteps = s.PretrainSteps }},
	{"pretrain-seed", func(d, s *experiment.Config) { d.PretrainSeed = s.PretrainSeed }},
	{"collect-episodes", func(d, s *experiment.Config) { d.CollectEpisodes = s.CollectEpisodes }},
	{"seeds", func(d, s *experiment.Config) { d.Seeds = s.Seeds }},
	{"refine-steps", func(d, s *experiment.Config) { d.RefineSteps = s.RefineSteps }},
	{"eval-episodes", func(d, s *experiment.Config) { d.EvalEpisodes = s.EvalEpisodes }},
	{"eval-seed", func(d, s *experiment.Config) { d.EvalSeed = s.EvalSeed }},
	{"llm-annotations", func(d, s *experiment.Config) { d.LLMAnnotations = s.LLMAnnotations }},
	{"note", func(d, s *experiment.Config) { d.Note = s.Note }},
	{"device", func(d, s *experiment.Config) { d.Device = s.Device }},
	{"tf32", func(d, s *experiment.Config) { d.TF32 = s.TF32 }},
	{"variants", func(d, s *experiment.Config) { d.Variants = s.Variants }},
	{"verified", func(d, s *experiment.Config) { d.Verified = s.Verified }},
}

// config builds the Config from the parsed flags. When --out already
// holds an experiment, what the flags do not give comes from its record
// (experiment.Previous), so that `ultra experiment --out DIR --seeds 20`
// adds seeds to DIR's experiment as it was run; the flags given are
// checked against the record as any rerun's are.
func (ef *experimentFlags) config(fs *flag.FlagSet, stderr io.Writer) (experiment.Config, error) {
	c := ef.c
	if err := errors.Join(ef.af.apply(), ef.devFlags.Apply(""), ef.outputFlags.Apply("")); err != nil {
		return c, err
	}
	c.Device, c.TF32, c.Shutdown = ef.dev.Device, ef.dev.TF32, ef.output.Shutdown
	if c.Out == "" {
		return c, errors.New("--out DIR is required")
	}
	given := givenFlags(fs)
	for _, s := range strings.Split(*ef.variants, ",") {
		v, err := ultra.ParseVariant(strings.TrimSpace(s))
		if err != nil {
			return c, err
		}
		c.Variants = append(c.Variants, v)
	}
	var prev *experiment.Config
	if *ef.dose == "" {
		p, ok, err := experiment.Previous(c.Out, c.Registry)
		if err != nil {
			return c, fmt.Errorf("%s holds an experiment whose record is unreadable (%w): use another --out", c.Out, err)
		}
		if ok {
			prev = &p
			for _, f := range recordedFlags {
				if !given[f.name] {
					f.copy(&c, prev)
				}
			}
		}
	}
	spec, err := c.Registry.Lookup(c.Env)
	if err != nil {
		return c, err
	}
	base := ultra.DefaultSettings(spec, int64(c.RefineSteps))
	if prev != nil {
		base = prev.Settings
	}
	if c.Settings, err = ef.settings.resolveFrom(base, given); err != nil {
		return c, err
	}
	advisorGiven := false
	for _, name := range advisorFlagNames() {
		advisorGiven = advisorGiven || given[name]
	}
	if prev != nil && !advisorGiven {
		c.Advisor = prev.Advisor
	} else {
		if c.Advisor, err = ef.af.config(); err != nil && c.AsksAdvisor(ef.af.Name) {
			return c, err
		}
		c.Advisor.Name = ef.af.Name
	}
	c.Logger, err = newLogger(ef.output.LogFormat, stderr)
	return c, err
}

// advisorFlagNames are the flags of the advisor group.
func advisorFlagNames() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	configflags.New(fs, &configflags.Advisor{})
	return flagNames(fs)
}
