package interpret

import (
	"fmt"
	"math"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
)

// Pong ("pong", the features observation) is interpreted from the game's
// description (env.PongGame: its geometry, speeds and actions): positions are given on the features' scale (x −1 left edge to
// +1 right edge, y −1 top wall to +1 bottom wall, y growing DOWN), paddle
// offsets in paddle heights, times in steps. The features hold no score, so
// the state descriptions say nothing about it.

// stepTravel is how far the agent's paddle moves in one step of RIGHT or
// LEFT, in rows.
func (t *task) stepTravel() float64 { return t.pong.StepTravel(t.info.FrameSkip) }

func (t *task) pongRules(spec env.Spec) string {
	c := t.pong
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	unit := 1 / (c.FeatureY(1) - c.FeatureY(0)) // px per unit of the features
	fy := func(rows float64) string { return fixed(rows/unit, 2) }
	paddleH, ballH := float64(c.PaddleH), float64(c.BallH)
	w("Task: %s — %s.", t.id, spec.Doc)
	w("Goal: %s.", t.info.Goal)
	w("Timing: one step lasts %d frames (the game runs at %s frames per second); the action is held for every frame of the step.", t.info.FrameSkip, num(round9(1/t.info.Timestep)))
	w("Reward per step = +1 when you score a point (the ball leaves the screen on the left, past the opponent), −1 when the opponent scores (the ball leaves on the right, past your paddle), else 0; the return of a game is your points − the opponent's, from −%d to +%d.", c.WinScore, c.WinScore)
	w("Termination: the game ends as soon as either side reaches %d points (a win if you did).", c.WinScore)
	w("Time limit: the episode is truncated after %d steps (not a failure).", t.maxSteps)
	w("Play: after every point (and at the start) there is no ball for %d frames; then the ball is served from the centre line, toward the side that lost the point, at %s px/frame across. It bounces off the top and bottom walls. A paddle returns the ball when the ball reaches the paddle's face while they overlap vertically (the ball's centre within %s paddle heights of the paddle's centre); it leaves more steeply the nearer the paddle's edge it hits (centre: %s px/frame vertically, edge: %s) and %s px/frame faster across after every return (up to %s). The opponent's paddle follows the ball's height at up to %s px/frame, so steep, fast returns can beat it.",
		c.ServeDelay, num(c.BallSpeedX), fixed((paddleH+ballH)/2/paddleH, 3), num(c.BounceMinVY), num(c.BounceMaxVY), num(c.BallSpeedUp), num(c.BallMaxSpeedX), num(c.OpponentSpeed))
	minRow, maxRow := c.PaddleRows()
	w("Coordinates: positions are centres on the observation's scale: x from -1 (left edge, behind the opponent) to +1 (right edge, behind you), the paddle faces at x %s (opponent) and %s (you); y from -1 (top wall) to +1 (bottom wall) and y grows DOWNWARD, so up means smaller y. One unit is %s px; a paddle is %d px (%s) tall, the ball %d px (%s); your paddle's centre reaches y %s to %s. The observation does not include the score.",
		fixed(c.FeatureX(float64(c.OpponentX+c.PaddleW)), 2), fixed(c.FeatureX(float64(c.AgentX)), 2), num(round9(unit)),
		c.PaddleH, fy(paddleH), c.BallH, fy(ballH), fixed(c.FeatureY(minRow), 2), fixed(c.FeatureY(maxRow), 2))
	w("Actions: one integer in [0, %d] (the ALE's minimal Pong action set), held for the whole step; RIGHT moves your paddle UP and LEFT moves it DOWN, by %s px/frame = %s px (%s) per step:", len(c.Actions)-1, num(c.AgentSpeed), num(t.stepTravel()), fy(t.stepTravel()))
	for i, a := range c.Actions {
		note := ""
		if a.Note != "" {
			note = " (" + a.Note + ")"
		}
		end := ";"
		if i == len(c.Actions)-1 {
			end = "."
		}
		w("- %d %s: %s%s%s", i, a.Name, pongActionEffect(a), note, end)
	}
	return b.String()
}

// pongActionEffect is what an action does to the agent's paddle.
func pongActionEffect(a env.PongAction) string {
	switch {
	case a.Move < 0:
		return "paddle up"
	case a.Move > 0:
		return "paddle down"
	}
	return "paddle stays"
}

// describePong renders a features observation, e.g. "ball at x 0.42, y
// -0.10 moving right and down (2.00 px/frame across, 1.20 down) toward
// your paddle; it reaches your paddle line in 3.2 steps at y 0.35 after a
// bounce off the bottom wall; your paddle at y 0.10 is 1.25 paddle heights
// above that point, reachable in 1.1 steps moving down (LEFT); opponent
// paddle at y 0.05".
func (t *task) describePong(b *strings.Builder, o []float32) {
	c := t.pong
	s := c.Read(o)
	paddleH := float64(c.PaddleH)
	y := func(row float64) string { return fixed(c.FeatureY(row), 2) }
	defer fmt.Fprintf(b, "; opponent paddle at y %s", y(s.OpponentY))
	if !s.BallInPlay {
		fmt.Fprintf(b, "no ball in play (the next serve comes shortly); your paddle at y %s", y(s.AgentY))
		return
	}
	fmt.Fprintf(b, "ball at x %s, y %s moving ", fixed(c.FeatureX(s.BallX), 2), y(s.BallY))
	vert := pick(s.BallVY, 2, "down", "up", "")
	switch {
	case s.BallVX > 0:
		b.WriteString("right")
	case s.BallVX < 0:
		b.WriteString("left")
	default:
		b.WriteString("vertically")
	}
	if vert != "" {
		b.WriteString(" and " + vert)
	}
	fmt.Fprintf(b, " (%s px/frame across, %s)", fixed(math.Abs(s.BallVX), 2), signedWord(s.BallVY, 2, "", "down", "up"))
	frames, row, bounces, ok := c.Intercept(s)
	switch {
	case ok:
		b.WriteString(" toward your paddle")
		steps := frames / float64(t.info.FrameSkip)
		fmt.Fprintf(b, "; it reaches your paddle line in %s steps at y %s", fixed(steps, 1), y(row))
		switch {
		case bounces == 1 && s.BallVY > 0:
			b.WriteString(" after a bounce off the bottom wall")
		case bounces == 1:
			b.WriteString(" after a bounce off the top wall")
		case bounces > 1:
			fmt.Fprintf(b, " after %d wall bounces", bounces)
		}
		d := s.AgentY - row // > 0: the paddle is below the intercept
		fmt.Fprintf(b, "; your paddle at y %s is ", y(s.AgentY))
		if h := fixed(math.Abs(d)/paddleH, 2); h == fixed(0, 2) {
			b.WriteString("level with that point")
		} else {
			fmt.Fprintf(b, "%s paddle heights %s that point", h, map[bool]string{true: "below", false: "above"}[d > 0])
		}
		need := (math.Abs(d) - paddleH/2) / t.stepTravel() // steps of travel until it covers the point
		move := "up (RIGHT)"
		if d < 0 {
			move = "down (LEFT)"
		}
		switch {
		case need <= 0:
			b.WriteString(", covering it")
		case need <= steps:
			fmt.Fprintf(b, ", reachable in %s steps moving %s", fixed(need, 1), move)
		default:
			fmt.Fprintf(b, ", OUT OF REACH (it needs %s steps moving %s)", fixed(need, 1), move)
		}
	case s.BallVX > 0:
		fmt.Fprintf(b, " and already past your paddle's face: the point is lost; your paddle at y %s", y(s.AgentY))
	default:
		fmt.Fprintf(b, " toward the opponent; your paddle at y %s", y(s.AgentY))
	}
}

// describePongAction names a discrete action: "RIGHT (paddle up)".
func (t *task) describePongAction(b *strings.Builder, action []float32) {
	v, acts := float64(action[0]), t.pong.Actions
	if math.IsNaN(v) || v != math.Trunc(v) || v < 0 || v >= float64(len(acts)) {
		fmt.Fprintf(b, "%s (invalid: not an integer in [0, %d])", fixed(v, 2), len(acts)-1)
		return
	}
	a := acts[int(v)]
	fmt.Fprintf(b, "%s (%s)", a.Name, pongActionEffect(a))
}
