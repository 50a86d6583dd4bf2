// Package random holds the ablation advisors: Advisor, all random (critical
// steps, actions and rewards: the variant random-all), and States, random
// steps judged by another advisor (the paper's identification ablation,
// the variant random). Both are seeded, so a run is reproducible.
package random

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Advisor is the all-random ablation (variant random-all): critical steps
// chosen uniformly at random, uniform in-space actions and uniform rewards
// in [-1, 1]. Seeded, so a run is reproducible. The paper's identification
// ablation, where only the states are random, is [States].
type Advisor struct {
	spec  env.Spec
	perEp int
	rng   *rand.Rand
}

// New marks perEpisode random steps of each episode.
func New(spec env.Spec, perEpisode int, seed uint64) (*Advisor, error) {
	if perEpisode < 1 {
		return nil, fmt.Errorf("random advisor: steps per episode must be ≥ 1, got %d", perEpisode)
	}
	return &Advisor{spec: spec, perEp: perEpisode, rng: rand.New(rand.NewPCG(seed, 0xad71))}, nil
}

// Name implements advisor.Advisor.
func (r *Advisor) Name() string { return "random" }

// Annotate implements advisor.Advisor.
func (r *Advisor) Annotate(ctx context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	return advisor.AnnotateEach(ctx, r.spec, trajs, r.annotate)
}

func (r *Advisor) annotate(t *traj.Trajectory) []advisor.Annotation {
	var out []advisor.Annotation
	n := t.Len()
	k := min(r.perEp, n)
	steps := r.rng.Perm(n)[:k]
	sort.Ints(steps)
	for _, s := range steps {
		act := make([]float32, t.ActDim)
		eval.Random{Space: r.spec.Action, Rng: r.rng}.Act(nil, 1, act)
		a := advisor.Annotation{Episode: t.ID, Step: s, Reason: "random (ablation)", Action: act,
			Reward: 2*r.rng.Float64() - 1, Obs: append([]float32(nil), t.ObsAt(s)...), Source: "random",
			Taken: append([]float32(nil), t.ActionAt(s)...)}
		sr := 2*r.rng.Float64() - 1
		a.SuggestedReward = &sr
		if t.Snapshots != nil {
			a.Snapshot = t.Snapshots[s]
		}
		out = append(out, a)
	}
	return out
}

// States is the paper's identification ablation (variant random): it
// chooses perEpisode steps of each episode uniformly at random and has a
// judge — the same advisor ULTRA-RA uses — suggest an action and assign
// rewards at those steps, so that only the choice of states differs from
// ULTRA-RA. Seeded, so the steps are reproducible.
type States struct {
	judge advisor.StepAnnotator
	perEp int
	rng   *rand.Rand
}

// NewStates picks random steps for judge to annotate.
func NewStates(judge advisor.StepAnnotator, perEpisode int, seed uint64) (*States, error) {
	if perEpisode < 1 {
		return nil, fmt.Errorf("random states: steps per episode must be ≥ 1, got %d", perEpisode)
	}
	return &States{judge: judge, perEp: perEpisode, rng: rand.New(rand.NewPCG(seed, 0x57a7))}, nil
}

// Name is "random-" and the judge's name, e.g. "random-scripted".
func (s *States) Name() string { return "random-" + s.judge.Name() }

// Annotate implements advisor.Advisor.
func (s *States) Annotate(ctx context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	steps := make([][]int, len(trajs))
	for i := range trajs {
		n := trajs[i].Len()
		ks := s.rng.Perm(n)[:min(s.perEp, n)]
		sort.Ints(ks)
		steps[i] = ks
	}
	anns, rep, err := s.judge.AnnotateSteps(ctx, trajs, steps)
	for i := range anns {
		anns[i].Source = s.Name()
	}
	return anns, rep, err
}
