package pong

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

func rgbAt(f []uint8, row, col int) [3]uint8 {
	i := (row*ScreenW + col) * 3
	return [3]uint8{f[i], f[i+1], f[i+2]}
}

func TestFramePalette(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Obs = ObsPixels
	g := newGame(t, cfg)
	set := ballAt(80, 100, 2, 1)
	set[sAgentY], set[sOppY], set[sAgentScore], set[sOppScore] = 50, 150, 3, 12
	restoreWith(t, g, set)
	f := g.Frame(nil)
	if len(f) != ScreenH*ScreenW*3 {
		t.Fatalf("frame has %d bytes", len(f))
	}
	checks := []struct {
		name     string
		row, col int
		want     [3]uint8
	}{
		{"ball", 100, 80, ColorBall}, {"ball", 103, 81, ColorBall},
		{"agent paddle", 50, 140, ColorAgent}, {"agent paddle", 65, 143, ColorAgent},
		{"opponent paddle", 150, 16, ColorOpponent}, {"opponent paddle", 165, 19, ColorOpponent},
		{"playfield", 120, 60, ColorBackground}, {"below the ball", 104, 80, ColorBackground},
		{"above the agent paddle", 49, 140, ColorBackground}, {"behind the agent paddle", 50, 144, ColorBackground},
		{"top wall", 24, 0, ColorBall}, {"top wall", 33, 159, ColorBall},
		{"bottom wall", 194, 70, ColorBall}, {"bottom wall", 209, 159, ColorBall},
		{"border", 0, 0, ColorBackground}, {"border", 22, 80, ColorBackground},
	}
	for _, c := range checks {
		if got := rgbAt(f, c.row, c.col); got != c.want {
			t.Errorf("%s at row %d col %d: %v, want %v", c.name, c.row, c.col, got, c.want)
		}
	}
	// Scores in the border, each in its player's colour: the opponent's
	// left of the centre, the agent's right of it.
	count := func(c [3]uint8, c0, c1 int) int {
		n := 0
		for r := 0; r < WallTop; r++ {
			for col := c0; col < c1; col++ {
				if rgbAt(f, r, col) == c {
					n++
				}
			}
		}
		return n
	}
	if count(ColorOpponent, 0, 80) == 0 || count(ColorAgent, 80, 160) == 0 || count(ColorAgent, 0, 80) != 0 || count(ColorOpponent, 80, 160) != 0 {
		t.Error("scores are not drawn in their players' colours on their sides")
	}
	// Two digits (12) take more pixels than one (3).
	if count(ColorOpponent, 0, 80) <= count(ColorAgent, 80, 160) {
		t.Error("the opponent's 12 is not larger than the agent's 3")
	}

	// Binary80 marks exactly the paddles and the ball: agent rows 50-65 →
	// crop rows 8-15 (rows 51, 53, …, 65), columns 140, 142 → 70, 71;
	// opponent rows 150-165 → crop rows 58-65, columns 8, 9; ball rows
	// 100-103 → crop rows 33, 34 (rows 101, 103), column 40.
	bin := make([]float32, Crop*Crop)
	Binary80(f, bin)
	want := make([]float32, Crop*Crop)
	for r := 8; r <= 15; r++ {
		want[r*Crop+70], want[r*Crop+71] = 1, 1
	}
	for r := 58; r <= 65; r++ {
		want[r*Crop+8], want[r*Crop+9] = 1, 1
	}
	want[33*Crop+40], want[34*Crop+40] = 1, 1
	for i := range bin {
		if bin[i] != want[i] {
			t.Fatalf("Binary80 at row %d col %d = %v, want %v", i/Crop, i%Crop, bin[i], want[i])
		}
	}
}

func TestPixelObservation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Obs = ObsPixels
	v, err := env.New(Spec(cfg), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	obs, _ := v.Reset(3)
	if len(obs) != 2*4*84*84 {
		t.Fatalf("%d observation values, want %d", len(obs), 2*4*84*84)
	}
	const plane = Side * Side
	bg, white := float32(Gray(ColorBackground))/255, float32(Gray(ColorBall))/255
	inRange := func(o []float32) {
		t.Helper()
		for i, x := range o {
			if !(x >= 0 && x <= 1) || x < bg-1e-5 || x > white+1e-5 {
				t.Fatalf("value %d = %v outside [%v, %v] ⊂ [0, 1]", i, x, bg, white)
			}
		}
	}
	inRange(obs)
	for c := 1; c < FrameStack; c++ { // reset repeats the first frame
		for i := 0; i < plane; i++ {
			if obs[c*plane+i] != obs[i] {
				t.Fatalf("after reset plane %d differs from plane 0 at %d", c, i)
			}
		}
	}
	// Background pixels are the background's luma, walls the white's.
	if math.Abs(float64(obs[60*Side+40]-bg)) > 1e-5 || math.Abs(float64(obs[10*Side+40]-white)) > 1e-5 {
		t.Fatalf("playfield %v, wall %v; want %v, %v", obs[60*Side+40], obs[10*Side+40], bg, white)
	}
	prev := append([]float32(nil), obs...)
	acts := []float32{ActRight, ActLeft}
	for s := 0; s < 30; s++ {
		res, err := v.Step(acts)
		if err != nil {
			t.Fatal(err)
		}
		inRange(res.Obs)
		// Channel-first, oldest first: planes shift down by one each step.
		for e := 0; e < 2; e++ {
			o, p := res.Obs[e*FrameStack*plane:], prev[e*FrameStack*plane:]
			for c := 0; c < FrameStack-1; c++ {
				for i := 0; i < plane; i++ {
					if o[c*plane+i] != p[(c+1)*plane+i] {
						t.Fatalf("step %d env %d: plane %d is not the previous plane %d", s, e, c, c+1)
					}
				}
			}
		}
		prev = append(prev[:0], res.Obs...)
	}
	// Env 0 held RIGHT (paddle up), env 1 LEFT (down): the newest plane's
	// agent column (source 140-143 → column ~73) is brightest near the top
	// and the bottom respectively.
	brightRow := func(e int) int {
		o := prev[e*FrameStack*plane+3*plane:]
		best, at := float32(0), -1
		for r := 14; r < 77; r++ { // playfield rows only
			if x := o[r*Side+73]; x > best {
				best, at = x, r
			}
		}
		return at
	}
	if up, down := brightRow(0), brightRow(1); !(up < 25 && down > 65) {
		t.Errorf("agent paddle at resized rows %d (RIGHT) and %d (LEFT); want near the top and the bottom", up, down)
	}
}

// TestMaxOfTwoFrames checks a plane holds the ball at both of the step's
// last two frames.
func TestMaxOfTwoFrames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Obs = ObsPixels
	g := newGame(t, cfg)
	set := ballAt(60, 100, 3.5, 0) // 3.5 px a frame: the two frames' balls are apart
	set[sOppY] = 94                // level with the ball: the opponent stays put
	obs := restoreWith(t, g, set)
	step(t, g, ActNoop, obs)
	h := g.g.hist[g.g.head]
	if h[1].ballX-h[0].ballX != 3.5 {
		t.Fatalf("last two frames' ball x %v, %v", h[0].ballX, h[1].ballX)
	}
	one := newGame(t, cfg) // the same step's plane from the last frame alone
	one.g = g.g
	one.g.hist[one.g.head][0] = h[1]
	one.renderPlane(one.g.head)
	var sumTwo, sumOne float64
	for i, x := range g.stack[g.g.head] {
		sumTwo += float64(x)
		sumOne += float64(one.stack[one.g.head][i])
	}
	// The second ball adds 8 source pixels of white over the background.
	if d := (sumTwo - sumOne) * (ScreenH * ScreenW) / (Side * Side) * 255 / (236 - 87); d < 7.9 || d > 8.1 {
		t.Errorf("max of two frames adds %.3f source pixels of ball, want 8", d)
	}
}

// TestResizeMatchesPlanes checks the exported Resize (used on ALE screens)
// against the incremental renderer: the resized gray of the full frame is
// the observation's newest plane whenever both frames of the step agree
// (right after a reset).
func TestResizeMatchesPlanes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Obs = ObsPixels
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	obs := make([]float32, PixelObsDim)
	g.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	rgb := g.Frame(nil)
	gray := make([]uint8, ScreenH*ScreenW)
	for i := range gray {
		gray[i] = Gray([3]uint8{rgb[3*i], rgb[3*i+1], rgb[3*i+2]})
	}
	plane := make([]float32, Side*Side)
	Resize(gray, plane)
	newest := obs[(FrameStack-1)*Side*Side:]
	for i := range plane {
		if math.Abs(float64(plane[i]-newest[i])) > 1e-6 {
			t.Fatalf("pixel %d: Resize %v, renderer %v", i, plane[i], newest[i])
		}
	}
}
