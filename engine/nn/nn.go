// Package nn holds the policy and value networks used by PPO, together with
// the PPO loss and the Adam optimizer, behind a small [Backend] interface.
//
// The maths follows CleanRL's ppo_continuous_action.py (diagonal Gaussian
// head with a state-independent log-std) and ppo.py (categorical head):
//
//	policy MLP: Linear -> act -> Linear -> act -> ... -> Linear (mean or logits)
//	value  MLP: Linear -> act -> Linear -> act -> ... -> Linear (1 output)
//
// Weights are stored in PyTorch layout ([out, in], row-major), so a
// parameter named "policy.2.weight" here corresponds to CleanRL's
// "actor_mean.2.weight" (continuous) or "actor.2.weight" (discrete),
// "policy.log_std" to "actor_logstd" (shape [1, ActDim] there, [ActDim]
// here) and "value.*" to "critic.*".
//
// With Spec.Image set, [NewGorgonia] (and the CUDA backend) instead build
// the Nature-CNN actor-critic of CleanRL's ppo_atari.py (shared conv
// torso, "torso.*", "actor.*" and "critic.*" parameters; see cnn.go).
//
// [NewGorgonia] returns the CPU backend built on gorgonia.org/gorgonia, the
// numerical reference; [NewNative] the fast plain-Go CPU backend for MLPs;
// with the build tag ultracuda, NewCUDA the GPU backend (cuda.go), tested
// against both.
// A Backend is not safe for concurrent use; distinct backends may be used
// from different goroutines.
package nn

import (
	"errors"
	"fmt"
	"math"
)

// Spec describes a policy+value network pair.
type Spec struct {
	// ObsDim is the length of one observation vector.
	ObsDim int
	// ActDim is the number of action dimensions (continuous) or the number
	// of discrete actions (Discrete).
	ActDim int
	// Discrete selects a categorical head instead of a diagonal Gaussian.
	Discrete bool
	// Hidden lists the hidden layer sizes, default {64, 64}. The policy and
	// value nets are separate MLPs of the same shape.
	Hidden []int
	// Activation is "tanh" (default) or "relu".
	Activation string
	// InitLogStd is the initial value of every entry of the
	// state-independent log-std (continuous only), default 0.
	InitLogStd float32
	// Image, when non-zero, is the (channels, height, width) layout of a
	// channel-first image observation (obs[c*H*W + y*W + x]) and selects
	// the Nature-CNN actor-critic of CleanRL's ppo_atari.py instead of the
	// two MLPs (see cnn.go): ObsDim must equal C*H*W, Discrete must be set,
	// H and W must be at least 36, Hidden must be empty and Activation
	// empty or "relu". Every backend builds it (native, gorgonia, CUDA).
	Image [3]int
}

// minImageSide is the smallest image height/width the Nature-CNN accepts:
// the three valid convolutions (8/4, 4/2, 3/1) need 36 pixels for a 1×1
// output.
const minImageSide = 36

// IsImage reports whether s describes the convolutional network.
func (s Spec) IsImage() bool { return s.Image != [3]int{} }

// Activation names accepted by [Spec].
const (
	ActTanh = "tanh"
	ActReLU = "relu"
)

// DefaultHidden is the hidden layer layout used when Spec.Hidden is empty.
var DefaultHidden = []int{64, 64}

// maxDim bounds every layer width; it only exists to reject nonsense sizes
// with a clear message before they turn into huge allocations.
const maxDim = 1 << 20

// withDefaults returns a copy of s with empty fields replaced by defaults.
// The Hidden slice is always copied so that callers cannot mutate it later.
func (s Spec) withDefaults() Spec {
	if s.IsImage() {
		// The CNN's only hidden Linear layer is the 512-unit ReLU one.
		s.Hidden = []int{cnnHidden}
		s.Activation = ActReLU
		return s
	}
	if len(s.Hidden) == 0 {
		s.Hidden = append([]int(nil), DefaultHidden...)
	} else {
		s.Hidden = append([]int(nil), s.Hidden...)
	}
	if s.Activation == "" {
		s.Activation = ActTanh
	}
	return s
}

// Validate reports whether s describes a network this package can build.
// Empty Hidden and Activation are valid and mean their defaults.
func (s Spec) Validate() error {
	var errs []error
	if s.ObsDim < 1 || s.ObsDim > maxDim {
		errs = append(errs, fmt.Errorf("ObsDim = %d, want 1 <= ObsDim <= %d", s.ObsDim, maxDim))
	}
	minAct := 1
	if s.Discrete {
		minAct = 2
	}
	if s.ActDim < minAct || s.ActDim > maxDim {
		what := "continuous action dimensions"
		if s.Discrete {
			what = "discrete actions"
		}
		errs = append(errs, fmt.Errorf("ActDim = %d (%s), want %d <= ActDim <= %d", s.ActDim, what, minAct, maxDim))
	}
	for i, h := range s.Hidden {
		if h < 1 || h > maxDim {
			errs = append(errs, fmt.Errorf("hidden layer %d size = %d, want 1 <= size <= %d", i, h, maxDim))
		}
	}
	switch s.Activation {
	case "", ActTanh, ActReLU:
	default:
		errs = append(errs, fmt.Errorf("activation = %q, want %q (default) or %q", s.Activation, ActTanh, ActReLU))
	}
	if s.IsImage() {
		c, h, w := s.Image[0], s.Image[1], s.Image[2]
		switch {
		case c < 1 || h < minImageSide || w < minImageSide || c > maxDim || h > maxDim || w > maxDim:
			errs = append(errs, fmt.Errorf("image layout %v (channels, height, width), want channels >= 1 and height, width >= %d", s.Image, minImageSide))
		case c*h*w != s.ObsDim:
			errs = append(errs, fmt.Errorf("image layout %v has %d values, want ObsDim = %d", s.Image, c*h*w, s.ObsDim))
		}
		if !s.Discrete {
			errs = append(errs, errors.New("an image spec requires Discrete (the CNN has a categorical head only)"))
		}
		if len(s.Hidden) != 0 {
			errs = append(errs, fmt.Errorf("hidden layers %v with Image, want none (the CNN layout is fixed)", s.Hidden))
		}
		if s.Activation != "" && s.Activation != ActReLU {
			errs = append(errs, fmt.Errorf("activation = %q with Image, want %q or empty (the CNN uses ReLU)", s.Activation, ActReLU))
		}
	}
	ls := float64(s.InitLogStd)
	switch {
	case math.IsNaN(ls) || math.IsInf(ls, 0):
		errs = append(errs, fmt.Errorf("InitLogStd = %v, want a finite value", s.InitLogStd))
	case s.Discrete && s.InitLogStd != 0:
		errs = append(errs, fmt.Errorf("InitLogStd = %v, want 0 with Discrete (the categorical head has no log-std)", s.InitLogStd))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("nn: invalid Spec: %w", errors.Join(errs...))
}

// Param is one named parameter tensor; Data aliases the backend's storage
// (row-major), so writing to it changes the network.
type Param struct {
	// Name is stable across runs, e.g. "policy.0.weight", "policy.log_std",
	// "value.4.bias" (PyTorch nn.Sequential indices: Linear layers sit at
	// even positions, activations between them).
	Name string
	// Shape is [out, in] for weights, [out] for biases, [ActDim] for log_std.
	Shape []int
	// Data holds prod(Shape) values in row-major order.
	Data []float32
}

// Batch is a PPO minibatch in flat row-major float32 buffers.
type Batch struct {
	// N is the number of samples.
	N int
	// Obs holds N*ObsDim observation values.
	Obs []float32
	// Actions holds N*ActDim values (continuous) or N action indices stored
	// as float32 (discrete).
	Actions []float32
	// LogProbs holds the N behaviour-policy log-probabilities of Actions.
	LogProbs []float32
	// Advantages holds N advantages (already normalised by the caller if
	// wanted).
	Advantages []float32
	// Returns holds the N value targets.
	Returns []float32
	// Values holds the N value predictions at collection time; only read
	// when LossConfig.ClipVLoss is set.
	Values []float32
}

// LossConfig holds PPO loss coefficients (CleanRL names).
type LossConfig struct {
	// ClipCoef is the surrogate clipping coefficient (CleanRL clip_coef,
	// typically 0.2); also the value clipping range when ClipVLoss is set.
	ClipCoef float32
	// VfCoef weights the value loss (vf_coef, typically 0.5).
	VfCoef float32
	// EntCoef weights the entropy bonus (ent_coef, 0 for continuous
	// control, 0.01 for Atari).
	EntCoef float32
	// ClipVLoss enables value clipping around Batch.Values (clip_vloss).
	ClipVLoss bool
	// ImitationCoef weighs the behaviour-cloning term over the
	// demonstrations given to SetDemos (backends that implement
	// Imitator; the others refuse a non-zero value). 0 leaves the loss
	// CleanRL's.
	ImitationCoef float32
}

// Imitator is a Backend whose loss can pull the policy toward demonstrated
// actions (ULTRA-I): with LossConfig.ImitationCoef = β > 0, Grad and
// GradMinibatch add β × LossStats.Imitation, the mean over the
// demonstrations of
//
//	Gaussian head:    (1/ActDim) Σ_j (mean_j(s) − a_j)²   (log_std untouched)
//	categorical head: −log softmax(logits(s))[a]          (cross-entropy)
//
// Only the policy network's gradient changes. The Gaussian term pulls the
// mean and leaves the state-independent log_std alone: a likelihood term
// would also shrink or widen exploration at every state because of a
// handful of annotated ones.
type Imitator interface {
	// SetDemos replaces the demonstrations with n normalised observations
	// (n*ObsDim values) and their actions (n*ActDim values; one action
	// index per demonstration for a categorical head), copied. n = 0
	// removes them.
	SetDemos(obs, actions []float32, n int) error
}

// Snapshotter is a Backend that can set its state aside where it lives
// and read it back only when it is needed. The CUDA backend copies its
// parameters and Adam's moments on the device, so that a checkpoint kept
// just in case (run.Loop's, before each iteration, for a stop that
// outlasts the shutdown timeout) costs no copy to the host and back. Host
// backends do not implement it: a host copy is what a checkpoint takes
// anyway.
type Snapshotter interface {
	// Snapshot sets aside the parameters, Adam's moments and step count,
	// replacing the previous snapshot.
	Snapshot() error
	// Snapshotted returns the last Snapshot: new Params-shaped lists of the
	// parameters and Adam's two moments, and the step count.
	Snapshotted() (params, m, v []Param, t int, err error)
}

// LossStats reports the loss terms of one Grad call, averaged over the batch.
type LossStats struct {
	// Loss = PolicyLoss - EntCoef*Entropy + VfCoef*ValueLoss
	// + ImitationCoef*Imitation.
	Loss float64
	// PolicyLoss is the clipped surrogate objective (pg_loss).
	PolicyLoss float64
	// ValueLoss is 0.5 * mean squared error, clipped if requested (v_loss).
	ValueLoss float64
	// Entropy is the mean policy entropy.
	Entropy float64
	// ApproxKL is mean((ratio-1) - log(ratio)), the low-variance KL
	// estimator CleanRL logs as approx_kl. Statistic only, no gradient.
	ApproxKL float64
	// ClipFrac is the fraction of samples with |ratio-1| > ClipCoef.
	// Statistic only, no gradient.
	ClipFrac float64
	// Imitation is the behaviour-cloning term over the demonstrations
	// (Imitator), before its weight; 0 when ImitationCoef is 0 or there
	// are none.
	Imitation float64
}

// AdamConfig holds Adam's hyper-parameters; zero fields take the defaults
// Beta1 0.9, Beta2 0.999, Eps 1e-5 (CleanRL passes eps=1e-5).
type AdamConfig struct {
	Beta1, Beta2, Eps float32
}

// withDefaults fills zero fields with the defaults documented on AdamConfig.
func (c AdamConfig) withDefaults() AdamConfig {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-5
	}
	return c
}

// validate checks the (defaulted) Adam hyper-parameters.
func (c AdamConfig) validate() error {
	if !(c.Beta1 >= 0 && c.Beta1 < 1) {
		return fmt.Errorf("nn: invalid AdamConfig: Beta1 = %v, want 0 <= Beta1 < 1", c.Beta1)
	}
	if !(c.Beta2 >= 0 && c.Beta2 < 1) {
		return fmt.Errorf("nn: invalid AdamConfig: Beta2 = %v, want 0 <= Beta2 < 1", c.Beta2)
	}
	if !(c.Eps > 0) || math.IsInf(float64(c.Eps), 0) {
		return fmt.Errorf("nn: invalid AdamConfig: Eps = %v, want a finite Eps > 0", c.Eps)
	}
	return nil
}

// Backend is the network maths behind PPO: forward, backward and optimizer
// step over a batch. Every backend agrees numerically with the gorgonia
// one (the tests hold them to it).
type Backend interface {
	// Spec returns the network description with defaults filled in.
	Spec() Spec
	// Forward evaluates n observations (obs holds n*ObsDim values): dist
	// gets n*ActDim values (Gaussian mean, or logits) and values gets n.
	Forward(obs []float32, n int, dist, values []float32) error
	// Grad computes the PPO loss over the batch and stores its gradient
	// (replacing any previous one).
	Grad(b Batch, c LossConfig) (LossStats, error)
	// SetRollout hands over one iteration's samples (b.N of them, Values
	// included) for GradMinibatch. Host backends read b's buffers in place,
	// so they must not change until the next SetRollout; the CUDA backend
	// copies them to the device once, so that minibatches are gathered
	// there.
	SetRollout(b Batch) error
	// GradMinibatch is Grad over the samples idx of the rollout given to
	// SetRollout, with their advantages normalised over the minibatch when
	// normAdv is set (mean 0, unbiased standard deviation, +1e-8 in the
	// denominator, as CleanRL's norm_adv).
	GradMinibatch(idx []int, normAdv bool, c LossConfig) (LossStats, error)
	// Step clips the stored gradient to global L2 norm maxGradNorm (if > 0),
	// applies one Adam step with learning rate lr (bias-corrected), and
	// returns the pre-clip global gradient norm.
	Step(lr, maxGradNorm float32) (float32, error)
	// Params lists the policy MLP, log_std (continuous) and the value MLP, in
	// a stable order with stable names. Data aliases the live parameters.
	Params() []Param
	// Grads lists the stored gradient in the same order and shapes as
	// Params (after Step it holds the clipped gradient).
	Grads() []Param
	// AdamState returns Adam's first and second moments (same order and
	// shapes as Params, aliasing the live state) and the step count.
	AdamState() (m, v []Param, t int)
	// SetAdamState copies m and v (one slice per parameter, in Params
	// order) into the optimizer and sets its step count to t.
	SetAdamState(m, v [][]float32, t int) error
	// Close releases the backend; later calls fail.
	Close() error
}

// checkBatch validates a minibatch and loss coefficients against the spec
// for the method call (every backend uses it, so their errors are the
// same).
func (s Spec) checkBatch(call string, bt Batch, c LossConfig) error {
	n := bt.N
	if n < 1 {
		return fmt.Errorf("nn: %s: Batch.N = %d, want N >= 1", call, n)
	}
	check := func(field string, got, want int, wantDesc string) error {
		if got != want {
			return fmt.Errorf("nn: %s: Batch.%s has %d values, want %s = %d", call, field, got, wantDesc, want)
		}
		return nil
	}
	if err := check("Obs", len(bt.Obs), n*s.ObsDim, "N*ObsDim"); err != nil {
		return err
	}
	if s.Discrete {
		if err := check("Actions", len(bt.Actions), n, "N (one action index per sample)"); err != nil {
			return err
		}
	} else if err := check("Actions", len(bt.Actions), n*s.ActDim, "N*ActDim"); err != nil {
		return err
	}
	if err := check("LogProbs", len(bt.LogProbs), n, "N"); err != nil {
		return err
	}
	if err := check("Advantages", len(bt.Advantages), n, "N"); err != nil {
		return err
	}
	if err := check("Returns", len(bt.Returns), n, "N"); err != nil {
		return err
	}
	if c.ClipVLoss {
		if err := check("Values", len(bt.Values), n, "N (required by ClipVLoss)"); err != nil {
			return err
		}
	}
	if s.Discrete {
		for i, a := range bt.Actions {
			if !(a >= 0 && a < float32(s.ActDim)) || a != float32(int(a)) {
				return fmt.Errorf("nn: %s: Batch.Actions[%d] = %v is not an action index in [0, %d)", call, i, a, s.ActDim)
			}
		}
	}
	return c.check(call)
}

// check validates the loss coefficients for the method call.
func (c LossConfig) check(call string) error {
	for _, f := range []struct {
		name string
		v    float32
	}{{"ClipCoef", c.ClipCoef}, {"VfCoef", c.VfCoef}, {"EntCoef", c.EntCoef}, {"ImitationCoef", c.ImitationCoef}} {
		if math.IsNaN(float64(f.v)) || math.IsInf(float64(f.v), 0) {
			return fmt.Errorf("nn: %s: LossConfig.%s = %v, want a finite value", call, f.name, f.v)
		}
	}
	if c.ClipCoef < 0 {
		return fmt.Errorf("nn: %s: LossConfig.ClipCoef = %v, want ClipCoef >= 0", call, c.ClipCoef)
	}
	if c.ImitationCoef < 0 {
		return fmt.Errorf("nn: %s: LossConfig.ImitationCoef = %v, want ImitationCoef >= 0", call, c.ImitationCoef)
	}
	return nil
}

// errNoImitation is what a backend without the imitation term answers to a
// non-zero LossConfig.ImitationCoef.
func errNoImitation(backend string) error {
	return fmt.Errorf("nn: the %s backend has no imitation term (LossConfig.ImitationCoef): the imitating variants run on the native backend (--device cpu)", backend)
}

// checkDemos validates SetDemos' arguments against the spec.
func (s Spec) checkDemos(obs, actions []float32, n int) error {
	ad := s.ActDim
	if s.Discrete {
		ad = 1
	}
	switch {
	case n < 0:
		return fmt.Errorf("nn: SetDemos: n = %d, want n >= 0", n)
	case len(obs) != n*s.ObsDim:
		return fmt.Errorf("nn: SetDemos: obs has %d values, want n*ObsDim = %d", len(obs), n*s.ObsDim)
	case len(actions) != n*ad:
		return fmt.Errorf("nn: SetDemos: actions has %d values, want %d", len(actions), n*ad)
	}
	for i, v := range obs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("nn: SetDemos: obs[%d] = %v is not finite", i, v)
		}
	}
	for i, a := range actions {
		if math.IsNaN(float64(a)) || math.IsInf(float64(a), 0) {
			return fmt.Errorf("nn: SetDemos: actions[%d] = %v is not finite", i, a)
		}
		if s.Discrete && !(a >= 0 && a < float32(s.ActDim) && a == float32(int(a))) {
			return fmt.Errorf("nn: SetDemos: actions[%d] = %v is not an action index in [0, %d)", i, a, s.ActDim)
		}
	}
	return nil
}

// checkForward validates Forward's arguments against the spec.
func (s Spec) checkForward(closed bool, obs []float32, n int, dist, values []float32) error {
	switch {
	case closed:
		return errors.New("nn: Forward: backend is closed")
	case n < 1:
		return fmt.Errorf("nn: Forward: n = %d, want n >= 1", n)
	case len(obs) != n*s.ObsDim:
		return fmt.Errorf("nn: Forward: obs has %d values, want n*ObsDim = %d", len(obs), n*s.ObsDim)
	case len(dist) != n*s.ActDim:
		return fmt.Errorf("nn: Forward: dist has %d values, want n*ActDim = %d", len(dist), n*s.ActDim)
	case len(values) != n:
		return fmt.Errorf("nn: Forward: values has %d values, want n = %d", len(values), n)
	}
	return nil
}
