package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSweepLocalCluster simulates a cluster on this machine (issue 17):
// plan a small experiment, start every unit at once as a separate process
// with JOB_COMPLETION_INDEX set, SIGKILL one mid-run and start it again,
// then report. The results must equal a single `ultra experiment` with the
// same settings byte for byte; the shared stages must have run once; a
// missing unit must make the report fail, naming it.
func TestSweepLocalCluster(t *testing.T) {
	dir := t.TempDir()
	sweep, single := filepath.Join(dir, "sweep"), filepath.Join(dir, "single")
	settings := []string{"--env", "hopper", "--pretrain-steps", "4096", "--collect-episodes", "2", "--variants", "ppo,ultra-a",
		"--seeds", "2", "--refine-steps", "8192", "--eval-episodes", "2", "--metrics-addr", ""}
	out, err := runCLI(t, append([]string{"sweep", "plan", "--out", sweep}, settings...)...)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "units 4") {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	start := func(i int) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "sweep", "unit", "--out", sweep, "--metrics-addr", "")
		var logs bytes.Buffer
		cmd.Env = append(os.Environ(), "ULTRA_TEST_AS_CLI=1", fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i))
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &logs
	}
	t0 := time.Now()
	cmds, logs := make([]*exec.Cmd, 4), make([]*bytes.Buffer, 4)
	for i := range cmds {
		cmds[i], logs[i] = start(i)
	}
	// Kill unit 1 (ppo-s2) once its refinement has started, and start it again.
	waitFor(t, "unit 1 to start refining", 120*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(sweep, "refine", "ppo-s2", "metrics.jsonl"))
		return err == nil
	})
	cmds[1].Process.Signal(syscall.SIGKILL)
	cmds[1].Wait()
	killed := logs[1]
	cmds[1], logs[1] = start(1)
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("unit %d: %v\n%s", i, err, logs[i])
		}
	}
	sweepWall := time.Since(t0)
	stages := 0
	for _, l := range append(logs, killed) {
		stages += strings.Count(l.String(), "stage=pretrain steps=")
	}
	if stages != 1 {
		t.Errorf("the pretraining stage ran %d times across the units, want once", stages)
	}
	if out, err := runCLI(t, "sweep", "report", "--out", sweep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	t1 := time.Now()
	if out, err := runCLI(t, append([]string{"experiment", "--out", single, "--jobs", "2"}, settings...)...); err != nil {
		t.Fatalf("experiment: %v\n%s", err, out)
	}
	t.Logf("4 units as separate processes on %d cores: %v (including a killed and restarted unit); ultra experiment --jobs 2: %v",
		runtime.NumCPU(), sweepWall.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	a, _ := os.ReadFile(filepath.Join(sweep, "results.csv"))
	b, _ := os.ReadFile(filepath.Join(single, "results.csv"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("results.csv differ:\nsweep:\n%s\nexperiment:\n%s", a, b)
	}
	// A unit without its evaluation fails the report, named.
	os.Remove(filepath.Join(sweep, "refine", "ultra-a-s2", "eval.json"))
	if _, err := runCLI(t, "sweep", "report", "--out", sweep); err == nil || !strings.Contains(err.Error(), "unit 3 (ultra-a-s2)") {
		t.Fatalf("report with a missing unit: %v", err)
	}
	// Planning the directory again with other settings is refused.
	if _, err := runCLI(t, "sweep", "plan", "--out", sweep, "--env", "walker2d", "--metrics-addr", ""); err == nil || !strings.Contains(err.Error(), "env hopper (now walker2d)") {
		t.Fatalf("replanning with another env: %v", err)
	}
	if _, err := runCLI(t, "sweep", "unit", "--out", sweep, "--index", "9", "--metrics-addr", ""); err == nil || !strings.Contains(err.Error(), "units 0 to 3") {
		t.Fatalf("unit 9: %v", err)
	}
}

// TestDeployK8sIsRendered checks that deploy/k8s holds exactly what `ultra
// sweep k8s` renders for the hopper table's plan, so that the published
// manifests reproduce that table.
func TestDeployK8sIsRendered(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hopper")
	if out, err := runCLI(t, "sweep", "plan", "--out", dir, "--env", "hopper", "--pretrain-steps", "100000", "--collect-episodes", "16",
		"--variants", "ppo,ultra-a,ultra-r,ultra-ra,random,rice,llm-rnd,rnd,placebo", "--seeds", "10", "--refine-steps", "100000",
		"--eval-episodes", "10", "--advisor", "scripted"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"units.yaml", []string{"--parallelism", "16"}},
		{"report.yaml", []string{"--report"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"sweep", "k8s", "--out", dir, "--image", "ghcr.io/ultra-rl/ultra:latest", "--pvc", "ultra-runs"}, tc.args...)
			if err := runCommand(args, &out, &errb); err != nil {
				t.Fatalf("%v\n%s", err, errb.String())
			}
			want, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("deploy/k8s/%s differs from what ultra sweep k8s renders; regenerate it with the command in deploy/k8s/README.md", tc.file)
			}
		})
	}
}
