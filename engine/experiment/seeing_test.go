package experiment

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/ultra-rl/ultra/engine/report"
)

// TestSpread: the gallery's states are spread evenly, first and last
// included, and a short list is shown whole.
func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		n, max int
		want   []int
	}{
		{3, 12, []int{0, 1, 2}},
		{12, 12, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{80, 4, []int{0, 26, 52, 79}},
		{5, 2, []int{0, 4}},
	} {
		xs := make([]int, tc.n)
		for i := range xs {
			xs[i] = i
		}
		if got := spread(xs, tc.max); !slices.Equal(got, tc.want) {
			t.Errorf("spread(%d, %d) = %v, want %v", tc.n, tc.max, got, tc.want)
		}
	}
}

// TestClipRuns: the clips show the pretrained agent, then each variant's
// best and median seed by mean evaluation return (one clip when they are
// the same seed).
func TestClipRuns(t *testing.T) {
	run := func(v string, seed uint64, ret ...float64) report.Run {
		return report.Run{Variant: v, Seed: seed, Eval: ret}
	}
	for _, tc := range []struct {
		name string
		runs []report.Run
		want []string
	}{
		{"one seed", []report.Run{run("ppo", 1, 10)}, []string{"pretrained", "ppo-s1"}},
		{"two seeds: best and the lower", []report.Run{run("ppo", 1, 10), run("ppo", 2, 30, 10)}, []string{"pretrained", "ppo-s2", "ppo-s1"}},
		{"five seeds, two variants", []report.Run{run("ppo", 1, 5), run("ppo", 2, 50), run("ppo", 3, 40), run("ppo", 4, 1), run("ppo", 5, 30),
			run("ultra-ra", 1, 7), run("ultra-ra", 2, 9), run("ultra-ra", 3, 8)},
			[]string{"pretrained", "ppo-s2", "ppo-s5", "ultra-ra-s2", "ultra-ra-s3"}},
		{"unfinished seeds left out", []report.Run{run("ppo", 1), run("ppo", 2, 3)}, []string{"pretrained", "ppo-s2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Out: "exp"}
			var got []string
			for _, cr := range c.clipRuns(tc.runs) {
				got = append(got, cr.name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("clips of %v, want %v", got, tc.want)
			}
		})
	}
}

// srcs returns every <img> src of a page.
func srcs(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<img [^>]*src="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// short writes the start of a src (data URIs are long).
func short(s string) string { return fmt.Sprintf("%.40s", s) }
