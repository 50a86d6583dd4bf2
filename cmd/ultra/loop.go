package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
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
