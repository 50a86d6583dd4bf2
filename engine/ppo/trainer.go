// Package ppo is ultra's PPO learner: CleanRL's ppo_continuous_action (and
// its categorical twin for discrete actions) over a batched VecEnv, with the
// hooks ULTRA needs — replace the action taken at a step, add a bonus to its
// reward, and receive every finished episode — and exact checkpoints.
//
// One iteration is a rollout of NumSteps steps of every env followed by
// UpdateEpochs passes of minibatch updates. The tricks are the ones CleanRL
// names: running observation normalisation and return-based reward scaling
// (both clipped to ±10), GAE, per-minibatch advantage normalisation, the
// clipped surrogate and value losses, global gradient clipping and a linearly
// annealed learning rate. Unlike CleanRL, truncated episodes are bootstrapped
// from their kept final observation instead of being treated as terminal.
package ppo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/nn"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/memlimit"
)

// Modulator lets a caller steer the rollout (ULTRA's policy modulation). It
// is asked once per env per step, before the env steps, with the raw
// observation and the action the env is about to execute: the sampled
// action clipped to a Box's bounds (a Discrete space's sampled index as
// is). A Gaussian sample of 1.3 under bounds [-1, 1] arrives as 1.0, the
// action the env executes and the trajectories record.
type Modulator interface {
	// Modulate may overwrite action with another in-space action and
	// return replaced = true; the env then executes that action (clipped
	// to the space again), and the trainer stores it and its
	// log-probability under the behaviour policy. bonus is added to the
	// step's env reward (before reward scaling).
	Modulate(env int, obs, action []float32) (replaced bool, bonus float64)
}

// Hooks are the optional extension points of a Trainer.
type Hooks struct {
	Modulator Modulator
	// OnEpisode receives each finished episode (Env, dims, raw observations,
	// executed actions, env rewards, the modulator's bonus and replacements,
	// the final observation, the global step; ID is left empty); it owns ep
	// afterwards. It runs on the training goroutine, so it must hand slow
	// work elsewhere.
	OnEpisode func(ep *traj.Trajectory)
	// Snapshots makes OnEpisode's trajectories carry the simulator state
	// before each step (one state copy per step), so that annotations made
	// from them can restart episodes there (RICE).
	Snapshots bool
	// Resetter, when set, may restart ended episodes at stored simulator
	// states (RICE's mixed initial distribution).
	Resetter StateResetter
	// Imitation, when set, adds a behaviour-cloning term to the PPO loss.
	Imitation *Imitation
}

// StateResetter restarts ended episodes at stored simulator states.
type StateResetter interface {
	// ResetState is asked for each env whose episode just ended; a non-nil
	// simulator snapshot is to replace the env's fresh start.
	ResetState(env int) []float64
	// Restored reports whether the snapshot ResetState gave for env was
	// restored; one that was not leaves the env at its fresh start.
	Restored(env int, ok bool)
}

// Imitation is a behaviour-cloning term added to the PPO loss (ULTRA-I,
// this project's extension): Coef × the mean over the demonstrations of
// the squared distance from the policy's mean action to the demonstrated
// one, averaged over action dimensions (the cross-entropy of the
// demonstrated index for a categorical policy); see nn.LossConfig.
type Imitation struct {
	// Coef is the term's weight β (≥ 0).
	Coef float64
	// Demos returns the raw observations (n × the observation size) and the
	// actions (n × the action size, a Discrete space's indices) to imitate.
	// It is called once per update, so demonstrations may be added while
	// the run trains; the trainer normalises the observations as the policy
	// sees them and clips the actions to the space.
	Demos func() (obs, actions []float32)
}

// IterStats reports one iteration.
type IterStats struct {
	Iteration     int     `json:"iteration"`
	GlobalStep    int64   `json:"global_step"`
	SPS           float64 `json:"sps"` // env steps per second over this iteration
	LearningRate  float64 `json:"learning_rate"`
	PolicyLoss    float64 `json:"policy_loss"`
	ValueLoss     float64 `json:"value_loss"`
	Entropy       float64 `json:"entropy"`
	ApproxKL      float64 `json:"approx_kl"`
	ClipFrac      float64 `json:"clip_frac"`
	ExplainedVar  float64 `json:"explained_variance"`
	GradNorm      float64 `json:"grad_norm"`
	Epochs        int     `json:"epochs"` // fewer than UpdateEpochs after a target-KL stop
	Episodes      int     `json:"episodes"`
	ReturnMean    float64 `json:"episodic_return"` // mean over episodes finished this iteration (NaN if none)
	LengthMean    float64 `json:"episodic_length"`
	Return10      float64 `json:"return_last10"`            // mean return of the last 10 finished episodes (NaN before any)
	Overrides     int     `json:"overrides"`                // steps whose action the modulator replaced
	Bonuses       int     `json:"bonuses"`                  // steps given a non-zero bonus
	Resets        int     `json:"resets"`                   // episodes started from a Resetter's snapshot
	FailedResets  int     `json:"failed_resets,omitempty"`  // snapshots that could not be restored (the episode started fresh)
	ImitationLoss float64 `json:"imitation_loss,omitempty"` // the behaviour-cloning term before its weight (Hooks.Imitation)
	// Finished holds the return and length of each episode finished this
	// iteration, for per-episode metrics; it aliases the trainer's buffer
	// and is valid until the next Iterate.
	Finished      []EpisodeEnd `json:"-"`
	PhysicsResets int64        `json:"physics_resets"` // cumulative
	RolloutSec    float64      `json:"rollout_seconds"`
	UpdateSec     float64      `json:"update_seconds"`
	// EnvBusy is the share of the env workers' time inside VecEnv.Step
	// that stepped instances during the rollout (env.Stats.Busy over
	// Workers × Stepping): 1 with one worker; below, the rest waited at the
	// step barrier. Low values on a many-core machine say fewer workers
	// (--workers) or more envs per worker would do. 0: not measured.
	EnvBusy float64 `json:"env_busy"`
}

// EpisodeEnd is one finished training episode.
type EpisodeEnd struct {
	Return float64
	Length int
}

// Trainer runs PPO. It is not safe for concurrent use.
type Trainer struct {
	cfg   Config
	spec  env.Spec
	env   env.VecEnv
	net   nn.Backend
	hooks Hooks

	obsRMS *RunningMeanStd
	rew    *RewardScaler
	pcg    *rand.PCG
	rng    *rand.Rand

	iteration  int
	globalStep int64

	numEnvs, obsDim, actDim, numSteps int
	discrete                          bool
	logStd                            []float32 // aliases the backend's parameter (continuous only)

	// Rollout storage, step-major (t*N + i).
	obs, actions             []float32
	logp, rewards, values    []float32
	adv, returns             []float32
	ended                    []bool
	normObs, dist, val       []float32 // N rows for the current step
	envAct, bonus            []float32
	replaced                 []bool
	truncIdx                 []int
	truncObs, truncV, truncD []float32
	rawObs                   []float32 // copy of the current raw observation (env buffers are reused)

	perm []int

	imitator         nn.Imitator // the networks, when Hooks.Imitation is set
	demoObs, demoAct []float32   // the demonstrations as the networks get them

	builders []*traj.Trajectory
	snaps    [][]float64  // per env, the simulator state before the current step (Hooks.Snapshots)
	last10   []float64    // returns of the most recent finished episodes, at most 10
	finished []EpisodeEnd // the episodes finished in the current iteration

	stop    atomic.Bool // set by Stop: abandon the current iteration
	snapGen int         // counts the networks' snapshots taken by CheckpointLazy
}

// ErrStopped is returned by Iterate after Stop: the iteration was abandoned
// midway, leaving the trainer in a state that must not be checkpointed or
// continued; restore the checkpoint taken before the iteration instead.
var ErrStopped = errors.New("ppo: iteration abandoned by Stop")

// Stop makes a running Iterate return ErrStopped at its next step or
// minibatch. It is safe to call from any goroutine.
func (t *Trainer) Stop() { t.stop.Store(true) }

// New builds a trainer: the VecEnv for spec, fresh networks, and the state
// of iteration 0.
func New(cfg Config, spec env.Spec, hooks Hooks) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := memlimit.Check(rolloutEstimate(cfg, spec)); err != nil {
		return nil, fmt.Errorf("ppo: envs × num-steps = %d: %w", cfg.BatchSize(), err)
	}
	// Account: the workers' busy share (IterStats.EnvBusy), for two or three
	// clock reads a Step and worker.
	v, err := env.New(spec, env.Config{NumEnvs: cfg.NumEnvs, Workers: cfg.Workers, Account: true})
	if err != nil {
		return nil, err
	}
	net, err := NewBackend(cfg, spec)
	if err != nil {
		v.Close()
		return nil, err
	}
	t := &Trainer{cfg: cfg, spec: spec, env: v, net: net, hooks: hooks}
	if im := hooks.Imitation; im != nil {
		var ok bool
		if t.imitator, ok = net.(nn.Imitator); !ok || im.Demos == nil || !(im.Coef >= 0) || math.IsInf(im.Coef, 0) {
			t.Close()
			if !ok {
				return nil, fmt.Errorf("ppo: imitation: the %s networks have no imitation term: run the imitating variants with --device cpu (the native backend)", cfg.Device)
			}
			return nil, fmt.Errorf("ppo: imitation: weight %v and demonstrations %v, want a finite weight ≥ 0 and a demonstration source", im.Coef, im.Demos != nil)
		}
	}
	t.alloc()
	t.pcg = rand.NewPCG(cfg.Seed, 0x707)
	t.rng = rand.New(t.pcg)
	obs, err := v.Reset(cfg.Seed)
	if err != nil {
		t.Close()
		return nil, err
	}
	if cfg.NormObs {
		t.obsRMS.Update(obs, t.numEnvs)
	}
	t.observe(obs)
	return t, nil
}

// netSpec is the network layout cfg asks for on spec. Pixel observations
// get CleanRL's ppo_atari Nature-CNN, to which the MLP settings (Hidden,
// Activation) do not apply.
func netSpec(cfg Config, spec env.Spec) nn.Spec {
	ns := nn.Spec{ObsDim: spec.Observation.Dim, ActDim: spec.Action.Dim, Hidden: cfg.Hidden, Activation: cfg.Activation}
	if spec.Action.IsDiscrete() {
		ns.ActDim, ns.Discrete = spec.Action.N, true
	}
	if img, ok := imageLayout(spec); ok {
		ns.Image, ns.Hidden, ns.Activation = img, nil, ""
	}
	return ns
}

// NewBackend makes the networks cfg asks for, sized for spec. A network
// whose estimated memory is over the limit (see internal/memlimit) is
// refused before anything is allocated.
func NewBackend(cfg Config, spec env.Spec) (nn.Backend, error) {
	ns := netSpec(cfg, spec)
	if err := memlimit.Check(ns.Estimate(cfg.MinibatchSize())); err != nil {
		return nil, fmt.Errorf("ppo: hidden %v: %w", cfg.Hidden, err)
	}
	if cfg.Device == "cuda" {
		return newCUDABackend(ns, cfg)
	}
	switch cfg.Backend {
	case "native":
		return nn.NewNative(ns, cfg.Seed, nn.AdamConfig{})
	case "gorgonia":
		return nn.NewGorgonia(ns, cfg.Seed, nn.AdamConfig{})
	default:
		return nil, fmt.Errorf("ppo: unknown backend %q: valid backends are native, gorgonia", cfg.Backend)
	}
}

// imageLayout returns the (channels, height, width) layout of image
// observations (pong-pixels' and the ALE games' 4 stacked 84×84 frames,
// channel-first and already scaled to [0, 1]); other environments have
// vector observations.
func imageLayout(spec env.Spec) ([3]int, bool) {
	return spec.Image, spec.Image != [3]int{}
}

// rolloutEstimate is the memory of the rollout buffers alloc makes: per
// sample an observation, an action, six scalars and an index.
func rolloutEstimate(cfg Config, spec env.Spec) memlimit.Estimate {
	per := int64(4*(spec.Observation.Dim+spec.Action.Dim) + 6*4 + 1 + 8)
	b := memlimit.SatMul(int64(cfg.NumEnvs), int64(cfg.NumSteps))
	return memlimit.Estimate{
		Bytes: memlimit.SatMul(b, per),
		What:  fmt.Sprintf("a rollout of %d samples at %s each", b, memlimit.Format(per)),
	}
}

func (t *Trainer) alloc() {
	c := t.cfg
	t.numEnvs, t.obsDim, t.numSteps = c.NumEnvs, t.spec.Observation.Dim, c.NumSteps
	t.discrete = t.spec.Action.IsDiscrete()
	t.actDim = t.spec.Action.Dim
	distDim := t.actDim
	if t.discrete {
		distDim = t.spec.Action.N
	}
	B := c.BatchSize()
	t.obs = make([]float32, B*t.obsDim)
	t.actions = make([]float32, B*t.actDim)
	t.logp, t.rewards, t.values = make([]float32, B), make([]float32, B), make([]float32, B)
	t.adv, t.returns, t.ended = make([]float32, B), make([]float32, B), make([]bool, B)
	t.normObs, t.dist, t.val = make([]float32, t.numEnvs*t.obsDim), make([]float32, t.numEnvs*distDim), make([]float32, t.numEnvs)
	t.envAct, t.bonus, t.replaced = make([]float32, t.numEnvs*t.actDim), make([]float32, t.numEnvs), make([]bool, t.numEnvs)
	t.truncObs, t.truncV, t.truncD = make([]float32, t.numEnvs*t.obsDim), make([]float32, t.numEnvs), make([]float32, t.numEnvs*distDim)
	t.rawObs = make([]float32, t.numEnvs*t.obsDim)
	t.perm = make([]int, B)
	t.obsRMS = NewRunningMeanStd(t.obsDim)
	t.rew = NewRewardScaler(t.numEnvs, c.Gamma, c.ClipReward)
	t.builders = make([]*traj.Trajectory, t.numEnvs)
	if t.hooks.OnEpisode != nil && t.hooks.Snapshots {
		t.snaps = make([][]float64, t.numEnvs)
	}
	if !t.discrete {
		for _, p := range t.net.Params() {
			if p.Name == "policy.log_std" {
				t.logStd = p.Data
			}
		}
	}
}

// observe records the raw observations of the current step and their
// normalised form.
func (t *Trainer) observe(raw []float32) {
	copy(t.rawObs, raw)
	t.normalize(t.normObs, raw, t.numEnvs)
}

func (t *Trainer) normalize(dst, raw []float32, n int) {
	if t.cfg.NormObs {
		t.obsRMS.Normalize(dst, raw, n, t.cfg.ClipObs)
	} else {
		copy(dst, raw[:n*t.obsDim])
	}
}

// Config returns the trainer's configuration.
func (t *Trainer) Config() Config { return t.cfg }

// Spec returns the task the trainer trains on.
func (t *Trainer) Spec() env.Spec { return t.spec }

// Backend returns the networks.
func (t *Trainer) Backend() nn.Backend { return t.net }

// GlobalStep is the number of env steps taken so far.
func (t *Trainer) GlobalStep() int64 { return t.globalStep }

// Iteration is the number of finished iterations.
func (t *Trainer) Iteration() int { return t.iteration }

// Done reports whether the configured step budget is spent.
func (t *Trainer) Done() bool { return t.iteration >= t.cfg.Iterations() }

// ObsRMS returns the observation normaliser's statistics.
func (t *Trainer) ObsRMS() *RunningMeanStd { return t.obsRMS }

// Close releases the env and the networks.
func (t *Trainer) Close() error {
	return errors.Join(t.env.Close(), t.net.Close())
}

// sample draws each env's action from the policy into t.actions at row
// offset base and its log-probability into t.logp.
func (t *Trainer) sample(base int) {
	for i := 0; i < t.numEnvs; i++ {
		k := base + i
		a := t.actions[k*t.actDim : (k+1)*t.actDim]
		if t.discrete {
			logits := t.dist[i*t.spec.Action.N : (i+1)*t.spec.Action.N]
			a[0] = float32(sampleCategorical(logits, t.rng))
			t.logp[k] = float32(nn.CategoricalLogProb(logits, int(a[0])))
			continue
		}
		mean := t.dist[i*t.actDim : (i+1)*t.actDim]
		for j := range a {
			a[j] = mean[j] + float32(math.Exp(float64(t.logStd[j]))*t.rng.NormFloat64())
		}
		t.logp[k] = float32(nn.GaussianLogProb(mean, t.logStd, a))
	}
}

func sampleCategorical(logits []float32, rng *rand.Rand) int {
	mx := logits[0]
	for _, l := range logits {
		mx = max(mx, l)
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l - mx))
	}
	u := rng.Float64() * sum
	for j, l := range logits {
		u -= math.Exp(float64(l - mx))
		if u <= 0 {
			return j
		}
	}
	return len(logits) - 1
}

// Iterate runs one rollout and one update and returns their statistics.
func (t *Trainer) Iterate() (IterStats, error) {
	if t.Done() {
		return IterStats{}, fmt.Errorf("ppo: the step budget (%d steps, %d iterations) is spent", t.cfg.TotalSteps, t.cfg.Iterations())
	}
	st := IterStats{Iteration: t.iteration + 1}
	t.finished = t.finished[:0]
	start := time.Now()
	envBefore := t.env.Stats()
	var retSum, lenSum float64
	for s := 0; s < t.numSteps; s++ {
		if t.stop.Load() {
			return st, ErrStopped
		}
		if err := t.rolloutStep(s, &st, &retSum, &lenSum); err != nil {
			return st, err
		}
	}
	st.RolloutSec = time.Since(start).Seconds()
	st.EnvBusy = t.env.Stats().BusyShare(envBefore)
	if st.Episodes > 0 {
		st.ReturnMean, st.LengthMean = retSum/float64(st.Episodes), lenSum/float64(st.Episodes)
	} else {
		st.ReturnMean, st.LengthMean = math.NaN(), math.NaN()
	}
	upd := time.Now()
	if err := t.update(&st); err != nil {
		return st, err
	}
	st.UpdateSec = time.Since(upd).Seconds()
	t.iteration++
	st.GlobalStep = t.globalStep
	st.SPS = float64(t.numSteps*t.numEnvs) / time.Since(start).Seconds()
	st.PhysicsResets = t.env.Stats().PhysicsResets
	st.Finished = t.finished
	st.Return10 = math.NaN()
	if len(t.last10) > 0 {
		st.Return10 = 0
		for _, r := range t.last10 {
			st.Return10 += r / float64(len(t.last10))
		}
	}
	return st, nil
}

func (t *Trainer) rolloutStep(s int, st *IterStats, retSum, lenSum *float64) error {
	base := s * t.numEnvs
	copy(t.obs[base*t.obsDim:(base+t.numEnvs)*t.obsDim], t.normObs)
	if err := t.net.Forward(t.normObs, t.numEnvs, t.dist, t.val); err != nil {
		return fmt.Errorf("ppo: policy forward: %w", err)
	}
	copy(t.values[base:base+t.numEnvs], t.val)
	t.sample(base)
	for i := 0; i < t.numEnvs; i++ {
		k := base + i
		a := t.actions[k*t.actDim : (k+1)*t.actDim]
		// The stored action is the one sampled (or chosen by the
		// modulator); the env gets it clipped to the action space, and the
		// modulator judges what the env gets.
		ea := t.envAct[i*t.actDim : (i+1)*t.actDim]
		t.execute(ea, a)
		t.replaced[i], t.bonus[i] = false, 0
		if m := t.hooks.Modulator; m != nil {
			rep, bonus := m.Modulate(i, t.rawObs[i*t.obsDim:(i+1)*t.obsDim], ea)
			t.replaced[i], t.bonus[i] = rep, float32(bonus)
			if rep {
				st.Overrides++
				t.execute(ea, ea)
				copy(a, ea)
				t.logp[k] = float32(t.logProb(i, a))
			}
			if bonus != 0 {
				st.Bonuses++
			}
		}
	}
	if t.snaps != nil {
		for i := range t.snaps {
			t.snaps[i] = t.env.Snapshot(i, nil) // the state before this step
		}
	}
	res, err := t.env.Step(t.envAct)
	if err != nil {
		return fmt.Errorf("ppo: env step: %w", err)
	}
	t.globalStep += int64(t.numEnvs)
	if t.hooks.OnEpisode != nil {
		t.record(res)
	}
	rew := t.rewards[base : base+t.numEnvs]
	ended := t.ended[base : base+t.numEnvs]
	for i := 0; i < t.numEnvs; i++ {
		rew[i] = res.Rewards[i] + t.bonus[i]
		ended[i] = res.Done(i)
		if ended[i] {
			st.Episodes++
			*retSum += res.EpisodeReturn[i]
			*lenSum += float64(res.EpisodeLength[i])
			if len(t.last10) == 10 {
				t.last10 = t.last10[1:]
			}
			t.last10 = append(t.last10, res.EpisodeReturn[i])
			t.finished = append(t.finished, EpisodeEnd{Return: res.EpisodeReturn[i], Length: res.EpisodeLength[i]})
		}
	}
	if t.cfg.NormReward {
		t.rew.Scale(rew, ended)
	}
	if err := t.bootstrapTruncated(res, rew); err != nil {
		return err
	}
	if rs := t.hooks.Resetter; rs != nil {
		for i := 0; i < t.numEnvs; i++ {
			if !ended[i] {
				continue
			}
			if snap := rs.ResetState(i); snap != nil {
				// A state that cannot be restored leaves the env at its
				// fresh start (Restore changes nothing on error): counted,
				// never fatal to a long run.
				err := t.env.Restore(i, snap)
				rs.Restored(i, err == nil)
				if err != nil {
					st.FailedResets++
					continue
				}
				st.Resets++
			}
		}
	}
	if t.cfg.NormObs {
		t.obsRMS.Update(res.Obs, t.numEnvs)
	}
	t.observe(res.Obs)
	return nil
}

// execute writes into ea the action the env executes for the policy's
// action a: clipped to a Box's bounds, a Discrete index as is (ea and a
// may be the same slice).
func (t *Trainer) execute(ea, a []float32) {
	if t.discrete {
		copy(ea, a)
		return
	}
	for j, v := range a {
		ea[j] = min(max(v, t.spec.Action.Low[j]), t.spec.Action.High[j])
	}
}

// bootstrapTruncated adds γ·V(final observation) to the reward of every
// episode cut short by the time limit, so GAE can treat all episode ends
// alike.
func (t *Trainer) bootstrapTruncated(res env.Result, rew []float32) error {
	t.truncIdx = t.truncIdx[:0]
	for i := 0; i < t.numEnvs; i++ {
		if res.Truncated[i] {
			copy(t.truncObs[len(t.truncIdx)*t.obsDim:], res.FinalObs[i*t.obsDim:(i+1)*t.obsDim])
			t.truncIdx = append(t.truncIdx, i)
		}
	}
	m := len(t.truncIdx)
	if m == 0 {
		return nil
	}
	t.normalize(t.truncObs, t.truncObs, m)
	dd := len(t.truncD) / t.numEnvs // the distribution's values per observation
	if err := t.net.Forward(t.truncObs[:m*t.obsDim], m, t.truncD[:m*dd], t.truncV[:m]); err != nil {
		return fmt.Errorf("ppo: value of final observations: %w", err)
	}
	for j, i := range t.truncIdx {
		rew[i] += float32(t.cfg.Gamma) * t.truncV[j]
	}
	return nil
}

// logProb is the behaviour policy's log-probability of action a for env i
// at the current step.
func (t *Trainer) logProb(i int, a []float32) float64 {
	if t.discrete {
		n := t.spec.Action.N
		return nn.CategoricalLogProb(t.dist[i*n:(i+1)*n], int(a[0]))
	}
	return nn.GaussianLogProb(t.dist[i*t.actDim:(i+1)*t.actDim], t.logStd, a)
}

// record appends this step to each env's episode and flushes ended ones.
func (t *Trainer) record(res env.Result) {
	for i := 0; i < t.numEnvs; i++ {
		ep := t.builders[i]
		if ep == nil {
			ep = &traj.Trajectory{Env: t.spec.ID, Instance: i, ObsDim: t.obsDim, ActDim: t.actDim}
			t.builders[i] = ep
		}
		ep.Obs = append(ep.Obs, t.rawObs[i*t.obsDim:(i+1)*t.obsDim]...)
		ep.Actions = append(ep.Actions, t.envAct[i*t.actDim:(i+1)*t.actDim]...)
		ep.Rewards = append(ep.Rewards, res.Rewards[i])
		ep.Bonus = append(ep.Bonus, t.bonus[i])
		ep.Replaced = append(ep.Replaced, t.replaced[i])
		if t.snaps != nil {
			ep.Snapshots = append(ep.Snapshots, t.snaps[i])
			t.snaps[i] = nil
		}
		ep.Return += float64(res.Rewards[i])
		if res.Done(i) {
			ep.FinalObs = append([]float32(nil), res.FinalObs[i*t.obsDim:(i+1)*t.obsDim]...)
			ep.Terminated, ep.Truncated, ep.Step = res.Terminated[i], res.Truncated[i], t.globalStep
			t.builders[i] = nil
			t.hooks.OnEpisode(ep)
		}
	}
}

// update computes advantages and runs the epochs of minibatch updates.
func (t *Trainer) update(st *IterStats) error {
	c := t.cfg
	// V(s_T) for the observation after the rollout.
	if err := t.net.Forward(t.normObs, t.numEnvs, t.dist, t.val); err != nil {
		return fmt.Errorf("ppo: bootstrap value: %w", err)
	}
	GAE(t.rewards, t.values, t.ended, t.val, t.numEnvs, c.Gamma, c.GAELambda, t.adv, t.returns)
	lr := c.LearningRate
	if c.AnnealLR {
		lr *= 1 - float64(t.iteration)/float64(c.Iterations())
	}
	st.LearningRate = lr
	loss := nn.LossConfig{ClipCoef: float32(c.ClipCoef), VfCoef: float32(c.VfCoef), EntCoef: float32(c.EntCoef), ClipVLoss: c.ClipVLoss}
	if t.imitator != nil {
		if err := t.setDemos(); err != nil {
			return err
		}
		loss.ImitationCoef = float32(t.hooks.Imitation.Coef)
	}
	B, mbs := c.BatchSize(), c.MinibatchSize()
	// The whole rollout goes to the networks once; minibatches are named by
	// index (a GPU backend gathers them on the device).
	if err := t.net.SetRollout(nn.Batch{N: B, Obs: t.obs, Actions: t.actions, LogProbs: t.logp,
		Advantages: t.adv, Returns: t.returns, Values: t.values}); err != nil {
		return fmt.Errorf("ppo: rollout to the networks: %w", err)
	}
	for i := range t.perm {
		t.perm[i] = i
	}
	var updates int
	for epoch := 0; epoch < c.UpdateEpochs; epoch++ {
		t.rng.Shuffle(B, func(i, j int) { t.perm[i], t.perm[j] = t.perm[j], t.perm[i] })
		var lastKL float64
		for start := 0; start+mbs <= B; start += mbs {
			if t.stop.Load() {
				return ErrStopped
			}
			ls, err := t.net.GradMinibatch(t.perm[start:start+mbs], c.NormAdv, loss)
			if err != nil {
				return fmt.Errorf("ppo: gradient: %w", err)
			}
			gn, err := t.net.Step(float32(lr), float32(c.MaxGradNorm))
			if err != nil {
				return fmt.Errorf("ppo: optimizer step (iteration %d, epoch %d): %w", t.iteration+1, epoch, err)
			}
			st.PolicyLoss += ls.PolicyLoss
			st.ValueLoss += ls.ValueLoss
			st.Entropy += ls.Entropy
			st.ApproxKL += ls.ApproxKL
			st.ClipFrac += ls.ClipFrac
			st.GradNorm += float64(gn)
			st.ImitationLoss += ls.Imitation
			lastKL = ls.ApproxKL
			updates++
		}
		st.Epochs = epoch + 1
		if c.TargetKL > 0 && lastKL > c.TargetKL {
			break
		}
	}
	u := float64(updates)
	st.PolicyLoss /= u
	st.ValueLoss /= u
	st.Entropy /= u
	st.ApproxKL /= u
	st.ClipFrac /= u
	st.GradNorm /= u
	st.ImitationLoss /= u
	st.ExplainedVar = explainedVariance(t.values, t.returns)
	return nil
}

// setDemos hands the imitation term's demonstrations to the networks:
// observations normalised as the policy sees them now, Box actions clipped
// to the bounds (the env could not execute more), Discrete indices as
// given (the networks check them).
func (t *Trainer) setDemos() error {
	obs, act := t.hooks.Imitation.Demos()
	ad := t.actDim
	if len(obs)%t.obsDim != 0 || len(act)%ad != 0 || len(obs)/t.obsDim != len(act)/ad {
		return fmt.Errorf("ppo: imitation: %d observation values and %d action values are not whole demonstrations of %d and %d", len(obs), len(act), t.obsDim, ad)
	}
	n := len(act) / ad
	t.demoObs = append(t.demoObs[:0], obs...)
	t.normalize(t.demoObs, t.demoObs, n)
	t.demoAct = append(t.demoAct[:0], act...)
	if !t.discrete {
		for k := range t.demoAct {
			j := k % ad
			t.demoAct[k] = min(max(t.demoAct[k], t.spec.Action.Low[j]), t.spec.Action.High[j])
		}
	}
	if err := t.imitator.SetDemos(t.demoObs, t.demoAct, n); err != nil {
		return fmt.Errorf("ppo: imitation: %w", err)
	}
	return nil
}

// explainedVariance is 1 − Var(returns − values)/Var(returns).
func explainedVariance(values, returns []float32) float64 {
	var my, md float64
	n := float64(len(values))
	for i := range values {
		my += float64(returns[i])
		md += float64(returns[i] - values[i])
	}
	my /= n
	md /= n
	var vy, vd float64
	for i := range values {
		y := float64(returns[i]) - my
		d := float64(returns[i]-values[i]) - md
		vy += y * y
		vd += d * d
	}
	if vy == 0 {
		return math.NaN()
	}
	return 1 - vd/vy
}
