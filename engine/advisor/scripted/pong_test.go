package scripted

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/pong"
	"github.com/ultra-rl/ultra/engine/traj"
)

func pongTrajs(t *testing.T, p eval.Policy, episodes int) []traj.Trajectory {
	t.Helper()
	v, err := env.New(pong.Spec(pong.DefaultConfig()), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	trajs, err := eval.Collect(v, p, episodes, 5, "p", true)
	if err != nil {
		t.Fatal(err)
	}
	return trajs
}

func checkPongAnnotation(t *testing.T, tr *traj.Trajectory, a advisor.Annotation) {
	t.Helper()
	if len(a.Action) != 1 || a.Action[0] != float32(int(a.Action[0])) || a.Action[0] < 0 || a.Action[0] >= pong.NumActions ||
		!(a.Reward >= -1 && a.Reward <= 1) || a.Source != "scripted" || a.Reason == "" {
		t.Errorf("annotation %+v", a)
	}
	if !slices.Equal(a.Obs, tr.ObsAt(a.Step)) || !slices.Equal(a.Snapshot, tr.Snapshots[a.Step]) {
		t.Errorf("step %d: annotation state is not the trajectory's", a.Step)
	}
}

// TestScriptedPongNoop: a NOOP agent loses every point; the expert flags
// the last chance before lost points (−1), suggests moving toward where the
// ball actually left the screen, and respects MaxCritical.
func TestScriptedPongNoop(t *testing.T) {
	sp := pong.Spec(pong.DefaultConfig())
	trajs := pongTrajs(t, eval.Zero{}, 2)
	s, err := New(sp, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	anns, rep, err := s.Annotate(t.Context(), trajs)
	if err != nil || rep.Annotations != len(anns) || rep.Failed != 0 {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	perEp := map[string]int{}
	dirs := map[float32]int{}
	for _, a := range anns {
		tr := &trajs[0]
		if a.Episode == trajs[1].ID {
			tr = &trajs[1]
		}
		perEp[a.Episode]++
		checkPongAnnotation(t, tr, a)
		if a.Reward != -1 || !strings.HasPrefix(a.Reason, "last chance before a lost point") {
			t.Errorf("step %d: reward %v (%s); a NOOP agent's top critical steps are lost points", a.Step, a.Reward, a.Reason)
		}
		// The next point after the step is lost, with the ball flying
		// toward the agent all the way (no return in between).
		j := a.Step
		for j < tr.Len() && tr.Rewards[j] == 0 {
			if tr.ObsAt(j)[pong.FeatBallVX] <= 0 {
				t.Fatalf("step %d: the ball is not flying to the agent at step %d", a.Step, j)
			}
			j++
		}
		if j == tr.Len() || tr.Rewards[j] != -1 || j-a.Step > 40 {
			t.Fatalf("step %d: the next point (step %d) is not a loss shortly after", a.Step, j)
		}
		// Direction: toward the row where the ball left (y grows down;
		// RIGHT moves the paddle up).
		ballY, paddleY := tr.ObsAt(j)[pong.FeatBallY], a.Obs[pong.FeatAgentY]
		want := float32(pong.ActLeft)
		if ballY < paddleY {
			want = pong.ActRight
		}
		if a.Action[0] != want {
			t.Errorf("step %d: ball left at y %v, paddle at y %v, suggested %v", a.Step, ballY, paddleY, a.Action[0])
		}
		dirs[a.Action[0]]++
	}
	// The last chance was real: restored there, a paddle that tracks the
	// ball returns it.
	saved := 0
	for _, a := range anns {
		if savedFrom(t, a.Snapshot) {
			saved++
		}
	}
	if saved != len(anns) {
		t.Errorf("a tracking paddle saves the point from %d of %d last chances", saved, len(anns))
	}
	for _, tr := range trajs {
		if n := perEp[tr.ID]; n == 0 || n > DefaultConfig().MaxCritical {
			t.Errorf("%s: %d critical steps", tr.ID, n)
		}
	}
	if dirs[pong.ActRight] == 0 || dirs[pong.ActLeft] == 0 {
		t.Errorf("suggestions %v: want both directions over two games", dirs)
	}
}

// TestScriptedPongRewardSigns: over every candidate of a random agent's
// games, the reward says whether the action taken moved the paddle toward
// the suggested direction (+), away from it (−), or not at all (−0.5).
func TestScriptedPongRewardSigns(t *testing.T) {
	sp := pong.Spec(pong.DefaultConfig())
	trajs := pongTrajs(t, eval.Random{Space: sp.Action, Rng: rand.New(rand.NewPCG(7, 7))}, 2)
	cfg := DefaultConfig()
	cfg.MaxCritical = 1 << 20
	s, _ := New(sp, cfg)
	anns, _, err := s.Annotate(t.Context(), trajs)
	if err != nil {
		t.Fatal(err)
	}
	var counts [3]int // toward, away, still
	lost := 0
	for _, a := range anns {
		tr := &trajs[0]
		if a.Episode == trajs[1].ID {
			tr = &trajs[1]
		}
		checkPongAnnotation(t, tr, a)
		if a.Step+1 >= tr.Len() {
			continue
		}
		if strings.HasPrefix(a.Reason, "last chance") {
			lost++
			if a.Reward != -1 {
				t.Errorf("step %d: last chance with reward %v", a.Step, a.Reward)
			}
			continue
		}
		moved := tr.ObsAt(a.Step + 1)[pong.FeatAgentY] - a.Obs[pong.FeatAgentY] // > 0: down
		var sugg float32
		switch a.Action[0] {
		case pong.ActRight:
			sugg = -1
		case pong.ActLeft:
			sugg = 1
		}
		switch {
		case sugg == 0: // covered before the step: only listed because the action uncovered it
			if moved == 0 || a.Reward >= 0 {
				t.Errorf("step %d: NOOP suggested, paddle moved %v, reward %v", a.Step, moved, a.Reward)
			}
		case moved*sugg > 0:
			counts[0]++
			if a.Reward <= 0 {
				t.Errorf("step %d: moved toward the intercept, reward %v (%s)", a.Step, a.Reward, a.Reason)
			}
		case moved*sugg < 0:
			counts[1]++
			if a.Reward >= 0 {
				t.Errorf("step %d: moved away from the intercept, reward %v (%s)", a.Step, a.Reward, a.Reason)
			}
		default:
			counts[2]++
			if a.Reward != -0.5 {
				t.Errorf("step %d: stood still, reward %v (%s)", a.Step, a.Reward, a.Reason)
			}
		}
	}
	if counts[0] == 0 || counts[1] == 0 || counts[2] == 0 || lost == 0 {
		t.Errorf("toward/away/still %v, %d last chances: want every case covered", counts, lost)
	}
}

func TestScriptedPongRejectsPixels(t *testing.T) {
	pix := pong.DefaultConfig()
	pix.Obs = pong.ObsPixels
	bad := pong.Spec(pong.DefaultConfig())
	bad.Action = env.Discrete(3)
	for _, sp := range []env.Spec{pong.Spec(pix), bad} {
		if _, err := New(sp, DefaultConfig()); err == nil {
			t.Errorf("%s with %s accepted", sp.ID, sp.Action)
		}
	}
}

// savedFrom restores a game at snap and moves the agent's paddle toward
// where the ball will cross its line until the ball is returned (true) or a
// point is scored (false).
func savedFrom(t *testing.T, snap []float64) bool {
	t.Helper()
	g, err := pong.New(pong.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	obs := make([]float32, pong.NumFeatures)
	if err := g.Restore(snap, obs); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		s := g.State()
		a := pong.ActNoop
		if _, row, _, ok := s.Intercept(); ok && row < s.AgentY-4 {
			a = pong.ActRight
		} else if ok && row > s.AgentY+4 {
			a = pong.ActLeft
		}
		r, _, err := g.Step([]float32{float32(a)}, obs)
		if err != nil {
			t.Fatal(err)
		}
		if r != 0 {
			return false
		}
		if g.State().BallVX < 0 {
			return true
		}
	}
	return false
}
