package run

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/mujoco/tasks"
)

// TestEveryIterStatReachesMetrics: every statistic of ppo.IterStats (but
// the episodes' means, recorded per episode instead) has a field of the
// same name and type in metrics.IterationStats, the converter copies each,
// and Metrics.Iteration exports each: a scrape changes when any one of them
// does (issue 26: FailedRestarts used to be dropped on the way).
func TestEveryIterStatReachesMetrics(t *testing.T) {
	pt, mt := reflect.TypeOf(ppo.IterStats{}), reflect.TypeOf(metrics.IterationStats{})
	var st ppo.IterStats
	sv := reflect.ValueOf(&st).Elem()
	for i := 0; i < pt.NumField(); i++ {
		f := pt.Field(i)
		if notExported[f.Name] {
			continue
		}
		mf, ok := mt.FieldByName(f.Name)
		if !ok || mf.Type != f.Type {
			t.Errorf("ppo.IterStats.%s (%s) has no metrics.IterationStats field of that name and type", f.Name, f.Type)
			continue
		}
		setDistinct(sv.Field(i), i)
	}
	got := reflect.ValueOf(iterationMetrics(st))
	for i := 0; i < mt.NumField(); i++ {
		name := mt.Field(i).Name
		if !reflect.DeepEqual(got.Field(i).Interface(), sv.FieldByName(name).Interface()) {
			t.Errorf("%s: converted %v, want %v", name, got.Field(i), sv.FieldByName(name))
		}
	}
	base := metrics.IterationStats{Iteration: 1}
	want := scrape(t, base)
	for i := 0; i < mt.NumField(); i++ {
		t.Run(mt.Field(i).Name, func(t *testing.T) {
			st := base
			setDistinct(reflect.ValueOf(&st).Elem().Field(i), i)
			if scrape(t, st) == want {
				t.Errorf("metrics.IterationStats.%s changes no exported series", mt.Field(i).Name)
			}
		})
	}
}

// setDistinct sets a numeric field to a value of its own (7 + i).
func setDistinct(v reflect.Value, i int) {
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(7 + i))
	case reflect.Float64:
		v.SetFloat(float64(7+i) + 0.5)
	}
}

// scrape is the exposition of a fresh Metrics after one Iteration(st).
func scrape(t *testing.T, st metrics.IterationStats) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Labels{Run: "r", Env: "e", Variant: "v"})
	if err != nil {
		t.Fatal(err)
	}
	m.Iteration(st)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(mf.String())
	}
	return b.String()
}

// TestLoopRecordsEpisodesAndExtension: with metrics, the loop records every
// finished training episode in the return histogram (no hook needed) and
// hands each iteration to the extension, whose fields join the log line.
func TestLoopRecordsEpisodesAndExtension(t *testing.T) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 256, 4, 512
	tr, err := ppo.New(c, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Labels{Run: "r", Env: "hopper", Variant: "train"})
	if err != nil {
		t.Fatal(err)
	}
	ext := &countingExt{}
	var log strings.Builder
	if _, err := Loop(t.Context(), tr, Options{Dir: t.TempDir(), Every: 10, Metrics: m, Extension: ext,
		Logger: slog.New(slog.NewTextHandler(&log, nil))}); err != nil {
		t.Fatal(err)
	}
	var episodes uint64
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "ultra_train_episodic_return" {
			episodes = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if episodes == 0 || ext.observed != 2 || ext.exported != 2 || strings.Count(log.String(), "ext_field=1") != 2 {
		t.Errorf("%d episodes in the histogram; extension observed %d, exported %d iterations; log:\n%s", episodes, ext.observed, ext.exported, log.String())
	}
}

// countingExt counts the loop's calls.
type countingExt struct{ observed, exported int }

func (e *countingExt) Observe(ppo.IterStats) error { e.observed++; return nil }
func (e *countingExt) LogFields() []any            { return []any{"ext_field", 1} }
func (e *countingExt) Export(*metrics.Metrics)     { e.exported++ }

// TestStopOutlastingShutdownAbandonsIteration: a stop that outlasts the
// shutdown timeout abandons the running iteration (ppo.ErrStopped) and
// writes the checkpoint taken before it; the loop says so and returns
// ErrInterrupted. A trainer stopped before an iteration refuses it.
func TestStopOutlastingShutdownAbandonsIteration(t *testing.T) {
	spec, err := env.NewRegistry(tasks.Specs()...).Lookup("hopper")
	if err != nil {
		t.Fatal(err)
	}
	c := ppo.Defaults()
	c.NumSteps, c.NumMinibatches, c.TotalSteps = 2048, 4, 4096
	tr, err := ppo.New(c, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the stop arrives before the first iteration ends
	dir := t.TempDir()
	var log strings.Builder
	_, err = Loop(ctx, tr, Options{Dir: dir, Every: 10, Shutdown: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(log.String(), "stop outlasted the shutdown timeout") {
		t.Fatalf("err %v; log:\n%s", err, log.String())
	}
	ck, err := LoadCheckpoint(dir)
	if err != nil || ck.GlobalStep != 0 || ck.Iteration != 0 {
		t.Fatalf("the checkpoint before the abandoned iteration: %+v, %v", ck, err)
	}
	tr2, err := ppo.New(c, spec, ppo.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	tr2.Stop()
	if _, err := tr2.Iterate(); !errors.Is(err, ppo.ErrStopped) {
		t.Errorf("a stopped trainer's Iterate: %v, want ppo.ErrStopped", err)
	}
}
