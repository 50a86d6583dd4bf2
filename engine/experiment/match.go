package experiment

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/engine/ultra"
	"github.com/ultra-rl/ultra/internal/memlimit"
)

// MatchConfig is a measurement of the match spaces: how often the table
// would fire on the states a checkpoint visits, and how many of those
// matches lie near a failure, before and after calibrating the radius.
// Nothing is trained.
type MatchConfig struct {
	Checkpoint   string
	Annotations  string // the critical states (JSONL)
	Trajectories string // the episodes they came from (JSONL)
	// Steps of each rollout: the calibration rollout (seed pretraining
	// seed + 200, as refinement calibrates) and a held-out one (+ 300)
	// the rates are measured on.
	Steps int
	// Targets are the target hit rates to calibrate to.
	Targets []float64
	// K: a match is precise when its state is at most K steps before a
	// failure (a terminal state) of its episode.
	K int
	// RadiusQuantile is the uncalibrated radius's quantile (the default
	// before calibration: 0.5).
	RadiusQuantile float64
	Registry       *env.Registry
}

// MatchRow is one match space at one radius.
type MatchRow struct {
	Space ultra.MatchSpace
	// Target is the target hit rate the radius was calibrated to; 0 for
	// the uncalibrated radius (RadiusQuantile of cross-episode
	// nearest-neighbour distances).
	Target, Radius float64
	// CalibHitRate is the share of the calibration rollout that matches
	// (NaN for the uncalibrated radius: it was not fitted to it).
	CalibHitRate float64
	// HitRate is the share of the held-out rollout that matches, Hits its
	// count; Precision the share of those hits within K steps of a
	// failure (NaN without hits).
	HitRate   float64
	Hits      int
	Precision float64
}

// MatchResult is a match-space measurement.
type MatchResult struct {
	Env         string
	Entries     int // critical states in the table
	States      int // steps of each rollout
	K           int
	Failures    int     // failures in the held-out rollout
	BaseRate    float64 // share of held-out states within K steps of a failure: a random matcher's precision
	Rows        []MatchRow
	Checkpoint  string
	Annotations string
}

// MeasureMatching runs the measurement.
func MeasureMatching(mc MatchConfig) (*MatchResult, error) {
	var errs []error
	if mc.Checkpoint == "" || mc.Annotations == "" || mc.Trajectories == "" {
		errs = append(errs, errors.New("a checkpoint, its annotations and the trajectories they came from are required"))
	}
	if mc.Steps < 100 {
		errs = append(errs, fmt.Errorf("steps = %d, want ≥ 100", mc.Steps))
	}
	if mc.K < 0 {
		errs = append(errs, fmt.Errorf("k = %d, want ≥ 0 steps", mc.K))
	}
	if !(mc.RadiusQuantile > 0 && mc.RadiusQuantile <= 1) {
		errs = append(errs, fmt.Errorf("radius quantile %v, want a quantile in (0, 1]", mc.RadiusQuantile))
	}
	for _, t := range mc.Targets {
		if !(t > 0 && t <= 1) {
			errs = append(errs, fmt.Errorf("target hit rate %v, want a share in (0, 1]", t))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	ck, err := ppo.LoadCheckpoint(mc.Checkpoint)
	if err != nil {
		return nil, err
	}
	spec, err := mc.Registry.Lookup(ck.Config.Env)
	if err != nil {
		return nil, err
	}
	// Two rollouts and the distances of one: refused before anything runs
	// when they exceed the memory limit.
	est := rolloutEstimate(spec, mc.Steps)
	est.Bytes = memlimit.SatMul(est.Bytes, 3)
	est.What = "two " + est.What[2:] + " and their distances"
	if err := memlimit.Check(est); err != nil {
		return nil, fmt.Errorf("match: --steps %d: %w", mc.Steps, err)
	}
	anns, err := traj.ReadJSONL[advisor.Annotation](mc.Annotations)
	if err != nil {
		return nil, err
	}
	trajs, err := traj.ReadFor(mc.Trajectories, spec)
	if err != nil {
		return nil, err
	}
	if err := advisor.CheckProvenance(anns, mc.Annotations, spec.ID, traj.Fingerprint(trajs), ""); err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	calib, err := RolloutPolicy(ck, spec, mc.Steps, ck.Config.Seed+calibrationSeedOffset)
	if err != nil {
		return nil, err
	}
	held, err := RolloutPolicy(ck, spec, mc.Steps, ck.Config.Seed+calibrationSeedOffset+100)
	if err != nil {
		return nil, err
	}
	res := &MatchResult{Env: spec.ID, States: mc.Steps, K: mc.K, Checkpoint: mc.Checkpoint, Annotations: mc.Annotations}
	near := 0
	for _, k := range held.ToFailure {
		if k >= 0 && k <= mc.K {
			near++
		}
		if k == 0 {
			res.Failures++
		}
	}
	res.BaseRate = float64(near) / float64(held.Len())
	std := ck.ObsRMS.Std()
	snapLen, err := env.SnapshotLen(spec)
	if err != nil {
		return nil, err
	}
	for _, space := range ultra.MatchSpaces {
		w, err := ultra.MatchWeights(space, spec, ck.ObsRMS.Mean, std, trajs)
		if err != nil {
			continue // a task without a subspace: that space is not measured
		}
		tb, err := ultra.NewWeightedTable(ck.ObsRMS.Mean, std, w, 1)
		if err != nil {
			return nil, err
		}
		tb.SetChecker(advisor.Checker{Spec: spec, SnapshotLen: snapLen})
		tb.Add(anns...)
		if tb.Len() == 0 {
			return nil, fmt.Errorf("match: every annotation of %s was dropped: %s", mc.Annotations, tb.Dropped())
		}
		res.Entries = tb.Len()
		cd, err := ultra.Distances(tb, calib.Obs, calib.Dim)
		if err != nil {
			return nil, err
		}
		hd := make([]float64, held.Len()) // in step order, for precision
		for s := range hd {
			hd[s] = tb.Nearest(held.Obs[s*held.Dim : (s+1)*held.Dim])
		}
		row := func(target, r float64) MatchRow {
			mr := MatchRow{Space: space, Target: target, Radius: r, CalibHitRate: math.NaN(), Precision: math.NaN()}
			if target > 0 {
				mr.CalibHitRate = ultra.HitShare(cd, r)
			}
			precise := 0
			for s, d := range hd {
				if d <= r {
					mr.Hits++
					if k := held.ToFailure[s]; k >= 0 && k <= mc.K {
						precise++
					}
				}
			}
			mr.HitRate = float64(mr.Hits) / float64(len(hd))
			if mr.Hits > 0 {
				mr.Precision = float64(precise) / float64(mr.Hits)
			}
			return mr
		}
		r0, err := ultra.SuggestRadius(trajs, tb, mc.RadiusQuantile, ck.Config.Seed)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, row(0, r0))
		for _, t := range mc.Targets {
			c, err := ultra.RadiusFor(cd, t) // cd: the calibration states' distances

			if err != nil {
				return nil, err
			}
			res.Rows = append(res.Rows, row(t, c.Radius))
		}
	}
	return res, nil
}

// WriteMarkdown writes the measurement as a table with its notes.
func (m *MatchResult) WriteMarkdown(w io.Writer, radiusQuantile float64) {
	pct := tablePercent
	fmt.Fprintf(w, "## %s: match spaces, hit rate and precision\n\n", m.Env)
	fmt.Fprintln(w, "| space | radius from | radius | hit rate: calibration rollout | hit rate: held-out rollout | hits | precision (≤ k steps before a failure) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, r := range m.Rows {
		from := fmt.Sprintf("%.2f-quantile of cross-episode NN distances (uncalibrated)", radiusQuantile)
		if r.Target > 0 {
			from = "target hit rate " + DosePercent(r.Target)
		}
		fmt.Fprintf(w, "| %s | %s | %.4g | %s | %s | %d | %s |\n", r.Space, from, r.Radius, pct(r.CalibHitRate), pct(r.HitRate), r.Hits, pct(r.Precision))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Checkpoint %s, %d critical states from %s.\n", m.Checkpoint, m.Entries, m.Annotations)
	fmt.Fprintf(w, "- Two rollouts of the checkpoint's stochastic policy, %d steps each on one env: calibration (seed pretraining seed + %d, the one refinement calibrates on) and held-out (+ %d), which the hit rates and precision are measured on.\n",
		m.States, calibrationSeedOffset, calibrationSeedOffset+100)
	fmt.Fprintf(w, "- Precision: share of held-out hits at most k = %d steps before a failure (terminal state) of their episode. Base rate (a matcher firing at random): %s of held-out states; %d failures in the held-out rollout.\n",
		m.K, pct(m.BaseRate), m.Failures)
}
