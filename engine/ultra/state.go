package ultra

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math"

	"github.com/ultra-rl/ultra/engine/advisor"
)

// stateVersion is the version of the machinery's saved state
// (Setup.MarshalState) this build writes and reads.
const stateVersion = 1

// setupState is what a refinement's ULTRA machinery holds beyond what
// NewSetup rebuilds from the run's record (the variant, settings,
// annotations and normaliser): its random streams, counters, hit-rate
// trace, the radius it matches at, live additions to the table and the
// RND predictor's training. It is gob-encoded into each checkpoint
// (ppo.Checkpoint.Extension) by run.Loop.
type setupState struct {
	Version int
	Variant Variant
	// Radius is Setup.Radius; TableRadius the table's (they differ only
	// while no radius was resolved).
	Radius, TableRadius float64
	Hits, Lookups       int64
	// Added are the entries added after NewSetup (live annotation), in
	// order; Dropped every refusal so far, by reason.
	Added   []Entry
	Dropped advisor.Drops
	// The hit-rate trace and where its next window starts.
	Trace               []HitWindow
	LastHits, LastLooks int64
	Iterations          int
	Modulator           *modulatorState
	Resetter            *resetterState
	RND                 *rndState
}

// modulatorState is a Modulator's state: its random stream (the override
// draws), its step count (the anneal) and its counters.
type modulatorState struct {
	RNG                                                                 []byte
	Step                                                                int64
	Overrides, Bonuses                                                  int64
	ResetVisits, ResetVisitHits, ResetVisitOverrides, ResetVisitBonuses int64
}

// resetterState is a Resetter's state: its random stream (which episodes
// restart, and where), its counters and the envs whose first step after a
// restart is still to come.
type resetterState struct {
	RNG                  []byte
	Resets, FailedResets int64
	Fresh                []bool
}

// rndState is RND's trained part: the predictor's parameters, the
// gradient of the pending batch, Adam's moments and step, and the running
// statistics of the errors (the target is drawn again from the seed).
type rndState struct {
	Pred, Grad, M, V []float64
	T, Pending       int
	N, Mean, M2      float64
}

// MarshalState implements run.Stateful: the machinery's state between two
// iterations, which RestoreState gives back to a Setup that NewSetup built
// again from the same run's record, so that the resumed refinement computes
// exactly what the uninterrupted one does and its Summary covers the whole
// run. It must not run concurrently with the trainer's iteration (the live
// stage may go on adding to the table).
func (s *Setup) MarshalState() ([]byte, error) {
	b, err := s.marshalState()
	if err != nil {
		return nil, fmt.Errorf("ultra: saving the %s machinery's state: %w", s.Variant, err)
	}
	return b, nil
}

func (s *Setup) marshalState() ([]byte, error) {
	st := setupState{Version: stateVersion, Variant: s.Variant, Radius: s.Radius, TableRadius: s.Table.Radius(),
		Trace: s.trace, LastHits: s.lastHits, LastLooks: s.lastLooks, Iterations: s.iterations}
	st.Hits, st.Lookups = s.Table.HitRate()
	if m := s.Modulator; m != nil {
		rng, err := m.pcg.MarshalBinary()
		if err != nil {
			return nil, err
		}
		st.Modulator = &modulatorState{RNG: rng, Step: m.step.Load(), Overrides: m.Overrides.Load(), Bonuses: m.Bonuses.Load(),
			ResetVisits: m.ResetVisits.Load(), ResetVisitHits: m.ResetVisitHits.Load(),
			ResetVisitOverrides: m.ResetVisitOverrides.Load(), ResetVisitBonuses: m.ResetVisitBonuses.Load()}
	}
	if r := s.Resetter; r != nil {
		r.mu.Lock()
		rng, err := r.pcg.MarshalBinary()
		fresh := append([]bool(nil), r.fresh...)
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
		st.Resetter = &resetterState{RNG: rng, Resets: r.Resets.Load(), FailedResets: r.FailedResets.Load(), Fresh: fresh}
	}
	if r := s.rnd; r != nil {
		st.RND = &rndState{Pred: r.pred.params, Grad: r.grad, M: r.m, V: r.v, T: r.t, Pending: r.pending, N: r.n, Mean: r.mean, M2: r.m2}
	}
	// The live stage may be adding to the table: entries are never changed
	// once added, so the ones held now can be encoded outside the lock.
	s.Table.mu.RLock()
	st.Added, st.Dropped = s.Table.entries[s.base:], advisor.Drops{}
	for k, n := range s.Table.dropped {
		st.Dropped[k] = n
	}
	s.Table.mu.RUnlock()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RestoreState gives a Setup that NewSetup built for a resumed refinement
// the state MarshalState saved in the checkpoint it resumes from: the
// random streams continue where they were, the counters and the hit-rate
// trace count the whole run, and the radius, the live additions to the
// table and the RND predictor are the ones of that moment. Call it before
// the trainer's first iteration. State of another variant, or of another
// build's layout, is an error that says so.
func (s *Setup) RestoreState(b []byte) error {
	if err := s.restoreState(b); err != nil {
		return fmt.Errorf("ultra: the checkpoint's %s machinery state: %w; resume from a checkpoint of this refinement, or start it again", s.Variant, err)
	}
	return nil
}

func (s *Setup) restoreState(b []byte) error {
	var st setupState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return fmt.Errorf("unreadable: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("version %d, this build reads version %d", st.Version, stateVersion)
	}
	if st.Variant != s.Variant {
		return fmt.Errorf("saved by variant %s", st.Variant)
	}
	if (st.Modulator != nil) != (s.Modulator != nil) || (st.Resetter != nil) != (s.Resetter != nil) || (st.RND != nil) != (s.rnd != nil) {
		return errors.New("its parts (modulator, resetter, RND) are not this variant's")
	}
	if st.Hits < 0 || st.Lookups < st.Hits || st.LastHits < 0 || st.LastLooks < st.LastHits || st.Iterations < 0 || len(st.Trace) > st.Iterations {
		return fmt.Errorf("impossible counters: %d hits of %d lookups, %d iterations, %d hit-rate windows", st.Hits, st.Lookups, st.Iterations, len(st.Trace))
	}
	if err := s.Table.SetRadius(st.TableRadius); err != nil {
		return err
	}
	s.Radius = st.Radius
	if err := s.Table.restore(st.Added, st.Dropped, st.Hits, st.Lookups); err != nil {
		return err
	}
	s.trace, s.lastHits, s.lastLooks, s.iterations = st.Trace, st.LastHits, st.LastLooks, st.Iterations
	if m, ms := s.Modulator, st.Modulator; m != nil {
		if err := m.pcg.UnmarshalBinary(ms.RNG); err != nil {
			return fmt.Errorf("modulator random stream: %w", err)
		}
		m.step.Store(ms.Step)
		m.Overrides.Store(ms.Overrides)
		m.Bonuses.Store(ms.Bonuses)
		m.ResetVisits.Store(ms.ResetVisits)
		m.ResetVisitHits.Store(ms.ResetVisitHits)
		m.ResetVisitOverrides.Store(ms.ResetVisitOverrides)
		m.ResetVisitBonuses.Store(ms.ResetVisitBonuses)
	}
	if r, rs := s.Resetter, st.Resetter; r != nil {
		if err := r.pcg.UnmarshalBinary(rs.RNG); err != nil {
			return fmt.Errorf("resetter random stream: %w", err)
		}
		r.mu.Lock()
		r.fresh = rs.Fresh
		r.mu.Unlock()
		r.Resets.Store(rs.Resets)
		r.FailedResets.Store(rs.FailedResets)
	}
	if r := s.rnd; r != nil {
		if err := r.restore(*st.RND); err != nil {
			return err
		}
	}
	return nil
}

// restore sets the trained part of r from a saved state of the same sizes.
func (r *RND) restore(st rndState) error {
	n := len(r.pred.params)
	if len(st.Pred) != n || len(st.Grad) != n || len(st.M) != n || len(st.V) != n {
		return fmt.Errorf("RND predictor of %d parameters (gradient %d, moments %d and %d), this one has %d", len(st.Pred), len(st.Grad), len(st.M), len(st.V), n)
	}
	if st.T < 0 || st.Pending < 0 || st.Pending >= r.cfg.Batch || !(st.N >= 0) || !finite64(st.Pred, st.Grad, st.M, st.V, []float64{st.N, st.Mean, st.M2}) {
		return fmt.Errorf("RND state out of range (step %d, %d pending of a batch of %d, %v errors seen)", st.T, st.Pending, r.cfg.Batch, st.N)
	}
	copy(r.pred.params, st.Pred)
	copy(r.grad, st.Grad)
	copy(r.m, st.M)
	copy(r.v, st.V)
	r.t, r.pending, r.n, r.mean, r.m2 = st.T, st.Pending, st.N, st.Mean, st.M2
	return nil
}

// finite64 reports whether every value of every slice is finite.
func finite64(xs ...[]float64) bool {
	for _, x := range xs {
		for _, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}
