package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/ppo"
)

// TestExportONNXDiscrete: ultra export --format onnx of a discrete policy
// (Pong, features) passes onnx's full checker and its graph, evaluated by
// the numpy checker (engine/ppo/testdata/onnx_check.py), picks eval's
// actions (the argmax) on every observation; bad flags name the fix.
func TestExportONNXDiscrete(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import onnx, numpy").Run(); err != nil {
		t.Skip("python3-onnx not found: apt-get install python3-onnx python3-numpy (make test installs them)")
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "pong")
	if o, err := runCLI(t, "train", "--env", "pong", "--steps", "512", "--num-steps", "128", "--envs", "2", "--num-minibatches", "2",
		"--update-epochs", "1", "--out", run, "--metrics-addr", "", "--progress", "log"); err != nil {
		t.Fatalf("train: %v\n%s", err, o)
	}
	model := filepath.Join(dir, "pong.onnx")
	if o, err := runCLI(t, "export", "--checkpoint", run, "--out", model); err != nil || !strings.Contains(o, "wrote "+model+" (onnx") {
		t.Fatalf("export: %v\n%s", err, o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--checkpoint", run, "--out", model}, "exists: choose another file, or pass --force"},
		{[]string{"export", "--checkpoint", run, "--out", model + "2", "--format", "tflite"}, "valid formats are onnx, safetensors"},
		{[]string{"export", "--out", model + "3"}, "--checkpoint is required"},
	} {
		if _, err := runCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	ck, err := ppo.LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := registry().Lookup("pong")
	p, err := ppo.NewPolicy(ck, spec, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	od, n := spec.Observation.Dim, 64
	rng := rand.New(rand.NewPCG(7, 8))
	obs := make([][]float32, n)
	var flat []float32
	for i := range obs {
		obs[i] = make([]float32, od)
		for j := range obs[i] {
			obs[i][j] = float32(ck.ObsRMS.Mean[j] + 3*rng.NormFloat64())
		}
		flat = append(flat, obs[i]...)
	}
	want := make([]float32, n)
	p.Act(flat, n, want)
	js, _ := json.Marshal(obs)
	obsFile := filepath.Join(dir, "obs.json")
	os.WriteFile(obsFile, js, 0o644)
	cmd := exec.Command("/usr/bin/python3", "../../engine/ppo/testdata/onnx_check.py", model, obsFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("onnx_check.py: %v\n%s", err, stderr.String())
	}
	var got struct {
		Ops    []string `json:"ops"`
		Action []int64  `json:"action"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Action) != n {
		t.Fatalf("onnx_check.py printed %s (%v)", out, err)
	}
	distinct := map[int64]bool{}
	for i, a := range got.Action {
		distinct[a] = true
		if float32(a) != want[i] {
			t.Errorf("observation %d: the ONNX graph picks %d, eval %v", i, a, want[i])
		}
	}
	if !strings.Contains(strings.Join(got.Ops, " "), "ArgMax") {
		t.Errorf("ops %v, want an ArgMax", got.Ops)
	}
	t.Logf("%d observations, actions taken %v, ops %v", n, distinct, got.Ops)
}

// TestReportComparesRuns: ultra report over plain run directories draws
// their training curves together and tabulates them; mixing runs with
// experiments, or two runs of one name, is refused naming the fix (issue
// 30, comparing plain runs).
func TestReportComparesRuns(t *testing.T) {
	dir := t.TempDir()
	var runs []string
	for _, name := range []string{"lr-a", "lr-b"} {
		out := filepath.Join(dir, name)
		lr := map[string]string{"lr-a": "3e-4", "lr-b": "1e-3"}[name]
		if o, err := runCLI(t, "train", "--env", "hopper", "--steps", "1024", "--num-steps", "256", "--num-minibatches", "4",
			"--update-epochs", "1", "--learning-rate", lr, "--out", out, "--metrics-addr", "", "--progress", "log"); err != nil {
			t.Fatalf("train: %v\n%s", err, o)
		}
		runs = append(runs, out)
	}
	rep := filepath.Join(dir, "cmp")
	out, err := runCLI(t, append([]string{"report", "--out", rep}, runs...)...)
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for _, want := range []string{"| lr-a | hopper | 1 | 1024 |", "| lr-b | hopper | 1 | 1024 |", "wrote " + filepath.Join(rep, "curves.png")} {
		if !strings.Contains(out, want) {
			t.Errorf("report output lacks %q:\n%s", want, out)
		}
	}
	if st, err := os.Stat(filepath.Join(rep, "curves.png")); err != nil || st.Size() < 1000 {
		t.Errorf("curves.png: %v", err)
	}
	exp := filepath.Join(dir, "exp")
	os.MkdirAll(exp, 0o755)
	os.WriteFile(filepath.Join(exp, "experiment.json"), []byte("{}"), 0o644)
	twin := filepath.Join(dir, "other", "lr-a")
	os.MkdirAll(filepath.Dir(twin), 0o755)
	os.Rename(runs[1], twin)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--out", rep, runs[0], exp}, "not both"},
		{[]string{"report", "--out", rep, runs[0], twin}, "the same name"},
	} {
		if _, err := runCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
