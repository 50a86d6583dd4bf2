package pong

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

func newGame(t testing.TB, cfg Config) *Game {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func obsBuf(cfg Config) []float32 {
	if cfg.Obs == ObsPixels {
		return make([]float32, PixelObsDim)
	}
	return make([]float32, NumFeatures)
}

// restoreWith resets g, overwrites snapshot entries and restores the result.
func restoreWith(t *testing.T, g *Game, set map[int]float64) []float32 {
	t.Helper()
	obs := obsBuf(g.cfg)
	g.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	snap := g.Snapshot(nil)
	for k, v := range set {
		snap[k] = v
	}
	if err := g.Restore(snap, obs); err != nil {
		t.Fatal(err)
	}
	return obs
}

// ballAt puts a ball in play at (x, y) moving at (vx, vy).
func ballAt(x, y, vx, vy float64) map[int]float64 {
	return map[int]float64{sBallX: x, sBallY: y, sBallVX: vx, sBallVY: vy, sInPlay: 1, sServeDelay: 0}
}

func step(t testing.TB, g *Game, a int, obs []float32) (float64, bool) {
	t.Helper()
	r, term, err := g.Step([]float32{float32(a)}, obs)
	if err != nil {
		t.Fatal(err)
	}
	return r, term
}

func TestPointRewards(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name       string
		set        map[int]float64
		want       float64
		wantServe  float64 // sign of the next serve's vx
		agent, opp int
	}{
		{"agent scores past the opponent", ballAt(30, 60, -3, 0.5), 1, -1, 1, 0},
		{"opponent scores past the agent", ballAt(125, 60, 3, 0.5), -1, 1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGame(t, cfg)
			set := tc.set
			set[sAgentY], set[sOppY] = paddleMaxY, paddleMaxY // both paddles far below the ball
			obs := restoreWith(t, g, set)
			total, rewarded := 0.0, 0
			for i := 0; i < 10; i++ {
				r, term := step(t, g, ActNoop, obs)
				if term {
					t.Fatal("terminated after one point")
				}
				if r != 0 {
					rewarded++
				}
				total += r
			}
			s := g.State()
			if total != tc.want || rewarded != 1 || s.AgentScore != tc.agent || s.OpponentScore != tc.opp {
				t.Fatalf("reward %v over %d steps, score %d-%d; want %v once, %d-%d", total, rewarded, s.AgentScore, s.OpponentScore, tc.want, tc.agent, tc.opp)
			}
			// Served again after the delay, toward the side that lost.
			for i := 0; i < cfg.ServeDelay/cfg.FrameSkip+2 && !g.State().BallInPlay; i++ {
				step(t, g, ActNoop, obs)
			}
			s = g.State()
			if !s.BallInPlay || math.Signbit(s.BallVX) != math.Signbit(tc.wantServe) || math.Abs(s.BallVX) != cfg.BallSpeedX {
				t.Fatalf("after the delay: in play %v, vx %v; want a serve at %v × %v", s.BallInPlay, s.BallVX, tc.wantServe, cfg.BallSpeedX)
			}
		})
	}
}

func TestReturnIsNotAPoint(t *testing.T) {
	g := newGame(t, DefaultConfig())
	set := ballAt(120, 100, 3, 0)
	set[sAgentY] = 94 // centred on the ball
	obs := restoreWith(t, g, set)
	for i := 0; i < 5; i++ {
		if r, _ := step(t, g, ActNoop, obs); r != 0 {
			t.Fatalf("step %d: reward %v on a return", i, r)
		}
	}
	if s := g.State(); s.BallVX >= 0 || !s.BallInPlay {
		t.Fatalf("ball not returned: %+v", s)
	}
}

func TestEpisodeEndsAt21(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		agent, opp float64
		ball       map[int]float64
		want       float64
	}{
		{20, 7, ballAt(30, 60, -3, 0.5), 1},
		{7, 20, ballAt(125, 60, 3, 0.5), -1},
	} {
		g := newGame(t, cfg)
		set := tc.ball
		set[sAgentScore], set[sOppScore], set[sAgentY], set[sOppY] = tc.agent, tc.opp, paddleMaxY, paddleMaxY
		obs := restoreWith(t, g, set)
		total := 0.0
		ended := false
		for i := 0; i < 10 && !ended; i++ {
			var r float64
			r, ended = step(t, g, ActNoop, obs)
			total += r
		}
		s := g.State()
		if !ended || total != tc.want || max(s.AgentScore, s.OpponentScore) != 21 {
			t.Fatalf("%v-%v: ended %v, reward %v, score %d-%d; want the game over at 21 with %v", tc.agent, tc.opp, ended, total, s.AgentScore, s.OpponentScore, tc.want)
		}
		// A finished game is not a state to restore.
		if err := g.Restore(g.Snapshot(nil), obs); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("restoring a finished game: %v, want ErrBadSnapshot", err)
		}
	}
}

// tracker is a simple controller on the features: keep the paddle's centre
// on the ball's height while the ball comes toward the agent, return to the
// middle otherwise.
func tracker(o []float32) int {
	target := float32(0)
	if o[FeatBallVX] > 0 {
		target = o[FeatBallY]
	}
	switch d := target - o[FeatAgentY]; {
	case d < -0.1:
		return ActRight
	case d > 0.1:
		return ActLeft
	}
	return ActNoop
}

// playGames plays one episode in each of n envs under policy and returns
// the episode returns.
func playGames(t *testing.T, n int, seed uint64, policy func([]float32) int) []float64 {
	v, err := env.New(Spec(DefaultConfig()), env.Config{NumEnvs: n, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	obs, _ := v.Reset(seed)
	acts := make([]float32, n)
	rets := make([]float64, n)
	done := 0
	for s := 0; done < n; s++ {
		if s > v.Spec().MaxEpisodeSteps {
			t.Fatal("no episode ended")
		}
		for i := range acts {
			acts[i] = float32(policy(obs[i*NumFeatures : (i+1)*NumFeatures]))
		}
		res, err := v.Step(acts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range acts {
			if res.Done(i) && rets[i] == 0 {
				if !res.Terminated[i] {
					t.Fatalf("env %d truncated, want a finished game", i)
				}
				rets[i] = res.EpisodeReturn[i]
				done++
			}
		}
		obs = res.Obs
	}
	return rets
}

func TestTrackerBeatsOpponentNoopLoses(t *testing.T) {
	track := playGames(t, 3, 11, tracker)
	noop := playGames(t, 3, 11, func([]float32) int { return ActNoop })
	t.Logf("tracker returns %v, NOOP returns %v", track, noop)
	sum := 0.0
	for i := range track {
		if track[i] <= 0 {
			t.Errorf("tracker lost game %d: return %v", i, track[i])
		}
		sum += track[i]
		if noop[i] > -15 {
			t.Errorf("NOOP game %d: return %v, want ≤ -15", i, noop[i])
		}
	}
	if sum < 3*8 {
		t.Errorf("tracker's total margin %v over 3 games, want ≥ 24", sum)
	}
}

func TestActionsMovePaddle(t *testing.T) {
	cfg := DefaultConfig()
	g := newGame(t, cfg)
	obs := obsBuf(cfg)
	d := cfg.AgentSpeed * float64(cfg.FrameSkip)
	for _, tc := range []struct {
		a  int
		dy float64 // rows, down positive
	}{{ActNoop, 0}, {ActFire, 0}, {ActRight, -d}, {ActLeft, d}, {ActRightFire, -d}, {ActLeftFire, d}} {
		g.Reset(rand.New(rand.NewPCG(3, 3)), obs)
		y0, f0 := g.State().AgentY, obs[FeatAgentY]
		step(t, g, tc.a, obs)
		if dy := g.State().AgentY - y0; dy != tc.dy {
			t.Errorf("%s moved the paddle %v rows, want %v", ActionNames[tc.a], dy, tc.dy)
		}
		if df := obs[FeatAgentY] - f0; (tc.dy < 0) != (df < 0) || (tc.dy == 0) != (df == 0) {
			t.Errorf("%s changed the agent-y feature by %v", ActionNames[tc.a], df)
		}
	}
	// RIGHT is up: held long enough, the paddle stops at the top wall.
	for i := 0; i < 30; i++ {
		step(t, g, ActRight, obs)
	}
	if y := g.State().AgentY; y != PlayTop+PaddleH/2 {
		t.Errorf("after holding RIGHT the paddle centre is at row %v, want %v (top)", y, PlayTop+PaddleH/2)
	}
}

func TestEdgeHitIsSteeper(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FrameSkip, cfg.OpponentSpeed = 1, 0 // the opponent's paddle stays where it is put
	rebound := func(ballCentreOffset float64) State {
		g := newGame(t, cfg)
		const py = 94 // paddle rows 94-109, centre 102
		set := ballAt(AgentX-BallW-1, py+PaddleH/2-BallH/2+ballCentreOffset, 2, 0)
		set[sAgentY] = py
		obs := restoreWith(t, g, set)
		step(t, g, ActNoop, obs)
		return g.State()
	}
	centre, top, bottom := rebound(0), rebound(-8), rebound(8)
	for name, s := range map[string]State{"centre": centre, "top": top, "bottom": bottom} {
		if s.BallVX != -(2 + cfg.BallSpeedUp) {
			t.Errorf("%s hit: vx %v, want %v (reversed, sped up)", name, s.BallVX, -(2 + cfg.BallSpeedUp))
		}
	}
	if math.Abs(centre.BallVY) != cfg.BounceMinVY {
		t.Errorf("centre hit: |vy| %v, want %v", centre.BallVY, cfg.BounceMinVY)
	}
	if !(top.BallVY < -2*math.Abs(centre.BallVY)) || !(bottom.BallVY > 2*math.Abs(centre.BallVY)) {
		t.Errorf("edge hits: vy top %v, bottom %v; want steeper than centre %v, away from the centre", top.BallVY, bottom.BallVY, centre.BallVY)
	}
	// The opponent's paddle deflects alike, and the speed stays capped.
	g := newGame(t, cfg)
	set := ballAt(OpponentX+PaddleW+1, 96, -cfg.BallMaxSpeedX, 0)
	set[sOppY] = 94
	obs := restoreWith(t, g, set)
	step(t, g, ActNoop, obs)
	if s := g.State(); s.BallVX != cfg.BallMaxSpeedX || s.BallVY >= -cfg.BounceMinVY {
		t.Errorf("opponent edge return: vx %v vy %v; want %v and steeply up", s.BallVX, s.BallVY, cfg.BallMaxSpeedX)
	}
}

func TestStickyActions(t *testing.T) {
	for _, p := range []float64{0, 0.25} {
		cfg := DefaultConfig()
		cfg.FrameSkip, cfg.StickyProb = 1, p
		g := newGame(t, cfg)
		obs := obsBuf(cfg)
		g.Reset(rand.New(rand.NewPCG(5, 5)), obs)
		pick := rand.New(rand.NewPCG(6, 6))
		chances, stuck := 0, 0
		for i := 0; i < 40000; i++ {
			a := ActRight + pick.IntN(2)
			prev := g.g.lastAction
			_, over := step(t, g, a, obs)
			applied := g.g.lastAction
			if over {
				g.Reset(pick, obs)
			}
			if prev == a {
				continue
			}
			chances++
			switch applied {
			case prev:
				stuck++
			case a:
			default:
				t.Fatalf("applied action %d, neither the new %d nor the previous %d", applied, a, prev)
			}
		}
		rate := float64(stuck) / float64(chances)
		if math.Abs(rate-p) > 0.015 {
			t.Errorf("StickyProb %v: previous action repeated on %.3f of %d changes", p, rate, chances)
		}
	}
}

func TestSnapshotReplaysExactly(t *testing.T) {
	for _, mode := range []string{ObsFeatures, ObsPixels} {
		t.Run(mode, func(t *testing.T) {
			cfg := V5Config() // sticky actions: the RNG must be part of the snapshot
			cfg.Obs = mode
			g := newGame(t, cfg)
			obs := obsBuf(cfg)
			g.Reset(rand.New(rand.NewPCG(9, 9)), obs)
			pick := rand.New(rand.NewPCG(10, 10))
			const warm, n = 150, 250
			for i := 0; i < warm; i++ {
				step(t, g, pick.IntN(NumActions), obs)
			}
			snap := g.Snapshot(nil)
			snapObs := append([]float32(nil), obs...)
			acts := make([]int, n)
			var rews []float64
			var trace []uint32
			for i := range acts {
				acts[i] = pick.IntN(NumActions)
				r, _ := step(t, g, acts[i], obs)
				rews = append(rews, r)
				for _, v := range obs {
					trace = append(trace, math.Float32bits(v))
				}
			}
			nonzero := 0
			for _, r := range rews {
				if r != 0 {
					nonzero++
				}
			}
			if nonzero == 0 {
				t.Fatal("no point in the replayed stretch: the test covers too little")
			}

			h := newGame(t, cfg) // fresh, never reset
			got := obsBuf(cfg)
			if err := h.Restore(snap, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(snapObs[i]) {
					t.Fatalf("restored observation differs at %d: %v vs %v", i, got[i], snapObs[i])
				}
			}
			if again := h.Snapshot(nil); !equalBits(again, snap) {
				t.Fatal("snapshot of the restored game differs")
			}
			k := 0
			for i, a := range acts {
				r, _ := step(t, h, a, got)
				if r != rews[i] {
					t.Fatalf("step %d: reward %v, originally %v", i, r, rews[i])
				}
				for j, v := range got {
					if math.Float32bits(v) != trace[k] {
						t.Fatalf("step %d: observation %d is %v, originally %v", i, j, v, math.Float32frombits(trace[k]))
					}
					k++
				}
			}
		})
	}
}

func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	g := newGame(t, DefaultConfig())
	obs := obsBuf(g.cfg)
	g.Reset(rand.New(rand.NewPCG(1, 1)), obs)
	good := g.Snapshot(nil)
	for name, mod := range map[string]func([]float64) []float64{
		"short":    func(s []float64) []float64 { return s[:10] },
		"magic":    func(s []float64) []float64 { s[sMagic] = 1; return s },
		"nan":      func(s []float64) []float64 { s[sBallX] = math.NaN(); return s },
		"score":    func(s []float64) []float64 { s[sAgentScore] = 2.5; return s },
		"action":   func(s []float64) []float64 { s[sLastAction] = 6; return s },
		"rng":      func(s []float64) []float64 { s[sRngHi] = 1 << 33; return s },
		"in play":  func(s []float64) []float64 { s[sInPlay] = 0.5; return s },
		"view":     func(s []float64) []float64 { s[snapHeader+2] = 3; return s },
		"negative": func(s []float64) []float64 { s[sServeDelay] = -1; return s },
	} {
		s := mod(append([]float64(nil), good...))
		if err := g.Restore(s, obs); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: Restore error %v, want ErrBadSnapshot", name, err)
		}
	}
	if err := g.Restore(good, obs); err != nil {
		t.Fatal(err)
	}
}

// rollout steps a pool of 4 envs reset with seed under a fixed action
// sequence and returns every observation.
func rollout(t *testing.T, spec env.Spec, seed uint64, steps int) []float32 {
	v, err := env.New(spec, env.Config{NumEnvs: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	obs, _ := v.Reset(seed)
	out := append([]float32(nil), obs...)
	pick := rand.New(rand.NewPCG(42, 42))
	acts := make([]float32, 4)
	for s := 0; s < steps; s++ {
		for i := range acts {
			acts[i] = float32(pick.IntN(NumActions))
		}
		res, err := v.Step(acts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Obs...)
	}
	return out
}

func TestSeedsAreReproducible(t *testing.T) {
	spec := Spec(V5Config())
	a, b, c := rollout(t, spec, 7, 200), rollout(t, spec, 7, 200), rollout(t, spec, 8, 200)
	same, differ := true, false
	for i := range a {
		same = same && math.Float32bits(a[i]) == math.Float32bits(b[i])
		differ = differ || a[i] != c[i]
	}
	if !same {
		t.Error("same seed gave different trajectories")
	}
	if !differ {
		t.Error("seeds 7 and 8 gave identical trajectories")
	}
}

func TestSpecs(t *testing.T) {
	specs := Specs()
	if len(specs) != 2 {
		t.Fatalf("%d specs, want 2", len(specs))
	}
	for _, tc := range []struct {
		id             string
		dim, layout    int
		bounded        bool
		lo, hi         float32
		maxSteps, acts int
	}{
		{"pong", NumFeatures, NumFeatures, false, 0, 0, 27000, 6},
		{"pong-pixels", 4 * 84 * 84, 4, true, 0, 1, 27000, 6},
	} {
		var s env.Spec
		for _, x := range specs {
			if x.ID == tc.id {
				s = x
			}
		}
		if s.ID == "" {
			t.Fatalf("no spec %q", tc.id)
		}
		if s.Observation.Dim != tc.dim || len(s.ObsLayout) != tc.layout || s.MaxEpisodeSteps != tc.maxSteps ||
			s.Action.N != tc.acts || s.DefaultNoise != 0 || s.Doc == "" {
			t.Errorf("%s: obs %d layout %d steps %d actions %v", tc.id, s.Observation.Dim, len(s.ObsLayout), s.MaxEpisodeSteps, s.Action)
		}
		if tc.bounded && (s.Observation.Low[0] != tc.lo || s.Observation.High[tc.dim-1] != tc.hi) {
			t.Errorf("%s: bounds %v", tc.id, s.Observation)
		}
		if _, err := s.New(env.WithResetNoise(0.1)); err == nil {
			t.Errorf("%s: reset noise accepted", tc.id)
		}
		if e, err := s.New(env.DefaultOptions()); err != nil || e.Close() != nil {
			t.Errorf("%s: New: %v", tc.id, err)
		}
	}
	bad := DefaultConfig()
	bad.Obs = "rgb"
	if _, err := New(bad); err == nil {
		t.Error("Obs \"rgb\" accepted")
	}
	bad = DefaultConfig()
	bad.BallMaxSpeedX = 10 // could tunnel through a paddle
	if _, err := New(bad); err == nil {
		t.Error("BallMaxSpeedX 10 accepted")
	}
}

func TestStateRoundTrips(t *testing.T) {
	cfg := DefaultConfig()
	g := newGame(t, cfg)
	set := ballAt(70, 120, -2.5, 1.5)
	set[sAgentScore], set[sOppScore] = 4, 9
	obs := restoreWith(t, g, set)
	s := g.State()
	want := State{BallInPlay: true, BallX: 71, BallY: 122, BallVX: -2.5, BallVY: 1.5, AgentY: 114, OpponentY: 114, AgentScore: 4, OpponentScore: 9}
	if s != want {
		t.Fatalf("State %+v, want %+v", s, want)
	}
	if got, err := StateFromSnapshot(g.Snapshot(nil), cfg); err != nil || got != s {
		t.Fatalf("StateFromSnapshot %+v %v", got, err)
	}
	f := StateFromFeatures(obs, cfg)
	if !f.BallInPlay || math.Abs(f.BallX-s.BallX) > 1e-4 || math.Abs(f.BallVY-s.BallVY) > 1e-5 || math.Abs(f.AgentY-s.AgentY) > 1e-4 {
		t.Fatalf("StateFromFeatures %+v, want about %+v", f, s)
	}
	for i, v := range obs {
		if v < -1 || v > 1 {
			t.Errorf("feature %d = %v outside [-1, 1]", i, v)
		}
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	for _, mode := range []string{ObsFeatures, ObsPixels} {
		cfg := V5Config()
		cfg.Obs = mode
		v, err := env.New(Spec(cfg), env.Config{NumEnvs: 64})
		if err != nil {
			t.Fatal(err)
		}
		v.Reset(1)
		acts := make([]float32, 64)
		for i := range acts {
			acts[i] = float32(i % NumActions)
		}
		runs := 400
		if mode == ObsPixels {
			runs = 20
		}
		allocs := testing.AllocsPerRun(runs, func() {
			if _, err := v.Step(acts); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Step, want 0", mode, allocs)
		}
		if mode == ObsFeatures && v.Stats().Episodes == 0 {
			t.Error("no episode ended: auto-reset was not covered")
		}
		v.Close()
	}
}

func BenchmarkPong(b *testing.B) {
	for _, mode := range []string{ObsFeatures, ObsPixels} {
		b.Run(mode, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Obs = mode
			const n = 64
			v, err := env.New(Spec(cfg), env.Config{NumEnvs: n})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			v.Reset(1)
			acts := make([]float32, n)
			pick := rand.New(rand.NewPCG(1, 1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range acts {
					acts[j] = float32(pick.IntN(NumActions))
				}
				if _, err := v.Step(acts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// TestSpecsDescribeTheirConfig: both Pong specs belong to the Atari family;
// the features spec describes the configuration it runs with (the pixels
// spec describes nothing: nothing interprets pixels).
func TestSpecsDescribeTheirConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AgentSpeed, cfg.WinScore, cfg.FrameSkip = 7, 5, 3
	for _, obs := range []string{ObsFeatures, ObsPixels} {
		t.Run(obs, func(t *testing.T) {
			cfg.Obs = obs
			s := Spec(cfg)
			if s.Family != env.FamilyAtari {
				t.Errorf("Family %q, want atari", s.Family)
			}
			if obs == ObsPixels {
				if s.Info != nil {
					t.Errorf("pixels spec has a description %+v", s.Info)
				}
				return
			}
			if s.Info == nil || s.Info.Pong == nil {
				t.Fatalf("features spec has no Pong description: %+v", s.Info)
			}
			g := s.Info.Pong
			if g.AgentSpeed != 7 || g.WinScore != 5 || s.Info.FrameSkip != 3 || g.VYScale != cfg.vyScale() || len(g.Actions) != NumActions {
				t.Errorf("description %+v (frame skip %d) does not follow the config %+v", g, s.Info.FrameSkip, cfg)
			}
			for a, want := range map[int]int{ActNoop: 0, ActFire: 0, ActRight: -1, ActLeft: 1, ActRightFire: -1, ActLeftFire: 1} {
				if g.Actions[a].Name != ActionNames[a] || g.Actions[a].Move != want {
					t.Errorf("action %d described as %+v, want %s moving %d", a, g.Actions[a], ActionNames[a], want)
				}
			}
		})
	}
}

// TestDescriptionReadsAsTheGame: the description reads features and
// predicts the ball exactly as the game's own State does.
func TestDescriptionReadsAsTheGame(t *testing.T) {
	cfg := DefaultConfig()
	g := Info(cfg).Pong
	rng := rand.New(rand.NewPCG(3, 4))
	obs := make([]float32, NumFeatures)
	for range 1000 {
		for i := range obs {
			obs[i] = float32(2*rng.Float64() - 1)
		}
		s := StateFromFeatures(obs, cfg)
		d := g.Read(obs)
		if s.toEnv() != d {
			t.Fatalf("Read(%v) = %+v, State %+v", obs, d, s)
		}
		f1, r1, b1, ok1 := s.Intercept()
		f2, r2, b2, ok2 := g.Intercept(d)
		if f1 != f2 || r1 != r2 || b1 != b2 || ok1 != ok2 {
			t.Fatalf("Intercept of %+v: game %v %v %v %v, description %v %v %v %v", s, f1, r1, b1, ok1, f2, r2, b2, ok2)
		}
		if g.FeatureX(s.BallX) != FeatureX(s.BallX) || g.FeatureY(s.BallY) != FeatureY(s.BallY) {
			t.Fatalf("feature scales differ at %+v", s)
		}
	}
	if lo, hi := g.PaddleRows(); lo != PaddleMinRow || hi != PaddleMaxRow {
		t.Errorf("PaddleRows %v, %v, want %v, %v", lo, hi, PaddleMinRow, PaddleMaxRow)
	}
}
