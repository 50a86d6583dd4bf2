package metrics

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// testLabels is the run every test registers unless it needs another.
var testLabels = Labels{Run: "r1", Env: "HalfCheetah-v4", Variant: "ultra-a"}

// scrapeText GETs http://addr/metrics and returns the body.
func scrapeText(t *testing.T, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: read body: %v", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %s: %s", addr, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: Content-Type %q, want the text format", addr, ct)
	}
	return string(body)
}

// parse parses the text exposition format.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, text)
	}
	return fams
}

// labelsOf returns a metric's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// find returns the series of family name whose labels include want (the
// run labels of testLabels are added), failing unless exactly one matches.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("family %s missing from the scrape", name)
	}
	all := map[string]string{"run": testLabels.Run, "env": testLabels.Env, "variant": testLabels.Variant}
	for k, v := range want {
		all[k] = v
	}
	var found []*dto.Metric
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		match := true
		for k, v := range all {
			if got[k] != v {
				match = false
				break
			}
		}
		if match {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		var have []string
		for _, m := range f.GetMetric() {
			have = append(have, m.String())
		}
		sort.Strings(have)
		t.Fatalf("%s%v: %d matching series, want 1; have:\n%s", name, all, len(found), strings.Join(have, "\n"))
	}
	return found[0]
}

// value is a counter's, gauge's or untyped series' value, or a histogram's count.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	m := find(t, fams, name, want)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("%s: no value", name)
	return 0
}
