// Package advisor turns trajectories into ULTRA annotations: for each
// critical step, the episode and step index, a short reason, a better action
// inside the action space and an implicit reward in [-1, 1].
//
// Every advisor implements [Advisor] and is usable offline (ultra annotate)
// or from the asynchronous stage in engine/ultra. The llm advisor asks an
// OpenAI-compatible model following the paper's three steps; scripted is a
// rule-based expert from physics (not an LLM) that lets the pipeline run
// offline; random is the ablation.
package advisor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Annotation marks one critical step with the advisor's suggestion.
type Annotation struct {
	Episode string    `json:"episode"` // Trajectory.ID
	Step    int       `json:"step"`    // index into the trajectory
	Reason  string    `json:"reason"`
	Action  []float32 `json:"action"` // suggested action, inside the action space
	// Reward is the implicit reward in [-1, 1] of the action the agent
	// took at Step (Taken): the paper's r_LLM.
	Reward float64 `json:"reward"`
	// Taken is the action the agent took at Step, which Reward judges.
	// Annotations from before it was recorded lack it.
	Taken []float32 `json:"taken,omitempty"`
	// SuggestedReward, when the advisor gives one, is its implicit reward
	// in [-1, 1] for the suggested Action at Step: what a bonus for
	// taking the suggestion is worth.
	SuggestedReward *float64  `json:"suggested_reward,omitempty"`
	Obs             []float32 `json:"obs"` // the state at Step: the lookup key
	// Snapshot is the simulator state at Step when the trajectory had one.
	Snapshot []float64 `json:"snapshot,omitempty"`
	Source   string    `json:"source"` // advisor name
	// Env is the task the annotation was made for, and Trajectories the
	// fingerprint (traj.Fingerprint) of the episodes it was made from:
	// what every consumer checks (CheckProvenance) before it uses it.
	Env          string `json:"env,omitempty"`
	Trajectories string `json:"trajectories,omitempty"`
}

// Stamp records in each annotation the task and the fingerprint of the
// episodes it was made from.
func Stamp(anns []Annotation, env, fingerprint string) {
	for i := range anns {
		anns[i].Env, anns[i].Trajectories = env, fingerprint
	}
}

// CheckProvenance checks that every annotation was made for task env,
// from the episodes of the given fingerprint ("" skips that check) and by
// the advisor named source ("" skips it); what is the file's name, for the
// messages. Annotations from before provenance was recorded carry no task
// and are refused too: annotate again.
func CheckProvenance(anns []Annotation, what, env, fingerprint, source string) error {
	for i, a := range anns {
		switch {
		case a.Env == "":
			return fmt.Errorf("%s:%d: the annotation names no task (made before annotations recorded their task and episodes): annotate the episodes again", what, i+1)
		case a.Env != env:
			return fmt.Errorf("%s:%d: the annotation was made for %s, not %s: give annotations of this task", what, i+1, a.Env, env)
		case fingerprint != "" && a.Trajectories != fingerprint:
			return fmt.Errorf("%s:%d: the annotation was made from other episodes (fingerprint %q, these are %q): annotate these episodes", what, i+1, a.Trajectories, fingerprint)
		case source != "" && a.Source != source:
			return fmt.Errorf("%s:%d: the annotation was made by the %s advisor, not %s", what, i+1, a.Source, source)
		}
	}
	return nil
}

// Report summarises one Annotate call.
type Report struct {
	Trajectories     int            `json:"trajectories"`
	Annotations      int            `json:"annotations"`
	Requests         int            `json:"requests"`
	PromptTokens     int            `json:"prompt_tokens"`
	CompletionTokens int            `json:"completion_tokens"`
	CacheHits        int            `json:"cache_hits"`
	Rejected         map[string]int `json:"rejected,omitempty"` // rejected answer parts by kind
	Failed           int            `json:"failed_batches"`     // batches whose annotation was lost
	BudgetExhausted  bool           `json:"budget_exhausted"`
}

// Add folds o into r.
func (r *Report) Add(o Report) {
	r.Trajectories += o.Trajectories
	r.Annotations += o.Annotations
	r.Requests += o.Requests
	r.PromptTokens += o.PromptTokens
	r.CompletionTokens += o.CompletionTokens
	r.CacheHits += o.CacheHits
	r.Failed += o.Failed
	r.BudgetExhausted = r.BudgetExhausted || o.BudgetExhausted
	for k, v := range o.Rejected {
		if r.Rejected == nil {
			r.Rejected = map[string]int{}
		}
		r.Rejected[k] += v
	}
}

// Reject counts one rejected answer part of the given kind.
func (r *Report) Reject(kind string) {
	if r.Rejected == nil {
		r.Rejected = map[string]int{}
	}
	r.Rejected[kind]++
}

// Advisor annotates a batch of trajectories of one task. Annotate returns
// what it could annotate even when it also returns an error (a failed batch
// loses only its own annotations); ErrBudget says the advisor's budget is
// spent and further calls will do nothing.
type Advisor interface {
	Name() string
	Annotate(ctx context.Context, trajs []traj.Trajectory) ([]Annotation, Report, error)
}

// StepAnnotator is an advisor that can also judge steps it did not choose:
// for each given step, its suggested action, its reward of the action
// taken and of its suggestion. The identification ablation (the random
// variant) asks it about randomly chosen steps, so that only the choice of
// states differs from ULTRA-RA. steps[i] lists the steps of trajs[i]; an
// advisor may leave out a step it cannot judge.
type StepAnnotator interface {
	Advisor
	AnnotateSteps(ctx context.Context, trajs []traj.Trajectory, steps [][]int) ([]Annotation, Report, error)
}

// ErrBudget is returned once an advisor's request or token budget is spent.
var ErrBudget = fmt.Errorf("advisor budget exhausted")

// ClampAction clamps a to the space's bounds in place and reports whether
// every value was finite. Discrete actions are rounded and clamped to [0, N).
func ClampAction(a []float32, sp env.Space) bool {
	for i, v := range a {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
		if sp.IsDiscrete() {
			a[i] = float32(math.Max(0, math.Min(float64(sp.N-1), math.Round(f))))
			continue
		}
		a[i] = min(max(v, sp.Low[i]), sp.High[i])
	}
	return true
}

// AnnotateEach is the loop the local advisors (scripted, random) share: each trajectory is checked
// against spec (invalid ones are counted and skipped) and annotated by f.
func AnnotateEach(ctx context.Context, spec env.Spec, trajs []traj.Trajectory, f func(t *traj.Trajectory) []Annotation) ([]Annotation, Report, error) {
	rep := Report{Trajectories: len(trajs)}
	var out []Annotation
	for i := range trajs {
		if err := ctx.Err(); err != nil {
			rep.Annotations = len(out)
			return out, rep, err
		}
		t := &trajs[i]
		if err := t.Validate(spec); err != nil {
			rep.Failed++
			rep.Reject("invalid_trajectory")
			continue
		}
		out = append(out, f(t)...)
	}
	rep.Annotations = len(out)
	return out, rep, nil
}

// Checker validates annotations against the task they are meant for, where
// they are read (files, live answers): a bad one is dropped with a reason,
// never turned into a wrong override, a NaN bonus or a restart from a
// corrupt state later.
type Checker struct {
	Spec env.Spec
	// SnapshotLen is the number of values of one simulator snapshot of the
	// task (env.SnapshotLen); 0 leaves snapshot lengths unchecked.
	SnapshotLen int
}

// Check returns why a cannot be used — a short reason that callers count
// drops by — or "" when it can.
func (c Checker) Check(a *Annotation) string {
	sp := c.Spec
	finite := func(x []float32) bool {
		for _, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return false
			}
		}
		return true
	}
	switch {
	case len(a.Obs) != sp.Observation.Dim:
		return fmt.Sprintf("observation has %d values, %s has %d", len(a.Obs), sp.ID, sp.Observation.Dim)
	case !finite(a.Obs):
		return "observation not finite"
	case len(a.Action) != sp.Action.Dim:
		return fmt.Sprintf("action has %d values, %s takes %d", len(a.Action), sp.ID, sp.Action.Dim)
	case !finite(a.Action):
		return "action not finite"
	case sp.Action.IsDiscrete() && (a.Action[0] < 0 || int(a.Action[0]) >= sp.Action.N || a.Action[0] != float32(int(a.Action[0]))):
		return fmt.Sprintf("action is not an index in [0, %d)", sp.Action.N)
	case math.IsNaN(a.Reward) || a.Reward < -1 || a.Reward > 1:
		return "reward outside [-1, 1]"
	case a.Taken != nil && len(a.Taken) != sp.Action.Dim:
		return fmt.Sprintf("taken action has %d values, %s takes %d", len(a.Taken), sp.ID, sp.Action.Dim)
	case !finite(a.Taken):
		return "taken action not finite"
	case a.SuggestedReward != nil && (math.IsNaN(*a.SuggestedReward) || *a.SuggestedReward < -1 || *a.SuggestedReward > 1):
		return "suggested reward outside [-1, 1]"
	case a.Step < 0:
		return "negative step"
	case a.Env != "" && a.Env != sp.ID:
		return "made for another task"
	}
	if a.Snapshot != nil {
		if c.SnapshotLen > 0 && len(a.Snapshot) != c.SnapshotLen {
			return fmt.Sprintf("snapshot has %d values, %s's has %d", len(a.Snapshot), sp.ID, c.SnapshotLen)
		}
		if why := env.CheckSnapshot(a.Snapshot); why != "" {
			return why
		}
	}
	return ""
}

// Drops counts dropped annotations by reason.
type Drops map[string]int

// String lists the reasons, most frequent first ("12 × action has 2
// values, hopper takes 3; 1 × reward outside [-1, 1]").
func (d Drops) String() string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range d {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%d × %s", x.v, x.k)
	}
	return strings.Join(parts, "; ")
}
