package ultra

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"

	"github.com/ultra-rl/ultra/engine/advisor"
	"github.com/ultra-rl/ultra/engine/env"
	"github.com/ultra-rl/ultra/engine/metrics"
	"github.com/ultra-rl/ultra/engine/ppo"
	"github.com/ultra-rl/ultra/engine/traj"
	"github.com/ultra-rl/ultra/internal/atomicfile"
)

// Options are one refinement's ULTRA machinery: the variant, its Settings,
// and what the run supplies (seeds, the annotations, a resumed run's
// position).
type Options struct {
	Variant  Variant
	Settings Settings
	// CalibrationObs are raw observations (a rollout of the policy about
	// to be refined) that Settings.TargetHitRate calibrates the radius on.
	CalibrationObs []float32
	// RadiusSeed draws the states the radius is derived from. Experiments
	// pass the pretraining seed, so that every refinement seed of every
	// variant matches with the same radius.
	RadiusSeed uint64
	Seed       uint64
	// StartStep is the env steps already taken when a refinement resumes,
	// and ResumeRadius the radius it matched at (deriving or calibrating it
	// again is skipped). The resumed machinery is exact once
	// Setup.RestoreState has given it the state saved in the checkpoint;
	// without it (a checkpoint of an older build), its random streams are
	// derived from Seed and StartStep and its counters start from zero.
	StartStep    int64
	ResumeRadius float64
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

// Setup is one refinement's ULTRA machinery: the table of critical states
// (normalised like the policy's observations), what the variant adds to the
// trainer (override and bonus, RICE resets, the imitation term) and, when
// live, the annotation stage. Hooks goes to ppo.Continue.
type Setup struct {
	Variant  Variant
	Settings Settings
	Radius   float64
	// Space is the match space; Calibration, when the radius was fitted to
	// a target hit rate, how.
	Space       MatchSpace
	Calibration *Calibration
	Table       *Table
	Modulator   *Modulator // every variant but ppo
	Resetter    *Resetter  // the variants that restart episodes
	Stage       *Stage     // live annotation
	Hooks       ppo.Hooks
	// AdvisorObserved says the live advisor reports its requests, tokens
	// and cache hits to the metrics itself (llm), so Export sends only the
	// stage's rejections and batch counts.
	AdvisorObserved bool

	actDim     int
	base       int  // the table's entries before training (the rest came from live annotation)
	rnd        *RND // the novelty model of the variants that use one
	trace      []HitWindow
	lastHits   int64
	lastLooks  int64
	iterations int
}

// HitWindow is the table's hit rate over a stretch of refinement: the
// lookups and hits between the previous window's end and Step, and the
// radius they were matched at.
type HitWindow struct {
	Step    int64   `json:"step"`
	Lookups int64   `json:"lookups"`
	Hits    int64   `json:"hits"`
	Radius  float64 `json:"radius,omitempty"`
}

// NewSetup builds the machinery of variant o.Variant for a policy whose
// observation normaliser is obs, on spec. A variant that needs critical
// states and has neither annotations nor a live advisor is an error, and so
// is a variant that restarts episodes without simulator snapshots.
func NewSetup(obs ppo.RMSState, spec env.Spec, o Options) (*Setup, error) {
	if _, err := ParseVariant(string(o.Variant)); err != nil {
		return nil, fmt.Errorf("ultra: %w", err)
	}
	st := o.Settings
	if err := st.Validate(); err != nil {
		return nil, err
	}
	b := o.Variant.Behaviour()
	std := obs.Std()
	s := &Setup{Variant: o.Variant, Settings: st, Radius: st.Radius, Space: st.MatchSpace, actDim: spec.Action.Dim}
	if o.ResumeRadius > 0 {
		s.Radius = o.ResumeRadius
	}
	weights, err := MatchWeights(st.MatchSpace, spec, obs.Mean, std, o.Trajectories)
	if err != nil {
		return nil, fmt.Errorf("ultra: %w", err)
	}
	calibrate := s.Radius == 0 && st.TargetHitRate > 0 && o.Variant.NeedsStates()
	if s.Radius == 0 && !calibrate {
		s.Radius = 0.5
		if len(o.Trajectories) > 0 {
			probe, err := NewWeightedTable(obs.Mean, std, weights, 1)
			if err != nil {
				return nil, err
			}
			if s.Radius, err = SuggestRadius(o.Trajectories, probe, st.RadiusQuantile, o.RadiusSeed); err != nil {
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
		c, err := CalibrateRadius(s.Table, o.CalibrationObs, spec.Observation.Dim, st.TargetHitRate)
		if err != nil {
			return nil, err
		}
		s.Calibration, s.Radius = &c, c.Radius
	}
	if err := s.Table.SetRadius(max(s.Radius, 1e-12)); err != nil {
		return nil, err
	}
	if d := s.Table.Dropped(); len(d) > 0 && o.Logger != nil {
		o.Logger.Warn("annotations dropped", "kept", s.Table.Len(), "dropped", d.String())
	}
	s.base = s.Table.Len()
	var rnd *RND
	if b.Novelty != NoNovelty {
		if rnd, err = NewRND(spec.Observation.Dim, RNDConfig{Seed: o.Seed}); err != nil {
			return nil, err
		}
	}
	s.rnd = rnd
	if b.Modulates() {
		s.Modulator, err = NewModulator(s.Table, ModulatorConfig{Variant: o.Variant, Settings: st, Action: spec.Action, RND: rnd,
			Seed: o.Seed, StartStep: o.StartStep})
		if err != nil {
			return nil, err
		}
		// The radius is recalibrated only where it was calibrated (a resumed
		// run's was, when it had a target and no fixed radius).
		s.Modulator.record = st.RecalibrateEvery > 0 && st.Radius == 0 && st.TargetHitRate > 0 && o.Variant.NeedsStates()
		s.Hooks.Modulator = s.Modulator
	}
	if b.Resets {
		// RICE's restarts at the annotated states, so that the agent meets
		// them often (ultra-ra+rice: on top of the table's override and
		// bonus, whose effect at the restarted states its modulator counts).
		if s.Resetter, err = NewResetter(s.Table, st.ResetProb, o.Seed^uint64(o.StartStep)); err != nil {
			return nil, err
		}
		if !live && !s.Table.hasSnapshots() {
			return nil, fmt.Errorf("%s needs annotations with simulator snapshots: collect the trajectories with them (ultra collect --snapshots), annotate those, and pass both (--traj and --annotations)", o.Variant)
		}
		if b.Acts() {
			s.Modulator.resets = s.Resetter
		}
		s.Hooks.Resetter = s.Resetter
		// Live annotations must carry the simulator states to restart at.
		s.Hooks.Snapshots = live
	}
	if b.Imitates {
		s.Hooks.Imitation = &ppo.Imitation{Coef: st.Imitation, Demos: func() ([]float32, []float32) { return s.Table.Demos(s.actDim) }}
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

// Mark labels a state for the frames of a refinement's clips: "table
// match" where the table of critical states matches obs (a raw
// observation), with the probability that the variant overrides the action
// there now when it overrides, and "" elsewhere. A clip's policy acts
// without the modulator, so the label says what refinement does at that
// state, not what the clip shows. Safe beside training (the table is read
// under its lock, the probability from the modulator's step counter).
func (s *Setup) Mark(obs []float32) string {
	if s.Table == nil || s.Table.Len() == 0 {
		return ""
	}
	if !s.Table.Matches(obs) { // not Lookup: the hit rate counts what refinement looked up
		return ""
	}
	if s.Modulator != nil && s.Variant.Behaviour().Overrides {
		return fmt.Sprintf("table match, override p %.2f", s.Modulator.overrideProb())
	}
	return "table match"
}

// Observe implements run.Extension: it closes a hit-rate window at the
// iteration's env step (Summary reports each window, so the hit rate can be
// followed as the policy moves away from the one the radius was fitted to)
// and, with Settings.RecalibrateEvery, every that many iterations fits the
// radius again to the states the iteration visited.
func (s *Setup) Observe(it ppo.IterStats) error {
	step := it.GlobalStep
	h, l := s.Table.HitRate()
	s.trace = append(s.trace, HitWindow{Step: step, Lookups: l - s.lastLooks, Hits: h - s.lastHits, Radius: s.Table.Radius()})
	s.lastHits, s.lastLooks = h, l
	s.iterations++
	m := s.Modulator
	if m == nil || !m.record {
		return nil
	}
	defer func() { m.recent = m.recent[:0] }()
	if s.iterations%s.Settings.RecalibrateEvery != 0 || len(m.recent) == 0 {
		return nil
	}
	c, err := CalibrateRadius(s.Table, m.recent, len(s.Table.mean), s.Settings.TargetHitRate)
	if err != nil {
		return fmt.Errorf("ultra: recalibrating the radius at step %d: %w", step, err)
	}
	s.Radius = c.Radius
	return s.Table.SetRadius(c.Radius)
}

// LogFields implements run.Extension: the table's live counters for a
// run's log lines, the totals and the hit rate of the last window
// (Observe).
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

// Export implements run.Extension: the table's hits, lookups and entries
// and, when live, the annotation stage's and its advisor's totals (without
// the requests, tokens and cache hits when the advisor reports them itself:
// AdvisorObserved).
func (s *Setup) Export(m *metrics.Metrics) {
	m.TableHits(s.Table.HitRate())
	m.TableEntries(s.Table.Len())
	if s.Stage == nil {
		return
	}
	st := s.Stage.Stats()
	m.Stage(metrics.StageStats{QueueDepth: st.QueueDepth, Dropped: st.Dropped, Annotated: st.Annotated, Added: st.Added,
		Failed: int64(st.Report.Failed), BudgetExhausted: st.BudgetReached || st.Report.BudgetExhausted})
	r := st.Report
	if s.AdvisorObserved {
		r.PromptTokens, r.CompletionTokens, r.CacheHits = 0, 0, 0 // counted per request already
	}
	var rejected map[string]int64
	if len(r.Rejected) > 0 {
		rejected = make(map[string]int64, len(r.Rejected))
		for k, n := range r.Rejected {
			rejected[k] = int64(n)
		}
	}
	m.AdvisorTotals(metrics.AdvisorReport{PromptTokens: int64(r.PromptTokens), CompletionTokens: int64(r.CompletionTokens),
		CacheHits: int64(r.CacheHits), Rejected: rejected})
}

// Summary is what one refinement's ULTRA machinery did: the run's
// modulator.json (SummaryFile), written by WriteSummary and read back into
// the same type by ReadSummary. Each counter has one name everywhere: the
// Go field, the JSON key, the ppo.IterStats field, the Prometheus series
// (ultra_modulator_events_total{kind="overrides"|"bonuses"|"resets"}) and
// the report's column.
type Summary struct {
	Variant  Variant  `json:"variant"`
	Settings Settings `json:"settings"`
	// Radius is the table's match radius at the end of the run (the
	// calibrated one, unless RecalibrateEvery moved it), in Space.
	Radius      float64      `json:"radius"`
	Space       MatchSpace   `json:"match_space"`
	Calibration *Calibration `json:"calibration,omitempty"`
	// TableEntries are the critical states the table held at the end;
	// Dropped, the annotations it refused, by reason.
	TableEntries int           `json:"table_entries"`
	Dropped      advisor.Drops `json:"dropped,omitempty"`
	// Lookups and Hits: states looked up in the table, and those that
	// matched a critical state; HitWindows, the same per iteration.
	Lookups    int64       `json:"lookups"`
	Hits       int64       `json:"hits"`
	HitWindows []HitWindow `json:"hit_windows,omitempty"`
	// Overrides: steps whose action was replaced by a suggestion.
	// Bonuses: steps given a non-zero bonus.
	Overrides int64 `json:"overrides"`
	Bonuses   int64 `json:"bonuses"`
	// Resets: episodes restarted at a critical state; FailedResets:
	// snapshots that could not be restored.
	Resets       int64 `json:"resets"`
	FailedResets int64 `json:"failed_resets,omitempty"`
	// ResetVisits, for a variant that restarts episodes and acts on
	// matches, counts the first steps of the restarted episodes and what
	// the table did there.
	ResetVisits *ResetVisits `json:"reset_visits,omitempty"`
	// Demonstrations is how many annotated states the imitation term
	// pulled the policy toward at the end of the run (imitating variants).
	Demonstrations int `json:"demonstrations,omitempty"`
}

// ResetVisits is what the table did at the first step of restarted
// episodes.
type ResetVisits struct {
	Visits    int64 `json:"visits"`
	Hits      int64 `json:"hits"`
	Overrides int64 `json:"overrides"`
	Bonuses   int64 `json:"bonuses"`
}

// SummaryFile is the name of a refinement run's Summary.
const SummaryFile = "modulator.json"

// Summary is what the machinery did so far.
func (s *Setup) Summary() Summary {
	h, l := s.Table.HitRate()
	out := Summary{Variant: s.Variant, Settings: s.Settings, Radius: s.Table.Radius(), Space: s.Space, Calibration: s.Calibration,
		TableEntries: s.Table.Len(), Lookups: l, Hits: h, HitWindows: s.trace}
	if d := s.Table.Dropped(); len(d) > 0 {
		out.Dropped = d
	}
	if m := s.Modulator; m != nil {
		out.Overrides, out.Bonuses = m.Overrides.Load(), m.Bonuses.Load()
		if m.resets != nil {
			out.ResetVisits = &ResetVisits{Visits: m.ResetVisits.Load(), Hits: m.ResetVisitHits.Load(),
				Overrides: m.ResetVisitOverrides.Load(), Bonuses: m.ResetVisitBonuses.Load()}
		}
	}
	if r := s.Resetter; r != nil {
		out.Resets, out.FailedResets = r.Resets.Load(), r.FailedResets.Load()
	}
	if s.Hooks.Imitation != nil {
		_, a := s.Table.Demos(s.actDim)
		out.Demonstrations = len(a) / max(1, s.actDim)
	}
	return out
}

// WriteSummary writes sum to path atomically.
func WriteSummary(path string, sum Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("ultra: summary of %s: %w", path, err)
	}
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("ultra: writing the run summary: %w", err)
	}
	return nil
}

// ReadSummary reads a run summary that WriteSummary wrote (summaries from
// before Settings was recorded read with zero Settings).
func ReadSummary(path string) (Summary, error) {
	var sum Summary
	b, err := os.ReadFile(path)
	if err != nil {
		return sum, err
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return sum, fmt.Errorf("ultra: %s is not a run summary: %w", path, err)
	}
	if _, err := ParseVariant(string(sum.Variant)); err != nil {
		return sum, fmt.Errorf("ultra: %s: %w", path, err)
	}
	return sum, nil
}

// Close stops the live stage, if any.
func (s *Setup) Close() {
	if s.Stage != nil {
		s.Stage.Close()
	}
}
