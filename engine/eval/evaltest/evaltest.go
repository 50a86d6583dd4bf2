// Package evaltest holds helpers for tests that need MuJoCo tasks and
// recorded episodes.
package evaltest

import (
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// Spec returns the MuJoCo task id's spec, failing the test if it is unknown.
func Spec(t testing.TB, id string) env.Spec {
	t.Helper()
	s, err := env.NewRegistry(tasks.Specs()...).Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Collect records episodes of p on two instances of task id (seed 1, ids
// "tep…"), with simulator snapshots when snaps is set.
func Collect(t testing.TB, id string, p eval.Policy, episodes int, snaps bool) []traj.Trajectory {
	t.Helper()
	v, err := env.New(Spec(t, id), env.Config{NumEnvs: 2})
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
