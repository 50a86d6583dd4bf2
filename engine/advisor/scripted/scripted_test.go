package scripted

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/eval/evaltest"
)

func TestScriptedMarksStepsBeforeTheFall(t *testing.T) {
	sp := evaltest.Spec(t, "hopper")
	trajs := evaltest.Collect(t, "hopper", eval.Zero{}, 2, false)
	s, err := New(sp, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	anns, rep, err := s.Annotate(context.Background(), trajs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Annotations != len(anns) || len(anns) == 0 {
		t.Fatalf("report %+v, %d annotations", rep, len(anns))
	}
	perEp := map[string]int{}
	for _, a := range anns {
		tr := trajs[0]
		if a.Episode == trajs[1].ID {
			tr = trajs[1]
		}
		perEp[a.Episode]++
		if a.Step < tr.Len()-15 {
			t.Errorf("%s step %d of %d: critical step far from the fall", a.Episode, a.Step, tr.Len())
		}
		if a.Reward < -1 || a.Reward > 1 || len(a.Action) != 3 || a.Source != "scripted" {
			t.Errorf("annotation %+v", a)
		}
		for j, v := range a.Action {
			if v < sp.Action.Low[j] || v > sp.Action.High[j] {
				t.Errorf("action out of space: %v", a.Action)
			}
		}
		if a.Step == tr.Len()-1 && a.Reward != -1 {
			t.Errorf("terminating step reward %v, want -1", a.Reward)
		}
		for j := range a.Obs {
			if a.Obs[j] != tr.ObsAt(a.Step)[j] {
				t.Fatal("annotation obs is not the trajectory's state")
			}
		}
	}
	for id, n := range perEp {
		if n > DefaultConfig().MaxCritical {
			t.Errorf("%s: %d critical steps", id, n)
		}
	}
	// The hopper falls forward or backward: the suggested thigh torque must
	// oppose the torso's pitch at the flagged steps that lean past 0.1 rad.
	for _, a := range anns {
		if p := a.Obs[1]; math.Abs(float64(p)) > 0.1 && (p > 0) == (a.Action[0] > 0) {
			t.Errorf("step %d: pitch %v but thigh correction %v", a.Step, p, a.Action[0])
		}
	}
}

func TestScriptedEveryTask(t *testing.T) {
	for _, id := range []string{"walker2d", "halfcheetah", "ant"} {
		sp := evaltest.Spec(t, id)
		r := eval.Random{Space: sp.Action, Rng: rand.New(rand.NewPCG(2, 2))}
		trajs := evaltest.Collect(t, id, r, 2, false)
		for i := range trajs { // keep halfcheetah quick
			if trajs[i].Len() > 200 {
				trajs[i].Obs = trajs[i].Obs[:200*trajs[i].ObsDim]
				trajs[i].Actions = trajs[i].Actions[:200*trajs[i].ActDim]
				trajs[i].Rewards = trajs[i].Rewards[:200]
			}
		}
		s, err := New(sp, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		anns, _, err := s.Annotate(context.Background(), trajs)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range anns {
			if len(a.Action) != sp.Action.Dim || math.IsNaN(a.Reward) {
				t.Errorf("%s: %+v", id, a)
			}
		}
	}
	if _, err := New(env.Spec{ID: "pong"}, DefaultConfig()); err == nil {
		t.Error("unknown task accepted")
	}
}

// TestScriptedScoresTheSuggestion: annotations record the action taken,
// and with snapshots the suggested action is scored by replaying the step
// from the snapshot (issue 15). Replaying the taken action the same way
// reproduces the recorded next state, so the two scores are comparable.
func TestScriptedScoresTheSuggestion(t *testing.T) {
	sp := evaltest.Spec(t, "hopper")
	trajs := evaltest.Collect(t, "hopper", eval.Random{Space: sp.Action, Rng: rand.New(rand.NewPCG(4, 4))}, 3, true)
	s, err := New(sp, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	anns, _, err := s.Annotate(context.Background(), trajs)
	if err != nil || len(anns) == 0 {
		t.Fatalf("%d annotations, %v", len(anns), err)
	}
	byID := map[string]int{}
	for i := range trajs {
		byID[trajs[i].ID] = i
	}
	sim := s.simulator(&trajs[0])
	defer sim.close()
	for _, a := range anns {
		tr := &trajs[byID[a.Episode]]
		if len(a.Taken) != 3 || a.Taken[0] != tr.ActionAt(a.Step)[0] {
			t.Fatalf("step %d: taken %v, the trajectory took %v", a.Step, a.Taken, tr.ActionAt(a.Step))
		}
		if a.SuggestedReward == nil || *a.SuggestedReward < -1 || *a.SuggestedReward > 1 {
			t.Fatalf("step %d: suggested reward %v", a.Step, a.SuggestedReward)
		}
		if a.Step+1 < tr.Len() {
			next, term, ok := sim.step(tr.Snapshots[a.Step], tr.ActionAt(a.Step))
			if !ok || term {
				t.Fatalf("step %d: replay ok %v, terminated %v", a.Step, ok, term)
			}
			for j, v := range tr.ObsAt(a.Step + 1) {
				if next[j] != v {
					t.Fatalf("step %d: replaying the taken action gives obs[%d] %v, the trajectory has %v", a.Step, j, next[j], v)
				}
			}
		}
	}
	// Without snapshots there is nothing to replay: no suggested reward.
	plain := evaltest.Collect(t, "hopper", eval.Zero{}, 1, false)
	anns, _, _ = s.Annotate(context.Background(), plain)
	for _, a := range anns {
		if a.SuggestedReward != nil || a.Taken == nil {
			t.Fatalf("without snapshots: %+v", a)
		}
	}
}
