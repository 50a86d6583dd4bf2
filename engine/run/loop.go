package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
)

// Options configures Loop.
type Options struct {
	// Dir is the run directory (metrics and checkpoints are written there).
	Dir string
	// Every is the checkpoint period in iterations; the last iteration and
	// a stop always checkpoint.
	Every int
	// Shutdown bounds how long a stop waits for the running iteration to
	// finish; past it the iteration is abandoned and the checkpoint taken
	// before it is written instead (0: wait for the iteration).
	Shutdown time.Duration
	// Logger receives the run's lines: start, each iteration (unless Quiet),
	// interruption and the end.
	Logger *slog.Logger
	// Quiet drops the per-iteration log line (a progress display shows
	// progress instead).
	Quiet bool
	// OnIteration, when set, is called after each iteration with its
	// statistics, the latest mean return of the last 10 episodes and the
	// steps the run trains in all (a progress display's 100%).
	OnIteration func(st ppo.IterStats, lastReturn float64, planned int64)
	// Metrics, when set, receives every iteration's statistics, each
	// finished episode, the checkpoint writes and the extension's series.
	Metrics *metrics.Metrics
	// Extension, when set, is what the run adds to PPO (ultra.Setup).
	Extension Extension
	// Video, when set, records a clip of the current policy every
	// Video.Every iterations and after the last one, into Dir/videos/.
	Video *Capture
}

// Extension is what a run adds to the training loop beyond PPO — ULTRA's
// machinery (ultra.Setup) implements it — through one seam: it sees every
// finished iteration, adds fields to its log line and exports its series.
type Extension interface {
	// Observe is told each finished iteration, before its log line. An
	// error is logged and the run goes on.
	Observe(st ppo.IterStats) error
	// LogFields are added to each iteration's log line.
	LogFields() []any
	// Export writes the extension's series to m after each iteration.
	Export(m *metrics.Metrics)
}

// Stateful is an Extension with state of its own that a resumed run needs
// to continue exactly (ultra.Setup: its random streams, counters, hit-rate
// trace and models). Loop stores MarshalState's bytes in every checkpoint it
// writes (ppo.Checkpoint.Extension), taken at the same iteration boundary as
// the trainer's state, so that the checkpoint file — and so
// checkpoint.prev.bin, and a crash between two writes — never pairs one
// iteration's trainer with another's extension. Whoever rebuilds the
// extension for a resume restores it from the checkpoint.
type Stateful interface {
	Extension
	// MarshalState returns the extension's state now, between iterations.
	MarshalState() ([]byte, error)
}

// Result summarises a finished (or stopped) loop.
type Result struct {
	Steps      int64         // the trainer's global step at the end
	Asked      int64         // the steps asked for (TotalSteps): more than Steps when not a multiple of the batch
	Wall       time.Duration // time spent in the loop
	LastReturn float64       // mean return of the last 10 episodes (NaN: none finished)
}

// ErrInterrupted reports a run stopped by its context after saving its
// state; resuming continues it.
var ErrInterrupted = errors.New("interrupted; state saved")

// Loop runs iterations until the trainer's budget is spent, writing
// metrics and checkpoints. When ctx is done it finishes the current
// iteration — or, past o.Shutdown, abandons it — writes a checkpoint and
// returns ErrInterrupted.
func Loop(ctx context.Context, tr *ppo.Trainer, o Options) (Result, error) {
	cfg := tr.Config()
	if o.Every < 1 {
		return Result{}, fmt.Errorf("run: checkpoint period %d, want ≥ 1 iteration", o.Every)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := o.Video.Check(tr.Spec()); err != nil {
		return Result{}, err
	}
	clips := capturer{o: &o}
	defer clips.wait()
	mw, err := openMetrics(o.Dir)
	if err != nil {
		return Result{}, err
	}
	defer mw.Close()

	// A stop that outlasts the shutdown timeout abandons the iteration.
	stopped := make(chan struct{})
	defer close(stopped)
	if o.Shutdown > 0 {
		go func() {
			select {
			case <-ctx.Done():
			case <-stopped:
				return
			}
			select {
			case <-time.After(o.Shutdown):
				tr.Stop()
			case <-stopped:
			}
		}()
	}

	backend := cfg.Backend
	switch {
	case cfg.Device == "cuda":
		backend = "cuda"
	case tr.Backend().Spec().IsImage():
		backend += " (Nature-CNN)"
	}
	o.Logger.Info("training", "env", cfg.Env, "steps", cfg.TotalSteps, "envs", cfg.NumEnvs, "seed", cfg.Seed,
		"backend", backend, "out", o.Dir, "start_step", tr.GlobalStep())
	if note := cfg.StepsNote(); note != "" {
		o.Logger.Warn(note)
	}
	start := time.Now()
	res := Result{LastReturn: math.NaN(), Asked: int64(cfg.TotalSteps)}
	finish := func() Result {
		res.Steps, res.Wall = tr.GlobalStep(), time.Since(start)
		return res
	}
	for !tr.Done() {
		// The state before the iteration, read back (on a GPU) only if a
		// stop abandons the iteration.
		var before *ppo.LazyCheckpoint
		var extBefore []byte
		if o.Shutdown > 0 {
			if before, err = tr.CheckpointLazy(); err != nil {
				return finish(), err
			}
			if extBefore, err = o.extensionState(); err != nil {
				return finish(), err
			}
		}
		st, err := tr.Iterate()
		if errors.Is(err, ppo.ErrStopped) {
			ck, err := before.Checkpoint()
			if err != nil {
				return finish(), err
			}
			ck.Extension = extBefore
			if err := o.save(ck, tr.Spec().Action); err != nil {
				return finish(), err
			}
			o.Logger.Warn("stop outlasted the shutdown timeout: iteration abandoned, the checkpoint before it written",
				"timeout", o.Shutdown, "step", ck.GlobalStep)
			return finish(), ErrInterrupted
		}
		if err != nil {
			return finish(), fmt.Errorf("iteration %d: %w", tr.Iteration()+1, err)
		}
		if !math.IsNaN(st.Return10) {
			res.LastReturn = st.Return10
		}
		if err := mw.write(st); err != nil {
			return finish(), fmt.Errorf("metrics: %w", err)
		}
		if o.Extension != nil {
			if err := o.Extension.Observe(st); err != nil {
				o.Logger.Warn("extension", "iter", st.Iteration, "err", err)
			}
		}
		o.observe(st)
		if o.OnIteration != nil {
			o.OnIteration(st, res.LastReturn, int64(cfg.PlannedSteps()))
		}
		if !o.Quiet {
			fields := []any{"iter", st.Iteration, "step", st.GlobalStep, "sps", round(st.SPS, 0),
				"return", round(st.ReturnMean, 2), "return_last10", round(st.Return10, 2), "length", round(st.LengthMean, 1),
				"pg_loss", round(st.PolicyLoss, 5), "v_loss", round(st.ValueLoss, 5), "entropy", round(st.Entropy, 4),
				"approx_kl", round(st.ApproxKL, 5), "clipfrac", round(st.ClipFrac, 4),
				"explained_var", round(st.ExplainedVar, 3), "lr", significant(st.LearningRate, 4)}
			if o.Extension != nil {
				fields = append(fields, o.Extension.LogFields()...)
			}
			o.Logger.Info("iteration", fields...)
		}
		capture := o.Video != nil && (st.Iteration%o.Video.Every == 0 || tr.Done())
		interrupted := ctx.Err() != nil
		if st.Iteration%o.Every == 0 || tr.Done() || interrupted {
			ck, err := tr.Checkpoint()
			if err != nil {
				return finish(), err
			}
			if ck.Extension, err = o.extensionState(); err != nil {
				return finish(), err
			}
			if capture { // the clip reads the same copy: one download of the networks
				clips.start(tr, st.Iteration, tr.Done(), ck)
				capture = false
			}
			if err := o.save(ck, tr.Spec().Action); err != nil {
				return finish(), err
			}
		}
		if capture {
			clips.start(tr, st.Iteration, tr.Done(), nil)
		}
		if interrupted {
			o.Logger.Info("interrupted: checkpoint written", "step", tr.GlobalStep(), "out", o.Dir)
			return finish(), ErrInterrupted
		}
	}
	clips.wait()
	o.Logger.Info("done", "steps", tr.GlobalStep(), "last_return", round(res.LastReturn, 2),
		"wall", time.Since(start).Round(time.Second).String(), "checkpoint", filepath.Join(o.Dir, CheckpointFile),
		"policy", filepath.Join(o.Dir, PolicyFile))
	return finish(), nil
}

// extensionState is the extension's state for a checkpoint (nil when it
// has none: see Stateful).
func (o *Options) extensionState() ([]byte, error) {
	s, ok := o.Extension.(Stateful)
	if !ok {
		return nil, nil
	}
	b, err := s.MarshalState()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: the extension's state: %w", err)
	}
	return b, nil
}

// save writes a checkpoint and the exported policy, timing it for metrics.
func (o *Options) save(ck *ppo.Checkpoint, action env.Space) error {
	t0 := time.Now()
	err := SaveCheckpoint(o.Dir, ck, action)
	if o.Metrics != nil {
		o.Metrics.Checkpoint(time.Since(t0), err)
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// observe feeds one iteration to the Prometheus metrics: its statistics,
// each episode it finished, and the extension's series.
func (o *Options) observe(st ppo.IterStats) {
	if o.Metrics == nil {
		return
	}
	o.Metrics.Iteration(iterationMetrics(st))
	for _, e := range st.Finished {
		o.Metrics.Episode(e.Return, e.Length)
	}
	if o.Extension != nil {
		o.Extension.Export(o.Metrics)
	}
}

// significant rounds x to n significant digits for log lines
// (0.00028421052631578947 → 0.0002842).
func significant(x float64, n int) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	p := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// round rounds x to digits decimals for log lines.
func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
