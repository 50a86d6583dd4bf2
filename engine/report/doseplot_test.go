package report

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlotDose draws two variants at three doses with both bands, one
// point without hits (drawn at the floor), and checks the files; bad
// input is an error.
func TestPlotDose(t *testing.T) {
	row := func(v string, iqm float64, seeds int) Row {
		return Row{Variant: v, Seeds: seeds, IQM: iqm, IQMLow: iqm - 50, IQMHigh: iqm + 50}
	}
	var pts []DosePoint
	for i, hr := range []float64{0, 0.004, 0.03} {
		pts = append(pts, DosePoint{Variant: "ultra-ra", Target: []float64{0.001, 0.005, 0.02}[i], HitRate: hr, Row: row("ultra-ra @ x", 900+20*float64(i), 10)})
		pts = append(pts, DosePoint{Variant: "ultra-ra+rice", Target: []float64{0.001, 0.005, 0.02}[i], HitRate: 2 * (hr + 0.001), Row: row("ultra-ra+rice @ x", 880-10*float64(i), 10)})
	}
	bands := []Row{row("ppo", 910, 10), {Variant: "placebo", Seeds: 3, IQM: 905, IQMLow: math.NaN(), IQMHigh: math.NaN()}}
	dir := t.TempDir()
	png, svg := filepath.Join(dir, "d.png"), filepath.Join(dir, "d.svg")
	if err := PlotDose(pts, bands, "walker2d: dose", png, svg); err != nil {
		t.Fatal(err)
	}
	checkFigures(t, png, svg)
	for name, p := range map[string][]DosePoint{
		"no points":   nil,
		"no hit rate": {{Variant: "ultra-a", Target: 0.01, HitRate: math.NaN(), Row: row("ultra-a", 1, 10)}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := PlotDose(p, bands, "x", "", ""); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestPercentTicks(t *testing.T) {
	ticks := percentTicks{}.Ticks(0.0008, 0.06)
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	want := []string{"0.1%", "0.2%", "0.5%", "1%", "2%", "5%"}
	if len(labels) != len(want) {
		t.Fatalf("ticks %v, want %v", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Errorf("ticks %v, want %v", labels, want)
		}
	}
}

// TestDoseMean: runs' doses (calibration, hit windows, reset visits)
// average over seeds into the row's dose: the calibrated hit rate, the hit
// rate of the last quarter of iterations and the reset-visit counts.
func TestDoseMean(t *testing.T) {
	mk := func(cal float64, hits [4]int64, visits int64) *Dose {
		d := &Dose{Lookups: 800, Hits: 8, Calibrated: true, CalibratedHitRate: cal,
			ResetVisits: &ResetVisits{Visits: visits, Hits: 4, Overrides: 2, Bonuses: 1}}
		for i, h := range hits {
			d.HitWindows = append(d.HitWindows, HitWindow{Step: int64(i + 1), Lookups: 100, Hits: h})
		}
		return d
	}
	runs := []Run{{Variant: "ultra-ra+rice", Seed: 1, Eval: []float64{1}, Dose: mk(0.011, [4]int64{0, 0, 0, 2}, 6)},
		{Variant: "ultra-ra+rice", Seed: 2, Eval: []float64{2}, Dose: mk(0.013, [4]int64{9, 9, 9, 4}, 4)}}
	rows, err := Summarize(runs, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	d := rows[0].Dose
	for name, got := range map[string][2]float64{
		"calibrated": {d.CalibratedHitRate, 0.012}, "late": {d.LateHitRate, 0.03}, "visits": {d.ResetVisits, 5},
		"visit hits": {d.ResetVisitHits, 4}, "visit overrides": {d.ResetVisitOverrides, 2}, "hit rate": {d.HitRate(), 0.01},
	} {
		if math.Abs(got[0]-got[1]) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	rows, _ = Summarize([]Run{{Variant: "ppo", Seed: 1, Eval: []float64{1}, Dose: &Dose{}}}, "", 1)
	if d := rows[0].Dose; !math.IsNaN(d.CalibratedHitRate) || !math.IsNaN(d.LateHitRate) {
		t.Errorf("a run without calibration or windows: %+v", d)
	}
}

// TestHugeAndNonFiniteScores: finite returns as large as 1e308 average
// without overflowing (ppo's normalised score stays 1, not 0), and a NaN or
// an infinite value is refused, naming the variant and the value (issue
// 27, items 8 and 18).
func TestHugeAndNonFiniteScores(t *testing.T) {
	huge := []float64{1e308, 1e308, 1e308, 1e308, 1e308}
	if m := mean(huge); m != 1e308 {
		t.Errorf("mean of 1e308s = %v", m)
	}
	if s := sampleStd([]float64{1e308, -1e308, 1e308, -1e308}); math.IsInf(s, 0) || math.IsNaN(s) || s < 1e307 {
		t.Errorf("std of ±1e308 = %v", s)
	}
	a, err := NewAggregate([]TaskScores{{Task: "hopper", Random: 0, Variants: []string{"ppo", "x"},
		Scores: map[string][]float64{"ppo": huge, "x": {1, 2, 3, 4, 5}}}}, "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Rows[0].Mean; math.Abs(got-1) > 1e-9 {
		t.Errorf("ppo's normalised mean %v, want 1", got)
	}
	csvText := "variant,seeds,per_seed\nppo,2,1;NaN\n"
	if _, _, err := ReadPerSeed(strings.NewReader(csvText)); err == nil || !strings.Contains(err.Error(), `variant "ppo" has the per_seed value NaN`) {
		t.Errorf("NaN in results.csv: %v", err)
	}
	if _, err := Summarize([]Run{{Variant: "ppo", Seed: 3, Eval: []float64{math.Inf(1)}}}, "", 1); err == nil || !strings.Contains(err.Error(), `variant "ppo" seed 3 has the evaluation return +Inf`) {
		t.Errorf("an infinite return: %v", err)
	}
}
