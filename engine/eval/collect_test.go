package eval_test

import (
	"math"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/eval/evaltest"
)

func TestCollectMatchesEval(t *testing.T) {
	trajs := evaltest.Collect(t, "hopper", eval.Zero{}, 3, true)
	v, _ := env.New(evaltest.Spec(t, "hopper"), env.Config{NumEnvs: 2})
	defer v.Close()
	eps, _ := eval.Run(v, eval.Zero{}, 3, 1)
	for k, tr := range trajs {
		if err := tr.Validate(evaltest.Spec(t, "hopper")); err != nil {
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
