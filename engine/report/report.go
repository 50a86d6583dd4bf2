// Package report presents the results of an ULTRA experiment — several
// refinement variants, each run with several seeds — as a summary table
// (CSV, Markdown, HTML) and learning-curve plots (PNG, SVG).
//
// Statistics are taken over seeds: each run is reduced to the mean return
// of its evaluation episodes. A variant is summarised by the mean and
// sample standard deviation of those per-seed values, the values
// themselves, and their interquartile mean (IQM) with a stratified-
// bootstrap 95% interval, as rliable (Agarwal et al. 2021) recommends. A
// variant is compared with the baseline by Welch's t-test and the
// Mann–Whitney U test, Holm-corrected across the table's variants, and the
// probability of improvement. With fewer than [MinSeedsToCompare] seeds
// there is no interval, test or "significant" mark: too few seeds to
// compare. Bootstrap resampling is seeded, so a report is reproducible.
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
	// Dose is what the critical-state table did during the run; nil for
	// variants without a table (ppo).
	Dose *Dose
}

// Dose counts what a run's critical-state table did: how often the live
// state was looked up and matched, and what the matches caused. The caller
// fills it from the run's summary (ultra.Summary, the run's
// modulator.json); this package reads no file for it.
type Dose struct {
	Lookups, Hits              int64
	Overrides, Bonuses, Resets int64
	Radius                     float64 // the match radius the table used at the end
	Calibrated                 bool    // the radius was fitted to a target hit rate
	CalibratedHitRate          float64 // the share of the calibration rollout that matched
	HitWindows                 []HitWindow
	ResetVisits                *ResetVisits
	Demonstrations             int // states the imitation term used (imitating variants)
}

// HitWindow is the lookups and hits of one iteration.
type HitWindow struct {
	Step          int64
	Lookups, Hits int64
}

// ResetVisits counts, for a variant that restarts episodes at critical
// states and consults the table, the first steps of the restarted episodes
// and what the table did there.
type ResetVisits struct {
	Visits, Hits, Overrides, Bonuses int64
}

// Row summarises one variant.
type Row struct {
	Variant string
	// Mark, when set, follows the variant's name in the Markdown and HTML
	// tables (e.g. "†" with a note saying what it marks); CSV keeps the
	// bare name.
	Mark     string
	Baseline bool // this is the baseline's row
	Seeds    int  // number of runs (seeds) of the variant
	// PerSeed is each seed's mean eval return, in the order of the runs.
	PerSeed []float64

	// Mean and Std are taken over PerSeed; Std is the sample standard
	// deviation (n−1), NaN for a single seed.
	Mean, Std float64
	// IQM is the interquartile mean of PerSeed; IQMLow and IQMHigh bound
	// its stratified-bootstrap 95% interval (NaN below MinSeedsToCompare).
	IQM, IQMLow, IQMHigh float64

	// Delta is Mean minus the baseline's Mean, and DeltaPct is Delta as a
	// percentage of |baseline Mean|. Both are NaN without a baseline, and
	// DeltaPct is also NaN when the baseline Mean is 0.
	Delta, DeltaPct float64
	// WelchP and MannWhitneyP are the two-sided p-values of the comparison
	// with the baseline; the Holm values are adjusted across the table's
	// variants. PImprove is the probability that a seed of this variant
	// beats a seed of the baseline. All NaN on the baseline's row, without
	// a baseline, and with too few seeds.
	WelchP, WelchHolm             float64
	MannWhitneyP, MannWhitneyHolm float64
	PImprove                      float64
	// Significant reports that both Holm-adjusted p-values are below Alpha.
	Significant bool
	// TooFew reports that this variant or the baseline has fewer than
	// MinSeedsToCompare seeds: nothing is compared.
	TooFew bool

	// Dose is the mean per seed of the runs' doses; nil when no run has one.
	Dose *DoseMean
}

// DoseMean is a variant's Dose averaged over its seeds.
type DoseMean struct {
	Lookups, Hits, Overrides, Bonuses, Resets float64
	// CalibratedHitRate is the mean calibration-rollout hit rate of the
	// runs whose radius was calibrated (NaN when none was).
	CalibratedHitRate float64
	// LateHitRate is the hit rate over the last quarter of each run's
	// iterations (its HitWindows), mean over the runs that have them
	// (NaN when none has): how often the table matches the policy that
	// refinement has moved.
	LateHitRate float64
	// ResetVisits and the table's hits, overrides and bonuses at them, per
	// run (all 0 for variants without them).
	ResetVisits, ResetVisitHits, ResetVisitOverrides, ResetVisitBonuses float64
}

// HitRate is Hits / Lookups, NaN without lookups.
func (d *DoseMean) HitRate() float64 {
	if d.Lookups == 0 {
		return math.NaN()
	}
	return d.Hits / d.Lookups
}

// Resamples is the number of bootstrap resamples behind each interval.
const Resamples = 10000

// Summarize reduces runs to one row per variant, in the order variants
// first appear in runs. Comparisons are with the variant named baseline;
// with baseline "" there are none. seed makes the bootstrap deterministic.
// It returns an error if a run has no Eval returns, if a variant repeats a
// seed, or if baseline is named but has no runs.
func Summarize(runs []Run, baseline string, seed uint64) ([]Row, error) {
	var order []string
	means := map[string][]float64{}
	doses := map[string][]*Dose{}
	seen := map[string]map[uint64]bool{}
	for i, r := range runs {
		if len(r.Eval) == 0 {
			return nil, fmt.Errorf("report: run %d (variant %q, seed %d) has no eval returns", i, r.Variant, r.Seed)
		}
		for _, x := range r.Eval {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("report: variant %q seed %d has the evaluation return %v: every return must be finite (rerun its evaluation)", r.Variant, r.Seed, x)
			}
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
		doses[r.Variant] = append(doses[r.Variant], r.Dose)
	}
	base, haveBase := means[baseline]
	if baseline != "" && !haveBase {
		return nil, fmt.Errorf("report: baseline %q has no runs", baseline)
	}

	rows := make([]Row, 0, len(order))
	var compared []int // rows tested against the baseline
	for _, v := range order {
		xs := means[v]
		r := Row{Variant: v, Baseline: v == baseline, Seeds: len(xs), PerSeed: xs, Mean: mean(xs), Std: sampleStd(xs), IQM: IQM(xs),
			IQMLow: math.NaN(), IQMHigh: math.NaN(), Delta: math.NaN(), DeltaPct: math.NaN(),
			WelchP: math.NaN(), WelchHolm: math.NaN(), MannWhitneyP: math.NaN(), MannWhitneyHolm: math.NaN(), PImprove: math.NaN(),
			Dose: meanDose(doses[v])}
		if len(xs) >= MinSeedsToCompare {
			r.IQMLow, r.IQMHigh = StratifiedBootstrap([][]float64{xs}, IQM, newRand(seed, v))
		}
		if haveBase {
			bm := mean(base)
			r.Delta = r.Mean - bm
			if bm != 0 {
				r.DeltaPct = 100 * r.Delta / math.Abs(bm)
			}
			r.TooFew = len(xs) < MinSeedsToCompare || len(base) < MinSeedsToCompare
			if v != baseline && !r.TooFew {
				_, _, r.WelchP = WelchT(xs, base)
				_, r.MannWhitneyP = MannWhitney(xs, base)
				r.PImprove = ProbabilityOfImprovement(xs, base)
				compared = append(compared, len(rows))
			}
		}
		rows = append(rows, r)
	}
	welch, mw := make([]float64, len(compared)), make([]float64, len(compared))
	for i, k := range compared {
		welch[i], mw[i] = rows[k].WelchP, rows[k].MannWhitneyP
	}
	welch, mw = Holm(welch), Holm(mw)
	for i, k := range compared {
		rows[k].WelchHolm, rows[k].MannWhitneyHolm = welch[i], mw[i]
		rows[k].Significant = welch[i] < Alpha && mw[i] < Alpha
	}
	return rows, nil
}

// meanDose averages the runs' doses; nil when none has one.
func meanDose(ds []*Dose) *DoseMean {
	var m DoseMean
	n, nc, cal := 0, 0, 0.0
	nl, late := 0, 0.0
	for _, d := range ds {
		if d == nil {
			continue
		}
		n++
		if d.Calibrated {
			nc++
			cal += d.CalibratedHitRate
		}
		if w := d.HitWindows; len(w) > 0 {
			var h, l int64
			for _, x := range w[len(w)-max(1, len(w)/4):] {
				h, l = h+x.Hits, l+x.Lookups
			}
			if l > 0 {
				nl++
				late += float64(h) / float64(l)
			}
		}
		if rv := d.ResetVisits; rv != nil {
			m.ResetVisits += float64(rv.Visits)
			m.ResetVisitHits += float64(rv.Hits)
			m.ResetVisitOverrides += float64(rv.Overrides)
			m.ResetVisitBonuses += float64(rv.Bonuses)
		}
		m.Lookups += float64(d.Lookups)
		m.Hits += float64(d.Hits)
		m.Overrides += float64(d.Overrides)
		m.Bonuses += float64(d.Bonuses)
		m.Resets += float64(d.Resets)
	}
	if n == 0 {
		return nil
	}
	m.CalibratedHitRate, m.LateHitRate = math.NaN(), math.NaN()
	if nc > 0 {
		m.CalibratedHitRate = cal / float64(nc)
	}
	if nl > 0 {
		m.LateHitRate = late / float64(nl)
	}
	f := 1 / float64(n)
	m.Lookups, m.Hits, m.Overrides, m.Bonuses, m.Resets = m.Lookups*f, m.Hits*f, m.Overrides*f, m.Bonuses*f, m.Resets*f
	m.ResetVisits, m.ResetVisitHits, m.ResetVisitOverrides, m.ResetVisitBonuses = m.ResetVisits*f, m.ResetVisitHits*f, m.ResetVisitOverrides*f, m.ResetVisitBonuses*f
	return &m
}

// newRand returns the bootstrap generator of one variant. Mixing in the
// variant's name keeps a variant's intervals unchanged when other
// variants are added or reordered.
func newRand(seed uint64, variant string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(variant))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
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
	if math.IsInf(s, 0) { // finite values whose sum overflows: average the shares
		n := float64(len(xs))
		s = 0
		for _, x := range xs {
			s += x / n
		}
		return s
	}
	return s / float64(len(xs))
}

// sampleStd is the n-1 standard deviation, NaN for fewer than 2 values.
func sampleStd(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	if v := variance(xs); !math.IsInf(v, 0) {
		return math.Sqrt(v)
	}
	// Squares past the float range: the deviations scaled by the largest.
	m, s := mean(xs), 0.0
	for _, x := range xs {
		s = math.Max(s, math.Abs(x-m))
	}
	ss := 0.0
	for _, x := range xs {
		d := (x - m) / s
		ss += d * d
	}
	return s * math.Sqrt(ss/float64(len(xs)-1))
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
