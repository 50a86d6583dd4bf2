// Package expert is the expert advisor: a stronger policy of the same task
// answers for the collected episodes. It is not an LLM. It measures the
// ceiling of policy modulation — what advice as good as a trained expert's
// can do with ULTRA's mechanism, dose and budget — which bounds what any
// LLM's advice can add there.
//
// Critical states. For each step the expert is asked for its distribution
// at the state. The agent's departure from the expert is the expert's
// log-likelihood gap between its own executed mode and the action the
// agent executed,
//
//	gap = log π_E(mode | s) − log π_E(a | s)
//
// where the mode is the Gaussian mean clipped to the action bounds (what
// the expert would execute) or the most likely index. For a Gaussian it is
// ½ Σ_j ((a_j − mode_j)/σ_j)²: the distance from the expert's action in
// units of the expert's own standard deviations. Within the window before a
// failure (the last Window steps of a terminated episode), or the
// Window-step stretch of lowest return in an episode without one, the
// MaxCritical steps of largest gap are critical (ties go to the later
// step), as the other advisors keep at most that many per episode.
//
// Suggested action: the expert's mode. Implicit rewards: the expert's
// likelihood of the action relative to its mode, mapped to [-1, 1],
//
//	r = 2·π_E(a | s)/π_E(mode | s) − 1 = 2·exp(−gap) − 1,
//
// so the taken action earns 1 when the expert would have done the same and
// tends to −1 as it departs by several of the expert's standard deviations,
// and the suggestion earns exactly 1. This is the expert's own view of the
// action, on the scale the paper's r_LLM lives on, with no threshold to
// tune: the ratio to the mode removes the density's units.
package expert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Name is the advisor's name (annotation Source, experiment advisor name).
const Name = "expert"

// Config tunes the expert advisor.
type Config struct {
	// MaxCritical bounds the critical steps per episode (default 5).
	MaxCritical int
	// Window is how many steps before a failure (or the length of the
	// lowest-return stretch of an episode without one) are searched for
	// critical states (default 60).
	Window int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{MaxCritical: 5, Window: 60} }

// Advisor annotates with an expert policy. It is not safe for concurrent
// use.
type Advisor struct {
	spec  env.Spec
	cfg   Config
	pol   *ppo.Policy
	step  int64 // the expert checkpoint's training step, for the reasons
	lo    []float32
	hi    []float32
	width int // distribution values per state
}

// New builds the expert advisor for spec from an expert checkpoint of the
// same task.
func New(spec env.Spec, ck *ppo.Checkpoint, cfg Config) (*Advisor, error) {
	if cfg.MaxCritical < 1 || cfg.Window < 1 {
		return nil, fmt.Errorf("expert: critical steps per episode %d and window %d, want both ≥ 1", cfg.MaxCritical, cfg.Window)
	}
	if ck.Config.Env != spec.ID {
		return nil, fmt.Errorf("expert: the expert checkpoint was trained on %q, and the episodes are of %q: give an expert of the same task", ck.Config.Env, spec.ID)
	}
	pol, err := ppo.NewPolicy(ck, spec, true, 0)
	if err != nil {
		return nil, fmt.Errorf("expert: %w", err)
	}
	a := &Advisor{spec: spec, cfg: cfg, pol: pol, step: ck.GlobalStep, width: spec.Action.Dim}
	if spec.Action.IsDiscrete() {
		a.width = spec.Action.N
	} else {
		a.lo, a.hi = spec.Action.Low, spec.Action.High
	}
	return a, nil
}

// Name implements advisor.Advisor.
func (a *Advisor) Name() string { return Name }

// Close releases the expert's networks.
func (a *Advisor) Close() error { return a.pol.Close() }

// judged is the expert's view of one step.
type judged struct {
	mode   []float32 // the expert's executed action
	gap    float64   // log π_E(mode) − log π_E(taken)
	reward float64   // 2·exp(−gap) − 1
}

// judge asks the expert about every step of t.
func (a *Advisor) judge(t *traj.Trajectory) ([]judged, error) {
	n := t.Len()
	dist := make([]float32, n*a.width)
	logStd, err := a.pol.Dist(t.Obs, n, dist)
	if err != nil {
		return nil, err
	}
	out := make([]judged, n)
	for k := range out {
		d := dist[k*a.width : (k+1)*a.width]
		taken := t.ActionAt(k)
		var j judged
		if a.spec.Action.IsDiscrete() {
			best := 0
			for i := range d {
				if d[i] > d[best] {
					best = i
				}
			}
			j.mode = []float32{float32(best)}
			j.gap = float64(d[best]) - float64(d[int(taken[0])])
		} else {
			j.mode = make([]float32, len(d))
			for i, mu := range d {
				m := min(max(mu, a.lo[i]), a.hi[i])
				j.mode[i] = m
				z := (float64(taken[i]) - float64(m)) * math.Exp(-float64(logStd[i]))
				j.gap += 0.5 * z * z
			}
		}
		j.reward = 2*math.Exp(-j.gap) - 1
		out[k] = j
	}
	return out, nil
}

// window is the steps of t searched for critical states: the last Window
// before a termination, else the Window-step stretch of lowest return.
func (a *Advisor) window(t *traj.Trajectory) (from, to int) {
	n, w := t.Len(), min(a.cfg.Window, t.Len())
	if t.Terminated {
		return n - w, n
	}
	var sum float64
	for k := 0; k < w; k++ {
		sum += float64(t.Rewards[k])
	}
	best, bestSum := 0, sum
	for k := w; k < n; k++ {
		sum += float64(t.Rewards[k]) - float64(t.Rewards[k-w])
		if sum < bestSum {
			best, bestSum = k-w+1, sum
		}
	}
	return best, best + w
}

// annotation is the expert's annotation of step k of t.
func (a *Advisor) annotation(t *traj.Trajectory, k int, j judged, why string) advisor.Annotation {
	one := 1.0
	ann := advisor.Annotation{Episode: t.ID, Step: k, Action: j.mode, Reward: j.reward, SuggestedReward: &one,
		Taken: append([]float32(nil), t.ActionAt(k)...), Obs: append([]float32(nil), t.ObsAt(k)...), Source: Name,
		Reason: fmt.Sprintf("expert policy (checkpoint at step %d of its run) %s: the action taken is %.2f nats less likely than its own", a.step, why, j.gap)}
	if t.Snapshots != nil {
		ann.Snapshot = t.Snapshots[k]
	}
	return ann
}

// Annotate implements advisor.Advisor: up to MaxCritical critical steps per
// episode (see the package comment).
func (a *Advisor) Annotate(ctx context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	var firstErr error
	anns, rep, err := advisor.AnnotateEach(ctx, a.spec, trajs, func(t *traj.Trajectory) []advisor.Annotation {
		js, err := a.judge(t)
		if err != nil {
			firstErr = cmp(firstErr, err)
			return nil
		}
		from, to := a.window(t)
		steps := make([]int, 0, to-from)
		for k := from; k < to; k++ {
			steps = append(steps, k)
		}
		sort.SliceStable(steps, func(x, y int) bool {
			gx, gy := js[steps[x]].gap, js[steps[y]].gap
			return gx > gy || (gx == gy && steps[x] > steps[y])
		})
		steps = steps[:min(len(steps), a.cfg.MaxCritical)]
		sort.Ints(steps)
		var out []advisor.Annotation
		for _, k := range steps {
			why := fmt.Sprintf("%d steps before the fall", t.Len()-k)
			if !t.Terminated {
				why = "in the episode's lowest-return stretch"
			}
			out = append(out, a.annotation(t, k, js[k], why))
		}
		return out
	})
	return anns, rep, errors.Join(err, firstErr)
}

// AnnotateSteps implements advisor.StepAnnotator: the expert's view of the
// given steps (the identification ablation's random states).
func (a *Advisor) AnnotateSteps(ctx context.Context, trajs []traj.Trajectory, steps [][]int) ([]advisor.Annotation, advisor.Report, error) {
	if len(steps) != len(trajs) {
		return nil, advisor.Report{}, fmt.Errorf("expert: %d step lists for %d trajectories", len(steps), len(trajs))
	}
	rep := advisor.Report{Trajectories: len(trajs)}
	var out []advisor.Annotation
	for i := range trajs {
		if err := ctx.Err(); err != nil {
			return out, rep, err
		}
		t := &trajs[i]
		if err := t.Validate(a.spec); err != nil {
			rep.Failed++
			rep.Reject("invalid_trajectory")
			continue
		}
		js, err := a.judge(t)
		if err != nil {
			return out, rep, err
		}
		for _, k := range steps[i] {
			if k >= 0 && k < t.Len() {
				out = append(out, a.annotation(t, k, js[k], "at a given state"))
			}
		}
	}
	rep.Annotations = len(out)
	return out, rep, nil
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
