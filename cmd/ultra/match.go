package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// cmdMatch measures the match spaces on a checkpoint and its annotations:
// hit rate and precision, before and after calibrating the radius.
func cmdMatch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("match", stderr)
	mc := experiment.MatchConfig{Registry: registry()}
	fs.StringVar(&mc.Checkpoint, "checkpoint", "", "the checkpoint refinement would start from (required)")
	fs.StringVar(&mc.Annotations, "annotations", "", "its critical states, JSONL (required)")
	fs.StringVar(&mc.Trajectories, "traj", "", "the trajectories the annotations came from, JSONL (required)")
	fs.IntVar(&mc.Steps, "steps", experiment.DefaultCalibrationSteps, "steps of the calibration rollout and of the held-out rollout")
	fs.IntVar(&mc.K, "k", 20, "a hit is precise when its state is at most k steps before a failure of its episode")
	fs.Float64Var(&mc.RadiusQuantile, "radius-quantile", ultra.DefaultRadiusQuantile, "quantile of the uncalibrated radius (the default before calibration)")
	targets := fs.String("target-hit-rate", "0.5%,1%,2%,5%", "comma-separated target hit rates to calibrate to")
	out := fs.String("out", "", "also write the table to this Markdown file")
	force := fs.Bool("force", false, "replace --out if it exists")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out != "" {
		if err := atomicfile.CheckOutput(*out, *force, mc.Annotations, mc.Trajectories, mc.Checkpoint); err != nil {
			return fmt.Errorf("match: %w", err)
		}
	}
	for _, s := range strings.Split(*targets, ",") {
		v, err := experiment.ParseShare(s)
		if err != nil {
			return fmt.Errorf("match: --target-hit-rate: %w", err)
		}
		mc.Targets = append(mc.Targets, v)
	}
	res, err := experiment.MeasureMatching(mc)
	if err != nil {
		return err
	}
	var b strings.Builder
	res.WriteMarkdown(&b, mc.RadiusQuantile)
	fmt.Fprint(stdout, b.String())
	if *out != "" {
		return atomicfile.Write(*out, []byte(b.String()))
	}
	return nil
}
