package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refImitation is the imitation term (Imitator's doc) in float64 over the
// demonstrations obs, act.
func (r *refNet) refImitation(obs, act []float32, n int) float64 {
	s := r.spec
	var loss float64
	for i := 0; i < n; i++ {
		head, _, _ := r.forward(to64(obs[i*s.ObsDim : (i+1)*s.ObsDim]))
		if s.Discrete {
			a := int(act[i])
			m := math.Inf(-1)
			for _, l := range head {
				m = math.Max(m, l)
			}
			var sum float64
			for _, l := range head {
				sum += math.Exp(l - m)
			}
			loss += m + math.Log(sum) - head[a]
			continue
		}
		for j, mu := range head {
			e := mu - float64(act[i*s.ActDim+j])
			loss += e * e / float64(s.ActDim)
		}
	}
	return loss / float64(n)
}

// TestImitationGradientFiniteDifference: with demonstrations and
// ImitationCoef β, the native gradient is that of PPO loss + β × the
// imitation term, checked against central finite differences of the float64
// reference; the term and the total loss are reported; with β = 0 the
// gradient is the PPO one, bit for bit.
func TestImitationGradientFiniteDifference(t *testing.T) {
	for i, tc := range []struct {
		name string
		spec Spec
		beta float32
		n    int
	}{
		{"gaussian", Spec{ObsDim: 3, ActDim: 2, Hidden: []int{5, 4}, InitLogStd: -0.3}, 0.7, 6},
		{"gaussian/relu/one demo", Spec{ObsDim: 3, ActDim: 3, Hidden: []int{6}, Activation: ActReLU}, 2, 1},
		{"categorical", Spec{ObsDim: 3, ActDim: 3, Discrete: true, Hidden: []int{5, 4}}, 1.5, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := LossConfig{ClipCoef: 0.2, VfCoef: 0.5, EntCoef: 0.01, ClipVLoss: true}
			b := newNativeBackend(t, tc.spec, uint64(300+i))
			perturbParams(b, rand.New(rand.NewPCG(uint64(i), 9)))
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			bt := makeBatch(b, rng, 16, 0.5, 0.5)
			ppoOnly, err := b.Grad(bt, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := snapshotGrads(b)
			obs := randSlice(rng, tc.n*tc.spec.ObsDim, -2, 2)
			var act []float32
			if tc.spec.Discrete {
				for k := 0; k < tc.n; k++ {
					act = append(act, float32(rng.IntN(tc.spec.ActDim)))
				}
			} else {
				act = randSlice(rng, tc.n*tc.spec.ActDim, -1, 1)
			}
			im := b.(Imitator)
			if err := im.SetDemos(obs, act, tc.n); err != nil {
				t.Fatal(err)
			}
			// β = 0: the PPO gradient, bit for bit, and no term.
			st, err := b.Grad(bt, cfg)
			if err != nil || st.Imitation != 0 || st.Loss != ppoOnly.Loss {
				t.Fatalf("β = 0: %+v, %v", st, err)
			}
			for k, p := range b.Grads() {
				for j, g := range p.Data {
					if g != want[k][j] {
						t.Fatalf("β = 0 changed the gradient of %s[%d]: %v, was %v", p.Name, j, g, want[k][j])
					}
				}
			}
			cfg.ImitationCoef = tc.beta
			st, err = b.Grad(bt, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ref := newRefNet(b)
			wantIm := ref.refImitation(obs, act, tc.n)
			if d := math.Abs(st.Imitation - wantIm); d > 1e-5*(1+wantIm) {
				t.Errorf("imitation term %v, reference %v", st.Imitation, wantIm)
			}
			if d := math.Abs(st.Loss - (ppoOnly.Loss + float64(tc.beta)*st.Imitation)); d > 1e-9 {
				t.Errorf("loss %v, want PPO %v + β × %v", st.Loss, ppoOnly.Loss, st.Imitation)
			}
			total := func() float64 { return ref.loss(bt, cfg).loss + float64(tc.beta)*ref.refImitation(obs, act, tc.n) }
			fd := make([][]float64, len(ref.params))
			const h = 1e-6
			for k, p := range ref.params {
				fd[k] = make([]float64, len(p))
				for j := range p {
					orig := p[j]
					p[j] = orig + h
					lp := total()
					p[j] = orig - h
					lm := total()
					p[j] = orig
					fd[k][j] = (lp - lm) / (2 * h)
				}
			}
			worst, _ := checkGradsFD(t, b.Grads(), fd)
			t.Logf("max |grad-fd|/tol = %.3f, imitation term %.4f", worst, st.Imitation)
			// The value network's gradient is the PPO one: imitation
			// moves the policy only.
			for k, p := range b.Grads() {
				if !strings.HasPrefix(p.Name, "value.") && p.Name != "policy.log_std" {
					continue
				}
				for j, g := range p.Data {
					if g != want[k][j] {
						t.Fatalf("imitation changed %s[%d]: %v, was %v", p.Name, j, g, want[k][j])
					}
				}
			}
		})
	}
}

// snapshotGrads copies b's stored gradient.
func snapshotGrads(b Backend) [][]float32 {
	var out [][]float32
	for _, p := range b.Grads() {
		out = append(out, append([]float32(nil), p.Data...))
	}
	return out
}

// TestImitationErrors: demonstrations of the wrong size or out-of-range
// indices are refused; backends without the term refuse a non-zero weight.
func TestImitationErrors(t *testing.T) {
	b := newNativeBackend(t, Spec{ObsDim: 2, ActDim: 3, Discrete: true, Hidden: []int{4}}, 1)
	im := b.(Imitator)
	for _, tc := range []struct {
		name     string
		obs, act []float32
		n        int
		want     string
	}{
		{"obs size", []float32{1, 2, 3}, []float32{0}, 1, "obs has 3 values"},
		{"action count", []float32{1, 2}, []float32{0, 1}, 1, "actions has 2 values"},
		{"index", []float32{1, 2}, []float32{3}, 1, "not an action index"},
		{"not finite", []float32{1, float32(math.NaN())}, []float32{1}, 1, "not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := im.SetDemos(tc.obs, tc.act, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
	g, err := NewGorgonia(Spec{ObsDim: 2, ActDim: 2, Hidden: []int{3}}, 1, AdamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	bt := makeBatch(g, rand.New(rand.NewPCG(1, 1)), 4, 0.1, 0.1)
	if _, err := g.Grad(bt, LossConfig{ClipCoef: 0.2, ImitationCoef: 1}); err == nil || !strings.Contains(err.Error(), "no imitation term") {
		t.Errorf("gorgonia with an imitation weight: %v", err)
	}
	if _, err := b.Grad(makeBatch(b, rand.New(rand.NewPCG(1, 1)), 4, 0.1, 0.1), LossConfig{ClipCoef: 0.2, ImitationCoef: -1}); err == nil {
		t.Error("a negative imitation weight was accepted")
	}
}
