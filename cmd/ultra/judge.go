package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ultra-rl/ultra/engine/judge"
	"github.com/ultra-rl/ultra/internal/atomicfile"
	"github.com/ultra-rl/ultra/internal/interrupt"
)

// cmdJudge judges annotations in the simulator (engine/judge) and writes
// judge.json and judge.md.
func cmdJudge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("judge", stderr)
	cfg := judge.DefaultConfig()
	in := judge.Inputs{Registry: registry()}
	fs.StringVar(&in.Checkpoint, "checkpoint", "", "the agent whose policy follows the judged action (required)")
	anns := fs.String("annotations", "", "annotations JSONL, or several separated by commas (one advisor each, or mixed); each needs simulator snapshots (required)")
	fs.StringVar(&in.Trajectories, "traj", "", "the trajectories the annotations came from: their fingerprint is checked, and snapshots and taken actions missing from annotations are taken from them")
	fs.IntVar(&cfg.Horizon, "horizon", cfg.Horizon, "most steps each arm runs after the annotated state (fewer where the episode's time limit comes first)")
	fs.IntVar(&cfg.Rollouts, "rollouts", cfg.Rollouts, "rollouts of each arm per annotation (≥ 2 for an interval per annotation)")
	fs.IntVar(&cfg.Follow, "follow", cfg.Follow, "steps the suggested action is held before the agent's policy takes over")
	fs.IntVar(&cfg.Jobs, "jobs", 0, "worker goroutines, each with its own env instance (0: every core); results do not depend on it")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the common random numbers and the bootstrap")
	out := fs.String("out", "", "directory for judge.json, judge.md, the figure judge.png/svg and each advisor's verified annotations verified-ADVISOR.jsonl (required)")
	force := fs.Bool("force", false, "replace the files of an earlier judgement in --out")
	progress := fs.String("progress", "auto", "progress display: bar, log (none) or auto (bar on a terminal)")
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, p := range strings.Split(*anns, ",") {
		if p = strings.TrimSpace(p); p != "" {
			in.Annotations = append(in.Annotations, p)
		}
	}
	bar, err := checkJudgeFlags(in, cfg, *out, *force, *progress, stderr)
	if err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	bw := &barWriter{w: stderr}
	if bar {
		start := time.Now()
		cfg.Progress = func(done, total int) {
			bw.draw(func(w io.Writer) { drawCount(w, done, total, "annotations", start) })
		}
	}
	ctx, stop := interrupt.Context(stderr)
	defer stop()
	res, judged, err := judge.Run(ctx, in, cfg)
	bw.end()
	if err != nil {
		return err
	}
	verified, plotErr, err := res.Write(*out, judged)
	if err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	if plotErr != nil {
		fmt.Fprintf(stderr, "ultra: judge: no figure: %v\n", plotErr)
	}
	fmt.Fprintf(stdout, "judged %d %s annotations (%d rollouts of each arm to %d steps, suggestion held %d step(s)) in %s, %d env steps:\n\n",
		len(res.Verdicts), res.Env, res.Rollouts, res.Horizon, res.Follow, time.Duration(res.WallSeconds*float64(time.Second)).Round(100*time.Millisecond), res.EnvSteps)
	if err := res.WriteSummary(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nverified advice (%s), for ultra refine --annotations:\n", judge.VerifiedThreshold)
	for _, s := range res.Advisors {
		fmt.Fprintf(stdout, "  %s: %d of %d kept in %s\n", s.Advisor, len(verified[s.Advisor]), s.Annotations, filepath.Join(*out, judge.VerifiedFile(s.Advisor)))
	}
	fig := ""
	if res.Figure != "" {
		fig = " and the figure " + filepath.Join(*out, judge.PNGFile)
	}
	fmt.Fprintf(stdout, "wrote %s, %s%s\n", filepath.Join(*out, judge.MarkdownFile), filepath.Join(*out, judge.JSONFile), fig)
	return nil
}

// checkJudgeFlags checks every flag before anything is loaded, naming
// each problem at once, and says whether to draw a progress bar.
func checkJudgeFlags(in judge.Inputs, cfg judge.Config, out string, force bool, progress string, stderr io.Writer) (bool, error) {
	var errs []error
	if in.Checkpoint == "" {
		errs = append(errs, errors.New("--checkpoint C is required: the agent whose annotations are judged"))
	}
	if len(in.Annotations) == 0 {
		errs = append(errs, errors.New("--annotations A is required: annotations from 'ultra annotate' (of episodes collected with --snapshots)"))
	}
	if out == "" {
		errs = append(errs, errors.New("--out DIR is required"))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	bar, err := progressBar(progress, stderr)
	errs = append(errs, err)
	inputs := append([]string{in.Checkpoint, in.Trajectories}, in.Annotations...)
	for _, p := range inputs {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("input %w", err))
		}
	}
	if out != "" {
		if st, err := os.Stat(out); err == nil && !st.IsDir() {
			errs = append(errs, fmt.Errorf("--out %s is a file: give a directory", out))
		} else if err == nil {
			for _, name := range []string{judge.JSONFile, judge.MarkdownFile} {
				errs = append(errs, atomicfile.CheckOutput(filepath.Join(out, name), force, inputs...))
			}
		}
	}
	return bar, errors.Join(errs...)
}

// drawCount redraws a progress line of done out of total things.
func drawCount(w io.Writer, done, total int, what string, start time.Time) {
	const width = 30
	frac := float64(done) / float64(total)
	filled := int(frac * width)
	el := time.Since(start)
	eta := time.Duration(float64(el) / max(frac, 1e-9) * (1 - frac))
	fmt.Fprintf(w, "\r[%s%s] %5.1f%% %d/%d %s | %s elapsed | ETA %s ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		100*frac, done, total, what, el.Round(time.Second), eta.Round(time.Second))
}
