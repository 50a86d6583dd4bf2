// Package video records a policy's episodes as videos: every step's
// snapshot drawn by the task's renderer (MuJoCo's own renderer offscreen,
// build tag render; Pong's frame code), with an optional overlay of the
// step, the reward and the return so far, streamed into an animated GIF
// (standard library) or an MP4 (ffmpeg), one frame in memory at a time.
//
// The episodes are those `ultra eval --envs 1` runs for the same seed: one
// env instance, reset with the seed, auto-reset between episodes.
package video

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
)

// Options says what to record.
type Options struct {
	Episodes int    // episodes to record, ≥ 1
	Seed     uint64 // seeds the env (as eval.Run)
	// Width and Height of the frames in pixels; 0: the task's default
	// (480×480 for MuJoCo tasks, 480×630 for Pong).
	Width, Height int
	// Every draws one step in Every; 0 chooses the smallest stride that
	// keeps the video at or under 50 frames a second (what GIF players
	// honour), preferring one whose frame time is a whole number of
	// centiseconds. The last step of each episode is always drawn.
	Every int
	// MaxSteps draws at most this many steps of each episode (the episode
	// still runs to its end, for its return); 0: every step.
	MaxSteps int
	// Cut, with MaxSteps and one episode, stops the episode after MaxSteps
	// steps: its Return and Length are then of the steps run. For clips
	// during training, where the rest of the episode would cost time.
	Cut bool
	// Overlay writes the episode, step, reward and return so far on each
	// frame.
	Overlay bool
	// Mark, with Overlay, labels each drawn frame's state: its result is
	// appended to the overlay's line (a refinement's clips say whether
	// ULTRA's table matched the state and whether the variant overrides
	// there). It is called with the observation the step's action was
	// taken in; nil or "": no label.
	Mark func(obs []float32) string
	// Env are the env's options (reset noise).
	Env env.Options
}

// Result describes a recorded video.
type Result struct {
	Path        string         `json:"path"`
	Format      Format         `json:"format"`
	Frames      int            `json:"frames"`
	Width       int            `json:"width"`
	Height      int            `json:"height"`
	Every       int            `json:"every"` // one step in Every drawn
	FPS         float64        `json:"fps"`   // frames a second; real time when the task's step time is known
	StepSeconds float64        `json:"step_seconds"`
	Episodes    []eval.Episode `json:"episodes"`
	// Marked counts the drawn frames that Options.Mark labelled.
	Marked int `json:"marked,omitempty"`
	// Renderer names what drew the frames when the renderer says
	// (fmt.Stringer): MuJoCo's gives its OpenGL backend and renderer.
	Renderer string `json:"renderer,omitempty"`
}

// DefaultStepSeconds is the pace assumed for a task that does not say how
// much game time a step covers: 30 steps a second.
const DefaultStepSeconds = 1.0 / 30

// AutoEvery is the stride [Options.Every] = 0 chooses for steps of dt
// seconds: the smallest k with k·dt ≥ 1/50 s, or, if one of k … 2k−1 has
// a frame time of whole centiseconds (exact GIF delays), the first such.
func AutoEvery(dt float64) int {
	if !(dt > 0) {
		return 1
	}
	k0 := max(1, int(math.Ceil(0.02/dt-1e-9)))
	for k := k0; k < 2*k0; k++ {
		cs := 100 * float64(k) * dt
		if math.Abs(cs-math.Round(cs)) < 1e-6 {
			return k
		}
	}
	return k0
}

func (o Options) validate() error {
	switch {
	case o.Episodes < 1:
		return fmt.Errorf("video: episodes must be ≥ 1, got %d", o.Episodes)
	case o.Width < 0 || o.Height < 0:
		return fmt.Errorf("video: size %d×%d: width and height must be ≥ 0 (0: the task's default)", o.Width, o.Height)
	case o.Every < 0:
		return fmt.Errorf("video: every must be ≥ 0 (0: automatic), got %d", o.Every)
	case o.MaxSteps < 0:
		return fmt.Errorf("video: max steps must be ≥ 0 (0: whole episodes), got %d", o.MaxSteps)
	case o.Cut && (o.MaxSteps == 0 || o.Episodes != 1):
		return fmt.Errorf("video: cutting episodes needs max steps > 0 and one episode, got %d and %d", o.MaxSteps, o.Episodes)
	}
	return nil
}

// Record runs p on spec for o.Episodes episodes in one env instance and
// writes every o.Every-th step, drawn from the snapshot before it, to a
// video at path in format f (see [Target]). Frames show the state the
// step's action was taken in; the overlay gives that step's reward and
// the return including it. A task without a renderer, or a build without
// MuJoCo's (the default build), fails before any step is taken.
func Record(spec env.Spec, p eval.Policy, path string, f Format, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	r, err := env.NewRenderer(spec, o.Width, o.Height)
	if err != nil {
		return Result{}, fmt.Errorf("video: %w", err)
	}
	defer r.Close()
	v, err := env.New(spec, env.Config{NumEnvs: 1, Options: o.Env})
	if err != nil {
		return Result{}, fmt.Errorf("video: %w", err)
	}
	defer v.Close()
	dt := spec.Seconds()
	if dt <= 0 {
		dt = DefaultStepSeconds
	}
	every := o.Every
	if every == 0 {
		every = AutoEvery(dt)
	}
	res := Result{Path: path, Format: f, Every: every, StepSeconds: dt, FPS: 1 / (float64(every) * dt)}
	if s, ok := r.(fmt.Stringer); ok {
		res.Renderer = s.String()
	}
	enc, err := Create(path, f, res.FPS)
	if err != nil {
		return Result{}, err
	}
	rec := recorder{r: r, enc: enc}
	if err := rec.run(v, p, o, &res); err != nil {
		enc.Abort()
		return Result{}, err
	}
	if err := enc.Close(); err != nil {
		return Result{}, err
	}
	return res, nil
}

type recorder struct {
	r   env.Renderer
	enc Encoder
	ov  overlayer
	img *image.RGBA
}

// run records o.Episodes episodes, drawing one step in res.Every.
func (rec *recorder) run(v env.VecEnv, p eval.Policy, o Options, res *Result) error {
	every := res.Every
	obs, err := v.Reset(o.Seed)
	if err != nil {
		return fmt.Errorf("video: %w", err)
	}
	actions := make([]float32, v.Spec().Action.Dim)
	var snap []float64
	step, ret := 0, 0.0
	for len(res.Episodes) < o.Episodes {
		snap = v.Snapshot(0, snap)
		mark := ""
		if o.Overlay && o.Mark != nil {
			mark = o.Mark(obs)
		}
		p.Act(obs, 1, actions)
		out, err := v.Step(actions)
		if err != nil {
			return fmt.Errorf("video: %w", err)
		}
		reward := float64(out.Rewards[0])
		step++
		ret += reward
		done := out.Done(0)
		drawn := o.MaxSteps == 0 || step <= o.MaxSteps
		if drawn && ((step-1)%every == 0 || done || step == o.MaxSteps) {
			if rec.img, err = rec.r.Render(snap, rec.img); err != nil {
				return fmt.Errorf("video: episode %d step %d: %w", len(res.Episodes)+1, step, err)
			}
			if o.Overlay {
				line := fmt.Sprintf("ep %d/%d  step %d  reward %+.2f  return %.1f",
					len(res.Episodes)+1, o.Episodes, step, reward, ret)
				if mark != "" {
					line += "  " + mark
					res.Marked++
				}
				rec.ov.draw(rec.img, line)
			}
			if err := rec.enc.Frame(rec.img); err != nil {
				return err
			}
			res.Frames++
			res.Width, res.Height = rec.img.Rect.Dx(), rec.img.Rect.Dy()
		}
		switch {
		case done:
			k := len(res.Episodes)
			res.Episodes = append(res.Episodes, eval.Episode{Index: k, Return: out.EpisodeReturn[0], Length: out.EpisodeLength[0]})
			step, ret = 0, 0
		case o.Cut && step == o.MaxSteps:
			res.Episodes = append(res.Episodes, eval.Episode{Return: ret, Length: step})
		}
		obs = out.Obs
	}
	if res.Frames == 0 {
		return errors.New("video: no frame was drawn")
	}
	return nil
}
