package tasks

import (
	"math"
	"math/rand/v2"

	"github.com/ultra-rl/ultra/engine/env"
)

// AntConfig names every coefficient of ant (contact forces are not part of
// the observation, as in Ant-v4's default use_contact_forces=False).
type AntConfig struct {
	Asset                  string     // embedded MJCF file
	FrameSkip              int        // physics steps per env step (5 × 10 ms = 50 ms)
	CtrlCostWeight         float64    // × Σ action²
	HealthyReward          float64    // per step while healthy (always, if TerminateWhenUnhealthy)
	TerminateWhenUnhealthy bool       // end the episode when the state leaves the healthy set
	HealthyZRange          [2]float64 // closed bounds on torso height qpos[2], m
	ResetNoiseScale        float64    // qpos uniform in ±scale, qvel scale × N(0, 1)
	MaxEpisodeSteps        int        // truncation
}

// DefaultAnt returns Gymnasium Ant-v4's coefficients.
func DefaultAnt() AntConfig {
	return AntConfig{Asset: "ant.xml", FrameSkip: 5, CtrlCostWeight: 0.5, HealthyReward: 1.0,
		TerminateWhenUnhealthy: true, HealthyZRange: [2]float64{0.2, 1.0}, ResetNoiseScale: 0.1,
		MaxEpisodeSteps: 1000}
}

// antLegJoints are the hinges in qpos order, labelled by where each leg
// points with +x (the rewarded direction) as forward: leg 1 at (+x, +y),
// 2 at (−x, +y), 3 at (−x, −y), 4 at (+x, −y). (The standard model's body
// names, e.g. "front_right_leg" for leg 2, do not match this geometry.) The
// actuators drive them in the order hip_4, ankle_4, hip_1, ankle_1, hip_2,
// ankle_2, hip_3, ankle_3.
var antLegJoints = []string{"hip_1 (front left)", "ankle_1 (front left)", "hip_2 (back left)", "ankle_2 (back left)",
	"hip_3 (back right)", "ankle_3 (back right)", "hip_4 (front right)", "ankle_4 (front right)"}

func antLayout() []env.Field {
	f := []env.Field{
		{Name: "torso height", Unit: "m", Doc: "z of the torso centre (healthy in [0.2, 1.0])"},
		{Name: "torso orientation w", Unit: "", Doc: "torso quaternion, scalar part"},
		{Name: "torso orientation x", Unit: "", Doc: "torso quaternion, x part"},
		{Name: "torso orientation y", Unit: "", Doc: "torso quaternion, y part"},
		{Name: "torso orientation z", Unit: "", Doc: "torso quaternion, z part"},
	}
	for _, j := range antLegJoints {
		f = append(f, env.Field{Name: j + " angle", Unit: "rad", Doc: j + " hinge angle"})
	}
	for _, v := range []struct{ n, u, d string }{
		{"forward velocity", "m/s", "torso x velocity"}, {"lateral velocity", "m/s", "torso y velocity"},
		{"vertical velocity", "m/s", "torso z velocity"}, {"roll rate", "rad/s", "torso angular velocity about x"},
		{"pitch rate", "rad/s", "torso angular velocity about y"}, {"yaw rate", "rad/s", "torso angular velocity about z"},
	} {
		f = append(f, env.Field{Name: v.n, Unit: v.u, Doc: v.d})
	}
	for _, j := range antLegJoints {
		f = append(f, env.Field{Name: j + " angular velocity", Unit: "rad/s", Doc: j + " hinge velocity"})
	}
	return f
}

// AntSpec describes ant: a four-legged robot on a free joint that must walk
// in +x. Observation (27): torso height, orientation quaternion, eight joint
// angles, then torso linear and angular velocity and eight joint velocities.
// Action (8): hip/ankle torques in [-1, 1] × gear 150 N·m.
func AntSpec(cfg AntConfig) env.Spec {
	return env.Spec{
		Family: env.FamilyMuJoCo, Task: cfg,
		ID:          "ant",
		Doc:         "four-legged ant: walk in +x without flipping (torso height in [0.2, 1.0] m)",
		Observation: env.UnboundedBox(27), Action: unitBox(8),
		ObsLayout:       antLayout(),
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		New: func(opts env.Options) (env.Env, error) {
			s, err := newSim(cfg.Asset, cfg.FrameSkip)
			if err != nil {
				return nil, err
			}
			torso := s.data.Model().ID(mujocoBody, "torso")
			return &ant{sim: s, cfg: cfg, noise: checkNoise(opts, cfg.ResetNoiseScale), torso: torso}, nil
		},
	}
}

type ant struct {
	sim
	cfg   AntConfig
	noise float64
	torso int // body id whose xpos gives the forward velocity
}

// Reset implements env.Env.
func (t *ant) Reset(rng *rand.Rand, obs []float32) {
	t.resetNoise(rng, t.noise, true)
	t.terms = Terms{}
	t.writeObs(obs)
}

// Step implements env.Env. As in Gymnasium, the forward velocity comes from
// the torso body's xpos, which MuJoCo computes at the start of each mj_step.
func (t *ant) Step(action, obs []float32) (float64, bool, error) {
	xpos := t.data.XPos()
	xBefore := xpos[3*t.torso]
	if err := t.step(action); err != nil {
		return 0, false, err
	}
	c := &t.cfg
	xVel := (xpos[3*t.torso] - xBefore) / t.dt
	healthy := t.healthy()
	t.terms = Terms{XVelocity: xVel, Forward: xVel, Ctrl: c.CtrlCostWeight * sumSquares(action), IsHealthy: healthy}
	if healthy || c.TerminateWhenUnhealthy {
		t.terms.Healthy = c.HealthyReward
	}
	t.writeObs(obs)
	return t.terms.Forward + t.terms.Healthy - t.terms.Ctrl, c.TerminateWhenUnhealthy && !healthy, nil
}

// healthy: every state value finite and the torso height in the closed range.
func (t *ant) healthy() bool {
	for _, v := range t.qpos {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	for _, v := range t.qvel {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	z := t.qpos[2]
	return t.cfg.HealthyZRange[0] <= z && z <= t.cfg.HealthyZRange[1]
}

// writeObs: qpos without the x, y position, then qvel.
func (t *ant) writeObs(obs []float32) {
	n := copy64to32(obs, t.qpos[2:])
	copy64to32(obs[n:], t.qvel)
}

// Restore implements env.Env.
func (t *ant) Restore(snap []float64, obs []float32) error { return t.restore(snap, obs, t.writeObs) }
