package nn

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func newBackend(t testing.TB, s Spec, seed uint64) Backend {
	t.Helper()
	b, err := NewGorgonia(s, seed, AdamConfig{})
	if err != nil {
		t.Fatalf("NewGorgonia(%+v): %v", s, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestGradFiniteDifference checks the gradient of the full PPO loss against
// central finite differences of the float64 reference loss (ref_test.go).
// The batch perturbs behaviour log-probs and values so that the clipped
// branches of both max() terms are taken for some samples and not for
// others. Tolerance: per element |g - fd| <= 1e-4*|fd| + 1e-5*max|fd|. The
// backend computes in float32 (observed error ~50x below this bound) while
// the float64 FD error with h = 1e-6 is ~1e-9, so a wrong branch or a
// missing term shows up as an O(1) relative error.
func TestGradFiniteDifference(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		cfg  LossConfig
		n    int // batch size, default 24
	}{
		{"gaussian/n=1", Spec{ObsDim: 2, ActDim: 2, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 1},
		{"categorical/n=1", Spec{ObsDim: 2, ActDim: 2, Discrete: true, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 1},
		{"gaussian/tanh/noclipv", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, InitLogStd: -0.3}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.05}, 0},
		{"gaussian/tanh/clipv", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, InitLogStd: 0.2}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 0},
		{"gaussian/relu/clipv", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, Activation: ActReLU}, LossConfig{ClipCoef: 0.1, VfCoef: 1, ClipVLoss: true}, 0},
		{"gaussian/1d", Spec{ObsDim: 1, ActDim: 1, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.1, ClipVLoss: true}, 0},
		{"categorical/tanh/noclipv", Spec{ObsDim: 3, ActDim: 3, Discrete: true, Hidden: []int{5, 4}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.1}, 0},
		{"categorical/relu/clipv", Spec{ObsDim: 3, ActDim: 2, Discrete: true, Hidden: []int{5, 4}, Activation: ActReLU}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.spec, uint64(100+i))
			// Make the policy head non-trivial so policy gradients are not
			// tiny, and move biases off zero: with zero biases a ReLU unit
			// behind an all-dead layer sits exactly on its kink, where the
			// central difference gives 1/2 instead of torch's 0.
			prng := rand.New(rand.NewPCG(uint64(i), 7))
			for _, p := range b.Params() {
				last := "policy." + strconv.Itoa(2*len(tc.spec.Hidden)) + "."
				switch {
				case strings.HasPrefix(p.Name, last):
					for j := range p.Data {
						p.Data[j] = float32(prng.Float64() - 0.5)
					}
				case strings.HasSuffix(p.Name, ".bias"):
					for j := range p.Data {
						p.Data[j] = float32(0.6*prng.Float64() - 0.3)
					}
				}
			}
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			n := tc.n
			if n == 0 {
				n = 24
			}
			bt := makeBatch(b, rng, n, 0.5, 0.5)
			ref := newRefNet(b)
			want := ref.loss(bt, tc.cfg)
			if n == 1 {
				// too small to mix clipped and unclipped samples
			} else if want.pgClipped == 0 || want.pgClipped == bt.N {
				t.Fatalf("test batch does not mix clipped and unclipped surrogate terms (%d of %d clipped)", want.pgClipped, bt.N)
			}
			if n > 1 && tc.cfg.ClipVLoss && (want.vClipped == 0 || want.vClipped == bt.N) {
				t.Fatalf("test batch does not mix clipped and unclipped value terms (%d of %d clipped)", want.vClipped, bt.N)
			}

			st, err := b.Grad(bt, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkLossStats(t, "", st, want)

			worst, maxFD := checkGradsFD(t, b.Grads(), ref.fdGrad(bt, tc.cfg, 1e-6))
			t.Logf("max |grad-fd|/tol = %.3f (max |fd| %.3g; %d/%d pg clipped, %d value clipped)", worst, maxFD, want.pgClipped, bt.N, want.vClipped)
		})
	}
}

// TestGraphMatchesHelpers feeds behaviour log-probs computed with the pure-Go
// helpers from Forward's outputs: the graph must then see ratio == 1
// (ApproxKL ~ 0, ClipFrac 0, PolicyLoss = -mean(adv)) and report the
// helpers' mean entropy.
func TestGraphMatchesHelpers(t *testing.T) {
	cases := []struct {
		name  string
		spec  Spec
		scale float32 // multiplies the policy head (init gain 0.01)
	}{
		{"gaussian", Spec{ObsDim: 4, ActDim: 3, Hidden: []int{8, 8}, InitLogStd: -0.5}, 100},
		{"categorical", Spec{ObsDim: 4, ActDim: 5, Discrete: true, Hidden: []int{8, 8}}, 100},
		{"categorical/large logits", Spec{ObsDim: 4, ActDim: 5, Discrete: true, Hidden: []int{8, 8}}, 1e5},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.spec, uint64(i))
			s := b.Spec()
			var logStd []float32
			for _, p := range b.Params() {
				switch {
				case p.Name == "policy.log_std":
					copy(p.Data, []float32{-0.7, 0.1, 0.4})
					logStd = p.Data
				case strings.HasPrefix(p.Name, "policy.4."):
					for j := range p.Data {
						p.Data[j] *= tc.scale
					}
				}
			}
			rng := rand.New(rand.NewPCG(9, uint64(i)))
			const n = 33
			bt := makeBatch(b, rng, n, 0, 0)
			dist := make([]float32, n*s.ActDim)
			values := make([]float32, n)
			if err := b.Forward(bt.Obs, n, dist, values); err != nil {
				t.Fatal(err)
			}
			var wantEnt, meanAdv float64
			for k := 0; k < n; k++ {
				row := dist[k*s.ActDim : (k+1)*s.ActDim]
				if s.Discrete {
					bt.LogProbs[k] = float32(CategoricalLogProb(row, int(bt.Actions[k])))
					wantEnt += CategoricalEntropy(row) / n
				} else {
					bt.LogProbs[k] = float32(GaussianLogProb(row, logStd, bt.Actions[k*s.ActDim:(k+1)*s.ActDim]))
					wantEnt += GaussianEntropy(logStd) / n
				}
				meanAdv += float64(bt.Advantages[k]) / n
			}
			st, err := b.Grad(bt, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01})
			if err != nil {
				t.Fatal(err)
			}
			if st.ApproxKL > 1e-9 || st.ApproxKL < -1e-12 {
				t.Errorf("ApproxKL = %g, want ~0 (graph log-probs differ from the helpers')", st.ApproxKL)
			}
			if st.ClipFrac != 0 {
				t.Errorf("ClipFrac = %g, want 0", st.ClipFrac)
			}
			if math.Abs(st.PolicyLoss+meanAdv) > 1e-5 {
				t.Errorf("PolicyLoss = %g, want -mean(adv) = %g", st.PolicyLoss, -meanAdv)
			}
			if math.Abs(st.Entropy-wantEnt) > 1e-5*(1+math.Abs(wantEnt)) {
				t.Errorf("Entropy = %.8g, helpers give %.8g", st.Entropy, wantEnt)
			}
		})
	}
}

// TestForwardSharedParams compiles forward graphs for several batch sizes,
// checks them against the float64 reference and checks that a write through
// Params()[i].Data is seen by every graph.
func TestForwardSharedParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"gaussian", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}}},
		{"categorical/relu", Spec{ObsDim: 2, ActDim: 4, Discrete: true, Activation: ActReLU}},
		{"1d", Spec{ObsDim: 1, ActDim: 1, Hidden: []int{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.spec, 3)
			s := b.Spec()
			rng := rand.New(rand.NewPCG(1, 2))
			sizes := []int{1, 3, 7}
			obs := map[int][]float32{}
			eval := func() (map[int][]float32, map[int][]float32) {
				dists, vals := map[int][]float32{}, map[int][]float32{}
				for _, n := range sizes {
					dists[n] = make([]float32, n*s.ActDim)
					vals[n] = make([]float32, n)
					if err := b.Forward(obs[n], n, dists[n], vals[n]); err != nil {
						t.Fatal(err)
					}
				}
				return dists, vals
			}
			check := func(stage string, dists, vals map[int][]float32) {
				ref := newRefNet(b)
				for _, n := range sizes {
					for k := 0; k < n; k++ {
						head, _, v := ref.forward(to64(obs[n][k*s.ObsDim : (k+1)*s.ObsDim]))
						if math.Abs(float64(vals[n][k])-v) > 1e-5*(1+math.Abs(v)) {
							t.Errorf("%s: n=%d value[%d] = %g, reference %g", stage, n, k, vals[n][k], v)
						}
						for j, h := range head {
							if got := float64(dists[n][k*s.ActDim+j]); math.Abs(got-h) > 1e-5*(1+math.Abs(h)) {
								t.Errorf("%s: n=%d dist[%d][%d] = %g, reference %g", stage, n, k, j, got, h)
							}
						}
					}
				}
			}
			for _, n := range sizes {
				obs[n] = randSlice(rng, n*s.ObsDim, -2, 2)
			}
			d0, v0 := eval()
			check("initial", d0, v0)

			ps := b.Params()
			last := ps[len(ps)-1] // value head bias
			if last.Name != "value."+strconv.Itoa(2*len(s.Hidden))+".bias" {
				t.Fatalf("last param is %q", last.Name)
			}
			last.Data[0] += 1.5
			for _, p := range ps {
				if p.Name == "policy.0.weight" {
					for j := range p.Data {
						p.Data[j] *= -2
					}
				}
			}
			d1, v1 := eval()
			check("after edit", d1, v1)
			for _, n := range sizes {
				for k := range v1[n] {
					if d := v1[n][k] - v0[n][k]; math.Abs(float64(d)-1.5) > 1e-4 && !strings.Contains(tc.name, "relu") {
						// with tanh the bias shift of the head passes straight through
						t.Errorf("n=%d: value[%d] moved by %g after adding 1.5 to the head bias", n, k, d)
					}
				}
			}
		})
	}
}

// TestAdamHandComputed checks two Adam steps against values worked out by
// hand (torch.optim.Adam semantics, eps added to sqrt(vhat)).
func TestAdamHandComputed(t *testing.T) {
	b := newBackend(t, Spec{ObsDim: 2, ActDim: 1, Hidden: []int{2}}, 1)
	bt := makeBatch(b, rand.New(rand.NewPCG(1, 1)), 4, 0, 0)
	if _, err := b.Grad(bt, LossConfig{ClipCoef: 0.2, VfCoef: 0.5}); err != nil {
		t.Fatal(err)
	}
	ps, gs := b.Params(), b.Grads()
	// Element 0 of every parameter: p0 = 0.5, g1 = 0.2, g2 = -0.1, lr = 0.01.
	// Step 1: m = 0.02, v = 4e-5, mhat = 0.2, vhat = 0.04
	//   p1 = 0.5 - 0.01*0.2/(0.2+1e-5)                         = 0.490000499975001
	// Step 2: m = 0.9*0.02 - 0.1*0.1 = 0.008, v = 0.999*4e-5 + 0.001*0.01 = 4.996e-5
	//   mhat = 0.008/0.19, vhat = 4.996e-5/0.001999
	//   p2 = p1 - 0.01*mhat/(sqrt(vhat)+1e-5)                  = 0.487337298039361
	want1, want2 := 0.490000499975001, 0.487337298039361
	untouched := ps[0].Data[1]
	for i := range ps {
		clear(gs[i].Data)
		ps[i].Data[0] = 0.5
		gs[i].Data[0] = 0.2
	}
	if _, err := b.Step(0.01, 0); err != nil {
		t.Fatal(err)
	}
	for i := range ps {
		if got := float64(ps[i].Data[0]); math.Abs(got-want1) > 1e-7 {
			t.Errorf("step 1: %s[0] = %.9f, want %.9f", ps[i].Name, got, want1)
		}
		gs[i].Data[0] = -0.1
	}
	if _, err := b.Step(0.01, 0); err != nil {
		t.Fatal(err)
	}
	for i := range ps {
		if got := float64(ps[i].Data[0]); math.Abs(got-want2) > 1e-7 {
			t.Errorf("step 2: %s[0] = %.9f, want %.9f", ps[i].Name, got, want2)
		}
	}
	m, v, step := b.AdamState()
	if step != 2 || math.Abs(float64(m[0].Data[0])-0.008) > 1e-6*0.008 || math.Abs(float64(v[0].Data[0])-4.996e-5) > 1e-6*4.996e-5 {
		t.Errorf("AdamState: t = %d, m[0][0] = %g (want 0.008), v[0][0] = %g (want 4.996e-5)", step, m[0].Data[0], v[0].Data[0])
	}
	// Zero-gradient elements must not move.
	if got := ps[0].Data[1]; got != untouched || gs[0].Data[1] != 0 {
		t.Errorf("element with zero gradient changed")
	}
}

// TestGradClipping checks that Step reports the pre-clip norm and scales the
// stored gradient to maxGradNorm (torch clip_grad_norm_), and leaves it alone
// when it is already smaller.
func TestGradClipping(t *testing.T) {
	cases := []struct {
		name     string
		maxNorm  float32
		wantNorm float64 // norm of the stored gradient after Step
	}{
		{"clipped", 0.5, 0.5 * 10 / (10 + 1e-6)},
		{"below-limit", 20, 10},
		{"disabled", 0, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, Spec{ObsDim: 2, ActDim: 2, Hidden: []int{3}}, 1)
			bt := makeBatch(b, rand.New(rand.NewPCG(1, 1)), 4, 0, 0)
			if _, err := b.Grad(bt, LossConfig{ClipCoef: 0.2, VfCoef: 0.5}); err != nil {
				t.Fatal(err)
			}
			gs := b.Grads()
			// A gradient of norm exactly 10: 6 and 8 in two places.
			for _, g := range gs {
				clear(g.Data)
			}
			gs[0].Data[0], gs[len(gs)-1].Data[0] = 6, -8
			before := newRefNet(b)
			norm, err := b.Step(1e-3, tc.maxNorm)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(norm)-10) > 1e-5 {
				t.Errorf("Step returned norm %g, want the pre-clip norm 10", norm)
			}
			var after float64
			for _, g := range b.Grads() {
				for _, x := range g.Data {
					after += float64(x) * float64(x)
				}
			}
			if after = math.Sqrt(after); math.Abs(after-tc.wantNorm) > 1e-5*tc.wantNorm {
				t.Errorf("gradient norm after Step = %.8g, want %.8g", after, tc.wantNorm)
			}
			// First Adam step moves every element with a non-zero gradient by ~lr.
			p := b.Params()
			if d := before.params[0][0] - float64(p[0].Data[0]); math.Abs(d-1e-3) > 1e-6 {
				t.Errorf("first Adam step moved %s[0] by %g, want ~lr = 1e-3", p[0].Name, d)
			}
		})
	}
}

// TestOrthogonal checks W·Wᵀ = gain²·I (rows <= cols) or Wᵀ·W = gain²·I
// (rows > cols), determinism and seed dependence.
func TestOrthogonal(t *testing.T) {
	cases := []struct {
		rows, cols int
		gain       float64
	}{
		{4, 4, 1}, {3, 5, math.Sqrt2}, {5, 3, math.Sqrt2}, {1, 6, 0.01}, {6, 1, 1}, {64, 11, math.Sqrt2}, {3, 64, 1},
	}
	for _, tc := range cases {
		w := Orthogonal(tc.rows, tc.cols, tc.gain, rand.New(rand.NewPCG(1, 2)))
		if len(w) != tc.rows*tc.cols {
			t.Fatalf("%d×%d: got %d values", tc.rows, tc.cols, len(w))
		}
		// k×k Gram matrix over the short side.
		k, tall := tc.rows, false
		if tc.rows > tc.cols {
			k, tall = tc.cols, true
		}
		var worst float64
		for a := 0; a < k; a++ {
			for c := 0; c < k; c++ {
				var s float64
				if tall { // (WᵀW)[a][c] = sum_r W[r][a] W[r][c]
					for r := 0; r < tc.rows; r++ {
						s += float64(w[r*tc.cols+a]) * float64(w[r*tc.cols+c])
					}
				} else { // (WWᵀ)[a][c] = sum_j W[a][j] W[c][j]
					for j := 0; j < tc.cols; j++ {
						s += float64(w[a*tc.cols+j]) * float64(w[c*tc.cols+j])
					}
				}
				want := 0.0
				if a == c {
					want = tc.gain * tc.gain
				}
				worst = math.Max(worst, math.Abs(s-want)/(tc.gain*tc.gain))
			}
		}
		if worst > 1e-6 {
			t.Errorf("%d×%d gain %g: Gram matrix differs from gain²·I by %g (relative)", tc.rows, tc.cols, tc.gain, worst)
		}
		again := Orthogonal(tc.rows, tc.cols, tc.gain, rand.New(rand.NewPCG(1, 2)))
		other := Orthogonal(tc.rows, tc.cols, tc.gain, rand.New(rand.NewPCG(2, 2)))
		same, diff := true, false
		for i := range w {
			same = same && w[i] == again[i]
			diff = diff || w[i] != other[i]
		}
		if !same || !diff {
			t.Errorf("%d×%d: same seed equal = %v, other seed different = %v; want true, true", tc.rows, tc.cols, same, diff)
		}
	}
}

// TestInit checks CleanRL's initialisation: parameter order, names, shapes,
// head gains, zero biases, log_std and determinism.
func TestInit(t *testing.T) {
	spec := Spec{ObsDim: 11, ActDim: 3, InitLogStd: -0.5}
	b := newBackend(t, spec, 42)
	want := []struct {
		name  string
		shape []int
		gain  float64 // 0 for biases/log_std
	}{
		{"policy.0.weight", []int{64, 11}, math.Sqrt2}, {"policy.0.bias", []int{64}, 0},
		{"policy.2.weight", []int{64, 64}, math.Sqrt2}, {"policy.2.bias", []int{64}, 0},
		{"policy.4.weight", []int{3, 64}, 0.01}, {"policy.4.bias", []int{3}, 0},
		{"policy.log_std", []int{3}, 0},
		{"value.0.weight", []int{64, 11}, math.Sqrt2}, {"value.0.bias", []int{64}, 0},
		{"value.2.weight", []int{64, 64}, math.Sqrt2}, {"value.2.bias", []int{64}, 0},
		{"value.4.weight", []int{1, 64}, 1}, {"value.4.bias", []int{1}, 0},
	}
	ps := b.Params()
	if len(ps) != len(want) {
		t.Fatalf("got %d params, want %d", len(ps), len(want))
	}
	for i, w := range want {
		p := ps[i]
		if p.Name != w.name || len(p.Shape) != len(w.shape) || p.Shape[0] != w.shape[0] || (len(w.shape) == 2 && p.Shape[1] != w.shape[1]) {
			t.Errorf("param %d = %s %v, want %s %v", i, p.Name, p.Shape, w.name, w.shape)
			continue
		}
		if w.gain == 0 {
			wantV := float32(0)
			if p.Name == "policy.log_std" {
				wantV = -0.5
			}
			for _, x := range p.Data {
				if x != wantV {
					t.Errorf("%s has %g, want all %g", p.Name, x, wantV)
					break
				}
			}
			continue
		}
		// Frobenius norm² of an orthogonal init is gain²·min(rows, cols).
		var ss float64
		for _, x := range p.Data {
			ss += float64(x) * float64(x)
		}
		wantSS := w.gain * w.gain * float64(min(w.shape[0], w.shape[1]))
		if math.Abs(ss-wantSS) > 1e-5*wantSS {
			t.Errorf("%s: ||W||² = %g, want gain²·min(rows,cols) = %g", p.Name, ss, wantSS)
		}
	}
	b2 := newBackend(t, spec, 42)
	b3 := newBackend(t, spec, 43)
	p2, p3 := b2.Params(), b3.Params()
	if p2[0].Data[0] != ps[0].Data[0] || p2[9].Data[5] != ps[9].Data[5] {
		t.Errorf("same seed gave different parameters")
	}
	if p3[0].Data[0] == ps[0].Data[0] {
		t.Errorf("different seeds gave equal parameters")
	}
	d := newBackend(t, Spec{ObsDim: 4, ActDim: 6, Discrete: true}, 1).Params()
	if len(d) != 12 || d[5].Name != "policy.4.bias" || d[6].Name != "value.0.weight" {
		t.Errorf("discrete params: got %d, [5]=%s [6]=%s", len(d), d[5].Name, d[6].Name)
	}
}

// TestRepeatable runs Grad twice on the same batch (different batch sizes
// in between) and checks that results are identical and that Grad leaves the
// parameters untouched (no in-place corruption of shared inputs).
func TestRepeatable(t *testing.T) {
	b := newBackend(t, Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}}, 5)
	rng := rand.New(rand.NewPCG(3, 3))
	bt := makeBatch(b, rng, 8, 0.4, 0.4)
	other := makeBatch(b, rng, 5, 0.4, 0.4)
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}
	before := newRefNet(b)
	st1, err := b.Grad(bt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g1 := newRefNetFrom(b.Grads())
	if _, err := b.Grad(other, LossConfig{ClipCoef: 0.3, VfCoef: 1}); err != nil {
		t.Fatal(err)
	}
	st2, err := b.Grad(bt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st1 != st2 {
		t.Errorf("stats differ between identical Grad calls:\n%+v\n%+v", st1, st2)
	}
	g2 := newRefNetFrom(b.Grads())
	after := newRefNet(b)
	for i := range g1 {
		for j := range g1[i] {
			if g1[i][j] != g2[i][j] {
				t.Fatalf("gradient %d[%d] differs between identical Grad calls: %g vs %g", i, j, g1[i][j], g2[i][j])
			}
			if before.params[i][j] != after.params[i][j] {
				t.Fatalf("Grad changed parameter %d[%d]", i, j)
			}
		}
	}
}

func newRefNetFrom(ps []Param) [][]float64 {
	var out [][]float64
	for _, p := range ps {
		out = append(out, to64(p.Data))
	}
	return out
}

// TestErrors checks argument validation and its messages.
func TestErrors(t *testing.T) {
	b := newBackend(t, Spec{ObsDim: 11, ActDim: 3}, 1)
	d := newBackend(t, Spec{ObsDim: 2, ActDim: 3, Discrete: true}, 1)
	good := Batch{N: 2, Obs: make([]float32, 22), Actions: make([]float32, 6), LogProbs: make([]float32, 2),
		Advantages: make([]float32, 2), Returns: make([]float32, 2), Values: make([]float32, 2)}
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"forward obs", func() error { return b.Forward(make([]float32, 40), 4, make([]float32, 12), make([]float32, 4)) },
			"nn: Forward: obs has 40 values, want n*ObsDim = 44"},
		{"forward dist", func() error { return b.Forward(make([]float32, 44), 4, make([]float32, 11), make([]float32, 4)) },
			"nn: Forward: dist has 11 values, want n*ActDim = 12"},
		{"forward n", func() error { return b.Forward(nil, 0, nil, nil) }, "nn: Forward: n = 0, want n >= 1"},
		{"grad obs", func() error { x := good; x.Obs = x.Obs[:21]; _, err := b.Grad(x, cfg); return err },
			"nn: Grad: Batch.Obs has 21 values, want N*ObsDim = 22"},
		{"grad values", func() error { x := good; x.Values = nil; _, err := b.Grad(x, cfg); return err },
			"Batch.Values has 0 values, want N (required by ClipVLoss) = 2"},
		{"grad values unused", func() error { x := good; x.Values = nil; _, err := b.Grad(x, LossConfig{ClipCoef: 0.2}); return err }, ""},
		{"grad clip", func() error { _, err := b.Grad(good, LossConfig{ClipCoef: -1}); return err }, "LossConfig.ClipCoef = -1, want ClipCoef >= 0"},
		{"discrete action", func() error {
			x := Batch{N: 2, Obs: make([]float32, 4), Actions: []float32{1, 3}, LogProbs: make([]float32, 2), Advantages: make([]float32, 2), Returns: make([]float32, 2)}
			_, err := d.Grad(x, LossConfig{ClipCoef: 0.2})
			return err
		}, "nn: Grad: Batch.Actions[1] = 3 is not an action index in [0, 3)"},
		{"step lr", func() error { _, err := b.Step(float32(math.NaN()), 0); return err }, "nn: Step: lr = NaN, want a finite lr >= 0"},
		{"adam state", func() error { return b.SetAdamState(nil, nil, 0) }, "nn: SetAdamState: got 0 m and 0 v buffers, want 13 each"},
	}
	for _, tc := range cases {
		err := tc.err()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	fresh := newBackend(t, Spec{ObsDim: 1, ActDim: 1}, 1)
	if _, err := fresh.Step(1e-3, 0); err == nil || !strings.Contains(err.Error(), "call Grad first") {
		t.Errorf("Step before Grad: %v", err)
	}
	fresh.Close()
	if err := fresh.Forward([]float32{1}, 1, []float32{0}, []float32{0}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Forward after Close: %v", err)
	}
}

// TestAdamStateRoundTrip checks SetAdamState/AdamState and that restoring
// the state reproduces the next step exactly.
func TestAdamStateRoundTrip(t *testing.T) {
	spec := Spec{ObsDim: 3, ActDim: 2, Hidden: []int{4}}
	a := newBackend(t, spec, 1)
	bt := makeBatch(a, rand.New(rand.NewPCG(4, 4)), 6, 0.3, 0.3)
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5}
	for range 3 {
		if _, err := a.Grad(bt, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Step(1e-2, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	c := newBackend(t, spec, 99)
	for i, p := range c.Params() {
		copy(p.Data, a.Params()[i].Data)
	}
	m, v, step := a.AdamState()
	var mm, vv [][]float32
	for i := range m {
		mm = append(mm, m[i].Data)
		vv = append(vv, v[i].Data)
	}
	if err := c.SetAdamState(mm, vv, step); err != nil {
		t.Fatal(err)
	}
	for _, x := range []Backend{a, c} {
		if _, err := x.Grad(bt, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := x.Step(1e-2, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	pa, pc := a.Params(), c.Params()
	for i := range pa {
		for j := range pa[i].Data {
			if pa[i].Data[j] != pc[i].Data[j] {
				t.Fatalf("%s[%d]: %g vs %g after restoring Adam state", pa[i].Name, j, pa[i].Data[j], pc[i].Data[j])
			}
		}
	}
	if _, _, tc := c.AdamState(); tc != 4 {
		t.Errorf("t = %d, want 4", tc)
	}
}

// TestReLUGradAtZero checks torch's convention relu'(0) = 0: with the first
// layer's weights and biases zeroed every pre-activation is exactly 0, so no
// gradient may reach the first layer (gorgonia's Rectify would pass it).
func TestReLUGradAtZero(t *testing.T) {
	b := newBackend(t, Spec{ObsDim: 3, ActDim: 2, Hidden: []int{4, 4}, Activation: ActReLU}, 1)
	for _, p := range b.Params() {
		if strings.HasPrefix(p.Name, "policy.0.") || strings.HasPrefix(p.Name, "value.0.") {
			clear(p.Data)
		}
	}
	bt := makeBatch(b, rand.New(rand.NewPCG(5, 5)), 8, 0.3, 0.3)
	if _, err := b.Grad(bt, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01}); err != nil {
		t.Fatal(err)
	}
	for _, g := range b.Grads() {
		if !strings.Contains(g.Name, ".0.") {
			continue
		}
		for j, x := range g.Data {
			if x != 0 {
				t.Errorf("%s[%d] = %g, want 0 (relu'(0) = 0)", g.Name, j, x)
				break
			}
		}
	}
}
