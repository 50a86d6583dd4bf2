//go:build render

package tasks

import (
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/mujoco"
)

// fallingHopper returns snapshots of a hopper under zero action at the
// given steps after a reset (seed 1), and the torso's height at each.
func fallingHopper(t *testing.T, steps ...int) (snaps [][]float64, heights []float64) {
	t.Helper()
	e, err := spec(t, "hopper").New(env.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	obs := make([]float32, 11)
	e.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	d := e.(interface{ Data() *mujoco.Data }).Data()
	act := make([]float32, 3)
	for k := 0; k <= steps[len(steps)-1]; k++ {
		for _, s := range steps {
			if s == k {
				snaps = append(snaps, e.Snapshot(nil))
				heights = append(heights, d.QPos()[1])
			}
		}
		if _, _, err := e.Step(act, obs); err != nil {
			t.Fatal(err)
		}
	}
	return snaps, heights
}

// robotTop is the first image row holding the robot's colour (rgba 0.8 0.6
// 0.4, lit: clearly more red than blue, unlike the grey floor and the blue
// sky), or -1.
func robotTop(img *image.RGBA) int {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.RGBAAt(x, y)
			if int(c.R) > int(c.B)+60 && c.R > c.G {
				return y
			}
		}
	}
	return -1
}

func TestTaskImages(t *testing.T) {
	for _, id := range []string{"hopper", "walker2d", "halfcheetah", "ant"} {
		t.Run(id, func(t *testing.T) {
			s := spec(t, id)
			r, err := env.NewRenderer(s, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			e, err := s.New(env.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			obs := make([]float32, s.Observation.Dim)
			e.Reset(rand.New(rand.NewPCG(3, 4)), obs)
			first := e.Snapshot(nil)
			act := make([]float32, s.Action.Dim)
			for i := range act {
				act[i] = 0.5
			}
			for k := 0; k < 30; k++ {
				e.Step(act, obs)
			}
			later := e.Snapshot(nil)
			a, err := r.Render(first, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.Bounds() != image.Rect(0, 0, 480, 480) {
				t.Errorf("default size %v, want 480×480 as Gymnasium", a.Bounds())
			}
			if robotTop(a) < 0 {
				t.Error("the robot's colour is nowhere in the image")
			}
			b, err := r.Render(later, nil)
			if err != nil {
				t.Fatal(err)
			}
			a2, err := r.Render(first, b.SubImage(b.Rect).(*image.RGBA)) // reuses b's pixels
			if err != nil {
				t.Fatal(err)
			}
			if string(a2.Pix) != string(a.Pix) {
				t.Error("the same snapshot gave different pixels")
			}
			if dir := os.Getenv("ULTRA_RENDER_DUMP"); dir != "" {
				f, _ := os.Create(filepath.Join(dir, id+".png"))
				png.Encode(f, a)
				f.Close()
			}
		})
	}
}

func TestFallingHopperImages(t *testing.T) {
	snaps, heights := fallingHopper(t, 0, 200, 400)
	if !(heights[0] > heights[1] && heights[1] > heights[2]) {
		t.Fatalf("torso heights %v: the hopper does not fall under zero action", heights)
	}
	m, err := Model("hopper.xml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cam  mujoco.Camera
		// falls: the robot's top row must move down the image as it falls
		// (a fixed camera); a tracking camera keeps it near the centre.
		falls bool
	}{
		{"fixed camera", mujoco.Camera{Distance: 4, Azimuth: 90, Elevation: -10}, true},
		{"tracking camera", hopperCamera, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := mujoco.NewRenderer(m, mujoco.RenderOptions{Width: 160, Height: 160, Camera: tc.cam})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var imgs []*image.RGBA
			var tops []int
			for _, s := range snaps {
				img, err := r.Render(s, nil)
				if err != nil {
					t.Fatal(err)
				}
				imgs, tops = append(imgs, img), append(tops, robotTop(img))
			}
			for i := range imgs {
				if tops[i] < 0 {
					t.Fatalf("image %d (torso at %.2f m) shows no robot", i, heights[i])
				}
				for j := i + 1; j < len(imgs); j++ {
					if string(imgs[i].Pix) == string(imgs[j].Pix) {
						t.Errorf("states %d and %d (torso at %.2f and %.2f m) gave the same image", i, j, heights[i], heights[j])
					}
				}
			}
			if tc.falls && !(tops[0] < tops[1] && tops[1] < tops[2]) {
				t.Errorf("the robot's top row %v (torso at %v m) does not fall down the image", tops, heights)
			}
			t.Logf("torso heights %.2f m, robot's top rows %v", heights, tops)
		})
	}
}

// BenchmarkRender measures one image of a hopper state against env steps
// in the same run, interleaved so that the load of a shared machine falls
// on both: each iteration times 100 Env.Step calls with random actions
// (resetting a fallen hopper) and then one Renderer.Render of a
// mid-episode snapshot (restore, mj_forward, MuJoCo's scene and OpenGL
// rendering in OSMesa, readback, copy into an image). It reports ns/step,
// ns/frame and their ratio, steps/frame: what drawing one frame costs in
// env steps.
func BenchmarkRender(b *testing.B) {
	s := spec(&testing.T{}, "hopper")
	e, err := s.New(env.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	obs, act := make([]float32, 11), make([]float32, 3)
	e.Reset(rng, obs)
	for k := 0; k < 20; k++ {
		e.Step(act, obs)
	}
	snap := e.Snapshot(nil)
	for _, side := range []int{480, 240} {
		b.Run(fmt.Sprintf("hopper-%dx%d", side, side), func(b *testing.B) {
			r, err := s.NewRenderer(side, side)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			img, err := r.Render(snap, nil)
			if err != nil {
				b.Fatal(err)
			}
			const steps = 100
			var stepping, drawing time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for k := 0; k < steps; k++ {
					for j := range act {
						act[j] = float32(2*rng.Float64() - 1)
					}
					if _, done, err := e.Step(act, obs); done || err != nil {
						e.Reset(rng, obs)
					}
				}
				t1 := time.Now()
				if img, err = r.Render(snap, img); err != nil {
					b.Fatal(err)
				}
				stepping, drawing = stepping+t1.Sub(t0), drawing+time.Since(t1)
			}
			perStep := float64(stepping.Nanoseconds()) / float64(steps*b.N)
			perFrame := float64(drawing.Nanoseconds()) / float64(b.N)
			b.ReportMetric(perStep, "ns/step")
			b.ReportMetric(perFrame, "ns/frame")
			b.ReportMetric(perFrame/perStep, "steps/frame")
		})
	}
}
