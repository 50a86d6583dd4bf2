package interpret

import (
	"slices"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/traj"
)

func pongSpec() env.Spec { return pong.Spec(pong.DefaultConfig()) }

// pongObs is the features observation of a state given in screen pixels.
func pongObs(s pong.State) []float32 {
	obs := make([]float32, pong.NumFeatures)
	s.Features(obs, pong.DefaultConfig())
	return obs
}

func TestDescribePong(t *testing.T) {
	ball := func(x, y, vx, vy, agent float64) pong.State {
		return pong.State{BallInPlay: true, BallX: x, BallY: y, BallVX: vx, BallVY: vy, AgentY: agent, OpponentY: 114}
	}
	for _, tc := range []struct {
		name     string
		s        pong.State
		want     []string
		wantNot  []string
		fullLine string
	}{
		// Centre column 80 to the face line (centre column 139) at 2
		// px/frame: 29.5 frames = 7.4 steps; row 178 + 1.5 × 29.5 =
		// 222.25 folds at the bottom limit 192 to 161.75 (y 0.60). The
		// paddle (row 74) is 87.75 px = 5.48 paddle heights above; it must
		// travel 87.75 − 8 px at 12 px per step: 6.6 steps.
		{name: "bounce off the bottom wall", s: ball(80, 178, 2, 1.5, 74),
			fullLine: "ball at x 0.00, y 0.80 moving right and down (2.00 px/frame across, 1.50 down) toward your paddle; " +
				"it reaches your paddle line in 7.4 steps at y 0.60 after a bounce off the bottom wall; " +
				"your paddle at y -0.50 is 5.48 paddle heights above that point, reachable in 6.6 steps moving down (LEFT); opponent paddle at y 0.00"},
		// 9.5 frames = 2.4 steps; row 192.25 folds to 191.75 (y 0.97); the
		// paddle needs (117.75 − 8) / 12 = 9.1 steps.
		{name: "out of reach", s: ball(120, 178, 2, 1.5, 74),
			want: []string{"x 0.50, y 0.80", "in 2.4 steps at y 0.97 after a bounce off the bottom wall", "7.36 paddle heights above that point, OUT OF REACH (it needs 9.1 steps moving down (LEFT))"}},
		// Row 50 − 44.25 = 5.75 folds at the top limit 36 to 66.25 (y −0.60).
		{name: "bounce off the top wall", s: ball(80, 50, 2, -1.5, 66),
			want:    []string{"moving right and up (2.00 px/frame across, 1.50 up)", "at y -0.60 after a bounce off the top wall", "0.02 paddle heights above that point, covering it"},
			wantNot: []string{"reachable", "OUT OF REACH"}},
		// 11.67 frames; row 105.8 (y −0.10); the paddle at row 146 is 2.51
		// paddle heights below and needs 2.7 of the 2.9 steps, moving up.
		{name: "straight, paddle below", s: ball(104, 100, 3, 0.5, 146),
			want:    []string{"x 0.30, y -0.17 moving right and down (3.00 px/frame across, 0.50 down) toward your paddle", "in 2.9 steps at y -0.10;", "2.51 paddle heights below that point, reachable in 2.7 steps moving up (RIGHT)"},
			wantNot: []string{"bounce"}},
		// 118 frames at 3 px/frame down: 354 rows from row 100 fold twice.
		{name: "two bounces", s: ball(21, 100, 1, 3, 114), want: []string{"at y 0.35 after 2 wall bounces"}},
		{name: "past the paddle", s: ball(145, 100, 2, 1, 114), want: []string{"x 0.81", "already past your paddle's face: the point is lost; your paddle at y 0.00"},
			wantNot: []string{"reaches"}},
		{name: "toward the opponent", s: ball(60, 150, -2, -1, 100), want: []string{"moving left and up (2.00 px/frame across, 1.00 up) toward the opponent; your paddle at y -0.17; opponent paddle at y 0.00"},
			wantNot: []string{"reaches", "paddle heights"}},
		{name: "no ball", s: pong.State{AgentY: 54, OpponentY: 174}, fullLine: "no ball in play (the next serve comes shortly); your paddle at y -0.75; opponent paddle at y 0.75"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := describe(pongSpec(), pongObs(tc.s))
			if err != nil {
				t.Fatal(err)
			}
			if tc.fullLine != "" && got != tc.fullLine {
				t.Errorf("got  %s\nwant %s", got, tc.fullLine)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestPongRulesAndActions(t *testing.T) {
	spec := pongSpec()
	rules, err := Rules(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"+1 when you score a point", "−1 when the opponent scores", "either side reaches 21 points",
		"truncated after 27000 steps (not a failure)", "one integer in [0, 5]", "RIGHT moves your paddle UP and LEFT moves it DOWN",
		"12 px (0.15) per step", "- 0 NOOP: paddle stays;", "- 2 RIGHT: paddle up;", "- 3 LEFT: paddle down;", "- 5 LEFTFIRE: paddle down.",
		"y grows DOWNWARD", "paddle faces at x -0.75 (opponent) and 0.75 (you)", "y -0.90 to 0.90", "does not include the score",
	} {
		if !strings.Contains(rules, w) {
			t.Errorf("rules lack %q:\n%s", w, rules)
		}
	}
	for _, tc := range []struct {
		a    float32
		want string
	}{
		{0, "NOOP (paddle stays)"}, {1, "FIRE (paddle stays)"}, {2, "RIGHT (paddle up)"}, {3, "LEFT (paddle down)"},
		{4, "RIGHTFIRE (paddle up)"}, {5, "LEFTFIRE (paddle down)"}, {2.5, "2.50 (invalid: not an integer in [0, 5])"},
		{6, "6.00 (invalid: not an integer in [0, 5])"}, {-1, "-1.00 (invalid: not an integer in [0, 5])"},
	} {
		if got, err := describeAction(spec, []float32{tc.a}); err != nil || got != tc.want {
			t.Errorf("action %v: got %q (%v), want %q", tc.a, got, err, tc.want)
		}
	}
	obs := pongObs(pong.State{AgentY: 114, OpponentY: 114})
	got, err := describeStep(spec, 7, obs, []float32{3}, -1)
	if want := "step 7: no ball in play (the next serve comes shortly); your paddle at y 0.00; opponent paddle at y 0.00; action LEFT (paddle down); reward -1.00"; err != nil || got != want {
		t.Errorf("got  %s (%v)\nwant %s", got, err, want)
	}
	// Another configuration is described as it runs: the spec carries it.
	fast := pong.DefaultConfig()
	fast.AgentSpeed *= 2
	if rules, err := Rules(pong.Spec(fast)); err != nil || !strings.Contains(rules, "by "+num(fast.AgentSpeed)+" px/frame") {
		t.Errorf("Rules of a Pong with a paddle speed of %v (%v):\n%s", fast.AgentSpeed, err, rules)
	}
	// Pixels and wrong sizes are refused.
	pix := pong.DefaultConfig()
	pix.Obs = pong.ObsPixels
	bad := pongSpec()
	bad.Action = env.Discrete(3)
	for name, err := range map[string]error{
		"pixels":        second(Rules(pong.Spec(pix))),
		"3 actions":     second(Rules(bad)),
		"short obs":     second(describe(spec, make([]float32, 4))),
		"two actions":   second(describeAction(spec, []float32{1, 2})),
		"step, no obs":  second(describeStep(spec, 0, nil, []float32{1}, 0)),
		"hopper traj":   second(Summarize(spec, &traj.Trajectory{ID: "h", Env: "hopper", ObsDim: 6, ActDim: 1, Rewards: []float32{0}, Obs: make([]float32, 6), Actions: []float32{0}}, Budget{})),
		"6 obs, no lay": second(Rules(env.Spec{ID: "pong", Observation: env.UnboundedBox(6), Action: env.Discrete(6)})),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSummarizePong: a NOOP agent loses points; every scoring step is kept
// whatever the budget's reward-jump setting, and the text says so.
func TestSummarizePong(t *testing.T) {
	spec := pongSpec()
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	trajs, err := eval.Collect(v, eval.Zero{}, 1, 3, "p", false)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trajs[0]
	var points []int
	won, lost := 0, 0
	for k, r := range tr.Rewards {
		if r != 0 {
			points = append(points, k)
			if r > 0 {
				won++
			} else {
				lost++
			}
		}
	}
	if !tr.Terminated || lost != 21 || len(points) < 21 {
		t.Fatalf("NOOP game: terminated %v, %d points (%d lost)", tr.Terminated, len(points), lost)
	}
	for _, b := range []Budget{{MaxTokens: 8000}, {MaxTokens: 8000, RewardJump: -1}, {MaxTokens: 8000, RewardJump: 5}} {
		s, err := Summarize(spec, tr, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range points {
			if !slices.Contains(s.Steps, k) {
				t.Errorf("budget %+v: scoring step %d not shown (shown %v)", b, k, s.Steps)
			}
		}
		for _, w := range []string{"where a point was scored (reward ±1)", "the game ended (one side won)",
			"points won " + itoa(won) + ", lost 21", "action NOOP (paddle stays); reward -1.00"} {
			if !strings.Contains(s.Text, w) {
				t.Errorf("budget %+v: summary lacks %q:\n%s", b, w, s.Text)
			}
		}
		if s.Tokens > b.MaxTokens || len(s.Steps)+s.Omitted != tr.Len() {
			t.Errorf("budget %+v: %d tokens, %d shown + %d omitted of %d", b, s.Tokens, len(s.Steps), s.Omitted, tr.Len())
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(fixed(float64(n), 0)) }

// TestALEPongReadsAsPong checks that the ALE binding's "ale:pong", whose
// features share the native layout, is interpreted as Pong.
func TestALEPongReadsAsPong(t *testing.T) {
	ale := pongSpec()
	ale.ID = "ale:pong"
	obs := pongObs(pong.State{BallInPlay: true, BallX: 80, BallY: 100, BallVX: 2, BallVY: 1, AgentY: 114, OpponentY: 114})
	got, err := describe(ale, obs)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := describe(pongSpec(), obs)
	if got != want {
		t.Fatalf("ale:pong reads\n%s\nnative pong reads\n%s", got, want)
	}
}
