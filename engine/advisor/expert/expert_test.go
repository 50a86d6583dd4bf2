package expert

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/eval/evaltest"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
)

// checkpoint is a freshly initialised policy of spec (what the expert is
// does not matter to the mechanics tested here), with log-std logStd.
func checkpoint(t *testing.T, spec env.Spec, logStd float32) *ppo.Checkpoint {
	t.Helper()
	c := ppo.DefaultsFor(spec)
	c.NumSteps, c.NumMinibatches = 64, 1
	c.TotalSteps = c.NumSteps * c.NumEnvs
	tr, err := ppo.New(c, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, p := range tr.Backend().Params() {
		if p.Name == "policy.log_std" {
			for j := range p.Data {
				p.Data[j] = logStd
			}
		}
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// episodes collects n episodes of spec under policy p, with snapshots.
func episodes(t *testing.T, spec env.Spec, p eval.Policy, n int) []traj.Trajectory {
	t.Helper()
	if spec.ID == "hopper" {
		return evaltest.Collect(t, "hopper", p, n, true)
	}
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	trajs, err := eval.Collect(v, p, n, 7, "e", true)
	if err != nil {
		t.Fatal(err)
	}
	return trajs
}

// TestExpertAnnotations: at most MaxCritical steps per episode, all in the
// window before the fall; the suggestion is the expert's clipped mean, the
// taken action the executed one, its reward 2·exp(−gap)−1 with the gap in
// the expert's standard deviations, the suggestion's reward 1; the chosen
// steps are the window's largest departures.
func TestExpertAnnotations(t *testing.T) {
	spec := evaltest.Spec(t, "hopper")
	ck := checkpoint(t, spec, -0.5)
	trajs := episodes(t, spec, eval.Random{Space: spec.Action, Rng: rand.New(rand.NewPCG(3, 3))}, 3)
	a, err := New(spec, ck, Config{MaxCritical: 4, Window: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	anns, rep, err := a.Annotate(t.Context(), trajs)
	if err != nil || rep.Annotations != len(anns) {
		t.Fatalf("%d annotations, report %+v, %v", len(anns), rep, err)
	}
	pol, _ := ppo.NewPolicy(ck, spec, true, 0)
	defer pol.Close()
	per := map[string]int{}
	for _, ann := range anns {
		per[ann.Episode]++
		var tr *traj.Trajectory
		for i := range trajs {
			if trajs[i].ID == ann.Episode {
				tr = &trajs[i]
			}
		}
		if !tr.Terminated || ann.Step < tr.Len()-20 {
			t.Fatalf("step %d of a %d-step episode (terminated %v) is outside the window of 20 before the fall", ann.Step, tr.Len(), tr.Terminated)
		}
		mean := make([]float32, 3)
		logStd, err := pol.Dist(tr.ObsAt(ann.Step), 1, mean)
		if err != nil {
			t.Fatal(err)
		}
		var gap float64
		for j := range mean {
			m := min(max(mean[j], -1), 1)
			// One row's forward may round differently from the batch's.
			if math.Abs(float64(ann.Action[j]-m)) > 1e-6 || ann.Taken[j] != tr.ActionAt(ann.Step)[j] {
				t.Fatalf("suggestion %v (expert mean %v), taken %v (executed %v)", ann.Action, mean, ann.Taken, tr.ActionAt(ann.Step))
			}
			z := float64(ann.Taken[j]-ann.Action[j]) / math.Exp(float64(logStd[j]))
			gap += 0.5 * z * z
		}
		if want := 2*math.Exp(-gap) - 1; math.Abs(ann.Reward-want) > 1e-6 || ann.SuggestedReward == nil || *ann.SuggestedReward != 1 {
			t.Errorf("reward %v (want %v), suggested reward %v", ann.Reward, want, ann.SuggestedReward)
		}
		if ann.Snapshot == nil || ann.Source != Name || !strings.Contains(ann.Reason, "before the fall") {
			t.Errorf("annotation %+v", ann)
		}
	}
	for id, n := range per {
		if n > 4 {
			t.Errorf("episode %s has %d critical states, want at most 4", id, n)
		}
	}
	if len(per) != len(trajs) {
		t.Errorf("%d of %d episodes annotated", len(per), len(trajs))
	}
	// The chosen steps are the largest departures of the window.
	js, _ := a.judge(&trajs[0])
	from, to := a.window(&trajs[0])
	var chosen []float64
	for _, ann := range anns {
		if ann.Episode == trajs[0].ID {
			chosen = append(chosen, js[ann.Step].gap)
		}
	}
	for k := from; k < to; k++ {
		larger := 0
		for _, g := range chosen {
			if js[k].gap > g {
				larger++
			}
		}
		if larger == len(chosen) && len(chosen) > 0 {
			inChosen := false
			for _, g := range chosen {
				inChosen = inChosen || g == js[k].gap
			}
			if !inChosen {
				t.Errorf("step %d departs by %v, more than every chosen step %v", k, js[k].gap, chosen)
			}
		}
	}
}

// TestExpertAgreesWithItself: an agent acting as the expert would (its
// deterministic policy) departs by nothing, so every reward is 1; and an
// episode without a fall is searched in its lowest-return stretch.
func TestExpertAgreesWithItself(t *testing.T) {
	spec := evaltest.Spec(t, "hopper")
	ck := checkpoint(t, spec, 0)
	pol, _ := ppo.NewPolicy(ck, spec, true, 0)
	defer pol.Close()
	trajs := episodes(t, spec, pol, 2)
	a, err := New(spec, ck, Config{MaxCritical: 2, Window: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	anns, _, err := a.Annotate(t.Context(), trajs)
	if err != nil || len(anns) == 0 {
		t.Fatalf("%d annotations, %v", len(anns), err)
	}
	for _, ann := range anns {
		if math.Abs(ann.Reward-1) > 1e-6 {
			t.Errorf("the expert's own action earned %v, want 1", ann.Reward)
		}
	}
	// A truncated episode: the window is its lowest-return stretch.
	tr := trajs[0]
	tr.Terminated = false
	for k := range tr.Rewards {
		tr.Rewards[k] = 1
	}
	tr.Rewards[3], tr.Rewards[4] = -5, -5
	from, to := a.window(&tr)
	if from > 3 || to < 5 || to-from != 5 {
		t.Errorf("window [%d, %d), want the 5 steps around the low rewards at 3 and 4", from, to)
	}
}

// TestExpertDiscreteAndErrors: on Pong the suggestion is the expert's most
// likely index and the gap the log-probability gap; AnnotateSteps judges
// the given steps; an expert of another task is refused.
func TestExpertDiscreteAndErrors(t *testing.T) {
	reg := env.NewRegistry(pong.Specs()...)
	spec, err := reg.Lookup("pong")
	if err != nil {
		t.Fatal(err)
	}
	ck := checkpoint(t, spec, 0)
	trajs := episodes(t, spec, eval.Random{Space: spec.Action, Rng: rand.New(rand.NewPCG(1, 1))}, 1)
	a, err := New(spec, ck, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	anns, _, err := a.AnnotateSteps(t.Context(), trajs, [][]int{{0, 5, 1 << 30}})
	if err != nil || len(anns) != 2 {
		t.Fatalf("%d annotations of 2 valid steps, %v", len(anns), err)
	}
	for _, ann := range anns {
		x := ann.Action[0]
		if x != float32(int(x)) || x < 0 || int(x) >= spec.Action.N || ann.Reward < -1 || ann.Reward > 1 {
			t.Errorf("annotation %+v", ann)
		}
		if ann.Taken[0] == x && math.Abs(ann.Reward-1) > 1e-9 {
			t.Errorf("the expert's own index earned %v", ann.Reward)
		}
	}
	hopper := evaltest.Spec(t, "hopper")
	if _, err := New(hopper, ck, DefaultConfig()); err == nil || !strings.Contains(err.Error(), "same task") {
		t.Errorf("an expert of pong for hopper: %v", err)
	}
	if _, err := New(spec, ck, Config{MaxCritical: 0, Window: 1}); err == nil {
		t.Error("MaxCritical 0 accepted")
	}
}
