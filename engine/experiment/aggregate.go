package experiment

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// AggregateConfig says which experiments to aggregate across tasks and
// where to write the result.
type AggregateConfig struct {
	// Dirs are experiment directories, one per task, or published copies
	// of them: each needs experiment.json and results.csv.
	Dirs []string
	// Out receives aggregate.{png,svg,md,csv,html} and profile.{png,svg}.
	Out string
	// RandomEpisodes is how many episodes score the random policy of each
	// task (from the experiment's evaluation seed).
	RandomEpisodes int
	// Title heads the page and the Markdown.
	Title    string
	Registry *env.Registry
	Logger   *slog.Logger
}

// DefaultRandomEpisodes scores the random policy on as many episodes as a
// 10-seed × 10-episode variant is evaluated on.
const DefaultRandomEpisodes = 100

// AggregateResult is what Aggregate wrote.
type AggregateResult struct {
	Aggregate *report.Aggregate
	Files     []string
	Markdown  string
}

// Aggregate reads each directory's settings and per-seed results, scores
// a uniformly random policy on its task (the experiment's evaluation seed,
// RandomEpisodes episodes, one environment, as the experiment evaluates),
// normalises every run by its task's random and ppo scores and writes the
// cross-task table, the estimates figure and the performance profile.
func Aggregate(c AggregateConfig) (*AggregateResult, error) {
	if len(c.Dirs) == 0 {
		return nil, errors.New("report: no experiment directories given: name one directory per task (each with experiment.json and results.csv)")
	}
	if c.RandomEpisodes < 1 {
		return nil, fmt.Errorf("report: random-policy episodes must be ≥ 1, got %d", c.RandomEpisodes)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var tasks []report.TaskScores
	var notes []string
	seen := map[string]string{}
	for _, dir := range c.Dirs {
		s, err := readSettings(dir, c.Registry)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.Env]; dup {
			return nil, fmt.Errorf("report: %s and %s are both %s experiments: name one directory per task", prev, dir, s.Env)
		}
		seen[s.Env] = dir
		f, err := os.Open(filepath.Join(dir, "results.csv"))
		if err != nil {
			return nil, fmt.Errorf("report: %w (run ultra experiment into %s first)", err, dir)
		}
		variants, scores, err := report.ReadPerSeed(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", filepath.Join(dir, "results.csv"), err)
		}
		spec, err := c.Registry.Lookup(s.Env)
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", dir, err)
		}
		t0 := time.Now()
		random, err := randomScore(spec, c.RandomEpisodes, s.EvalSeed)
		if err != nil {
			return nil, fmt.Errorf("report: scoring the random policy on %s: %w", s.Env, err)
		}
		c.Logger.Info("random policy scored", "task", s.Env, "episodes", c.RandomEpisodes, "mean_return", roundTo(random, 2), "took", time.Since(t0).Round(time.Millisecond))
		tasks = append(tasks, report.TaskScores{Task: s.Env, Random: random, Variants: variants, Scores: scores})
		agent := fmt.Sprintf("pretrain %d", s.PretrainSteps)
		if s.Checkpoint != "" { // the experiment refined a given agent and pretrained nothing
			agent = "agent " + s.Checkpoint
		}
		notes = append(notes, fmt.Sprintf("%s: %s (advisor %s; %d seeds planned; %s, refine %d steps; %d evaluation episodes per seed).",
			s.Env, dir, s.Advisor, s.PlannedSeeds, agent, s.RefineSteps, s.EvalEpisodes))
	}
	a, err := report.NewAggregate(tasks, string(ultra.PPO), 1)
	if err != nil {
		return nil, err
	}
	notes = append([]string{
		fmt.Sprintf("Each run's score (its mean evaluation return) is normalised per task as (score − random) / (ppo mean − random): 0 is a uniformly random policy (%d episodes from the experiment's evaluation seed), 1 is the mean of the ppo continuation's seeds.", c.RandomEpisodes),
		"IQM and mean pool every task's normalised runs; P(improve) is the probability that a run of the variant scores above a ppo run on the same task, averaged over tasks. Intervals are 95% stratified-bootstrap intervals (runs resampled within each task, 10 000 resamples), as rliable computes them.",
		"An interval that contains 1 (IQM, mean) or 0.5 (P(improve)) does not separate the variant from ppo.",
	}, notes...)
	for _, v := range a.Left {
		notes = append(notes, fmt.Sprintf("%s is left out: not every task has it.", v))
	}
	var few []string
	for _, r := range a.Rows {
		if r.TooFew {
			few = append(few, r.Variant)
		}
	}
	if len(few) > 0 {
		notes = append(notes, fmt.Sprintf("%s: fewer than %d seeds on some task (of the variant or of ppo), so no intervals and no P(improve) (%s), as ultra experiment compares nothing below %d seeds.",
			strings.Join(few, ", "), report.MinSeedsToCompare, report.TooFewText, report.MinSeedsToCompare))
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	res := &AggregateResult{Aggregate: a}
	path := func(name string) string {
		p := filepath.Join(c.Out, name)
		res.Files = append(res.Files, p)
		return p
	}
	apng, asvg := path("aggregate.png"), path("aggregate.svg")
	if err := report.PlotAggregate(a, apng, asvg); err != nil {
		return nil, err
	}
	ppng, psvg := path("profile.png"), path("profile.svg")
	if err := report.PlotProfile(a.PerformanceProfile(200), variantOrder(a), "performance profile over "+strings.Join(a.Tasks, ", "), ppng, psvg); err != nil {
		return nil, err
	}
	var md, csvb strings.Builder
	if err := report.WriteAggregateMarkdown(&md, c.Title, a, notes); err != nil {
		return nil, err
	}
	if err := report.WriteAggregateCSV(&csvb, a); err != nil {
		return nil, err
	}
	var page strings.Builder
	figs := []report.Figure{
		{Caption: "IQM and mean of the normalised scores and the probability of improvement over ppo, with 95% stratified-bootstrap intervals.", Path: asvg},
		{Caption: "Performance profile: the fraction of runs (tasks weighted equally) whose normalised score exceeds τ.", Path: psvg},
	}
	if err := report.WriteAggregateHTML(&page, c.Title, a, notes, figs); err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, text string }{{"aggregate.md", md.String()}, {"aggregate.csv", csvb.String()}, {"aggregate.html", page.String()}} {
		if err := atomicfile.Write(path(f.name), []byte(f.text)); err != nil {
			return nil, err
		}
	}
	res.Markdown = md.String()
	return res, nil
}

// readSettings reads an experiment directory's experiment.json (reg
// resolves the tasks of records made before ultra.Settings).
func readSettings(dir string, reg *env.Registry) (settings, error) {
	s, ok, err := loadSettings(dir, reg)
	if err != nil {
		return s, fmt.Errorf("report: %w", err)
	}
	if !ok {
		return s, fmt.Errorf("report: %s has no %s (is %s an experiment directory?)", dir, settingsFile, dir)
	}
	if s.Env == "" || s.EvalEpisodes < 1 {
		return s, fmt.Errorf("report: %s names no env or evaluation episodes", filepath.Join(dir, settingsFile))
	}
	if s.PlannedSeeds == 0 {
		s.PlannedSeeds = s.Seeds
	}
	return s, nil
}

// randomScore is the mean return of a uniformly random policy over
// episodes episodes from seed.
func randomScore(spec env.Spec, episodes int, seed uint64) (float64, error) {
	p, err := eval.Baseline("random", spec.Action, seed)
	if err != nil {
		return 0, err
	}
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		return 0, err
	}
	defer v.Close()
	eps, err := eval.Run(v, p, episodes, seed)
	if err != nil {
		return 0, err
	}
	return eval.Summarize(eps).MeanReturn, nil
}

func variantOrder(a *report.Aggregate) []string {
	out := make([]string, len(a.Rows))
	for i, r := range a.Rows {
		out[i] = r.Variant
	}
	return out
}
