//go:build ale

package ale

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/pong"
)

// rom returns the path of game's ROM or skips the test, saying where ROMs
// are looked for. Tetris (a homebrew ROM ALE ships in its sources as
// src/ale/python/roms/tetris.bin) is enough for everything but Pong.
func rom(t *testing.T, game string) string {
	t.Helper()
	p, err := FindROM(game)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	return p
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	if err := os.WriteFile(junk, make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.bin"), "doesn't exist"},
		{junk, "not a ROM this ALE supports"},
	} {
		if _, err := Open(tt.path, OpenOptions{Mode: -1, Difficulty: -1}); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("Open(%s) error %v: want one naming the file and containing %q", tt.path, err, tt.want)
		}
	}
	if !strings.HasPrefix(Version(), "0.") {
		t.Errorf("Version() = %q", Version())
	}
}

func TestEmulator(t *testing.T) {
	em, err := Open(rom(t, "tetris"), OpenOptions{Mode: -1, Difficulty: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	acts := em.MinimalActions()
	if len(acts) < 2 || acts[0] != 0 {
		t.Fatalf("minimal actions %v: want NOOP first and more", acts)
	}
	if err := em.Reset(1); err != nil {
		t.Fatal(err)
	}
	gray, ram := make([]byte, ScreenH*ScreenW), make([]byte, RAMSize)
	_, frames, over, err := em.Step(acts[1], 4, gray, ram)
	if err != nil || frames != 4 || over {
		t.Fatalf("step: %d frames, over %v, %v; want 4 frames", frames, over, err)
	}
	// gray is the maximum of the last two frames: at least the last one.
	last := em.ScreenGray(nil)
	for i := range last {
		if gray[i] < last[i] {
			t.Fatalf("pixel %d: max-pooled %d < last frame %d", i, gray[i], last[i])
		}
	}
	if rgb := em.ScreenRGB(nil); len(rgb) != 3*len(last) {
		t.Fatalf("RGB screen has %d bytes", len(rgb))
	}
	if got := em.RAM(nil); string(got) != string(ram) {
		t.Fatal("RAM after the step differs from the RAM the step returned")
	}
	em.Close()
	em.Close()
	if err := em.Reset(1); err != ErrClosed {
		t.Fatalf("Reset after Close: %v, want ErrClosed", err)
	}
}

// TestVecEnv runs the pixel and RAM envs batched through env.New: values in
// range, the frame stack shifting, no allocation per step.
func TestVecEnv(t *testing.T) {
	rom(t, "tetris")
	for _, id := range []string{"ale:tetris-pixels", "ale:tetris-ram"} {
		t.Run(id, func(t *testing.T) {
			spec, err := Resolve(id)
			if err != nil {
				t.Fatal(err)
			}
			if spec.ID != id || !spec.Action.IsDiscrete() || spec.MaxEpisodeSteps != 27000 {
				t.Fatalf("spec %s, %s, %d steps", spec.ID, spec.Action, spec.MaxEpisodeSteps)
			}
			if pixels := strings.HasSuffix(id, "-pixels"); pixels != (spec.Image == [3]int{4, 84, 84}) {
				t.Fatalf("spec image layout %v", spec.Image)
			}
			v, err := env.New(spec, env.Config{NumEnvs: 3, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			obs, _ := v.Reset(7)
			dim := spec.Observation.Dim
			prev := append([]float32(nil), obs...)
			r := rand.New(rand.NewPCG(1, 1))
			act := make([]float32, 3)
			for s := 0; s < 60; s++ {
				for i := range act {
					act[i] = float32(r.IntN(spec.Action.N))
				}
				res, err := v.Step(act)
				if err != nil {
					t.Fatal(err)
				}
				for i, x := range res.Obs {
					if !(x >= 0 && x <= 1) {
						t.Fatalf("step %d: value %d = %v outside [0, 1]", s, i, x)
					}
				}
				if strings.HasSuffix(id, "-pixels") {
					const plane = pong.Side * pong.Side
					for e := 0; e < 3; e++ {
						o, p := res.Obs[e*dim:], prev[e*dim:]
						for i := 0; i < 3*plane; i++ {
							if o[i] != p[plane+i] {
								t.Fatalf("step %d env %d: the stack did not shift", s, e)
							}
						}
					}
				}
				prev = append(prev[:0], res.Obs...)
			}
			if n := testing.AllocsPerRun(20, func() { v.Step(act) }); n != 0 {
				t.Errorf("%v allocations per Step, want 0", n)
			}
		})
	}
}

// TestSnapshotReplays checks that a restored game, sticky actions on,
// replays the same observations and rewards, and that Restore rejects
// snapshots of another mode.
func TestSnapshotReplays(t *testing.T) {
	p := rom(t, "tetris")
	for _, obsMode := range []string{ObsPixels, ObsRAM} {
		cfg := DefaultConfig("tetris", obsMode)
		cfg.ROM, cfg.StickyProb = p, 0.25
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := Spec(cfg)
		if err != nil {
			t.Fatal(err)
		}
		obs := make([]float32, spec.Observation.Dim)
		r := rand.New(rand.NewPCG(3, 4))
		g.Reset(r, obs)
		n := spec.Action.N
		for s := 0; s < 30; s++ {
			g.Step([]float32{float32(s % n)}, obs)
		}
		snap := g.Snapshot(nil)
		start := append([]float32(nil), obs...)
		play := func() ([]float32, float64) {
			sum := 0.0
			for s := 0; s < 80; s++ {
				rew, _, err := g.Step([]float32{float32((s * 7) % n)}, obs)
				if err != nil {
					t.Fatal(err)
				}
				sum += rew
			}
			return append([]float32(nil), obs...), sum
		}
		o1, r1 := play()
		restored := make([]float32, len(obs))
		if err := g.Restore(snap, restored); err != nil {
			t.Fatal(err)
		}
		for i := range restored {
			if restored[i] != start[i] {
				t.Fatalf("%s: restored observation differs at %d", obsMode, i)
			}
		}
		o2, r2 := play()
		if r1 != r2 {
			t.Fatalf("%s: replay reward %v, first run %v", obsMode, r2, r1)
		}
		for i := range o1 {
			if o1[i] != o2[i] {
				t.Fatalf("%s: replay observation differs at %d", obsMode, i)
			}
		}
		other := ObsRAM
		if obsMode == ObsRAM {
			other = ObsPixels
		}
		ocfg := cfg
		ocfg.Obs = other
		og, err := New(ocfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := og.Restore(snap, make([]float32, 28224)); err == nil {
			t.Errorf("a %s snapshot restored into a %s game", obsMode, other)
		}
		if err := g.Restore(snap[:3], obs); err == nil {
			t.Errorf("a truncated snapshot restored")
		}
		og.Close()
		g.Close()
	}
}

// TestPong plays ALE Pong from RAM features with random actions: the
// decoded positions stay on the screen, points are ±1 and the game ends at
// 21. It needs pong.bin, which cannot be shipped.
func TestPong(t *testing.T) {
	rom(t, "pong")
	spec, err := Resolve("ale:pong")
	if err != nil {
		t.Fatal(err)
	}
	g, err := spec.New(env.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	obs := make([]float32, pong.NumFeatures)
	g.Reset(rand.New(rand.NewPCG(1, 2)), obs)
	r := rand.New(rand.NewPCG(5, 6))
	points := 0
	for s := 0; s < 27000; s++ {
		rew, over, err := g.Step([]float32{float32(r.IntN(pong.NumActions))}, obs)
		if err != nil {
			t.Fatal(err)
		}
		if rew != 0 && rew != 1 && rew != -1 {
			t.Fatalf("step %d: reward %v", s, rew)
		}
		if rew != 0 {
			points++
		}
		for i, x := range obs {
			if x < -1.3 || x > 1.3 {
				t.Fatalf("step %d: feature %d = %v: the RAM offsets do not fit the screen", s, i, x)
			}
		}
		if over {
			if points < 21 {
				t.Fatalf("game over after %d points", points)
			}
			return
		}
	}
	t.Fatal("no game over in 27000 steps")
}

// TestConcurrentEmulators opens and steps emulators from several goroutines
// at once, as parallel experiment jobs do: each ALE instance must be
// independent of the others.
func TestConcurrentEmulators(t *testing.T) {
	p := rom(t, "tetris")
	const n = 4
	ram := make([][]byte, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			em, err := Open(p, OpenOptions{Mode: -1, Difficulty: -1})
			if err != nil {
				errs <- err
				return
			}
			defer em.Close()
			if err := em.Reset(42); err != nil {
				errs <- err
				return
			}
			acts := em.MinimalActions()
			buf := make([]byte, RAMSize)
			for s := 0; s < 300; s++ {
				if _, _, _, err := em.Step(acts[s%len(acts)], 4, nil, buf); err != nil {
					errs <- err
					return
				}
			}
			ram[i] = buf
			errs <- nil
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < n; i++ { // same seed, same actions: same game
		if string(ram[i]) != string(ram[0]) {
			t.Fatalf("emulator %d diverged from emulator 0 under concurrency", i)
		}
	}
}
