package tasks

import (
	"math"
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

// halfCheetahJoints are the actuated hinges in qpos order (= actuator
// order): bthigh, bshin, bfoot, fthigh, fshin, ffoot. Their hinges turn
// about +y, so a positive angle swings the segment's far end backward.
var halfCheetahJoints = []jointText{
	{name: "bthigh", group: "back", part: "thigh", role: "hip", depth: 1, swing: -1},
	{name: "bshin", group: "back", part: "shin", role: "knee", depth: 2, swing: -1},
	{name: "bfoot", group: "back", part: "foot", role: "ankle", depth: 3, swing: -1},
	{name: "fthigh", group: "front", part: "thigh", role: "hip", depth: 1, swing: -1},
	{name: "fshin", group: "front", part: "shin", role: "knee", depth: 2, swing: -1},
	{name: "ffoot", group: "front", part: "foot", role: "ankle", depth: 3, swing: -1},
}

// halfCheetahFlip is the |pitch| beyond which the cheetah lies on its back.
const halfCheetahFlip = math.Pi / 2

// halfCheetahInfo describes halfcheetah under cfg.
func halfCheetahInfo(cfg HalfCheetahConfig, layout []env.Field) *env.TaskInfo {
	torso := env.NoTorso()
	torso.Height, torso.HeightFromStart = field(layout, "torso height offset"), true
	torso.Pitch, torso.PitchWords = field(layout, "torso pitch"), [2]string{"nose-down", "nose-up"}
	torso.VX, torso.VZ, torso.PitchRate = field(layout, "forward velocity"), field(layout, "vertical velocity"), field(layout, "torso pitch rate")
	info := describe(cfg.Asset, cfg.FrameSkip, layout, halfCheetahJoints, env.TaskInfo{
		Goal: "run forward (+x) as fast as possible, cheaply, until the time limit",
	}, env.Body{
		Torso:        torso,
		VelocityClip: inf,
		Reward:       env.Reward{ForwardWeight: cfg.ForwardRewardWeight, CtrlCostWeight: cfg.CtrlCostWeight},
		Healthy: env.Healthy{
			Note: "the cheetah cannot fall; even flipped onto its back (|pitch| > 90°) the episode continues to the time limit",
		},
		Flip: halfCheetahFlip,
	})
	if info != nil {
		info.Body.Signs = "Signs: torso height is relative to the " + num(info.Body.StartHeight) + " m start height; " +
			"pitch > 0 = nose down, |pitch| > 90° = flipped onto its back; joint angles are relative to the parent segment (0° = in line with it); " +
			"a positive angle swings the segment's far end backward (toward -x), a negative one forward."
	}
	return info
}

// HalfCheetahSpec describes halfcheetah: a planar cat-like robot that must run
// forward; it cannot fall, so episodes always run to the time limit.
// Observation (17): torso height offset and pitch, six joint angles, then
// unclipped velocities. Action (6): back thigh, shin, foot, front thigh,
// shin, foot torques in [-1, 1] × gears 120, 90, 60, 120, 60, 30 N·m.
func HalfCheetahSpec(cfg HalfCheetahConfig) env.Spec {
	layout := planarLayout(halfCheetahJoints, inf)
	layout[0] = env.Field{Name: "torso height offset", Unit: "m", Doc: "z of the torso relative to its start at 0.7 m (rootz)"}
	return env.Spec{
		Family: env.FamilyMuJoCo, Info: halfCheetahInfo(cfg, layout),
		ID:          "halfcheetah",
		Doc:         "planar cheetah: run forward as fast as possible; no termination",
		Observation: env.UnboundedBox(17), Action: unitBox(6),
		ObsLayout:       layout,
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		NewRenderer: newRenderer(cfg.Asset, halfCheetahCamera),
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
