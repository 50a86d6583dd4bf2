package pong

import (
	"fmt"

	"github.com/ultra-rl/ultra/engine/env"
)

// Feature indices of the "features" observation. Positions are centres, in
// screen coordinates (y grows DOWN), scaled so the screen's width and the
// playfield's height map to [-1, 1]:
//
//	0 ball x       (ball centre column − 80) / 80: −1 the left (opponent's) edge, +1 the right (agent's) edge
//	1 ball y       (ball centre row − 114) / 80: −1 the top wall, +1 the bottom wall
//	2 ball vx      horizontal speed / BallMaxSpeedX: > 0 toward the agent
//	3 ball vy      vertical speed / max(BounceMaxVY, ServeMaxVY): > 0 downward
//	4 agent y      (agent paddle centre row − 114) / 80 (its reach is ±0.9)
//	5 opponent y   (opponent paddle centre row − 114) / 80
//
// While no ball is in play (the serve delay after a point and at the
// start), the four ball values are 0. The agent's paddle centre is at
// x = +0.775, the opponent's at x = −0.775 (the paddles' faces at +0.75 and
// −0.75).
const (
	FeatBallX = iota
	FeatBallY
	FeatBallVX
	FeatBallVY
	FeatAgentY
	FeatOpponentY
	NumFeatures
)

// State is a game's state in screen pixels (col x, row y growing down;
// speeds in pixels per frame), for interpretation and scripted advisors.
type State struct {
	BallInPlay     bool    // false during the serve delay: no ball on screen
	BallX, BallY   float64 // centre of the ball
	BallVX, BallVY float64 // > 0: toward the agent (right) / downward
	AgentY         float64 // centre row of the agent's (right, green) paddle
	OpponentY      float64 // centre row of the opponent's (left, orange) paddle
	AgentScore     int
	OpponentScore  int
	Frame          int // frames since the episode started
	ServeDelay     int // frames until the next serve while !BallInPlay
}

// State returns the game's current state.
func (e *Game) State() State { return e.g.state() }

func (g *game) state() State {
	s := State{
		BallInPlay: g.inPlay, AgentY: g.agentY + PaddleH/2, OpponentY: g.oppY + PaddleH/2,
		AgentScore: g.agentScore, OpponentScore: g.oppScore, Frame: g.frame,
	}
	if g.inPlay {
		s.BallX, s.BallY = g.ballX+BallW/2, g.ballY+BallH/2
		s.BallVX, s.BallVY = g.ballVX, g.ballVY
	} else {
		s.ServeDelay = g.serveDelay
	}
	return s
}

// StateFromSnapshot decodes the state held by a [Game.Snapshot] taken under
// cfg (only cfg.WinScore matters).
func StateFromSnapshot(snap []float64, cfg Config) (State, error) {
	g, err := decode(snap, cfg)
	if err != nil {
		return State{}, err
	}
	return g.state(), nil
}

// Features writes the state's NumFeatures observation values into dst, as
// documented on FeatBallX, with cfg's speed scales.
func (s State) Features(dst []float32, cfg Config) {
	_ = dst[NumFeatures-1]
	dst[FeatBallX], dst[FeatBallY], dst[FeatBallVX], dst[FeatBallVY] = 0, 0, 0, 0
	if s.BallInPlay {
		dst[FeatBallX] = float32((s.BallX - centreX) / halfX)
		dst[FeatBallY] = float32((s.BallY - centreY) / halfY)
		dst[FeatBallVX] = float32(s.BallVX / cfg.BallMaxSpeedX)
		dst[FeatBallVY] = float32(s.BallVY / cfg.vyScale())
	}
	dst[FeatAgentY] = float32((s.AgentY - centreY) / halfY)
	dst[FeatOpponentY] = float32((s.OpponentY - centreY) / halfY)
}

// StateFromFeatures inverts [State.Features] as far as the features allow:
// positions and speeds (to float32 precision); BallInPlay is guessed from
// the four ball values not all being 0; scores and counters are unknown
// (0). It reads them as [env.PongGame.Read] does.
func StateFromFeatures(obs []float32, cfg Config) State {
	return fromEnv(Info(cfg).Pong.Read(obs))
}

// fromEnv and toEnv convert between the description's state and this one.
func fromEnv(s env.PongState) State {
	return State{BallInPlay: s.BallInPlay, BallX: s.BallX, BallY: s.BallY, BallVX: s.BallVX, BallVY: s.BallVY,
		AgentY: s.AgentY, OpponentY: s.OpponentY}
}

func (s State) toEnv() env.PongState {
	return env.PongState{BallInPlay: s.BallInPlay, BallX: s.BallX, BallY: s.BallY, BallVX: s.BallVX, BallVY: s.BallVY,
		AgentY: s.AgentY, OpponentY: s.OpponentY}
}

// featureLayout documents the features under cfg.
func featureLayout(cfg Config) []env.Field {
	return []env.Field{
		{Name: "ball x", Unit: "80 px", Doc: "ball centre column relative to the screen centre (col 80) ÷ 80: −1 left edge behind the opponent, +1 right edge behind the agent; the paddle faces are at ±0.75; 0 while no ball is in play"},
		{Name: "ball y", Unit: "80 px", Doc: "ball centre row relative to the playfield centre (row 114) ÷ 80, y grows DOWN: −1 top wall, +1 bottom wall; 0 while no ball is in play"},
		{Name: "ball vx", Unit: fmt.Sprintf("%g px/frame", cfg.BallMaxSpeedX), Doc: fmt.Sprintf("ball horizontal speed ÷ its cap %g px/frame: > 0 toward the agent (right); 0 while no ball is in play", cfg.BallMaxSpeedX)},
		{Name: "ball vy", Unit: fmt.Sprintf("%g px/frame", cfg.vyScale()), Doc: fmt.Sprintf("ball vertical speed ÷ %g px/frame (the steepest return): > 0 downward; 0 while no ball is in play", cfg.vyScale())},
		{Name: "agent paddle y", Unit: "80 px", Doc: "centre row of the agent's (right, green) paddle relative to row 114 ÷ 80, y grows DOWN; reach ±0.9; RIGHT moves it up (−), LEFT down (+)"},
		{Name: "opponent paddle y", Unit: "80 px", Doc: "centre row of the built-in opponent's (left, orange) paddle relative to row 114 ÷ 80, y grows DOWN; it follows the ball's height at a capped speed"},
	}
}

// FeatureX maps a screen column to the features' x scale (see [FeatBallX]):
// −1 the left edge, +1 the right edge.
func FeatureX(col float64) float64 { return (col - centreX) / halfX }

// FeatureY maps a screen row to the features' y scale (see [FeatBallX]):
// −1 the top wall, +1 the bottom wall (y grows down).
func FeatureY(row float64) float64 { return (row - centreY) / halfY }

// Reach of a paddle's centre row: the paddles stay inside the playfield.
const (
	PaddleMinRow = PlayTop + PaddleH/2    // highest centre row (features −0.9)
	PaddleMaxRow = PlayBottom - PaddleH/2 // lowest centre row (features +0.9)
)

// Intercept predicts, as [env.PongGame.Intercept] does, where a ball moving
// toward the agent reaches the agent's paddle line, moving as the game
// moves it: straight, reflected at
// the top and bottom walls, with no change of speed. frames is the time
// until the ball's leading edge reaches the face of the agent's paddle
// (column [AgentX]); row is the ball's centre row then; bounces counts the
// wall bounces on the way (the first off the bottom wall when BallVY > 0,
// else off the top). The agent's paddle returns the ball when its centre is
// within (PaddleH+BallH)/2 rows of that row at that moment. ok is false
// when no ball is in play, the ball is not moving toward the agent, or its
// leading edge is already past the face (the point is lost).
func (s State) Intercept() (frames, row float64, bounces int, ok bool) {
	return geometry.Intercept(s.toEnv())
}
