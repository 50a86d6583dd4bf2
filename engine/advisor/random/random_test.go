package random

import (
	"context"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/advisor/scripted"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/eval/evaltest"
)

func TestRandomIsReproducibleAndInSpace(t *testing.T) {
	sp := evaltest.Spec(t, "hopper")
	trajs := evaltest.Collect(t, "hopper", eval.Zero{}, 2, false)
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

// TestStatesAreJudgedByTheAdvisor: the identification ablation draws the
// steps at random and takes the suggestion and rewards from the judge (the
// scripted expert here) at those steps, not random ones (issue 15).
func TestStatesAreJudgedByTheAdvisor(t *testing.T) {
	sp := evaltest.Spec(t, "hopper")
	trajs := evaltest.Collect(t, "hopper", eval.Zero{}, 3, true)
	judge, err := scripted.New(sp, scripted.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStates(judge, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	anns, _, err := st.Annotate(context.Background(), trajs)
	if err != nil || len(anns) != 12 || st.Name() != "random-scripted" {
		t.Fatalf("%d annotations (want 4 per episode), %v, name %s", len(anns), err, st.Name())
	}
	// The judge's own annotations of the same steps are the same.
	steps := make([][]int, len(trajs))
	idx := map[string]int{}
	for i := range trajs {
		idx[trajs[i].ID] = i
	}
	for _, a := range anns {
		steps[idx[a.Episode]] = append(steps[idx[a.Episode]], a.Step)
	}
	direct, _, _ := judge.AnnotateSteps(context.Background(), trajs, steps)
	for i, a := range anns {
		d := direct[i]
		if a.Step != d.Step || a.Reward != d.Reward || a.Action[0] != d.Action[0] || a.Source != "random-scripted" {
			t.Fatalf("annotation %d: %+v, the judge says %+v", i, a, d)
		}
	}
	// Different seeds pick different steps.
	other, _ := NewStates(judge, 4, 8)
	b, _, _ := other.Annotate(context.Background(), trajs)
	same := true
	for i := range b {
		same = same && b[i].Step == anns[i].Step
	}
	if same {
		t.Error("seeds 7 and 8 chose the same steps")
	}
}
