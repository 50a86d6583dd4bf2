package random

import (
	"context"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func spec(t *testing.T, id string) env.Spec {
	t.Helper()
	s, err := env.NewRegistry(tasks.Specs()...).Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func collect(t *testing.T, id string, p eval.Policy, episodes int, snaps bool) []traj.Trajectory {
	t.Helper()
	v, err := env.New(spec(t, id), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	trajs, err := eval.Collect(v, p, episodes, 1, "t", snaps)
	if err != nil {
		t.Fatal(err)
	}
	return trajs
}

func TestRandomIsReproducibleAndInSpace(t *testing.T) {
	sp := spec(t, "hopper")
	trajs := collect(t, "hopper", eval.Zero{}, 2, false)
	run := func() []advisor.Annotation {
		r, _ := New(sp, 4, 7)
		a, _, _ := r.Annotate(context.Background(), trajs)
		return a
	}
	a, b := run(), run()
	if len(a) != 8 || len(b) != 8 {
		t.Fatalf("%d and %d annotations", len(a), len(b))
	}
	for i := range a {
		if a[i].Step != b[i].Step || a[i].Reward != b[i].Reward || a[i].Action[0] != b[i].Action[0] {
			t.Fatal("same seed, different annotations")
		}
		if a[i].Reward < -1 || a[i].Reward > 1 {
			t.Errorf("reward %v", a[i].Reward)
		}
	}
}
