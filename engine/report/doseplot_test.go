package report

import (
	"math"
	"path/filepath"
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
