package report

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// curve returns a rising noisy-looking curve from step `from` to `to`.
func curve(from, to, every int64, scale, phase float64) []Point {
	var c []Point
	for s := from; s <= to; s += every {
		x := float64(s) / float64(to)
		c = append(c, Point{Step: s, Return: scale * (x + 0.1*math.Sin(20*x+phase))})
	}
	return c
}

func checkFigures(t *testing.T, pngPath, svgPath string) {
	t.Helper()
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 750 {
		t.Errorf("PNG is %dx%d, want 1200x750", b.Dx(), b.Dy())
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(svg, []byte("<?xml")) && !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Errorf("SVG starts with %q", svg[:min(len(svg), 20)])
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

func TestPlotCurves(t *testing.T) {
	dir := t.TempDir()
	runs := []Run{
		// Different lengths and sampling: the common range is [4000, 90000].
		{Variant: "baseline", Seed: 1, Curve: curve(2000, 100000, 2000, 100, 0)},
		{Variant: "baseline", Seed: 2, Curve: curve(4000, 90000, 3000, 90, 1)},
		{Variant: "baseline", Seed: 3, Curve: curve(1000, 120000, 1000, 110, 2)},
		{Variant: "ultra", Seed: 1, Curve: curve(2000, 100000, 2000, 180, 3)},
		{Variant: "ultra", Seed: 2, Curve: curve(2000, 100000, 2000, 160, 4)},
		// A single seed: the band degenerates and is not drawn.
		{Variant: "<ultra & single>", Seed: 1, Curve: curve(2000, 100000, 5000, 130, 5)},
	}
	pngPath, svgPath := filepath.Join(dir, "curves.png"), filepath.Join(dir, "curves.svg")
	if err := PlotCurves(runs, "Hopper: learning curves", pngPath, svgPath); err != nil {
		t.Fatal(err)
	}
	checkFigures(t, pngPath, svgPath)
	svg, _ := os.ReadFile(svgPath)
	for _, want := range []string{"env steps", "return (mean of last 10 episodes)", "baseline (3 seeds)", "&lt;ultra &amp; single&gt; (1 seed)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if os.Getenv("REPORT_KEEP") != "" { // to look at the figure
		b, _ := os.ReadFile(pngPath)
		os.WriteFile(os.Getenv("REPORT_KEEP"), b, 0o644)
	}
}

func TestPlotCurvesSingleSeedAndPoint(t *testing.T) {
	dir := t.TempDir()
	pngPath, svgPath := filepath.Join(dir, "a.png"), filepath.Join(dir, "a.svg")
	one := []Run{{Variant: "only", Seed: 9, Curve: curve(1000, 50000, 1000, 10, 0)}}
	if err := PlotCurves(one, "single seed", pngPath, svgPath); err != nil {
		t.Fatal(err)
	}
	checkFigures(t, pngPath, svgPath)

	// Curves meeting at one step only: a one-point grid.
	touch := []Run{
		{Variant: "v", Seed: 1, Curve: []Point{{0, 1}, {100, 2}}},
		{Variant: "v", Seed: 2, Curve: []Point{{100, 3}, {200, 4}}},
	}
	if err := PlotCurves(touch, "touch", pngPath, ""); err != nil {
		t.Fatal(err)
	}
}

func TestPlotCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	if err := PlotCurves(nil, "", p, ""); err == nil {
		t.Error("no runs: no error")
	}
	if err := PlotCurves([]Run{{Variant: "v", Seed: 1}}, "", p, ""); err == nil {
		t.Error("empty curve: no error")
	}
	disjoint := []Run{
		{Variant: "v", Seed: 1, Curve: []Point{{0, 1}, {100, 2}}},
		{Variant: "v", Seed: 2, Curve: []Point{{200, 3}, {300, 4}}},
	}
	if err := PlotCurves(disjoint, "", p, ""); err == nil {
		t.Error("disjoint curves: no error")
	}
}

func TestVariantCurve(t *testing.T) {
	runs := []Run{
		{Seed: 1, Curve: []Point{{0, 0}, {100, 10}}},
		{Seed: 2, Curve: []Point{{50, 20}, {150, 20}, {10, 20}}}, // unsorted
	}
	steps, mean, lo, hi, err := variantCurve(runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != gridPoints || steps[0] != 10 || steps[len(steps)-1] != 100 {
		t.Fatalf("grid %v..%v (%d points), want 10..100 (%d)", steps[0], steps[len(steps)-1], len(steps), gridPoints)
	}
	// At step 10 seed 1 is at 1 and seed 2 at 20; at step 100, 10 and 20.
	if !near(mean[0], 10.5) || lo[0] != 1 || hi[0] != 20 {
		t.Errorf("at 10: mean %v lo %v hi %v", mean[0], lo[0], hi[0])
	}
	if n := len(mean) - 1; !near(mean[n], 15) || lo[n] != 10 || hi[n] != 20 {
		t.Errorf("at 100: mean %v lo %v hi %v", mean[n], lo[n], hi[n])
	}
}

func TestCompact(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 250000: "250k", 1.5e6: "1.5M", 2e6: "2M", 500: "500", -3000: "-3k"} {
		if got := compact(v); got != want {
			t.Errorf("compact(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	rows := exampleRows(t)
	rows = append(rows, Row{Variant: "<script>alert(1)</script>", Seeds: 2, Mean: 1, Std: 0.5, IQM: 1, IQMLow: math.NaN(), IQMHigh: math.NaN(),
		Delta: math.NaN(), DeltaPct: math.NaN(), WelchP: math.NaN(), PImprove: math.NaN()})
	dir := t.TempDir()
	svg, pngf := filepath.Join(dir, "eval box.svg"), filepath.Join(dir, "curves.png")
	os.WriteFile(svg, []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), 0o644)
	os.WriteFile(pngf, []byte("\x89PNG"), 0o644)
	var buf bytes.Buffer
	err := WriteHTML(&buf, "Hopper <results>", rows, []string{"a & b"}, []Figure{{"the <evaluation>", svg}, {"curves", pngf}})
	if err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"<!DOCTYPE html>", "<table>", "</table>", "<title>Hopper &lt;results&gt;</title>", `name="viewport"`,
		`<img src="data:image/svg&#43;xml;base64,PHN2ZyB4bWxucz0i`, `<img src="data:image/png;base64,`, "<figcaption>the &lt;evaluation&gt;</figcaption>",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "<li>a &amp; b</li>",
		"<td>baseline</td>", "<td>ultra|full</td>", "<td>ultra-nobonus</td>", "110.00 ± 7.91",
		`class="num sig">&#43;100.00 (&#43;90.9%)`, "<li>baseline: 100.0, 110.0, 120.0, 105.0, 115.0</li>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("page contains an unescaped <script>")
	}
	for _, ext := range []string{"http://", "https://", "<link", "<script"} {
		if strings.Contains(page, ext) {
			t.Errorf("page is not self-contained: has %q", ext)
		}
	}
	if got := strings.Count(page, "<tr>"); got != 1+len(rows) {
		t.Errorf("%d <tr>, want %d", got, 1+len(rows))
	}
	// The page is well-formed enough for an XML tokenizer (no stray tags).
	dec := xml.NewDecoder(strings.NewReader(strings.Replace(page, "<!DOCTYPE html>", "", 1)))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("page does not parse: %v", err)
		}
	}
}

func TestPlotStrips(t *testing.T) {
	dir := t.TempDir()
	pngPath, svgPath := filepath.Join(dir, "strips.png"), filepath.Join(dir, "strips.svg")
	strips := []Strip{
		{Name: "scripted", Values: []float64{-1, 0, 0.5, 2, math.NaN()}, Mean: 0.375, Lo: -0.5, Hi: 1.5, What: "one annotation", Estimate: "mean"},
		{Name: "random", Values: []float64{0, 0, 0}, Mean: 0, Lo: math.NaN(), Hi: math.NaN()},
	}
	if err := PlotStrips(strips, "hopper: Δ return", "Δ return (suggested − taken)", pngPath, svgPath); err != nil {
		t.Fatal(err)
	}
	checkFigures(t, pngPath, svgPath)
	svg, _ := os.ReadFile(svgPath)
	for _, want := range []string{"Δ return (suggested − taken)", "scripted (4)", "random (3)", "point: one annotation", "bar: mean; line: its 95% CI"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if err := PlotStrips([]Strip{{Name: "x", Values: []float64{math.NaN()}}}, "", "", pngPath, svgPath); err == nil {
		t.Error("a strip without a finite value was drawn")
	}
	if err := PlotStrips(nil, "", "", pngPath, svgPath); err == nil {
		t.Error("nothing was drawn without an error")
	}
}
