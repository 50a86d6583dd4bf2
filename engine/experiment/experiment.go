// Package experiment runs ULTRA experiments: pretrain a sub-optimal PPO
// agent, collect its episodes, have advisors annotate them, refine every
// variant × seed in parallel, evaluate each final policy on fixed seeds and
// write the report (results.md/csv with bootstrap intervals, learning
// curves, report.html). Every stage writes its output atomically and a
// rerun skips what is done, so an interrupted experiment resumes where it
// stopped. `ultra experiment` and `ultra refine` are thin wrappers around
// Run and Refine.
//
// Directory layout:
//
//	pretrain/                the sub-optimal agent's run (unless a checkpoint is given)
//	collect/episodes.jsonl   its episodes, with simulator snapshots
//	annotate/NAME.jsonl      each advisor's annotations (+ .report.json, llm audit and cache)
//	refine/VARIANT-sSEED/    one run per variant × seed, with eval.json
//	results.md, results.csv, curves.png, curves.svg, report.html
//	clips/NAME.gif           before and after: one evaluation episode each (with the renderer)
package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/expert"
	"github.com/ultra-rl/ultra/engine/advisor/llm"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// Config is one experiment.
// Its settings (the fields with JSON names) are what a directory's
// plan.json records; the others are how this process runs them.
type Config struct {
	Env string `json:"env"` // task id
	Out string `json:"-"`   // experiment directory
	// Checkpoint, when set, is the sub-optimal agent; otherwise PPO trains
	// one for PretrainSteps with PretrainSeed.
	Checkpoint    string `json:"checkpoint,omitempty"`
	PretrainSteps int    `json:"pretrain_steps"`
	PretrainSeed  uint64 `json:"pretrain_seed"`
	// CollectEpisodes of the agent are annotated (at least 2).
	CollectEpisodes int `json:"collect_episodes"`
	// Advisor annotates for the ultra-* and rice variants (random uses the
	// random advisor); its Seed is set per experiment.
	Advisor AdvisorConfig `json:"advisor"`
	// LLMAnnotations, when set, is the llm stage's annotations, made
	// elsewhere (ultra annotate --batch-import) for the collected
	// episodes: the stage checks and copies them instead of asking.
	LLMAnnotations string          `json:"llm_annotations,omitempty"`
	Variants       []ultra.Variant `json:"variants"`
	Seeds          int             `json:"seeds"` // refinement seeds per variant (1..Seeds)
	// RefineSteps of each refinement; each final policy is evaluated on
	// EvalEpisodes episodes from EvalSeed with its mean action.
	RefineSteps  int    `json:"refine_steps"`
	EvalEpisodes int    `json:"eval_episodes"`
	EvalSeed     uint64 `json:"eval_seed"`
	Jobs         int    `json:"-"` // refinements run in parallel
	// Settings are every refinement's ULTRA knobs, resolved (start from
	// ultra.DefaultSettings for the task and RefineSteps).
	Settings ultra.Settings `json:"settings"`
	Device   string         `json:"device"` // cpu or cuda, for pretraining and every refinement
	TF32     bool           `json:"tf32"`
	Shutdown time.Duration  `json:"-"` // how long a stop waits for running iterations
	// Registry resolves Env; Metrics, when set, receives every run's series.
	Registry *env.Registry        `json:"-"`
	Metrics  *prometheus.Registry `json:"-"`
	// Logger receives the stages' progress; AdvisorLog an llm advisor's
	// warnings.
	Logger     *slog.Logger `json:"-"`
	AdvisorLog io.Writer    `json:"-"`

	// Note says how settings were chosen, in the user's words; the
	// report shows it with the settings.
	Note string `json:"note,omitempty"`

	// Verified refines with the verified advice only: each advisor's
	// annotations that the judge stage confirms in the simulator
	// (judge.VerifiedThreshold), from judge/verified-ADVISOR.jsonl.
	Verified bool `json:"verified,omitempty"`

	plannedSeeds int             // from the directory's record
	allVariants  []ultra.Variant // every variant the directory has been run with
	allSeeds     int             // and the most seeds
}

// Result is a finished experiment's report.
type Result struct {
	Markdown string // the results table and its notes (results.md)
	Report   string // path of report.html
	// Plots are the learning-curve files (PNG, SVG); empty when no curve
	// could be drawn, with PlotErr saying why.
	Plots   []string
	PlotErr error
}

// MaxSeeds bounds the seeds of one experiment: a published table wants ten
// or twenty, and a count far past any table (a typo, or a hand-edited
// plan.json) would only queue units that never finish.
const MaxSeeds = 10000

// Validate checks the configuration before anything is written or bound:
// counts, the task (pixel envs are refused: no advisor reads pixels and the
// trajectories would hold 113 KB per step) and the networks' device.
func (c *Config) Validate() (env.Spec, error) {
	switch {
	case c.Out == "":
		return env.Spec{}, errors.New("experiment: an output directory is required")
	case c.Seeds < 1 || c.Jobs < 1 || c.EvalEpisodes < 1 || c.CollectEpisodes < 2:
		return env.Spec{}, fmt.Errorf("experiment: want seeds, jobs, eval episodes ≥ 1 and collect episodes ≥ 2, got %d, %d, %d, %d",
			c.Seeds, c.Jobs, c.EvalEpisodes, c.CollectEpisodes)
	case c.Seeds > MaxSeeds:
		return env.Spec{}, fmt.Errorf("experiment: %d seeds is more than the %d one table holds: split the runs into several experiments", c.Seeds, MaxSeeds)
	case len(c.Variants) == 0:
		return env.Spec{}, errors.New("experiment: no variants to run")
	case c.RefineSteps < 1 || (c.Checkpoint == "" && c.PretrainSteps < 1):
		return env.Spec{}, fmt.Errorf("experiment: want refine steps ≥ 1 and pretrain steps ≥ 1, got %d and %d", c.RefineSteps, c.PretrainSteps)
	}
	seen := map[ultra.Variant]bool{}
	for _, v := range c.Variants {
		if _, err := ultra.ParseVariant(string(v)); err != nil {
			return env.Spec{}, fmt.Errorf("experiment: %w", err)
		}
		if seen[v] {
			return env.Spec{}, fmt.Errorf("experiment: variant %s is listed twice", v)
		}
		seen[v] = true
	}
	if err := c.Settings.Validate(); err != nil {
		return env.Spec{}, fmt.Errorf("experiment: %w (start from ultra.DefaultSettings)", err)
	}
	for _, v := range c.Variants {
		if name := v.Behaviour().AdvisorName(c.Advisor.Name); name != "" {
			if c.importsLLM(name) {
				continue // the llm stage imports them: no model is asked
			}
			ac := c.Advisor
			ac.Name = name
			if err := ac.Validate(); err != nil {
				return env.Spec{}, fmt.Errorf("experiment: %w", err)
			}
		}
	}
	spec, err := c.Registry.Lookup(c.Env)
	if err != nil {
		return spec, err
	}
	c.Env = spec.ID // not an alias (Hopper-v4): the directory records the task's id
	if c.Advisor.Expert != "" && c.UsesAdvisor(expert.Name) {
		ck, err := ppo.LoadCheckpoint(c.Advisor.Expert)
		if err != nil {
			return spec, fmt.Errorf("experiment: the expert advisor's checkpoint: %w", err)
		}
		if ck.Config.Env != spec.ID {
			return spec, fmt.Errorf("experiment: the expert %s was trained on %q, not %q: give an expert of the same task", c.Advisor.Expert, ck.Config.Env, spec.ID)
		}
	}
	if spec.Image != [3]int{} {
		// Collected trajectories keep every observation (and a snapshot per
		// step): gigabytes per batch of Atari episodes, and no advisor
		// reads pixels.
		return spec, fmt.Errorf("env %q observes pixels, which the advisors cannot read and the trajectories cannot hold "+
			"(%d KB per step): run the experiment on a features env (pong, ale:pong) or a MuJoCo task", spec.ID, spec.Observation.Dim*4/1000)
	}
	if c.Device == "" {
		c.Device = "cpu"
	}
	for _, v := range c.Variants {
		if v.Behaviour().Imitates && c.Device == "cuda" {
			return spec, fmt.Errorf("experiment: variant %s adds an imitation term that only the CPU networks have: run it with --device cpu", v)
		}
	}
	probe := ppo.DefaultsFor(spec)
	probe.Device, probe.TF32 = c.Device, c.TF32
	if c.Checkpoint == "" {
		probe.Seed, probe.TotalSteps = c.PretrainSeed, c.PretrainSteps
	}
	if err := probe.Validate(); err != nil {
		return spec, err
	}
	batch := probe.BatchSize()
	if c.Checkpoint != "" {
		ck, err := ppo.LoadCheckpoint(c.Checkpoint)
		if err != nil {
			return spec, fmt.Errorf("experiment: %w", err)
		}
		if ck.Config.Env != spec.ID {
			return spec, fmt.Errorf("experiment: checkpoint %s was trained on %q, not %q", c.Checkpoint, ck.Config.Env, spec.ID)
		}
		batch = ck.Config.BatchSize()
	}
	if c.RefineSteps < batch {
		return spec, fmt.Errorf("experiment: refine steps %d is less than one iteration of %s (%d)", c.RefineSteps, spec.ID, batch)
	}
	return spec, ppo.CheckDevice(probe.Device, probe.TF32)
}

// AsksAdvisor is UsesAdvisor less the llm stage whose annotations are
// imported (LLMAnnotations): whether the named advisor must be able to
// answer, and so needs its settings (an llm model, an endpoint).
func (c *Config) AsksAdvisor(name string) bool {
	for _, v := range c.Variants {
		a := v.Behaviour().AdvisorName(c.Advisor.Name)
		if a == "random-"+name || (a == name && !c.importsLLM(name)) {
			return true
		}
	}
	return false
}

// importsLLM reports whether advisor name's annotations are imported
// (--llm-annotations: Batch API answers) rather than asked for.
func (c *Config) importsLLM(name string) bool { return name == "llm" && c.LLMAnnotations != "" }

// UsesAdvisor reports whether a variant's annotations come from the named
// advisor, itself or judging random states.
func (c *Config) UsesAdvisor(name string) bool {
	for _, v := range c.Variants {
		if a := v.Behaviour().AdvisorName(c.Advisor.Name); a == name || a == "random-"+name {
			return true
		}
	}
	return false
}

// Run runs (or resumes) the experiment. Cancelling ctx stops the running
// stages with checkpoints and returns run.ErrInterrupted; rerunning resumes.
func Run(ctx context.Context, c Config) (*Result, error) {
	spec, err := c.Validate()
	if err != nil {
		return nil, err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	lock, err := run.Acquire(c.Out)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	units, err := c.plan()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	sh, err := c.sharedStages(ctx, spec, 0)
	if err != nil {
		return nil, err
	}
	runs, err := c.runUnits(ctx, units, sh)
	if err != nil {
		return nil, err
	}
	return c.report(c.withFinished(runs), time.Since(start))
}

// withFinished returns runs (of this invocation's units) together with the
// finished runs of every other variant and seed the directory has been run
// with, in the recorded variant order, so that a rerun naming fewer
// variants reports them all.
func (c *Config) withFinished(runs []report.Run) []report.Run {
	type key struct {
		v    string
		seed uint64
	}
	have := map[key]report.Run{}
	for _, r := range runs {
		have[key{r.Variant, r.Seed}] = r
	}
	var out []report.Run
	for _, v := range c.allVariants {
		for s := 1; s <= max(c.allSeeds, c.Seeds); s++ {
			k := key{string(v), uint64(s)}
			if r, ok := have[k]; ok {
				out = append(out, r)
				delete(have, k)
				continue
			}
			u := Unit{Variant: v, Seed: uint64(s)}
			dir := filepath.Join(c.Out, "refine", u.Name())
			ret, err := readEval(filepath.Join(dir, "eval.json"), c.EvalEpisodes)
			if err != nil {
				continue
			}
			r := report.Run{Variant: string(v), Seed: uint64(s), Eval: ret, Dose: LoadDose(dir)}
			r.Curve, _ = report.LoadCurve(filepath.Join(dir, run.MetricsJSONL))
			out = append(out, r)
		}
	}
	for _, r := range runs { // runs outside the record (none in practice)
		if _, ok := have[key{r.Variant, r.Seed}]; ok {
			out = append(out, r)
		}
	}
	return out
}

// loadSettings reads dir's experiment.json; ok is false when it has none.
// A record made before ultra.Settings has its knobs resolved as those runs
// resolved them (reg names its task).
func loadSettings(dir string, reg *env.Registry) (s settings, ok bool, err error) {
	path := filepath.Join(dir, settingsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	} else if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("%s is unreadable (%v)", path, err)
	}
	if s.Tuning != nil {
		spec, err := reg.Lookup(s.Env)
		if err != nil {
			return s, false, fmt.Errorf("%s: %w", path, err)
		}
		s.Settings, s.Tuning = s.Tuning.settings(spec, int64(s.RefineSteps)), nil
	}
	return s, true, nil
}

// differences names each setting that decides finished stages' results
// and differs between the record was and now, as "name was (now now)".
func (was settings) differences(now settings) []string {
	var diffs []string
	diff := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			diffs = append(diffs, fmt.Sprintf("%s %v (now %v)", name, a, b))
		}
	}
	diff("env", was.Env, now.Env)
	diff("checkpoint", was.Checkpoint, now.Checkpoint)
	if now.Checkpoint == "" {
		diff("pretrain steps", was.PretrainSteps, now.PretrainSteps)
		diff("pretrain seed", was.PretrainSeed, now.PretrainSeed)
	}
	diff("collect episodes", was.CollectEpisodes, now.CollectEpisodes)
	diff("advisor", was.Advisor, now.Advisor)
	diff("expert", was.Expert, now.Expert)
	diff("critical steps per episode", was.PerEpisode, now.PerEpisode)
	diff("llm model", was.Model, now.Model)
	diff("refine steps", was.RefineSteps, now.RefineSteps)
	diff("eval episodes", was.EvalEpisodes, now.EvalEpisodes)
	diff("eval seed", was.EvalSeed, now.EvalSeed)
	diffSettings(diff, was.Settings, now.Settings)
	diff("verified", was.Verified, now.Verified)
	return diffs
}

// diffSettings reports each knob that differs between was and now, by its
// JSON name.
func diffSettings(diff func(name string, a, b any), was, now ultra.Settings) {
	var a, b map[string]any
	wb, _ := json.Marshal(was)
	nb, _ := json.Marshal(now)
	json.Unmarshal(wb, &a)
	json.Unmarshal(nb, &b)
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		diff(strings.ReplaceAll(k, "_", " "), a[k], b[k])
	}
}

// settingsFile records what an experiment directory was made with.
const settingsFile = "experiment.json"

// settings are the options that decide the results of finished stages: a
// rerun must use the same (more variants or seeds, more parallel jobs, a
// different device are fine).
type settings struct {
	Env             string         `json:"env"`
	Checkpoint      string         `json:"checkpoint,omitempty"`
	PretrainSteps   int            `json:"pretrain_steps"`
	PretrainSeed    uint64         `json:"pretrain_seed"`
	CollectEpisodes int            `json:"collect_episodes"`
	Advisor         string         `json:"advisor"`
	Expert          string         `json:"expert,omitempty"`
	PerEpisode      int            `json:"critical_per_episode"`
	Model           string         `json:"llm_model,omitempty"`
	RefineSteps     int            `json:"refine_steps"`
	EvalEpisodes    int            `json:"eval_episodes"`
	EvalSeed        uint64         `json:"eval_seed"`
	Settings        ultra.Settings `json:"settings"`
	Verified        bool           `json:"verified,omitempty"`
	Variants        []string       `json:"variants"`
	Seeds           int            `json:"seeds"`
	// PlannedSeeds is the seed count the directory was created with; seeds
	// added later are allowed, and the report says so.
	PlannedSeeds int `json:"planned_seeds"`
	// Tuning is how directories made before ultra.Settings recorded the
	// knobs (read, then resolved into Settings).
	Tuning *legacyTuning `json:"tuning,omitempty"`
}

func (c *Config) settings() settings {
	s := settings{Env: c.Env, Checkpoint: c.Checkpoint, PretrainSteps: c.PretrainSteps, PretrainSeed: c.PretrainSeed,
		CollectEpisodes: c.CollectEpisodes, Advisor: c.Advisor.Name, Expert: c.Advisor.Expert, PerEpisode: c.Advisor.PerEpisode, Model: c.Advisor.LLM.Model,
		RefineSteps: c.RefineSteps, EvalEpisodes: c.EvalEpisodes, EvalSeed: c.EvalSeed, Settings: c.Settings, Verified: c.Verified, Seeds: c.Seeds, PlannedSeeds: c.Seeds}
	if c.Advisor.Name != "llm" {
		s.Model = ""
	}
	for _, v := range c.Variants {
		s.Variants = append(s.Variants, string(v))
	}
	return s
}

// record writes the directory's settings on first use; on a rerun it
// refuses settings that differ from those the finished stages were made
// with, naming each, and records added variants and seeds.
func (c *Config) record() error {
	path := filepath.Join(c.Out, settingsFile)
	now := c.settings()
	was, ok, err := loadSettings(c.Out, c.Registry)
	if err != nil {
		return fmt.Errorf("experiment: %w: use another directory", err)
	}
	if ok {
		if diffs := was.differences(now); len(diffs) > 0 {
			return fmt.Errorf("experiment: %s holds results made with other settings: %s; rerun with the same settings (adding variants or seeds is fine), or use another directory",
				c.Out, strings.Join(diffs, ", "))
		}
		for _, v := range was.Variants {
			if !slices.Contains(now.Variants, v) {
				now.Variants = append(now.Variants, v)
			}
		}
		now.Seeds = max(now.Seeds, was.Seeds)
		if was.PlannedSeeds > 0 { // directories from before the field: today's count
			now.PlannedSeeds = was.PlannedSeeds
		}
	}
	c.plannedSeeds = now.PlannedSeeds
	c.allVariants, c.allSeeds = nil, now.Seeds
	for _, v := range now.Variants {
		c.allVariants = append(c.allVariants, ultra.Variant(v))
	}
	b, err := json.MarshalIndent(now, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}

// pretrain trains (or resumes, or skips) the sub-optimal agent.
func (c *Config) pretrain(ctx context.Context, spec env.Spec) (string, error) {
	if c.Checkpoint != "" {
		return c.Checkpoint, nil
	}
	dir := filepath.Join(c.Out, "pretrain")
	path := filepath.Join(dir, run.CheckpointFile)
	var rr *run.Run
	if ck, err := ppo.LoadCheckpoint(path); err == nil {
		if ck.Iteration >= ck.Config.Iterations() {
			c.Logger.Info("stage done, skipping", "stage", "pretrain", "checkpoint", path)
			return path, nil
		}
		c.Logger.Info("resuming pretraining", "step", ck.GlobalStep)
		ck.Config.Device, ck.Config.TF32 = c.Device, c.TF32
		if rr, err = run.Resume(dir, ck, spec, ppo.Hooks{}); err != nil {
			return "", err
		}
	} else {
		os.RemoveAll(dir)
		cfg := ppo.DefaultsFor(spec)
		cfg.Seed, cfg.TotalSteps = c.PretrainSeed, c.PretrainSteps
		cfg.Device, cfg.TF32 = c.Device, c.TF32
		if rr, err = run.Start(dir, cfg, spec, ppo.Hooks{}); err != nil {
			return "", err
		}
	}
	defer rr.Close()
	tr := rr.Trainer
	c.Logger.Info("stage", "stage", "pretrain", "steps", tr.Config().TotalSteps, "out", dir)
	logf, err := os.OpenFile(filepath.Join(dir, "train.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	met, err := c.runMetrics(filepath.Base(c.Out)+"/pretrain", spec.ID, "pretrain")
	if err != nil {
		return "", err
	}
	_, err = run.Loop(ctx, tr, run.Options{Dir: dir, Every: 10, Shutdown: c.Shutdown, Logger: slog.New(slog.NewTextHandler(logf, nil)), Metrics: met})
	return path, err
}

// runMetrics registers one run's series (nil without a registry).
func (c *Config) runMetrics(name, envID, variant string) (*metrics.Metrics, error) {
	if c.Metrics == nil {
		return nil, nil
	}
	return metrics.New(c.Metrics, metrics.Labels{Run: name, Env: envID, Variant: variant})
}

// collect records the agent's episodes with simulator snapshots.
func (c *Config) collect(ckPath string, spec env.Spec) (string, error) {
	path := filepath.Join(c.Out, "collect", "episodes.jsonl")
	if trajs, err := traj.ReadJSONL[traj.Trajectory](path); err == nil && len(trajs) == c.CollectEpisodes {
		c.Logger.Info("stage done, skipping", "stage", "collect", "file", path)
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	ck, err := ppo.LoadCheckpoint(ckPath)
	if err != nil {
		return "", err
	}
	p, err := ppo.NewPolicy(ck, spec, false, c.PretrainSeed)
	if err != nil {
		return "", err
	}
	defer p.Close()
	trajs, err := CollectTo(path, spec, p, CollectOptions{Episodes: c.CollectEpisodes, Seed: c.PretrainSeed + 100, Prefix: "c-", Snapshots: true})
	if err != nil {
		return "", err
	}
	c.Logger.Info("stage", "stage", "collect", "episodes", len(trajs), "file", path)
	return path, nil
}

// annotate runs one advisor over the collected trajectories. Its
// annotations are done once they hold at least one annotation of this
// task and these episodes; an empty set is never written (a rerun asks
// again).
func (c *Config) annotate(ctx context.Context, name, trajPath string, spec env.Spec) (string, error) {
	path := filepath.Join(c.Out, "annotate", name+".jsonl")
	trajs, err := traj.ReadFor(trajPath, spec)
	if err != nil {
		return "", err
	}
	fp := traj.Fingerprint(trajs)
	if anns, err := traj.ReadJSONL[advisor.Annotation](path); err == nil && len(anns) > 0 {
		if anns[0].Env == "" {
			// Made here before annotations recorded their task and episodes:
			// they are this directory's, so they get its provenance.
			advisor.Stamp(anns, spec.ID, fp)
			if err := WriteJSONL(path, anns); err != nil {
				return "", err
			}
		}
		if err := advisor.CheckProvenance(anns, path, spec.ID, fp, ""); err != nil {
			return "", err
		}
		c.Logger.Info("stage done, skipping", "stage", "annotate", "advisor", name, "file", path)
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	ac := c.Advisor
	ac.Name, ac.Seed = name, c.PretrainSeed
	if c.importsLLM(name) {
		return path, importAnnotations(c.LLMAnnotations, path, trajs, spec)
	}
	anns, res, err := Annotate(ctx, trajs, spec, path, ac, logTo(c.AdvisorLog))
	if err != nil && !errors.Is(err, advisor.ErrBudget) {
		return "", err // nothing is written: a rerun annotates again
	}
	rep := res.Report
	if len(anns) == 0 {
		return "", fmt.Errorf("the %s advisor gave no usable annotation of the %d collected episodes (%d requests, rejected parts: %v); nothing was written, and a rerun asks again",
			name, len(trajs), rep.Requests, rep.Rejected)
	}
	c.Logger.Info("stage", "stage", "annotate", "advisor", name, "critical_states", len(anns),
		"requests", rep.Requests, "tokens", rep.PromptTokens+rep.CompletionTokens, "rejected", rep.Rejected)
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		atomicfile.Write(strings.TrimSuffix(path, ".jsonl")+".report.json", b)
	}
	return path, WriteJSONL(path, anns)
}

// importAnnotations copies annotations made elsewhere to path after
// checking that the llm advisor made them for this task from exactly these
// collected episodes.
func importAnnotations(from, path string, trajs []traj.Trajectory, spec env.Spec) error {
	anns, err := traj.ReadJSONL[advisor.Annotation](from)
	if err != nil {
		return err
	}
	if len(anns) == 0 {
		return fmt.Errorf("%s holds no annotations", from)
	}
	if err := advisor.CheckProvenance(anns, from, spec.ID, traj.Fingerprint(trajs), "llm"); err != nil {
		return fmt.Errorf("--llm-annotations: %w (this experiment's episodes are collect/episodes.jsonl: ultra annotate --advisor llm --traj that file)", err)
	}
	ids := map[string]int{}
	for i := range trajs {
		ids[trajs[i].ID] = trajs[i].Len()
	}
	for i, a := range anns {
		if n, ok := ids[a.Episode]; !ok || a.Step < 0 || a.Step >= n {
			return fmt.Errorf("%s:%d: episode %q step %d is not a step of the collected episodes: annotate this experiment's collect/episodes.jsonl", from, i+1, a.Episode, a.Step)
		}
	}
	return WriteJSONL(path, anns)
}

// AnnotateResult is what Annotate did.
type AnnotateResult struct {
	Advisor      string
	Trajectories int
	Report       advisor.Report
}

// Annotate has the advisor ac annotate trajs (all of spec's task, checked
// first), for annotations meant to be written to out: an llm
// advisor's audit log and cache default to out's name with .audit.jsonl
// and an llm-cache directory beside it. The annotations it could make are
// returned even with an error (a failed batch, a spent budget:
// advisor.ErrBudget).
func Annotate(ctx context.Context, trajs []traj.Trajectory, spec env.Spec, out string, ac AdvisorConfig, log io.Writer) ([]advisor.Annotation, AnnotateResult, error) {
	if len(trajs) == 0 {
		return nil, AnnotateResult{}, errors.New("no trajectories to annotate")
	}
	for i := range trajs {
		if err := trajs[i].Validate(spec); err != nil {
			return nil, AnnotateResult{}, fmt.Errorf("trajectory %d: %w", i+1, err)
		}
	}
	adv, err := NewAdvisor(ac, spec, strings.TrimSuffix(out, ".jsonl")+".audit.jsonl", filepath.Join(filepath.Dir(out), "llm-cache"), log, nil)
	if err != nil {
		return nil, AnnotateResult{}, err
	}
	var anns []advisor.Annotation
	var rep advisor.Report
	if ac.BatchImport != "" {
		la, ok := adv.(*llm.Advisor)
		if !ok {
			return nil, AnnotateResult{}, fmt.Errorf("batch files are for the llm advisor, not %s", ac.Name)
		}
		f, ferr := os.Open(ac.BatchImport)
		if ferr != nil {
			return nil, AnnotateResult{}, ferr
		}
		anns, rep, err = la.ImportBatch(trajs, f)
		f.Close()
	} else {
		anns, rep, err = adv.Annotate(ctx, trajs)
	}
	if anns == nil {
		anns = []advisor.Annotation{}
	}
	advisor.Stamp(anns, spec.ID, traj.Fingerprint(trajs))
	if err == nil && len(anns) == 0 && rep.Failed > 0 {
		// Unusable answers fail their batch without an error (the endpoint
		// worked); when every batch failed, the stage did.
		err = fmt.Errorf("advisor %s: every batch failed (%d), no annotation was made; rejected answer parts: %v", adv.Name(), rep.Failed, rep.Rejected)
	}
	return anns, AnnotateResult{Advisor: adv.Name(), Trajectories: len(trajs), Report: rep}, err
}

// WriteJSONL writes items atomically as one JSON object per line.
func WriteJSONL[T any](path string, items []T) error {
	var buf strings.Builder
	if err := traj.WriteJSONL(&buf, items); err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(buf.String()))
}

// evalResult is a finished run's evaluation, stored as eval.json.
type evalResult struct {
	Variant string    `json:"variant"`
	Seed    uint64    `json:"seed"`
	Returns []float64 `json:"returns"`
}

// runUnits runs every unit (skipping finished ones) on Jobs workers, each
// refining one variant × seed and evaluating its final policy.
func (c *Config) runUnits(ctx context.Context, jobs []Unit, sh shared) ([]report.Run, error) {
	runs := make([]report.Run, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(c.Jobs, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				runs[i], errs[i] = c.runUnit(ctx, jobs[i], sh, 0)
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
		return nil, run.ErrInterrupted
	}
	return runs, errors.Join(errs...)
}

// refineOne runs (or skips) one variant × seed and evaluates its policy.
func (c *Config) refineOne(ctx context.Context, v ultra.Variant, seed uint64, ckPath, trajPath string, annPaths map[string]string) (report.Run, error) {
	name := fmt.Sprintf("%s-s%d", v, seed)
	dir := filepath.Join(c.Out, "refine", name)
	rr := report.Run{Variant: string(v), Seed: seed}
	evalPath := filepath.Join(dir, "eval.json")
	var ev evalResult
	if b, err := os.ReadFile(evalPath); err == nil && json.Unmarshal(b, &ev) == nil && len(ev.Returns) == c.EvalEpisodes {
		rr.Eval = ev.Returns
		rr.Dose = LoadDose(dir)
		rr.Curve, err = report.LoadCurve(filepath.Join(dir, run.MetricsJSONL))
		c.Logger.Info("run done, skipping", "run", name)
		return rr, err
	}
	ck, err := run.LoadCheckpoint(dir)
	done := err == nil && ck.Iteration >= ck.Config.Iterations()
	if !done {
		// A run stopped or killed after a checkpoint continues from it;
		// one that never wrote a checkpoint starts again.
		_, rerr := os.Stat(filepath.Join(dir, run.RefineFile))
		resume := err == nil && rerr == nil
		if !resume {
			os.RemoveAll(dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return rr, err
		}
		logf, err := os.OpenFile(filepath.Join(dir, "refine.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return rr, err
		}
		r := Refinement{Checkpoint: ckPath, Out: dir, Variant: v, Steps: c.RefineSteps, Seed: seed, Trajectories: trajPath, Resume: resume,
			Workers: max(1, runtime.GOMAXPROCS(0)/c.Jobs), Device: c.Device, TF32: c.TF32, Settings: c.Settings,
			Every: 10, Shutdown: c.Shutdown, Logger: slog.New(slog.NewTextHandler(logf, nil)), AdvisorLog: logf,
			Metrics: c.Metrics, Registry: c.Registry}
		if adv := v.Behaviour().AdvisorName(c.Advisor.Name); adv != "" {
			r.Annotations = annPaths[adv]
		}
		c.Logger.Info("refining", "run", name)
		_, err = Refine(ctx, r)
		logf.Close()
		if err != nil {
			return rr, fmt.Errorf("%s: %w (log: %s)", name, err, filepath.Join(dir, "refine.log"))
		}
		if ck, err = run.LoadCheckpoint(dir); err != nil {
			return rr, err
		}
	}
	spec, err := c.Registry.Lookup(ck.Config.Env)
	if err != nil {
		return rr, err
	}
	p, err := ppo.NewPolicy(ck, spec, true, c.EvalSeed)
	if err != nil {
		return rr, err
	}
	defer p.Close()
	venv, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		return rr, err
	}
	defer venv.Close()
	eps, err := eval.Run(venv, p, c.EvalEpisodes, c.EvalSeed)
	if err != nil {
		return rr, err
	}
	for _, e := range eps {
		rr.Eval = append(rr.Eval, e.Return)
	}
	b, _ := json.MarshalIndent(evalResult{Variant: string(v), Seed: seed, Returns: rr.Eval}, "", "  ")
	if err := atomicfile.Write(evalPath, b); err != nil {
		return rr, err
	}
	rr.Dose = LoadDose(dir)
	rr.Curve, err = report.LoadCurve(filepath.Join(dir, run.MetricsJSONL))
	c.Logger.Info("run finished", "run", name, "eval_mean", roundTo(eval.Summarize(eps).MeanReturn, 1))
	return rr, err
}

// LoadDose reads what the critical-state table of the run in dir did (its
// ultra.Summary, modulator.json); nil for a run without a modulator (ppo)
// or without a summary.
func LoadDose(dir string) *report.Dose {
	sum, err := ultra.ReadSummary(filepath.Join(dir, ultra.SummaryFile))
	if err != nil || !sum.Variant.Behaviour().Modulates() {
		return nil
	}
	return doseOf(sum)
}

// doseOf is the part of a run's summary the report shows.
func doseOf(s ultra.Summary) *report.Dose {
	d := &report.Dose{Lookups: s.Lookups, Hits: s.Hits, Overrides: s.Overrides, Bonuses: s.Bonuses, Resets: s.Resets,
		Radius: s.Radius, Demonstrations: s.Demonstrations}
	if c := s.Calibration; c != nil {
		d.Calibrated, d.CalibratedHitRate = true, c.HitRate
	}
	for _, w := range s.HitWindows {
		d.HitWindows = append(d.HitWindows, report.HitWindow{Step: w.Step, Lookups: w.Lookups, Hits: w.Hits})
	}
	if rv := s.ResetVisits; rv != nil {
		d.ResetVisits = &report.ResetVisits{Visits: rv.Visits, Hits: rv.Hits, Overrides: rv.Overrides, Bonuses: rv.Bonuses}
	}
	return d
}

// report writes results.md/csv, the plots and report.html.
func (c *Config) report(runs []report.Run, wall time.Duration) (*Result, error) {
	baseline := ""
	for _, r := range runs {
		if r.Variant == string(ultra.PPO) {
			baseline = string(ultra.PPO)
		}
	}
	rows, err := report.Summarize(runs, baseline, 1)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("ULTRA on %s: refinement from one sub-optimal agent", c.Env)
	ours := markOurs(rows)
	notes := []string{
		fmt.Sprintf("Sub-optimal agent: %s; %d collected episodes annotated by the %s advisor.", c.describeStart(), c.CollectEpisodes, c.Advisor.Name),
		fmt.Sprintf("Each variant × seed (1..%d) refines for %d env steps; each final policy is evaluated on %d episodes (mean action, eval seed %d); a seed's value is its mean evaluation return.", c.Seeds, c.RefineSteps, c.EvalEpisodes, c.EvalSeed),
		fmt.Sprintf("Mean ± std over seeds; IQM = interquartile mean with a 95%% stratified-bootstrap interval (%d resamples of the seeds). Each variant is compared with ppo by Welch's t-test and the Mann–Whitney U test, p-values Holm-adjusted across the table's variants (in brackets); bold = both adjusted p < %.2f. P(better) = probability that a seed of the variant beats a seed of ppo. With fewer than %d seeds nothing is compared: %s.",
			report.Resamples, report.Alpha, report.MinSeedsToCompare, report.TooFewText),
		fmt.Sprintf("Advisor: %s.", advisorNote(c.Advisor)),
		"Table hits / lookups, overrides, bonuses and resets are per seed, from each run's modulator.json: how often the critical-state table matched the live state, and what the matches did.",
		settingsNote(c.Settings, ranVariants(runs), runs) + " " + wallNote(wall) + ".",
	}
	if restarted := restartedVariants(runs); restarted != "" {
		notes = append(notes, "Training curves of "+restarted+" include episodes restarted at critical states, so they read lower than the others; the evaluation above starts every policy alike.")
	}
	if ours != "" {
		notes = append(notes, ours)
	}
	if c.Note != "" {
		notes = append([]string{"How the settings were chosen: " + c.Note}, notes...)
	}
	if c.plannedSeeds > 0 && c.Seeds > c.plannedSeeds {
		notes = append(notes, fmt.Sprintf("Seeds 1..%d were fixed when this directory was created; seeds %d..%d were added later. Read comparisons with that in mind: adding seeds until a result looks good invalidates the tests.",
			c.plannedSeeds, c.plannedSeeds+1, c.Seeds))
	}
	var quality strings.Builder
	notes = append(notes, adviceQuality(&quality, c.Out, c.Verified)...)
	var md, csvb strings.Builder
	if err := report.WriteMarkdown(&md, title, rows, notes); err != nil {
		return nil, err
	}
	md.WriteString(quality.String())
	if err := placeboTable(&md, runs); err != nil {
		return nil, err
	}
	if err := report.WriteCSV(&csvb, rows); err != nil {
		return nil, err
	}
	// The table stands on the evaluations; the curves need finished
	// training episodes, which a short refinement of long episodes may not
	// have. A curve that cannot be drawn costs the plot, not the report.
	res := &Result{Markdown: md.String(), Report: filepath.Join(c.Out, "report.html")}
	// The evaluation the table is computed from first, then the training
	// curves; each once, as SVG, inlined into the page.
	epng, esvg := filepath.Join(c.Out, "eval.png"), filepath.Join(c.Out, "eval.svg")
	if err := report.PlotEval(rows, c.Env+": final evaluation of each seed", epng, esvg); err != nil {
		return nil, err
	}
	res.Plots = []string{epng, esvg}
	figures := []report.Figure{{Caption: evalCaption(rows), Path: esvg}}
	png, svg := filepath.Join(c.Out, "curves.png"), filepath.Join(c.Out, "curves.svg")
	if res.PlotErr = report.PlotCurves(runs, c.Env+": training", png, svg); res.PlotErr != nil {
		c.Logger.Warn("no learning-curve plot", "err", res.PlotErr, "fix", "refine for more steps, so every run finishes training episodes")
	} else {
		res.Plots = append(res.Plots, png, svg)
		figures = append(figures, report.Figure{Caption: "Training return of each variant: mean over seeds, band from the lowest to the highest seed.", Path: svg})
	}
	sections, seeNotes := c.seeing(runs)
	var html strings.Builder
	if err := report.WriteHTMLSections(&html, title, rows, append(notes, seeNotes...), figures, sections); err != nil {
		return nil, err
	}
	// Written together once everything is computed: a report that fails
	// leaves the previous table, page and figures as they were.
	for name, content := range map[string]string{"results.md": md.String(), "results.csv": csvb.String(), "report.html": html.String()} {
		if err := atomicfile.Write(filepath.Join(c.Out, name), []byte(content)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ranVariants are the variants with runs in the report, in their order:
// what the notes may describe.
func ranVariants(runs []report.Run) []ultra.Variant {
	var vs []ultra.Variant
	seen := map[string]bool{}
	for _, r := range runs {
		if !seen[r.Variant] {
			seen[r.Variant] = true
			vs = append(vs, ultra.Variant(r.Variant))
		}
	}
	return vs
}

// restartedVariants names the reported variants whose training restarts
// episodes at critical states ("" when none ran).
func restartedVariants(runs []report.Run) string {
	var names []string
	for _, v := range ranVariants(runs) {
		if v.Behaviour().Resets {
			names = append(names, string(v))
		}
	}
	return strings.Join(names, ", ")
}

// evalCaption describes the evaluation plot as report.PlotEval draws it
// for rows: intervals only where there are enough seeds, and a shaded
// band for each of ppo and the placebo that has one.
func evalCaption(rows []report.Row) string {
	caption := "Each seed's final evaluation (points), each variant's IQM (bar)"
	var bands []string
	intervals := false
	for _, r := range rows {
		if math.IsNaN(r.IQMLow) {
			continue
		}
		intervals = true
		if !report.Banded(r) {
			continue
		}
		switch ultra.Variant(r.Variant) {
		case ultra.PPO:
			bands = append(bands, "ppo's")
		case ultra.Placebo:
			bands = append(bands, "the placebo's")
		}
	}
	if intervals {
		caption += " with its 95% interval"
	} else {
		caption += fmt.Sprintf("; no intervals with fewer than %d seeds", report.MinSeedsToCompare)
	}
	switch len(bands) {
	case 1:
		caption += "; the shaded band is " + bands[0] + " interval"
	case 2:
		caption += "; the shaded bands are " + bands[0] + " and " + bands[1] + " intervals"
	}
	return caption + "."
}

func (c *Config) describeStart() string {
	if c.Checkpoint != "" {
		return "checkpoint " + c.Checkpoint
	}
	return fmt.Sprintf("PPO for %d steps (seed %d)", c.PretrainSteps, c.PretrainSeed)
}

// placeboTable writes, under the results table, every variant compared
// with the placebo instead of ppo (Holm across that table's rows): a
// variant that helps must beat both. Nothing is written without a placebo.
func placeboTable(w io.Writer, runs []report.Run) error {
	has := false
	for _, r := range runs {
		has = has || r.Variant == string(ultra.Placebo)
	}
	if !has {
		return nil
	}
	rows, err := report.Summarize(runs, string(ultra.Placebo), 1)
	if err != nil {
		return err
	}
	markOurs(rows)
	fmt.Fprintln(w)
	return report.WriteMarkdownTable(w, "Compared with the placebo", rows, []string{
		"The same runs, each variant compared with the placebo (ultra-r at alpha 1e-6: the whole machinery, a bonus too small to matter) instead of ppo; p-values Holm-adjusted across this table's rows; bold = both adjusted p < 0.05. A variant that helps beats both ppo and the placebo."})
}

// markOurs marks the rows of this project's variants (Behaviour.Ours) and
// returns the note that says what the mark means ("" when no row has it).
func markOurs(rows []report.Row) string {
	var names []string
	for i := range rows {
		if ultra.Variant(rows[i].Variant).Behaviour().Ours {
			rows[i].Mark = "†"
			names = append(names, rows[i].Variant)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "† " + strings.Join(names, ", ") + ": this project's additions (controls and extensions), not the paper's method."
}

// overrideNote describes the override schedule.
func overrideNote(t ultra.Settings) string {
	if t.AnnealSteps == 0 {
		return fmt.Sprintf("%.2f (constant)", t.OverrideProb)
	}
	return fmt.Sprintf("%.2f → %.2f over %d steps", t.OverrideProb, t.OverrideEnd, t.AnnealSteps)
}

// settingsNote states the knobs the variants read (ultra.Settings), one
// clause per knob a variant in vs uses.
func settingsNote(t ultra.Settings, vs []ultra.Variant, runs []report.Run) string {
	var bonus, overrides, resets, imitates, rewards bool
	for _, v := range vs {
		b := v.Behaviour()
		bonus = bonus || b.Rewards || b.Novelty != ultra.NoNovelty
		rewards = rewards || b.Rewards
		overrides = overrides || b.Overrides
		resets = resets || b.Resets
		imitates = imitates || b.Imitates
	}
	parts := []string{"radius " + radiusNote(t, runs)}
	if bonus {
		alpha := fmt.Sprintf("alpha %.3g", t.Alpha)
		if slices.Contains(vs, ultra.Placebo) {
			alpha += fmt.Sprintf(" (placebo %.0e)", ultra.PlaceboAlpha)
		}
		parts = append(parts, alpha)
	}
	if rewards {
		on := "the executed action (within " + strconv.FormatFloat(t.ActionTolerance, 'g', -1, 64) + " of the action range of the judged one)"
		if t.RewardOn == ultra.RewardOnState {
			on = "the state, whatever action is executed"
		}
		parts = append(parts, "the implicit reward judges "+on)
	}
	if overrides {
		parts = append(parts, "override probability "+overrideNote(t))
	}
	if resets {
		parts = append(parts, fmt.Sprintf("reset probability %.2f", t.ResetProb))
	}
	if imitates {
		parts = append(parts, fmt.Sprintf("imitation weight β %.3g over the annotated states", t.Imitation))
	}
	if t.RecalibrateEvery > 0 {
		parts = append(parts, fmt.Sprintf("the radius refitted to the target every %d iterations on the run's own states", t.RecalibrateEvery))
	}
	return strings.Join(parts, "; ") + "."
}

// wallNote states the wall time, or that the units ran as separate
// processes (sweep report).
func wallNote(wall time.Duration) string {
	if wall <= 0 {
		return "Wall time not measured (the units ran as separate processes)"
	}
	return "Wall time of this invocation " + wall.Round(time.Second).String() + " (finished stages and runs are not rerun)"
}

// advisorNote names the advisor behind a table, saying plainly when it is
// not an LLM.
func advisorNote(a AdvisorConfig) string {
	switch a.Name {
	case "scripted":
		return "scripted (a rule-based expert from the task's physics — not an LLM; it runs the pipeline offline and does not stand in for an LLM's judgement)"
	case "llm":
		return "llm, model " + a.LLM.Model
	case expert.Name:
		return "expert (the policy of checkpoint " + a.Expert + ": a stronger PPO agent of the same task, not an LLM; it bounds what advice can do through this mechanism at this dose and budget)"
	}
	return a.Name
}

func radiusNote(t ultra.Settings, runs []report.Run) string {
	r, q := t.Radius, t.RadiusQuantile
	space := fmt.Sprintf(" in match space %s", t.MatchSpace)
	if r > 0 {
		return fmt.Sprintf("%.3g%s", r, space)
	}
	if t.TargetHitRate > 0 {
		var cal []float64
		for _, run := range runs {
			if run.Dose != nil && run.Dose.Calibrated {
				cal = append(cal, run.Dose.CalibratedHitRate)
			}
		}
		measured := ""
		if len(cal) > 0 {
			measured = fmt.Sprintf(", %.3f%% of it matched at the calibrated radius (mean over the runs)", 100*meanOf(cal))
		}
		return fmt.Sprintf("calibrated per variant to a target hit rate of %s on a %d-step rollout of the checkpoint (seed pretraining seed + %d)%s%s",
			DosePercent(t.TargetHitRate), DefaultCalibrationSteps, calibrationSeedOffset, measured, space)
	}
	for _, run := range runs {
		if run.Dose != nil && run.Dose.Radius > 0 {
			return fmt.Sprintf("%.3g (the %.2f-quantile of cross-episode nearest-neighbour distances in a sample drawn with the pretraining seed, the same for every run)%s", run.Dose.Radius, q, space)
		}
	}
	return fmt.Sprintf("the %.2f-quantile of cross-episode nearest-neighbour distances%s", q, space)
}

// roundTo rounds x to digits decimals for log lines.
func roundTo(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
