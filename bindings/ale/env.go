//go:build ale

package ale

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
)

// Available reports whether this build has the ALE binding.
const Available = true

// Resolve makes the spec of an ALE env id (see the package doc), looking
// the ROM up with [FindROM]. It is the registry's resolver for "ale:" ids.
func Resolve(id string) (env.Spec, error) {
	game, obs, err := ParseID(id)
	if err != nil {
		return env.Spec{}, err
	}
	spec, err := Spec(DefaultConfig(game, obs))
	if err != nil {
		return env.Spec{}, fmt.Errorf("env %q: %w", id, err)
	}
	return spec, nil
}

// withROM returns c with its ROM looked up by [FindROM] when unset.
func (c Config) withROM() (Config, error) {
	if c.ROM != "" {
		return c, nil
	}
	rom, err := FindROM(c.Game)
	c.ROM = rom
	return c, err
}

// actionNames are ALE's names of its 18 player-A actions, by id.
var actionNames = [...]string{"NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT",
	"DOWNLEFT", "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE"}

// ActionName is ALE's name of action id a.
func ActionName(a int) string {
	if a >= 0 && a < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("ACTION_%d", a)
}

// Spec describes the game under cfg. It opens the ROM once to read the
// game's minimal action set, so a missing or unsupported ROM fails here.
func Spec(cfg Config) (env.Spec, error) {
	if err := cfg.validate(); err != nil {
		return env.Spec{}, err
	}
	cfg, err := cfg.withROM()
	if err != nil {
		return env.Spec{}, err
	}
	em, err := Open(cfg.ROM, OpenOptions{Mode: cfg.Mode, Difficulty: cfg.Difficulty})
	if err != nil {
		return env.Spec{}, err
	}
	actions := append([]int(nil), em.MinimalActions()...)
	em.Close()
	if len(actions) == 0 {
		return env.Spec{}, fmt.Errorf("ale: %s has an empty minimal action set", cfg.ROM)
	}
	if cfg.Game == "pong" && len(actions) != pong.NumActions {
		return env.Spec{}, fmt.Errorf("ale: %s: %d minimal actions, want Pong's %d: is it the Pong ROM?", cfg.ROM, len(actions), pong.NumActions)
	}
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = ActionName(a)
	}
	s := env.Spec{
		ID:              ID(cfg.Game, cfg.Obs),
		Family:          env.FamilyAtari,
		Action:          env.Discrete(len(actions)),
		MaxEpisodeSteps: cfg.MaxFrames / cfg.FrameSkip,
		New:             func(opts env.Options) (env.Env, error) { return newGame(cfg, opts) },
	}
	what := fmt.Sprintf("Atari 2600 %s through ALE %s (actions %s)", cfg.Game, Version(), strings.Join(names, ", "))
	switch cfg.Obs {
	case ObsPixels:
		s.Doc = what + " from pixels: 4 stacked 84×84 grayscale frames"
		ns := pong.Specs()[1]
		s.Observation, s.ObsLayout, s.Image = ns.Observation, ns.ObsLayout, ns.Image
	case ObsRAM:
		s.Doc = what + " from its 128 RAM bytes ÷ 255"
		lo, hi := make([]float32, RAMSize), make([]float32, RAMSize)
		s.ObsLayout = make([]env.Field, RAMSize)
		for i := range hi {
			hi[i] = 1
			s.ObsLayout[i] = env.Field{Name: fmt.Sprintf("ram[%d]", i), Unit: "byte/255", Doc: fmt.Sprintf("RAM byte 0x%02x (address 0x%02x) ÷ 255", i, 0x80+i)}
		}
		s.Observation = env.Box(lo, hi)
	case ObsFeatures:
		s.Doc = what + " from the native pong env's six features, decoded from RAM"
		ns := pong.Specs()[0]
		s.Observation, s.ObsLayout = ns.Observation, ns.ObsLayout
		s.Info = ns.Info // the native game's description, which the features follow
	}
	return s, nil
}

// pongScales is the native game's configuration, whose speed scales the
// ale:pong features share.
var pongScales = pong.DefaultConfig()

// Game is one ALE env instance; it implements [env.Env].
type Game struct {
	cfg     Config
	em      *Emulator
	actions []int
	gray    []byte // the step's max-pooled grayscale screen (pixels)
	ram     []byte
	stack   [pong.FrameStack][]float32 // pixels: stack[head] newest
	head    int
	track   PongTracker // features
	state   []byte      // Snapshot scratch
	err     error       // a failed Reset, reported by the next Step
}

var _ env.Env = (*Game)(nil)

// New makes a game with cfg (the ROM looked up when cfg.ROM is empty).
func New(cfg Config) (*Game, error) {
	cfg, err := cfg.withROM()
	if err != nil {
		return nil, err
	}
	return newGame(cfg, env.Options{})
}

func newGame(cfg Config, opts env.Options) (*Game, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if opts.ResetNoise != nil && *opts.ResetNoise != 0 {
		return nil, fmt.Errorf("ale: reset noise %g: Atari games have no reset noise (their randomness is the no-op start and sticky actions); leave it unset or 0", *opts.ResetNoise)
	}
	em, err := Open(cfg.ROM, OpenOptions{StickyProb: cfg.StickyProb, Mode: cfg.Mode, Difficulty: cfg.Difficulty})
	if err != nil {
		return nil, err
	}
	g := &Game{cfg: cfg, em: em, actions: em.MinimalActions(), ram: make([]byte, RAMSize)}
	if cfg.Obs == ObsPixels {
		g.gray = make([]byte, ScreenH*ScreenW)
		for c := range g.stack {
			g.stack[c] = make([]float32, pong.Side*pong.Side)
		}
	}
	return g, nil
}

// Emulator returns the game's emulator (for its screens and RAM).
func (g *Game) Emulator() *Emulator { return g.em }

// Reset implements env.Env: ALE's reset with the sticky-action generator
// seeded from r, then up to NoopMax NOOP frames.
func (g *Game) Reset(r *rand.Rand, obs []float32) {
	g.err = g.em.Reset(r.Uint32())
	for n := r.IntN(g.cfg.NoopMax + 1); n > 0 && g.err == nil; n-- {
		var over bool
		if _, _, over, g.err = g.em.Step(0, 1, nil, nil); over && g.err == nil {
			g.err = g.em.Reset(r.Uint32())
		}
	}
	g.em.RAM(g.ram)
	g.track.Reset()
	g.track.Update(g.ram, 0)
	if g.cfg.Obs == ObsPixels {
		pong.Resize(g.em.ScreenGray(g.gray), g.stack[0])
		for c := 1; c < len(g.stack); c++ {
			copy(g.stack[c], g.stack[0])
		}
		g.head = 0
	}
	g.writeObs(obs)
}

// Step implements env.Env. The action is an index into the minimal action
// set; anything else acts as NOOP. An emulator failure is returned wrapping
// env.ErrUnstable, so the VecEnv truncates the episode and resets.
func (g *Game) Step(action []float32, obs []float32) (float64, bool, error) {
	if g.err != nil {
		return 0, false, fmt.Errorf("%w: %v", env.ErrUnstable, g.err)
	}
	a := g.actions[0]
	if len(action) > 0 && action[0] >= 0 && int(action[0]) < len(g.actions) {
		a = g.actions[int(action[0])]
	}
	var gray []byte
	if g.cfg.Obs == ObsPixels {
		gray = g.gray
	}
	reward, frames, over, err := g.em.Step(a, g.cfg.FrameSkip, gray, g.ram)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %v", env.ErrUnstable, err)
	}
	if gray != nil {
		g.head = (g.head + 1) % len(g.stack)
		pong.Resize(gray, g.stack[g.head])
	}
	if g.cfg.Obs == ObsFeatures {
		g.track.Update(g.ram, frames)
	}
	g.writeObs(obs)
	return float64(reward), over, nil
}

// writeObs writes the current observation.
func (g *Game) writeObs(obs []float32) {
	switch g.cfg.Obs {
	case ObsPixels:
		n := pong.Side * pong.Side
		for c := range g.stack {
			copy(obs[c*n:(c+1)*n], g.stack[(g.head+1+c)%len(g.stack)])
		}
	case ObsRAM:
		for i, b := range g.ram[:RAMSize] {
			obs[i] = float32(b) / 255
		}
	case ObsFeatures:
		g.track.Last().Features(obs, pongScales)
	}
}

// Close implements env.Env.
func (g *Game) Close() error { return g.em.Close() }

// Snapshot layout: a header, the tracker, the emulator state packed four
// bytes per value, then (pixels) the stacked planes oldest first.
const (
	snapMagic   = 0x616c65 // "ale"
	snapVersion = 1
	snapHeader  = 8 // magic, version, state bytes, then the tracker's ball: in play, x, y, vx, vy
)

// Snapshot implements env.Env: the emulator's full state (RNG included),
// the feature tracker and the frame stack.
func (g *Game) Snapshot(dst []float64) []float64 {
	st, err := g.em.Clone(g.state)
	if err != nil {
		return dst[:0] // Restore rejects an empty snapshot
	}
	g.state = st
	words := (len(st) + 3) / 4
	n := snapHeader + words
	if g.cfg.Obs == ObsPixels {
		n += len(g.stack) * pong.Side * pong.Side
	}
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	dst[0], dst[1], dst[2] = snapMagic, snapVersion, float64(len(st))
	b := g.track.last
	dst[3], dst[4], dst[5], dst[6], dst[7] = b2f(b.BallInPlay), b.BallX, b.BallY, b.BallVX, b.BallVY
	var w [4]byte
	for i := 0; i < words; i++ {
		w = [4]byte{}
		copy(w[:], st[4*i:])
		dst[snapHeader+i] = float64(binary.LittleEndian.Uint32(w[:]))
	}
	k := snapHeader + words
	if g.cfg.Obs == ObsPixels {
		for c := 1; c <= len(g.stack); c++ {
			for _, v := range g.stack[(g.head+c)%len(g.stack)] {
				dst[k] = float64(v)
				k++
			}
		}
	}
	return dst
}

// ErrBadSnapshot marks a snapshot that is not an ALE state of this game.
var ErrBadSnapshot = errors.New("ale: bad snapshot")

// Restore implements env.Env.
func (g *Game) Restore(snap []float64, obs []float32) error {
	if len(snap) < snapHeader || snap[0] != snapMagic || snap[1] != snapVersion {
		return fmt.Errorf("%w: not a version-%d ALE snapshot", ErrBadSnapshot, snapVersion)
	}
	nb := snap[2]
	if nb != math.Trunc(nb) || nb < 1 || nb > float64(4*len(snap)) {
		return fmt.Errorf("%w: state size %v", ErrBadSnapshot, nb)
	}
	words := (int(nb) + 3) / 4
	want := snapHeader + words
	if g.cfg.Obs == ObsPixels {
		want += len(g.stack) * pong.Side * pong.Side
	}
	if len(snap) != want {
		return fmt.Errorf("%w: %d values, want %d for %s", ErrBadSnapshot, len(snap), want, ID(g.cfg.Game, g.cfg.Obs))
	}
	st := resize(g.state, 4*words)
	for i := 0; i < words; i++ {
		v := snap[snapHeader+i]
		if v != math.Trunc(v) || v < 0 || v > math.MaxUint32 {
			return fmt.Errorf("%w: state word %d is %v", ErrBadSnapshot, i, v)
		}
		binary.LittleEndian.PutUint32(st[4*i:], uint32(v))
	}
	if err := g.em.Restore(st[:int(nb)]); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	g.state = st
	g.err = nil
	g.em.RAM(g.ram)
	if g.cfg.Obs == ObsFeatures { // positions from RAM, the ball's velocity from the snapshot
		g.track.Reset()
		s := g.track.Update(g.ram, 0)
		if s.BallInPlay && snap[3] == 1 {
			s.BallVX, s.BallVY = snap[6], snap[7]
		}
		g.track.last = s
	}
	k := snapHeader + words
	if g.cfg.Obs == ObsPixels {
		g.head = len(g.stack) - 1
		for c := range g.stack {
			for i := range g.stack[c] {
				g.stack[c][i] = float32(snap[k])
				k++
			}
		}
	}
	g.writeObs(obs)
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
