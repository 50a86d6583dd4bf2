// Command seedcompare compares groups of training runs by their final
// training return, with the statistics of ultra's experiment tables
// (engine/report: mean ± std, IQM with a stratified-bootstrap interval,
// Welch's t and Mann–Whitney U against the baseline group, Holm-adjusted
// across the other groups; nothing compared below 5 seeds).
//
//	go run ./bench/seedcompare [-baseline NAME] NAME=GLOB[,GLOB...] ...
//
// Each GLOB names `ultra train` output directories of one group, e.g.
// before='runs/before-after/hopper-before-s*'; a run's seed is read from
// its config.yaml, its value is return_last10 of the last line of its
// metrics.jsonl. The first group is the baseline unless -baseline says
// otherwise. It prints a Markdown table.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/report"
)

func main() {
	if err := compare(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "seedcompare:", err)
		os.Exit(2)
	}
}

func compare(args []string) error {
	fs := flag.NewFlagSet("seedcompare", flag.ContinueOnError)
	baseline := fs.String("baseline", "", "the group the others are compared with (default: the first)")
	title := fs.String("title", "final training return (mean of the last 10 episodes)", "the table's heading")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("want two or more NAME=GLOB groups of run directories, e.g. before='runs/x/hopper-before-s*' after='runs/x/hopper-after-s*'")
	}
	var runs []report.Run
	for i, g := range fs.Args() {
		name, glob, ok := strings.Cut(g, "=")
		if !ok || name == "" || glob == "" {
			return fmt.Errorf("group %q: want NAME=GLOB[,GLOB...]", g)
		}
		if i == 0 && *baseline == "" {
			*baseline = name
		}
		var dirs []string
		for _, pat := range strings.Split(glob, ",") {
			m, err := filepath.Glob(pat)
			if err != nil {
				return fmt.Errorf("group %s: %v", name, err)
			}
			dirs = append(dirs, onlyDirs(m)...)
		}
		if len(dirs) == 0 {
			return fmt.Errorf("group %s: no run directory matches %q", name, glob)
		}
		var group []report.Run
		for _, d := range dirs {
			r, err := loadRun(name, d)
			if err != nil {
				return err
			}
			group = append(group, r)
		}
		sort.Slice(group, func(i, j int) bool { return group[i].Seed < group[j].Seed })
		runs = append(runs, group...)
	}
	rows, err := report.Summarize(runs, *baseline, 1)
	if err != nil {
		return err
	}
	return report.WriteMarkdown(os.Stdout, *title, rows, nil)
}

// onlyDirs drops the glob's matches that are not directories (a run's
// .log and .wall files sit beside its directory).
func onlyDirs(paths []string) []string {
	var out []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// loadRun reads one `ultra train` directory: its seed and its final
// return_last10.
func loadRun(group, dir string) (report.Run, error) {
	cfg, curve, err := experiment.LoadTrainRun(dir)
	if err != nil {
		return report.Run{}, fmt.Errorf("group %s: %w", group, err)
	}
	return report.Run{Variant: group, Seed: cfg.Seed, Curve: curve, Eval: []float64{curve[len(curve)-1].Return}}, nil
}
