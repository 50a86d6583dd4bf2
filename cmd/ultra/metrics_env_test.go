package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/internal/configflags"
)

// TestMetricsAddrFromEnvironment checks that $ULTRA_METRICS_ADDR sets
// --metrics-addr's default (containers listen on all interfaces with it),
// that an empty value disables the endpoint, and that the flag still wins.
func TestMetricsAddrFromEnvironment(t *testing.T) {
	t.Setenv("ULTRA_METRICS_ADDR", "") // restored when the test ends
	os.Unsetenv("ULTRA_METRICS_ADDR")
	if got := configflags.DefaultOutput().MetricsAddr; got != metrics.DefaultAddr {
		t.Errorf("default without the variable: %q, want %q", got, metrics.DefaultAddr)
	}
	train := func(extra ...string) string {
		t.Helper()
		out, err := runCLI(t, append([]string{"train", "--env", "hopper", "--steps", "128", "--num-steps", "64", "--envs", "2",
			"--num-minibatches", "2", "--update-epochs", "1", "--progress", "log", "--out", filepath.Join(t.TempDir(), "r")}, extra...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	served := regexp.MustCompile(`serving Prometheus metrics"? url=http://([^/]+)/metrics`)
	t.Setenv("ULTRA_METRICS_ADDR", "127.0.0.1:0")
	if m := served.FindStringSubmatch(train()); m == nil || m[1] == metrics.DefaultAddr {
		t.Errorf("with ULTRA_METRICS_ADDR=127.0.0.1:0: served at %v", m)
	}
	t.Setenv("ULTRA_METRICS_ADDR", "")
	if m := served.FindStringSubmatch(train()); m != nil {
		t.Errorf("with ULTRA_METRICS_ADDR empty: still served at %s", m[1])
	}
	if m := served.FindStringSubmatch(train("--metrics-addr", "127.0.0.1:0")); m == nil {
		t.Error("--metrics-addr given with ULTRA_METRICS_ADDR empty: not served")
	}
}

// TestDockerfileCUDA guards what no test here can run (there is no Docker
// engine on CI): the image builds the CUDA backend's tag and makes
// /metrics reachable from outside the container.
// TestDockerfiles guards what both images promise: the shared build script
// (which TestImageBuilds runs), the metrics address, a non-root user, the
// /runs volume and the entrypoint.
func TestDockerfiles(t *testing.T) {
	for name, extra := range map[string][]string{
		"Dockerfile":      {"debian:bookworm-slim", "libmujoco2.2.2 libopenblas0 libosmesa6", "libosmesa6-dev", "ARG GO_TAGS=render", `bash scripts/build-image-binary.sh /out "${GO_TAGS}"`},
		"Dockerfile.cuda": {`ARG GO_TAGS="ultracuda render"`, "libosmesa6-dev", "libosmesa6 ", `bash scripts/build-image-binary.sh /out "${GO_TAGS}"`, "-runtime-", "libmujoco.so.2.2.2", "libopenblas"},
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range append(extra, "ENV ULTRA_METRICS_ADDR=:9464", "EXPOSE 9464", "USER ultra", `VOLUME ["/runs"]`, `ENTRYPOINT ["ultra"]`) {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
}

// TestImageBuilds runs both images' Go build on this machine, as their
// Dockerfiles do (there is no Docker engine in CI): the same script, the
// same tags, and the binaries start.
func TestImageBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	tags := []string{"render", "ultracuda render"} // the Dockerfiles' GO_TAGS
	if _, err := os.Stat("/usr/include/GL/osmesa.h"); err != nil {
		t.Log("OSMesa's headers are missing (apt-get install libosmesa6-dev): building the images' binaries without the render tag")
		tags = []string{"", "ultracuda"}
	}
	for _, tags := range tags {
		out := t.TempDir()
		cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "build-image-binary.sh"), out, tags)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tags %q: %v\n%s", tags, err, b)
		}
	}
}

// TestMetricsDefaultPortBusy: a second run while the default port is
// taken warns and serves on a free port; an address given with
// --metrics-addr or $ULTRA_METRICS_ADDR stays strict (issue 30, rough
// edge 8).
func TestMetricsDefaultPortBusy(t *testing.T) {
	t.Setenv("ULTRA_METRICS_ADDR", "")
	os.Unsetenv("ULTRA_METRICS_ADDR")
	if ln, err := net.Listen("tcp", metrics.DefaultAddr); err == nil { // else someone holds it already
		defer ln.Close()
	}
	train := func(extra ...string) (string, error) {
		return runCLI(t, append([]string{"train", "--env", "hopper", "--steps", "128", "--num-steps", "64", "--envs", "2",
			"--num-minibatches", "2", "--update-epochs", "1", "--progress", "log", "--out", filepath.Join(t.TempDir(), "r")}, extra...)...)
	}
	served := regexp.MustCompile(`serving Prometheus metrics"? url=http://([^/]+)/metrics`)
	out, err := train()
	if err != nil {
		t.Fatalf("default port busy: %v\n%s", err, out)
	}
	if m := served.FindStringSubmatch(out); m == nil || m[1] == metrics.DefaultAddr || !strings.Contains(out, "the default metrics port is in use") {
		t.Errorf("default port busy: no warning or no other port:\n%s", out)
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
	}{
		{"--metrics-addr", "-", []string{"--metrics-addr", metrics.DefaultAddr}},
		{"ULTRA_METRICS_ADDR", metrics.DefaultAddr, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "-" {
				t.Setenv("ULTRA_METRICS_ADDR", tc.env)
			}
			if _, err := train(tc.args...); err == nil || !strings.Contains(err.Error(), "port in use") {
				t.Errorf("a chosen busy address: %v, want the port-in-use error", err)
			}
		})
	}
}
