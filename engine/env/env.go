// Package env defines ultra's environment interfaces and the batched VecEnv
// that steps many instances of one task together.
//
// A task (a MuJoCo robot, Pong, …) implements [Env] for one instance and is
// described by a [Spec]: its id, spaces, episode limit, observation layout,
// constructor and a [TaskInfo] that explains it. [New] turns a Spec into a
// [VecEnv]: N instances stepped by a pool of worker goroutines into flat
// float32 buffers the VecEnv owns, with auto-reset, per-env seeding and
// episode statistics.
package env

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Space is an observation or action space: a box of Dim float values with
// per-dimension bounds, or a discrete set {0, …, N-1}.
type Space struct {
	Dim       int       // number of float32 values per instance (1 for Discrete)
	Low, High []float32 // Box bounds, len Dim (±Inf where unbounded); nil for Discrete
	N         int       // number of actions of a Discrete space; 0 for a Box
}

// Box returns a continuous space with the given bounds.
func Box(low, high []float32) Space { return Space{Dim: len(low), Low: low, High: high} }

// UnboundedBox returns a continuous space of dim values bounded by ±Inf.
func UnboundedBox(dim int) Space {
	lo, hi := make([]float32, dim), make([]float32, dim)
	for i := range lo {
		lo[i], hi[i] = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	return Box(lo, hi)
}

// Discrete returns the space {0, …, n-1}, held as one float32 per instance.
func Discrete(n int) Space { return Space{Dim: 1, N: n} }

// IsDiscrete reports whether s is a Discrete space.
func (s Space) IsDiscrete() bool { return s.N > 0 }

// String renders the space as "Box(3, [-1, 1])" or "Discrete(6)".
func (s Space) String() string {
	if s.IsDiscrete() {
		return fmt.Sprintf("Discrete(%d)", s.N)
	}
	lo, hi := s.Low[0], s.High[0]
	for i := range s.Low {
		if s.Low[i] != lo || s.High[i] != hi {
			return fmt.Sprintf("Box(%d, mixed bounds)", s.Dim)
		}
	}
	return fmt.Sprintf("Box(%d, [%g, %g])", s.Dim, lo, hi)
}

// Field documents one element of an observation vector.
type Field struct {
	Name string // e.g. "thigh_joint angle"
	Unit string // e.g. "rad", "m/s"
	Doc  string // one line of meaning; later turned into text for the LLM
}

// Options adjusts a task instance at construction. The zero value keeps
// every task default.
type Options struct {
	// ResetNoise, when set, replaces the task's default scale of the random
	// perturbation of the initial state (0 starts every episode identically).
	ResetNoise *float64
}

// DefaultOptions keeps every task default.
func DefaultOptions() Options { return Options{} }

// WithResetNoise returns options that set the reset-noise scale.
func WithResetNoise(scale float64) Options { return Options{ResetNoise: &scale} }

// Family groups tasks that take the same training presets (the layers
// above key their defaults on it: CleanRL's ppo_atari settings and the
// paper's alpha 0.5 for Atari, ppo_continuous_action and 0.1 for MuJoCo).
type Family string

// Task families.
const (
	FamilyMuJoCo Family = "mujoco" // continuous-control locomotion
	FamilyAtari  Family = "atari"  // Atari 2600 games (native Pong and ALE)
)

// Spec describes a task: everything a caller needs before making one.
type Spec struct {
	ID          string  // common id, e.g. "hopper"
	Doc         string  // one line: what the agent must do
	Observation Space   // per-instance observation space
	Action      Space   // per-instance action space
	ObsLayout   []Field // index → meaning, len Observation.Dim
	// MatchDims names the observation indices that critical-state matching
	// compares in the task's own subspace (ultra's "task" match space):
	// for the planar walkers, posture and velocities without the absolute
	// forward velocity. Nil: the task names none.
	MatchDims       []int
	MaxEpisodeSteps int     // episodes are truncated after this many steps
	DefaultNoise    float64 // default reset-noise scale
	// Image is (channels, height, width) when the observation is an image,
	// channel-first with values in [0, 1] (Atari pixels); zero for vectors.
	Image [3]int
	// Family is the task's family, for presets.
	Family Family
	// StepSeconds is the game time one step covers (Atari: frame skip ×
	// 1/60 s), for tasks without an Info that says it; videos play at this
	// pace. 0: see [Spec.Seconds].
	StepSeconds float64
	// Info describes the task for what explains or judges it (the
	// interpretation, the scripted expert), filled by the task from the
	// configuration and model it actually runs with. Nil for tasks nothing
	// downstream interprets (pixel observations, say).
	Info *TaskInfo
	// New makes one instance. Instances of one VecEnv may share read-only
	// state (a compiled model); New must be safe to call repeatedly.
	New func(opts Options) (Env, error)
	// Aliases are other ids the task answers to in a Registry: the
	// Gymnasium id of what it implements ("Hopper-v4"). Lookup by an alias
	// returns the spec under its ID.
	Aliases []string
	// Refuses maps ids of neighbouring tasks that differ from this one
	// (Gymnasium's next version, "Hopper-v5") to what differs; Lookup
	// answers them with an error that says so and names the ID instead.
	Refuses map[string]string
	// NewRenderer makes a [Renderer] of the task's snapshots at width ×
	// height pixels (0: the task's default size). Nil for tasks that cannot
	// be drawn.
	NewRenderer func(width, height int) (Renderer, error)
}

// Seconds is the game time one step covers: StepSeconds, else Info's
// frame skip × timestep, else 0 (unknown).
func (s Spec) Seconds() float64 {
	if s.StepSeconds > 0 {
		return s.StepSeconds
	}
	if s.Info != nil {
		return s.Info.StepSeconds()
	}
	return 0
}

// Renderer draws a task's states: a snapshot (as [Env.Snapshot] writes it)
// in, an image out. The image depends on the snapshot alone.
type Renderer interface {
	// Render draws snap into dst, reused when it has the renderer's size
	// (allocated otherwise), and returns the image.
	Render(snap []float64, dst *image.RGBA) (*image.RGBA, error)
	// Close releases the renderer's resources.
	Close() error
}

// ErrNotRenderable is returned for a task whose Spec has no NewRenderer.
var ErrNotRenderable = errors.New("this task cannot be drawn")

// NewRenderer makes spec's renderer, or says that the task has none.
func NewRenderer(spec Spec, width, height int) (Renderer, error) {
	if spec.NewRenderer == nil {
		return nil, fmt.Errorf("%s: %w", spec.ID, ErrNotRenderable)
	}
	return spec.NewRenderer(width, height)
}

// Env is one instance of a task. It is used by one goroutine at a time.
type Env interface {
	// Reset starts an episode, drawing any randomness from rng, and writes
	// the first observation into obs.
	Reset(rng *rand.Rand, obs []float32)
	// Step applies action (already checked to be finite and of the right
	// length), writes the next observation into obs and returns the reward
	// and whether the episode terminated. A physics failure is returned as
	// an error wrapping ErrUnstable, with obs left untouched; the instance
	// must then be Reset.
	Step(action []float32, obs []float32) (reward float64, terminated bool, err error)
	// Snapshot writes the full simulator state into dst, resized as needed
	// (no allocation when its capacity suffices), and returns it.
	Snapshot(dst []float64) []float64
	// Restore sets the simulator state from a Snapshot of the same task and
	// writes the corresponding observation into obs.
	Restore(snap []float64, obs []float32) error
	// Close releases the instance's resources.
	Close() error
}

// StepStater is an Env whose next Step reads state beyond its simulator
// snapshot: a value the simulator left from the previous step that
// restoring the snapshot recomputes differently (ant's torso x, which MuJoCo
// leaves from the last integration stage). VecEnv.MarshalBinary saves it
// and UnmarshalBinary gives it back after the snapshot, so that a resumed
// run continues bit for bit.
type StepStater interface {
	// StepState returns the state (a new slice).
	StepState() []float64
	// SetStepState sets it after Restore; a slice StepState could not have
	// returned is an error.
	SetStepState(s []float64) error
}

// ErrUnstable marks a physics blow-up (NaN or huge state) inside Env.Step.
var ErrUnstable = errors.New("unstable simulation")

// Registry maps task ids (and their aliases) to specs.
type Registry struct {
	specs     map[string]Spec
	aliases   map[string]string // lower-case alias → id
	refused   map[string]refusal
	resolvers map[string]func(id string) (Spec, error) // id prefix → maker of specs for such ids
}

// refusal is an id a task refuses, with why.
type refusal struct{ id, why string }

// WithResolver makes Lookup of an unregistered id starting with prefix
// answer with resolve(id): for families of ids made on demand (Atari games
// through ALE, found by ROM), or, in a build without them, an error saying
// how to enable them.
func (r *Registry) WithResolver(prefix string, resolve func(id string) (Spec, error)) *Registry {
	if r.resolvers == nil {
		r.resolvers = map[string]func(string) (Spec, error){}
	}
	r.resolvers[prefix] = resolve
	return r
}

// NewRegistry returns a registry holding specs. Duplicate ids panic: they
// are programming errors.
func NewRegistry(specs ...Spec) *Registry {
	r := &Registry{specs: map[string]Spec{}, aliases: map[string]string{}, refused: map[string]refusal{}}
	taken := func(key string) bool {
		_, a := r.specs[key]
		_, b := r.aliases[key]
		_, c := r.refused[key]
		return a || b || c
	}
	for _, s := range specs {
		if taken(s.ID) {
			panic("env: duplicate task id " + s.ID)
		}
		r.specs[s.ID] = s
	}
	for _, s := range specs {
		for _, a := range s.Aliases {
			if key := strings.ToLower(a); taken(key) {
				panic("env: alias " + a + " of " + s.ID + " is taken")
			} else {
				r.aliases[key] = s.ID
			}
		}
		for other, why := range s.Refuses {
			if key := strings.ToLower(other); taken(key) {
				panic("env: refused id " + other + " of " + s.ID + " is taken")
			} else {
				r.refused[key] = refusal{s.ID, why}
			}
		}
	}
	return r
}

// IDs returns the registered ids in sorted order.
func (r *Registry) IDs() []string {
	ids := make([]string, 0, len(r.specs))
	for id := range r.specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Lookup returns the spec for id or one of its aliases (case aside). A
// refused id's error says what differs; an unknown id's lists the valid
// ones.
func (r *Registry) Lookup(id string) (Spec, error) {
	key := strings.ToLower(strings.TrimSpace(id))
	if canon, ok := r.aliases[key]; ok {
		key = canon
	}
	if rf, ok := r.refused[key]; ok {
		alias := ""
		if a := r.specs[rf.id].Aliases; len(a) > 0 {
			alias = " (or " + a[0] + ")"
		}
		return Spec{}, fmt.Errorf("env %q differs from ultra's %s: %s; use %s%s", id, rf.id, rf.why, rf.id, alias)
	}
	s, ok := r.specs[key]
	if !ok {
		for prefix, resolve := range r.resolvers {
			if strings.HasPrefix(key, prefix) {
				return resolve(id)
			}
		}
		return Spec{}, fmt.Errorf("unknown env %q: valid envs are %s", id, strings.Join(r.IDs(), ", "))
	}
	return s, nil
}

// MaxSnapshotValue bounds every value of a stored simulator snapshot: it is
// MuJoCo's mjMAXVAL, beyond which MuJoCo calls a state bad. Readers of
// snapshots (trajectories, annotations) refuse larger values and NaN.
const MaxSnapshotValue = 1e10

// CheckSnapshot returns why snap cannot be a simulator state — a value that
// is NaN or beyond ±MaxSnapshotValue — or "".
func CheckSnapshot(snap []float64) string {
	for _, v := range snap {
		if math.IsNaN(v) || math.Abs(v) > MaxSnapshotValue {
			return "snapshot value not finite or beyond ±1e10"
		}
	}
	return ""
}

// SnapshotLen returns the number of values in one simulator snapshot of
// spec's task, by making one instance.
func SnapshotLen(spec Spec) (int, error) {
	e, err := spec.New(DefaultOptions())
	if err != nil {
		return 0, err
	}
	defer e.Close()
	return len(e.Snapshot(nil)), nil
}
