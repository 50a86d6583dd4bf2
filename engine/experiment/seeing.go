package experiment

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/gallery"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/report"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/video"
)

// What the report draws: at most GalleryStates critical states per
// advisor, each GallerySize pixels square, and clips of ClipSize pixels
// square showing the first ClipSteps steps of one evaluation episode, one
// step in ClipEvery. The pictures of the states are inlined into
// report.html as data URIs; the clips, a few hundred kilobytes each, are
// GIFs in clips/ beside it, linked relatively.
const (
	GalleryStates = 12
	GallerySize   = 200
	ClipSize      = 160
	ClipSteps     = 200
	ClipEvery     = 4
)

// NoRendererNote is the report's line in a build without the renderer.
const NoRendererNote = "The critical states as pictures and the before-and-after clips need the renderer: build with make build-render (OSMesa: sudo apt-get install libosmesa6-dev) and rerun the same ultra experiment command; finished stages are skipped and only the report is written again."

// seeing returns the report's picture sections: each advisor's critical
// states and the before-and-after clips, or a note saying why there are
// none. What cannot be drawn costs its section and a note, never the
// report.
func (c *Config) seeing(runs []report.Run) (sections []report.Section, notes []string) {
	if c.Registry == nil {
		return nil, nil
	}
	spec, err := c.Registry.Lookup(c.Env)
	if err != nil {
		return nil, nil
	}
	if err := gallery.Check(spec); err != nil {
		if errors.Is(err, env.ErrNotRenderable) {
			return nil, []string{fmt.Sprintf("%s cannot be drawn: the report has no pictures of its states.", spec.ID)}
		}
		return nil, []string{NoRendererNote}
	}
	gs, err := c.gallerySections(spec)
	if err != nil {
		c.Logger.Warn("no pictures of the critical states", "err", err)
		notes = append(notes, "No pictures of the critical states: "+err.Error())
	}
	sections = append(sections, gs...)
	clips, err := c.clipSection(spec, runs)
	if err != nil {
		c.Logger.Warn("no before-and-after clips", "err", err)
		notes = append(notes, "No before-and-after clips: "+err.Error())
	} else if clips != nil {
		sections = append(sections, *clips)
	}
	return sections, notes
}

// gallerySections draws up to GalleryStates of each advisor's annotated
// states (annotate/NAME.jsonl), spread evenly over its annotations.
func (c *Config) gallerySections(spec env.Spec) ([]report.Section, error) {
	paths, err := filepath.Glob(filepath.Join(c.Out, "annotate", "*.jsonl"))
	if err != nil || len(paths) == 0 {
		return nil, err
	}
	trajs, _ := traj.ReadFor(filepath.Join(c.Out, "collect", "episodes.jsonl"), spec)
	var out []report.Section
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".jsonl")
		anns, err := traj.ReadJSONL[advisor.Annotation](p)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if len(anns) == 0 {
			continue
		}
		shown := spread(anns, GalleryStates)
		cards, err := gallery.Draw(spec, shown, trajs, gallery.Options{Width: GallerySize, Height: GallerySize})
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		sec := report.Section{Title: "Critical states: " + name + " advisor",
			Intro: fmt.Sprintf("%d of the %s advisor's %d annotated states, spread evenly over them, each drawn from the simulator state recorded at that step, with the advisor's reason, the action taken and the one suggested, and the implicit rewards (in [−1, 1]). The pictures are inlined in this page (ultra annotate --gallery DIR draws them all as files).",
				len(shown), name, len(anns))}
		for _, cd := range cards {
			suggested := cd.Suggested
			if cd.SuggestedReward != "" {
				suggested += ", reward " + cd.SuggestedReward
			}
			sec.Tiles = append(sec.Tiles, report.Tile{Image: cd.PNG, Mime: "image/png", Alt: fmt.Sprintf("%s step %d", cd.Episode, cd.Step),
				Fields: []report.Field{{Name: "episode", Value: fmt.Sprintf("%s, step %d", cd.Episode, cd.Step)}, {Name: "reason", Value: cd.Reason},
					{Name: "taken", Value: cd.Taken + ", reward " + cd.Reward}, {Name: "suggested", Value: suggested}}})
		}
		out = append(out, sec)
	}
	return out, nil
}

// spread picks at most n of xs, evenly spaced, first and last included.
func spread[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	out := make([]T, n)
	for i := range out {
		out[i] = xs[i*(len(xs)-1)/(n-1)]
	}
	return out
}

// clipRun is one policy the clips show.
type clipRun struct {
	name, label, checkpoint string
}

// clipRuns are the pretrained agent, then the best and the median seed of
// each variant by mean evaluation return (one clip when they are the
// same seed), in the runs' variant order.
func (c *Config) clipRuns(runs []report.Run) []clipRun {
	start := c.Checkpoint
	if start == "" {
		start = filepath.Join(c.Out, "pretrain", run.CheckpointFile)
	}
	out := []clipRun{{name: "pretrained", label: "pretrained agent", checkpoint: start}}
	for _, v := range ranVariants(runs) {
		var seeds []report.Run
		for _, r := range runs {
			if r.Variant == string(v) && len(r.Eval) > 0 {
				seeds = append(seeds, r)
			}
		}
		if len(seeds) == 0 {
			continue
		}
		slices.SortStableFunc(seeds, func(a, b report.Run) int { return cmp.Compare(mean(b.Eval), mean(a.Eval)) })
		best, median := seeds[0], seeds[len(seeds)/2]
		type pick struct {
			r    report.Run
			role string
		}
		picks := []pick{{best, "best"}}
		if median.Seed != best.Seed {
			picks = append(picks, pick{median, "median"})
		}
		for _, p := range picks {
			name := fmt.Sprintf("%s-s%d", v, p.r.Seed)
			out = append(out, clipRun{name: name, label: fmt.Sprintf("%s, %s seed (%d, evaluation %.1f)", v, p.role, p.r.Seed, mean(p.r.Eval)),
				checkpoint: filepath.Join(c.Out, "refine", name, run.CheckpointFile)})
		}
	}
	return out
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// clipSection records (or reuses, when newer than its checkpoint)
// clips/NAME.gif for each of clipRuns: one evaluation episode from the
// evaluation seed with the mean action, cut at ClipSteps steps.
func (c *Config) clipSection(spec env.Spec, runs []report.Run) (*report.Section, error) {
	dir := filepath.Join(c.Out, "clips")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sec := report.Section{Title: "Before and after",
		Intro: fmt.Sprintf("One evaluation episode (seed %d, mean action) of the pretrained agent and of the best and the median refined seed of each variant, the first %d steps, one step in %d, %d×%d pixels. The clips are the GIF files in clips/ beside this page, linked relatively: keep the directory together.",
			c.EvalSeed, ClipSteps, ClipEvery, ClipSize, ClipSize)}
	for _, cr := range c.clipRuns(runs) {
		path := filepath.Join(dir, cr.name+".gif")
		if err := c.clip(spec, cr.checkpoint, path); err != nil {
			return nil, fmt.Errorf("%s: %w", cr.name, err)
		}
		sec.Tiles = append(sec.Tiles, report.Tile{Src: "clips/" + cr.name + ".gif", Alt: cr.label, Fields: []report.Field{{Name: "policy", Value: cr.label}}})
	}
	return &sec, nil
}

// clip writes the GIF at path for the checkpoint's policy, unless one
// newer than the checkpoint is there.
func (c *Config) clip(spec env.Spec, checkpoint, path string) error {
	ckInfo, err := os.Stat(checkpoint)
	if err != nil {
		return err
	}
	if st, err := os.Stat(path); err == nil && st.ModTime().After(ckInfo.ModTime()) {
		return nil
	}
	ck, err := ppo.LoadCheckpoint(checkpoint)
	if err != nil {
		return err
	}
	p, err := ppo.NewPolicy(ck, spec, true, c.EvalSeed)
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = video.Record(spec, p, path, video.GIF, video.Options{Episodes: 1, Seed: c.EvalSeed, Width: ClipSize, Height: ClipSize,
		Every: ClipEvery, MaxSteps: ClipSteps, Cut: true})
	return err
}
