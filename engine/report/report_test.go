package report

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runsWithMeans returns one run per value, each with eval returns whose
// mean is that value.
func runsWithMeans(variant string, means ...float64) []Run {
	var runs []Run
	for i, m := range means {
		runs = append(runs, Run{Variant: variant, Seed: uint64(i + 1), Eval: []float64{m - 1, m, m + 1}})
	}
	return runs
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBootstrapKnownSample(t *testing.T) {
	rows, err := Summarize(runsWithMeans("a", 1, 2, 3, 4, 5), "", 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	r := rows[0]
	if r.Variant != "a" || r.Seeds != 5 {
		t.Errorf("row = %+v", r)
	}
	if !near(r.Mean, 3) {
		t.Errorf("mean = %v, want 3", r.Mean)
	}
	if !near(r.Std, math.Sqrt(2.5)) {
		t.Errorf("std = %v, want sqrt(2.5)", r.Std)
	}
	if !(r.CILow < 3 && 3 < r.CIHigh) {
		t.Errorf("CI [%v, %v] does not bracket 3", r.CILow, r.CIHigh)
	}
	if r.CILow < 1 || r.CIHigh > 5 {
		t.Errorf("CI [%v, %v] outside [1, 5]", r.CILow, r.CIHigh)
	}
	// The bootstrap mean of 5 values has sd sqrt(2/5) ≈ 0.63, so the 95%
	// interval is roughly 3 ± 1.2; it must be neither tiny nor the whole range.
	if w := r.CIHigh - r.CILow; w < 1.5 || w > 3.5 {
		t.Errorf("CI width %v, want about 2.4", w)
	}
	if !math.IsNaN(r.Delta) || !math.IsNaN(r.DeltaPct) || !math.IsNaN(r.DeltaCILow) || r.Significant {
		t.Errorf("no baseline but delta fields set: %+v", r)
	}

	again, _ := Summarize(runsWithMeans("a", 1, 2, 3, 4, 5), "", 7)
	if again[0].CILow != r.CILow || again[0].CIHigh != r.CIHigh {
		t.Errorf("same seed, different CI: [%v, %v] vs [%v, %v]", again[0].CILow, again[0].CIHigh, r.CILow, r.CIHigh)
	}
	// 1..5 has lattice-valued resample means, so the seed may not show in
	// its interval; irregular values do.
	odd := runsWithMeans("a", 1, 2.3, 2.9, 4.1, 5.7)
	s1, _ := Summarize(odd, "", 7)
	s2, _ := Summarize(odd, "", 8)
	if s1[0].CILow == s2[0].CILow && s1[0].CIHigh == s2[0].CIHigh {
		t.Errorf("different seed, identical CI [%v, %v]", s1[0].CILow, s1[0].CIHigh)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{0, 10, 20, 30, 40}
	for _, c := range []struct{ q, want float64 }{{0, 0}, {0.5, 20}, {1, 40}, {0.125, 5}} {
		if got := quantile(xs, c.q); !near(got, c.want) {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestDeltaSeparatedAndOverlapping(t *testing.T) {
	var runs []Run
	runs = append(runs, runsWithMeans("base", 10, 11, 12, 10.5, 11.5)...)
	runs = append(runs, runsWithMeans("better", 20, 21, 22, 20.5, 21.5)...)
	runs = append(runs, runsWithMeans("same", 9, 13, 10, 12, 11.2)...)
	rows, err := Summarize(runs, "base", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"base", "better", "same"}
	for i, r := range rows {
		if r.Variant != want[i] {
			t.Fatalf("row %d is %q, want %q", i, r.Variant, want[i])
		}
	}
	base, better, same := rows[0], rows[1], rows[2]
	if base.Delta != 0 || base.DeltaPct != 0 || base.Significant || !math.IsNaN(base.DeltaCILow) {
		t.Errorf("baseline row: %+v", base)
	}
	if !near(better.Delta, 10) || !near(better.DeltaPct, 10.0/11*100) {
		t.Errorf("better: delta %v (%v%%), want 10 (90.9%%)", better.Delta, better.DeltaPct)
	}
	if !better.Significant || !(better.DeltaCILow > 0 && better.DeltaCILow <= 10 && 10 <= better.DeltaCIHigh) {
		t.Errorf("better: significant=%v CI [%v, %v]", better.Significant, better.DeltaCILow, better.DeltaCIHigh)
	}
	if !near(same.Delta, 0.04) {
		t.Errorf("same: delta %v, want 0.04", same.Delta)
	}
	if same.Significant || !(same.DeltaCILow < 0 && same.DeltaCIHigh > 0) {
		t.Errorf("same: significant=%v CI [%v, %v]", same.Significant, same.DeltaCILow, same.DeltaCIHigh)
	}

	// Worse than the baseline: significant with a negative interval.
	rows, _ = Summarize(append(runsWithMeans("base", 10, 11, 12), runsWithMeans("worse", 1, 2, 3)...), "base", 1)
	if w := rows[1]; !w.Significant || w.DeltaCIHigh >= 0 || !near(w.Delta, -9) {
		t.Errorf("worse: %+v", w)
	}
}

func TestDeltaPctNegativeBaseline(t *testing.T) {
	rows, err := Summarize(append(runsWithMeans("base", -100, -100), runsWithMeans("v", -50, -50)...), "base", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !near(rows[1].DeltaPct, 50) {
		t.Errorf("DeltaPct = %v, want +50 (improvement over a negative baseline)", rows[1].DeltaPct)
	}
}

func TestSummarizeErrors(t *testing.T) {
	runs := runsWithMeans("a", 1, 2)
	runs = append(runs, Run{Variant: "b", Seed: 1, Curve: []Point{{1, 1}}})
	if _, err := Summarize(runs, "", 1); err == nil || !strings.Contains(err.Error(), "no eval") {
		t.Errorf("run without Eval: err = %v", err)
	}
	dup := append(runsWithMeans("a", 1, 2), runsWithMeans("a", 3)...)
	if _, err := Summarize(dup, "", 1); err == nil {
		t.Error("duplicate seed: no error")
	}
	if _, err := Summarize(runsWithMeans("a", 1, 2), "missing", 1); err == nil {
		t.Error("unknown baseline: no error")
	}
}

func TestSingleSeed(t *testing.T) {
	rows, err := Summarize(append(runsWithMeans("base", 4), runsWithMeans("v", 6)...), "base", 1)
	if err != nil {
		t.Fatal(err)
	}
	v := rows[1]
	if !math.IsNaN(v.Std) || v.CILow != 6 || v.CIHigh != 6 || !near(v.Delta, 2) {
		t.Errorf("single seed row: %+v", v)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, "t", rows, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| v | 1 | 6.00 | [6.00, 6.00] |") {
		t.Errorf("markdown:\n%s", md.String())
	}
}

func exampleRows(t *testing.T) []Row {
	t.Helper()
	var runs []Run
	runs = append(runs, runsWithMeans("baseline", 100, 110, 120)...)
	runs = append(runs, runsWithMeans("ultra|full", 200, 210, 220)...)
	runs = append(runs, runsWithMeans("ultra-nobonus", 95, 115, 125)...)
	rows, err := Summarize(runs, "baseline", 3)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestWriteCSV(t *testing.T) {
	rows := exampleRows(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(rows) {
		t.Fatalf("%d records, want %d", len(recs), 1+len(rows))
	}
	if strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		t.Errorf("header %v", recs[0])
	}
	for i, r := range rows {
		rec := recs[i+1]
		if rec[0] != r.Variant || rec[1] != "3" {
			t.Errorf("record %d: %v", i, rec)
		}
		for j, want := range []float64{r.Mean, r.Std, r.CILow, r.CIHigh} {
			got, err := strconv.ParseFloat(rec[2+j], 64)
			if err != nil || got != want {
				t.Errorf("record %d column %s = %q, want %v", i, csvHeader[2+j], rec[2+j], want)
			}
		}
		if rec[10] != strconv.FormatBool(r.Significant) {
			t.Errorf("record %d significant = %q", i, rec[10])
		}
	}
	if recs[1][2] != "110" || recs[2][2] != "210" || recs[2][6] != "100" || recs[2][10] != "true" {
		t.Errorf("unexpected values: %v / %v", recs[1], recs[2])
	}
	if recs[1][8] != "" || recs[1][9] != "" { // baseline has no difference interval
		t.Errorf("baseline delta CI = %q, %q, want empty", recs[1][8], recs[1][9])
	}
}

func TestWriteMarkdown(t *testing.T) {
	rows := exampleRows(t)
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, "Hopper refinement", rows, []string{"eval: 10 episodes per seed", "seeds 1-3"}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## Hopper refinement\n",
		"| variant | seeds | mean ± std | 95% CI | Δ vs baseline (95% CI) |",
		"| baseline | 3 | 110.00 ± 10.00 | [",
		"| baseline | 3 | 110.00 ± 10.00 | [" + num(rows[0].CILow) + ", " + num(rows[0].CIHigh) + "] | baseline |",
		`| ultra\|full | 3 | 210.00 ± 10.00 |`,
		"**+100.00 (+90.91%) [",
		"| ultra-nobonus | 3 | 111.67 ± 15.28 |",
		"- eval: 10 episodes per seed\n- seeds 1-3\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Table rows: header, separator, one per variant; all with 6 unescaped pipes.
	var tableLines int
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "|") {
			tableLines++
			if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != 6 {
				t.Errorf("line %q has %d cell separators, want 6", l, n)
			}
		}
	}
	if tableLines != 2+len(rows) {
		t.Errorf("%d table lines, want %d", tableLines, 2+len(rows))
	}
	if strings.Contains(md, "**+1.67") {
		t.Errorf("overlapping variant marked significant:\n%s", md)
	}
}

func TestLoadCurve(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	data := `{"iteration":1,"global_step":2048,"return_last10":null,"sps":100}
{"iteration":2,"global_step":4096,"sps":100}

{"iteration":3,"global_step":6144,"return_last10":12.5}
{"iteration":4,"global_step":8192,"return_last10":-3}
{"iteration":5,"global_step":10240,"retu`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCurve(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{6144, 12.5}, {8192, -3}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("LoadCurve = %v, want %v", got, want)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"global_step\":1,\"return_last10\":1}\nnot json\n{\"global_step\":3,\"return_last10\":1}\n"), 0o644)
	if _, err := LoadCurve(bad); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("malformed line: err = %v", err)
	}
	if _, err := LoadCurve(filepath.Join(t.TempDir(), "absent.jsonl")); err == nil {
		t.Error("missing file: no error")
	}
}
