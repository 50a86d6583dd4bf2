package report

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// twoTasks is a synthetic aggregate input: "same" copies ppo, "flat" scores
// exactly the random policy's return, "better" adds a constant.
func twoTasks() []TaskScores {
	return []TaskScores{
		{Task: "hopper", Random: 20, Variants: []string{"ppo", "same", "flat", "better"}, Scores: map[string][]float64{
			"ppo":    {900, 1100, 1000, 1300, 700},
			"same":   {900, 1100, 1000, 1300, 700},
			"flat":   {20, 20, 20, 20, 20},
			"better": {1900, 2100, 2000, 2300, 1700},
		}},
		{Task: "pong", Random: -20, Variants: []string{"ppo", "same", "flat", "better"}, Scores: map[string][]float64{
			"ppo":    {-10, -12, -8, -11, -9},
			"same":   {-10, -12, -8, -11, -9},
			"flat":   {-20, -20, -20, -20, -20},
			"better": {1, 2, 3, 4, 5},
		}},
	}
}

func TestAggregateNormalisation(t *testing.T) {
	a, err := NewAggregate(twoTasks(), "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Tasks, []string{"hopper", "pong"}) || a.Ref[0] != 1000 || a.Ref[1] != -10 {
		t.Fatalf("tasks %v, refs %v", a.Tasks, a.Ref)
	}
	rows := map[string]AggregateRow{}
	for _, r := range a.Rows {
		rows[r.Variant] = r
	}
	for _, tc := range []struct {
		variant string
		mean    float64
	}{
		{"ppo", 1}, {"same", 1}, {"flat", 0},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			r := rows[tc.variant]
			if !close(r.Mean, tc.mean, 1e-12) || r.Runs != 10 {
				t.Errorf("normalised mean %v over %d runs, want %v over 10", r.Mean, r.Runs, tc.mean)
			}
		})
	}
	flat := rows["flat"]
	if flat.IQM != 0 || flat.IQMLow != 0 || flat.IQMHigh != 0 || flat.PerTask[0] != 0 || flat.PerTask[1] != 0 {
		t.Errorf("a random-policy variant: IQM %v [%v, %v], per task %v; want exactly 0", flat.IQM, flat.IQMLow, flat.IQMHigh, flat.PerTask)
	}
	// Every run of "better" beats every ppo run on both tasks; "same" ties.
	if b := rows["better"]; b.PImprove != 1 || b.PImproveLow != 1 || b.PImproveHigh != 1 {
		t.Errorf("better: P(improve) %v [%v, %v], want 1 [1, 1]", b.PImprove, b.PImproveLow, b.PImproveHigh)
	}
	if s := rows["same"]; s.PImprove != 0.5 {
		t.Errorf("same: P(improve) %v, want 0.5", s.PImprove)
	}
	if f := rows["flat"]; f.PImprove != 0 {
		t.Errorf("flat: P(improve) %v, want 0", f.PImprove)
	}
	if !math.IsNaN(rows["ppo"].PImprove) {
		t.Errorf("ppo has a P(improve) over itself: %v", rows["ppo"].PImprove)
	}
	// The hopper "better" runs are ppo's + 1000: normalised + 1000/980.
	want := IQM(Normalise([]float64{900, 1100, 1000, 1300, 700}, 20, 1000)) + 1000.0/980
	if got := rows["better"].PerTask[0]; !close(got, want, 1e-12) {
		t.Errorf("better on hopper: IQM %v, want %v", got, want)
	}
}

func TestAggregateErrors(t *testing.T) {
	tasks := twoTasks()
	delete(tasks[1].Scores, "ppo")
	if _, err := NewAggregate(tasks, "ppo", 1); err == nil || !strings.Contains(err.Error(), "pong has no ppo runs") {
		t.Errorf("missing baseline: %v", err)
	}
	tasks = twoTasks()
	tasks[0].Random = 1000
	if _, err := NewAggregate(tasks, "ppo", 1); err == nil || !strings.Contains(err.Error(), "equals the random policy's score") {
		t.Errorf("baseline equal to random: %v", err)
	}
	tasks = twoTasks()
	delete(tasks[1].Scores, "better")
	a, err := NewAggregate(tasks, "ppo", 1)
	if err != nil || !reflect.DeepEqual(a.Left, []string{"better"}) || len(a.Rows) != 3 {
		t.Errorf("a variant missing from one task: left %v, %d rows, err %v; want it left out", a.Left, len(a.Rows), err)
	}
}

// TestStratifiedBootstrapKnownAnswer checks the interval of the pooled
// mean against its closed form: with equal runs per task the pooled mean
// is the average of the task means, whose bootstrap variance is
// Σ σ̂²_t / n / T² (σ̂² the plug-in variance), so the 95% interval is the
// mean ± 1.96 of that standard error up to resampling noise. A constant
// stratum contributes no width at all.
func TestStratifiedBootstrapKnownAnswer(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const n = 400
	strata := [][]float64{make([]float64, n), make([]float64, n)}
	for i := range n {
		strata[0][i] = rng.NormFloat64()
		strata[1][i] = 3 + 2*rng.NormFloat64()
	}
	plugin := func(xs []float64) float64 { return variance(xs) * float64(len(xs)-1) / float64(len(xs)) }
	se := math.Sqrt((plugin(strata[0])/n + plugin(strata[1])/n) / 4)
	m := (mean(strata[0]) + mean(strata[1])) / 2
	lo, hi := StratifiedBootstrap(strata, mean, rand.New(rand.NewPCG(1, 2)))
	if wantLo, wantHi := m-1.96*se, m+1.96*se; !close(lo, wantLo, 0.06*3.92*se) || !close(hi, wantHi, 0.06*3.92*se) {
		t.Errorf("interval [%.4f, %.4f], want [%.4f, %.4f] (±6%% of its width)", lo, hi, wantLo, wantHi)
	}
	lo, hi = StratifiedBootstrap([][]float64{{2, 2, 2}, {5, 5}}, IQM, rand.New(rand.NewPCG(1, 2)))
	if want := IQM([]float64{2, 2, 2, 5, 5}); lo != want || hi != want {
		t.Errorf("constant strata: [%v, %v], want [%v, %v]", lo, hi, want, want)
	}
}

func TestPerformanceProfile(t *testing.T) {
	a, err := NewAggregate(twoTasks(), "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	pr := a.PerformanceProfile(101)
	if len(pr.Tau) != 101 {
		t.Fatalf("%d thresholds", len(pr.Tau))
	}
	flat := pr.Fraction["flat"]
	// flat scores 0 on every run: the profile is 1 below 0 and 0 from it.
	for k, tau := range pr.Tau {
		want := 0.0
		if tau < 0 {
			want = 1
		}
		if flat[k] != want {
			t.Fatalf("flat at τ=%v: %v, want %v", tau, flat[k], want)
		}
	}
	// Just above 1 (ppo's mean), ppo has 2 of 5 hopper runs (1100, 1300)
	// and 2 of 5 pong runs (-9, -8).
	if got := profileAt(a, "ppo", 1+1e-9); !close(got, 0.4, 1e-12) {
		t.Errorf("ppo above its mean: %v, want 0.4", got)
	}
}

// profileAt is the profile of v at one threshold.
func profileAt(a *Aggregate, v string, tau float64) float64 {
	s := 0.0
	for _, xs := range a.Normalised[v] {
		above := 0
		for _, x := range xs {
			if x > tau {
				above++
			}
		}
		s += float64(above) / float64(len(xs))
	}
	return s / float64(len(a.Normalised[v]))
}

func TestAggregateFiles(t *testing.T) {
	a, err := NewAggregate(twoTasks(), "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	if err := PlotAggregate(a, p("a.png"), p("a.svg")); err != nil {
		t.Fatal(err)
	}
	if err := PlotProfile(a.PerformanceProfile(50), []string{"ppo", "better"}, "profile", p("p.png"), p("p.svg")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.png", "a.svg", "p.png", "p.svg"} {
		if st, err := os.Stat(p(n)); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", n, err)
		}
	}
	var md, csvb, page bytes.Buffer
	if err := WriteAggregateMarkdown(&md, "across tasks", a, []string{"a note"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| variant | runs | IQM [95% CI] | mean [95% CI] | P(improve) [95% CI] | hopper | pong |",
		"| flat | 10 | 0.00 [0.00, 0.00] | 0.00 [0.00, 0.00] | 0.00 [0.00, 0.00] | 0.00 | 0.00 |",
		"| pong | -20.00 | -10.00 |", "- a note"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if err := WriteAggregateCSV(&csvb, a); err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(csvb.String(), "\n", 2)[0]; !strings.HasSuffix(first, ",iqm_hopper,iqm_pong") {
		t.Errorf("CSV header %q", first)
	}
	if err := WriteAggregateHTML(&page, "across tasks", a, nil, []Figure{{Caption: "estimates", Path: p("a.svg")}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "data:image/svg&#43;xml;base64,") || !strings.Contains(page.String(), "<td>better</td>") {
		t.Errorf("page lacks the inlined figure or a row:\n%.500s", page.String())
	}
}

func TestReadPerSeed(t *testing.T) {
	rows := []Row{
		{Variant: "ppo", Seeds: 3, PerSeed: []float64{1.5, 2.25, 1e-7}},
		{Variant: "ultra-a", Seeds: 2, PerSeed: []float64{-3, 4}},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	vs, scores, err := ReadPerSeed(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vs, []string{"ppo", "ultra-a"}) || !reflect.DeepEqual(scores["ppo"], rows[0].PerSeed) || !reflect.DeepEqual(scores["ultra-a"], rows[1].PerSeed) {
		t.Errorf("read %v %v", vs, scores)
	}
	for _, bad := range []string{"", "variant,mean\nppo,1\n", "variant,per_seed\nppo,1;x\n", "variant,per_seed\nppo,1\nppo,2\n"} {
		if _, _, err := ReadPerSeed(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestAggregateTooFewSeeds: below MinSeedsToCompare seeds on a task — the
// variant's or the baseline's — the aggregate compares nothing, as an
// experiment's table does: no intervals, no P(improve), and the table
// says why (issue 30, rough edge 16).
func TestAggregateTooFewSeeds(t *testing.T) {
	cut := func(drop map[string]int) []TaskScores {
		ts := twoTasks()
		for v, n := range drop {
			ts[1].Scores[v] = ts[1].Scores[v][:n]
		}
		return ts
	}
	for _, tc := range []struct {
		name   string
		tasks  []TaskScores
		tooFew map[string]bool
	}{
		{"five seeds everywhere", twoTasks(), map[string]bool{}},
		{"two seeds of one variant on one task", cut(map[string]int{"better": 2}), map[string]bool{"better": true}},
		{"four seeds of ppo", cut(map[string]int{"ppo": 4}), map[string]bool{"ppo": true, "same": true, "flat": true, "better": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAggregate(tc.tasks, "ppo", 1)
			if err != nil {
				t.Fatal(err)
			}
			var md bytes.Buffer
			if err := WriteAggregateMarkdown(&md, "", a, nil); err != nil {
				t.Fatal(err)
			}
			for _, r := range a.Rows {
				few := tc.tooFew[r.Variant]
				if r.TooFew != few || math.IsNaN(r.IQMLow) != few || math.IsNaN(r.MeanHigh) != few || math.IsNaN(r.IQM) {
					t.Errorf("%s: too few %v, IQM %v [%v, %v], mean [%v, %v]; want too few %v", r.Variant, r.TooFew, r.IQM, r.IQMLow, r.IQMHigh, r.MeanLow, r.MeanHigh, few)
				}
				if few && r.Variant != "ppo" && (!math.IsNaN(r.PImprove) || !strings.Contains(md.String(), "| "+r.Variant+" | ") ||
					!strings.Contains(md.String(), TooFewText)) {
					t.Errorf("%s: P(improve) %v with too few seeds:\n%s", r.Variant, r.PImprove, md.String())
				}
			}
			if len(tc.tooFew) == 0 && strings.Contains(md.String(), TooFewText) {
				t.Errorf("five seeds each, yet:\n%s", md.String())
			}
			if err := PlotAggregate(a, filepath.Join(t.TempDir(), "a.png"), ""); err != nil {
				t.Errorf("plot: %v", err)
			}
		})
	}
}
