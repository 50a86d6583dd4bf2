package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/internal/configflags"
)

// cmdReport aggregates experiment directories (one per task) into one
// cross-task report.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	out := fs.String("out", "runs/aggregate", "directory for aggregate.{png,svg,md,csv,html} and profile.{png,svg}")
	episodes := fs.Int("random-episodes", experiment.DefaultRandomEpisodes, "episodes that score each task's uniformly random policy (the normalisation's 0)")
	output := configflags.DefaultOutput()
	outputFlags := configflags.New(fs, &output, "log-format")
	title := fs.String("title", "ULTRA across tasks: normalised final evaluation", "title of the page and the Markdown")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ultra report [flags] DIR...   (DIR: an experiment directory or a published copy with experiment.json and results.csv, one per task;\n"+
			"       or plain ultra train / refine run directories, whose training curves are drawn together)")
		fs.PrintDefaults()
	}
	dirs, err := parseOperands(fs, args)
	if err != nil {
		return err
	}
	if err := outputFlags.Apply(""); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	logger, err := newLogger(output.LogFormat, stderr)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if len(dirs) == 0 {
		return fmt.Errorf("report: name the experiment directories, one per task, e.g. ultra report docs/results/hopper docs/results/pong")
	}
	if plain := countTrainRuns(dirs); plain == len(dirs) {
		title := *title
		if !givenFlags(fs)["title"] {
			title = "training curves"
		}
		res, err := experiment.CompareRuns(experiment.CompareConfig{Dirs: dirs, Out: *out, Title: title})
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, res.Markdown)
		for _, f := range res.Files {
			fmt.Fprintln(stdout, "wrote", f)
		}
		return nil
	} else if plain > 0 {
		return fmt.Errorf("report: give run directories (ultra train, refine) or experiment directories, not both: %s", describeDirs(dirs))
	}
	res, err := experiment.Aggregate(experiment.AggregateConfig{Dirs: dirs, Out: *out, RandomEpisodes: *episodes, Title: *title,
		Registry: registry(), Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res.Markdown)
	fmt.Fprintln(stdout)
	for _, f := range res.Files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	return nil
}

// countTrainRuns counts the plain run directories among dirs.
func countTrainRuns(dirs []string) int {
	n := 0
	for _, d := range dirs {
		if experiment.IsTrainRun(d) {
			n++
		}
	}
	return n
}

// describeDirs names each directory's kind.
func describeDirs(dirs []string) string {
	parts := make([]string, len(dirs))
	for i, d := range dirs {
		kind := "experiment"
		if experiment.IsTrainRun(d) {
			kind = "run"
		}
		parts[i] = d + " (" + kind + ")"
	}
	return strings.Join(parts, ", ")
}
