package nn

import (
	"fmt"
	"math"
)

// halfLog2Pi is 0.5*log(2π), the per-dimension constant of a Gaussian
// log-density.
var halfLog2Pi = 0.5 * math.Log(2*math.Pi)

// GaussianLogProb returns the log-density of action under a diagonal
// Gaussian with the given mean and log standard deviation, summed over
// dimensions (torch Normal(mean, exp(logStd)).log_prob(action).sum(-1)):
//
//	sum_i -0.5*((a_i-mu_i)/std_i)^2 - logStd_i - 0.5*log(2π)
//
// The maths is done in float64. It panics if the three slices differ in
// length.
func GaussianLogProb(mean, logStd, action []float32) float64 {
	if len(mean) != len(logStd) || len(action) != len(mean) {
		panic(fmt.Sprintf("nn: GaussianLogProb: len(mean) = %d, len(logStd) = %d, len(action) = %d, want equal lengths",
			len(mean), len(logStd), len(action)))
	}
	var s float64
	for i, mu := range mean {
		ls := float64(logStd[i])
		z := (float64(action[i]) - float64(mu)) * math.Exp(-ls)
		s += -0.5*z*z - ls - halfLog2Pi
	}
	return s
}

// GaussianEntropy returns the entropy of a diagonal Gaussian with the given
// log standard deviations, summed over dimensions:
//
//	sum_i 0.5 + 0.5*log(2π) + logStd_i
func GaussianEntropy(logStd []float32) float64 {
	var s float64
	for _, ls := range logStd {
		s += 0.5 + halfLog2Pi + float64(ls)
	}
	return s
}

// logSumExp returns log(sum(exp(logits))) and max(logits), computed stably
// in float64.
func logSumExp(logits []float32) (lse, max float64) {
	max = math.Inf(-1)
	for _, l := range logits {
		if float64(l) > max {
			max = float64(l)
		}
	}
	if math.IsInf(max, 0) {
		// All -Inf (or some +Inf): there is no meaningful finite shift.
		return max, max
	}
	var s float64
	for _, l := range logits {
		s += math.Exp(float64(l) - max)
	}
	return max + math.Log(s), max
}

// CategoricalLogProb returns log softmax(logits)[a], computed stably in
// float64 (torch Categorical(logits=logits).log_prob(a)). It panics if a is
// out of range.
func CategoricalLogProb(logits []float32, a int) float64 {
	if a < 0 || a >= len(logits) {
		panic(fmt.Sprintf("nn: CategoricalLogProb: action %d out of range [0, %d)", a, len(logits)))
	}
	lse, _ := logSumExp(logits)
	return float64(logits[a]) - lse
}

// CategoricalEntropy returns -sum_i p_i*log(p_i) with p = softmax(logits),
// computed stably in float64. Actions with zero probability contribute 0.
func CategoricalEntropy(logits []float32) float64 {
	lse, _ := logSumExp(logits)
	var h float64
	for _, l := range logits {
		lp := float64(l) - lse
		p := math.Exp(lp)
		if p == 0 {
			continue
		}
		h -= p * lp
	}
	return h
}
