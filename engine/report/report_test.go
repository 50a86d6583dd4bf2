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

func TestSummarizeStatistics(t *testing.T) {
	var runs []Run
	runs = append(runs, runsWithMeans("ppo", 1280.6, 1238.9, 1322.4, 1190.2, 1301.7)...)
	runs = append(runs, runsWithMeans("ultra-a", 1988.7, 1319.8, 2657.6, 1500.1, 2210.3)...)
	runs = append(runs, runsWithMeans("placebo", 1290.1, 1250.3, 1300.2, 1180.4, 1310.9)...)
	runs[5].Dose = &Dose{Lookups: 1000, Hits: 10, Overrides: 4}
	runs[6].Dose = &Dose{Lookups: 3000, Hits: 30, Overrides: 6}
	rows, err := Summarize(runs, "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	base, a, pl := rows[0], rows[1], rows[2]
	if !base.Baseline || base.Delta != 0 || !math.IsNaN(base.WelchP) || base.Significant || base.TooFew {
		t.Errorf("baseline row: %+v", base)
	}
	// SciPy: ttest_ind(equal_var=False) p 0.0502, mannwhitneyu exact p 0.0159.
	if math.Abs(a.WelchP-0.05016880722644122) > 1e-7 || math.Abs(a.MannWhitneyP-0.015873015873015872) > 1e-12 {
		t.Errorf("ultra-a p-values %v %v", a.WelchP, a.MannWhitneyP)
	}
	// Holm over two comparisons: the smaller p doubles.
	if a.MannWhitneyHolm != math.Min(1, 2*a.MannWhitneyP) || a.Significant {
		t.Errorf("Holm: MW %v → %v, significant %v (Welch's adjusted p is above 0.05)", a.MannWhitneyP, a.MannWhitneyHolm, a.Significant)
	}
	if a.PImprove != 0.96 || !(a.IQMLow < a.IQM && a.IQM < a.IQMHigh) || len(a.PerSeed) != 5 || a.PerSeed[2] != 2657.6 {
		t.Errorf("ultra-a: %+v", a)
	}
	if d := a.Dose; d == nil || d.Lookups != 2000 || d.Hits != 20 || d.HitRate() != 0.01 || d.Overrides != 5 {
		t.Errorf("dose %+v", a.Dose)
	}
	if base.Dose != nil {
		t.Errorf("ppo has no table, dose %+v", base.Dose)
	}
	if pl.Significant || pl.WelchP < 0.5 {
		t.Errorf("placebo: %+v", pl)
	}
	again, _ := Summarize(runs, "ppo", 1)
	if again[1].IQMLow != a.IQMLow || again[1].IQMHigh != a.IQMHigh {
		t.Error("same seed, different IQM interval")
	}
}

// TestTooFewSeeds: below MinSeedsToCompare nothing is compared — no
// interval, no p-value, no mark — whatever the difference (issue 15: at 2
// seeds the old bootstrap called 32% of no-effect comparisons significant).
func TestTooFewSeeds(t *testing.T) {
	for _, n := range []int{1, 2, 4} {
		var runs []Run
		for i := 0; i < n; i++ {
			runs = append(runs, runsWithMeans("ppo", 100+float64(i))...)
		}
		big := runsWithMeans("ultra-ra", 1000, 2000, 3000, 4000, 5000, 6000)
		runs = append(runs, big...)
		for i := range runs {
			runs[i].Seed = uint64(i%10 + 1)
		}
		rows, err := Summarize(runs, "ppo", 1)
		if err != nil {
			t.Fatal(err)
		}
		r := rows[1]
		if !r.TooFew || r.Significant || !math.IsNaN(r.WelchP) || !math.IsNaN(r.PImprove) {
			t.Errorf("%d baseline seeds: %+v", n, r)
		}
		if !math.IsNaN(rows[0].IQMLow) {
			t.Errorf("%d seeds: interval [%v, %v], want none", n, rows[0].IQMLow, rows[0].IQMHigh)
		}
		var md bytes.Buffer
		WriteMarkdown(&md, "", rows, nil)
		if !strings.Contains(md.String(), TooFewText) || strings.Contains(md.String(), "**") {
			t.Errorf("%d seeds, markdown:\n%s", n, md.String())
		}
	}
}

func TestSummarizeErrors(t *testing.T) {
	if _, err := Summarize([]Run{{Variant: "a", Seed: 1}}, "", 1); err == nil || !strings.Contains(err.Error(), "no eval returns") {
		t.Errorf("no eval: %v", err)
	}
	dup := append(runsWithMeans("a", 1), runsWithMeans("a", 2)...)
	if _, err := Summarize(dup, "", 1); err == nil || !strings.Contains(err.Error(), "seed 1 twice") {
		t.Errorf("duplicate seed: %v", err)
	}
	if _, err := Summarize(runsWithMeans("a", 1), "ppo", 1); err == nil || !strings.Contains(err.Error(), `baseline "ppo" has no runs`) {
		t.Errorf("missing baseline: %v", err)
	}
}

func exampleRows(t *testing.T) []Row {
	t.Helper()
	var runs []Run
	runs = append(runs, runsWithMeans("baseline", 100, 110, 120, 105, 115)...)
	runs = append(runs, runsWithMeans("ultra|full", 200, 210, 220, 205, 215)...)
	runs = append(runs, runsWithMeans("ultra-nobonus", 95, 115, 125, 100, 120)...)
	runs[5].Dose = &Dose{Lookups: 100, Hits: 3, Overrides: 2, Bonuses: 3}
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
	if len(recs) != 1+len(rows) || strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("records %v", recs)
	}
	col := func(rec []string, name string) string {
		for i, h := range csvHeader {
			if h == name {
				return rec[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	for i, r := range rows {
		rec := recs[i+1]
		for name, want := range map[string]float64{"mean": r.Mean, "std": r.Std, "iqm": r.IQM, "iqm_ci_low": r.IQMLow} {
			if got, err := strconv.ParseFloat(col(rec, name), 64); err != nil || got != want {
				t.Errorf("record %d %s = %q, want %v", i, name, col(rec, name), want)
			}
		}
		if col(rec, "significant") != strconv.FormatBool(r.Significant) || col(rec, "variant") != r.Variant {
			t.Errorf("record %d: %v", i, rec)
		}
	}
	if col(recs[1], "per_seed") != "100;110;120;105;115" || col(recs[1], "welch_p") != "" || col(recs[1], "lookups") != "" {
		t.Errorf("baseline record %v", recs[1])
	}
	if col(recs[2], "significant") != "true" || col(recs[2], "hit_rate") != "0.03" || col(recs[2], "too_few_seeds") != "false" {
		t.Errorf("ultra|full record %v", recs[2])
	}
}

func TestWriteMarkdown(t *testing.T) {
	rows := exampleRows(t)
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, "Hopper refinement", rows, []string{"eval: 10 episodes per seed", "seeds 1-5"}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## Hopper refinement\n",
		"| variant | seeds | mean ± std | IQM [95% CI] | Δ vs baseline | Welch p (Holm) | Mann–Whitney p (Holm) | P(better) | table hits / lookups | overrides | bonuses | resets |",
		"| baseline | 5 | 110.00 ± 7.91 | 110.00 [",
		"| baseline |",
		`| ultra\|full | 5 | 210.00 ± 7.91 |`,
		"| **+100.00 (+90.9%)** | <0.001 (<0.001) | 0.008 (0.016) | 1.00 | 3 / 100 (3.00%) | 2 | 3 | 0 |",
		"- baseline: 100.0, 110.0, 120.0, 105.0, 115.0\n",
		"- eval: 10 episodes per seed\n- seeds 1-5\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	var tableLines int
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "|") {
			tableLines++
			if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != len(headers)+1 {
				t.Errorf("line %q has %d cell separators, want %d", l, n, len(headers)+1)
			}
		}
	}
	if tableLines != 2+len(rows) {
		t.Errorf("%d table lines, want %d", tableLines, 2+len(rows))
	}
	if strings.Contains(md, "**+1.00") {
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
