package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/ultra"
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
	// statistics and the latest mean return of the last 10 episodes.
	OnIteration func(st ppo.IterStats, lastReturn float64)
	// Extra adds fields to each iteration's log line (e.g. modulator counts).
	Extra func() []any
	// Optional instrumentation.
	Metrics *metrics.Metrics
	Stage   *ultra.Stage
	Table   *ultra.Table
	// AdvisorObserved: the advisor reports requests, tokens and cache hits
	// to Metrics itself (llm with ObserveRequests); only rejections come
	// from the stage's totals.
	AdvisorObserved bool
}

// Result summarises a finished (or stopped) loop.
type Result struct {
	Steps      int64         // the trainer's global step at the end
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
		backend = "gorgonia (Nature-CNN)" // on the CPU, image observations use gorgonia's CNN
	}
	o.Logger.Info("training", "env", cfg.Env, "steps", cfg.TotalSteps, "envs", cfg.NumEnvs, "seed", cfg.Seed,
		"backend", backend, "out", o.Dir, "start_step", tr.GlobalStep())
	start := time.Now()
	res := Result{LastReturn: math.NaN()}
	finish := func() Result {
		res.Steps, res.Wall = tr.GlobalStep(), time.Since(start)
		return res
	}
	for !tr.Done() {
		var before *ppo.Checkpoint
		if o.Shutdown > 0 {
			if before, err = tr.Checkpoint(); err != nil {
				return finish(), err
			}
		}
		st, err := tr.Iterate()
		if errors.Is(err, ppo.ErrStopped) {
			if err := o.save(before); err != nil {
				return finish(), err
			}
			o.Logger.Warn("stop outlasted the shutdown timeout: iteration abandoned, the checkpoint before it written",
				"timeout", o.Shutdown, "step", before.GlobalStep)
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
		o.observe(st)
		if o.OnIteration != nil {
			o.OnIteration(st, res.LastReturn)
		}
		if !o.Quiet {
			fields := []any{"iter", st.Iteration, "step", st.GlobalStep, "sps", round(st.SPS, 0),
				"return", round(st.ReturnMean, 2), "return_last10", round(st.Return10, 2), "length", round(st.LengthMean, 1),
				"pg_loss", round(st.PolicyLoss, 5), "v_loss", round(st.ValueLoss, 5), "entropy", round(st.Entropy, 4),
				"approx_kl", round(st.ApproxKL, 5), "clipfrac", round(st.ClipFrac, 4),
				"explained_var", round(st.ExplainedVar, 3), "lr", st.LearningRate}
			if o.Extra != nil {
				fields = append(fields, o.Extra()...)
			}
			o.Logger.Info("iteration", fields...)
		}
		interrupted := ctx.Err() != nil
		if st.Iteration%o.Every == 0 || tr.Done() || interrupted {
			ck, err := tr.Checkpoint()
			if err != nil {
				return finish(), err
			}
			if err := o.save(ck); err != nil {
				return finish(), err
			}
		}
		if interrupted {
			o.Logger.Info("interrupted: checkpoint written", "step", tr.GlobalStep(), "out", o.Dir)
			return finish(), ErrInterrupted
		}
	}
	o.Logger.Info("done", "steps", tr.GlobalStep(), "last_return", round(res.LastReturn, 2),
		"wall", time.Since(start).Round(time.Second).String(), "checkpoint", filepath.Join(o.Dir, CheckpointFile),
		"policy", filepath.Join(o.Dir, PolicyFile))
	return finish(), nil
}

// save writes a checkpoint and the exported policy, timing it for metrics.
func (o *Options) save(ck *ppo.Checkpoint) error {
	t0 := time.Now()
	err := SaveCheckpoint(o.Dir, ck)
	if o.Metrics != nil {
		o.Metrics.Checkpoint(time.Since(t0), err)
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// observe feeds one iteration to the Prometheus metrics.
func (o *Options) observe(st ppo.IterStats) {
	if o.Metrics == nil {
		return
	}
	o.Metrics.Iteration(iterationMetrics(st))
	if o.Stage != nil {
		ss := o.Stage.Stats()
		o.Metrics.Stage(stageMetrics(ss))
		r := ss.Report
		if o.AdvisorObserved {
			r.PromptTokens, r.CompletionTokens, r.CacheHits = 0, 0, 0 // counted per request already
		}
		o.Metrics.AdvisorTotals(advisorMetrics(r))
	}
	if o.Table != nil {
		o.Metrics.TableHits(o.Table.HitRate())
		o.Metrics.TableEntries(o.Table.Len())
	}
}

// round rounds x to digits decimals for log lines.
func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
