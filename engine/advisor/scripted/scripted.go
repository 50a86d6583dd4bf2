// Package scripted is the scripted advisor: a rule-based expert built from
// each task's physics (Advisor), and Pong's own expert. It is not an LLM:
// it lets the whole pipeline run offline and is a baseline of its own.
package scripted

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Advisor is a rule-based expert built from each task's physics. It is NOT
// an LLM: it stands in for one so the whole ULTRA pipeline runs offline, and
// it is a baseline in its own right.
//
// For each step it computes a safety margin in [0, 1] — how far the state is
// from the task's failure set (0 = failed). Critical steps are those where
// the margin shrinks fastest while already low, plus the last steps before a
// termination. The suggested action is a PD correction toward safety (e.g.
// for hopper: hip torque against the torso's pitch and pitch rate, knee
// extension while sinking). The reward is tanh(Δmargin/scale): positive when
// the action taken moved the state away from failure, negative toward it,
// -1 on the step that terminated the episode. With simulator snapshots in
// the trajectory, the suggested action is scored the same way: the step is
// replayed from the snapshot with it, and the margin it leads to gives its
// reward (SuggestedReward).
//
// Pong ("pong", features) has its own expert, described on pongExpert:
// critical steps are those where the ball heads to the agent's paddle and
// the predicted intercept lies outside it, with the last chance before
// every lost point first; the suggestion is the discrete action index that
// moves the paddle toward the intercept (RIGHT = up, LEFT = down, NOOP when
// covered), and the reward is the gap the action taken closed (+) or
// widened (−), −1 at a lost point's last chance.
type Advisor struct {
	spec env.Spec
	cfg  Config
	task scriptedTask
}

// Config tunes the scripted expert.
type Config struct {
	MaxCritical int     // critical steps per episode, at most (default 5)
	Threshold   float64 // a step can be critical only below this margin (default 0.5)
	NearEnd     int     // steps before a termination always considered (default 5)
	RewardScale float64 // Δmargin giving reward tanh(1) ≈ 0.76 (default 0.05)
	Gain        float64 // scale of the PD correction (default 1)
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{MaxCritical: 5, Threshold: 0.5, NearEnd: 5, RewardScale: 0.05, Gain: 1}
}

// scriptedTask is the per-task physics: margin and correction, or an
// expert of its own (annotate).
type scriptedTask struct {
	margin   func(obs []float32) float64
	correct  func(obs []float32, out []float32, gain float64)
	annotate func(t *traj.Trajectory, given []int) []advisor.Annotation
}

// New returns the scripted expert for spec's task.
func New(spec env.Spec, cfg Config) (*Advisor, error) {
	var bad []string
	check := func(ok bool, field string, v any, want string) {
		if !ok {
			bad = append(bad, fmt.Sprintf("%s = %v, want %s", field, v, want))
		}
	}
	check(cfg.MaxCritical >= 1, "MaxCritical (critical steps per episode)", cfg.MaxCritical, "≥ 1")
	check(cfg.Threshold > 0 && cfg.Threshold <= 1, "Threshold", cfg.Threshold, "in (0, 1]")
	check(cfg.NearEnd >= 0, "NearEnd", cfg.NearEnd, "≥ 0")
	check(cfg.RewardScale > 0 && !math.IsInf(cfg.RewardScale, 0), "RewardScale", cfg.RewardScale, "finite and > 0")
	check(cfg.Gain > 0 && !math.IsInf(cfg.Gain, 0), "Gain", cfg.Gain, "finite and > 0")
	if len(bad) > 0 {
		return nil, fmt.Errorf("scripted advisor: %s", strings.Join(bad, "; "))
	}
	info := spec.Info
	var t scriptedTask
	switch {
	case info != nil && info.Pong != nil:
		g := info.Pong
		if !spec.Action.IsDiscrete() || spec.Action.N != len(g.Actions) || g.FirstAction(-1) < 0 || g.FirstAction(1) < 0 || g.FirstAction(0) < 0 {
			return nil, fmt.Errorf("scripted advisor: pong spec %q with %s actions (%d described): want Discrete(%d) with actions that move the paddle up, down and not at all", spec.ID, spec.Action, len(g.Actions), len(g.Actions))
		}
		t.annotate = (&pongExpert{game: g, frameSkip: info.FrameSkip, max: cfg.MaxCritical}).annotate
	case info != nil && info.Body != nil:
		if err := checkBody(info.Body, spec); err != nil {
			return nil, err
		}
		t = bodyTask(info.Body)
	default:
		return nil, fmt.Errorf("scripted advisor: env %q has no task description (env.Spec.Info with a Body or Pong), so no expert: the MuJoCo locomotion tasks (hopper, walker2d, halfcheetah, ant) and Pong's features (pong, ale:pong) have one", spec.ID)
	}
	return &Advisor{spec: spec, cfg: cfg, task: t}, nil
}

// Name implements advisor.Advisor.
func (s *Advisor) Name() string { return "scripted" }

// Annotate implements advisor.Advisor.
func (s *Advisor) Annotate(ctx context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	return advisor.AnnotateEach(ctx, s.spec, trajs, func(t *traj.Trajectory) []advisor.Annotation { return s.annotate(t, nil) })
}

// AnnotateSteps implements advisor.StepAnnotator: the expert's suggestion
// and rewards at the given steps, chosen or not by its own rule.
func (s *Advisor) AnnotateSteps(ctx context.Context, trajs []traj.Trajectory, steps [][]int) ([]advisor.Annotation, advisor.Report, error) {
	if len(steps) != len(trajs) {
		return nil, advisor.Report{}, fmt.Errorf("scripted advisor: steps for %d trajectories, %d given", len(steps), len(trajs))
	}
	of := make(map[*traj.Trajectory][]int, len(trajs))
	for i := range trajs {
		of[&trajs[i]] = append([]int{}, steps[i]...) // non-nil: judge these, not the expert's own
	}
	return advisor.AnnotateEach(ctx, s.spec, trajs, func(t *traj.Trajectory) []advisor.Annotation { return s.annotate(t, of[t]) })
}

// annotate annotates t's critical steps by the expert's rule when given is
// nil, else the given steps.
func (s *Advisor) annotate(t *traj.Trajectory, given []int) []advisor.Annotation {
	if s.task.annotate != nil {
		return s.task.annotate(t, given)
	}
	n := t.Len()
	if n == 0 {
		return nil
	}
	m := make([]float64, n+1) // margin before each step, and after the last
	for k := 0; k < n; k++ {
		m[k] = s.task.margin(t.ObsAt(k))
	}
	if t.Terminated {
		m[n] = 0
	} else {
		m[n] = m[n-1]
	}
	if given != nil {
		var ks []int
		for _, k := range given {
			if k >= 0 && k < n {
				ks = append(ks, k)
			}
		}
		return s.annotateAt(t, ks, m)
	}
	type cand struct {
		k     int
		score float64
	}
	var cands []cand
	for k := 0; k < n; k++ {
		drop := m[k] - m[k+1] // > 0: moving toward failure
		nearEnd := t.Terminated && k >= n-s.cfg.NearEnd
		if (m[k] < s.cfg.Threshold && drop > 0) || nearEnd {
			score := drop + (1 - m[k])
			if nearEnd {
				score += 1
			}
			cands = append(cands, cand{k, score})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	if len(cands) > s.cfg.MaxCritical {
		cands = cands[:s.cfg.MaxCritical]
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].k < cands[j].k })
	ks := make([]int, len(cands))
	for i, c := range cands {
		ks[i] = c.k
	}
	return s.annotateAt(t, ks, m)
}

// annotateAt annotates steps ks of t, whose margins (before each step and
// after the last) are m: the PD correction as the suggestion, the taken
// action's reward from the margin it led to, and the suggestion's from a
// replay when t has snapshots.
func (s *Advisor) annotateAt(t *traj.Trajectory, ks []int, m []float64) []advisor.Annotation {
	n := t.Len()
	out := make([]advisor.Annotation, 0, len(ks))
	sim := s.simulator(t)
	defer sim.close()
	for _, k := range ks {
		obs := t.ObsAt(k)
		act := make([]float32, t.ActDim)
		copy(act, t.ActionAt(k))
		s.task.correct(obs, act, s.cfg.Gain)
		advisor.ClampAction(act, s.spec.Action)
		r := s.reward(m[k], m[k+1], t.Terminated && k == n-1)
		dir := "falling"
		if m[k+1] > m[k] {
			dir = "rising"
		}
		reason := fmt.Sprintf("safety margin %.2f %s to %.2f", m[k], dir, m[k+1])
		if t.Terminated && k == n-1 {
			reason = fmt.Sprintf("this step ended the episode (margin %.2f)", m[k])
		}
		a := advisor.Annotation{Episode: t.ID, Step: k, Reason: reason, Action: act, Reward: r,
			Obs: append([]float32(nil), obs...), Source: "scripted", Taken: append([]float32(nil), t.ActionAt(k)...)}
		if t.Snapshots != nil {
			a.Snapshot = t.Snapshots[k]
			if after, term, ok := sim.step(t.Snapshots[k], act); ok {
				sr := s.reward(m[k], s.task.margin(after), term)
				a.SuggestedReward = &sr
			}
		}
		out = append(out, a)
	}
	return out
}

// reward is the scripted reward of a step that moved the margin from m0
// to m1: tanh(Δmargin/RewardScale), −1 when the step ended the episode.
func (s *Advisor) reward(m0, m1 float64, terminated bool) float64 {
	if terminated {
		return -1
	}
	return math.Tanh((m1 - m0) / s.cfg.RewardScale)
}

// simulator replays single steps from a trajectory's snapshots, to score
// the suggested action the way the taken one is scored: by the margin of
// the state it leads to. Without snapshots (or an instance) it scores
// nothing.
type simulator struct {
	e   env.Env
	obs []float32
}

func (s *Advisor) simulator(t *traj.Trajectory) simulator {
	if t.Snapshots == nil {
		return simulator{}
	}
	e, err := s.spec.New(env.DefaultOptions())
	if err != nil {
		return simulator{}
	}
	return simulator{e: e, obs: make([]float32, s.spec.Observation.Dim)}
}

// step restores snap, takes action and returns the next observation and
// whether the episode terminated; ok is false when it cannot tell.
func (sim simulator) step(snap []float64, action []float32) (obs []float32, terminated, ok bool) {
	if sim.e == nil || sim.e.Restore(snap, sim.obs) != nil {
		return nil, false, false
	}
	_, term, err := sim.e.Step(action, sim.obs)
	if err != nil {
		return nil, false, false
	}
	return sim.obs, term, true
}

func (sim simulator) close() {
	if sim.e != nil {
		sim.e.Close()
	}
}

// openMargin is the normalised distance of x inside (lo, hi): 1 at the
// centre (or `reach` away from a one-sided bound), 0 at a bound.
func openMargin(x, lo, hi, reach float64) float64 {
	switch {
	case math.IsInf(lo, -1) && math.IsInf(hi, 1):
		return 1
	case math.IsInf(hi, 1):
		return clamp01((x - lo) / reach)
	case math.IsInf(lo, -1):
		return clamp01((hi - x) / reach)
	}
	half := (hi - lo) / 2
	return clamp01(math.Min(x-lo, hi-x) / math.Min(half, reach))
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

// checkBody reports a description of a robot that does not fit spec's
// spaces: an actuator count other than the action's, or an observation
// index outside the observation.
func checkBody(b *env.Body, spec env.Spec) error {
	if len(b.Actuators) != spec.Action.Dim {
		return fmt.Errorf("scripted advisor: env %q describes %d actuators for %d action values: its description does not follow its spec", spec.ID, len(b.Actuators), spec.Action.Dim)
	}
	to := b.Torso
	idx := []int{to.Height, to.Pitch, to.VZ, to.PitchRate, to.Orientation[0], to.Orientation[1], to.Orientation[2], to.Orientation[3]}
	for _, bd := range b.Healthy.Bounds {
		idx = append(idx, bd.Obs)
	}
	for _, a := range b.Actuators {
		if a.Joint < 0 || a.Joint >= len(b.Joints) {
			return fmt.Errorf("scripted advisor: env %q has an actuator on joint %d of %d: its description does not follow its spec", spec.ID, a.Joint, len(b.Joints))
		}
		idx = append(idx, b.Joints[a.Joint].Angle, b.Joints[a.Joint].Velocity)
	}
	for _, i := range idx {
		if i != env.NoObs && (i < 0 || i >= spec.Observation.Dim) {
			return fmt.Errorf("scripted advisor: env %q describes observation index %d of %d values: its description does not follow its spec", spec.ID, i, spec.Observation.Dim)
		}
	}
	return nil
}

// bodyTask is the expert of a MuJoCo robot, from its description.
//
// Margin: the smallest of the normalised distances to each healthy bound
// (openMargin with the bound's Reach), of |pitch| to the pitch a robot that
// can flip lies on its back at (Body.Flip), and, for a free-floating torso,
// of its uprightness (the z component of its up axis).
//
// Correction: a free-floating torso (ant) is pulled by a PD law toward
// its stable stance (Joint.Stance; 3 per rad, damping 0.1 per rad/s). A
// planar torso with a pitch is balanced by the joints on the torso (hips):
// against a forward pitch (scaled by the pitch's healthy limit, 1 rad when
// unbounded) and pitch rate each swings its limb backward (the sign follows
// Joint.Swing), whose reaction pitches the torso back, and, in a robot that
// can fall (a lower height bound), the next joints down (knees) straighten
// while the torso sinks.
func bodyTask(b *env.Body) scriptedTask {
	to := b.Torso
	var margins []func(o []float32) float64
	for _, bd := range b.Healthy.Bounds {
		margins = append(margins, func(o []float32) float64 { return openMargin(float64(o[bd.Obs]), bd.Range[0], bd.Range[1], bd.Reach) })
	}
	if flip := b.Flip; flip > 0 && to.Pitch != env.NoObs {
		margins = append(margins, func(o []float32) float64 { return clamp01(1 - math.Abs(float64(o[to.Pitch]))/flip) })
	}
	if q := to.Orientation; q[0] != env.NoObs {
		margins = append(margins, func(o []float32) float64 {
			w, x, y, z := float64(o[q[0]]), float64(o[q[1]]), float64(o[q[2]]), float64(o[q[3]])
			n := w*w + x*x + y*y + z*z
			return clamp01(1 - 2*(x*x+y*y)/math.Max(n, 1e-12)) // z component of the torso's z axis
		})
	}
	t := scriptedTask{margin: func(o []float32) float64 {
		if len(margins) == 0 {
			return 1 // nothing to fail
		}
		m := margins[0](o)
		for _, f := range margins[1:] {
			m = math.Min(m, f(o))
		}
		return m
	}}
	unit := func(x float64) float32 { return float32(math.Max(-1, math.Min(1, x))) }
	switch {
	case to.Orientation[0] != env.NoObs:
		t.correct = func(o []float32, a []float32, g float64) {
			for i, act := range b.Actuators {
				j := b.Joints[act.Joint]
				q, qd := float64(o[j.Angle]), float64(o[j.Velocity])
				a[i] = unit(g * (3*(j.Stance-q) - 0.1*qd))
			}
		}
	case to.Pitch != env.NoObs && to.PitchRate != env.NoObs:
		lim := 1.0
		var canFall bool
		for _, bd := range b.Healthy.Bounds {
			switch bd.Obs {
			case to.Pitch:
				lim = bd.Range[1]
			case to.Height:
				canFall = !math.IsInf(bd.Range[0], -1)
			}
		}
		canFall = canFall && to.VZ != env.NoObs
		t.correct = func(o []float32, a []float32, g float64) {
			pitch, rate := float64(o[to.Pitch]), float64(o[to.PitchRate])
			sinking := canFall && o[to.VZ] < 0
			for i, act := range b.Actuators {
				j := b.Joints[act.Joint]
				switch {
				case j.Depth == 1 && j.Swing != 0:
					k := g // the torque that swings the limb backward against a forward pitch
					if j.Swing > 0 {
						k = -g
					}
					a[i] = unit(k * (2*pitch/lim + 0.3*rate))
				case j.Depth == 2 && sinking: // straighten the knee (0 rad is straight)
					a[i] = unit(-g * 3 * float64(o[j.Angle]))
				}
			}
		}
	default: // nothing to correct with: the suggestion is the action taken
		t.correct = func([]float32, []float32, float64) {}
	}
	return t
}
