package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium finds a headless-capable Chromium, or skips the test saying
// why.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (apt-get install chromium): the report page is not checked in a browser")
	return ""
}

// TestReportPageInChromium renders a report page as ultra writes it
// (figures from PlotEval and PlotCurves, the table, the notes) in headless
// Chromium: it must show one evaluation figure and one curve figure, in
// that order, need nothing but the page itself, and its text must hold
// every cell of results.md's table (issue 18).
func TestReportPageInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	var runs []Run
	for i, v := range []string{"ppo", "ultra-ra", "placebo"} {
		for s := 1; s <= 5; s++ {
			runs = append(runs, Run{Variant: v, Seed: uint64(s), Eval: []float64{1000 + 80*float64(i*s%7), 1100 + 60*float64(s)},
				Curve: curve(0, 20000, 1000, 1000+100*float64(i), float64(s))})
		}
	}
	rows, err := Summarize(runs, "ppo", 1)
	if err != nil {
		t.Fatal(err)
	}
	esvg, csvg := filepath.Join(dir, "eval.svg"), filepath.Join(dir, "curves.svg")
	if err := PlotEval(rows, "final evaluation", filepath.Join(dir, "eval.png"), esvg); err != nil {
		t.Fatal(err)
	}
	if err := PlotCurves(runs, "training", "", csvg); err != nil {
		t.Fatal(err)
	}
	var md, page bytes.Buffer
	notes := []string{"How the settings were chosen: fixed before the run."}
	if err := WriteMarkdown(&md, "hopper", rows, notes); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&page, "hopper", rows, notes, []Figure{{"evaluation", esvg}, {"curves", csvg}}); err != nil {
		t.Fatal(err)
	}
	// The page alone, away from the figures' files: it must need nothing else.
	alone := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(alone, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Log the images' rendered sizes into the DOM, then dump it.
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=390,844",
		"--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000", "--dump-dom", "file://"+alone)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	imgs := regexp.MustCompile(`<img [^>]*alt="([^"]*)"`).FindAllStringSubmatch(string(dom), -1)
	if len(imgs) != 2 || imgs[0][1] != "evaluation" || imgs[1][1] != "curves" {
		t.Fatalf("the page shows %d figures %v, want the evaluation then the curves, once each", len(imgs), imgs)
	}
	for _, ext := range []string{`src="http`, `src="file`, "<link", "<script"} {
		if strings.Contains(string(dom), ext) {
			t.Errorf("the page loads something else (%q)", ext)
		}
	}
	text := html2text(string(dom))
	for _, line := range strings.Split(md.String(), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") {
			continue
		}
		for _, c := range strings.Split(strings.Trim(line, "| "), " | ") {
			c = strings.Trim(strings.TrimSpace(c), "*")
			if c != "" && !strings.Contains(text, c) {
				t.Errorf("the rendered page lacks the cell %q of results.md", c)
			}
		}
	}
}

// html2text strips tags and decodes the entities a report uses.
func html2text(s string) string {
	s = regexp.MustCompile(`(?s)<style.*?</style>|<[^>]+>`).ReplaceAllString(s, " ")
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#43;", "+", "&#34;", `"`, "&#39;", "'")
	return r.Replace(s)
}
