package run

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/video"
)

// VideoDir is the run directory's folder of captured clips.
const VideoDir = "videos"

// Capture records short clips of the policy as it trains, as CleanRL's
// --capture-video does: after every Every-th iteration (and the last) one
// episode of the current deterministic policy, from the same seed each
// time so that the clips compare, its first Steps steps run and drawn, into
// DIR/videos/iter-NNNNNN.mp4 (ffmpeg) or .gif. The policy is copied at the
// iteration's end and the clip drawn beside training, at the lowest
// priority and one at a time: a clip due while the previous one is still
// being drawn is skipped (and logged); the last is waited for before the
// loop returns.
type Capture struct {
	Every         int // iterations between clips, ≥ 1
	Steps         int // steps drawn of the episode (0: DefaultCaptureSteps)
	Width, Height int // frame size (0: the task's default)
	// Mark labels each frame's state on the overlay (video.Options.Mark):
	// a refinement sets it to say where ULTRA's table matched and whether
	// the variant overrides there. Nil: no label.
	Mark func(obs []float32) string
}

// DefaultCaptureSteps is the length of a captured clip in steps (hopper:
// 2.4 s of game time, 60 frames).
const DefaultCaptureSteps = 300

// Check refuses a capture that cannot work, before a run starts: a period
// below 1, a task without a renderer, a build without MuJoCo's (the error
// says how to get it). A nil Capture is fine. [Loop] checks too.
func (c *Capture) Check(spec env.Spec) error {
	if c == nil {
		return nil
	}
	if c.Every < 1 {
		return fmt.Errorf("run: video capture every %d iterations: must be ≥ 1", c.Every)
	}
	if c.Steps < 0 {
		return fmt.Errorf("run: video capture of %d steps: must be ≥ 0 (0: %d)", c.Steps, DefaultCaptureSteps)
	}
	r, err := env.NewRenderer(spec, c.Width, c.Height)
	if err != nil {
		return fmt.Errorf("run: video capture: %w", err)
	}
	return r.Close()
}

// capturer draws the run's clips in the background, one at a time.
type capturer struct {
	o    *Options
	done chan struct{} // closed when the clip in flight is written; nil: none started
}

// start begins the clip of iteration it, of ck when the caller took a
// checkpoint of this iteration anyway (it is only read), else of a new one.
// A clip still in flight makes it skip, unless final, which waits for it.
func (c *capturer) start(tr *ppo.Trainer, it int, final bool, ck *ppo.Checkpoint) {
	if c.done != nil {
		select {
		case <-c.done:
		default:
			if !final {
				c.o.Logger.Info("video capture skipped: the previous clip is still being drawn", "iter", it)
				return
			}
			<-c.done
		}
	}
	t0 := time.Now()
	if ck == nil {
		var err error
		if ck, err = tr.Checkpoint(); err != nil { // a copy: training goes on
			c.o.Logger.Warn("video capture failed", "iter", it, "err", err)
			return
		}
	}
	spec, seed := tr.Spec(), tr.Config().Seed
	done := make(chan struct{})
	c.done = done
	go func() {
		defer close(done)
		if !final {
			lowerPriority()
		}
		res, err := c.o.captureClip(ck, spec, seed, it)
		if err != nil {
			c.o.Logger.Warn("video capture failed", "iter", it, "err", err)
			return
		}
		fields := []any{"iter", it, "path", res.Path, "seconds", round(time.Since(t0).Seconds(), 2)}
		if c.o.Video.Mark != nil {
			fields = append(fields, "frames", res.Frames, "marked", res.Marked)
		}
		c.o.Logger.Info("video", fields...)
	}()
}

// wait returns once no clip is being drawn.
func (c *capturer) wait() {
	if c.done != nil {
		<-c.done
	}
}

func (o *Options) captureClip(ck *ppo.Checkpoint, spec env.Spec, seed uint64, it int) (video.Result, error) {
	p, err := ppo.NewPolicy(ck, spec, true, seed)
	if err != nil {
		return video.Result{}, err
	}
	defer p.Close()
	dir := filepath.Join(o.Dir, VideoDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return video.Result{}, err
	}
	path, f, _, err := video.Target(filepath.Join(dir, fmt.Sprintf("iter-%06d.mp4", it)))
	if err != nil {
		return video.Result{}, err
	}
	steps := o.Video.Steps
	if steps == 0 {
		steps = DefaultCaptureSteps
	}
	res, err := video.Record(spec, p, path, f, video.Options{Episodes: 1, Seed: seed, MaxSteps: steps, Cut: true,
		Width: o.Video.Width, Height: o.Video.Height, Overlay: true, Mark: o.Video.Mark})
	return res, err
}
