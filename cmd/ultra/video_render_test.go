//go:build render

package main

import (
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/run"
)

func TestVideoCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if out, err := runCLI(t, "train", "--env", "hopper", "--steps", "256", "--num-steps", "256", "--num-minibatches", "4",
		"--update-epochs", "1", "--seed", "2", "--out", dir, "--progress", "log", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	ck := filepath.Join(dir, run.CheckpointFile)
	for _, mode := range []string{"deterministic", "stochastic"} {
		t.Run(mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "hopper.gif")
			got, err := runCLI(t, "video", "--checkpoint", ck, "--mode", mode, "--width", "64", "--height", "48", "--every", "10", "--out", out)
			if err != nil {
				t.Fatal(err, got)
			}
			if !strings.Contains(got, "hopper checkpoint/"+mode+" policy") || !strings.Contains(got, "of 64×48") ||
				!strings.Contains(got, "drawn by OSMesa: ") {
				t.Errorf("output: %s", got)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g, err := gif.DecodeAll(f)
			if err != nil || len(g.Image) == 0 || g.Config.Width != 64 || g.Config.Height != 48 {
				t.Fatalf("%s: %v", out, err)
			}
		})
	}
}

// TestVideoEGL: MUJOCO_GL=egl draws through EGL (Mesa's software device
// on a machine without a GPU) and says so.
func TestVideoEGL(t *testing.T) {
	t.Setenv("MUJOCO_GL", "egl")
	out := filepath.Join(t.TempDir(), "hopper.gif")
	got, err := runCLI(t, "video", "--env", "hopper", "--policy", "zero", "--width", "32", "--height", "32", "--max-steps", "50", "--out", out)
	if err != nil && (strings.Contains(err.Error(), "could not be loaded") || strings.Contains(err.Error(), "EGL lists no device")) {
		t.Skipf("no EGL here (sudo apt-get install libegl1 libegl-mesa0): %v", err)
	}
	if err != nil {
		t.Fatal(err, got)
	}
	if !strings.Contains(got, "drawn by EGL device ") {
		t.Errorf("output: %s", got)
	}
	t.Setenv("MUJOCO_GL", "glfw")
	if got, err := runCLI(t, "video", "--env", "hopper", "--policy", "zero", "--out", out+".2.gif"); err == nil || !strings.Contains(err.Error(), "MUJOCO_GL=glfw") {
		t.Errorf("MUJOCO_GL=glfw: %v %s", err, got)
	}
}
