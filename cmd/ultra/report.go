package main

import (
	"fmt"
	"io"

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
		fmt.Fprintln(stderr, "usage: ultra report [flags] DIR...   (DIR: an experiment directory or a published copy with experiment.json and results.csv, one per task)")
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
