package tasks

import (
	"fmt"
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

// antLegs are the ant's legs by the number in their joint names, named by
// where each leg points with +x (the rewarded direction) as forward: leg 1
// at (+x, +y), 2 at (−x, +y), 3 at (−x, −y), 4 at (+x, −y). (The standard
// model's body names, e.g. "front_right_leg" for leg 2, do not match this
// geometry; TestAntLegs checks the table against the model.) ankle is the
// ankle's angle in a stable stance, degrees.
var antLegs = []struct {
	n, code, words string
	ankle          float64
}{
	{"1", "FL", "front left", 50},
	{"2", "BL", "back left", -50},
	{"3", "BR", "back right", -50},
	{"4", "FR", "front right", 50},
}

// antJoints are the hinges in qpos order, hip then ankle of legs 1-4. The
// actuators drive them in the order hip_4, ankle_4, hip_1, ankle_1, hip_2,
// ankle_2, hip_3, ankle_3.
var antJoints = func() []jointText {
	var js []jointText
	for _, l := range antLegs {
		js = append(js,
			jointText{name: "hip_" + l.n, group: l.code, part: "hip", role: "hip (horizontal swing)", depth: 1},
			jointText{name: "ankle_" + l.n, group: l.code, part: "ankle", role: "ankle (vertical bend)", depth: 2, stance: radians(l.ankle)})
	}
	return js
}()

// antLegJoints label antJoints in the layout: "hip_1 (front left)".
var antLegJoints = func() []string {
	var names []string
	for i, j := range antJoints {
		names = append(names, j.name+" ("+antLegs[i/2].words+")")
	}
	return names
}()

// Ant tilt classes (degrees between the torso's up axis and the vertical).
const (
	antUprightTilt = 30.0 // upright up to this
	antFlippedTilt = 90.0 // flipped (belly up) beyond this; tilted between
)

// antInfo describes ant under cfg.
func antInfo(cfg AntConfig, layout []env.Field) *env.TaskInfo {
	torso := env.NoTorso()
	torso.Height = field(layout, "torso height")
	for i, c := range []string{"w", "x", "y", "z"} {
		torso.Orientation[i] = field(layout, "torso orientation "+c)
	}
	torso.UprightTilt, torso.FlippedTilt = antUprightTilt, antFlippedTilt
	torso.VX, torso.VY, torso.VZ = field(layout, "forward velocity"), field(layout, "lateral velocity"), field(layout, "vertical velocity")
	torso.RollRate, torso.PitchRate, torso.YawRate = field(layout, "roll rate"), field(layout, "pitch rate"), field(layout, "yaw rate")
	return describe(cfg.Asset, cfg.FrameSkip, layout, antJoints, env.TaskInfo{
		Goal: "walk forward (+x) as fast as possible, cheaply, without flipping, until the time limit",
	}, env.Body{
		Torso:        torso,
		JointsByPart: true,
		VelocityClip: inf,
		Reward: env.Reward{ForwardWeight: 1, UnitForward: true, HealthyBonus: true, HealthyReward: cfg.HealthyReward,
			CtrlCostWeight: cfg.CtrlCostWeight, Omits: []string{"no contact cost"}},
		Healthy: env.Healthy{
			Terminates: cfg.TerminateWhenUnhealthy,
			Bounds: []env.Bound{{Quantity: "torso height", Obs: torso.Height, Unit: "m", Range: cfg.HealthyZRange, Closed: true,
				LowerName: "lower limit", Reach: 0.3}},
			Finite: true,
			Note:   "Flipping over does not end the episode by itself while the torso height stays in range",
		},
		Signs: "Frame: +x forward, +y left, +z up. Legs are named by position: FL front left (+x, +y), BL back left, BR back right, FR front right. " +
			"Orientation: roll > 0 = right side down, pitch > 0 = nose (+x side) down, yaw > 0 = facing left of +x; " +
			"tilt is the angle between the torso's up axis and the vertical (upright ≤ " + num(antUprightTilt) + "°, tilted up to " + num(antFlippedTilt) + "°, flipped beyond). " +
			"Hips swing a leg horizontally (positive = counter-clockwise seen from above); ankles angle the lower leg down, |angle| being its angle below the torso plane. " +
			"Rates are in the torso frame.",
	})
}

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
	layout := antLayout()
	return env.Spec{
		Family: env.FamilyMuJoCo, Info: antInfo(cfg, layout),
		ID:          "ant",
		Doc:         "four-legged ant: walk in +x without flipping (torso height in [0.2, 1.0] m)",
		Observation: env.UnboundedBox(27), Action: unitBox(8),
		ObsLayout:       layout,
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		NewRenderer: newRenderer(cfg.Asset, antCamera),
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
	// xLast is the torso's x as MuJoCo left it in xpos: after the last
	// Step, the value of its last integration stage (not recomputed at the
	// final state); after a Reset or Restore, mj_forward's. The next Step's
	// forward velocity starts from it, so a resumed run gets it back
	// (StepState) to continue bit for bit.
	xLast float64
}

// Reset implements env.Env.
func (t *ant) Reset(rng *rand.Rand, obs []float32) {
	t.resetNoise(rng, t.noise, true)
	t.terms = Terms{}
	t.xLast = t.data.XPos()[3*t.torso]
	t.writeObs(obs)
}

// Step implements env.Env. As in Gymnasium, the forward velocity comes from
// the torso body's xpos, which MuJoCo computes at the start of each mj_step:
// the x the previous Step left (xLast) to the one this Step leaves.
func (t *ant) Step(action, obs []float32) (float64, bool, error) {
	xBefore := t.xLast
	if err := t.step(action); err != nil {
		return 0, false, err
	}
	c := &t.cfg
	t.xLast = t.data.XPos()[3*t.torso]
	xVel := (t.xLast - xBefore) / t.dt
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
func (t *ant) Restore(snap []float64, obs []float32) error {
	if err := t.restore(snap, obs, t.writeObs); err != nil {
		return err
	}
	t.xLast = t.data.XPos()[3*t.torso]
	return nil
}

var _ env.StepStater = (*ant)(nil)

// StepState implements env.StepStater: the torso's x the next Step starts
// from, which a snapshot's mj_forward would recompute differently.
func (t *ant) StepState() []float64 { return []float64{t.xLast} }

// SetStepState implements env.StepStater.
func (t *ant) SetStepState(s []float64) error {
	if len(s) != 1 || math.IsNaN(s[0]) || math.IsInf(s[0], 0) {
		return fmt.Errorf("ant: step state %v, want one finite torso x", s)
	}
	t.xLast = s[0]
	return nil
}
