package metrics

import (
	"context"
	"errors"
	"go/build"
	"math"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// iter is a synthetic iteration of 2048 steps (8 envs × 256).
func iter(i int) IterationStats {
	return IterationStats{
		Iteration: i, GlobalStep: int64(i) * 2048, SPS: 4000 + float64(i),
		LearningRate: 3e-4, PolicyLoss: -0.01 * float64(i), ValueLoss: 12.5, Entropy: 5.6,
		ApproxKL: 0.012, ClipFrac: 0.15, ExplainedVar: 0.9, GradNorm: 0.7, Epochs: 10,
		Episodes: 2, Return10: 1450,
		Overrides: 30, Resets: 1, Bonuses: 12, PhysicsResets: int64(i / 2),
		RolloutSec: 0.4, UpdateSec: 0.1,
	}
}

// feedAll exercises every method once, so that every family has a series.
func feedAll(m *Metrics, i int) {
	m.Iteration(iter(i))
	m.Episode(1500, 1000)
	m.Episode(-20, 37)
	m.Stage(StageStats{Dropped: int64(i), Annotated: int64(i), Added: int64(5 * i), QueueDepth: 3, Failed: int64(i)})
	m.TableEntries(5 * i)
	m.AdvisorRequest(OutcomeOK, 1500*time.Millisecond, 1200, 300)
	m.AdvisorRequest(OutcomeCacheHit, 0, 0, 0)
	m.AdvisorRequest(OutcomeRateLimited, 200*time.Millisecond, 0, 0)
	m.Rejected("bad_step", 2)
	m.Checkpoint(30*time.Millisecond, nil)
	m.Checkpoint(5*time.Millisecond, errors.New("disk full"))
	m.TableHits(int64(10*i), int64(100*i))
}

func serve(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := Serve(ctx, "127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	if srv == nil {
		t.Fatal("Serve returned a nil server for a non-empty address")
	}
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("server Addr %q: want the bound 127.0.0.1 address with its chosen port (err %v)", srv.Addr, err)
	}
	return srv.Addr
}

func TestScrape(t *testing.T) {
	reg := Registry()
	m, err := New(reg, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, reg)

	feedAll(m, 1)
	a := parse(t, scrapeText(t, addr))

	// The Go and process collectors are there, without run labels.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		f, ok := a[name]
		if !ok {
			t.Fatalf("%s missing: Registry should register the runtime collectors", name)
		}
		if _, ok := labelsOf(f.GetMetric()[0])["run"]; ok {
			t.Errorf("%s carries a run label", name)
		}
	}

	// Exactly the families of Names(), every series with the run labels
	// and no label outside the allowed ones.
	allowed := map[string]string{
		nameModEvents: "kind", nameAdvRequests: "outcome", nameAdvTokens: "type",
		nameAdvRejected: "kind", nameCkptWrites: "result",
	}
	var got []string
	for name, f := range a {
		if !strings.HasPrefix(name, "ultra_") {
			continue
		}
		got = append(got, name)
		for _, s := range f.GetMetric() {
			ls := labelsOf(s)
			if ls["run"] != "r1" || ls["env"] != "HalfCheetah-v4" || ls["variant"] != "ultra-a" {
				t.Errorf("%s: labels %v lack the run labels", name, ls)
			}
			for k := range ls {
				if k != "run" && k != "env" && k != "variant" && k != allowed[name] {
					t.Errorf("%s: unexpected label %q", name, k)
				}
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, Names()) {
		t.Errorf("scraped families\n%v\nwant Names()\n%v", got, Names())
	}

	// Types.
	for name, typ := range map[string]dto.MetricType{
		nameEnvSteps: dto.MetricType_COUNTER, nameTrainSPS: dto.MetricType_GAUGE,
		nameTrainReturn: dto.MetricType_HISTOGRAM, nameTrainLength: dto.MetricType_HISTOGRAM,
		nameAdvDuration: dto.MetricType_HISTOGRAM, nameCkptDuration: dto.MetricType_HISTOGRAM,
		nameAdvQueueDepth: dto.MetricType_GAUGE, nameModEvents: dto.MetricType_COUNTER,
	} {
		if a[name].GetType() != typ {
			t.Errorf("%s has type %v, want %v", name, a[name].GetType(), typ)
		}
	}

	// First-scrape values.
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{nameEnvSteps, nil, 2048},
		{nameEnvEpisodes, nil, 2},
		{nameEnvPhysicsResets, nil, 0},
		{nameTrainIteration, nil, 1},
		{nameTrainSPS, nil, 4001},
		{nameTrainReturnLast10, nil, 1450},
		{namePPOPolicyLoss, nil, -0.01},
		{namePPOValueLoss, nil, 12.5},
		{namePPOEntropy, nil, 5.6},
		{namePPOApproxKL, nil, 0.012},
		{namePPOClipFraction, nil, 0.15},
		{namePPOExplainedVar, nil, 0.9},
		{namePPOLearningRate, nil, 3e-4},
		{namePPOGradNorm, nil, 0.7},
		{namePPOEpochs, nil, 10},
		{nameModEvents, map[string]string{"kind": KindOverrides}, 30},
		{nameModEvents, map[string]string{"kind": KindBonuses}, 12},
		{nameModEvents, map[string]string{"kind": KindResets}, 1},
		{nameModLookups, nil, 100},
		{nameModHits, nil, 10},
		{nameTrainReturn, nil, 2}, // histogram sample counts
		{nameTrainLength, nil, 2},
		{nameAdvRequests, map[string]string{"outcome": OutcomeOK}, 1},
		{nameAdvRequests, map[string]string{"outcome": OutcomeCacheHit}, 1},
		{nameAdvRequests, map[string]string{"outcome": OutcomeRateLimited}, 1},
		{nameAdvRequests, map[string]string{"outcome": OutcomeTimeout}, 0},
		{nameAdvDuration, nil, 2}, // the cache hit is not a request to the endpoint
		{nameAdvTokens, map[string]string{"type": "prompt"}, 1200},
		{nameAdvTokens, map[string]string{"type": "completion"}, 300},
		{nameAdvCacheHits, nil, 1},
		{nameAdvRejected, map[string]string{"kind": "bad_step"}, 2},
		{nameAdvQueueDepth, nil, 3},
		{nameAdvDropped, nil, 1},
		{nameAdvAnnotated, nil, 1},
		{nameAdvFailed, nil, 1},
		{nameAdvBudgetSpent, nil, 0},
		{nameTableEntries, nil, 5},
		{nameTableAdded, nil, 5},
		{nameCkptWrites, map[string]string{"result": ResultOK}, 1},
		{nameCkptWrites, map[string]string{"result": ResultError}, 1},
		{nameCkptDuration, nil, 2},
	}
	for _, c := range checks {
		if v := value(t, a, c.name, c.labels); math.Abs(v-c.want) > 1e-12 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}

	// Histogram contents: the sum and a bucket.
	h := find(t, a, nameTrainReturn, nil).GetHistogram()
	if h.GetSampleSum() != 1480 {
		t.Errorf("%s_sum = %v, want 1480", nameTrainReturn, h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == 0 && b.GetCumulativeCount() != 1 {
			t.Errorf("%s_bucket{le=\"0\"} = %d, want 1", nameTrainReturn, b.GetCumulativeCount())
		}
	}
	if s := find(t, a, nameAdvDuration, nil).GetHistogram().GetSampleSum(); math.Abs(s-1.7) > 1e-9 {
		t.Errorf("%s_sum = %v, want 1.7", nameAdvDuration, s)
	}

	// A second round: counters move by the deltas.
	feedAll(m, 2)
	m.Stage(StageStats{Dropped: 2, Annotated: 2, Added: 10, QueueDepth: 0, BudgetExhausted: true, Failed: 2})
	b := parse(t, scrapeText(t, addr))
	moved := []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{nameEnvSteps, nil, 2048},
		{nameEnvEpisodes, nil, 2},
		{nameEnvPhysicsResets, nil, 1},
		{nameModEvents, map[string]string{"kind": KindOverrides}, 30},
		{nameModLookups, nil, 100},
		{nameModHits, nil, 10},
		{nameAdvRequests, map[string]string{"outcome": OutcomeOK}, 1},
		{nameAdvTokens, map[string]string{"type": "prompt"}, 1200},
		{nameAdvDropped, nil, 1}, // cumulative 1 → 2 (the repeated Stage adds nothing)
		{nameAdvAnnotated, nil, 1},
		{nameAdvFailed, nil, 1},
		{nameTableAdded, nil, 5},
		{nameCkptWrites, map[string]string{"result": ResultError}, 1},
		{nameTrainReturn, nil, 2},
	}
	for _, c := range moved {
		if d := value(t, b, c.name, c.labels) - value(t, a, c.name, c.labels); math.Abs(d-c.delta) > 1e-12 {
			t.Errorf("%s%v moved by %v between scrapes, want %v", c.name, c.labels, d, c.delta)
		}
	}
	if v := value(t, b, nameAdvQueueDepth, nil); v != 0 {
		t.Errorf("queue depth gauge %v after the last Stage, want 0", v)
	}
	if v := value(t, b, nameAdvBudgetSpent, nil); v != 1 {
		t.Errorf("budget gauge %v, want 1", v)
	}
	if v := value(t, b, nameTrainIteration, nil); v != 2 {
		t.Errorf("iteration gauge %v, want 2", v)
	}
}

func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found on PATH (Debian package prometheus provides /usr/bin/promtool); skipping the exposition lint")
	}
	reg := Registry()
	m, err := New(reg, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	feedAll(m, 1)
	m.Iteration(IterationStats{Iteration: 2, GlobalStep: 4096, ExplainedVar: math.NaN(), Return10: math.NaN()})
	text := scrapeText(t, serve(t, reg))

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("promtool check metrics reported problems:\n%s", out)
	}
}

func TestIterationCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	steps := func() float64 {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == nameEnvSteps {
				return f.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no steps counter")
		return 0
	}
	// A resumed run: the first call counts only its own iteration.
	m.Iteration(IterationStats{Iteration: 5, GlobalStep: 5 * 2048})
	if v := steps(); v != 2048 {
		t.Fatalf("after a resumed first iteration: %v steps, want 2048", v)
	}
	m.Iteration(IterationStats{Iteration: 6, GlobalStep: 6 * 2048})
	if v := steps(); v != 4096 {
		t.Fatalf("after the next iteration: %v steps, want 4096", v)
	}
	// A new trainer starting from zero counts as a restart, not a negative add.
	m.Iteration(IterationStats{Iteration: 1, GlobalStep: 1000})
	if v := steps(); v != 5096 {
		t.Fatalf("after a restarted source: %v steps, want 5096", v)
	}
	// Negative or NaN inputs do not panic.
	m.Iteration(IterationStats{Iteration: 2, GlobalStep: -1, Episodes: -3, PhysicsResets: -1, SPS: math.NaN()})
	m.Episode(math.NaN(), -1)
	m.Episode(math.Inf(1), 10)
	m.TableHits(-1, -1)
	m.Rejected("x", -2)
}

func TestAdvisorLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	m.AdvisorRequest("teapot", time.Second, 1, 1)
	for i := 0; i < MaxRejectedKinds+10; i++ {
		m.Rejected("kind_"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1)
	}
	m.Rejected("Bad Kind!", 3)
	m.AdvisorTotals(AdvisorReport{PromptTokens: 100, CompletionTokens: 10, CacheHits: 2, Rejected: map[string]int64{"no_json": 1}})
	m.AdvisorTotals(AdvisorReport{PromptTokens: 150, CompletionTokens: 30, CacheHits: 2, Rejected: map[string]int64{"no_json": 4}})

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	if n := len(byName[nameAdvRejected].GetMetric()); n != MaxRejectedKinds+1 {
		t.Errorf("%d rejected kinds, want %d plus other", n, MaxRejectedKinds)
	}
	if v := value(t, byName, nameAdvRejected, map[string]string{"kind": "other"}); v != 10+3+4 {
		t.Errorf("rejected{kind=other} = %v, want 17 (10 over the cap, 3 invalid, 4 from a new kind past the cap)", v)
	}
	if v := value(t, byName, nameAdvRequests, map[string]string{"outcome": OutcomeOther}); v != 1 {
		t.Errorf("requests{outcome=other} = %v, want 1", v)
	}
	if v := value(t, byName, nameAdvTokens, map[string]string{"type": "prompt"}); v != 1+150 {
		t.Errorf("prompt tokens %v, want 151", v)
	}
	if v := value(t, byName, nameAdvTokens, map[string]string{"type": "completion"}); v != 1+30 {
		t.Errorf("completion tokens %v, want 31", v)
	}
	if v := value(t, byName, nameAdvCacheHits, nil); v != 2 {
		t.Errorf("cache hits %v, want 2", v)
	}
	if n := len(byName[nameAdvRequests].GetMetric()); n != 7 {
		t.Errorf("%d outcome series, want 7", n)
	}
}

func TestNew(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Labels{Run: "r", Env: "e"}); err == nil || !strings.Contains(err.Error(), "variant") {
		t.Errorf("empty variant: err %v, want one naming the variant label", err)
	}
	if _, err := New(nil, testLabels); err == nil {
		t.Error("nil registerer accepted")
	}
	if _, err := New(reg, testLabels); err != nil {
		t.Fatal(err)
	}
	_, err := New(reg, testLabels)
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second registration of the same run: err %v, want already registered", err)
	}
	// The failed registration left nothing behind that blocks another run.
	if _, err := New(reg, Labels{Run: "r2", Env: testLabels.Env, Variant: "ppo"}); err != nil {
		t.Errorf("a second run on the same registry: %v", err)
	}
	if err := reg.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "ultra_unrelated_total", Help: "x"})); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather with two runs: %v", err)
	}
}

func TestServeDisabled(t *testing.T) {
	srv, err := Serve(context.Background(), "", Registry())
	if srv != nil || err != nil {
		t.Fatalf(`Serve(""): %v, %v; want nil, nil`, srv, err)
	}
}

func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	srv, inUse := Serve(context.Background(), addr, Registry())
	if inUse == nil {
		_ = srv.Close()
		t.Fatalf("Serve on %s, already bound: no error", addr)
	}
	for _, want := range []string{strconv.Quote(addr), "port in use", "another port", "empty address"} {
		if !strings.Contains(inUse.Error(), want) {
			t.Errorf("error %q lacks %q", inUse, want)
		}
	}
	if !errors.Is(inUse, syscall.EADDRINUSE) {
		t.Errorf("error %q does not wrap EADDRINUSE", inUse)
	}
	_, bad := Serve(context.Background(), "127.0.0.1:notaport", Registry())
	if bad == nil || !strings.Contains(bad.Error(), `"127.0.0.1:notaport"`) || !strings.Contains(bad.Error(), "host:port") {
		t.Fatalf("bad address: err %v, want one naming the address and the host:port form", bad)
	}
	// The engine names values, never the command line's flags.
	for _, err := range []error{inUse, bad} {
		if strings.Contains(err.Error(), "--") {
			t.Errorf("error %q names a flag", err)
		}
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Serve(ctx, "127.0.0.1:0", Registry())
	if err != nil {
		t.Fatal(err)
	}
	_ = scrapeText(t, srv.Addr)
	resp, err := http.Get("http://" + srv.Addr + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %s, want 404", resp.Status)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", srv.Addr, time.Second)
		if err != nil {
			break // closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepting 10 s after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConcurrentUse(t *testing.T) {
	reg := Registry()
	m, err := New(reg, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, reg)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 50; i++ {
				feedAll(m, i)
				m.AdvisorTotals(AdvisorReport{PromptTokens: int64(i), Rejected: map[string]int64{"dup": int64(i)}})
			}
		}()
	}
	for i := 0; i < 5; i++ {
		_ = scrapeText(t, addr)
	}
	wg.Wait()
	fams := parse(t, scrapeText(t, addr))
	if v := value(t, fams, nameEnvEpisodes, nil); v != 4*50*2 {
		t.Errorf("episodes %v, want 400", v)
	}
}

// TestNoEngineImports guards issue 13: the metrics package (and its tests)
// depends on no other ultra package, so the Prometheus sink can be linked
// without the trainer, the annotation stage or the advisor.
func TestNoEngineImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range slices.Concat(pkg.Imports, pkg.TestImports, pkg.XTestImports) {
		if strings.HasPrefix(imp, "github.com/ultra-rl/ultra/") {
			t.Errorf("engine/metrics imports %s; take plain values (IterationStats, StageStats, AdvisorReport) instead", imp)
		}
	}
}
