package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/run"
)

func TestTrainResumeAndEvalCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	// A constant rate: a finished annealed run refuses a longer plan (TestTrainStepsBarAndExtension).
	os.WriteFile(cfg, []byte("num-steps: 256\nnum-minibatches: 4\nupdate-epochs: 2\nenvs: 2\nanneal-lr: false\n"), 0o644)
	common := []string{"--env", "hopper", "--seed", "5", "--out", dir, "--config", cfg, "--progress", "log", "--checkpoint-every", "1", "--metrics-addr", ""}
	if out, err := runCLI(t, append([]string{"train", "--steps", "1024"}, common...)...); err != nil {
		t.Fatal(err, out)
	}
	for _, f := range []string{run.CheckpointFile, run.ConfigFile, run.MetricsJSONL, run.MetricsCSV, run.PolicyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if out, err := runCLI(t, append([]string{"train", "--steps", "1024"}, common...)...); err == nil || !strings.Contains(out+err.Error(), "pass --resume") {
		t.Errorf("second run into the same dir: %v", err)
	}
	if _, err := runCLI(t, "train", "--out", dir, "--resume", "--learning-rate", "0.1"); err == nil || !strings.Contains(err.Error(), "--learning-rate cannot change") {
		t.Errorf("resume with a changed option: %v", err)
	}
	if out, err := runCLI(t, "train", "--out", dir, "--resume", "--steps", "2048", "--progress", "log", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, run.MetricsJSONL))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 iterations of metrics (2 + 2 after resume), got %d", len(lines))
	}
	var last struct {
		Iteration  int   `json:"iteration"`
		GlobalStep int64 `json:"global_step"`
	}
	json.Unmarshal([]byte(lines[3]), &last)
	if last.Iteration != 4 || last.GlobalStep != 2048 {
		t.Fatalf("last row %+v", last)
	}
	out, err := runCLI(t, "eval", "--checkpoint", filepath.Join(dir, run.CheckpointFile), "--episodes", "2", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	if !strings.Contains(out, "checkpoint/deterministic") || !strings.Contains(out, "checkpoint/stochastic") {
		t.Errorf("eval output: %s", out)
	}
}

func TestTrainRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("lerning-rate: 0.1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train"}, "--out DIR is required"},
		{[]string{"train", "--out", dir + "/a", "--learning-rate", "7"}, "learning-rate = 7, want in (0, 1)"},
		{[]string{"train", "--out", dir + "/b", "--envs", "x"}, `--envs "x": want an integer`},
		{[]string{"train", "--out", dir + "/c", "--env", "nope"}, "valid envs are"},
		{[]string{"train", "--out", dir + "/d", "--config", bad}, `unknown option "lerning-rate"`},
		{[]string{"train", "--out", dir + "/e", "--hidden", "64,a"}, "comma-separated integers"},
		{[]string{"train", "--out", dir + "/f", "--resume"}, "no such file"},
		{[]string{"train", "--out", dir + "/g", "--device", "tpu"}, `device = "tpu", want "cpu" or "cuda"`},
		{[]string{"train", "--out", dir + "/h", "--device", "cuda"}, noCUDAWant},
		{[]string{"train", "--out", dir + "/i", "--tf32"}, "tf32 = true, want false unless device is cuda"},
	} {
		out, err := runCLI(t, append(tc.args, "--metrics-addr", "")...)
		if err == nil || !strings.Contains(err.Error()+out, tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestEnvDefaultsUnderFileAndFlags: Pong starts from CleanRL's Atari
// settings; a config file and flags still win over them.
func TestEnvDefaultsUnderFileAndFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pong")
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfgFile, []byte("update-epochs: 2\n"), 0o644)
	if out, err := runCLI(t, "train", "--env", "pong", "--steps", "1024", "--envs", "2", "--config", cfgFile,
		"--out", dir, "--progress", "log", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, run.ConfigFile))
	for _, want := range []string{"envs: 2\n", "num-steps: 128\n", "ent-coef: 0.01\n", "update-epochs: 2\n", "learning-rate: 0.00025\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, b)
		}
	}
}
