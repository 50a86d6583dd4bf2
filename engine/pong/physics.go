package pong

import "math"

// Paddle travel: the paddles stay inside the playfield.
const (
	paddleMinY = PlayTop
	paddleMaxY = PlayBottom - PaddleH
)

// frame advances the game by one 60 Hz frame under the commanded action and
// returns the reward of the frame (+1 the agent scored, −1 the opponent
// did, else 0). Order: sticky action, the agent's paddle, the opponent's
// paddle, then the serve countdown or the ball.
func (e *Game) frame(cmd int) float64 {
	g, c := &e.g, &e.cfg
	a := cmd
	if c.StickyProb > 0 && g.rng.float() < c.StickyProb {
		a = g.lastAction
	}
	g.lastAction = a
	g.frame++

	switch a {
	case ActRight, ActRightFire:
		g.agentY = math.Max(paddleMinY, g.agentY-c.AgentSpeed)
	case ActLeft, ActLeftFire:
		g.agentY = math.Min(paddleMaxY, g.agentY+c.AgentSpeed)
	}

	// The opponent follows the ball's centre (the playfield's middle while
	// no ball is in play) at a capped speed.
	target := float64(centreY)
	if g.inPlay {
		target = g.ballY + BallH/2
	}
	d := target - (g.oppY + PaddleH/2)
	d = math.Max(-c.OpponentSpeed, math.Min(c.OpponentSpeed, d))
	g.oppY = math.Max(paddleMinY, math.Min(paddleMaxY, g.oppY+d))

	if !g.inPlay {
		if g.serveDelay > 0 {
			g.serveDelay--
		}
		if g.serveDelay == 0 {
			e.serve()
		}
		return 0
	}
	return e.moveBall()
}

// serve puts the ball on the centre line at a random height in the middle
// of the playfield, moving toward serveDir at BallSpeedX with a random
// vertical speed in ±[ServeMinVY, ServeMaxVY].
func (e *Game) serve() {
	g, c := &e.g, &e.cfg
	dir := g.serveDir
	if dir == 0 {
		dir = 1
		if g.rng.next()&1 == 0 {
			dir = -1
		}
	}
	const margin = 30
	g.ballX = centreX - BallW/2
	g.ballY = PlayTop + margin + g.rng.float()*float64(PlayBottom-PlayTop-2*margin-BallH)
	g.ballVX = float64(dir) * c.BallSpeedX
	vy := c.ServeMinVY + g.rng.float()*(c.ServeMaxVY-c.ServeMinVY)
	if g.rng.next()&1 == 0 {
		vy = -vy
	}
	g.ballVY = vy
	g.inPlay = true
}

// moveBall moves the ball one frame: wall bounces, paddle returns, and a
// point when it leaves the screen.
func (e *Game) moveBall() float64 {
	g := &e.g
	x0, y0 := g.ballX, g.ballY
	x, y := x0+g.ballVX, y0+g.ballVY
	// Walls: reflect inside [PlayTop, PlayBottom-BallH].
	if y < PlayTop {
		y, g.ballVY = 2*PlayTop-y, -g.ballVY
	} else if y > PlayBottom-BallH {
		y, g.ballVY = 2*(PlayBottom-BallH)-y, -g.ballVY
	}

	// Paddles: the ball's leading edge crossing a paddle's face this frame,
	// overlapping it in y at the crossing, returns it.
	switch {
	case g.ballVX > 0 && x0+BallW <= AgentX && x+BallW > AgentX:
		t := (AgentX - (x0 + BallW)) / g.ballVX
		if cy := y0 + t*(y-y0); overlaps(cy, g.agentY) {
			e.bounce(cy, g.agentY, -1)
			g.ballX, g.ballY = AgentX-BallW, cy
			return 0
		}
	case g.ballVX < 0 && x0 >= OpponentX+PaddleW && x < OpponentX+PaddleW:
		t := (x0 - (OpponentX + PaddleW)) / -g.ballVX
		if cy := y0 + t*(y-y0); overlaps(cy, g.oppY) {
			e.bounce(cy, g.oppY, 1)
			g.ballX, g.ballY = OpponentX+PaddleW, cy
			return 0
		}
	}
	g.ballX, g.ballY = x, y

	switch {
	case x+BallW <= 0: // past the opponent
		g.agentScore++
		e.point(-1)
		return 1
	case x >= ScreenW: // past the agent
		g.oppScore++
		e.point(1)
		return -1
	}
	return 0
}

// overlaps reports whether a ball at row y touches a paddle at row py.
func overlaps(y, py float64) bool { return y+BallH > py && y < py+PaddleH }

// bounce sends the ball back in direction dir (±1) after it met a paddle
// at row py with its top at row y: the horizontal speed grows by
// BallSpeedUp (capped); the vertical speed is BounceMinVY at the paddle's
// centre, rising linearly to BounceMaxVY at its edge, pointing away from the
// centre (a dead-centre hit keeps the ball's vertical direction).
func (e *Game) bounce(y, py float64, dir float64) {
	g, c := &e.g, &e.cfg
	speed := math.Min(c.BallMaxSpeedX, math.Abs(g.ballVX)+c.BallSpeedUp)
	g.ballVX = dir * speed
	off := HitOffset(y, py)
	mag := c.BounceMinVY + (c.BounceMaxVY-c.BounceMinVY)*math.Abs(off)
	switch {
	case off < 0:
		g.ballVY = -mag
	case off > 0:
		g.ballVY = mag
	case g.ballVY < 0:
		g.ballVY = -mag
	default:
		g.ballVY = mag
	}
}

// HitOffset is where a ball with its top at row y meets a paddle whose top
// is at row py: −1 at the paddle's top edge, 0 at its centre, +1 at its
// bottom edge.
func HitOffset(y, py float64) float64 {
	off := ((y + BallH/2) - (py + PaddleH/2)) / ((PaddleH + BallH) / 2)
	return math.Max(-1, math.Min(1, off))
}

// point starts the serve delay; the next serve goes toward dir.
func (e *Game) point(dir int) {
	g := &e.g
	g.inPlay = false
	g.ballVX, g.ballVY = 0, 0
	g.serveDelay = e.cfg.ServeDelay
	g.serveDir = dir
	if g.serveDelay == 0 {
		g.serveDelay = 1 // serve on the next frame, not the scoring one
	}
}
