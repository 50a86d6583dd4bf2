// Package tasks holds ultra's MuJoCo locomotion tasks — hopper, walker2d,
// halfcheetah and ant — with the observation, reward, termination, frame skip
// and reset noise of Gymnasium's v4 versions, over the project's own MJCF
// models (embedded from assets/).
//
// Each task file follows one pattern: a config naming every coefficient with
// its default, the task's description (env.Spec.Info: goal, torso fields,
// joint names, reward weights, healthy ranges, read together with gears,
// limits and timing from the model, see info.go), then reset, step, the
// healthy check and observation writing. What explains or judges a task
// reads only that description, so a new task is a new file here and an
// entry in [Specs]. [Specs] returns the tasks for an [env.Registry].
package tasks

import (
	"embed"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco"
)

//go:embed assets/*.xml
var assets embed.FS

// Specs returns the specs of every MuJoCo task, with Gymnasium v4 defaults
// and so Gymnasium's v4 ids as aliases (Hopper-v4, …; v5 ids are refused
// with what differs).
func Specs() []env.Spec {
	specs := []env.Spec{HopperSpec(DefaultHopper()), Walker2dSpec(DefaultWalker2d()),
		HalfCheetahSpec(DefaultHalfCheetah()), AntSpec(DefaultAnt())}
	for i := range specs {
		specs[i] = withGymnasiumNames(specs[i])
	}
	return specs
}

// MJCF returns the embedded model file of a task ("hopper.xml", …).
func MJCF(name string) (string, error) {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return "", fmt.Errorf("tasks: no embedded model %q", name)
	}
	return string(b), nil
}

var (
	modelsMu sync.Mutex
	models   = map[string]*mujoco.Model{}
)

// Model returns the compiled model of an embedded asset. It is compiled once
// per process and shared read-only by every instance.
func Model(asset string) (*mujoco.Model, error) {
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if m, ok := models[asset]; ok {
		return m, nil
	}
	xml, err := MJCF(asset)
	if err != nil {
		return nil, err
	}
	m, err := mujoco.LoadXML(xml)
	if err != nil {
		return nil, fmt.Errorf("tasks: compile %s: %w", asset, err)
	}
	models[asset] = m
	return m, nil
}

// Terms are the reward terms of the last step, named as in Gymnasium's info.
type Terms struct {
	XVelocity float64 // forward velocity of the torso, m/s
	Forward   float64 // forward reward
	Ctrl      float64 // control cost (subtracted)
	Healthy   float64 // healthy (survive) reward
	IsHealthy bool    // the post-step state is healthy
}

// sim is the MuJoCo state every task shares: one Data over a shared Model.
type sim struct {
	data             *mujoco.Data
	qpos, qvel, ctrl []float64
	qpos0            []float64
	frameSkip        int
	dt               float64 // seconds per env step = frameSkip × timestep
	resetErr         error   // a MuJoCo error from the last reset, reported by the next step
	terms            Terms
}

func newSim(asset string, frameSkip int) (sim, error) {
	if frameSkip < 1 {
		return sim{}, fmt.Errorf("frame skip must be ≥ 1, got %d", frameSkip)
	}
	m, err := Model(asset)
	if err != nil {
		return sim{}, err
	}
	d, err := mujoco.NewData(m)
	if err != nil {
		return sim{}, err
	}
	return sim{
		data: d, qpos: d.QPos(), qvel: d.QVel(), ctrl: d.Ctrl(), qpos0: m.QPos0(),
		frameSkip: frameSkip, dt: float64(frameSkip) * m.Timestep(),
	}, nil
}

// resetNoise draws the initial state as Gymnasium does: qpos0 plus uniform
// noise in [-scale, scale], then velocities uniform in [-scale, scale] or
// scale × standard normal. env.Env's Reset has no error result, so a MuJoCo
// error here (the data is then at its reference state) is kept and ends the
// next step as unstable.
func (s *sim) resetNoise(rng *rand.Rand, scale float64, normalVel bool) {
	// ResetState, not Reset: the same trajectory without clearing MuJoCo's
	// whole buffer (TestResetStateMatchesResetData).
	s.data.ResetState()
	for i := range s.qpos {
		s.qpos[i] = s.qpos0[i] + scale*(2*rng.Float64()-1)
	}
	for i := range s.qvel {
		if normalVel {
			s.qvel[i] = scale * rng.NormFloat64()
		} else {
			s.qvel[i] = scale * (2*rng.Float64() - 1)
		}
	}
	s.resetErr = s.data.Forward()
}

// step writes the action into ctrl and advances frameSkip physics steps.
func (s *sim) step(action []float32) error {
	if err := s.resetErr; err != nil {
		s.resetErr = nil
		return fmt.Errorf("%w: reset: %v", env.ErrUnstable, err)
	}
	for i, a := range action {
		s.ctrl[i] = float64(a)
	}
	if err := s.data.Step(s.frameSkip); err != nil {
		return fmt.Errorf("%w: %v", env.ErrUnstable, err)
	}
	return nil
}

// restore sets the physics state and writes the task's observation of it.
func (s *sim) restore(snap []float64, obs []float32, write func([]float32)) error {
	if err := s.data.Restore(snap); err != nil {
		return err
	}
	write(obs)
	return nil
}

// Bytes implements env.Sizer: MuJoCo's data and the Go-side slices.
func (s *sim) Bytes() int64 { return s.data.Bytes() + 256 }

// Snapshot implements env.Env.
func (s *sim) Snapshot(dst []float64) []float64 { return s.data.Snapshot(dst) }

// Close implements env.Env.
func (s *sim) Close() error {
	s.data.Close()
	return nil
}

// Terms returns the reward terms of the last step.
func (s *sim) Terms() Terms { return s.terms }

// Data exposes the MuJoCo state, for tests and diagnostics.
func (s *sim) Data() *mujoco.Data { return s.data }

func sumSquares(a []float32) float64 {
	var s float64
	for _, v := range a {
		s += float64(v) * float64(v)
	}
	return s
}

func clip(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func inOpen(x float64, r [2]float64) bool { return r[0] < x && x < r[1] }

// unitBox is the [-1, 1]^n action space every task's motors use; a test
// checks it against each model's ctrlrange.
func unitBox(n int) env.Space {
	lo, hi := make([]float32, n), make([]float32, n)
	for i := range lo {
		lo[i], hi[i] = -1, 1
	}
	return env.Box(lo, hi)
}

// checkNoise returns the reset noise to use: opts overrides the default.
func checkNoise(opts env.Options, def float64) float64 {
	if opts.ResetNoise != nil {
		return *opts.ResetNoise
	}
	return def
}

var inf = math.Inf(1)

const mujocoBody = mujoco.ObjBody

// Physics returns the compiled model and frame skip behind a task id, for
// benchmarks that drive MuJoCo directly.
func Physics(id string) (*mujoco.Model, int, error) {
	var asset string
	var skip int
	switch id {
	case "hopper":
		asset, skip = DefaultHopper().Asset, DefaultHopper().FrameSkip
	case "walker2d":
		asset, skip = DefaultWalker2d().Asset, DefaultWalker2d().FrameSkip
	case "halfcheetah":
		asset, skip = DefaultHalfCheetah().Asset, DefaultHalfCheetah().FrameSkip
	case "ant":
		asset, skip = DefaultAnt().Asset, DefaultAnt().FrameSkip
	default:
		return nil, 0, fmt.Errorf("tasks: %q is not a MuJoCo task", id)
	}
	m, err := Model(asset)
	return m, skip, err
}
