package random

import (
	"context"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
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
