package interpret

import (
	"fmt"
	"math"

	"github.com/ultra-rl/ultra/engine/env"
)

// task is what Describe and Rules need about one spec: its description
// (env.Spec.Info), checked against the spec's spaces.
type task struct {
	id       string
	info     *env.TaskInfo
	body     *env.Body     // a MuJoCo robot; nil for Pong
	pong     *env.PongGame // Pong's features; nil for a robot
	obsDim   int
	actDim   int
	maxSteps int
	velClip  float64 // velocities in the observation are clipped to ±velClip (+Inf: not clipped)
}

// dt is the duration of one env step in seconds.
func (t *task) dt() float64 { return t.info.StepSeconds() }

// lookup returns the interpretation of spec, from its description. A spec
// without one, or whose description does not fit its spaces, is an error.
func lookup(spec env.Spec) (*task, error) {
	info := spec.Info
	if info == nil || (info.Body == nil) == (info.Pong == nil) {
		return nil, fmt.Errorf("interpret: env %q has no task description (env.Spec.Info with a Body or Pong) and cannot be described: "+
			"the MuJoCo locomotion tasks (hopper, walker2d, halfcheetah, ant) and Pong's features (pong, ale:pong) have one; a new task fills its own", spec.ID)
	}
	t := &task{id: spec.ID, info: info, body: info.Body, pong: info.Pong, obsDim: spec.Observation.Dim, actDim: spec.Action.Dim,
		maxSteps: spec.MaxEpisodeSteps, velClip: math.Inf(1)}
	if info.FrameSkip < 1 || !(info.Timestep > 0) {
		return nil, fmt.Errorf("interpret: %s description has frame skip %d and timestep %g s: the task must fill both (≥ 1, > 0)", spec.ID, info.FrameSkip, info.Timestep)
	}
	// in reports an observation index outside the observation.
	var bad []string
	in := func(what string, i int) {
		if i != env.NoObs && (i < 0 || i >= t.obsDim) {
			bad = append(bad, fmt.Sprintf("%s at observation index %d", what, i))
		}
	}
	if g := t.pong; g != nil {
		if !spec.Action.IsDiscrete() || spec.Action.N != len(g.Actions) {
			return nil, fmt.Errorf("interpret: %s action space is %s, want the description's Discrete(%d)", spec.ID, spec.Action, len(g.Actions))
		}
		f := g.Features
		for i, k := range []int{f.BallX, f.BallY, f.BallVX, f.BallVY, f.AgentY, f.OpponentY} {
			in(fmt.Sprintf("feature %d", i), k)
		}
	} else {
		b := t.body
		t.velClip = b.VelocityClip
		if len(spec.ObsLayout) != t.obsDim {
			return nil, fmt.Errorf("interpret: %s layout has %d fields for %d observation values", spec.ID, len(spec.ObsLayout), t.obsDim)
		}
		if len(b.Actuators) != t.actDim {
			return nil, fmt.Errorf("interpret: %s description has %d actuators for %d action values", spec.ID, len(b.Actuators), t.actDim)
		}
		to := b.Torso
		for _, f := range []struct {
			name string
			i    int
		}{{"torso height", to.Height}, {"torso pitch", to.Pitch}, {"forward velocity", to.VX}, {"lateral velocity", to.VY},
			{"vertical velocity", to.VZ}, {"roll rate", to.RollRate}, {"pitch rate", to.PitchRate}, {"yaw rate", to.YawRate},
			{"orientation w", to.Orientation[0]}, {"orientation x", to.Orientation[1]}, {"orientation y", to.Orientation[2]}, {"orientation z", to.Orientation[3]}} {
			in(f.name, f.i)
		}
		for _, j := range b.Joints {
			in("joint "+j.Name+" angle", j.Angle)
			in("joint "+j.Name+" velocity", j.Velocity)
		}
		for a, act := range b.Actuators {
			if act.Joint < 0 || act.Joint >= len(b.Joints) {
				bad = append(bad, fmt.Sprintf("actuator %d on joint %d of %d", a, act.Joint, len(b.Joints)))
			}
		}
		for _, bd := range b.Healthy.Bounds {
			in(bd.Quantity, bd.Obs)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("interpret: %s description does not fit its %d observation values: %s", spec.ID, t.obsDim, bad[0])
	}
	return t, nil
}

// bound returns the healthy bound on observation index i, if any.
func (t *task) bound(i int) (env.Bound, bool) {
	for _, b := range t.body.Healthy.Bounds {
		if b.Obs == i && i != env.NoObs {
			return b, true
		}
	}
	return env.Bound{}, false
}

// bounds returns the healthy range on observation index i: ±Inf when
// none.
func (t *task) bounds(i int) [2]float64 {
	if b, ok := t.bound(i); ok {
		return b.Range
	}
	return [2]float64{math.Inf(-1), math.Inf(1)}
}
