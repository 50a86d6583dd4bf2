package nn

import (
	"math"
	"strings"
	"testing"
)

func TestGaussianHelpers(t *testing.T) {
	l2pi := math.Log(2 * math.Pi)
	cases := []struct {
		name                  string
		mean, logStd, act     []float32
		wantLogP, wantEntropy float64
	}{
		{"standard normal at mean", []float32{0}, []float32{0}, []float32{0}, -0.5 * l2pi, 0.5 + 0.5*l2pi},
		{"one sigma away, std 2", []float32{1}, []float32{float32(math.Log(2))}, []float32{3},
			-0.5 - float64(float32(math.Log(2))) - 0.5*l2pi, 0.5 + 0.5*l2pi + float64(float32(math.Log(2)))},
		{"3-d sum", []float32{0, 1, -1}, []float32{0, -1, 0.5}, []float32{1, 1, 0},
			(-0.5 - 0.5*l2pi) + (1 - 0.5*l2pi) + (-0.5*math.Exp(-1) - 0.5 - 0.5*l2pi),
			3*(0.5+0.5*l2pi) - 0.5},
		{"empty", nil, nil, nil, 0, 0},
	}
	for _, tc := range cases {
		if got := GaussianLogProb(tc.mean, tc.logStd, tc.act); math.Abs(got-tc.wantLogP) > 1e-6 {
			t.Errorf("%s: GaussianLogProb = %.10f, want %.10f", tc.name, got, tc.wantLogP)
		}
		if got := GaussianEntropy(tc.logStd); math.Abs(got-tc.wantEntropy) > 1e-6 {
			t.Errorf("%s: GaussianEntropy = %.10f, want %.10f", tc.name, got, tc.wantEntropy)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "equal lengths") {
			t.Errorf("GaussianLogProb with mismatched lengths: recover() = %v", r)
		}
	}()
	GaussianLogProb([]float32{0, 0}, []float32{0}, []float32{0, 0})
}

func TestCategoricalHelpers(t *testing.T) {
	ln3 := float32(math.Log(3))
	cases := []struct {
		name        string
		logits      []float32
		a           int
		wantLogP    float64
		wantEntropy float64
	}{
		{"uniform 4", []float32{0, 0, 0, 0}, 2, -math.Log(4), math.Log(4)},
		{"uniform shifted", []float32{7, 7, 7}, 0, -math.Log(3), math.Log(3)},
		{"p = 1/4, 3/4", []float32{0, ln3}, 1, math.Log(0.75), -(0.25*math.Log(0.25) + 0.75*math.Log(0.75))},
		{"large logits stay finite", []float32{1000, 1000}, 1, -math.Log(2), math.Log(2)},
		{"very negative logits", []float32{-1000, -1000, -1000}, 0, -math.Log(3), math.Log(3)},
		{"near-deterministic", []float32{0, -200}, 1, -200, 0},
		{"-Inf logit", []float32{0, float32(math.Inf(-1))}, 0, 0, 0},
	}
	for _, tc := range cases {
		if got := CategoricalLogProb(tc.logits, tc.a); math.Abs(got-tc.wantLogP) > 1e-6*(1+math.Abs(tc.wantLogP)) {
			t.Errorf("%s: CategoricalLogProb = %.10f, want %.10f", tc.name, got, tc.wantLogP)
		}
		if got := CategoricalEntropy(tc.logits); math.Abs(got-tc.wantEntropy) > 1e-6 {
			t.Errorf("%s: CategoricalEntropy = %.10f, want %.10f", tc.name, got, tc.wantEntropy)
		}
	}
}

func TestHelpersDoNotAllocate(t *testing.T) {
	mean, ls, act := []float32{0.1, 0.2, 0.3}, []float32{-0.5, 0, 0.5}, []float32{0, 1, 2}
	logits := []float32{0.5, -1, 2, 0}
	var sink float64
	allocs := testing.AllocsPerRun(100, func() {
		sink += GaussianLogProb(mean, ls, act) + GaussianEntropy(ls) +
			CategoricalLogProb(logits, 2) + CategoricalEntropy(logits)
	})
	if allocs != 0 {
		t.Errorf("helpers allocate %v times per call", allocs)
	}
	_ = sink
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string // substring of the error, "" for valid
	}{
		{"minimal", Spec{ObsDim: 1, ActDim: 1}, ""},
		{"full", Spec{ObsDim: 11, ActDim: 3, Hidden: []int{64, 64}, Activation: "relu", InitLogStd: -0.5}, ""},
		{"discrete", Spec{ObsDim: 4, ActDim: 2, Discrete: true, Activation: "tanh"}, ""},
		{"obs", Spec{ObsDim: 0, ActDim: 1}, "ObsDim = 0, want 1 <= ObsDim"},
		{"act", Spec{ObsDim: 1, ActDim: -1}, "ActDim = -1 (continuous action dimensions), want 1 <= ActDim"},
		{"discrete act", Spec{ObsDim: 1, ActDim: 1, Discrete: true}, "ActDim = 1 (discrete actions), want 2 <= ActDim"},
		{"hidden", Spec{ObsDim: 1, ActDim: 1, Hidden: []int{64, 0}}, "hidden layer 1 size = 0, want 1 <= size"},
		{"activation", Spec{ObsDim: 1, ActDim: 1, Activation: "gelu"}, `activation = "gelu", want "tanh" (default) or "relu"`},
		{"logstd nan", Spec{ObsDim: 1, ActDim: 1, InitLogStd: float32(math.NaN())}, "InitLogStd = NaN, want a finite value"},
		{"logstd discrete", Spec{ObsDim: 1, ActDim: 2, Discrete: true, InitLogStd: 1}, "InitLogStd = 1, want 0 with Discrete"},
	}
	for _, tc := range cases {
		err := tc.spec.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	// Several problems are reported together.
	err := Spec{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "ObsDim") || !strings.Contains(err.Error(), "ActDim") {
		t.Errorf("Spec{}.Validate() = %v, want both ObsDim and ActDim named", err)
	}
	if _, err := NewGorgonia(Spec{ObsDim: 1}, 0, AdamConfig{}); err == nil {
		t.Errorf("NewGorgonia accepted an invalid Spec")
	}
	if _, err := NewGorgonia(Spec{ObsDim: 1, ActDim: 1}, 0, AdamConfig{Beta1: 1}); err == nil || !strings.Contains(err.Error(), "Beta1") {
		t.Errorf("NewGorgonia with Beta1 = 1: %v", err)
	}
}
