//go:build render

package mujoco

import (
	"image"
	"strings"
	"testing"
)

func newTestRenderer(t *testing.T, m *Model, o RenderOptions) *Renderer {
	t.Helper()
	r, err := NewRenderer(m, o)
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// distinctColours counts the distinct RGB values of img, up to limit.
func distinctColours(img *image.RGBA, limit int) int {
	seen := map[[3]uint8]bool{}
	for i := 0; i < len(img.Pix) && len(seen) < limit; i += 4 {
		seen[[3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}] = true
	}
	return len(seen)
}

func TestRendererPendulum(t *testing.T) {
	m, d := mustLoad(t)
	tests := []struct {
		name string
		cam  Camera
	}{
		{"free camera", Camera{Azimuth: 90, Elevation: -20}},
		{"tracking the ball", Camera{Body: "ball", Distance: 3, Azimuth: 90, Elevation: -20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRenderer(t, m, RenderOptions{Width: 64, Height: 48, Camera: tc.cam})
			if err := d.Reset(); err != nil {
				t.Fatal(err)
			}
			d.QPos()[0] = 0.3
			if err := d.Forward(); err != nil {
				t.Fatal(err)
			}
			a := d.Snapshot(nil)
			d.QPos()[0], d.QPos()[1] = 1.2, -0.8
			if err := d.Forward(); err != nil {
				t.Fatal(err)
			}
			b := d.Snapshot(nil)
			imgA, err := r.Render(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			if imgA.Bounds() != image.Rect(0, 0, 64, 48) {
				t.Fatalf("bounds %v, want 64×48", imgA.Bounds())
			}
			if n := distinctColours(imgA, 8); n < 3 {
				t.Errorf("image has %d distinct colours: blank?", n)
			}
			imgB, err := r.Render(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			again, err := r.Render(a, imgB.SubImage(imgB.Rect).(*image.RGBA))
			if err != nil {
				t.Fatal(err)
			}
			if string(again.Pix) != string(imgA.Pix) {
				t.Error("the same snapshot rendered after another gave different pixels")
			}
			imgB, _ = r.Render(b, nil)
			if string(imgB.Pix) == string(imgA.Pix) {
				t.Error("two different states rendered the same image")
			}
		})
	}
}

func TestRendererRefuses(t *testing.T) {
	m, _ := mustLoad(t)
	tests := []struct {
		name, env, want string
		o               RenderOptions
	}{
		{"zero size", "", "width and height", RenderOptions{}},
		{"huge", "", "width and height", RenderOptions{Width: MaxRenderSide + 1, Height: 10}},
		{"no such body", "", `no body "torso"`, RenderOptions{Width: 8, Height: 8, Camera: Camera{Body: "torso"}}},
		{"egl", "egl", "MUJOCO_GL=egl", RenderOptions{Width: 8, Height: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MUJOCO_GL", tc.env)
			_, err := NewRenderer(m, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	r := newTestRenderer(t, m, RenderOptions{Width: 8, Height: 8})
	if _, err := r.Render([]float64{1, 2}, nil); err == nil || !strings.Contains(err.Error(), "snapshot has 2 values") {
		t.Errorf("short snapshot: %v", err)
	}
	r.Close()
	if _, err := r.Render(nil, nil); err == nil {
		t.Error("Render after Close: no error")
	}
}
