package nn

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/ultra-rl/ultra/bindings/blas"
)

// adamState is a backend-independent Adam optimizer over flat float32
// parameter buffers (PyTorch torch.optim.Adam semantics, no weight decay,
// no amsgrad).
type adamState struct {
	cfg  AdamConfig
	m, v [][]float32 // first and second moments, one buffer per parameter
	t    int         // number of steps taken
}

// newAdamState allocates zero moments shaped like params.
func newAdamState(cfg AdamConfig, params [][]float32) *adamState {
	s := &adamState{cfg: cfg, m: make([][]float32, len(params)), v: make([][]float32, len(params))}
	for i, p := range params {
		s.m[i] = make([]float32, len(p))
		s.v[i] = make([]float32, len(p))
	}
	return s
}

// gradNorm returns the global L2 norm of grads, accumulated in float64
// (blas.SumSquares per buffer, in a fixed order).
func gradNorm(grads [][]float32) float64 {
	var s float64
	for _, g := range grads {
		s += blas.SumSquares(g)
	}
	return math.Sqrt(s)
}

// clipScale is the factor that clips grads of global norm norm to at most
// maxNorm, like torch.nn.utils.clip_grad_norm_: maxNorm/(norm+1e-6) when
// that is below 1, else 1 (and 1 when maxNorm <= 0: no clipping).
func clipScale(norm float64, maxNorm float32) float64 {
	if maxNorm <= 0 {
		return 1
	}
	return min(float64(maxNorm)/(norm+1e-6), 1)
}

// step clips grads (if maxNorm > 0; they are left clipped), applies one
// Adam update to params and returns the pre-clip gradient norm. Per
// element, with t the new step count (blas.Adam):
//
//	g = scale*g                       (clipScale)
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g²
//	p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
//
// The arithmetic is float64; m, v and p are stored as float32. Beta1, Beta2
// and Eps are widened with decimal64, so 0.999 means the double 0.999 as in
// PyTorch (where 1-beta2 and the bias corrections are computed in double),
// not float32(0.999) = 0.99900001287, whose 1-b2 is off by 1.3e-5 relative.
// A non-finite gradient norm is reported as an error and nothing changes.
func (s *adamState) step(params, grads [][]float32, lr, maxNorm float32) (float32, error) {
	if err := checkStepArgs(lr, maxNorm); err != nil {
		return 0, err
	}
	norm := gradNorm(grads)
	if err := checkNorm(norm); err != nil {
		return float32(norm), err
	}
	s.t++
	k := s.cfg.coefs(s.t, lr)
	c := blas.AdamCoefs{Scale: clipScale(norm, maxNorm), Beta1: k.b1, Beta2: k.b2, Eps: k.eps, StepSize: k.stepSize, SqrtBC2: k.sqrtBC2}
	for i, p := range params {
		blas.Adam(p, grads[i], s.m[i], s.v[i], c)
	}
	return float32(norm), nil
}

// checkStepArgs validates Step's arguments (every backend uses it).
func checkStepArgs(lr, maxNorm float32) error {
	if math.IsNaN(float64(lr)) || math.IsInf(float64(lr), 0) || lr < 0 {
		return fmt.Errorf("nn: Step: lr = %v, want a finite lr >= 0", lr)
	}
	if math.IsNaN(float64(maxNorm)) || math.IsInf(float64(maxNorm), 0) {
		return fmt.Errorf("nn: Step: maxGradNorm = %v, want a finite value (<= 0 disables clipping)", maxNorm)
	}
	return nil
}

// checkNorm reports a non-finite gradient norm, which Step refuses.
func checkNorm(norm float64) error {
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fmt.Errorf("nn: Step: gradient norm is %v; parameters and Adam state left unchanged", norm)
	}
	return nil
}

// adamCoefs are the per-step constants of Adam for step t (1-based).
type adamCoefs struct {
	b1, b2, eps       float64
	stepSize, sqrtBC2 float64 // lr/(1-β1^t) and sqrt(1-β2^t)
}

// coefs computes step t's constants in double, as PyTorch does.
func (c AdamConfig) coefs(t int, lr float32) adamCoefs {
	b1, b2, eps := decimal64(c.Beta1), decimal64(c.Beta2), decimal64(c.Eps)
	bc1 := 1 - math.Pow(b1, float64(t))
	bc2 := 1 - math.Pow(b2, float64(t))
	return adamCoefs{b1: b1, b2: b2, eps: eps, stepSize: float64(lr) / bc1, sqrtBC2: math.Sqrt(bc2)}
}

// set copies checkpointed moments into s after checking their shapes.
func (s *adamState) set(m, v [][]float32, t int, names []string) error {
	if t < 0 {
		return fmt.Errorf("nn: SetAdamState: t = %d, want t >= 0", t)
	}
	if len(m) != len(s.m) || len(v) != len(s.v) {
		return fmt.Errorf("nn: SetAdamState: got %d m and %d v buffers, want %d each (one per parameter)", len(m), len(v), len(s.m))
	}
	for i := range s.m {
		if len(m[i]) != len(s.m[i]) {
			return fmt.Errorf("nn: SetAdamState: m[%d] (%s) has %d values, want %d", i, names[i], len(m[i]), len(s.m[i]))
		}
		if len(v[i]) != len(s.v[i]) {
			return fmt.Errorf("nn: SetAdamState: v[%d] (%s) has %d values, want %d", i, names[i], len(v[i]), len(s.v[i]))
		}
	}
	for i := range s.m {
		copy(s.m[i], m[i])
		copy(s.v[i], v[i])
	}
	s.t = t
	return nil
}

// decimal64 widens f to the float64 with the same shortest decimal
// representation (float32(0.999) -> 0.999), i.e. the value the user wrote.
func decimal64(f float32) float64 {
	d, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return d
}

// optimizer is the half of a Backend that does not depend on how the
// network maths is computed: per-parameter value and gradient buffers, their
// names, and Adam. Backends embed it.
type optimizer struct {
	pdata, gdata [][]float32
	names        []string
	opt          *adamState
	hasGrad      bool // Grad has stored a gradient
	closed       bool
}

// SetAdamState copies checkpointed Adam moments and step count.
func (o *optimizer) SetAdamState(m, v [][]float32, t int) error {
	if o.closed {
		return errors.New("nn: SetAdamState: backend is closed")
	}
	return o.opt.set(m, v, t, o.names)
}

// Step clips the stored gradient and applies one Adam update.
func (o *optimizer) Step(lr, maxGradNorm float32) (float32, error) {
	if o.closed {
		return 0, errors.New("nn: Step: backend is closed")
	}
	if !o.hasGrad {
		return 0, errors.New("nn: Step: no gradient stored; call Grad first")
	}
	return o.opt.step(o.pdata, o.gdata, lr, maxGradNorm)
}
