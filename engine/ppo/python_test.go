package ppo

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPythonPolicyMatchesEval: python/ultra_policy.py, reading only the
// exported policy.safetensors with numpy, gives the deterministic actions
// `ultra eval` takes (Policy with Deterministic set) to 1e-6, for
// observations near the normaliser's mean, far from it (clipped by the
// normaliser) and pushing actions past the bounds (clipped to them).
func TestPythonPolicyMatchesEval(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		t.Skip("python3-numpy not found: apt-get install python3-numpy (make test installs it)")
	}
	tr, err := New(small(), hopper(t), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for range 2 { // a normaliser and weights that are not their initial values
		if _, err := tr.Iterate(); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	// Push two action dimensions' means past the bounds, so that clipping
	// to the action space is exercised.
	last := ck.Tensor("policy.4.bias")
	if last == nil {
		t.Fatal("no policy.4.bias")
	}
	last[0], last[1] = last[0]+1.5, last[1]-1.5
	dir := t.TempDir()
	var st bytes.Buffer
	if err := ck.ExportSafetensors(&st, tr.Spec().Action); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.safetensors")
	if err := os.WriteFile(policy, st.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(ck, tr.Spec(), true, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ad := tr.Spec().Action.Dim
	const n = 64
	obs, flat := obsAround(ck, n, rand.New(rand.NewPCG(3, 4)))
	want := make([]float32, n*ad)
	p.Act(flat, n, want)
	var got [][]float64
	runPython(t, dir, obs, &got, "../../python/ultra_policy.py", policy)
	if len(got) != n {
		t.Fatalf("ultra_policy.py printed %d actions, want %d", len(got), n)
	}
	worst, clipped := 0.0, 0
	for i := range got {
		for j := range got[i] {
			w := float64(want[i*ad+j])
			if w == -1 || w == 1 {
				clipped++
			}
			worst = math.Max(worst, math.Abs(got[i][j]-w))
		}
	}
	if worst > 1e-6 {
		t.Errorf("largest difference from eval's actions %g, want ≤ 1e-6", worst)
	}
	if clipped == 0 {
		t.Error("no action reached a bound: the test does not check clipping to the action space")
	}
	t.Logf("%d observations, largest difference %g, %d action values at a bound", n, worst, clipped)
}
