package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
	"github.com/ultra-rl/ultra/internal/configflags"
)

// errInterrupted reports a run stopped by a signal after saving its state.
var errInterrupted = run.ErrInterrupted

// progressBar reports whether --progress asks for a bar (auto: on a
// terminal) rather than a log line per iteration.
func progressBar(progress string, stderr io.Writer) (bool, error) {
	switch progress {
	case "bar":
		return true, nil
	case "log":
		return false, nil
	case "auto":
		return isTerminal(stderr), nil
	}
	return false, fmt.Errorf("--progress must be bar, log or auto, got %q", progress)
}

// barFor returns an iteration callback that redraws a progress bar towards
// total steps, for a loop starting now at startStep.
func barFor(w io.Writer, total, startStep int64) func(ppo.IterStats, float64) {
	start := time.Now()
	return func(st ppo.IterStats, lastReturn float64) {
		drawBar(w, st.GlobalStep, total, startStep, start, lastReturn)
	}
}

// serveMetrics starts the /metrics server on addr and returns its registry
// (nil, with a no-op stop, when addr is empty).
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

// runFlags are the option groups of the commands that run one training
// loop (train, refine): how they log, serve metrics and stop
// (configflags.Output) and how the loop checkpoints and shows progress
// (configflags.Loop), each declared once in internal/configflags.
type runFlags struct {
	output configflags.Output
	loop   configflags.Loop
	sets   []*configflags.Set
}

// addRunFlags binds the groups to fs.
func addRunFlags(fs *flag.FlagSet) *runFlags {
	rf := &runFlags{output: configflags.DefaultOutput(), loop: configflags.DefaultLoop()}
	rf.sets = []*configflags.Set{configflags.New(fs, &rf.output), configflags.New(fs, &rf.loop)}
	return rf
}

// apply reads the given flags into the groups and checks them.
func (rf *runFlags) apply() error {
	for _, s := range rf.sets {
		if err := s.Apply(""); err != nil {
			return err
		}
	}
	if rf.loop.Every < 1 {
		return fmt.Errorf("--checkpoint-every must be ≥ 1, got %d", rf.loop.Every)
	}
	if rf.loop.CaptureEvery < 1 {
		return fmt.Errorf("--capture-every must be ≥ 1, got %d", rf.loop.CaptureEvery)
	}
	return nil
}

// capture is the loop's video capture (nil without --capture-video).
func (rf *runFlags) capture() *run.Capture {
	if !rf.loop.CaptureVideo {
		return nil
	}
	return &run.Capture{Every: rf.loop.CaptureEvery}
}

// fixed lists the flags given that a resumed run cannot change: all but
// --out, --resume, the command's own allow list and those the groups (and
// the command's own sets) mark resume:"ok".
func (rf *runFlags) fixed(fs *flag.FlagSet, allow []string, more ...*configflags.Set) []string {
	return configflags.Fixed(fs, append([]string{"out", "resume"}, allow...), append(more, rf.sets...)...)
}
