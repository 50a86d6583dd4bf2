package interpret

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/mujoco"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// kind groups tasks that are described alike.
type kind int

const (
	kindPlanar  kind = iota // hopper, walker2d: upright planar walkers that can fall
	kindCheetah             // halfcheetah: planar, lying body, never terminates
	kindAnt                 // ant: free-floating torso with a quaternion
	kindPong                // pong (features): a discrete-action Atari game, no MuJoCo model
)

// joint is one actuated hinge as the observation shows it.
type joint struct {
	model  string  // MuJoCo joint name, e.g. "thigh_left_joint"
	group  string  // "", "right"/"left", "back"/"front", or an ant leg "FL"…
	part   string  // "thigh", "hip", …
	angle  int     // observation index of the angle (rad)
	vel    int     // observation index of the angular velocity (rad/s)
	lo, hi float64 // joint limits, rad
}

// label is the joint's name in text: "thigh", "right thigh", "FL hip".
func (j joint) label() string {
	if j.group == "" {
		return j.part
	}
	return j.group + " " + j.part
}

// actuator is one action dimension.
type actuator struct {
	joint  int     // index into task.joints
	gear   float64 // N·m per unit of control
	lo, hi float64 // control range (MuJoCo clamps to it)
}

// task is everything Describe and Rules need about one spec, derived from
// the spec's observation layout, the task config defaults and the compiled
// MuJoCo model.
type task struct {
	id        string
	kind      kind
	config    any         // the spec's task config the task was built from
	layout    []env.Field // the layout the indices were derived from
	obsDim    int
	actDim    int
	actN      int // actions of a Discrete space, else 0
	maxSteps  int
	frameSkip int
	timestep  float64 // s per physics step
	joints    []joint // in observation order
	acts      []actuator
	velClip   float64 // velocities in the observation are clipped to ±velClip (+Inf: not clipped)

	// Observation indices of the torso fields (-1 where the task has none).
	height, pitch, vx, vy, vz, pitchRate, rollRate, yawRate int
	quat                                                    [4]int // w, x, y, z

	planar      tasks.PlanarConfig
	ant         tasks.AntConfig
	cheetah     tasks.HalfCheetahConfig
	startHeight float64 // torso height at the model's reference pose, m

	pong pong.Config // kindPong: the game's configuration
}

// dt is the duration of one env step in seconds.
func (t *task) dt() float64 { return float64(t.frameSkip) * t.timestep }

var (
	cacheMu sync.Mutex
	cache   = map[string]*task{}
)

// lookup returns the interpretation of spec, building it on first use. A
// spec whose task config, layout (field names and units) or space sizes
// differ from the cached one's is rebuilt.
func lookup(spec env.Spec) (*task, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if t, ok := cache[spec.ID]; ok && sameLayout(t.layout, spec.ObsLayout) && reflect.DeepEqual(t.config, spec.Task) &&
		t.obsDim == spec.Observation.Dim && t.actDim == spec.Action.Dim && t.actN == spec.Action.N {
		return t, nil
	}
	t, err := build(spec)
	if err != nil {
		return nil, err
	}
	cache[spec.ID] = t
	return t, nil
}

func sameLayout(a, b []env.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Unit != b[i].Unit {
			return false
		}
	}
	return true
}

// unknown says that spec's task is not one this package can describe.
func unknown(spec env.Spec) error {
	return fmt.Errorf("interpret: env %q (task config %T) cannot be described: the MuJoCo locomotion tasks "+
		"(hopper, walker2d, halfcheetah, ant) and Pong's features (pong, ale:pong) can", spec.ID, spec.Task)
}

// build derives a task from spec, the configuration it carries and its
// model.
func build(spec env.Spec) (*task, error) {
	t := &task{id: spec.ID, config: spec.Task, layout: spec.ObsLayout, obsDim: spec.Observation.Dim, actDim: spec.Action.Dim, actN: spec.Action.N,
		maxSteps: spec.MaxEpisodeSteps, velClip: math.Inf(1),
		height: -1, pitch: -1, vx: -1, vy: -1, vz: -1, pitchRate: -1, rollRate: -1, yawRate: -1, quat: [4]int{-1, -1, -1, -1}}
	var asset string
	var qposOffset int   // observation index = qpos index - qposOffset
	var defaultSteps int // the task config's episode limit, for a spec without one
	switch cfg := spec.Task.(type) {
	case pong.Config:
		if spec.Image != [3]int{} {
			return nil, fmt.Errorf("interpret: env %q observes pixels; only Pong's features (pong, ale:pong) can be described", spec.ID)
		}
		return buildPong(t, spec, cfg)
	case tasks.PlanarConfig:
		t.kind, t.planar = kindPlanar, cfg
		asset, t.frameSkip, t.velClip, qposOffset = cfg.Asset, cfg.FrameSkip, cfg.ObsVelocityClip, 1
		defaultSteps = cfg.MaxEpisodeSteps
	case tasks.HalfCheetahConfig:
		t.kind, t.cheetah = kindCheetah, cfg
		asset, t.frameSkip, qposOffset = cfg.Asset, cfg.FrameSkip, 1
		defaultSteps = cfg.MaxEpisodeSteps
	case tasks.AntConfig:
		t.kind, t.ant = kindAnt, cfg
		asset, t.frameSkip, qposOffset = cfg.Asset, cfg.FrameSkip, 2
		defaultSteps = cfg.MaxEpisodeSteps
	default:
		return nil, unknown(spec)
	}
	if t.maxSteps == 0 {
		t.maxSteps = defaultSteps
	}
	if len(spec.ObsLayout) != spec.Observation.Dim {
		return nil, fmt.Errorf("interpret: %s layout has %d fields for %d observation values", spec.ID, len(spec.ObsLayout), spec.Observation.Dim)
	}

	// Torso fields, by their layout names.
	idx := func(dst *int, names ...string) error {
		for _, n := range names {
			for i, f := range spec.ObsLayout {
				if f.Name == n {
					*dst = i
					return nil
				}
			}
		}
		return fmt.Errorf("interpret: %s layout has no field %q", spec.ID, names[0])
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch t.kind {
	case kindPlanar, kindCheetah:
		add(idx(&t.height, "torso height", "torso height offset"))
		add(idx(&t.pitch, "torso pitch"))
		add(idx(&t.vx, "forward velocity"))
		add(idx(&t.vz, "vertical velocity"))
		add(idx(&t.pitchRate, "torso pitch rate"))
	case kindAnt:
		add(idx(&t.height, "torso height"))
		for i, c := range []string{"w", "x", "y", "z"} {
			add(idx(&t.quat[i], "torso orientation "+c))
		}
		add(idx(&t.vx, "forward velocity"))
		add(idx(&t.vy, "lateral velocity"))
		add(idx(&t.vz, "vertical velocity"))
		add(idx(&t.rollRate, "roll rate"))
		add(idx(&t.pitchRate, "pitch rate"))
		add(idx(&t.yawRate, "yaw rate"))
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}

	// Model: timestep, actuators, joint limits, reference pose.
	m, err := tasks.Model(asset)
	if err != nil {
		return nil, fmt.Errorf("interpret: %s: %w", spec.ID, err)
	}
	t.timestep = m.Timestep()
	if m.NU() != spec.Action.Dim {
		return nil, fmt.Errorf("interpret: %s model has %d actuators for %d action values", spec.ID, m.NU(), spec.Action.Dim)
	}
	actJoint, gear, ctrl, jrange := m.ActuatorJoint(), m.ActuatorGear(), m.ActuatorCtrlRange(), m.JointRange()
	for a := range m.NU() {
		jid := actJoint[a]
		if jid < 0 {
			return nil, fmt.Errorf("interpret: %s actuator %d drives no joint", spec.ID, a)
		}
		name := m.Name(mujoco.ObjJoint, jid)
		ji := -1
		for k, j := range t.joints {
			if j.model == name {
				ji = k
			}
		}
		if ji < 0 {
			j := joint{model: name, angle: -1, vel: -1, lo: jrange[2*jid], hi: jrange[2*jid+1]}
			for i, f := range spec.ObsLayout {
				switch f.Name {
				case name + " angle":
					j.angle = i
				case name + " angular velocity":
					j.vel = i
				}
				if strings.HasPrefix(f.Name, name+" (") {
					if strings.HasSuffix(f.Name, ") angle") {
						j.angle = i
					} else if strings.HasSuffix(f.Name, ") angular velocity") {
						j.vel = i
					}
				}
			}
			if j.angle < 0 || j.vel < 0 {
				return nil, fmt.Errorf("interpret: %s layout lacks the angle or velocity of joint %s", spec.ID, name)
			}
			t.joints = append(t.joints, j)
			ji = len(t.joints) - 1
		}
		t.acts = append(t.acts, actuator{joint: ji, gear: gear[6*a], lo: ctrl[2*a], hi: ctrl[2*a+1]})
	}

	d, err := mujoco.NewData(m)
	if err != nil {
		return nil, fmt.Errorf("interpret: %s: %w", spec.ID, err)
	}
	defer d.Close()
	if err := d.Forward(); err != nil {
		return nil, fmt.Errorf("interpret: %s: %w", spec.ID, err)
	}
	torso := m.ID(mujoco.ObjBody, "torso")
	if torso < 0 {
		return nil, fmt.Errorf("interpret: %s model has no torso body", spec.ID)
	}
	t.startHeight = d.XPos()[3*torso+2]

	var legs map[string]string
	if t.kind == kindAnt {
		if legs, err = antLegs(t, d, torso, qposOffset); err != nil {
			return nil, err
		}
	}
	for i := range t.joints {
		j := &t.joints[i]
		switch spec.ID {
		case "hopper":
			j.part = strings.TrimSuffix(j.model, "_joint")
		case "walker2d":
			p := strings.TrimSuffix(j.model, "_joint")
			j.group, j.part = "right", p
			if l, ok := strings.CutSuffix(p, "_left"); ok {
				j.group, j.part = "left", l
			}
		case "halfcheetah":
			switch {
			case strings.HasPrefix(j.model, "b"):
				j.group, j.part = "back", j.model[1:]
			case strings.HasPrefix(j.model, "f"):
				j.group, j.part = "front", j.model[1:]
			default:
				j.part = j.model
			}
		case "ant":
			p, n, _ := strings.Cut(j.model, "_")
			j.group, j.part = legs[n], p
			if j.group == "" {
				j.group = "leg " + n
			}
		}
	}
	sort.SliceStable(t.joints, func(a, b int) bool { return t.joints[a].angle < t.joints[b].angle })
	// Re-point actuators after sorting.
	for a := range t.acts {
		name := m.Name(mujoco.ObjJoint, actJoint[a])
		for k, j := range t.joints {
			if j.model == name {
				t.acts[a].joint = k
			}
		}
	}
	return t, nil
}

// antLegs names each ant leg ("1" → "FL") by where it sits: it turns each
// hip by a little and finds the bodies that move, whose mean position
// relative to the torso is front (+x) or back, left (+y) or right.
func antLegs(t *task, d *mujoco.Data, torso, qposOffset int) (map[string]string, error) {
	legs := map[string]string{}
	qpos := d.QPos()
	n := len(d.XPos()) / 3
	base := append([]float64(nil), d.XPos()...)
	for _, j := range t.joints {
		part, leg, _ := strings.Cut(j.model, "_")
		if part != "hip" {
			continue
		}
		if err := d.Reset(); err != nil {
			return nil, err
		}
		qpos[j.angle+qposOffset] += 0.3
		if err := d.Forward(); err != nil {
			return nil, err
		}
		x := d.XPos()
		var sx, sy float64
		moved := 0
		for b := range n {
			if math.Abs(x[3*b]-base[3*b])+math.Abs(x[3*b+1]-base[3*b+1])+math.Abs(x[3*b+2]-base[3*b+2]) > 1e-9 {
				sx += base[3*b] - base[3*torso]
				sy += base[3*b+1] - base[3*torso+1]
				moved++
			}
		}
		if moved == 0 {
			return nil, fmt.Errorf("interpret: ant joint %s moves no body", j.model)
		}
		fb, lr := "F", "L"
		if sx < 0 {
			fb = "B"
		}
		if sy < 0 {
			lr = "R"
		}
		legs[leg] = fb + lr
	}
	if err := d.Reset(); err != nil {
		return nil, err
	}
	return legs, d.Forward()
}
