package ultra

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRNDGradient checks the predictor's backward pass against central
// differences of the loss mean (p − t)².
func TestRNDGradient(t *testing.T) {
	r, err := NewRND(5, RNDConfig{Hidden: []int{7, 6}, Out: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.3, -1.2, 0.8, 2.1, -0.4}
	tgt := append([]float64(nil), r.target.forward(x)...)
	loss := func() float64 {
		p := r.pred.forward(x)
		var e float64
		for i := range p {
			e += (p[i] - tgt[i]) * (p[i] - tgt[i])
		}
		return e / float64(len(p))
	}
	grad := make([]float64, len(r.pred.params))
	loss()
	r.pred.backward(tgt, 2/float64(len(tgt)), grad)
	worst := 0.0
	for i := range r.pred.params {
		old := r.pred.params[i]
		r.pred.params[i] = old + 1e-6
		up := loss()
		r.pred.params[i] = old - 1e-6
		down := loss()
		r.pred.params[i] = old
		num := (up - down) / 2e-6
		worst = math.Max(worst, math.Abs(num-grad[i])/math.Max(1e-6, math.Abs(num)+math.Abs(grad[i])))
	}
	if worst > 1e-5 {
		t.Fatalf("worst relative gradient error %v", worst)
	}
}

// TestRNDErrorFallsOnSeenStates: trained online on a set of states, the
// predictor's error on them falls well below its error on states it has
// not seen, which is what makes the error a novelty score.
func TestRNDErrorFallsOnSeenStates(t *testing.T) {
	r, err := NewRND(11, RNDConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	draw := func(shift float64) []float32 {
		s := make([]float32, 11)
		for i := range s {
			s[i] = float32(rng.NormFloat64()*0.5 + shift)
		}
		return s
	}
	var seen, unseen [][]float32
	for i := 0; i < 64; i++ {
		seen, unseen = append(seen, draw(0)), append(unseen, draw(2))
	}
	mean := func(set [][]float32) float64 {
		var e float64
		for _, s := range set {
			e += r.Error(s)
		}
		return e / float64(len(set))
	}
	before := mean(seen)
	var scores []float64
	for epoch := 0; epoch < 300; epoch++ {
		for _, s := range seen {
			scores = append(scores, r.Score(s))
		}
	}
	after, novel := mean(seen), mean(unseen)
	t.Logf("error on seen states %.4g → %.4g, on unseen states %.4g", before, after, novel)
	if after > before/10 || novel < 5*after {
		t.Fatalf("seen %.4g → %.4g, unseen %.4g: want a tenfold drop on seen states and unseen ones 5× above", before, after, novel)
	}
	for _, s := range scores {
		if math.IsNaN(s) || s < 0 {
			t.Fatalf("score %v", s)
		}
	}
}

// TestRNDScoreAllocatesNothing: the bonus is computed on every env step.
func TestRNDScoreAllocatesNothing(t *testing.T) {
	r, _ := NewRND(11, RNDConfig{})
	obs := make([]float32, 11)
	if n := testing.AllocsPerRun(200, func() { r.Score(obs) }); n != 0 {
		t.Fatalf("%v allocations per Score", n)
	}
}
