package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/ultra"
)

// loopOptions configures trainLoop.
type loopOptions struct {
	out      string
	every    int
	progress string
	logger   *slog.Logger
	stdout   io.Writer
	stderr   io.Writer
	// extra adds fields to each iteration's log line (e.g. modulator counts).
	extra func() []any
	// ctx stops the loop (with a checkpoint); nil means SIGINT/SIGTERM do.
	ctx context.Context
	// shutdown bounds how long a stop waits for the running iteration to
	// finish; past it the iteration is abandoned and the checkpoint taken
	// before it is written instead (0: wait for the iteration).
	shutdown time.Duration
	// Optional instrumentation.
	met   *metrics.Metrics
	stage *ultra.Stage
	table *ultra.Table
	// advisorObserved: the advisor reports requests, tokens and cache hits
	// itself (llm with ObserveRequests); only rejections come from totals.
	advisorObserved bool
}

// errInterrupted reports a run stopped by a signal after saving its state.
var errInterrupted = errors.New("interrupted by signal; state saved")

// trainLoop runs iterations until the budget is spent, writing metrics and
// checkpoints. A stop (signal or ctx) finishes the current iteration — or,
// past the shutdown timeout, abandons it — writes a checkpoint and returns
// errInterrupted.
func trainLoop(tr *ppo.Trainer, o loopOptions) error {
	cfg := tr.Config()
	ctx := o.ctx
	if ctx == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	if o.progress != "bar" && o.progress != "log" && o.progress != "auto" {
		return fmt.Errorf("--progress must be bar, log or auto, got %q", o.progress)
	}
	bar := o.progress == "bar" || (o.progress == "auto" && isTerminal(o.stderr))
	mw, err := openMetrics(o.out)
	if err != nil {
		return err
	}
	defer mw.Close()

	// A stop that outlasts the shutdown timeout abandons the iteration.
	stopped := make(chan struct{})
	defer close(stopped)
	if o.shutdown > 0 {
		go func() {
			select {
			case <-ctx.Done():
			case <-stopped:
				return
			}
			select {
			case <-time.After(o.shutdown):
				tr.Stop()
			case <-stopped:
			}
		}()
	}

	backend := cfg.Backend
	if tr.Backend().Spec().IsImage() {
		backend = "gorgonia (Nature-CNN)" // image observations always use the CNN
	}
	o.logger.Info("training", "env", cfg.Env, "steps", cfg.TotalSteps, "envs", cfg.NumEnvs, "seed", cfg.Seed,
		"backend", backend, "out", o.out, "start_step", tr.GlobalStep())
	start, startStep := time.Now(), tr.GlobalStep()
	lastReturn := math.NaN()
	for !tr.Done() {
		var before *ppo.Checkpoint
		if o.shutdown > 0 {
			if before, err = tr.Checkpoint(); err != nil {
				return err
			}
		}
		st, err := tr.Iterate()
		if errors.Is(err, ppo.ErrStopped) {
			if err := o.save(before); err != nil {
				return err
			}
			o.logger.Warn("stop outlasted the shutdown timeout: iteration abandoned, the checkpoint before it written",
				"timeout", o.shutdown, "step", before.GlobalStep)
			return errInterrupted
		}
		if err != nil {
			return fmt.Errorf("iteration %d: %w", tr.Iteration()+1, err)
		}
		if !math.IsNaN(st.Return10) {
			lastReturn = st.Return10
		}
		if err := mw.write(st); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		o.observe(st)
		if bar {
			drawBar(o.stderr, tr.GlobalStep(), int64(cfg.TotalSteps), startStep, start, lastReturn)
		} else {
			fields := []any{"iter", st.Iteration, "step", st.GlobalStep, "sps", round(st.SPS, 0),
				"return", round(st.ReturnMean, 2), "return_last10", round(st.Return10, 2), "length", round(st.LengthMean, 1),
				"pg_loss", round(st.PolicyLoss, 5), "v_loss", round(st.ValueLoss, 5), "entropy", round(st.Entropy, 4),
				"approx_kl", round(st.ApproxKL, 5), "clipfrac", round(st.ClipFrac, 4),
				"explained_var", round(st.ExplainedVar, 3), "lr", st.LearningRate}
			if o.extra != nil {
				fields = append(fields, o.extra()...)
			}
			o.logger.Info("iteration", fields...)
		}
		interrupted := ctx.Err() != nil
		if st.Iteration%o.every == 0 || tr.Done() || interrupted {
			ck, err := tr.Checkpoint()
			if err != nil {
				return err
			}
			if err := o.save(ck); err != nil {
				return err
			}
		}
		if interrupted {
			if bar {
				fmt.Fprintln(o.stderr)
			}
			o.logger.Info("interrupted: checkpoint written", "step", tr.GlobalStep(), "out", o.out)
			return errInterrupted
		}
	}
	if bar {
		fmt.Fprintln(o.stderr)
	}
	o.logger.Info("done", "steps", tr.GlobalStep(), "last_return", round(lastReturn, 2),
		"wall", time.Since(start).Round(time.Second).String(), "checkpoint", filepath.Join(o.out, ckptFile),
		"policy", filepath.Join(o.out, exportFile))
	summary := fmt.Sprintf("mean return of the last 10 episodes: %.2f", lastReturn)
	if math.IsNaN(lastReturn) {
		summary = "no episode finished yet (train longer for a return)"
	}
	fmt.Fprintf(o.stdout, "trained %s for %d steps in %s; %s\n", cfg.Env, tr.GlobalStep(), time.Since(start).Round(time.Second), summary)
	return nil
}

// save writes a checkpoint and the exported policy, timing it for metrics.
func (o *loopOptions) save(ck *ppo.Checkpoint) error {
	t0 := time.Now()
	err := saveCheckpoint(ck, o.out)
	if o.met != nil {
		o.met.Checkpoint(time.Since(t0), err)
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// observe feeds one iteration to the Prometheus metrics.
func (o *loopOptions) observe(st ppo.IterStats) {
	if o.met == nil {
		return
	}
	o.met.Iteration(iterationMetrics(st))
	if o.stage != nil {
		ss := o.stage.Stats()
		o.met.Stage(stageMetrics(ss))
		r := ss.Report
		if o.advisorObserved {
			r.PromptTokens, r.CompletionTokens, r.CacheHits = 0, 0, 0 // counted per request already
		}
		o.met.AdvisorTotals(advisorMetrics(r))
	}
	if o.table != nil {
		o.met.TableHits(o.table.HitRate())
		o.met.TableEntries(o.table.Len())
	}
}

// serveMetrics starts the /metrics server on addr and returns its registry
// (nil, with a no-op stop, when addr is empty).
// metricsAddrDoc documents --metrics-addr.
const metricsAddrDoc = "serve Prometheus /metrics here (empty disables; default $ULTRA_METRICS_ADDR if set, else " + metrics.DefaultAddr + ")"

// defaultMetricsAddr is --metrics-addr's default: $ULTRA_METRICS_ADDR when
// it is set (empty disables), else metrics.DefaultAddr, which listens on
// loopback only. Containers set ULTRA_METRICS_ADDR=:9464 so that a
// published port (docker -p, a Kubernetes scrape) reaches the endpoint.
func defaultMetricsAddr() string {
	if a, ok := os.LookupEnv("ULTRA_METRICS_ADDR"); ok {
		return a
	}
	return metrics.DefaultAddr
}

func serveMetrics(addr string, logger *slog.Logger) (*prometheus.Registry, func(), error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	reg := metrics.Registry()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := metrics.Serve(ctx, addr, reg)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	logger.Info("serving Prometheus metrics", "url", "http://"+srv.Addr+"/metrics")
	return reg, cancel, nil
}

// runMetrics registers one run's series on reg (nil: no metrics).
func runMetrics(reg *prometheus.Registry, l metrics.Labels) (*metrics.Metrics, error) {
	if reg == nil {
		return nil, nil
	}
	return metrics.New(reg, l)
}
