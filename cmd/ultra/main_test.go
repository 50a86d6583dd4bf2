package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/bindings/ale"
	"github.com/ultra-rl/ultra/bindings/blas"
	"github.com/ultra-rl/ultra/engine/bench"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runCommand(args, &out, &errb)
	return out.String() + errb.String(), err
}

func TestEnvsListsEveryTask(t *testing.T) {
	out, err := runCLI(t, "envs")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hopper", "Box(11, [-Inf, +Inf])", "Box(3, [-1, 1])", "walker2d", "halfcheetah", "ant", "Box(27"} {
		if !strings.Contains(out, want) {
			t.Errorf("envs output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalJSON(t *testing.T) {
	out, err := runCLI(t, "eval", "--env", "hopper", "--policy", "zero", "--episodes", "3", "--seed", "2", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var got struct {
		Env      string
		Episodes []struct {
			Return float64
			Length int
		}
		Summary struct {
			Episodes int `json:"episodes"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if got.Env != "hopper" || len(got.Episodes) != 3 || got.Summary.Episodes != 3 {
		t.Fatalf("%+v", got)
	}
	for _, e := range got.Episodes {
		if e.Length < 20 || e.Length >= 1000 || e.Return <= 0 {
			t.Errorf("zero-action hopper episode %+v", e)
		}
	}
	again, _ := runCLI(t, "eval", "--env", "hopper", "--policy", "zero", "--episodes", "3", "--seed", "2", "--json")
	if again != out {
		t.Error("same seed gave different output")
	}
	noNoise, _ := runCLI(t, "eval", "--env", "hopper", "--policy", "zero", "--episodes", "2", "--reset-noise", "0", "--json")
	if !strings.Contains(noNoise, `"length"`) {
		t.Error(noNoise)
	}
}

func TestCLIErrorsNameTheFix(t *testing.T) {
	aleFix := "build with `go build -tags ale ./cmd/ultra`"
	if ale.Available {
		aleFix = "set ULTRA_ALE_ROMS to its directory"
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fly"}, "valid commands are envs, train, eval, video, export, collect, annotate, refine, experiment, sweep, report, match, judge, bench, version"},
		{[]string{"eval", "--env", "hoper"}, "valid envs are ant, halfcheetah, hopper, pong, pong-pixels, walker2d"},
		{[]string{"eval"}, "--env is required: valid envs are ant, halfcheetah, hopper, pong"},
		{[]string{"eval", "--env", "ale:no_such_game-pixels"}, aleFix},
		{[]string{"eval", "--env", "ale:breakout"}, "use ale:breakout-pixels or ale:breakout-ram"},
		{[]string{"eval", "--env", "hopper", "--policy", "smart"}, "valid policies are zero, random"},
		{[]string{"eval", "--env", "hopper", "--episodes", "0"}, "--episodes must be ≥ 1"},
		{[]string{"eval", "--env", "hopper", "--reset-noise", "-2"}, "--reset-noise must be a finite scale ≥ 0"},
		{[]string{"experiment", "--env", "pong-pixels", "--out", "unused"}, "run the experiment on a features env (pong, ale:pong)"},
		{[]string{"bench"}, "ultra bench env"},
		{[]string{"bench", "env", "--steps", "10"}, "--steps ≥ 1000"},
		{[]string{"bench", "env-scaling", "--workers", "4-2"}, "low ≤ high"},
		{[]string{"bench", "env-scaling", "--envs-per-worker", "0"}, "want positive integers"},
		{[]string{"bench", "env-scaling", "--time", "1ms"}, "time ≥ 10ms"},
		{[]string{"eval", "--env", "hopper", "extra"}, `unexpected argument "extra"`},
		// Lists as text, not Go slices (issue 30, rough edge 20).
		{[]string{"annotate", "--traj", "t.jsonl", "--out", "a.jsonl", "--advisor", "oracle"}, `unknown --advisor "oracle": valid advisors are llm, scripted, expert, random,`},
	} {
		out, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error()+out, tc.want) {
			t.Errorf("%v: got %v (%s), want %q", tc.args, err, out, tc.want)
		}
	}
}

func TestBenchEnvReportsRatios(t *testing.T) {
	out, err := runCLI(t, "bench", "env", "--env", "halfcheetah", "--envs", "2", "--steps", "1000", "--rounds", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var b bench.EnvResult
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	if b.CLoopSPS <= 0 || b.SingleSPS <= 0 || b.BatchSPS <= 0 || b.SingleVsC <= 0 || b.Envs != 2 {
		t.Fatalf("%+v", b)
	}
}

// TestBenchEnvScalingLines: the table has a steps/s figure per point (what
// scripts/gpucheck reads) and a key=value line per point in sweep order.
func TestBenchEnvScalingLines(t *testing.T) {
	out, err := runCLI(t, "bench", "env-scaling", "--env", "halfcheetah", "--workers", "1-2", "--envs-per-worker", "1,2", "--rounds", "1", "--time", "10ms")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^env-scaling halfcheetah workers=(\d+) envs=(\d+) steps_per_s=\d+ ratio=[\d.]+ busy=([\d.]+) step_cost=([\d.]+) c_loops_ratio=[\d.]+ of_c_loops=[\d.]+$`)
	var got []string
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		got = append(got, m[1]+"/"+m[2])
		busy, _ := strconv.ParseFloat(m[3], 64)
		cost, _ := strconv.ParseFloat(m[4], 64)
		// One worker steps for the whole of every Step (more workers: up
		// to a helper chunk's time read late); the reference's
		// step cost is the unit.
		if busy <= 0 || busy > 1.05 || (m[1] == "1" && busy != 1) || cost <= 0 || (m[2] == "1" && cost != 1) {
			t.Errorf("workers %s, envs %s: busy %s, step cost %s", m[1], m[2], m[3], m[4])
		}
	}
	if want := "1/1 1/2 2/2 2/4"; strings.Join(got, " ") != want {
		t.Errorf("points %q, want %q in\n%s", got, want, out)
	}
	if n := len(regexp.MustCompile(`[\d.]+ +steps/s`).FindAllString(out, -1)); n != 4 {
		t.Errorf("%d figures followed by steps/s, want 4 (one per point) in\n%s", n, out)
	}
}

// TestBenchUpdateNamesKernels: the native update's JSON names the sgemm
// and element-wise kernels of this build (so a recorded figure says what
// produced it); other backends leave the field out.
func TestBenchUpdateNamesKernels(t *testing.T) {
	for _, tc := range []struct{ backend, want string }{
		{"native", "sgemm " + blas.Impl + "; element-wise " + blas.KernelsImpl},
		{"gorgonia", ""},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			out, err := runCLI(t, "bench", "update", "--backend", tc.backend, "--batch", "128", "--epochs", "1", "--rounds", "1", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var r bench.UpdateResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if r.Kernels != tc.want || r.SamplesPerSec <= 0 {
				t.Fatalf("kernels %q (want %q), %v samples/s", r.Kernels, tc.want, r.SamplesPerSec)
			}
		})
	}
}
