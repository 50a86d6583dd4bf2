package pong

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
)

func TestRendererScalesTheFrame(t *testing.T) {
	g, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	obs := make([]float32, NumFeatures)
	g.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	for k := 0; k < 40; k++ { // the ball in play
		g.Step([]float32{ActRight}, obs)
	}
	snap, frame := g.Snapshot(nil), g.Frame(nil)
	g.Step([]float32{ActLeft}, obs)
	g.Step([]float32{ActLeft}, obs)
	other := g.Snapshot(nil)
	tests := []struct {
		name          string
		w, h          int
		wantW, wantH  int
		scaleX, scale int
	}{
		{"default", 0, 0, 480, 630, 3, 3},
		{"width only", 320, 0, 320, 420, 2, 2},
		{"height only", 0, 210, 160, 210, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := env.NewRenderer(Spec(DefaultConfig()), tc.w, tc.h)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			img, err := r.Render(snap, nil)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds() != image.Rect(0, 0, tc.wantW, tc.wantH) {
				t.Fatalf("size %v, want %d×%d", img.Bounds(), tc.wantW, tc.wantH)
			}
			for y := 0; y < tc.wantH; y++ {
				for x := 0; x < tc.wantW; x++ {
					c, i := img.RGBAAt(x, y), 3*((y/tc.scale)*ScreenW+x/tc.scaleX)
					if c.R != frame[i] || c.G != frame[i+1] || c.B != frame[i+2] || c.A != 255 {
						t.Fatalf("pixel (%d, %d) = %v, want the frame's %v scaled ×%d", x, y, c, frame[i:i+3], tc.scale)
					}
				}
			}
			b, err := r.Render(other, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(b.Pix) == string(img.Pix) {
				t.Error("two states two steps apart drew the same image")
			}
			again, err := r.Render(snap, b)
			if err != nil {
				t.Fatal(err)
			}
			if string(again.Pix) != string(img.Pix) {
				t.Error("the same snapshot drew different images")
			}
		})
	}
	if _, err := NewRenderer(DefaultConfig(), 5000, 10); err == nil {
		t.Error("a 5000-pixel-wide image was accepted")
	}
	r, _ := NewRenderer(DefaultConfig(), 0, 0)
	if _, err := r.Render(snap[:3], nil); err == nil {
		t.Error("a short snapshot was drawn")
	}
}
