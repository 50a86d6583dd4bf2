package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The reference values were computed with SciPy 1.10.1 (Debian bookworm's
// python3-scipy): stats.ttest_ind(equal_var=False), stats.mannwhitneyu
// (method "exact", or "asymptotic"), stats.permutation_test of the rank sum
// for tied data, stats.trim_mean(x, 0.25).

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestWelchT(t *testing.T) {
	for _, tc := range []struct {
		name     string
		xs, ys   []float64
		stat, pv float64
	}{
		{"demo-like", []float64{1988.7, 1319.8, 2657.6, 1500.1, 2210.3}, []float64{1280.6, 1238.9, 1322.4, 1190.2, 1301.7}, 2.7528268460471548, 0.05016880722644122},
		{"unequal sizes", []float64{3, 1, 4, 1, 5, 9, 2, 6}, []float64{2, 7, 1, 8, 2, 8, 1, 8, 2, 8}, -0.5784389176415291, 0.5710439160286546},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, p := WelchT(tc.xs, tc.ys)
			if !close(st, tc.stat, 1e-9) || !close(p, tc.pv, 1e-7) {
				t.Fatalf("t %v p %v, SciPy t %v p %v", st, p, tc.stat, tc.pv)
			}
		})
	}
	if _, _, p := WelchT([]float64{1}, []float64{1, 2}); !math.IsNaN(p) {
		t.Errorf("one value: p %v, want NaN", p)
	}
}

func TestMannWhitney(t *testing.T) {
	x40 := make([]float64, 40)
	y35 := make([]float64, 35)
	for i := range x40 {
		x40[i] = float64(i + 1)
	}
	for i := range y35 {
		y35[i] = float64(i+1) + 5.5
	}
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		u, p   float64
		tol    float64
	}{
		{"exact, no ties", []float64{1988.7, 1319.8, 2657.6, 1500.1, 2210.3}, []float64{1280.6, 1238.9, 1322.4, 1190.2, 1301.7}, 24, 0.015873015873015872, 1e-12},
		// Ties: the exact permutation distribution of the midrank sum.
		{"exact, ties", []float64{3, 1, 4, 1, 5, 9, 2, 6}, []float64{2, 7, 1, 8, 2, 8, 1, 8, 2, 8}, 35.5, 0.7029571735454089, 1e-9},
		{"normal approximation", x40, y35, 595, 0.26709471459583256, 1e-9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, p := MannWhitney(tc.xs, tc.ys)
			if u != tc.u || !close(p, tc.p, tc.tol) {
				t.Fatalf("U %v p %v, SciPy U %v p %v", u, p, tc.u, tc.p)
			}
		})
	}
	if poi := ProbabilityOfImprovement([]float64{2, 3}, []float64{1, 3}); poi != 0.625 {
		t.Errorf("P(improvement) %v, want (1 + 1 + 0.5 + 0)/4 = 0.625", poi)
	}
}

func TestHolm(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, math.NaN(), 0.5})
	want := []float64{0.04, 0.09, 0.09, math.NaN(), 0.5}
	for i := range want {
		if !(close(got[i], want[i], 1e-12) || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
}

func TestIQM(t *testing.T) {
	if got := IQM([]float64{5, 1, 9, 3, 7, 2, 8, 100, 4, 6}); got != 5.5 {
		t.Fatalf("IQM %v, SciPy trim_mean 5.5", got)
	}
	lo, hi := StratifiedBootstrap([][]float64{{1, 2, 3, 4, 5, 6, 7, 8}, {10, 11, 12, 13}}, IQM, rand.New(rand.NewPCG(1, 2)))
	if !(lo < hi) || lo < 1 || hi > 13 {
		t.Fatalf("interval [%v, %v]", lo, hi)
	}
}

// TestNoEffectCalibration draws many no-effect comparisons at 5 and 10
// seeds: the two tests must reject at about their nominal 5% (not the 32%
// the percentile bootstrap gave at 2 seeds), and the IQM interval of one
// variant must cover the true centre about 95% of the time. The bounds are
// wide enough for 2000 draws' sampling error.
func TestNoEffectCalibration(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{5, 10} {
		const draws = 2000
		welchRej, mwRej := 0, 0
		for d := 0; d < draws; d++ {
			xs, ys := make([]float64, n), make([]float64, n)
			for i := range xs {
				xs[i], ys[i] = 1000+300*rng.NormFloat64(), 1000+300*rng.NormFloat64()
			}
			if _, _, p := WelchT(xs, ys); p < 0.05 {
				welchRej++
			}
			if _, p := MannWhitney(xs, ys); p < 0.05 {
				mwRej++
			}
		}
		w, m := float64(welchRej)/draws, float64(mwRej)/draws
		t.Logf("%d seeds: Welch rejects %.3f, Mann–Whitney %.3f of no-effect comparisons", n, w, m)
		if w < 0.03 || w > 0.07 || m > 0.07 {
			t.Errorf("%d seeds: rejection rates %.3f and %.3f, want about 0.05 (Mann–Whitney's exact test may be below)", n, w, m)
		}
	}
}
