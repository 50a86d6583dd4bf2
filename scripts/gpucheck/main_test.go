package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(script string) []string { return []string{"sh", "-c", script} }

// TestRun runs passing, failing, hanging and skipping commands through the
// runner and reads back the summary it writes.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	late := filepath.Join(dir, "late")
	r := runner{out: dir, budget: time.Minute, grace: 200 * time.Millisecond, progress: io.Discard}
	s := &Summary{Mode: "emulator", Out: dir, BudgetSeconds: 60}
	r.run(s, []check{
		{name: "build", limit: 10 * time.Second, cmd: sh("echo built")},
		{name: "hopper", limit: 10 * time.Second, cmd: sh(`echo "    device_cuda_test.go:76: worst relative difference over 5 iterations: 2.1e-06; return of the last 10 episodes 30.5 (cpu), 30.6 (cuda)"; echo "--- PASS: TestCUDATracksCPU (1.00s)"`),
			figures: figuresOf(t, "hopper")},
		{name: "broken", limit: 10 * time.Second, cmd: sh(`echo "--- FAIL: TestX (0.00s)"; echo "    x_test.go:3: broke"; exit 1`)},
		{name: "hang", limit: 300 * time.Millisecond, cmd: sh(`(sleep 1; echo late >` + late + `) & wait`)},
		{name: "prototypes", limit: 10 * time.Second, cmd: sh(`echo "--- SKIP: TestPrototypes (0.00s)"; echo "    cuda_test.go:88: cuda.h is not installed"; echo PASS`)},
		{name: "absent", limit: 10 * time.Second, cmd: sh("exit 1"), skip: "bench/x.sh not present"},
	})
	time.Sleep(1500 * time.Millisecond) // the hung check's child would have written by now
	if _, err := os.Stat(late); err == nil {
		t.Error("the hung check's child outlived its timeout")
	}
	b, err := r.write(s)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil || string(onDisk) != string(b) {
		t.Fatalf("summary.json differs from the printed summary (%v)", err)
	}
	var got Summary
	if err := json.Unmarshal(onDisk, &got); err != nil {
		t.Fatalf("summary.json is not JSON: %v\n%s", err, onDisk)
	}
	if got.Passed != 2 || got.Failed != 2 || got.Skipped != 2 || len(got.Checks) != 6 {
		t.Errorf("passed %d, failed %d, skipped %d of %d, want 2, 2, 2 of 6", got.Passed, got.Failed, got.Skipped, len(got.Checks))
	}
	want := []struct{ status, reason string }{
		{"pass", ""},
		{"pass", ""},
		{"fail", "exit status 1: --- FAIL: TestX (0.00s) x_test.go:3: broke"},
		{"fail", "timed out after 0 s (its limit; the log ends with where it was)"},
		{"skip", "cuda.h is not installed"},
		{"skip", "bench/x.sh not present"},
	}
	for i, w := range want {
		c := got.Checks[i]
		if c.Status != w.status || c.Reason != w.reason {
			t.Errorf("%s: %s (%q), want %s (%q)", c.Name, c.Status, c.Reason, w.status, w.reason)
		}
	}
	if h := got.Checks[1]; h.Figures["worst_rel_diff"] != 2.1e-06 || h.Figures["return_cuda"] != 30.6 || h.Figures["tests_passed"] != 1.0 || len(h.Lines) != 1 {
		t.Errorf("hopper's figures %v, lines %q", h.Figures, h.Lines)
	}
	if got.Checks[3].Seconds > 1 {
		t.Errorf("the hung check took %.1f s to stop, its limit being 0.3 s", got.Checks[3].Seconds)
	}
	log, err := os.ReadFile(filepath.Join(dir, got.Checks[0].Log))
	if err != nil || string(log) != "$ sh -c 'echo built'\nbuilt\n" {
		t.Errorf("the build's log: %q (%v)", log, err)
	}
}

// TestBudget: a check that would start with too little of the budget left,
// and every check after a failed build, is skipped and says why.
func TestBudget(t *testing.T) {
	r := runner{out: t.TempDir(), budget: 5 * time.Second, grace: time.Second, progress: io.Discard}
	s := &Summary{}
	r.run(s, []check{{name: "build", limit: time.Minute, cmd: sh("exit 0")}})
	if c := s.Checks[0]; c.Status != "skip" || c.Reason != "budget spent: 5 s of 5 s left, under the 10 s a check needs to start" {
		t.Errorf("%s: %s (%q), want a skip for the budget", c.Name, c.Status, c.Reason)
	}
	r.budget = time.Minute
	s = &Summary{}
	r.run(s, []check{{name: "build", limit: time.Minute, cmd: sh("exit 2")}, {name: "kernels", limit: time.Minute, cmd: sh("exit 0")}})
	if c := s.Checks[1]; c.Status != "skip" || c.Reason != "the build failed: see 01-build.log" {
		t.Errorf("%s after a failed build: %s (%q)", c.Name, c.Status, c.Reason)
	}
}

// TestInterrupt: a signal stops the running check, skips the rest, and
// leaves the summary to be written.
func TestInterrupt(t *testing.T) {
	r := runner{out: t.TempDir(), budget: time.Minute, grace: 200 * time.Millisecond, progress: io.Discard, stop: make(chan os.Signal, 1)}
	s := &Summary{}
	time.AfterFunc(200*time.Millisecond, func() { r.stop <- syscall.SIGTERM })
	r.run(s, []check{{name: "long", limit: time.Minute, cmd: sh("sleep 30")}, {name: "next", limit: time.Minute, cmd: sh("exit 0")}})
	if c := s.Checks[0]; c.Status != "fail" || c.Reason != "interrupted (terminated)" || c.Seconds > 2 {
		t.Errorf("%s: %s (%q) after %.1f s, want a fail for the signal", c.Name, c.Status, c.Reason, c.Seconds)
	}
	if c := s.Checks[1]; c.Status != "skip" || c.Reason != "gpu-check was interrupted (terminated)" {
		t.Errorf("%s after the signal: %s (%q)", c.Name, c.Status, c.Reason)
	}
}

func figuresOf(t *testing.T, name string) func(string) (map[string]any, []string) {
	t.Helper()
	for _, c := range checks(true, 2) {
		if c.name == name {
			return c.figures
		}
	}
	t.Fatalf("no check %q", name)
	return nil
}

// TestFigures reads each check's figures out of the lines its tests and
// benchmarks print.
func TestFigures(t *testing.T) {
	for _, tc := range []struct {
		check, log string
		want       map[string]any
	}{
		{"device", "PPO update, ultra-cuda on ultra CPU emulator (device 0, compute capability 9.0, 1 SMs, 16.0 GiB, driver 13.0, cuBLAS 130000 from /c/libultra_fakecuda-7f0fc5d4d27f9ae9.so), 16.0 GiB free: 11×64-64 MLP, batch 2048, minibatch 64, 1 epochs: 0.214 s/update, 9569 samples/s\n",
			map[string]any{"device": "ultra CPU emulator (device 0, compute capability 9.0, 1 SMs, 16.0 GiB, driver 13.0, cuBLAS 130000 from /c/libultra_fakecuda-7f0fc5d4d27f9ae9.so), 16.0 GiB free",
				"update_seconds": 0.214, "samples_per_second": 9569.0}},
		{"prototypes", "    cuda_test.go:98: ucuda.h's driver and cuBLAS prototypes match the headers in /usr/local/cuda/include\n",
			map[string]any{"headers": "/usr/local/cuda/include"}},
		{"agreement", `    cuda_test.go:186: worst |diff|/max|x| = 2.1e-07
    cuda_test.go:186: worst |diff|/max|x| = 3.5e-06
    cuda_test.go:260: after 20 steps: worst param |diff|/max = 1.2e-06, worst norm rel diff 4e-07
    cuda_test.go:289: gradients: worst |diff|/max = 5.9e-06
    cuda_test.go:326: after 20 steps: worst param |diff|/max = 8e-07
    cuda_test.go:522: {ObsDim:17 ActDim:6}: worst 1e-07
`, map[string]any{"mlp_forward_gradients_worst": 3.5e-06, "mlp_adam20_params_worst": 1.2e-06, "mlp_adam20_grad_norm_worst": 4e-07,
			"cnn_gradients_worst": 5.9e-06, "cnn_adam20_params_worst": 8e-07, "kernels_gradients_worst": 1e-07}},
		{"hopper", `    device_cuda_test.go:70: iteration  1: pg_loss -0.010000 / -0.010000, v_loss 1.00000 / 1.00000, return 20.00 / 20.00 (cpu / cuda); worst rel diff 3e-07
    device_cuda_test.go:76: worst relative difference over 20 iterations: 0.41; return of the last 10 episodes 310.2 (cpu), 298.7 (cuda)
`, map[string]any{"first_iteration_rel_diff": 3e-07, "iterations": 20.0, "worst_rel_diff": 0.41, "return_cpu": 310.2, "return_cuda": 298.7}},
		{"render", `    render_test.go:193: OSMesa: llvmpipe (LLVM 15.0.6, 256 bits); EGL device 0 of 2, NVIDIA: NVIDIA H100 80GB HBM3/PCIe/SSE2; mean |EGL-OSMesa| 0.412 per channel, between the two states 2.991
== render: egl
BenchmarkRender/hopper-480x480-16         	      40	  1180048 ns/op	  1324292 ns/frame	     42824 ns/step	       30.9 steps/frame
BenchmarkRender/hopper-240x240-16         	      40	  1034798 ns/op	  836834 ns/frame	     40953 ns/step	       20.4 steps/frame
== render: osmesa
BenchmarkRender/hopper-480x480-16         	      40	  30529380 ns/op	  21741277 ns/frame	     81693 ns/step	       266.1 steps/frame
`, map[string]any{"egl_renderer": "EGL device 0 of 2, NVIDIA: NVIDIA H100 80GB HBM3/PCIe/SSE2", "egl_vs_osmesa_mean_abs_diff": 0.412,
			"egl_480_ms_per_frame": 1.324292, "egl_240_ms_per_frame": 0.836834, "osmesa_480_ms_per_frame": 21.741277}},
		{"env-scaling", "hopper,  8 envs:   41000 steps/s\nhopper, 16 envs:   80000.5 steps/s\n",
			map[string]any{"steps_per_second": []float64{41000, 80000.5}}},
		{"bench", `GPU: NVIDIA H100 80GB HBM3 (79.1 GiB free, compute capability 9.0)
== update: mlp
implementation                    samples/s                  vs pytorch-eager
ultra-cuda                          52000.0                             1.30x
pytorch-eager                       40000.0                             1.00x
== update: cnn-tf32
ultra-cuda-tf32                     9000.0                              0.90x
pytorch-eager-tf32                  10000.0                             1.00x
== end to end: ultra train --env pong-pixels --device cuda
pong-pixels, 16 envs:     2100 steps/s (median of iterations 3-12)
pong-pixels, 64 envs:     4200 steps/s (median of iterations 3-12)
`, map[string]any{"gpu": "NVIDIA H100 80GB HBM3 (79.1 GiB free, compute capability 9.0)",
			"update_mlp_ultra_samples_per_second": 52000.0, "update_mlp_ultra_vs_pytorch": 1.3, "update_mlp_pytorch_samples_per_second": 40000.0,
			"update_cnn-tf32_ultra_samples_per_second": 9000.0, "update_cnn-tf32_ultra_vs_pytorch": 0.9, "update_cnn-tf32_pytorch_samples_per_second": 10000.0,
			"pong_pixels_16_envs_steps_per_second": 2100.0, "pong_pixels_64_envs_steps_per_second": 4200.0}},
	} {
		got, lines := figuresOf(t, tc.check)(tc.log)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: figures\n%v, want\n%v", tc.check, got, tc.want)
		}
		if quiet := tc.check == "agreement"; (len(lines) == 0) != quiet { // agreement's figures are worsts over many lines
			t.Errorf("%s: lines kept %q", tc.check, lines)
		}
	}
}

// TestChecks: the real list, run from the repository's root, starts with the
// build and ends with the benchmark, names each check once, and refers to
// files that exist (env-scaling only when its script does).
func TestChecks(t *testing.T) {
	t.Chdir("../..")
	for _, gpu := range []bool{true, false} {
		cs := checks(gpu, 2)
		if cs[0].name != "build" || cs[len(cs)-1].name != "bench" {
			t.Errorf("gpu %v: the checks run %s first and %s last, want build and bench", gpu, cs[0].name, cs[len(cs)-1].name)
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if seen[c.name] {
				t.Errorf("two checks named %s", c.name)
			}
			seen[c.name] = true
			if c.limit < minLimit {
				t.Errorf("%s: limit %v under the %v a check needs to start", c.name, c.limit, minLimit)
			}
			if c.cmd[0] == "bash" && strings.HasSuffix(c.cmd[1], ".sh") && c.skip == "" {
				if _, err := os.Stat(c.cmd[1]); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
			}
		}
		if !gpu && cs[len(cs)-1].skip == "" {
			t.Error("on the emulator bench/gpu.sh is run, not skipped")
		}
	}
	for _, c := range checks(true, 2) {
		var file string
		switch c.name {
		case "env-scaling":
			file = envScaling
		case "render":
			file = osmesaHeader
		default:
			continue
		}
		if _, err := os.Stat(file); (err == nil) != (c.skip == "") {
			t.Errorf("%s: %s exists: %v; the check's skip: %q", c.name, file, err == nil, c.skip)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "scripts/gpu-check.sh").CombinedOutput(); err != nil {
			t.Errorf("bash -n scripts/gpu-check.sh: %v\n%s", err, out)
		}
	}
}
