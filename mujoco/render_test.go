//go:build render

package mujoco

import (
	"image"
	"os"
	"os/exec"
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
		{"glfw", "glfw", "MUJOCO_GL=glfw: ultra renders offscreen and opens no window: set MUJOCO_GL=egl", RenderOptions{Width: 8, Height: 8}},
		{"unknown backend", "vulkan", "MUJOCO_GL=vulkan: unknown OpenGL backend", RenderOptions{Width: 8, Height: 8}},
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

// renderPendulum draws two states of the pendulum in the backend that
// MUJOCO_GL names.
func renderPendulum(t *testing.T, m *Model, d *Data) (r *Renderer, a, b *image.RGBA, err error) {
	t.Helper()
	r, err = NewRenderer(m, RenderOptions{Width: 64, Height: 48, Camera: Camera{Azimuth: 90, Elevation: -20}})
	if err != nil {
		return nil, nil, nil, err
	}
	t.Cleanup(func() { r.Close() })
	var snaps [2][]float64
	for i, q := range []float64{0.3, 1.2} {
		if err := d.Reset(); err != nil {
			t.Fatal(err)
		}
		d.QPos()[0] = q
		if err := d.Forward(); err != nil {
			t.Fatal(err)
		}
		snaps[i] = d.Snapshot(nil)
	}
	if a, err = r.Render(snaps[0], nil); err != nil {
		t.Fatal(err)
	}
	if b, err = r.Render(snaps[1], nil); err != nil {
		t.Fatal(err)
	}
	again, err := r.Render(snaps[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Pix) != string(a.Pix) {
		t.Errorf("%v: the same snapshot rendered twice gave different pixels", r)
	}
	return r, a, b, nil
}

// eglMissing reports whether err says this machine has no EGL to test.
func eglMissing(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "could not be loaded") || strings.Contains(err.Error(), "EGL lists no device"))
}

// meanAbsDiff is the mean absolute difference of two images' RGB values.
func meanAbsDiff(a, b *image.RGBA) float64 {
	var s int
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := int(a.Pix[i]) - int(b.Pix[i])
		s += max(d, -d)
	}
	return float64(s) / float64(len(a.Pix)/4*3)
}

// TestRendererEGL draws through EGL (MUJOCO_GL=egl) on this machine's
// first EGL device, Mesa's software device where there is no GPU, and
// compares the image with OSMesa's: the two are the same MuJoCo renderer,
// so they must agree but for rasterisation details.
func TestRendererEGL(t *testing.T) {
	m, d := mustLoad(t)
	t.Setenv("MUJOCO_GL", "osmesa")
	osm, refA, refB, err := renderPendulum(t, m, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(osm.String(), "OSMesa: ") {
		t.Errorf("OSMesa renderer describes itself as %q", osm)
	}
	t.Setenv("MUJOCO_GL", "egl")
	r, a, b, err := renderPendulum(t, m, d)
	if eglMissing(err) {
		t.Skipf("no EGL on this machine (sudo apt-get install libegl1 libegl-mesa0): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v; %v; mean |EGL-OSMesa| %.3f per channel, between the two states %.3f", osm, r, meanAbsDiff(a, refA), meanAbsDiff(refA, refB))
	if !strings.HasPrefix(r.String(), "EGL device ") {
		t.Errorf("EGL renderer describes itself as %q", r)
	}
	if string(a.Pix) == string(b.Pix) {
		t.Error("EGL: two different states rendered the same image")
	}
	for _, c := range []struct {
		name     string
		egl, osm *image.RGBA
	}{{"state a", a, refA}, {"state b", b, refB}} {
		if diff, between := meanAbsDiff(c.egl, c.osm), meanAbsDiff(refA, refB); diff > between/4 {
			t.Errorf("%s: EGL and OSMesa images differ by %.2f per channel on average; the two states differ by %.2f", c.name, diff, between)
		}
	}
	t.Run("device", func(t *testing.T) {
		t.Setenv("MUJOCO_EGL_DEVICE_ID", "0")
		if _, _, _, err := renderPendulum(t, m, d); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRendererEGLRefuses(t *testing.T) {
	m, _ := mustLoad(t)
	tests := []struct{ name, device, want string }{
		{"not a number", "gpu0", `MUJOCO_EGL_DEVICE_ID="gpu0": must be an EGL device index`},
		{"negative", "-1", `MUJOCO_EGL_DEVICE_ID="-1"`},
		{"past the devices", "63", "MUJOCO_EGL_DEVICE_ID=63: EGL lists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MUJOCO_GL", "egl")
			t.Setenv("MUJOCO_EGL_DEVICE_ID", tc.device)
			_, err := NewRenderer(m, RenderOptions{Width: 8, Height: 8})
			if eglMissing(err) {
				t.Skipf("no EGL on this machine: %v", err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRendererNoEGL runs itself in a child process whose EGL library does
// not exist (libEGL, once loaded, stays loaded): MUJOCO_GL=egl must say
// what to install, and OSMesa must still work.
func TestRendererNoEGL(t *testing.T) {
	if os.Getenv("ULTRA_TEST_NO_EGL") == "1" {
		eglLibrary = "libEGL-ultra-missing.so.1"
		m, d := mustLoad(t)
		t.Setenv("MUJOCO_GL", "egl")
		_, err := NewRenderer(m, RenderOptions{Width: 8, Height: 8})
		want := "libEGL-ultra-missing.so.1 could not be loaded"
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "apt-get install libegl1 libegl-mesa0") {
			t.Fatalf("err %v, want one containing %q and what to install", err, want)
		}
		t.Setenv("MUJOCO_GL", "")
		if _, _, _, err := renderPendulum(t, m, d); err != nil {
			t.Fatalf("OSMesa after a failed EGL: %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRendererNoEGL$", "-test.v")
	cmd.Env = append(os.Environ(), "ULTRA_TEST_NO_EGL=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRendererNoEGL") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
