package tasks

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco"
)

// jointText names one of a task's actuated joints in text, and says where
// it sits on the body (see env.Joint).
type jointText struct {
	name        string // the model's joint name
	group, part string // "right", "thigh"
	role        string // "hip", "knee", "ankle (vertical bend)"
	depth       int    // 1 on the torso, 2 the next joint down, …
	swing       int    // +1: a positive angle swings the far end forward, −1 backward, 0 neither
	stance      float64
}

// describe returns a task's description: info and body completed with the
// timing, joints and actuators read from asset's compiled model and the
// torso's start height at the model's reference pose. The joints' observation indices come from
// the layout ("<name> angle" and "<name> angular velocity", or the same
// with a parenthesised note after the name). A model that does not compile
// leaves the description nil: nothing can explain the task, and New
// reports why.
func describe(asset string, frameSkip int, layout []env.Field, joints []jointText, info env.TaskInfo, body env.Body) *env.TaskInfo {
	m, timestep, err := readModel(asset, layout, joints)
	if err != nil {
		return nil
	}
	body.Joints, body.Actuators, body.StartHeight = m.Joints, m.Actuators, m.StartHeight
	info.Body, info.FrameSkip, info.Timestep = &body, frameSkip, timestep
	return &info
}

// readModel reads the joints, actuators and start height of asset's model.
func readModel(asset string, layout []env.Field, joints []jointText) (env.Body, float64, error) {
	var b env.Body
	m, err := Model(asset)
	if err != nil {
		return b, 0, err
	}
	jrange := m.JointRange()
	for _, jt := range joints {
		jid := m.ID(mujoco.ObjJoint, jt.name)
		if jid < 0 {
			return b, 0, fmt.Errorf("tasks: %s has no joint %q", asset, jt.name)
		}
		j := env.Joint{Name: jt.name, Group: jt.group, Part: jt.part, Role: jt.role, Depth: jt.depth, Swing: jt.swing, Stance: jt.stance,
			Angle: env.NoObs, Velocity: env.NoObs, Range: [2]float64{jrange[2*jid], jrange[2*jid+1]}}
		for i, f := range layout {
			name, ok := strings.CutPrefix(f.Name, jt.name+" ")
			if !ok {
				continue
			}
			if strings.HasPrefix(name, "(") {
				_, name, _ = strings.Cut(name, ") ")
			}
			switch name {
			case "angle":
				j.Angle = i
			case "angular velocity":
				j.Velocity = i
			}
		}
		if j.Angle == env.NoObs || j.Velocity == env.NoObs {
			return b, 0, fmt.Errorf("tasks: the layout of %s lacks the angle or velocity of joint %s", asset, jt.name)
		}
		b.Joints = append(b.Joints, j)
	}
	actJoint, gear, ctrl := m.ActuatorJoint(), m.ActuatorGear(), m.ActuatorCtrlRange()
	for a := range m.NU() {
		name := m.Name(mujoco.ObjJoint, actJoint[a])
		ji := -1
		for k, j := range b.Joints {
			if j.Name == name {
				ji = k
			}
		}
		if ji < 0 {
			return b, 0, fmt.Errorf("tasks: actuator %d of %s drives joint %q, which the task does not name", a, asset, name)
		}
		b.Actuators = append(b.Actuators, env.Actuator{Joint: ji, Gear: gear[6*a], Ctrl: [2]float64{ctrl[2*a], ctrl[2*a+1]}})
	}
	d, err := mujoco.NewData(m)
	if err != nil {
		return b, 0, err
	}
	defer d.Close()
	if err := d.Forward(); err != nil {
		return b, 0, err
	}
	if torso := m.ID(mujoco.ObjBody, "torso"); torso >= 0 {
		b.StartHeight = d.XPos()[3*torso+2]
	}
	return b, m.Timestep(), nil
}

// field returns the index of the layout field named name, or env.NoObs.
func field(layout []env.Field, name string) int {
	for i, f := range layout {
		if f.Name == name {
			return i
		}
	}
	return env.NoObs
}

// num formats a coefficient in its shortest exact form: 0.7, 2, 0.001.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// radians converts an angle in degrees to radians.
func radians(deg float64) float64 { return deg * (math.Pi / 180) }
