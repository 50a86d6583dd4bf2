package ultra

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// Issue 14's fuzzing of trajectory and annotation files: the bytes of a
// JSONL file go through the reader and then through everything that reads
// its contents. Accepted inputs must never panic and never yield a NaN
// bonus, an out-of-range action or a NaN radius.

func fuzzSpec(f *testing.F) env.Spec {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		f.Fatal(err)
	}
	return spec
}

// seedTrajectories records two short real hopper episodes, with snapshots.
func seedTrajectories(f *testing.F, spec env.Spec) []traj.Trajectory {
	v, err := env.New(spec, env.Config{NumEnvs: 2, Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()
	obs, err := v.Reset(3)
	if err != nil {
		f.Fatal(err)
	}
	out := make([]traj.Trajectory, 2)
	act := make([]float32, 2*spec.Action.Dim)
	for s := 0; s < 12; s++ {
		for i := range out {
			t := &out[i]
			t.ID, t.Env, t.ObsDim, t.ActDim = "s3-ep"+string(rune('0'+i)), spec.ID, spec.Observation.Dim, spec.Action.Dim
			t.Obs = append(t.Obs, obs[i*spec.Observation.Dim:(i+1)*spec.Observation.Dim]...)
			t.Snapshots = append(t.Snapshots, v.Snapshot(i, nil))
		}
		for j := range act {
			act[j] = float32(j%3)*0.5 - 0.5
		}
		res, err := v.Step(act)
		if err != nil {
			f.Fatal(err)
		}
		for i := range out {
			t := &out[i]
			t.Actions = append(t.Actions, act[i*spec.Action.Dim:(i+1)*spec.Action.Dim]...)
			t.Rewards = append(t.Rewards, res.Rewards[i])
			t.Return += float64(res.Rewards[i])
		}
		obs = res.Obs
	}
	return out
}

func jsonl[T any](f *testing.F, items []T) []byte {
	var b bytes.Buffer
	if err := traj.WriteJSONL(&b, items); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

func FuzzTrajectoriesJSONL(f *testing.F) {
	spec := fuzzSpec(f)
	trajs := seedTrajectories(f, spec)
	f.Add(jsonl(f, trajs))
	f.Add(jsonl(f, trajs[:1]))
	f.Add([]byte(`{"id":"x","env":"hopper","obs_dim":11,"act_dim":3,"obs":[],"actions":[],"rewards":[]}`))
	adv, err := scripted.New(spec, scripted.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		trajs, err := traj.DecodeJSONL[traj.Trajectory](bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		var valid []traj.Trajectory
		for i := range trajs {
			if trajs[i].Validate(spec) == nil {
				valid = append(valid, trajs[i])
			}
		}
		for i := range valid {
			if valid[i].Len() == 0 {
				continue
			}
			s, err := interpret.Summarize(spec, &valid[i], interpret.Budget{MaxTokens: 300})
			if err != nil {
				t.Fatalf("Summarize of a valid trajectory: %v", err)
			}
			if s.Tokens > 300 && len(s.Steps) > 0 {
				t.Fatalf("summary of %d tokens over a 300-token budget", s.Tokens)
			}
		}
		tb, err := NewTable(make([]float64, spec.Observation.Dim), ones(spec.Observation.Dim), 1)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := SuggestRadius(valid, tb, 0.5, 1); err == nil && !(r > 0) || math.IsInf(r, 0) {
			t.Fatalf("radius %v", r)
		}
		anns, _, _ := adv.Annotate(context.Background(), valid)
		check := advisor.Checker{Spec: spec}
		for i := range anns {
			if why := check.Check(&anns[i]); why != "" {
				t.Fatalf("scripted advisor made an unusable annotation: %s", why)
			}
		}
	})
}

func FuzzAnnotationsJSONL(f *testing.F) {
	spec := fuzzSpec(f)
	trajs := seedTrajectories(f, spec)
	adv, err := scripted.New(spec, scripted.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	anns, _, err := adv.Annotate(context.Background(), trajs)
	if err != nil || len(anns) == 0 {
		f.Fatalf("scripted annotations: %d, %v", len(anns), err)
	}
	advisor.Stamp(anns, spec.ID, "fp")
	f.Add(jsonl(f, anns))
	f.Add(jsonl(f, anns[:1]))
	f.Add([]byte(`{"episode":"e","step":3,"reason":"r","action":[1,0,-1],"reward":1e308,"obs":[0,0,0,0,0,0,0,0,0,0,0]}`))
	od := spec.Observation.Dim
	rms := ppo.RMSState{Mean: make([]float64, od), Var: ones(od), Count: 1}
	f.Fuzz(func(t *testing.T, b []byte) {
		anns, err := traj.DecodeJSONL[advisor.Annotation](bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		// Provenance (issue 27): an accepted file names this task and these
		// episodes on every line.
		if advisor.CheckProvenance(anns, "fuzz", spec.ID, "fp", "") == nil {
			for i, a := range anns {
				if a.Env != spec.ID || a.Trajectories != "fp" {
					t.Fatalf("line %d accepted with task %q, episodes %q", i+1, a.Env, a.Trajectories)
				}
			}
		}
		for _, v := range []Variant{UltraRA, RICE} {
			s, err := NewSetup(rms, spec, Options{Variant: v, Settings: with(Settings{Alpha: 0.1, Radius: 0.5, OverrideProb: 1, ResetProb: 1}), Seed: 1, Annotations: anns})
			if err != nil {
				continue
			}
			for _, e := range s.Table.Entries() {
				obs := make([]float32, od)
				for j := range obs {
					obs[j] = e.Key[j] // mean 0, std ≈ 1: the key is the observation
				}
				if s.Modulator != nil {
					a := make([]float32, spec.Action.Dim)
					_, bonus := s.Modulator.Modulate(0, obs, a)
					if math.IsNaN(bonus) || math.IsInf(bonus, 0) {
						t.Fatalf("bonus %v", bonus)
					}
					for j, x := range a {
						if x < spec.Action.Low[j] || x > spec.Action.High[j] || math.IsNaN(float64(x)) {
							t.Fatalf("overridden action %v outside the space", a)
						}
					}
				}
			}
		}
	})
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
