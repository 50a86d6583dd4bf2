package experiment

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// IsTrainRun reports whether dir is a plain run directory (ultra train or
// ultra refine output: config.yaml and metrics.jsonl) rather than an
// experiment.
func IsTrainRun(dir string) bool {
	for _, f := range []string{run.ConfigFile, run.MetricsJSONL} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	_, err := os.Stat(filepath.Join(dir, "experiment.json"))
	return os.IsNotExist(err)
}

// LoadTrainRun reads a run directory's configuration and training curve
// (return_last10 against global_step); a curve without a finished episode
// is an error.
func LoadTrainRun(dir string) (ppo.Config, []report.Point, error) {
	var cfg ppo.Config
	b, err := os.ReadFile(filepath.Join(dir, run.ConfigFile))
	if err != nil {
		return cfg, nil, fmt.Errorf("%s is not an ultra train or refine directory: %w", dir, err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return cfg, nil, fmt.Errorf("%s: %w", filepath.Join(dir, run.ConfigFile), err)
	}
	curve, err := report.LoadCurve(filepath.Join(dir, run.MetricsJSONL))
	if err != nil {
		return cfg, nil, err
	}
	if len(curve) == 0 {
		return cfg, nil, fmt.Errorf("%s has no finished episode yet", filepath.Join(dir, run.MetricsJSONL))
	}
	return cfg, curve, nil
}

// CompareConfig names the run directories to draw together.
type CompareConfig struct {
	Dirs  []string // run directories (IsTrainRun)
	Out   string   // where curves.{png,svg} and runs.md go
	Title string
}

// CompareResult is what CompareRuns wrote.
type CompareResult struct {
	Markdown string
	Files    []string
}

// CompareRuns draws the training curves of plain run directories together
// (the mean return of the last 10 episodes against env steps, one line per
// run, named by its directory) and tabulates each run's env, seed, steps
// and final and best returns: what people open TensorBoard for. It makes no
// statistical comparison: runs of one seed each are not samples of a
// variant (an experiment is for that).
func CompareRuns(c CompareConfig) (*CompareResult, error) {
	if len(c.Dirs) == 0 {
		return nil, fmt.Errorf("report: name the run directories to compare")
	}
	names := map[string]string{}
	var runs []report.Run
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n| run | env | seed | env steps | final return (last 10) | best return (last 10) |\n|---|---|---:|---:|---:|---:|\n", c.Title)
	for _, dir := range c.Dirs {
		if !IsTrainRun(dir) {
			return nil, fmt.Errorf("report: %s is not a run directory (no %s and %s, or it holds an experiment): give ultra train or refine output directories, or experiment directories alone", dir, run.ConfigFile, run.MetricsJSONL)
		}
		name := filepath.Base(filepath.Clean(dir))
		if other, dup := names[name]; dup {
			return nil, fmt.Errorf("report: %s and %s have the same name %q: the legend could not tell them apart; rename one or copy it", other, dir, name)
		}
		names[name] = dir
		cfg, curve, err := LoadTrainRun(dir)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		best := math.Inf(-1)
		for _, p := range curve {
			best = math.Max(best, p.Return)
		}
		last := curve[len(curve)-1]
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2f | %.2f |\n", name, cfg.Env, cfg.Seed, last.Step, last.Return, best)
		runs = append(runs, report.Run{Variant: name, Seed: cfg.Seed, Curve: curve})
	}
	b.WriteString("\n- One line per run: the mean return of its last 10 training episodes against env steps (metrics.jsonl). Runs of one seed each are not compared statistically; `ultra experiment` runs variants over seeds for that.\n")
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	png, svg := filepath.Join(c.Out, "curves.png"), filepath.Join(c.Out, "curves.svg")
	if err := report.PlotCurves(runs, c.Title, png, svg); err != nil {
		return nil, err
	}
	md := filepath.Join(c.Out, "runs.md")
	text := b.String() + "\n![training curves](curves.png)\n"
	if err := atomicfile.Write(md, []byte(text)); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return &CompareResult{Markdown: b.String(), Files: []string{md, png, svg}}, nil
}
