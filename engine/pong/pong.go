// Package pong is a native Go Pong that follows the Atari 2600 game
// (Video Olympics, game 1) as an ALE agent sees it: the ULTRA paper's
// sparse-reward benchmark, without the ALE or a ROM. It is written from the
// game's public, documented behaviour; no emulator or ROM code is used.
//
// The agent plays the right (green) paddle; the left (orange) paddle is a
// built-in opponent that follows the ball's height at a limited speed. The
// ball bounces off the top and bottom walls; it leaves a paddle more steeply
// the nearer the paddle's edge it hits, and a little faster after every
// return (up to a cap). When the ball leaves the screen behind a paddle the
// other side scores: reward +1 when the agent scores, −1 when the opponent
// does. After a point the ball is served again, after a short delay, from
// the centre line toward the side that lost the point. The game ends
// (terminated) when either side reaches 21.
//
// Actions are ALE's minimal set for Pong: 0 NOOP, 1 FIRE, 2 RIGHT, 3 LEFT,
// 4 RIGHTFIRE, 5 LEFTFIRE. As in ALE Pong, RIGHT moves the agent's paddle up
// and LEFT moves it down; FIRE does nothing (the game serves by itself).
// One step repeats the action for [Config.FrameSkip] frames (4) and sums the
// rewards; with [Config.StickyProb] > 0 every frame instead repeats the
// previous frame's action with that probability (ALE v5's
// repeat_action_probability 0.25, see [V5Config]). Episodes are truncated
// after [Config.MaxFrames] frames (ALE's 108000), i.e. MaxFrames/FrameSkip
// steps.
//
// Two observation modes ([Config.Obs]):
//
//   - "features" (spec id "pong"): 6 float32 values, see [FeatBallX] for the
//     index → meaning and scaling;
//   - "pixels" (spec id "pong-pixels"): the frames are rendered as 210×160
//     RGB in the Atari layout and palette (see [Game.Frame]) and preprocessed as
//     the usual Atari wrappers do: grayscale, the maximum over the last two
//     frames of the frame skip, area-averaged resize to 84×84, a stack of the
//     last 4 such frames, channel-first (obs[c*84*84 + row*84 + col], c = 0
//     the oldest, 3 the newest), values in [0, 1]. [Binary80] gives the
//     80×80 binary crop that the ULTRA paper's state interpretation reads.
//
// Randomness (serve height, direction at the first serve, serve angle and
// sticky actions) comes from a small generator private to each game, seeded
// from the *rand.Rand passed to Reset. Its state is part of the snapshot,
// so a game restored from a [Game.Snapshot] replays bit-identically.
//
// Differences from the ROM as ALE runs it:
//
//   - Physics constants are approximations chosen to play alike (ball
//     speeds, speed-up per return, angles, paddle speeds, serve delay; see
//     [DefaultConfig]); positions are continuous (float64, sub-pixel) and
//     rendered by rounding, where the 2600 moves objects in whole pixels.
//   - The deflection angle is a continuous function of where the ball meets
//     the paddle (centre: flattest, edge: steepest); the ROM's angles are a
//     small discrete set. A return is never perfectly flat.
//   - The agent's paddle moves at a constant speed with no momentum; the
//     ROM's paddle has some inertia. The paddles stay inside the
//     playfield.
//   - The opponent AI is simplified: it moves its centre toward the ball's
//     centre at a capped speed (toward the middle while no ball is in play),
//     so it can be beaten by steep, fast returns.
//   - Serves come from the centre line at a random height and angle toward
//     the side that lost the point (the first serve in a random direction).
//   - Sprites approximate the frame: paddles 4×16, ball 2×4, walls, scores
//     in a blocky font of our own; the score digits' shapes and places
//     differ from the ROM's. The colours are the NTSC palette entries Pong
//     uses (see [ColorBackground]).
//   - Grayscale is round(0.299 R + 0.587 G + 0.114 B) per colour ([Gray]),
//     close to but not necessarily equal to ALE's own grayscale table.
//   - No sound, no game-select or difficulty switches, no flicker; the game
//     starts at once without a reset/start sequence, and ALE's random no-op
//     starts are not applied.
package pong

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"github.com/ultra-rl/ultra/engine/env"
)

// Observation modes.
const (
	ObsFeatures = "features"
	ObsPixels   = "pixels"
)

// Actions: ALE's minimal action set for Pong.
const (
	ActNoop      = 0
	ActFire      = 1
	ActRight     = 2 // paddle up
	ActLeft      = 3 // paddle down
	ActRightFire = 4 // paddle up
	ActLeftFire  = 5 // paddle down
	NumActions   = 6
)

// ActionNames are the ALE names of the actions, by index.
var ActionNames = [NumActions]string{"NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"}

// Screen geometry, in pixels of the 210×160 Atari frame (rows grow down).
const (
	ScreenH = 210
	ScreenW = 160

	PlayTop    = 34  // first playfield row (the top wall is rows 24-33)
	PlayBottom = 194 // first row of the bottom wall (rows 194-209)
	WallTop    = 24  // first row of the top wall

	PaddleW   = 4
	PaddleH   = 16
	AgentX    = 140 // first column of the agent's (right, green) paddle
	OpponentX = 16  // first column of the opponent's (left, orange) paddle
	BallW     = 2
	BallH     = 4

	centreX = ScreenW / 2                // 80
	centreY = (PlayTop + PlayBottom) / 2 // 114
	halfX   = ScreenW / 2                // feature scale of x
	halfY   = (PlayBottom - PlayTop) / 2 // feature scale of y: 80
)

// Config names every coefficient of the game. Speeds are in pixels per
// frame (60 frames per second); y grows downward.
type Config struct {
	Obs        string  // "features" (default) or "pixels"
	FrameSkip  int     // frames per step; rewards are summed (4)
	StickyProb float64 // per frame, the previous frame's action is repeated with this probability (0; ALE v5: 0.25)
	MaxFrames  int     // truncation after this many frames (ALE's 108000)
	WinScore   int     // the game ends when either side reaches this score (21)

	ServeDelay    int     // frames without a ball after a point (and at the start) before the serve (30)
	BallSpeedX    float64 // horizontal speed of a served ball (2)
	BallSpeedUp   float64 // added to the horizontal speed by every paddle return (0.1)
	BallMaxSpeedX float64 // cap on the horizontal speed (3.5)
	ServeMinVY    float64 // the serve's vertical speed is uniform in ±[ServeMinVY, ServeMaxVY] (0.5)
	ServeMaxVY    float64 // (1.5)
	BounceMinVY   float64 // vertical speed after a return off the paddle's centre (0.5)
	BounceMaxVY   float64 // vertical speed after a return off the paddle's very edge (3); linear in between
	AgentSpeed    float64 // the agent's paddle speed while RIGHT/LEFT is held (3)
	OpponentSpeed float64 // the opponent's top paddle speed (2)
}

// DefaultConfig returns the defaults documented on [Config]: features,
// frame skip 4, no sticky actions (ALE v4 "Deterministic" style), 108000
// frames, first to 21.
func DefaultConfig() Config {
	return Config{
		Obs: ObsFeatures, FrameSkip: 4, StickyProb: 0, MaxFrames: 108000, WinScore: 21,
		ServeDelay: 30, BallSpeedX: 2, BallSpeedUp: 0.1, BallMaxSpeedX: 3.5,
		ServeMinVY: 0.5, ServeMaxVY: 1.5, BounceMinVY: 0.5, BounceMaxVY: 3,
		AgentSpeed: 3, OpponentSpeed: 2,
	}
}

// V5Config is DefaultConfig with ALE v5's sticky actions
// (repeat_action_probability 0.25).
func V5Config() Config {
	c := DefaultConfig()
	c.StickyProb = 0.25
	return c
}

// validate reports the first bad coefficient.
func (c Config) validate() error {
	switch {
	case c.Obs != ObsFeatures && c.Obs != ObsPixels:
		return fmt.Errorf("pong: Obs %q: want %q or %q", c.Obs, ObsFeatures, ObsPixels)
	case c.FrameSkip < 1:
		return fmt.Errorf("pong: FrameSkip must be ≥ 1, got %d", c.FrameSkip)
	case !(c.StickyProb >= 0 && c.StickyProb < 1):
		return fmt.Errorf("pong: StickyProb must be in [0, 1), got %g", c.StickyProb)
	case c.MaxFrames < c.FrameSkip:
		return fmt.Errorf("pong: MaxFrames (%d) must be ≥ FrameSkip (%d)", c.MaxFrames, c.FrameSkip)
	case c.WinScore < 1:
		return fmt.Errorf("pong: WinScore must be ≥ 1, got %d", c.WinScore)
	case c.ServeDelay < 0:
		return fmt.Errorf("pong: ServeDelay must be ≥ 0, got %d", c.ServeDelay)
	case !(c.BallSpeedX > 0 && c.BallMaxSpeedX >= c.BallSpeedX && c.BallMaxSpeedX < BallW+PaddleW):
		return fmt.Errorf("pong: want 0 < BallSpeedX ≤ BallMaxSpeedX < %d, got %g, %g", BallW+PaddleW, c.BallSpeedX, c.BallMaxSpeedX)
	case !(c.BallSpeedUp >= 0):
		return fmt.Errorf("pong: BallSpeedUp must be ≥ 0, got %g", c.BallSpeedUp)
	case !(c.ServeMinVY >= 0 && c.ServeMaxVY >= c.ServeMinVY && c.ServeMaxVY < halfY):
		return fmt.Errorf("pong: want 0 ≤ ServeMinVY ≤ ServeMaxVY < %d, got %g, %g", halfY, c.ServeMinVY, c.ServeMaxVY)
	case !(c.BounceMinVY >= 0 && c.BounceMaxVY >= c.BounceMinVY && c.BounceMaxVY < halfY):
		return fmt.Errorf("pong: want 0 ≤ BounceMinVY ≤ BounceMaxVY < %d, got %g, %g", halfY, c.BounceMinVY, c.BounceMaxVY)
	case !(c.AgentSpeed > 0 && c.OpponentSpeed >= 0):
		return fmt.Errorf("pong: want AgentSpeed > 0 and OpponentSpeed ≥ 0, got %g, %g", c.AgentSpeed, c.OpponentSpeed)
	}
	return nil
}

// vyScale is the vertical speed that maps to ±1 in the features.
func (c Config) vyScale() float64 { return math.Max(math.Max(c.BounceMaxVY, c.ServeMaxVY), 1e-9) }

// Spec describes the game under cfg: id "pong" for features, "pong-pixels"
// for pixels.
func Spec(cfg Config) env.Spec {
	s := env.Spec{
		Family:          env.FamilyAtari,
		Action:          env.Discrete(NumActions),
		MaxEpisodeSteps: cfg.MaxFrames / max(cfg.FrameSkip, 1),
		DefaultNoise:    0,
		StepSeconds:     float64(cfg.FrameSkip) / framesPerSecond,
		New:             func(opts env.Options) (env.Env, error) { return newEnv(cfg, opts) },
		NewRenderer: func(width, height int) (env.Renderer, error) {
			r, err := NewRenderer(cfg, width, height)
			if err != nil {
				return nil, err
			}
			return r, nil
		},
	}
	if cfg.Obs == ObsPixels {
		s.ID = "pong-pixels"
		s.Doc = "Atari 2600 Pong from pixels (4 stacked 84×84 grayscale frames): the right paddle returns the ball past the left one; first to 21 wins"
		lo, hi := make([]float32, PixelObsDim), make([]float32, PixelObsDim)
		for i := range hi {
			hi[i] = 1
		}
		s.Observation = env.Box(lo, hi)
		s.ObsLayout = pixelLayout()
		s.Image = [3]int{FrameStack, Side, Side}
	} else {
		s.ID = "pong"
		s.Doc = "Atari 2600 Pong from features (ball and paddle positions, ball velocity): the right paddle returns the ball past the left one; first to 21 wins"
		s.Observation = env.UnboundedBox(NumFeatures)
		s.ObsLayout = featureLayout(cfg)
		s.Info = Info(cfg)
	}
	return s
}

// Info describes the game under cfg for what explains or judges its
// features observation: the goal, the frame timing, the game's geometry
// and speeds, the features' scales and the actions.
func Info(cfg Config) *env.TaskInfo {
	g := geometry
	g.WinScore, g.ServeDelay = cfg.WinScore, cfg.ServeDelay
	g.BallSpeedX, g.BallSpeedUp, g.BallMaxSpeedX = cfg.BallSpeedX, cfg.BallSpeedUp, cfg.BallMaxSpeedX
	g.BounceMinVY, g.BounceMaxVY, g.VYScale = cfg.BounceMinVY, cfg.BounceMaxVY, cfg.vyScale()
	g.AgentSpeed, g.OpponentSpeed = cfg.AgentSpeed, cfg.OpponentSpeed
	g.Actions = make([]env.PongAction, NumActions)
	for a := range g.Actions {
		g.Actions[a] = env.PongAction{Name: ActionNames[a]}
		switch a {
		case ActRight, ActRightFire:
			g.Actions[a].Move = -1
		case ActLeft, ActLeftFire:
			g.Actions[a].Move = 1
		case ActFire:
			g.Actions[a].Note = "FIRE does nothing: the game serves by itself"
		}
	}
	return &env.TaskInfo{
		Goal: fmt.Sprintf("win the game of Pong: return the ball with your paddle (the right, green one) and get it past the opponent's paddle "+
			"(the left, orange one, played by the game) before it gets one past yours; the game ends when either side reaches %d points", cfg.WinScore),
		FrameSkip: cfg.FrameSkip,
		Timestep:  1.0 / framesPerSecond,
		Pong:      &g,
	}
}

// framesPerSecond is the Atari 2600's (NTSC) frame rate.
const framesPerSecond = 60

// geometry is the game's geometry and the features' indices and scales,
// the part of its description no configuration changes.
var geometry = env.PongGame{
	Features: env.PongFeatures{BallX: FeatBallX, BallY: FeatBallY, BallVX: FeatBallVX, BallVY: FeatBallVY,
		AgentY: FeatAgentY, OpponentY: FeatOpponentY},
	PlayTop: PlayTop, PlayBottom: PlayBottom, PaddleW: PaddleW, PaddleH: PaddleH, BallW: BallW, BallH: BallH,
	AgentX: AgentX, OpponentX: OpponentX, CentreX: centreX, HalfX: halfX, CentreY: centreY, HalfY: halfY,
}

// Specs returns the features and pixels specs with the default config.
func Specs() []env.Spec {
	f, p := DefaultConfig(), DefaultConfig()
	p.Obs = ObsPixels
	return []env.Spec{Spec(f), Spec(p)}
}

// pixelLayout summarises each stacked frame with one field.
func pixelLayout() []env.Field {
	names := [FrameStack]string{"frame t-3 (oldest)", "frame t-2", "frame t-1", "frame t (newest)"}
	f := make([]env.Field, FrameStack)
	for c := range f {
		f[c] = env.Field{Name: names[c], Unit: "luma",
			Doc: fmt.Sprintf("values [%d, %d): %d×%d grayscale, row-major, max of the step's last two frames, area-resized from 210×160, 0 = black, 1 = white",
				c*Side*Side, (c+1)*Side*Side, Side, Side)}
	}
	return f
}

// rng is splitmix64: one uint64 of state, so it snapshots exactly.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// view is what one rendered frame shows.
type view struct {
	ballX, ballY         float64
	inPlay               bool
	agentY, opponentY    float64
	agentScore, oppScore int
}

// game is the complete simulator state (everything a snapshot holds).
type game struct {
	ballX, ballY   float64 // top-left of the ball, pixels
	ballVX, ballVY float64 // pixels per frame
	inPlay         bool
	agentY, oppY   float64 // top row of each paddle
	agentScore     int
	oppScore       int
	frame          int // frames since reset
	serveDelay     int // frames left before the next serve, while !inPlay
	serveDir       int // direction of the next serve: +1 toward the agent, −1 toward the opponent, 0 random
	lastAction     int // the action applied in the previous frame (sticky actions)
	rng            rng
	// hist holds the views of the last two frames of each of the last
	// FrameStack steps (hist[head] the newest): the pixel observation is
	// rendered from them, so snapshots stay small.
	hist [FrameStack][2]view
	head int
}

// Game is one Pong instance; it implements [env.Env].
type Game struct {
	cfg Config
	g   game

	pixels bool
	stack  [FrameStack][]float32 // preprocessed frames, stack[g.head] newest
	work   pixWork               // pixel-mode scratch
}

var _ env.Env = (*Game)(nil)

// New makes a game with cfg. It is [Spec]'s constructor without options.
func New(cfg Config) (*Game, error) { return newEnv(cfg, env.Options{}) }

func newEnv(cfg Config, opts env.Options) (*Game, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if opts.ResetNoise != nil && *opts.ResetNoise != 0 {
		return nil, fmt.Errorf("pong: reset noise %g: Pong has no reset noise (its randomness is the serve); leave it unset or 0", *opts.ResetNoise)
	}
	e := &Game{cfg: cfg, pixels: cfg.Obs == ObsPixels}
	if e.pixels {
		for c := range e.stack {
			e.stack[c] = make([]float32, Side*Side)
		}
		e.work.gray = append([]uint8(nil), bgGray...) // renderPlane keeps it the background outside dirty rows
	}
	return e, nil
}

// Bytes implements env.Sizer: the game state and, with pixel observations,
// the frame stack and rendering scratch.
func (e *Game) Bytes() int64 {
	b := int64(unsafe.Sizeof(*e))
	for _, f := range e.stack {
		b += int64(4 * cap(f))
	}
	return b + int64(cap(e.work.gray))
}

// Config returns the game's configuration.
func (e *Game) Config() Config { return e.cfg }

// Reset implements env.Env: scores 0-0, paddles centred, the first serve
// after ServeDelay frames in a random direction.
func (e *Game) Reset(r *rand.Rand, obs []float32) {
	g := &e.g
	*g = game{
		agentY: centreY - PaddleH/2, oppY: centreY - PaddleH/2,
		serveDelay: e.cfg.ServeDelay, rng: rng{s: r.Uint64()},
	}
	v := g.view()
	for c := range g.hist {
		g.hist[c] = [2]view{v, v}
	}
	if e.pixels {
		e.renderPlane(0)
		for c := 1; c < FrameStack; c++ {
			copy(e.stack[c], e.stack[0])
		}
	}
	e.writeObs(obs)
}

// Step implements env.Env. The action is one value in {0, …, 5}; anything
// else acts as NOOP.
func (e *Game) Step(action []float32, obs []float32) (float64, bool, error) {
	g := &e.g
	if e.over() {
		e.writeObs(obs)
		return 0, true, nil
	}
	a := ActNoop
	if len(action) > 0 && action[0] >= 0 && action[0] < NumActions {
		a = int(action[0])
	}
	reward := 0.0
	var prev view
	for f := 0; f < e.cfg.FrameSkip; f++ {
		prev = g.view()
		reward += e.frame(a)
		if e.over() {
			break
		}
	}
	g.head = (g.head + 1) % FrameStack
	g.hist[g.head] = [2]view{prev, g.view()}
	if e.pixels {
		e.renderPlane(g.head)
	}
	e.writeObs(obs)
	return reward, e.over(), nil
}

// over reports whether a side has won.
func (e *Game) over() bool {
	return e.g.agentScore >= e.cfg.WinScore || e.g.oppScore >= e.cfg.WinScore
}

// Close implements env.Env.
func (e *Game) Close() error { return nil }

func (g *game) view() view {
	return view{ballX: g.ballX, ballY: g.ballY, inPlay: g.inPlay, agentY: g.agentY, opponentY: g.oppY,
		agentScore: g.agentScore, oppScore: g.oppScore}
}

// writeObs writes the current observation.
func (e *Game) writeObs(obs []float32) {
	if !e.pixels {
		e.State().Features(obs, e.cfg)
		return
	}
	for c := 0; c < FrameStack; c++ {
		copy(obs[c*Side*Side:(c+1)*Side*Side], e.stack[(e.g.head+1+c)%FrameStack])
	}
}

// Snapshot layout: a header, the game, then the 2×FrameStack views oldest
// first.
const (
	snapMagic   = 0x706f6e67 // "pong"
	snapVersion = 1
	snapHeader  = 17
	viewLen     = 7
	SnapshotLen = snapHeader + 2*FrameStack*viewLen // values in a Snapshot
)

// Indices into a snapshot.
const (
	sMagic = iota
	sVersion
	sBallX
	sBallY
	sBallVX
	sBallVY
	sInPlay
	sAgentY
	sOppY
	sAgentScore
	sOppScore
	sFrame
	sServeDelay
	sServeDir
	sLastAction
	sRngHi
	sRngLo
)

// Snapshot implements env.Env: the full game state, the RNG and the views
// behind the frame stack, SnapshotLen values.
func (e *Game) Snapshot(dst []float64) []float64 {
	g := &e.g
	if cap(dst) < SnapshotLen {
		dst = make([]float64, SnapshotLen)
	}
	dst = dst[:SnapshotLen]
	dst[sMagic], dst[sVersion] = snapMagic, snapVersion
	dst[sBallX], dst[sBallY], dst[sBallVX], dst[sBallVY] = g.ballX, g.ballY, g.ballVX, g.ballVY
	dst[sInPlay] = b2f(g.inPlay)
	dst[sAgentY], dst[sOppY] = g.agentY, g.oppY
	dst[sAgentScore], dst[sOppScore] = float64(g.agentScore), float64(g.oppScore)
	dst[sFrame], dst[sServeDelay], dst[sServeDir] = float64(g.frame), float64(g.serveDelay), float64(g.serveDir)
	dst[sLastAction] = float64(g.lastAction)
	dst[sRngHi], dst[sRngLo] = float64(g.rng.s>>32), float64(g.rng.s&0xffffffff)
	k := snapHeader
	for c := 1; c <= FrameStack; c++ {
		for _, v := range g.hist[(g.head+c)%FrameStack] {
			dst[k], dst[k+1], dst[k+2], dst[k+3] = v.ballX, v.ballY, b2f(v.inPlay), v.agentY
			dst[k+4], dst[k+5], dst[k+6] = v.opponentY, float64(v.agentScore), float64(v.oppScore)
			k += viewLen
		}
	}
	return dst
}

// Restore implements env.Env.
func (e *Game) Restore(snap []float64, obs []float32) error {
	g, err := decode(snap, e.cfg)
	if err != nil {
		return err
	}
	e.g = g
	if e.pixels {
		for c := range e.stack {
			e.renderPlane(c)
		}
	}
	e.writeObs(obs)
	return nil
}

// ErrBadSnapshot marks a snapshot that is not a live Pong state.
var ErrBadSnapshot = errors.New("pong: bad snapshot")

// decode checks and unpacks a snapshot.
func decode(s []float64, cfg Config) (game, error) {
	bad := func(format string, a ...any) (game, error) {
		return game{}, fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, a...))
	}
	if len(s) != SnapshotLen {
		return bad("%d values, want %d", len(s), SnapshotLen)
	}
	if s[sMagic] != snapMagic || s[sVersion] != snapVersion {
		return bad("header %v %v is not a version-%d Pong snapshot", s[sMagic], s[sVersion], snapVersion)
	}
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("value %d is %v", i, v)
		}
	}
	intIn := func(v float64, lo, hi int) bool { return v == math.Trunc(v) && v >= float64(lo) && v <= float64(hi) }
	score := func(v float64) bool { return intIn(v, 0, cfg.WinScore-1) }
	flag := func(v float64) bool { return v == 0 || v == 1 }
	switch {
	case !score(s[sAgentScore]) || !score(s[sOppScore]):
		return bad("scores %v-%v: want integers below WinScore %d (a finished game is not a state)", s[sAgentScore], s[sOppScore], cfg.WinScore)
	case !flag(s[sInPlay]):
		return bad("in-play flag %v", s[sInPlay])
	case !intIn(s[sFrame], 0, math.MaxInt32) || !intIn(s[sServeDelay], 0, math.MaxInt32):
		return bad("frame %v or serve delay %v", s[sFrame], s[sServeDelay])
	case !intIn(s[sServeDir], -1, 1) || !intIn(s[sLastAction], 0, NumActions-1):
		return bad("serve direction %v or last action %v", s[sServeDir], s[sLastAction])
	case !intIn(s[sRngHi], 0, math.MaxUint32) || !intIn(s[sRngLo], 0, math.MaxUint32):
		return bad("RNG state %v %v", s[sRngHi], s[sRngLo])
	}
	g := game{
		ballX: s[sBallX], ballY: s[sBallY], ballVX: s[sBallVX], ballVY: s[sBallVY], inPlay: s[sInPlay] == 1,
		agentY: s[sAgentY], oppY: s[sOppY], agentScore: int(s[sAgentScore]), oppScore: int(s[sOppScore]),
		frame: int(s[sFrame]), serveDelay: int(s[sServeDelay]), serveDir: int(s[sServeDir]),
		lastAction: int(s[sLastAction]), rng: rng{s: uint64(s[sRngHi])<<32 | uint64(s[sRngLo])},
		head: FrameStack - 1,
	}
	k := snapHeader
	for c := 0; c < FrameStack; c++ {
		for j := range g.hist[c] {
			if !flag(s[k+2]) || !intIn(s[k+5], 0, 99) || !intIn(s[k+6], 0, 99) {
				return bad("frame-stack view %d", 2*c+j)
			}
			g.hist[c][j] = view{ballX: s[k], ballY: s[k+1], inPlay: s[k+2] == 1, agentY: s[k+3],
				opponentY: s[k+4], agentScore: int(s[k+5]), oppScore: int(s[k+6])}
			k += viewLen
		}
	}
	return g, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
