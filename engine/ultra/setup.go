package ultra

import (
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
)

// Options are the ULTRA settings of one refinement.
type Options struct {
	Variant Variant
	// Alpha weighs the implicit reward (ultra-r, ultra-ra); DefaultAlpha
	// gives the paper's value for a task.
	Alpha float64
	// Radius is the match radius in normalised observation units; 0
	// derives it from Trajectories (the RadiusQuantile-quantile of
	// cross-episode nearest-neighbour distances), or 0.5 without them.
	Radius         float64
	RadiusQuantile float64
	// TargetHitRate, when > 0 and Radius is 0, calibrates the radius
	// instead: the smallest at which that share of CalibrationObs (raw
	// observations, a rollout of the policy about to be refined) match a
	// critical state (CalibrateRadius). It needs annotations.
	TargetHitRate  float64
	CalibrationObs []float32
	// MatchSpace is the space states are compared in ("": DefaultMatchSpace);
	// MatchScaled learns its scale from Trajectories.
	MatchSpace MatchSpace
	// RadiusSeed draws the states the radius is derived from. Experiments
	// pass the pretraining seed, so that every refinement seed of every
	// variant matches with the same radius.
	RadiusSeed uint64
	// OverrideProb decays linearly to OverrideEnd over AnnealSteps env
	// steps (0: constant); see ModulatorConfig.
	OverrideProb, OverrideEnd float64
	AnnealSteps               int64
	// ResetProb is rice's fraction of episodes restarted at a critical state.
	ResetProb float64
	// RewardOn and ActionTolerance: see ModulatorConfig.
	RewardOn        RewardOn
	ActionTolerance float64
	Seed            uint64
	// StartStep is the env steps already taken when a refinement resumes.
	StartStep int64
	// Annotations are the critical states known before training.
	Annotations []advisor.Annotation
	// Trajectories are the episodes the annotations came from (for the
	// radius and MatchScaled's scale).
	Trajectories []traj.Trajectory
	// Live, when set, annotates the run's own episodes while it trains
	// (the asynchronous stage), adding to the table as answers arrive.
	Live   advisor.Advisor
	Logger *slog.Logger
}

// AdvisorFor names the advisor whose annotations variant v uses when an
// experiment's advisor is chosen: none for ppo and rnd, the chosen one
// judging random states ("random-" + chosen) for the identification
// ablation, the all-random advisor for random-all, chosen for every other
// variant.
func AdvisorFor(v Variant, chosen string) string {
	switch v {
	case PPO, RNDOnly:
		return ""
	case Random:
		return "random-" + chosen
	case RandomAll:
		return "random"
	}
	return chosen
}

// Setup is one refinement's ULTRA machinery: the table of critical states
// (normalised like the policy's observations), what the variant adds to the
// trainer (override and bonus, RICE resets) and, when live, the
// annotation stage. Hooks goes to ppo.Continue.
type Setup struct {
	Variant Variant
	Radius  float64
	// Space is the match space; Calibration, when the radius was fitted to
	// a target hit rate, how.
	Space       MatchSpace
	Calibration *Calibration
	Table       *Table
	Modulator   *Modulator // every variant but ppo
	Resetter    *Resetter  // rice, ultra-ra+rice
	Stage       *Stage     // live annotation
	Hooks       ppo.Hooks

	trace     []HitWindow
	lastHits  int64
	lastLooks int64
}

// HitWindow is the table's hit rate over a stretch of refinement: the
// lookups and hits between the previous window's end and Step.
type HitWindow struct {
	Step    int64 `json:"step"`
	Lookups int64 `json:"lookups"`
	Hits    int64 `json:"hits"`
}

// NewSetup builds the machinery of variant o.Variant for a policy whose
// observation normaliser is obs, on spec. A variant that needs critical
// states and has neither annotations nor a live advisor is an error, and so
// is rice without simulator snapshots to restart at.
func NewSetup(obs ppo.RMSState, spec env.Spec, o Options) (*Setup, error) {
	std := obs.Std()
	space, err := ParseMatchSpace(string(o.MatchSpace))
	if err != nil {
		return nil, fmt.Errorf("ultra: %w", err)
	}
	s := &Setup{Variant: o.Variant, Radius: o.Radius, Space: space}
	weights, err := MatchWeights(space, spec, obs.Mean, std, o.Trajectories)
	if err != nil {
		return nil, fmt.Errorf("ultra: %w", err)
	}
	calibrate := s.Radius == 0 && o.TargetHitRate > 0 && o.Variant.NeedsStates()
	if s.Radius == 0 && !calibrate {
		s.Radius = 0.5
		if len(o.Trajectories) > 0 {
			probe, err := NewWeightedTable(obs.Mean, std, weights, 1)
			if err != nil {
				return nil, err
			}
			if s.Radius, err = SuggestRadius(o.Trajectories, probe, o.RadiusQuantile, o.RadiusSeed); err != nil {
				return nil, err
			}
		}
	}
	if s.Table, err = NewWeightedTable(obs.Mean, std, weights, max(s.Radius, 1)); err != nil {
		return nil, err
	}
	snapLen, err := env.SnapshotLen(spec)
	if err != nil {
		return nil, err
	}
	s.Table.SetChecker(advisor.Checker{Spec: spec, SnapshotLen: snapLen})
	s.Table.Add(o.Annotations...)
	live := o.Live != nil && o.Variant.NeedsStates()
	if o.Variant.NeedsStates() && s.Table.Len() == 0 && !live {
		if len(o.Annotations) > 0 {
			return nil, fmt.Errorf("variant %s needs critical states, and all %d annotations given were dropped: %s",
				o.Variant, len(o.Annotations), s.Table.Dropped())
		}
		return nil, fmt.Errorf("variant %s needs critical states: give annotations or a live advisor", o.Variant)
	}
	if calibrate {
		if s.Table.Len() == 0 {
			return nil, fmt.Errorf("variant %s: a target hit rate calibrates the radius on the annotated critical states, and there are none "+
				"(live annotation alone cannot be calibrated): give annotations, or a fixed radius", o.Variant)
		}
		if len(o.CalibrationObs) == 0 {
			return nil, errors.New("ultra: a target hit rate needs calibration states (a rollout of the policy)")
		}
		c, err := CalibrateRadius(s.Table, o.CalibrationObs, spec.Observation.Dim, o.TargetHitRate)
		if err != nil {
			return nil, err
		}
		s.Calibration, s.Radius = &c, c.Radius
	}
	s.Table.radius = s.Radius
	if d := s.Table.Dropped(); len(d) > 0 && o.Logger != nil {
		o.Logger.Warn("annotations dropped", "kept", s.Table.Len(), "dropped", d.String())
	}
	var rnd *RND
	if o.Variant.Novelty() {
		// A resumed refinement starts a fresh predictor: its training is
		// not in the checkpoint (the score is normalised, so the scale
		// of the bonus carries over).
		if rnd, err = NewRND(spec.Observation.Dim, RNDConfig{Seed: o.Seed}); err != nil {
			return nil, err
		}
	}
	switch o.Variant {
	case PPO:
	case RICE:
		// RICE's exploration bonus: alpha × RND novelty at every state.
		if s.Modulator, err = NewModulator(s.Table, ModulatorConfig{Variant: RICE, Alpha: o.Alpha, Seed: o.Seed, StartStep: o.StartStep, RND: rnd}); err != nil {
			return nil, err
		}
		s.Hooks.Modulator = s.Modulator
	default:
		alpha := o.Alpha
		if o.Variant == Placebo {
			alpha = PlaceboAlpha
		}
		s.Modulator, err = NewModulator(s.Table, ModulatorConfig{Variant: o.Variant, Alpha: alpha, Action: spec.Action, RND: rnd,
			RewardOn: o.RewardOn, ActionTolerance: o.ActionTolerance,
			OverrideProb: o.OverrideProb, OverrideEnd: o.OverrideEnd, AnnealSteps: o.AnnealSteps, Seed: o.Seed, StartStep: o.StartStep})
		if err != nil {
			return nil, err
		}
		s.Hooks.Modulator = s.Modulator
	}
	if o.Variant.Resets() {
		// RICE's restarts at the annotated states, so that the agent meets
		// them often (ultra-ra+rice: on top of the table's override and
		// bonus, whose effect at the restarted states its modulator counts).
		if s.Resetter, err = NewResetter(s.Table, o.ResetProb, o.Seed^uint64(o.StartStep)); err != nil {
			return nil, err
		}
		if !live && !s.Table.hasSnapshots() {
			return nil, fmt.Errorf("%s needs annotations with simulator snapshots: collect the trajectories with snapshots", o.Variant)
		}
		if o.Variant != RICE {
			s.Modulator.resets = s.Resetter
		}
		s.Hooks.ResetState = s.Resetter.Reset
		// Live annotations must carry the simulator states to restart at.
		s.Hooks.Snapshots = live
	}
	if live {
		s.Stage, err = NewStage(o.Live, s.Table, StageConfig{Env: spec.ID, RunID: fmt.Sprintf("r%d-", o.Seed)}, o.Logger)
		if err != nil {
			return nil, err
		}
		s.Hooks.OnEpisode = s.Stage.Submit
	}
	return s, nil
}

// Observe closes a hit-rate window at env step step (call it once per
// iteration): Summary reports each window, so the hit rate can be followed
// as the policy moves away from the one the radius was fitted to.
func (s *Setup) Observe(step int64) {
	h, l := s.Table.HitRate()
	s.trace = append(s.trace, HitWindow{Step: step, Lookups: l - s.lastLooks, Hits: h - s.lastHits})
	s.lastHits, s.lastLooks = h, l
}

// LogFields are the table's live counters for a run's log lines: the
// totals, and the hit rate of the last window (Observe).
func (s *Setup) LogFields() []any {
	h, l := s.Table.HitRate()
	fields := []any{"table", s.Table.Len(), "hits", h, "lookups", l}
	if n := len(s.trace); n > 0 && s.trace[n-1].Lookups > 0 {
		w := s.trace[n-1]
		fields = append(fields, "hit_rate_iter", math.Round(1e5*float64(w.Hits)/float64(w.Lookups))/1e5)
	}
	if s.Stage != nil {
		st := s.Stage.Stats()
		fields = append(fields, "annotated_batches", st.Annotated, "dropped_batches", st.Dropped)
	}
	return fields
}

// Summary is what the machinery did, for a run's modulator.json.
func (s *Setup) Summary() map[string]any {
	h, l := s.Table.HitRate()
	out := map[string]any{"variant": s.Variant, "radius": s.Radius, "table_entries": s.Table.Len(), "lookups": l, "hits": h,
		"match_space": s.Space}
	if s.Calibration != nil {
		out["calibration"] = s.Calibration
	}
	if len(s.trace) > 0 {
		out["hit_windows"] = s.trace
	}
	if d := s.Table.Dropped(); len(d) > 0 {
		out["dropped"] = d
	}
	if s.Modulator != nil {
		out["overrides"], out["bonuses"] = s.Modulator.Overrides.Load(), s.Modulator.Bonuses.Load()
		if s.Modulator.resets != nil {
			m := s.Modulator
			out["reset_visits"] = map[string]int64{"visits": m.ResetVisits.Load(), "hits": m.ResetVisitHits.Load(),
				"overrides": m.ResetVisitOverrides.Load(), "bonuses": m.ResetVisitBonuses.Load()}
		}
	}
	if s.Resetter != nil {
		out["resets"] = s.Resetter.Resets.Load()
	}
	return out
}

// Close stops the live stage, if any.
func (s *Setup) Close() {
	if s.Stage != nil {
		s.Stage.Close()
	}
}
