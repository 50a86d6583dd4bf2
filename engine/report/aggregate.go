package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// This file aggregates experiments across tasks in the manner of rliable
// (Agarwal et al. 2021): every run's score is normalised by its task's
// random-policy and ppo scores, and the variants are compared on the
// pooled normalised scores with stratified-bootstrap intervals (runs are
// resampled within each task).

// TaskScores are one task's final evaluations: each variant's per-seed
// scores (a seed's mean evaluation return) and the task's random-policy
// score, the zero of its normalisation.
type TaskScores struct {
	Task   string
	Random float64
	// Variants lists the variants in table order; Scores holds their
	// per-seed values.
	Variants []string
	Scores   map[string][]float64
}

// AggregateRow is one variant across tasks.
type AggregateRow struct {
	Variant string
	Runs    int       // runs over all tasks
	PerTask []float64 // IQM of the normalised scores on each task, in task order
	// IQM and Mean are those of the pooled normalised scores; the Low and
	// High fields are their stratified-bootstrap 95% intervals.
	IQM, IQMLow, IQMHigh    float64
	Mean, MeanLow, MeanHigh float64
	// PImprove is the probability that a run of this variant scores above
	// a run of the baseline on the same task (ties count half), averaged
	// over tasks, with its stratified-bootstrap 95% interval. NaN for the
	// baseline itself.
	PImprove, PImproveLow, PImproveHigh float64
	// TooFew is set when the variant, or the baseline, has fewer than
	// MinSeedsToCompare runs on some task: as in an experiment's table,
	// nothing is compared then — the intervals and P(improve) are NaN,
	// and the IQM and mean are the estimates alone.
	TooFew bool
}

// Aggregate is the cross-task summary NewAggregate computes.
type Aggregate struct {
	Baseline string
	Tasks    []string
	Random   []float64 // each task's random-policy score (normalised 0)
	Ref      []float64 // each task's baseline mean (normalised 1)
	Rows     []AggregateRow
	// Normalised holds each variant's normalised scores, per task.
	Normalised map[string][][]float64
	// Left lists variants left out because a task lacks them.
	Left []string
}

// Normalise maps scores to (x − random) / (ref − random): a score equal
// to the random policy's is 0 and one equal to ref is 1.
func Normalise(xs []float64, random, ref float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = (x - random) / (ref - random)
	}
	return out
}

// NewAggregate normalises every task's scores by its random-policy score
// and the mean of its baseline variant's scores, and summarises each
// variant present in every task. Bootstrap resampling is seeded by seed.
// It fails if a task lacks the baseline or the baseline's mean equals the
// random score (nothing to normalise by).
func NewAggregate(tasks []TaskScores, baseline string, seed uint64) (*Aggregate, error) {
	if len(tasks) == 0 {
		return nil, errNoRuns
	}
	a := &Aggregate{Baseline: baseline, Normalised: map[string][][]float64{}}
	present := map[string]int{}
	for _, t := range tasks {
		b := t.Scores[baseline]
		if len(b) == 0 {
			return nil, fmt.Errorf("report: task %s has no %s runs to normalise by; run the experiment with the %s variant", t.Task, baseline, baseline)
		}
		ref := mean(b)
		if math.Abs(ref-t.Random) < 1e-9*math.Max(1, math.Abs(ref)) {
			return nil, fmt.Errorf("report: task %s: the %s mean %.4g equals the random policy's score, so scores cannot be normalised", t.Task, baseline, ref)
		}
		a.Tasks, a.Random, a.Ref = append(a.Tasks, t.Task), append(a.Random, t.Random), append(a.Ref, ref)
		for _, v := range t.Variants {
			if len(t.Scores[v]) > 0 {
				present[v]++
			}
		}
	}
	var order []string
	seen := map[string]bool{}
	for _, t := range tasks {
		for _, v := range t.Variants {
			if seen[v] {
				continue
			}
			seen[v] = true
			if present[v] == len(tasks) {
				order = append(order, v)
			} else {
				a.Left = append(a.Left, v)
			}
		}
	}
	for _, v := range order {
		per := make([][]float64, len(tasks))
		for i, t := range tasks {
			per[i] = Normalise(t.Scores[v], a.Random[i], a.Ref[i])
		}
		a.Normalised[v] = per
	}
	baseFew := tooFew(a.Normalised[baseline]) // the same for every variant
	for _, v := range order {
		per := a.Normalised[v]
		r := AggregateRow{Variant: v, PImprove: math.NaN(), PImproveLow: math.NaN(), PImproveHigh: math.NaN()}
		var pooled []float64
		for _, s := range per {
			r.PerTask = append(r.PerTask, IQM(s))
			pooled = append(pooled, s...)
		}
		r.Runs = len(pooled)
		r.IQM, r.Mean = IQM(pooled), mean(pooled)
		r.TooFew = tooFew(per) || baseFew
		nan := math.NaN()
		r.IQMLow, r.IQMHigh, r.MeanLow, r.MeanHigh = nan, nan, nan, nan
		if !r.TooFew {
			r.IQMLow, r.IQMHigh = StratifiedBootstrap(per, IQM, newRand(seed, v))
			r.MeanLow, r.MeanHigh = StratifiedBootstrap(per, mean, newRand(seed^0x6d65616e, v))
			if v != baseline {
				r.PImprove, r.PImproveLow, r.PImproveHigh = taskPImprove(per, a.Normalised[baseline], newRand(seed^0x706f69, v))
			}
		}
		a.Rows = append(a.Rows, r)
	}
	return a, nil
}

// tooFew reports whether some task has fewer than MinSeedsToCompare runs.
func tooFew(perTask [][]float64) bool {
	for _, s := range perTask {
		if len(s) < MinSeedsToCompare {
			return true
		}
	}
	return false
}

// StratifiedBootstrap returns the 95% percentile interval of stat over the
// pooled scores, resampling runs with replacement within each stratum
// (task) independently, as rliable's stratified bootstrap does.
func StratifiedBootstrap(strata [][]float64, stat func([]float64) float64, rng *rand.Rand) (lo, hi float64) {
	n := 0
	for _, s := range strata {
		n += len(s)
	}
	buf := make([]float64, n)
	stats := make([]float64, Resamples)
	for b := range stats {
		k := 0
		for _, s := range strata {
			for range s {
				buf[k] = s[rng.IntN(len(s))]
				k++
			}
		}
		stats[b] = stat(buf)
	}
	return percentileInterval(stats)
}

// taskPImprove is the mean over tasks of P(X > Y) + ½·P(X = Y), X a run
// of xs and Y one of ys on the same task, with a 95% interval from
// resampling both variants' runs within each task.
func taskPImprove(xs, ys [][]float64, rng *rand.Rand) (p, lo, hi float64) {
	p = avgPoI(xs, ys)
	rx, ry := make([][]float64, len(xs)), make([][]float64, len(ys))
	for i := range xs {
		rx[i], ry[i] = make([]float64, len(xs[i])), make([]float64, len(ys[i]))
	}
	stats := make([]float64, Resamples)
	for b := range stats {
		for i := range xs {
			for j := range rx[i] {
				rx[i][j] = xs[i][rng.IntN(len(xs[i]))]
			}
			for j := range ry[i] {
				ry[i][j] = ys[i][rng.IntN(len(ys[i]))]
			}
		}
		stats[b] = avgPoI(rx, ry)
	}
	lo, hi = percentileInterval(stats)
	return p, lo, hi
}

func avgPoI(xs, ys [][]float64) float64 {
	s := 0.0
	for i := range xs {
		s += ProbabilityOfImprovement(xs[i], ys[i])
	}
	return s / float64(len(xs))
}

// Profile is a performance profile: at each threshold Tau, the fraction of
// runs whose normalised score exceeds it (each task weighted equally).
type Profile struct {
	Tau      []float64
	Fraction map[string][]float64
}

// PerformanceProfile evaluates the profile of every variant on points
// thresholds spanning the normalised scores (and 1, the baseline's mean).
func (a *Aggregate) PerformanceProfile(points int) Profile {
	lo, hi := 1.0, 1.0
	for _, per := range a.Normalised {
		for _, s := range per {
			for _, x := range s {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
	}
	pr := Profile{Fraction: map[string][]float64{}}
	for i := range points {
		pr.Tau = append(pr.Tau, lo+(hi-lo)*float64(i)/float64(points-1))
	}
	for v, per := range a.Normalised {
		sorted := make([][]float64, len(per))
		for i, s := range per {
			sorted[i] = append([]float64(nil), s...)
			sort.Float64s(sorted[i])
		}
		f := make([]float64, points)
		for k, tau := range pr.Tau {
			for _, s := range sorted {
				above := len(s) - sort.Search(len(s), func(i int) bool { return s[i] > tau })
				f[k] += float64(above) / float64(len(s))
			}
			f[k] /= float64(len(sorted))
		}
		pr.Fraction[v] = f
	}
	return pr
}
