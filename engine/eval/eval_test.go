package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/internal/memlimit"
)

// walk is a fake task whose episode length equals 2 + (instance's first draw
// scaled to 0..4), so instances finish episodes at different rates.
type walk struct{ left int }

func (w *walk) Reset(rng *rand.Rand, obs []float32) {
	w.left = 2 + rng.IntN(5)
	obs[0] = float32(w.left)
}
func (w *walk) Step(a, obs []float32) (float64, bool, error) {
	w.left--
	obs[0] = float32(w.left)
	return float64(a[0]) + 1, w.left == 0, nil
}
func (w *walk) Snapshot(dst []float64) []float64   { return dst }
func (w *walk) Restore([]float64, []float32) error { return nil }
func (w *walk) Close() error                       { return nil }

func walkSpec() env.Spec {
	return env.Spec{ID: "walk", Observation: env.UnboundedBox(1), Action: env.Box([]float32{-1}, []float32{1}),
		MaxEpisodeSteps: 100, New: func(env.Options) (env.Env, error) { return &walk{}, nil }}
}

func TestRunCollectsRoundRobinAndIsDeterministic(t *testing.T) {
	run := func() []Episode {
		v, err := env.New(walkSpec(), env.Config{NumEnvs: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		eps, err := Run(v, Zero{}, 7, 42)
		if err != nil {
			t.Fatal(err)
		}
		return eps
	}
	a, b := run(), run()
	if len(a) != 7 {
		t.Fatalf("%d episodes", len(a))
	}
	for k, e := range a {
		if e != b[k] {
			t.Fatalf("episode %d differs between runs: %+v vs %+v", k, e, b[k])
		}
		if e.Index != k || e.Env != k%3 || e.Length < 2 || e.Length > 6 || e.Return != float64(e.Length) {
			t.Errorf("episode %d: %+v", k, e)
		}
	}
}

func TestRandomPolicyStaysInSpace(t *testing.T) {
	sp := env.Box([]float32{-2, 0}, []float32{2, 0.5})
	p := Random{Space: sp, Rng: rand.New(rand.NewPCG(1, 1))}
	act := make([]float32, 200)
	p.Act(nil, 100, act)
	for i, a := range act {
		if a < sp.Low[i%2] || a > sp.High[i%2] {
			t.Fatalf("action %d = %v outside [%v, %v]", i, a, sp.Low[i%2], sp.High[i%2])
		}
	}
	d := Random{Space: env.Discrete(3), Rng: rand.New(rand.NewPCG(1, 1))}
	d.Act(nil, 50, act[:50])
	seen := map[float32]bool{}
	for _, a := range act[:50] {
		seen[a] = true
	}
	if len(seen) != 3 || !seen[0] || !seen[2] {
		t.Errorf("discrete draws %v", seen)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]Episode{{Return: 1, Length: 10}, {Return: 3, Length: 20}})
	if s.MeanReturn != 2 || s.StdReturn != 1 || s.MinReturn != 1 || s.MaxReturn != 3 || s.MeanLength != 15 {
		t.Fatalf("%+v", s)
	}
	if z := Summarize(nil); z.Episodes != 0 || math.IsNaN(z.MeanReturn) {
		t.Fatalf("%+v", z)
	}
}

// TestEpisodeCountsOverTheMemoryLimitAreRefused covers issue 14's finding 7
// (`--episodes 2000000000` died in Go's fatal out-of-memory error).
func TestEpisodeCountsOverTheMemoryLimitAreRefused(t *testing.T) {
	memlimit.Set(memlimit.Limit{Bytes: 1 << 30, Source: "test"})
	defer memlimit.Reset()
	v, err := env.New(walkSpec(), env.Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := Run(v, Zero{}, 2_000_000_000, 1); !errors.Is(err, memlimit.ErrExceeded) || !strings.Contains(err.Error(), "2000000000 episodes") {
		t.Errorf("Run: got %v, want ErrExceeded naming the episode count", err)
	}
	if _, err := Collect(v, Zero{}, 20_000_000, 1, "", false); !errors.Is(err, memlimit.ErrExceeded) || !strings.Contains(err.Error(), "up to 100 steps") {
		t.Errorf("Collect: got %v, want ErrExceeded naming the bound", err)
	}
	if _, err := Run(v, Zero{}, 10, 1); err != nil {
		t.Fatal(err)
	}
}
