package llm

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/interpret"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/traj"
)

// TestPongPrompt: for Pong (a Discrete(6) action space) the prompts carry
// the game's rules and the integer action schema, and the answer's actions
// are kept as action indices: integers as given, fractions rounded,
// values beyond the space clamped, both counted.
func TestPongPrompt(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig())
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	noop, err := eval.Collect(v, eval.Zero{}, 1, 1, "noop-", true)
	if err != nil {
		t.Fatal(err)
	}
	rnd, err := eval.Collect(v, eval.Random{Space: spec.Action, Rng: rand.New(rand.NewPCG(1, 1))}, 1, 2, "rand-", true)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	trajs := append(noop, rnd...)

	// One annotation per case and episode, at the episode's shown steps.
	cases := []struct {
		action  any // as the model writes it
		want    float32
		clamped bool
	}{
		{[]any{2}, pong.ActRight, false},
		{[]any{2.7}, pong.ActLeft, true},
		{[]any{9}, pong.ActLeftFire, true},
		{[]any{-1}, pong.ActNoop, true},
		{4, pong.ActRightFire, false}, // a bare number for a one-value space
	}
	var cfg Config
	shownSteps := func(tr *traj.Trajectory) []int {
		s, err := interpret.Summarize(spec, tr, interpret.Budget{MaxTokens: cfg.SummaryTokens})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Steps) < len(cases) {
			t.Fatalf("%s shows %v", tr.ID, s.Steps)
		}
		return s.Steps
	}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, q request) {
		var items []map[string]any
		for i := range trajs {
			steps := shownSteps(&trajs[i])
			for j, c := range cases {
				items = append(items, map[string]any{"episode": trajs[i].ID, "step": steps[j], "reason": "move toward the ball", "action": c.action, "reward": -0.5})
			}
		}
		b, _ := json.Marshal(map[string]any{"annotations": items})
		reply(w, string(b))
	})
	cfg = testConfig(srv.URL)
	t.Setenv("ULTRA_LLM_API_KEY", testKey)
	a, err := New(cfg, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	anns, rep, err := annotate(t, a, trajs)
	if err != nil {
		t.Fatal(err)
	}
	clamped := 0
	for _, c := range cases {
		if c.clamped {
			clamped++
		}
	}
	if len(anns) != len(cases)*len(trajs) || rep.Failed != 0 || rep.Rejected["action_clamped"] != clamped*len(trajs) || len(rep.Rejected) != 1 {
		t.Fatalf("%d annotations, report %+v", len(anns), rep)
	}
	for _, an := range anns {
		tr := &trajs[0]
		if an.Episode == trajs[1].ID {
			tr = &trajs[1]
		}
		j := slices.Index(shownSteps(tr), an.Step)
		if j < 0 || j >= len(cases) {
			t.Fatalf("annotation at step %d", an.Step)
		}
		if !slices.Equal(an.Action, []float32{cases[j].want}) {
			t.Errorf("case %v: action %v, want [%v]", cases[j].action, an.Action, cases[j].want)
		}
		if !slices.Equal(an.Obs, tr.ObsAt(an.Step)) || !slices.Equal(an.Snapshot, tr.Snapshots[an.Step]) {
			t.Errorf("step %d: state not copied from the trajectory", an.Step)
		}
	}

	q := srv.requests()[0]
	sys, user := q.req.Messages[0].Content, q.req.Messages[1].Content
	for _, w := range []string{"Discrete(6) with 1 value(s) per step", "An action is one integer in [0, 5], written as a one-element array",
		"RIGHT moves your paddle UP and LEFT moves it DOWN", "- 2 RIGHT: paddle up;", "either side reaches 21 points"} {
		if !strings.Contains(sys, w) {
			t.Errorf("system prompt lacks %q", w)
		}
	}
	for _, w := range []string{`"action": [<integer>]`, "exactly 1 number(s), an integer in [0, 5]", "points won 0, lost 21",
		"toward your paddle; it reaches your paddle line in", "action NOOP (paddle stays)", "where a point was scored (reward ±1)"} {
		if !strings.Contains(user, w) {
			t.Errorf("user prompt lacks %q", w)
		}
	}
	if strings.Contains(sys+user, "action[0] in") {
		t.Error("the prompt gives box bounds for a discrete space")
	}
}
