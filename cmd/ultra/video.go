package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ultra-rl/ultra/engine/experiment"
	"github.com/ultra-rl/ultra/engine/video"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

func cmdVideo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("video", stderr)
	ckPath := fs.String("checkpoint", "", "record the policy of this checkpoint (a run's checkpoint.bin)")
	envID := fs.String("env", "", "task id (default: the checkpoint's); required without --checkpoint")
	policy := fs.String("policy", "random", "without --checkpoint: baseline policy zero or random")
	mode := fs.String("mode", "deterministic", "with --checkpoint: deterministic (mean action) or stochastic (sampled)")
	episodes := fs.Int("episodes", 1, "episodes to record, one after another, ≥ 1")
	seed := fs.Uint64("seed", 1, "seed for the environment and the policy (the episodes of 'ultra eval --envs 1' with this seed)")
	width := fs.Int("width", 0, "frame width in pixels (0: the task's default, 480)")
	height := fs.Int("height", 0, "frame height in pixels (0: the task's default: 480 for MuJoCo tasks, 630 for Pong)")
	every := fs.Int("every", 0, "draw one step in N (0: automatic, at most 50 frames a second of game time)")
	maxSteps := fs.Int("max-steps", 0, "draw at most this many steps of each episode (0: whole episodes)")
	overlay := fs.Bool("overlay", true, "write the episode, step, reward and return so far on each frame")
	noise := fs.Float64("reset-noise", -1, "reset-noise scale (≥ 0); default: the task's own")
	out := fs.String("out", "", "the video: NAME.mp4 (through ffmpeg; a GIF beside it when ffmpeg is missing) or NAME.gif; required")
	force := fs.Bool("force", false, "replace --out if it exists")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("video: --out is required (e.g. --out clip.mp4 or --out clip.gif)")
	}
	ck, spec, err := policyAndSpec("video", *ckPath, *envID,
		fmt.Errorf("video: give --checkpoint, or --env with --policy zero|random: valid envs are %v", registry().IDs()))
	if err != nil {
		return err
	}
	det, ok := map[string]bool{"deterministic": true, "stochastic": false}[*mode]
	if !ok {
		return fmt.Errorf("video: --mode must be deterministic or stochastic, got %q", *mode)
	}
	envOpts, err := resetNoiseOption("video", fs, *noise)
	if err != nil {
		return err
	}
	o := video.Options{Episodes: *episodes, Seed: *seed, Width: *width, Height: *height,
		Every: *every, MaxSteps: *maxSteps, Overlay: *overlay, Env: envOpts}
	path, format, note, err := video.Target(*out)
	if err != nil {
		return err
	}
	if err := atomicfile.CheckOutput(path, *force, *ckPath); err != nil {
		return fmt.Errorf("video: %w", err)
	}
	policies, closePolicies, err := experiment.OpenPolicies(ck, *policy, []bool{det}, spec, *seed)
	defer closePolicies()
	if err != nil && ck == nil {
		return fmt.Errorf("video: --policy: %w (or give --checkpoint)", err)
	} else if err != nil {
		return fmt.Errorf("video: %w", err)
	}
	if note != "" {
		fmt.Fprintln(stderr, "video:", note)
	}
	res, err := video.Record(spec, policies[0].Policy, path, format, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"env": spec.ID, "policy": policies[0].Name, "seed": *seed, "video": res})
	}
	returns := make([]string, len(res.Episodes))
	for i, e := range res.Episodes {
		returns[i] = fmt.Sprintf("%.1f (%d steps)", e.Return, e.Length)
	}
	stride := "every step"
	if res.Every > 1 {
		stride = fmt.Sprintf("one step in %d", res.Every)
	}
	drawn := ""
	if res.Renderer != "" {
		drawn = "; drawn by " + res.Renderer
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s policy, %d episode(s), returns %s; %d frames of %d×%d at %.3g frames/s (%s, real time)%s\n",
		res.Path, spec.ID, policies[0].Name, len(res.Episodes), strings.Join(returns, ", "), res.Frames, res.Width, res.Height, res.FPS, stride, drawn)
	return nil
}
