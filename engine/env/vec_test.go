package env

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/internal/memlimit"
)

// counter is a fake task: the observation is [position, episode draw], the
// action adds to the position, the episode terminates past 10 and a
// "blow-up" happens when the action is exactly 99.
type counter struct{ pos, draw float64 }

func (c *counter) Reset(rng *rand.Rand, obs []float32) {
	c.pos, c.draw = 0, rng.Float64()
	c.write(obs)
}
func (c *counter) write(obs []float32) { obs[0], obs[1] = float32(c.pos), float32(c.draw) }
func (c *counter) Step(a, obs []float32) (float64, bool, error) {
	if a[0] == 99 {
		return 0, false, ErrUnstable
	}
	c.pos += float64(a[0])
	c.write(obs)
	return float64(a[0]), c.pos > 10, nil
}
func (c *counter) Snapshot(dst []float64) []float64 { return append(dst[:0], c.pos, c.draw) }
func (c *counter) Restore(s []float64, obs []float32) error {
	if len(s) != 2 {
		return errors.New("bad snapshot")
	}
	c.pos, c.draw = s[0], s[1]
	c.write(obs)
	return nil
}
func (c *counter) Close() error { return nil }

func counterSpec(maxSteps int) Spec {
	return Spec{ID: "counter", Observation: UnboundedBox(2), Action: Box([]float32{-5}, []float32{5}),
		MaxEpisodeSteps: maxSteps, New: func(Options) (Env, error) { return &counter{}, nil }}
}

func TestAutoResetKeepsFinalObservation(t *testing.T) {
	for _, workers := range []int{1, 3} {
		v, err := New(counterSpec(100), Config{NumEnvs: 5, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		obs, _ := v.Reset(1)
		first := append([]float32(nil), obs...)
		act := []float32{4, 4, 4, 1, 1}
		var res Result
		for k := 0; k < 3; k++ {
			if res, err = v.Step(act); err != nil {
				t.Fatal(err)
			}
		}
		// Envs 0-2 passed 10 on the third step (12 > 10): terminated.
		for i := 0; i < 5; i++ {
			want := i < 3
			if res.Terminated[i] != want || res.Truncated[i] {
				t.Fatalf("workers=%d env %d: terminated=%v truncated=%v", workers, i, res.Terminated[i], res.Truncated[i])
			}
			if want {
				if res.FinalObs[2*i] != 12 || res.EpisodeReturn[i] != 12 || res.EpisodeLength[i] != 3 {
					t.Errorf("env %d: final obs %v return %v length %d", i, res.FinalObs[2*i], res.EpisodeReturn[i], res.EpisodeLength[i])
				}
				if res.Obs[2*i] != 0 || res.Obs[2*i+1] == first[2*i+1] {
					t.Errorf("env %d: next episode should start at 0 with a fresh draw, obs %v", i, res.Obs[2*i:2*i+2])
				}
			}
		}
		if st := v.Stats(); st.Episodes != 3 || st.Steps != 15 {
			t.Errorf("stats %+v", st)
		}
		v.Close()
	}
}

func TestTruncationAtTimeLimit(t *testing.T) {
	v, _ := New(counterSpec(4), Config{NumEnvs: 2})
	defer v.Close()
	v.Reset(0)
	var res Result
	for k := 0; k < 4; k++ {
		res, _ = v.Step([]float32{0, 0})
	}
	if !res.Truncated[0] || res.Terminated[0] || res.EpisodeLength[0] != 4 {
		t.Fatalf("truncated %v terminated %v length %v", res.Truncated, res.Terminated, res.EpisodeLength)
	}
}

func TestUnstableIsCountedTruncation(t *testing.T) {
	v, _ := New(counterSpec(100), Config{NumEnvs: 2})
	defer v.Close()
	v.Reset(0)
	v.Step([]float32{2, 2})
	res, err := v.Step([]float32{99, 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated[0] || res.Terminated[0] || res.FinalObs[0] != 2 || res.Rewards[0] != 0 {
		t.Fatalf("blow-up: trunc %v term %v final %v reward %v", res.Truncated, res.Terminated, res.FinalObs, res.Rewards)
	}
	if st := v.Stats(); st.PhysicsResets != 1 || !errors.Is(st.LastUnstable, ErrUnstable) {
		t.Fatalf("stats %+v", st)
	}
}

func TestSeedingIsPerEnvAndReproducible(t *testing.T) {
	draws := func(seed uint64, workers int) []float32 {
		v, _ := New(counterSpec(100), Config{NumEnvs: 4, Workers: workers})
		defer v.Close()
		obs, _ := v.Reset(seed)
		return append([]float32(nil), obs...)
	}
	a, b, c := draws(5, 1), draws(5, 4), draws(6, 1)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("worker count changed the draws: %v vs %v", a, b)
		}
	}
	if a[1] == a[3] || a[1] == c[1] {
		t.Fatalf("envs or seeds share streams: %v %v", a, c)
	}
}

func TestDiscreteActionsAreChecked(t *testing.T) {
	s := counterSpec(10)
	s.Action = Discrete(3)
	v, _ := New(s, Config{NumEnvs: 1})
	defer v.Close()
	v.Reset(0)
	for _, a := range []float32{-1, 3, 1.5} {
		if _, err := v.Step([]float32{a}); err == nil || !strings.Contains(err.Error(), "integer in [0, 3)") {
			t.Errorf("action %v: %v", a, err)
		}
	}
}

func TestRestoreStartsEpisode(t *testing.T) {
	v, _ := New(counterSpec(100), Config{NumEnvs: 2})
	defer v.Close()
	v.Reset(0)
	v.Step([]float32{1, 1})
	if err := v.Restore(1, []float64{9, 0.5}); err != nil {
		t.Fatal(err)
	}
	res, _ := v.Step([]float32{0, 2})
	if !res.Terminated[1] || res.EpisodeLength[1] != 1 || res.EpisodeReturn[1] != 2 {
		t.Fatalf("restored episode: term %v len %v ret %v", res.Terminated[1], res.EpisodeLength[1], res.EpisodeReturn[1])
	}
	if err := v.Restore(2, nil); err == nil {
		t.Error("out-of-range instance accepted")
	}
	if err := v.Restore(0, []float64{1}); err == nil || !strings.Contains(err.Error(), "instance 0") {
		t.Errorf("bad snapshot: %v", err)
	}
}

func TestSpaceString(t *testing.T) {
	for _, tc := range []struct {
		s    Space
		want string
	}{
		{Box([]float32{-1, -1}, []float32{1, 1}), "Box(2, [-1, 1])"},
		{UnboundedBox(3), "Box(3, [-Inf, +Inf])"},
		{Discrete(6), "Discrete(6)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
}

func TestMarshalStateContinuesExactly(t *testing.T) {
	v, _ := New(counterSpec(100), Config{NumEnvs: 3})
	defer v.Close()
	v.Reset(9)
	act := []float32{1, 2, 3}
	for k := 0; k < 4; k++ {
		v.Step(act)
	}
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	run := func(v VecEnv) []float32 {
		var out []float32
		for k := 0; k < 10; k++ {
			res, _ := v.Step(act)
			out = append(out, res.Obs...)
			out = append(out, float32(res.EpisodeLength[0]))
		}
		return out
	}
	a := run(v)
	w, _ := New(counterSpec(100), Config{NumEnvs: 3})
	defer w.Close()
	if err := w.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	c := run(w)
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("resumed VecEnv differs at %d: %v vs %v", i, a[i], c[i])
		}
	}
	small, _ := New(counterSpec(100), Config{NumEnvs: 2})
	defer small.Close()
	if err := small.UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "3 \"counter\" envs") {
		t.Errorf("size mismatch: %v", err)
	}
}

// sized is a counter that reports a large memory footprint.
type sized struct{ counter }

func (sized) Bytes() int64 { return 1 << 20 }

// TestNewRefusesBatchesOverTheMemoryLimit covers issue 14's finding 7
// (`eval --envs 100000` took all memory): the batch is refused with the
// estimate after making one instance, not after making them all.
func TestNewRefusesBatchesOverTheMemoryLimit(t *testing.T) {
	memlimit.Set(memlimit.Limit{Bytes: 1 << 30, Source: "test"})
	defer memlimit.Reset()
	made := 0
	spec := counterSpec(0)
	spec.New = func(Options) (Env, error) { made++; return &sized{}, nil }
	_, err := New(spec, Config{NumEnvs: 100000})
	if !errors.Is(err, memlimit.ErrExceeded) || !strings.Contains(err.Error(), "100000 counter instances at 1.0 MiB") {
		t.Fatalf("got %v, want ErrExceeded naming the instance count and size", err)
	}
	if made != 1 {
		t.Fatalf("made %d instances before refusing, want 1", made)
	}
	p, err := New(spec, Config{NumEnvs: 100})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// TestUnmarshalRefusesImpossibleProgress: a saved state whose episode
// return is not finite or whose counters are negative is refused, not
// restored into NaN returns.
func TestUnmarshalRefusesImpossibleProgress(t *testing.T) {
	p, err := New(counterSpec(0), Config{NumEnvs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Reset(1); err != nil {
		t.Fatal(err)
	}
	good, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(st *poolState){
		"NaN return":      func(st *poolState) { st.CurRet[1] = math.NaN() },
		"negative length": func(st *poolState) { st.CurLen[0] = -4 },
		"negative steps":  func(st *poolState) { st.Steps = -1 },
	} {
		var st poolState
		if err := gob.NewDecoder(bytes.NewReader(good)).Decode(&st); err != nil {
			t.Fatal(err)
		}
		edit(&st)
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
			t.Fatal(err)
		}
		if err := p.UnmarshalBinary(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "saved state") {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if err := p.UnmarshalBinary(good); err != nil {
		t.Fatal(err)
	}
}

// slow is a counter whose steps take a while when its action is over 3,
// so that the caller outlasts its spin and parks, and helpers park between
// steps.
type slow struct{ counter }

func (c *slow) Step(a, obs []float32) (float64, bool, error) {
	if a[0] > 3 {
		time.Sleep(2 * finishSpin)
	}
	return c.counter.Step(a, obs)
}

// TestParkingKeepsResults: with slow instances in the helpers' blocks
// (the caller parks until they finish) and pauses between steps longer
// than a helper spins (helpers park), every worker count gives the
// observations and rewards of one worker.
func TestParkingKeepsResults(t *testing.T) {
	spec := counterSpec(100)
	spec.New = func(Options) (Env, error) { return &slow{}, nil }
	const n = 6
	var want []float32
	for _, workers := range []int{1, 2, 3} {
		v, err := New(spec, Config{NumEnvs: n, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		v.Reset(1)
		var got []float32
		for k := 0; k < 12; k++ {
			act := make([]float32, n)
			for i := range act {
				act[i] = float32((i + k) % 3)
			}
			act[n-1-k%3] = 4 // slow, and in a helper's block
			res, err := v.Step(act)
			if err != nil {
				t.Fatal(err)
			}
			got = append(append(got, res.Obs...), res.Rewards...)
			if k%4 == 3 {
				time.Sleep(4 * spinFor)
			}
		}
		v.Close()
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Errorf("%d workers: results differ from 1 worker's", workers)
		}
	}
}

// TestStatsAccountTime: Stats splits the time of Steps into the workers'
// stepping and their waiting. One slow instance a Step (2 ms, in the last
// worker's block) leaves one worker stepping it while the others wait.
func TestStatsAccountTime(t *testing.T) {
	spec := counterSpec(1 << 30)
	spec.New = func(Options) (Env, error) { return &slow{}, nil }
	const n, steps = 4, 5
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			v, err := New(spec, Config{NumEnvs: n, Workers: workers, Account: true})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			v.Reset(1)
			if st := v.Stats(); st.Workers != workers || st.Busy != 0 || st.Stepping != 0 {
				t.Fatalf("before any Step: %+v", st)
			}
			act := make([]float32, n)
			act[n-1] = 4
			for range steps {
				if _, err := v.Step(act); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Millisecond) // let a helper add the time of its last chunk
			st := v.Stats()
			slept := steps * 2 * finishSpin
			share := float64(st.Busy) / (float64(workers) * float64(st.Stepping))
			t.Logf("stepping %v, busy %v, share %.2f", st.Stepping, st.Busy, share)
			if st.Stepping < slept || st.Busy < slept {
				t.Errorf("stepping %v and busy %v, want both ≥ the %v the slow instance slept", st.Stepping, st.Busy, slept)
			}
			if st.Busy > time.Duration(workers)*st.Stepping+time.Millisecond {
				t.Errorf("busy %v over %d workers × stepping %v", st.Busy, workers, st.Stepping)
			}
			if workers == 1 && share < 0.9 {
				t.Errorf("one worker steps all the time of a Step, but its share is %.2f", share)
			}
			if workers == 2 && share > 0.8 {
				t.Errorf("two workers, one waiting for the slow instance: share %.2f, want about 0.5", share)
			}
		})
	}
	v, err := New(counterSpec(100), Config{NumEnvs: 2, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Reset(1)
	v.Step(make([]float32, 2))
	if st := v.Stats(); st.Busy != 0 || st.Stepping != 0 {
		t.Errorf("without Config.Account: busy %v, stepping %v, want 0", st.Busy, st.Stepping)
	}
}

// BenchmarkStepSync measures what a Step costs beyond the instances' own
// work: 8 counters, whose steps take nanoseconds, on 1 and 2 workers.
func BenchmarkStepSync(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			v, err := New(counterSpec(1<<30), Config{NumEnvs: 8, Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			v.Reset(1)
			act := make([]float32, 8)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Step(act); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
