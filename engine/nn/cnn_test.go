package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// tinyImageSpec is the smallest Nature-CNN: 36×36 inputs give conv outputs
// 8×8, 3×3 and 1×1, so the flattened torso has 64 features.
var tinyImageSpec = Spec{ObsDim: 2 * 36 * 36, ActDim: 6, Discrete: true, Image: [3]int{2, 36, 36}}

// refCNN is a float64 re-implementation of the CNN with direct convolution
// loops, independent of the gorgonia graph (no im2col, no transposes).
type refCNN struct {
	spec   Spec
	params [][]float64 // Params order
}

func newRefCNN(b Backend) *refCNN {
	r := &refCNN{spec: b.Spec()}
	for _, p := range b.Params() {
		r.params = append(r.params, to64(p.Data))
	}
	return r
}

// conv is a valid 2-D convolution (cross-correlation, as torch) of the
// [in, h, w] image x with the [out, in, k, k] weight w plus bias, followed
// by ReLU.
func refConvReLU(x []float64, in, h, w int, wt, bias []float64, out, k, stride int) ([]float64, int, int) {
	oh, ow := (h-k)/stride+1, (w-k)/stride+1
	y := make([]float64, out*oh*ow)
	for o := 0; o < out; o++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				s := bias[o]
				for c := 0; c < in; c++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							s += wt[((o*in+c)*k+ky)*k+kx] * x[(c*h+oy*stride+ky)*w+ox*stride+kx]
						}
					}
				}
				y[(o*oh+oy)*ow+ox] = math.Max(s, 0)
			}
		}
	}
	return y, oh, ow
}

// refLinear returns W·x + b (optionally ReLU'd) for W in [out, in] layout.
func refLinear(wt, bias, x []float64, reluOut bool) []float64 {
	out, in := len(bias), len(x)
	y := make([]float64, out)
	for o := range y {
		s := bias[o]
		for i, v := range x {
			s += wt[o*in+i] * v
		}
		if reluOut {
			s = math.Max(s, 0)
		}
		y[o] = s
	}
	return y
}

// forward returns the logits and the value of one observation.
func (r *refCNN) forward(obs []float64) ([]float64, float64) {
	c, h, w := r.spec.Image[0], r.spec.Image[1], r.spec.Image[2]
	x := obs
	p := r.params
	specs := []struct{ out, k, s int }{{32, 8, 4}, {64, 4, 2}, {64, 3, 1}}
	for i, cv := range specs {
		x, h, w = refConvReLU(x, c, h, w, p[2*i], p[2*i+1], cv.out, cv.k, cv.s)
		c = cv.out
	}
	hid := refLinear(p[6], p[7], x, true) // x is already channel-major flat
	logits := refLinear(p[8], p[9], hid, false)
	v := refLinear(p[10], p[11], hid, false)
	return logits, v[0]
}

// loss is refNet.loss for the categorical CNN.
func (r *refCNN) loss(b Batch, c LossConfig) refLoss {
	d := r.spec.ObsDim
	lp := &refNet{spec: r.spec}
	return refPPOLoss(b, c, func(i int) (logp, ent, v float64) {
		logits, v := r.forward(to64(b.Obs[i*d : (i+1)*d]))
		logp, ent = lp.logProbEntropy(logits, nil, []float64{float64(b.Actions[i])})
		return logp, ent, v
	})
}

// makeCNNBatch builds a random minibatch with observations in [0, 1) and
// behaviour log-probs/values perturbed around the current network's.
func makeCNNBatch(r *refCNN, rng *rand.Rand, n int) Batch {
	s := r.spec
	bt := Batch{N: n, Obs: randSlice(rng, n*s.ObsDim, 0, 1), Actions: make([]float32, n),
		LogProbs: make([]float32, n), Values: make([]float32, n)}
	lp := &refNet{spec: s}
	for i := 0; i < n; i++ {
		bt.Actions[i] = float32(rng.IntN(s.ActDim))
		logits, v := r.forward(to64(bt.Obs[i*s.ObsDim : (i+1)*s.ObsDim]))
		l, _ := lp.logProbEntropy(logits, nil, []float64{float64(bt.Actions[i])})
		bt.LogProbs[i] = float32(l + 0.5*(2*rng.Float64()-1))
		bt.Values[i] = float32(v + 0.5*(2*rng.Float64()-1))
	}
	bt.Advantages = randSlice(rng, n, -1.5, 1.5)
	bt.Returns = randSlice(rng, n, -1, 1)
	return bt
}

// perturbCNN moves biases off zero (so no ReLU sits on its kink, where a
// central difference disagrees with torch's derivative) and makes the actor
// head non-trivial so that policy gradients are not tiny.
func perturbCNN(b Backend, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, p := range b.Params() {
		switch {
		case p.Name == "actor.weight":
			for j := range p.Data {
				p.Data[j] = float32(0.2 * (rng.Float64() - 0.5))
			}
		case strings.HasSuffix(p.Name, ".bias"):
			for j := range p.Data {
				p.Data[j] = float32(0.2*rng.Float64() - 0.1)
			}
		}
	}
}

func TestCNNParams(t *testing.T) {
	b := newBackend(t, tinyImageSpec, 1)
	want := []struct {
		name  string
		shape []int
	}{
		{"torso.0.weight", []int{32, 2, 8, 8}}, {"torso.0.bias", []int{32}},
		{"torso.2.weight", []int{64, 32, 4, 4}}, {"torso.2.bias", []int{64}},
		{"torso.4.weight", []int{64, 64, 3, 3}}, {"torso.4.bias", []int{64}},
		{"torso.7.weight", []int{512, 64}}, {"torso.7.bias", []int{512}},
		{"actor.weight", []int{6, 512}}, {"actor.bias", []int{6}},
		{"critic.weight", []int{1, 512}}, {"critic.bias", []int{1}},
	}
	ps := b.Params()
	if len(ps) != len(want) {
		t.Fatalf("%d params, want %d", len(ps), len(want))
	}
	gains := map[string]float64{"actor.weight": 0.01, "critic.weight": 1}
	for i, w := range want {
		p := ps[i]
		if p.Name != w.name || !equalInts(p.Shape, w.shape) {
			t.Errorf("param %d = %s %v, want %s %v", i, p.Name, p.Shape, w.name, w.shape)
			continue
		}
		if strings.HasSuffix(p.Name, ".bias") {
			for _, x := range p.Data {
				if x != 0 {
					t.Errorf("%s not zero-initialised", p.Name)
					break
				}
			}
			continue
		}
		// Orthogonal over [out, in*kh*kw]: W·Wᵀ = gain²·I when out <= cols,
		// Wᵀ·W = gain²·I otherwise.
		gain, ok := gains[p.Name]
		if !ok {
			gain = math.Sqrt2
		}
		rows := p.Shape[0]
		cols := len(p.Data) / rows
		at := func(r, c int) float64 { return float64(p.Data[r*cols+c]) }
		vecs, length := rows, cols
		if rows > cols {
			vecs, length = cols, rows
			at = func(r, c int) float64 { return float64(p.Data[c*cols+r]) }
		}
		for r1 := 0; r1 < vecs; r1++ {
			for r2 := r1; r2 < vecs; r2++ {
				var dot float64
				for j := 0; j < length; j++ {
					dot += at(r1, j) * at(r2, j)
				}
				want := 0.0
				if r1 == r2 {
					want = gain * gain
				}
				if math.Abs(dot-want) > 1e-4*(gain*gain) {
					t.Fatalf("%s: vector %d · vector %d = %g, want %g", p.Name, r1, r2, dot, want)
				}
			}
		}
	}
	if s := b.Spec(); s.Hidden[0] != cnnHidden || s.Activation != ActReLU || s.Image != tinyImageSpec.Image {
		t.Errorf("Spec() = %+v", s)
	}
	if g := b.Grads(); len(g) != len(ps) {
		t.Errorf("%d grads, want %d", len(g), len(ps))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCNNForward compares Forward with the direct-convolution reference for
// several batch sizes (one cached graph each), and again after changing the
// parameters through Params (shared storage).
// cnnBackends are the backends that build the Nature-CNN.
var cnnBackends = []struct {
	name string
	new  func(t testing.TB, s Spec, seed uint64) Backend
}{{"gorgonia", newBackend}, {"native", newNativeBackend}}

func TestCNNForward(t *testing.T) {
	for _, nb := range cnnBackends {
		t.Run(nb.name, func(t *testing.T) { testCNNForward(t, nb.new(t, tinyImageSpec, 2)) })
	}
}

func testCNNForward(t *testing.T, b Backend) {
	perturbCNN(b, 2)
	s := b.Spec()
	rng := rand.New(rand.NewPCG(2, 2))
	check := func(n int) {
		t.Helper()
		obs := randSlice(rng, n*s.ObsDim, 0, 1)
		dist, vals := make([]float32, n*s.ActDim), make([]float32, n)
		if err := b.Forward(obs, n, dist, vals); err != nil {
			t.Fatal(err)
		}
		ref := newRefCNN(b)
		for i := 0; i < n; i++ {
			logits, v := ref.forward(to64(obs[i*s.ObsDim : (i+1)*s.ObsDim]))
			for j, want := range logits {
				if got := float64(dist[i*s.ActDim+j]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
					t.Errorf("n=%d: logits[%d][%d] = %.7g, reference %.7g", n, i, j, got, want)
				}
			}
			if got := float64(vals[i]); math.Abs(got-v) > 1e-5*(1+math.Abs(v)) {
				t.Errorf("n=%d: value[%d] = %.7g, reference %.7g", n, i, got, v)
			}
		}
	}
	for _, n := range []int{1, 3, 5, 3, 9} {
		check(n)
	}
	for _, p := range b.Params() {
		for j := range p.Data {
			p.Data[j] *= 1.5
		}
	}
	check(3)
}

// TestCNNGradFiniteDifference checks the PPO loss statistics against the
// float64 reference and the gradient against central finite differences of
// the reference loss at a few random entries of every parameter tensor.
// Tolerance per entry: 1e-4*|fd| + 1e-5*max|grad of that tensor| (the
// float32 error observed is ~50x below it; a wrong term is O(1)).
func TestCNNGradFiniteDifference(t *testing.T) {
	if raceEnabled {
		t.Skip("single-goroutine numerics, slow under the race detector: make test runs it without -race")
	}
	for _, nb := range cnnBackends {
		t.Run(nb.name, func(t *testing.T) { testCNNGradFiniteDifference(t, nb.new) })
	}
}

func testCNNGradFiniteDifference(t *testing.T, newB func(t testing.TB, s Spec, seed uint64) Backend) {
	for ci, cfg := range []LossConfig{
		{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true},
		{ClipCoef: 0.1, VfCoef: 1, EntCoef: 0.05},
	} {
		b := newB(t, tinyImageSpec, uint64(10+ci))
		perturbCNN(b, uint64(10+ci))
		ref := newRefCNN(b)
		rng := rand.New(rand.NewPCG(uint64(ci), 5))
		bt := makeCNNBatch(ref, rng, 8)
		want := ref.loss(bt, cfg)
		if want.pgClipped == 0 || want.pgClipped == bt.N {
			t.Fatalf("batch does not mix clipped and unclipped surrogate terms (%d of %d)", want.pgClipped, bt.N)
		}
		st, err := b.Grad(bt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkLossStats(t, fmt.Sprintf("cfg %d: ", ci), st, want)
		const h = 1e-6
		var worst float64
		for pi, g := range b.Grads() {
			var gmax float64
			for _, x := range g.Data {
				gmax = math.Max(gmax, math.Abs(float64(x)))
			}
			if gmax == 0 {
				t.Errorf("cfg %d: gradient of %s is identically zero", ci, g.Name)
			}
			for k := 0; k < 4; k++ {
				j := rng.IntN(len(g.Data))
				p := ref.params[pi]
				orig := p[j]
				p[j] = orig + h
				lp := ref.loss(bt, cfg).loss
				p[j] = orig - h
				lm := ref.loss(bt, cfg).loss
				p[j] = orig
				fd := (lp - lm) / (2 * h)
				diff := math.Abs(float64(g.Data[j]) - fd)
				tol := 1e-4*math.Abs(fd) + 1e-5*gmax
				worst = math.Max(worst, diff/tol)
				if diff > tol {
					t.Errorf("cfg %d: grad %s[%d] = %.8g, finite difference %.8g (|diff| %.3g > tol %.3g)", ci, g.Name, j, g.Data[j], fd, diff, tol)
				}
			}
		}
		t.Logf("cfg %d: max |grad-fd|/tol = %.3f (%d/%d pg clipped, %d value clipped)", ci, worst, want.pgClipped, bt.N, want.vClipped)
		if _, err := b.Step(3e-4, 0.5); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCNNSpecValidate(t *testing.T) {
	good := tinyImageSpec
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", good, err)
	}
	bad := []struct {
		name string
		mod  func(*Spec)
		msg  string
	}{
		{"obsdim", func(s *Spec) { s.ObsDim++ }, "want ObsDim"},
		{"continuous", func(s *Spec) { s.Discrete = false }, "requires Discrete"},
		{"small", func(s *Spec) { s.Image = [3]int{2, 35, 36}; s.ObsDim = 2 * 35 * 36 }, "height, width >= 36"},
		{"channels", func(s *Spec) { s.Image[0] = 0; s.ObsDim = 0 }, "channels >= 1"},
		{"hidden", func(s *Spec) { s.Hidden = []int{64} }, "hidden layers"},
		{"tanh", func(s *Spec) { s.Activation = ActTanh }, "activation"},
	}
	for _, tc := range bad {
		s := good
		tc.mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Validate(%+v) = %v, want an error containing %q", tc.name, s, err, tc.msg)
		}
		if _, err := NewGorgonia(s, 1, AdamConfig{}); err == nil {
			t.Errorf("%s: NewGorgonia accepted %+v", tc.name, s)
		}
	}
	for _, tc := range bad {
		s := good
		tc.mod(&s)
		if _, err := NewNative(s, 1, AdamConfig{}); err == nil {
			t.Errorf("%s: NewNative accepted %+v", tc.name, s)
		}
	}
	relu := good
	relu.Activation = ActReLU
	if err := relu.Validate(); err != nil {
		t.Errorf("Validate with Activation relu: %v", err)
	}
}

// TestCNNFullSize runs the Atari-size network (4×84×84) forward on n = 2.
func TestCNNFullSize(t *testing.T) {
	if raceEnabled {
		t.Skip("single-goroutine numerics, slow under the race detector: make test runs it without -race")
	}
	for _, nb := range cnnBackends {
		t.Run(nb.name, func(t *testing.T) { testCNNFullSize(t, nb.new) })
	}
}

func testCNNFullSize(t *testing.T, newB func(t testing.TB, s Spec, seed uint64) Backend) {
	s := Spec{ObsDim: 4 * 84 * 84, ActDim: 6, Discrete: true, Image: [3]int{4, 84, 84}}
	b := newB(t, s, 3)
	if got := b.Params()[6].Shape; !equalInts(got, []int{512, 64 * 7 * 7}) {
		t.Errorf("torso.7.weight shape %v, want [512 3136]", got)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	n := 2
	dist, vals := make([]float32, n*s.ActDim), make([]float32, n)
	if err := b.Forward(randSlice(rng, n*s.ObsDim, 0, 1), n, dist, vals); err != nil {
		t.Fatal(err)
	}
	for _, x := range append(dist, vals...) {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("non-finite output: dist %v values %v", dist, vals)
		}
	}
	if err := b.Forward(make([]float32, 3), 1, dist[:s.ActDim], vals[:1]); err == nil {
		t.Error("Forward accepted a short observation")
	}
}

// TestOrthogonalFast checks that Orthogonal's row-wise QR is bit-identical
// to the textbook column-wise one (wide, tall and square shapes).
func TestOrthogonalFast(t *testing.T) {
	for i, sh := range [][2]int{{1, 1}, {3, 7}, {7, 3}, {32, 128}, {64, 576}, {512, 64}, {6, 512}, {1, 512}, {5, 5}} {
		want := orthogonal(sh[0], sh[1], 1.3, rand.New(rand.NewPCG(uint64(i), 9)), householderQ)
		got := Orthogonal(sh[0], sh[1], 1.3, rand.New(rand.NewPCG(uint64(i), 9)))
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("%v: element %d = %v, Orthogonal gives %v", sh, j, got[j], want[j])
			}
		}
	}
}

// TestNativeCNNMatchesGorgonia: the native CNN starts from the gorgonia
// CNN's parameters bit for bit, and agrees with it at 1e-4 on the forward,
// every gradient (each tensor's largest difference over its largest entry)
// and 20 Adam steps, each from the same parameters (issue 16).
func TestNativeCNNMatchesGorgonia(t *testing.T) {
	g, n := newBackend(t, tinyImageSpec, 4), newNativeBackend(t, tinyImageSpec, 4)
	gp, np := g.Params(), n.Params()
	if len(gp) != len(np) {
		t.Fatalf("%d params, gorgonia has %d", len(np), len(gp))
	}
	for i := range gp {
		if gp[i].Name != np[i].Name || !equalInts(gp[i].Shape, np[i].Shape) {
			t.Fatalf("param %d: native %s %v, gorgonia %s %v", i, np[i].Name, np[i].Shape, gp[i].Name, gp[i].Shape)
		}
		for j := range gp[i].Data {
			if math.Float32bits(gp[i].Data[j]) != math.Float32bits(np[i].Data[j]) {
				t.Fatalf("%s[%d]: initial values differ", gp[i].Name, j)
			}
		}
	}
	perturbCNN(g, 4)
	perturbCNN(n, 4)
	ref := newRefCNN(g)
	rng := rand.New(rand.NewPCG(4, 4))
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}
	rel := func(a, b float32, scale float64) float64 {
		return math.Abs(float64(a-b)) / (scale + math.Abs(float64(b)))
	}
	var worstFwd, worstGrad, worstParam float64
	for step := 0; step < 20; step++ {
		bt := makeCNNBatch(ref, rng, 12)
		gd, gv := make([]float32, 12*6), make([]float32, 12)
		nd, nv := make([]float32, 12*6), make([]float32, 12)
		if err := g.Forward(bt.Obs, 12, gd, gv); err != nil {
			t.Fatal(err)
		}
		if err := n.Forward(bt.Obs, 12, nd, nv); err != nil {
			t.Fatal(err)
		}
		for i := range gd {
			worstFwd = math.Max(worstFwd, rel(nd[i], gd[i], 1e-2))
		}
		for i := range gv {
			worstFwd = math.Max(worstFwd, rel(nv[i], gv[i], 1e-2))
		}
		gst, err := g.Grad(bt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		nst, err := n.Grad(bt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		compareStats(t, nst, gst)
		// Each gradient tensor's largest difference, relative to its
		// largest entry.
		gg, ng := g.Grads(), n.Grads()
		for i := range gg {
			var gmax, dmax float64
			for j, x := range gg[i].Data {
				gmax = math.Max(gmax, math.Abs(float64(x)))
				dmax = math.Max(dmax, math.Abs(float64(ng[i].Data[j]-x)))
			}
			worstGrad = math.Max(worstGrad, dmax/(gmax+1e-12))
		}
		if _, err := g.Step(1e-3, 0.5); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Step(1e-3, 0.5); err != nil {
			t.Fatal(err)
		}
		for i := range gp {
			for j := range gp[i].Data {
				worstParam = math.Max(worstParam, rel(np[i].Data[j], gp[i].Data[j], 1e-2))
			}
			// Start the next step from gorgonia's parameters (the Adam
			// moments stay each backend's own). Left to drift, the
			// float32 differences put a sample on the other side of a
			// clip bound sooner or later, and its gradient then differs
			// by itself, not by rounding: with -tags noblas it happened
			// at step 3.
			copy(np[i].Data, gp[i].Data)
		}
	}
	t.Logf("worst relative differences over 20 steps: forward %.2g, gradients %.2g, parameters %.2g", worstFwd, worstGrad, worstParam)
	if worstFwd > 1e-4 || worstGrad > 1e-4 || worstParam > 1e-4 {
		t.Fatalf("native CNN parts from gorgonia: forward %.2g, gradients %.2g, parameters %.2g (bound 1e-4)", worstFwd, worstGrad, worstParam)
	}
}

// TestNativeCNNAllocs: after the first calls size the scratch, Forward,
// Grad and Step of the native CNN allocate nothing.
func TestNativeCNNAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := newNativeBackend(t, tinyImageSpec, 5)
	ref := newRefCNN(b)
	bt := makeCNNBatch(ref, rand.New(rand.NewPCG(5, 5)), 40)
	cfg := LossConfig{ClipCoef: 0.1, VfCoef: 0.5, EntCoef: 0.01}
	dist, vals := make([]float32, 40*6), make([]float32, 40)
	step := func() {
		if err := b.Forward(bt.Obs, 40, dist, vals); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Grad(bt, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Step(1e-4, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Fatalf("%v allocations per Forward+Grad+Step", n)
	}
}
