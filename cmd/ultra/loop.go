package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
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

// barFor returns an iteration callback that redraws a progress bar on w
// towards the steps the run trains, for a loop starting now at startStep.
func barFor(w *barWriter, startStep int64) func(ppo.IterStats, float64, int64) {
	start := time.Now()
	return func(st ppo.IterStats, lastReturn float64, planned int64) {
		w.draw(func(w io.Writer) { drawBar(w, st.GlobalStep, planned, startStep, start, lastReturn) })
	}
}

// barWriter is the stderr a progress bar and the log share: a log line
// written while the bar is drawn starts on a line of its own.
type barWriter struct {
	mu   sync.Mutex
	w    io.Writer
	open bool // a bar is drawn and its line not ended
}

// Write writes p (a log line) below the bar.
func (b *barWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.breakLine()
	return b.w.Write(p)
}

// draw redraws the bar with f.
func (b *barWriter) draw(f func(io.Writer)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b.w)
	b.open = true
}

// end ends the bar's line, if one is drawn.
func (b *barWriter) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.breakLine()
}

func (b *barWriter) breakLine() {
	if b.open {
		fmt.Fprintln(b.w)
		b.open = false
	}
}

// serveMetrics starts the /metrics server on o's address and returns its
// registry (nil, with a no-op stop, when the address is empty). The
// default address (see configflags.Output.MetricsAddrDefault) falls back
// to a free port when its port is busy, with a warning; a chosen one is
// kept to.
func serveMetrics(o configflags.Output, fs *flag.FlagSet, logger *slog.Logger) (*prometheus.Registry, func(), error) {
	addr := o.MetricsAddr
	if addr == "" {
		return nil, func() {}, nil
	}
	reg := metrics.Registry()
	ctx, cancel := context.WithCancel(context.Background())
	var srv *http.Server
	var err error
	if o.MetricsAddrDefault(fs) {
		var busy bool
		if srv, busy, err = metrics.ServeDefault(ctx, addr, reg); busy {
			logger.Warn("the default metrics port is in use (another ultra run?): serving on a free port instead; --metrics-addr chooses the address, empty serves none",
				"busy", addr, "url", "http://"+srv.Addr+"/metrics")
		}
	} else {
		srv, err = metrics.Serve(ctx, addr, reg)
	}
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
