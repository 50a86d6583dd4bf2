// Command sweep compares refinement variants taken from several experiment
// directories of one task — a setting swept across directories (the
// imitation weight β, the override schedule, a recalibrated radius) — with
// the statistics of ultra's experiment tables (engine/report): mean ± std,
// IQM with a stratified-bootstrap interval, Welch's t and Mann–Whitney U,
// Holm-adjusted across the sweep's rows, nothing compared below 5 seeds.
//
//	go run ./bench/sweep -out DIR [-title T] [-note TEXT ...] NAME=EXPDIR:VARIANT ...
//
// Each group is one variant of one experiment directory: its seeds' final
// evaluations (refine/VARIANT-sSEED/eval.json, seeds 1..N of the
// directory's experiment.json) and what its table did (modulator.json). Groups named ppo and placebo are the
// references: the sweep is compared with each (two tables, Holm within
// each), and the figure (sweep.png, sweep.svg: every seed, each group's
// IQM with its interval, the references as bands) draws them as bands.
// Each -note is printed under both tables (how a setting was chosen, which
// rows were added after which result was read). It writes DIR/sweep.md
// and prints it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/report"
)

func main() {
	if err := sweep(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(2)
	}
}

func sweep(args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	out := fs.String("out", "", "directory for sweep.md, sweep.png and sweep.svg (required)")
	title := fs.String("title", "sweep", "the figure's and the tables' title")
	var notes []string
	fs.Func("note", "a line printed under both tables (repeatable)", func(s string) error {
		notes = append(notes, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() < 2 {
		return fmt.Errorf("want -out DIR and two or more NAME=EXPDIR:VARIANT groups, e.g. ppo=runs/ceiling/hopper-expert:ppo 'β=10'=runs/sweep/beta10:ultra-i")
	}
	var runs []report.Run
	names := map[string]bool{}
	for _, g := range fs.Args() {
		// The last "=" ends the name, which may hold one ("ultra-i β=10").
		i := strings.LastIndex(g, "=")
		name, src, ok := g[:max(i, 0)], g[i+1:], i > 0
		dir, variant, ok2 := strings.Cut(src, ":")
		if !ok || !ok2 || name == "" || dir == "" || variant == "" {
			return fmt.Errorf("group %q: want NAME=EXPDIR:VARIANT", g)
		}
		if names[name] {
			return fmt.Errorf("group %s is named twice", name)
		}
		names[name] = true
		rs, err := load(dir, variant, name)
		if err != nil {
			return fmt.Errorf("group %s: %w", name, err)
		}
		runs = append(runs, rs...)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "## %s\n\n", *title)
	for _, base := range []string{"ppo", "placebo"} {
		if !names[base] {
			continue
		}
		rows, err := report.Summarize(runs, base, 1)
		if err != nil {
			return err
		}
		if err := report.WriteMarkdownTable(&md, "compared with "+base, rows,
			append([]string{"p-values Holm-adjusted across this table's rows; bold = both adjusted p < 0.05."}, notes...)); err != nil {
			return err
		}
		md.WriteString("\n")
	}
	rows, err := report.Summarize(runs, "", 1)
	if err != nil {
		return err
	}
	md.WriteString("Per-seed mean evaluation return, in seed order:\n\n")
	for _, r := range rows {
		vals := make([]string, len(r.PerSeed))
		for i, x := range r.PerSeed {
			vals[i] = fmt.Sprintf("%.1f", x)
		}
		fmt.Fprintf(&md, "- %s: %s\n", r.Variant, strings.Join(vals, ", "))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := report.PlotEval(rows, *title, filepath.Join(*out, "sweep.png"), filepath.Join(*out, "sweep.svg")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "sweep.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	return nil
}

// load reads the final evaluations of variant's seeds in the experiment
// directory dir, as runs of the group name.
func load(dir, variant, name string) ([]report.Run, error) {
	var exp struct {
		Seeds int `json:"seeds"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "experiment.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &exp); err != nil || exp.Seeds < 1 {
		return nil, fmt.Errorf("%s/experiment.json names no seeds (%v)", dir, err)
	}
	var runs []report.Run
	for s := 1; s <= exp.Seeds; s++ {
		path := filepath.Join(dir, "refine", fmt.Sprintf("%s-s%d", variant, s), "eval.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("seed %d of %d has not finished (%v)", s, exp.Seeds, err)
		}
		var ev struct {
			Returns []float64 `json:"returns"`
		}
		if err := json.Unmarshal(b, &ev); err != nil || len(ev.Returns) == 0 {
			return nil, fmt.Errorf("%s holds no returns (%v)", path, err)
		}
		runs = append(runs, report.Run{Variant: name, Seed: uint64(s), Eval: ev.Returns, Dose: experiment.LoadDose(filepath.Dir(path))})
	}
	return runs, nil
}
