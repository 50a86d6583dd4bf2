package main

import (
	"encoding/json"
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVideoPong(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pong.gif")
	got, err := runCLI(t, "video", "--env", "pong", "--policy", "zero", "--max-steps", "12", "--seed", "4", "--out", out)
	if err != nil {
		t.Fatal(err, got)
	}
	if !strings.Contains(got, "wrote "+out) || !strings.Contains(got, "12 frames of 480×630 at 15 frames/s") {
		t.Errorf("output: %s", got)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(f)
	f.Close()
	if err != nil || len(g.Image) != 12 {
		t.Fatalf("decoding %s: %v (%d frames, want 12)", out, err, len(g.Image))
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"exists", []string{"--env", "pong", "--policy", "zero", "--out", out}, "pass --force"},
		{"no out", []string{"--env", "pong"}, "--out is required"},
		{"no task", []string{"--out", filepath.Join(dir, "x.gif")}, "give --checkpoint, or --env"},
		{"format", []string{"--env", "pong", "--out", filepath.Join(dir, "x.avi")}, "must end in .mp4"},
		{"mode", []string{"--env", "pong", "--mode", "both", "--out", filepath.Join(dir, "x.gif")}, "--mode must be deterministic or stochastic"},
		{"policy", []string{"--env", "pong", "--policy", "clever", "--out", filepath.Join(dir, "x.gif")}, "unknown policy"},
		{"episodes", []string{"--env", "pong", "--episodes", "0", "--out", filepath.Join(dir, "x.gif")}, "episodes must be ≥ 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runCLI(t, append([]string{"video"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q (%s)", err, tc.want, got)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.gif")); err == nil {
		t.Error("a refused command wrote x.gif")
	}
}

func TestVideoCaptureDuringTraining(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if out, err := runCLI(t, "train", "--env", "pong", "--steps", "512", "--envs", "2", "--num-steps", "128", "--num-minibatches", "2",
		"--update-epochs", "1", "--capture-video", "--capture-every", "1", "--out", dir, "--progress", "log", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "videos"))
	if err != nil || len(ents) != 2 {
		t.Fatalf("videos: %v %v, want clips of iterations 1 and 2", ents, err)
	}
	if _, err := runCLI(t, "train", "--env", "pong", "--capture-every", "0", "--out", filepath.Join(t.TempDir(), "r")); err == nil || !strings.Contains(err.Error(), "--capture-every must be ≥ 1") {
		t.Errorf("--capture-every 0: %v", err)
	}
}

func TestVideoJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pong.gif")
	got, err := runCLI(t, "video", "--env", "pong", "--policy", "random", "--seed", "3", "--max-steps", "5", "--width", "160", "--json", "--out", out)
	if err != nil {
		t.Fatal(err, got)
	}
	var res struct {
		Env, Policy string
		Video       struct {
			Path     string
			Format   string
			Frames   int
			Width    int
			Height   int
			Episodes []struct{ Return float64 }
		}
	}
	if err := json.Unmarshal([]byte(got), &res); err != nil {
		t.Fatalf("%v in %s", err, got)
	}
	if res.Env != "pong" || res.Policy != "random" || res.Video.Path != out || res.Video.Format != "gif" ||
		res.Video.Frames != 5 || res.Video.Width != 160 || res.Video.Height != 210 || len(res.Video.Episodes) != 1 {
		t.Errorf("%+v", res)
	}
}

func TestVideoGalleryOfAnnotations(t *testing.T) {
	dir := t.TempDir()
	tr, ann, gal := filepath.Join(dir, "t.jsonl"), filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "gallery")
	if out, err := runCLI(t, "collect", "--env", "pong", "--policy", "random", "--episodes", "1", "--snapshots", "--out", tr); err != nil {
		t.Fatal(err, out)
	}
	out, err := runCLI(t, "annotate", "--traj", tr, "--advisor", "scripted", "--critical", "3", "--out", ann, "--gallery", gal)
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "gallery: 3 critical states drawn → "+filepath.Join(gal, "index.html")) {
		t.Errorf("output: %s", out)
	}
	b, err := os.ReadFile(filepath.Join(gal, "index.html"))
	if err != nil || strings.Count(string(b), `<img src="state-`) != 3 {
		t.Errorf("index.html: %v, %d pictures, want 3", err, strings.Count(string(b), `<img src="state-`))
	}
	if _, err := runCLI(t, "annotate", "--traj", tr, "--advisor", "scripted", "--out", filepath.Join(dir, "b.jsonl"), "--gallery", gal); err == nil ||
		!strings.Contains(err.Error(), "is not empty") {
		t.Errorf("a gallery into a full directory: %v", err)
	}
}
