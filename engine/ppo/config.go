package ppo

import (
	"errors"
	"fmt"
	"math"

	"github.com/ultra-rl/ultra/engine/env"
)

// Config holds every PPO hyperparameter. [Defaults] returns CleanRL's
// ppo_continuous_action values; each field has a YAML key, and a flag of
// the same name in `ultra train` whose help text is the field's help tag
// (the one place the options are documented).
type Config struct {
	Env            string  `yaml:"env" help:"task id (see 'ultra envs')"`
	Seed           uint64  `yaml:"seed" help:"seed for envs, networks, sampling and shuffling"`
	TotalSteps     int     `yaml:"steps" help:"env steps to train for, summed over envs" resume:"ok"`
	NumEnvs        int     `yaml:"envs" help:"parallel env instances"`
	NumSteps       int     `yaml:"num-steps" help:"rollout steps per env per iteration"`
	NumMinibatches int     `yaml:"num-minibatches" help:"minibatches per epoch"`
	UpdateEpochs   int     `yaml:"update-epochs" help:"epochs per iteration"`
	LearningRate   float64 `yaml:"learning-rate" help:"Adam learning rate"`
	AnnealLR       bool    `yaml:"anneal-lr" help:"anneal the learning rate linearly to 0"`
	Gamma          float64 `yaml:"gamma" help:"discount factor"`
	GAELambda      float64 `yaml:"gae-lambda" help:"GAE lambda"`
	NormAdv        bool    `yaml:"norm-adv" help:"normalise advantages per minibatch"`
	ClipCoef       float64 `yaml:"clip-coef" help:"surrogate clipping coefficient"`
	ClipVLoss      bool    `yaml:"clip-vloss" help:"clip the value loss"`
	EntCoef        float64 `yaml:"ent-coef" help:"entropy coefficient"`
	VfCoef         float64 `yaml:"vf-coef" help:"value loss coefficient"`
	MaxGradNorm    float64 `yaml:"max-grad-norm" help:"global gradient-norm clip (0: off)"`
	TargetKL       float64 `yaml:"target-kl" help:"early-stop epochs past this approx-KL (0: off)"`
	NormObs        bool    `yaml:"norm-obs" help:"normalise observations with running statistics"`
	ClipObs        float64 `yaml:"clip-obs" help:"clip normalised observations to ±this"`
	NormReward     bool    `yaml:"norm-reward" help:"scale rewards by the discounted-return std"`
	ClipReward     float64 `yaml:"clip-reward" help:"clip scaled rewards to ±this"`
	Hidden         []int   `yaml:"hidden" help:"hidden layer sizes, e.g. 64,64"`
	Activation     string  `yaml:"activation" help:"tanh or relu"`
	Backend        string  `yaml:"backend" help:"network backend: native (fast, plain Go) or gorgonia (reference)"`
	Device         string  `yaml:"device" help:"where the networks run: cpu, or cuda (needs a binary built with the ultracuda tag: make build-cuda); refine and sweep unit keep the checkpoint's or the plan's unless it is given" resume:"ok"`
	TF32           bool    `yaml:"tf32" help:"with device cuda: TF32 tensor cores for matrix products (faster, 10-bit mantissas)" resume:"ok"`
	Workers        int     `yaml:"workers" help:"env worker goroutines (0: automatic)"`
}

// Defaults returns CleanRL ppo_continuous_action's hyperparameters.
func Defaults() Config {
	return Config{
		Env: "hopper", Seed: 1, TotalSteps: 1_000_000, NumEnvs: 1, NumSteps: 2048,
		NumMinibatches: 32, UpdateEpochs: 10, LearningRate: 3e-4, AnnealLR: true,
		Gamma: 0.99, GAELambda: 0.95, NormAdv: true, ClipCoef: 0.2, ClipVLoss: true,
		EntCoef: 0, VfCoef: 0.5, MaxGradNorm: 0.5, TargetKL: 0,
		NormObs: true, ClipObs: 10, NormReward: true, ClipReward: 10,
		Hidden: []int{64, 64}, Activation: "tanh", Backend: "native", Device: "cpu",
	}
}

// DefaultsFor returns the defaults for a task, by its family: CleanRL's
// ppo_continuous_action for MuJoCo tasks and, for Atari games (native Pong
// and ALE), CleanRL's ppo_atari rollout and optimisation settings (8 envs ×
// 128 steps, 4 minibatches, 4 epochs, lr 2.5e-4, entropy 0.01, clip 0.1).
// Image observations are not normalised (pixels are already in [0, 1]).
func DefaultsFor(spec env.Spec) Config {
	c := Defaults()
	c.Env = spec.ID
	if spec.Family == env.FamilyAtari {
		c.NumEnvs, c.NumSteps, c.NumMinibatches, c.UpdateEpochs = 8, 128, 4, 4
		c.LearningRate, c.EntCoef, c.ClipCoef = 2.5e-4, 0.01, 0.1
	}
	if spec.Image != [3]int{} {
		c.NormObs = false
	}
	return c
}

// BatchSize is the number of samples per iteration.
func (c Config) BatchSize() int { return c.NumEnvs * c.NumSteps }

// MinibatchSize is the number of samples per gradient step.
func (c Config) MinibatchSize() int { return c.BatchSize() / c.NumMinibatches }

// Iterations is the number of rollout+update iterations TotalSteps needs:
// whole iterations only, as CleanRL's total_timesteps // batch_size, so a
// TotalSteps that is not a multiple of the batch trains [Config.PlannedSteps].
func (c Config) Iterations() int { return c.TotalSteps / c.BatchSize() }

// PlannedSteps is the number of env steps the run trains: its whole
// iterations, TotalSteps rounded down to a multiple of the batch.
func (c Config) PlannedSteps() int { return c.Iterations() * c.BatchSize() }

// StepsNote says, when TotalSteps is not a multiple of the batch, what
// the run trains instead and the --steps values on either side that are
// multiples; it is "" otherwise.
func (c Config) StepsNote() string {
	b := c.BatchSize()
	if b < 1 || c.TotalSteps%b == 0 {
		return ""
	}
	n := c.Iterations()
	return fmt.Sprintf("--steps %d is not a multiple of the batch (envs × num-steps = %d): training %d whole iterations, %d steps, as CleanRL does (--steps %d trains %d iterations)",
		c.TotalSteps, b, n, n*b, (n+1)*b, n+1)
}

// Validate names every bad value with its valid range.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, want string) {
		errs = append(errs, fmt.Errorf("%s = %v, want %s", key, v, want))
	}
	if c.NumEnvs < 1 {
		bad("envs", c.NumEnvs, "≥ 1")
	}
	if c.NumSteps < 1 {
		bad("num-steps", c.NumSteps, "≥ 1")
	}
	if c.NumMinibatches < 1 || (c.NumEnvs >= 1 && c.NumSteps >= 1 && c.NumMinibatches > c.BatchSize()) {
		bad("num-minibatches", c.NumMinibatches, fmt.Sprintf("in [1, envs × num-steps = %d]", c.BatchSize()))
	}
	if c.NumEnvs >= 1 && c.NumSteps >= 1 && c.TotalSteps < c.BatchSize() {
		bad("steps", c.TotalSteps, fmt.Sprintf("≥ envs × num-steps = %d (one iteration)", c.BatchSize()))
	}
	if c.UpdateEpochs < 1 {
		bad("update-epochs", c.UpdateEpochs, "≥ 1")
	}
	if !(c.LearningRate > 0 && c.LearningRate < 1) {
		bad("learning-rate", c.LearningRate, "in (0, 1)")
	}
	if !(c.Gamma >= 0 && c.Gamma <= 1) {
		bad("gamma", c.Gamma, "in [0, 1]")
	}
	if !(c.GAELambda >= 0 && c.GAELambda <= 1) {
		bad("gae-lambda", c.GAELambda, "in [0, 1]")
	}
	if !(c.ClipCoef > 0 && c.ClipCoef < 1) {
		bad("clip-coef", c.ClipCoef, "in (0, 1)")
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"ent-coef", c.EntCoef}, {"vf-coef", c.VfCoef}, {"max-grad-norm", c.MaxGradNorm}, {"target-kl", c.TargetKL}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			bad(f.key, f.v, "a finite value ≥ 0")
		}
	}
	if c.NormObs && !(c.ClipObs > 0) {
		bad("clip-obs", c.ClipObs, "> 0")
	}
	if c.NormReward && !(c.ClipReward > 0) {
		bad("clip-reward", c.ClipReward, "> 0")
	}
	if len(c.Hidden) == 0 {
		bad("hidden", c.Hidden, "at least one layer size, e.g. [64, 64]")
	}
	for i, h := range c.Hidden {
		if h < 1 {
			bad(fmt.Sprintf("hidden[%d]", i), h, "≥ 1")
		}
	}
	if c.Activation != "tanh" && c.Activation != "relu" {
		bad("activation", fmt.Sprintf("%q", c.Activation), `"tanh" or "relu"`)
	}
	if c.Backend != "native" && c.Backend != "gorgonia" {
		bad("backend", fmt.Sprintf("%q", c.Backend), `"native" or "gorgonia"`)
	}
	if c.Device != "cpu" && c.Device != "cuda" {
		bad("device", fmt.Sprintf("%q", c.Device), `"cpu" or "cuda"`)
	}
	if c.TF32 && c.Device != "cuda" {
		bad("tf32", c.TF32, "false unless device is cuda (TF32 is a GPU matrix-product mode)")
	}
	if c.Workers < 0 {
		bad("workers", c.Workers, "≥ 0 (0 = automatic)")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ppo: invalid config: %w", err)
	}
	return nil
}
