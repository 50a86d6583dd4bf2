package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func newNativeBackend(t testing.TB, s Spec, seed uint64) Backend {
	t.Helper()
	b, err := NewNative(s, seed, AdamConfig{})
	if err != nil {
		t.Fatalf("NewNative(%+v): %v", s, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// agreeTol is the agreement bound between the native and gorgonia backends:
// 1e-5 relative to the largest element of the tensor being compared (and,
// for scalars, to the value itself, with an absolute floor of 1e-6 for terms
// that are sums of O(1) float32 values). Observed differences are ~5e-7.
const agreeTol = 1e-5

// compareTensor reports elements of got that differ from want by more than
// agreeTol·(|want| + max|want|) and returns the worst |diff|/max|want|.
func compareTensor(t *testing.T, what string, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	var worst float64
	bad := 0
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		diff := math.Abs(g - w)
		if scale > 0 {
			worst = math.Max(worst, diff/scale)
		}
		if !(diff <= agreeTol*(math.Abs(w)+scale)) {
			if bad++; bad <= 3 {
				t.Errorf("%s[%d] = %.9g, gorgonia %.9g (|diff| %.3g, scale %.3g)", what, i, g, w, diff, scale)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d more elements differ", what, bad-3)
	}
	return worst
}

// compareStats checks every LossStats field of got against want.
func compareStats(t *testing.T, got, want LossStats) {
	t.Helper()
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		{"Loss", got.Loss, want.Loss}, {"PolicyLoss", got.PolicyLoss, want.PolicyLoss},
		{"ValueLoss", got.ValueLoss, want.ValueLoss}, {"Entropy", got.Entropy, want.Entropy},
		{"ApproxKL", got.ApproxKL, want.ApproxKL}, {"ClipFrac", got.ClipFrac, want.ClipFrac},
	} {
		if !(math.Abs(x.got-x.want) <= agreeTol*math.Abs(x.want)+1e-6) {
			t.Errorf("%s = %.10g, gorgonia %.10g", x.name, x.got, x.want)
		}
	}
}

// copyParams overwrites dst's parameters with src's.
func copyParams(t *testing.T, dst, src Backend) {
	t.Helper()
	ds, ss := dst.Params(), src.Params()
	if len(ds) != len(ss) {
		t.Fatalf("%d params vs %d", len(ds), len(ss))
	}
	for i := range ds {
		copy(ds[i].Data, ss[i].Data)
	}
}

// perturbParams makes the policy head non-trivial and moves every bias off
// zero (see TestGradFiniteDifference), then adds small noise everywhere.
func perturbParams(b Backend, rng *rand.Rand) {
	last := "policy." + strconv.Itoa(2*len(b.Spec().Hidden)) + "."
	for _, p := range b.Params() {
		for j := range p.Data {
			switch {
			case strings.HasPrefix(p.Name, last):
				p.Data[j] = float32(rng.Float64() - 0.5)
			case strings.HasSuffix(p.Name, ".bias"):
				p.Data[j] = float32(0.6*rng.Float64() - 0.3)
			default:
				p.Data[j] += float32(0.02*rng.Float64() - 0.01)
			}
		}
	}
}

// TestNativeInitMatchesGorgonia checks that equal seeds give bit-identical
// parameters, names and shapes on both backends, and fresh Adam states.
func TestNativeInitMatchesGorgonia(t *testing.T) {
	specs := []Spec{
		{ObsDim: 11, ActDim: 3},
		{ObsDim: 27, ActDim: 8, InitLogStd: -0.5, Activation: ActReLU},
		{ObsDim: 4, ActDim: 6, Discrete: true},
		{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4, 7}},
		{ObsDim: 1, ActDim: 1, Hidden: []int{1}},
	}
	for i, s := range specs {
		for _, seed := range []uint64{0, 1, 42} {
			g := newBackend(t, s, seed)
			n := newNativeBackend(t, s, seed)
			gs, ns := g.Spec(), n.Spec()
			if fmt.Sprint(gs) != fmt.Sprint(ns) {
				t.Errorf("spec %d: Spec() = %+v, gorgonia %+v", i, ns, gs)
			}
			gp, np := g.Params(), n.Params()
			if len(gp) != len(np) {
				t.Fatalf("spec %d: %d params, gorgonia %d", i, len(np), len(gp))
			}
			for k := range gp {
				if np[k].Name != gp[k].Name || fmt.Sprint(np[k].Shape) != fmt.Sprint(gp[k].Shape) {
					t.Errorf("spec %d param %d: %s %v, gorgonia %s %v", i, k, np[k].Name, np[k].Shape, gp[k].Name, gp[k].Shape)
				}
				for j := range gp[k].Data {
					if math.Float32bits(np[k].Data[j]) != math.Float32bits(gp[k].Data[j]) {
						t.Fatalf("spec %d seed %d: %s[%d] = %g, gorgonia %g", i, seed, np[k].Name, j, np[k].Data[j], gp[k].Data[j])
					}
				}
			}
			if gn, nn := g.Grads(), n.Grads(); len(gn) != len(nn) || nn[0].Name != gn[0].Name {
				t.Errorf("spec %d: Grads() does not list the parameters in Params order", i)
			}
			m, v, step := n.AdamState()
			if step != 0 || len(m) != len(gp) || len(v) != len(gp) {
				t.Errorf("spec %d: fresh AdamState: t = %d, %d m, %d v", i, step, len(m), len(v))
			}
		}
	}
}

// nativeAgreementCases cover both heads, both activations, ClipVLoss on and
// off, entropy on and off, odd batch sizes (kernel tails), layers narrower
// than smallOut (axpy path), a single and a triple hidden layer, and batches
// of several Grad chunks (parallel path).
var nativeAgreementCases = []struct {
	name string
	spec Spec
	cfg  LossConfig
	n    int
}{
	{"hopper/tanh/clipv", Spec{ObsDim: 11, ActDim: 3}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}, 64},
	{"hopper/tanh/noclipv/ent", Spec{ObsDim: 11, ActDim: 3, InitLogStd: -0.5}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01}, 64},
	{"gaussian/relu/clipv", Spec{ObsDim: 27, ActDim: 8, Activation: ActReLU}, LossConfig{ClipCoef: 0.1, VfCoef: 1, EntCoef: 0.05, ClipVLoss: true}, 64},
	{"gaussian/relu/noclipv/odd", Spec{ObsDim: 17, ActDim: 6, Activation: ActReLU, InitLogStd: 0.3}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5}, 37},
	{"gaussian/tanh/deep", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{9, 7, 8}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 24},
	{"gaussian/1d/n=1", Spec{ObsDim: 1, ActDim: 1, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.1, ClipVLoss: true}, 1},
	{"categorical/tanh/noclipv", Spec{ObsDim: 8, ActDim: 4, Discrete: true}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01}, 64},
	{"categorical/relu/clipv", Spec{ObsDim: 5, ActDim: 6, Discrete: true, Activation: ActReLU, Hidden: []int{16}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 33},
	{"categorical/n=1", Spec{ObsDim: 2, ActDim: 2, Discrete: true, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 1},
	{"gaussian/chunks", Spec{ObsDim: 11, ActDim: 3}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 777},
	{"categorical/relu/chunks", Spec{ObsDim: 6, ActDim: 3, Discrete: true, Activation: ActReLU}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01}, 520},
}

// TestNativeMatchesGorgonia checks that both backends, given the same
// parameters and batch, agree on Forward outputs, every LossStats field and
// every gradient element within agreeTol. The batches perturb behaviour
// log-probs and values so that some ratios and values are clipped and some
// are not. The parameters are edited through Params() after a first Grad,
// so a backend that cached anything derived from them would fail.
func TestNativeMatchesGorgonia(t *testing.T) {
	for i, tc := range nativeAgreementCases {
		t.Run(tc.name, func(t *testing.T) {
			g := newBackend(t, tc.spec, uint64(10+i))
			n := newNativeBackend(t, tc.spec, uint64(10+i))
			s := g.Spec()
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			warm := makeBatch(n, rng, tc.n, 0.5, 0.5)
			if _, err := n.Grad(warm, tc.cfg); err != nil {
				t.Fatal(err)
			}
			perturbParams(g, rng)
			copyParams(t, n, g)
			bt := makeBatch(g, rng, tc.n, 0.5, 0.5)
			want := newRefNet(g).loss(bt, tc.cfg)
			if tc.n > 1 && (want.pgClipped == 0 || want.pgClipped == tc.n) {
				t.Fatalf("batch does not mix clipped and unclipped surrogate terms (%d of %d clipped)", want.pgClipped, tc.n)
			}
			if tc.n > 1 && tc.cfg.ClipVLoss && (want.vClipped == 0 || want.vClipped == tc.n) {
				t.Fatalf("batch does not mix clipped and unclipped value terms (%d of %d clipped)", want.vClipped, tc.n)
			}

			gd, gv := make([]float32, tc.n*s.ActDim), make([]float32, tc.n)
			nd, nv := make([]float32, tc.n*s.ActDim), make([]float32, tc.n)
			if err := g.Forward(bt.Obs, tc.n, gd, gv); err != nil {
				t.Fatal(err)
			}
			if err := n.Forward(bt.Obs, tc.n, nd, nv); err != nil {
				t.Fatal(err)
			}
			worst := compareTensor(t, "Forward dist", nd, gd)
			worst = math.Max(worst, compareTensor(t, "Forward values", nv, gv))

			gst, err := g.Grad(bt, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			nst, err := n.Grad(bt, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			compareStats(t, nst, gst)
			gg, ng := g.Grads(), n.Grads()
			for k := range gg {
				worst = math.Max(worst, compareTensor(t, "grad "+gg[k].Name, ng[k].Data, gg[k].Data))
			}
			t.Logf("worst |diff|/max|x| = %.3g; %d/%d surrogate and %d value terms clipped", worst, want.pgClipped, tc.n, want.vClipped)
		})
	}
}

// TestNativeTrainingMatchesGorgonia runs 20 Grad+Step iterations on both
// backends from the same seed and checks that Step reports the same norms
// and that parameters and Adam moments stay together.
func TestNativeTrainingMatchesGorgonia(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		cfg  LossConfig
		lr   float32
	}{
		{"gaussian/tanh", Spec{ObsDim: 11, ActDim: 3}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}, 3e-4},
		{"gaussian/relu/ent", Spec{ObsDim: 8, ActDim: 2, Activation: ActReLU, InitLogStd: -0.5}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01}, 1e-3},
		{"categorical/tanh", Spec{ObsDim: 6, ActDim: 4, Discrete: true}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 1e-3},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newBackend(t, tc.spec, uint64(i))
			n := newNativeBackend(t, tc.spec, uint64(i))
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			const mb = 64
			full := makeBatch(g, rng, 4*mb, 0.3, 0.3)
			s := g.Spec()
			ad := s.ActDim
			if s.Discrete {
				ad = 1
			}
			for it := range 20 {
				o := (it % 4) * mb
				bt := Batch{N: mb, Obs: full.Obs[o*s.ObsDim : (o+mb)*s.ObsDim], Actions: full.Actions[o*ad : (o+mb)*ad],
					LogProbs: full.LogProbs[o : o+mb], Advantages: full.Advantages[o : o+mb], Returns: full.Returns[o : o+mb], Values: full.Values[o : o+mb]}
				gst, err := g.Grad(bt, tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				nst, err := n.Grad(bt, tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				compareStats(t, nst, gst)
				gnorm, err := g.Step(tc.lr, 0.5)
				if err != nil {
					t.Fatal(err)
				}
				nnorm, err := n.Step(tc.lr, 0.5)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(float64(nnorm-gnorm)) > agreeTol*float64(gnorm) {
					t.Errorf("iteration %d: Step norm %.8g, gorgonia %.8g", it, nnorm, gnorm)
				}
			}
			gp, np := g.Params(), n.Params()
			var worst float64
			for k := range gp {
				for j := range gp[k].Data {
					d := math.Abs(float64(np[k].Data[j] - gp[k].Data[j]))
					worst = math.Max(worst, d)
					if d > 1e-4 {
						t.Errorf("after 20 steps %s[%d] = %.8g, gorgonia %.8g", np[k].Name, j, np[k].Data[j], gp[k].Data[j])
					}
				}
			}
			gm, gvv, gt := g.AdamState()
			nm, nvv, nt := n.AdamState()
			if gt != nt || nt != 20 {
				t.Errorf("Adam t = %d, gorgonia %d, want 20", nt, gt)
			}
			for k := range gm {
				compareTensor(t, "adam m "+gm[k].Name, nm[k].Data, gm[k].Data)
				compareTensor(t, "adam v "+gm[k].Name, nvv[k].Data, gvv[k].Data)
			}
			t.Logf("max |param diff| after 20 steps: %.3g", worst)
		})
	}
}

// TestNativeGradFiniteDifference checks the native gradient against central
// finite differences of the float64 reference loss, with the cases and
// tolerance of TestGradFiniteDifference.
func TestNativeGradFiniteDifference(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		cfg  LossConfig
		n    int
	}{
		{"gaussian/n=1", Spec{ObsDim: 2, ActDim: 2, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 1},
		{"categorical/n=1", Spec{ObsDim: 2, ActDim: 2, Discrete: true, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 1},
		{"gaussian/tanh/noclipv", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, InitLogStd: -0.3}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.05}, 24},
		{"gaussian/tanh/clipv", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, InitLogStd: 0.2}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 24},
		{"gaussian/relu/clipv", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, Activation: ActReLU}, LossConfig{ClipCoef: 0.1, VfCoef: 1, ClipVLoss: true}, 24},
		{"gaussian/wide", Spec{ObsDim: 4, ActDim: 3, Hidden: []int{10, 9}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 25},
		{"gaussian/1d", Spec{ObsDim: 1, ActDim: 1, Hidden: []int{3}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.1, ClipVLoss: true}, 24},
		{"categorical/tanh/noclipv", Spec{ObsDim: 3, ActDim: 3, Discrete: true, Hidden: []int{5, 4}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.1}, 24},
		{"categorical/relu/clipv", Spec{ObsDim: 3, ActDim: 2, Discrete: true, Hidden: []int{5, 4}, Activation: ActReLU}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 24},
		{"categorical/chunks", Spec{ObsDim: 2, ActDim: 3, Discrete: true, Hidden: []int{4}}, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}, 300},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newNativeBackend(t, tc.spec, uint64(100+i))
			perturbParams(b, rand.New(rand.NewPCG(uint64(i), 7)))
			bt := makeBatch(b, rand.New(rand.NewPCG(uint64(i), 1)), tc.n, 0.5, 0.5)
			ref := newRefNet(b)
			want := ref.loss(bt, tc.cfg)
			if tc.n > 1 && (want.pgClipped == 0 || want.pgClipped == bt.N || (tc.cfg.ClipVLoss && (want.vClipped == 0 || want.vClipped == bt.N))) {
				t.Fatalf("batch does not mix clipped and unclipped terms (%d surrogate, %d value of %d)", want.pgClipped, want.vClipped, bt.N)
			}
			st, err := b.Grad(bt, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkLossStats(t, "", st, want)
			worst, _ := checkGradsFD(t, b.Grads(), ref.fdGrad(bt, tc.cfg, 1e-6))
			t.Logf("max |grad-fd|/tol = %.3f (%d/%d pg clipped, %d value clipped)", worst, want.pgClipped, bt.N, want.vClipped)
		})
	}
}

// TestNativeAllocs checks that Forward, Grad and Step allocate nothing once
// their scratch exists, on the serial and on the chunked parallel paths.
func TestNativeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, spec := range []Spec{{ObsDim: 11, ActDim: 3}, {ObsDim: 8, ActDim: 4, Discrete: true, Activation: ActReLU}} {
		b := newNativeBackend(t, spec, 1)
		s := b.Spec()
		rng := rand.New(rand.NewPCG(1, 1))
		cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}
		for _, n := range []int{1, 64, 1000} {
			bt := makeBatch(b, rng, n, 0.3, 0.3)
			dist, vals := make([]float32, n*s.ActDim), make([]float32, n)
			checks := []struct {
				name string
				f    func()
			}{
				{"Forward", func() {
					if err := b.Forward(bt.Obs, n, dist, vals); err != nil {
						t.Fatal(err)
					}
				}},
				{"Grad", func() {
					if _, err := b.Grad(bt, cfg); err != nil {
						t.Fatal(err)
					}
				}},
				{"Step", func() {
					if _, err := b.Step(1e-6, 0.5); err != nil {
						t.Fatal(err)
					}
				}},
			}
			for _, c := range checks {
				c.f() // warm-up: scratch, worker goroutines
				if a := testing.AllocsPerRun(20, c.f); a != 0 {
					t.Errorf("%s (discrete=%v, n=%d): %v allocations per call, want 0", c.name, s.Discrete, n, a)
				}
			}
		}
	}
}

// TestNativeDeterministic checks that results do not depend on GOMAXPROCS
// (Grad's chunks are fixed by N and reduced in order), that a Forward row
// does not depend on the batch it is evaluated in, and that repeated Grad
// calls agree bit for bit and leave the parameters alone.
func TestNativeDeterministic(t *testing.T) {
	spec := Spec{ObsDim: 11, ActDim: 3}
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}
	const n = 1000 // 4 Grad chunks, 8 Forward chunks
	run := func(procs int) (LossStats, [][]float64, []float32, []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		b := newNativeBackend(t, spec, 7)
		perturbParams(b, rand.New(rand.NewPCG(1, 1)))
		bt := makeBatch(b, rand.New(rand.NewPCG(2, 2)), n, 0.3, 0.3)
		before := newRefNet(b)
		st, err := b.Grad(bt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		g := newRefNetFrom(b.Grads())
		if st2, err := b.Grad(bt, cfg); err != nil || st2 != st {
			t.Errorf("GOMAXPROCS=%d: repeated Grad gave %+v, first %+v (err %v)", procs, st2, st, err)
		}
		g2 := newRefNetFrom(b.Grads())
		after := newRefNet(b)
		for i := range g {
			for j := range g[i] {
				if g[i][j] != g2[i][j] {
					t.Fatalf("GOMAXPROCS=%d: repeated Grad changed gradient %d[%d]", procs, i, j)
				}
				if before.params[i][j] != after.params[i][j] {
					t.Fatalf("GOMAXPROCS=%d: Grad changed parameter %d[%d]", procs, i, j)
				}
			}
		}
		dist, vals := make([]float32, n*3), make([]float32, n)
		if err := b.Forward(bt.Obs, n, dist, vals); err != nil {
			t.Fatal(err)
		}
		// Every row alone gives the same values to float32 rounding. (Not
		// the same bits: OpenBLAS blocks a 1-row product differently from
		// a 1000-row one. Each call is deterministic for its shape.)
		d1, v1 := make([]float32, 3), make([]float32, 1)
		near := func(x, y float32) bool { return math.Abs(float64(x-y)) <= 1e-5*(1+math.Abs(float64(y))) }
		for i := 0; i < n; i += 37 {
			if err := b.Forward(bt.Obs[i*11:(i+1)*11], 1, d1, v1); err != nil {
				t.Fatal(err)
			}
			if !near(v1[0], vals[i]) || !near(d1[0], dist[3*i]) || !near(d1[1], dist[3*i+1]) || !near(d1[2], dist[3*i+2]) {
				t.Fatalf("GOMAXPROCS=%d: row %d alone gives %v %v, in a batch of %d %v %v", procs, i, d1, v1, n, dist[3*i:3*i+3], vals[i])
			}
		}
		return st, g, dist, vals
	}
	st1, g1, d1, v1 := run(1)
	st4, g4, d4, v4 := run(4)
	if st1 != st4 {
		t.Errorf("stats differ between GOMAXPROCS 1 and 4:\n%+v\n%+v", st1, st4)
	}
	for i := range g1 {
		for j := range g1[i] {
			if g1[i][j] != g4[i][j] {
				t.Fatalf("gradient %d[%d] differs between GOMAXPROCS 1 and 4: %g vs %g", i, j, g1[i][j], g4[i][j])
			}
		}
	}
	for i := range d1 {
		if d1[i] != d4[i] {
			t.Fatalf("Forward dist[%d] differs between GOMAXPROCS 1 and 4", i)
		}
	}
	for i := range v1 {
		if v1[i] != v4[i] {
			t.Fatalf("Forward values[%d] differs between GOMAXPROCS 1 and 4", i)
		}
	}
}

// TestNativeErrors checks that invalid arguments give the gorgonia
// backend's errors, and the behaviour after Close.
func TestNativeErrors(t *testing.T) {
	if _, err := NewNative(Spec{ObsDim: 0, ActDim: 1}, 1, AdamConfig{}); err == nil || !strings.Contains(err.Error(), "ObsDim = 0") {
		t.Errorf("NewNative with ObsDim 0: %v", err)
	}
	if _, err := NewNative(Spec{ObsDim: 1, ActDim: 1}, 1, AdamConfig{Beta1: 1}); err == nil || !strings.Contains(err.Error(), "Beta1") {
		t.Errorf("NewNative with Beta1 1: %v", err)
	}
	bs := [2]Backend{newBackend(t, Spec{ObsDim: 11, ActDim: 3}, 1), newNativeBackend(t, Spec{ObsDim: 11, ActDim: 3}, 1)}
	ds := [2]Backend{newBackend(t, Spec{ObsDim: 2, ActDim: 3, Discrete: true}, 1), newNativeBackend(t, Spec{ObsDim: 2, ActDim: 3, Discrete: true}, 1)}
	good := Batch{N: 2, Obs: make([]float32, 22), Actions: make([]float32, 6), LogProbs: make([]float32, 2),
		Advantages: make([]float32, 2), Returns: make([]float32, 2), Values: make([]float32, 2)}
	cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: true}
	cases := []struct {
		name string
		err  func(b, d Backend) error
		fail bool
	}{
		{"forward ok", func(b, _ Backend) error {
			return b.Forward(make([]float32, 44), 4, make([]float32, 12), make([]float32, 4))
		}, false},
		{"forward obs", func(b, _ Backend) error {
			return b.Forward(make([]float32, 40), 4, make([]float32, 12), make([]float32, 4))
		}, true},
		{"forward dist", func(b, _ Backend) error {
			return b.Forward(make([]float32, 44), 4, make([]float32, 11), make([]float32, 4))
		}, true},
		{"forward values", func(b, _ Backend) error {
			return b.Forward(make([]float32, 44), 4, make([]float32, 12), make([]float32, 5))
		}, true},
		{"forward n", func(b, _ Backend) error { return b.Forward(nil, 0, nil, nil) }, true},
		{"step before grad", func(b, _ Backend) error { _, err := b.Step(1e-3, 0); return err }, true},
		{"grad obs", func(b, _ Backend) error { x := good; x.Obs = x.Obs[:21]; _, err := b.Grad(x, cfg); return err }, true},
		{"grad values", func(b, _ Backend) error { x := good; x.Values = nil; _, err := b.Grad(x, cfg); return err }, true},
		{"grad values unused", func(b, _ Backend) error {
			x := good
			x.Values = nil
			_, err := b.Grad(x, LossConfig{ClipCoef: 0.2})
			return err
		}, false},
		{"grad clip", func(b, _ Backend) error { _, err := b.Grad(good, LossConfig{ClipCoef: -1}); return err }, true},
		{"grad nan coef", func(b, _ Backend) error { _, err := b.Grad(good, LossConfig{VfCoef: float32(math.NaN())}); return err }, true},
		{"discrete action", func(_, d Backend) error {
			x := Batch{N: 2, Obs: make([]float32, 4), Actions: []float32{1, 3}, LogProbs: make([]float32, 2), Advantages: make([]float32, 2), Returns: make([]float32, 2)}
			_, err := d.Grad(x, LossConfig{ClipCoef: 0.2})
			return err
		}, true},
		{"discrete actions length", func(_, d Backend) error {
			x := Batch{N: 2, Obs: make([]float32, 4), Actions: []float32{1}, LogProbs: make([]float32, 2), Advantages: make([]float32, 2), Returns: make([]float32, 2)}
			_, err := d.Grad(x, LossConfig{ClipCoef: 0.2})
			return err
		}, true},
		{"step lr", func(b, _ Backend) error { _, err := b.Step(float32(math.NaN()), 0); return err }, true},
		{"step max norm", func(b, _ Backend) error { _, err := b.Step(1e-3, float32(math.Inf(1))); return err }, true},
		{"adam state", func(b, _ Backend) error { return b.SetAdamState(nil, nil, 0) }, true},
	}
	for _, tc := range cases {
		var msgs [2]string
		for k := range bs {
			err := tc.err(bs[k], ds[k])
			if (err != nil) != tc.fail {
				t.Errorf("%s (backend %d): error %v, want failure = %v", tc.name, k, err, tc.fail)
			}
			if err != nil {
				msgs[k] = err.Error()
			}
		}
		if msgs[0] != msgs[1] {
			t.Errorf("%s: native error %q, gorgonia %q", tc.name, msgs[1], msgs[0])
		}
	}
	n := newNativeBackend(t, Spec{ObsDim: 1, ActDim: 1}, 1)
	one := []float32{1}
	bt := Batch{N: 1, Obs: one, Actions: one, LogProbs: one, Advantages: one, Returns: one}
	if err := n.Forward(one, 1, []float32{0}, []float32{0}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Grad(bt, LossConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := n.Forward(one, 1, []float32{0}, []float32{0}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Forward after Close: %v", err)
	}
	if _, err := n.Grad(bt, LossConfig{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Grad after Close: %v", err)
	}
	if _, err := n.Step(1e-3, 0); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Step after Close: %v", err)
	}
	if err := n.SetAdamState(nil, nil, 0); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("SetAdamState after Close: %v", err)
	}
}

// TestNativeReLUGradAtZero checks relu'(0) = 0 (see TestReLUGradAtZero).
func TestNativeReLUGradAtZero(t *testing.T) {
	b := newNativeBackend(t, Spec{ObsDim: 3, ActDim: 2, Hidden: []int{4, 4}, Activation: ActReLU}, 1)
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

// TestNativeParallelBackends runs independent native backends, each using
// its own worker goroutines, concurrently (run with -race), and checks that
// each ends bit for bit where the same backend ends when run alone.
func TestNativeParallelBackends(t *testing.T) {
	train := func(k int) ([]float32, error) {
		b, err := NewNative(Spec{ObsDim: 3, ActDim: 2, Discrete: k%2 == 0, Hidden: []int{5}, Activation: []string{"tanh", "relu"}[k/2]}, 1, AdamConfig{})
		if err != nil {
			return nil, err
		}
		defer b.Close()
		const n = 600
		bt := makeBatch(b, rand.New(rand.NewPCG(1, uint64(k))), n, 0.3, 0.3)
		dist, vals := make([]float32, n*2), make([]float32, n)
		for i := range 5 {
			if _, err := b.Grad(bt, LossConfig{ClipCoef: 0.2, VfCoef: 0.5, ClipVLoss: i%2 == 0}); err != nil {
				return nil, err
			}
			if _, err := b.Step(1e-3, 0.5); err != nil {
				return nil, err
			}
			if err := b.Forward(bt.Obs, n, dist, vals); err != nil {
				return nil, err
			}
		}
		var out []float32
		for _, p := range b.Params() {
			out = append(out, p.Data...)
		}
		return append(out, dist...), nil
	}
	var alone, together [4][]float32
	for k := range alone {
		var err error
		if alone[k], err = train(k); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for k := range together {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if together[k], err = train(k); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for k := range alone {
		if len(together[k]) != len(alone[k]) {
			t.Fatalf("backend %d: %d values in parallel, %d alone", k, len(together[k]), len(alone[k]))
		}
		for i := range alone[k] {
			if math.Float32bits(together[k][i]) != math.Float32bits(alone[k][i]) {
				t.Fatalf("backend %d value %d: %v in parallel, %v alone", k, i, together[k][i], alone[k][i])
			}
		}
	}
}

// TestLinear checks the layer product (bias rows, then one sgemm through
// the BLAS seam) against a float64 product, and that stale values in the
// output do not leak through.
func TestLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][3]int{{64, 64, 64}, {64, 3, 11}, {3, 64, 64}, {1, 64, 64}, {65, 1, 7}, {5, 7, 1}, {2, 3, 5}} {
		m, p, q := sh[0], sh[1], sh[2]
		a := randSlice(rng, m*q, -1, 1)
		w := randSlice(rng, p*q, -1, 1)
		bias := randSlice(rng, p, -1, 1)
		c := randSlice(rng, m*p, -9, 9) // must be overwritten
		linear(c, a, w, bias, m, p, q)
		for i := 0; i < m; i++ {
			for j := 0; j < p; j++ {
				want := float64(bias[j])
				for k := 0; k < q; k++ {
					want += float64(a[i*q+k]) * float64(w[j*q+k])
				}
				if got := float64(c[i*p+j]); math.Abs(got-want) > 1e-6*float64(q+1) {
					t.Fatalf("%d×%d×%d: c[%d][%d] = %.9g, want %.9g", m, p, q, i, j, got, want)
				}
			}
		}
	}
}

// TestNativeWorkersStop checks that the worker goroutines of a backend exit
// after Close, and after the backend is dropped without Close.
func TestNativeWorkersStop(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2 to start workers")
	}
	const n = 600
	spec := Spec{ObsDim: 4, ActDim: 2, Hidden: []int{8}}
	obs, dist, vals := make([]float32, n*4), make([]float32, n*2), make([]float32, n)
	start := func() {
		b, err := NewNative(spec, 1, AdamConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Forward(obs, n, dist, vals); err != nil {
			t.Fatal(err)
		}
		if b.(*nativeBackend).pool == nil {
			t.Fatal("a Forward over 600 rows started no workers")
		}
	}
	waitFor := func(what string, want int) {
		t.Helper()
		for range 200 {
			runtime.GC()
			if runtime.NumGoroutine() <= want {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Errorf("%s: %d goroutines, want <= %d", what, runtime.NumGoroutine(), want)
	}
	base := runtime.NumGoroutine()
	b, err := NewNative(spec, 1, AdamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Forward(obs, n, dist, vals); err != nil {
		t.Fatal(err)
	}
	// The pool's own count, not runtime.NumGoroutine: goroutines of earlier
	// tests may be ending meanwhile.
	if p := b.(*nativeBackend).pool; p == nil || p.started == 0 {
		t.Fatalf("no worker goroutines started")
	}
	b.Close()
	waitFor("after Close", base)
	start() // dropped without Close
	waitFor("after dropping an unclosed backend", base)
}

// TestNumParamsMatchesBackends checks the layout arithmetic that memory
// estimates use against the parameters the backends actually build.
func TestNumParamsMatchesBackends(t *testing.T) {
	for _, s := range []Spec{
		{ObsDim: 11, ActDim: 3},
		{ObsDim: 27, ActDim: 8, Hidden: []int{256, 128, 32}, Activation: ActReLU},
		{ObsDim: 6, ActDim: 3, Discrete: true, Hidden: []int{16}},
	} {
		b, err := NewNative(s, 1, AdamConfig{})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, p := range b.Params() {
			n += int64(len(p.Data))
		}
		b.Close()
		if got := s.NumParams(); got != n {
			t.Errorf("%+v: NumParams = %d, the backend has %d", s, got, n)
		}
	}
	img := Spec{ObsDim: 4 * 84 * 84, ActDim: 6, Discrete: true, Image: [3]int{4, 84, 84}}
	b, err := NewGorgonia(img, 1, AdamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var n int64
	for _, p := range b.Params() {
		n += int64(len(p.Data))
	}
	if got := img.NumParams(); got != n {
		t.Errorf("Nature-CNN: NumParams = %d, the backend has %d", got, n)
	}
	huge := Spec{ObsDim: 11, ActDim: 3, Hidden: []int{100000, 100000}}
	if e := huge.Estimate(64); e.Bytes < 100000*100000*16 {
		t.Errorf("hidden 100000,100000: estimate %d bytes, want at least the 160 GB of its weights, gradients and moments", e.Bytes)
	}
}
