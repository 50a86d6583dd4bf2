package tasks

import (
	"math"

	"github.com/ultra-rl/ultra/engine/env"
)

// DefaultWalker2d returns Gymnasium Walker2d-v4's coefficients. Unlike
// hopper, walker2d bounds only height and pitch, not the rest of the state.
func DefaultWalker2d() PlanarConfig {
	return PlanarConfig{
		Asset:                  "walker2d.xml",
		FrameSkip:              4,
		ForwardRewardWeight:    1.0,
		CtrlCostWeight:         1e-3,
		HealthyReward:          1.0,
		TerminateWhenUnhealthy: true,
		HealthyStateRange:      [2]float64{math.Inf(-1), math.Inf(1)},
		HealthyZRange:          [2]float64{0.8, 2.0},
		HealthyAngleRange:      [2]float64{-1, 1},
		ResetNoiseScale:        5e-3,
		ObsVelocityClip:        10,
		MaxEpisodeSteps:        1000,
	}
}

// walker2dJoints are the actuated hinges in qpos order (= actuator order):
// the right leg's thigh_joint, leg_joint, foot_joint, then the left's
// thigh_left_joint, leg_left_joint, foot_left_joint.
var walker2dJoints = append(planarLeg("right", ""), planarLeg("left", "_left")...)

// Walker2dSpec describes walker2d: a two-legged planar robot that must walk
// forward. Observation (17): torso height and pitch, six joint angles, then
// velocities clipped to ±10. Action (6): right thigh, leg, foot then left
// thigh, leg, foot torques in [-1, 1] × gear 100 N·m.
func Walker2dSpec(cfg PlanarConfig) env.Spec {
	layout := planarLayout(walker2dJoints, cfg.ObsVelocityClip)
	return env.Spec{
		Family: env.FamilyMuJoCo, Info: planarInfo(cfg, layout, walker2dJoints),
		ID:          "walker2d",
		Doc:         "two-legged planar walker: walk forward fast without falling (0.8 m < torso height < 2 m, |pitch| < 1 rad)",
		Observation: env.UnboundedBox(17), Action: unitBox(6),
		ObsLayout:       layout,
		MatchDims:       planarMatchDims(layout),
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		New:         func(opts env.Options) (env.Env, error) { return newPlanar(cfg, opts) },
		NewRenderer: newRenderer(cfg.Asset, walker2dCamera),
	}
}
