package ppo

import "math"

// RunningMeanStd tracks the mean and variance of a stream of vectors with
// Chan et al.'s parallel update, as gym's RunningMeanStd (count starts at
// 1e-4 so the first batch dominates).
type RunningMeanStd struct {
	Mean, Var []float64
	Count     float64
	bMean     []float64 // scratch
	bVar      []float64
}

// NewRunningMeanStd starts with mean 0 and variance 1 over dim values.
func NewRunningMeanStd(dim int) *RunningMeanStd {
	r := &RunningMeanStd{Mean: make([]float64, dim), Var: make([]float64, dim), Count: 1e-4,
		bMean: make([]float64, dim), bVar: make([]float64, dim)}
	for i := range r.Var {
		r.Var[i] = 1
	}
	return r
}

// Update folds n rows of x (n × dim) into the statistics.
func (r *RunningMeanStd) Update(x []float32, n int) {
	d := len(r.Mean)
	clear(r.bMean)
	clear(r.bVar)
	for i := 0; i < n; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			r.bMean[j] += float64(v)
		}
	}
	for j := range r.bMean {
		r.bMean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			dv := float64(v) - r.bMean[j]
			r.bVar[j] += dv * dv
		}
	}
	bc := float64(n)
	tot := r.Count + bc
	for j := range r.Mean {
		bv := r.bVar[j] / bc
		delta := r.bMean[j] - r.Mean[j]
		m2 := r.Var[j]*r.Count + bv*bc + delta*delta*r.Count*bc/tot
		r.Mean[j] += delta * bc / tot
		r.Var[j] = m2 / tot
	}
	r.Count = tot
}

// normEps keeps the normaliser's division finite (gym's epsilon).
const normEps = 1e-8

// Normalize writes (x - mean)/sqrt(var + 1e-8), clipped to ±clip, for n rows.
func (r *RunningMeanStd) Normalize(dst, x []float32, n int, clip float64) {
	d := len(r.Mean)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			v := (float64(x[i*d+j]) - r.Mean[j]) / math.Sqrt(r.Var[j]+normEps)
			dst[i*d+j] = float32(math.Max(-clip, math.Min(clip, v)))
		}
	}
}

// RewardScaler divides rewards by the running standard deviation of each
// env's discounted return (gym's NormalizeReward, SB3's VecNormalize), then
// clips them.
type RewardScaler struct {
	Returns []float64 // per env discounted return so far
	RMS     *RunningMeanStd
	Gamma   float64
	Clip    float64
	buf     []float32
}

// NewRewardScaler tracks n envs.
func NewRewardScaler(n int, gamma, clip float64) *RewardScaler {
	return &RewardScaler{Returns: make([]float64, n), RMS: NewRunningMeanStd(1), Gamma: gamma, Clip: clip, buf: make([]float32, n)}
}

// Scale updates the statistics with this step's rewards and returns, in
// place, the scaled rewards. ended[i] resets env i's discounted return.
func (s *RewardScaler) Scale(rew []float32, ended []bool) {
	for i, r := range rew {
		s.Returns[i] = s.Returns[i]*s.Gamma + float64(r)
		s.buf[i] = float32(s.Returns[i])
	}
	s.RMS.Update(s.buf, len(rew))
	std := math.Sqrt(s.RMS.Var[0] + normEps)
	for i, r := range rew {
		rew[i] = float32(math.Max(-s.Clip, math.Min(s.Clip, float64(r)/std)))
		if ended[i] {
			s.Returns[i] = 0
		}
	}
}

// Std returns the standard deviations the normaliser divides by,
// sqrt(var + 1e-8): the scale of one unit of normalised observation.
func (s RMSState) Std() []float64 {
	std := make([]float64, len(s.Var))
	for i, v := range s.Var {
		std[i] = math.Sqrt(v + normEps)
	}
	return std
}
