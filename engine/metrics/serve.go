package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAddr is the conventional metrics address of ultra.
const DefaultAddr = "127.0.0.1:9464"

// ServeDefault is Serve for an address the user did not choose (ultra's
// default): when its port is taken — another run on the same machine —
// it serves on a free port of the same host instead and reports busy.
// Any other error is Serve's.
func ServeDefault(ctx context.Context, addr string, reg *prometheus.Registry) (srv *http.Server, busy bool, err error) {
	srv, err = Serve(ctx, addr, reg)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return srv, false, err
	}
	host, _, serr := net.SplitHostPort(addr)
	if serr != nil {
		return nil, false, err
	}
	srv, err = Serve(ctx, net.JoinHostPort(host, "0"), reg)
	return srv, err == nil, err
}

// Registry returns a new registry with the Go runtime and process collectors registered.
func Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Serve serves /metrics (promhttp.HandlerFor(reg, …)) on addr ("" disables
// and returns nil, nil). It returns once listening (so tests can scrape),
// and shuts down when ctx ends. A bind error names the address and what to
// change, e.g. `metrics: listen on "127.0.0.1:9464": port in use; choose
// another port, or an empty address to serve no metrics: …`. It wraps the
// listener's error, so errors.Is finds syscall.EADDRINUSE.
//
// The returned server's Addr is the address actually listened on, so a
// port of 0 ("127.0.0.1:0") picks a free port that Addr then names. The
// server is shut down (with up to 5 s for scrapes in flight) when ctx
// ends; callers may also Close or Shutdown it themselves.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	if reg == nil {
		return nil, errors.New("metrics: nil registry")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("metrics: listen on %q: port in use; choose another port, or an empty address to serve no metrics: %w", addr, err)
		}
		return nil, fmt.Errorf("metrics: listen on %q: %w (the address is host:port, such as %q, or empty to serve no metrics)", addr, err, DefaultAddr)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><body><a href="/metrics">/metrics</a></body></html>`)
	})
	srv := &http.Server{
		Addr:              ln.Addr().String(),
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = srv.Serve(ln) }() // returns http.ErrServerClosed after Shutdown or Close
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	})
	return srv, nil
}
