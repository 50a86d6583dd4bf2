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

// Advisor is the paper's identification ablation: critical steps chosen
// uniformly at random, uniform in-space actions and uniform rewards in
// [-1, 1]. Seeded, so a run is reproducible.
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
