package video

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/eval"
	"github.com/ultra-rl/ultra/engine/pong"
)

func TestAutoEvery(t *testing.T) {
	tests := []struct {
		name string
		dt   float64
		want int
	}{
		{"hopper, walker2d (4 × 2 ms): 25 frames/s, 4 cs", 0.008, 5},
		{"halfcheetah, ant (5 × 10 ms): every step, 5 cs", 0.05, 1},
		{"pong (4 frames at 60 Hz): every step", 4.0 / 60, 1},
		{"1 ms steps: 2 cs", 0.001, 20},
		{"unknown", 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AutoEvery(tc.dt); got != tc.want {
				t.Errorf("AutoEvery(%g) = %d, want %d", tc.dt, got, tc.want)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		name, out, ffmpeg string
		path              string
		format            Format
		note, err         string
	}{
		{"gif", "a/clip.gif", "ffmpeg", "a/clip.gif", GIF, "", ""},
		{"GIF in capitals", "clip.GIF", "ffmpeg", "clip.GIF", GIF, "", ""},
		{"mp4 without ffmpeg", "a/clip.mp4", "no-such-ffmpeg-here", "a/clip.gif", GIF, "sudo apt-get install ffmpeg", ""},
		{"avi", "clip.avi", "ffmpeg", "", "", "", "must end in .mp4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func(f string) { FFmpeg = f }(FFmpeg)
			FFmpeg = tc.ffmpeg
			path, f, note, err := Target(tc.out)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || path != tc.path || f != tc.format || !strings.Contains(note, tc.note) || (tc.note == "") != (note == "") {
				t.Errorf("Target(%q) = %q, %q, %q, %v; want %q, %q, a note with %q", tc.out, path, f, note, err, tc.path, tc.format, tc.note)
			}
		})
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		if path, f, _, _ := Target("clip.mp4"); path != "clip.mp4" || f != MP4 {
			t.Errorf("with ffmpeg on PATH: %q %q, want an MP4", path, f)
		}
	}
}

// flat returns a w×h image of one colour with a stripe of another.
func flat(w, h int, bg, stripe color.RGBA, at int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := bg
			if x == at {
				c = stripe
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func TestGIFStreams(t *testing.T) {
	bg, fg := color.RGBA{144, 72, 17, 255}, color.RGBA{92, 186, 92, 255}
	tests := []struct {
		name   string
		frames int
		fps    float64
		delay  int
	}{
		{"one frame", 1, 25, 4},
		{"seven frames at 15 fps", 7, 15, 7},
		{"fast: delays at least 2 cs", 3, 125, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.gif")
			enc, err := Create(path, GIF, tc.fps)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.frames; i++ {
				if err := enc.Frame(flat(20, 10, bg, fg, i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("the file appeared before Close")
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g, err := gif.DecodeAll(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("image/gif cannot decode the stream: %v", err)
			}
			if len(g.Image) != tc.frames || g.Config.Width != 20 || g.Config.Height != 10 || g.LoopCount != 0 {
				t.Fatalf("%d frames of %d×%d, loop %d; want %d of 20×10 looping forever", len(g.Image), g.Config.Width, g.Config.Height, g.LoopCount, tc.frames)
			}
			for i, p := range g.Image {
				if g.Delay[i] != tc.delay {
					t.Errorf("frame %d delay %d cs, want %d", i, g.Delay[i], tc.delay)
				}
				if c := color.RGBAModel.Convert(p.At(i, 3)).(color.RGBA); c != fg {
					t.Errorf("frame %d: stripe %v, want %v exactly", i, c, fg)
				}
				if c := color.RGBAModel.Convert(p.At((i+1)%20, 3)).(color.RGBA); c != bg {
					t.Errorf("frame %d: background %v, want %v exactly", i, c, bg)
				}
			}
		})
	}
	t.Run("a frame of another size is refused", func(t *testing.T) {
		enc, err := Create(filepath.Join(t.TempDir(), "x.gif"), GIF, 25)
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Abort()
		enc.Frame(flat(20, 10, bg, fg, 0))
		if err := enc.Frame(flat(10, 10, bg, fg, 0)); err == nil {
			t.Error("no error")
		}
	})
}

// stepsDrawn counts the steps 1..length Record draws with stride every.
func stepsDrawn(length, every, maxSteps int) int {
	n := 0
	for s := 1; s <= length; s++ {
		if (maxSteps == 0 || s <= maxSteps) && ((s-1)%every == 0 || s == length || s == maxSteps) {
			n++
		}
	}
	return n
}

func TestRecordPong(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig())
	want, err := func() ([]eval.Episode, error) {
		v, err := env.New(spec, env.Config{NumEnvs: 1})
		if err != nil {
			return nil, err
		}
		defer v.Close()
		return eval.Run(v, eval.Zero{}, 1, 7)
	}()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		o        Options
		w, h     int
		maxSteps int
	}{
		{"first 40 steps, overlay", Options{Episodes: 1, Seed: 7, MaxSteps: 40, Overlay: true}, 480, 630, 40},
		{"every 500th step, small", Options{Episodes: 1, Seed: 7, Every: 500, Width: 80}, 80, 105, 0},
		{"cut after 25 steps", Options{Episodes: 1, Seed: 7, MaxSteps: 25, Cut: true}, 480, 630, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pong.gif")
			res, err := Record(spec, eval.Zero{}, path, GIF, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			length := want[0].Length
			if tc.o.Cut {
				length = tc.o.MaxSteps
				if len(res.Episodes) != 1 || res.Episodes[0].Length != length {
					t.Errorf("episodes %+v, want one cut at %d steps", res.Episodes, length)
				}
			} else if len(res.Episodes) != 1 || res.Episodes[0].Return != want[0].Return || res.Episodes[0].Length != want[0].Length {
				t.Errorf("episodes %+v, want eval.Run's %+v", res.Episodes, want)
			}
			every := max(tc.o.Every, 1)
			if n := stepsDrawn(length, every, tc.maxSteps); res.Frames != n {
				t.Errorf("%d frames, want %d", res.Frames, n)
			}
			if math.Abs(res.FPS-15/float64(every)) > 1e-9 || res.StepSeconds != 4.0/60 {
				t.Errorf("%g frames/s for %g s steps; want 15/%d for Pong's 4 frames at 60 Hz", res.FPS, res.StepSeconds, every)
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
			if len(g.Image) != res.Frames || g.Config.Width != tc.w || g.Config.Height != tc.h {
				t.Fatalf("GIF has %d frames of %d×%d; want %d of %d×%d", len(g.Image), g.Config.Width, g.Config.Height, res.Frames, tc.w, tc.h)
			}
			if tc.o.Overlay {
				// The overlay's band is black with white text at the bottom left.
				white := 0
				for y := tc.h - 16; y < tc.h; y++ {
					for x := 0; x < 200; x++ {
						if c := color.RGBAModel.Convert(g.Image[0].At(x, y)).(color.RGBA); c == (color.RGBA{255, 255, 255, 255}) {
							white++
						}
					}
				}
				if c := color.RGBAModel.Convert(g.Image[0].At(1, tc.h-2)).(color.RGBA); c != (color.RGBA{0, 0, 0, 255}) || white < 50 {
					t.Errorf("overlay: corner %v and %d white pixels; want black with white text", c, white)
				}
			}
		})
	}
}

func TestRecordRefuses(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig())
	dir := t.TempDir()
	tests := []struct {
		name string
		spec env.Spec
		o    Options
		want string
	}{
		{"no episodes", spec, Options{}, "episodes must be ≥ 1"},
		{"negative size", spec, Options{Episodes: 1, Width: -1}, "width and height"},
		{"negative stride", spec, Options{Episodes: 1, Every: -2}, "every must be"},
		{"cut without max steps", spec, Options{Episodes: 1, Cut: true}, "cutting episodes needs"},
		{"huge image", spec, Options{Episodes: 1, Width: 9000}, "must be in [1, 4096]"},
		{"a task without a renderer", env.Spec{ID: "blind"}, Options{Episodes: 1}, "blind: this task cannot be drawn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".gif")
			_, err := Record(tc.spec, eval.Zero{}, path, GIF, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a file was written")
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestRecordMP4(t *testing.T) {
	if _, err := exec.LookPath(FFmpeg); err != nil {
		t.Skip("no ffmpeg on PATH (sudo apt-get install ffmpeg): MP4 not tested")
	}
	path := filepath.Join(t.TempDir(), "pong.mp4")
	res, err := Record(pong.Spec(pong.DefaultConfig()), eval.Zero{}, path, MP4, Options{Episodes: 1, MaxSteps: 30, Width: 161, Overlay: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[4:8]) != "ftyp" || res.Frames != 30 {
		t.Errorf("%d bytes starting %q, %d frames; want an MP4 (ftyp box) of 30 frames", len(b), b[:min(12, len(b))], res.Frames)
	}
	if probe, err := exec.LookPath("ffprobe"); err == nil {
		out, err := exec.Command(probe, "-v", "error", "-count_frames", "-select_streams", "v:0",
			"-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", path).Output()
		if err != nil || strings.TrimSpace(string(out)) != "162,212,30" {
			t.Errorf("ffprobe: %q %v; want 161×211 padded to 162×212 (even) and 30 frames", out, err)
		}
	}
}

func TestFFmpegFailureLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	// An ffmpeg that reads a little, complains and fails.
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nhead -c 100 >/dev/null\necho 'Unknown encoder libx264' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(f string) { FFmpeg = f }(FFmpeg)
	FFmpeg = fake
	path := filepath.Join(dir, "out", "pong.mp4")
	os.Mkdir(filepath.Dir(path), 0o755)
	_, err := Record(pong.Spec(pong.DefaultConfig()), eval.Zero{}, path, MP4, Options{Episodes: 1, MaxSteps: 30})
	if err == nil || !strings.Contains(err.Error(), "Unknown encoder libx264") {
		t.Fatalf("err %v, want ffmpeg's own complaint", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestRecordMarks: Options.Mark labels the drawn frames (with the overlay
// only), each called with the observation the step's action was taken in.
func TestRecordMarks(t *testing.T) {
	spec := pong.Spec(pong.DefaultConfig())
	for _, tc := range []struct {
		name    string
		overlay bool
		want    int
	}{
		{"with the overlay", true, 10},
		{"without it", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			mark := func(obs []float32) string {
				calls++
				if len(obs) != spec.Observation.Dim {
					t.Errorf("Mark got %d observation values, want %d", len(obs), spec.Observation.Dim)
				}
				return "table match"
			}
			res, err := Record(spec, eval.Zero{}, filepath.Join(t.TempDir(), "m.gif"), GIF,
				Options{Episodes: 1, Seed: 7, MaxSteps: 10, Cut: true, Every: 1, Width: 80, Overlay: tc.overlay, Mark: mark})
			if err != nil {
				t.Fatal(err)
			}
			if res.Marked != tc.want || (tc.overlay && calls < res.Frames) {
				t.Errorf("%d frames marked (Mark called %d times, %d frames), want %d", res.Marked, calls, res.Frames, tc.want)
			}
		})
	}
}
