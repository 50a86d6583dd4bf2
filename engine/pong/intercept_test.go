package pong

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestInterceptMatchesTheGame: the predicted arrival at the agent's paddle
// line (time, row, wall bounces) agrees with the game played frame by
// frame, including paths folded at the walls.
func TestInterceptMatchesTheGame(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FrameSkip = 1
	g := newGame(t, cfg)
	obs := obsBuf(cfg)
	face := AgentX - BallW/2.0
	for _, tc := range []struct {
		name           string
		x, y, vx, vy   float64 // top-left of the ball, px per frame
		bounces        int
		wantRowBetween [2]float64
	}{
		{"straight", 100, 110, 2, 0.5, 0, [2]float64{100, 140}},
		{"off the bottom wall", 60, 170, 2, 2.5, 1, [2]float64{36, 192}},
		{"off the top wall", 60, 50, 2.5, -3, 1, [2]float64{36, 192}},
		{"two bounces", 20, 100, 1, 3, 2, [2]float64{36, 192}},
		{"already past", 141, 100, 2, 1, -1, [2]float64{}},
		{"moving away", 100, 100, -2, 1, -1, [2]float64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The agent's paddle is parked at the top: nothing is returned.
			set := ballAt(tc.x, tc.y, tc.vx, tc.vy)
			set[sAgentY] = PlayTop
			if tc.bounces == 2 {
				set[sAgentY] = PlayBottom - PaddleH
			}
			restoreWith(t, g, set)
			s := g.State()
			frames, row, bounces, ok := s.Intercept()
			if tc.bounces < 0 {
				if ok {
					t.Fatalf("intercept %v frames at row %v for a ball that cannot reach the paddle", frames, row)
				}
				return
			}
			if !ok || bounces != tc.bounces || row < tc.wantRowBetween[0] || row > tc.wantRowBetween[1] {
				t.Fatalf("intercept ok %v, %v frames, row %v, %d bounces; want %d bounces", ok, frames, row, bounces, tc.bounces)
			}
			// Play until the ball's centre passes the face line.
			prev := s
			for f := 1; f < 200; f++ {
				step(t, g, ActNoop, obs)
				cur := g.State()
				if !cur.BallInPlay || cur.BallX > face {
					// The crossing happened during frame f: frames in (f-1, f].
					if frames <= float64(f-1)-1e-9 || frames > float64(f)+1e-9 {
						t.Errorf("predicted %v frames, the ball crossed during frame %d", frames, f)
					}
					// Interpolated row at the crossing (within one frame's
					// vertical travel when a wall bounce falls in it).
					if cur.BallInPlay {
						u := (face - prev.BallX) / (cur.BallX - prev.BallX)
						got := prev.BallY + u*(cur.BallY-prev.BallY)
						if math.Abs(got-row) > math.Abs(tc.vy)+1e-9 {
							t.Errorf("predicted row %v, the ball crossed at row %v", row, got)
						}
					}
					return
				}
				prev = cur
			}
			t.Fatal("the ball never reached the paddle line")
		})
	}
	// A random sweep over serves: every prediction lies inside the
	// playfield and in the future.
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200; i++ {
		s := State{BallInPlay: true, BallX: 1 + rng.Float64()*(face-1), BallY: 36 + rng.Float64()*156,
			BallVX: 0.5 + 3*rng.Float64(), BallVY: 6*rng.Float64() - 3}
		f, row, _, ok := s.Intercept()
		if !ok || f < 0 || row < PlayTop+BallH/2.0-1e-9 || row > PlayBottom-BallH/2.0+1e-9 {
			t.Fatalf("state %+v: intercept %v frames at row %v (ok %v)", s, f, row, ok)
		}
	}
}

func TestFeatureScale(t *testing.T) {
	for _, tc := range []struct{ got, want float64 }{
		{FeatureX(AgentX), 0.75}, {FeatureX(OpponentX + PaddleW), -0.75}, {FeatureX(ScreenW), 1},
		{FeatureY(PlayTop), -1}, {FeatureY(PlayBottom), 1}, {FeatureY(PaddleMinRow), -0.9}, {FeatureY(PaddleMaxRow), 0.9},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("got %v want %v", tc.got, tc.want)
		}
	}
	// The features use the same scale.
	obs := make([]float32, NumFeatures)
	s := State{BallInPlay: true, BallX: 120, BallY: 60, BallVX: 1, AgentY: 150, OpponentY: 100}
	s.Features(obs, DefaultConfig())
	if float64(obs[FeatBallX]) != float64(float32(FeatureX(120))) || float64(obs[FeatBallY]) != float64(float32(FeatureY(60))) ||
		float64(obs[FeatAgentY]) != float64(float32(FeatureY(150))) {
		t.Errorf("features %v disagree with FeatureX/FeatureY", obs)
	}
}
