package eval

import (
	"math"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
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

func collect(t *testing.T, id string, p Policy, episodes int, snaps bool) []traj.Trajectory {
	t.Helper()
	v, err := env.New(spec(t, id), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	trajs, err := Collect(v, p, episodes, 1, "t", snaps)
	if err != nil {
		t.Fatal(err)
	}
	return trajs
}

func TestCollectMatchesEval(t *testing.T) {
	trajs := collect(t, "hopper", Zero{}, 3, true)
	v, _ := env.New(spec(t, "hopper"), env.Config{NumEnvs: 2})
	defer v.Close()
	eps, _ := Run(v, Zero{}, 3, 1)
	for k, tr := range trajs {
		if err := tr.Validate(spec(t, "hopper")); err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, r := range tr.Rewards {
			sum += float64(r)
		}
		if tr.Len() != eps[k].Length || math.Abs(sum-eps[k].Return) > 1e-3 || !tr.Terminated {
			t.Fatalf("trajectory %d: len %d return %v (Σ %v), eval %+v", k, tr.Len(), tr.Return, sum, eps[k])
		}
		if tr.ID != []string{"tep000000", "tep000001", "tep000002"}[k] || len(tr.Snapshots) != tr.Len() {
			t.Fatalf("id %q snapshots %d", tr.ID, len(tr.Snapshots))
		}
	}
}
