package tasks

import (
	"math"

	"github.com/ultra-rl/ultra/engine/env"
)

// DefaultHopper returns Gymnasium Hopper-v4's coefficients.
func DefaultHopper() PlanarConfig {
	return PlanarConfig{
		Asset:                  "hopper.xml",
		FrameSkip:              4,
		ForwardRewardWeight:    1.0,
		CtrlCostWeight:         1e-3,
		HealthyReward:          1.0,
		TerminateWhenUnhealthy: true,
		HealthyStateRange:      [2]float64{-100, 100},
		HealthyZRange:          [2]float64{0.7, math.Inf(1)},
		HealthyAngleRange:      [2]float64{-0.2, 0.2},
		ResetNoiseScale:        5e-3,
		ObsVelocityClip:        10,
		MaxEpisodeSteps:        1000,
	}
}

// hopperJoints are the actuated hinges in qpos order (= actuator order):
// thigh_joint, leg_joint, foot_joint, of one leg without a group.
var hopperJoints = planarLeg("", "")

// HopperSpec describes hopper: a one-legged planar robot that must hop
// forward without falling. Observation (11): torso height and pitch, three
// joint angles, then velocities clipped to ±10. Action (3): torques of the
// thigh, leg and foot motors in [-1, 1] × gear 200 N·m.
func HopperSpec(cfg PlanarConfig) env.Spec {
	layout := planarLayout(hopperJoints, cfg.ObsVelocityClip)
	return env.Spec{
		Family: env.FamilyMuJoCo, Info: planarInfo(cfg, layout, hopperJoints),
		ID:          "hopper",
		Doc:         "one-legged planar hopper: hop forward fast without falling (torso height > 0.7 m, |pitch| < 0.2 rad)",
		Observation: env.UnboundedBox(11), Action: unitBox(3),
		ObsLayout:       layout,
		MatchDims:       planarMatchDims(layout),
		MaxEpisodeSteps: cfg.MaxEpisodeSteps, DefaultNoise: cfg.ResetNoiseScale,
		New:         func(opts env.Options) (env.Env, error) { return newPlanar(cfg, opts) },
		NewRenderer: newRenderer(cfg.Asset, hopperCamera),
	}
}
