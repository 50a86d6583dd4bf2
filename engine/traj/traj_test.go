package traj

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

func TestValidate(t *testing.T) {
	spec := env.Spec{ID: "x", Observation: env.UnboundedBox(2), Action: env.Box([]float32{-1}, []float32{1})}
	good := Trajectory{ID: "e0", Env: "x", ObsDim: 2, ActDim: 1, Obs: []float32{1, 2, 3, 4}, Actions: []float32{0, 1}, Rewards: []float32{1, 2}}
	if err := good.Validate(spec); err != nil {
		t.Fatalf("valid trajectory: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Trajectory)
		want string
	}{
		{"env", func(x *Trajectory) { x.Env = "y" }, `from env "y"`},
		{"dims", func(x *Trajectory) { x.ObsDim = 3 }, "obs/action dims 3/1"},
		{"obs", func(x *Trajectory) { x.Obs = x.Obs[:3] }, "2 steps but 3 obs"},
		{"snapshots", func(x *Trajectory) { x.Snapshots = [][]float64{{1}} }, "1 snapshots"},
		{"bonus", func(x *Trajectory) { x.Bonus = []float32{0} }, "1 bonus"},
		// Found by FuzzTrajectoriesJSONL: snapshots were not checked, so the
		// scripted advisor copied a 1e300 state into an annotation.
		{"snapshot beyond MuJoCo's limit", func(x *Trajectory) { x.Snapshots = [][]float64{{1, 2}, {1, 1e300}} }, "step 1: snapshot value not finite"},
		{"snapshots of two lengths", func(x *Trajectory) { x.Snapshots = [][]float64{{1, 2}, {1}} }, "snapshot 1 has 1 values, snapshot 0 has 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := good
			tc.edit(&x)
			if err := x.Validate(spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	in := []Trajectory{
		{ID: "a", Env: "x", ObsDim: 1, ActDim: 1, Obs: []float32{0.5}, Actions: []float32{1}, Rewards: []float32{2}, Return: 2, Terminated: true,
			Snapshots: [][]float64{{1, 2}}},
		{ID: "b", Env: "x", ObsDim: 1, ActDim: 1, Obs: []float32{}, Actions: []float32{}, Rewards: []float32{}, Instance: 3, Step: 9},
	}
	path := filepath.Join(t.TempDir(), "t.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONL(f, in); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := ReadJSONL[Trajectory](path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%+v\n%+v", in, out)
	}
	if err := os.WriteFile(path, []byte("{\"id\": \"a\"}\n{bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJSONL[Trajectory](path); err == nil || !strings.Contains(err.Error(), "t.jsonl:2:") {
		t.Errorf("a bad line: %v, want the line named", err)
	}
}
