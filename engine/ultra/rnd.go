package ultra

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ultra-rl/ultra/engine/nn"
)

// RND is random network distillation (Burda et al. 2018, "Exploration by
// Random Network Distillation"): a fixed, randomly initialised target
// network f and a predictor f̂ trained online to match it on the states
// visited. The prediction error ‖f̂(s) − f(s)‖² stays high on states unlike
// those seen, so it scores novelty. The variants llm-rnd (novelty instead
// of the advisor's reward at critical states, the paper's reward baseline)
// and rnd (novelty at every state), and RICE's exploration bonus, use it.
//
// As in Burda et al., observations are normalised — here with the policy's
// own normaliser, frozen at the checkpoint — and clipped to ±ObsClip; the
// score is the error divided by the running standard deviation of the
// errors, so that alpha means the same on every task.
type RND struct {
	cfg    RNDConfig
	in     int
	target mlp
	pred   mlp
	// Adam state of the predictor's parameters.
	grad, m, v []float64
	t          int
	pending    int // samples in grad since the last update
	// Running mean and variance of the raw errors (Welford).
	n, mean, m2 float64
	x           []float64 // the clipped input of the current state
	ty          []float64 // the target's output for it
}

// RNDConfig sizes and trains the RND networks. The zero value takes the
// defaults.
type RNDConfig struct {
	Hidden       []int   // hidden layer widths of both networks; default [64, 64]
	Out          int     // embedding size; default 32
	LearningRate float64 // the predictor's Adam step; default 1e-3
	Batch        int     // states per predictor update; default 64
	ObsClip      float64 // normalised observations are clipped to ±ObsClip; default 5
	Seed         uint64  // draws both networks' initial weights
}

func (c RNDConfig) withDefaults() RNDConfig {
	if len(c.Hidden) == 0 {
		c.Hidden = []int{64, 64}
	}
	if c.Out == 0 {
		c.Out = 32
	}
	if c.LearningRate == 0 {
		c.LearningRate = 1e-3
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.ObsClip == 0 {
		c.ObsClip = 5
	}
	return c
}

// NewRND makes the networks for observations of obsDim values (already
// normalised by the caller).
func NewRND(obsDim int, cfg RNDConfig) (*RND, error) {
	cfg = cfg.withDefaults()
	if obsDim < 1 || cfg.Out < 1 || cfg.Batch < 1 || !(cfg.LearningRate > 0) || !(cfg.ObsClip > 0) {
		return nil, fmt.Errorf("ultra: RND: invalid sizes (obs %d, out %d, batch %d, lr %v, clip %v)", obsDim, cfg.Out, cfg.Batch, cfg.LearningRate, cfg.ObsClip)
	}
	for _, h := range cfg.Hidden {
		if h < 1 {
			return nil, fmt.Errorf("ultra: RND: hidden width %d", h)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7d))
	sizes := append(append([]int{obsDim}, cfg.Hidden...), cfg.Out)
	r := &RND{cfg: cfg, in: obsDim, target: newMLP(sizes, rng), pred: newMLP(sizes, rng),
		x: make([]float64, obsDim), ty: make([]float64, cfg.Out)}
	np := len(r.pred.params)
	r.grad, r.m, r.v = make([]float64, np), make([]float64, np), make([]float64, np)
	return r, nil
}

// Score returns obs's novelty — the predictor's error on it divided by the
// running std of the errors seen so far (the raw error until two have been
// seen) — and then trains the predictor on obs: one gradient is added per
// call and Adam steps once per Batch calls. obs is normalised already.
func (r *RND) Score(obs []float32) float64 {
	for i, v := range obs {
		r.x[i] = math.Max(-r.cfg.ObsClip, math.Min(r.cfg.ObsClip, float64(v)))
	}
	copy(r.ty, r.target.forward(r.x))
	p := r.pred.forward(r.x)
	var e float64
	for i := range p {
		d := p[i] - r.ty[i]
		e += d * d
	}
	e /= float64(len(p))
	score := e
	if r.n >= 2 {
		score = e / math.Sqrt(r.m2/(r.n-1)+1e-12)
	}
	r.n++
	d := e - r.mean
	r.mean += d / r.n
	r.m2 += d * (e - r.mean)
	// dLoss/dp for loss = mean (p − t)², accumulated for the batch.
	r.pred.backward(r.ty, 2/float64(len(p)), r.grad)
	if r.pending++; r.pending == r.cfg.Batch {
		r.step()
	}
	return score
}

// Error returns the predictor's raw error on obs without training (for
// tests and diagnostics).
func (r *RND) Error(obs []float32) float64 {
	x := make([]float64, len(obs))
	for i, v := range obs {
		x[i] = math.Max(-r.cfg.ObsClip, math.Min(r.cfg.ObsClip, float64(v)))
	}
	t := append([]float64(nil), r.target.forward(x)...)
	p := r.pred.forward(x)
	var e float64
	for i := range p {
		e += (p[i] - t[i]) * (p[i] - t[i])
	}
	return e / float64(len(p))
}

// step applies Adam (β 0.9, 0.999) to the predictor with the mean gradient
// of the pending batch.
func (r *RND) step() {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	r.t++
	c1, c2 := 1-math.Pow(b1, float64(r.t)), 1-math.Pow(b2, float64(r.t))
	inv := 1 / float64(r.pending)
	for i, g := range r.grad {
		g *= inv
		r.m[i] = b1*r.m[i] + (1-b1)*g
		r.v[i] = b2*r.v[i] + (1-b2)*g*g
		r.pred.params[i] -= r.cfg.LearningRate * (r.m[i] / c1) / (math.Sqrt(r.v[i]/c2) + eps)
		r.grad[i] = 0
	}
	r.pending = 0
}

// mlp is a small fully connected ReLU network in float64 with its
// activations kept for one backward pass: layer l maps sizes[l] to
// sizes[l+1] (weights row-major [out, in], then biases) and all but the
// last are followed by ReLU.
type mlp struct {
	sizes  []int
	params []float64
	off    []int       // offset of layer l's weights in params
	acts   [][]float64 // acts[0] = input, acts[l+1] = layer l's output
	deltas [][]float64 // dLoss/d(pre-activation) of each layer
}

func newMLP(sizes []int, rng *rand.Rand) mlp {
	m := mlp{sizes: sizes, acts: make([][]float64, len(sizes)), deltas: make([][]float64, len(sizes)-1)}
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		m.off = append(m.off, len(m.params))
		for _, w := range nn.Orthogonal(out, in, math.Sqrt2, rng) {
			m.params = append(m.params, float64(w))
		}
		m.params = append(m.params, make([]float64, out)...)
		m.acts[l+1] = make([]float64, out)
		m.deltas[l] = make([]float64, out)
	}
	return m
}

// forward returns the output for x (aliasing internal storage).
func (m *mlp) forward(x []float64) []float64 {
	m.acts[0] = x
	last := len(m.sizes) - 2
	for l := 0; l <= last; l++ {
		in, out := m.sizes[l], m.sizes[l+1]
		w := m.params[m.off[l] : m.off[l]+in*out]
		b := m.params[m.off[l]+in*out : m.off[l]+in*out+out]
		a, y := m.acts[l], m.acts[l+1]
		for o := 0; o < out; o++ {
			s := b[o]
			row := w[o*in : (o+1)*in]
			for i, xi := range a {
				s += row[i] * xi
			}
			if l < last && s < 0 {
				s = 0
			}
			y[o] = s
		}
	}
	return m.acts[len(m.acts)-1]
}

// backward adds to grad the gradient of scale·½‖y − target‖²·2 — that is,
// of scale × Σ (y − target)² / 2 per output, scale·(y − target) — for the
// input of the last forward.
func (m *mlp) backward(target []float64, scale float64, grad []float64) {
	last := len(m.sizes) - 2
	y := m.acts[last+1]
	for o := range y {
		m.deltas[last][o] = scale * (y[o] - target[o])
	}
	for l := last; l >= 0; l-- {
		in, out := m.sizes[l], m.sizes[l+1]
		w := m.params[m.off[l] : m.off[l]+in*out]
		gw := grad[m.off[l] : m.off[l]+in*out]
		gb := grad[m.off[l]+in*out : m.off[l]+in*out+out]
		a, d := m.acts[l], m.deltas[l]
		for o := 0; o < out; o++ {
			gb[o] += d[o]
			row := gw[o*in : (o+1)*in]
			for i, ai := range a {
				row[i] += d[o] * ai
			}
		}
		if l == 0 {
			break
		}
		prev := m.deltas[l-1]
		for i := 0; i < in; i++ {
			if m.acts[l][i] <= 0 { // ReLU
				prev[i] = 0
				continue
			}
			var s float64
			for o := 0; o < out; o++ {
				s += w[o*in+i] * d[o]
			}
			prev[i] = s
		}
	}
}
