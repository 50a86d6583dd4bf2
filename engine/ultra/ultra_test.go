package ultra

import (
	"context"

	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

func ann(ep string, step int, obs ...float32) advisor.Annotation {
	return advisor.Annotation{Episode: ep, Step: step, Obs: obs, Action: []float32{float32(step)}, Reward: 0.5}
}

func TestTableMatchesNearestWithinRadius(t *testing.T) {
	tb, err := NewTable([]float64{0, 10}, []float64{1, 2}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if n := tb.Add(ann("a", 1, 0, 10), ann("a", 2, 1, 10), ann("a", 1, 5, 5), ann("b", 3, 1)); n != 2 {
		t.Fatalf("added %d, want 2 (duplicate and wrong size skipped)", n)
	}
	for _, tc := range []struct {
		obs  []float32
		ok   bool
		step int
	}{
		{[]float32{0.1, 10}, true, 1},
		{[]float32{0.9, 10.4}, true, 2},   // normalised distance (0.1, 0.2)
		{[]float32{0.5, 10}, true, 1},     // tie at 0.5 → first nearest
		{[]float32{0.5, 11.2}, false, 0},  // (0.5, 0.6) away from both
		{[]float32{-0.45, 10.2}, true, 1}, // within radius 0.5 after scaling
	} {
		e, d, ok := tb.Lookup(tc.obs)
		if ok != tc.ok || (ok && e.Step != tc.step) || d > tb.Radius() {
			t.Errorf("lookup %v: ok %v step %d dist %v", tc.obs, ok, e.Step, d)
		}
	}
	if h, l := tb.HitRate(); h != 4 || l != 5 {
		t.Errorf("hits %d of %d", h, l)
	}
	if allocs := testing.AllocsPerRun(100, func() { tb.Lookup([]float32{0.1, 10}) }); allocs != 0 {
		t.Errorf("Lookup allocates %v", allocs)
	}
	if _, err := NewTable([]float64{0}, []float64{1}, math.NaN()); err == nil {
		t.Error("NaN radius accepted")
	}
}

// gate is an advisor that blocks until released and counts calls.
type gate struct {
	release chan struct{}
	calls   atomic.Int32
	err     error
}

func (g *gate) Name() string { return "gate" }
func (g *gate) Annotate(ctx context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	g.calls.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, advisor.Report{}, ctx.Err()
	}
	var out []advisor.Annotation
	for _, tr := range trajs {
		out = append(out, ann(tr.ID, 0, tr.Obs[:1]...))
	}
	return out, advisor.Report{Trajectories: len(trajs), Annotations: len(out), Requests: 1}, g.err
}

func episode(x float32) *traj.Trajectory {
	return &traj.Trajectory{Obs: []float32{x}, ObsDim: 1, ActDim: 1, Actions: []float32{0}, Rewards: []float32{1}, Terminated: true}
}

func TestStageDropsOldestWhenFull(t *testing.T) {
	for _, dropNewest := range []bool{false, true} {
		tb, _ := NewTable([]float64{0}, []float64{1}, 0.1)
		g := &gate{release: make(chan struct{})}
		s, err := NewStage(g, tb, StageConfig{BatchEpisodes: 1, QueueBatches: 2, Workers: 1, DropNewest: dropNewest, Env: "x"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Submit(episode(0))
		waitFor(t, "the worker to hold batch 0 at the advisor", func() bool { return g.calls.Load() > 0 })
		start := time.Now()
		for i := 1; i < 10; i++ {
			s.Submit(episode(float32(i))) // never blocks, even with the advisor stuck
		}
		if time.Since(start) > time.Second {
			t.Fatal("Submit blocked")
		}
		st := s.Stats()
		// One batch is with the advisor, two wait, the rest were dropped.
		if st.Dropped != 7 || st.QueueDepth != 2 {
			t.Fatalf("dropNewest=%v: %+v", dropNewest, st)
		}
		close(g.release)
		waitFor(t, "3 annotated batches", func() bool { return s.Stats().Annotated >= 3 })
		s.Close()
		// Drop-oldest keeps the freshest episodes (8, 9); drop-newest the first ones (1, 2).
		want := map[bool][2]float32{false: {8, 9}, true: {1, 2}}[dropNewest]
		for _, x := range want {
			if _, _, ok := tb.Lookup([]float32{x}); !ok {
				t.Errorf("dropNewest=%v: episode with obs %v missing from the table", dropNewest, x)
			}
		}
	}
}

// waitFor polls cond every millisecond and fails the test, naming what it
// waited for, if it does not hold within 10 s (a broken stage fails the
// suite instead of hanging it).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStageSurvivesFailuresAndStopsAtBudget(t *testing.T) {
	tb, _ := NewTable([]float64{0}, []float64{1}, 0.1)
	g := &gate{release: make(chan struct{}), err: advisor.ErrBudget}
	close(g.release)
	s, _ := NewStage(g, tb, StageConfig{BatchEpisodes: 2, Env: "x"}, nil)
	defer s.Close()
	s.Submit(episode(1))
	s.Submit(episode(2))
	waitFor(t, "the budget to be reached", func() bool { return s.Stats().BudgetReached })
	for i := 0; i < 10; i++ {
		s.Submit(episode(3))
	}
	time.Sleep(20 * time.Millisecond)
	if st := s.Stats(); st.Batches != 1 || g.calls.Load() != 1 || st.Episodes != 12 {
		t.Fatalf("after the budget: %+v, calls %d", st, g.calls.Load())
	}
	if tb.Len() != 2 {
		t.Errorf("annotations returned with ErrBudget should still be kept, table has %d", tb.Len())
	}
}

// slow answers after a fixed latency, like a remote LLM.
type slow struct{ d time.Duration }

func (s slow) Name() string { return "slow" }
func (s slow) Annotate(ctx context.Context, trajs []traj.Trajectory) ([]advisor.Annotation, advisor.Report, error) {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return nil, advisor.Report{}, ctx.Err()
	}
	return nil, advisor.Report{Trajectories: len(trajs)}, nil
}

func trainSPS(b *testing.B, withStage bool) float64 {
	return trainSPSWith(b, func() advisor.Advisor {
		if withStage {
			return slow{2 * time.Second}
		}
		return nil
	})
}

// trainSPSWith trains 3 hopper iterations, with an annotation stage over the
// advisor mk returns (none if nil), and returns env steps per second.
func trainSPSWith(b *testing.B, mk func() advisor.Advisor) float64 {
	adv := mk()
	withStage := adv != nil
	spec, _ := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	c := ppo.Defaults()
	c.TotalSteps = 2048 * 3
	var hooks ppo.Hooks
	var s *Stage
	if withStage {
		tb, _ := NewTable(make([]float64, 11), make([]float64, 11), 1)
		s, _ = NewStage(adv, tb, StageConfig{Env: "hopper"}, nil)
		hooks.OnEpisode = s.Submit
	}
	tr, err := ppo.New(c, spec, hooks)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	start := time.Now()
	for !tr.Done() {
		if _, err := tr.Iterate(); err != nil {
			b.Fatal(err)
		}
	}
	sps := float64(tr.GlobalStep()) / time.Since(start).Seconds()
	if s != nil {
		s.Close()
	}
	return sps
}

// BenchmarkAsyncStageOverhead trains with and without an annotation stage
// whose advisor takes 2 s per batch, alternating, and reports the SPS ratio.
func BenchmarkAsyncStageOverhead(b *testing.B) {
	var with, without []float64
	for i := 0; i < b.N; i++ {
		without = append(without, trainSPS(b, false))
		with = append(with, trainSPS(b, true))
	}
	var sw, so float64
	for i := range with {
		sw += with[i]
		so += without[i]
	}
	b.ReportMetric(sw/float64(len(with)), "sps_with_stage")
	b.ReportMetric(so/float64(len(without)), "sps_without")
	b.ReportMetric(sw/so, "ratio")
}

func TestTableConcurrentAddLookup(t *testing.T) {
	tb, _ := NewTable([]float64{0}, []float64{1}, 0.5)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			tb.Add(ann("e", i, float32(i)))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			tb.Lookup([]float32{float32(i)})
		}
	}()
	wg.Wait()
	if tb.Len() != 1000 {
		t.Fatal(tb.Len())
	}
}
