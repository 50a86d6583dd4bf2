package judge

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// noisy is a stochastic test policy: continuous actions are a fixed
// linear function of the observation plus Gaussian noise, discrete ones a
// uniform index; it draws all its noise from its seedable generator, as
// ppo.Policy does.
type noisy struct {
	sp  env.Space
	pcg *rand.PCG
	rng *rand.Rand
}

func newNoisy(sp env.Space) func() (Policy, error) {
	return func() (Policy, error) {
		pcg := rand.NewPCG(0, 0)
		return &noisy{sp: sp, pcg: pcg, rng: rand.New(pcg)}, nil
	}
}

func (p *noisy) Seed(seed uint64) { p.pcg.Seed(seed, 7) }

func (p *noisy) Act(obs []float32, n int, actions []float32) {
	if p.sp.IsDiscrete() {
		actions[0] = float32(p.rng.IntN(p.sp.N))
		return
	}
	for j := range p.sp.Dim {
		a := 0.3*math.Tanh(float64(obs[j%len(obs)])) + 0.5*p.rng.NormFloat64()
		actions[j] = float32(min(max(a, float64(p.sp.Low[j])), float64(p.sp.High[j])))
	}
}

func lookup(t *testing.T, id string) env.Spec {
	t.Helper()
	s, err := env.NewRegistry(append(tasks.Specs(), pong.Specs()...)...).Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// episode records one episode of a random policy with snapshots.
func episode(t *testing.T, spec env.Spec) traj.Trajectory {
	t.Helper()
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := eval.Baseline("random", spec.Action, 3)
	if err != nil {
		t.Fatal(err)
	}
	trajs, err := eval.Collect(v, p, 1, 1, "t", true)
	if err != nil {
		t.Fatal(err)
	}
	return trajs[0]
}

// annotate makes one annotation per chosen step of tr; suggest gives the
// suggested action from the taken one.
func annotate(tr *traj.Trajectory, steps []int, source string, suggest func(k int, taken []float32) []float32) []advisor.Annotation {
	var out []advisor.Annotation
	for _, k := range steps {
		taken := append([]float32(nil), tr.ActionAt(k)...)
		out = append(out, advisor.Annotation{Episode: tr.ID, Step: k, Reason: "test", Action: suggest(k, taken), Reward: -0.5,
			Taken: taken, Obs: tr.ObsAt(k), Snapshot: tr.Snapshots[k], Source: source, Env: tr.Env})
	}
	return out
}

// spread picks n steps spread over an episode of length l.
func spread(l, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i * (l - 1) / max(n-1, 1)
	}
	return out
}

// TestNullControl: a suggestion equal to the taken action differs by
// exactly 0 in every rollout (common random numbers), while a different
// suggestion from the same states does not (so the judge is not blind).
func TestNullControl(t *testing.T) {
	for _, id := range []string{"hopper", "ant", "pong"} {
		t.Run(id, func(t *testing.T) {
			spec := lookup(t, id)
			tr := episode(t, spec)
			steps := spread(tr.Len(), 6)
			null := annotate(&tr, steps, "null", func(_ int, taken []float32) []float32 { return append([]float32(nil), taken...) })
			other := annotate(&tr, steps, "other", func(_ int, taken []float32) []float32 {
				a := append([]float32(nil), taken...)
				if spec.Action.IsDiscrete() {
					a[0] = float32((int(a[0]) + 2) % spec.Action.N)
				} else {
					for j := range a {
						a[j] = -a[j] + 0.5
					}
					advisor.ClampAction(a, spec.Action)
				}
				return a
			})
			cfg := Config{Horizon: 40, Rollouts: 4, Follow: 1, Jobs: 2, Seed: 5}
			if id == "pong" {
				cfg.Follow = 3 // one Pong frame rarely changes a point
			}
			cfg0 := cfg
			cfg0.Follow = 1
			res, err := Judge(context.Background(), spec, newNoisy(spec.Action), null, cfg0)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Verdicts {
				for j, d := range v.Diffs {
					if d != 0 {
						t.Errorf("step %d rollout %d: difference %v, want exactly 0", v.Step, j, d)
					}
				}
				if v.Helps || v.Hurts || v.Agrees != nil {
					t.Errorf("step %d: a null annotation is judged helps=%v hurts=%v agrees=%v", v.Step, v.Helps, v.Hurts, v.Agrees)
				}
			}
			if s := res.Advisors[0]; s.MeanDiff != 0 || s.CI == nil || s.CI.Lo != 0 || s.CI.Hi != 0 || s.Helps.Count != 0 || s.Agreement.Of != 0 {
				t.Errorf("null summary %+v, want a mean of 0 with the interval [0, 0]", s)
			}
			res, err = Judge(context.Background(), spec, newNoisy(spec.Action), other, cfg)
			if err != nil {
				t.Fatal(err)
			}
			nonzero := 0
			for _, v := range res.Verdicts {
				for _, d := range v.Diffs {
					if d != 0 {
						nonzero++
					}
				}
			}
			if nonzero == 0 {
				t.Error("a different suggestion gave a difference of 0 in every rollout: the arms do not differ")
			}
		})
	}
}

// ledge is a test task where the right action is known: a point at x on a
// ledge moves by 0.1·action per step, earns 1 per step and falls
// (terminates) once x ≤ 0. Its snapshot is x.
type ledge struct{ x float64 }

func (l *ledge) Reset(_ *rand.Rand, obs []float32) { l.x = 1; obs[0] = float32(l.x) }
func (l *ledge) Step(a, obs []float32) (float64, bool, error) {
	l.x += 0.1 * float64(a[0])
	obs[0] = float32(l.x)
	return 1, l.x <= 0, nil
}
func (l *ledge) Snapshot(dst []float64) []float64 { return append(dst[:0], l.x) }
func (l *ledge) Restore(s []float64, obs []float32) error {
	l.x = s[0]
	obs[0] = float32(l.x)
	return nil
}
func (l *ledge) Close() error { return nil }

func ledgeSpec() env.Spec {
	return env.Spec{ID: "ledge", Observation: env.UnboundedBox(1), Action: env.Box([]float32{-1}, []float32{1}),
		ObsLayout: []env.Field{{Name: "x", Unit: "m"}}, MaxEpisodeSteps: 100,
		New: func(env.Options) (env.Env, error) { return &ledge{}, nil }}
}

// TestKnownRightAction: near the edge, stepping off (the taken action)
// falls at once, and stepping back (the suggestion) survives longer: the
// difference is positive with its interval above 0, and the advisor's
// negative reward of the taken action agrees; the reverse advice hurts.
func TestKnownRightAction(t *testing.T) {
	spec := ledgeSpec()
	for _, tc := range []struct {
		name             string
		suggest, taken   float32
		helps, hurts     bool
		reward           float64
		agrees           bool
		sugFall, takFall float64
	}{
		{"step back instead of off", 1, -1, true, false, -1, true, -1, 1},
		{"step off instead of back", -1, 1, false, true, -1, false, 1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := advisor.Annotation{Episode: "e", Step: 10, Action: []float32{tc.suggest}, Taken: []float32{tc.taken},
				Reward: tc.reward, Obs: []float32{0.05}, Snapshot: []float64{0.05}, Source: "hand", Env: "ledge"}
			res, err := Judge(context.Background(), spec, newNoisy(spec.Action), []advisor.Annotation{a},
				Config{Horizon: 50, Rollouts: 8, Follow: 1, Jobs: 1, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			v := res.Verdicts[0]
			if v.Helps != tc.helps || v.Hurts != tc.hurts || v.Agrees == nil || *v.Agrees != tc.agrees {
				t.Errorf("Δ %v %v: helps %v hurts %v agrees %v, want %v %v %v", v.Diff, v.CI, v.Helps, v.Hurts, v.Agrees, tc.helps, tc.hurts, tc.agrees)
			}
			for _, f := range []struct {
				arm       Arm
				want      float64
				whichStep string
			}{{v.Suggested, tc.sugFall, "suggested"}, {v.Taken, tc.takFall, "taken"}} {
				if f.want >= 0 && f.arm.FallRate != f.want {
					t.Errorf("%s arm falls in %v of rollouts, want %v", f.whichStep, f.arm.FallRate, f.want)
				}
			}
			if v.Steps != 50 {
				t.Errorf("steps %d, want the horizon 50", v.Steps)
			}
		})
	}
}

// TestResultsDoNotDependOnJobs: the same annotations judged by 1, 2 and 3
// workers give the same result, field for field.
func TestResultsDoNotDependOnJobs(t *testing.T) {
	spec := lookup(t, "hopper")
	tr := episode(t, spec)
	rng := rand.New(rand.NewPCG(9, 9))
	anns := annotate(&tr, spread(tr.Len(), 7), "random", func(_ int, taken []float32) []float32 {
		a := make([]float32, len(taken))
		for j := range a {
			a[j] = float32(2*rng.Float64() - 1)
		}
		return a
	})
	anns = append(anns, annotate(&tr, spread(tr.Len(), 3), "same", func(_ int, taken []float32) []float32 { return taken })...)
	var first *Result
	for _, jobs := range []int{1, 2, 3} {
		res, err := Judge(context.Background(), spec, newNoisy(spec.Action), anns, Config{Horizon: 30, Rollouts: 3, Follow: 2, Jobs: jobs, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = res
			continue
		}
		if !reflect.DeepEqual(res, first) {
			t.Errorf("jobs %d gave another result than jobs 1", jobs)
		}
	}
	if len(first.Advisors) != 2 || first.Advisors[0].Advisor != "random" || first.Advisors[1].Advisor != "same" {
		t.Errorf("advisors %+v, want random then same", first.Advisors)
	}
}

// TestEpisodeLimitShortensTheHorizon: an annotation 5 steps before the
// time limit runs 5 steps, not the horizon.
func TestEpisodeLimitShortensTheHorizon(t *testing.T) {
	spec := ledgeSpec()
	a := advisor.Annotation{Episode: "e", Step: 95, Action: []float32{1}, Taken: []float32{1}, Obs: []float32{5}, Snapshot: []float64{5}, Source: "hand", Env: "ledge"}
	res, err := Judge(context.Background(), spec, newNoisy(spec.Action), []advisor.Annotation{a}, Config{Horizon: 50, Rollouts: 2, Follow: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Verdicts[0]; v.Steps != 5 || v.Suggested.MeanReturn != 5 || v.EnvSteps != 2*2*5 || res.EnvSteps != v.EnvSteps {
		t.Errorf("steps %d, return %v, env steps %d (in all %d); want 5, 5 and 20", v.Steps, v.Suggested.MeanReturn, v.EnvSteps, res.EnvSteps)
	}
}

// TestBadInputsAreRefused: each problem is named with its fix.
func TestBadInputsAreRefused(t *testing.T) {
	spec := ledgeSpec()
	good := advisor.Annotation{Episode: "e", Step: 3, Action: []float32{1}, Taken: []float32{-1}, Obs: []float32{0.5}, Snapshot: []float64{0.5}, Source: "hand", Env: "ledge"}
	with := func(f func(a *advisor.Annotation)) []advisor.Annotation {
		a := good
		f(&a)
		return []advisor.Annotation{good, a}
	}
	ok := Config{Horizon: 10, Rollouts: 2, Follow: 1, Seed: 1}
	for _, tc := range []struct {
		name string
		anns []advisor.Annotation
		cfg  Config
		want string
	}{
		{"no snapshot", with(func(a *advisor.Annotation) { a.Snapshot = nil }), ok, "annotations:2: the annotation carries no simulator snapshot, so its state cannot be restored: collect the episodes with 'ultra collect --snapshots'"},
		{"no taken action", with(func(a *advisor.Annotation) { a.Taken = nil }), ok, "annotations:2: the annotation does not record the action the agent took: give --traj"},
		{"snapshot of another task", with(func(a *advisor.Annotation) { a.Snapshot = []float64{1, 2} }), ok, "annotations:2: snapshot has 2 values, ledge's has 1"},
		{"step past the limit", with(func(a *advisor.Annotation) { a.Step = 100 }), ok, "annotations:2: step 100 lies past ledge's 100-step episode limit"},
		{"another task", with(func(a *advisor.Annotation) { a.Env = "hopper" }), ok, "annotations:2: made for another task"},
		{"no annotations", nil, ok, "annotations: no annotations to judge"},
		{"bad config", []advisor.Annotation{good}, Config{Horizon: 0, Rollouts: 0, Follow: 0, Jobs: -1}, "horizon 0: want ≥ 1 step\nrollouts 0: want ≥ 1 (≥ 2 for an interval per annotation)\nfollow 0: want ≥ 1 step of the suggestion\njobs -1: want ≥ 0 (0: every core)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Judge(context.Background(), spec, newNoisy(spec.Action), tc.anns, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestShareAndTInterval checks the interval arithmetic against textbook
// values: Wilson's interval of 8/10 and the t interval of 1, 2, 3, 4.
func TestShareAndTInterval(t *testing.T) {
	s := share(8, 10)
	if math.Abs(s.CI.Lo-0.4902) > 1e-4 || math.Abs(s.CI.Hi-0.9433) > 1e-4 {
		t.Errorf("Wilson 8/10 = %+v, want [0.4902, 0.9433]", s.CI)
	}
	ci, ok := tInterval([]float64{1, 2, 3, 4})
	// mean 2.5, s = 1.2910, t(0.975, 3) = 3.1824: ± 2.0543.
	if !ok || math.Abs(ci.Lo-0.4457) > 1e-3 || math.Abs(ci.Hi-4.5543) > 1e-3 {
		t.Errorf("t interval of 1..4 = %+v, want [0.4457, 4.5543]", ci)
	}
	if _, ok := tInterval([]float64{1}); ok {
		t.Error("an interval from one value")
	}
}

// TestVerifiedKeepsWhatHelps: of advice that helps, advice that hurts and
// advice equal to the taken action, only the first is verified; an
// advisor whose advice never helps is listed with none.
func TestVerifiedKeepsWhatHelps(t *testing.T) {
	spec := ledgeSpec()
	ann := func(src string, sugg, taken float32) advisor.Annotation {
		return advisor.Annotation{Episode: "e", Step: 10, Action: []float32{sugg}, Taken: []float32{taken}, Reward: -1,
			Obs: []float32{0.05}, Snapshot: []float64{0.05}, Source: src, Env: "ledge"}
	}
	anns := []advisor.Annotation{ann("a", 1, -1), ann("a", -1, 1), ann("a", 1, 1), ann("b", -1, 1)}
	res, err := Judge(context.Background(), spec, newNoisy(spec.Action), anns, Config{Horizon: 50, Rollouts: 8, Follow: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	v, err := res.Verified(anns)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 2 || len(v["a"]) != 1 || v["a"][0].Action[0] != 1 || v["a"][0].Taken[0] != -1 || len(v["b"]) != 0 {
		t.Errorf("verified %+v, want a's first annotation only, and b with none", v)
	}
	if _, err := res.Verified(anns[1:]); err == nil {
		t.Error("annotations that are not the judged ones were accepted")
	}
	if got := VerifiedFile("random-scripted"); got != "verified-random-scripted.jsonl" {
		t.Errorf("VerifiedFile = %q", got)
	}
	if got := VerifiedFile("../x y"); got != "verified-.._x_y.jsonl" {
		t.Errorf("VerifiedFile = %q, want the path separator and space replaced", got)
	}
}

// TestSeedsFollowTheState: an annotation's verdict does not depend on
// which other annotations are judged with it or where it stands in the
// input, and two advisors' annotations of the same state share the taken
// arm.
func TestSeedsFollowTheState(t *testing.T) {
	spec := lookup(t, "hopper")
	tr := episode(t, spec)
	steps := spread(tr.Len(), 4)
	rng := rand.New(rand.NewPCG(3, 3))
	randomAction := func(_ int, taken []float32) []float32 {
		a := make([]float32, len(taken))
		for j := range a {
			a[j] = float32(2*rng.Float64() - 1)
		}
		return a
	}
	a := annotate(&tr, steps, "a", randomAction)
	b := annotate(&tr, steps, "b", randomAction)
	cfg := Config{Horizon: 25, Rollouts: 3, Follow: 1, Jobs: 1, Seed: 4}
	alone, err := Judge(context.Background(), spec, newNoisy(spec.Action), a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	both, err := Judge(context.Background(), spec, newNoisy(spec.Action), append(append([]advisor.Annotation(nil), b...), a...), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range alone.Verdicts {
		w := both.Verdicts[len(b)+i]
		v.Index, w.Index = 0, 0
		if !reflect.DeepEqual(v, w) {
			t.Errorf("step %d: judged alone %+v, after b's %+v", v.Step, v, w)
		}
		if u := both.Verdicts[i]; u.Taken != w.Taken {
			t.Errorf("step %d: the taken arm differs between advisors: %+v vs %+v", v.Step, u.Taken, w.Taken)
		}
	}
}
