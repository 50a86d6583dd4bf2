package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// This file holds a plain float64 re-implementation of the networks and of
// CleanRL's PPO loss, written directly from the formulas and independent of
// the gorgonia graphs; tests compare the backend against it.

// refNet is a float64 copy of a backend's parameters in Params order.
type refNet struct {
	spec   Spec
	params [][]float64
}

// newRefNet copies the current parameters of b.
func newRefNet(b Backend) *refNet {
	r := &refNet{spec: b.Spec()}
	for _, p := range b.Params() {
		r.params = append(r.params, to64(p.Data))
	}
	return r
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// mlp runs one MLP whose Linear layers start at params[first]; it returns
// the output and the index of the first parameter after the MLP.
func (r *refNet) mlp(first int, x []float64) ([]float64, int) {
	layers := len(r.spec.Hidden) + 1
	h := x
	for l := 0; l < layers; l++ {
		w, b := r.params[first+2*l], r.params[first+2*l+1]
		out := len(b)
		in := len(h)
		z := make([]float64, out)
		for o := 0; o < out; o++ {
			s := b[o]
			for i := 0; i < in; i++ {
				s += w[o*in+i] * h[i]
			}
			if l+1 < layers {
				if r.spec.Activation == ActReLU {
					s = math.Max(s, 0)
				} else {
					s = math.Tanh(s)
				}
			}
			z[o] = s
		}
		h = z
	}
	return h, first + 2*layers
}

// forward returns the policy head output, log_std (nil when discrete) and
// value for one observation.
func (r *refNet) forward(obs []float64) (head, logStd []float64, value float64) {
	head, next := r.mlp(0, obs)
	if !r.spec.Discrete {
		logStd = r.params[next]
		next++
	}
	v, _ := r.mlp(next, obs)
	return head, logStd, v[0]
}

// logProbEntropy returns log π(a|s) and the entropy of π(·|s).
func (r *refNet) logProbEntropy(head, logStd, act []float64) (float64, float64) {
	if r.spec.Discrete {
		m := math.Inf(-1)
		for _, l := range head {
			m = math.Max(m, l)
		}
		var s float64
		for _, l := range head {
			s += math.Exp(l - m)
		}
		lse := m + math.Log(s)
		var ent float64
		for _, l := range head {
			ent -= math.Exp(l-lse) * (l - lse)
		}
		return head[int(act[0])] - lse, ent
	}
	var lp, ent float64
	for j, mu := range head {
		std := math.Exp(logStd[j])
		z := (act[j] - mu) / std
		lp += -0.5*z*z - logStd[j] - 0.5*math.Log(2*math.Pi)
		ent += 0.5 + 0.5*math.Log(2*math.Pi) + logStd[j]
	}
	return lp, ent
}

// refLoss mirrors CleanRL's PPO update for one minibatch.
type refLoss struct {
	loss, pg, vloss, ent, kl, clipFrac float64
	pgClipped, vClipped                int // samples whose max picked the clipped term (strictly)
}

func (r *refNet) loss(b Batch, c LossConfig) refLoss {
	s := r.spec
	return refPPOLoss(b, c, func(i int) (logp, ent, v float64) {
		obs := to64(b.Obs[i*s.ObsDim : (i+1)*s.ObsDim])
		var act []float64
		if s.Discrete {
			act = []float64{float64(b.Actions[i])}
		} else {
			act = to64(b.Actions[i*s.ActDim : (i+1)*s.ActDim])
		}
		head, logStd, v := r.forward(obs)
		logp, ent = r.logProbEntropy(head, logStd, act)
		return logp, ent, v
	})
}

// refPPOLoss is CleanRL's PPO minibatch loss in float64 given, per sample
// i, the policy's log-prob of the taken action, its entropy and the value.
func refPPOLoss(b Batch, c LossConfig, sample func(i int) (logp, ent, v float64)) refLoss {
	clip := float64(c.ClipCoef)
	var out refLoss
	n := float64(b.N)
	for i := 0; i < b.N; i++ {
		lp, ent, v := sample(i)
		logRatio := lp - float64(b.LogProbs[i])
		ratio := math.Exp(logRatio)
		out.kl += ((ratio - 1) - logRatio) / n
		if math.Abs(ratio-1) > clip {
			out.clipFrac += 1 / n
		}
		adv := float64(b.Advantages[i])
		pg1 := -adv * ratio
		pg2 := -adv * math.Min(math.Max(ratio, 1-clip), 1+clip)
		if pg2 > pg1 {
			out.pgClipped++
		}
		out.pg += math.Max(pg1, pg2) / n
		ret := float64(b.Returns[i])
		unclipped := (v - ret) * (v - ret)
		if c.ClipVLoss {
			old := float64(b.Values[i])
			vc := old + math.Min(math.Max(v-old, -clip), clip)
			clipped := (vc - ret) * (vc - ret)
			if clipped > unclipped {
				out.vClipped++
			}
			out.vloss += 0.5 * math.Max(unclipped, clipped) / n
		} else {
			out.vloss += 0.5 * unclipped / n
		}
		out.ent += ent / n
	}
	out.loss = out.pg - float64(c.EntCoef)*out.ent + float64(c.VfCoef)*out.vloss
	return out
}

// checkLossStats compares a backend's loss statistics with the reference's
// to 1e-5 relative; prefix starts each error.
func checkLossStats(t *testing.T, prefix string, st LossStats, want refLoss) {
	t.Helper()
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		{"Loss", st.Loss, want.loss}, {"PolicyLoss", st.PolicyLoss, want.pg}, {"ValueLoss", st.ValueLoss, want.vloss},
		{"Entropy", st.Entropy, want.ent}, {"ApproxKL", st.ApproxKL, want.kl}, {"ClipFrac", st.ClipFrac, want.clipFrac},
	} {
		if math.Abs(x.got-x.want) > 1e-5*(1+math.Abs(x.want)) {
			t.Errorf("%s%s = %.8g, reference %.8g", prefix, x.name, x.got, x.want)
		}
	}
}

// checkGradsFD compares every gradient value with the finite-difference
// gradient fd (in Params order) to 1e-4 relative plus 1e-5 of the largest
// |fd|, and returns the worst |diff|/tol and that largest |fd|.
func checkGradsFD(t *testing.T, grads []Param, fd [][]float64) (worst, maxFD float64) {
	t.Helper()
	for _, g := range fd {
		for _, x := range g {
			maxFD = math.Max(maxFD, math.Abs(x))
		}
	}
	for pi, p := range grads {
		for j, g := range p.Data {
			want := fd[pi][j]
			diff := math.Abs(float64(g) - want)
			tol := 1e-4*math.Abs(want) + 1e-5*maxFD
			worst = math.Max(worst, diff/tol)
			if diff > tol {
				t.Errorf("grad %s[%d] = %.8g, finite difference %.8g (|diff| %.3g > tol %.3g)", p.Name, j, g, want, diff, tol)
			}
		}
	}
	return worst, maxFD
}

// fdGrad returns the central finite-difference gradient of the reference
// loss with respect to every parameter, in float64.
func (r *refNet) fdGrad(b Batch, c LossConfig, h float64) [][]float64 {
	g := make([][]float64, len(r.params))
	for i, p := range r.params {
		g[i] = make([]float64, len(p))
		for j := range p {
			orig := p[j]
			p[j] = orig + h
			lp := r.loss(b, c).loss
			p[j] = orig - h
			lm := r.loss(b, c).loss
			p[j] = orig
			g[i][j] = (lp - lm) / (2 * h)
		}
	}
	return g
}

// randSlice returns n values drawn uniformly from [lo, hi).
func randSlice(rng *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return out
}

// makeBatch builds a random minibatch for b. Behaviour log-probs and values
// are the current network's, perturbed by up to ±logpNoise and ±valueNoise,
// so that some ratios and values fall outside the clip range.
func makeBatch(b Backend, rng *rand.Rand, n int, logpNoise, valueNoise float64) Batch {
	s := b.Spec()
	bt := Batch{N: n, Obs: randSlice(rng, n*s.ObsDim, -2, 2)}
	if s.Discrete {
		bt.Actions = make([]float32, n)
		for i := range bt.Actions {
			bt.Actions[i] = float32(rng.IntN(s.ActDim))
		}
	} else {
		bt.Actions = randSlice(rng, n*s.ActDim, -1.5, 1.5)
	}
	r := newRefNet(b)
	bt.LogProbs = make([]float32, n)
	bt.Values = make([]float32, n)
	for i := 0; i < n; i++ {
		var act []float64
		if s.Discrete {
			act = []float64{float64(bt.Actions[i])}
		} else {
			act = to64(bt.Actions[i*s.ActDim : (i+1)*s.ActDim])
		}
		head, logStd, v := r.forward(to64(bt.Obs[i*s.ObsDim : (i+1)*s.ObsDim]))
		lp, _ := r.logProbEntropy(head, logStd, act)
		bt.LogProbs[i] = float32(lp + logpNoise*(2*rng.Float64()-1))
		bt.Values[i] = float32(v + valueNoise*(2*rng.Float64()-1))
	}
	bt.Advantages = randSlice(rng, n, -1.5, 1.5)
	bt.Returns = randSlice(rng, n, -1, 1)
	return bt
}
