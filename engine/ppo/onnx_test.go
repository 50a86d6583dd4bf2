package ppo

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
)

// TestONNXMatchesEval: the exported ONNX model passes onnx's full checker
// (Debian's python3-onnx) and, evaluated by a numpy implementation of its
// operators written from the ONNX specification (testdata/onnx_check.py),
// gives the deterministic actions ultra eval takes to 1e-5, with two
// action dimensions pushed past the bounds and observations far from the
// normaliser's mean.
func TestONNXMatchesEval(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import onnx, numpy").Run(); err != nil {
		t.Skip("python3-onnx not found: apt-get install python3-onnx python3-numpy (make test installs them)")
	}
	for _, act := range []string{"tanh", "relu"} {
		t.Run(act, func(t *testing.T) {
			c := small()
			c.Activation = act
			tr, err := New(c, hopper(t), Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if _, err := tr.Iterate(); err != nil {
				t.Fatal(err)
			}
			ck, err := tr.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			last := ck.Tensor("policy.4.bias")
			last[0], last[1] = last[0]+1.5, last[1]-1.5
			dir := t.TempDir()
			var b bytes.Buffer
			if err := ck.ExportONNX(&b, tr.Spec().Action); err != nil {
				t.Fatal(err)
			}
			model := filepath.Join(dir, "policy.onnx")
			os.WriteFile(model, b.Bytes(), 0o644)
			p, err := NewPolicy(ck, tr.Spec(), true, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ad := tr.Spec().Action.Dim
			const n = 48
			obs, flat := obsAround(ck, n, rand.New(rand.NewPCG(5, 6)))
			want := make([]float32, n*ad)
			p.Act(flat, n, want)
			var got struct {
				Opset  int         `json:"opset"`
				Ops    []string    `json:"ops"`
				Action [][]float64 `json:"action"`
			}
			runPython(t, dir, obs, &got, "testdata/onnx_check.py", model)
			if len(got.Action) != n {
				t.Fatalf("onnx_check.py printed %d actions, want %d", len(got.Action), n)
			}
			worst := 0.0
			for i := range got.Action {
				for j := range got.Action[i] {
					worst = math.Max(worst, math.Abs(got.Action[i][j]-float64(want[i*ad+j])))
				}
			}
			if worst > 1e-5 {
				t.Errorf("largest difference from eval's actions %g, want ≤ 1e-5", worst)
			}
			wantAct := map[string]string{"tanh": "Tanh", "relu": "Relu"}[act]
			if got.Opset != onnxOpset || !strings.Contains(strings.Join(got.Ops, " "), wantAct) {
				t.Errorf("opset %d, ops %v", got.Opset, got.Ops)
			}
			t.Logf("%s: %d observations, largest difference %g, ops %v", act, n, worst, got.Ops)
		})
	}
}

// TestONNXNatureCNN: the Nature-CNN policy of pong-pixels exports to a
// graph (Reshape, Conv, Relu, Flatten, Gemm, ArgMax) that onnx's full
// checker accepts and whose logits, evaluated by the numpy checker, are
// eval's to 1e-5 on frames of random pixels; its argmax is eval's action
// wherever the two best logits are apart by more than that.
func TestONNXNatureCNN(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import onnx, numpy").Run(); err != nil {
		t.Skip("python3-onnx not found: apt-get install python3-onnx python3-numpy (make test installs them)")
	}
	spec, err := pongPixels()
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultsFor(spec)
	c.Env, c.NumEnvs = spec.ID, 1
	tr, err := New(c, spec, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ck, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	// Scale the actor head up from its 0.01 gain so that the logits differ
	// by more than rounding.
	for _, name := range []string{"actor.weight", "actor.bias"} {
		for i := range ck.Tensor(name) {
			ck.Tensor(name)[i] *= 100
		}
	}
	dir := t.TempDir()
	var b bytes.Buffer
	if err := ck.ExportONNX(&b, spec.Action); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "cnn.onnx")
	os.WriteFile(model, b.Bytes(), 0o644)
	p, err := NewPolicy(ck, spec, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	od, na, n := spec.Observation.Dim, spec.Action.N, 6
	rng := rand.New(rand.NewPCG(9, 10))
	obs := make([][]float32, n)
	var flat []float32
	for i := range obs {
		obs[i] = make([]float32, od)
		for j := range obs[i] {
			obs[i][j] = rng.Float32()
		}
		flat = append(flat, obs[i]...)
	}
	logits := make([]float32, n*na)
	if _, err := p.Dist(flat, n, logits); err != nil {
		t.Fatal(err)
	}
	actions := make([]float32, n)
	p.Act(flat, n, actions)
	var got struct {
		Ops    []string    `json:"ops"`
		Action []int64     `json:"action"`
		Logits [][]float64 `json:"logits"`
	}
	runPython(t, dir, obs, &got, "testdata/onnx_check.py", model)
	if len(got.Action) != n || len(got.Logits) != n {
		t.Fatalf("onnx_check.py printed %d actions and %d logit rows, want %d", len(got.Action), len(got.Logits), n)
	}
	worst := 0.0
	for i := range got.Logits {
		for j, v := range got.Logits[i] {
			worst = math.Max(worst, math.Abs(v-float64(logits[i*na+j])))
		}
		first, second := math.Inf(-1), math.Inf(-1)
		for _, v := range got.Logits[i] {
			if v > first {
				first, second = v, first
			} else if v > second {
				second = v
			}
		}
		if first-second > 1e-5 && float32(got.Action[i]) != actions[i] {
			t.Errorf("frame %d: the graph picks %d, eval %v", i, got.Action[i], actions[i])
		}
	}
	if worst > 1e-5 {
		t.Errorf("largest logit difference from eval's %g, want ≤ 1e-5", worst)
	}
	if !strings.Contains(strings.Join(got.Ops, " "), "Conv") {
		t.Errorf("ops %v, want Conv", got.Ops)
	}
	t.Logf("%d frames, largest logit difference %g, ops %v", n, worst, got.Ops)
}

// pongPixels is the pong-pixels task's spec.
func pongPixels() (env.Spec, error) {
	for _, s := range pong.Specs() {
		if s.ID == "pong-pixels" {
			return s, nil
		}
	}
	return env.Spec{}, fmt.Errorf("no pong-pixels in pong.Specs")
}
