package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/run"
)

// TestMain lets tests run this test binary as the ultra command. No test
// serves metrics on the default port (it may be taken on the machine):
// ULTRA_METRICS_ADDR is empty unless a test sets an address.
func TestMain(m *testing.M) {
	if os.Getenv("ULTRA_TEST_AS_CLI") == "1" {
		main()
		return
	}
	os.Setenv("ULTRA_METRICS_ADDR", "")
	os.Exit(m.Run())
}

// ultraProcess starts the test binary as `ultra args...`.
func ultraProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ULTRA_TEST_AS_CLI=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func metricsRows(dir string) int {
	f, err := os.Open(filepath.Join(dir, run.MetricsJSONL))
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var quickRun = []string{"--env", "hopper", "--num-steps", "256", "--num-minibatches", "4", "--update-epochs", "2",
	"--progress", "log", "--metrics-addr", ""}

// TestSIGTERMCheckpointsAndResumes: SIGTERM mid-run writes a checkpoint,
// exits 0, and --resume continues at the next iteration.
func TestSIGTERMCheckpointsAndResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := ultraProcess(t, append([]string{"train", "--out", dir, "--steps", "1000000", "--checkpoint-every", "100000"}, quickRun...)...)
	waitFor(t, "two iterations", 60*time.Second, func() bool { return metricsRows(dir) >= 2 })
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if d := time.Since(sent); d > 30*time.Second {
		t.Errorf("took %v to stop", d)
	}
	ck, err := ppo.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Iteration < 2 || ck.GlobalStep != int64(ck.Iteration)*256 || metricsRows(dir) != ck.Iteration {
		t.Fatalf("checkpoint at iteration %d step %d, %d metric rows", ck.Iteration, ck.GlobalStep, metricsRows(dir))
	}
	steps := fmt.Sprint((ck.Iteration + 2) * 256)
	if out, err := runCLI(t, "train", "--out", dir, "--resume", "--steps", steps, "--progress", "log", "--metrics-addr", ""); err != nil {
		t.Fatal(err, out)
	}
	ck2, _ := ppo.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile))
	if ck2.Iteration != ck.Iteration+2 || metricsRows(dir) != ck2.Iteration {
		t.Fatalf("after resume: iteration %d (want %d), %d metric rows", ck2.Iteration, ck.Iteration+2, metricsRows(dir))
	}
}

// TestSecondInterruptQuits: the first SIGINT waits for the running
// iteration (up to --shutdown-timeout); a second one quits at once with
// status 130 (issue 14, finding 13), and the last checkpoint still loads.
func TestSecondInterruptQuits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	// Iterations of 50 000 steps take seconds, so the first SIGINT alone
	// would keep the process running well past the second.
	cmd := ultraProcess(t, "train", "--out", dir, "--steps", "10000000", "--env", "hopper", "--num-steps", "50000",
		"--num-minibatches", "4", "--update-epochs", "1", "--progress", "log", "--metrics-addr", "", "--shutdown-timeout", "10m", "--checkpoint-every", "1")
	waitFor(t, "the first checkpoint", 120*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, run.CheckpointFile))
		return err == nil
	})
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(100 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("after two interrupts: %v, want exit status 130", err)
	}
	if d := time.Since(sent); d > 5*time.Second {
		t.Errorf("took %v to quit after the second interrupt", d)
	}
	if _, err := ppo.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile)); err != nil {
		t.Fatalf("the checkpoint written before the interrupts: %v", err)
	}
}

// TestKill9NeverCorruptsAndResumes kills the trainer with SIGKILL at random
// moments; each time the checkpoint must load, the step counter never goes
// back, and --resume carries on until the run completes.
func TestKill9NeverCorruptsAndResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	const total = 40 * 256
	args := append([]string{"train", "--out", dir, "--steps", fmt.Sprint(total), "--checkpoint-every", "1"}, quickRun...)
	rng := rand.New(rand.NewPCG(7, 7))
	last := int64(-1)
	for round := 0; round < 5; round++ {
		a := args
		if round > 0 {
			a = []string{"train", "--out", dir, "--resume", "--progress", "log", "--metrics-addr", ""}
		}
		cmd := ultraProcess(t, a...)
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		ck, err := ppo.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile))
		if err != nil {
			if round == 0 && strings.Contains(err.Error(), "no such file") {
				continue // killed before the first checkpoint: nothing to resume yet
			}
			t.Fatalf("round %d: checkpoint unreadable after kill -9: %v", round, err)
		}
		if ck.GlobalStep < last {
			t.Fatalf("round %d: step went back from %d to %d", round, last, ck.GlobalStep)
		}
		last = ck.GlobalStep
		if last == total {
			break
		}
	}
	if _, err := os.Stat(filepath.Join(dir, run.CheckpointFile)); err != nil {
		args = append([]string{"train", "--out", dir, "--steps", fmt.Sprint(total)}, quickRun...)
	} else {
		args = []string{"train", "--out", dir, "--resume", "--progress", "log", "--metrics-addr", ""}
	}
	if out, err := runCLI(t, args...); err != nil {
		t.Fatal(err, out)
	}
	ck, err := ppo.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile))
	if err != nil || ck.GlobalStep != total || metricsRows(dir) != total/256 {
		t.Fatalf("final: %v step %d rows %d", err, ck.GlobalStep, metricsRows(dir))
	}
}

// TestMetricsServedDuringTraining scrapes /metrics while a run trains.
func TestMetricsServedDuringTraining(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--out", dir, "--steps", "25600", "--env", "hopper", "--num-steps", "256",
		"--num-minibatches", "4", "--update-epochs", "2", "--progress", "log", "--metrics-addr", addr}
	cmd := ultraProcess(t, args...)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	scrape := func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	value := func(body, series string) string {
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, series) {
				return line[strings.LastIndex(line, " ")+1:]
			}
		}
		return ""
	}
	var first string
	waitFor(t, "a scrape with env steps", 60*time.Second, func() bool {
		first = value(scrape(), "ultra_env_steps_total")
		return first != "" && first != "0"
	})
	var second string
	waitFor(t, "env steps to move", 60*time.Second, func() bool {
		second = value(scrape(), "ultra_env_steps_total")
		return second != "" && second != first
	})
	body := scrape()
	for _, want := range []string{`ultra_ppo_approx_kl{`, `run="run"`, `env="hopper"`, `variant="train"`, "go_goroutines", "process_cpu_seconds_total", "ultra_train_episodic_return_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
