package tasks

import (
	"math/rand/v2"

	"github.com/ultra-rl/ultra/engine/env"
)

// HalfCheetahConfig names every coefficient of halfcheetah.
type HalfCheetahConfig struct {
	Asset               string  // embedded MJCF file
	FrameSkip           int     // physics steps per env step (5 × 10 ms = 50 ms)
	ForwardRewardWeight float64 // × forward velocity of rootx, m/s
	CtrlCostWeight      float64 // × Σ action²
	ResetNoiseScale     float64 // qpos uniform in ±scale, qvel scale × N(0, 1)
	MaxEpisodeSteps     int     // truncation; the task never terminates
}

// DefaultHalfCheetah returns Gymnasium HalfCheetah-v4's coefficients.
func DefaultHalfCheetah() HalfCheetahConfig {
	return HalfCheetahConfig{Asset: "half_cheetah.xml", FrameSkip: 5, ForwardRewardWeight: 1.0,
		CtrlCostWeight: 0.1, ResetNoiseScale: 0.1, MaxEpisodeSteps: 1000}
}

var halfCheetahJoints = []string{"bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"}

// HalfCheetahSpec describes halfcheetah: a planar cat-like robot that must run
// forward; it cannot fall, so episodes always run to the time limit.
// Observation (17): torso height offset and pitch, six joint angles, then
// unclipped velocities. Action (6): back thigh, shin, foot, front thigh,
// shin, foot torques in [-1, 1] × gears 120, 90, 60, 120, 60, 30 N·m.
func HalfCheetahSpec(cfg HalfCheetahConfig) env.Spec {
	layout := planarLayout(halfCheetahJoints, inf)
	layout[0] = env.Field{Name: "torso height offset", Unit: "m", Doc: "z of the torso relative to its start at 0.7 m (rootz)"}
	return env.Spec{
		Family: env.FamilyMuJoCo, Task: cfg,
		ID:          "halfcheetah",
		Doc:         "planar cheetah: run forward as fast as possible; no termination",
		Observation: env.UnboundedBox(17), Action: unitBox(6),
		ObsLayout:       layout,
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		New: func(opts env.Options) (env.Env, error) {
			s, err := newSim(cfg.Asset, cfg.FrameSkip)
			if err != nil {
				return nil, err
			}
			return &halfCheetah{sim: s, cfg: cfg, noise: checkNoise(opts, cfg.ResetNoiseScale)}, nil
		},
	}
}

type halfCheetah struct {
	sim
	cfg   HalfCheetahConfig
	noise float64
}

// Reset implements env.Env.
func (t *halfCheetah) Reset(rng *rand.Rand, obs []float32) {
	t.resetNoise(rng, t.noise, true)
	t.terms = Terms{}
	t.writeObs(obs)
}

// Step implements env.Env.
func (t *halfCheetah) Step(action, obs []float32) (float64, bool, error) {
	xBefore := t.qpos[0]
	if err := t.step(action); err != nil {
		return 0, false, err
	}
	xVel := (t.qpos[0] - xBefore) / t.dt
	t.terms = Terms{XVelocity: xVel, Forward: t.cfg.ForwardRewardWeight * xVel,
		Ctrl: t.cfg.CtrlCostWeight * sumSquares(action), IsHealthy: true}
	t.writeObs(obs)
	return t.terms.Forward - t.terms.Ctrl, false, nil
}

func (t *halfCheetah) writeObs(obs []float32) {
	n := copy64to32(obs, t.qpos[1:])
	copy64to32(obs[n:], t.qvel)
}

// Restore implements env.Env.
func (t *halfCheetah) Restore(snap []float64, obs []float32) error {
	return t.restore(snap, obs, t.writeObs)
}
