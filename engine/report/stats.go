package report

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds the tests and estimators a results table rests on. Each
// is the textbook one; the references are in the doc comments, and the
// tests check them against SciPy's values.

// MinSeedsToCompare is the fewest seeds per variant (and for the baseline)
// with which a table shows intervals, p-values and a "significant" mark.
// With fewer, a no-effect comparison is called significant far more often
// than 5% of the time (32% of the time at 2 seeds with the percentile
// bootstrap this package used before), so the table prints the numbers
// and says "too few seeds to compare".
const MinSeedsToCompare = 5

// Alpha is the family-wise error rate of a table's comparisons (Holm).
const Alpha = 0.05

// WelchT returns Welch's t statistic for mean(xs) − mean(ys), its
// Welch–Satterthwaite degrees of freedom and the two-sided p-value from
// Student's t distribution. All are NaN when either sample has fewer than 2
// values or both have zero variance.
func WelchT(xs, ys []float64) (t, df, p float64) {
	nx, ny := float64(len(xs)), float64(len(ys))
	if nx < 2 || ny < 2 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	vx, vy := variance(xs)/nx, variance(ys)/ny
	se2 := vx + vy
	if se2 == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	t = (mean(xs) - mean(ys)) / math.Sqrt(se2)
	df = se2 * se2 / (vx*vx/(nx-1) + vy*vy/(ny-1))
	p = 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t))
	return t, df, math.Min(p, 1)
}

// MannWhitney returns the Mann–Whitney U statistic of xs against ys (the
// pairs with x > y, ties counting ½) and its two-sided p-value. The p-value
// is exact — the permutation distribution of the rank sum, with midranks
// for ties — when the samples together have at most exactLimit values, and
// otherwise from the normal approximation with the tie correction and a
// continuity correction. NaN for an empty sample.
func MannWhitney(xs, ys []float64) (u, p float64) {
	n1, n2 := len(xs), len(ys)
	if n1 == 0 || n2 == 0 {
		return math.NaN(), math.NaN()
	}
	u = uStat(xs, ys)
	// Midranks of the pooled sample, doubled so that they are integers.
	type obs struct {
		v float64
		x bool
	}
	all := make([]obs, 0, n1+n2)
	for _, x := range xs {
		all = append(all, obs{x, true})
	}
	for _, y := range ys {
		all = append(all, obs{y, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := n1 + n2
	rank2 := make([]int, n) // 2 × midrank
	tieTerm := 0.0          // Σ (t³ − t) over tie groups
	for i := 0; i < n; {
		j := i
		for j < n && all[j].v == all[i].v {
			j++
		}
		for k := i; k < j; k++ {
			rank2[k] = i + j + 1 // 2 × mean of ranks i+1..j
		}
		t := float64(j - i)
		tieTerm += t*t*t - t
		i = j
	}
	w2 := 0 // 2 × rank sum of xs
	for k, o := range all {
		if o.x {
			w2 += rank2[k]
		}
	}
	if n <= exactLimit {
		return u, exactRankSumP(rank2, n1, w2)
	}
	fn1, fn2, fn := float64(n1), float64(n2), float64(n)
	sigma := math.Sqrt(fn1 * fn2 / 12 * ((fn + 1) - tieTerm/(fn*(fn-1))))
	if sigma == 0 {
		return u, 1
	}
	z := (math.Abs(u-fn1*fn2/2) - 0.5) / sigma
	return u, math.Min(1, 2*distuv.UnitNormal.Survival(math.Max(z, 0)))
}

// exactLimit is the largest pooled sample MannWhitney treats exactly.
const exactLimit = 60

// exactRankSumP is the two-sided permutation p-value of a rank sum: twice
// the smaller tail probability, over all ways to pick n1 of the pooled
// (doubled) ranks, of a sum at most or at least w2 (SciPy's convention;
// with ties the distribution is not symmetric). Counting is by dynamic
// programming over (ranks seen, ranks picked, sum).
func exactRankSumP(rank2 []int, n1, w2 int) float64 {
	maxSum := 0
	for _, r := range rank2 {
		maxSum += r
	}
	// ways[k][s]: ways to pick k ranks with doubled sum s.
	ways := make([][]float64, n1+1)
	for k := range ways {
		ways[k] = make([]float64, maxSum+1)
	}
	ways[0][0] = 1
	for _, r := range rank2 {
		for k := n1; k >= 1; k-- {
			row, prev := ways[k], ways[k-1]
			for s := maxSum; s >= r; s-- {
				row[s] += prev[s-r]
			}
		}
	}
	var total, low, high float64
	for s, c := range ways[n1] {
		total += c
		if s <= w2 {
			low += c
		}
		if s >= w2 {
			high += c
		}
	}
	return math.Min(1, 2*math.Min(low, high)/total)
}

// ProbabilityOfImprovement is P(X > Y) + ½·P(X = Y) for X drawn from xs
// and Y from ys: the Mann–Whitney U over n1·n2 (rliable's "probability of
// improvement").
func ProbabilityOfImprovement(xs, ys []float64) float64 {
	return uStat(xs, ys) / float64(len(xs)*len(ys))
}

// uStat counts the pairs (x, y) with x > y, ties counting ½: the
// Mann–Whitney U of xs against ys.
func uStat(xs, ys []float64) float64 {
	u := 0.0
	for _, x := range xs {
		for _, y := range ys {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u
}

// Holm adjusts p-values for multiple comparisons (Holm 1979): sorted
// ascending, the i-th smallest (from 0) is multiplied by m − i and the
// results are made non-decreasing and capped at 1, so that rejecting where
// the adjusted value is below Alpha holds the family-wise error at Alpha.
// NaN entries are skipped and stay NaN; m counts the others.
func Holm(ps []float64) []float64 {
	idx := make([]int, 0, len(ps))
	for i, p := range ps {
		if !math.IsNaN(p) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	out := make([]float64, len(ps))
	for i := range out {
		out[i] = math.NaN()
	}
	m, run := len(idx), 0.0
	for i, k := range idx {
		run = math.Max(run, math.Min(1, float64(m-i)*ps[k]))
		out[k] = run
	}
	return out
}

// IQM is the interquartile mean: the mean of xs after dropping the lowest
// and the highest ⌊n/4⌋ values (scipy.stats.trim_mean(xs, 0.25), as
// rliable computes it). It is robust to a few outlying seeds while using
// half the data, where the median uses one or two values.
func IQM(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := len(s) / 4
	return mean(s[k : len(s)-k])
}

// variance is the sample variance (n−1).
func variance(xs []float64) float64 {
	m := mean(xs)
	ss := 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return ss / float64(len(xs)-1)
}
