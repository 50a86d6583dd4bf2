//go:build !render

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVideoWithoutRendererSaysHowToGetIt(t *testing.T) {
	_, err := runCLI(t, "video", "--env", "hopper", "--policy", "zero", "--out", filepath.Join(t.TempDir(), "h.gif"))
	if err == nil {
		t.Fatal("a MuJoCo video without the renderer: no error")
	}
	for _, want := range []string{"sudo apt-get install libosmesa6-dev", "make build-render"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestVideoCaptureWithoutRendererRefusedBeforeTheRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	_, err := runCLI(t, "train", "--env", "hopper", "--steps", "512", "--num-steps", "256", "--capture-video", "--out", dir, "--metrics-addr", "")
	if err == nil || !strings.Contains(err.Error(), "libosmesa6-dev") {
		t.Fatalf("train --capture-video without the renderer: %v", err)
	}
	if _, serr := os.Stat(dir); serr == nil {
		t.Errorf("the refused run left %s behind", dir)
	}
}

func TestVideoGalleryWithoutRendererRefusedBeforeAnnotating(t *testing.T) {
	dir := t.TempDir()
	tr, ann := filepath.Join(dir, "t.jsonl"), filepath.Join(dir, "a.jsonl")
	if out, err := runCLI(t, "collect", "--env", "hopper", "--policy", "zero", "--episodes", "1", "--snapshots", "--out", tr); err != nil {
		t.Fatal(err, out)
	}
	_, err := runCLI(t, "annotate", "--traj", tr, "--advisor", "scripted", "--out", ann, "--gallery", filepath.Join(dir, "g"))
	if err == nil || !strings.Contains(err.Error(), "libosmesa6-dev") {
		t.Fatalf("annotate --gallery without the renderer: %v", err)
	}
	if _, serr := os.Stat(ann); serr == nil {
		t.Error("the annotations were made although the gallery could not be drawn")
	}
}
