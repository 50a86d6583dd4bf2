package advisor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
)

// Random is the paper's identification ablation: critical steps chosen
// uniformly at random, uniform in-space actions and uniform rewards in
// [-1, 1]. Seeded, so a run is reproducible.
type Random struct {
	spec  env.Spec
	perEp int
	rng   *rand.Rand
}

// NewRandom marks perEpisode random steps of each episode.
func NewRandom(spec env.Spec, perEpisode int, seed uint64) (*Random, error) {
	if perEpisode < 1 {
		return nil, fmt.Errorf("random advisor: steps per episode must be ≥ 1, got %d", perEpisode)
	}
	return &Random{spec: spec, perEp: perEpisode, rng: rand.New(rand.NewPCG(seed, 0xad71))}, nil
}

// Name implements Advisor.
func (r *Random) Name() string { return "random" }

// Annotate implements Advisor.
func (r *Random) Annotate(ctx context.Context, trajs []Trajectory) ([]Annotation, Report, error) {
	return annotateEach(ctx, r.spec, trajs, r.annotate)
}

func (r *Random) annotate(t *Trajectory) []Annotation {
	var out []Annotation
	n := t.Len()
	k := min(r.perEp, n)
	steps := r.rng.Perm(n)[:k]
	sort.Ints(steps)
	for _, s := range steps {
		act := make([]float32, t.ActDim)
		eval.Random{Space: r.spec.Action, Rng: r.rng}.Act(nil, 1, act)
		a := Annotation{Episode: t.ID, Step: s, Reason: "random (ablation)", Action: act,
			Reward: 2*r.rng.Float64() - 1, Obs: append([]float32(nil), t.ObsAt(s)...), Source: "random"}
		if t.Snapshots != nil {
			a.Snapshot = t.Snapshots[s]
		}
		out = append(out, a)
	}
	return out
}
