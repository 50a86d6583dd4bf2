//go:build render

package video

import (
	"image/gif"
	"os"
	"path/filepath"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func TestRecordHopper(t *testing.T) {
	spec := tasks.HopperSpec(tasks.DefaultHopper())
	v, err := env.New(spec, env.Config{NumEnvs: 1})
	if err != nil {
		t.Fatal(err)
	}
	want, err := eval.Run(v, eval.Zero{}, 2, 3)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		o     Options
		every int
	}{
		{"automatic stride", Options{Episodes: 2, Seed: 3, Width: 96, Height: 64, Overlay: true}, 5},
		{"every 20th step", Options{Episodes: 1, Seed: 3, Width: 64, Height: 64, Every: 20}, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hopper.gif")
			res, err := Record(spec, eval.Zero{}, path, GIF, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			frames := 0
			for i, e := range res.Episodes {
				if e.Return != want[i].Return || e.Length != want[i].Length {
					t.Errorf("episode %d: %+v, want eval.Run's %+v", i, e, want[i])
				}
				frames += stepsDrawn(e.Length, tc.every, 0)
			}
			if res.Every != tc.every || res.Frames != frames || res.FPS != 1/(0.008*float64(tc.every)) {
				t.Errorf("every %d, %d frames at %g/s; want every %d, %d frames", res.Every, res.Frames, res.FPS, tc.every, frames)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g, err := gif.DecodeAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Image) != frames || g.Config.Width != tc.o.Width || g.Config.Height != tc.o.Height {
				t.Errorf("GIF: %d frames of %d×%d, want %d of %d×%d", len(g.Image), g.Config.Width, g.Config.Height, frames, tc.o.Width, tc.o.Height)
			}
			if string(g.Image[0].Pix) == string(g.Image[len(g.Image)-1].Pix) {
				t.Error("the first and last frames of a falling hopper are the same")
			}
		})
	}
}
