// Package report presents the results of an ULTRA experiment — several
// refinement variants, each run with several seeds — as a summary table
// (CSV, Markdown, HTML) and learning-curve plots (PNG, SVG).
//
// Statistics are taken over seeds: each run is reduced to the mean return
// of its evaluation episodes, and a variant is summarised by the mean,
// sample standard deviation and percentile-bootstrap interval of those
// per-seed means. Bootstrap resampling is seeded, so a report is
// reproducible.
package report

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
)

// Point is one learning-curve sample.
type Point struct {
	Step   int64   // environment steps taken so far
	Return float64 // mean return of the most recent episodes
}

// Run is one refinement run.
type Run struct {
	Variant string
	Seed    uint64
	// Curve is the training curve: the mean return of recent episodes
	// against env step (return_last10 vs global_step in metrics.jsonl).
	Curve []Point
	// Eval holds the returns of the final policy's evaluation episodes,
	// played with fixed evaluation seeds.
	Eval []float64
}

// Row summarises one variant.
type Row struct {
	Variant string
	Seeds   int // number of runs (seeds) of the variant

	// Mean and Std are taken over seeds of each seed's mean eval return;
	// Std is the sample standard deviation (n-1), NaN for a single seed.
	Mean, Std float64
	// CILow and CIHigh bound the 95% percentile bootstrap interval of the
	// mean over seeds.
	CILow, CIHigh float64

	// Delta is Mean minus the baseline's Mean, and DeltaPct is Delta as a
	// percentage of |baseline Mean|. Both are NaN without a baseline, and
	// DeltaPct is also NaN when the baseline Mean is 0.
	Delta, DeltaPct float64
	// DeltaCILow and DeltaCIHigh bound the 95% percentile bootstrap
	// interval of the difference of means, resampling the seeds of this
	// variant and of the baseline independently. NaN without a baseline
	// and on the baseline's own row.
	DeltaCILow, DeltaCIHigh float64
	// Significant reports that the difference interval excludes 0.
	Significant bool
}

// Resamples is the number of bootstrap resamples behind each interval.
const Resamples = 10000

// Summarize reduces runs to one row per variant, in the order variants
// first appear in runs. Deltas are taken against the variant named
// baseline; with baseline "" they are NaN. seed makes the bootstrap
// deterministic. It returns an error if a run has no Eval returns, if a
// variant repeats a seed, or if baseline is named but has no runs.
func Summarize(runs []Run, baseline string, seed uint64) ([]Row, error) {
	var order []string
	means := map[string][]float64{}
	seen := map[string]map[uint64]bool{}
	for i, r := range runs {
		if len(r.Eval) == 0 {
			return nil, fmt.Errorf("report: run %d (variant %q, seed %d) has no eval returns", i, r.Variant, r.Seed)
		}
		if seen[r.Variant] == nil {
			seen[r.Variant] = map[uint64]bool{}
			order = append(order, r.Variant)
		}
		if seen[r.Variant][r.Seed] {
			return nil, fmt.Errorf("report: variant %q has seed %d twice", r.Variant, r.Seed)
		}
		seen[r.Variant][r.Seed] = true
		means[r.Variant] = append(means[r.Variant], mean(r.Eval))
	}
	base, haveBase := means[baseline]
	if baseline != "" && !haveBase {
		return nil, fmt.Errorf("report: baseline %q has no runs", baseline)
	}

	rows := make([]Row, 0, len(order))
	for _, v := range order {
		xs := means[v]
		rng := newRand(seed, v)
		r := Row{Variant: v, Seeds: len(xs), Mean: mean(xs), Std: sampleStd(xs)}
		r.CILow, r.CIHigh = bootstrapMean(xs, rng)
		r.Delta, r.DeltaPct = math.NaN(), math.NaN()
		r.DeltaCILow, r.DeltaCIHigh = math.NaN(), math.NaN()
		if haveBase {
			bm := mean(base)
			r.Delta = r.Mean - bm
			if bm != 0 {
				r.DeltaPct = 100 * r.Delta / math.Abs(bm)
			}
			if v != baseline {
				r.DeltaCILow, r.DeltaCIHigh = bootstrapDiff(xs, base, rng)
				r.Significant = r.DeltaCILow > 0 || r.DeltaCIHigh < 0
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// newRand returns the bootstrap generator of one variant. Mixing in the
// variant's name keeps a variant's intervals unchanged when other
// variants are added or reordered.
func newRand(seed uint64, variant string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(variant))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// bootstrapMean returns the 95% percentile bootstrap interval of the mean
// of xs.
func bootstrapMean(xs []float64, rng *rand.Rand) (lo, hi float64) {
	stats := make([]float64, Resamples)
	for b := range stats {
		stats[b] = resampleMean(xs, rng)
	}
	return percentileInterval(stats)
}

// bootstrapDiff returns the 95% percentile bootstrap interval of
// mean(xs) - mean(ys), resampling xs and ys independently.
func bootstrapDiff(xs, ys []float64, rng *rand.Rand) (lo, hi float64) {
	stats := make([]float64, Resamples)
	for b := range stats {
		stats[b] = resampleMean(xs, rng) - resampleMean(ys, rng)
	}
	return percentileInterval(stats)
}

func resampleMean(xs []float64, rng *rand.Rand) float64 {
	s := 0.0
	for range xs {
		s += xs[rng.IntN(len(xs))]
	}
	return s / float64(len(xs))
}

// percentileInterval returns the 2.5% and 97.5% quantiles of stats
// (linear interpolation between order statistics). It sorts stats.
func percentileInterval(stats []float64) (lo, hi float64) {
	sort.Float64s(stats)
	return quantile(stats, 0.025), quantile(stats, 0.975)
}

func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// sampleStd is the n-1 standard deviation, NaN for fewer than 2 values.
func sampleStd(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := mean(xs)
	ss := 0.0
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// groupRuns groups runs by variant, in the order variants first appear.
func groupRuns(runs []Run) (order []string, by map[string][]Run) {
	by = map[string][]Run{}
	for _, r := range runs {
		if _, ok := by[r.Variant]; !ok {
			order = append(order, r.Variant)
		}
		by[r.Variant] = append(by[r.Variant], r)
	}
	return order, by
}

var errNoRuns = errors.New("report: no runs")
