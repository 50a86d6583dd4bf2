package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ultra-rl/ultra/engine/env"
)

// PlanarConfig names every coefficient of the planar walkers, hopper and
// walker2d, which share Gymnasium's v4 reward and termination structure.
// [DefaultHopper] and [DefaultWalker2d] give each task's defaults.
type PlanarConfig struct {
	Asset                  string     // embedded MJCF file
	FrameSkip              int        // physics steps per env step (4 × 2 ms = 8 ms)
	ForwardRewardWeight    float64    // × forward velocity of rootx, m/s
	CtrlCostWeight         float64    // × Σ action²
	HealthyReward          float64    // per step while healthy (always, if TerminateWhenUnhealthy)
	TerminateWhenUnhealthy bool       // end the episode when the state leaves the healthy set
	HealthyStateRange      [2]float64 // open bounds on qpos[2:] and every qvel (±Inf: unchecked)
	HealthyZRange          [2]float64 // open bounds on torso height qpos[1], m
	HealthyAngleRange      [2]float64 // open bounds on torso pitch qpos[2], rad
	ResetNoiseScale        float64    // qpos and qvel get uniform noise in ±scale
	ObsVelocityClip        float64    // velocities in the observation are clipped to ±this
	MaxEpisodeSteps        int        // truncation
}

// planar is one hopper or walker2d instance.
type planar struct {
	sim
	cfg   PlanarConfig
	noise float64
}

func newPlanar(cfg PlanarConfig, opts env.Options) (*planar, error) {
	s, err := newSim(cfg.Asset, cfg.FrameSkip)
	if err != nil {
		return nil, err
	}
	return &planar{sim: s, cfg: cfg, noise: checkNoise(opts, cfg.ResetNoiseScale)}, nil
}

// Reset implements env.Env: qpos0 and zero velocity plus uniform noise.
func (t *planar) Reset(rng *rand.Rand, obs []float32) {
	t.resetNoise(rng, t.noise, false)
	t.terms = Terms{}
	t.writeObs(obs)
}

// Step implements env.Env.
func (t *planar) Step(action, obs []float32) (float64, bool, error) {
	xBefore := t.qpos[0]
	if err := t.step(action); err != nil {
		return 0, false, err
	}
	c := &t.cfg
	xVel := (t.qpos[0] - xBefore) / t.dt
	healthy := t.healthy()
	t.terms = Terms{XVelocity: xVel, Forward: c.ForwardRewardWeight * xVel,
		Ctrl: c.CtrlCostWeight * sumSquares(action), IsHealthy: healthy}
	if healthy || c.TerminateWhenUnhealthy {
		t.terms.Healthy = c.HealthyReward
	}
	t.writeObs(obs)
	return t.terms.Forward + t.terms.Healthy - t.terms.Ctrl, c.TerminateWhenUnhealthy && !healthy, nil
}

// healthy: height and pitch inside their ranges and, where the task bounds
// it, every other state value inside HealthyStateRange.
func (t *planar) healthy() bool {
	c := &t.cfg
	if !inOpen(t.qpos[1], c.HealthyZRange) || !inOpen(t.qpos[2], c.HealthyAngleRange) {
		return false
	}
	if math.IsInf(c.HealthyStateRange[0], -1) && math.IsInf(c.HealthyStateRange[1], 1) {
		return true
	}
	for _, v := range t.qpos[2:] {
		if !inOpen(v, c.HealthyStateRange) {
			return false
		}
	}
	for _, v := range t.qvel {
		if !inOpen(v, c.HealthyStateRange) {
			return false
		}
	}
	return true
}

// writeObs: qpos without rootx (the x position), then clipped qvel.
func (t *planar) writeObs(obs []float32) {
	n := copy64to32(obs, t.qpos[1:])
	for i, v := range t.qvel {
		obs[n+i] = float32(clip(v, -t.cfg.ObsVelocityClip, t.cfg.ObsVelocityClip))
	}
}

// Restore implements env.Env.
func (t *planar) Restore(snap []float64, obs []float32) error {
	return t.restore(snap, obs, t.writeObs)
}

func copy64to32(dst []float32, src []float64) int {
	for i, v := range src {
		dst[i] = float32(v)
	}
	return len(src)
}

// planarMatchDims is the planar walkers' matching subspace: every
// observation but the absolute forward velocity, so that a critical state
// (a posture about to fall, say) matches whatever speed the walker reaches
// it at.
func planarMatchDims(layout []env.Field) []int {
	var dims []int
	for i, f := range layout {
		if f.Name != "forward velocity" {
			dims = append(dims, i)
		}
	}
	return dims
}

// planarLeg names one leg's joints, thigh, leg and foot, as the model
// names them with suffix (walker2d's left leg: "_left") and text with
// group ("left"; "" for hopper's one leg). Their hinges turn about −y, so
// a positive angle swings the segment's far end forward.
func planarLeg(group, suffix string) []jointText {
	return []jointText{
		{name: "thigh" + suffix + "_joint", group: group, part: "thigh", role: "hip", depth: 1, swing: 1},
		{name: "leg" + suffix + "_joint", group: group, part: "leg", role: "knee", depth: 2, swing: 1},
		{name: "foot" + suffix + "_joint", group: group, part: "foot", role: "ankle", depth: 3, swing: 1},
	}
}

// planarInfo describes hopper or walker2d under cfg.
func planarInfo(cfg PlanarConfig, layout []env.Field, joints []jointText) *env.TaskInfo {
	torso := env.NoTorso()
	torso.Height, torso.Pitch, torso.PitchWords = field(layout, "torso height"), field(layout, "torso pitch"), [2]string{"forward", "back"}
	torso.VX, torso.VZ, torso.PitchRate = field(layout, "forward velocity"), field(layout, "vertical velocity"), field(layout, "torso pitch rate")
	healthy := env.Healthy{
		Terminates: cfg.TerminateWhenUnhealthy,
		Bounds: []env.Bound{
			{Quantity: "torso height", Obs: torso.Height, Unit: "m", Range: cfg.HealthyZRange, LowerName: "fall limit", Reach: 0.5},
			{Quantity: "torso pitch", Obs: torso.Pitch, Unit: "rad", Range: cfg.HealthyAngleRange, Reach: 1},
		},
	}
	if r := cfg.HealthyStateRange; !math.IsInf(r[0], -1) || !math.IsInf(r[1], 1) {
		healthy.Every = &env.EveryBound{Range: r,
			What: "the pitch, every joint angle (rad) and every velocity — forward and vertical (m/s), pitch and joint rates (rad/s) —"}
	}
	return describe(cfg.Asset, cfg.FrameSkip, layout, joints, env.TaskInfo{
		Goal: "move forward (+x) as fast as possible without falling, until the time limit",
	}, env.Body{
		Torso:        torso,
		VelocityClip: cfg.ObsVelocityClip,
		Reward: env.Reward{ForwardWeight: cfg.ForwardRewardWeight, HealthyBonus: true, HealthyReward: cfg.HealthyReward,
			CtrlCostWeight: cfg.CtrlCostWeight},
		Healthy: healthy,
		Signs: "Signs: pitch > 0 = torso leaning forward; joint angles are relative to the parent segment (0° = in line with it); " +
			"a positive angle swings the segment's far end forward (foot: toes up), a negative one backward.",
	})
}

// planarLayout documents qpos[1:] then qvel for a planar robot whose hinge
// joints (after rootx, rootz, rooty) are joints.
func planarLayout(joints []jointText, velClip float64) []env.Field {
	f := []env.Field{
		{Name: "torso height", Unit: "m", Doc: "z of the torso centre (rootz) above the floor"},
		{Name: "torso pitch", Unit: "rad", Doc: "torso angle about the y axis (rooty); positive leans forward"},
	}
	for _, j := range joints {
		f = append(f, env.Field{Name: j.name + " angle", Unit: "rad", Doc: j.name + " hinge angle, 0 = segment in line with its parent"})
	}
	clipDoc := ""
	if !math.IsInf(velClip, 1) {
		clipDoc = fmt.Sprintf(" (clipped to ±%g)", velClip)
	}
	f = append(f,
		env.Field{Name: "forward velocity", Unit: "m/s", Doc: "torso x velocity (rootx)" + clipDoc},
		env.Field{Name: "vertical velocity", Unit: "m/s", Doc: "torso z velocity (rootz)" + clipDoc},
		env.Field{Name: "torso pitch rate", Unit: "rad/s", Doc: "torso angular velocity about y (rooty)" + clipDoc},
	)
	for _, j := range joints {
		f = append(f, env.Field{Name: j.name + " angular velocity", Unit: "rad/s", Doc: j.name + " hinge velocity" + clipDoc})
	}
	return f
}
