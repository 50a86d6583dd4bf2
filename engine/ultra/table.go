// Package ultra holds ULTRA's machinery around the PPO learner: the lookup
// table of critical states, the asynchronous annotation stage that fills it
// from the trainer's flushed episodes, and the modulator the trainer asks at
// every step.
package ultra

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/ultra-rl/ultra/engine/advisor"
)

// Entry is one critical state with the advisor's suggestion.
type Entry struct {
	Key []float32 // the observation in the table's matching space (Table.Key)
	Obs []float32 // the raw observation (the imitation term normalises it as the policy does)
	// Action is the suggested action, a copy of the annotation's: one value
	// per action dimension, so for a Discrete space a one-element action
	// index (e.g. [2] for Pong's RIGHT). The Modulator writes it over the
	// sampled action as is, rounded and clamped when it knows the space
	// (ModulatorConfig.Action).
	Action []float32
	// Reward is the advisor's reward for the action taken at the state
	// (Taken; nil for annotations that did not record it); Suggested, when
	// HasSuggested, its reward for the suggested Action.
	Reward       float64
	Taken        []float32
	Suggested    float64
	HasSuggested bool
	Episode      string
	Step         int
	Reason       string
	Snapshot     []float64
}

// Table maps live states to the nearest annotated critical state within a
// radius, in observation space normalised by fixed per-dimension statistics
// (so every dimension counts alike). It is safe for concurrent use: the
// annotation stage adds while the trainer looks up.
//
// Matching is radius-based for every task, discrete-action ones included:
// a Discrete space changes only what an entry's Action holds (an action
// index), not how states are keyed. An exact-match key would be meaningless
// for Pong's features, whose ball and paddle positions and ball speeds are
// continuous: the same state practically never recurs, so a live state
// matches the nearest annotated one within the radius instead.
//
// Matching may weigh the normalised dimensions (NewWeightedTable): a
// weight of 0 leaves a dimension out (a task's subspace), others stretch or
// shrink it (a scale learned from collected states). Keys and distances
// are in that weighted space; Normalize stays unweighted.
type Table struct {
	mean, invStd []float64
	scale        []float64 // invStd × the dimension's matching weight
	radius       float64

	mu      sync.RWMutex
	check   *advisor.Checker // nil: only the observation size is checked
	dropped advisor.Drops
	entries []Entry
	seen    map[string]bool

	hits, lookups atomic.Int64
}

// NewTable makes an empty table for observations normalised by mean and
// std (std values ≤ 0 are treated as 1); radius is the match distance.
func NewTable(mean, std []float64, radius float64) (*Table, error) {
	return NewWeightedTable(mean, std, nil, radius)
}

// NewWeightedTable is NewTable matching in a weighted space: normalised
// dimension j counts weights[j] times (nil: every weight 1; a weight of 0
// leaves the dimension out). Weights must be finite, ≥ 0, and not all 0.
func NewWeightedTable(mean, std, weights []float64, radius float64) (*Table, error) {
	if len(mean) != len(std) || len(mean) == 0 {
		return nil, fmt.Errorf("ultra: table needs equal-length mean and std, got %d and %d", len(mean), len(std))
	}
	if !(radius > 0) || math.IsInf(radius, 0) {
		return nil, fmt.Errorf("ultra: table radius must be a finite value > 0, got %v", radius)
	}
	if weights != nil {
		if len(weights) != len(mean) {
			return nil, fmt.Errorf("ultra: %d matching weights for %d observation values", len(weights), len(mean))
		}
		any := false
		for j, w := range weights {
			if !(w >= 0) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("ultra: matching weight %d is %v, want a finite value ≥ 0", j, w)
			}
			any = any || w > 0
		}
		if !any {
			return nil, fmt.Errorf("ultra: every matching weight is 0: nothing would be compared")
		}
	}
	t := &Table{mean: append([]float64(nil), mean...), invStd: make([]float64, len(std)), scale: make([]float64, len(std)),
		radius: radius, seen: map[string]bool{}, dropped: advisor.Drops{}}
	for i, s := range std {
		if !(s > 0) {
			s = 1
		}
		t.invStd[i] = 1 / s
		t.scale[i] = t.invStd[i]
		if weights != nil {
			t.scale[i] *= weights[i]
		}
	}
	return t, nil
}

// Radius is the match distance in normalised units.
func (t *Table) Radius() float64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.radius
}

// SetRadius changes the match distance (a finite value > 0).
func (t *Table) SetRadius(r float64) error {
	if !(r > 0) || math.IsInf(r, 0) {
		return fmt.Errorf("ultra: table radius must be a finite value > 0, got %v", r)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.radius = r
	return nil
}

// Demos returns the entries' raw observations and suggested actions, flat
// (the imitation term's demonstrations: ppo.Imitation.Demos). Entries
// whose action does not have actDim finite values are left out.
func (t *Table) Demos(actDim int) (obs, actions []float32) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := range t.entries {
		e := &t.entries[i]
		if len(e.Action) != actDim || !finite32(e.Action) {
			continue
		}
		obs = append(obs, e.Obs...)
		actions = append(actions, e.Action...)
	}
	return obs, actions
}

// finite32 reports whether every value of x is finite.
func finite32(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// Normalize writes the normalised form of obs into dst.
func (t *Table) Normalize(dst, obs []float32) {
	for j, v := range obs {
		dst[j] = float32((float64(v) - t.mean[j]) * t.invStd[j])
	}
}

// Key writes obs in the matching space (normalised, then weighted) into
// dst: the form entries are stored and compared in.
func (t *Table) Key(dst, obs []float32) {
	for j, v := range obs {
		dst[j] = float32((float64(v) - t.mean[j]) * t.scale[j])
	}
}

// Nearest returns the distance in the matching space from obs to the
// nearest entry (+Inf for an empty table), whatever the radius. It counts
// no lookup and allocates nothing.
func (t *Table) Nearest(obs []float32) float64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, d := t.nearest(obs, math.Inf(1))
	return math.Sqrt(d)
}

// nearest returns the index of the entry nearest to obs with a squared
// distance ≤ limit (-1: none) and that squared distance (limit when none).
// The caller holds t.mu.
func (t *Table) nearest(obs []float32, limit float64) (int, float64) {
	best, bestD := -1, limit
	for i := range t.entries {
		k := t.entries[i].Key
		var d float64
		for j, v := range obs {
			x := (float64(v)-t.mean[j])*t.scale[j] - float64(k[j])
			d += x * x
			if d > bestD {
				break
			}
		}
		if d < bestD || (best < 0 && d == bestD) { // ties keep the earlier entry
			best, bestD = i, d
		}
	}
	return best, bestD
}

// SetChecker makes Add drop annotations that c rejects (counted by reason
// in Dropped) instead of only those with the wrong observation size.
func (t *Table) SetChecker(c advisor.Checker) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.check = &c
}

// Dropped counts the annotations Add refused, by reason.
func (t *Table) Dropped() advisor.Drops {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := advisor.Drops{}
	for k, v := range t.dropped {
		d[k] = v
	}
	return d
}

// Add inserts annotations, skipping repeats of an (episode, step) already
// present and dropping, counted by reason, those the checker rejects (or,
// without one, whose observation has the wrong size); it returns how many
// were added.
func (t *Table) Add(anns ...advisor.Annotation) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	added := 0
	for _, a := range anns {
		id := fmt.Sprintf("%s#%d", a.Episode, a.Step)
		if t.seen[id] {
			continue
		}
		reason := ""
		if t.check != nil {
			reason = t.check.Check(&a)
		} else if len(a.Obs) != len(t.mean) {
			reason = fmt.Sprintf("observation has %d values, want %d", len(a.Obs), len(t.mean))
		}
		if reason != "" {
			t.dropped[reason]++
			continue
		}
		t.seen[id] = true
		key := make([]float32, len(a.Obs))
		t.Key(key, a.Obs)
		e := Entry{Key: key, Obs: append([]float32(nil), a.Obs...), Action: append([]float32(nil), a.Action...), Reward: a.Reward, Episode: a.Episode,
			Step: a.Step, Reason: a.Reason, Snapshot: a.Snapshot}
		if a.Taken != nil {
			e.Taken = append([]float32(nil), a.Taken...)
		}
		if a.SuggestedReward != nil {
			e.Suggested, e.HasSuggested = *a.SuggestedReward, true
		}
		t.entries = append(t.entries, e)
		added++
	}
	return added
}

// Len is the number of entries.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}

// Entries returns a copy of the entry list (the entries themselves are
// shared and must not be modified).
func (t *Table) Entries() []Entry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]Entry(nil), t.entries...)
}

// Lookup returns the entry nearest to obs if it lies within the radius.
// It allocates nothing.
func (t *Table) Lookup(obs []float32) (Entry, float64, bool) {
	t.lookups.Add(1)
	t.mu.RLock()
	defer t.mu.RUnlock()
	best, bestD := t.nearest(obs, t.radius*t.radius)
	if best < 0 {
		return Entry{}, 0, false
	}
	t.hits.Add(1)
	return t.entries[best], math.Sqrt(bestD), true
}

// Matches reports whether an entry lies within the radius of obs, as
// Lookup does, without counting a lookup: for looking on (a clip's
// labels), not for acting.
func (t *Table) Matches(obs []float32) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	best, _ := t.nearest(obs, t.radius*t.radius)
	return best >= 0
}

// HitRate returns lookups that matched and all lookups so far.
func (t *Table) HitRate() (hits, lookups int64) { return t.hits.Load(), t.lookups.Load() }

// hasSnapshots reports whether any entry carries a simulator snapshot.
func (t *Table) hasSnapshots() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := range t.entries {
		if t.entries[i].Snapshot != nil {
			return true
		}
	}
	return false
}

// restore gives a table rebuilt from the run's annotations what it had at
// a checkpoint (Setup.RestoreState): the entries added since (live
// annotation, already checked when they were added), the refusals and the
// lookup counters.
func (t *Table) restore(added []Entry, dropped advisor.Drops, hits, lookups int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range added {
		if len(e.Key) != len(t.mean) || len(e.Obs) != len(t.mean) {
			return fmt.Errorf("a saved table entry has %d observation values, the table %d", len(e.Obs), len(t.mean))
		}
		t.seen[fmt.Sprintf("%s#%d", e.Episode, e.Step)] = true
		t.entries = append(t.entries, e)
	}
	t.dropped = advisor.Drops{}
	for k, v := range dropped {
		t.dropped[k] = v
	}
	t.hits.Store(hits)
	t.lookups.Store(lookups)
	return nil
}
